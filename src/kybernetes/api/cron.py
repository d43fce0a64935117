"""Cron schedules as Kubernetes reads them (robfig/cron v3's standard parser).

CronJob validation and the cronjob controller both parse `spec.schedule` with
`cron.ParseStandard`: five fields (minute hour day-of-month month day-of-week),
`*`/`?`, ranges, steps, lists, month and weekday names, the descriptors
(`@yearly` … `@hourly`, `@every <Go duration>`) and a `TZ=`/`CRON_TZ=` prefix.
The error texts are the library's, since the API server returns them verbatim.
`next_time` walks the fields the way robfig's `SpecSchedule.Next` does, on
absolute time with the zone's wall clock read at every step, so daylight-saving
gaps and repeats behave as in Kubernetes (a 02:30 job is skipped on the spring
gap; a 01:30 job runs twice on the autumn repeat).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class CronError(ValueError):
    """A schedule robfig/cron refuses; str() is the library's message."""


_STAR = 1 << 63

_MONTH_NAMES = {n: i + 1 for i, n in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))}
_DOW_NAMES = {n: i for i, n in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}


@dataclass(frozen=True)
class _Bounds:
    low: int
    high: int
    names: dict[str, int] | None = None


_MINUTES = _Bounds(0, 59)
_HOURS = _Bounds(0, 23)
_DOM = _Bounds(1, 31)
_MONTHS = _Bounds(1, 12, _MONTH_NAMES)
_DOW = _Bounds(0, 6, _DOW_NAMES)


def load_zone(name: str) -> tzinfo:
    """Go's time.LoadLocation: "" and "UTC" are UTC; otherwise the IANA database.

    Raises CronError("unknown time zone NAME") as Go does.
    """
    if name in ("", "UTC"):
        return UTC
    if name == "Local":
        return local_zone()
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise CronError(f"unknown time zone {name}") from None


def local_zone() -> tzinfo:
    """The process's zone (TZ, else /etc/localtime, else UTC), as Go's time.Local."""
    name = os.environ.get("TZ")
    if name is not None:
        try:
            return load_zone(name.lstrip(":")) if name not in ("", "Local") else UTC
        except CronError:
            return UTC
    try:
        with open("/etc/localtime", "rb") as f:
            return ZoneInfo.from_file(f, key="Local")
    except (OSError, ValueError):
        return UTC


class Schedule:
    """A parsed schedule: next_time(t) is the first activation strictly after t."""

    def next_time(self, t: datetime) -> datetime | None:  # pragma: no cover - interface
        raise NotImplementedError


@dataclass(frozen=True)
class ConstantDelay(Schedule):
    """`@every D`: D after t (whole seconds, at least one), as robfig's Every."""

    delay: int

    def next_time(self, t: datetime) -> datetime | None:
        return t.replace(microsecond=0) + timedelta(seconds=self.delay)


