"""The scheduler: informers feed the cache and the queue; one loop decides, many bind.

Shape (as kube-scheduler's `scheduleOne`):

- **Informers** on pods and nodes (and whatever the plugins read). Event handlers
  only update the cache and the queue: a bound pod goes to the cache, a pending
  pod of one of our profiles to the queue; node changes and deleted pods move
  the unschedulable pods back to be tried again, and a pod bound (or relabelled)
  moves back those that InterPodAffinity or PodTopologySpread turned away.
- **The scheduling cycle** runs one pod at a time on the event loop: pop, decide
  (the profile's plugins), *assume* the pod onto the node in the cache, then hand
  the binding to a background task and take the next pod at once.
- **The binding cycle** POSTs the binding (up to `bind_concurrency` in flight).
  Success: the assumption waits for the watch to confirm it; a Scheduled event.
  409 (already bound) or 404 (gone): forget the assumption and drop the pod, the
  watch tells the truth. Any other error: forget, and retry the pod with back-off
  from its latest version. So a pod is never bound twice by us, and the cache
  never counts a pod on a node it did not land on for longer than one round trip.
- **Failure**: a pod no node fits gets the PodScheduled=False/Unschedulable
  condition and a FailedScheduling event with Kubernetes' message, and waits in
  the unschedulable queue for an event that could help.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Protocol

from kybernetes.api import errors
from kybernetes.api.meta import now_rfc3339, object_key
from kybernetes.api.resources import (
    NODES,
    PERSISTENT_VOLUME_CLAIMS,
    PERSISTENT_VOLUMES,
    PODS,
    Resource,
)
from kybernetes.client import EventRecorder, Informer, InformerFactory
from kybernetes.client.transforms import drop_managed_fields
from kybernetes.client.verbs import Deleter, EventWriter, ListerWatcher, SubresourceCreator
from kybernetes.scheduler.cache import Cache
from kybernetes.scheduler.config import SchedulerConfig
from kybernetes.scheduler.framework import CycleState, Handle
from kybernetes.scheduler.metrics import Metrics
from kybernetes.scheduler.podinfo import PodInfo, pod_info, refresh
from kybernetes.scheduler.preemptor import ApiPreemptor
from kybernetes.scheduler.profile import FitError, NoNodesAvailable, Profile
from kybernetes.scheduler.queue import SchedulingQueue
from kybernetes.tasks import cancel_and_wait, spawn

log = logging.getLogger("kybernetes.scheduler")
Obj = dict[str, Any]
#: Plugins whose verdict a pod bound (or relabelled) elsewhere can change.
POD_PLACEMENT_PLUGINS = ("InterPodAffinity", "PodTopologySpread")


class SchedulerClient(ListerWatcher, EventWriter, SubresourceCreator, Deleter, Protocol):
    """The verbs the scheduler uses: informers, events, the PodScheduled condition
    (a status patch), through its bind plugins the binding subresource, and the
    deletes of preemption victims."""


def _spec_changed(old: Obj, new: Obj) -> bool:
    """Did anything change that could alter a decision (not just status)?"""
    om, nm = old.get("metadata") or {}, new.get("metadata") or {}
    return (old.get("spec") != new.get("spec") or om.get("labels") != nm.get("labels")
            or om.get("annotations") != nm.get("annotations")
            or om.get("deletionTimestamp") != nm.get("deletionTimestamp"))


def _finished(pod: Obj) -> bool:
    """Succeeded and Failed pods hold no resources (kube-scheduler does not cache them)."""
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def _node_facts(node: Obj) -> tuple[Any, ...]:
    spec, status = node.get("spec") or {}, node.get("status") or {}
    ready = [c.get("status") for c in status.get("conditions") or () if c.get("type") == "Ready"]
    return ((node.get("metadata") or {}).get("labels"), spec.get("taints"),
            spec.get("unschedulable"), status.get("allocatable"), ready)


class Scheduler:
    """One scheduler process's state; `await start()`, then `await run()`."""

    def __init__(self, client: SchedulerClient, config: SchedulerConfig, *,
                 bind_concurrency: int = 64, assumed_ttl: float = 30.0) -> None:
        self.client = client
        self.cache = Cache(ttl=assumed_ttl)
        self.queue = SchedulingQueue(initial_backoff=config.pod_initial_backoff,
                                     max_backoff=config.pod_max_backoff)
        self.metrics = Metrics(self.queue.lengths)
        # As kube-scheduler's informers (TrimManagedFields): nothing here reads them.
        self.informers = InformerFactory(client, transform=drop_managed_fields)
        preemptor = ApiPreemptor(client, self.cache, lambda name: self.recorders[name],
                                 self._spawn)
        handle = Handle(client, self.cache, self.informer, preemptor)
        self.profiles = {p.scheduler_name: Profile(
            p, handle, percentage_of_nodes_to_score=config.percentage_of_nodes_to_score)
            for p in config.profiles}
        self.recorders: dict[str, EventRecorder] = {
            name: EventRecorder(client, name) for name in self.profiles}
        self.pods = self.informer(PODS)
        self.nodes = self.informer(NODES)
        self.pods.add_handler(on_add=self._pod_added, on_update=self._pod_updated,
                              on_delete=self._pod_deleted)
        self.nodes.add_handler(on_add=self._node_added, on_update=self._node_updated,
                               on_delete=self._node_deleted)
        for volumes in (PERSISTENT_VOLUME_CLAIMS, PERSISTENT_VOLUMES):  # VolumeBinding's
            self.informer(volumes).add_handler(
                on_add=lambda obj: self._volumes_changed(),
                on_update=lambda old, new: self._volumes_changed())
        self._bind_slots = asyncio.Semaphore(bind_concurrency)
        self._in_flight: set[str] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.scheduled = 0

    def informer(self, resource: Resource) -> Informer:
        """The shared informer for `resource` (created on first use)."""
        return self.informers.get(resource)

    # --- life cycle -----------------------------------------------------------------

    async def start(self) -> None:
        """Start the informers and wait for their first lists."""
        await self.informers.start()
        await self.informers.wait_synced()

    async def run(self) -> None:
        """Schedule until cancelled (call `start()` first)."""
        flusher = spawn(self._flush_loop(), name="scheduler-flush")
        try:
            while True:
                pod = await self.queue.pop()
                if pod is None:
                    return
                self.schedule_one(pod)
                await asyncio.sleep(0)  # let watches and bindings progress
        finally:
            await cancel_and_wait(flusher)

    async def aclose(self) -> None:
        self.queue.close()
        await cancel_and_wait(*self._tasks)
        for recorder in self.recorders.values():
            await recorder.aclose()
        await self.informers.aclose()

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(min(self.queue.next_flush_in() or 1.0, 1.0))
            self.queue.flush()
            for key in self.cache.cleanup_expired():
                log.warning("assumed pod expired without being seen bound", extra={"pod": key})

    # --- event handlers: only the cache and the queue -------------------------------------

    def _responsible(self, pod: Obj) -> bool:
        spec = pod.get("spec") or {}
        return (spec.get("schedulerName") or "default-scheduler") in self.profiles

    def _pod_added(self, pod: Obj) -> None:
        if (pod.get("spec") or {}).get("nodeName"):
            if not _finished(pod):
                self.cache.add_pod(pod_info(pod))
                self.queue.move_rejected_by(POD_PLACEMENT_PLUGINS, "AssignedPodAdd")
        elif self._responsible(pod) and not pod["metadata"].get("deletionTimestamp"):
            if object_key(pod) not in self._in_flight:
                self._enqueue(pod)

    def _enqueue(self, pod: Obj) -> None:
        try:
            self.queue.add(pod_info(pod))
        except ValueError as e:  # a request the cache cannot parse: tell the user once
            log.warning("cannot schedule pod", extra={"pod": object_key(pod), "error": str(e)})

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        meta = new["metadata"]
        key = object_key(new)
        if (new.get("spec") or {}).get("nodeName"):
            self.queue.delete(key)
            if not _finished(new):
                self.cache.update_pod(pod_info(new))
                if (old["metadata"].get("labels") or {}) != (meta.get("labels") or {}):
                    self.queue.move_rejected_by(POD_PLACEMENT_PLUGINS, "AssignedPodUpdate")
            elif self.cache.has_pod(key):  # a finished pod frees its node
                self.cache.remove_pod(key)
                self.queue.move_all_to_active_or_backoff("AssignedPodFinished")
        elif meta.get("deletionTimestamp") or not self._responsible(new):
            self.queue.delete(key)
        elif key not in self._in_flight and (key not in self.queue or _spec_changed(old, new)):
            self._enqueue(new)

    def _pod_deleted(self, pod: Obj) -> None:
        key = object_key(pod)
        self.queue.delete(key)
        self.cache.unnominate(key)
        if self.cache.has_pod(key):
            self.cache.remove_pod(key)
            self.queue.move_all_to_active_or_backoff("AssignedPodDelete")

    def _node_added(self, node: Obj) -> None:
        self.cache.add_node(node)
        self.queue.move_all_to_active_or_backoff("NodeAdd")

    def _node_updated(self, old: Obj, new: Obj) -> None:
        self.cache.update_node(new)
        if _node_facts(old) != _node_facts(new):
            self.queue.move_all_to_active_or_backoff("NodeUpdate")

    def _volumes_changed(self) -> None:
        """A claim or volume was bound or made: pods waiting on one may fit now."""
        self.queue.move_all_to_active_or_backoff("PvcOrPvChange")

    def _node_deleted(self, node: Obj) -> None:
        self.cache.remove_node(node["metadata"]["name"])

    # --- the scheduling cycle -------------------------------------------------------------

    def _still_pending(self, pod: PodInfo) -> bool:
        latest = self.pods.get(pod.key)
        return (latest is not None and latest["metadata"].get("uid") == pod.uid
                and not (latest.get("spec") or {}).get("nodeName")
                and not latest["metadata"].get("deletionTimestamp")
                and not self.cache.has_pod(pod.key))

    def schedule_one(self, pod: PodInfo) -> None:
        """Decide for one pod and start its binding; never raises."""
        profile = self.profiles.get(pod.scheduler_name)
        if profile is None or not self._still_pending(pod):
            return
        cycle = self.queue.scheduling_cycle
        self.cache.unnominate(pod.key)  # its held room must not count against itself
        state = CycleState()
        started = time.perf_counter()
        try:
            node = profile.schedule(pod, state)
        except FitError as e:
            self.metrics.attempt("unschedulable", profile.name, time.perf_counter() - started)
            self._failed(pod, profile, e.message(), cycle=cycle, unschedulable=True,
                         plugins=e.plugins())
            return
        except NoNodesAvailable as e:
            self.metrics.attempt("error", profile.name, time.perf_counter() - started)
            self._failed(pod, profile, str(e), cycle=cycle)
            return
        except Exception as e:
            log.exception("scheduling failed", extra={"pod": pod.key})
            self.metrics.attempt("error", profile.name, time.perf_counter() - started)
            self._failed(pod, profile, f"running scheduler plugins: {e}", cycle=cycle)
            return
        self.metrics.algorithm.observe(time.perf_counter() - started)
        self.cache.assume_pod(pod, node)
        status = profile.run_reserve(state, pod, node)
        if status is not None:
            self.cache.forget_pod(pod.key)
            self._failed(pod, profile, status.message(), cycle=cycle)
            return
        self._in_flight.add(pod.key)
        task = spawn(self._bind(profile, state, pod, node, started=started, cycle=cycle),
                     name=f"bind-{pod.key}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _bind(self, profile: Profile, state: CycleState, pod: PodInfo, node: str, *,
                    started: float, cycle: int) -> None:
        try:
            async with self._bind_slots:
                status = await profile.run_bind(state, pod, node)
            if status is not None:
                raise errors.InternalError(status.message())
        except (errors.Conflict, errors.AlreadyExists, errors.NotFound) as e:
            # Bound by someone else, or gone: the watch has the truth; never retry blindly.
            self._undo(profile, state, pod, node)
            log.info("binding refused, dropping pod", extra={"pod": pod.key, "error": e.message})
            if self._still_pending(pod):
                self._failed(pod, profile, f"binding rejected: {e.message}", cycle=cycle)
            return
        except Exception as e:
            self._undo(profile, state, pod, node)
            message = e.message if isinstance(e, errors.ApiError) else repr(e)
            self.metrics.attempt("error", profile.name, time.perf_counter() - started)
            self._failed(pod, profile, f"binding rejected: {message}", cycle=cycle)
            return
        finally:
            self._in_flight.discard(pod.key)
        self.cache.finish_binding(pod.key)
        self.scheduled += 1
        self.metrics.attempt("scheduled", profile.name, time.perf_counter() - started)
        self.metrics.e2e.observe(time.monotonic() - pod.added_at, result="scheduled",
                                 profile=profile.name)
        self.recorders[profile.name].event(
            pod.pod, "Normal", "Scheduled",
            f"Successfully assigned {pod.namespace}/{pod.name} to {node}")

    def _undo(self, profile: Profile, state: CycleState, pod: PodInfo, node: str) -> None:
        self.cache.forget_pod(pod.key)
        profile.run_unreserve(state, pod, node)

    # --- failures ----------------------------------------------------------------------

    def _failed(self, pod: PodInfo, profile: Profile, message: str, *, cycle: int,
                unschedulable: bool = False, plugins: frozenset[str] = frozenset()) -> None:
        """Record why, and put the latest version of the pod back in the queue."""
        self.recorders[profile.name].event(pod.pod, "Warning", "FailedScheduling", message)
        latest = self.pods.get(pod.key)
        if latest is None or latest["metadata"].get("uid") != pod.uid or \
                (latest.get("spec") or {}).get("nodeName"):
            return
        try:
            fresh = refresh(pod, latest)
        except ValueError:
            return
        self.queue.add_unschedulable(fresh, cycle=cycle, error=not unschedulable,
                                     plugins=plugins)
        reason = "Unschedulable" if unschedulable else "SchedulerError"
        self._spawn(self._set_condition(fresh, reason, message), f"condition-{pod.key}")

    def _spawn(self, coro: Any, name: str) -> None:
        task = spawn(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _set_condition(self, pod: PodInfo, reason: str, message: str) -> None:
        """PodScheduled=False with the reason and message, unless already so."""
        for c in (pod.pod.get("status") or {}).get("conditions") or ():
            if c.get("type") == "PodScheduled" and c.get("status") == "False" and \
                    c.get("reason") == reason and c.get("message") == message:
                return
        condition = {"type": "PodScheduled", "status": "False", "reason": reason,
                     "message": message, "lastProbeTime": None,
                     "lastTransitionTime": now_rfc3339()}
        try:
            await self.client.patch(PODS, pod.name, {"status": {"conditions": [condition]}},
                                    namespace=pod.namespace, patch_type="strategic",
                                    subresource="status")
        except errors.ApiError as e:
            log.debug("cannot update pod condition", extra={"pod": pod.key, "error": str(e)})
