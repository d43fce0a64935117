"""Volume contents swapped in at once, as the Kubernetes kubelet's AtomicWriter does.

A payload (relative path → bytes) is written into a fresh hidden directory
`..<timestamp>` beside the old one; the symlink `..data` is then pointed at it
by renaming a new link over the old (one rename(2), atomic), and each visible
top-level name is a symlink through `..data`. A reader that opens `token`
therefore sees the whole old payload or the whole new one, never half a file;
a refreshed service-account token is never read truncated. An unchanged
payload is not rewritten.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path, PurePosixPath

DATA_DIR = "..data"
_DATA_TMP = "..data_tmp"


class PayloadError(ValueError):
    """A payload path that is absolute, climbs out with `..`, or starts with `..`."""


def _check(rel: str) -> PurePosixPath:
    path = PurePosixPath(rel)
    if not rel or path.is_absolute() or ".." in path.parts or rel.startswith(".."):
        raise PayloadError(f"invalid path {rel!r} in volume payload")
    return path


def _current(target: Path) -> dict[str, bytes] | None:
    """The payload `..data` points at now (None when there is none yet)."""
    data = target / DATA_DIR
    if not data.is_dir():
        return None
    out: dict[str, bytes] = {}
    for path in data.rglob("*"):
        if path.is_file():
            out[path.relative_to(data).as_posix()] = path.read_bytes()
    return out


def _modes_match(target: Path, payload: dict[str, bytes], mode: int) -> bool:
    return all((target / DATA_DIR / rel).stat().st_mode & 0o7777 == mode for rel in payload)


def write_atomic(target: Path, payload: dict[str, bytes], mode: int = 0o644) -> bool:
    """Make `target` show exactly `payload`; False when it already did."""
    paths = {rel: _check(rel) for rel in payload}
    target.mkdir(parents=True, exist_ok=True)
    if _current(target) == payload and _modes_match(target, payload, mode):
        return False
    stamp = time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime())
    fresh = Path(tempfile.mkdtemp(prefix=stamp, dir=target))
    os.chmod(fresh, 0o755)
    for rel, data in payload.items():
        path = fresh / paths[rel]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.chmod(path, mode)
    old = os.readlink(target / DATA_DIR) if (target / DATA_DIR).is_symlink() else None
    tmp_link = target / _DATA_TMP
    tmp_link.unlink(missing_ok=True)
    os.symlink(fresh.name, tmp_link)
    os.replace(tmp_link, target / DATA_DIR)
    visible = {paths[rel].parts[0] for rel in payload}
    for name in visible:
        link = target / name
        if link.is_symlink():
            continue
        if link.is_dir():  # left by a writer that wrote in place
            shutil.rmtree(link)
        else:
            link.unlink(missing_ok=True)
        os.symlink(f"{DATA_DIR}/{name}", link)
    for entry in target.iterdir():
        if not entry.name.startswith("..") and entry.name not in visible and entry.is_symlink():
            entry.unlink()
    if old and old != fresh.name:
        shutil.rmtree(target / old, ignore_errors=True)
    return True
