"""Who may call a kubelet's HTTPS API directly: a real RBAC,Node API server and a real
kubelet running as its own node (system:node:node-a), as Kubernetes' kubelet with
--authentication-token-webhook and --authorization-mode=Webhook. Another node, or
a user without nodes/* rights, is refused with kube's 403; a user granted
nodes/proxy, or a ServiceAccount token granted nodes/log, gets in; the API
server's own proxying (`kubectl logs`/`exec`) still works."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import ssl
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import pytest
from kubernetes import client as k8s

from kybernetes.client import load_kubeconfig
from kybernetes.kubelet.purge import purge
from tests.integration.kubelet.conftest import (
    IS_ROOT,
    KubeletProcess,
    free_pod_cidr,
    make_pod,
    node_ready,
)
from tests.support.apiserver import ApiServer
from tests.support.poll import wait_for
from tests.support.users import user_kubeconfig

BUSYBOX = shutil.which("busybox") or "/bin/busybox"
KUBECTL = shutil.which("kubectl")
NODE = "node-a"


@pytest.fixture(scope="module")
def users(module_api: ApiServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("users")
    return {"node-a": user_kubeconfig(module_api, d, f"system:node:{NODE}", "system:nodes"),
            "node-b": user_kubeconfig(module_api, d, "system:node:node-b", "system:nodes"),
            "mallory": user_kubeconfig(module_api, d, "mallory"),
            "pat": user_kubeconfig(module_api, d, "pat")}


@pytest.fixture(scope="module")
def node(module_api: ApiServer, module_core: k8s.CoreV1Api, users: dict[str, Path],
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeletProcess]:
    """node-a's kubelet with its own identity; denials not cached, so grants show at once."""
    args = ["--authorization-webhook-cache-unauthorized-ttl", "0s"]
    if IS_ROOT:
        args += ["--pod-cidr", free_pod_cidr()]
    kubelet = KubeletProcess(module_api, tmp_path_factory.mktemp("kubelet") / "root",
                             name=NODE, runtime="process", args=tuple(args),
                             kubeconfig=users["node-a"]).start()
    try:
        try:
            wait_for(lambda: node_ready(module_core, NODE), within=30, what="node Ready")
        except AssertionError:
            raise AssertionError(kubelet.log_tail()) from None
        yield kubelet
    finally:
        kubelet.stop()
        purge(kubelet.root, kubelet.name)


@pytest.fixture
def pod(module_core: k8s.CoreV1Api, node: KubeletProcess, ns: str) -> str:
    module_core.create_namespaced_pod(ns, make_pod("box", [
        {"name": "c", "image": "busybox",
         "command": [BUSYBOX, "sh", "-c", "echo hello; exec sleep 3600"]}], node=NODE))
    wait_for(lambda: module_core.read_namespaced_pod("box", ns).status.phase == "Running",
             within=30, what="Running")
    return ns


