"""A real etcd (Debian's etcd-server, /usr/bin/etcd) on free loopback ports, for tests.

The data directory lives under the caller's temporary directory; the process is
its own process group and is always killed by :meth:`Etcd.stop`. With
``tls=True`` etcd serves HTTPS and demands a client certificate, all signed by a
throwaway CA made here (``.cafile``, ``.certfile``, ``.keyfile``).
"""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import signal
import ssl
import time
import urllib.request
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.net import free_port
from tests.support.procs import Proc

ETCD = shutil.which("etcd") or "/usr/bin/etcd"


def etcd_available() -> bool:
    return Path(ETCD).exists()


class Etcd:
    """One single-member etcd cluster: ``Etcd(tmp).start()``, ``.url``, ``.stop()``;
    or one member of an :class:`EtcdCluster` (`initial_cluster` names every peer)."""

    def __init__(self, base_dir: Path, *, name: str = "default", tls: bool = False,
                 initial_cluster: str = "") -> None:
        self.base_dir = base_dir
        self.name = name
        self.tls = tls
        self.cafile = str(base_dir / "pki" / "ca.crt")
        self.certfile = str(base_dir / "pki" / "client.crt")
        self.keyfile = str(base_dir / "pki" / "client.key")
        self.client_port = free_port()
        self.peer_port = free_port()
        self.initial_cluster = initial_cluster
        self.proc: Proc | None = None
        self._context: ssl.SSLContext | None = None

    @property
    def peer_url(self) -> str:
        return f"http://127.0.0.1:{self.peer_port}"

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.client_port}"

    @property
    def url(self) -> str:
        """The store URL for :func:`kybernetes.storage.open_store`."""
        return f"etcd{'s' if self.tls else ''}://{self.endpoint}"

    def start(self, timeout: float = 20.0) -> Etcd:
        self.launch()
        return self.wait_healthy(timeout)

    def launch(self) -> None:
        """Start the process without waiting (a cluster's members start together)."""
        client = f"{'https' if self.tls else 'http'}://{self.endpoint}"
        peer = self.peer_url
        argv = [
            ETCD, "--name", self.name, "--data-dir", str(self.base_dir / "data"),
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", self.initial_cluster or f"{self.name}={peer}",
            "--initial-cluster-state", "new",
            "--log-level", "warn", "--logger", "zap",
        ]
        context = None
        if self.tls:
            pki = _make_pki(self.base_dir / "pki")
            argv += ["--cert-file", pki["server.crt"], "--key-file", pki["server.key"],
                     "--trusted-ca-file", pki["ca.crt"], "--client-cert-auth"]
            context = ssl.create_default_context(cafile=self.cafile)
            context.load_cert_chain(self.certfile, self.keyfile)
        self.proc = Proc(argv, log_path=self.base_dir / "etcd.log").start()
        self._context = context

    def wait_healthy(self, timeout: float = 20.0) -> Etcd:
        """Wait until the member answers /health (it has a leader)."""
        assert self.proc is not None
        client = f"{'https' if self.tls else 'http'}://{self.endpoint}"
        context = self._context
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.proc.alive():
                raise RuntimeError(f"etcd exited:\n{self.proc.log_tail()}")
            try:
                with urllib.request.urlopen(f"{client}/health", timeout=1,
                                            context=context) as response:
                    if b'"true"' in response.read():
                        return self
            except OSError:
                pass
            time.sleep(0.05)
        tail = self.proc.log_tail()
        self.stop()
        raise RuntimeError(f"etcd not healthy after {timeout}s:\n{tail}")

    def stop(self) -> None:
        """Kill etcd (a crash: its data directory stays, so it can start again)."""
        if self.proc is not None:
            self.proc.kill()

    def pause(self) -> None:
        """SIGSTOP: the member stalls with its sockets open (a hung machine)."""
        if self.proc is not None:
            self.proc.signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self.proc is not None:
            self.proc.signal(signal.SIGCONT)


class EtcdCluster:
    """Several etcd members on free loopback ports (plain HTTP), started together:
    ``EtcdCluster(tmp, 3).start()``, ``.url`` (every member), ``.members``, ``.stop()``."""

    def __init__(self, base_dir: Path, size: int = 3) -> None:
        names = [f"m{i}" for i in range(size)]
        self.members = [Etcd(base_dir / name, name=name) for name in names]
        cluster = ",".join(f"{m.name}={m.peer_url}" for m in self.members)
        for member in self.members:
            member.initial_cluster = cluster

    @property
    def url(self) -> str:
        return "etcd://" + ",".join(m.endpoint for m in self.members)

    def start(self, timeout: float = 30.0) -> EtcdCluster:
        try:
            for member in self.members:
                member.launch()
            for member in self.members:
                member.wait_healthy(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for member in self.members:
            member.resume()  # a stopped process takes SIGKILL too; resumed, it logs why
            member.stop()


def _make_pki(directory: Path) -> dict[str, str]:
    """A CA, a server cert for 127.0.0.1 and a client cert, as PEM files."""
    names = ("ca.crt", "ca.key", "server.crt", "server.key", "client.crt", "client.key")
    if all((directory / name).exists() for name in names):  # a restart keeps its CA
        return {name: str(directory / name) for name in names}
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-etcd-ca")])
    files: dict[str, str] = {}

    def write(stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
        for suffix, data in (("crt", cert.public_bytes(serialization.Encoding.PEM)),
                             ("key", key.private_bytes(serialization.Encoding.PEM,
                                                       serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))):
            path = directory / f"{stem}.{suffix}"
            path.write_bytes(data)
            files[path.name] = str(path)

    def issue(name: str, key: ec.EllipticCurvePrivateKey, *, ca: bool = False
              ) -> x509.Certificate:
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
                   .issuer_name(ca_name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if not ca:
            builder = builder.add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
                critical=False)
        return builder.sign(ca_key, hashes.SHA256())

    write("ca", issue("test-etcd-ca", ca_key, ca=True), ca_key)
    for stem in ("server", "client"):
        key = ec.generate_private_key(ec.SECP256R1())
        write(stem, issue(stem, key), key)
    return files
