"""`kyb kubelet`: run one node's agent until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from kybernetes import collector, log
from kybernetes.cli.durations import parse_duration
from kybernetes.cli.errors import CliError

HELP = "run a node agent: register the node and run the pods bound to it"
RUNTIMES = ("process", "docker", "containerd", "fake")
KUBELET_CONNECTIONS = 12  # to the API server: its two watches and ten requests at once
_log = logging.getLogger("kybernetes.cli.kubelet")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kubeconfig", required=True, help="credentials for the API server")
    parser.add_argument("--node-name", required=True, help="the Node this kubelet registers")
    parser.add_argument("--runtime", choices=RUNTIMES, default="process")
    parser.add_argument("--containerd-endpoint", "--container-runtime-endpoint",
                        dest="containerd_endpoint",
                        default="unix:///run/containerd/containerd.sock",
                        help="--runtime containerd: its CRI socket (default %(default)s)")
    parser.add_argument("--image-gc-high-threshold", type=int, default=85,
                        help="image filesystem use (%%) above which unused images are removed "
                        "(default 85; containerd runtime)")
    parser.add_argument("--image-gc-low-threshold", type=int, default=80,
                        help="image filesystem use (%%) image garbage collection frees down to "
                        "(default 80)")
    parser.add_argument("--image-gc-period", type=parse_duration, default=300.0,
                        help=argparse.SUPPRESS)  # kube's fixed 5 min; shorter for tests
    parser.add_argument("--root-dir", default="/var/lib/kyb-kubelet",
                        help="state, volumes and logs (default %(default)s)")
    parser.add_argument("--pod-cidr", help="pod addresses (else the Node's spec.podCIDR)")
    parser.add_argument("--port", type=int, default=10250, help="HTTPS port (default 10250)")
    parser.add_argument("--address", default="0.0.0.0", help="address the HTTPS API binds")
    parser.add_argument("--node-ip", help="the node's InternalIP (default: detected)")
    parser.add_argument("--max-pods", type=int, default=110)
    parser.add_argument("--cluster-dns", default="", metavar="IP[,IP]",
                        help="DNS server(s) of the cluster for pods with dnsPolicy ClusterFirst")
    parser.add_argument("--cluster-domain", default="cluster.local",
                        help="the cluster's DNS domain (default cluster.local)")
    parser.add_argument("--resolv-conf", default="/etc/resolv.conf",
                        help="the node's resolver file, for dnsPolicy Default "
                        "(default /etc/resolv.conf)")
    parser.add_argument("--container-pid-namespaces", action="store_true",
                        help="process runtime as root: each container in a PID namespace of "
                        "its own, its command PID 1 (pods with shareProcessNamespace always "
                        "get one shared namespace)")
    parser.add_argument("--register-with-taints", default="",
                        help="key=value:Effect,… taints for the Node at registration")
    parser.add_argument("--node-labels", default="", help="key=value,… labels for the Node")
    parser.add_argument("--fail-pods-matching", metavar="REGEX",
                        help="fake runtime: containers of matching pods exit with code 1")
    parser.add_argument("--lease-seconds", type=float, default=10.0,
                        help="Lease renewal period (default 10)")
    parser.add_argument("--status-seconds", type=float, default=300.0,
                        help="how often an unchanged Node status is posted (default 300, "
                             "kube's nodeStatusReportFrequency); a change goes at once")
    parser.add_argument("--backoff-base", type=float, default=10.0,
                        help="first crash-loop back-off in seconds (default 10)")
    parser.add_argument("--backoff-max", type=float, default=300.0,
                        help="longest crash-loop back-off in seconds (default 300)")
    parser.add_argument("--sync-seconds", type=float, default=10.0,
                        help="how often each pod is re-checked without a cause (default 10)")
    parser.add_argument("--teardown-on-exit", action="store_true",
                        help="stop every pod and remove the node network on exit")
    parser.add_argument("--rotate-certificates", action="store_true",
                        help="renew the client certificate through a CertificateSigningRequest "
                        "before it expires")
    parser.add_argument("--cert-dir", help="where rotated client certificates are kept "
                        "(default <root-dir>/pki)")
    parser.add_argument("--authentication-token-webhook", default="true",
                        choices=("true", "false"),
                        help="check bearer tokens with a TokenReview (default true)")
    parser.add_argument("--authentication-token-webhook-cache-ttl", type=parse_duration,
                        default=120.0, help="how long token reviews are kept (default 2m)")
    parser.add_argument("--authorization-mode", default="Webhook",
                        choices=("Webhook", "AlwaysAllow"),
                        help="Webhook: a SubjectAccessReview per request (default)")
    parser.add_argument("--authorization-webhook-cache-authorized-ttl", type=parse_duration,
                        default=300.0, help="how long a yes is kept (default 5m)")
    parser.add_argument("--authorization-webhook-cache-unauthorized-ttl",
                        type=parse_duration, default=30.0,
                        help="how long a no is kept (default 30s)")
    parser.add_argument("--shutdown-grace-period", type=parse_duration, default=0.0,
                        help="graceful node shutdown: on SIGTERM stop the pods within this "
                        "(shutdownGracePeriod; default 0: off)")
    parser.add_argument("--shutdown-grace-period-critical-pods", type=parse_duration,
                        default=0.0, help="the part of --shutdown-grace-period kept for "
                        "critical pods (shutdownGracePeriodCriticalPods; default 0)")
    parser.add_argument("-v", "--verbose", action="count", default=0)


def auth_settings(args: argparse.Namespace) -> Any:
    """The kubelet API's authentication and authorization settings."""
    from kybernetes.kubelet.auth import AuthSettings

    return AuthSettings(
        token_webhook=args.authentication_token_webhook == "true",
        token_cache_ttl=args.authentication_token_webhook_cache_ttl,
        authorization_mode=args.authorization_mode,
        authorized_ttl=args.authorization_webhook_cache_authorized_ttl,
        unauthorized_ttl=args.authorization_webhook_cache_unauthorized_ttl)


