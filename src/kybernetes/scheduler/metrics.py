"""The scheduler's metrics, in the Prometheus text format, under kube-scheduler's names.

- `scheduler_schedule_attempts_total{result, profile}`: scheduled, unschedulable, error.
- `scheduler_scheduling_attempt_duration_seconds{result, profile}`: one cycle's
  decision (histogram).
- `scheduler_scheduling_algorithm_duration_seconds`: filter + score only (histogram).
- `scheduler_e2e_scheduling_duration_seconds{result, profile}`: from the pod
  entering the queue to its binding (histogram).
- `scheduler_pending_pods{queue}`: active, backoff, unschedulable (gauge, read
  from the queue at scrape time).

No client library: a histogram is a dozen lines, and the hot path only appends.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable

BUCKETS = (0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024,
           2.048, 4.096, 8.192, 16.384)


class Histogram:
    def __init__(self, name: str, help_: str) -> None:
        self.name, self.help = name, help_
        self._series: dict[tuple[tuple[str, str], ...], list[float]] = {}

    def observe(self, value: float, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = [0.0] * (len(BUCKETS) + 3)  # buckets, +Inf, sum, count
        series[bisect.bisect_left(BUCKETS, value)] += 1
        series[-2] += value
        series[-1] += 1

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        for key, series in sorted(self._series.items()):
            base = ",".join(f'{k}="{v}"' for k, v in key)
            cumulative = 0.0
            for bound, n in zip((*BUCKETS, "+Inf"), series[:-2], strict=True):
                cumulative += n
                sep = "," if base else ""
                lines.append(f'{self.name}_bucket{{{base}{sep}le="{bound}"}} {int(cumulative)}')
            lines.append(f"{self.name}_sum{{{base}}} {series[-2]:.6f}")
            lines.append(f"{self.name}_count{{{base}}} {int(series[-1])}")
        return lines


class Metrics:
    """All of one scheduler process's metrics."""

    def __init__(self, pending: Callable[[], dict[str, int]] | None = None) -> None:
        self.attempts: defaultdict[tuple[str, str], int] = defaultdict(int)
        self.attempt_duration = Histogram(
            "scheduler_scheduling_attempt_duration_seconds",
            "Scheduling attempt latency in seconds (scheduling algorithm + binding)")
        self.algorithm = Histogram("scheduler_scheduling_algorithm_duration_seconds",
                                   "Scheduling algorithm latency in seconds")
        self.e2e = Histogram("scheduler_e2e_scheduling_duration_seconds",
                             "E2e scheduling latency in seconds, queue entry to binding")
        self.pending = pending

    def attempt(self, result: str, profile: str, seconds: float) -> None:
        self.attempts[(result, profile)] += 1
        self.attempt_duration.observe(seconds, result=result, profile=profile)

    def render(self) -> str:
        lines = ["# HELP scheduler_schedule_attempts_total Number of attempts to schedule "
                 "pods, by the result.", "# TYPE scheduler_schedule_attempts_total counter"]
        for (result, profile), n in sorted(self.attempts.items()):
            lines.append(f'scheduler_schedule_attempts_total{{profile="{profile}",'
                         f'result="{result}"}} {n}')
        lines += self.attempt_duration.render() + self.algorithm.render() + self.e2e.render()
        if self.pending is not None:
            lines += ["# HELP scheduler_pending_pods Number of pending pods, by the queue "
                      "type.", "# TYPE scheduler_pending_pods gauge"]
            lines += [f'scheduler_pending_pods{{queue="{q}"}} {n}'
                      for q, n in sorted(self.pending().items())]
        return "\n".join(lines) + "\n"