def _ssl(kubeconfig: Path | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if kubeconfig is not None:
        config = load_kubeconfig(kubeconfig)
        with tempfile.TemporaryDirectory() as d:
            cert, key = Path(d) / "c.pem", Path(d) / "k.pem"
            cert.write_bytes(config.cert_pem or b"")
            key.write_bytes(config.key_pem or b"")
            ctx.load_cert_chain(cert, key)
    return ctx


def _get(node: KubeletProcess, path: str, kubeconfig: Path | None = None, *,
         token: str | None = None) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def go() -> tuple[int, str]:
        async with aiohttp.ClientSession() as s, s.get(
                f"https://127.0.0.1:{node.port}{path}", ssl=_ssl(kubeconfig),
                headers=headers) as r:
            return r.status, await r.text()
    return asyncio.run(go())


def _exec(node: KubeletProcess, ns: str, kubeconfig: Path) -> bytes:
    """stdout of `echo hi` run in box over the exec WebSocket; HTTP errors raise."""
    query = urlencode([("stdout", "1"), ("command", "echo"), ("command", "hi")])

    async def go() -> bytes:
        out = b""
        async with aiohttp.ClientSession() as s, s.ws_connect(
                f"wss://127.0.0.1:{node.port}/exec/{ns}/box/c?{query}",
                ssl=_ssl(kubeconfig), protocols=["v5.channel.k8s.io"]) as ws:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.BINARY and msg.data[:1] == b"\x01":
                    out += msg.data[1:]
        return out
    return asyncio.run(go())


def _forbidden(user: str, verb: str, *subresources: str) -> tuple[int, str]:
    return 403, (f"Forbidden (user={user}, verb={verb}, resource=nodes, "
                 f"subresource(s)=[{' '.join(subresources)}])\n")


def _grant(module_core: k8s.CoreV1Api, name: str, subresource: str, subject: dict) -> None:
    rbac = k8s.RbacAuthorizationV1Api(module_core.api_client)
    with contextlib.suppress(k8s.ApiException):  # shared by tests of one module
        rbac.create_cluster_role({"metadata": {"name": f"nodes-{subresource}"}, "rules": [
            {"apiGroups": [""], "resources": [f"nodes/{subresource}"],
             "verbs": ["get", "create"]}]})
    rbac.create_cluster_role_binding({
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": f"nodes-{subresource}"},
        "subjects": [subject]})


def test_healthz_is_open_and_the_rest_needs_credentials(node: KubeletProcess) -> None:
    assert _get(node, "/healthz") == (200, "ok")
    assert _get(node, "/pods") == (401, "Unauthorized")
    assert _get(node, "/pods", token="not-a-token") == (401, "Unauthorized")


def test_another_node_or_an_unbound_user_is_forbidden(node: KubeletProcess, pod: str,
                                                      users: dict[str, Path]) -> None:
    assert _get(node, "/pods", users["node-b"]) == _forbidden(
        "system:node:node-b", "get", "pods", "proxy")
    assert _get(node, f"/containerLogs/{pod}/box/c", users["node-b"]) == _forbidden(
        "system:node:node-b", "get", "proxy")
    assert _get(node, f"/containerLogs/{pod}/box/c", users["mallory"]) == _forbidden(
        "mallory", "get", "proxy")
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        _exec(node, pod, users["mallory"])
    assert refused.value.status == 403
    # a node may not even read its own kubelet's API without a grant
    assert _get(node, "/pods", users["node-a"])[0] == 403


def test_a_user_granted_nodes_proxy_may(node: KubeletProcess, pod: str,
                                        module_core: k8s.CoreV1Api,
                                        users: dict[str, Path]) -> None:
    assert _get(node, "/pods", users["pat"]) == _forbidden("pat", "get", "pods", "proxy")
    _grant(module_core, "pat-proxies", "proxy",
           {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "pat"})
    _, body = wait_for(lambda: (got := _get(node, "/pods", users["pat"]))[0] == 200
                       and got, within=15, what="pat allowed")
    assert '"kind":"PodList"' in body.replace(" ", "")
    assert _get(node, f"/containerLogs/{pod}/box/c", users["pat"]) == (200, "hello\n")
    assert _exec(node, pod, users["pat"]) == b"hi\n"


def test_a_service_account_token_granted_nodes_log(node: KubeletProcess, pod: str,
                                                   module_core: k8s.CoreV1Api) -> None:
    module_core.create_namespaced_service_account(pod, {"metadata": {"name": "reader"}})
    token = module_core.create_namespaced_service_account_token(
        "reader", pod, {"spec": {}}).status.token
    user = f"system:serviceaccount:{pod}:reader"
    assert _get(node, "/logs/", token=token) == _forbidden(user, "get", "log")
    _grant(module_core, f"{pod}-reader-logs", "log",
           {"kind": "ServiceAccount", "name": "reader", "namespace": pod})
    # authorized: this kubelet serves no node logs, so the answer is a 404, not a 403
    wait_for(lambda: _get(node, "/logs/", token=token)[0] == 404, within=15,
             what="nodes/log allowed")
    # container logs are nodes/proxy, as in Kubernetes
    assert _get(node, f"/containerLogs/{pod}/box/c", token=token) == _forbidden(
        user, "get", "proxy")
    _grant(module_core, f"{pod}-reader-proxy", "proxy",
           {"kind": "ServiceAccount", "name": "reader", "namespace": pod})
    wait_for(lambda: _get(node, f"/containerLogs/{pod}/box/c", token=token)
             == (200, "hello\n"), within=15, what="nodes/proxy allowed")


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")
def test_kubectl_logs_and_exec_through_the_api_server(module_api: ApiServer, node: KubeletProcess,
                                                      pod: str) -> None:
    assert KUBECTL is not None
    kubectl = [KUBECTL, "--kubeconfig", str(module_api.kubeconfig), "-n", pod]
    logs = subprocess.run([*kubectl, "logs", "box"], capture_output=True, text=True,
                          timeout=30)
    assert (logs.returncode, logs.stdout) == (0, "hello\n"), logs.stderr
    done = subprocess.run([*kubectl, "exec", "box", "--", "sh", "-c", "echo in; exit 3"],
                          capture_output=True, text=True, timeout=30)
    assert (done.stdout, done.returncode) == ("in\n", 3), done.stderr
