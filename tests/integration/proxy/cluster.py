"""A real API server plus a real `kyb proxy` process, driven synchronously from tests."""

from __future__ import annotations

import asyncio
import time
import urllib.request
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from kybernetes.api.resources import ENDPOINT_SLICES, SERVICES
from kybernetes.client import ApiClient
from tests.support.apiserver import ApiServer
from tests.support.net import free_port, wait_http_ok
from tests.support.procs import Proc

NS = "default"


class Api:
    """Blocking calls on the API server (one short-lived client per call)."""

    def __init__(self, server: ApiServer) -> None:
        self.server = server

    def _call(self, fn: Callable[[ApiClient], Awaitable[Any]]) -> Any:
        async def run() -> Any:
            client = ApiClient.from_kubeconfig(self.server.kubeconfig)
            try:
                return await fn(client)
            finally:
                await client.aclose()

        return asyncio.run(run())

    def service(self, name: str, ports: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
        body = {"metadata": {"name": name}, "spec": {"ports": ports, **spec}}
        return self._call(lambda c: c.create(SERVICES, body, namespace=NS))

    def patch_service(self, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        return self._call(lambda c: c.patch(SERVICES, name, {"spec": spec}, namespace=NS))

    def set_ingress(self, name: str, ips: list[str]) -> dict[str, Any]:
        """Write status.loadBalancer.ingress as the service-lb-controller would."""
        body = {"status": {"loadBalancer": {"ingress": [{"ip": ip} for ip in ips]}}}
        return self._call(lambda c: c.patch(SERVICES, name, body, namespace=NS,
                                            subresource="status"))

    def delete_service(self, name: str) -> None:
        self._call(lambda c: c.delete(SERVICES, name, namespace=NS))

    def endpoints(self, name: str, subsets: list[dict[str, Any]]) -> None:
        """Make Service `name`'s EndpointSlices say `subsets`, as the endpointslice
        controller would: one slice per subset (so several slices per Service),
        `addresses` ready, `notReadyAddresses` not; slices left over are deleted."""
        self.slices(name, [({"ready": True, "serving": True, "terminating": False},
                            s["addresses"], s["ports"])
                           if "addresses" in s else
                           ({"ready": False, "serving": False, "terminating": False},
                            s["notReadyAddresses"], s["ports"]) for s in subsets])

    def slices(self, name: str, groups: list[tuple[dict[str, bool], list[dict[str, Any]],
                                                   list[dict[str, Any]]]]) -> None:
        """One EndpointSlice per (conditions, addresses, ports) group of Service `name`."""
        bodies: list[dict[str, Any]] = [
            {"metadata": {"name": f"{name}-{i}", "namespace": NS,
                          "labels": {"kubernetes.io/service-name": name}},
             "addressType": "IPv4", "ports": ports,
             "endpoints": [{"addresses": [a["ip"]], "conditions": conditions,
                            **({"nodeName": a["nodeName"]} if "nodeName" in a else {})}
                           for a in addresses]}
            for i, (conditions, addresses, ports) in enumerate(groups)]

        async def put(c: ApiClient) -> None:
            selector = f"kubernetes.io/service-name={name}"
            current = {s["metadata"]["name"]: s for s in (await c.list(
                ENDPOINT_SLICES, namespace=NS, label_selector=selector))["items"]}
            for body in bodies:
                old = current.pop(body["metadata"]["name"], None)
                if old is None:
                    await c.create(ENDPOINT_SLICES, body, namespace=NS)
                else:
                    body["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
                    await c.update(ENDPOINT_SLICES, body)
            for gone in current:
                await c.delete(ENDPOINT_SLICES, gone, namespace=NS)

        self._call(put)


def subsets(ready: list[tuple[str, int]], not_ready: Sequence[tuple[str, int]] = (),
            *, port_name: str = "", protocol: str = "TCP") -> list[dict[str, Any]]:
    """One subset per (ip, port), so endpoints may differ in port."""
    out = []
    for addresses, key in ((ready, "addresses"), (not_ready, "notReadyAddresses")):
        for ip, port in addresses:
            out.append({key: [{"ip": ip}],
                        "ports": [{"name": port_name, "port": port, "protocol": protocol}]})
    return out


class ProxyProcess:
    """`kyb proxy` against `server`, with its own /healthz and /metrics ports."""

    def __init__(self, server: ApiServer, log_dir: Path, *, mode: str,
                 bind_address: str = "127.0.0.1", extra: tuple[str, ...] = (),
                 keep_rules: bool = False) -> None:
        """`keep_rules`: leave the iptables rules on stop (the default of `kyb proxy`);
        otherwise the test's proxy removes them (--cleanup-on-exit)."""
        self.healthz_port = free_port()
        self.metrics_port = free_port()
        self.bind_address = bind_address
        self.proc = Proc.kyb(
            "proxy", "--kubeconfig", str(server.kubeconfig), "--node-name", "node-1",
            "--mode", mode, "--bind-address", bind_address,
            "--healthz-port", str(self.healthz_port), "--metrics-port", str(self.metrics_port),
            *extra, *(() if keep_rules else ("--cleanup-on-exit",)),
            log_path=log_dir / f"proxy-{mode}.log")

    def start(self) -> ProxyProcess:
        self.proc.start()
        return self.wait_healthy()

    def wait_healthy(self) -> ProxyProcess:
        try:
            wait_http_ok(self.url("/healthz", self.healthz_port), timeout=20,
                         is_alive=self.proc.alive)
        except Exception:
            self.proc.stop()
            raise RuntimeError(f"kyb proxy did not become healthy:\n{self.proc.log_tail()}"
                               ) from None
        return self

    def url(self, path: str, port: int) -> str:
        host = "127.0.0.1" if self.bind_address == "0.0.0.0" else self.bind_address
        return f"http://{host}:{port}{path}"

    def metrics(self) -> str:
        with urllib.request.urlopen(self.url("/metrics", self.metrics_port), timeout=5) as r:
            return r.read().decode()

    def stop(self) -> int | None:
        return self.proc.stop()


def timed(fn: Callable[[], Any]) -> float:
    started = time.monotonic()
    fn()
    return time.monotonic() - started
