"""The process runtime: containers are host processes; pods get network namespaces.

A container is its `command` + `args` run as a new session (so its process
group is signalled as a unit), with the pod's environment, stdout and stderr
appended to one log file (copy-truncated past 10 MiB), and, as root: its own cgroup (memory and CPU
limits, OOM detection), the pod's network namespace, a UTS namespace with the pod's
hostname, and a private mount namespace in which its volumes and the pod's
/etc/hosts and /etc/resolv.conf are bind-mounted (mount points missing on the host
are made in that namespace only: `mount_ns`). All of that is set up in the child
between fork and exec (`preexec_fn`), so the program starts already confined. The
image is recorded, not run: the container sees the host's file system.

PID namespaces (root, not hostPID): a pod with `shareProcessNamespace` gets one,
held by a reaping PID 1 (Kubernetes' pause; started with the pod's first container),
which all its containers join; with `--container-pid-namespaces` every other
container gets its own, its command PID 1. Either way the container's process is
`pid_init`, which enters the namespace, forks the command with /proc mounted for
that namespace, and exits with its status; SIGTERM goes to the command itself.

State is written under `<root>/runtime/` (one JSON file per container and per
sandbox) and exits are watched through pidfds, so a restarted kubelet adopts
running containers: same IDs, same attempts, no duplicates. A container that
ended while the kubelet was down is reported as `ContainerStatusUnknown`
with exit code 137, as Kubernetes reports containers it lost track of.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from kybernetes import __version__
from kybernetes.kubelet.cgroups import Cgroups
from kybernetes.kubelet.config import KubeletConfig
from kybernetes.kubelet.network import NetworkError, NodeNetwork, can_use_netns, node_tag
from kybernetes.kubelet.pod_dns import (
    dns_settings,
    host_settings,
    hosts_file,
    needs_resolv_conf,
    pod_hostname,
)
from kybernetes.kubelet.probes import NetworkProber, Prober
from kybernetes.kubelet.pull_secrets import RegistryAuth
from kybernetes.kubelet.runtime import attach, mount_ns, pid_init
from kybernetes.kubelet.runtime.base import (
    EXITED,
    RUNNING,
    ChangeNotifier,
    ContainerConfig,
    ContainerInfo,
    RuntimeError_,
    Sandbox,
)
from kybernetes.kubelet.runtime.exec import ProcessExec, nsenter_prefix
from kybernetes.kubelet.runtime.mount_ns import MountPlan
from kybernetes.kubelet.usage import Usage, process_groups
from kybernetes.tasks import cancel_and_wait, spawn

log = logging.getLogger("kybernetes.kubelet.process")

_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000
CLONE_NEWUTS = 0x04000000
LOG_MAX_BYTES = 10 * 1024 * 1024  # Kubernetes' containerLogMaxSize
LOG_CHECK_SECONDS = 10.0
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PID_INIT = [sys.executable, "-I", "-S", pid_init.__file__]  # stdlib only: starts in ~20 ms


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _child_setup(*, netns: str, procs: list[str], mounts: MountPlan | None,
                 cwd: str, hostname: str = "") -> Callable[[], None]:
    """What the child does between fork and exec: cgroup, netns, UTS namespace with
    the pod's hostname, mounts, cwd."""
    name = hostname.encode()

    def setup() -> None:
        for path in procs:
            with open(path, "w") as f:
                f.write(str(os.getpid()))
        if netns:
            fd = os.open(netns, os.O_RDONLY)
            _check(_libc.setns(fd, CLONE_NEWNET), "setns")
            os.close(fd)
        if name:
            _check(_libc.unshare(CLONE_NEWUTS), "unshare uts")
            _check(_libc.sethostname(name, len(name)), "sethostname")
        if mounts is not None:
            mount_ns.apply(mounts)
        os.chdir(cwd)
    return setup


