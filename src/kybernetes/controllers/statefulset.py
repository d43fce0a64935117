"""The statefulset controller: pods with stable names, ordinals and storage.

A sync, as Kubernetes' (pkg/controller/statefulset):

1. read the StatefulSet; claim its member pods (`<set>-<n>` only, :mod:`adoption`);
2. keep its history (:mod:`revision_history`): the revision of the current
   template is the *update* revision; `status.currentRevision` names the one the
   older pods run (the update revision when none does);
3. act on the plan :mod:`stateful_update` makes: create claims then pods, delete
   finished, condemned or outdated pods, fix drifted identities and the claims'
   retention owners (:mod:`stateful_pods`);
4. write status (replicas, ready/available/current/updated counts, revisions,
   observedGeneration); a RollingUpdate whose pods are all updated and ready makes
   the update revision current;
5. delete old revisions beyond revisionHistoryLimit that no pod uses.
"""

from __future__ import annotations

import logging
from typing import Any

from kybernetes.api import errors
from kybernetes.api.labels import Selector
from kybernetes.api.meta import (
    controller_ref,
    is_being_deleted,
    is_pod_available,
    is_pod_ready,
    object_key,
)
from kybernetes.api.resources import (
    CONTROLLER_REVISIONS,
    PERSISTENT_VOLUME_CLAIMS,
    PODS,
    STATEFUL_SETS,
)
from kybernetes.client import ApiClient, InformerFactory
from kybernetes.controllers import controller_history, pod_control
from kybernetes.controllers import stateful_pods as sp
from kybernetes.controllers import stateful_update as su
from kybernetes.controllers.adoption import Claimer
from kybernetes.controllers.base import (
    Controller,
    Obj,
    deep_copy,
    for_each,
    live_controller,
    meta,
    spec_selector,
)
from kybernetes.controllers.revision_history import RevisionHistory

log = logging.getLogger("kybernetes.controllers.statefulset")
STALE_CLAIM_RETRY = 1.0  # seconds before looking again at a claim waiting for collection


def _spec(obj: Obj) -> Obj:
    return obj.get("spec") or {}


class StaleClaim(Exception):
    """A claim of the pod to create still belongs to its previous incarnation."""


