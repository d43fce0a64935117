"""Pods on the docker runtime against a real Docker Engine, with images built locally.

The session fixture starts dockerd if its socket does not answer (and stops only
a dockerd it started); the image is busybox-static imported with `docker import`.
Every container a test made is removed by the kubelet's teardown, and then by
label as a fallback.
"""

from __future__ import annotations

import asyncio
import io
import re
import secrets
import shutil
import subprocess
import tarfile
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import orjson
import pytest
from kubernetes import client as k8s

from tests.integration.kubelet.conftest import (
    IS_ROOT,
    condition,
    container_status,
    free_pod_cidr,
    make_pod,
    node_ready,
    shared_kubelet,
    wait_for,
)
from tests.integration.kubelet.test_kubelet_api import _exec, _get, _ssl
from tests.support.kubectl import KUBECTLS, Kubectl

pytestmark = [pytest.mark.docker,
              pytest.mark.skipif(not IS_ROOT, reason="starting and using dockerd needs root")]
IMAGE = "kyb-test/busybox:1"
SOCKET = "/var/run/docker.sock"


def _docker_ok() -> bool:
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


@pytest.fixture(scope="session")
def dockerd(tmp_path_factory) -> Iterator[None]:
    """A Docker Engine: the running one, or one started here (and stopped after)."""
    if shutil.which("docker") is None or shutil.which("busybox") is None:
        pytest.skip("needs docker.io and busybox-static")
    proc = None
    if not _docker_ok():
        log = tmp_path_factory.mktemp("dockerd") / "dockerd.log"
        proc = subprocess.Popen(["dockerd"], stdout=open(log, "wb"),
                                stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 30
        while not _docker_ok():
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.skip(f"dockerd did not start: {log.read_text()[-500:]}")
            time.sleep(0.2)
    _build_image()
    try:
        yield
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(20)


def _build_image() -> None:
    if subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True).returncode == 0:
        return
    busybox = shutil.which("busybox")
    assert busybox
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True).stdout.split()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(busybox, arcname="bin/busybox")
        for applet in applets:
            if applet != "busybox":
                link = tarfile.TarInfo(f"bin/{applet}")
                link.type, link.linkname = tarfile.SYMTYPE, "busybox"
                tar.addfile(link)
        for d in ("tmp", "etc", "root"):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777
            tar.addfile(info)
    subprocess.run(["docker", "import", "--change", "ENV PATH=/bin", "--change",
                    'CMD ["sh"]', "-", IMAGE], input=buf.getvalue(), check=True,
                   capture_output=True)


def _no_containers_left(root) -> None:
    from kybernetes.kubelet.network import node_tag
    tag = node_tag("node-1", root.resolve())
    left = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=io.kyb.node={tag}"],
                          capture_output=True, text=True).stdout.split()
    assert not left, f"the kubelet left containers behind: {left}"


@pytest.fixture(scope="module")
def node(dockerd, module_api, module_core, tmp_path_factory):
    with shared_kubelet(module_api, module_core, tmp_path_factory.mktemp("node"), "docker",
                        "--pod-cidr", free_pod_cidr(), "--cluster-dns", "10.96.0.10",
                        after_stop=lambda k: _no_containers_left(k.root)) as kubelet:
        yield kubelet


@pytest.fixture
def core(module_core):
    return module_core


def _pod(core, ns: str, name: str):
    return core.read_namespaced_pod(name, ns)


def _running_ready(core, ns: str, name: str):
    pod = _pod(core, ns, name)
    return pod.status.phase == "Running" and condition(pod, "Ready") == "True" and pod


def test_docker_pod_with_two_containers_shares_localhost(core, node, ns) -> None:
    probe = {"exec": {"command": ["wget", "-q", "-O-", "http://127.0.0.1:8080/"]},
             "periodSeconds": 1}
    serve = ["sh", "-c", "mkdir -p /www && echo hello > /www/index.html && "
                         "exec httpd -f -p 8080 -h /www"]
    core.create_namespaced_pod(ns, make_pod("web", [
        {"name": "server", "image": IMAGE, "command": serve,
         "readinessProbe": {"httpGet": {"port": 8080}, "periodSeconds": 1}},
        {"name": "client", "image": IMAGE, "command": ["sleep", "3600"],
         "readinessProbe": probe}]))
    pod = wait_for(lambda: _running_ready(core, ns, "web"), timeout=30, what="Running and Ready")
    assert container_status(pod, "server").container_id.startswith("docker://")
    assert pod.status.pod_ip and pod.status.pod_ip != pod.status.host_ip
    node_info = core.read_node("node-1").status.node_info
    assert node_info.container_runtime_version.startswith("docker://")


