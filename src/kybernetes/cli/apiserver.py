"""`kyb apiserver`: run the API server (HTTPS, the Kubernetes REST API) on one store.

With only ``--data-dir`` it keeps everything there: the SQLite store
(``state.db``), the PKI (``pki/``) and the admin ``kubeconfig``. Several servers over
one etcd share one PKI: ``--pki-dir`` (the CA, ServiceAccount key, encryption config)
and each its own ``--tls-cert-file``/``--tls-private-key-file``.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import signal
from pathlib import Path

from kybernetes import log
from kybernetes.apiserver.authz.modes import DEFAULT_MODES, parse_modes
from kybernetes.cli.durations import parse_duration
from kybernetes.cli.errors import CliError

HELP = "run the API server (the Kubernetes REST API over HTTPS)"
# Built-in admission plugins that are off unless named (Kubernetes has them on; ours
# would refuse pods until the controller manager has made each `default` account).
OPTIONAL_ADMISSION_PLUGINS = ("ServiceAccount",)
# Built-in admission plugins that are on unless --disable-admission-plugins names them.
DEFAULT_ON_ADMISSION_PLUGINS = ("LimitRanger", "DefaultStorageClass", "DefaultIngressClass",
                                "StorageObjectInUseProtection", "Priority", "ResourceQuota")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", default="./kyb-data", type=Path,
                        help="state, PKI and kubeconfig directory (default ./kyb-data)")
    parser.add_argument("--store", default="",
                        help="sqlite:///path or etcd://host:port[,host:port] "
                             "(default sqlite DATA_DIR/state.db)")
    parser.add_argument("--etcd-cafile", default="", help="CA to verify etcd with")
    parser.add_argument("--etcd-certfile", default="", help="client cert for etcd")
    parser.add_argument("--etcd-keyfile", default="", help="client key for etcd")
    parser.add_argument("--bind-address", default="0.0.0.0",
                        help="address to listen on (default 0.0.0.0, as Kubernetes)")
    parser.add_argument("--port", "--secure-port", type=int, default=6443, dest="port",
                        help="HTTPS port (default 6443)")
    parser.add_argument("--advertise-address", default="",
                        help="address other components reach this server at")
    parser.add_argument("--service-cluster-ip-range", default="10.96.0.0/12")
    parser.add_argument("--service-node-port-range", default="30000-32767")
    parser.add_argument("--token-auth-file", default="",
                        help='static tokens: CSV token,user,uid,"group1,group2"')
    parser.add_argument("--insecure-port", type=int, default=0,
                        help="also serve plain HTTP on 127.0.0.1:N, unauthenticated (tests)")
    parser.add_argument("--default-watch-cache-size", type=int, default=20000,
                        help="events kept per resource for resuming watches (default 20000)")
    parser.add_argument("--etcd-compaction-interval", type=float, default=300.0,
                        help="seconds between store compactions, 0 for none (default 300)")
    parser.add_argument("--enable-admission-plugins", default="",
                        help="comma-separated built-in admission plugins to turn on "
                             f"(known: {', '.join(OPTIONAL_ADMISSION_PLUGINS)})")
    parser.add_argument("--disable-admission-plugins", default="",
                        help="comma-separated default-on admission plugins to turn off "
                             f"(known: {', '.join(DEFAULT_ON_ADMISSION_PLUGINS)})")
    parser.add_argument("--authorization-mode", default=",".join(DEFAULT_MODES),
                        help="comma-separated authorizers, tried in order: RBAC, Node, "
                             "AlwaysAllow, AlwaysDeny (default RBAC,Node)")
    parser.add_argument("--anonymous-auth", default="true", choices=("true", "false"),
                        help="requests without credentials run as system:anonymous "
                             "(default true, as Kubernetes); false answers them 401")
    parser.add_argument("--encryption-provider-config", default="", metavar="FILE",
                        help="Kubernetes EncryptionConfiguration for data at rest (default "
                             "DATA_DIR/pki/encryption-config.yaml, made on first start: "
                             "Secrets encrypted with aescbc)")
    parser.add_argument("--pki-dir", default="", metavar="DIR",
                        help="the cluster PKI shared by every API server over one store: "
                        "ca.crt/ca.key, the ServiceAccount signing key, the encryption "
                        "config, admin and kubelet-client certs (default DATA_DIR/pki, made "
                        "on first start)")
    parser.add_argument("--tls-cert-file", default="", metavar="FILE",
                        help="serving certificate (default DATA_DIR/pki/apiserver.crt, "
                        "issued from the cluster CA for this server's addresses)")
    parser.add_argument("--tls-private-key-file", default="", metavar="FILE",
                        help="the key of --tls-cert-file")
    parser.add_argument("--audit-policy-file", default="", metavar="FILE",
                        help="audit.k8s.io/v1 Policy: which requests are audited, at which "
                             "level (without it nothing is audited)")
    parser.add_argument("--audit-log-path", default="", metavar="FILE",
                        help="write audit events (JSON lines) to FILE, '-' for stdout")
    parser.add_argument("--audit-log-maxsize", type=int, default=0, metavar="MB",
                        help="rotate the audit log at this size (default 0: 100 MB)")
    parser.add_argument("--audit-log-maxbackup", type=int, default=0, metavar="N",
                        help="rotated audit logs to keep (default 0: all)")
    parser.add_argument("--audit-log-maxage", type=int, default=0, metavar="DAYS",
                        help="days to keep rotated audit logs (default 0: forever)")
    parser.add_argument("--max-requests-inflight", type=int, default=400, metavar="N",
                        help="read-only requests served at once (watches and other "
                             "long-running requests aside); past it 429 with Retry-After. "
                             "0: no limit")
    parser.add_argument("--max-mutating-requests-inflight", type=int, default=200,
                        metavar="N", help="the same for mutating requests. 0: no limit")
    parser.add_argument("--enable-priority-and-fairness", choices=("true", "false"),
                        nargs="?", const="true", default="true",
                        help="share the sum of the two limits above out between kube's "
                             "priority levels, with fair queues per user (default true); "
                             "false: each limit is a hard cap")
    parser.add_argument("--request-timeout", type=parse_duration, default=60.0,
                        metavar="DURATION",
                        help="how long a request body may take to arrive (then 408)")
    parser.add_argument("--read-header-timeout", type=parse_duration, default=32.0,
                        metavar="DURATION",
                        help="a connection that sends no request headers this long after "
                             "opening or after its last response is closed (kube: 32s to "
                             "read headers, 90s idle)")
    parser.add_argument("--tls-handshake-timeout", type=parse_duration, default=10.0,
                        metavar="DURATION", help="a TLS handshake must finish within this")
    parser.add_argument("-v", "--verbose", action="count", default=0)


def _check(args: argparse.Namespace) -> None:
    for flag, port in (("--port", args.port), ("--insecure-port", args.insecure_port)):
        if not 0 <= port <= 65535 or (flag == "--port" and port == 0):
            raise CliError(f"{flag} {port}: must be a port number 1-65535")
    for flag, address in (("--bind-address", args.bind_address),
                          ("--advertise-address", args.advertise_address)):
        if address:
            try:
                ipaddress.ip_address(address)
            except ValueError:
                raise CliError(f"{flag} {address!r} is not an IP address") from None
    try:
        ipaddress.ip_network(args.service_cluster_ip_range, strict=False)
    except ValueError:
        raise CliError(f"--service-cluster-ip-range {args.service_cluster_ip_range!r} is not "
                       "a CIDR") from None
    first, sep, last = args.service_node_port_range.partition("-")
    if not (sep and first.isdigit() and last.isdigit() and 0 < int(first) <= int(last) < 65536):
        raise CliError(f"--service-node-port-range {args.service_node_port_range!r}: want "
                       "FIRST-LAST, e.g. 30000-32767")
    if args.default_watch_cache_size < 1:
        raise CliError("--default-watch-cache-size must be at least 1")
    for flag in ("maxage", "maxbackup", "maxsize"):
        value = getattr(args, f"audit_log_{flag}")
        if value < 0:
            raise CliError(f"--audit-log-{flag} {value} can't be a negative number")
    for flag in ("max_requests_inflight", "max_mutating_requests_inflight"):
        if getattr(args, flag) < 0:
            raise CliError(f"--{flag.replace('_', '-')} can't be a negative number")
    for flag in ("request_timeout", "read_header_timeout", "tls_handshake_timeout"):
        if getattr(args, flag) <= 0:
            raise CliError(f"--{flag.replace('_', '-')} must be a positive duration")
    if bool(args.tls_cert_file) != bool(args.tls_private_key_file):
        raise CliError("--tls-cert-file and --tls-private-key-file go together")
    for flag in ("tls_cert_file", "tls_private_key_file"):
        if getattr(args, flag) and not Path(getattr(args, flag)).is_file():
            raise CliError(f"--{flag.replace('_', '-')} {getattr(args, flag)}: no such file")
    if args.pki_dir and not (Path(args.pki_dir) / "ca.crt").is_file():
        raise CliError(f"--pki-dir {args.pki_dir}: no ca.crt there (a shared PKI is made "
                       "once, e.g. by `kyb up --servers N`)")
    if args.token_auth_file and not Path(args.token_auth_file).is_file():
        raise CliError(f"--token-auth-file {args.token_auth_file}: no such file")
    try:
        parse_modes(args.authorization_mode)
    except ValueError as e:
        raise CliError(f"--authorization-mode: {e}") from None
    for flag, known in (("enable_admission_plugins", OPTIONAL_ADMISSION_PLUGINS),
                        ("disable_admission_plugins", DEFAULT_ON_ADMISSION_PLUGINS)):
        for plugin in _plugins(getattr(args, flag)):
            if plugin not in known:
                raise CliError(f"--{flag.replace('_', '-')}: plugin {plugin!r} is unknown "
                               f"(known: {', '.join(known)})")


def _plugins(value: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in value.split(",") if p.strip())


def run(args: argparse.Namespace) -> int:
    _check(args)
    log.setup(args.verbose)
    from kybernetes.apiserver.connections import ConnectionLimits
    from kybernetes.apiserver.malloc import limit_arenas
    from kybernetes.apiserver.server import Config, StartupError, serve
    from kybernetes.storage.errors import StorageError

    limit_arenas()

    config = Config(
        data_dir=args.data_dir, store_url=args.store, bind_address=args.bind_address,
        port=args.port, advertise_address=args.advertise_address,
        service_cluster_ip_range=args.service_cluster_ip_range,
        service_node_port_range=args.service_node_port_range,
        token_auth_file=args.token_auth_file, insecure_port=args.insecure_port,
        etcd_cafile=args.etcd_cafile, etcd_certfile=args.etcd_certfile,
        etcd_keyfile=args.etcd_keyfile, watch_cache_size=args.default_watch_cache_size,
        compaction_interval=args.etcd_compaction_interval,
        admission_plugins=_plugins(args.enable_admission_plugins),
        disabled_admission_plugins=_plugins(args.disable_admission_plugins),
        authorization_modes=parse_modes(args.authorization_mode),
        anonymous_auth=args.anonymous_auth == "true",
        encryption_provider_config=args.encryption_provider_config,
        pki_dir=args.pki_dir, tls_cert_file=args.tls_cert_file,
        tls_private_key_file=args.tls_private_key_file,
        audit_policy_file=args.audit_policy_file, audit_log_path=args.audit_log_path,
        audit_log_maxsize=args.audit_log_maxsize, audit_log_maxbackup=args.audit_log_maxbackup,
        audit_log_maxage=args.audit_log_maxage,
        max_requests_inflight=args.max_requests_inflight,
        max_mutating_requests_inflight=args.max_mutating_requests_inflight,
        enable_priority_and_fairness=args.enable_priority_and_fairness == "true",
        body_read_timeout=args.request_timeout,
        connections=ConnectionLimits(tls_handshake_timeout=args.tls_handshake_timeout,
                                     read_header_timeout=args.read_header_timeout))
    try:
        import uvloop  # type: ignore[import-not-found]
    except ImportError:
        uvloop = None

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await serve(config, stop)

    try:
        if uvloop is not None:
            uvloop.run(main())
        else:
            asyncio.run(main())
    except (StartupError, StorageError) as e:
        raise CliError(str(e)) from None
    except OSError as e:
        raise CliError(f"{e.strerror or e}") from None
    return 0

