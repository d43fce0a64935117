"""The kubelet's HTTPS API: auth, container logs (tail, follow, previous), exec over WebSocket.

Requests carry the admin client certificate (signed by the cluster CA, as the API
server's kubelet-client certificate is); `kubectl logs`/`exec` through the API
server's proxy are tested when that proxy exists.
"""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import orjson
import pytest

from kybernetes.client import load_kubeconfig
from tests.integration.kubelet.conftest import (
    IS_ROOT,
    container_status,
    free_pod_cidr,
    make_pod,
    shared_kubelet,
    wait_for,
)

BUSYBOX = shutil.which("busybox") or "/bin/busybox"
KUBECTL = shutil.which("kubectl")


@pytest.fixture(scope="module")
def node(module_api, module_core, tmp_path_factory):
    args = ("--pod-cidr", free_pod_cidr()) if IS_ROOT else ()
    with shared_kubelet(module_api, module_core, tmp_path_factory.mktemp("node"), "process",
                        *args) as kubelet:
        yield kubelet


@pytest.fixture
def core(module_core):
    return module_core


@pytest.fixture
def apiserver(module_api):
    return module_api


def _ssl(apiserver, *, with_cert: bool = True) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if with_cert:
        config = load_kubeconfig(apiserver.kubeconfig)
        with tempfile.TemporaryDirectory() as d:
            cert, key = Path(d) / "c.pem", Path(d) / "k.pem"
            cert.write_bytes(config.cert_pem or b"")
            key.write_bytes(config.key_pem or b"")
            ctx.load_cert_chain(cert, key)
    return ctx


async def _get(url: str, ctx: ssl.SSLContext) -> tuple[int, str]:
    async with aiohttp.ClientSession() as s, s.get(url, ssl=ctx) as r:
        return r.status, await r.text()


def _running(core, ns: str, name: str):
    pod = core.read_namespaced_pod(name, ns)
    return pod.status.phase == "Running" and pod


def test_healthz_is_open_and_the_rest_needs_a_client_cert(apiserver, node) -> None:
    base = f"https://127.0.0.1:{node.port}"
    assert asyncio.run(_get(f"{base}/healthz", _ssl(apiserver, with_cert=False))) == (200, "ok")
    assert asyncio.run(_get(f"{base}/pods", _ssl(apiserver, with_cert=False)))[0] == 401
    status, body = asyncio.run(_get(f"{base}/pods", _ssl(apiserver)))
    assert status == 200 and orjson.loads(body)["kind"] == "PodList"


def test_container_logs_tail_follow_and_previous(apiserver, core, node, ns) -> None:
    script = "for i in 1 2 3 4 5; do echo line$i; done; sleep 1; echo last; exit 1"
    core.create_namespaced_pod(ns, make_pod("talk", [
        {"name": "c", "image": "busybox", "command": ["sh", "-c", script]}]))
    wait_for(lambda: _running(core, ns, "talk"), what="Running")
    base = f"https://127.0.0.1:{node.port}/containerLogs/{ns}/talk/c"
    ctx = _ssl(apiserver)
    status, text = asyncio.run(_get(f"{base}?follow=true", ctx))
    assert status == 200 and text == "line1\nline2\nline3\nline4\nline5\nlast\n"
    wait_for(lambda: (s := container_status(core.read_namespaced_pod("talk", ns), "c"))
             and s.restart_count >= 1, timeout=20, what="a restart")
    assert asyncio.run(_get(f"{base}?previous=true&tailLines=2", ctx)) == (200, "line5\nlast\n")
    status, text = asyncio.run(_get(f"{base}?limitBytes=6", ctx))
    assert (status, text) == (200, "line1\n")
    status, text = asyncio.run(_get(f"https://127.0.0.1:{node.port}/containerLogs/{ns}/"
                                    "nope/c", ctx))
    assert status == 404 and 'pod "nope" not found' in text


async def _exec(url: str, ctx: ssl.SSLContext, stdin: bytes | None = None,
                protocol: str = "v5.channel.k8s.io") -> dict[int, bytes]:
    out: dict[int, bytes] = {1: b"", 2: b"", 3: b""}
    async with aiohttp.ClientSession() as s, s.ws_connect(url, ssl=ctx,
                                                          protocols=[protocol]) as ws:
        assert ws.protocol == protocol
        if stdin is not None:
            await ws.send_bytes(b"\x00" + stdin)
            await ws.send_bytes(b"\xff\x00")  # v5: close stdin
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.BINARY and msg.data:
                out[msg.data[0]] = out.get(msg.data[0], b"") + msg.data[1:]
    return out


def test_exec_over_websocket_streams_and_reports_the_exit_code(apiserver, core, node,
                                                               ns) -> None:
    core.create_namespaced_pod(ns, make_pod("box", [
        {"name": "c", "image": "busybox", "command": [BUSYBOX, "sleep", "3600"],
         "env": [{"name": "WHO", "value": "pod"}]}]))
    wait_for(lambda: _running(core, ns, "box"), what="Running")
    base = f"wss://127.0.0.1:{node.port}/exec/{ns}/box/c"
    ctx = _ssl(apiserver)
    query = urlencode([("stdout", "1"), ("stderr", "1"), ("command", "sh"), ("command", "-c"),
                       ("command", "echo out $WHO; echo err >&2; exit 3")])
    out = asyncio.run(_exec(f"{base}?{query}", ctx))
    assert out[1] == b"out pod\n" and out[2] == b"err\n"
    status = orjson.loads(out[3])
    assert status["status"] == "Failure" and status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]
    echoed = asyncio.run(_exec(f"{base}?stdin=1&stdout=1&stderr=1&command=cat", ctx,
                               stdin=b"hello\n"))
    assert echoed[1] == b"hello\n" and orjson.loads(echoed[3])["status"] == "Success"
    v4 = asyncio.run(_exec(f"{base}?stdout=1&command=true", ctx, protocol="v4.channel.k8s.io"))
    assert orjson.loads(v4[3])["status"] == "Success"


def _proxy_ready(apiserver, ns: str) -> bool:
    if not KUBECTL:
        return False
    probe = subprocess.run([KUBECTL, "--kubeconfig", str(apiserver.kubeconfig), "-n", ns,
                            "logs", "box",
                            "-c", "c"], capture_output=True, text=True, timeout=20)
    return probe.returncode == 0


def test_kubectl_logs_and_exec_through_the_api_server(apiserver, core, node, ns) -> None:
    core.create_namespaced_pod(ns, make_pod("box", [
        {"name": "c", "image": "busybox",
         "command": ["sh", "-c", "echo hello from box; sleep 3600"]}]))
    wait_for(lambda: _running(core, ns, "box"), what="Running")
    if not _proxy_ready(apiserver, ns):
        pytest.skip("the API server does not proxy pods/log to kubelets yet")
    kubectl = [KUBECTL, "--kubeconfig", str(apiserver.kubeconfig), "-n", ns]
    logs = subprocess.run([*kubectl, "logs", "box"], capture_output=True, text=True, timeout=20)
    assert logs.stdout == "hello from box\n"
    done = subprocess.run([*kubectl, "exec", "box", "--", "sh", "-c", "echo $HOSTNAME; exit 4"],
                          capture_output=True, text=True, timeout=20)
    assert done.stdout == "box\n" and done.returncode == 4
    follow = subprocess.Popen([*kubectl, "logs", "-f", "box"], stdout=subprocess.PIPE, text=True)
    try:
        assert follow.stdout is not None
        assert follow.stdout.readline() == "hello from box\n"
    finally:
        follow.kill()
        follow.wait()
