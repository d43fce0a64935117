"""The kubelet's stats: ``/stats/summary`` (stats API v1alpha1) and ``/metrics/resource``.

Readings come from the runtime (`usage(container_ids)`: cgroups or /proc for the
process runtime, synthetic figures for the fake one) and, for the node, from
/proc (or the runtime's `node_usage`, when it makes its figures up).
``usageNanoCores`` is a rate, so it needs two readings: a :class:`CpuRates`
sampler keeps the previous reading of every container, pod and the node
(the kubelet takes one every 10 s, and every scrape is one too); before a
second reading exists the rate is the average since the container started.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from kybernetes.kubelet.usage import Usage, boot_time, node_usage

SAMPLE_PERIOD = 10.0
_MIN_WINDOW = 1.0  # readings closer than this to the previous one reuse its rate


@dataclass(frozen=True)
class _Reading:
    at: float
    cpu_ns: int
    rate: int | None


class CpuRates:
    """usageNanoCores from successive cumulative CPU readings, per key."""

    def __init__(self) -> None:
        self._last: dict[str, _Reading] = {}

    def observe(self, key: str, at: float, cpu_ns: int, *, since: float | None) -> int | None:
        """The CPU rate in nanocores at `at`; `since` (a start time) gives a first estimate."""
        prev = self._last.get(key)
        if prev is not None and 0 <= at - prev.at < _MIN_WINDOW and prev.rate is not None:
            return prev.rate
        rate: int | None = None
        if prev is not None and at > prev.at and cpu_ns >= prev.cpu_ns:
            rate = int((cpu_ns - prev.cpu_ns) / (at - prev.at))
        elif since is not None and at > since:
            rate = int(cpu_ns / (at - since))
        self._last[key] = _Reading(at, cpu_ns, rate)
        return rate

    def forget(self, keep: Iterable[str]) -> None:
        """Drop the readings of keys gone (deleted containers and pods)."""
        wanted = set(keep)
        for key in [k for k in self._last if k not in wanted]:
            del self._last[key]


@runtime_checkable
class UsageRuntime(Protocol):
    """A runtime that reads its containers' usage."""

    def usage(self, container_ids: list[str]) -> dict[str, Usage]: ...


@dataclass(frozen=True)
class ContainerRef:
    """A running container of a pod on this node."""

    id: str
    name: str
    started_at: float | None


@dataclass(frozen=True)
class PodRef:
    name: str
    namespace: str
    uid: str
    start_time: str
    containers: tuple[ContainerRef, ...]


