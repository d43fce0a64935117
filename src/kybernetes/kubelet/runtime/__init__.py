"""Container runtimes behind one interface (see :mod:`.base`): process, docker, containerd, fake."""

from __future__ import annotations

from kybernetes.kubelet.config import KubeletConfig
from kybernetes.kubelet.runtime.base import Runtime


def make_runtime(config: KubeletConfig) -> Runtime:
    """The runtime named by `config.runtime`, built for this node."""
    if config.runtime == "fake":
        from kybernetes.kubelet.runtime.fake import FakeRuntime
        return FakeRuntime(node_ip=config.node_ip or "127.0.0.1",
                           fail_pattern=config.fail_pods_matching)
    if config.runtime == "containerd":
        from kybernetes.kubelet.runtime.containerd import ContainerdRuntime
        return ContainerdRuntime(config, endpoint=config.containerd_endpoint)
    if config.runtime == "docker":
        from kybernetes.kubelet.runtime.docker import DockerRuntime
        return DockerRuntime(config)
    from kybernetes.kubelet.runtime.process import ProcessRuntime
    return ProcessRuntime(config)
