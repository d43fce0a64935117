"""Helpers for controller tests: run controllers in-test, poll, build objects."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, TypeVar

from kybernetes.api.meta import now_rfc3339
from kybernetes.api.resources import NODES, PODS
from kybernetes.client import ApiClient
from kybernetes.controllers.manager import ControllerManager, Options
from tests.support.background import in_background

T = TypeVar("T")


@contextlib.asynccontextmanager
async def running(client: ApiClient, *names: str,
                  options: Options | None = None) -> AsyncIterator[ControllerManager]:
    """Run the named controllers (shared informers) for the duration of the block."""
    manager = ControllerManager(client, list(names), options)
    task = asyncio.create_task(manager.run())
    try:
        async with asyncio.timeout(10):
            while not manager.running.is_set():
                if task.done():
                    task.result()
                await asyncio.sleep(0.01)
        yield manager
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def rc(name: str, replicas: int, labels: dict[str, str] | None = None,
       namespace: str = "default") -> dict[str, Any]:
    labels = labels or {"app": name}
    return {"apiVersion": "v1", "kind": "ReplicationController",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"replicas": replicas, "selector": labels,
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "c", "image": "busybox",
                                                           "ports": [{"name": "http",
                                                                      "containerPort": 8080}]}]}}}}


def pod(name: str, labels: dict[str, str], *, node: str | None = None,
        namespace: str = "default") -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "busybox",
                                            "ports": [{"name": "http",
                                                       "containerPort": 8080}]}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": labels}, "spec": spec}


async def pods_of(client: ApiClient, selector: str, namespace: str = "default",
                  *, active: bool = True) -> list[dict[str, Any]]:
    items = (await client.list(PODS, namespace=namespace, label_selector=selector))["items"]
    if active:
        items = [p for p in items if not p["metadata"].get("deletionTimestamp")]
    return items


async def set_pod_status(client: ApiClient, pod: dict[str, Any], *, ready: bool,
                         ip: str | None = None, phase: str = "Running") -> dict[str, Any]:
    """Act as a kubelet: write the pod's phase, IP and Ready condition."""
    now = now_rfc3339()
    fresh = await client.get(PODS, pod["metadata"]["name"], namespace=pod["metadata"]["namespace"])
    status = fresh.setdefault("status", {})
    status["phase"] = phase
    if ip:
        status["podIP"] = ip
        status["podIPs"] = [{"ip": ip}]
    status["conditions"] = [{"type": "Ready", "status": "True" if ready else "False",
                             "lastTransitionTime": now}]
    return await client.update_status(PODS, fresh)


async def create_node(client: ApiClient, name: str, *, ready: bool = True) -> dict[str, Any]:
    now = now_rfc3339()
    node = await client.create(NODES, {"apiVersion": "v1", "kind": "Node",
                                       "metadata": {"name": name}})
    node["status"] = {"conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                      "reason": "KubeletReady", "message": "ready",
                                      "lastHeartbeatTime": now, "lastTransitionTime": now}]}
    return await client.update_status(NODES, node)


@contextlib.asynccontextmanager
async def fake_kubelet(client: ApiClient, namespace: str) -> AsyncIterator[None]:
    """Mark every pod of `namespace` Running and Ready soon after it appears."""
    async def loop() -> None:
        n = 0
        while True:
            for p in (await client.list(PODS, namespace=namespace))["items"]:
                ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                            for c in (p.get("status") or {}).get("conditions") or ())
                if not ready and not p["metadata"].get("deletionTimestamp"):
                    n += 1
                    with contextlib.suppress(Exception):
                        await set_pod_status(client, p, ready=True,
                                             ip=f"10.3.{n // 250}.{n % 250 + 1}")
            await asyncio.sleep(0.05)
    async with in_background(loop()):
        yield
