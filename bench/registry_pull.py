"""Pulling a ~5 MB image from the cluster's registry: containerd over CRI beside Docker.

Run from the repo root as root: ``.venv/bin/python bench/registry_pull.py [--rounds 5]``.

A Distribution registry (Debian's docker-registry, as `kyb up --registry` runs it) on
a free loopback port; one image pushed to it with `kyb image load`'s client: busybox
plus 4 MiB of incompressible bytes (two gzipped layers, ~5 MB to transfer).

- ``containerd_cri``: CRI PullImage (what the kubelet sends) to a containerd of its own
  (`containerd_daemon`, on the host network, `localhost:PORT` mapped to the registry by
  the same certs.d hosts.toml `kyb up` writes); CRI RemoveImage between rounds (its
  content is garbage-collected, so every round downloads and unpacks it all).
- ``docker``: the Docker Engine API's image create (what `docker pull` sends) of the
  same name (dockerd pulls from 127.0.0.0/8 registries over HTTP without being told);
  the image removed between rounds. dockerd is started for the run when none answers,
  and stopped after.

Each: ms per round, p50, min, max. Prints one JSON object.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for bench.harness and tests.support

from bench import harness  # noqa: E402
from tests.support.net import free_port  # noqa: E402

from kybernetes.cli.cluster_dir import ClusterDir  # noqa: E402
from kybernetes.cli.distribution import Registry  # noqa: E402
from kybernetes.cli.oci_archive import read  # noqa: E402
from kybernetes.cli.registry import ClusterRegistry  # noqa: E402
from kybernetes.kubelet.runtime import image_archive  # noqa: E402
from kybernetes.kubelet.runtime.containerd_daemon import Containerd  # noqa: E402

DOCKER_SOCKET = "/var/run/docker.sock"
REPOSITORY = "bench/pull"


def _figures(seconds: list[float]) -> dict[str, Any]:
    ms = [round(x * 1000, 1) for x in seconds]
    return {"rounds_ms": ms, "p50_ms": round(statistics.median(ms), 1), "min_ms": min(ms),
            "max_ms": max(ms)}


def bench_archive(path: Path) -> None:
    """busybox's layer and a second with 4 MiB of seeded random bytes (no gzip gain)."""
    payload = random.Random(16).randbytes(4 << 20)
    extra = io.BytesIO()
    with tarfile.open(fileobj=extra, mode="w") as tar:
        info = tarfile.TarInfo("payload.bin")
        info.size, info.mode = len(payload), 0o644
        tar.addfile(info, io.BytesIO(payload))
    path.write_bytes(image_archive.docker_archive(
        f"docker.io/{REPOSITORY}:1", cmd=["/bin/sh"], extra_layers=(extra.getvalue(),)))


def _until_started(proc: subprocess.Popen[bytes], missing: Callable[[], str | None], what: str,
                   *, within: float, interval: float) -> None:
    """Wait until `missing()` names nothing still missing; RuntimeError with its last
    answer when `proc` exits first or `within` seconds pass."""
    deadline = time.monotonic() + within
    while (why := missing()) is not None:
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError(f"{what} did not start: {why}")
        time.sleep(interval)


@contextlib.contextmanager
def registry(work: Path) -> Iterator[ClusterRegistry]:
    cdir = ClusterDir(work)
    cdir.logs.mkdir(parents=True, exist_ok=True)
    reg = ClusterRegistry(cdir, free_port(), "127.0.0.1")
    reg.write_config()
    with open(cdir.logs / "registry.log", "ab") as log:
        proc = subprocess.Popen(reg.argv(), stdout=log, stderr=subprocess.STDOUT)
    try:
        _until_started(proc, reg.answers, "the registry", within=30, interval=0.1)
        yield reg
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def containerd_rounds(work: Path, reg: ClusterRegistry, image: str,
                      rounds: int) -> list[float]:
    import grpc

    from kybernetes.kubelet.runtime.cri import api_pb2 as pb
    from kybernetes.kubelet.runtime.cri import api_pb2_grpc as rpc

    daemon = Containerd(work / "containerd", mirrors=reg.mirrors())
    daemon.start(images=False)
    times = []
    try:
        with grpc.insecure_channel(daemon.endpoint) as channel:
            stub = rpc.ImageServiceStub(channel)
            spec = pb.ImageSpec(image=image)
            for _ in range(rounds):
                started = time.monotonic()
                ref = stub.PullImage(pb.PullImageRequest(image=spec), timeout=120).image_ref
                times.append(time.monotonic() - started)
                stub.RemoveImage(pb.RemoveImageRequest(image=pb.ImageSpec(image=ref)),
                                 timeout=60)
    finally:
        daemon.stop()
    return times


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=300)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(self.path)


def _docker(method: str, path: str) -> tuple[int, bytes]:
    conn = _UnixConnection(DOCKER_SOCKET)
    try:
        conn.request(method, path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _docker_answers() -> bool:
    try:
        return _docker("GET", "/_ping")[0] == 200
    except OSError:
        return False


@contextlib.contextmanager
def dockerd(work: Path) -> Iterator[bool]:
    """True when this run started dockerd (and stops it on the way out)."""
    if _docker_answers():
        yield False
        return
    with open(work / "dockerd.log", "ab") as log:
        proc = subprocess.Popen(["dockerd"], stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        _until_started(proc, lambda: None if _docker_answers() else f"see {work / 'dockerd.log'}",
                       "dockerd", within=60, interval=0.3)
        yield True
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def docker_rounds(image: str, rounds: int) -> list[float]:
    name, tag = image.rsplit(":", 1)
    times = []
    for _ in range(rounds):
        _docker("DELETE", f"/images/{quote(image, safe='')}?force=1")
        started = time.monotonic()
        status, body = _docker("POST", f"/images/create?fromImage={quote(name, safe='')}"
                                       f"&tag={tag}")
        times.append(time.monotonic() - started)
        if status != 200 or b'"error"' in body:
            raise RuntimeError(f"docker pull {image}: {status} {body[-300:]!r}")
    _docker("DELETE", f"/images/{quote(image, safe='')}?force=1")
    return times


def main(args: Any) -> dict[str, Any]:
    work = Path(args.keep_dir or tempfile.mkdtemp(prefix="kyb-bench-registry-"))
    work.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"cpus": os.cpu_count(), "load_before": os.getloadavg()[0]}
    try:
        archive = work / "image.tar"
        bench_archive(archive)
        with registry(work) as reg:
            (image,) = read(archive)
            Registry(reg.url).push(image, REPOSITORY, "1")
            result["image_bytes_transferred"] = sum(len(b) for b in image.blobs.values())
            name = f"{reg.name}/{REPOSITORY}:1"
            result["image"] = name
            result["containerd_cri"] = _figures(containerd_rounds(work, reg, name,
                                                                  args.rounds))
            with dockerd(work) as started:
                result["dockerd_started_for_the_run"] = started
                result["docker"] = _figures(docker_rounds(name, args.rounds))
        result["containerd_over_docker_p50"] = round(
            result["containerd_cri"]["p50_ms"] / result["docker"]["p50_ms"], 2)
        result["load_after"] = os.getloadavg()[0]
    finally:
        if not args.keep_dir:
            shutil.rmtree(work, ignore_errors=True)
    return result


if __name__ == "__main__":
    parser = harness.parser(__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    print(json.dumps(main(parser.parse_args()), indent=2))
