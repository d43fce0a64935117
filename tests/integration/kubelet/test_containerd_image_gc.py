"""Image garbage collection against a real containerd (started here, in a temp dir):
above the high threshold, images no container uses go, least recently used first;
images in use and the pinned pause image stay."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from kybernetes.kubelet.config import KubeletConfig
from kybernetes.kubelet.image_gc import ImageGC
from kybernetes.kubelet.runtime.containerd import ContainerdRuntime
from kybernetes.kubelet.runtime.containerd_daemon import Containerd, import_image
from kybernetes.kubelet.runtime.cri import pb
from kybernetes.kubelet.runtime.image_archive import BUSYBOX_IMAGE, PAUSE_IMAGE, docker_archive

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="containerd needs root"),
    pytest.mark.skipif(not (Path("/usr/bin/containerd").exists() and shutil.which("busybox")),
                       reason="needs containerd and busybox-static"),
]
EXTRA = "docker.io/kyb/unused:1"


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Containerd]:
    d = Containerd(tmp_path / "containerd")
    try:
        d.start()
        import_image(d.layout, docker_archive(EXTRA, cmd=["/bin/true"]))  # its own ID
        yield d
    finally:
        d.stop()


async def test_removes_only_unused_images_above_the_threshold(daemon: Containerd,
                                                              tmp_path: Path) -> None:
    runtime = ContainerdRuntime(KubeletConfig(node_name="gc", root_dir=tmp_path / "kubelet"),
                                endpoint=daemon.endpoint)
    await runtime.start()
    try:
        cri = runtime.cri
        config = pb.PodSandboxConfig(metadata=pb.PodSandboxMetadata(name="p", uid="u",
                                                                    namespace="gc"))
        # a host-network sandbox: no CNI configuration is needed for this test
        config.linux.security_context.namespace_options.network = pb.NODE
        sandbox = (await cri.runtime_call("RunPodSandbox", pb.RunPodSandboxRequest(
            config=config))).pod_sandbox_id
        await cri.runtime_call("CreateContainer", pb.CreateContainerRequest(
            pod_sandbox_id=sandbox, sandbox_config=config, config=pb.ContainerConfig(
                metadata=pb.ContainerMetadata(name="c"), image=pb.ImageSpec(
                    image=BUSYBOX_IMAGE), command=["true"])))

        def tags(images: list) -> set[str]:
            return {t for i in images for t in i.tags}
        assert {EXTRA, BUSYBOX_IMAGE, PAUSE_IMAGE} <= tags(await runtime.list_images())

        assert await ImageGC(runtime, high=100, low=90).collect_once() == []  # below it
        removed = await ImageGC(runtime, high=0, low=0).collect_once()
        left = tags(await runtime.list_images())
        assert len(removed) == 1 and EXTRA not in left, (removed, left)
        assert {BUSYBOX_IMAGE, PAUSE_IMAGE} <= left  # in use by a container; pinned
        fs = await runtime.image_fs()
        assert fs.capacity > fs.available > 0
    finally:
        await runtime.aclose()
