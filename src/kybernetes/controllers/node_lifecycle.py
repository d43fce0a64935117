"""Node lifecycle: notice nodes that stopped talking, fence them, move their pods.

A kubelet proves it is alive two ways: renewing its Lease in
`kube-node-lease` and posting its Ready condition's lastHeartbeatTime. As the
Kubernetes node lifecycle controller, we note *by our own clock* when either
last changed (the probe time), so clock skew between machines does not matter
and a restarted controller gives every node a fresh grace period.

Every `--node-monitor-period` each node is checked (and at once on any change):

- silent for longer than `--node-monitor-grace-period`: its Ready,
  MemoryPressure, DiskPressure and PIDPressure conditions become Unknown
  (reason NodeStatusUnknown, "Kubelet stopped posting node status."), and its
  pods' Ready condition becomes False at once, so Services stop sending them
  traffic;
- taints follow the Ready condition: `node.kubernetes.io/unreachable` for
  Unknown and `node.kubernetes.io/not-ready` for False, each NoSchedule (the
  scheduler avoids the node) and NoExecute (with timeAdded); both are removed
  when the node is Ready again;
- under a NoExecute taint a pod is deleted once the taint is older than its
  matching toleration's tolerationSeconds (one without tolerationSeconds keeps
  it forever); its controller then creates a replacement that the scheduler
  puts elsewhere. `--pod-eviction-timeout` applies to pods with no matching
  toleration and to pods whose only one is the default that the API server's
  DefaultTolerationSeconds admission adds (Exists, NoExecute, 300 s): so the
  flag sets the cluster's default, and a pod's own tolerationSeconds wins.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from typing import Any

from kybernetes.api import errors
from kybernetes.api.meta import (
    is_being_deleted,
    is_pod_ready,
    now_rfc3339,
    object_key,
    parse_time,
    pod_condition,
)
from kybernetes.api.resources import LEASES, NODES, PODS
from kybernetes.client import ApiClient, InformerFactory
from kybernetes.controllers.base import Controller, Obj, deep_copy, for_each, meta
from kybernetes.tasks import cancel_and_wait, spawn

log = logging.getLogger("kybernetes.controllers.node_lifecycle")

NODE_LEASE_NAMESPACE = "kube-node-lease"
UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY = "node.kubernetes.io/not-ready"
WATCHED_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")


def _ready_status(node: Obj) -> str | None:
    return (pod_condition(node, "Ready") or {}).get("status")


def desired_taints(ready: str | None) -> set[tuple[str, str]]:
    """The (key, effect) taints a node with this Ready status should carry."""
    key = {"Unknown": UNREACHABLE, "False": NOT_READY}.get(ready or "")
    return {(key, "NoSchedule"), (key, "NoExecute")} if key else set()


DEFAULT_TOLERATION_SECONDS = 300


def _is_admission_default(tol: Obj) -> bool:
    return (tol.get("operator") == "Exists" and tol.get("effect") == "NoExecute"
            and tol.get("key") in (UNREACHABLE, NOT_READY)
            and tol.get("tolerationSeconds") == DEFAULT_TOLERATION_SECONDS)


def toleration_seconds(pod: Obj, taint: Obj) -> float | None:
    """Seconds `pod` may stay under `taint`: None forever, -1 for the cluster default.

    The default applies with no matching toleration, or when the only match is the
    one DefaultTolerationSeconds admission added.
    """
    matching = []
    for tol in (pod.get("spec") or {}).get("tolerations") or ():
        if tol.get("effect") not in (None, "", taint.get("effect")):
            continue
        if tol.get("operator") == "Exists":
            if tol.get("key") not in (None, "", taint.get("key")):
                continue
        elif tol.get("key") != taint.get("key") or (tol.get("value") or "") != (
                taint.get("value") or ""):
            continue
        matching.append(tol)
    if not matching or all(_is_admission_default(t) for t in matching):
        return -1
    seconds = [t.get("tolerationSeconds") for t in matching]
    if any(s is None for s in seconds):
        return None
    return max(0.0, float(min(seconds)))


class NodeLifecycleController(Controller):
    """Marks silent nodes Unknown, taints them and evicts their pods."""

    name = "nodelifecycle"
    component = "node-controller"
    default_workers = 2

    def __init__(self, client: ApiClient, informers: InformerFactory, *,
                 grace_period: float = 40.0, monitor_period: float = 5.0,
                 eviction_timeout: float = 300.0) -> None:
        super().__init__(client, informers)
        self.grace_period = grace_period
        self.monitor_period = monitor_period
        self.eviction_timeout = eviction_timeout
        self._heartbeats: dict[str, tuple[Any, float]] = {}  # node -> (signal, seen at)
        self.nodes = informers.get(NODES)
        self.leases = informers.get(LEASES)
        self.pods = informers.get(PODS)
        self.pods.add_index("nodeName", lambda p: [n] if (
            n := (p.get("spec") or {}).get("nodeName")) else [])
        self.nodes.add_handler(on_add=self.enqueue, on_update=lambda o, n: self.enqueue(n),
                               on_delete=self._node_deleted)
        self.leases.add_handler(on_add=self._lease_changed,
                                on_update=lambda o, n: self._lease_changed(n))
        self.pods.add_handler(on_add=self._pod_added)

    # -- handlers ---------------------------------------------------------------------

    def _lease_changed(self, lease: Obj) -> None:
        if meta(lease).get("namespace") == NODE_LEASE_NAMESPACE:
            self.queue.add(meta(lease)["name"])

    def _node_deleted(self, node: Obj) -> None:
        self._heartbeats.pop(meta(node).get("name", ""), None)

    def _pod_added(self, pod: Obj) -> None:
        node = (pod.get("spec") or {}).get("nodeName")
        if node and node in self._heartbeats:
            self.queue.add(node)

    # -- health -----------------------------------------------------------------------

    def _signal(self, node: Obj) -> tuple[Any, Any]:
        """What changes while the kubelet is alive: lease renewTime and heartbeat."""
        name = meta(node)["name"]
        lease = self.leases.get(f"{NODE_LEASE_NAMESPACE}/{name}")
        renew = ((lease or {}).get("spec") or {}).get("renewTime")
        return renew, (pod_condition(node, "Ready") or {}).get("lastHeartbeatTime")

    def silent_for(self, node: Obj) -> float:
        """Seconds since this node's kubelet was last seen alive (our clock)."""
        name = meta(node)["name"]
        signal = self._signal(node)
        seen = self._heartbeats.get(name)
        now = time.monotonic()
        if seen is None or seen[0] != signal:
            self._heartbeats[name] = (signal, now)
            return 0.0
        return now - seen[1]

    async def run(self, workers: int | None = None) -> None:
        monitor = spawn(self._monitor(), name="node-monitor")
        try:
            await super().run(workers)
        finally:
            await cancel_and_wait(monitor)

    async def _monitor(self) -> None:
        while True:
            for key in self.nodes.keys():
                self.queue.add(key)
            await asyncio.sleep(self.monitor_period)

    # -- sync -------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        node = self.nodes.get(key)
        if node is None:
            self._heartbeats.pop(key, None)
            return
        # 1. A node silent past the grace period is Unknown.
        silent = self.silent_for(node)
        if silent > self.grace_period and _ready_status(node) != "Unknown":
            node = await self._mark_unknown(node)
        ready = _ready_status(node)
        # 2. Taints follow the Ready condition (NoSchedule keeps new pods away).
        node = await self._reconcile_taints(node, desired_taints(ready))
        # 3. Its pods stop receiving traffic at once.
        if ready == "Unknown":
            await self._mark_pods_not_ready(key)
        # 4. Pods under a NoExecute taint are evicted when their time is up.
        await self._evict(node)
        if silent <= self.grace_period and ready != "Unknown":
            self.queue.add_after(key, self.grace_period - silent + 0.05)

    async def _mark_unknown(self, node: Obj) -> Obj:
        updated = deep_copy(node)
        now = now_rfc3339()
        conditions = updated.setdefault("status", {}).setdefault("conditions", [])
        by_type = {c.get("type"): c for c in conditions}
        for ctype in WATCHED_CONDITIONS:
            condition = by_type.get(ctype)
            if condition is None:
                if ctype != "Ready":
                    continue
                condition = {"type": "Ready", "reason": "NodeStatusNeverUpdated",
                             "message": "Kubelet never posted node status."}
                conditions.append(condition)
            else:
                condition.update(reason="NodeStatusUnknown",
                                 message="Kubelet stopped posting node status.")
            condition.update(status="Unknown", lastTransitionTime=now)
            condition.setdefault("lastHeartbeatTime", meta(node).get("creationTimestamp"))
        result = await self.client.update_status(NODES, updated)
        log.info("node stopped posting status", extra={"node": meta(node)["name"]})
        self.event(node, "Normal", "NodeNotReady",
                   f"Node {meta(node)['name']} status is now: NodeNotReady")
        return result

    async def _mark_pods_not_ready(self, node_name: str) -> None:
        pods = [p for p in self.pods.by_index("nodeName", node_name)
                if is_pod_ready(p) and not is_being_deleted(p)]
        await for_each(pods, self._mark_pod_not_ready)

    async def _mark_pod_not_ready(self, pod: Obj) -> None:
        updated = deep_copy(pod)
        for condition in updated["status"]["conditions"]:
            if condition.get("type") == "Ready":
                condition.update(status="False", lastTransitionTime=now_rfc3339())
        try:
            await self.client.update_status(PODS, updated)
        except errors.NotFound:
            return

    async def _reconcile_taints(self, node: Obj, wanted: set[tuple[str, str]]) -> Obj:
        managed = {UNREACHABLE, NOT_READY}
        taints = list((node.get("spec") or {}).get("taints") or [])
        have = {(t.get("key"), t.get("effect")) for t in taints if t.get("key") in managed}
        if have == wanted:
            return node
        kept = [t for t in taints if t.get("key") not in managed
                or (t.get("key"), t.get("effect")) in wanted]
        now = now_rfc3339()
        for key, effect in sorted(wanted - have):
            taint = {"key": key, "effect": effect}
            if effect == "NoExecute":
                taint["timeAdded"] = now
            kept.append(taint)
        updated = deep_copy(node)
        updated.setdefault("spec", {})["taints"] = kept or None
        result = await self.client.update(NODES, updated)
        log.info("node taints changed", extra={"node": meta(node)["name"],
                                               "taints": ",".join(k for k, _ in sorted(wanted))})
        return result

    async def _evict(self, node: Obj) -> None:
        taints = [t for t in (node.get("spec") or {}).get("taints") or ()
                  if t.get("effect") == "NoExecute" and t.get("key") in (UNREACHABLE, NOT_READY)]
        if not taints:
            return
        name = meta(node)["name"]
        now = dt.datetime.now(dt.UTC)
        next_check: float | None = None
        due = []
        for pod in self.pods.by_index("nodeName", name):
            if is_being_deleted(pod):
                continue
            wait = self._time_left(pod, taints, now)
            if wait is None:
                continue
            if wait > 0:
                next_check = wait if next_check is None else min(next_check, wait)
                continue
            due.append(pod)
        await for_each(due, self._delete_pod)
        if next_check is not None:
            self.queue.add_after(name, next_check + 0.05)

    def _time_left(self, pod: Obj, taints: list[Obj], now: dt.datetime) -> float | None:
        """Seconds until `pod` must go (<= 0: now), None if it tolerates forever."""
        left: float | None = None
        for taint in taints:
            allowed = toleration_seconds(pod, taint)
            if allowed is None:
                continue
            if allowed < 0:
                allowed = self.eviction_timeout
            added = parse_time(taint.get("timeAdded")) or now
            remaining = allowed - (now - added).total_seconds()
            left = remaining if left is None else min(left, remaining)
        return left

    async def _delete_pod(self, pod: Obj) -> None:
        pmeta = meta(pod)
        self.event(pod, "Normal", "TaintManagerEviction",
                   f"Marking for deletion Pod {object_key(pod)}")
        try:
            await self.client.delete(PODS, pmeta["name"], namespace=pmeta.get("namespace"),
                                     preconditions={"uid": pmeta.get("uid")})
        except (errors.NotFound, errors.Conflict):
            return
        log.info("evicted pod from lost node", extra={"pod": object_key(pod),
                                                      "node": (pod.get("spec") or {}).get(
                                                          "nodeName")})
