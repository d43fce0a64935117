"""Pods on `kyb up --runtime containerd`: the kubelet speaks CRI v1 to a real
containerd 1.6 (Debian's) that `kyb up` starts for the node, with images built
offline from busybox-static.

One cluster per module (per xdist worker); it is always taken down, and a fallback
ends any containerd it left (its sandboxes, shims, mounts and bridge) even when
`kyb down` failed.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.support.cluster import KybCluster
from tests.support.poll import wait_for

pytestmark = [
    pytest.mark.root,
    pytest.mark.timeout(300),
    pytest.mark.skipif(os.geteuid() != 0, reason="containerd needs root"),
    pytest.mark.skipif(not (Path("/usr/bin/containerd").exists() and shutil.which("busybox")
                            and Path("/usr/lib/cni/bridge").exists()),
                       reason="needs containerd, containernetworking-plugins, busybox-static"),
]
IMAGE = "kyb/busybox:1"
WEB = Path(__file__).resolve().parents[2] / "examples" / "web" / "web.yaml"
IMAGE_DIRS = {"bin", "dev", "etc", "home", "proc", "root", "sys", "tmp", "usr", "var"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KybCluster]:
    c = KybCluster(tmp_path_factory.mktemp("containerd") / "kyb")
    try:
        c.up("--nodes", "1", "--runtime", "containerd", "--kubelet-arg=--backoff-base=1",
             "--kubelet-arg=--backoff-max=4")
        yield c
    finally:
        c.down()
        _fallback_cleanup(c.data_dir)


def _fallback_cleanup(data_dir: Path) -> None:
    """What `kyb down` should have done already: end each node's containerd (by the pid it
    wrote) and clean its sandboxes' leftovers."""
    from kybernetes.kubelet.runtime.containerd_daemon import Layout, cleanup

    for pid_file in data_dir.glob("nodes/*/containerd/containerd.pid"):
        layout = Layout(pid_file.parent)
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)
        cleanup(layout)


def _socket(cluster: KybCluster) -> str:
    from kybernetes.kubelet.runtime.containerd_daemon import Layout

    (root,) = cluster.data_dir.glob("nodes/*/containerd")
    return str(Layout(root.resolve()).socket)


def _ctr_containers(cluster: KybCluster, pod_uid: str | None = None) -> set[str]:
    args = ["ctr", "-n", "k8s.io", "--address", _socket(cluster), "containers", "ls", "-q"]
    if pod_uid:
        args.append(f'labels."io.kubernetes.pod.uid"=={pod_uid}')
    done = subprocess.run(args, capture_output=True, text=True, check=True)
    return set(done.stdout.split())


def _create(cluster: KybCluster, tmp_path: Path, name: str, containers: list[dict[str, Any]],
            **spec: Any) -> None:
    manifest = tmp_path / f"{name}.json"
    manifest.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"terminationGracePeriodSeconds": 1, "containers": containers, **spec}}))
    cluster.kubectl("create", "-f", str(manifest))


def _pod(cluster: KybCluster, name: str) -> dict[str, Any]:
    return json.loads(cluster.kubectl("get", "pod", name, "-o", "json"))


def _status(cluster: KybCluster, name: str) -> dict[str, Any]:
    return (_pod(cluster, name)["status"].get("containerStatuses") or [{}])[0]


def _running(cluster: KybCluster, name: str, within: float = 60) -> dict[str, Any]:
    def ready() -> dict[str, Any] | None:
        pod = _pod(cluster, name)
        return pod if pod["status"].get("phase") == "Running" else None
    try:
        return wait_for(ready, within=within, interval=0.3, what=f"pod {name} Running")
    except AssertionError:
        print(cluster.kubectl("describe", "pod", name, check=False), cluster.logs())
        raise


def _events(cluster: KybCluster, name: str) -> str:
    return cluster.kubectl("get", "events", "--field-selector", f"involvedObject.name={name}",
                           "-o", "custom-columns=REASON:.reason,MESSAGE:.message")


def _sleeper(name: str = "main", **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": IMAGE, "imagePullPolicy": "IfNotPresent",
            "command": ["sleep", "3600"], **extra}


def test_node_shows_containerd_version(cluster: KybCluster) -> None:
    wide = cluster.kubectl("get", "nodes", "-o", "wide")
    assert re.search(r"containerd://1\.\d+\.\d+", wide), wide