class StatefulSetController(Controller):
    """Keeps every StatefulSet's ordinals, storage and revisions."""

    name = "statefulset"
    component = "statefulset-controller"
    default_workers = 2

    def __init__(self, client: ApiClient, informers: InformerFactory) -> None:
        super().__init__(client, informers)
        self.sets = informers.get(STATEFUL_SETS)
        self.pods = informers.get(PODS)
        self.claims = informers.get(PERSISTENT_VOLUME_CLAIMS)
        self.revisions = informers.get(CONTROLLER_REVISIONS)
        self.history = RevisionHistory(client, self.revisions, STATEFUL_SETS,
                                       controller_history.REVISION_HASH_LABEL)
        self.sets.add_handler(on_add=self.enqueue, on_update=lambda old, new: self.enqueue(new),
                              on_delete=self.enqueue)
        self.revisions.add_handler(on_add=self._owned_changed,
                                   on_update=lambda old, new: self._owned_changed(new),
                                   on_delete=self._owned_changed)
        self.pods.add_handler(on_add=self._pod_changed, on_update=self._pod_updated,
                              on_delete=self._pod_changed)

    # -- handlers --------------------------------------------------------------------------

    def _owner_key(self, obj: Obj) -> str | None:
        owner = live_controller(obj, "StatefulSet", self.sets)
        return object_key(owner) if owner is not None else None

    def _owned_changed(self, obj: Obj) -> None:
        key = self._owner_key(obj)
        if key is not None:
            self.queue.add(key)

    def _pod_changed(self, pod: Obj) -> None:
        key = self._owner_key(pod)
        if key is not None:
            self.queue.add(key)
        elif controller_ref(pod) is None:  # an orphan: the sets that may adopt it
            for sts in self.sets.list(meta(pod).get("namespace") or ""):
                if sp.is_member(sts, pod) and spec_selector(sts).matches(
                        meta(pod).get("labels")):
                    self.enqueue(sts)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if meta(old).get("resourceVersion") == meta(new).get("resourceVersion"):
            return
        if self._owner_key(old) != self._owner_key(new):
            self._pod_changed(old)
        self._pod_changed(new)
        key = self._owner_key(new)
        sts = self.sets.get(key) if key else None
        min_ready = int(_spec(sts or {}).get("minReadySeconds") or 0)
        if key and min_ready > 0 and is_pod_ready(new) and not is_pod_ready(old):
            self.queue.add_after(key, min_ready + 1)

    # -- sync ------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        cached = self.sets.get(key)
        if cached is None:
            return
        sts = deep_copy(cached)
        selector = spec_selector(sts)
        if selector.empty:
            return
        pods = await self._claim_pods(sts, selector)
        if is_being_deleted(sts):
            return
        update_rev, old = await self.history.construct(sts, selector)
        current_rev = next((r for r in (update_rev, *old) if meta(r).get("name") ==
                            (sts.get("status") or {}).get("currentRevision")), update_rev)
        current_name, update_name = meta(current_rev)["name"], meta(update_rev)["name"]
        plan = su.plan(sts, pods, current_set=controller_history.applied(sts, current_rev),
                       update_set=controller_history.applied(sts, update_rev),
                       current_rev=current_name, update_rev=update_name,
                       needs_fix=lambda pod: self._needs_fix(sts, pod))
        if plan.blocked:
            log.debug("statefulset waits", extra={"statefulset": key, "why": plan.blocked})
        error: BaseException | None = None
        try:
            await for_each(plan.actions, lambda a: self._act(sts, a),
                           concurrency=1 if su.monotonic(sts) else 32)
        except StaleClaim:
            self.queue.add_after(key, STALE_CLAIM_RETRY)
        except Exception as e:  # status is still written; the sync is retried
            error = e
        await self._write_status(sts, await self._claim_pods(sts, selector), current_name,
                                 update_name)
        if plan.requeue_after:
            self.queue.add_after(key, plan.requeue_after)
        if error is None:
            live = {sp.revision_of(p) for p in pods} | {current_name, update_name}
            await self.history.truncate(sts, old, lambda r: meta(r).get("name") in live)
        if error is not None:
            raise error

    async def _claim_pods(self, sts: Obj, selector: Selector) -> list[Obj]:
        members = [p for p in self.pods.list(meta(sts)["namespace"]) if sp.is_member(sts, p)]
        return await Claimer(self.client, owner_resource=STATEFUL_SETS, owner=sts,
                             selector=selector, resource=PODS).claim(members)

    # -- claims and identity ---------------------------------------------------------------

    def _claim(self, claim: Obj) -> Obj | None:
        return self.claims.get(f"{meta(claim)['namespace']}/{meta(claim)['name']}")

    def _needs_fix(self, sts: Obj, pod: Obj) -> bool:
        if not sp.identity_matches(sts, pod):
            return True
        for _, wanted in sp.claims_for(sts, sp.ordinal(pod)):
            claim = self._claim(wanted)
            if claim is None or not sp.claim_refs_match(sts, pod, claim):
                return True
        return False

    async def _ensure_claims(self, sts: Obj, pod: Obj) -> None:
        """createPersistentVolumeClaims, and the retention owners of existing ones."""
        for _, wanted in sp.claims_for(sts, sp.ordinal(pod)):
            claim = self._claim(wanted)
            name = meta(wanted)["name"]
            if claim is None:
                wanted["metadata"]["ownerReferences"] = sp.claim_owner_refs(sts, pod, wanted) \
                    or None
                try:
                    await self.client.create(PERSISTENT_VOLUME_CLAIMS, wanted)
                except errors.AlreadyExists:
                    continue
                except errors.ApiError as e:
                    self.event(sts, "Warning", "FailedCreate",
                               f"create Claim {name} for Pod {meta(pod)['name']} in StatefulSet "
                               f"{meta(sts)['name']} failed error: {e.message}")
                    raise
                self.event(sts, "Normal", "SuccessfulCreate",
                           f"create Claim {name} Pod {meta(pod)['name']} in StatefulSet "
                           f"{meta(sts)['name']} success")
            elif is_being_deleted(claim):
                raise StaleClaim(f"pvc {name} is being deleted")
            elif not meta(pod).get("uid") and any(
                    r.get("kind") == "Pod" for r in meta(claim).get("ownerReferences") or ()):
                raise StaleClaim(f"pvc {name} still belongs to a deleted Pod")
            elif not sp.claim_refs_match(sts, pod, claim):
                updated = deep_copy(claim)  # an update, as kube's role allows no patch
                updated["metadata"]["ownerReferences"] = \
                    sp.claim_owner_refs(sts, pod, claim) or None
                await self.client.update(PERSISTENT_VOLUME_CLAIMS, updated)

    # -- actions ---------------------------------------------------------------------------

    async def _act(self, sts: Obj, action: su.Action) -> None:
        pod, set_name = action.pod, meta(sts)["name"]
        if action.verb == "create":
            await self._ensure_claims(sts, pod)
            try:
                await self.client.create(PODS, pod)
            except errors.AlreadyExists:
                return
            except errors.ApiError as e:
                if not pod_control.namespace_terminating(e):
                    self.event(sts, "Warning", "FailedCreate",
                               f"create Pod {meta(pod)['name']} in StatefulSet {set_name} "
                               f"failed error: {e.message}")
                raise
            self.event(sts, "Normal", "SuccessfulCreate",
                       f"create Pod {meta(pod)['name']} in StatefulSet {set_name} successful")
        elif action.verb == "fix":
            await self._ensure_claims(sts, pod)
            if not sp.identity_matches(sts, pod):
                await self.client.patch(PODS, meta(pod)["name"], sp.identity_patch(sts, pod),
                                        namespace=meta(pod).get("namespace"))
        else:
            if action.reason == "scale down":
                await self._ensure_claims(sts, pod)  # owned by the pod when whenScaled: Delete
            elif action.reason.startswith("recreating"):
                self.event(sts, "Warning", "RecreatingFailedPod" if "failed" in action.reason
                           else "RecreatingTerminatedPod",
                           f"StatefulSet {meta(sts).get('namespace')}/{set_name} is "
                           f"{action.reason} {meta(pod)['name']}")
            await self._delete(sts, pod)

    async def _delete(self, sts: Obj, pod: Obj) -> None:
        name = meta(pod)["name"]
        try:
            await self.client.delete(PODS, name, namespace=meta(pod).get("namespace"))
        except errors.NotFound:
            return
        except errors.ApiError as e:
            self.event(sts, "Warning", "FailedDelete", f"delete Pod {name} in StatefulSet "
                       f"{meta(sts)['name']} failed error: {e.message}")
            raise
        self.event(sts, "Normal", "SuccessfulDelete",
                   f"delete Pod {name} in StatefulSet {meta(sts)['name']} successful")

    # -- status ----------------------------------------------------------------------------

    @staticmethod
    def status(sts: Obj, pods: list[Obj], current_rev: str, update_rev: str) -> Obj:
        """computeReplicaStatus plus completeRollingUpdate."""
        min_ready = int(_spec(sts).get("minReadySeconds") or 0)
        replicas = ready = available = current = updated = 0
        for pod in pods:
            replicas += 1
            if su.running_and_ready(pod):
                ready += 1
                available += 1 if is_pod_available(pod, min_ready) else 0
            if not is_being_deleted(pod):
                current += 1 if sp.revision_of(pod) == current_rev else 0
                updated += 1 if sp.revision_of(pod) == update_rev else 0
        old = sts.get("status") or {}
        strategy = (_spec(sts).get("updateStrategy") or {}).get("type", "RollingUpdate")
        if strategy == "RollingUpdate" and updated == replicas and ready == replicas:
            current, current_rev = updated, update_rev
        status: Obj = {"observedGeneration": meta(sts).get("generation"), "replicas": replicas,
                       "readyReplicas": ready, "currentReplicas": current,
                       "updatedReplicas": updated, "currentRevision": current_rev,
                       "updateRevision": update_rev, "availableReplicas": available}
        for kept in ("collisionCount", "conditions"):
            if old.get(kept) is not None:
                status[kept] = old[kept]
        return status

    async def _write_status(self, sts: Obj, pods: list[Obj], current_rev: str,
                            update_rev: str) -> None:
        status = self.status(sts, pods, current_rev, update_rev)
        if _nonzero(sts.get("status") or {}) == _nonzero(status):
            return
        updated = deep_copy(sts)
        updated["status"] = status
        try:
            await self.client.update_status(STATEFUL_SETS, updated)
        except errors.NotFound:
            pass
        except errors.Conflict:  # the set changed: the next sync writes it
            self.queue.add(object_key(sts))


def _nonzero(status: Any) -> Any:
    return {k: v for k, v in status.items() if v not in (0, None, [], {})}
