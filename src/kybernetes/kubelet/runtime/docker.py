"""The docker runtime: real images and containers through the Docker Engine API.

Like the Kubernetes dockershim: each pod has a sandbox container (a tiny pause
image, built locally from busybox-static with `docker import`) that holds the
pod's network namespace; the pod's containers join it with
`NetworkMode: container:<sandbox>`, so they share localhost and one IP. As
root with a pod CIDR, the sandbox starts with no network and the node bridge
wires its namespace (as for the process runtime), so pod IPs come from the
node's pod CIDR; otherwise Docker's default bridge gives the address.

Every container carries labels (node tag, pod UID/name/namespace, container
name, attempt), so a restarted kubelet finds its containers by asking Docker
and adopts them. Docker's event stream tells the pod workers when a container
dies. Memory and CPU limits are Docker's (`Memory`, `NanoCpus`); an OOM kill
shows as `OOMKilled`. Logs rotate through the json-file driver's max-size.
Resource usage (for `/stats/summary` and `kubectl top`) is read from each running
container's cgroups, found through its main process' ``/proc/<pid>/cgroup`` when it
is inspected, so it needs a Docker Engine on this machine (as the kubelet always
assumes: bind mounts and the node bridge need that too).
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
import math
import shutil
import tarfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from kybernetes.api.quantity import cpu_millis, memory_bytes
from kybernetes.kubelet.config import KubeletConfig, parse_rfc3339
from kybernetes.kubelet.env import expand
from kybernetes.kubelet.network import NetworkError, NodeNetwork, node_tag
from kybernetes.kubelet.pod_dns import (
    dns_settings,
    host_settings,
    needs_resolv_conf,
    pod_fqdn,
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
from kybernetes.kubelet.runtime.docker_api import DockerApi, DockerError, demux
from kybernetes.kubelet.runtime.docker_exec import DockerExec
from kybernetes.kubelet.usage import Usage
from kybernetes.tasks import cancel_and_wait, spawn

log = logging.getLogger("kybernetes.kubelet.docker")

PAUSE_IMAGE = "kyb/pause:2"


def _time(text: str | None) -> float | None:
    if not text or text.startswith("0001-"):
        return None
    head, _, frac = text.rstrip("Z").partition(".")
    return parse_rfc3339(f"{head}.{(frac + '000000')[:6]}Z" if frac else f"{head}Z")


def _split_image(image: str) -> tuple[str, str]:
    if "@" in image:
        return image, ""
    name, sep, tag = image.rpartition(":")
    if sep and "/" not in tag:
        return name, tag
    return image, "latest"


def _registry_auth(auth: RegistryAuth | None) -> dict[str, str]:
    """Docker's X-Registry-Auth header: base64url of the credentials as JSON."""
    if auth is None:
        return {}
    body = json.dumps({"username": auth.username, "password": auth.password,
                       "serveraddress": auth.server}).encode()
    return {"X-Registry-Auth": base64.urlsafe_b64encode(body).decode()}


