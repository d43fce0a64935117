"""A containerd of the node's own: its configuration, start, images and clean stop.

`kyb up --runtime containerd` runs one per node (`kyb containerd`), tests run one
per cluster; both through :class:`Containerd`. Everything lives under one
directory: `config.toml`, `root/` and `state/` (containerd's), the gRPC socket,
the CNI configuration and host-local's leases. The CRI plugin is on, with runc
(cgroupfs, as this kubelet's cgroup v1 hierarchy is), the overlayfs snapshotter
(native where the directory's filesystem cannot hold overlay upper dirs),
`restrict_oom_score_adj` (without CAP_SYS_RESOURCE every sandbox would fail with
"can't get final child's PID from pipe: EOF"), no AppArmor, and its streaming
server on a free loopback port.

Pod networking is CNI, as containerd 1.6's CRI plugin insists (it makes each
sandbox's network namespace itself and calls CNI on it): Debian's
containernetworking-plugins `bridge` + `host-local` from a configuration
*template* that containerd renders once the kubelet sends the node's pod CIDR
(CRI UpdateRuntimeConfig), so the kubelet never writes CNI files itself.

Registries: `config_path` is `certs.d/`, where :func:`write_registry_hosts` points
each name of the cluster's registry (`kyb up --registry`) at the host over plain
HTTP.

The pause image and a busybox image are built offline (:mod:`image_archive`) and
imported with `ctr` at start. Stopping removes every pod sandbox through CRI (so
CNI releases addresses and iptables rules, and the shims exit), ends containerd,
then unmounts whatever is left under the directory and deletes the bridge.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from kybernetes.kubelet.runtime import image_archive

log = logging.getLogger("kybernetes.kubelet.containerd")

CONTAINERD = "/usr/bin/containerd"
CTR = "/usr/bin/ctr"
CNI_BIN = "/usr/lib/cni"
NAMESPACE = "k8s.io"
SOCKET_DIR = Path("/run/kyb")


class ContainerdError(Exception):
    """containerd did not start, or an image did not import."""


@dataclass(frozen=True)
class Layout:
    """Where one containerd keeps everything."""

    dir: Path

    @property
    def config(self) -> Path:
        return self.dir / "config.toml"

    @property
    def socket(self) -> Path:
        """Under /run/kyb, named by a hash of the directory: a unix socket path must stay
        under 108 bytes, and data directories (pytest's, users') can be deeper."""
        return SOCKET_DIR / f"containerd-{self._hash}.sock"

    @property
    def _hash(self) -> str:
        return hashlib.sha256(str(self.dir).encode()).hexdigest()[:10]

    @property
    def endpoint(self) -> str:
        return f"unix://{self.socket}"

    @property
    def cni_conf_dir(self) -> Path:
        return self.dir / "cni" / "net.d"

    @property
    def cni_template(self) -> Path:
        return self.dir / "cni" / "template.conflist"

    @property
    def bridge(self) -> str:
        """The node's pod bridge (≤ 15 characters, unique per directory)."""
        return "kyc" + self._hash[:8]

    @property
    def pid_file(self) -> Path:
        return self.dir / "containerd.pid"

    @property
    def ready_file(self) -> Path:
        """Written once the CRI plugin answers and the images are in."""
        return self.dir / "ready"


def _snapshotter(path: Path) -> str:
    """overlayfs unless the directory is itself on overlay (or a filesystem that cannot
    be an upper dir), where the native (copying) snapshotter still works."""
    best, fstype = "", ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/mounts").read_text().splitlines():
            parts = line.split()
            if len(parts) > 2 and str(path).startswith(parts[1]) and len(parts[1]) >= len(best):
                best, fstype = parts[1], parts[2]
    return "overlayfs" if fstype in ("ext4", "xfs", "btrfs", "") else "native"


