"""Container images built offline from Debian's busybox-static, as docker-archive tarballs.

No registry is reachable from here, so the images a containerd node needs (its pause
image, and a small image to run) are written by hand: one layer holding
``/bin/busybox`` with a symlink per applet, ``/etc/passwd``/``group`` and the
usual empty directories, an image config with the entrypoint, and the
``manifest.json`` that `ctr images import` (and `docker load`) read. Everything is
deterministic (fixed mtimes, sorted entries), so the same busybox gives the same
image ID every time.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

PAUSE_IMAGE = "docker.io/kyb/pause:1"
BUSYBOX_IMAGE = "docker.io/kyb/busybox:1"
_DIRS = ("bin", "dev", "etc", "proc", "sys", "tmp", "root", "var", "home", "usr", "usr/bin")
_ETC = {"etc/passwd": b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
        "etc/group": b"root:x:0:\nnobody:x:65534:\n"}


class ImageBuildError(Exception):
    """busybox-static is missing or unusable."""


def _busybox() -> str:
    path = shutil.which("busybox")
    if path is None:
        raise ImageBuildError("building an image needs busybox (Debian's busybox-static)")
    return path


def _applets(busybox: str) -> list[str]:
    done = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=False)
    return sorted(a for a in done.stdout.split() if a and a != "busybox")


def _add(tar: tarfile.TarFile, name: str, *, kind: bytes = tarfile.REGTYPE, data: bytes = b"",
         mode: int = 0o644, target: str = "") -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime, info.linkname = kind, mode, 0, target
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def busybox_layer() -> bytes:
    """The root filesystem: busybox and its applets, /etc/passwd and /etc/group."""
    busybox = _busybox()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for d in _DIRS:
            _add(tar, d, kind=tarfile.DIRTYPE, mode=0o1777 if d == "tmp" else 0o755)
        _add(tar, "bin/busybox", data=Path(busybox).read_bytes(), mode=0o755)
        for applet in _applets(busybox):
            _add(tar, f"bin/{applet}", kind=tarfile.SYMTYPE, target="busybox")
        for name, data in _ETC.items():
            _add(tar, name, data=data)
    return buf.getvalue()


def docker_archive(name: str, *, cmd: list[str], layer: bytes | None = None,
                   extra_layers: tuple[bytes, ...] = ()) -> bytes:
    """A docker-archive tarball of one image `name` (a full reference) running `cmd`;
    `extra_layers` go on top of the root filesystem's."""
    layers = [busybox_layer() if layer is None else layer, *extra_layers]
    diff_ids = ["sha256:" + hashlib.sha256(data).hexdigest() for data in layers]
    config = json.dumps({
        "architecture": "amd64", "os": "linux", "created": "1970-01-01T00:00:00Z",
        "config": {"Cmd": cmd, "WorkingDir": "/",
                   "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "kyb image_archive"}
                    for _ in layers],
    }, sort_keys=True).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    layer_names = [diff_id.split(":", 1)[1] + "/layer.tar" for diff_id in diff_ids]
    manifest = json.dumps([{"Config": config_name, "RepoTags": [_short(name)],
                            "Layers": layer_names}]).encode()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for layer_name, data in zip(layer_names, layers, strict=True):
            _add(tar, layer_name.split("/")[0], kind=tarfile.DIRTYPE, mode=0o755)
            _add(tar, layer_name, data=data)
        _add(tar, config_name, data=config)
        _add(tar, "manifest.json", data=manifest)
    return out.getvalue()


def _short(name: str) -> str:
    """`docker.io/kyb/pause:1` -> `kyb/pause:1` (docker-archive tags are familiar names)."""
    return name.removeprefix("docker.io/").removeprefix("library/")


def pause_archive() -> bytes:
    """The pod sandbox image: PID 1 sleeps for ever (busybox sleep ignores SIGTERM as PID
    1, so StopPodSandbox ends it with SIGKILL, as the runtime does after the grace)."""
    return docker_archive(PAUSE_IMAGE, cmd=["/bin/sleep", "2147483647"])


def busybox_archive(name: str = BUSYBOX_IMAGE) -> bytes:
    return docker_archive(name, cmd=["/bin/sh"])