def test_docker_pod_dns_hosts_and_hostname(core, node, ns) -> None:
    """The sandbox carries the pod's resolver, hosts entries and hostname, and its
    containers (which join its namespaces) see them."""
    core.create_namespaced_pod(ns, make_pod("named", [
        {"name": "c", "image": IMAGE, "command": ["sleep", "3600"]}],
        hostname="h0", subdomain="sub",
        hostAliases=[{"ip": "10.1.2.3", "hostnames": ["alias.example"]}],
        dnsConfig={"options": [{"name": "ndots", "value": "2"}]}))
    pod = wait_for(lambda: _running_ready(core, ns, "named"), timeout=30, what="Running")
    cid = container_status(pod, "c").container_id.split("//")[1]

    def run(*argv: str) -> str:
        return subprocess.run(["docker", "exec", cid, *argv], capture_output=True, text=True,
                              check=True).stdout
    resolv = run("cat", "/etc/resolv.conf")
    assert "nameserver 10.96.0.10" in resolv
    assert f"search {ns}.svc.cluster.local svc.cluster.local cluster.local" in resolv
    assert "ndots:2" in resolv
    hosts = run("cat", "/etc/hosts")
    assert "10.1.2.3\talias.example" in hosts
    assert f"h0.sub.{ns}.svc.cluster.local" in hosts
    assert run("hostname").strip() == "h0"


def test_docker_crash_loop_backs_off_and_liveness_restarts(core, node, ns) -> None:
    core.create_namespaced_pod(ns, make_pod("crash", [
        {"name": "c", "image": IMAGE, "command": ["sh", "-c", "exit 2"]},
        {"name": "l", "image": IMAGE, "command": ["sleep", "3600"],
         "livenessProbe": {"exec": {"command": ["false"]}, "periodSeconds": 1,
                           "failureThreshold": 1}}]))

    def looping():
        pod = _pod(core, ns, "crash")
        c, live = container_status(pod, "c"), container_status(pod, "l")
        return c and live and c.restart_count >= 2 and live.restart_count >= 1 and \
            c.state.waiting and c.state.waiting.reason == "CrashLoopBackOff" and c
    status = wait_for(looping, timeout=40, what="crash loop and a liveness restart")
    assert status.last_state.terminated.exit_code == 2


def test_docker_env_configmap_readiness_and_oom(core, node, ns) -> None:
    core.create_namespaced_config_map(ns, {"metadata": {"name": "cfg"},
                                                  "data": {"k": "v1"}})
    core.create_namespaced_pod(ns, make_pod("env", [
        {"name": "c", "image": IMAGE,
         "command": ["sh", "-c", "echo COLOR=$COLOR; cat /cfg/k; echo; sleep 3600"],
         "env": [{"name": "COLOR", "value": "red"}],
         "volumeMounts": [{"name": "cfg", "mountPath": "/cfg"}],
         "readinessProbe": {"exec": {"command": ["test", "-f", "/tmp/ready"]},
                            "periodSeconds": 1, "failureThreshold": 1}}],
        volumes=[{"name": "cfg", "configMap": {"name": "cfg"}}]))
    wait_for(lambda: _pod(core, ns, "env").status.phase == "Running", timeout=30, what="Running")
    assert condition(_pod(core, ns, "env"), "Ready") == "False"
    subprocess.run(["docker", "exec", container_status(_pod(core, ns, "env"), "c").container_id
                    .split("//")[1], "touch", "/tmp/ready"], check=True)
    wait_for(lambda: condition(_pod(core, ns, "env"), "Ready") == "True", what="Ready")
    ctx = _ssl(node.server)
    url = f"https://127.0.0.1:{node.port}/containerLogs/{ns}/env/c"
    wait_for(lambda: asyncio.run(_get(url, ctx)) == (200, "COLOR=red\nv1\n"),
             what="logs through the kubelet")
    core.create_namespaced_pod(ns, make_pod("hog", [
        {"name": "c", "image": IMAGE, "command": ["sh", "-c", "head -c 300m /dev/zero | tail"],
         "resources": {"limits": {"memory": "32Mi"}}}], restartPolicy="Never"))
    pod = wait_for(lambda: (p := _pod(core, ns, "hog")).status.phase == "Failed" and p,
                   timeout=30, what="hog Failed")
    assert container_status(pod, "c").state.terminated.reason == "OOMKilled"