def parse_taints(text: str) -> tuple[dict[str, str], ...]:
    """`k=v:NoSchedule,k2:NoExecute` -> Node taints; CliError when malformed."""
    taints = []
    for item in filter(None, (t.strip() for t in text.split(","))):
        head, sep, effect = item.rpartition(":")
        if not sep or effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            raise CliError(f"invalid taint {item!r}: want key[=value]:NoSchedule|"
                           "PreferNoSchedule|NoExecute")
        key, _, value = head.partition("=")
        taint = {"key": key, "effect": effect}
        if value:
            taint["value"] = value
        taints.append(taint)
    return tuple(taints)


def parse_labels(text: str) -> dict[str, str]:
    labels = {}
    for item in filter(None, (t.strip() for t in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliError(f"invalid label {item!r}: want key=value")
        labels[key] = value
    return labels


def build_config(args: argparse.Namespace) -> Any:
    from kybernetes.kubelet.config import KubeletConfig
    if args.pod_cidr:
        try:
            ipaddress.ip_network(args.pod_cidr, strict=False)
        except ValueError as e:
            raise CliError(f"--pod-cidr: {e}") from None
    return KubeletConfig(
        node_name=args.node_name, runtime=args.runtime, root_dir=Path(args.root_dir).resolve(),
        pod_cidr=args.pod_cidr, port=args.port, address=args.address, node_ip=args.node_ip,
        max_pods=args.max_pods, taints=parse_taints(args.register_with_taints),
        labels=parse_labels(args.node_labels), lease_seconds=args.lease_seconds,
        status_seconds=args.status_seconds, backoff_base=args.backoff_base,
        backoff_max=args.backoff_max, sync_seconds=args.sync_seconds,
        fail_pods_matching=args.fail_pods_matching, teardown_on_exit=args.teardown_on_exit,
        rotate_certificates=args.rotate_certificates,
        cert_dir=Path(args.cert_dir).resolve() if args.cert_dir else None,
        shutdown_grace_period=args.shutdown_grace_period,
        shutdown_grace_period_critical_pods=args.shutdown_grace_period_critical_pods,
        cluster_dns=_cluster_dns(args.cluster_dns), cluster_domain=args.cluster_domain,
        resolv_conf=args.resolv_conf, containerd_endpoint=args.containerd_endpoint,
        container_pid_namespaces=args.container_pid_namespaces,
        image_gc_high_threshold=args.image_gc_high_threshold,
        image_gc_low_threshold=args.image_gc_low_threshold, image_gc_period=args.image_gc_period)


def _check_image_gc(high: int, low: int) -> None:
    """Kubernetes' validation of the image GC thresholds."""
    if not 0 <= high <= 100:
        raise CliError(f"invalid configuration: imageGCHighThresholdPercent ({high}) must be "
                       "between 0 and 100")
    if not 0 <= low <= 100:
        raise CliError(f"invalid configuration: imageGCLowThresholdPercent ({low}) must be "
                       "between 0 and 100")
    if low > high:
        raise CliError(f"invalid configuration: imageGCLowThresholdPercent ({low}) must be "
                       f"less than imageGCHighThresholdPercent ({high})")


def _cluster_dns(text: str) -> tuple[str, ...]:
    servers = tuple(s.strip() for s in text.split(",") if s.strip())
    for server in servers:
        try:
            ipaddress.ip_address(server)
        except ValueError:
            raise CliError(f"--cluster-dns {server!r} is not an IP address") from None
    return servers


def client_cert_manager(kubeconfig: str, config: Any, client: Any) -> Any:
    """The rotation of the kubeconfig's client certificate (None when it is off or the
    kubeconfig has none); the client is switched to a newer stored certificate now."""
    from kybernetes.client.kubeconfig import load_kubeconfig
    from kybernetes.kubelet.cert_store import CertStore, ClientCert
    from kybernetes.kubelet.client_cert import ClientCertManager, initial_cert

    if not config.rotate_certificates:
        return None
    loaded = load_kubeconfig(kubeconfig)
    configured = None
    if loaded.cert_pem and loaded.key_pem:
        try:
            configured = ClientCert.load(loaded.cert_pem, loaded.key_pem)
        except ValueError as e:
            raise CliError(f"--kubeconfig: client certificate: {e}") from None
    store = CertStore(config.certificate_dir)
    current = initial_cert(store, configured)
    if current is None:
        _log.warning("--rotate-certificates: the kubeconfig has no client certificate; "
                     "not rotating")
        return None
    if current is not configured:
        client.use_client_certificate(current.cert_pem, current.key_pem)

    def switch(pair: ClientCert) -> None:
        client.use_client_certificate(pair.cert_pem, pair.key_pem)

    return ClientCertManager(client, config.node_name, store, current, switch)


async def _main(args: argparse.Namespace) -> int:
    from kybernetes.client import ApiClient
    from kybernetes.kubelet.agent import Kubelet
    from kybernetes.kubelet.auth import KubeletAuth
    from kybernetes.kubelet.runtime import make_runtime
    from kybernetes.kubelet.server import KubeletServer
    from kybernetes.kubelet.shutdown import GracePeriods, shut_down
    from kybernetes.tasks import cancel_and_wait, spawn

    config = build_config(args)
    _check_image_gc(config.image_gc_high_threshold, config.image_gc_low_threshold)
    try:
        periods = GracePeriods(config.shutdown_grace_period,
                               config.shutdown_grace_period_critical_pods)
    except ValueError as e:
        raise CliError(f"--shutdown-grace-period-critical-pods: {e}") from None
    config.root_dir.mkdir(parents=True, exist_ok=True)
    try:
        # a few connections kept alive and shared (the pods' workers queue for them): a
        # hundred pods arriving together would otherwise open, and TLS-handshake, a hundred
        client = ApiClient.from_kubeconfig(args.kubeconfig, user_agent="kyb-kubelet",
                                           pool_size=KUBELET_CONNECTIONS)
        rotation = client_cert_manager(args.kubeconfig, config, client)
    except (OSError, ValueError) as e:
        raise CliError(f"--kubeconfig: {e}") from None
    runtime = make_runtime(config)
    kubelet = Kubelet(client, config, runtime)
    server = KubeletServer(kubelet, kubeconfig=args.kubeconfig,
                           auth=KubeletAuth(client, config.node_name, auth_settings(args)))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # `ip`, container starts and exec probes fork in worker threads: allow many at once
    loop.set_default_executor(ThreadPoolExecutor(max_workers=32, thread_name_prefix="kubelet"))
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    rotating = spawn(rotation.run(), name="client-cert-rotation") if rotation else None
    try:
        await server.start()
        await kubelet.start()
        await stop.wait()
        if periods.enabled:
            await shut_down(kubelet, periods)
    finally:
        await cancel_and_wait(rotating)
        await server.aclose()
        await kubelet.aclose(teardown=config.teardown_on_exit)
        await client.aclose()
    return 0


def run(args: argparse.Namespace) -> int:
    log.setup(args.verbose)
    collector.tune_for_serving()
    return asyncio.run(_main(args))
