"""A real `kyb kubelet` process against the real API server, and helpers to watch pods.

Every kubelet here runs with short timings (lease 1 s, back-off from 1 s, sync
1 s) and `--teardown-on-exit`; after the test, whatever a crashed or killed
kubelet left (processes, netns, veths, bridge, NAT rule, cgroups) is purged.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import random
import secrets
import subprocess
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from kybernetes.kubelet.purge import purge
from tests.support import poll
from tests.support.apiserver import ApiServer, started
from tests.support.net import free_port, wait_http_ok
from tests.support.procs import Proc

IS_ROOT = os.geteuid() == 0


def wait_for(check: Callable[[], Any], *, timeout: float = 15.0, interval: float = 0.1,
             what: str = "condition") -> Any:
    """The shared poller with these tests' patience (15 s); an API error means "not yet"."""
    return poll.wait_for(check, within=timeout, interval=interval, what=what,
                         retry_on=(k8s.ApiException,))


def free_pod_cidr() -> str:
    """A /24 in 10.240.0.0/12 that no route on this host uses yet."""
    routes = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True).stdout
    for _ in range(100):
        net = ipaddress.ip_network(f"10.{random.randint(240, 254)}.{random.randint(0, 255)}.0/24")
        if str(net.network_address)[:-1] not in routes:
            return str(net)
    raise RuntimeError("no free pod CIDR")


class KubeletProcess:
    """One kubelet, started and stopped by the test."""

    def __init__(self, server: ApiServer, root: Path, *, name: str, runtime: str,
                 args: tuple[str, ...] = (), kubeconfig: Path | None = None) -> None:
        self.server = server
        self.kubeconfig = kubeconfig or server.kubeconfig  # the admin's unless given
        self.root = root
        self.name = name
        self.runtime = runtime
        self.args = args
        self.port = free_port()
        self.proc: Proc | None = None

    def start(self) -> KubeletProcess:
        self.proc = Proc.kyb(
            "kubelet", "--kubeconfig", str(self.kubeconfig), "--node-name", self.name,
            "--runtime", self.runtime, "--root-dir", str(self.root), "--port", str(self.port),
            "--address", "127.0.0.1", "--node-ip", "127.0.0.1", "--lease-seconds", "1",
            "--backoff-base", "1", "--backoff-max", "8", "--sync-seconds", "1",
            "--teardown-on-exit", *self.args,
            log_path=self.root.parent / f"kubelet-{self.name}.log").start()
        return self

    def wait_serving(self, timeout: float = 30.0) -> KubeletProcess:
        """Until its HTTPS API answers /healthz (so it has started, and will tear down)."""
        assert self.proc is not None
        try:
            wait_http_ok(f"https://127.0.0.1:{self.port}/healthz", timeout=timeout,
                         is_alive=self.proc.alive)
        except (TimeoutError, RuntimeError):
            raise AssertionError(self.log_tail()) from None
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop(timeout=20)

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()

    def log_tail(self) -> str:
        return self.proc.log_tail(60) if self.proc else ""


@pytest.fixture
def core(apiserver: ApiServer) -> k8s.CoreV1Api:
    """The official Python client, on the API server's admin kubeconfig."""
    api_client = k8s_config.new_client_from_config(config_file=str(apiserver.kubeconfig))
    try:
        yield k8s.CoreV1Api(api_client)
    finally:
        api_client.close()


@pytest.fixture
def start_kubelet(apiserver: ApiServer, tmp_path: Path) -> Iterator[Callable[..., KubeletProcess]]:
    """`start_kubelet(runtime, *args, name=…)` -> a running kubelet, cleaned up after."""
    made: list[KubeletProcess] = []

    def start(runtime: str = "process", *args: str, name: str = "node-1") -> KubeletProcess:
        kubelet = KubeletProcess(apiserver, tmp_path / f"root-{name}", name=name,
                                 runtime=runtime, args=args).start()
        made.append(kubelet)
        return kubelet

    try:
        yield start
    finally:
        for kubelet in made:
            kubelet.stop()
        for kubelet in made:
            purge(kubelet.root, kubelet.name)


