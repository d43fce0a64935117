"""When a CronJob is due: kube's cronjob controller's time arithmetic, pure.

`most_recent_schedule_time` finds the latest unmet scheduled time between the last
one (or creation, or now - startingDeadlineSeconds) and now, counting missed times
roughly as Kubernetes does (more than 100 is "many": an event, not a list);
`next_requeue_delay` is how long to sleep until the next time (plus 100 ms for clock
skew), so the controller is woken at the schedule instead of polling.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from kybernetes.api import cron
from kybernetes.api.meta import parse_time

Obj = dict[str, Any]
NEXT_SCHEDULE_DELTA = 0.1
NONE_MISSED, FEW_MISSED, MANY_MISSED = "none", "few", "many"


class InvalidSchedule(ValueError):
    """A schedule that parses but never fires twice (e.g. `59 23 31 2 *`)."""


@dataclass(frozen=True)
class MostRecent:
    earliest: datetime
    time: datetime | None
    missed: str


def format_schedule(cj: Obj) -> str:
    """formatSchedule: spec.timeZone becomes a `TZ=` prefix for the parser."""
    spec = cj.get("spec") or {}
    schedule = str(spec.get("schedule") or "")
    zone = spec.get("timeZone")
    if "TZ" in schedule or zone is None:
        return schedule
    try:
        cron.load_zone(str(zone))
    except cron.CronError:
        return schedule
    return f"TZ={zone} {schedule}"


def _next(schedule: cron.Schedule, t: datetime) -> datetime:
    """Schedule.Next in the controller's zone; Go's zero time when it never fires."""
    if t.year == 1:  # the zero time: nothing follows it
        return t
    result = schedule.next_time(t.astimezone(cron.local_zone()))
    return result if result is not None else datetime.min.replace(tzinfo=t.tzinfo)


def most_recent_schedule_time(cj: Obj, now: datetime, schedule: cron.Schedule, *,
                              include_deadline: bool) -> MostRecent:
    meta, spec, status = cj.get("metadata") or {}, cj.get("spec") or {}, cj.get("status") or {}
    earliest = parse_time(status.get("lastScheduleTime")) or parse_time(
        meta.get("creationTimestamp")) or now
    deadline = spec.get("startingDeadlineSeconds")
    if include_deadline and isinstance(deadline, int) and not isinstance(deadline, bool):
        scheduling_deadline = now - timedelta(seconds=deadline)
        if scheduling_deadline > earliest:
            earliest = scheduling_deadline
    t1 = _next(schedule, earliest)
    t2 = _next(schedule, t1)
    if now < t1:
        return MostRecent(earliest, None, NONE_MISSED)
    if now < t2:
        return MostRecent(earliest, t1, NONE_MISSED)
    between = round((t2 - t1).total_seconds())
    if between < 1:
        raise InvalidSchedule("time difference between two schedules is less than 1 second")
    missed_count = int((now - t1).total_seconds()) // between + 1
    most_recent: datetime | None = None
    t = _next(schedule, t1 + timedelta(seconds=(missed_count - 2) * between))
    while t <= now:
        most_recent = t
        t = _next(schedule, t)
    missed = MANY_MISSED if missed_count > 100 else FEW_MISSED if missed_count > 0 else NONE_MISSED
    return MostRecent(earliest, most_recent, missed)


def next_requeue_delay(cj: Obj, now: datetime, schedule: cron.Schedule) -> float:
    """nextScheduleTimeDuration: seconds until the next scheduled time, plus 100 ms."""
    try:
        recent = most_recent_schedule_time(cj, now, schedule, include_deadline=False)
        base = recent.time or (recent.earliest if recent.missed == NONE_MISSED else now)
    except InvalidSchedule:
        base = now
    return (_next(schedule, base) - now).total_seconds() + NEXT_SCHEDULE_DELTA


def job_name(cj: Obj, scheduled: datetime) -> str:
    """`<cronjob>-<scheduled time in minutes since the epoch>` (deterministic: a lock)."""
    return f"{(cj.get('metadata') or {}).get('name', '')}-{int(scheduled.timestamp()) // 60}"
