"""The deployment controller: roll a pod template out through ReplicaSets.

A Deployment owns ReplicaSets; the one whose template equals the Deployment's
(apart from the pod-template-hash label) is *new*, the others *old*. A sync:

1. claims ReplicaSets (:mod:`adoption`), as the replica controllers claim pods;
2. when paused, or when only `replicas` changed (a scaling event), scales the
   ReplicaSets without rolling (proportionally when several are active);
3. otherwise rolls out by the strategy:
   - RollingUpdate: scale the new ReplicaSet up as far as maxSurge allows, then
     the old ones down as far as maxUnavailable allows (unhealthy replicas
     first), one step per sync; ReplicaSet status changes bring the next sync;
   - Recreate: scale every old ReplicaSet to zero, wait until their pods are
     gone, then create the new one at full size;
4. once complete, deletes old empty ReplicaSets beyond revisionHistoryLimit;
5. writes status with the Available and Progressing conditions (reasons
   NewReplicaSetCreated, ReplicaSetUpdated, NewReplicaSetAvailable,
   ProgressDeadlineExceeded, DeploymentPaused), which `kubectl rollout status`
   follows.

Revisions follow Kubernetes: the new ReplicaSet's revision is one above the
highest old one, so `kubectl rollout undo` (which copies an old ReplicaSet's
template back into the Deployment) makes that ReplicaSet new again with the
next revision, and the Deployment carries the same revision annotation.
"""

from __future__ import annotations

import datetime as dt
import logging

from kybernetes.api import errors
from kybernetes.api.meta import (
    controller_ref,
    is_being_deleted,
    object_key,
    owner_reference,
    parse_time,
)
from kybernetes.api.resources import DEPLOYMENTS, PODS, REPLICA_SETS
from kybernetes.client import ApiClient, InformerFactory
from kybernetes.controllers import rollout as ro
from kybernetes.controllers.adoption import Claimer
from kybernetes.controllers.base import Controller, Obj, deep_copy, meta, spec_selector
from kybernetes.controllers.scaling import proportional_targets

log = logging.getLogger("kybernetes.controllers.deployment")


def _created(rs: Obj) -> tuple[str, str]:
    return (meta(rs).get("creationTimestamp") or "", meta(rs).get("name") or "")


