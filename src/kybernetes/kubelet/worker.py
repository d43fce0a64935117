"""One worker per pod drives the runtime toward the pod's spec.

The loop is level-triggered, like the Kubernetes kubelet's SyncPod: each pass
reads what the runtime has for the pod and takes the next steps (sandbox, the
first unfinished init container, any missing or restartable container, a kill
for a failed liveness probe), then writes the pod's status when it changed. A
pass runs when the pod changes, a container changes state, a probe flips, or
a back-off expires; otherwise every `sync_seconds`. A pass that fails (the API
server unreachable or overloaded) is retried after 10–15 s, as kube's pod workers
back off, unless the pod changes first: a thousand workers retrying every second
would keep an overloaded API server overloaded.

Deletion (a deletionTimestamp, or the pod vanishing) switches the worker to
termination: preStop hooks, SIGTERM, the grace period, SIGKILL, sandbox and
volumes removed, and finally the pod object deleted with grace period 0 and
a UID precondition, so a newer pod of the same name is never touched.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from kybernetes.api.errors import ApiError, Conflict, NotFound
from kybernetes.api.resources import PODS
from kybernetes.client.events import EventSink
from kybernetes.client.verbs import Deleter, Patcher
from kybernetes.kubelet.backoff import Backoff
from kybernetes.kubelet.config import rfc3339
from kybernetes.kubelet.env import ConfigError, container_env
from kybernetes.kubelet.pod_volumes import PodVolumes
from kybernetes.kubelet.probes import ContainerProbes, Result
from kybernetes.kubelet.pull_secrets import RegistryAuth, credentials_for
from kybernetes.kubelet.runtime.base import (
    EXITED,
    RUNNING,
    ContainerConfig,
    ContainerInfo,
    Runtime,
    RuntimeError_,
    Sandbox,
)
from kybernetes.kubelet.status import PodObservation, keep_foreign_conditions, pod_status
from kybernetes.kubelet.volumes import mounts_for

log = logging.getLogger("kybernetes.kubelet.worker")

NORMAL, WARNING = "Normal", "Warning"
SYNC_ERROR_BACKOFF = 10.0  # kubelet's backOffPeriod, jittered by up to half again
_PROBE_NAMES = {"livenessProbe": "Liveness", "readinessProbe": "Readiness",
                "startupProbe": "Startup"}


class PodStatusWriter(Patcher, Deleter, Protocol):
    """The verbs a pod worker uses: status patches, and the final delete."""


class Sandboxes(Protocol):
    async def sandbox_for(self, pod: dict[str, Any]) -> Sandbox: ...

    async def release_sandbox(self, uid: str) -> None: ...


class References(Protocol):
    """Where a container's environment comes from besides the pod itself."""

    def services(self, pod: dict[str, Any]) -> list[dict[str, Any]]: ...

    async def lookup(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None: ...


@dataclass(frozen=True, slots=True)
class PodHost:
    """What a pod worker uses of its node, and nothing else of the kubelet: one per
    kubelet, shared by its workers."""

    client: PodStatusWriter
    runtime: Runtime
    recorder: EventSink
    backoff: Backoff
    volumes: PodVolumes
    sandboxes: Sandboxes
    references: References
    node_ip: str
    allocatable: dict[str, int]
    sync_seconds: float
    root_dir: Path

    def log_path(self, uid: str, name: str, attempt: int) -> Path:
        """Where a container's output goes: `<root>/pods/<uid>/logs/<name>/<attempt>.log`."""
        return self.root_dir / "pods" / uid / "logs" / name / f"{attempt}.log"


def _restart(policy: str, exit_code: int | None) -> bool:
    return policy == "Always" or (policy == "OnFailure" and exit_code != 0)


class _Wake:
    """asyncio.Event's set/clear/wait in a fraction of its memory (it holds a deque of
    waiters; a hollow-nodes process has one per pod, tens of thousands). Set at first:
    a new worker makes its first pass at once."""

    __slots__ = ("_set", "_waiter")

    def __init__(self) -> None:
        self._set = True
        self._waiter: asyncio.Future[None] | None = None

    def set(self) -> None:
        self._set = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def clear(self) -> None:
        self._set = False

    async def wait(self) -> None:
        if self._set:
            return
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None


class PodWorker:
    """Owns one pod on this node until it is gone."""

    def __init__(self, host: PodHost, pod: dict[str, Any], *, rejected: str = "") -> None:
        self.host = host
        self.pod = pod
        self.rejected = rejected
        self.uid: str = pod["metadata"]["uid"]
        self.deleted = False
        self.finished = False
        self.sandbox: Sandbox | None = None
        self.volumes: dict[str, Any] | None = None
        self.waiting: dict[str, tuple[str, str]] = {}
        self.probes: dict[str, ContainerProbes] = {}
        self.posted: dict[str, Any] | None = None
        self.start_time = ""
        self._pull_failed: dict[str, float] = {}
        self._born = time.monotonic()
        self._soon = False
        self._wake = _Wake()

    # -- inputs ------------------------------------------------------------------

    def update(self, pod: dict[str, Any]) -> None:
        """A newer version of the pod. The echo of our own status write changes
        nothing we act on, so only a change outside status wakes the worker (an
        immediate pass would overwrite a state such as ErrImagePull at once)."""
        changed = _desired(pod) != _desired(self.pod)
        if self.posted is not None and \
                _conditions(pod.get("status"), self.posted) != _conditions(self.posted):
            # Someone else set a condition we own (the node lifecycle controller marks
            # pods not Ready while their node is unreachable): write ours again, as
            # kube's status manager reconciles what the API holds with what it knows.
            self.posted = None
            changed = True
        self.pod = pod
        if changed:
            self.wake()

    def gone(self) -> None:
        """The pod object was deleted from the API server."""
        self.deleted = True
        self.wake()

    def wake(self) -> None:
        self._wake.set()

    @property
    def name(self) -> str:
        meta = self.pod["metadata"]
        return f"{meta.get('namespace', 'default')}/{meta['name']}"

    def _event(self, type_: str, reason: str, message: str) -> None:
        self.host.recorder.event(self.pod, type_, reason, message)

    # -- the loop ----------------------------------------------------------------

    async def run(self) -> None:
        while not self.finished:
            await self._wake.wait()
            self._wake.clear()
            try:
                delay = await self.sync()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("pod sync failed", extra={"pod": self.name, "error": repr(e)},
                            exc_info=log.isEnabledFor(logging.DEBUG))
                delay = SYNC_ERROR_BACKOFF * (1 + random.random() / 2)
            if self.finished:
                break
            try:
                async with asyncio.timeout(delay):
                    await self._wake.wait()
            except TimeoutError:
                self._wake.set()
        await self._close_probes()

    async def sync(self) -> float:
        """One pass toward the spec; seconds until the next unprompted pass."""
        if self.deleted or self.pod["metadata"].get("deletionTimestamp"):
            await self.terminate()
            return 0.0
        if self.rejected:
            await self._post_rejection()
            return self.host.sync_seconds * 6
        if self.sandbox is None:
            self.sandbox = await self.host.sandboxes.sandbox_for(self.pod)
            self.start_time = self.start_time or rfc3339()
            log.debug("sandbox ready", extra={"pod": self.name,
                                              "age": round(time.monotonic() - self._born, 3)})
        containers = await self._containers()
        if self.volumes is None and containers:
            await self._adopt_volumes()
        await self._start_ephemeral(containers)
        next_pass = self.host.sync_seconds
        if await self._init_done(containers):
            for spec in self.pod["spec"].get("containers") or []:
                wait = await self._sync_container(spec, containers.get(spec["name"]) or [])
                next_pass = min(next_pass, wait)
        log.debug("containers synced", extra={"pod": self.name,
                                               "age": round(time.monotonic() - self._born, 3)})
        await self._post_status(await self._containers())
        if self._soon:
            self._soon, next_pass = False, min(next_pass, 0.2)
        return max(next_pass, 0.05)

    async def _adopt_volumes(self) -> None:
        """Containers that ran before this kubelet started: set their volumes up again,
        so their tokens are renewed (a failure is left to the next container start)."""
        try:
            self.volumes = await self.host.volumes.setup(lambda: self.pod)
        except ConfigError as e:
            log.info("volumes of adopted pod not refreshed",
                     extra={"pod": self.name, "error": str(e)})

    async def _containers(self) -> dict[str, list[ContainerInfo]]:
        grouped: dict[str, list[ContainerInfo]] = {}
        for c in sorted(await self.host.runtime.list_containers(self.uid),
                        key=lambda c: c.attempt):
            grouped.setdefault(c.name, []).append(c)
        return grouped

    # -- containers --------------------------------------------------------------

    async def _start_ephemeral(self, containers: dict[str, list[ContainerInfo]]) -> None:
        """Ephemeral containers (kubectl debug) run once each, never restarted, started
        ahead of init containers as kube's kubelet does (so a pod stuck initializing can
        still be debugged)."""
        for spec in self.pod["spec"].get("ephemeralContainers") or []:
            if not containers.get(spec["name"]):
                await self._start(spec, 0, ephemeral=True)

    async def _init_done(self, containers: dict[str, list[ContainerInfo]]) -> bool:
        policy = self.pod["spec"].get("restartPolicy", "Always")
        for spec in self.pod["spec"].get("initContainers") or []:
            attempts = containers.get(spec["name"]) or []
            latest = attempts[-1] if attempts else None
            if latest is None:
                await self._start(spec, 0, init=True)
                return False
            if latest.state != EXITED:
                return False
            if latest.exit_code == 0:
                continue
            if policy != "Never":
                await self._restart_after_backoff(spec, latest, init=True)
            return False
        return True

    async def _sync_container(self, spec: dict[str, Any],
                              attempts: list[ContainerInfo]) -> float:
        latest = attempts[-1] if attempts else None
        if latest is None:
            await self._start(spec, 0)
            return self.host.sync_seconds
        if latest.state == RUNNING:
            self.waiting.pop(spec["name"], None)
            return await self._watch_running(spec, latest)
        await self._close_probes(latest.id)
        if latest.state == EXITED and _restart(self.pod["spec"].get("restartPolicy", "Always"),
                                               latest.exit_code):
            return await self._restart_after_backoff(spec, latest)
        return self.host.sync_seconds

    async def _restart_after_backoff(self, spec: dict[str, Any], latest: ContainerInfo, *,
                                     init: bool = False) -> float:
        key = f"{self.uid}/{spec['name']}"
        backoff = self.host.backoff
        wait = backoff.in_backoff(key, latest.finished_at or time.time(), time.time())
        if wait > 0:
            meta = self.pod["metadata"]
            message = (f"back-off {backoff.peek(key):g}s restarting failed container="
                       f"{spec['name']} pod={meta['name']}_{meta.get('namespace')}({self.uid})")
            if self.waiting.get(spec["name"], ("",))[0] != "CrashLoopBackOff":
                self._event(WARNING, "BackOff",
                            f"Back-off restarting failed container {spec['name']} in pod "
                            f"{meta['name']}_{meta.get('namespace')}({self.uid})")
            self.waiting[spec["name"]] = ("CrashLoopBackOff", message)
            return wait
        backoff.next(key, time.time())
        await self._start(spec, latest.attempt + 1, init=init)
        await self._prune(spec["name"])
        return self.host.sync_seconds

    async def _prune(self, name: str) -> None:
        """Keep the newest two attempts of a container (the current and the previous)."""
        attempts = (await self._containers()).get(name) or []
        for old in attempts[:-2]:
            await self.host.runtime.remove_container(old.id)

    async def _start(self, spec: dict[str, Any], attempt: int, *, init: bool = False,
                     ephemeral: bool = False) -> None:
        name = spec["name"]
        assert self.sandbox is not None
        try:
            if self.volumes is None:
                self.volumes = await self.host.volumes.setup(lambda: self.pod)
            env = await container_env(self.pod_with_ips(), spec,
                                      services=self.host.references.services(self.pod),
                                      lookup=self.host.references.lookup,
                                      allocatable=self.host.allocatable)
            mounts = mounts_for(spec, self.volumes)
        except ConfigError as e:
            self._fail(name, "CreateContainerConfigError", str(e))
            return
        if not await self._pull(spec):
            return
        config = ContainerConfig(pod=self.pod, spec=spec, attempt=attempt, env=env,
                                 mounts=mounts, init=init,
                                 log_path=self.host.log_path(self.uid, name, attempt))
        try:
            info = await self.host.runtime.start_container(self.sandbox, config)
        except RuntimeError_ as e:
            self._fail(name, e.reason, e.message)
            return
        self.waiting.pop(name, None)
        self._event(NORMAL, "Created", f"Created container: {name}")
        self._event(NORMAL, "Started", f"Started container {name}")
        if info.state == RUNNING and not init and not ephemeral:
            self._open_probes(spec, info)

    async def _pull(self, spec: dict[str, Any]) -> bool:
        """The image, per imagePullPolicy, with back-off after failed pulls."""
        name, image = spec["name"], spec.get("image", "")
        key, now = f"{self.uid}/{name}/pull", time.time()
        if self.host.backoff.in_backoff(key, self._pull_failed.get(name, 0.0), now) > 0:
            if self.waiting.get(name, ("",))[0] != "ImagePullBackOff":
                self._event(NORMAL, "BackOff", f'Back-off pulling image "{image}"')
                self._event(WARNING, "Failed", "Error: ImagePullBackOff")
            self.waiting[name] = ("ImagePullBackOff", f'Back-off pulling image "{image}"')
            return False
        try:
            message = await self.host.runtime.pull_image(
                spec, lambda reason, msg: self._event(NORMAL, reason, msg),
                auth=await self._pull_auth(image))
        except RuntimeError_ as e:
            if e.reason not in ("ErrImagePull", "ErrImageNeverPull"):
                self._fail(name, e.reason, e.message)
                return False
            if e.reason == "ErrImagePull":  # shown once, then ImagePullBackOff until retried
                self.host.backoff.next(key, now)
                self._pull_failed[name] = now
                self._soon = True
            # as Kubernetes' image manager: the puller's own event with the whole message,
            # then "Error: <reason>"; the waiting state keeps the message
            self._event(WARNING, "Failed" if e.reason == "ErrImagePull" else e.reason,
                        e.message)
            self.waiting[name] = (e.reason, e.message)
            self._event(WARNING, "Failed", f"Error: {e.reason}")
            return False
        self._event(NORMAL, "Pulled", message)
        return True

    async def _pull_auth(self, image: str) -> RegistryAuth | None:
        """Credentials for `image` from the pod's imagePullSecrets (a missing Secret is
        reported with Kubernetes' event and skipped, as the kubelet does)."""
        names = [str(ref.get("name")) for ref in self.pod["spec"].get("imagePullSecrets") or []
                 if isinstance(ref, dict) and ref.get("name")]
        if not names:
            return None
        namespace = self.pod["metadata"].get("namespace", "default")
        found: list[dict[str, Any]] = []
        missing: list[str] = []
        for name in names:
            secret = await self.host.references.lookup("Secret", namespace, name)
            if secret is None:
                missing.append(name)
            else:
                found.append(secret)
        if missing:
            self._event(WARNING, "FailedToRetrieveImagePullSecret",
                        f"Unable to retrieve some image pull secrets ({', '.join(missing)}); "
                        "attempting to pull the image may not succeed.")
        return credentials_for(image, found)

    def _fail(self, name: str, reason: str, message: str) -> None:
        self.waiting[name] = (reason, message)
        self._event(WARNING, "Failed", f"Error: {message}")

    def pod_with_ips(self) -> dict[str, Any]:
        status = dict(self.pod.get("status") or {})
        if self.sandbox is not None:
            status.update(podIP=self.sandbox.ip, podIPs=[{"ip": self.sandbox.ip}])
        status.update(hostIP=self.host.node_ip, hostIPs=[{"ip": self.host.node_ip}])
        return {**self.pod, "status": status}

    # -- probes ------------------------------------------------------------------

    def _open_probes(self, spec: dict[str, Any], info: ContainerInfo) -> None:
        if info.id in self.probes:
            return
        assert self.sandbox is not None

        async def exec_(command: list[str], time_limit: float) -> tuple[int, bytes]:
            return await self.host.runtime.exec_sync(info.id, command, time_limit=time_limit)

        def on_change(kind: str, result: Result) -> None:
            if kind.endswith("-failed"):
                probe = _PROBE_NAMES[kind.removesuffix("-failed")]
                self._event(WARNING, "Unhealthy", f"{probe} probe failed: {result.message}")
            self.wake()

        probes = ContainerProbes(spec, pod_ip=self.sandbox.ip, exec_=exec_, on_change=on_change,
                                 prober=self.host.runtime.prober(self.pod))
        probes.start(f"{self.name}/{spec['name']}")
        self.probes[info.id] = probes

    async def _watch_running(self, spec: dict[str, Any], info: ContainerInfo) -> float:
        self._open_probes(spec, info)
        probes = self.probes[info.id]
        if probes.live:
            return self.host.sync_seconds
        probe = _PROBE_NAMES[probes.failed_kind].lower()
        self._event(NORMAL, "Killing",
                    f"Container {spec['name']} failed {probe} probe, will be restarted")
        await self._close_probes(info.id)
        await self.host.runtime.stop_container(info.id, grace=self._grace())
        return 0.0

    async def _close_probes(self, container_id: str | None = None) -> None:
        ids = [container_id] if container_id else list(self.probes)
        for cid in ids:
            probes = self.probes.pop(cid, None)
            if probes is not None:
                await probes.aclose()

    @property
    def active(self) -> bool:
        """Counts against the node's pod capacity (admitted and not finished)."""
        phase = (self.posted or self.pod.get("status") or {}).get("phase")
        return not self.rejected and phase not in ("Succeeded", "Failed")

    async def _post_rejection(self) -> None:
        """A pod the node cannot admit fails at once (reason OutOfpods), as in Kubernetes."""
        status = {"phase": "Failed", "reason": "OutOfpods", "message": self.rejected,
                  "hostIP": self.host.node_ip, "startTime": self.start_time or rfc3339()}
        if self.posted == status:
            return
        meta = self.pod["metadata"]
        self._event(WARNING, "OutOfpods", self.rejected.removeprefix("Pod was rejected: "))
        try:
            await self.host.client.patch(PODS, meta["name"], {"status": status},
                                            namespace=meta.get("namespace"),
                                            subresource="status")
        except NotFound:
            pass
        self.posted = status

    # -- status ------------------------------------------------------------------

    def observe(self, containers: dict[str, list[ContainerInfo]]) -> PodObservation:
        ready = {cid for cid, p in self.probes.items() if p.ready}
        started = {cid for cid, p in self.probes.items() if p.started}
        return PodObservation(containers=containers, waiting=dict(self.waiting), ready=ready,
                              started=started, sandbox_ready=self.sandbox is not None,
                              pod_ip=self.sandbox.ip if self.sandbox else "",
                              host_ip=self.host.node_ip, start_time=self.start_time)

    async def _post_status(self, containers: dict[str, list[ContainerInfo]]) -> None:
        base = self.pod if self.posted is None else {**self.pod, "status": self.posted}
        status = pod_status(base, self.observe(containers))
        keep_foreign_conditions(status, self.pod.get("status"))
        if status == self.posted:
            return
        meta = self.pod["metadata"]
        try:
            await self.host.client.patch(PODS, meta["name"], {"status": status},
                                            namespace=meta.get("namespace"),
                                            subresource="status")
            log.debug("pod status written", extra={"pod": self.name, "phase": status["phase"],
                                                   "age": round(time.monotonic() - self._born, 3)})
            self.posted = status
        except NotFound:
            self.posted = status

    # -- termination -------------------------------------------------------------

    def _grace(self) -> float:
        meta, spec = self.pod["metadata"], self.pod["spec"]
        grace = meta.get("deletionGracePeriodSeconds")
        if grace is None:
            grace = spec.get("terminationGracePeriodSeconds", 30)
        return float(grace)

    async def _stop_one(self, info: ContainerInfo, grace: float) -> None:
        spec: dict[str, Any] = next((c for c in self.pod["spec"].get("containers") or []
                     if c["name"] == info.name), {})
        deadline = time.monotonic() + grace
        self._event(NORMAL, "Killing", f"Stopping container {info.name}")
        hook = ((spec.get("lifecycle") or {}).get("preStop") or {}).get("exec")
        if hook:
            try:
                await self.host.runtime.exec_sync(info.id, list(hook.get("command") or []),
                                                     time_limit=max(grace, 0.1))
            except (RuntimeError_, OSError) as e:
                self._event(WARNING, "FailedPreStopHook", f"PreStopHook failed: {e}")
        await self.host.runtime.stop_container(
            info.id, grace=max(0.0, deadline - time.monotonic()))

    async def shut_down(self, grace: float, reason: Callable[[dict[str, Any]], None]) -> None:
        """The node is going down: stop the containers within `grace`, then post the
        final status as `reason` changes it (the pod object stays; its worker ends)."""
        await self._close_probes()
        running = [c for c in await self.host.runtime.list_containers(self.uid)
                   if c.state == RUNNING]
        await asyncio.gather(*(self._stop_one(c, grace) for c in running))
        base = self.pod if self.posted is None else {**self.pod, "status": self.posted}
        status = pod_status(base, self.observe(await self._containers()))
        reason(status)
        keep_foreign_conditions(status, self.pod.get("status"))
        self.finished = True
        meta = self.pod["metadata"]
        try:
            await self.host.client.patch(PODS, meta["name"], {"status": status},
                                            namespace=meta.get("namespace"),
                                            subresource="status")
            self.posted = status
        except NotFound:
            pass

    async def terminate(self) -> None:
        """Stop everything the pod runs, free its resources, then delete the pod object."""
        await self._close_probes()
        grace = 0.0 if self.deleted and not self.pod["metadata"].get("deletionTimestamp") \
            else self._grace()
        running = [c for c in await self.host.runtime.list_containers(self.uid)
                   if c.state == RUNNING]
        await asyncio.gather(*(self._stop_one(c, grace) for c in running))
        if not self.deleted:
            await self._post_status(await self._containers())
        for c in await self.host.runtime.list_containers(self.uid):
            await self.host.runtime.remove_container(c.id)
        await self.host.sandboxes.release_sandbox(self.uid)
        await self.host.volumes.teardown(self.uid)
        self.finished = True
        if self.deleted:
            return
        meta = self.pod["metadata"]
        try:
            await self.host.client.delete(PODS, meta["name"], namespace=meta.get("namespace"),
                                             grace_period_seconds=0,
                                             preconditions={"uid": self.uid})
        except (NotFound, Conflict):
            pass
        except ApiError as e:
            log.warning("pod not deleted", extra={"pod": self.name, "error": str(e)})
            self.finished = False
            raise


def _conditions(status: dict[str, Any] | None,
                owned: dict[str, Any] | None = None) -> dict[str, Any]:
    """Condition type -> status, of the types `owned` (a status we posted) holds."""
    types = {c.get("type") for c in ((owned or status) or {}).get("conditions") or ()}
    return {c.get("type"): c.get("status") for c in (status or {}).get("conditions") or ()
            if c.get("type") in types}


def _desired(pod: dict[str, Any]) -> tuple[Any, ...]:
    """What the kubelet acts on: everything but status and the bookkeeping metadata."""
    meta = {k: v for k, v in (pod.get("metadata") or {}).items()
            if k not in ("resourceVersion", "managedFields")}
    return meta, pod.get("spec")