def _spawn(argv: list[str], *, env: dict[str, str], log_path: Path,
           setup: Callable[[], None], stdin: int | None = None,
           terminal: int | None = None) -> subprocess.Popen[bytes]:
    """Start a container's process, output appended to its log file (or to its
    terminal, which the kubelet copies into the log file)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    if terminal is not None:
        def with_terminal() -> None:
            setup()
            attach.take_terminal()
        return subprocess.Popen(argv, env=env, stdin=terminal, stdout=terminal,
                                stderr=terminal, start_new_session=True, close_fds=True,
                                preexec_fn=with_terminal)
    with open(log_path, "ab") as out:
        return subprocess.Popen(argv, env=env,
                                stdin=subprocess.DEVNULL if stdin is None else stdin,
                                stdout=out, stderr=out,
                                start_new_session=True, close_fds=True, preexec_fn=setup)


def _spawn_and_stamp(argv: list[str], **kwargs: Any) -> tuple[subprocess.Popen[bytes], str]:
    """`_spawn`, and the child's start time read at once (both in a worker thread)."""
    popen = _spawn(argv, **kwargs)
    return popen, _proc_start(popen.pid)


def _write_record(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _log_disk_error(future: asyncio.Future[None]) -> None:
    """A record that could not be written or removed (nobody awaits most of them)."""
    if not future.cancelled() and future.exception() is not None:
        log.warning("container record not written", extra={"error": repr(future.exception())})


def _spawn_pid_holder() -> tuple[subprocess.Popen[bytes], str]:
    """A pod's shared PID namespace: its waiter process and that one's start time."""
    popen = subprocess.Popen([*PID_INIT, "hold"], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/",
                             start_new_session=True, close_fds=True)
    return popen, _proc_start(popen.pid)


def _first_child(pid: int) -> int:
    """The host PID of a `pid_init` waiter's child (0 until it has forked, or gone)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return 0
    return int(children[0]) if children else 0


async def _forked_child(pid: int, within: float = 5.0) -> int:
    """`_first_child`, waiting for the fork (the waiter is a Python start away)."""
    for _ in range(int(within / 0.01)):
        if child := _first_child(pid):
            return child
        await asyncio.sleep(0.01)
    return _first_child(pid)


def _proc_start(pid: int) -> str:
    """The process's start time in clock ticks (guards against PID reuse)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


@dataclass
class _Record:
    """A container as written to disk."""

    info: dict[str, Any]
    pid: int
    pid_start: str
    log_path: str
    cgroup: str
    env: dict[str, str]
    cwd: str
    netns: str
    mounts: list[list[Any]] = field(default_factory=list)
    mount_dirs: list[str] = field(default_factory=list)  # host paths made by older versions
    uts: bool = False  # in a UTS namespace of its own (the pod's hostname)
    pid_ns: str = ""  # "container" (its own PID namespace) or "pod" (the pod's shared one)
    stdin_path: str = ""  # the named pipe its stdin reads (`stdin: true`)
    stdin_once: bool = False
    tty: bool = False


class ProcessRuntime(ChangeNotifier):
    """Host processes as containers; see the module docstring."""

    name = "process"

    def __init__(self, config: KubeletConfig) -> None:
        self._prober = NetworkProber()  # shared by every probe (its HTTP session)
        self.config = config
        self.dir = Path(config.root_dir) / "runtime"
        self.tag = node_tag(config.node_name, Path(config.root_dir))
        self.cgroups = Cgroups(self.tag)
        self.network: NodeNetwork | None = None
        self._records: dict[str, _Record] = {}
        self._popen: dict[str, subprocess.Popen[bytes]] = {}
        self._exited: dict[str, asyncio.Event] = {}
        self._pidfds: dict[str, int] = {}
        self._sandboxes: dict[str, Sandbox] = {}
        self._stdin: dict[str, int] = {}  # container id → the held stdin pipe or pty master
        self._tty_out: dict[str, attach.TtyOutput] = {}
        self._holders: dict[str, subprocess.Popen[bytes]] = {}  # pod uid → its PID holder
        self._holder_lock = asyncio.Lock()
        ChangeNotifier.__init__(self)
        self._rotator: asyncio.Task[None] | None = None
        # container records' writes and removals: one thread, so they land in order
        self._disk = ThreadPoolExecutor(max_workers=1, thread_name_prefix="process-records")

    @property
    def version(self) -> str:
        return f"process://{__version__}"

    # -- state on disk ---------------------------------------------------------------

    def _path(self, kind: str, key: str) -> Path:
        return self.dir / kind / f"{key.split('://')[-1]}.json"

    def _save(self, cid: str) -> asyncio.Future[None]:
        """Write the container's record, in order with its other writes and removal, on
        the disk thread (the event loop never waits on the file system)."""
        return self._on_disk(_write_record, self._path("containers", cid),
                             json.dumps(asdict(self._records[cid])))

    def _on_disk(self, fn: Callable[..., None], *args: Any) -> asyncio.Future[None]:
        future = asyncio.get_running_loop().run_in_executor(self._disk, fn, *args)
        future.add_done_callback(_log_disk_error)
        return future

    def _save_sandbox(self, sandbox: Sandbox) -> None:
        path = self._path("sandboxes", sandbox.pod_uid)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(sandbox)))

    def _info(self, cid: str) -> ContainerInfo:
        return ContainerInfo(**self._records[cid].info)

    def _set_info(self, cid: str, info: ContainerInfo) -> None:
        self._records[cid].info = asdict(info)
        self._save(cid)

    # -- life cycle --------------------------------------------------------------------

    async def start(self) -> None:
        """Load what a previous run left and adopt the containers still running."""
        for path in sorted((self.dir / "sandboxes").glob("*.json")):
            sandbox = Sandbox(**json.loads(path.read_text()))
            self._sandboxes[sandbox.pod_uid] = sandbox
        for path in sorted((self.dir / "containers").glob("*.json")):
            try:
                record = _Record(**json.loads(path.read_text()))
            except (ValueError, TypeError):
                path.unlink(missing_ok=True)
                continue
            cid = record.info["id"]
            self._records[cid] = record
            self._exited[cid] = asyncio.Event()
            if record.info["state"] != RUNNING:
                self._exited[cid].set()
            elif _proc_start(record.pid) == record.pid_start:
                self._watch(cid, record.pid)
                if record.stdin_path and not record.tty:
                    with contextlib.suppress(OSError):
                        self._stdin[cid] = attach.open_holder(Path(record.stdin_path))
            else:
                self._set_info(cid, self._info(cid).replace(
                    state=EXITED, exit_code=137, reason="ContainerStatusUnknown",
                    message="The container could not be located when the kubelet restarted",
                    finished_at=time.time()))
                self._exited[cid].set()
        self._rotator = spawn(self._rotate_logs(), name=f"log-rotation-{self.tag}")

    async def _rotate_logs(self) -> None:
        """Copy-truncate logs past LOG_MAX_BYTES (the writer appends, so it goes on)."""
        while True:
            await asyncio.sleep(LOG_CHECK_SECONDS)
            for record in list(self._records.values()):
                try:
                    if os.stat(record.log_path).st_size <= LOG_MAX_BYTES:
                        continue
                    shutil.copyfile(record.log_path, record.log_path + ".1")
                    os.truncate(record.log_path, 0)
                except OSError:
                    continue

    async def configure(self, *, pod_cidr: str | None) -> None:
        """Set up the node bridge once the pod CIDR is known (root only)."""
        self.network = NodeNetwork.for_pod_cidr(self.tag, pod_cidr)
        if self.network is None:
            return
        await self.network.setup()
        for uid in self.network.pod_namespaces():  # a namespace whose sandbox record is gone
            if uid not in self._sandboxes:
                await self.network.remove_pod(uid)

    async def aclose(self) -> None:
        await cancel_and_wait(self._rotator)
        await self._prober.aclose()
        await self._on_disk(lambda: None)  # the records queued so far are on disk
        loop = asyncio.get_running_loop()
        for fd in self._pidfds.values():
            loop.remove_reader(fd)
            os.close(fd)
        self._pidfds.clear()

    async def teardown(self) -> None:
        """Remove the node bridge, stray pod namespaces and cgroups (every pod is gone)."""
        if self.network is not None:
            await self.network.teardown()
        self.cgroups.remove_all()

    # -- sandboxes -----------------------------------------------------------------------

    async def run_sandbox(self, pod: dict[str, Any], *, ip: str | None) -> Sandbox:
        uid = pod["metadata"]["uid"]
        if uid in self._sandboxes:
            return self._sandboxes[uid]
        host_ip = self.config.node_ip or "127.0.0.1"
        sandbox = Sandbox(pod_uid=uid, ip=host_ip, host_network=True, id=f"process-sandbox-{uid}")
        if ip and self.network is not None and not pod["spec"].get("hostNetwork"):
            try:
                netns = await self.network.add_pod(uid, ip)
            except NetworkError as e:
                raise RuntimeError_(str(e), reason="FailedCreatePodSandBox") from e
            sandbox = Sandbox(pod_uid=uid, ip=ip, host_network=False, netns=netns,
                              id=sandbox.id)
        # files in a worker thread: a hundred pods' writes would hold the event loop
        await asyncio.to_thread(self._write_sandbox_files, pod, sandbox)
        self._sandboxes[uid] = sandbox
        return sandbox

    def _write_sandbox_files(self, pod: dict[str, Any], sandbox: Sandbox) -> None:
        self._write_dns_files(pod, sandbox)
        self._save_sandbox(sandbox)

    def _dns_dir(self, pod_uid: str) -> Path:
        return self.dir / "pods" / pod_uid

    def _write_dns_files(self, pod: dict[str, Any], sandbox: Sandbox) -> None:
        """The pod's own resolv.conf and hosts (kube's etc-hosts), bind-mounted over the
        host's in each container's mount namespace: the host's files stay untouched."""
        if not can_use_netns():
            return
        directory = self._dns_dir(sandbox.pod_uid)
        directory.mkdir(parents=True, exist_ok=True)
        config = self.config
        if needs_resolv_conf(pod, config.cluster_dns):
            settings = dns_settings(pod, cluster_dns=config.cluster_dns,
                                    cluster_domain=config.cluster_domain,
                                    host=host_settings(config.resolv_conf))
            (directory / "resolv.conf").write_text(settings.resolv_conf())
        if not sandbox.host_network:  # hostNetwork pods see the node's /etc/hosts
            (directory / "hosts").write_text(
                hosts_file(pod, sandbox.ip, config.cluster_domain))

    def _dns_mounts(self, sandbox: Sandbox) -> list[tuple[str, str, bool]]:
        directory = self._dns_dir(sandbox.pod_uid)
        return [(str(directory / name), f"/etc/{name}", False)
                for name in ("resolv.conf", "hosts") if (directory / name).exists()]

    async def remove_sandbox(self, pod_uid: str) -> None:
        sandbox = self._sandboxes.get(pod_uid)
        if self.network is not None and (sandbox is None or not sandbox.host_network):
            await self.network.remove_pod(pod_uid)  # first: a cancelled removal is retried
        self._sandboxes.pop(pod_uid, None)
        if sandbox is not None and self._holder_alive(sandbox):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(sandbox.pid_holder, signal.SIGKILL)  # its namespace ends with it
        holder = self._holders.pop(pod_uid, None)
        if holder is not None:
            await asyncio.to_thread(holder.wait)
        await asyncio.to_thread(self._remove_sandbox_files, pod_uid)

    def _remove_sandbox_files(self, pod_uid: str) -> None:
        shutil.rmtree(self._dns_dir(pod_uid), ignore_errors=True)
        self._path("sandboxes", pod_uid).unlink(missing_ok=True)

    async def list_sandboxes(self) -> list[Sandbox]:
        return list(self._sandboxes.values())

    # -- PID namespaces ----------------------------------------------------------------

    def _pid_mode(self, pod: dict[str, Any]) -> str:
        """Kubernetes' PID namespace for the pod's containers as far as root allows: the
        pod's shared one, one per container (behind the kubelet flag: a PID 1 without a
        SIGTERM handler ignores SIGTERM and waits out the grace period), or the host's."""
        spec = pod["spec"]
        if not can_use_netns() or spec.get("hostPID"):
            return ""
        if spec.get("shareProcessNamespace"):
            return "pod"
        return "container" if self.config.container_pid_namespaces else ""

    @staticmethod
    def _holder_alive(sandbox: Sandbox) -> bool:
        return bool(sandbox.pid_holder) and \
            _proc_start(sandbox.pid_holder) == sandbox.pid_holder_start

    async def _pod_pid_namespace(self, pod_uid: str) -> str:
        """The pod's shared PID namespace (/proc/P/ns/pid of its PID 1), its holder
        started (again, if it died: its namespace and processes died with it)."""
        async with self._holder_lock:
            sandbox = self._sandboxes[pod_uid]
            if not self._holder_alive(sandbox):
                popen, start = await asyncio.to_thread(_spawn_pid_holder)
                self._holders[pod_uid] = popen
                sandbox = replace(sandbox, pid_holder=popen.pid, pid_holder_start=start)
                self._sandboxes[pod_uid] = sandbox
                await asyncio.to_thread(self._save_sandbox, sandbox)
            init = await _forked_child(sandbox.pid_holder)
        if not init:
            raise RuntimeError_("the pod's PID namespace holder did not start",
                                reason="CreateContainerError")
        return f"/proc/{init}/ns/pid"

    async def _target_pid_namespace(self, pod_uid: str, name: str) -> str:
        """The PID namespace of the pod's running container `name`, which an ephemeral
        container with that targetContainerName joins (kubectl debug --target)."""
        for record in self._records.values():
            info = record.info
            if info["pod_uid"] == pod_uid and info["name"] == name and \
                    info["state"] == RUNNING and record.pid_ns:
                return f"/proc/{await self._main_pid(record)}/ns/pid"
        raise RuntimeError_(f"the target container {name!r} is not running",
                            reason="CreateContainerError")

    async def _main_pid(self, record: _Record) -> int:
        """The host PID of the container's command (in a PID namespace, the waiter's child)."""
        return await _forked_child(record.pid) if record.pid_ns else record.pid

    # -- containers ------------------------------------------------------------------------

    async def pull_image(self, spec: dict[str, Any], on_event: Callable[[str, str], None],
                         auth: RegistryAuth | None = None) -> str:
        return f'Container image "{spec.get("image", "")}" already present on machine'

    async def start_container(self, sandbox: Sandbox, config: ContainerConfig) -> ContainerInfo:
        spec = config.spec
        from kybernetes.kubelet.env import command_line
        argv = command_line(spec, config.env)
        if not argv:
            raise RuntimeError_("the process runtime runs a container's command, and "
                                f"container {spec['name']!r} has none (set command)",
                                reason="CreateContainerError")
        # the pod's hostname, in a UTS namespace of its own unless on the host's network
        hostname = pod_hostname(config.pod)
        uts_name = hostname if can_use_netns() and not sandbox.host_network else ""
        if config.pod["spec"].get("hostNetwork"):
            hostname = os.uname().nodename
        env = {"PATH": DEFAULT_PATH, "HOSTNAME": hostname, "HOME": "/root", **config.env}
        exe = shutil.which(argv[0], path=env["PATH"]) if "/" not in argv[0] else argv[0]
        if not exe or not os.access(exe, os.X_OK):
            raise RuntimeError_(f'exec: "{argv[0]}": executable file not found in $PATH',
                                reason="RunContainerError")
        run_argv = [exe, *argv[1:]]
        pid_mode = self._pid_mode(config.pod)
        if pid_mode:
            target = "new" if pid_mode == "container" else \
                await self._pod_pid_namespace(sandbox.pod_uid)
            if pid_mode == "container" and spec.get("targetContainerName"):
                target = await self._target_pid_namespace(sandbox.pod_uid,
                                                          spec["targetContainerName"])
            run_argv = [*PID_INIT, target, "--", *run_argv]
        cid = f"process://{secrets.token_hex(16)}"
        rel = f"{sandbox.pod_uid}/{spec['name']}-{config.attempt}"
        cwd = spec.get("workingDir") or "/"
        try:  # cgroup and mount points in a worker thread, as the fork below
            mounts, procs, plan = await asyncio.to_thread(self._prepare, sandbox, config, rel)
        except OSError as e:
            raise RuntimeError_(f"preparing container: {e}", reason="CreateContainerError") \
                from e
        setup = _child_setup(netns=sandbox.netns, procs=procs, mounts=plan, cwd=cwd,
                             hostname=uts_name)
        stdin_path = self.dir / "stdin" / cid.removeprefix("process://")
        tty = bool(spec.get("tty"))
        keep_open = not spec.get("stdinOnce")
        holder, child_stdin = (attach.make_tty() if tty else
                               attach.make_stdin(stdin_path, keep_open=keep_open)) \
            if spec.get("stdin") or tty else (None, None)
        try:  # in a worker thread: the parent waits for the child's exec, not the loop
            popen, pid_start = await asyncio.to_thread(
                _spawn_and_stamp, run_argv, env=env, log_path=config.log_path,
                setup=setup, stdin=None if tty else child_stdin,
                terminal=child_stdin if tty else None)
        except (OSError, subprocess.SubprocessError) as e:
            await asyncio.to_thread(self.cgroups.remove, rel)
            if holder is not None:
                os.close(holder)
                stdin_path.unlink(missing_ok=True)
            raise RuntimeError_(f"starting {argv[0]}: {e}", reason="RunContainerError") from e
        finally:
            if child_stdin is not None:
                os.close(child_stdin)
        if holder is not None:
            self._stdin[cid] = holder
            if tty:
                self._tty_out[cid] = attach.TtyOutput(holder, config.log_path)
        info = ContainerInfo(id=cid, pod_uid=sandbox.pod_uid, name=spec["name"],
                             attempt=config.attempt, state=RUNNING, image=spec.get("image", ""),
                             image_id=f"process://{spec.get('image', '')}",
                             started_at=time.time())
        self._records[cid] = _Record(info=asdict(info), pid=popen.pid, pid_start=pid_start,
                                     log_path=str(config.log_path), cgroup=rel, env=env,
                                     cwd=cwd, netns=sandbox.netns,
                                     mounts=[list(m) for m in mounts], uts=bool(uts_name),
                                     pid_ns=pid_mode,
                                     stdin_path=str(stdin_path) if holder is not None else "",
                                     stdin_once=bool(spec.get("stdinOnce")), tty=tty)
        self._popen[cid] = popen
        self._exited[cid] = asyncio.Event()
        await self._save(cid)
        self._watch(cid, popen.pid)
        return info

    def _prepare(self, sandbox: Sandbox, config: ContainerConfig,
                 rel: str) -> tuple[list[tuple[str, str, bool]], list[str], MountPlan | None]:
        """The container's mounts, its cgroup (the files its process joins) and its
        mount plan: file system work, run in a worker thread."""
        mounts = [*config.mounts, *self._dns_mounts(sandbox)] if can_use_netns() else []
        procs = self.cgroups.create(rel, config.spec.get("resources") or {})
        plan = None
        if mounts:
            (self.dir / "newroot").mkdir(parents=True, exist_ok=True)
            plan = mount_ns.plan(mounts, self.dir / "newroot")
        return mounts, procs, plan

    def _watch(self, cid: str, pid: int) -> None:
        try:
            fd = os.pidfd_open(pid)
        except OSError:
            asyncio.get_running_loop().call_soon(self._on_exit, cid)
            return
        self._pidfds[cid] = fd
        asyncio.get_running_loop().add_reader(fd, self._on_exit, cid)

    def _on_exit(self, cid: str) -> None:
        fd = self._pidfds.pop(cid, None)
        if fd is not None:
            asyncio.get_running_loop().remove_reader(fd)
            os.close(fd)
        record = self._records.get(cid)
        if record is None:
            return
        popen = self._popen.pop(cid, None)
        code = popen.wait() if popen is not None else None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(record.pid, signal.SIGKILL)  # the rest of the container goes too
        for pid in self.cgroups.pids(record.cgroup):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        info = self._info(cid)
        if code is None:
            exit_code, reason = 137, "ContainerStatusUnknown"
        else:
            exit_code = 128 - code if code < 0 else code
            reason = "Completed" if exit_code == 0 else "Error"
        if exit_code == 137 and self.cgroups.oom_killed(record.cgroup):
            reason = "OOMKilled"
        self._close_stdin(cid)
        self._set_info(cid, info.replace(state=EXITED, exit_code=exit_code, reason=reason,
                                         finished_at=time.time()))
        self._exited[cid].set()
        self.notify(info.pod_uid)

    async def stop_container(self, container_id: str, *, grace: float) -> None:
        record = self._records.get(container_id)
        if record is None or self._exited[container_id].is_set():
            return
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            if sig == signal.SIGTERM and grace <= 0:
                continue
            # in a PID namespace, SIGTERM to the command alone (as runtimes signal a
            # container's PID 1); the process group otherwise, and for SIGKILL
            command = _first_child(record.pid) if record.pid_ns else 0
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if sig == signal.SIGTERM and command:
                    os.kill(command, sig)
                else:
                    os.killpg(record.pid, sig)
            try:
                async with asyncio.timeout(wait):
                    await self._exited[container_id].wait()
                return
            except TimeoutError:
                continue

    async def remove_container(self, container_id: str) -> None:
        record = self._records.get(container_id)
        if record is None:
            return
        if not self._exited[container_id].is_set():
            await self.stop_container(container_id, grace=0)
        self._records.pop(container_id)
        self._exited.pop(container_id, None)
        self._close_stdin(container_id)
        # a record from before mounts stayed off the host
        owned = [path for path in record.mount_dirs if not self._hand_over(path)]
        await self._on_disk(self._forget, container_id, record, owned)

    def _forget(self, container_id: str, record: _Record, mount_dirs: list[str]) -> None:
        """Remove what a container left on disk (in a worker thread)."""
        self.cgroups.remove(record.cgroup)
        if record.stdin_path:
            Path(record.stdin_path).unlink(missing_ok=True)
        for path in mount_dirs:
            with contextlib.suppress(OSError):
                p = Path(path)
                p.rmdir() if p.is_dir() else p.unlink()
        Path(record.log_path).unlink(missing_ok=True)
        Path(record.log_path + ".1").unlink(missing_ok=True)
        self._path("containers", container_id).unlink(missing_ok=True)

    def _hand_over(self, mount_dir: str) -> bool:
        """Give a mount point this runtime made to another container mounted there: it
        must outlive us (removing a mount point detaches it in every namespace, and
        every pod mounts /var/run/secrets/kubernetes.io/serviceaccount)."""
        for cid, other in self._records.items():
            if any(m[1] == mount_dir for m in other.mounts):
                other.mount_dirs.append(mount_dir)
                self._save(cid)
                return True
        return False

    async def list_containers(self, pod_uid: str | None = None) -> list[ContainerInfo]:
        return [ContainerInfo(**r.info) for r in self._records.values()
                if pod_uid in (None, r.info["pod_uid"])]

    def usage(self, container_ids: list[str]) -> dict[str, Usage]:
        """Running containers' usage: their cgroup's, else (no cgroup, or cgroup v1 without
        cpuacct) their process group's from one /proc scan."""
        groups: dict[int, Usage] | None = None
        out: dict[str, Usage] = {}
        for cid in container_ids:
            record = self._records.get(cid)
            if record is None or not self.is_running(cid):
                continue
            found = self.cgroups.usage(record.cgroup)
            if found is None or found.cpu_ns == 0:
                if groups is None:
                    groups = process_groups()
                proc = groups.get(record.pid)
                if proc is None:
                    continue
                found = proc if found is None else replace(found, cpu_ns=proc.cpu_ns)
            out[cid] = found
        return out

    def is_running(self, container_id: str) -> bool:
        """Whether the container's main process is still alive (for log follow)."""
        exited = self._exited.get(container_id)
        return exited is not None and not exited.is_set()

    def log_file(self, container_id: str) -> Path | None:
        record = self._records.get(container_id)
        return Path(record.log_path) if record else None

    def prober(self, pod: dict[str, Any]) -> Prober:
        """Probes reach the container: exec in it, HTTP or TCP to the pod's IP."""
        return self._prober

    # -- exec ------------------------------------------------------------------------------

    async def _exec_argv(self, container_id: str,
                         command: list[str]) -> tuple[list[str], Any]:
        record = self._records.get(container_id)
        if record is None or self._exited[container_id].is_set():
            raise RuntimeError_("container not running", reason="NotRunning")
        if not command:
            raise RuntimeError_("no command given", reason="BadRequest")
        pid = await self._main_pid(record)
        if not pid:
            raise RuntimeError_("container not running", reason="NotRunning")
        prefix = nsenter_prefix(pid, netns=bool(record.netns),
                                mounts=bool(record.mounts or record.pid_ns), cwd=record.cwd,
                                uts=record.uts, pidns=bool(record.pid_ns))
        return prefix + command, record

    async def exec_sync(self, container_id: str, command: list[str], *,
                        time_limit: float) -> tuple[int, bytes]:
        argv, record = await self._exec_argv(container_id, command)
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, env=record.env,
                cwd="/" if record.mounts or record.pid_ns else record.cwd,
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT, start_new_session=True)
        except OSError as e:
            return 126, str(e).encode()
        try:
            async with asyncio.timeout(time_limit):
                out, _ = await proc.communicate()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
            raise
        return proc.returncode or 0, out

    def _close_stdin(self, container_id: str) -> None:
        output = self._tty_out.pop(container_id, None)
        if output is not None:
            output.stop()
        fd = self._stdin.pop(container_id, None)
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

    async def attach(self, container_id: str, *, stdin: bool) -> attach.ProcessAttach:
        """Attach to a running container's stdin pipe and output (`kubectl attach`)."""
        record = self._records.get(container_id)
        if record is None or self._exited[container_id].is_set():
            raise RuntimeError_("container not running", reason="NotRunning")
        if stdin and not record.stdin_path:
            raise RuntimeError_("Stdin is not set for the container, so stdin cannot be "
                                "attached (set stdin: true in the container spec)",
                                reason="BadRequest")

        def exit_code() -> int:
            return int(self._info(container_id).exit_code or 0)

        return attach.ProcessAttach(
            holder=lambda: self._stdin.get(container_id),
            close_holder=lambda: self._close_stdin(container_id),
            log_path=Path(record.log_path), exited=self._exited[container_id],
            exit_code=exit_code, stdin=stdin, stdin_once=record.stdin_once, tty=record.tty)

    async def exec_stream(self, container_id: str, command: list[str], *,
                          tty: bool) -> ProcessExec:
        argv, record = await self._exec_argv(container_id, command)
        return await ProcessExec.start(argv, env=record.env,
                                       cwd="/" if record.mounts or record.pid_ns else record.cwd,
                                       tty=tty)
