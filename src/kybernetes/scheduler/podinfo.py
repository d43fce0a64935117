"""What the scheduler needs to know about a pod, parsed once.

A pod is parsed into a :class:`PodInfo` when it enters the queue or the cache,
so the per-node loops compare plain ints and tuples instead of walking dicts and
parsing quantities 5,000 times per pod.

Requests are computed as Kubernetes' `resource.PodRequests` does: the sum of the
app containers and of restartable (sidecar) init containers, against the largest
one-off init container (plus the sidecars started before it), whichever is larger,
plus `spec.overhead`. The "non-zero" requests used for scoring count a container
without a cpu or memory request as 100m / 200Mi, as kube-scheduler does.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from typing import Any

from kybernetes.api.quantity import cpu_millis, memory_bytes, parse_quantity
from kybernetes.scheduler.pod_affinity import PodAffinity, pod_affinity

CPU, MEMORY, EPHEMERAL, PODS = "cpu", "memory", "ephemeral-storage", "pods"
DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Resources:
    """Amounts in base units: cpu in millicores, the rest in bytes or counts."""

    cpu: int = 0
    memory: int = 0
    ephemeral: int = 0
    scalar: tuple[tuple[str, int], ...] = ()

    @property
    def zero(self) -> bool:
        return not (self.cpu or self.memory or self.ephemeral or self.scalar)


def amount(name: str, value: Any) -> int:
    """A quantity in base units (cpu in millicores); ValueError if it is not one."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"{name}: {value!r} is not a quantity")
    return _amount(name, value)


@functools.lru_cache(maxsize=4096)
def _amount(name: str, value: str | int | float) -> int:
    """Memoized: pods repeat the same few values, and parsing is exact (slow) math."""
    q = parse_quantity(value)
    return cpu_millis(q) if name == CPU else memory_bytes(q)


def container_requests(container: dict[str, Any]) -> dict[str, int]:
    """Requests of one container; a limit stands in for a missing request (defaulting)."""
    res = container.get("resources") or {}
    out: dict[str, int] = {}
    for source in (res.get("limits") or {}, res.get("requests") or {}):
        for name, value in source.items():
            out[name] = amount(name, value)
    return out


def _add(into: dict[str, int], other: dict[str, int]) -> None:
    for k, v in other.items():
        into[k] = into.get(k, 0) + v


def _max(into: dict[str, int], other: dict[str, int]) -> None:
    for k, v in other.items():
        if v > into.get(k, 0):
            into[k] = v


def _non_zero(reqs: dict[str, int]) -> dict[str, int]:
    out = dict(reqs)
    out.setdefault(CPU, DEFAULT_MILLI_CPU_REQUEST)
    out.setdefault(MEMORY, DEFAULT_MEMORY_REQUEST)
    return out


def pod_requests(spec: dict[str, Any], *, non_zero: bool = False) -> dict[str, int]:
    """The pod's effective requests, as `resource.PodRequests` computes them."""
    per = _non_zero if non_zero else (lambda r: r)
    total: dict[str, int] = {}
    for c in spec.get("containers") or ():
        _add(total, per(container_requests(c)))
    sidecars: dict[str, int] = {}
    init_peak: dict[str, int] = {}
    for c in spec.get("initContainers") or ():
        reqs = per(container_requests(c))
        if c.get("restartPolicy") == "Always":
            _add(total, reqs)
            _add(sidecars, reqs)
            step = dict(sidecars)
        else:
            step = dict(reqs)
            _add(step, sidecars)
        _max(init_peak, step)
    _max(total, init_peak)
    for name, value in (spec.get("overhead") or {}).items():
        _add(total, {name: amount(name, value)})
    return total


def to_resources(reqs: dict[str, int]) -> Resources:
    scalar = tuple(sorted((k, v) for k, v in reqs.items()
                          if k not in (CPU, MEMORY, EPHEMERAL, PODS) and v))
    return Resources(reqs.get(CPU, 0), reqs.get(MEMORY, 0), reqs.get(EPHEMERAL, 0), scalar)


def host_ports(spec: dict[str, Any]) -> tuple[tuple[str, str, int], ...]:
    """(hostIP, protocol, hostPort) for every container port that asks for a host port."""
    out = []
    for c in (*(spec.get("initContainers") or ()), *(spec.get("containers") or ())):
        for p in c.get("ports") or ():
            if p.get("hostPort"):
                out.append((p.get("hostIP") or "0.0.0.0", p.get("protocol") or "TCP",
                            int(p["hostPort"])))
    return tuple(out)


@dataclass(slots=True)
class PodInfo:
    """A pod plus everything derived from it that the plugins read."""

    pod: dict[str, Any]
    key: str
    namespace: str
    name: str
    uid: str
    labels: dict[str, str]
    node_name: str
    scheduler_name: str
    priority: int
    requests: Resources
    non_zero_cpu: int
    non_zero_memory: int
    host_ports: tuple[tuple[str, str, int], ...]
    tolerations: tuple[tuple[str, str, str, str], ...]  # key, operator, value, effect
    #: Inter-pod (anti-)affinity terms; None for the many pods that have none.
    affinity: PodAffinity | None = None
    #: When the pod was first seen by the scheduler (for e2e latency and FIFO).
    added_at: float = field(default_factory=time.monotonic)
    attempts: int = 0

    @property
    def spec(self) -> dict[str, Any]:
        return self.pod.get("spec") or {}

    @property
    def terminating(self) -> bool:
        return bool(self.pod["metadata"].get("deletionTimestamp"))


def pod_info(pod: dict[str, Any]) -> PodInfo:
    """Parse a pod once; raises ValueError on a quantity that cannot be parsed."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    namespace = meta.get("namespace") or "default"
    name = meta.get("name") or ""
    pod_labels = meta.get("labels") or {}
    non_zero = pod_requests(spec, non_zero=True)
    return PodInfo(
        pod=pod, key=f"{namespace}/{name}", namespace=namespace, name=name,
        uid=meta.get("uid") or "", labels=pod_labels,
        node_name=spec.get("nodeName") or "",
        scheduler_name=spec.get("schedulerName") or "default-scheduler",
        priority=int(spec.get("priority") or 0),
        requests=to_resources(pod_requests(spec)),
        non_zero_cpu=non_zero.get(CPU, 0), non_zero_memory=non_zero.get(MEMORY, 0),
        host_ports=host_ports(spec),
        tolerations=tuple((t.get("key") or "", t.get("operator") or "Equal",
                           t.get("value") or "", t.get("effect") or "")
                          for t in spec.get("tolerations") or ()),
        affinity=pod_affinity(spec, namespace, pod_labels),
    )


def refresh(info: PodInfo, pod: dict[str, Any]) -> PodInfo:
    """A new PodInfo for an updated pod, keeping when it was first seen."""
    fresh = pod_info(pod)
    fresh.added_at = info.added_at
    fresh.attempts = info.attempts
    return fresh
