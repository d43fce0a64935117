"""The kubelet's Node: registration, the heartbeat Lease, and node status.

As the Kubernetes kubelet does since node leases (KEP-589): a cheap Lease in
`kube-node-lease` is renewed every 10 s as the liveness signal, and the heavier
Node status is posted only when it changes or once a minute. Registration
creates the Node, or, when a restarted kubelet finds its Node already there,
takes it over and goes on. Host facts (cpu, memory, kernel, OS image) are read
once; hollow nodes share one :class:`HostFacts`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import platform
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from kybernetes.api.errors import AlreadyExists, Conflict, NotFound
from kybernetes.api.resources import LEASES, NAMESPACES, NODES
from kybernetes.client.transforms import drop_managed_fields
from kybernetes.client.verbs import Creator, Getter, Patcher, Updater
from kybernetes.kubelet.config import KUBELET_VERSION, KubeletConfig, micro_time, rfc3339

log = logging.getLogger("kybernetes.kubelet.node")

LEASE_NAMESPACE = "kube-node-lease"
_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le",
         "s390x": "s390x"}
_CONDITIONS = (
    ("MemoryPressure", "False", "KubeletHasSufficientMemory",
     "kubelet has sufficient memory available"),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
)


class NodeClient(Getter, Creator, Patcher, Updater, Protocol):
    """The verbs the node agent uses: create or take over the Node, patch its status,
    keep its Lease."""


def _read(path: str, default: str = "") -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return default


@dataclass(frozen=True)
class HostFacts:
    """What the machine offers, read once."""

    cpus: int
    memory_kib: int
    storage_kib: int
    kernel: str
    os_image: str
    arch: str
    machine_id: str
    boot_id: str

    @classmethod
    def read(cls, root_dir: Path | None = None) -> HostFacts:
        mem = 0
        for line in _read("/proc/meminfo").splitlines():
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1])
        try:
            st = os.statvfs(root_dir if root_dir and root_dir.exists() else "/")
            storage = st.f_blocks * st.f_frsize // 1024
        except OSError:
            storage = 0
        pretty = "Linux"
        for line in _read("/etc/os-release").splitlines():
            if line.startswith("PRETTY_NAME="):
                pretty = line.split("=", 1)[1].strip('"')
        return cls(cpus=os.cpu_count() or 1, memory_kib=mem, storage_kib=storage,
                   kernel=platform.release(), os_image=pretty,
                   arch=_ARCH.get(platform.machine(), platform.machine()),
                   machine_id=_read("/etc/machine-id"),
                   boot_id=_read("/proc/sys/kernel/random/boot_id"))


def default_node_ip() -> str:
    """The address this host uses to reach the outside (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))
            return str(s.getsockname()[0])
        except OSError:
            return "127.0.0.1"


def _conditions(now: str, previous: list[dict[str, Any]], ready_error: str = ""
                ) -> list[dict[str, Any]]:
    before = {c.get("type"): c for c in previous}
    out = []
    for ctype, status, reason, message in _CONDITIONS:
        if ctype == "Ready" and ready_error:  # kube's Ready setter with errors
            status, reason, message = "False", "KubeletNotReady", ready_error
        old = before.get(ctype, {})
        changed = old.get("status") != status
        out.append({"type": ctype, "status": status, "reason": reason, "message": message,
                    "lastHeartbeatTime": now,
                    "lastTransitionTime": now if changed else old.get("lastTransitionTime", now)})
    return out


