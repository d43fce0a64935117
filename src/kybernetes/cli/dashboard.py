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
from kybernetes.cli.errors import CliError
from kybernetes.client.kubeconfig import KubeconfigError
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