def test_docker_exec_logs_and_graceful_deletion(core, node, ns) -> None:
    core.create_namespaced_pod(ns, make_pod("box", [
        {"name": "c", "image": IMAGE,
         "command": ["sh", "-c", "trap 'echo bye' TERM; echo hi; while true; do sleep 0.2; "
                                 "done"]}], terminationGracePeriodSeconds=3))
    wait_for(lambda: _pod(core, ns, "box").status.phase == "Running", timeout=30, what="Running")
    ctx = _ssl(node.server)
    query = urlencode([("stdout", "1"), ("stderr", "1"), ("command", "sh"), ("command", "-c"),
                       ("command", "echo $HOSTNAME; echo oops >&2; exit 5")])
    out = asyncio.run(_exec(f"wss://127.0.0.1:{node.port}/exec/{ns}/box/c?{query}", ctx))
    assert out[1] == b"box\n" and out[2] == b"oops\n"
    assert orjson.loads(out[3])["details"]["causes"][0]["message"] == "5"
    started = time.monotonic()
    core.delete_namespaced_pod("box", ns)
    wait_for(lambda: not core.list_namespaced_pod(ns).items, timeout=20,
             what="pod removed")
    assert 2.5 <= time.monotonic() - started < 15


def test_docker_image_pull_errors_back_off(core, node, ns) -> None:
    core.create_namespaced_pod(ns, make_pod("never", [
        {"name": "c", "image": "kyb-test/absent:1", "imagePullPolicy": "Never"}]))
    core.create_namespaced_pod(ns, make_pod("pull", [
        {"name": "c", "image": "127.0.0.1:1/kyb/absent:1"}]))
    never = wait_for(lambda: (s := container_status(_pod(core, ns, "never"), "c")) and
                     s.state.waiting and s.state.waiting.reason == "ErrImageNeverPull" and s,
                     timeout=20, what="ErrImageNeverPull")
    assert "is not present with pull policy of Never" in never.state.waiting.message
    seen = set()

    def backing_off():
        s = container_status(_pod(core, ns, "pull"), "c")
        if s and s.state.waiting:
            seen.add(s.state.waiting.reason)
        return {"ErrImagePull", "ImagePullBackOff"} <= seen
    wait_for(backing_off, timeout=30, interval=0.05,
             what=f"ErrImagePull then ImagePullBackOff (saw {seen})")


def test_docker_usage_in_the_summary_and_kubectl_top(core, node, ns, tmp_path) -> None:
    core.create_namespaced_pod(ns, make_pod("busy", [
        {"name": "spin", "image": IMAGE, "command": ["sh", "-c", "while :; do :; done"]}]))
    wait_for(lambda: _pod(core, ns, "busy").status.phase == "Running", timeout=30,
             what="Running")
    ctx = _ssl(node.server)

    def busy_container():
        status, body = asyncio.run(_get(f"https://127.0.0.1:{node.port}/stats/summary", ctx))
        assert status == 200, body
        summary = orjson.loads(body)
        pods = [p for p in summary["pods"] if p["podRef"] == {
            "name": "busy", "namespace": ns, "uid": _pod(core, ns, "busy").metadata.uid}]
        c = pods and pods[0]["containers"][0]
        return c and c["cpu"].get("usageNanoCores", 0) > 0 and (summary, c)
    summary, c = wait_for(busy_container, timeout=30, interval=1, what="the busy container")
    assert c["name"] == "spin" and c["cpu"]["usageCoreNanoSeconds"] > 0
    assert c["memory"]["workingSetBytes"] > 0 and c["memory"]["usageBytes"] > 0
    assert summary["node"]["cpu"]["usageNanoCores"] > 0
    assert summary["node"]["memory"]["workingSetBytes"] > 0
    kubectl = Kubectl(KUBECTLS[-1], node.server, tmp_path)

    def top_row():
        out = kubectl.run("top", "pods", "--containers", "-n", ns, check=False).stdout
        rows = [line.split() for line in out.splitlines() if line.startswith("busy ")]
        return rows and rows[0][1] == "spin" and int(rows[0][2].rstrip("m")) >= 50 and rows[0]
    row = wait_for(top_row, timeout=45, interval=1, what="kubectl top pods --containers")
    assert row[3].endswith("Mi")
    assert re.search(r"^node-1\s+\d+m\s+\d+%\s+\d+Mi\s+\d+%", kubectl("top", "nodes"), re.M)


