"""`kyb token create|list`: bootstrap tokens for machines joining (kubeadm token).

`create` stores the token as kubeadm does (see :mod:`kybernetes.api.bootstrap_tokens`),
publishes the kube-public ``cluster-info`` ConfigMap a joining machine reads the CA
from, and prints the token (with ``--print-join-command``: the whole `kyb join` line,
with ``--pod-network MODE --cluster-cidr CIDR`` when the running `kyb up` has a pod
network: its status names it).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as _dt
import sys

from kybernetes.api import bootstrap_tokens as bt
from kybernetes.api import resources as r
from kybernetes.api.errors import ApiError, NotFound
from kybernetes.apiserver import pki
from kybernetes.cli import cluster_dir, readiness
from kybernetes.cli.durations import parse_duration
from kybernetes.cli.errors import CliError
from kybernetes.client import ApiClient
from kybernetes.client.kubeconfig import load_kubeconfig

HELP = "create or list bootstrap tokens that let machines join (`kyb join`)"
DEFAULT_TTL = 24 * 3600.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = sub.add_parser("create", help="make a token and print it")
    list_ = sub.add_parser("list", help="list the bootstrap tokens")
    for p in (create, list_):
        p.add_argument("--data-dir", help="the cluster's data directory (default ~/.kyb)")
    create.add_argument("--ttl", type=parse_duration, default=DEFAULT_TTL,
                        help="how long the token authenticates (default 24h; 0: forever)")
    create.add_argument("--description", default="", help="a note kept with the token")
    create.add_argument("--print-join-command", action="store_true",
                        help="print the whole `kyb join` command, not just the token")


def run(args: argparse.Namespace) -> int:
    cdir = cluster_dir.resolve(args.data_dir)
    if not cdir.kubeconfig.exists():
        raise CliError(f"no cluster in {cdir.root} (start one with `kyb up`)")
    if args.action == "list":
        return asyncio.run(_list(cdir))
    if args.ttl < 0:
        raise CliError("--ttl must not be negative")
    token = bt.new_token()
    try:
        line = asyncio.run(create(cdir, token, ttl=args.ttl, description=args.description))
    except (ApiError, OSError, TimeoutError) as e:
        raise CliError(f"could not store the token: {e}") from None
    print(line if args.print_join_command else token)
    return 0


async def create(cdir: cluster_dir.ClusterDir, token: str, *, ttl: float,
                 description: str = "") -> str:
    """Store `token`, publish cluster-info; the `kyb join` command for it."""
    server = load_kubeconfig(cdir.kubeconfig).server
    ca = (pki.pki_dir(cdir.root) / "ca.crt").read_bytes()
    async with readiness.admin_client(cdir) as client:
        await publish_cluster_info(client, server, ca)
        await client.create(r.SECRETS, bt.secret_for(
            token, ttl=_dt.timedelta(seconds=ttl) if ttl else None, description=description),
            namespace=bt.NAMESPACE)
    network = (cdir.read_status() or {}).get("pod_network") or {}
    pod_network = (f" --pod-network {network['mode']} --cluster-cidr {network['cluster_cidr']}"
                   if network.get("mode") and network.get("cluster_cidr") else "")
    return (f"kyb join --server {server} --token {token} "
            f"--ca-cert-hash {bt.ca_cert_hash(ca)}{pod_network} --node-name NODE --data-dir DIR")


async def publish_cluster_info(client: ApiClient, server: str, ca_pem: bytes) -> None:
    """Create or refresh the kube-public `cluster-info` ConfigMap (kubeadm's
    bootstrap-token phase does it at init)."""
    wanted = bt.cluster_info(server, ca_pem)
    try:
        current = await client.get(r.CONFIGMAPS, bt.CLUSTER_INFO, namespace=bt.PUBLIC_NAMESPACE)
    except NotFound:
        await client.create(r.CONFIGMAPS, wanted, namespace=bt.PUBLIC_NAMESPACE)
        return
    if current.get("data") != wanted["data"]:
        current["data"] = wanted["data"]
        await client.update(r.CONFIGMAPS, current)


async def _list(cdir: cluster_dir.ClusterDir) -> int:
    async with readiness.admin_client(cdir) as client:
        found = await client.list(r.SECRETS, namespace=bt.NAMESPACE)
    print(f"{'TOKEN':24} {'EXPIRES':22} {'USAGES':32} DESCRIPTION")
    for secret in found.get("items") or []:
        if secret.get("type") != bt.SECRET_TYPE:
            continue
        data = bt.secret_data(secret)
        usages = ",".join(k.removeprefix("usage-bootstrap-") for k, v in sorted(data.items())
                          if k.startswith("usage-bootstrap-") and v == "true")
        token = f"{data.get('token-id', '?')}.{data.get('token-secret', '?')}"
        print(f"{token:24} {data.get('expiration') or '<forever>':22} {usages:32} "
              f"{data.get('description', '')}")
    sys.stdout.flush()
    return 0
