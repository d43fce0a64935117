"""The ResourceQuota admission plugin (plugin/pkg/admission/resourcequota), on by default.

A create (or an update of a Service, which may add NodePorts) of an object some
ResourceQuota in its namespace covers is charged against every matching quota: the
plugin computes the object's usage (minus the old object's on update), refuses with
kube's 403 (`exceeded quota: …`, `failed quota: …: must specify …`, `status unknown for
quota: …`) and otherwise adds the charge to each quota's status.used with
compare-and-swap writes that re-check the limit against the stored usage, so two
concurrent creates can never both take the last unit. As in kube, a quota the
controller has not yet given a status.hard covers nothing, and whatever admission
over-charges (a write that later fails) the resource quota controller's recount gives
back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from fractions import Fraction
from typing import Any, Protocol

from kybernetes.api import quota
from kybernetes.api import resources as r
from kybernetes.apiserver.context import WriteContext
from kybernetes.apiserver.webhooks.attributes import CREATE, UPDATE, AdmissionAttributes

log = logging.getLogger("kybernetes.apiserver.quota")

NAME = "ResourceQuota"
Obj = dict[str, Any]
QuotaLister = Callable[[str], list[Obj]]
"""The ResourceQuotas of a namespace (the watch cache's view)."""
# Resources whose updates change usage (the evaluators that handle UPDATE).
_UPDATE_CHARGED = {("", "services"), ("", "persistentvolumeclaims")}


class QuotaWriter(Protocol):
    """Writes a quota's status with compare-and-swap (the registry's guaranteed update)."""

    async def charge(self, namespace: str, name: str,
                     change: Callable[[Obj], Obj]) -> None:
        """Apply `change` to the stored quota, re-reading and retrying on a conflict."""


def _status(q: Obj) -> Obj:
    s = q.get("status")
    return s if isinstance(s, dict) else {}


def _name(q: Obj) -> str:
    return str((q.get("metadata") or {}).get("name", ""))


def covering(quotas: list[Obj], attrs: AdmissionAttributes) -> list[tuple[Obj, list[str]]]:
    """The quotas that cover the object, with the resources of each it counts against;
    raises kube's 403 for a missing container request or a quota without usage yet."""
    out = []
    obj = attrs.object or {}
    for q in sorted(quotas, key=_name):
        hard = quota.parse_list(_status(q).get("hard"))
        required = quota.matching_resources(hard, attrs.group, attrs.resource)
        if not required or not quota.quota_matches(q, attrs.group, attrs.resource, obj):
            continue
        if (attrs.group, attrs.resource) == ("", "pods"):
            problem = quota.pod_constraints(required, obj)
            if problem:
                raise attrs.forbidden(f"failed quota: {_name(q)}: {problem}")
        used = _status(q).get("used") or {}
        if any(name not in used for name in required):
            raise attrs.forbidden(f"status unknown for quota: {_name(q)}, resources: "
                                   f"{','.join(sorted(required))}")
        out.append((q, required))
    return out


def delta(attrs: AdmissionAttributes) -> dict[str, Fraction]:
    """What this request adds: the object's usage, less the old object's on update."""
    new = quota.usage(attrs.group, attrs.resource, attrs.object or {})
    if attrs.operation == UPDATE and attrs.old_object is not None:
        new = quota.subtract_non_negative(
            new, quota.usage(attrs.group, attrs.resource, attrs.old_object))
    return {k: v for k, v in new.items() if v != 0}


def check(q: Obj, charge: dict[str, Fraction]) -> tuple[str | None, dict[str, Fraction]]:
    """(refusal, new used) for adding `charge` to one quota as it is now."""
    status = _status(q)
    hard = quota.parse_list(status.get("hard"))
    used = quota.parse_list(status.get("used"))
    requested = {k: v for k, v in charge.items() if k in hard}
    return quota.exceeded(_name(q), hard, used, requested), quota.add(used, requested)


class ResourceQuotaAdmission:
    """Validating plugin: checks and charges every quota covering a create or update."""

    def __init__(self, quotas: QuotaLister, writer: QuotaWriter) -> None:
        self.quotas = quotas
        self.writer = writer

    async def validate(self, attrs: AdmissionAttributes) -> list[str]:
        if attrs.subresource or not attrs.namespaced or not attrs.namespace:
            return []
        if attrs.operation != CREATE and not (
                attrs.operation == UPDATE and (attrs.group, attrs.resource) in _UPDATE_CHARGED):
            return []
        quotas = self.quotas(attrs.namespace)
        if not quotas:
            return []
        covered = covering(quotas, attrs)
        if not covered:
            return []
        charge = delta(attrs)
        if not charge:
            return []
        for q, _ in covered:  # refuse before charging any quota
            refusal, _ = check(q, charge)
            if refusal:
                raise attrs.forbidden(refusal)
        if attrs.dry_run:
            return []
        for q, _ in covered:
            await self.writer.charge(attrs.namespace, _name(q), self._charger(attrs, charge))
        return []

    @staticmethod
    def _charger(attrs: AdmissionAttributes, charge: dict[str, Fraction]
                 ) -> Callable[[Obj], Obj]:
        def change(stored: Obj) -> Obj:
            refusal, used = check(stored, charge)
            if refusal:
                raise attrs.forbidden(refusal)
            status = stored.setdefault("status", {})
            status["used"] = {**(status.get("used") or {}), **{
                k: quota.format_value(k, v) for k, v in used.items()}}
            return stored
        return change


class RegistryQuotaWriter:
    """Charges through the registry's status endpoint, retrying lost races."""

    def __init__(self, registry: Any) -> None:
        self.registry = registry

    async def charge(self, namespace: str, name: str, change: Callable[[Obj], Obj]) -> None:
        kind = self.registry.kinds.of(r.RESOURCE_QUOTAS)
        ctx = WriteContext(subresource="status", field_manager="resourcequota-admission")
        await self.registry.guaranteed_update(kind, namespace, name, change, ctx)


def cached_quotas(cache: Any, kinds: Any) -> QuotaLister:
    """The quotas of a namespace as the watch cache holds them."""
    def lister(namespace: str) -> list[Obj]:
        return cache.cached_list(kinds.of(r.RESOURCE_QUOTAS), namespace)
    return lister
