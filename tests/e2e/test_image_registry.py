"""`kyb up --runtime containerd --registry`: the cluster's own registry (Debian's
docker-registry), `kyb image load` into the node and the registry, pods pulling
`localhost:PORT/...` from it through containerd in the node's network namespace.

One cluster per module; it is always taken down, and a fallback ends any containerd
and registry it left even when `kyb down` failed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_containerd_runtime import _fallback_cleanup, _socket
from tests.support.cluster import KybCluster, kyb
from tests.support.net import free_port
from tests.support.poll import wait_for

pytestmark = [
    pytest.mark.root,
    pytest.mark.timeout(300),
    pytest.mark.skipif(os.geteuid() != 0, reason="containerd needs root"),
    pytest.mark.skipif(not (Path("/usr/bin/containerd").exists() and shutil.which("busybox")
                            and Path("/usr/lib/cni/bridge").exists()
                            and Path("/usr/bin/docker-registry").exists()),
                       reason="needs containerd, containernetworking-plugins, busybox-static, "
                       "docker-registry"),
]
# a name no node has: the only way a pod gets it is a pull from the registry
ONLY_IN_REGISTRY = "kyb/from-registry:1"


@pytest.fixture(scope="module")
def port() -> int:
    """The registry's: a free one (5000 may be taken on a shared machine)."""
    return free_port()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, port: int) -> Iterator[KybCluster]:
    c = KybCluster(tmp_path_factory.mktemp("registry") / "kyb")
    try:
        c.up("--nodes", "1", "--runtime", "containerd", "--registry", "--registry-port",
             str(port), "--kubelet-arg=--backoff-base=1", "--kubelet-arg=--backoff-max=4")
        yield c
    finally:
        c.down()
        _fallback_cleanup(c.data_dir)
        _end_registry(c.data_dir)


def _end_registry(data_dir: Path) -> None:
    """The registry `kyb down` should have stopped, by the pid status.json names."""
    with contextlib.suppress(OSError, ValueError):
        status = json.loads((data_dir / "run" / "status.json").read_text())
        for c in status.get("components", []):
            if c["name"] == "registry" and c.get("pid"):
                argv = Path(f"/proc/{c['pid']}/cmdline").read_bytes()
                if b"docker-registry" in argv:
                    os.kill(c["pid"], signal.SIGKILL)


def _image(cluster: KybCluster, *args: str) -> subprocess.CompletedProcess[str]:
    return kyb("image", *args, "--data-dir", str(cluster.data_dir))


def _ctr_images(cluster: KybCluster) -> set[str]:
    done = subprocess.run(["ctr", "-n", "k8s.io", "--address", _socket(cluster), "images",
                           "ls", "-q"], capture_output=True, text=True, check=True)
    return set(done.stdout.split())


def _create(cluster: KybCluster, tmp_path: Path, name: str, image: str) -> None:
    manifest = tmp_path / f"{name}.json"
    manifest.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
            "name": "main", "image": image, "imagePullPolicy": "Always",
            "command": ["sleep", "3600"]}]}}))
    cluster.kubectl("create", "-f", str(manifest))


def _waiting(cluster: KybCluster, name: str) -> dict[str, Any]:
    pod = json.loads(cluster.kubectl("get", "pod", name, "-o", "json"))
    statuses = pod["status"].get("containerStatuses") or [{}]
    return statuses[0].get("state", {}).get("waiting") or {}


def test_status_shows_the_registry(cluster: KybCluster, port: int) -> None:
    done = kyb("status", "-o", "json", "--data-dir", str(cluster.data_dir))
    assert done.returncode == 0, done.stderr
    (registry,) = [c for c in json.loads(done.stdout)["components"]
                   if c["kind"] == "registry"]
    assert registry["url"] == f"http://localhost:{port}" and registry["ready"], registry
    text = kyb("status", "--data-dir", str(cluster.data_dir)).stdout
    assert "\nregistry " in text and f"image registry: localhost:{port}" in text, text
    assert (cluster.data_dir / "registry" / "config.yml").exists()


