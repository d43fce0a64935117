"""The disruption controller: every PodDisruptionBudget's status.

After Kubernetes' pkg/controller/disruption: the work item is a budget; a pod that
changes enqueues the budgets selecting it. A sync counts the selected pods that are
Ready (not being deleted, not just evicted: ``status.disruptedPods`` entries younger
than two minutes), works out how many pods are expected — the pod count for an
integer minAvailable, else the sum of the scale of the pods' controllers (a
ReplicationController, a ReplicaSet, the Deployment above a ReplicaSet, or any other
kind through its scale subresource) — and writes currentHealthy, desiredHealthy,
expectedPods, disruptionsAllowed, disruptedPods, observedGeneration and the
DisruptionAllowed condition. A budget it cannot compute (a pod whose controller has
no scale) gets disruptionsAllowed 0 and the condition with reason SyncFailed.
"""

from __future__ import annotations

import logging
import time

from kybernetes.api import disruption_budget as budget
from kybernetes.api import errors
from kybernetes.api.labels import Selector, from_label_selector
from kybernetes.api.meta import controller_ref
from kybernetes.api.resources import (
    DEPLOYMENTS,
    POD_DISRUPTION_BUDGETS,
    PODS,
    REPLICA_SETS,
    REPLICATION_CONTROLLERS,
    Resource,
)
from kybernetes.client import ApiClient, InformerFactory
from kybernetes.client.discovery import served_resources
from kybernetes.controllers.base import Controller, Obj, meta

log = logging.getLogger("kybernetes.controllers.disruption")

_DISCOVERY_TTL = 30.0


class NoController(Exception):
    """A selected pod's controller has no scale this controller can read."""


def _replicas(obj: Obj | None, uid: str) -> int | None:
    if obj is None or meta(obj).get("uid") != uid:
        return None
    replicas = (obj.get("spec") or {}).get("replicas")
    return 1 if replicas is None else int(replicas)