class DeploymentController(Controller):
    """Rolls Deployments out through ReplicaSets."""

    name = "deployment"
    component = "deployment-controller"
    default_workers = 2

    def __init__(self, client: ApiClient, informers: InformerFactory) -> None:
        super().__init__(client, informers)
        self.deployments = informers.get(DEPLOYMENTS)
        self.replica_sets = informers.get(REPLICA_SETS)
        self.pods = informers.get(PODS)
        self.deployments.add_handler(on_add=self.enqueue, on_update=lambda o, n: self.enqueue(n),
                                     on_delete=self.enqueue)
        self.replica_sets.add_handler(on_add=self._rs_changed,
                                      on_update=lambda o, n: self._rs_changed(n, o),
                                      on_delete=self._rs_changed)

    def _rs_changed(self, rs: Obj, old: Obj | None = None) -> None:
        for obj in (rs, old):
            if obj is None:
                continue
            ref = controller_ref(obj)
            ns = meta(obj).get("namespace")
            if ref is not None and ref.get("kind") == "Deployment":
                self.queue.add(f"{ns}/{ref['name']}")
            elif ref is None:
                for d in self.deployments.list(ns or ""):
                    if spec_selector(d).matches(meta(obj).get("labels")):
                        self.enqueue(d)

    # -- sync ---------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        d = self.deployments.get(key)
        if d is None:
            return
        d = deep_copy(d)
        selector = spec_selector(d)
        if selector.empty:
            self.event(d, "Warning", "SelectingAll",
                       "This deployment is selecting all pods. A non-empty selector is required.")
            return
        rs_list = await Claimer(self.client, owner_resource=DEPLOYMENTS, owner=d,
                                selector=selector, resource=REPLICA_SETS).claim(
            self.replica_sets.list(meta(d)["namespace"]))
        if is_being_deleted(d):
            new, old = self._split(d, rs_list)
            await self._write_status(d, [*old, *([new] if new else [])], new)
            return
        paused = bool(d["spec"].get("paused"))
        if paused or self._scaling_event(d, rs_list):
            await self._sync_scale(d, rs_list, paused)
            return
        strategy = (d["spec"].get("strategy") or {}).get("type") or "RollingUpdate"
        if strategy == "Recreate":
            await self._rollout_recreate(d, rs_list)
        else:
            await self._rollout_rolling(d, rs_list)

    @staticmethod
    def _split(d: Obj, rs_list: list[Obj]) -> tuple[Obj | None, list[Obj]]:
        template = d["spec"].get("template") or {}
        matching = sorted((rs for rs in rs_list
                           if ro.equal_ignore_hash(rs["spec"].get("template") or {}, template)),
                          key=_created)
        new = matching[0] if matching else None
        return new, [rs for rs in rs_list if rs is not new]

    def _scaling_event(self, d: Obj, rs_list: list[Obj]) -> bool:
        want = str(ro.replicas(d))
        active = [rs for rs in rs_list if ro.replicas(rs) > 0]
        return any((meta(rs).get("annotations") or {}).get(ro.DESIRED_REPLICAS) not in (None, want)
                   for rs in active)

    # -- the new ReplicaSet and revisions ---------------------------------------------------

    async def _new_and_old(self, d: Obj, rs_list: list[Obj], *,
                           create: bool) -> tuple[Obj | None, list[Obj]]:
        new, old = self._split(d, rs_list)
        next_revision = max((ro.revision(rs) for rs in old), default=0) + 1
        if new is not None:
            new = await self._sync_rs_annotations(d, new, next_revision)
        elif create:
            new = await self._create_new_rs(d, old, next_revision)
        if new is not None:
            await self._set_deployment_revision(d, str(ro.revision(new)))
        return new, old

    def _rs_annotations(self, d: Obj, rs: Obj, rev: int) -> dict[str, str]:
        annotations = dict(meta(rs).get("annotations") or {})
        for k, v in (meta(d).get("annotations") or {}).items():
            if k not in ro.NOT_COPIED:
                annotations[k] = v
        old_rev = ro.revision(rs)
        if old_rev < rev:
            if old_rev:
                history = [h for h in annotations.get(ro.REVISION_HISTORY, "").split(",") if h]
                annotations[ro.REVISION_HISTORY] = ",".join([*history, str(old_rev)])
            annotations[ro.REVISION] = str(rev)
        surge, _ = ro.fenceposts(d)
        annotations[ro.DESIRED_REPLICAS] = str(ro.replicas(d))
        annotations[ro.MAX_REPLICAS] = str(ro.replicas(d) + surge)
        return annotations

    async def _sync_rs_annotations(self, d: Obj, rs: Obj, next_revision: int) -> Obj:
        rev = max(ro.revision(rs), 0) if ro.revision(rs) >= next_revision else next_revision
        annotations = self._rs_annotations(d, rs, rev)
        min_ready = d["spec"].get("minReadySeconds")
        if annotations == (meta(rs).get("annotations") or {}) and \
                rs["spec"].get("minReadySeconds") == min_ready:
            return rs
        updated = deep_copy(rs)
        updated["metadata"]["annotations"] = annotations
        if min_ready is not None:
            updated["spec"]["minReadySeconds"] = min_ready
        return await self.client.update(REPLICA_SETS, updated)

    async def _create_new_rs(self, d: Obj, old: list[Obj], rev: int) -> Obj:
        collisions = (d.get("status") or {}).get("collisionCount")
        hash_ = ro.template_hash(d["spec"]["template"], collisions)
        template = deep_copy(d["spec"]["template"])
        template.setdefault("metadata", {}).setdefault("labels", {})[ro.HASH_LABEL] = hash_
        selector = deep_copy(d["spec"]["selector"])
        selector.setdefault("matchLabels", {})[ro.HASH_LABEL] = hash_
        rs: Obj = {
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": f"{meta(d)['name']}-{hash_}", "namespace": meta(d)["namespace"],
                         "labels": dict(template["metadata"]["labels"]),
                         "ownerReferences": [owner_reference(d)]},
            "spec": {"replicas": 0, "selector": selector, "template": template}}
        if d["spec"].get("minReadySeconds") is not None:
            rs["spec"]["minReadySeconds"] = d["spec"]["minReadySeconds"]
        rs["metadata"]["annotations"] = self._rs_annotations(d, rs, rev)
        rs["spec"]["replicas"] = ro.new_rs_new_replicas(d, old, rs)
        try:
            created = await self.client.create(REPLICA_SETS, rs)
        except errors.AlreadyExists:
            existing = await self.client.get(REPLICA_SETS, rs["metadata"]["name"],
                                             namespace=meta(d)["namespace"])
            ref = controller_ref(existing) or {}
            if ref.get("uid") == meta(d)["uid"] and ro.equal_ignore_hash(
                    existing["spec"]["template"], d["spec"]["template"]):
                return existing  # our cache was behind
            d.setdefault("status", {})["collisionCount"] = (collisions or 0) + 1
            await self.client.update_status(DEPLOYMENTS, d)
            raise errors.Conflict("pod-template-hash collision; retrying") from None
        self._set_progressing(d, "True", "NewReplicaSetCreated",
                              f'Created new replica set "{meta(created)["name"]}"')
        if ro.replicas(created) > 0:
            self.event(d, "Normal", "ScalingReplicaSet",
                       f"Scaled up replica set {meta(created)['name']} from 0 to "
                       f"{ro.replicas(created)}")
        return created

    async def _set_deployment_revision(self, d: Obj, rev: str) -> None:
        if (meta(d).get("annotations") or {}).get(ro.REVISION) == rev:
            return
        patched = await self.client.patch(DEPLOYMENTS, meta(d)["name"],
                                          {"metadata": {"annotations": {ro.REVISION: rev}}},
                                          namespace=meta(d)["namespace"])
        d["metadata"] = patched["metadata"]

    # -- scaling ------------------------------------------------------------------------

    async def _scale(self, d: Obj, rs: Obj, to: int) -> Obj:
        current = ro.replicas(rs)
        updated = deep_copy(rs)
        updated["spec"]["replicas"] = to
        updated["metadata"]["annotations"] = self._rs_annotations(d, rs, ro.revision(rs))
        if current == to and updated["metadata"]["annotations"] == meta(rs).get("annotations"):
            return rs
        result = await self.client.update(REPLICA_SETS, updated)
        if current != to:
            verb = "up" if to > current else "down"
            self.event(d, "Normal", "ScalingReplicaSet",
                       f"Scaled {verb} replica set {meta(rs)['name']} from {current} to {to}")
        return result

    async def _sync_scale(self, d: Obj, rs_list: list[Obj], paused: bool) -> None:
        new, old = await self._new_and_old(d, rs_list, create=False)
        all_rs = [*old, *([new] if new else [])]
        targets = proportional_targets(d, all_rs, new)
        scaled = []
        for rs in all_rs:
            want = targets.get(object_key(rs), ro.replicas(rs))
            # Also refreshes desired-replicas, so this is no scaling event next time.
            scaled.append(await self._scale(d, rs, want) if ro.replicas(rs) or want else rs)
        new = next((rs for rs in scaled if new is not None and object_key(rs) == object_key(new)),
                   None)
        if paused:
            self._set_progressing(d, "Unknown", "DeploymentPaused", "Deployment is paused")
            await self._cleanup(d, [rs for rs in scaled if rs is not new])
        await self._write_status(d, scaled, new)

    # -- rollouts -------------------------------------------------------------------------

    async def _rollout_rolling(self, d: Obj, rs_list: list[Obj]) -> None:
        new, old = await self._new_and_old(d, rs_list, create=True)
        assert new is not None
        desired = ro.replicas(d)
        # Scale the new ReplicaSet up (or down to size), within maxSurge.
        want = desired if ro.replicas(new) > desired else ro.new_rs_new_replicas(
            d, [*old, new], new)
        if want != ro.replicas(new):
            new = await self._scale(d, new, want)
            await self._write_status(d, [*old, new], new)
            return
        # Scale old ReplicaSets down, within maxUnavailable.
        old, scaled = await self._scale_down_old(d, old, new)
        if scaled:
            await self._write_status(d, [*old, new], new)
            return
        status = ro.calculate_status(d, [*old, new], new)
        if ro.is_complete(d, status):
            await self._cleanup(d, old)
        await self._write_status(d, [*old, new], new)

    async def _scale_down_old(self, d: Obj, old: list[Obj], new: Obj) -> tuple[list[Obj], bool]:
        if ro.total(old) == 0:
            return old, False
        min_available = ro.replicas(d) - ro.max_unavailable(d)
        new_unavailable = ro.replicas(new) - int((new.get("status") or {}).get(
            "availableReplicas") or 0)
        budget = ro.total([*old, new]) - min_available - new_unavailable
        if budget <= 0:
            return old, False
        result, scaled_total = [], 0
        # Unhealthy replicas first, then available ones down to minAvailable.
        available = ro.total([*old, new], "availableReplicas")
        healthy_budget = max(available - min_available, 0)
        for rs in sorted(old, key=_created):
            count = ro.replicas(rs)
            rs_available = int((rs.get("status") or {}).get("availableReplicas") or 0)
            unhealthy = min(max(count - rs_available, 0), budget - scaled_total)
            healthy = min(count - unhealthy, healthy_budget, budget - scaled_total - unhealthy)
            healthy = max(healthy, 0)
            healthy_budget -= healthy
            cut = unhealthy + healthy
            if cut > 0:
                rs = await self._scale(d, rs, count - cut)
                scaled_total += cut
            result.append(rs)
        return result, scaled_total > 0

    async def _rollout_recreate(self, d: Obj, rs_list: list[Obj]) -> None:
        new, old = await self._new_and_old(d, rs_list, create=False)
        scaled_down, still = False, []
        for rs in old:
            if ro.replicas(rs) > 0:
                rs = await self._scale(d, rs, 0)
                scaled_down = True
            still.append(rs)
        old = still
        all_rs = [*old, *([new] if new else [])]
        if scaled_down or self._old_pods_running(old):
            await self._write_status(d, all_rs, new)
            return
        if new is None:
            new, old = await self._new_and_old(d, old, create=True)
            assert new is not None
        if ro.replicas(new) != ro.replicas(d):
            new = await self._scale(d, new, ro.replicas(d))
        status = ro.calculate_status(d, [*old, new], new)
        if ro.is_complete(d, status):
            await self._cleanup(d, old)
        await self._write_status(d, [*old, new], new)

    def _old_pods_running(self, old: list[Obj]) -> bool:
        uids = {meta(rs).get("uid") for rs in old}
        for rs in old:
            for pod in self.pods.list(meta(rs).get("namespace") or ""):
                ref = controller_ref(pod)
                phase = (pod.get("status") or {}).get("phase")
                if ref and ref.get("uid") in uids and phase not in ("Failed", "Succeeded"):
                    return True
            break
        return False

    async def _cleanup(self, d: Obj, old: list[Obj]) -> None:
        limit = d["spec"].get("revisionHistoryLimit")
        limit = 10 if limit is None else int(limit)
        dead = sorted((rs for rs in old if ro.replicas(rs) == 0
                       and not (rs.get("status") or {}).get("replicas")
                       and not is_being_deleted(rs)), key=ro.revision)
        for rs in dead[:max(len(dead) - limit, 0)]:
            try:
                await self.client.delete(REPLICA_SETS, meta(rs)["name"],
                                         namespace=meta(rs)["namespace"],
                                         preconditions={"uid": meta(rs)["uid"]})
            except (errors.NotFound, errors.Conflict):
                continue

    # -- status ---------------------------------------------------------------------------

    def _set_progressing(self, d: Obj, value: str, reason: str, message: str) -> None:
        ro.set_condition(d.setdefault("status", {}), "Progressing", value, reason, message)

    async def _write_status(self, d: Obj, all_rs: list[Obj], new: Obj | None) -> None:
        status = ro.calculate_status(d, all_rs, new)
        # Compare with what the server has (the cache), not with `d`, whose
        # conditions this sync may already have set.
        before = (self.deployments.get(object_key(d)) or {}).get("status") or {}
        paused = bool(d["spec"].get("paused"))
        new_name = meta(new)["name"] if new else ""
        if not paused and new is not None:
            if ro.is_complete(d, status):
                ro.set_condition(status, "Progressing", "True", "NewReplicaSetAvailable",
                                 f'ReplicaSet "{new_name}" has successfully progressed.')
            elif ro.made_progress(before, status):
                ro.set_condition(status, "Progressing", "True", "ReplicaSetUpdated",
                                 f'ReplicaSet "{new_name}" is progressing.')
            else:
                self._check_deadline(d, status, new_name)
        if status != before:
            d["status"] = status
            try:
                await self.client.update_status(DEPLOYMENTS, d)
            except errors.NotFound:
                return

    def _check_deadline(self, d: Obj, status: Obj, new_name: str) -> None:
        deadline = d["spec"].get("progressDeadlineSeconds", 600)
        progressing = ro.condition(status, "Progressing")
        if deadline is None or progressing is None or progressing.get("reason") in (
                "ProgressDeadlineExceeded", "NewReplicaSetAvailable"):
            return
        since = parse_time(progressing.get("lastUpdateTime"))
        if since is None:
            return
        left = int(deadline) - (dt.datetime.now(dt.UTC) - since).total_seconds()
        if left <= 0:
            ro.set_condition(status, "Progressing", "False", "ProgressDeadlineExceeded",
                             f'ReplicaSet "{new_name}" has timed out progressing.')
        else:
            self.enqueue_after(d, left + 1)

