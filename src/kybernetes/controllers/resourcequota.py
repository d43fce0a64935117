"""The resource quota controller: every ResourceQuota's status is the truth.

For a quota `ns/name`, status.hard mirrors spec.hard and status.used is recounted from
the objects in the namespace (`api/quota.py` gives each object's usage and whether the
quota's scopes select it: the same functions the admission plugin charges with). A
quota is synced when it changes, when an object it may count is deleted or frees usage (pods,
services, configmaps, secrets, replication controllers, resource quotas: from shared
informers), and every `resync_period` (kube's --resource-quota-sync-period, 5m), which
also gives back what admission charged for writes that then failed. As kube's
replenishment controller, it recounts on deletes and on updates that free usage, not on
creates: admission charges those, and a recount from a lagging informer would undo it.
`count/<r>.<group>` of other built-in resources is counted by listing them at sync.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from fractions import Fraction

from kybernetes.api import errors, quota
from kybernetes.api import resources as r
from kybernetes.api.meta import split_key
from kybernetes.client import ApiClient, InformerFactory
from kybernetes.controllers.base import Controller, Obj, deep_copy, meta

log = logging.getLogger("kybernetes.controllers.resourcequota")

# The resources counted from informers; any other `count/…` is listed at sync.
WATCHED = (r.PODS, r.SERVICES, r.CONFIGMAPS, r.SECRETS, r.REPLICATION_CONTROLLERS,
           r.RESOURCE_QUOTAS)


def _resource_of(name: str) -> r.Resource | None:
    """The resource a `count/<plural>[.<group>]` name counts."""
    plural, _, group = name.removeprefix("count/").partition(".")
    return r.by_plural(group, plural)


def needed(hard: dict[str, Fraction]) -> set[r.Resource]:
    """The resources whose objects can count against these hard limits."""
    out = set()
    for resource in (*WATCHED, r.ENDPOINTS, r.SERVICE_ACCOUNTS, r.EVENTS, r.LIMIT_RANGES,
                     r.DEPLOYMENTS, r.REPLICA_SETS, r.ENDPOINT_SLICES):
        if quota.matching_resources(hard, resource.group, resource.plural):
            out.add(resource)
    for name in hard:
        counted = _resource_of(name) if name.startswith("count/") else None
        if counted is not None and counted.namespaced:
            out.add(counted)
    return out


def compute_used(q: Obj, objects: dict[r.Resource, list[Obj]]) -> dict[str, str]:
    """status.used for one quota: every hard name, summed over the objects it selects."""
    hard = quota.parse_list((q.get("spec") or {}).get("hard"))
    used: dict[str, Fraction] = dict.fromkeys(hard, Fraction(0))
    for resource, items in objects.items():
        names = quota.matching_resources(hard, resource.group, resource.plural)
        if not names:
            continue
        for obj in items:
            if not quota.quota_matches(q, resource.group, resource.plural, obj):
                continue
            usage = quota.usage(resource.group, resource.plural, obj)
            for name in names:
                used[name] += usage.get(name, Fraction(0))
    return quota.format_list(used)


class ResourceQuotaController(Controller):
    """Keeps status.hard and status.used of every ResourceQuota."""

    name = "resourcequota"
    component = "resourcequota-controller"
    default_workers = 5  # kube's --concurrent-resource-quota-syncs

    def __init__(self, client: ApiClient, informers: InformerFactory, *,
                 resync_period: float = 300.0) -> None:
        super().__init__(client, informers)
        self.resync_period = resync_period
        self.quotas = informers.get(r.RESOURCE_QUOTAS)
        self.watched = {res: informers.get(res) for res in WATCHED}
        # Only a spec change drives a sync: admission's charges to status are not undone
        # by a recount from informers that have not seen the charged object yet.
        self.quotas.add_handler(on_add=self.enqueue, on_update=lambda o, n: None if (
            o.get("spec") == n.get("spec")) else self.enqueue(n))
        for res, informer in self.watched.items():
            if res is r.RESOURCE_QUOTAS:
                continue
            informer.add_handler(on_update=self._replenisher(res), on_delete=self._changed)

    def _replenisher(self, resource: r.Resource) -> Callable[[Obj, Obj], None]:
        return lambda old, new: self._updated(resource, old, new)

    def _updated(self, resource: r.Resource, old: Obj, new: Obj) -> None:
        """An update that frees usage (a pod that finished) replenishes; growth is
        admission's to charge, as kube's replenishment controller does."""
        before = quota.usage(resource.group, resource.plural, old)
        after = quota.usage(resource.group, resource.plural, new)
        if any(after.get(k, Fraction(0)) < v for k, v in before.items()):
            self._changed(new)

    def _changed(self, obj: Obj) -> None:
        """Replenish: recount every quota of the object's namespace."""
        for q in self.quotas.list(meta(obj).get("namespace") or ""):
            self.enqueue(q)

    async def run(self, workers: int | None = None) -> None:
        resync = asyncio.create_task(self._resync())
        try:
            await super().run(workers)
        finally:
            resync.cancel()

    async def _resync(self) -> None:
        """The full resync: every quota, every period."""
        while True:
            await asyncio.sleep(self.resync_period)
            for q in self.quotas.list():
                self.enqueue(q)

    async def _objects(self, namespace: str, resources: set[r.Resource]
                       ) -> dict[r.Resource, list[Obj]]:
        out = {}
        for resource in resources:
            informer = self.watched.get(resource)
            if informer is not None:
                out[resource] = informer.list(namespace)
            else:
                out[resource] = (await self.client.list(resource, namespace=namespace))["items"]
        return out

    async def sync(self, key: str) -> None:
        namespace, _ = split_key(key)
        q = self.quotas.get(key)
        if q is None:
            return
        spec_hard = dict((q.get("spec") or {}).get("hard") or {})
        objects = await self._objects(namespace or "",
                                      needed(quota.parse_list(spec_hard)))
        used = compute_used(q, objects)
        status = q.get("status") or {}
        if status.get("hard") == spec_hard and status.get("used") == used:
            return
        body = deep_copy(q)
        body["status"] = {"hard": spec_hard, "used": used}
        try:
            await self.client.update_status(r.RESOURCE_QUOTAS, body)
        except errors.NotFound:
            return
