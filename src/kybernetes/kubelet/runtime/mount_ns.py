"""A process-runtime container's volumes, mounted only in its own mount namespace.

A container sees the host's files (the process runtime runs no images), with
its volumes bind-mounted at their mountPaths. A mountPath that exists on the
host is simply mounted over in the container's private (rslave) namespace. One
that does not exist (`/data`, `/srv/x/y`, the service-account token's
`/var/run/secrets/...`) needs a mount point, and making it on the host would
change the host and let one container's removal detach another's mount.

Design: *shadow the nearest existing ancestor.* For a missing path, take its
nearest existing (symlink-resolved) ancestor A; in the container's namespace,
mount a small tmpfs over A (A's mode and owner) and bind every entry of the
original A back in place (directories and files recursively bound, symlinks
re-created), then create the missing directories in that tmpfs. The container
still sees all of A's contents, the host's A is untouched, and nothing is ever
created or removed on the host. The original A is reached through an O_PATH
descriptor opened before the tmpfs covers it. When A is `/` itself, the tmpfs
is mounted on `<kubelet root>/runtime/newroot` (one empty directory shared by
all containers, only ever mounted over inside their namespaces), filled the
same way from `/`, and made the namespace's root with `pivot_root`, so `nsenter
-m` (exec, probes) lands in the same view.

Why not a full per-container root view: a bind of the host's `/` is the host's
filesystem, so mount points made in it are made on the host all the same; it
would need an overlay, whose lower layer cannot include the host's other
mounts (/proc, /sys, /run, ...). Shadowing only the ancestors that need it
keeps the view identical to today's elsewhere and costs one tmpfs and a few
dozen binds for the few containers that need it.

The plan (which ancestors, their entries, what to create) is computed in the
parent; the child between fork and exec only makes system calls.
"""

from __future__ import annotations

import ctypes
import os
import platform
from dataclasses import dataclass, field
from pathlib import Path

_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNS = 0x00020000
MS_RDONLY, MS_REMOUNT, MS_BIND, MS_REC, MS_SLAVE = 1, 32, 4096, 16384, 1 << 19
MNT_DETACH = 2
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "arm64": 41}.get(platform.machine(), 155)
SHADOW_TMPFS_SIZE = "16m"  # holds only mount points and whatever the container writes there


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


@dataclass
class _Shadow:
    """A host directory covered by a tmpfs in the container, its entries bound back."""

    path: str
    options: bytes  # tmpfs mount data: mode, uid, gid, size
    dirs: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # anything not a directory or symlink
    links: list[tuple[str, str]] = field(default_factory=list)  # (name, target)


@dataclass
class _Mount:
    src: bytes
    dst: bytes
    read_only: bool
    create: str  # the path to make first ("" if it exists), a directory or a file
    is_dir: bool


@dataclass
class MountPlan:
    """What the child does in its new mount namespace; see the module docstring."""

    new_root: str
    root: _Shadow | None = None
    shadows: list[_Shadow] = field(default_factory=list)
    mounts: list[_Mount] = field(default_factory=list)


def _nearest_existing(path: str) -> str:
    while not os.path.lexists(path):
        path = os.path.dirname(path)
    return path


def _under(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip("/") + "/")


def _shadow(path: str) -> _Shadow:
    st = os.stat(path)
    shadow = _Shadow(path, (f"mode={st.st_mode & 0o7777:o},uid={st.st_uid},gid={st.st_gid},"
                            f"size={SHADOW_TMPFS_SIZE}").encode())
    with os.scandir(path) as entries:
        for entry in entries:
            if entry.is_symlink():
                shadow.links.append((entry.name, os.readlink(entry.path)))
            elif entry.is_dir(follow_symlinks=False):
                shadow.dirs.append(entry.name)
            else:
                shadow.files.append(entry.name)
    return shadow


def plan(mounts: list[tuple[str, str, bool]], new_root: Path) -> MountPlan:
    """The shadows and binds that put `mounts` (host path, container path, read
    only) in place without touching the host; raises OSError on unreadable paths."""
    result = MountPlan(new_root=str(new_root))
    ancestors: set[str] = set()
    seen: list[str] = []
    for src, dst, ro in mounts:
        is_dir = os.path.isdir(src)
        if any(_under(dst, earlier) for earlier in seen):
            # inside another volume: made there if missing (as kube makes it in the volume)
            target, create = dst, dst
        else:
            target = os.path.realpath(dst)
            create = "" if os.path.lexists(target) else target
            if create:
                ancestors.add(_nearest_existing(target))
        seen.append(dst)
        result.mounts.append(_Mount(src.encode(), target.encode(), ro, create, is_dir))
    for path in sorted(ancestors, key=lambda p: (p.count("/") if p != "/" else 0, p)):
        if path == "/":
            result.root = _shadow("/")
        else:
            result.shadows.append(_shadow(path))
    return result


def _fill(shadow: _Shadow, into: str, source: str) -> None:
    """Recreate `shadow`'s entries in the tmpfs at `into`, bound from `source`."""
    for name in shadow.dirs:
        os.mkdir(f"{into}/{name}")
        _check(_libc.mount(f"{source}/{name}".encode(), f"{into}/{name}".encode(), None,
                           MS_BIND | MS_REC, None), f"mount {shadow.path}/{name}")
    for name in shadow.files:
        os.close(os.open(f"{into}/{name}", os.O_CREAT | os.O_WRONLY, 0o600))
        _check(_libc.mount(f"{source}/{name}".encode(), f"{into}/{name}".encode(), None,
                           MS_BIND | MS_REC, None), f"mount {shadow.path}/{name}")
    for name, target in shadow.links:
        os.symlink(target, f"{into}/{name}")


def _make(path: str, is_dir: bool) -> None:
    if os.path.lexists(path):
        return
    if is_dir:
        os.makedirs(path, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


def apply(p: MountPlan) -> None:
    """In the child: a private namespace, the shadows, then the volumes."""
    _check(_libc.unshare(CLONE_NEWNS), "unshare")
    _check(_libc.mount(b"none", b"/", None, MS_REC | MS_SLAVE, None), "mount /")
    if p.root is not None:
        new_root = p.new_root
        _check(_libc.mount(b"tmpfs", new_root.encode(), b"tmpfs", 0, p.root.options),
               "mount new root")
        _fill(p.root, new_root, "")
        os.chdir(new_root)
        _check(_libc.syscall(SYS_PIVOT_ROOT, b".", b"."), "pivot_root")
        _check(_libc.umount2(b".", MNT_DETACH), "umount old root")
        os.chdir("/")
        _libc.umount2(new_root.encode(), MNT_DETACH)  # its copy inside the bound kubelet root
    for shadow in p.shadows:
        fd = os.open(shadow.path, os.O_PATH | os.O_DIRECTORY)
        try:
            _check(_libc.mount(b"tmpfs", shadow.path.encode(), b"tmpfs", 0, shadow.options),
                   f"mount tmpfs {shadow.path}")
            _fill(shadow, shadow.path, f"/proc/self/fd/{fd}")
        finally:
            os.close(fd)
    for m in p.mounts:
        if m.create:
            _make(m.create, m.is_dir)
        _check(_libc.mount(m.src, m.dst, None, MS_BIND | MS_REC, None), f"mount {m.dst!r}")
        if m.read_only:
            _libc.mount(m.src, m.dst, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC, None)
