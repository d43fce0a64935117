"""robfig/cron's standard parser and Next, as Kubernetes uses them (incl. DST, zones)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from kybernetes.api.cron import CronError, format_rfc3339, go_duration, parse_standard
from kybernetes.api.field_errors import ErrorList
from kybernetes.apiserver.kinds.batch.cronjob import validate_schedule, validate_time_zone
from kybernetes.controllers.cronjob_times import (
    MANY_MISSED,
    InvalidSchedule,
    job_name,
    most_recent_schedule_time,
    next_requeue_delay,
)

NY = ZoneInfo("America/New_York")
T0 = datetime(2026, 11, 30, 1, 50, 12, tzinfo=UTC)


def nexts(spec: str, start: datetime, n: int = 3) -> list[datetime]:
    schedule, out, t = parse_standard(spec), [], start
    for _ in range(n):
        following = schedule.next_time(t)
        assert following is not None
        t = following
        out.append(t)
    return out


@pytest.mark.parametrize(("spec", "first", "second"), [
    ("*/1 * * * *", datetime(2026, 11, 30, 1, 51, tzinfo=UTC),
     datetime(2026, 11, 30, 1, 52, tzinfo=UTC)),
    ("*/15 * * * *", datetime(2026, 11, 30, 2, 0, tzinfo=UTC),
     datetime(2026, 11, 30, 2, 15, tzinfo=UTC)),
    ("@hourly", datetime(2026, 11, 30, 2, tzinfo=UTC), datetime(2026, 11, 30, 3, tzinfo=UTC)),
    ("@daily", datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 2, tzinfo=UTC)),
    ("@weekly", datetime(2026, 12, 6, tzinfo=UTC), datetime(2026, 12, 13, tzinfo=UTC)),
    ("@monthly", datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
    ("@yearly", datetime(2027, 1, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC)),
    ("0 0 29 FEB ?", datetime(2028, 2, 29, tzinfo=UTC), datetime(2032, 2, 29, tzinfo=UTC)),
    ("0 9 * * mon-fri", datetime(2026, 11, 30, 9, tzinfo=UTC),
     datetime(2026, 12, 1, 9, tzinfo=UTC)),
    # Day of month OR day of week when both are restricted.
    ("0 0 1,15 * MON", datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 7, tzinfo=UTC)),
    # ... but AND when one is a `*` (also `*/2` counts as restricted).
    ("0 0 */2 * MON", datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 3, tzinfo=UTC)),
    ("5-10/5 4 * * *", datetime(2026, 11, 30, 4, 5, tzinfo=UTC),
     datetime(2026, 11, 30, 4, 10, tzinfo=UTC)),
    ("@every 90s", datetime(2026, 11, 30, 1, 51, 42, tzinfo=UTC),
     datetime(2026, 11, 30, 1, 53, 12, tzinfo=UTC)),
])
def test_next_times(spec: str, first: datetime, second: datetime) -> None:
    assert nexts(spec, T0, 2) == [first, second]


def test_time_zone_prefix_and_dst() -> None:
    # 09:00 in New York is 14:00 UTC in winter.
    assert nexts("TZ=America/New_York 0 9 * * *", T0, 1) == [
        datetime(2026, 11, 30, 14, tzinfo=UTC)]
    # Spring forward (2026-03-08): 02:30 does not exist that day and is skipped.
    spring = nexts("CRON_TZ=America/New_York 30 2 * * *", datetime(2026, 3, 7, 12, tzinfo=UTC))
    assert [t.astimezone(NY).isoformat() for t in spring] == [
        "2026-03-09T02:30:00-04:00", "2026-03-10T02:30:00-04:00", "2026-03-11T02:30:00-04:00"]
    # Fall back (2026-11-01): 01:30 happens twice, and so does the job.
    fall = nexts("TZ=America/New_York 30 1 * * *", datetime(2026, 10, 31, 12, tzinfo=UTC))
    assert [t.astimezone(NY).isoformat() for t in fall] == [
        "2026-11-01T01:30:00-04:00", "2026-11-01T01:30:00-05:00", "2026-11-02T01:30:00-05:00"]


@pytest.mark.parametrize(("spec", "message"), [
    ("", "empty spec string"),
    ("bad", "expected exactly 5 fields, found 1: [bad]"),
    ("* * * * * *", "expected exactly 5 fields, found 6: [* * * * * *]"),
    ("61 * * * *", "end of range (61) above maximum (59): 61"),
    ("* * 0 * *", "beginning of range (0) below minimum (1): 0"),
    ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
    ("*/0 * * * *", "step of range should be a positive number: */0"),
    ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
    ("1/2/3 * * * *", "too many slashes: 1/2/3"),
    ("x * * * *", 'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax'),
    ("* * * FOO *", 'failed to parse int from FOO: strconv.Atoi: parsing "FOO": invalid syntax'),
    ("@fortnightly", "unrecognized descriptor: @fortnightly"),
    ("@every x", 'failed to parse duration @every x: time: invalid duration "x"'),
    ("TZ=Mars/Base * * * * *", "provided bad location Mars/Base: unknown time zone Mars/Base"),
])
def test_parse_errors_are_robfigs(spec: str, message: str) -> None:
    with pytest.raises(CronError) as info:
        parse_standard(spec)
    assert str(info.value) == message


def test_go_durations() -> None:
    assert go_duration("1h30m") == 5400
    assert go_duration("1.5s") == 1.5
    with pytest.raises(CronError, match='missing unit in duration "5"'):
        go_duration("5")
    with pytest.raises(CronError, match='unknown unit "d" in duration "5d"'):
        go_duration("5d")


def test_rfc3339() -> None:
    assert format_rfc3339(datetime(2026, 1, 2, 3, 4, 5, 600, tzinfo=UTC)) == "2026-01-02T03:04:05Z"
    assert format_rfc3339(datetime(2026, 7, 1, 9, tzinfo=NY)) == "2026-07-01T09:00:00-04:00"


def causes(fn: object, *args: object, **kw: object) -> list[str]:
    errs = ErrorList()
    fn(errs, *args, **kw)  # type: ignore[operator]
    return [f"{path}: {message}" for path, _, message in errs.causes]


def test_schedule_and_zone_validation() -> None:
    assert causes(validate_schedule, "@every 5m", allow_tz=False, time_zone=None) == []
    assert causes(validate_schedule, "TZ=UTC 0 * * * *", allow_tz=False, time_zone=None) == [
        'spec.schedule: Invalid value: "TZ=UTC 0 * * * *": cannot use TZ or CRON_TZ in '
        "schedule, use timeZone field instead"]
    # An old CronJob that had TZ= in its schedule may keep it, but not with timeZone too.
    assert causes(validate_schedule, "TZ=UTC 0 * * * *", allow_tz=True, time_zone=None) == []
    assert causes(validate_schedule, "TZ=UTC 0 * * * *", allow_tz=True, time_zone="UTC") == [
        'spec.schedule: Invalid value: "TZ=UTC 0 * * * *": cannot use both timeZone field and '
        "TZ or CRON_TZ in schedule"]
    assert causes(validate_time_zone, "Europe/Berlin") == []
    assert causes(validate_time_zone, "Etc/GMT+5") == []
    assert causes(validate_time_zone, "") == [
        'spec.timeZone: Invalid value: "": timeZone must be nil or non-empty string']
    assert causes(validate_time_zone, "../etc/passwd") == [
        'spec.timeZone: Invalid value: "../etc/passwd": unknown time zone ../etc/passwd']
    assert causes(validate_time_zone, "Local") == [
        'spec.timeZone: Invalid value: "Local": timeZone must be an explicit time zone as '
        "defined in https://www.iana.org/time-zones"]
    assert causes(validate_time_zone, "Europe/Atlantis") == [
        'spec.timeZone: Invalid value: "Europe/Atlantis": unknown time zone Europe/Atlantis']


def cj(created: str, *, last: str | None = None, deadline: int | None = None) -> dict:
    spec: dict = {"schedule": "*/1 * * * *"}
    if deadline is not None:
        spec["startingDeadlineSeconds"] = deadline
    return {"metadata": {"name": "c", "creationTimestamp": created}, "spec": spec,
            "status": {"lastScheduleTime": last} if last else {}}


def test_most_recent_and_requeue_with_an_injected_clock() -> None:
    every_minute = parse_standard("*/1 * * * *")
    now = datetime(2026, 11, 30, 2, 0, 30, tzinfo=UTC)
    fresh = cj("2026-11-30T01:59:50Z")
    recent = most_recent_schedule_time(fresh, now, every_minute, include_deadline=True)
    assert recent.time == datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
    assert job_name(fresh, recent.time) == f"c-{int(recent.time.timestamp()) // 60}"
    # Already run at 02:00: nothing due; wake at 02:01 plus 100 ms.
    done = cj("2026-11-30T01:59:50Z", last="2026-11-30T02:00:00Z")
    assert most_recent_schedule_time(done, now, every_minute, include_deadline=True).time is None
    assert next_requeue_delay(done, now, every_minute) == pytest.approx(30.1)
    # Three hours without the controller: many missed, the latest is the one to run.
    old = cj("2026-11-29T23:00:00Z")
    recent = most_recent_schedule_time(old, now, every_minute, include_deadline=True)
    assert (recent.time, recent.missed) == (datetime(2026, 11, 30, 2, 0, tzinfo=UTC), MANY_MISSED)
    # startingDeadlineSeconds moves the earliest time up to now - deadline.
    bounded = cj("2026-11-29T23:00:00Z", deadline=200)
    recent = most_recent_schedule_time(bounded, now, every_minute, include_deadline=True)
    assert recent.missed != MANY_MISSED
    # A schedule that parses but cannot fire (Feb 31) is an error, as in Kubernetes.
    with pytest.raises(InvalidSchedule):
        most_recent_schedule_time(old, now, parse_standard("59 23 31 2 *"), include_deadline=True)


def _cronjob(**spec: object) -> dict:
    base: dict = {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": {"spec": {
        "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}}
    return {"metadata": {"name": "c"}, "spec": {**base, **spec}}


def test_cronjob_defaults_validation_and_table() -> None:
    from kybernetes.apiserver.kinds.batch.cronjob import (
        TABLE,
        cronjob_defaults,
        validate_cronjob,
    )
    obj = _cronjob()
    cronjob_defaults(obj)
    assert {k: obj["spec"][k] for k in ("concurrencyPolicy", "suspend",
                                        "successfulJobsHistoryLimit",
                                        "failedJobsHistoryLimit")} == {
        "concurrencyPolicy": "Allow", "suspend": False, "successfulJobsHistoryLimit": 3,
        "failedJobsHistoryLimit": 1}
    assert causes(validate_cronjob, obj, None) == []
    bad = _cronjob(concurrencyPolicy="Allow", successfulJobsHistoryLimit=-1)
    bad["metadata"]["name"] = "n" * 53
    bad["spec"]["jobTemplate"]["spec"]["selector"] = {"matchLabels": {"a": "b"}}
    bad["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] = "Always"
    found = causes(validate_cronjob, bad, None)
    assert "spec.successfulJobsHistoryLimit: Invalid value: -1: must be greater than or equal " \
           "to 0" in found
    assert 'spec.jobTemplate.spec.selector: Invalid value: {"matchLabels":{"a":"b"}}: ' \
           "`selector` will be auto-generated" in found
    assert any(c.startswith("spec.jobTemplate.spec.template.spec.restartPolicy") for c in found)
    assert f'metadata.name: Invalid value: "{"n" * 53}": must be no more than 52 characters' \
        in found
    # Updates skip the name length (old CronJobs stay editable) and may keep an old TZ=.
    old = _cronjob(concurrencyPolicy="Allow", schedule="TZ=UTC 0 * * * *")
    old["metadata"]["name"] = "n" * 53
    cronjob_defaults(old)
    assert causes(validate_cronjob, old, old) == []
    now = datetime(2026, 11, 30, 2, tzinfo=UTC)
    obj["metadata"]["creationTimestamp"] = "2026-11-30T01:00:00Z"
    obj["status"] = {"active": [{"name": "c-1"}], "lastScheduleTime": "2026-11-30T01:55:00Z"}
    row = TABLE.printer(obj, now)
    assert row[:7] == ["c", "*/5 * * * *", "<none>", "False", 1, "5m", "60m"]
    assert row[7:] == ["c", "busybox", "<none>"]
