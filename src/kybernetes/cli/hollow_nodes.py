"""`kyb hollow-nodes`: N fake nodes in one process, for scale tests."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from kybernetes import collector, log
from kybernetes.cli.errors import CliError
from kybernetes.cli.lifecycle import api_client, stop_on_signals

HELP = "run many fake nodes (fake runtime) in one process, for scale tests"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kubeconfig", required=True, help="credentials for the API server")
    parser.add_argument("--count", type=int, required=True, help="how many nodes")
    parser.add_argument("--name-prefix", default="hollow-node",
                        help="nodes are <prefix>-<i> (default %(default)s)")
    parser.add_argument("--start-index", type=int, default=0)
    parser.add_argument("--node-ip", default="127.0.0.1", help="InternalIP of every node")
    parser.add_argument("--max-pods", type=int, default=110)
    parser.add_argument("--fail-pods-matching", metavar="REGEX",
                        help="containers of matching pods exit with code 1")
    parser.add_argument("--lease-seconds", type=float, default=10.0)
    parser.add_argument("--status-seconds", type=float, default=300.0)
    parser.add_argument("--sync-seconds", type=float, default=60.0,
                        help="how often a pod is synced unprompted (default 60, kube's "
                             "--sync-frequency; the fake runtime tells of every change)")
    parser.add_argument("--concurrency", type=int, default=50,
                        help="registrations in flight at once (default 50)")
    parser.add_argument("--register-with-taints", default="")
    parser.add_argument("--node-labels", default="")
    parser.add_argument("-v", "--verbose", action="count", default=0)


async def _main(args: argparse.Namespace) -> int:
    from kybernetes.cli.kubelet import parse_labels, parse_taints
    from kybernetes.kubelet.config import KubeletConfig
    from kybernetes.kubelet.hollow import HollowNodes

    if args.count < 1:
        raise CliError("--count must be at least 1")
    template = KubeletConfig(
        node_name="", runtime="fake", root_dir=Path("/"), node_ip=args.node_ip,
        max_pods=args.max_pods, fail_pods_matching=args.fail_pods_matching,
        lease_seconds=args.lease_seconds, status_seconds=args.status_seconds,
        sync_seconds=args.sync_seconds,
        taints=parse_taints(args.register_with_taints), labels=parse_labels(args.node_labels),
        serve=False)
    client = api_client(args.kubeconfig, user_agent="kyb-hollow-nodes",
                        pool_size=args.concurrency, queue_requests=True)
    # Own pools for the Leases and node status, and for the pod informer's list/watch.
    # Every node renews its Lease every lease_seconds: count / lease_seconds renewals a
    # second, each holding a connection for the server's latency. A pool that size
    # keeps up while the latency is within 1 s (the mutating SLO); a smaller one queues
    # them here until they time out and the nodes go NotReady.
    renewals = int(args.count / args.lease_seconds) + 1
    heartbeats = api_client(args.kubeconfig, user_agent="kyb-hollow-nodes",
                            pool_size=max(renewals, args.concurrency // 5, 2))
    watch = api_client(args.kubeconfig, user_agent="kyb-hollow-nodes", pool_size=2)
    nodes = HollowNodes(client, template, count=args.count, prefix=args.name_prefix,
                        start_index=args.start_index, concurrency=args.concurrency,
                        heartbeat_client=heartbeats, watch_client=watch)
    stop = stop_on_signals()
    try:
        await nodes.start()
        await stop.wait()
    finally:
        await nodes.aclose()
        for c in (client, heartbeats, watch):
            await c.aclose()
    return 0


def run(args: argparse.Namespace) -> int:
    log.setup(args.verbose)
    collector.tune_for_serving()
    return asyncio.run(_main(args))