class DisruptionController(Controller):
    """Keeps each PodDisruptionBudget's status."""

    name = "disruption"
    component = "controllermanager"
    default_workers = 2

    def __init__(self, client: ApiClient, informers: InformerFactory) -> None:
        super().__init__(client, informers)
        self.pdbs = informers.get(POD_DISRUPTION_BUDGETS)
        self.pods = informers.get(PODS)
        self.rcs = informers.get(REPLICATION_CONTROLLERS)
        self.replica_sets = informers.get(REPLICA_SETS)
        self.deployments = informers.get(DEPLOYMENTS)
        self._served: tuple[float, list[Resource]] = (0.0, [])
        self.pdbs.add_handler(on_add=self.enqueue, on_update=lambda o, n: self.enqueue(n),
                              on_delete=lambda o: None)
        self.pods.add_handler(on_add=self._pod_changed,
                              on_update=lambda o, n: self._pod_changed(n),
                              on_delete=self._pod_changed)

    def _pod_changed(self, pod: Obj) -> None:
        namespace = meta(pod).get("namespace")
        labels = meta(pod).get("labels") or {}
        for pdb in self.pdbs.list(namespace):
            selector = self._selector(pdb)
            if selector is not None and selector.matches(labels):
                self.enqueue(pdb)

    @staticmethod
    def _selector(pdb: Obj) -> Selector | None:
        try:
            return from_label_selector((pdb.get("spec") or {}).get("selector"))
        except errors.BadRequest:
            return None

    # -- sync -------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        pdb = self.pdbs.get(key)
        if pdb is None:
            return
        try:
            await self._try_sync(pdb)
        except errors.Conflict:
            raise  # requeued: a newer budget is on its way
        except (NoController, errors.ApiError, ValueError) as e:
            log.info("failed to sync PDB", extra={"pdb": key, "error": str(e)})
            await self._fail_safe(pdb, str(e))

    async def _try_sync(self, pdb: Obj) -> None:
        selector = self._selector(pdb)
        if selector is None:
            raise ValueError("invalid label selector")
        pods = [p for p in self.pods.list(meta(pdb).get("namespace"))
                if selector.matches(meta(p).get("labels") or {})]
        if not pods:
            self.event(pdb, "Normal", "NoPods", "No matching pods found")
        spec = pdb.get("spec") or {}
        try:
            expected, unmanaged = await self._expected(spec, pods)
            desired = budget.desired_healthy(spec, expected)
        except (NoController, ValueError) as e:
            self.event(pdb, "Warning", "CalculateExpectedPodCountFailed",
                       f"Failed to calculate the number of expected pods: {e}")
            raise
        if unmanaged:
            self.event(pdb, "Warning", "UnmanagedPods",
                       f"Pods selected by this PodDisruptionBudget (selector: {selector}) were "
                       "found to be unmanaged. As a result, the status of the PDB cannot be "
                       "calculated correctly, which may result in undefined behavior. To "
                       "account for these pods please set \".spec.minAvailable\" field of "
                       "the PDB to an integer value.")
        now = budget.now_seconds()
        status = pdb.get("status") or {}
        disrupted, overdue, recheck = budget.live_disruptions(
            pods, status.get("disruptedPods") or {}, now)
        for name in overdue:
            pod = self.pods.get(f"{meta(pdb).get('namespace')}/{name}")
            if pod is not None:
                self.event(pod, "Warning", "NotDeleted",
                           f"Pod was expected by PDB {meta(pdb).get('namespace')}/"
                           f"{meta(pdb).get('name')} to be deleted but it wasn't")
        numbers = budget.Budget(budget.current_healthy(pods, disrupted, now), desired, expected)
        await self._write(pdb, numbers, disrupted)
        if recheck is not None:
            self.enqueue_after(pdb, max(0.0, recheck - now))

    async def _expected(self, spec: Obj, pods: list[Obj]) -> tuple[int, list[str]]:
        """expectedPods, and the selected pods with no controller."""
        if not budget.uses_scale(spec):
            return len(pods), []
        scales: dict[str, int] = {}
        unmanaged = []
        for pod in pods:
            ref = controller_ref(pod)
            if ref is None:
                unmanaged.append(meta(pod).get("name", ""))
                continue
            if ref.get("uid") in scales:
                continue
            uid, replicas = await self._scale_of(ref, meta(pod).get("namespace", ""),
                                                 meta(pod).get("name", ""))
            scales[uid] = replicas
        return sum(scales.values()), unmanaged

    async def _scale_of(self, ref: Obj, namespace: str, pod: str) -> tuple[str, int]:
        """(the controller's uid, its scale), through the finders in kube's order."""
        kind, api_version = ref.get("kind"), ref.get("apiVersion", "")
        group = api_version.rpartition("/")[0]
        uid, name = ref.get("uid", ""), ref.get("name", "")
        if kind == "ReplicationController" and group == "":
            replicas = _replicas(self.rcs.get(f"{namespace}/{name}"), uid)
            if replicas is not None:
                return uid, replicas
        if kind == "ReplicaSet" and group in ("apps", "extensions"):
            rs = self.replica_sets.get(f"{namespace}/{name}")
            owner = controller_ref(rs) if rs is not None and meta(rs).get("uid") == uid \
                else None
            if owner is not None and owner.get("kind") == "Deployment":
                deployment = self.deployments.get(f"{namespace}/{owner.get('name')}")
                replicas = _replicas(deployment, owner.get("uid", ""))
                if replicas is not None:
                    return owner.get("uid", ""), replicas
            elif rs is not None:
                replicas = _replicas(rs, uid)
                if replicas is not None:
                    return uid, replicas
        replicas = await self._scale_subresource(ref, namespace, group)
        if replicas is None:
            raise NoController(f'found no controllers for pod "{pod}"')
        return uid, replicas

    async def _scale_subresource(self, ref: Obj, namespace: str, group: str) -> int | None:
        """Any other controller (a StatefulSet, a custom resource) through /scale."""
        for resource in await self._resources():
            if resource.group == group and resource.kind == ref.get("kind") and \
                    "scale" in resource.subresources:
                try:
                    scale = await self.client.get(resource, ref.get("name", ""),
                                                  namespace=namespace, subresource="scale")
                except errors.NotFound:
                    return None
                if meta(scale).get("uid") == ref.get("uid"):
                    return int((scale.get("spec") or {}).get("replicas") or 0)
                return None
        return None

    async def _resources(self) -> list[Resource]:
        fetched, resources = self._served
        if time.monotonic() - fetched > _DISCOVERY_TTL:
            resources = await served_resources(self.client)
            self._served = (time.monotonic(), resources)
        return resources

    # -- writes -----------------------------------------------------------------

    async def _write(self, pdb: Obj, numbers: budget.Budget, disrupted: dict[str, str]) -> None:
        status = pdb.get("status") or {}
        generation = int(meta(pdb).get("generation") or 0)
        new: Obj = {"currentHealthy": numbers.current_healthy,
                    "desiredHealthy": numbers.desired_healthy,
                    "expectedPods": numbers.expected_pods,
                    "disruptionsAllowed": numbers.disruptions_allowed,
                    "observedGeneration": generation}
        if disrupted:
            new["disruptedPods"] = disrupted
        new["conditions"] = list(status.get("conditions") or [])
        budget.with_allowed_condition(new)
        unchanged = all(status.get(k, 0) == v for k, v in new.items()
                        if k not in ("conditions",)) and \
            (status.get("disruptedPods") or {}) == disrupted and \
            status.get("conditions") == new["conditions"]
        if unchanged:
            return
        await self.client.update_status(POD_DISRUPTION_BUDGETS, {**pdb, "status": new})

    async def _fail_safe(self, pdb: Obj, message: str) -> None:
        """failSafe: no disruptions while the budget cannot be computed."""
        status = dict(pdb.get("status") or {})
        status["disruptionsAllowed"] = 0
        status["conditions"] = budget.set_condition(
            list(status.get("conditions") or []),
            {"type": budget.CONDITION, "status": "False", "reason": budget.SYNC_FAILED,
             "message": message,
             "observedGeneration": int(status.get("observedGeneration") or 0)})
        if status == pdb.get("status"):
            return
        try:
            await self.client.update_status(POD_DISRUPTION_BUDGETS, {**pdb, "status": status})
        except errors.NotFound:
            return