@dataclass(frozen=True)
class SpecSchedule(Schedule):
    """Bit sets per field (bit 63 marks a `*`), in `zone` (None: the zone of t)."""

    minute: int
    hour: int
    dom: int
    month: int
    dow: int
    zone: tzinfo | None = None

    def next_time(self, t: datetime) -> datetime | None:
        zone = self.zone or t.tzinfo or UTC
        ts = math.floor(t.timestamp()) + 1  # the upcoming second
        added = False
        year_limit = _wall(ts, zone).year + 5
        while True:
            wall = _wall(ts, zone)
            if wall.year > year_limit:
                return None
            wrapped = False
            while not (1 << wall.month) & self.month:
                if not added:
                    added = True
                    ts = _go_date(wall.year, wall.month, 1, 0, 0, zone)
                    wall = _wall(ts, zone)
                ts = _go_date(wall.year, wall.month + 1, wall.day, wall.hour, wall.minute, zone)
                wall = _wall(ts, zone)
                if wall.month == 1:
                    wrapped = True
                    break
            if wrapped:
                continue
            while not self._day_matches(wall):
                if not added:
                    added = True
                    ts = _go_date(wall.year, wall.month, wall.day, 0, 0, zone)
                    wall = _wall(ts, zone)
                ts = _go_date(wall.year, wall.month, wall.day + 1, wall.hour, wall.minute, zone)
                wall = _wall(ts, zone)
                if wall.hour != 0:  # midnight moved by daylight saving
                    ts += (24 - wall.hour) * 3600 if wall.hour > 12 else -wall.hour * 3600
                    wall = _wall(ts, zone)
                if wall.day == 1:
                    wrapped = True
                    break
            if wrapped:
                continue
            while not (1 << wall.hour) & self.hour:
                if not added:
                    added = True
                    ts = _go_date(wall.year, wall.month, wall.day, wall.hour, 0, zone)
                ts += 3600
                wall = _wall(ts, zone)
                if wall.hour == 0:
                    wrapped = True
                    break
            if wrapped:
                continue
            while not (1 << wall.minute) & self.minute:
                if not added:
                    added = True
                    ts -= ts % 60
                ts += 60
                wall = _wall(ts, zone)
                if wall.minute == 0:
                    wrapped = True
                    break
            if wrapped:
                continue
            if wall.second != 0:  # the seconds field is always 0: on to the next minute
                added = True
                ts += 60 - wall.second
                continue
            return datetime.fromtimestamp(ts, t.tzinfo or UTC)

    def _day_matches(self, wall: datetime) -> bool:
        """Day-of-month and day-of-week: both must match if either is `*`, else either."""
        dom_match = bool((1 << wall.day) & self.dom)
        dow_match = bool((1 << ((wall.weekday() + 1) % 7)) & self.dow)
        if self.dom & _STAR or self.dow & _STAR:
            return dom_match and dow_match
        return dom_match or dow_match


def _wall(ts: int, zone: tzinfo) -> datetime:
    return datetime.fromtimestamp(ts, zone)


def _offset(ts: int, zone: tzinfo) -> int:
    off = datetime.fromtimestamp(ts, zone).utcoffset()
    return int(off.total_seconds()) if off is not None else 0


_EPOCH = date(1970, 1, 1)


def _go_date(year: int, month: int, day: int, hour: int, minute: int, zone: tzinfo) -> int:
    """Go's time.Date: out-of-range month/day carry over; a wall time in a gap or
    repeat takes the offset Go picks (looked up at the naive time, then again)."""
    year += (month - 1) // 12
    month = (month - 1) % 12 + 1
    days = (date(year, month, 1) - _EPOCH).days + day - 1
    unix = days * 86400 + hour * 3600 + minute * 60
    first = _offset(unix, zone)
    second = _offset(unix - first, zone)
    return unix - (first if first == second else second)


# ---------------------------------------------------------------- parsing


def parse_standard(spec: str) -> Schedule:
    """robfig/cron's ParseStandard (minute hour dom month dow, descriptors, TZ=)."""
    if not spec:
        raise CronError("empty spec string")
    zone: tzinfo | None = None
    if spec.startswith(("TZ=", "CRON_TZ=")):
        space = spec.find(" ")
        if space < 0:
            raise CronError(f"missing schedule after time zone: {spec}")
        name = spec[spec.index("=") + 1:space]
        try:
            zone = load_zone(name)
        except CronError as e:
            raise CronError(f"provided bad location {name}: {e}") from None
        spec = spec[space:].strip()
    if spec.startswith("@"):
        return _descriptor(spec, zone)
    fields = spec.split()
    if len(fields) != 5:
        raise CronError(f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]")
    return SpecSchedule(
        minute=_field(fields[0], _MINUTES), hour=_field(fields[1], _HOURS),
        dom=_field(fields[2], _DOM), month=_field(fields[3], _MONTHS),
        dow=_field(fields[4], _DOW), zone=zone)


def _all(b: _Bounds) -> int:
    return _bits(b.low, b.high, 1) | _STAR


