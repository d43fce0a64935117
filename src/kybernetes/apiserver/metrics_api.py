"""metrics.k8s.io/v1beta1 NodeMetrics and PodMetrics, served by the API server itself.

In Kubernetes these come from metrics-server behind an APIService (aggregation);
here the API server does its work: it asks every Node's kubelet for
``/stats/summary`` (concurrently, each with a short timeout, presenting its
kubelet client certificate), keeps the answers for :data:`RESOLUTION` seconds
(metrics-server's default resolution) and answers with the usage in kube's
quantity formats (CPU in ``n`` or ``m``, memory in ``Ki``). A node whose
kubelet does not answer is left out, as metrics-server leaves it out.
Read-only: get and list (label and field selectors); no watch.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from kybernetes.api import resources as r
from kybernetes.api.errors import ApiError, MethodNotAllowed, NotFound
from kybernetes.api.fields import METADATA_FIELDS, parse_field_selector
from kybernetes.api.labels import parse_selector
from kybernetes.api.quantity import format_quantity
from kybernetes.apiserver.kubelet_proxy import KubeletProxy, node_url
from kybernetes.apiserver.lists import ListQuery, list_objects
from kybernetes.apiserver.registry import Registry
from kybernetes.apiserver.responses import json_response
from kybernetes.apiserver.watch_cache import WatchCache
from kybernetes.storage.interface import Store

log = logging.getLogger("kybernetes.apiserver.metrics")

PREFIX = "/apis/metrics.k8s.io/v1beta1"
API_VERSION = "metrics.k8s.io/v1beta1"
RESOLUTION = 15.0
KUBELET_TIMEOUT = 5.0
WINDOW = "10s"  # the kubelet's sampling period (its usageNanoCores covers about that)

Summary = dict[str, Any]


def cpu_quantity(nano_cores: int) -> str:
    """CPU as metrics-server writes it: `1234567n`, `15m`, `2`."""
    return format_quantity(Fraction(max(nano_cores, 0), 10**9))


def memory_quantity(num_bytes: int) -> str:
    """Memory as metrics-server writes it (BinarySI): `12345Ki`, `64Mi`."""
    return format_quantity(max(num_bytes, 0), binary=True)


def usage(stats: dict[str, Any]) -> dict[str, str] | None:
    """{cpu, memory} of one summary entry; None when a figure is missing."""
    cpu = (stats.get("cpu") or {}).get("usageNanoCores")
    memory = (stats.get("memory") or {}).get("workingSetBytes")
    if cpu is None or memory is None:
        return None
    return {"cpu": cpu_quantity(int(cpu)), "memory": memory_quantity(int(memory))}


def _meta(obj: dict[str, Any], now: str) -> dict[str, Any]:
    source = obj.get("metadata") or {}
    meta: dict[str, Any] = {"name": source.get("name", "")}
    if source.get("namespace"):
        meta["namespace"] = source["namespace"]
    meta["creationTimestamp"] = now
    if source.get("labels"):
        meta["labels"] = dict(source["labels"])
    return meta


def node_metrics(node: dict[str, Any], summary: Summary, now: str) -> dict[str, Any] | None:
    stats = summary.get("node") or {}
    found = usage(stats)
    if found is None:
        return None
    return {"kind": "NodeMetrics", "apiVersion": API_VERSION, "metadata": _meta(node, now),
            "timestamp": (stats.get("cpu") or {}).get("time", now), "window": WINDOW,
            "usage": found}


def pod_metrics(pod: dict[str, Any], stats: dict[str, Any], now: str) -> dict[str, Any] | None:
    containers = []
    for c in stats.get("containers") or []:
        found = usage(c)
        if found is None:
            return None  # metrics-server drops a pod with a container it cannot measure
        containers.append({"name": c.get("name", ""), "usage": found})
    return {"kind": "PodMetrics", "apiVersion": API_VERSION, "metadata": _meta(pod, now),
            "timestamp": (stats.get("cpu") or {}).get("time", now), "window": WINDOW,
            "containers": containers}


def pods_by_uid(summaries: Iterable[Summary]) -> dict[str, dict[str, Any]]:
    """Every pod entry of the summaries, by pod UID."""
    return {(p.get("podRef") or {}).get("uid", ""): p
            for s in summaries for p in s.get("pods") or []}


@dataclass
class _Scrape:
    at: float
    summaries: dict[str, Summary]


class KubeletScraper:
    """Fetches and caches every node's /stats/summary (one scrape at a time)."""

    def __init__(self, proxy: KubeletProxy) -> None:
        self.proxy = proxy
        self._last: _Scrape | None = None
        self._lock = asyncio.Lock()

    async def summaries(self, nodes: list[dict[str, Any]]) -> dict[str, Summary]:
        async with self._lock:
            now = time.monotonic()
            if self._last is None or now - self._last.at >= RESOLUTION:
                self._last = _Scrape(now, await self._scrape(nodes))
            return self._last.summaries

    async def _scrape(self, nodes: list[dict[str, Any]]) -> dict[str, Summary]:
        timeout = aiohttp.ClientTimeout(total=KUBELET_TIMEOUT)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            answers = await asyncio.gather(*(self._one(session, n) for n in nodes))
        return {n["metadata"]["name"]: a for n, a in zip(nodes, answers, strict=True) if a}

    async def _one(self, session: aiohttp.ClientSession, node: dict[str, Any]) -> Summary | None:
        name = node["metadata"]["name"]
        try:
            url = node_url(node) + "/stats/summary"
            async with session.get(url, ssl=self.proxy.ssl_context()) as response:
                if response.status != 200:
                    log.info("kubelet summary refused", extra={
                        "node": name, "status": response.status})
                    return None
                found: Summary = orjson.loads(await response.read())
                return found
        except (ApiError, aiohttp.ClientError, TimeoutError, orjson.JSONDecodeError) as e:
            log.info("kubelet summary failed", extra={"node": name, "error": str(e)})
            return None


