"""The node's side of pod sandboxes: each pod's IP from the node's pod CIDR, given
when its sandbox is made and taken back when it is removed."""

from __future__ import annotations

from typing import Any

from kybernetes.client.events import EventSink
from kybernetes.kubelet.ipam import IpPool
from kybernetes.kubelet.runtime.base import Runtime, Sandbox


class PodSandboxes:
    """Makes and removes pod sandboxes through the runtime, with the node's IP pool."""

    def __init__(self, runtime: Runtime, recorder: EventSink, node_ip: str) -> None:
        self.runtime = runtime
        self.recorder = recorder
        self.node_ip = node_ip
        self.ipam: IpPool | None = None

    async def configure(self, pod_cidr: str | None) -> None:
        """The node's pod CIDR is known: hand it to the runtime, and count the IPs the
        sandboxes still running (from before a restart) hold."""
        await self.runtime.configure(pod_cidr=pod_cidr)
        if not pod_cidr:
            return
        self.ipam = IpPool(pod_cidr)
        for sandbox in await self.runtime.list_sandboxes():
            if not sandbox.host_network:
                self.ipam.assign(sandbox.pod_uid, sandbox.ip)

    async def sandbox_for(self, pod: dict[str, Any]) -> Sandbox:
        ip = None
        if self.ipam is not None and not pod["spec"].get("hostNetwork"):
            ip = self.ipam.allocate(pod["metadata"]["uid"])
        sandbox = await self.runtime.run_sandbox(pod, ip=ip)
        if sandbox.host_network:
            sandbox.ip = self.node_ip
        if sandbox.host_network and not pod["spec"].get("hostNetwork") and \
                self.runtime.name != "fake":
            self.recorder.event(pod, "Warning", "HostNetwork",
                                "pod networking needs root and a pod CIDR; "
                                "this pod shares the node's network")
        return sandbox

    async def release_sandbox(self, uid: str) -> None:
        await self.runtime.remove_sandbox(uid)
        if self.ipam is not None:
            self.ipam.release(uid)

    async def remove_orphans(self, keep: set[str]) -> None:
        """Remove the sandboxes of pods not in `keep`."""
        for sandbox in await self.runtime.list_sandboxes():
            if sandbox.pod_uid not in keep:
                await self.release_sandbox(sandbox.pod_uid)