def test_pod_runs_on_the_image_root_filesystem_with_its_hostname(
        cluster: KybCluster, tmp_path: Path) -> None:
    _create(cluster, tmp_path, "rootfs", [_sleeper()],
            hostAliases=[{"ip": "10.1.2.3", "hostnames": ["alias.example"]}])
    pod = _running(cluster, "rootfs")
    assert pod["status"]["podIP"] and pod["status"]["podIP"] != pod["status"]["hostIP"]
    entries = set(cluster.kubectl("exec", "rootfs", "--", "ls", "/").split())
    assert entries == IMAGE_DIRS, entries  # none of the host's (/work, /boot, /opt, ...)
    assert cluster.kubectl("exec", "rootfs", "--", "hostname").strip() == "rootfs"
    hosts = cluster.kubectl("exec", "rootfs", "--", "cat", "/etc/hosts")
    assert f"{pod['status']['podIP']}\trootfs" in hosts and "10.1.2.3\talias.example" in hosts
    # the ServiceAccount token volume is mounted into the image's filesystem
    token = cluster.kubectl("exec", "rootfs", "--", "cat",
                            "/var/run/secrets/kubernetes.io/serviceaccount/namespace")
    assert token == "default"
    # exec with stdin and the exit code, with the oldest kubectl too
    for binary in ("kubectl", "kubectl.1.27"):
        done = cluster.kubectl_run("exec", "-i", "rootfs", "--", "sh", "-c", "cat; exit 3",
                                   stdin="piped\n", binary=binary)
        assert done.stdout == "piped\n" and done.returncode == 3, (binary, done)


def test_init_container_and_empty_dir_volume(cluster: KybCluster, tmp_path: Path) -> None:
    mount = [{"name": "data", "mountPath": "/data"}]
    _create(cluster, tmp_path, "init", [_sleeper(volumeMounts=mount)], initContainers=[{
        "name": "prepare", "image": IMAGE, "imagePullPolicy": "Never", "volumeMounts": mount,
        "command": ["sh", "-c", "echo prepared > /data/x"]}],
        volumes=[{"name": "data", "emptyDir": {}}])
    pod = _running(cluster, "init")
    (init,) = pod["status"]["initContainerStatuses"]
    assert init["state"]["terminated"]["reason"] == "Completed", init
    assert cluster.kubectl("exec", "init", "--", "cat", "/data/x") == "prepared\n"


def test_logs_in_cri_format_timestamps_and_previous(cluster: KybCluster,
                                                      tmp_path: Path) -> None:
    _create(cluster, tmp_path, "logs", [{
        "name": "main", "image": IMAGE, "imagePullPolicy": "Never",
        "command": ["sh", "-c", "echo out-$(cat /proc/sys/kernel/random/uuid); "
                                "echo to-stderr >&2; sleep 2; exit 1"]}])

    def restarted() -> bool:
        return _status(cluster, "logs").get("restartCount", 0) >= 1
    wait_for(restarted, within=60, interval=0.5, what="a restart")
    wait_for(lambda: "out-" in cluster.kubectl("logs", "logs", check=False), within=20,
             interval=0.3, what="the current attempt's log")
    current = cluster.kubectl("logs", "logs")
    previous = cluster.kubectl("logs", "logs", "--previous")
    # stdout and stderr are two pipes: their lines interleave in either order
    lines = sorted(previous.splitlines())
    assert len(lines) == 2 and re.fullmatch(r"out-[0-9a-f-]+", lines[0]), previous
    assert lines[1] == "to-stderr" and previous.endswith("\n")
    assert re.match(r"out-[0-9a-f-]+\n|to-stderr\n", current), current
    stamped = cluster.kubectl("logs", "logs", "--previous", "--timestamps")
    for line in stamped.splitlines():
        assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z (out-|to-stderr)", line), stamped
    # --follow ends when the container does (it runs for about 2 s)
    followed = cluster.kubectl_run("logs", "-f", "logs", timeout=60)
    assert followed.returncode == 0 and "to-stderr" in followed.stdout, followed
    # (the container restarts every few seconds: "previous" may be a newer attempt now)
    assert re.fullmatch(r"(out-[0-9a-f-]+|to-stderr)\n",
                        cluster.kubectl("logs", "logs", "--previous", "--tail=1"))


