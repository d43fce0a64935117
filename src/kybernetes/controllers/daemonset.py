"""The daemonset controller: one pod of a DaemonSet on every node that should run it.

A sync, as Kubernetes' (pkg/controller/daemon):

1. read the DaemonSet (gone or being deleted: nothing to do; an empty selector:
   a SelectingAll warning);
2. make its history (:mod:`revision_history`): the ControllerRevision holding the
   current template is found (orphans matching the selector adopted) or created
   and given the highest revision number (so `kubectl rollout undo` makes an old
   one current again); its
   `controller-revision-hash` labels the new pods;
3. claim its pods (:mod:`adoption`) and group them by target node (the bound node,
   or the node their `metadata.name` affinity names while the scheduler has not
   bound them yet);
4. when every create and delete it asked for has been seen (expectations):
   create a pod on every node that should run one and has none, delete pods
   where they should not continue running, failed pods (with a back-off per
   node, and a FailedDaemonPod warning) and all but the oldest duplicate
   (:mod:`daemon_placement` decides); then, when still settled, one
   RollingUpdate step (:mod:`daemon_rollout`) — OnDelete waits for users to
   delete old pods; then old revisions beyond revisionHistoryLimit that no
   pod uses are deleted;
5. write status (desired/current/misscheduled/ready/updated/available/
   unavailable counts, observedGeneration).

Pods are created without a node: their required node affinity names the node
and the scheduler binds them, as Kubernetes has done since 1.12. Creations go
in slow-start batches, at most 250 per sync (burstReplicas).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from typing import Any

from kybernetes.api import errors
from kybernetes.api.labels import Selector
from kybernetes.api.meta import (
    controller_ref,
    is_being_deleted,
    is_pod_available,
    is_pod_ready,
    object_key,
    owner_reference,
)
from kybernetes.api.resources import CONTROLLER_REVISIONS, DAEMON_SETS, NODES, PODS
from kybernetes.client import ApiClient, InformerFactory
from kybernetes.controllers import controller_history, daemon_history, pod_control
from kybernetes.controllers import daemon_placement as placement
from kybernetes.controllers import daemon_rollout as rollout
from kybernetes.controllers.adoption import Claimer
from kybernetes.controllers.base import (
    Controller,
    Obj,
    deep_copy,
    live_controller,
    meta,
    spec_selector,
)
from kybernetes.controllers.expectations import Expectations
from kybernetes.controllers.replication import slow_start_batch
from kybernetes.controllers.revision_history import RevisionHistory

log = logging.getLogger("kybernetes.controllers.daemonset")

BURST_REPLICAS = 250
FAILED_POD_BACKOFF = (1.0, 900.0)  # initial and longest wait before replacing a failed pod again


def _spec(obj: Obj) -> Obj:
    return obj.get("spec") or {}


def _template_spec(ds: Obj) -> Obj:
    return (_spec(ds).get("template") or {}).get("spec") or {}


def _oldest_first(pod: Obj) -> tuple[bool, str, str]:
    """podByCreationTimestampAndPhase: scheduled pods first, then the oldest."""
    return (not _spec(pod).get("nodeName"), meta(pod).get("creationTimestamp") or "",
            meta(pod).get("name") or "")


class DaemonSetController(Controller):
    """Keeps one pod of every DaemonSet on each node that should run it."""

    name = "daemonset"
    component = "daemonset-controller"
    default_workers = 2

    def __init__(self, client: ApiClient, informers: InformerFactory) -> None:
        super().__init__(client, informers)
        self.expectations = Expectations()
        self.burst_replicas = BURST_REPLICAS
        self._backoff: dict[str, tuple[float, float]] = {}  # ds/node -> (until, delay)
        self.daemon_sets = informers.get(DAEMON_SETS)
        self.revisions = informers.get(CONTROLLER_REVISIONS)
        self.history = RevisionHistory(client, self.revisions, DAEMON_SETS)
        self.pods = informers.get(PODS)
        self.nodes = informers.get(NODES)
        self.daemon_sets.add_handler(on_add=self.enqueue,
                                     on_update=lambda old, new: self.enqueue(new),
                                     on_delete=self._ds_deleted)
        self.revisions.add_handler(on_add=self._owned_changed,
                                   on_update=lambda old, new: self._owned_changed(new),
                                   on_delete=self._owned_changed)
        self.pods.add_handler(on_add=self._pod_added, on_update=self._pod_updated,
                              on_delete=self._pod_deleted)
        self.nodes.add_handler(on_add=self._node_added, on_update=self._node_updated,
                               on_delete=lambda node: self._enqueue_all())

    # -- handlers: bookkeeping and enqueueing only ---------------------------------------

    def _ds_deleted(self, ds: Obj) -> None:
        self.expectations.delete(object_key(ds))
        self.enqueue(ds)

    def _owner_key(self, obj: Obj) -> str | None:
        owner = live_controller(obj, "DaemonSet", self.daemon_sets)
        return object_key(owner) if owner is not None else None

    def _owned_changed(self, obj: Obj) -> None:
        key = self._owner_key(obj)
        if key is not None:
            self.queue.add(key)

    def _enqueue_matching(self, pod: Obj) -> None:
        for ds in self.daemon_sets.list(meta(pod).get("namespace") or ""):
            if spec_selector(ds).matches(meta(pod).get("labels")):
                self.enqueue(ds)

    def _pod_added(self, pod: Obj) -> None:
        if is_being_deleted(pod):
            self._pod_deleted(pod)
            return
        key = self._owner_key(pod)
        if key is not None:
            self.expectations.creation_observed(key)
            self.queue.add(key)
        elif controller_ref(pod) is None:
            self._enqueue_matching(pod)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if meta(old).get("resourceVersion") == meta(new).get("resourceVersion"):
            return
        if is_being_deleted(new):
            self._pod_deleted(new)
            return
        for obj in (old, new):
            key = self._owner_key(obj)
            if key is not None:
                self.queue.add(key)
                ds = self.daemon_sets.get(key)
                min_ready = int(_spec(ds or {}).get("minReadySeconds") or 0)
                if min_ready > 0 and is_pod_ready(new) and not is_pod_ready(old):
                    self.queue.add_after(key, min_ready + 1)
        if controller_ref(new) is None:
            self._enqueue_matching(new)

    def _pod_deleted(self, pod: Obj) -> None:
        key = self._owner_key(pod)
        if key is not None:
            self.expectations.deletion_observed(key, object_key(pod))
            self.queue.add(key)

    def _enqueue_all(self) -> None:
        for ds in self.daemon_sets.list():
            self.enqueue(ds)

    def _node_added(self, node: Obj) -> None:
        for ds in self.daemon_sets.list():
            if placement.should_run(_template_spec(ds), node)[0]:
                self.enqueue(ds)

    def _node_updated(self, old: Obj, new: Obj) -> None:
        def placing(node: Obj) -> Any:
            return (meta(node).get("labels"), _spec(node).get("taints"))
        if placing(old) == placing(new):
            return
        for ds in self.daemon_sets.list():
            if placement.should_run(_template_spec(ds), old) != \
                    placement.should_run(_template_spec(ds), new):
                self.enqueue(ds)

    # -- sync ------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        ds = self.daemon_sets.get(key)
        if ds is None:
            self.expectations.delete(key)
            return
        ds = deep_copy(ds)
        selector = spec_selector(ds)
        if selector.empty:
            self.event(ds, "Warning", "SelectingAll",
                       "This daemon set is selecting all pods. A non-empty selector is required.")
            return
        if is_being_deleted(ds):
            return
        current, old_revisions = await self.history.construct(ds, selector)
        digest = (meta(current).get("labels") or {}).get(controller_history.HASH_LABEL, "")
        nodes = self.nodes.list()
        node_pods = await self._node_pods(ds, selector)
        if not self.expectations.satisfied(key):
            await self._write_status(ds, nodes, node_pods, digest, observed=False)
            return
        error = await self._manage(ds, nodes, node_pods, digest, key)
        if error is None and self.expectations.satisfied(key):
            strategy = (_spec(ds).get("updateStrategy") or {}).get("type") or "RollingUpdate"
            if strategy == "RollingUpdate":
                error = await self._rolling_update(ds, nodes, selector, digest, key)
        if error is None:
            live = {(meta(p).get("labels") or {}).get(controller_history.HASH_LABEL)
                    for pods in node_pods.values() for p in pods}
            await self.history.truncate(
                ds, old_revisions,
                lambda r: (meta(r).get("labels") or {}).get(controller_history.HASH_LABEL) in live)
        await self._write_status(ds, nodes, await self._node_pods(ds, selector), digest,
                                 observed=True)
        if error is not None:
            raise error

    async def _node_pods(self, ds: Obj, selector: Selector) -> dict[str, list[Obj]]:
        """Claimed pods by target node (finished pods being deleted left out)."""
        candidates = [p for p in self.pods.list(meta(ds)["namespace"])
                      if not ((p.get("status") or {}).get("phase") in ("Succeeded", "Failed")
                              and is_being_deleted(p))]
        pods = await Claimer(self.client, owner_resource=DAEMON_SETS, owner=ds,
                             selector=selector, resource=PODS).claim(candidates)
        out: dict[str, list[Obj]] = {}
        for pod in pods:
            out.setdefault(placement.target_node(pod), []).append(pod)
        return out

    # -- manage ----------------------------------------------------------------------------

    def _backoff_ready(self, ds: Obj, node: str) -> float:
        """0 when a failed pod on `node` may be replaced now, else seconds to wait."""
        until, delay = self._backoff.get(f"{object_key(ds)}/{node}", (0.0, 0.0))
        now = time.monotonic()
        if now < until:
            return until - now
        delay = min(max(delay * 2, FAILED_POD_BACKOFF[0]), FAILED_POD_BACKOFF[1])
        self._backoff[f"{object_key(ds)}/{node}"] = (now + delay, delay)
        return 0.0

    async def _manage(self, ds: Obj, nodes: list[Obj], node_pods: dict[str, list[Obj]],
                      digest: str, key: str) -> Exception | None:
        template = _template_spec(ds)
        surge = rollout.surge_and_unavailable(ds, 1)[0] > 0
        create_on: list[str] = []
        delete: list[Obj] = []
        known = set()
        for node in nodes:
            name = meta(node).get("name") or ""
            known.add(name)
            run, keep = placement.should_run(template, node)
            pods = node_pods.get(name, [])
            if run and not pods:
                create_on.append(name)
            elif keep:
                running = []
                for pod in pods:
                    if is_being_deleted(pod):
                        continue
                    phase = (pod.get("status") or {}).get("phase")
                    if phase == "Failed":
                        wait = self._backoff_ready(ds, name)
                        if wait > 0:
                            self.queue.add_after(key, wait)
                            continue
                        self.event(ds, "Warning", "FailedDaemonPod",
                                   f"Found failed daemon pod {meta(pod).get('namespace')}/"
                                   f"{meta(pod).get('name')} on node {name}, will try to kill it")
                        delete.append(pod)
                    elif phase == "Succeeded":
                        delete.append(pod)
                    else:
                        running.append(pod)
                delete.extend(self._excess(ds, running, digest, surge))
            elif pods:
                delete.extend(p for p in pods if not is_being_deleted(p))
        # Pods for nodes that are gone and were never scheduled.
        delete.extend(p for name, pods in node_pods.items() if name not in known
                      for p in pods if not _spec(p).get("nodeName") and not is_being_deleted(p))
        return await self._sync_nodes(ds, delete, create_on, digest, key)

    def _excess(self, ds: Obj, running: list[Obj], digest: str, surge: bool) -> list[Obj]:
        """Duplicates on one node: all but the oldest; with surge, the oldest old and new
        one stay until the new one is available."""
        if len(running) <= 1:
            return []
        running = sorted(running, key=_oldest_first)
        if not surge:
            return running[1:]
        generation = daemon_history.template_generation(ds)
        new = [p for p in running if daemon_history.is_pod_updated(p, digest, generation)]
        old = [p for p in running if not daemon_history.is_pod_updated(p, digest, generation)]
        keep = new[:1] + old[:1]
        if new and old and is_pod_available(new[0], int(_spec(ds).get("minReadySeconds") or 0)):
            keep = new[:1]
        return [p for p in running if p not in keep]

    async def _rolling_update(self, ds: Obj, nodes: list[Obj], selector: Selector, digest: str,
                              key: str) -> Exception | None:
        node_pods = await self._node_pods(ds, selector)
        template = _template_spec(ds)
        by_name = {meta(n).get("name"): n for n in nodes}
        desired = sum(1 for n in nodes if placement.should_run(template, n)[0])
        max_surge, max_unavailable = rollout.surge_and_unavailable(ds, desired)
        generation = daemon_history.template_generation(ds)
        min_ready = int(_spec(ds).get("minReadySeconds") or 0)
        step = rollout.rolling_step(
            node_pods, updated=lambda p: daemon_history.is_pod_updated(p, digest, generation),
            available=lambda p: is_pod_available(p, min_ready),
            should_run=lambda n: n in by_name and placement.should_run(template, by_name[n])[0],
            max_surge=max_surge, max_unavailable=max_unavailable, desired=desired)
        return await self._sync_nodes(ds, step.delete, step.create_on, digest, key)

    async def _sync_nodes(self, ds: Obj, delete: list[Obj], create_on: list[str], digest: str,
                          key: str) -> Exception | None:
        create_on = create_on[:self.burst_replicas]
        delete = delete[:self.burst_replicas]
        if not create_on and not delete:
            return None
        self.expectations.expect(key, len(create_on), [object_key(p) for p in delete])
        nodes: Iterator[str] = iter(create_on)
        created, error = await slow_start_batch(
            len(create_on), lambda: self._create_pod(ds, next(nodes), digest))
        for _ in range(len(create_on) - created):
            self.expectations.creation_observed(key)
        results = await asyncio.gather(*(self._delete_pod(ds, p, key) for p in delete),
                                       return_exceptions=True)
        return error or next((r for r in results if isinstance(r, Exception)), None)

    def pod_for_node(self, ds: Obj, node: str, digest: str) -> Obj:
        """The DaemonSet's pod for `node` (labels: template's, revision hash, generation)."""
        template = _spec(ds).get("template") or {}
        tmeta = template.get("metadata") or {}
        labels = dict(tmeta.get("labels") or {})
        generation = daemon_history.template_generation(ds)
        if generation is not None:
            labels[daemon_history.GENERATION_LABEL] = generation
        if digest:
            labels[controller_history.HASH_LABEL] = digest
        pod_meta: Obj = {"generateName": f"{meta(ds)['name']}-",
                         "namespace": meta(ds).get("namespace"), "labels": labels,
                         "ownerReferences": [owner_reference(ds)]}
        for field in ("annotations", "finalizers"):
            if tmeta.get(field):
                pod_meta[field] = deep_copy(tmeta[field])
        return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta,
                "spec": placement.daemon_pod_spec(template.get("spec") or {}, node)}

    async def _create_pod(self, ds: Obj, node: str, digest: str) -> None:
        try:
            await pod_control.create_pod(self.client, self, ds,
                                         self.pod_for_node(ds, node, digest))
        except errors.ApiError as e:
            if not pod_control.namespace_terminating(e):
                raise

    async def _delete_pod(self, ds: Obj, pod: Obj, key: str) -> None:
        await pod_control.delete_pod(self.client, self, self.expectations, ds, pod, key)

    # -- status ----------------------------------------------------------------------------

    def status(self, ds: Obj, nodes: list[Obj], node_pods: dict[str, list[Obj]], digest: str,
               observed: bool) -> Obj:
        """updateDaemonSetStatus: counts over the nodes that should run a pod."""
        template = _template_spec(ds)
        min_ready = int(_spec(ds).get("minReadySeconds") or 0)
        generation = daemon_history.template_generation(ds)
        desired = current = misscheduled = ready = available = updated = 0
        for node in nodes:
            pods = node_pods.get(meta(node).get("name") or "", [])
            if not placement.should_run(template, node)[0]:
                misscheduled += 1 if pods else 0
                continue
            desired += 1
            if not pods:
                continue
            current += 1
            pod = min(pods, key=_oldest_first)
            if is_pod_ready(pod):
                ready += 1
                available += 1 if is_pod_available(pod, min_ready) else 0
            updated += 1 if daemon_history.is_pod_updated(pod, digest, generation) else 0
        old = ds.get("status") or {}
        status: Obj = {"currentNumberScheduled": current, "numberMisscheduled": misscheduled,
                       "desiredNumberScheduled": desired, "numberReady": ready,
                       "observedGeneration": meta(ds).get("generation") if observed
                       else old.get("observedGeneration"),
                       "updatedNumberScheduled": updated, "numberAvailable": available,
                       "numberUnavailable": desired - available}
        for kept in ("collisionCount", "conditions"):
            if old.get(kept) is not None:
                status[kept] = old[kept]
        return {k: v for k, v in status.items() if v is not None}

    async def _write_status(self, ds: Obj, nodes: list[Obj], node_pods: dict[str, list[Obj]],
                            digest: str, *, observed: bool) -> None:
        status = self.status(ds, nodes, node_pods, digest, observed)
        min_ready = int(_spec(ds).get("minReadySeconds") or 0)
        if min_ready > 0 and status["numberReady"] != status["numberAvailable"]:
            self.enqueue_after(ds, min_ready)
        if _nonzero(ds.get("status") or {}) == _nonzero(status):
            return
        updated = deep_copy(ds)
        updated["status"] = status
        try:
            await self.client.update_status(DAEMON_SETS, updated)
        except errors.Conflict:
            fresh = await self.client.get(DAEMON_SETS, meta(ds)["name"],
                                          namespace=meta(ds).get("namespace"))
            fresh["status"] = {**status, **{k: v for k, v in (fresh.get("status") or {}).items()
                                            if k == "collisionCount"}}
            await self.client.update_status(DAEMON_SETS, fresh)
        except errors.NotFound:
            pass


def _nonzero(status: Obj) -> Obj:
    return {k: v for k, v in status.items() if v not in (0, None, [], {})}