class MetricsApi:
    """The routes of metrics.k8s.io/v1beta1 (authorized by the API server's guard first)."""

    def __init__(self, registry: Registry, store: Store, cache: WatchCache,
                 proxy: KubeletProxy) -> None:
        self.registry = registry
        self.store = store
        self.cache = cache
        self.scraper = KubeletScraper(proxy)

    def routes(self) -> list[web.RouteDef]:
        return [web.get(f"{PREFIX}/nodes", self.nodes),
                web.get(f"{PREFIX}/nodes/{{name}}", self.nodes),
                web.get(f"{PREFIX}/pods", self.pods),
                web.get(f"{PREFIX}/namespaces/{{namespace}}/pods", self.pods),
                web.get(f"{PREFIX}/namespaces/{{namespace}}/pods/{{name}}", self.pods)]

    async def _list(self, resource: r.Resource, request: web.Request,
                    namespace: str | None) -> list[dict[str, Any]]:
        kind = self.registry.kinds.of(resource)
        q = request.query
        if q.get("watch", "").lower() in ("1", "true"):
            raise MethodNotAllowed("watch is not supported on metrics.k8s.io resources")
        name = request.match_info.get("name")
        if name is not None:
            return [await self.registry.get(kind, namespace, name)]
        query = ListQuery(namespace=namespace, labels=parse_selector(q.get("labelSelector")),
                          fields=parse_field_selector(q.get("fieldSelector"), METADATA_FIELDS))
        page = await list_objects(self.store, self.cache, kind, query)
        return [e.obj for e in page.items]

    async def nodes(self, request: web.Request) -> web.Response:
        wanted = await self._list(r.NODES, request, None)
        every = wanted if "name" not in request.match_info else await self._all_nodes()
        summaries = await self.scraper.summaries(every)
        now = _now()
        items = [m for n in wanted if (s := summaries.get(n["metadata"]["name"])) is not None
                 and (m := node_metrics(n, s, now)) is not None]
        return self._answer(request, "NodeMetrics", "nodemetrics", items)

    async def pods(self, request: web.Request) -> web.Response:
        namespace = request.match_info.get("namespace")
        wanted = await self._list(r.PODS, request, namespace)
        summaries = await self.scraper.summaries(await self._all_nodes())
        stats = pods_by_uid(summaries.values())
        now = _now()
        items = [m for p in wanted if (s := stats.get(p["metadata"].get("uid", ""))) is not None
                 and (m := pod_metrics(p, s, now)) is not None]
        return self._answer(request, "PodMetrics", "podmetrics", items)

    async def _all_nodes(self) -> list[dict[str, Any]]:
        page = await list_objects(self.store, self.cache, self.registry.kinds.of(r.NODES),
                                  ListQuery())
        return [e.obj for e in page.items]

    def _answer(self, request: web.Request, kind: str, plural: str,
                items: list[dict[str, Any]]) -> web.Response:
        name = request.match_info.get("name")
        if name is None:
            return json_response({"kind": f"{kind}List", "apiVersion": API_VERSION,
                                  "metadata": {}, "items": items})
        if not items:  # the object exists but its kubelet has no figures (yet)
            namespace = request.match_info.get("namespace")
            shown = f"{namespace}/{name}" if namespace else name
            raise NotFound(f'{plural}.metrics.k8s.io "{shown}" not found',
                           details={"name": shown, "group": "metrics.k8s.io", "kind": plural})
        return json_response(items[0])


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
