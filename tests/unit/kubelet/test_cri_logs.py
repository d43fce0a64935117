"""The CRI log format decoded as `kubectl logs` asks: partial records, timestamps,
since, tail and byte limits."""

from __future__ import annotations

from pathlib import Path

from kybernetes.kubelet.runtime.cri_logs import parse_line, read_cri_log

LOG = (b"2026-01-01T00:00:01.000000001Z stdout F first\n"
       b"2026-01-01T00:00:02.5Z stderr P part-\n"
       b"2026-01-01T00:00:02.6Z stderr F one\n"
       b"2026-01-01T00:00:03Z stdout F \n"
       b"not a record\n"
       b"2026-01-01T00:00:04Z stdout F last\n")


async def _read(path: Path, **options: object) -> bytes:
    settings: dict = {"follow": False, "tail_lines": None, "limit_bytes": None,
                      "since_seconds": None, "since_time": None, "timestamps": False,
                      **options}
    return b"".join([c async for c in read_cri_log(path, running=lambda: False,
                                                   **settings)])


def test_parse_line() -> None:
    assert parse_line(b"2026-01-01T00:00:01Z stdout F hello world\n") == \
        ("2026-01-01T00:00:01Z", b"hello world", True)
    assert parse_line(b"2026-01-01T00:00:01Z stderr P x") == ("2026-01-01T00:00:01Z", b"x", False)
    assert parse_line(b"garbage") is None


async def test_decodes_joins_partials_and_skips_junk(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    path.write_bytes(LOG)
    assert await _read(path) == b"first\npart-one\n\nlast\n"


async def test_timestamps_since_tail_limit(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    path.write_bytes(LOG)
    stamped = await _read(path, timestamps=True)
    assert stamped.startswith(b"2026-01-01T00:00:01.000000001Z first\n")
    assert await _read(path, since_time="2026-01-01T00:00:03Z") == b"\nlast\n"
    assert await _read(path, tail_lines=1) == b"last\n"
    assert await _read(path, limit_bytes=8) == b"first\npa"
    assert await _read(tmp_path / "missing.log") == b""
