"""The containerd runtime's pod startup: a 100-pod burst on one node, beside the process
runtime and a bare `ctr run` of the same image (the floor).

Run from the repo root as root: ``.venv/bin/python bench/containerd.py [--pods 100]``.

- ``startup_containerd``: a kubelet with ``--runtime containerd`` on a containerd of
  its own (`containerd_daemon`, state in a temp dir); N pods of ``kyb/busybox:1``
  (imported offline) bound to the node, 10 creates in flight; each pod's latency is
  from just before its create call to the watch event that shows it Running
  (Kubernetes' pod startup SLI). p50/p99/max in ms.
- ``startup_process``: the same burst on a process-runtime kubelet.
- ``ctr_run_floor``: N `ctr run -d` of the same image on the same containerd, 10 at
  once: what containerd and runc alone cost per container (no sandbox, no CNI, no
  kubelet), each from the call to its return.
- ``cri_direct``: the N pods straight through CRI, all at once (sandbox with CNI,
  create, start), no kubelet or API server: containerd's share of the burst.
- ``containerd_over_process_p99``: the issue's aim is ≤ 3.

Prints one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for bench.kubelet and bench.harness

from bench import harness  # noqa: E402
from bench.kubelet import (  # noqa: E402
    KYB,
    _percentile,
    _start,
    _startup_case,
    _stop,
    _wait_ready,
    pod_startup,
    spawn_baseline,
    start_apiserver,
    wait_answering,
)

from kybernetes.client import ApiClient  # noqa: E402
from kybernetes.kubelet.purge import purge  # noqa: E402
from kybernetes.kubelet.runtime.containerd_daemon import Containerd, ctr  # noqa: E402
from kybernetes.kubelet.runtime.cri import CriClient, pb  # noqa: E402
from kybernetes.kubelet.runtime.image_archive import BUSYBOX_IMAGE  # noqa: E402


def _figures(seconds: list[float]) -> dict[str, Any]:
    ms = [x * 1000 for x in seconds]
    return {"n": len(ms), "p50_ms": round(_percentile(ms, 50), 1),
            "p99_ms": round(_percentile(ms, 99), 1), "max_ms": round(max(ms), 1)}


async def containerd_case(kubeconfig: Path, work: Path, daemon: Containerd,
                          pods: int) -> dict[str, Any]:
    node = "bench-containerd"
    proc = _start([*KYB, "kubelet", "--kubeconfig", str(kubeconfig), "--node-name", node,
                   "--runtime", "containerd", "--containerd-endpoint", daemon.endpoint,
                   "--root-dir", str(work / node), "--port", "0", "--node-ip", "127.0.0.1",
                   "--address", "127.0.0.1", "--teardown-on-exit",
                   "--pod-cidr", "10.239.2.0/24"], work / f"{node}.log")
    client = ApiClient.from_kubeconfig(kubeconfig)
    try:
        await _wait_ready(client, {node}, 60)
        latencies = await pod_startup(client, node=node, pods=pods,
                                      command=["sleep", "3600"], image=BUSYBOX_IMAGE)
    finally:
        await client.aclose()
        _stop(proc, timeout=180)
        purge(work / node, node)
    return _figures(latencies)


def ctr_floor(daemon: Containerd, count: int) -> dict[str, Any]:
    """`ctr run -d` of the image, 10 at once; then every one is removed."""
    def one(i: int) -> float:
        started = time.monotonic()
        done = ctr(daemon.layout, "run", "-d", BUSYBOX_IMAGE, f"floor-{i}", "sleep", "3600")
        if done.returncode != 0:
            raise RuntimeError(done.stderr.decode(errors="replace"))
        return time.monotonic() - started

    with ThreadPoolExecutor(max_workers=10) as pool:
        try:
            times = list(pool.map(one, range(count)))
        finally:
            def remove(i: int) -> None:
                ctr(daemon.layout, "tasks", "kill", "-s", "KILL", f"floor-{i}")
                for _ in range(50):
                    if ctr(daemon.layout, "tasks", "delete", f"floor-{i}").returncode != 0 and \
                            b"not found" not in ctr(daemon.layout, "tasks", "ls").stdout:
                        time.sleep(0.1)
                    else:
                        break
                ctr(daemon.layout, "containers", "rm", f"floor-{i}")
            list(pool.map(remove, range(count)))
    return _figures(times)


async def cri_direct(daemon: Containerd, count: int) -> dict[str, Any]:
    """The same pods straight through CRI, all at once as the kubelet sends them
    (RunPodSandbox with CNI, CreateContainer, StartContainer): containerd's share of a
    pod's startup, without the kubelet and the API server. Each from its first call to
    its start; then every sandbox is removed."""
    cri = CriClient(daemon.endpoint)
    await cri.runtime_call("UpdateRuntimeConfig", pb.UpdateRuntimeConfigRequest(
        runtime_config=pb.RuntimeConfig(network_config=pb.NetworkConfig(
            pod_cidr="10.239.3.0/24"))))
    await asyncio.sleep(1)  # containerd renders the CNI configuration from its template

    async def one(i: int) -> tuple[float, str]:
        config = pb.PodSandboxConfig(
            metadata=pb.PodSandboxMetadata(name=f"direct-{i}", uid=f"direct-{i}",
                                           namespace="bench"),
            hostname=f"direct-{i}", log_directory=str(daemon.layout.dir / "direct" / str(i)),
            labels={"bench": "direct"})
        started = time.monotonic()
        sandbox = (await cri.runtime_call("RunPodSandbox", pb.RunPodSandboxRequest(
            config=config))).pod_sandbox_id
        created = await cri.runtime_call("CreateContainer", pb.CreateContainerRequest(
            pod_sandbox_id=sandbox, sandbox_config=config, config=pb.ContainerConfig(
                metadata=pb.ContainerMetadata(name="c"), image=pb.ImageSpec(
                    image=BUSYBOX_IMAGE), command=["sleep", "3600"], log_path="c/0.log")))
        await cri.runtime_call("StartContainer", pb.StartContainerRequest(
            container_id=created.container_id))
        return time.monotonic() - started, sandbox

    try:
        done = await asyncio.gather(*(one(i) for i in range(count)))
        for _, sandbox in done:
            await cri.runtime_call("StopPodSandbox", pb.StopPodSandboxRequest(
                pod_sandbox_id=sandbox))
            await cri.runtime_call("RemovePodSandbox", pb.RemovePodSandboxRequest(
                pod_sandbox_id=sandbox))
    finally:
        await cri.aclose()
    return _figures([t for t, _ in done])


async def main(args: Any) -> dict[str, Any]:
    work = Path(args.keep_dir or tempfile.mkdtemp(prefix="kyb-bench-containerd-"))
    work.mkdir(parents=True, exist_ok=True)
    api, kubeconfig = start_apiserver(work)
    daemon = Containerd(work / "containerd")
    result: dict[str, Any] = {"cpus": os.cpu_count(), "load_before": os.getloadavg()[0]}
    try:
        daemon.start()
        await wait_answering(kubeconfig)
        baseline = spawn_baseline()
        result["spawn_ms"] = round(baseline, 2)
        result["ctr_run_floor"] = await asyncio.to_thread(ctr_floor, daemon, args.pods)
        result["cri_direct"] = await cri_direct(daemon, args.pods)
        result["startup_containerd"] = await containerd_case(kubeconfig, work, daemon,
                                                             args.pods)
        result["startup_process"] = await _startup_case(kubeconfig, work, "process",
                                                        args.pods, baseline)
        result["containerd_over_process_p99"] = round(
            result["startup_containerd"]["p99_ms"] / result["startup_process"]["p99_ms"], 2)
        result["load_after"] = os.getloadavg()[0]
    finally:
        daemon.stop()
        _stop(api)
        if not args.keep_dir:
            shutil.rmtree(work, ignore_errors=True)
    return result


if __name__ == "__main__":
    parser = harness.parser(__doc__)
    parser.add_argument("--pods", type=int, default=100)
    print(json.dumps(asyncio.run(main(parser.parse_args())), indent=2))