def cni_template(bridge: str, dir: Path) -> str:
    """The bridge + host-local network over the pod CIDR containerd is given ({{.PodCIDR}});
    the gateway is the CIDR's first address, as the process runtime's bridge has it."""
    return """{
  "cniVersion": "0.4.0",
  "name": "kyb",
  "plugins": [
    {"type": "bridge", "bridge": "BRIDGE", "isGateway": true, "ipMasq": true,
     "hairpinMode": true,
     "ipam": {"type": "host-local", "dataDir": "IPAM_DIR",
              "ranges": [[{"subnet": "{{.PodCIDR}}"}]],
              "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}},
    {"type": "loopback"}
  ]
}
""".replace("BRIDGE", bridge).replace("IPAM_DIR", str(dir / "cni" / "ipam"))


def write_config(layout: Layout) -> None:
    layout.cni_conf_dir.mkdir(parents=True, exist_ok=True)
    layout.cni_template.write_text(cni_template(layout.bridge, layout.dir))
    cri = '[plugins."io.containerd.grpc.v1.cri"]'
    layout.config.write_text(f"""version = 2
root = "{layout.dir / 'root'}"
state = "{layout.dir / 'state'}"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
                    "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = "{layout.socket}"

[ttrpc]
  address = "{layout.socket}.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "{layout.dir / 'opt'}"

{cri}
  sandbox_image = "{image_archive.PAUSE_IMAGE}"
  restrict_oom_score_adj = true
  disable_apparmor = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_cdi = false

{cri[:-1]}.containerd]
  snapshotter = "{_snapshotter(layout.dir)}"
  default_runtime_name = "runc"

{cri[:-1]}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

{cri[:-1]}.containerd.runtimes.runc.options]
  SystemdCgroup = false

{cri[:-1]}.cni]
  bin_dir = "{CNI_BIN}"
  conf_dir = "{layout.cni_conf_dir}"
  conf_template = "{layout.cni_template}"

{cri[:-1]}.registry]
  config_path = "{layout.dir / 'certs.d'}"
""")


HOSTS_MARK = "# written by kyb containerd: the cluster's registry\n"


def write_registry_hosts(layout: Layout, mirrors: dict[str, str]) -> None:
    """One `certs.d/<name>/hosts.toml` per registry name, each sending pulls over plain
    HTTP to its URL: `localhost:5000` in an image is the host's registry even though this
    containerd runs in the node's network namespace (without the file containerd 1.6
    tries plain HTTP to a localhost name itself, but on the node's own loopback, where
    nothing answers). Files from an earlier run go first; others' files stay."""
    certs = layout.dir / "certs.d"
    for old in certs.glob("*/hosts.toml"):
        with contextlib.suppress(OSError):
            if old.read_text().startswith(HOSTS_MARK):
                old.unlink()
                old.parent.rmdir()
    for name, url in mirrors.items():
        path = certs / name / "hosts.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f'{HOSTS_MARK}server = "{url}"\n\n[host."{url}"]\n'
                        '  capabilities = ["pull", "resolve", "push"]\n')


