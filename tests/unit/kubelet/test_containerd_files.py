"""What the containerd runtime writes: its config (valid TOML with the settings this
machine needs), the CNI template (valid JSON once containerd fills the pod CIDR in),
and the offline images (docker-archive tarballs `ctr images import` reads)."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
import tomllib
from pathlib import Path

import pytest

from kybernetes.kubelet.runtime.containerd_daemon import (
    Layout,
    write_config,
    write_registry_hosts,
)
from kybernetes.kubelet.runtime.image_archive import docker_archive, pause_archive


def test_config_and_cni_template(tmp_path: Path) -> None:
    layout = Layout(tmp_path / "c")
    write_config(layout)
    config = tomllib.loads(layout.config.read_text())
    cri = config["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["restrict_oom_score_adj"] is True and cri["sandbox_image"].endswith("pause:1")
    assert cri["containerd"]["runtimes"]["runc"]["options"]["SystemdCgroup"] is False
    assert cri["cni"]["conf_template"] == str(layout.cni_template)
    assert config["grpc"]["address"] == str(layout.socket)
    assert len(str(layout.socket)) < 100 and len(layout.bridge) <= 15
    network = json.loads(layout.cni_template.read_text().replace("{{.PodCIDR}}", "10.1.0.0/24"))
    bridge = network["plugins"][0]
    assert bridge["bridge"] == layout.bridge
    assert bridge["ipam"]["ranges"] == [[{"subnet": "10.1.0.0/24"}]]


def test_docker_archive_layout() -> None:
    archive = docker_archive("docker.io/kyb/x:1", cmd=["/bin/true"], layer=b"layer-bytes")
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        (entry,) = manifest
        assert entry["RepoTags"] == ["kyb/x:1"]
        config = json.loads(tar.extractfile(entry["Config"]).read())  # type: ignore[union-attr]
        assert config["config"]["Cmd"] == ["/bin/true"]
        assert tar.extractfile(entry["Layers"][0]).read() == b"layer-bytes"  # type: ignore[union-attr]
    assert docker_archive("docker.io/kyb/x:1", cmd=["/bin/true"], layer=b"layer-bytes") == archive


@pytest.mark.skipif(shutil.which("busybox") is None, reason="needs busybox-static")
def test_pause_image_has_busybox_and_applets() -> None:
    with tarfile.open(fileobj=io.BytesIO(pause_archive())) as outer:
        (entry,) = json.loads(outer.extractfile("manifest.json").read())  # type: ignore[union-attr]
        layer = outer.extractfile(entry["Layers"][0]).read()  # type: ignore[union-attr]
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        names = set(tar.getnames())
        assert {"bin/busybox", "bin/sh", "bin/sleep", "etc/passwd", "tmp"} <= names
        assert tar.getmember("bin/sleep").linkname == "busybox"


def test_registry_hosts_send_the_names_to_the_host_over_http(tmp_path: Path) -> None:
    layout = Layout(tmp_path / "c")
    certs = layout.dir / "certs.d"
    (certs / "other.example:443").mkdir(parents=True)
    (certs / "other.example:443" / "hosts.toml").write_text('server = "https://x"\n')
    write_registry_hosts(layout, {"localhost:5000": "http://10.0.0.1:5000",
                                  "127.0.0.1:5000": "http://10.0.0.1:5000"})
    hosts = tomllib.loads((certs / "localhost:5000" / "hosts.toml").read_text())
    assert hosts["server"] == "http://10.0.0.1:5000"
    assert hosts["host"]["http://10.0.0.1:5000"]["capabilities"] == ["pull", "resolve", "push"]
    # the next start without a registry removes its own files, never others'
    write_registry_hosts(layout, {})
    assert sorted(p.name for p in certs.iterdir()) == ["other.example:443"]