def test_attach_through_the_cri_streaming_server(cluster: KybCluster, tmp_path: Path) -> None:
    for binary in ("kubectl.1.27", "kubectl"):  # SPDY, then WebSocket to the kubelet
        name = f"attach-{binary.replace('.', '-')}"
        _create(cluster, tmp_path, name, [{
            "name": "main", "image": IMAGE, "imagePullPolicy": "Never", "stdin": True,
            "stdinOnce": True, "command": ["sh", "-c", "read x; echo got-$x; echo e-$x >&2"]}],
            restartPolicy="Never")
        _running(cluster, name)
        done = cluster.kubectl_run("attach", "-i", name, stdin="hello\n", binary=binary)
        assert done.returncode == 0 and "got-hello" in done.stdout, (binary, done)
        assert "e-hello" in done.stderr, (binary, done)


def test_exec_probe_and_memory_limit_oom_kill(cluster: KybCluster, tmp_path: Path) -> None:
    _create(cluster, tmp_path, "probed", [_sleeper(readinessProbe={
        "exec": {"command": ["cat", "/tmp/ready"]}, "periodSeconds": 1})])
    _running(cluster, "probed")
    assert not _status(cluster, "probed").get("ready")
    cluster.kubectl("exec", "probed", "--", "touch", "/tmp/ready")
    wait_for(lambda: _status(cluster, "probed").get("ready"), within=30, interval=0.5,
             what="the exec readiness probe to pass")

    _create(cluster, tmp_path, "oom", [{
        "name": "main", "image": IMAGE, "imagePullPolicy": "Never",
        "command": ["sh", "-c", "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo $x"],
        "resources": {"limits": {"memory": "32Mi"}}}], restartPolicy="Never")

    def terminated() -> dict[str, Any] | None:
        return _status(cluster, "oom").get("state", {}).get("terminated")
    state = wait_for(terminated, within=60, interval=0.5, what="the OOM kill")
    assert state["reason"] == "OOMKilled" and state["exitCode"] == 137, state


def test_missing_images(cluster: KybCluster, tmp_path: Path) -> None:
    _create(cluster, tmp_path, "absent", [{"name": "main", "image": "127.0.0.1:1/nope:1"}])
    _create(cluster, tmp_path, "never", [{"name": "main", "image": "kyb/absent:1",
                                          "imagePullPolicy": "Never"}])

    def backoff() -> bool:
        waiting = _status(cluster, "absent").get("state", {}).get("waiting", {})
        return waiting.get("reason") == "ImagePullBackOff" and \
            waiting.get("message") == 'Back-off pulling image "127.0.0.1:1/nope:1"'
    wait_for(backoff, within=60, interval=0.2, what="ImagePullBackOff")
    # Kubernetes' events: the pull's error, then ErrImagePull, then the back-off
    wanted = ('Failed to pull image "127.0.0.1:1/nope:1": rpc error: code = ',
              "Error: ErrImagePull", "Error: ImagePullBackOff")
    wait_for(lambda: all(w in _events(cluster, "absent") for w in wanted), within=30,
             interval=0.5, what=f"the events {wanted}")

    def never() -> dict[str, Any] | None:
        waiting = _status(cluster, "never").get("state", {}).get("waiting", {})
        return waiting if waiting.get("reason") == "ErrImageNeverPull" else None
    waiting = wait_for(never, within=30, interval=0.3, what="ErrImageNeverPull")
    assert waiting["message"] == ('Container image "kyb/absent:1" is not present with pull '
                                  "policy of Never")


def test_kubelet_restart_adopts_and_delete_leaves_no_container(
        cluster: KybCluster, tmp_path: Path) -> None:
    _create(cluster, tmp_path, "adopt", [_sleeper("one"), _sleeper("two")])
    pod = _running(cluster, "adopt")
    uid = pod["metadata"]["uid"]
    ids = {s["containerID"] for s in pod["status"]["containerStatuses"]}
    raw = {i.split("://", 1)[1] for i in ids}
    in_ctr = _ctr_containers(cluster, uid)
    assert raw < in_ctr and len(in_ctr) == 3, (raw, in_ctr)  # the two and the sandbox

    status = json.loads((cluster.data_dir / "run" / "status.json").read_text())
    (kubelet,) = [c for c in status["components"] if c["name"].startswith("kubelet-")]
    os.kill(kubelet["pid"], signal.SIGKILL)  # a crash: no teardown

    def restarted() -> bool:
        now = json.loads((cluster.data_dir / "run" / "status.json").read_text())
        return any(c["name"] == kubelet["name"] and c["pid"] not in (None, kubelet["pid"])
                   for c in now["components"])
    wait_for(restarted, within=30, interval=0.3, what="the kubelet to be restarted")
    wait_for(lambda: "adopt" in cluster.kubectl("exec", "adopt", "-c", "one", "--", "hostname",
                                                check=False), within=30, interval=0.5,
             what="the restarted kubelet to serve exec")
    after = _pod(cluster, "adopt")["status"]["containerStatuses"]
    assert {s["containerID"] for s in after} == ids
    assert all(s["restartCount"] == 0 for s in after)
    assert _ctr_containers(cluster, uid) == in_ctr

    cluster.kubectl("delete", "pod", "adopt", "--wait=true", "--timeout=60s")
    wait_for(lambda: not _ctr_containers(cluster, uid), within=30, interval=0.3,
             what="the pod's containers to be removed")