def test_docker_claim_data_survives_the_pods_replacement(core, node, ns, tmp_path) -> None:
    tag = secrets.token_hex(4)
    volume_dir = tmp_path / f"claim-{tag}"  # made by the kubelet, as local-path's volumes
    pv_name = f"pv-{tag}"
    core.create_persistent_volume({
        "metadata": {"name": pv_name},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                 "storageClassName": "", "persistentVolumeReclaimPolicy": "Retain",
                 "hostPath": {"path": str(volume_dir), "type": "DirectoryOrCreate"},
                 "claimRef": {"namespace": ns, "name": "data"}}})
    try:
        core.create_namespaced_persistent_volume_claim(ns, {
            "metadata": {"name": "data"},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "",
                     "volumeName": pv_name, "resources": {"requests": {"storage": "1Gi"}}}})
        # the binder's last step, written by hand (no controller manager here)
        core.patch_namespaced_persistent_volume_claim_status("data", ns, {"status": {
            "phase": "Bound", "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"]}})
        volumes = [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]

        def run(name: str, script: str) -> str:
            core.create_namespaced_pod(ns, make_pod(name, [{
                "name": "c", "image": IMAGE, "command": ["sh", "-c", f"{script}; sleep 3600"],
                "volumeMounts": [{"name": "data", "mountPath": "/data"}]}], volumes=volumes))
            wait_for(lambda: _pod(core, ns, name).status.phase == "Running", timeout=30,
                     what=f"{name} Running")
            out = wait_for(lambda: "done" in (log := core.read_namespaced_pod_log(
                name, ns, container="c")) and log, timeout=20, what=f"{name}'s log")
            core.delete_namespaced_pod(name, ns, grace_period_seconds=0)
            wait_for(lambda: not core.list_namespaced_pod(ns).items, timeout=30,
                     what=f"{name} gone")
            return str(out)

        run("writer", f"echo {tag} > /data/f; echo done")
        assert (volume_dir / "f").read_text().strip() == tag  # a bind mount of the host dir
        assert run("reader", "cat /data/f; echo done").splitlines()[0] == tag
    finally:
        core.delete_persistent_volume(pv_name)


@pytest.fixture
def own_node(dockerd, apiserver, start_kubelet):
    from kubernetes import config as k8s_config
    api_client = k8s_config.new_client_from_config(config_file=str(apiserver.kubeconfig))
    own_core = k8s.CoreV1Api(api_client)
    kubelet = start_kubelet("docker", "--pod-cidr", free_pod_cidr())
    wait_for(lambda: node_ready(own_core, "node-1"), timeout=30, what="node Ready")
    yield own_core, kubelet
    api_client.close()


def test_docker_kubelet_restart_adopts(own_node, start_kubelet) -> None:
    core, node = own_node
    core.create_namespaced_pod("default", make_pod("adopt", [
        {"name": "c", "image": IMAGE, "command": ["sleep", "3600"]}]))
    pod = wait_for(lambda: (p := core.read_namespaced_pod("adopt", "default")).status.phase
                   == "Running" and p, timeout=30, what="Running")
    before = container_status(pod, "c").container_id
    node.kill()
    again = start_kubelet("docker").wait_serving()
    time.sleep(1.5)  # a pod sync on the new kubelet
    pod = core.read_namespaced_pod("adopt", "default")
    assert container_status(pod, "c").container_id == before
    assert container_status(pod, "c").restart_count == 0
    from kybernetes.kubelet.network import node_tag
    tag = node_tag("node-1", node.root.resolve())
    ours = subprocess.run(["docker", "ps", "-q", "--filter", f"label=io.kyb.node={tag}",
                           "--filter", "label=io.kyb.kind=container"],
                          capture_output=True, text=True).stdout.split()
    assert len(ours) == 1 and before.split("//")[1].startswith(ours[0])  # no duplicate
    again.stop()
    try:
        _no_containers_left(node.root)
    except AssertionError as e:
        raise AssertionError(f"{e}\n{again.log_tail()}\nrc={again.proc.popen.returncode}") from None
