"""The containerd runtime: pods as CRI pod sandboxes, containers from real images.

The kubelet talks CRI v1 (RuntimeService, ImageService) over containerd's unix
socket, as every Kubernetes kubelet does today. A pod is a CRI sandbox: its
hostname is the pod's, its network namespace is made by containerd and wired
by CNI (the bridge + host-local configuration containerd renders once
:meth:`configure` sends the node's pod CIDR, see :mod:`containerd_daemon`), so
the pod's IP is the sandbox's. Containers run on their image's root filesystem
with the pod's volumes bind-mounted, memory and CPU limits as cgroup limits
(an OOM kill shows as `OOMKilled`), and their output in the CRI log format under
``<root>/pods/<namespace>_<name>_<uid>/<container>/<attempt>.log``.

Every sandbox and container carries labels (node tag, pod UID/name/namespace,
container name, attempt), so a restarted kubelet finds and adopts them by asking
containerd. containerd 1.6 has no CRI event stream, so a poll of ListContainers
each second tells the pod workers when a container changed by itself.

Exec: probes use CRI ExecSync; `kubectl exec` runs `ctr tasks exec` on the
container (stdin, stdout/stderr or a TTY through the process' pipes or a pty)
behind the kubelet's own streaming server: containerd 1.6's streaming server
speaks WebSocket only up to `v4.channel.k8s.io`, which cannot close stdin
(`kubectl exec -i … cat` would never end). `kubectl attach` goes through CRI
Attach and that streaming server (`cri_stream.py`), where stdin stays open anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import secrets
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp

from kybernetes.api.quantity import cpu_millis, memory_bytes
from kybernetes.kubelet.config import KubeletConfig
from kybernetes.kubelet.env import expand
from kybernetes.kubelet.image_gc import FsStats, ImageRecord, fs_stats
from kybernetes.kubelet.network import node_tag
from kybernetes.kubelet.pod_dns import (
    dns_settings,
    host_settings,
    hosts_file,
    needs_resolv_conf,
    pod_hostname,
)
from kybernetes.kubelet.probes import NetworkProber, Prober
from kybernetes.kubelet.pull_secrets import RegistryAuth
from kybernetes.kubelet.runtime.base import (
    CREATED,
    EXITED,
    RUNNING,
    ChangeNotifier,
    ContainerConfig,
    ContainerInfo,
    RuntimeError_,
    Sandbox,
)
from kybernetes.kubelet.runtime.containers import (
    L_ATTEMPT,
    L_CONTAINER,
    L_KIND,
    L_NODE,
    L_UID,
    ContainerCgroups,
    pod_labels,
    pull_policy,
    raw_id,
)
from kybernetes.kubelet.runtime.cri import CriClient, CriError, pb
from kybernetes.kubelet.runtime.cri_logs import read_cri_log
from kybernetes.kubelet.runtime.cri_stream import StreamSession
from kybernetes.kubelet.runtime.exec import ProcessExec
from kybernetes.kubelet.runtime.image_archive import PAUSE_IMAGE
from kybernetes.kubelet.usage import Usage
from kybernetes.tasks import cancel_and_wait, spawn

log = logging.getLogger("kybernetes.kubelet.containerd")

DEFAULT_ENDPOINT = "unix:///run/containerd/containerd.sock"
L_TTY = "io.kyb.tty"  # CRI Attach must repeat the container's tty setting
POLL_SECONDS = 1.0
CPU_PERIOD = 100_000  # Kubernetes' CFS period (µs)
_STATES = {pb.CONTAINER_CREATED: CREATED, pb.CONTAINER_RUNNING: RUNNING,
           pb.CONTAINER_EXITED: EXITED, pb.CONTAINER_UNKNOWN: EXITED}


def _seconds(nanos: int) -> float | None:
    return nanos / 1e9 if nanos > 0 else None


def _info_pid(info: str) -> int:
    """The container's init pid from a verbose ContainerStatus' `info` (0 if absent)."""
    try:
        return int(json.loads(info).get("pid") or 0) if info else 0
    except (ValueError, AttributeError):
        return 0


def cpu_shares(millis: int) -> int:
    """Kubernetes' MilliCPUToShares: 1024 per CPU, at least 2."""
    return max(2, millis * 1024 // 1000)


class ContainerdRuntime(ChangeNotifier):
    """Containers as containerd CRI containers; see the module docstring."""

    name = "containerd"

    def __init__(self, config: KubeletConfig, *, endpoint: str = DEFAULT_ENDPOINT) -> None:
        self._prober = NetworkProber()  # shared by every probe (its HTTP session)
        ChangeNotifier.__init__(self)
        self.config = config
        self.endpoint = endpoint
        self.cri = CriClient(endpoint)
        self.tag = node_tag(config.node_name, Path(config.root_dir))
        self.logs_root = Path(config.root_dir) / "pods"
        self._version = "unknown"
        self._cache: dict[str, ContainerInfo] = {}
        self._log_paths: dict[str, Path] = {}
        self._cgroups = ContainerCgroups()
        self._states: dict[str, tuple[str, int]] = {}  # id -> (pod uid, CRI state)
        self._poller: asyncio.Task[None] | None = None

    @property
    def version(self) -> str:
        return f"containerd://{self._version}"

    # -- life cycle --------------------------------------------------------------------

    async def start(self) -> None:
        try:
            reply = await self.cri.runtime_call("Version", pb.VersionRequest(version="v1"),
                                                deadline=30)
        except CriError as e:
            raise RuntimeError_(f"the containerd runtime needs a CRI endpoint at "
                                f"{self.endpoint}: {e}", reason="RuntimeNotReady") from e
        self._version = reply.runtime_version
        self._poller = spawn(self._poll(), name=f"containerd-poll-{self.tag}")

    async def configure(self, *, pod_cidr: str | None) -> None:
        """Hand the pod CIDR to the runtime, whose CNI template turns it into the network."""
        if pod_cidr:
            await self.cri.runtime_call("UpdateRuntimeConfig", pb.UpdateRuntimeConfigRequest(
                runtime_config=pb.RuntimeConfig(
                    network_config=pb.NetworkConfig(pod_cidr=pod_cidr))))

    async def aclose(self) -> None:
        await cancel_and_wait(self._poller)
        await self._prober.aclose()
        await self.cri.aclose()

    async def teardown(self) -> None:
        """Node-wide network state is containerd's (its CNI bridge); nothing of ours."""

    async def _poll(self) -> None:
        """Tell the workers about containers that started, exited or vanished."""
        while True:
            await asyncio.sleep(POLL_SECONDS)
            try:
                found = await self._list_cri("container")
            except CriError as e:
                log.debug("listing containers failed", extra={"error": str(e)})
                continue
            now = {c.id: (c.labels.get(L_UID, ""), int(c.state)) for c in found}
            for cid in set(now) | set(self._states):
                if now.get(cid) != self._states.get(cid):
                    self._cache.pop(cid, None)
                    uid = (now.get(cid) or self._states.get(cid) or ("", 0))[0]
                    if uid:
                        self.notify(uid)
            self._states = now

    # -- helpers -----------------------------------------------------------------------

    def _labels(self, pod: dict[str, Any], kind: str) -> dict[str, str]:
        return pod_labels(self.tag, pod, kind)

    async def _list_cri(self, kind: str, pod_uid: str | None = None) -> list[Any]:
        selector = {L_NODE: self.tag, L_KIND: kind, **({L_UID: pod_uid} if pod_uid else {})}
        if kind == "sandbox":
            reply = await self.cri.runtime_call("ListPodSandbox", pb.ListPodSandboxRequest(
                filter=pb.PodSandboxFilter(label_selector=selector)))
            return list(reply.items)
        reply = await self.cri.runtime_call("ListContainers", pb.ListContainersRequest(
            filter=pb.ContainerFilter(label_selector=selector)))
        return list(reply.containers)

    def _log_dir(self, pod: dict[str, Any]) -> Path:
        meta = pod["metadata"]
        return self.logs_root / f"{meta.get('namespace', 'default')}_{meta['name']}_{meta['uid']}"

    def _sandbox_config(self, pod: dict[str, Any]) -> Any:
        """The PodSandboxConfig of a pod: the same every time it is asked for, as CRI wants
        it repeated on each CreateContainer."""
        meta, spec = pod["metadata"], pod["spec"]
        host = bool(spec.get("hostNetwork"))
        config = self.config
        dns = None
        if needs_resolv_conf(pod, config.cluster_dns):
            settings = dns_settings(pod, cluster_dns=config.cluster_dns,
                                    cluster_domain=config.cluster_domain,
                                    host=host_settings(config.resolv_conf))
            dns = pb.DNSConfig(servers=list(settings.nameservers),
                               searches=list(settings.searches), options=list(settings.options))
        ports = [pb.PortMapping(protocol=pb.Protocol.Value(p.get("protocol", "TCP")),
                                container_port=int(p["containerPort"]),
                                host_port=int(p["hostPort"]), host_ip=p.get("hostIP", ""))
                 for c in spec.get("containers") or [] for p in c.get("ports") or []
                 if p.get("hostPort")]
        namespaces = pb.NamespaceOption(
            network=pb.NODE if host else pb.POD,
            pid=pb.NODE if spec.get("hostPID") else
            pb.POD if spec.get("shareProcessNamespace") else pb.CONTAINER,
            ipc=pb.NODE if spec.get("hostIPC") else pb.POD)
        return pb.PodSandboxConfig(
            metadata=pb.PodSandboxMetadata(name=meta["name"], uid=meta["uid"],
                                           namespace=meta.get("namespace", "default")),
            hostname="" if host else pod_hostname(pod), log_directory=str(self._log_dir(pod)),
            dns_config=dns, port_mappings=ports, labels=self._labels(pod, "sandbox"),
            linux=pb.LinuxPodSandboxConfig(security_context=pb.LinuxSandboxSecurityContext(
                namespace_options=namespaces)))

    # -- images ------------------------------------------------------------------------

    async def pull_image(self, spec: dict[str, Any], on_event: Callable[[str, str], None],
                         auth: RegistryAuth | None = None) -> str:
        """Make the image present per imagePullPolicy; the message of the Pulled event."""
        image = spec.get("image") or ""
        if not image:
            raise RuntimeError_("container has no image", reason="InvalidImageName")
        policy = pull_policy(spec)
        try:
            status = await self.cri.image_call("ImageStatus", pb.ImageStatusRequest(
                image=pb.ImageSpec(image=image)), deadline=30)
        except CriError as e:
            raise RuntimeError_(f'Failed to inspect image "{image}": {e}',
                                reason="ErrImagePull") from e
        present = bool(status.image.id)
        if present and policy != "Always":
            return f'Container image "{image}" already present on machine'
        if not present and policy == "Never":
            raise RuntimeError_(f'Container image "{image}" is not present with pull policy '
                                "of Never", reason="ErrImageNeverPull")
        on_event("Pulling", f'Pulling image "{image}"')
        started = time.monotonic()
        try:
            await self.cri.image_call("PullImage", pb.PullImageRequest(
                image=pb.ImageSpec(image=image), auth=None if auth is None else pb.AuthConfig(
                    username=auth.username, password=auth.password,
                    server_address=auth.server)))
        except CriError as e:
            raise RuntimeError_(f'Failed to pull image "{image}": {e}',
                                reason="ErrImagePull") from e
        return f'Successfully pulled image "{image}" in {time.monotonic() - started:.3f}s'

    async def list_images(self) -> list[ImageRecord]:
        reply = await self.cri.image_call("ListImages", pb.ListImagesRequest(), deadline=60)
        return [ImageRecord(id=i.id, size=int(i.size), tags=tuple(i.repo_tags),
                            pinned=i.pinned or PAUSE_IMAGE in i.repo_tags)
                for i in reply.images]

    async def images_in_use(self) -> set[str]:
        reply = await self.cri.runtime_call("ListContainers", pb.ListContainersRequest())
        return {c.image_ref for c in reply.containers} | {c.image.image for c in
                                                          reply.containers}

    async def remove_image(self, image_id: str) -> None:
        await self.cri.image_call("RemoveImage", pb.RemoveImageRequest(
            image=pb.ImageSpec(image=image_id)), deadline=60)

    async def image_fs(self) -> FsStats:
        reply = await self.cri.image_call("ImageFsInfo", pb.ImageFsInfoRequest(), deadline=30)
        mounts = [f.fs_id.mountpoint for f in reply.image_filesystems if f.fs_id.mountpoint]
        if not mounts:
            return FsStats(0, 0)
        return await asyncio.to_thread(fs_stats, mounts[0])

    # -- sandboxes ---------------------------------------------------------------------

    async def run_sandbox(self, pod: dict[str, Any], *, ip: str | None) -> Sandbox:
        """The pod's ready sandbox (adopted if one runs), else a new one; `ip` is unused:
        the address is CNI's."""
        uid = pod["metadata"]["uid"]
        host = bool(pod["spec"].get("hostNetwork"))
        for item in await self._list_cri("sandbox", uid):
            if item.state == pb.SANDBOX_READY:
                return await self._sandbox(item.id, uid, host)
            await self._remove_sandbox_id(item.id)
        config = self._sandbox_config(pod)
        await asyncio.to_thread(Path(config.log_directory).mkdir, parents=True, exist_ok=True)
        try:
            reply = await self.cri.runtime_call("RunPodSandbox",
                                                pb.RunPodSandboxRequest(config=config))
        except CriError as e:
            raise RuntimeError_(f"Failed to create pod sandbox: {e}",
                                reason="FailedCreatePodSandBox") from e
        return await self._sandbox(reply.pod_sandbox_id, uid, host)

    async def _sandbox(self, sandbox_id: str, uid: str, host: bool) -> Sandbox:
        status = (await self.cri.runtime_call("PodSandboxStatus", pb.PodSandboxStatusRequest(
            pod_sandbox_id=sandbox_id))).status
        ip = "" if host else status.network.ip
        return Sandbox(pod_uid=uid, ip=ip, host_network=host or not ip, id=sandbox_id)

    async def _remove_sandbox_id(self, sandbox_id: str) -> None:
        for method, request in (
                ("StopPodSandbox", pb.StopPodSandboxRequest(pod_sandbox_id=sandbox_id)),
                ("RemovePodSandbox", pb.RemovePodSandboxRequest(pod_sandbox_id=sandbox_id))):
            try:
                await self.cri.runtime_call(method, request)
            except CriError as e:
                if e.code != "NOT_FOUND":
                    raise RuntimeError_(f"{method}: {e}", reason="KillPodSandboxError") from e

    async def remove_sandbox(self, pod_uid: str) -> None:
        for item in await self._list_cri("sandbox", pod_uid):
            await self._remove_sandbox_id(item.id)

    async def list_sandboxes(self) -> list[Sandbox]:
        out = []
        for item in await self._list_cri("sandbox"):
            if item.state == pb.SANDBOX_READY:
                with contextlib.suppress(CriError):
                    out.append(await self._sandbox(item.id, item.labels.get(L_UID, ""),
                                                   host=False))
        return out

    # -- containers --------------------------------------------------------------------

    def _etc_hosts(self, pod: dict[str, Any], sandbox: Sandbox) -> list[tuple[str, str, bool]]:
        """Kubernetes' managed /etc/hosts (the pod's IP and names, hostAliases), written
        beside the pod's logs and mounted into each container, as the kubelet does:
        containerd alone would copy the node's file. None for hostNetwork pods."""
        if pod["spec"].get("hostNetwork"):
            return []
        path = self._log_dir(pod) / "etc-hosts"
        path.write_text(hosts_file(pod, sandbox.ip, self.config.cluster_domain))
        return [(str(path), "/etc/hosts", False)]

    def _container_config(self, config: ContainerConfig,
                          extra_mounts: list[tuple[str, str, bool]]) -> Any:
        spec, env = config.spec, config.env
        limits = (spec.get("resources") or {}).get("limits") or {}
        requests = (spec.get("resources") or {}).get("requests") or {}
        resources = pb.LinuxContainerResources()
        if "memory" in limits:
            resources.memory_limit_in_bytes = memory_bytes(limits["memory"])
        if "cpu" in limits:
            resources.cpu_period = CPU_PERIOD
            resources.cpu_quota = max(1000, cpu_millis(limits["cpu"]) * CPU_PERIOD // 1000)
        cpu = requests.get("cpu", limits.get("cpu"))
        resources.cpu_shares = cpu_shares(cpu_millis(cpu)) if cpu is not None else 2
        security = spec.get("securityContext") or {}
        pod_security = config.pod["spec"].get("securityContext") or {}
        context = pb.LinuxContainerSecurityContext(
            privileged=bool(security.get("privileged")),
            readonly_rootfs=bool(security.get("readOnlyRootFilesystem")),
            namespace_options=self._sandbox_config(config.pod).linux.security_context
            .namespace_options)
        user = security.get("runAsUser", pod_security.get("runAsUser"))
        if user is not None:
            context.run_as_user.value = int(user)
        group = security.get("runAsGroup", pod_security.get("runAsGroup"))
        if group is not None and user is not None:
            context.run_as_group.value = int(group)
        caps = security.get("capabilities") or {}
        if caps:
            context.capabilities.add_capabilities.extend(caps.get("add") or [])
            context.capabilities.drop_capabilities.extend(caps.get("drop") or [])
        labels = {**self._labels(config.pod, "container"), L_CONTAINER: spec["name"],
                  L_ATTEMPT: str(config.attempt), L_TTY: str(bool(spec.get("tty"))).lower()}
        return pb.ContainerConfig(
            metadata=pb.ContainerMetadata(name=spec["name"], attempt=config.attempt),
            image=pb.ImageSpec(image=spec.get("image", "")),
            command=[expand(str(a), env) for a in spec.get("command") or []],
            args=[expand(str(a), env) for a in spec.get("args") or []],
            working_dir=spec.get("workingDir", ""),
            envs=[pb.KeyValue(key=k, value=v) for k, v in env.items()],
            mounts=[pb.Mount(host_path=src, container_path=dst, readonly=ro)
                    for src, dst, ro in [*config.mounts, *extra_mounts]],
            labels=labels, annotations={L_ATTEMPT: str(config.attempt)},
            log_path=f"{spec['name']}/{config.attempt}.log",
            stdin=bool(spec.get("stdin")), stdin_once=bool(spec.get("stdinOnce")),
            tty=bool(spec.get("tty")),
            linux=pb.LinuxContainerConfig(resources=resources, security_context=context))

    async def start_container(self, sandbox: Sandbox, config: ContainerConfig) -> ContainerInfo:
        hosts = [] if any(dst == "/etc/hosts" for _, dst, _ in config.mounts) else \
            await asyncio.to_thread(self._etc_hosts, config.pod, sandbox)
        try:
            created = await self.cri.runtime_call("CreateContainer", pb.CreateContainerRequest(
                pod_sandbox_id=sandbox.id, config=self._container_config(config, hosts),
                sandbox_config=self._sandbox_config(config.pod)))
        except CriError as e:
            raise RuntimeError_(str(e), reason="CreateContainerError") from e
        cid = created.container_id
        try:
            await self.cri.runtime_call("StartContainer", pb.StartContainerRequest(
                container_id=cid))
        except CriError as e:
            with contextlib.suppress(CriError):
                await self.cri.runtime_call("RemoveContainer",
                                            pb.RemoveContainerRequest(container_id=cid))
            raise RuntimeError_(str(e), reason="RunContainerError") from e
        return await self._status(cid)

    async def _status(self, cid: str) -> ContainerInfo:
        reply = await self.cri.runtime_call("ContainerStatus", pb.ContainerStatusRequest(
            container_id=cid, verbose=cid not in self._cgroups))
        s = reply.status
        state = _STATES.get(s.state, EXITED)
        self._cgroups.note(cid, state == RUNNING, _info_pid(reply.info.get("info", "")))
        if s.log_path:
            self._log_paths[cid] = Path(s.log_path)
        labels = dict(s.labels)
        reason, message = s.reason, s.message
        code = s.exit_code if state == EXITED else None
        if state == EXITED and not reason:
            reason = "Completed" if code == 0 else "Error"
        return ContainerInfo(
            id=f"containerd://{cid}", pod_uid=labels.get(L_UID, ""),
            name=labels.get(L_CONTAINER, s.metadata.name),
            attempt=int(labels.get(L_ATTEMPT, s.metadata.attempt)), state=state,
            image=s.image.image, image_id=s.image_ref, started_at=_seconds(s.started_at),
            finished_at=_seconds(s.finished_at), exit_code=code, reason=reason,
            message=message, labels=labels)

    def usage(self, container_ids: list[str]) -> dict[str, Usage]:
        """Running containers' usage, from their cgroups."""
        return self._cgroups.usage(container_ids)

    async def stop_container(self, container_id: str, *, grace: float) -> None:
        cid = raw_id(container_id)
        try:
            await self.cri.runtime_call("StopContainer", pb.StopContainerRequest(
                container_id=cid, timeout=math.ceil(grace)), deadline=grace + 60)
        except CriError as e:
            if e.code != "NOT_FOUND":
                raise RuntimeError_(str(e), reason="KillContainerError") from e
        self._cache.pop(cid, None)

    async def remove_container(self, container_id: str) -> None:
        cid = raw_id(container_id)
        try:
            await self.cri.runtime_call("RemoveContainer",
                                        pb.RemoveContainerRequest(container_id=cid))
        except CriError as e:
            if e.code != "NOT_FOUND":
                raise RuntimeError_(str(e), reason="RemoveContainerError") from e
        self._cache.pop(cid, None)
        self._log_paths.pop(cid, None)
        self._cgroups.forget(cid)

    async def list_containers(self, pod_uid: str | None = None) -> list[ContainerInfo]:
        out = []
        for c in await self._list_cri("container", pod_uid):
            cached = self._cache.get(c.id)
            if cached is None or cached.state != _STATES.get(c.state, EXITED):
                try:
                    cached = await self._status(c.id)
                except CriError:
                    continue
                self._cache[c.id] = cached
            out.append(cached)
        return out

    # -- logs, exec, probes ------------------------------------------------------------

    def log_file(self, container_id: str) -> Path | None:
        return self._log_paths.get(raw_id(container_id))

    def is_running(self, container_id: str) -> bool:
        """Whether it runs, as the last poll saw it (else as last inspected): `logs -f`
        ends once this turns false."""
        cid = raw_id(container_id)
        polled = self._states.get(cid)
        if polled is not None:
            return polled[1] == pb.CONTAINER_RUNNING
        cached = self._cache.get(cid)
        return cached is not None and cached.state == RUNNING

    async def read_logs(self, container_id: str, *, follow: bool, tail_lines: int | None,
                        limit_bytes: int | None, since_seconds: str | None,
                        since_time: str | None, timestamps: bool) -> AsyncIterator[bytes]:
        """The container's CRI log file, decoded, with Kubernetes' options."""
        path = self.log_file(container_id)
        if path is None:
            with contextlib.suppress(CriError):
                await self._status(raw_id(container_id))
            path = self.log_file(container_id)
        if path is None:
            return
        async for chunk in read_cri_log(
                path, follow=follow, tail_lines=tail_lines, limit_bytes=limit_bytes,
                since_seconds=since_seconds, since_time=since_time, timestamps=timestamps,
                running=lambda: self.is_running(container_id)):
            yield chunk

    def prober(self, pod: dict[str, Any]) -> Prober:
        """Probes reach the container: exec in it, HTTP or TCP to the pod's IP."""
        return self._prober

    async def exec_sync(self, container_id: str, command: list[str], *,
                        time_limit: float) -> tuple[int, bytes]:
        try:
            reply = await self.cri.runtime_call("ExecSync", pb.ExecSyncRequest(
                container_id=raw_id(container_id), cmd=command,
                timeout=max(1, math.ceil(time_limit))), deadline=time_limit + 10)
        except CriError as e:
            if e.code == "DEADLINE_EXCEEDED":
                raise TimeoutError(str(e)) from e
            raise RuntimeError_(str(e), reason="ExecError") from e
        return reply.exit_code, reply.stdout + reply.stderr

    async def attach(self, container_id: str, *, stdin: bool) -> StreamSession:
        """`kubectl attach`: CRI Attach, then the streaming server's URL over a WebSocket."""
        cid = raw_id(container_id)
        cached = self._cache.get(cid) or await self._status(cid)
        tty = cached.labels.get(L_TTY) == "true"
        try:
            reply = await self.cri.runtime_call("Attach", pb.AttachRequest(
                container_id=cid, stdin=stdin, tty=tty, stdout=True, stderr=not tty))
            return await StreamSession.connect(reply.url)
        except (CriError, aiohttp.ClientError) as e:
            raise RuntimeError_(f"attach: {e}", reason="AttachError") from e

    async def exec_stream(self, container_id: str, command: list[str], *,
                          tty: bool) -> ProcessExec:
        """`ctr tasks exec` into the container, its stdio piped (or on a pty) to the
        kubelet's streaming session."""
        if not command:
            raise RuntimeError_("no command given", reason="BadRequest")
        if not self.endpoint.startswith("unix://"):
            raise RuntimeError_(f"exec needs a unix socket endpoint, not {self.endpoint}",
                                reason="ExecError")
        argv = ["ctr", "-n", "k8s.io", "--address", self.endpoint[len("unix://"):],
                "tasks", "exec", "--exec-id", f"kyb-exec-{secrets.token_hex(6)}",
                *(["--tty"] if tty else []), raw_id(container_id), *command]
        return await ProcessExec.start(argv, env=dict(os.environ), cwd="/", tty=tty)