class _Registry(BaseHTTPRequestHandler):
    """A registry that asks for Basic credentials, notes them, and has no images."""

    seen: list[str] = []

    def _answer(self) -> None:
        auth = self.headers.get("Authorization")
        if auth is None and self.path != "/v2/":
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="kyb-test"')
        else:
            if auth:
                self.seen.append(auth)
            self.send_response(404 if self.path != "/v2/" else 200)
        self.send_header("Content-Length", "0")
        self.send_header("Docker-Distribution-Api-Version", "registry/2.0")
        self.end_headers()

    do_GET = do_HEAD = _answer

    def log_message(self, *args: Any) -> None:
        pass


def test_image_pull_secrets_reach_the_registry(cluster: KybCluster, tmp_path: Path) -> None:
    server = ThreadingHTTPServer(("0.0.0.0", 0), _Registry)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        status = json.loads((cluster.data_dir / "run" / "status.json").read_text())
        host = status["server"].split("//", 1)[1].rsplit(":", 1)[0]  # the nodes reach it
        registry = f"{host}:{server.server_address[1]}"
        (root,) = cluster.data_dir.glob("nodes/*/containerd")
        hosts = root / "certs.d" / registry / "hosts.toml"  # plain HTTP for this registry
        hosts.parent.mkdir(parents=True)
        hosts.write_text(f'server = "http://{registry}"\n[host."http://{registry}"]\n'
                         '  capabilities = ["pull", "resolve"]\n')
        config = {"auths": {f"http://{registry}/private": {"username": "kyb",
                                                           "password": "s3cret"}}}
        encoded = base64.b64encode(json.dumps(config).encode()).decode()
        secret = tmp_path / "secret.json"
        secret.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "regcred"},
            "type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": encoded}}))
        cluster.kubectl("create", "-f", str(secret))
        _create(cluster, tmp_path, "private", [{"name": "main",
                                                "image": f"{registry}/private/app:1"}],
                imagePullSecrets=[{"name": "regcred"}, {"name": "absent"}])
        expected = "Basic " + base64.b64encode(b"kyb:s3cret").decode()
        wait_for(lambda: expected in _Registry.seen, within=60, interval=0.3,
                 what="the registry to see the pod's credentials")
        wanted = ("Unable to retrieve some image pull secrets (absent); attempting to pull "
                  "the image may not succeed.")
        wait_for(lambda: wanted in _events(cluster, "private"), within=30, interval=0.5,
                 what=wanted)
    finally:
        server.shutdown()


def test_web_example_answers_through_its_service(cluster: KybCluster) -> None:
    """examples/web/web.yaml, unchanged: busybox httpd in the image, each replica
    answering with its pod name through the Service's NodePort."""
    cluster.kubectl("apply", "-f", str(WEB))
    try:
        def ready() -> set[str] | None:
            pods = json.loads(cluster.kubectl("get", "pods", "-l", "app=web", "-o", "json"))
            names = {p["metadata"]["name"] for p in pods["items"]
                     if any(c["type"] == "Ready" and c["status"] == "True"
                            for c in p["status"].get("conditions", []))}
            return names if len(names) == 3 else None
        names = wait_for(ready, within=90, interval=0.5, what="3 Ready web pods")
        node_ip = cluster.kubectl("get", "nodes", "-o", "jsonpath={.items[0].status"
                                  '.addresses[?(@.type=="InternalIP")].address}')
        seen: set[str] = set()

        def answered() -> bool:
            with contextlib.suppress(OSError), \
                    urllib.request.urlopen(f"http://{node_ip}:30080/", timeout=2) as r:
                seen.add(r.read().decode().strip().removeprefix("hello from "))
            return seen >= names
        wait_for(answered, within=30, interval=0.05, what=f"answers from {names}")
        assert seen == names
    finally:
        cluster.kubectl("delete", "-f", str(WEB), check=False)
