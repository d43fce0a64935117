"""The API server process: its configuration, start-up order and shutdown.

Start: open the store → load the watch cache → start service allocation →
bootstrap (system namespaces, the `kubernetes` Service) → make the PKI and the
admin kubeconfig → listen (HTTPS; optionally plain HTTP on loopback).
Stop (SIGTERM/SIGINT): stop listening, end every watch so its handler returns,
wait briefly for in-flight requests, close allocation and the store.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import ssl
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from kybernetes import collector, storage
from kybernetes.apiserver import (
    audit,
    bootstrap,
    default_class,
    limit_ranger,
    pki,
    priority_admission,
    quota_admission,
    self_subject_review,
    storage_protection,
)
from kybernetes.apiserver.admission_chain import AdmissionChain
from kybernetes.apiserver.app import build_app
from kybernetes.apiserver.authn import Authenticator, load_token_file
from kybernetes.apiserver.authz.access_review import AccessReviews
from kybernetes.apiserver.authz.guard import RequestGuard
from kybernetes.apiserver.authz.modes import DEFAULT_MODES, build_chain, build_rule_lister
from kybernetes.apiserver.authz.node.authorizer import NodeAuthorizer, node_role_rules
from kybernetes.apiserver.authz.node.graph import NodeGraph
from kybernetes.apiserver.authz.node.restriction import NodeRestriction
from kybernetes.apiserver.authz.rbac import bootstrap as rbac_bootstrap
from kybernetes.apiserver.authz.rbac import bootstrap_policy
from kybernetes.apiserver.authz.rbac.authorizer import RbacAuthorizer
from kybernetes.apiserver.authz.rbac.escalation import EscalationCheck
from kybernetes.apiserver.authz.rbac.objects import CachedRbacObjects
from kybernetes.apiserver.authz.rbac.resolver import RuleResolver
from kybernetes.apiserver.bodies import DEFAULT_BODY_READ_TIMEOUT
from kybernetes.apiserver.bootstrap_token_auth import BootstrapTokenAuthenticator
from kybernetes.apiserver.client_certs import ClientCertAuthenticator
from kybernetes.apiserver.connections import (
    ConnectionLimits,
    LimitedSite,
    MemoryTrimmer,
    quiet_malformed_requests,
    shrink_tls_read_buffers,
)
from kybernetes.apiserver.crd.controller import CrdController
from kybernetes.apiserver.discovery import Discovery
from kybernetes.apiserver.dynamic_admission import dynamic_admission
from kybernetes.apiserver.endpoint_leases import EndpointLeases
from kybernetes.apiserver.field_tracking import ManagedFields
from kybernetes.apiserver.flowcontrol import PriorityAndFairness
from kybernetes.apiserver.handlers import ResourceHandlers, write_context
from kybernetes.apiserver.inflight import (
    DEFAULT_MAX_MUTATING,
    DEFAULT_MAX_REQUESTS,
    InflightLimit,
    RequestLimiter,
)
from kybernetes.apiserver.kinds.builtin import builtin_registry
from kybernetes.apiserver.kinds.definition import WriteHooks
from kybernetes.apiserver.kinds.registry import KindRegistry
from kybernetes.apiserver.kubelet_proxy import KubeletProxy
from kybernetes.apiserver.metrics import Metrics
from kybernetes.apiserver.metrics_api import MetricsApi
from kybernetes.apiserver.openapi import OpenApi
from kybernetes.apiserver.registry import Registry
from kybernetes.apiserver.service_allocation import ServiceAllocator
from kybernetes.apiserver.serviceaccount import admission as service_account_admission
from kybernetes.apiserver.serviceaccount.service import ServiceAccountTokens
from kybernetes.apiserver.subresources import Subresources
from kybernetes.apiserver.tls_client_certs import request_any_client_cert
from kybernetes.apiserver.token_review import TokenReviews
from kybernetes.apiserver.watch_cache import WatchCache
from kybernetes.client.kubeconfig import write_kubeconfig
from kybernetes.storage.encryption import (
    ConfigError,
    TransformingStore,
    ensure_default_config,
    load_config,
)
from kybernetes.storage.interface import Store
from kybernetes.tasks import cancel_and_wait

log = logging.getLogger("kybernetes.apiserver")


# Revisions kept at each compaction (every --etcd-compaction-interval, 5 min by default,
# as Kubernetes), so that watchers a little behind can still resume.
COMPACT_KEEP = 10000
DEFAULT_ENCRYPTION_CONFIG = "encryption-config.yaml"  # in DATA_DIR/pki/


class StartupError(Exception):
    """A configuration or environment problem that stops the server (one line)."""


@dataclass
class Config:
    data_dir: Path
    store_url: str = ""
    bind_address: str = "0.0.0.0"
    port: int = 6443
    advertise_address: str = ""
    service_cluster_ip_range: str = "10.96.0.0/12"
    service_node_port_range: str = "30000-32767"
    token_auth_file: str = ""
    insecure_port: int = 0
    etcd_cafile: str = ""
    etcd_certfile: str = ""
    etcd_keyfile: str = ""
    watch_cache_size: int = 20000
    compaction_interval: float = 300.0
    admission_plugins: tuple[str, ...] = ()  # opt-in built-in plugins (ServiceAccount)
    # Default-on plugins turned off (kube's --disable-admission-plugins).
    disabled_admission_plugins: tuple[str, ...] = ()
    authorization_modes: tuple[str, ...] = DEFAULT_MODES
    anonymous_auth: bool = True
    # Kubernetes' EncryptionConfiguration; "" is DATA_DIR/pki/encryption-config.yaml,
    # made on first start (Secrets with aescbc, identity to read older values).
    encryption_provider_config: str = ""
    # The cluster PKI several servers share (CA, ServiceAccount key, encryption config,
    # admin and kubelet-client certs); "" is DATA_DIR/pki.
    pki_dir: str = ""
    # kube's --tls-cert-file/--tls-private-key-file; "" is DATA_DIR/pki/apiserver.crt,
    # made (and re-made when an address is missing from it) from the cluster CA.
    tls_cert_file: str = ""
    tls_private_key_file: str = ""
    # kube-apiserver's audit flags: no policy file, no events.
    audit_policy_file: str = ""
    audit_log_path: str = ""  # a file, or "-" for stdout
    audit_log_maxsize: int = 0  # MB before rotation; 0 is lumberjack's 100
    audit_log_maxbackup: int = 0  # rotated files kept; 0 keeps all
    audit_log_maxage: int = 0  # days a rotated file is kept; 0 keeps all
    # What a client may hold: in-flight requests (0: no limit), connection timeouts.
    max_requests_inflight: int = DEFAULT_MAX_REQUESTS
    max_mutating_requests_inflight: int = DEFAULT_MAX_MUTATING
    # kube's --enable-priority-and-fairness: the two limits above shared out between
    # priority levels with fair queues (else each is a hard cap, kube's max-inflight).
    enable_priority_and_fairness: bool = True
    body_read_timeout: float = DEFAULT_BODY_READ_TIMEOUT
    connections: ConnectionLimits = field(default_factory=ConnectionLimits)

    @property
    def store(self) -> str:
        return self.store_url or f"sqlite://{(self.data_dir / 'state.db').resolve()}"

    @property
    def pki(self) -> pki.Where:
        """Where the shared PKI lives: --pki-dir, else the data dir's pki/."""
        return pki.Location(Path(self.pki_dir)) if self.pki_dir else self.data_dir


