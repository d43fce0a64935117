"""`kyb proxy`: the per-node Service proxy (userspace or iptables mode).

Wiring only: parse flags, check them, build the client and the proxier, run the
:class:`~kybernetes.proxy.server.Proxy` until SIGTERM/SIGINT. The iptables mode
leaves its rules on exit (the next proxy takes them over; ``--cleanup-on-exit`` to
remove them); ``--cleanup`` removes every rule and chain a proxy ever made, then exits.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import os
import signal

from kybernetes import collector, log
from kybernetes.cli.errors import CliError
from kybernetes.client import ApiClient
from kybernetes.proxy import netfilter
from kybernetes.proxy.metrics import Metrics
from kybernetes.proxy.server import Proxy, make_proxier

HELP = "Run the Service proxy of one node (userspace or iptables mode)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kubeconfig", help="kubeconfig of the API server")
    parser.add_argument("--node-name", default=os.uname().nodename,
                        help="this node's name (default: the host name)")
    parser.add_argument("--mode", choices=("userspace", "iptables"), default="userspace")
    parser.add_argument("--lb", choices=("round-robin", "random"), default="round-robin",
                        help="userspace mode: how to pick an endpoint (default round-robin)")
    parser.add_argument("--bind-address", default="0.0.0.0",
                        help="address for listeners, NodePorts, /healthz and /metrics")
    parser.add_argument("--healthz-port", type=int, default=10256,
                        help="port for /healthz (0 = off; default 10256)")
    parser.add_argument("--metrics-port", type=int, default=10249,
                        help="port for /metrics (0 = off; default 10249)")
    parser.add_argument("--cluster-cidr", default="",
                        help="iptables mode: masquerade cluster-IP traffic from outside it")
    parser.add_argument("--udp-timeout", type=float, default=1.0,
                        help="userspace mode: seconds before an idle UDP session ends")
    parser.add_argument("--cleanup-on-exit", action="store_true",
                        help="iptables mode: remove the rules when stopping (by default "
                             "they stay and carry traffic until the next proxy has synced)")
    parser.add_argument("--cleanup", action="store_true",
                        help="remove every iptables rule and chain of the proxy, then exit")
    parser.add_argument("-v", "--verbose", action="count", default=0)


def _check(args: argparse.Namespace) -> None:
    for name in ("healthz_port", "metrics_port"):
        if not 0 <= getattr(args, name) <= 65535:
            raise CliError(f"--{name.replace('_', '-')} must be between 0 and 65535")
    try:
        ipaddress.IPv4Address(args.bind_address)
    except ValueError:
        raise CliError(f"--bind-address {args.bind_address!r} is not an IPv4 address") from None
    if args.cluster_cidr:
        try:
            ipaddress.ip_network(args.cluster_cidr, strict=False)
        except ValueError:
            raise CliError(f"--cluster-cidr {args.cluster_cidr!r} is not a CIDR") from None
    if args.udp_timeout <= 0:
        raise CliError("--udp-timeout must be positive")
    root = os.geteuid() == 0
    if args.mode == "iptables" and not root:
        raise CliError("--mode iptables needs root; use --mode userspace")
    if args.mode == "iptables" and not netfilter.available():
        raise CliError("--mode iptables needs iptables and iptables-restore on PATH")


def run(args: argparse.Namespace) -> int:
    if args.cleanup:
        if os.geteuid() != 0:
            raise CliError("--cleanup needs root")
        log.setup(args.verbose)
        removed = netfilter.cleanup()
        print(f"removed {removed} chain(s)")
        return 0
    _check(args)
    if not args.kubeconfig:
        raise CliError("--kubeconfig is required")
    try:
        client = ApiClient.from_kubeconfig(args.kubeconfig)
    except (OSError, ValueError) as e:
        raise CliError(f"cannot load --kubeconfig {args.kubeconfig}: {e}") from None
    log.setup(args.verbose)
    collector.tune_for_serving()
    asyncio.run(_serve(args, client))
    return 0


async def _serve(args: argparse.Namespace, client: ApiClient) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    metrics = Metrics()
    portals = os.geteuid() == 0 and netfilter.available()
    proxier = make_proxier(args.mode, metrics, bind_address=args.bind_address,
                           lb_mode=args.lb, portals=portals, cluster_cidr=args.cluster_cidr,
                           udp_timeout=args.udp_timeout,
                           cleanup_on_exit=args.cleanup_on_exit)
    proxy = Proxy(client, proxier, metrics, node_name=args.node_name,
                  bind_address=args.bind_address, healthz_port=args.healthz_port,
                  metrics_port=args.metrics_port)
    logging.getLogger("kybernetes.proxy").info("proxy starting", extra={
        "mode": args.mode, "node": args.node_name, "bind": args.bind_address,
        "portals": portals if args.mode == "userspace" else None})
    try:
        await proxy.run(stop)
    except OSError as e:  # a port for /healthz or /metrics is taken
        raise CliError(f"cannot listen: {e}") from None
    finally:
        await client.aclose()
