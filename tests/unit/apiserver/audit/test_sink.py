"""The audit log file: lumberjack's rotation, backup names and cleanup, on real files."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kybernetes.apiserver.audit.sink import MEGABYTE, LogSink, RotatingFile, backup_name


def line(size: int) -> bytes:
    return b"x" * (size - 1) + b"\n"


def test_backup_names_are_kubes() -> None:
    when = datetime(2026, 11, 30, 1, 2, 3, 456789, tzinfo=UTC)
    assert backup_name(Path("/var/log/audit.log"), when) == Path(
        "/var/log/audit-2026-11-30T01-02-03.456.log")
    assert backup_name(Path("/x/audit"), when).name == "audit-2026-11-30T01-02-03.456"


def test_rotates_before_passing_the_size_and_keeps_max_backups(tmp_path: Path) -> None:
    log = tmp_path / "sub" / "audit.log"
    f = RotatingFile(log, max_size_mb=1, max_backups=2)
    for _ in range(5):
        f.write([line(MEGABYTE // 2)] * 2)  # fills exactly one file per call
        f.write([line(10)])  # ...so this one rotates
    f.close()
    backups = f.backups()
    assert len(backups) == 2
    assert log.stat().st_size == 10 and log.stat().st_mode & 0o777 == 0o600
    assert all(p.stat().st_size <= MEGABYTE for _, p in backups)
    assert (tmp_path / "sub").stat().st_mode & 0o777 == 0o700


def test_max_age_removes_old_backups_by_the_time_in_their_name(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    old = backup_name(log, datetime.now(UTC) - timedelta(days=3))
    recent = backup_name(log, datetime.now(UTC) - timedelta(hours=1))
    unrelated = tmp_path / "audit-notes.log"
    for p in (old, recent, unrelated):
        p.write_text("x\n")
    f = RotatingFile(log, max_size_mb=1, max_age_days=2)
    f.write([line(100)])
    f.rotate()
    f.close()
    assert not old.exists() and recent.exists() and unrelated.exists()
    assert len(f.backups()) == 2


def test_reopening_appends_and_counts_what_is_there(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    log.write_bytes(line(MEGABYTE - 5))
    f = RotatingFile(log, max_size_mb=1)
    f.write([line(10)])
    f.close()
    assert log.stat().st_size == 10 and len(f.backups()) == 1


def test_sink_writes_in_the_background_and_drains_on_close(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    sink = LogSink.open(str(log))
    for i in range(1000):
        sink.write(b'{"n":%d}\n' % i)
    sink.close()
    assert log.read_bytes().count(b"\n") == 1000
    assert not sink.thread.is_alive()
    os.unlink(log)
