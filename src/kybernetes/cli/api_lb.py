"""`kyb api-lb`: one local address in front of every API server, failing over.

`kyb up --servers N` runs it on the host, where the admin kubeconfig, the kubelets
and the proxies point; see :mod:`kybernetes.proxy.api_lb`.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import signal

from kybernetes import log
from kybernetes.cli.errors import CliError
from kybernetes.client import ApiClient
from kybernetes.proxy.api_lb import ApiLoadBalancer
from kybernetes.proxy.model import Endpoint

HELP = "a TCP load balancer in front of the API servers (fails over between them)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bind-address", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=6443, help="port (default 6443)")
    parser.add_argument("--server", action="append", default=[], metavar="IP:PORT",
                        help="an API server (repeatable; at least one)")
    parser.add_argument("--kubeconfig", default="",
                        help="also balance over the API servers the `kubernetes` Endpoints "
                        "list (read with these credentials)")
    parser.add_argument("--refresh-interval", type=float, default=2.0, metavar="SECONDS",
                        help="how often to probe the servers and re-read the Endpoints")
    parser.add_argument("-v", "--verbose", action="count", default=0)


def parse_server(value: str) -> Endpoint:
    host, sep, port = value.rpartition(":")
    try:
        ipaddress.IPv4Address(host)
        if not (sep and 0 < int(port) < 65536):
            raise ValueError
    except ValueError:
        raise CliError(f"--server {value!r}: want IPv4:PORT, e.g. 10.0.0.2:6443") from None
    return host, int(port)


def run(args: argparse.Namespace) -> int:
    if not args.server:
        raise CliError("at least one --server is required")
    seeds = [parse_server(s) for s in args.server]
    if not 0 < args.port < 65536:
        raise CliError(f"--port {args.port}: must be a port number 1-65535")
    if args.refresh_interval <= 0:
        raise CliError("--refresh-interval must be positive")
    try:
        client = ApiClient.from_kubeconfig(args.kubeconfig) if args.kubeconfig else None
    except (OSError, ValueError) as e:
        raise CliError(f"cannot load --kubeconfig {args.kubeconfig}: {e}") from None
    log.setup(args.verbose)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        lb = ApiLoadBalancer(seeds, host=args.bind_address, port=args.port, client=client,
                             refresh=args.refresh_interval)
        try:
            await lb.run(stop)
        finally:
            if client is not None:
                await client.aclose()

    try:
        asyncio.run(main())
    except OSError as e:
        raise CliError(f"cannot listen on {args.bind_address}:{args.port}: "
                       f"{e.strerror or e}") from None
    return 0