def ctr(layout: Layout, *args: str, data: bytes | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
    """`ctr -n k8s.io --address SOCK ARGS` (the CRI plugin's namespace)."""
    return subprocess.run([CTR, "-n", NAMESPACE, "--address", str(layout.socket), *args],
                          input=data, capture_output=True, timeout=timeout, check=False)


def import_image(layout: Layout, archive: bytes) -> None:
    """Load a docker-archive or OCI tarball into containerd's k8s.io namespace, unpacked
    for the CRI plugin's snapshotter."""
    done = ctr(layout, "images", "import", "--snapshotter", _snapshotter(layout.dir),
               "--no-unpack=false", "-", data=archive)
    if done.returncode != 0:
        raise ContainerdError(f"ctr images import: {done.stderr.decode(errors='replace')}")


class Containerd:
    """One containerd process under `dir`; see the module docstring."""

    def __init__(self, dir: Path, *, mirrors: dict[str, str] | None = None) -> None:
        self.layout = Layout(dir.resolve())
        self.mirrors = mirrors or {}  # registry name -> plain-HTTP URL it is pulled from
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return self.layout.endpoint

    def start(self, *, timeout: float = 60.0, images: bool = True) -> None:
        """Write the configuration, start containerd, wait for the CRI plugin, import the
        pause and busybox images."""
        layout = self.layout
        layout.dir.mkdir(parents=True, exist_ok=True)
        layout.socket.parent.mkdir(parents=True, exist_ok=True)
        _end_previous(layout)
        write_config(layout)
        write_registry_hosts(layout, self.mirrors)
        layout.socket.unlink(missing_ok=True)
        layout.ready_file.unlink(missing_ok=True)
        with open(layout.dir / "containerd.log", "ab") as out:
            self.process = subprocess.Popen([CONTAINERD, "--config", str(layout.config)],
                                            stdout=out, stderr=out, stdin=subprocess.DEVNULL,
                                            start_new_session=True)
        layout.pid_file.write_text(str(self.process.pid))
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self.process.poll() is not None:
                raise ContainerdError(f"containerd exited with {self.process.returncode}: see "
                                      f"{layout.dir / 'containerd.log'}")
            if time.monotonic() > deadline:
                raise ContainerdError(f"containerd did not answer on {layout.socket} "
                                      f"within {timeout:.0f}s")
            time.sleep(0.1)
        if images:
            import_image(layout, image_archive.pause_archive())
            import_image(layout, image_archive.busybox_archive())
        layout.ready_file.write_text(self.endpoint)

    def _answers(self) -> bool:
        if not self.layout.socket.exists():
            return False
        with socket.socket(socket.AF_UNIX) as s:
            try:
                s.connect(str(self.layout.socket))
            except OSError:
                return False
        return ctr(self.layout, "version", timeout=10).returncode == 0

    def stop(self, *, timeout: float = 30.0) -> None:
        """Remove every pod sandbox (CNI teardown), stop containerd, clean what is left."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(Exception):
                remove_all_sandboxes(self.layout.endpoint, timeout=timeout)
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        cleanup(self.layout)


def _end_previous(layout: Layout) -> None:
    """A containerd this directory's pid file names and that still runs (its `kyb
    containerd` was killed outright): stop it, or the new one could not open its
    database. Its pods' shims go on running and are adopted by the new one."""
    try:
        pid = int(layout.pid_file.read_text())
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return
    if not argv or not argv[0].endswith(b"containerd") or str(layout.config).encode() not in argv:
        return
    os.kill(pid, signal.SIGTERM)
    for _ in range(100):
        if not Path(f"/proc/{pid}").exists():
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def remove_all_sandboxes(endpoint: str, *, timeout: float) -> None:
    """StopPodSandbox + RemovePodSandbox for each sandbox (each container goes with it)."""
    import grpc

    from kybernetes.kubelet.runtime.cri import api_pb2 as pb
    from kybernetes.kubelet.runtime.cri import api_pb2_grpc as rpc

    with grpc.insecure_channel(endpoint) as channel:
        stub = rpc.RuntimeServiceStub(channel)
        for sandbox in stub.ListPodSandbox(pb.ListPodSandboxRequest(), timeout=timeout).items:
            with contextlib.suppress(grpc.RpcError):
                stub.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=sandbox.id),
                                    timeout=timeout)
                stub.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=sandbox.id),
                                      timeout=timeout)


def _shim_pids(layout: Layout) -> list[int]:
    """containerd-shim processes this containerd started (they name its socket)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            if argv and argv[0].endswith(b"containerd-shim-runc-v2") and \
                    str(layout.socket).encode() in argv:
                pids.append(int(proc.name))
    return pids


def cleanup(layout: Layout) -> None:
    """After containerd has stopped: end its leftover shims, unmount what is mounted under
    its directory (deepest first), delete the pod bridge."""
    for pid in _shim_pids(layout):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    prefix = str(layout.dir) + "/"
    with contextlib.suppress(OSError):
        mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
        for target in sorted((m for m in mounts if m.startswith(prefix)), key=len,
                             reverse=True):
            subprocess.run(["umount", "-l", target], capture_output=True, check=False)
    subprocess.run(["ip", "link", "del", layout.bridge], capture_output=True, check=False)
    layout.pid_file.unlink(missing_ok=True)
    layout.ready_file.unlink(missing_ok=True)
    for path in (layout.socket, Path(f"{layout.socket}.ttrpc")):
        path.unlink(missing_ok=True)
