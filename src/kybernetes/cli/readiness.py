"""What `kyb up` and `kyb status` ask the API to know how the cluster is doing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from kybernetes.api import resources
from kybernetes.api.errors import ApiError
from kybernetes.cli.cluster_dir import ClusterDir
from kybernetes.client import ApiClient

Check = Callable[[], Awaitable[str | None]]


def node_ready(node: dict[str, Any]) -> bool:
    for condition in node.get("status", {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return False


def admin_client(cdir: ClusterDir) -> ApiClient:
    return ApiClient.from_kubeconfig(str(cdir.kubeconfig))


def api_ready(cdir: ClusterDir) -> Check:
    """Reads the kubeconfig at every poll: until the API server answers, the file may
    still be one an earlier run left (another port or address)."""
    async def check() -> str | None:
        if not cdir.kubeconfig.exists():
            return "no kubeconfig yet"
        try:
            async with admin_client(cdir) as client:
                await client.get(resources.NAMESPACES, "default")
        except (ApiError, OSError, TimeoutError) as e:
            return f"API not answering yet ({e})"
        return None
    return check


def nodes_ready(client: ApiClient, names: list[str]) -> Check:
    async def check() -> str | None:
        try:
            listed = await client.list(resources.NODES)
        except (ApiError, OSError, TimeoutError) as e:
            return f"cannot list nodes ({e})"
        ready = {n["metadata"]["name"] for n in listed.get("items", []) if node_ready(n)}
        missing = [n for n in names if n not in ready]
        return f"not Ready yet: {', '.join(missing)}" if missing else None
    return check


async def cluster_summary(client: ApiClient) -> dict[str, Any]:
    """Nodes with readiness, and pods counted by phase."""
    nodes = (await client.list(resources.NODES)).get("items", [])
    pods = (await client.list(resources.PODS)).get("items", [])
    phases: dict[str, int] = {}
    for pod in pods:
        phase = pod.get("status", {}).get("phase", "Pending")
        phases[phase] = phases.get(phase, 0) + 1
    return {
        "nodes": [{"name": n["metadata"]["name"], "ready": node_ready(n)} for n in nodes],
        "pods": phases,
    }


async def one_line_status(client: ApiClient, names: list[str], supervisor: Any) -> str:
    components = supervisor.summaries()
    running = sum(1 for c in components if c["state"] == "running")
    restarts = sum(c["restarts"] for c in components)
    try:
        summary = await cluster_summary(client)
    except (ApiError, OSError, TimeoutError) as e:
        return f"components {running}/{len(components)} running · API unreachable: {e}"
    ready = sum(1 for n in summary["nodes"] if n["ready"])
    pods = ", ".join(f"{k} {v}" for k, v in sorted(summary["pods"].items())) or "none"
    return (f"components {running}/{len(components)} running ({restarts} restarts) · "
            f"nodes {ready}/{len(names)} Ready · pods: {pods}")
