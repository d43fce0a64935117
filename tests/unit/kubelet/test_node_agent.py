"""NodeAgent keeps a few fields of the API's Node and Lease, not the whole objects
(thousands of hollow nodes per process), and still writes what Kubernetes' kubelet does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kybernetes.api.errors import NotFound
from kybernetes.api.resources import Resource
from kybernetes.kubelet.config import KubeletConfig
from kybernetes.kubelet.node import HostFacts, NodeAgent

HOST = HostFacts(cpus=2, memory_kib=1024, storage_kib=2048, kernel="6.1", os_image="Debian",
                 arch="amd64", machine_id="m", boot_id="b")
MANAGED = [{"manager": "kybernetes", "fieldsV1": {"f:status": {"f:images": {}}}}]


class ApiLike:
    """Answers as the API server would: the whole object back, managedFields and all."""

    def __init__(self) -> None:
        self.updates: list[dict[str, Any]] = []
        self.cidr = ""

    def _node(self, status: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"metadata": {"name": "n1", "uid": "u-1", "managedFields": MANAGED},
                "spec": {"podCIDR": self.cidr} if self.cidr else {},
                "status": {**(status or {}), "images": [{"names": ["x"] * 50}]}}

    async def create(self, resource: Resource, obj: dict[str, Any], *,
                     namespace: str | None = None) -> dict[str, Any]:
        if resource.kind == "Lease":
            return {**obj, "metadata": {**obj["metadata"], "resourceVersion": "1",
                                        "managedFields": MANAGED}}
        return self._node()

    async def patch(self, resource: Resource, name: str, body: Any, **kwargs: Any
                    ) -> dict[str, Any]:
        return self._node(body.get("status"))

    async def update(self, resource: Resource, obj: dict[str, Any]) -> dict[str, Any]:
        self.updates.append(obj)
        return {**obj, "metadata": {**obj["metadata"], "resourceVersion": "2",
                                    "managedFields": MANAGED}}

    async def get(self, resource: Resource, name: str, **kwargs: Any) -> dict[str, Any]:
        raise NotFound(f"leases {name!r} not found")  # the first renewal creates it


async def test_agent_keeps_uid_cidr_and_conditions_only() -> None:
    api = ApiLike()
    config = KubeletConfig(node_name="n1", runtime="fake", root_dir=Path("/"))
    agent = NodeAgent(api, config, host=HOST, runtime_version="fake://1",  # type: ignore[arg-type]
                      node_ip="127.0.0.1")
    await agent.register()
    assert set(agent.node) == {"metadata", "spec", "status"}
    assert agent.node["metadata"] == {"uid": "u-1"} and agent.pod_cidr is None
    ready = next(c for c in agent.node["status"]["conditions"] if c["type"] == "Ready")
    assert set(ready) == {"type", "status", "lastTransitionTime"} and ready["status"] == "True"

    api.cidr = "10.0.3.0/24"  # node IPAM gives the CIDR later: the next status write sees it
    await agent.post_status(force=True)
    assert agent.pod_cidr == "10.0.3.0/24"

    await agent.renew_lease()
    await agent.renew_lease()
    sent = api.updates[-1]
    assert sent["metadata"]["resourceVersion"] == "1"  # the Lease we were given, renewed
    assert "managedFields" not in sent["metadata"]  # omitted: the live ones stay
    assert sent["metadata"]["ownerReferences"][0]["uid"] == "u-1"
