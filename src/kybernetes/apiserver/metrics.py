"""Prometheus metrics of the API server, in the text exposition format.

Kept to the few series Kubernetes users look at first, with Kubernetes' names:
``apiserver_request_total{verb,resource,code}``,
``apiserver_request_duration_seconds`` (a histogram by verb and resource),
``apiserver_registered_watchers{resource}``, and the process collector's
``process_cpu_seconds_total`` and ``process_resident_memory_bytes`` (what a
benchmark divides by the requests it made). Written by hand: a few series do not need
a client library, and recording is two dict updates per request.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from collections.abc import Callable

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)


def _labels(**labels: str) -> str:
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    def __init__(self, watchers: Callable[[], dict[str, int]] | None = None) -> None:
        self.requests: dict[tuple[str, str, str], int] = defaultdict(int)
        self.durations: dict[tuple[str, str], list[float]] = {}
        self.watchers = watchers or dict

    def observe(self, verb: str, resource: str, code: int, seconds: float) -> None:
        self.requests[(verb, resource, str(code))] += 1
        if verb == "WATCH":
            return
        hist = self.durations.get((verb, resource))
        if hist is None:
            hist = self.durations[(verb, resource)] = [0.0] * (len(BUCKETS) + 2)
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                hist[i] += 1
                break
        hist[-2] += 1  # count
        hist[-1] += seconds  # sum

    def render(self) -> str:
        out = ["# HELP apiserver_request_total Counter of apiserver requests broken out "
               "for each verb, resource and HTTP response code.",
               "# TYPE apiserver_request_total counter"]
        for (verb, resource, code), n in sorted(self.requests.items()):
            out.append(f"apiserver_request_total{_labels(verb=verb, resource=resource, code=code)}"
                       f" {n}")
        out += ["# HELP apiserver_request_duration_seconds Response latency distribution in "
                "seconds for each verb and resource.",
                "# TYPE apiserver_request_duration_seconds histogram"]
        for (verb, resource), hist in sorted(self.durations.items()):
            cumulative = 0.0
            for bound, count in zip(BUCKETS, hist, strict=False):
                cumulative += count
                out.append("apiserver_request_duration_seconds_bucket"
                           f"{_labels(verb=verb, resource=resource, le=str(bound))} "
                           f"{int(cumulative)}")
            base = _labels(verb=verb, resource=resource)
            out.append("apiserver_request_duration_seconds_bucket"
                       f"{_labels(verb=verb, resource=resource, le='+Inf')} {int(hist[-2])}")
            out.append(f"apiserver_request_duration_seconds_sum{base} {hist[-1]:.6f}")
            out.append(f"apiserver_request_duration_seconds_count{base} {int(hist[-2])}")
        out += ["# HELP apiserver_registered_watchers Number of currently registered watchers "
                "for a given resource.", "# TYPE apiserver_registered_watchers gauge"]
        for resource, n in sorted(self.watchers().items()):
            out.append(f"apiserver_registered_watchers{_labels(resource=resource)} {n}")
        out += ["# HELP process_cpu_seconds_total Total user and system CPU time spent in "
                "seconds.", "# TYPE process_cpu_seconds_total counter",
                f"process_cpu_seconds_total {time.process_time():.6f}",
                "# HELP process_resident_memory_bytes Resident memory size in bytes.",
                "# TYPE process_resident_memory_bytes gauge",
                f"process_resident_memory_bytes {_resident_bytes()}"]
        return "\n".join(out) + "\n"


def _resident_bytes() -> int:
    """This process's resident set (0 where /proc is not there)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0
