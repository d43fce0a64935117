"""The eviction subresource: a pod delete that honours PodDisruptionBudgets.

After Kubernetes' pkg/registry/core/pod/storage/eviction.go:

* a terminal, pending or already deleting pod is deleted with no budget check;
* more than one budget selecting the pod is a 500, none lets the delete go on;
* a pod that is not Ready is let go without spending the budget when the budget is
  met (or its ``unhealthyPodEvictionPolicy`` is ``AlwaysAllow``), with the pod's
  resourceVersion as a precondition (it must not have turned Ready meanwhile);
* otherwise ``status.disruptionsAllowed`` is decremented and the pod recorded in
  ``status.disruptedPods`` by a compare-and-swap of the budget's status (retried
  on conflict), or the eviction is refused with 429 and a DisruptionBudget cause;
* a pod deleted by an eviction first gets the DisruptionTarget condition.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from kybernetes.api import disruption_budget as budget
from kybernetes.api import resources as r
from kybernetes.api.errors import BadRequest, Conflict, Forbidden, TooManyRequests
from kybernetes.api.labels import from_label_selector
from kybernetes.api.meta import now_rfc3339
from kybernetes.apiserver.codec import decode_kv
from kybernetes.apiserver.context import WriteContext, system_context
from kybernetes.apiserver.registry import DeleteOptions, Registry

Obj = dict[str, Any]
# Evictions admitted but not yet seen by the disruption controller, at most.
MAX_DISRUPTED_PODS = 2000
_CONFLICT_RETRIES = 20
VIOLATION = "Cannot evict pod as it would violate the pod's disruption budget."
MORE_THAN_ONE = ("This pod has more than one PodDisruptionBudget, which the eviction "
                 "subresource does not support.")


def too_many_requests(cause: str, retry_after: int = 0) -> TooManyRequests:
    """errors.NewTooManyRequests with a DisruptionBudget cause."""
    details: Obj = {"causes": [{"reason": "DisruptionBudget", "message": cause}]}
    if retry_after:
        details["retryAfterSeconds"] = retry_after
    return TooManyRequests(VIOLATION, details=details)


def _forbidden(name: str, why: str) -> Forbidden:
    return Forbidden(f'poddisruptionbudget.policy "{name}" is forbidden: {why}',
                     details={"name": name, "group": "policy", "kind": "poddisruptionbudget"})


def can_ignore_budget(pod: Obj) -> bool:
    """Terminal, pending or deleting pods: their eviction disrupts nothing more."""
    phase = (pod.get("status") or {}).get("phase")
    return phase in ("Succeeded", "Failed", "Pending") or \
        bool((pod.get("metadata") or {}).get("deletionTimestamp"))


def _enforce_resource_version(pod: Obj) -> bool:
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and \
        not (pod.get("metadata") or {}).get("deletionTimestamp")


def decrement(pdb: Obj, pod_name: str, *, dry_run: bool, now: str | None = None) -> Obj:
    """checkAndDecrement: the budget's new status with one disruption spent, or the
    error that refuses the eviction."""
    meta, status = pdb.get("metadata") or {}, dict(pdb.get("status") or {})
    name = meta.get("name", "")
    if int(status.get("observedGeneration") or 0) < int(meta.get("generation") or 0):
        raise too_many_requests(f"The disruption budget {name} is still being processed by "
                                "the server.", retry_after=10)
    allowed = int(status.get("disruptionsAllowed") or 0)
    if allowed < 0:
        raise _forbidden(name, "pdb disruptions allowed is negative")
    disrupted = dict(status.get("disruptedPods") or {})
    if len(disrupted) > MAX_DISRUPTED_PODS:
        raise _forbidden(name, "DisruptedPods map too big - too many evictions not confirmed "
                               "by PDB controller")
    if allowed == 0:
        raise too_many_requests(
            f"The disruption budget {name} needs {int(status.get('desiredHealthy') or 0)} "
            f"healthy pods and has {int(status.get('currentHealthy') or 0)} currently")
    status["disruptionsAllowed"] = allowed - 1
    if allowed - 1 == 0:
        budget.with_allowed_condition(status, now)
    if not dry_run:
        disrupted[pod_name] = now or now_rfc3339()
        status["disruptedPods"] = disrupted
    return {**pdb, "status": status}


def _selects(pdb: Obj, pod: Obj) -> bool:
    try:
        selector = from_label_selector((pdb.get("spec") or {}).get("selector"))
    except BadRequest:  # an invalid selector matches nothing
        return False
    return selector.matches((pod.get("metadata") or {}).get("labels") or {})


class Evictions:
    """POST pods/<name>/eviction."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    @property
    def _pods(self) -> Any:
        return self.registry.kinds.of(r.PODS)

    async def evict(self, namespace: str, name: str, body: Obj, options: DeleteOptions,
                    ctx: WriteContext) -> Obj | None:
        """Evict the pod; None when it went, else a failure Status to answer with."""
        meta = body.get("metadata") or {}
        if isinstance(meta, dict) and meta.get("name") not in (None, name):
            raise BadRequest("name in URL does not match name in Eviction object")
        pod: Obj = {}
        for attempt in range(_CONFLICT_RETRIES):
            pod = await self.registry.get(self._pods, namespace, name)
            if not can_ignore_budget(pod):
                break
            wanted = options
            if _enforce_resource_version(pod) and not options.preconditions.get(
                    "resourceVersion"):
                wanted = self._with_rv(options, pod)
            try:
                await self._delete(namespace, name, wanted, ctx)
                return None
            except Conflict:
                if options.preconditions.get("resourceVersion") or \
                        attempt == _CONFLICT_RETRIES - 1:
                    raise
        pdbs = await self._budgets_of(pod)
        if len(pdbs) > 1:
            return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": MORE_THAN_ONE, "code": 500}
        guard_rv = False
        if pdbs:
            pdb = pdbs[0]
            spec, status = pdb.get("spec") or {}, pdb.get("status") or {}
            if not budget.is_ready(pod):
                current = int(status.get("currentHealthy") or 0)
                desired = int(status.get("desiredHealthy") or 0)
                guard_rv = spec.get("unhealthyPodEvictionPolicy") == "AlwaysAllow" or (
                    current >= desired > 0)
            if not guard_rv:
                await self._spend(pdb, name, dry_run=options.dry_run, ctx=ctx)
        wanted = self._with_rv(options, pod) if guard_rv else options
        try:
            await self._delete(namespace, name, wanted, ctx)
        except Conflict:
            if guard_rv and not options.preconditions.get("resourceVersion"):
                raise too_many_requests(
                    f"The disruption budget {pdbs[0]['metadata']['name']} is still being "
                    "processed by the server.", retry_after=10) from None
            raise
        return None

    @staticmethod
    def _with_rv(options: DeleteOptions, pod: Obj) -> DeleteOptions:
        return replace(options, preconditions={
            **options.preconditions, "resourceVersion": pod["metadata"]["resourceVersion"]})

    async def _budgets_of(self, pod: Obj) -> list[Obj]:
        kind = self.registry.kinds.of(r.POD_DISRUPTION_BUDGETS)
        namespace = (pod.get("metadata") or {}).get("namespace")
        listed = await self.registry.store.list(kind.prefix(namespace))
        return [pdb for pdb in (decode_kv(kv) for kv in listed.kvs) if _selects(pdb, pod)]

    async def _spend(self, pdb: Obj, pod_name: str, *, dry_run: bool,
                     ctx: WriteContext) -> None:
        """Decrement the budget by a compare-and-swap of its status (retried on conflict,
        each time against the newest budget)."""
        kind = self.registry.kinds.of(r.POD_DISRUPTION_BUDGETS)
        meta = pdb["metadata"]

        def spend(current: Obj) -> Obj:
            return decrement(current, pod_name, dry_run=dry_run)

        # As kube's loopback client: the budget is the server's to write, not the caller's.
        status_ctx = replace(system_context(), subresource="status", dry_run=dry_run)
        await self.registry.guaranteed_update(kind, meta.get("namespace"), meta["name"], spend,
                                              status_ctx)

    async def _delete(self, namespace: str, name: str, options: DeleteOptions,
                      ctx: WriteContext) -> None:
        """addConditionAndDeletePod: mark the pod a DisruptionTarget, then delete it."""
        if not options.dry_run:
            options = await self._mark_disruption_target(namespace, name, options, ctx)
        await self.registry.delete(self._pods, namespace, name, options)

    async def _mark_disruption_target(self, namespace: str, name: str,
                                      options: DeleteOptions, ctx: WriteContext
                                      ) -> DeleteOptions:
        pre = options.preconditions

        def mark(pod: Obj) -> Obj:
            self.registry._check_preconditions(self._pods, pod, pre)
            conditions = [c for c in (pod.setdefault("status", {}).get("conditions") or [])
                          if c.get("type") != "DisruptionTarget"]
            old: Obj = next((c for c in pod["status"].get("conditions") or []
                        if c.get("type") == "DisruptionTarget"), {})
            stamp = old.get("lastTransitionTime") if old.get("status") == "True" else None
            conditions.append({"type": "DisruptionTarget", "status": "True",
                               "lastProbeTime": None,
                               "lastTransitionTime": stamp or now_rfc3339(),
                               "reason": "EvictionByEvictionAPI",
                               "message": "Eviction API: evicting"})
            pod["status"]["conditions"] = conditions
            return pod

        updated = await self.registry.guaranteed_update(
            self._pods, namespace, name, mark, replace(ctx, subresource="status"))
        if pre.get("resourceVersion"):
            return replace(options, preconditions={
                **pre, "resourceVersion": updated["metadata"]["resourceVersion"]})
        return options
