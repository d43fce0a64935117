"""`kyb dashboard`: serve the web UI (kybernetes.dashboard) for one cluster.

Plain HTTP on loopback (the default); bound to any other address it serves HTTPS
only, with `--tls-cert-file`/`--tls-private-key-file` (`kyb up` issues them from
the cluster CA), because users' bearer tokens cross the network.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import logging
import signal
import ssl

from aiohttp import web

from kybernetes import log as logsetup
from kybernetes.apiserver import pki
from kybernetes.cli.cluster_dir import ClusterDir
from kybernetes.cli.errors import CliError
from kybernetes.cli.identities import identities_dir
from kybernetes.client.kubeconfig import KubeconfigError, write_kubeconfig
from kybernetes.dashboard.server import build_app
from kybernetes.dashboard.upstream import Upstream

HELP = "serve the web dashboard (acts as the logged-in user, through the API server)"
DEFAULT_PORT = 8001
log = logging.getLogger("kybernetes.cli.dashboard")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kubeconfig", required=True,
                        help="kubeconfig naming the API server and its CA (its credentials "
                        "are not used: every request carries the user's token)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"port to serve on (default {DEFAULT_PORT})")
    parser.add_argument("--bind-address", default="127.0.0.1",
                        help="address to serve on (default 127.0.0.1; any other needs TLS)")
    parser.add_argument("--tls-cert-file", help="serving certificate (HTTPS)")
    parser.add_argument("--tls-private-key-file", help="its key")
    parser.add_argument("-v", "--verbose", action="count", default=0)


def is_loopback(address: str) -> bool:
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def for_cluster(cdir: ClusterDir, server: str, address: str,
                port: int) -> tuple[list[str], str]:
    """How `kyb up` runs the dashboard: the flags (a kubeconfig naming only the server
    and CA, and off loopback a serving certificate from the cluster CA for `address`)
    and the URL it serves."""
    out = identities_dir(cdir)
    out.mkdir(parents=True, exist_ok=True)
    kubeconfig = out / "dashboard.kubeconfig"
    kubeconfig.unlink(missing_ok=True)  # no user in it, ever
    write_kubeconfig(kubeconfig, server=server, user="dashboard",
                     ca_pem=(pki.pki_dir(cdir.root) / "ca.crt").read_bytes())
    argv = ["--kubeconfig", str(kubeconfig), "--port", str(port), "--bind-address", address]
    shown = "127.0.0.1" if address in ("0.0.0.0", "::") else address  # all addresses
    host = f"[{shown}]" if ":" in shown else shown
    if is_loopback(address):
        return argv, f"http://{host}:{port}/"
    names = sorted({address, "127.0.0.1", "localhost"} - {"0.0.0.0", "::"})
    cert, key = pki.issue_serving_cert(cdir.root, "kyb-dashboard", names)
    (out / "dashboard.crt").write_bytes(cert)
    key_path = out / "dashboard.key"
    key_path.unlink(missing_ok=True)
    key_path.touch(mode=0o600)
    key_path.write_bytes(key)
    return ([*argv, "--tls-cert-file", str(out / "dashboard.crt"),
             "--tls-private-key-file", str(key_path)], f"https://{host}:{port}/")


def _ssl_context(args: argparse.Namespace) -> ssl.SSLContext | None:
    if not args.tls_cert_file and not args.tls_private_key_file:
        if not is_loopback(args.bind_address):
            raise CliError(f"--bind-address {args.bind_address} is not loopback: give "
                           "--tls-cert-file and --tls-private-key-file (tokens would cross "
                           "the network in clear)")
        return None
    if not (args.tls_cert_file and args.tls_private_key_file):
        raise CliError("--tls-cert-file and --tls-private-key-file go together")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        ctx.load_cert_chain(args.tls_cert_file, args.tls_private_key_file)
    except (OSError, ssl.SSLError) as e:
        raise CliError(f"cannot load the serving certificate: {e}") from None
    return ctx


async def _main(args: argparse.Namespace, upstream: Upstream,
                ctx: ssl.SSLContext | None) -> int:
    runner = web.AppRunner(build_app(upstream), access_log=None, shutdown_timeout=2)
    await runner.setup()
    site = web.TCPSite(runner, args.bind_address, args.port, ssl_context=ctx)
    try:
        await site.start()
    except OSError as e:
        await runner.cleanup()
        raise CliError(f"cannot serve on {args.bind_address}:{args.port}: {e.strerror}") \
            from None
    scheme = "https" if ctx else "http"
    log.info("dashboard serving", extra={"url": f"{scheme}://{args.bind_address}:{args.port}/",
                                         "apiserver": upstream.url})
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
    return 0


def run(args: argparse.Namespace) -> int:
    logsetup.setup(args.verbose)
    ctx = _ssl_context(args)
    try:
        upstream = Upstream.from_kubeconfig(args.kubeconfig)
    except KubeconfigError as e:
        raise CliError(str(e)) from None
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(_main(args, upstream, ctx))
    return 0