def default_advertise_address(bind: str) -> str:
    """The bind address, or for 0.0.0.0 this host's outgoing address (no packet sent)."""
    if bind not in ("0.0.0.0", "::", ""):
        return bind
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))
            return str(s.getsockname()[0])
        except OSError:
            return "127.0.0.1"


def _check_port_free(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise StartupError(f"port {port} is already in use") from None
            raise StartupError(f"cannot listen on {host}:{port}: {e.strerror}") from None


def open_store(config: Config) -> Store:
    """The store the URL names; a bad URL is a StartupError (one line)."""
    try:
        return storage.open_store(config.store, cafile=config.etcd_cafile or None,
                                  certfile=config.etcd_certfile or None,
                                  keyfile=config.etcd_keyfile or None)
    except ValueError as e:
        raise StartupError(f"--store: {e}") from None


def encrypted(store: Store, config: Config, kinds: KindRegistry) -> TransformingStore:
    """`store` behind the transformers of the encryption configuration: the flag's file,
    or the data dir's default (made on first start). A bad file is a StartupError."""
    source, path = "--encryption-provider-config", Path(config.encryption_provider_config)
    if not config.encryption_provider_config:
        source, path = "encryption config", pki.pki_dir(config.pki) / DEFAULT_ENCRYPTION_CONFIG
        try:
            ensure_default_config(path)
        except OSError as e:
            raise StartupError(f"{source} {path}: cannot write it: {e.strerror}") from None
    try:
        transformers = load_config(path)
    except ConfigError as e:
        raise StartupError(f"{source} {path}: {e}") from None
    log.info("encryption at rest", extra={"config": str(path),
                                          "resources": transformers.describe()})
    builtin = {d.resource.plural: d.resource.group for d in kinds.definitions()
               if not d.storage_prefix}
    return TransformingStore(store, transformers.for_keys(builtin))


def _allocator(store: Store, config: Config) -> ServiceAllocator:
    try:
        return ServiceAllocator(store, config.service_cluster_ip_range,
                                config.service_node_port_range,
                                services_prefix="/registry/services/")
    except ValueError as e:
        raise StartupError(f"bad service range: {e}") from None


def _policy_admission(admission: AdmissionChain, registry: Registry,
                      disabled: tuple[str, ...]) -> None:
    """LimitRanger, DefaultStorageClass, DefaultIngressClass, StorageObjectInUseProtection,
    Priority and ResourceQuota, on by default in
    kube's places: LimitRanger's defaults first among the mutating plugins, quota
    last of all (it charges usage, and scopes by the priority Priority sets)."""
    if limit_ranger.NAME not in disabled:
        ranger = limit_ranger.LimitRanger(
            limit_ranger.cached_limit_ranges(registry.cache, registry.kinds))
        admission.mutating.insert(0, ranger)
        admission.validating.insert(0, ranger)
    for where in (default_class.STORAGE, default_class.INGRESS):
        if where.plugin not in disabled:
            admission.mutating.append(default_class.from_cache(where, registry.cache,
                                                               registry.kinds))
    if storage_protection.NAME not in disabled:
        admission.mutating.append(storage_protection.StorageObjectInUseProtection())
    if priority_admission.NAME not in disabled:
        priority = priority_admission.PriorityAdmission(
            priority_admission.cached_priority_classes(registry.cache, registry.kinds))
        admission.mutating.append(priority)
        admission.validating.append(priority)
    if quota_admission.NAME not in disabled:
        admission.validating.append(quota_admission.ResourceQuotaAdmission(
            quota_admission.cached_quotas(registry.cache, registry.kinds),
            quota_admission.RegistryQuotaWriter(registry)))


class ApiServer:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.audit_policy = _audit_policy(config)  # a bad file stops us before anything
        self.kinds = builtin_registry()
        self.store = encrypted(open_store(config), config, self.kinds)
        self.cache = WatchCache(self.store, capacity=config.watch_cache_size)
        self.allocator = _allocator(self.store, config)
        admission, self.webhooks = dynamic_admission(self.cache, self.kinds)
        self.registry = Registry(self.store, self.cache, self.kinds, hook_source=self,
                                 fields=ManagedFields(), admission=admission)
        if service_account_admission.NAME in config.admission_plugins:
            admission.mutating.insert(
                0, service_account_admission.ServiceAccountAdmission(self.registry))
        self.crds = CrdController(self.registry, self.cache)
        self.rbac = RuleResolver(CachedRbacObjects(self.cache))
        self.authorizer = build_chain(config.authorization_modes, {
            "RBAC": lambda: RbacAuthorizer(self.rbac),
            "Node": lambda: NodeAuthorizer(NodeGraph(self.cache), node_role_rules(
                bootstrap_policy.cluster_roles()))})
        self.rule_lister = build_rule_lister(config.authorization_modes,
                                             {"RBAC": self.rbac.listed})
        # Always on: it narrows only what users who are nodes may write.
        self.node_restriction = NodeRestriction(
            lambda resource, namespace, name: self.cache.cached(self.kinds.of(resource),
                                                                namespace, name))
        admission.validating.insert(0, self.node_restriction)
        if "RBAC" in config.authorization_modes:
            admission.validating.insert(0, EscalationCheck(self.authorizer, self.rbac))
        _policy_admission(admission, self.registry, config.disabled_admission_plugins)
        self.runner: web.AppRunner | None = None
        self.endpoint_leases: EndpointLeases | None = None
        self.auditor: audit.Auditor | None = None
        self.compactor: asyncio.Task[None] | None = None
        self.trimmer: asyncio.Task[None] | None = None
        self.advertise = config.advertise_address or default_advertise_address(
            config.bind_address)

    @property
    def service_addresses(self) -> WriteHooks | None:
        """The Service kind's write hooks (HookSource)."""
        return self.allocator

    async def start(self) -> None:
        cfg = self.config
        tokens = {}
        if cfg.token_auth_file:
            try:
                tokens = load_token_file(cfg.token_auth_file)
            except (OSError, ValueError) as e:
                raise StartupError(f"--token-auth-file: {e}") from None
        self.auditor = _auditor(cfg, self.audit_policy)
        for host, port in ((cfg.bind_address, cfg.port), ("127.0.0.1", cfg.insecure_port)):
            if port:
                _check_port_free(host, port)  # fail fast, before touching the store
        await self.store.start()
        if cfg.compaction_interval > 0:
            self.compactor = storage.start_compactor(
                self.store, interval=cfg.compaction_interval, keep=COMPACT_KEEP)
        await self.cache.start()
        await self.allocator.start()
        await bootstrap.system_namespaces(self.registry)
        await bootstrap.local_path_storage_class(self.registry)
        await bootstrap.system_priority_classes(self.registry)
        await rbac_bootstrap.reconcile(self.registry)
        await self.crds.start()
        await bootstrap.kubernetes_service(
            self.registry, port=cfg.port, cluster_ip=self.allocator.kubernetes_service_ip)
        self.endpoint_leases = EndpointLeases(self.registry, self.store,
                                              address=self.advertise, port=cfg.port)
        await self.endpoint_leases.start()
        ssl_context = self._tls()
        self._write_kubeconfig()
        kubelets = self._kubelet_proxy()
        subresources = Subresources(self.registry, write_context, kubelets)
        handlers = ResourceHandlers(self.store, self.cache, self.registry, subresources,
                                    self.kinds)
        subresources.patcher = handlers
        account_tokens = ServiceAccountTokens.load(cfg.pki, self.registry)
        subresources.token_requests = account_tokens.requests
        account_tokens.requests.validators.append(self.node_restriction)
        subresources.eviction_validators.append(self.node_restriction)
        metrics = Metrics(lambda: {k: len(c.watchers) for k, c in self.cache.caches.items()
                                   if c.watchers})
        authenticator = Authenticator(
            tokens, [account_tokens.authenticator,
                     BootstrapTokenAuthenticator(self.cache, self.kinds)],
            anonymous=cfg.anonymous_auth,
            client_certs=ClientCertAuthenticator(pki.pki_dir(cfg.pki) / "ca.crt"))
        app = build_app(handlers, guard=RequestGuard(authenticator, self.authorizer),
                        metrics=metrics,
                        ready=self.cache.ready.is_set,
                        discovery=Discovery(self.kinds, f"{self.advertise}:{cfg.port}"),
                        openapi=OpenApi(self.kinds), auditor=self.auditor,
                        inflight=self._request_limiter(),
                        body_read_timeout=cfg.body_read_timeout)
        app.add_routes([*account_tokens.routes(), *self_subject_review.routes(),
                        *TokenReviews(authenticator,
                                      account_tokens.authority.api_audiences).routes(),
                        *AccessReviews(self.authorizer, self.rule_lister).routes(),
                        *MetricsApi(self.registry, self.store, self.cache, kubelets).routes()])
        shrink_tls_read_buffers()
        quiet_malformed_requests()
        collector.tune_for_serving()
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0,
                                    handle_signals=False,
                                    keepalive_timeout=cfg.connections.read_header_timeout)
        await self.runner.setup()
        server = self.runner.server
        assert server is not None
        limits = cfg.connections
        trimmer = MemoryTrimmer(lambda: len(server.connections), horizon=(
            limits.tls_handshake_timeout + limits.read_header_timeout + 5))
        await self._listen(LimitedSite(self.runner, cfg.bind_address, cfg.port,
                                       limits=cfg.connections, ssl_context=ssl_context,
                                       backlog=1024, accepted=trimmer.accepted), cfg.port)
        if cfg.insecure_port:
            await self._listen(LimitedSite(self.runner, "127.0.0.1", cfg.insecure_port,
                                           limits=cfg.connections, accepted=trimmer.accepted),
                               cfg.insecure_port)
        self.trimmer = asyncio.create_task(trimmer.run())
        log.info("serving", extra={"address": cfg.bind_address, "port": cfg.port,
                                   "store": cfg.store.split("://", 1)[0]})

    def _request_limiter(self) -> RequestLimiter:
        cfg = self.config
        if cfg.enable_priority_and_fairness:
            return PriorityAndFairness(
                cfg.max_requests_inflight + cfg.max_mutating_requests_inflight,
                wait=cfg.body_read_timeout / 4)  # kube: --request-timeout / 4
        return InflightLimit(cfg.max_requests_inflight, cfg.max_mutating_requests_inflight)

    def _kubelet_proxy(self) -> KubeletProxy:
        return KubeletProxy(self.registry, self.config.pki)

    async def _listen(self, site: web.TCPSite, port: int) -> None:
        try:
            await site.start()
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise StartupError(f"port {port} is already in use") from None
            raise StartupError(f"cannot listen on port {port}: {e.strerror}") from None

    def _tls(self) -> ssl.SSLContext:
        cfg = self.config
        # The `kubernetes` Service's ClusterIP too: in-cluster clients dial
        # KUBERNETES_SERVICE_HOST and verify the certificate against it.
        if cfg.tls_cert_file:
            cert, key = Path(cfg.tls_cert_file), Path(cfg.tls_private_key_file)
        else:
            cert, key = pki.serving_cert(cfg.data_dir, [
                cfg.bind_address, self.advertise, self.allocator.kubernetes_service_ip],
                ca=cfg.pki)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            ctx.load_cert_chain(cert, key)
        except (OSError, ssl.SSLError) as e:
            raise StartupError(f"--tls-cert-file {cert}: cannot load it with its key "
                               f"{key}: {e}") from None
        ctx.load_verify_locations(pki.pki_dir(cfg.pki) / "ca.crt")
        # Any client certificate completes the handshake; the authenticator verifies it
        # and answers a foreign or expired one with 401, as Kubernetes does.
        request_any_client_cert(ctx)
        ctx.set_alpn_protocols(["http/1.1"])
        return ctx

    def _write_kubeconfig(self) -> None:
        cfg = self.config
        cert, key = pki.admin_cert(cfg.pki)
        pki.kubelet_client_cert(cfg.pki)
        host = cfg.advertise_address or (
            "127.0.0.1" if cfg.bind_address in ("0.0.0.0", "::", "") else cfg.bind_address)
        write_kubeconfig(cfg.data_dir / "kubeconfig", server=f"https://{host}:{cfg.port}",
                         ca_pem=(pki.pki_dir(cfg.pki) / "ca.crt").read_bytes(),
                         cert_pem=cert.read_bytes(), key_pem=key.read_bytes(),
                         user="kubernetes-admin", cluster="kybernetes")

    async def aclose(self) -> None:
        if self.runner is not None:
            for site in list(self.runner.sites):
                await site.stop()
        if self.endpoint_leases is not None:
            await self.endpoint_leases.aclose()
        await self.crds.aclose()
        await self.cache.aclose()
        if self.runner is not None:
            await self.runner.cleanup()
        await self.webhooks.aclose()
        await self.allocator.aclose()
        await cancel_and_wait(self.compactor)
        await cancel_and_wait(self.trimmer)
        await self.store.aclose()
        if self.auditor is not None:
            self.auditor.close()  # after the last request: every event is written


def _audit_policy(cfg: Config) -> audit.Policy | None:
    """The policy of --audit-policy-file, loaded (and refused when bad) even without a
    log path, as kube-apiserver does."""
    if not cfg.audit_policy_file:
        return None
    try:
        return audit.load_policy(cfg.audit_policy_file)
    except audit.PolicyError as e:
        raise StartupError(f"--audit-policy-file {cfg.audit_policy_file}: {e}") from None


def _auditor(cfg: Config, policy: audit.Policy | None) -> audit.Auditor | None:
    try:
        return audit.open_auditor(policy, cfg.audit_log_path,
                                  max_size_mb=cfg.audit_log_maxsize,
                                  max_backups=cfg.audit_log_maxbackup,
                                  max_age_days=cfg.audit_log_maxage)
    except OSError as e:
        raise StartupError(f"--audit-log-path {cfg.audit_log_path}: "
                           f"{e.strerror or e}") from None


async def serve(config: Config, stop: asyncio.Event) -> None:
    """Run until `stop` is set."""
    server = ApiServer(config)
    try:
        await server.start()
        await stop.wait()
        log.info("shutting down")
    finally:
        await server.aclose()
