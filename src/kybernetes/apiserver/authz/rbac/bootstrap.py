"""Reconcile the bootstrap RBAC policy on every start, as kube-apiserver's
rbac/bootstrap-roles post-start hook does.

A missing role or binding is created. An existing one is left alone when its
`rbac.authorization.kubernetes.io/autoupdate` annotation is "false" (someone owns
it now); otherwise it gets the policy's labels and annotations it lacks, the
rules it lacks (a union: nothing is ever removed) and the subjects it lacks. A
binding whose roleRef differs (immutable) is deleted and created again. Then the
aggregated ClusterRoles (admin, edit, view) are filled from what is stored, so
an API server without a controller manager still has working admin/edit/view.
Starting twice writes nothing the second time.

Missing rules are found by equality, not by Kubernetes' coverage check: a stored
rule broader than the policy's still gets the policy's rule beside it.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from typing import Any

from kybernetes.api import resources as r
from kybernetes.api.errors import AlreadyExists, NotFound
from kybernetes.api.rbac_aggregation import aggregated_rules, normalized_rule, same_rules
from kybernetes.apiserver.authz.rbac import bootstrap_policy as policy
from kybernetes.apiserver.codec import decode_kv
from kybernetes.apiserver.kinds.definition import KindDefinition
from kybernetes.apiserver.registry import DeleteOptions, Registry

log = logging.getLogger("kybernetes.apiserver.rbac.bootstrap")

Obj = dict[str, Any]
Merge = Callable[[Obj, Obj], None]


def _protected(obj: Obj) -> bool:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return annotations.get(policy.AUTOUPDATE) == "false"


def _merge_metadata(existing: Obj, expected: Obj) -> None:
    """The policy's labels and annotations, where the stored object has no value of its own."""
    meta, want = existing.setdefault("metadata", {}), expected["metadata"]
    for key in ("labels", "annotations"):
        merged = {**want.get(key, {}), **(meta.get(key) or {})}
        if merged:
            meta[key] = merged


def merge_role(existing: Obj, expected: Obj) -> None:
    """Add the expected rules the role lacks (and an aggregation rule's missing selectors)."""
    _merge_metadata(existing, expected)
    if "aggregationRule" in expected:
        have = existing.setdefault("aggregationRule", {}).setdefault("clusterRoleSelectors", [])
        for selector in expected["aggregationRule"]["clusterRoleSelectors"]:
            if selector not in have:
                have.append(copy.deepcopy(selector))
        return  # an aggregated role's rules are the aggregation's, filled afterwards
    rules = existing.get("rules") or []
    have_rules = [normalized_rule(x) for x in rules]
    missing = [x for x in expected["rules"] if normalized_rule(x) not in have_rules]
    if missing:
        existing["rules"] = [*rules, *copy.deepcopy(missing)]


def merge_binding(existing: Obj, expected: Obj) -> None:
    """Add the expected subjects the binding lacks."""
    _merge_metadata(existing, expected)
    subjects = existing.get("subjects") or []
    missing = [s for s in expected.get("subjects", []) if s not in subjects]
    if missing:
        existing["subjects"] = [*subjects, *copy.deepcopy(missing)]


async def _reconcile(registry: Registry, kind: KindDefinition, expected: Obj,
                     merge: Merge) -> None:
    meta = expected["metadata"]
    namespace, name = meta.get("namespace"), meta["name"]
    try:
        existing = await registry.get(kind, namespace, name)
    except NotFound:
        try:
            await registry.create(kind, namespace, copy.deepcopy(expected))
            log.info("created %s %s", kind.resource.kind, name,
                     extra={"namespace": namespace or ""})
        except AlreadyExists:
            pass  # another API server made it first
        return
    if _protected(existing):
        return
    if "roleRef" in expected and existing.get("roleRef") != expected["roleRef"]:
        try:
            await registry.delete(kind, namespace, name, DeleteOptions())
        except NotFound:
            pass  # another API server replaced it first
        await _reconcile(registry, kind, expected, merge)
        return

    def update(obj: Obj) -> Obj:
        if not _protected(obj):
            merge(obj, expected)
        return obj

    await registry.guaranteed_update(kind, namespace, name, update)


async def _fill_once(registry: Registry, kind: KindDefinition, names: list[str]) -> bool:
    """One pass over the aggregated roles `names`; whether any of them changed."""
    listed = await registry.store.list(kind.prefix(None))
    stored = [decode_kv(kv) for kv in listed.kvs]
    changed = False

    def fill(obj: Obj) -> Obj:
        nonlocal changed
        rules = aggregated_rules(obj, stored)
        if not _protected(obj) and not same_rules(rules, obj.get("rules")):
            obj["rules"], changed = rules, True
        return obj

    for name in names:
        try:
            await registry.guaranteed_update(kind, None, name, fill)
        except NotFound:
            pass
    return changed


async def _fill_aggregations(registry: Registry, kind: KindDefinition,
                             names: list[str]) -> None:
    """Write the aggregated roles' rules as the aggregation controller would, pass after
    pass until none changes (admin aggregates edit, which aggregates view)."""
    for _ in range(len(names) + 1):
        if not await _fill_once(registry, kind, names):
            return


async def reconcile(registry: Registry) -> None:
    """Bring the stored RBAC policy up to the bootstrap policy (see the module doc)."""
    kinds = registry.kinds
    cluster_roles = policy.cluster_roles()
    for kind, objs, merge in (
            (kinds.of(r.CLUSTER_ROLES), cluster_roles, merge_role),
            (kinds.of(r.CLUSTER_ROLE_BINDINGS), policy.cluster_role_bindings(), merge_binding),
            (kinds.of(r.ROLES), policy.namespace_roles(), merge_role),
            (kinds.of(r.ROLE_BINDINGS), policy.namespace_role_bindings(), merge_binding)):
        for obj in objs:
            await _reconcile(registry, kind, obj, merge)
    await _fill_aggregations(registry, kinds.of(r.CLUSTER_ROLES),
                             [x["metadata"]["name"] for x in cluster_roles
                              if "aggregationRule" in x])
