"""The kubelet's settings, one frozen record built from the command line.

Timings that Kubernetes fixes (lease renewal every 10 s, an unchanged status every
5 minutes as its nodeStatusReportFrequency, crash back-off from 10 s to 5 min) are
fields here so tests can shorten them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from kybernetes.api.meta import now_rfc3339, now_rfc3339_micro

KUBELET_VERSION = "v1.33.0-kyb"


@dataclass(frozen=True)
class KubeletConfig:
    """How one kubelet runs; defaults are Kubernetes' own."""

    node_name: str
    runtime: str = "process"
    root_dir: Path = Path("/var/lib/kyb-kubelet")
    pod_cidr: str | None = None
    port: int = 10250
    address: str = "0.0.0.0"
    node_ip: str | None = None
    max_pods: int = 110
    taints: tuple[dict[str, str], ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    lease_seconds: float = 10.0
    lease_duration: int = 40
    status_seconds: float = 300.0
    backoff_base: float = 10.0
    backoff_max: float = 300.0
    sync_seconds: float = 10.0
    fail_pods_matching: str | None = None
    teardown_on_exit: bool = False
    serve: bool = True
    # --rotate-certificates: renew the client certificate (client_cert.py), kept in
    # cert_dir (--cert-dir, by default <root_dir>/pki)
    rotate_certificates: bool = False
    cert_dir: Path | None = None
    # Graceful node shutdown (shutdown.py): SIGTERM stops the pods within these
    # (shutdownGracePeriod, shutdownGracePeriodCriticalPods); 0 turns it off, as in kube.
    shutdown_grace_period: float = 0.0
    shutdown_grace_period_critical_pods: float = 0.0
    # Cluster DNS (pod_dns.py): what pods' resolv.conf and /etc/hosts say
    cluster_dns: tuple[str, ...] = ()
    cluster_domain: str = "cluster.local"
    resolv_conf: str = "/etc/resolv.conf"
    # The process runtime as root: a PID namespace per container (its command is PID 1,
    # as in Kubernetes, so it ignores SIGTERM without a handler); off by default
    container_pid_namespaces: bool = False
    # --runtime containerd: the CRI endpoint (Kubernetes' --container-runtime-endpoint)
    containerd_endpoint: str = "unix:///run/containerd/containerd.sock"
    # Image garbage collection (image_gc.py; runtimes with images): kube's thresholds
    image_gc_high_threshold: int = 85
    image_gc_low_threshold: int = 80
    image_gc_period: float = 300.0

    @property
    def certificate_dir(self) -> Path:
        return self.cert_dir or self.root_dir / "pki"


def _utc(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


def rfc3339(ts: float | None = None) -> str:
    """`2026-11-25T22:33:46Z` (Kubernetes' metav1.Time) for an epoch time, or now."""
    return now_rfc3339(_utc(ts))


def micro_time(ts: float | None = None) -> str:
    """`2026-11-25T22:33:46.123456Z` (metav1.MicroTime, used by Leases), or now."""
    return now_rfc3339_micro(_utc(ts))


def parse_rfc3339(text: str | None) -> float | None:
    """Seconds since the epoch for a metav1.Time or MicroTime string."""
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