def node_status(config: KubeletConfig, host: HostFacts, *, node_ip: str,
                runtime_version: str, previous: dict[str, Any] | None = None,
                ready_error: str = "") -> dict[str, Any]:
    """The Node's status block, as the Kubernetes kubelet reports it."""
    resources = {"cpu": str(host.cpus), "memory": f"{host.memory_kib}Ki",
                 "pods": str(config.max_pods), "ephemeral-storage": f"{host.storage_kib}Ki",
                 "hugepages-2Mi": "0", "hugepages-1Gi": "0"}
    return {
        "capacity": resources,
        "allocatable": dict(resources),
        "conditions": _conditions(rfc3339(), (previous or {}).get("conditions") or [],
                                  ready_error),
        "addresses": [{"type": "InternalIP", "address": node_ip},
                      {"type": "Hostname", "address": config.node_name}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": config.port}},
        "nodeInfo": {
            "machineID": host.machine_id, "systemUUID": host.machine_id,
            "bootID": host.boot_id, "kernelVersion": host.kernel, "osImage": host.os_image,
            "containerRuntimeVersion": runtime_version, "kubeletVersion": KUBELET_VERSION,
            "kubeProxyVersion": KUBELET_VERSION, "operatingSystem": "linux",
            "architecture": host.arch,
        },
    }


def _slim(node: dict[str, Any]) -> dict[str, Any]:
    """The few fields of the API's Node this agent reads again (its uid for the Lease's
    owner, the podCIDR node IPAM gives it, the conditions' transition times): keeping
    the whole object, images and all, would cost kilobytes per hollow node."""
    spec, status = node.get("spec") or {}, node.get("status") or {}
    return {"metadata": {"uid": (node.get("metadata") or {}).get("uid", "")},
            "spec": {"podCIDR": spec["podCIDR"]} if spec.get("podCIDR") else {},
            "status": {"conditions": [
                {"type": c.get("type"), "status": c.get("status"),
                 "lastTransitionTime": c.get("lastTransitionTime")}
                for c in status.get("conditions") or ()]}}


def _same_status(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Equal but for heartbeat times."""
    def strip(s: dict[str, Any]) -> dict[str, Any]:
        conds = [{k: v for k, v in c.items() if k != "lastHeartbeatTime"}
                 for c in s.get("conditions") or []]
        return {**s, "conditions": conds}
    return strip(a) == strip(b)


class NodeAgent:
    """Registers the Node, renews its Lease and posts its status."""

    def __init__(self, client: NodeClient, config: KubeletConfig, *, host: HostFacts,
                 runtime_version: str, node_ip: str) -> None:
        self.client = client
        self.config = config
        self.host = host
        self.runtime_version = runtime_version
        self.node_ip = node_ip
        self.node: dict[str, Any] = {}
        self._lease: dict[str, Any] | None = None
        self._posted: dict[str, Any] = {}
        # Why the node is not Ready ("node is shutting down"), or "".
        self.ready_error = ""

    @property
    def pod_cidr(self) -> str | None:
        return (self.node.get("spec") or {}).get("podCIDR") or self.config.pod_cidr

    def _manifest(self) -> dict[str, Any]:
        name = self.config.node_name
        labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                  "kubernetes.io/arch": self.host.arch, "beta.kubernetes.io/os": "linux",
                  "beta.kubernetes.io/arch": self.host.arch, **self.config.labels}
        spec: dict[str, Any] = {}
        if self.config.pod_cidr:
            spec.update(podCIDR=self.config.pod_cidr, podCIDRs=[self.config.pod_cidr])
        if self.config.taints:
            spec["taints"] = [dict(t) for t in self.config.taints]
        return {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": name, "labels": labels,
                             "annotations": {"node.alpha.kubernetes.io/ttl": "0"}},
                "spec": spec,
                "status": node_status(self.config, self.host, node_ip=self.node_ip,
                                      runtime_version=self.runtime_version)}

    async def register(self) -> dict[str, Any]:
        """Create the Node, or adopt the one a previous run left; then post status."""
        manifest = self._manifest()
        try:
            self.node = _slim(await self.client.create(NODES, manifest))
        except AlreadyExists:
            self.node = _slim(await self.client.get(NODES, self.config.node_name))
            patch: dict[str, Any] = {"metadata": {"labels": manifest["metadata"]["labels"]}}
            if self.config.pod_cidr and not (self.node.get("spec") or {}).get("podCIDR"):
                patch["spec"] = manifest["spec"]
            self.node = _slim(await self.client.patch(NODES, self.config.node_name, patch))
        await self.post_status(force=True)
        log.info("node registered", extra={"node": self.config.node_name})
        return self.node

    async def post_status(self, *, force: bool = False) -> None:
        """PATCH nodes/<name>/status when it changed, or when `force`d (the minute tick)."""
        status = node_status(self.config, self.host, node_ip=self.node_ip,
                             runtime_version=self.runtime_version,
                             previous=self.node.get("status"),
                             ready_error=self.ready_error)
        if not force and self._posted and _same_status(status, self._posted):
            return
        self.node = _slim(await self.client.patch(NODES, self.config.node_name,
                                                  {"status": status}, subresource="status"))
        self._posted = status

    def _lease_body(self) -> dict[str, Any]:
        now = micro_time()
        owner = {"apiVersion": "v1", "kind": "Node", "name": self.config.node_name,
                 "uid": self.node.get("metadata", {}).get("uid", "")}
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": self.config.node_name, "namespace": LEASE_NAMESPACE,
                             "ownerReferences": [owner] if owner["uid"] else []},
                "spec": {"holderIdentity": self.config.node_name,
                         "leaseDurationSeconds": self.config.lease_duration,
                         "renewTime": now, "acquireTime": now}}

    async def renew_lease(self) -> None:
        """Update the Lease's renewTime (create it the first time). The Lease is kept
        without its managedFields: an update that omits them keeps the live ones."""
        if self._lease is not None:
            lease = {**self._lease, "spec": {**self._lease["spec"], "renewTime": micro_time()}}
            try:
                self._lease = drop_managed_fields(await self.client.update(LEASES, lease))
                return
            except (Conflict, NotFound):
                self._lease = None
        try:
            current = await self.client.get(LEASES, self.config.node_name,
                                            namespace=LEASE_NAMESPACE)
            current["spec"] = {**current.get("spec", {}),
                               **self._lease_body()["spec"]}
            self._lease = drop_managed_fields(await self.client.update(LEASES, current))
        except NotFound:
            self._lease = drop_managed_fields(await self._create_lease())

    async def _create_lease(self) -> dict[str, Any]:
        try:
            return await self.client.create(LEASES, self._lease_body(),
                                            namespace=LEASE_NAMESPACE)
        except NotFound:  # the namespace is missing on a bare API server
            try:
                await self.client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace",
                                                      "metadata": {"name": LEASE_NAMESPACE}})
            except AlreadyExists:
                pass
            return await self.client.create(LEASES, self._lease_body(),
                                            namespace=LEASE_NAMESPACE)

    async def run(self) -> None:
        """Heartbeat forever: the Lease every lease_seconds; the status checked as often
        and posted when it changed, or unchanged every status_seconds."""
        loop = asyncio.get_running_loop()
        next_status = loop.time() + self.config.status_seconds
        while True:
            try:
                await self.renew_lease()
                force = loop.time() >= next_status
                await self.post_status(force=force)
                if force:
                    next_status = loop.time() + self.config.status_seconds
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("heartbeat failed", extra={"node": self.config.node_name,
                                                       "error": repr(e)})
            await asyncio.sleep(self.config.lease_seconds)