def node_ready(core: k8s.CoreV1Api, name: str) -> bool:
    try:
        node = core.read_node(name)
    except k8s.ApiException:
        return False
    return any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])


def make_pod(name: str, containers: list[dict[str, Any]], *, node: str = "node-1",
             **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": node, "containers": containers,
                     "terminationGracePeriodSeconds": 2, **spec}}


def container_status(pod: Any, name: str) -> Any:
    for s in (pod.status.container_statuses or []):
        if s.name == name:
            return s
    return None


def condition(pod: Any, ctype: str) -> str | None:
    for c in pod.status.conditions or []:
        if c.type == ctype:
            return c.status
    return None


@pytest.fixture(scope="module")
def module_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """One API server for a whole test module (tests isolate by namespace)."""
    with started(ApiServer(tmp_path_factory.mktemp("api"))) as server:
        yield server


@pytest.fixture(scope="module")
def module_core(module_api: ApiServer) -> Iterator[k8s.CoreV1Api]:
    api_client = k8s_config.new_client_from_config(config_file=str(module_api.kubeconfig))
    try:
        yield k8s.CoreV1Api(api_client)
    finally:
        api_client.close()


@contextlib.contextmanager
def shared_kubelet(api: ApiServer, core: k8s.CoreV1Api, root: Path, runtime: str,
                   *args: str, after_stop: Callable[[KubeletProcess], None] | None = None,
                   ) -> Generator[KubeletProcess, None, None]:
    """A kubelet for a whole module; stopped (teardown), checked by `after_stop`, purged."""
    kubelet = KubeletProcess(api, root / "root-node-1", name="node-1", runtime=runtime,
                             args=args).start()
    try:
        try:
            wait_for(lambda: node_ready(core, "node-1"), timeout=30, what="node Ready")
        except AssertionError:
            raise AssertionError(kubelet.log_tail()) from None
        yield kubelet
    finally:
        kubelet.stop()
        try:
            if after_stop is not None:
                after_stop(kubelet)
        finally:
            purge(kubelet.root, kubelet.name)


@pytest.fixture
def ns(module_core: k8s.CoreV1Api) -> Iterator[str]:
    """A fresh namespace for one test; its pods are force-deleted after."""
    name = f"t-{secrets.token_hex(4)}"
    module_core.create_namespace({"metadata": {"name": name}})
    try:
        yield name
    finally:
        with contextlib.suppress(k8s.ApiException):
            for pod in module_core.list_namespaced_pod(name).items:
                module_core.delete_namespaced_pod(pod.metadata.name, name,
                                                  grace_period_seconds=0)


def process_kubelet(api: ApiServer, core: k8s.CoreV1Api,
                    tmp_path_factory: pytest.TempPathFactory, *args: str,
                    ) -> contextlib.AbstractContextManager[KubeletProcess]:
    """`shared_kubelet` on the process runtime with a pod CIDR of its own (and `args`)."""
    return shared_kubelet(api, core, tmp_path_factory.mktemp("node"), "process",
                          "--pod-cidr", free_pod_cidr(), *args)


@pytest.fixture(scope="module")
def process_node(module_api: ApiServer, module_core: k8s.CoreV1Api,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One process-runtime kubelet (its own pod CIDR) for a whole test module."""
    with process_kubelet(module_api, module_core, tmp_path_factory) as kubelet:
        yield kubelet


def finished_log(node: Any, core: k8s.CoreV1Api, ns: str, name: str) -> str:
    """Container `c`'s log of a running pod once it has printed "done", else ""."""
    pod = core.read_namespaced_pod(name, ns)
    if pod.status.phase != "Running":
        return ""
    path = node.root / "pods" / pod.metadata.uid / "logs" / "c" / "0.log"
    text = path.read_text() if path.exists() else ""
    return text if "done" in text else ""
