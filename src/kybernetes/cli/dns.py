"""`kyb dns`: the cluster DNS server (what CoreDNS with its kubernetes plugin is).

Wiring only: flags, client, upstream servers, then :class:`~kybernetes.dns.server.
DnsServer` until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress

from kybernetes import log
from kybernetes.cli.errors import CliError
from kybernetes.cli.lifecycle import api_client, stop_on_signals
from kybernetes.client import ApiClient
from kybernetes.dns.server import DnsServer
from kybernetes.dns.upstream import Upstream, host_nameservers

HELP = "Serve the cluster's names over DNS (UDP and TCP) from Services and Endpoints."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kubeconfig", required=True, help="kubeconfig of the API server")
    parser.add_argument("--bind-address", default="0.0.0.0",
                        help="address to listen on (default 0.0.0.0)")
    parser.add_argument("--port", type=int, default=53, help="UDP and TCP port (default 53)")
    parser.add_argument("--cluster-domain", default="cluster.local",
                        help="the cluster's DNS zone (default cluster.local)")
    parser.add_argument("--resolv-conf", default="/etc/resolv.conf",
                        help="where the upstream nameservers for other names are read")
    parser.add_argument("--upstream", action="append", default=None, metavar="IP",
                        help="an upstream nameserver (repeatable; replaces --resolv-conf's)")
    parser.add_argument("-v", "--verbose", action="count", default=0)


def upstreams(args: argparse.Namespace) -> list[str]:
    """The servers to forward to, never this server itself (that would loop)."""
    servers = list(args.upstream) if args.upstream else host_nameservers(args.resolv_conf)
    for server in servers:
        try:
            ipaddress.ip_address(server)
        except ValueError:
            raise CliError(f"--upstream {server!r} is not an IP address") from None
    if args.port == 53:
        servers = [s for s in servers if s != args.bind_address]
    return servers


def run(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        raise CliError("--port must be between 0 and 65535")
    try:
        ipaddress.ip_address(args.bind_address)
    except ValueError:
        raise CliError(f"--bind-address {args.bind_address!r} is not an IP address") from None
    servers = upstreams(args)
    client = api_client(args.kubeconfig)
    log.setup(args.verbose)
    asyncio.run(_serve(args, client, Upstream(servers)))
    return 0


async def _serve(args: argparse.Namespace, client: ApiClient, upstream: Upstream) -> None:
    stop = stop_on_signals()
    server = DnsServer(client, domain=args.cluster_domain, upstream=upstream,
                       address=args.bind_address, port=args.port)
    try:
        await server.start()
        await stop.wait()
    except OSError as e:
        raise CliError(f"cannot listen on {args.bind_address}:{args.port}: {e}") from None
    finally:
        await server.aclose()
        await client.aclose()
