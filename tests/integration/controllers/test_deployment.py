"""Deployments rolled out, scaled, paused and undone with the real kubectl."""

from __future__ import annotations

import asyncio

from kybernetes.api.resources import DEPLOYMENTS, REPLICA_SETS
from kybernetes.client import ApiClient
from tests.integration.controllers.helpers import fake_kubelet, pods_of, running
from tests.support.kubectl import Kubectl
from tests.support.poll import eventually

CONTROLLERS = ("deployment", "replicaset", "garbagecollector")


def deployment(name: str, ns: str, replicas: int) -> dict:
    """What `kubectl create deployment NAME --image=busybox:1` makes."""
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "busybox",
                                                           "image": "busybox:1"}]}}}}


async def _replica_sets(client: ApiClient, ns: str) -> dict[str, dict]:
    items = (await client.list(REPLICA_SETS, namespace=ns))["items"]
    return {rs["metadata"]["name"]: rs for rs in items}


def _revision(obj: dict) -> str | None:
    return (obj["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision")


async def test_rolling_update_and_undo(client: ApiClient, ns: str, kubectl: Kubectl) -> None:
    async with running(client, *CONTROLLERS), fake_kubelet(client, ns):
        await client.create(DEPLOYMENTS, deployment("web", ns, 3))
        out = (await kubectl.arun("rollout", "status", "deployment/web", "-n", ns,
                                  "--timeout=30s")).stdout
        assert 'deployment "web" successfully rolled out' in out
        [first] = (await _replica_sets(client, ns)).values()
        assert _revision(first) == "1"
        template_hash = first["spec"]["template"]["metadata"]["labels"]["pod-template-hash"]
        assert first["metadata"]["name"] == f"web-{template_hash}"
        pods = await pods_of(client, "app=web", ns)
        assert len(pods) == 3
        assert all(p["metadata"]["labels"]["pod-template-hash"] == template_hash for p in pods)

        await kubectl.arun("set", "image", "deployment/web", "busybox=busybox:2", "-n", ns)
        out = (await kubectl.arun("rollout", "status", "deployment/web", "-n", ns,
                                  "--timeout=30s")).stdout
        assert "successfully rolled out" in out
        sets = await _replica_sets(client, ns)
        assert len(sets) == 2
        new = next(rs for rs in sets.values() if rs["metadata"]["name"] != first[
            "metadata"]["name"])
        assert _revision(new) == "2" and new["spec"]["replicas"] == 3
        assert sets[first["metadata"]["name"]]["spec"]["replicas"] == 0
        d = await client.get(DEPLOYMENTS, "web", namespace=ns)
        assert _revision(d) == "2"
        conditions = {c["type"]: c for c in d["status"]["conditions"]}
        assert conditions["Available"]["status"] == "True"
        assert conditions["Progressing"]["reason"] == "NewReplicaSetAvailable"
        images = {p["spec"]["containers"][0]["image"] for p in await pods_of(
            client, "app=web", ns)}
        assert images == {"busybox:2"}

        await kubectl.arun("rollout", "undo", "deployment/web", "-n", ns)
        await kubectl.arun("rollout", "status", "deployment/web", "-n", ns, "--timeout=30s")

        async def back_on_first() -> bool:
            sets = await _replica_sets(client, ns)
            again = sets[first["metadata"]["name"]]
            return _revision(again) == "3" and again["spec"]["replicas"] == 3
        await eventually(back_on_first, what="the first ReplicaSet to be revision 3")
        history = (await kubectl.arun("rollout", "history", "deployment/web", "-n", ns)).stdout
        assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == [
            "2", "3"]


async def test_scale_pause_and_resume(client: ApiClient, ns: str, kubectl: Kubectl) -> None:
    async with running(client, *CONTROLLERS), fake_kubelet(client, ns):
        await client.create(DEPLOYMENTS, deployment("api", ns, 2))
        await kubectl.arun("rollout", "status", "deployment/api", "-n", ns, "--timeout=30s")
        await kubectl.arun("scale", "deployment/api", "--replicas=5", "-n", ns)
        await kubectl.arun("rollout", "status", "deployment/api", "-n", ns, "--timeout=30s")
        assert len(await pods_of(client, "app=api", ns)) == 5

        await kubectl.arun("rollout", "pause", "deployment/api", "-n", ns)

        async def paused_condition() -> bool:
            d = await client.get(DEPLOYMENTS, "api", namespace=ns)
            return any(c["type"] == "Progressing" and c["reason"] == "DeploymentPaused"
                       for c in (d.get("status") or {}).get("conditions") or ())
        await eventually(paused_condition, what="Progressing=Unknown DeploymentPaused")
        await kubectl.arun("set", "image", "deployment/api", "busybox=busybox:2", "-n", ns)
        await asyncio.sleep(0.5)
        assert len(await _replica_sets(client, ns)) == 1  # paused: nothing rolls

        await kubectl.arun("rollout", "resume", "deployment/api", "-n", ns)
        await kubectl.arun("rollout", "status", "deployment/api", "-n", ns, "--timeout=30s")
        assert len(await _replica_sets(client, ns)) == 2
        images = {p["spec"]["containers"][0]["image"] for p in await pods_of(
            client, "app=api", ns)}
        assert images == {"busybox:2"}


async def test_recreate_stops_old_pods_before_starting_new(client: ApiClient, ns: str,
                                                           kubectl: Kubectl) -> None:
    body = {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "db", "namespace": ns},
            "spec": {"replicas": 2, "strategy": {"type": "Recreate"},
                     "selector": {"matchLabels": {"app": "db"}},
                     "template": {"metadata": {"labels": {"app": "db"}},
                                  "spec": {"containers": [{"name": "db", "image": "db:1"}]}}}}
    async with running(client, *CONTROLLERS), fake_kubelet(client, ns):
        await client.create(DEPLOYMENTS, body)
        await kubectl.arun("rollout", "status", "deployment/db", "-n", ns,
                      "--timeout=30s")
        await client.patch(DEPLOYMENTS, "db", {"spec": {"template": {"spec": {
            "containers": [{"name": "db", "image": "db:2"}]}}}}, namespace=ns,
            patch_type="strategic")
        mixed = False
        for _ in range(100):
            images = {p["spec"]["containers"][0]["image"]
                      for p in await pods_of(client, "app=db", ns)}
            mixed = mixed or images == {"db:1", "db:2"}
            if images == {"db:2"} and len(await pods_of(client, "app=db", ns)) == 2:
                break
            await asyncio.sleep(0.05)
        assert not mixed
        await kubectl.arun("rollout", "status", "deployment/db", "-n", ns,
                      "--timeout=30s")
        # Deleting the Deployment takes its ReplicaSets and their pods along.
        await kubectl.arun("delete", "deployment", "db", "-n", ns)

        async def all_gone() -> bool:
            return not await _replica_sets(client, ns) and not await pods_of(
                client, "app=db", ns, active=False)
        await eventually(all_gone, what="ReplicaSets and pods collected")
