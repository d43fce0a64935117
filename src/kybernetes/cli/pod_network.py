"""`kyb pod-network`: one node's pod-network agent (what flanneld is to a k3s node).

Wiring only: flags, client, then :class:`~kybernetes.podnetwork.agent.PodNetworkAgent`
until SIGTERM/SIGINT. It talks only to the API server (watch Nodes, write Events)
as the user `system:serviceaccount:kube-system:kyb-pod-network`, which
:data:`ACCESS` grants what flannel's ClusterRole grants; on a machine that joined
(`kyb join --pod-network`) it runs with the node's own credentials, and the Node
authorizer lets a node read only its own Node, so the group ``system:nodes`` is
bound to that ClusterRole too (what flannel's DaemonSet token gives every node).
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress

from kybernetes import log
from kybernetes.cli.agent_access import AgentAccess
from kybernetes.cli.errors import CliError
from kybernetes.cli.lifecycle import api_client, stop_on_signals
from kybernetes.client import ApiClient
from kybernetes.podnetwork.backends import MODES

HELP = "route this node to the other nodes' pods (host-gw or vxlan), from the Node objects"
# Flannel's ClusterRole, less what we do not use (pods, nodes/status).
ACCESS = AgentAccess("kyb-pod-network", (
    {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": ["", "events.k8s.io"], "resources": ["events"],
     "verbs": ["create", "patch", "update"]},
), groups=("system:nodes",))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kubeconfig", required=True, help="credentials for the API server")
    parser.add_argument("--node-name", required=True, help="the Node this agent routes for")
    parser.add_argument("--mode", choices=MODES, default="host-gw",
                        help="host-gw: a route via each node's address (the nodes share a "
                        "link); vxlan: a VXLAN overlay (default host-gw)")
    parser.add_argument("--cluster-cidr", required=True,
                        help="the pods' range: traffic within it is never masqueraded")
    parser.add_argument("--resync-seconds", type=float, default=30.0,
                        help="re-check every route this often without a cause (default 30)")
    parser.add_argument("-v", "--verbose", action="count", default=0)


def run(args: argparse.Namespace) -> int:
    try:
        network = ipaddress.ip_network(args.cluster_cidr, strict=False)
    except ValueError as e:
        raise CliError(f"--cluster-cidr: {e}") from None
    if network.version != 4:
        raise CliError("--cluster-cidr: only IPv4 pod networks are supported")
    client = api_client(args.kubeconfig, user_agent="kyb-pod-network")
    log.setup(args.verbose)
    asyncio.run(_serve(args, client, str(network)))
    return 0


async def _serve(args: argparse.Namespace, client: ApiClient, cluster_cidr: str) -> None:
    from kybernetes.podnetwork.agent import PodNetworkAgent

    stop = stop_on_signals()
    agent = PodNetworkAgent(client, args.node_name, args.mode, cluster_cidr,
                            resync=args.resync_seconds)
    try:
        await agent.run(stop)
    finally:
        await client.aclose()