def test_loaded_image_is_pulled_from_the_registry(cluster: KybCluster, port: int,
                                                  tmp_path: Path) -> None:
    from kybernetes.kubelet.runtime import image_archive

    archive = tmp_path / "image.tar"
    archive.write_bytes(image_archive.busybox_archive(f"docker.io/{ONLY_IN_REGISTRY}"))
    done = _image(cluster, "load", str(archive))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"pushed localhost:{port}/{ONLY_IN_REGISTRY}" in done.stdout, done.stdout
    assert f"docker.io/{ONLY_IN_REGISTRY}" in _ctr_images(cluster)
    pulled = f"localhost:{port}/{ONLY_IN_REGISTRY}"
    assert pulled not in _ctr_images(cluster)  # the node has it only under its own name

    _create(cluster, tmp_path, "pulled", pulled)
    try:
        wait_for(lambda: json.loads(cluster.kubectl("get", "pod", "pulled", "-o", "json"))
                 ["status"].get("phase") == "Running", within=90, interval=0.5,
                 what="the pod from the registry to run")
    except AssertionError:
        print(cluster.kubectl("describe", "pod", "pulled", check=False), cluster.logs())
        raise
    assert pulled in _ctr_images(cluster)  # containerd pulled it from the host's registry
    events = cluster.kubectl("get", "events", "--field-selector", "involvedObject.name=pulled",
                             "-o", "custom-columns=REASON:.reason,MESSAGE:.message")
    assert f'Successfully pulled image "{pulled}"' in events, events
    assert cluster.kubectl("exec", "pulled", "--", "cat", "/etc/group").startswith("root:x:0:")

    listed = _image(cluster, "ls")
    assert listed.returncode == 0, listed.stderr
    rows = [line.split() for line in listed.stdout.splitlines()]
    assert ["REGISTRY", f"localhost:{port}"] in rows, listed.stdout
    assert [ONLY_IN_REGISTRY.split(":")[0], "1"] in rows, listed.stdout
    assert any(len(r) == 4 and r[1] == pulled for r in rows), listed.stdout  # NODE IMAGE ID SIZE


def test_image_missing_from_the_registry_backs_off(cluster: KybCluster, port: int,
                                                   tmp_path: Path) -> None:
    image = f"localhost:{port}/kyb/absent:1"
    _create(cluster, tmp_path, "absent", image)
    reasons: list[str] = []

    def backoff() -> bool:
        reason = _waiting(cluster, "absent").get("reason", "")
        if reason and reason not in reasons:
            reasons.append(reason)
        return reason == "ImagePullBackOff"
    try:
        wait_for(backoff, within=90, interval=0.2, what="ImagePullBackOff")
    except AssertionError:
        print(reasons, cluster.kubectl("describe", "pod", "absent", check=False),
              cluster.logs())
        raise
    events = cluster.kubectl("get", "events", "--field-selector", "involvedObject.name=absent",
                             "-o", "custom-columns=REASON:.reason,MESSAGE:.message")
    assert f'Failed to pull image "{image}"' in events and "not found" in events, events
    assert "Error: ErrImagePull" in events and "Error: ImagePullBackOff" in events, events


def test_load_errors(cluster: KybCluster, tmp_path: Path) -> None:
    missing = _image(cluster, "load", str(tmp_path / "nope.tar"))
    assert missing.returncode == 2 and "no such file" in missing.stderr, missing
    bad = tmp_path / "bad.tar"
    bad.write_bytes(b"not a tar at all")
    done = _image(cluster, "load", str(bad))
    assert done.returncode == 2 and "is not an image archive" in done.stderr, done
    nothing = kyb("image", "ls", "--data-dir", str(tmp_path / "none"))
    assert nothing.returncode == 2 and "no cluster is running" in nothing.stderr, nothing