def _pause_tar(busybox: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(busybox, arcname="bin/busybox")
    return buf.getvalue()


class DockerRuntime(ChangeNotifier):
    """Containers as Docker containers; see the module docstring."""

    name = "docker"

    def __init__(self, config: KubeletConfig, *, socket_path: str = "/var/run/docker.sock") -> None:
        self._prober = NetworkProber()  # shared by every probe (its HTTP session)
        self.config = config
        self.api = DockerApi(socket_path)
        self.tag = node_tag(config.node_name, Path(config.root_dir))
        self.dir = Path(config.root_dir) / "runtime" / "sandboxes"
        self.network: NodeNetwork | None = None
        self._version = "unknown"
        ChangeNotifier.__init__(self)
        self._cache: dict[str, ContainerInfo] = {}
        self._cgroups = ContainerCgroups()
        self._events: asyncio.Task[None] | None = None

    @property
    def version(self) -> str:
        return f"docker://{self._version}"

    # -- life cycle --------------------------------------------------------------------

    async def start(self) -> None:
        try:
            self._version = (await self.api.call("GET", "/version"))["Version"]
        except DockerError as e:
            raise RuntimeError_(f"the docker runtime needs a Docker Engine: {e.message}",
                                reason="RuntimeNotReady") from e
        await self._ensure_pause()
        self._events = spawn(self._watch_events(), name=f"docker-events-{self.tag}")

    async def _ensure_pause(self) -> None:
        try:
            await self.api.call("GET", f"/images/{PAUSE_IMAGE}/json")
            return
        except DockerError as e:
            if e.status != 404:
                raise
        busybox = shutil.which("busybox")
        if busybox is None:
            raise RuntimeError_("building the pause image needs busybox (busybox-static)",
                                reason="RuntimeNotReady")
        repo, tag = _split_image(PAUSE_IMAGE)
        await self.api.call("POST", "/images/create", data=_pause_tar(busybox), params={
            "fromSrc": "-", "repo": repo, "tag": tag,
            "changes": 'CMD ["/bin/busybox", "sleep", "2147483647"]'}, time_limit=120)

    async def configure(self, *, pod_cidr: str | None) -> None:
        self.network = NodeNetwork.for_pod_cidr(self.tag, pod_cidr)
        if self.network is None:
            return
        await self.network.setup()

    async def aclose(self) -> None:
        await cancel_and_wait(self._events)
        await self._prober.aclose()
        await self.api.aclose()

    async def teardown(self) -> None:
        if self.network is not None:
            await self.network.teardown()

    async def _watch_events(self) -> None:
        filters = {"type": ["container"], "label": [f"{L_NODE}={self.tag}"],
                   "event": ["start", "die", "oom"]}
        while True:
            try:
                async for event in self.api.json_lines("GET", "/events",
                                                       params={"filters": filters}):
                    self._cache.pop(event.get("id", ""), None)
                    uid = (event.get("Actor") or {}).get("Attributes", {}).get(L_UID)
                    if uid:
                        self.notify(uid)
            except asyncio.CancelledError:
                raise
            except (DockerError, ValueError) as e:
                log.debug("docker events interrupted", extra={"error": str(e)})
            await asyncio.sleep(1)

    # -- helpers -----------------------------------------------------------------------

    def _labels(self, pod: dict[str, Any], kind: str) -> dict[str, str]:
        return pod_labels(self.tag, pod, kind)

    async def _list(self, kind: str, pod_uid: str | None = None) -> list[dict[str, Any]]:
        labels = [f"{L_NODE}={self.tag}", f"{L_KIND}={kind}"]
        if pod_uid:
            labels.append(f"{L_UID}={pod_uid}")
        return await self.api.call("GET", "/containers/json",
                                   params={"all": True, "filters": {"label": labels}}) or []

    async def _inspect(self, cid: str) -> ContainerInfo:
        data = await self.api.call("GET", f"/containers/{cid}/json")
        labels = data["Config"]["Labels"] or {}
        state = data["State"]
        status = RUNNING if state.get("Running") else CREATED \
            if state.get("Status") == "created" else EXITED
        code = state.get("ExitCode") if status == EXITED else None
        self._cgroups.note(data["Id"], status == RUNNING, int(state.get("Pid") or 0))
        reason = ""
        if status == EXITED:
            reason = "OOMKilled" if state.get("OOMKilled") else \
                "Completed" if code == 0 else "Error"
        return ContainerInfo(
            id=f"docker://{data['Id']}", pod_uid=labels.get(L_UID, ""),
            name=labels.get(L_CONTAINER, ""), attempt=int(labels.get(L_ATTEMPT, "0")),
            state=status, image=data["Config"].get("Image", ""),
            image_id=f"docker-pullable://{data.get('Image', '')}",
            started_at=_time(state.get("StartedAt")), finished_at=_time(state.get("FinishedAt")),
            exit_code=code, reason=reason, message=state.get("Error") or "", labels=labels)

    def usage(self, container_ids: list[str]) -> dict[str, Usage]:
        """Running containers' usage, from their cgroups (none for a container whose
        groups are unknown or gone)."""
        return self._cgroups.usage(container_ids)

    # -- images ------------------------------------------------------------------------

    async def pull_image(self, spec: dict[str, Any], on_event: Callable[[str, str], None],
                         auth: RegistryAuth | None = None) -> str:
        """Make the image present per imagePullPolicy; the message of the Pulled event."""
        image = spec.get("image") or ""
        if not image:
            raise RuntimeError_("container has no image", reason="InvalidImageName")
        policy = pull_policy(spec)
        present = True
        try:
            await self.api.call("GET", f"/images/{image}/json")
        except DockerError as e:
            if e.status != 404:
                raise RuntimeError_(e.message, reason="ErrImagePull") from e
            present = False
        if present and policy != "Always":
            return f'Container image "{image}" already present on machine'
        if not present and policy == "Never":
            raise RuntimeError_(f'Container image "{image}" is not present with pull policy '
                                "of Never", reason="ErrImageNeverPull")
        on_event("Pulling", f'Pulling image "{image}"')
        started = time.monotonic()
        repo, tag = _split_image(image)
        try:
            async for line in self.api.json_lines("POST", "/images/create",
                                                  params={"fromImage": repo, "tag": tag or None},
                                                  headers=_registry_auth(auth)):
                if line.get("error"):
                    raise DockerError(500, line["error"])
        except DockerError as e:
            raise RuntimeError_(f'Failed to pull image "{image}": {e.message}',
                                reason="ErrImagePull") from e
        return f'Successfully pulled image "{image}" in {time.monotonic() - started:.3f}s'

    # -- sandboxes ---------------------------------------------------------------------

    def _sandbox_file(self, uid: str) -> Path:
        return self.dir / f"{uid}.json"

    async def run_sandbox(self, pod: dict[str, Any], *, ip: str | None) -> Sandbox:
        uid = pod["metadata"]["uid"]
        path = self._sandbox_file(uid)
        for c in await self._list("sandbox", uid):
            if c["State"] == "running" and path.exists():
                return Sandbox(**json.loads(path.read_text()))
            await self.api.call("DELETE", f"/containers/{c['Id']}", params={"force": True})
        host = bool(pod["spec"].get("hostNetwork"))
        wire = ip is not None and self.network is not None and not host
        meta = pod["metadata"]
        body = {"Image": PAUSE_IMAGE, "Hostname": pod_hostname(pod) if not host else None,
                "Labels": self._labels(pod, "sandbox"),
                "HostConfig": {"NetworkMode": "host" if host else "none" if wire else "bridge",
                               "AutoRemove": False, **self._dns_host_config(pod, ip)}}
        name = f"kyb_{self.tag}_POD_{meta['name']}_{meta.get('namespace', 'default')}_{uid[:8]}"
        try:
            created = await self.api.call("POST", "/containers/create", params={"name": name},
                                          body={k: v for k, v in body.items() if v is not None})
            await self.api.call("POST", f"/containers/{created['Id']}/start")
            data = await self.api.call("GET", f"/containers/{created['Id']}/json")
            if wire:
                assert self.network is not None and ip is not None
                netns = await self.network.add_pod(uid, ip, pid=int(data["State"]["Pid"]))
                sandbox = Sandbox(pod_uid=uid, ip=ip, host_network=False, netns=netns,
                                  id=created["Id"])
            else:
                sandbox = Sandbox(pod_uid=uid, ip=data["NetworkSettings"].get("IPAddress", ""),
                                  host_network=host or not data["NetworkSettings"].get(
                                      "IPAddress"), id=created["Id"])
        except (DockerError, NetworkError) as e:
            raise RuntimeError_(f"creating the pod sandbox: {e}",
                                reason="FailedCreatePodSandBox") from e
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(sandbox.__dict__))
        return sandbox

    def _dns_host_config(self, pod: dict[str, Any], ip: str | None) -> dict[str, Any]:
        """The pod's resolver and hosts entries for the sandbox, whose resolv.conf and
        /etc/hosts the pod's containers share (they join its namespaces)."""
        out: dict[str, Any] = {}
        config = self.config
        if needs_resolv_conf(pod, config.cluster_dns):
            settings = dns_settings(pod, cluster_dns=config.cluster_dns,
                                    cluster_domain=config.cluster_domain,
                                    host=host_settings(config.resolv_conf))
            out.update(Dns=list(settings.nameservers), DnsSearch=list(settings.searches),
                       DnsOptions=list(settings.options))
        if pod["spec"].get("hostNetwork"):
            return out
        extra = [f"{name}:{alias['ip']}" for alias in pod["spec"].get("hostAliases") or []
                 if alias.get("ip") for name in alias.get("hostnames") or []]
        fqdn = pod_fqdn(pod, config.cluster_domain)
        if ip and fqdn:
            extra.append(f"{fqdn}:{ip}")
        if extra:
            out["ExtraHosts"] = extra
        return out

    async def remove_sandbox(self, pod_uid: str) -> None:
        if self.network is not None:
            await self.network.remove_pod(pod_uid)
        for c in await self._list("sandbox", pod_uid):
            await self.api.call("DELETE", f"/containers/{c['Id']}", params={"force": True})
        self._sandbox_file(pod_uid).unlink(missing_ok=True)

    async def list_sandboxes(self) -> list[Sandbox]:
        out = []
        for c in await self._list("sandbox"):
            path = self._sandbox_file(c["Labels"].get(L_UID, ""))
            if path.exists():
                out.append(Sandbox(**json.loads(path.read_text())))
            else:
                out.append(Sandbox(pod_uid=c["Labels"].get(L_UID, ""), ip="",
                                   host_network=True, id=c["Id"]))
        return out

    # -- containers --------------------------------------------------------------------

    def _create_body(self, sandbox: Sandbox, config: ContainerConfig) -> dict[str, Any]:
        spec = config.spec
        limits = (spec.get("resources") or {}).get("limits") or {}
        host: dict[str, Any] = {
            "NetworkMode": f"container:{sandbox.id}",
            "Binds": [f"{src}:{dst}{':ro' if ro else ''}" for src, dst, ro in config.mounts],
            "LogConfig": {"Type": "json-file", "Config": {"max-size": "10m", "max-file": "2"}}}
        if "memory" in limits:
            host["Memory"] = host["MemorySwap"] = memory_bytes(limits["memory"])
        if "cpu" in limits:
            host["NanoCpus"] = cpu_millis(limits["cpu"]) * 1_000_000
        body: dict[str, Any] = {
            "Image": spec.get("image"), "Env": [f"{k}={v}" for k, v in config.env.items()],
            "Labels": {**self._labels(config.pod, "container"), L_CONTAINER: spec["name"],
                       L_ATTEMPT: str(config.attempt)},
            "Tty": bool(spec.get("tty")), "OpenStdin": bool(spec.get("stdin")),
            "HostConfig": host}
        if spec.get("command"):
            body["Entrypoint"] = [expand(str(a), config.env) for a in spec["command"]]
            body["Cmd"] = [expand(str(a), config.env) for a in spec.get("args") or []]
        elif spec.get("args"):
            body["Cmd"] = [expand(str(a), config.env) for a in spec["args"]]
        if spec.get("workingDir"):
            body["WorkingDir"] = spec["workingDir"]
        return body

    async def start_container(self, sandbox: Sandbox, config: ContainerConfig) -> ContainerInfo:
        meta = config.pod["metadata"]
        name = (f"kyb_{self.tag}_{config.spec['name']}_{meta['name']}_"
                f"{meta.get('namespace', 'default')}_{meta['uid'][:8]}_{config.attempt}")
        try:
            created = await self.api.call("POST", "/containers/create", params={"name": name},
                                          body=self._create_body(sandbox, config))
        except DockerError as e:
            raise RuntimeError_(e.message, reason="CreateContainerError") from e
        try:
            await self.api.call("POST", f"/containers/{created['Id']}/start")
        except DockerError as e:
            await self.api.call("DELETE", f"/containers/{created['Id']}", params={"force": True})
            raise RuntimeError_(e.message, reason="RunContainerError") from e
        return await self._inspect(created["Id"])

    async def stop_container(self, container_id: str, *, grace: float) -> None:
        try:
            await self.api.call("POST", f"/containers/{raw_id(container_id)}/stop",
                                params={"t": math.ceil(grace)}, time_limit=grace + 30)
        except DockerError as e:
            if e.status not in (304, 404):
                raise
        self._cache.pop(raw_id(container_id), None)

    async def remove_container(self, container_id: str) -> None:
        try:
            await self.api.call("DELETE", f"/containers/{raw_id(container_id)}",
                                params={"force": True})
        except DockerError as e:
            if e.status != 404:
                raise
        self._cache.pop(raw_id(container_id), None)
        self._cgroups.forget(raw_id(container_id))

    async def list_containers(self, pod_uid: str | None = None) -> list[ContainerInfo]:
        out = []
        for c in await self._list("container", pod_uid):
            cached = self._cache.get(c["Id"])
            state = RUNNING if c["State"] == "running" else CREATED \
                if c["State"] == "created" else EXITED
            if cached is None or cached.state != state:
                try:
                    cached = await self._inspect(c["Id"])
                except DockerError:
                    continue
                self._cache[c["Id"]] = cached
            out.append(cached)
        return out

    def log_file(self, container_id: str) -> Path | None:
        return None

    def prober(self, pod: dict[str, Any]) -> Prober:
        """Probes reach the container: exec in it, HTTP or TCP to the pod's IP."""
        return self._prober

    async def read_logs(self, container_id: str, *, follow: bool, tail_lines: int | None,
                        limit_bytes: int | None, since_seconds: str | None,
                        since_time: str | None, timestamps: bool) -> AsyncIterator[bytes]:
        """The container's log through Docker, with Kubernetes' options."""
        since = None
        if since_seconds:
            since = int(time.time() - int(since_seconds))
        elif since_time:
            since = int(parse_rfc3339(since_time) or 0)
        params = {"stdout": True, "stderr": True, "follow": follow, "timestamps": timestamps,
                  "tail": str(tail_lines) if tail_lines is not None else "all", "since": since}
        sent, buffer = 0, b""
        async for chunk in self.api.stream("GET", f"/containers/{raw_id(container_id)}/logs",
                                           params=params):
            frames, buffer = demux(buffer + chunk)
            for _, data in frames:
                if limit_bytes is not None:
                    data = data[: max(0, limit_bytes - sent)]
                sent += len(data)
                if data:
                    yield data
                if limit_bytes is not None and sent >= limit_bytes:
                    return

    async def exec_sync(self, container_id: str, command: list[str], *,
                        time_limit: float) -> tuple[int, bytes]:
        session = await self.exec_stream(container_id, command, tty=False, stdin=False)
        out = b""
        try:
            async with asyncio.timeout(time_limit):
                async for _, data in session.output():
                    out += data
                return await session.wait(), out
        finally:
            await session.kill()

    async def exec_stream(self, container_id: str, command: list[str], *, tty: bool,
                          stdin: bool = True) -> DockerExec:
        if not command:
            raise RuntimeError_("no command given", reason="BadRequest")
        try:
            return await DockerExec.start(self.api, raw_id(container_id), command, tty=tty,
                                          stdin=stdin)
        except DockerError as e:
            raise RuntimeError_(e.message, reason="ExecError") from e
