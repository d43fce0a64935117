"""The `kubernetes` Service's endpoints: one lease per live API server.

Kubernetes' lease endpoint reconciler (``--endpoint-reconciler-type=lease``, its
default): every API server keeps a key ``/masterleases/<address>`` alive in the
store, renewing it every ``INTERVAL`` seconds for ``TTL`` seconds, and writes
the ``kubernetes`` Endpoints (and its EndpointSlice) as the addresses whose
leases are live. So every live API server is listed, one that died drops out
once its lease runs out, and one that stops cleanly removes its lease at once.

Our stores have no TTL keys (SQLite has none; etcd's leases are not behind the
Store protocol), so a lease holds its expiry time and expired leases are deleted
by whichever server sees them (compare-and-swap on the revision it read, so a
renewal in between wins). The expiry is wall-clock time: servers on different
machines need synchronised clocks, as they do for certificates and tokens.

The key is ``<address>:<port>``, not the address alone as in Kubernetes, so that
several servers on one machine (different ports) each have one; the Endpoints
group addresses by port, as Kubernetes' RepackSubsets does.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import Callable
from typing import Any

import orjson

from kybernetes.api import resources as r
from kybernetes.api.errors import NotFound
from kybernetes.apiserver import bootstrap
from kybernetes.apiserver.registry import Registry
from kybernetes.storage.errors import StorageError
from kybernetes.storage.interface import KeyValue, Store
from kybernetes.tasks import cancel_and_wait, spawn

log = logging.getLogger("kybernetes.apiserver.endpoint_leases")

PREFIX = "/masterleases/"
TTL = 15.0  # kube: DefaultEndpointReconcilerTTL
INTERVAL = 10.0  # kube: DefaultEndpointReconcilerInterval
SKIP_MIRROR = {"endpointslice.kubernetes.io/skip-mirror": "true"}

Member = tuple[str, int]  # (address, port)


def subsets(members: list[Member]) -> list[dict[str, Any]]:
    """The Endpoints subsets of `members`: one per port, addresses in kube's order
    (SortSubsets compares the address strings)."""
    by_port: dict[int, list[str]] = {}
    for address, port in sorted(set(members), key=lambda m: (m[1], m[0])):
        by_port.setdefault(port, []).append(address)
    return [{"addresses": [{"ip": a} for a in addresses],
             "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}
            for port, addresses in sorted(by_port.items())]


def slice_fields(endpoint_subsets: list[dict[str, Any]]) -> dict[str, Any]:
    """The EndpointSlice's fields as kube's EndpointsAdapter derives them from the
    Endpoints (endpointSliceFromEndpoints): the first subset only."""
    first = endpoint_subsets[0] if endpoint_subsets else {"addresses": [], "ports": []}
    addresses = [a["ip"] for a in first["addresses"]]
    family = "IPv6" if addresses and ":" in addresses[0] else "IPv4"
    return {"addressType": family,
            "endpoints": [{"addresses": [a], "conditions": {"ready": True}}
                          for a in addresses],
            "ports": copy.deepcopy(first["ports"])}


class EndpointLeases:
    """This server's lease, and the `kubernetes` Endpoints from everyone's."""

    def __init__(self, registry: Registry, store: Store, *, address: str, port: int,
                 ttl: float = TTL, interval: float = INTERVAL) -> None:
        self.registry = registry
        self.store = store
        self.me: Member = (address, port)
        self.key = f"{PREFIX}{address}:{port}"
        self.ttl = ttl
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.reconcile()
        self._task = spawn(self._loop(), name="endpoint-leases")

    async def aclose(self) -> None:
        """Stop renewing; take our lease out and the Endpoints with it (best effort:
        otherwise it runs out)."""
        await cancel_and_wait(self._task)
        try:
            async with asyncio.timeout(5):
                _, kv = await self.store.get(self.key)
                if kv is not None:
                    await self.store.delete(self.key, mod_revision=kv.mod_revision)
                await self._write_endpoints(await self._live(renew=False))
        except (TimeoutError, StorageError, NotFound) as e:
            log.info("lease not removed; it expires", extra={"error": repr(e)})

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.reconcile()
            except asyncio.CancelledError:
                raise
            except Exception:  # the next pass tries again; the lease outlives one miss
                log.warning("endpoint lease reconcile failed", exc_info=True)

    async def reconcile(self) -> None:
        """Renew our lease, drop expired ones, write the Endpoints of the live ones."""
        await self._renew()
        await self._write_endpoints(await self._live(renew=True))

    async def _renew(self) -> None:
        value = orjson.dumps({"address": self.me[0], "port": self.me[1],
                              "expires": time.time() + self.ttl})
        _, kv = await self.store.get(self.key)
        result = (await self.store.update(self.key, value, mod_revision=kv.mod_revision)
                  if kv is not None else await self.store.create(self.key, value))
        if not result.succeeded:  # only we write our key: retry once on what is there
            if result.kv is None:
                await self.store.create(self.key, value)
            else:
                await self.store.update(self.key, value, mod_revision=result.kv.mod_revision)

    async def _live(self, *, renew: bool) -> list[Member]:
        """The members with a live lease (deleting the expired ones); with `renew`
        this server is always one of them, else never."""
        now = time.time()
        members: list[Member] = []
        for kv in (await self.store.list(PREFIX)).kvs:
            lease = _lease(kv)
            if lease is None or lease[:2] == self.me:
                continue
            if lease[2] > now:
                members.append((lease[0], lease[1]))
            else:
                await self.store.delete(kv.key, mod_revision=kv.mod_revision)
                log.info("API server lease expired", extra={"key": kv.key})
        if renew:
            members.append(self.me)
        return members

    async def _write_endpoints(self, members: list[Member]) -> None:
        wanted = subsets(members)

        def point(ep: dict[str, Any]) -> dict[str, Any]:
            ep["subsets"] = copy.deepcopy(wanted)
            ep["metadata"].setdefault("labels", {}).update(SKIP_MIRROR)
            return ep

        await self._upsert(r.ENDPOINTS, point, {
            "apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": "kubernetes", "namespace": "default",
                         "labels": dict(SKIP_MIRROR)},
            "subsets": wanted})
        fields = slice_fields(wanted)

        def point_slice(eps: dict[str, Any]) -> dict[str, Any]:
            eps.update(copy.deepcopy(fields))
            eps["metadata"].setdefault("labels", {})["kubernetes.io/service-name"] = (
                "kubernetes")
            return eps

        await self._upsert(r.ENDPOINT_SLICES, point_slice, {
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "kubernetes", "namespace": "default",
                         "labels": {"kubernetes.io/service-name": "kubernetes"}},
            **fields})

    async def _upsert(self, resource: r.Resource,
                      change: Callable[[dict[str, Any]], dict[str, Any]],
                      new: dict[str, Any]) -> None:
        """Update the object when `change` changes it (no write otherwise), or create it."""
        kind = self.registry.kinds.of(resource)
        try:
            await self.registry.guaranteed_update(kind, "default", "kubernetes", change)
        except NotFound:
            await bootstrap.ensure(self.registry, resource, new)


def _lease(kv: KeyValue) -> tuple[str, int, float] | None:
    try:
        lease = orjson.loads(kv.value)
        return str(lease["address"]), int(lease["port"]), float(lease["expires"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None