def rfc3339(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _cpu(at: str, usage: Usage, rate: int | None) -> dict[str, Any]:
    out: dict[str, Any] = {"time": at, "usageCoreNanoSeconds": usage.cpu_ns}
    if rate is not None:
        out["usageNanoCores"] = rate
    return out


def _memory(at: str, usage: Usage, available: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"time": at}
    if available is not None:
        out["availableBytes"] = available
    out.update(usageBytes=usage.usage_bytes, workingSetBytes=usage.working_set,
               rssBytes=usage.rss, pageFaults=0, majorPageFaults=0)
    return out


def _total(usages: Iterable[Usage]) -> Usage:
    items = list(usages)
    return Usage(sum(u.cpu_ns for u in items), sum(u.working_set for u in items),
                 sum(u.usage_bytes for u in items), sum(u.rss for u in items))


class SummaryBuilder:
    """Builds the Summary of one node from its runtime's readings."""

    def __init__(self, node_name: str, runtime: UsageRuntime, *, start_time: float) -> None:
        self.node_name = node_name
        self.runtime = runtime
        self.start_time = start_time
        self.rates = CpuRates()
        self._boot = boot_time()

    def summary(self, pods: list[PodRef], *, memory_capacity: int | None = None,
                now: float | None = None) -> dict[str, Any]:
        at = time.time() if now is None else now
        stamp = rfc3339(at)
        ids = [c.id for p in pods for c in p.containers]
        readings = self.runtime.usage(ids) if ids else {}
        pod_items, seen = [], []
        for pod in pods:
            containers = []
            for c in pod.containers:
                usage = readings.get(c.id)
                if usage is None:
                    continue
                key = f"{pod.uid}/{c.name}/{c.id}"
                seen.append(key)
                # a stamp taken apart from the reading skews a rate over a short window
                rate = self.rates.observe(key, usage.at or at, usage.cpu_ns,
                                          since=c.started_at)
                containers.append((c, usage, rate))
            if not containers:
                continue
            total = _total(u for _c, u, _r in containers)
            rates = [r for _c, _u, r in containers]
            pod_rate = sum(r for r in rates if r is not None) if any(
                r is not None for r in rates) else None
            seen.append(pod.uid)
            pod_items.append({
                "podRef": {"name": pod.name, "namespace": pod.namespace, "uid": pod.uid},
                "startTime": pod.start_time,
                "containers": [{"name": c.name,
                                "startTime": rfc3339(c.started_at or self.start_time),
                                "cpu": _cpu(stamp, u, r), "memory": _memory(stamp, u)}
                               for c, u, r in containers],
                "cpu": _cpu(stamp, total, pod_rate), "memory": _memory(stamp, total)})
        node = self._node(_total(readings.values()))
        seen.append("node")
        node_rate = self.rates.observe("node", at, node.cpu_ns, since=self._boot)
        self.rates.forget(seen)
        available = None if memory_capacity is None else max(
            memory_capacity - node.working_set, 0)
        return {"node": {"nodeName": self.node_name, "systemContainers": [],
                         "startTime": rfc3339(self.start_time),
                         "cpu": _cpu(stamp, node, node_rate),
                         "memory": _memory(stamp, node, available)},
                "pods": pod_items}

    def _node(self, pods: Usage) -> Usage:
        synthetic = getattr(self.runtime, "node_usage", None)
        return synthetic(pods) if synthetic is not None else node_usage()


_HELP = {
    "container_cpu_usage_seconds_total":
        ("counter", "Cumulative cpu time consumed by the container in core-seconds"),
    "container_memory_working_set_bytes":
        ("gauge", "Current working set of the container in bytes"),
    "container_start_time_seconds":
        ("gauge", "Start time of the container since unix epoch in seconds"),
    "node_cpu_usage_seconds_total":
        ("counter", "Cumulative cpu time consumed by the node in core-seconds"),
    "node_memory_working_set_bytes": ("gauge", "Current working set of the node in bytes"),
    "pod_cpu_usage_seconds_total":
        ("counter", "Cumulative cpu time consumed by the pod in core-seconds"),
    "pod_memory_working_set_bytes": ("gauge", "Current working set of the pod in bytes"),
    "resource_scrape_error":
        ("gauge", "1 if there was an error while getting container metrics, 0 otherwise"),
}


def _ms(stamp: str) -> int:
    return int(dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=dt.UTC).timestamp() * 1000)


def _labels(**labels: str) -> str:
    def esc(v: str) -> str:
        return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return "{" + ",".join(f'{k}="{esc(v)}"' for k, v in labels.items()) + "}"


def resource_metrics(summary: dict[str, Any]) -> str:
    """The kubelet's /metrics/resource (Prometheus text) from a Summary."""
    samples: dict[str, list[str]] = {name: [] for name in _HELP}
    node = summary["node"]
    stamp = _ms(node["cpu"]["time"])
    samples["node_cpu_usage_seconds_total"].append(
        f"{node['cpu']['usageCoreNanoSeconds'] / 1e9} {stamp}")
    samples["node_memory_working_set_bytes"].append(
        f"{node['memory']['workingSetBytes']} {stamp}")
    for pod in summary["pods"]:
        ref = pod["podRef"]
        pod_labels = _labels(namespace=ref["namespace"], pod=ref["name"])
        samples["pod_cpu_usage_seconds_total"].append(
            f"{pod_labels} {pod['cpu']['usageCoreNanoSeconds'] / 1e9} {stamp}")
        samples["pod_memory_working_set_bytes"].append(
            f"{pod_labels} {pod['memory']['workingSetBytes']} {stamp}")
        for c in pod["containers"]:
            labels = _labels(container=c["name"], namespace=ref["namespace"], pod=ref["name"])
            samples["container_cpu_usage_seconds_total"].append(
                f"{labels} {c['cpu']['usageCoreNanoSeconds'] / 1e9} {stamp}")
            samples["container_memory_working_set_bytes"].append(
                f"{labels} {c['memory']['workingSetBytes']} {stamp}")
            samples["container_start_time_seconds"].append(
                f"{labels} {_ms(c['startTime']) / 1000} {stamp}")
    samples["resource_scrape_error"].append("0")
    lines = []
    for name, (kind, text) in _HELP.items():
        lines += [f"# HELP {name} [STABLE] {text}", f"# TYPE {name} {kind}"]
        lines += [f"{name}{s}" if s.startswith("{") else f"{name} {s}" for s in samples[name]]
    return "\n".join(lines) + "\n"
