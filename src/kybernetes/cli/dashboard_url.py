"""`kyb dashboard-url`: the dashboard's address with a short-lived admin token in it.

The token is the cluster admin's in the Kubernetes way: a TokenRequest for the
ServiceAccount `kube-system/kyb-dashboard-admin`, bound to the `cluster-admin`
ClusterRole (both made here on first use, with the data dir's admin kubeconfig). It
rides in the URL's fragment (`#token=…`), which browsers never send to a server; the
page moves it to sessionStorage and strips it from the address bar.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from kybernetes.api import resources as r
from kybernetes.api.errors import AlreadyExists, ApiError
from kybernetes.api.resources import Resource
from kybernetes.cli import cluster_dir
from kybernetes.cli.errors import CliError
from kybernetes.client import ApiClient

HELP = "print the dashboard's URL with a short-lived cluster-admin token"
ACCOUNT = "kyb-dashboard-admin"
NAMESPACE = "kube-system"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", help="the cluster's data dir (default ~/.kyb)")
    parser.add_argument("--url", help="the dashboard's URL (default: the one `kyb up` started)")
    parser.add_argument("--duration", type=int, default=3600,
                        help="token lifetime in seconds (default 3600; kube's minimum is 600)")


def run(args: argparse.Namespace) -> int:
    cdir = cluster_dir.resolve(args.data_dir)
    url = args.url or (cdir.read_status() or {}).get("dashboard")
    if not url:
        raise CliError(f"no dashboard is running from {cdir.root}: start the cluster with "
                       "`kyb up`, or give --url")
    if not cdir.kubeconfig.exists():
        raise CliError(f"no admin kubeconfig in {cdir.root}")
    token = asyncio.run(admin_token(ApiClient.from_kubeconfig(str(cdir.kubeconfig)),
                                    args.duration))
    print(f"{url.rstrip('/')}/#token={token}")
    return 0


async def admin_token(client: ApiClient, seconds: int) -> str:
    """A token for the dashboard admin account, making the account and its binding if
    missing."""
    async with client:
        try:
            await _ensure(client)
            issued = await client.create_subresource(
                r.SERVICE_ACCOUNTS, ACCOUNT, "token",
                {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                 "spec": {"expirationSeconds": seconds}}, namespace=NAMESPACE)
        except ApiError as e:
            raise CliError(f"cannot issue the admin token: {e}") from None
        except OSError as e:
            raise CliError(f"the API server does not answer: {e}") from None
    return str(issued["status"]["token"])


async def _ensure(client: ApiClient) -> None:
    wanted: list[tuple[Resource, dict[str, Any]]] = [
        (r.SERVICE_ACCOUNTS, {"apiVersion": "v1", "kind": "ServiceAccount",
                              "metadata": {"name": ACCOUNT, "namespace": NAMESPACE}}),
        (r.CLUSTER_ROLE_BINDINGS, {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": ACCOUNT},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": "cluster-admin"},
            "subjects": [{"kind": "ServiceAccount", "name": ACCOUNT,
                          "namespace": NAMESPACE}]}),
    ]
    for resource, obj in wanted:
        try:
            await client.create(resource, obj, namespace=obj["metadata"].get("namespace"))
        except AlreadyExists:
            pass