def _descriptor(spec: str, zone: tzinfo | None) -> Schedule:
    one = {"minute": 1, "hour": 1, "dom": 1 << 1, "month": 1 << 1}
    everything = {"minute": _all(_MINUTES), "hour": _all(_HOURS), "dom": _all(_DOM),
                  "month": _all(_MONTHS), "dow": _all(_DOW)}
    plans: dict[str, tuple[str, ...]] = {  # fields pinned to their first value
        "@yearly": ("minute", "hour", "dom", "month"),
        "@annually": ("minute", "hour", "dom", "month"),
        "@monthly": ("minute", "hour", "dom"), "@weekly": ("minute", "hour", "dow"),
        "@daily": ("minute", "hour"), "@midnight": ("minute", "hour"), "@hourly": ("minute",),
    }
    if spec in plans:
        values = dict(everything)
        for name in plans[spec]:
            values[name] = one.get(name, 1)
        return SpecSchedule(zone=zone, **values)
    if spec.startswith("@every "):
        text = spec[len("@every "):]
        try:
            seconds = go_duration(text)
        except CronError as e:
            raise CronError(f"failed to parse duration {spec}: {e}") from None
        return ConstantDelay(max(1, math.floor(seconds)))
    raise CronError(f"unrecognized descriptor: {spec}")


def _field(text: str, b: _Bounds) -> int:
    bits = 0
    for expr in (p for p in text.split(",") if p):
        bits |= _range(expr, b)
    return bits


def _range(expr: str, b: _Bounds) -> int:
    range_and_step = expr.split("/")
    low_high = range_and_step[0].split("-")
    extra = 0
    if low_high[0] in ("*", "?"):
        start, end, extra = b.low, b.high, _STAR
    else:
        start = _int_or_name(low_high[0], b.names)
        if len(low_high) == 1:
            end = start
        elif len(low_high) == 2:
            end = _int_or_name(low_high[1], b.names)
        else:
            raise CronError(f"too many hyphens: {expr}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _uint(range_and_step[1])
        if len(low_high) == 1:  # "N/step" means "N-max/step"
            end = b.high
        if step > 1:
            extra = 0
    else:
        raise CronError(f"too many slashes: {expr}")
    if start < b.low:
        raise CronError(f"beginning of range ({start}) below minimum ({b.low}): {expr}")
    if end > b.high:
        raise CronError(f"end of range ({end}) above maximum ({b.high}): {expr}")
    if start > end:
        raise CronError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise CronError(f"step of range should be a positive number: {expr}")
    return _bits(start, end, step) | extra


def _int_or_name(expr: str, names: dict[str, int] | None) -> int:
    if names is not None and expr.lower() in names:
        return names[expr.lower()]
    return _uint(expr)


_GO_INT = re.compile(r"[+-]?[0-9]+")


def _uint(expr: str) -> int:
    if not _GO_INT.fullmatch(expr):
        raise CronError(f"failed to parse int from {expr}: strconv.Atoi: parsing "
                        f"{_quote(expr)}: invalid syntax")
    num = int(expr)
    if num < 0:
        raise CronError(f"negative number ({num}) not allowed: {expr}")
    return num


def _bits(low: int, high: int, step: int) -> int:
    bits = 0
    for i in range(low, high + 1, step):
        bits |= 1 << i
    return bits


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0,
                   "m": 60.0, "h": 3600.0}
_DURATION_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)([^0-9.]*)")


def go_duration(text: str) -> float:
    """Seconds in a Go duration string (time.ParseDuration), with Go's error texts."""
    orig, s, sign = text, text, 1.0
    if s[:1] in ("-", "+"):
        sign = -1.0 if s[0] == "-" else 1.0
        s = s[1:]
    if s == "0":
        return 0.0
    if not s:
        raise CronError(f"time: invalid duration {_quote(orig)}")
    total = 0.0
    while s:
        m = _DURATION_PART.match(s)
        number, unit = (m.group(1), m.group(2)) if m else ("", "")
        if number in ("", "."):
            raise CronError(f"time: invalid duration {_quote(orig)}")
        if not unit:
            raise CronError(f"time: missing unit in duration {_quote(orig)}")
        if unit not in _DURATION_UNITS:
            raise CronError(f"time: unknown unit {_quote(unit)} in duration {_quote(orig)}")
        total += float(number) * _DURATION_UNITS[unit]
        s = s[len(number) + len(unit):]
    return sign * total


def format_rfc3339(t: datetime) -> str:
    """Go's time.RFC3339 ("Z" for a zero offset, else ±hh:mm), whole seconds."""
    text = t.replace(microsecond=0).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text
