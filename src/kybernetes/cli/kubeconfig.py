"""`kyb kubeconfig`: a kubeconfig for a user, with a client certificate from the cluster CA.

The certificate names the user in its CN and the groups in O, which is how the API
server's x509 authenticator reads them (as `kubeadm kubeconfig user` does). The
server URL defaults to the one in the data dir's admin kubeconfig, which the API
server rewrites on every start. The key never leaves this process but in the output.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import sys

from kybernetes.apiserver import pki
from kybernetes.cli import cluster_dir
from kybernetes.cli.durations import parse_duration
from kybernetes.cli.errors import CliError
from kybernetes.client.kubeconfig import (
    KubeconfigError,
    dump_kubeconfig,
    load_kubeconfig,
    merge_kubeconfig,
    write_kubeconfig,
)

HELP = "write a kubeconfig for a user (client certificate signed by the cluster CA)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", help="the cluster's data directory (default ~/.kyb)")
    parser.add_argument("--user", required=True, help="the user name (certificate CN)")
    parser.add_argument("--group", action="append", default=[],
                        help="a group of the user (certificate O); repeat for more")
    parser.add_argument("--ttl", default="24h",
                        help="how long the certificate is valid (Go duration, default 24h)")
    parser.add_argument("--server", default="",
                        help="API server URL (default: the one the data dir records)")
    parser.add_argument("--out", default="", help="write (merge) into this file, not stdout")


def _lifetime(text: str) -> _dt.timedelta:
    try:
        seconds = parse_duration(text)
    except argparse.ArgumentTypeError as e:
        raise CliError(f"--ttl: {e}") from None
    if seconds <= 0:
        raise CliError(f"--ttl {text!r} must be longer than 0")
    return _dt.timedelta(seconds=seconds)


def _server(cdir: cluster_dir.ClusterDir, given: str) -> str:
    if given:
        if not given.startswith(("https://", "http://")):
            raise CliError(f"--server {given!r} must be a URL such as https://127.0.0.1:6443")
        return given.rstrip("/")
    try:
        return load_kubeconfig(cdir.kubeconfig).server
    except KubeconfigError:
        raise CliError(f"{cdir.root} records no API server address (no admin kubeconfig): "
                       "give --server") from None


def run(args: argparse.Namespace) -> int:
    cdir = cluster_dir.resolve(args.data_dir)
    if not args.user.strip():
        raise CliError("--user must not be empty")
    lifetime = _lifetime(args.ttl)
    if not pki.has_ca(cdir.root):
        raise CliError(f"no cluster CA in {pki.pki_dir(cdir.root)} (ca.crt and ca.key): "
                       "start the API server once with this --data-dir, or choose another")
    server = _server(cdir, args.server)
    cert, key = pki.issue_client_cert(cdir.root, args.user, list(args.group), lifetime=lifetime)
    ca = (pki.pki_dir(cdir.root) / "ca.crt").read_bytes()
    if args.out:
        try:
            write_kubeconfig(args.out, server=server, ca_pem=ca, cert_pem=cert, key_pem=key,
                             user=args.user)
        except (OSError, KubeconfigError) as e:
            raise CliError(f"--out {args.out}: {e}") from None
        return 0
    sys.stdout.write(dump_kubeconfig(merge_kubeconfig(
        {}, server=server, ca_pem=ca, cert_pem=cert, key_pem=key, user=args.user)))
    return 0
