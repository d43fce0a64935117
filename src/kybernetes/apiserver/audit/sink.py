"""Where audit lines go: a file rotated as kube-apiserver's (lumberjack) is, or stdout.

A request only puts its line on a queue; one writer thread drains it in batches,
so the event loop never waits on the disk, renames or directory listings. The thread
rests :data:`BATCH_INTERVAL` after each batch: woken per line, it would contend for
the GIL with the event loop on every request (measured: ~0.2 ms a request).

Rotation, as lumberjack does it for ``--audit-log-maxsize`` (MB; 0 is its default
of 100 MB): before a write that would pass the size, the file is renamed to
``<name>-<UTC 2006-01-02T15-04-05.000><ext>`` beside it and a new file is opened;
then backups beyond ``--audit-log-maxbackup`` (newest kept) and older than
``--audit-log-maxage`` days are removed (0: keep them all).
"""

from __future__ import annotations

import logging
import os
import queue
import re
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger("kybernetes.apiserver.audit")

MEGABYTE = 1024 * 1024
DEFAULT_MAX_SIZE_MB = 100  # lumberjack's default when MaxSize is 0
BACKUP_TIME_FORMAT = "%Y-%m-%dT%H-%M-%S"  # plus ".mmm": Go's 2006-01-02T15-04-05.000
BATCH_INTERVAL = 0.05  # seconds: at most 20 writes a second, each of all lines queued
_STOP = b""


def backup_name(path: Path, when: datetime) -> Path:
    stamp = when.strftime(BACKUP_TIME_FORMAT) + f".{when.microsecond // 1000:03d}"
    return path.with_name(f"{path.stem}-{stamp}{path.suffix}")


class RotatingFile:
    """The log file, its size, and rotation with cleanup of old backups."""

    def __init__(self, path: Path, *, max_size_mb: int = 0, max_backups: int = 0,
                 max_age_days: int = 0) -> None:
        self.path = path
        self.max_size = (max_size_mb or DEFAULT_MAX_SIZE_MB) * MEGABYTE
        self.max_backups = max_backups
        self.max_age_days = max_age_days
        stamp = r"(\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3})"
        self._backup = re.compile(f"{re.escape(path.stem)}-{stamp}{re.escape(path.suffix)}$")
        self.file = self._open()

    def _open(self) -> BinaryIO:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        f = os.fdopen(fd, "ab", buffering=0)
        self.size = os.fstat(fd).st_size
        return f

    def write(self, lines: list[bytes]) -> None:
        chunk: list[bytes] = []
        pending = 0
        for line in lines:
            if self.size + pending + len(line) > self.max_size and self.size + pending > 0:
                self._flush(chunk)
                chunk, pending = [], 0
                self.rotate()
            chunk.append(line)
            pending += len(line)
        self._flush(chunk)

    def _flush(self, chunk: list[bytes]) -> None:
        if chunk:
            data = memoryview(b"".join(chunk))
            self.size += len(data)
            while data:  # an unbuffered write may be short (a signal, a big batch)
                written = self.file.write(data)
                if not written:
                    raise OSError("the audit log accepted no bytes")
                data = data[written:]

    def rotate(self) -> None:
        self.file.close()
        os.replace(self.path, backup_name(self.path, datetime.now(UTC)))
        self.file = self._open()
        self.remove_old_backups()

    def backups(self) -> list[tuple[datetime, Path]]:
        """(time in the name, path), newest first."""
        found = []
        for entry in self.path.parent.iterdir():
            m = self._backup.match(entry.name)
            if m:
                when = datetime.strptime(m.group(1), BACKUP_TIME_FORMAT + ".%f")
                found.append((when.replace(tzinfo=UTC), entry))
        return sorted(found, reverse=True)

    def remove_old_backups(self) -> None:
        if not self.max_backups and not self.max_age_days:
            return
        backups = self.backups()
        doomed = backups[self.max_backups:] if self.max_backups else []
        if self.max_age_days:
            cutoff = datetime.now(UTC) - timedelta(days=self.max_age_days)
            doomed += [b for b in backups if b[0] < cutoff and b not in doomed]
        for _, path in doomed:
            path.unlink(missing_ok=True)

    def close(self) -> None:
        self.file.close()


class _Stdout:
    def write(self, lines: list[bytes]) -> None:
        sys.stdout.buffer.write(b"".join(lines))
        sys.stdout.buffer.flush()

    def close(self) -> None:
        sys.stdout.buffer.flush()


class LogSink:
    """Lines in, written by a background thread; `close` drains what is queued."""

    def __init__(self, target: RotatingFile | _Stdout) -> None:
        self.target = target
        self.queue: queue.SimpleQueue[bytes] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name="audit-log", daemon=True)
        self.thread.start()

    @classmethod
    def open(cls, path: str, *, max_size_mb: int = 0, max_backups: int = 0,
             max_age_days: int = 0) -> LogSink:
        """`-` is stdout; anything else a file (made 0600, its directory too)."""
        if path == "-":
            return cls(_Stdout())
        return cls(RotatingFile(Path(path), max_size_mb=max_size_mb,
                                max_backups=max_backups, max_age_days=max_age_days))

    def write(self, line: bytes) -> None:
        self.queue.put(line)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch = [self.queue.get()]
            while True:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            if _STOP in batch:  # no audit line is empty
                stopping = True
                batch = [line for line in batch if line]
            try:
                self.target.write(batch)
            except OSError as e:  # a full disk: say so, keep serving (kube drops too)
                log.error("audit log write failed", extra={"error": str(e),
                                                           "events": len(batch)})
            if not stopping:
                time.sleep(BATCH_INTERVAL)
        self.target.close()

    def close(self, timeout: float = 5.0) -> None:
        self.queue.put(_STOP)
        self.thread.join(timeout)
