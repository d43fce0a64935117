"""`kyb network-policy`: one node's NetworkPolicy agent (what kube-router's or
Calico's policy controller is to a node).

Wiring only: flags, client, then :class:`~kybernetes.netpolicy.agent.NetworkPolicyAgent`
until SIGTERM/SIGINT. It talks only to the API server (watches NetworkPolicies,
Pods, Namespaces and the kube-dns Endpoints) as
`system:serviceaccount:kube-system:kyb-network-policy`.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil

from kybernetes import log
from kybernetes.cli.agent_access import AgentAccess
from kybernetes.cli.errors import CliError
from kybernetes.cli.lifecycle import api_client, stop_on_signals
from kybernetes.client import ApiClient

HELP = "enforce NetworkPolicies for this node's pods (an nftables table)"
READ = ["get", "list", "watch"]
ACCESS = AgentAccess("kyb-network-policy", (
    {"apiGroups": [""], "resources": ["pods", "namespaces", "endpoints"], "verbs": READ},
    {"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"], "verbs": READ},
))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kubeconfig", required=True, help="credentials for the API server")
    parser.add_argument("--node-name", required=True, help="the Node whose pods it guards")
    parser.add_argument("--resync-seconds", type=float, default=30.0,
                        help="re-check the rules this often without a cause (default 30)")
    parser.add_argument("-v", "--verbose", action="count", default=0)


def run(args: argparse.Namespace) -> int:
    if shutil.which("nft") is None:
        raise CliError("nft (Debian's nftables package) is needed to enforce NetworkPolicies")
    client = api_client(args.kubeconfig, user_agent="kyb-network-policy")
    log.setup(args.verbose)
    asyncio.run(_serve(args, client))
    return 0


async def _serve(args: argparse.Namespace, client: ApiClient) -> None:
    from kybernetes.netpolicy.agent import NetworkPolicyAgent

    stop = stop_on_signals()
    agent = NetworkPolicyAgent(client, args.node_name, resync=args.resync_seconds)
    try:
        await agent.run(stop)
    finally:
        await client.aclose()
