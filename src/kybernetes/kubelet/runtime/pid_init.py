"""A process-runtime container's PID namespace: run as a script, `python -I -S pid_init.py`.

unshare(CLONE_NEWPID) and setns(CLONE_NEWPID) move only the caller's later
children, so a container's command cannot be put in a PID namespace between the
kubelet's fork and exec. The kubelet execs this small waiter instead (already in the
container's cgroup and network, UTS and mount namespaces); it enters the PID
namespace and forks, and the child takes a mount namespace of its own (a slave of
the container's), mounts /proc for the PID namespace there and execs the command
with the environment the kubelet gave. The waiter stays the process the kubelet
started and watches: it ignores the termination signals (the kubelet sends SIGTERM
to the command itself and SIGKILL to the process group), waits, and exits with the
command's exit code, or 128+N when signal N ended it, as a container runtime
reports it.

    pid_init.py new -- COMMAND...          a new namespace: COMMAND is its PID 1
    pid_init.py NS_PATH -- COMMAND...      the pod's shared namespace (/proc/P/ns/pid)
    pid_init.py hold                       a new namespace whose PID 1 only reaps
                                           (the pod's, as Kubernetes' pause process)

Standard library only, no kybernetes imports: it starts in ~20 ms with -S.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

CLONE_NEWNS, CLONE_NEWPID = 0x00020000, 0x20000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_SLAVE = 2, 4, 8, 16384, 1 << 19
PR_SET_NAME, PR_SET_PDEATHSIG = 15, 1
STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT}
_libc = ctypes.CDLL(None, use_errno=True)


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _enter(target: str) -> None:
    """Make the next child's PID namespace a new one, or the pod's."""
    if target in ("new", "hold"):
        _check(_libc.unshare(CLONE_NEWPID), "unshare pid")
        return
    fd = os.open(target, os.O_RDONLY)
    try:
        _check(_libc.setns(fd, CLONE_NEWPID), "setns pid")
    finally:
        os.close(fd)


def _mount_proc() -> None:
    """/proc of this PID namespace, in a mount namespace of the command's own."""
    _check(_libc.unshare(CLONE_NEWNS), "unshare mount")
    _check(_libc.mount(b"none", b"/", None, MS_REC | MS_SLAVE, None), "mount / slave")
    _check(_libc.mount(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None),
           "mount /proc")


def _environment() -> dict[bytes, bytes]:
    """The environment exactly as the kubelet passed it (Python may have added
    LC_CTYPE to os.environ at start: PEP 538's locale coercion)."""
    with open("/proc/self/environ", "rb") as f:
        pairs = [entry.split(b"=", 1) for entry in f.read().split(b"\0") if b"=" in entry]
    return {k: v for k, v in pairs}


def _reap_forever() -> None:
    """PID 1 of a pod's shared namespace: reap the orphans that land here."""
    _libc.prctl(PR_SET_NAME, b"pause", 0, 0, 0)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
    while True:
        signal.sigwait({signal.SIGCHLD})
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break


def _run(command: list[str]) -> None:
    """The child: the command, in the namespace, with its own /proc."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # the waiter's death ends it
    try:
        _mount_proc()
        os.execve(command[0], command, _environment())
    except OSError as e:
        os.write(2, f"pid_init: {command[0]}: {e}\n".encode())
        os._exit(127 if isinstance(e, FileNotFoundError) else 126)


def main(argv: list[str]) -> int:
    target, command = argv[0], argv[2:] if argv[1:2] == ["--"] else []
    if target != "hold" and not command:
        os.write(2, b"usage: pid_init.py new|NS_PATH -- COMMAND... | hold\n")
        return 2
    _enter(target)
    child = os.fork()
    if child == 0:
        if target == "hold":
            _reap_forever()
        _run(command)
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except InterruptedError:
            continue
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
