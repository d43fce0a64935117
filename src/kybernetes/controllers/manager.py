"""The controller manager: many controllers, one client, shared informers.

Controllers are registered by their Kubernetes names (``replicationcontroller``,
``endpoint``, ``nodelifecycle`` …). Every controller asks the one
:class:`InformerFactory` for the informers it needs while it is built, so one
list+watch per resource feeds them all; the manager then starts the informers,
waits for their first list, and runs every controller's workers until it is
cancelled.

`--controllers` works as in kube-controller-manager: ``*`` is every default
controller, ``name`` adds one, ``-name`` removes one. ``bootstrapsigner`` and
``tokencleaner`` are off by default there too; `kyb up` turns them on, as kubeadm
does (``*,bootstrapsigner,tokencleaner``).

With leader election the manager campaigns for a Lease and only builds and runs
controllers while it leads; losing the lease ends the run with
:class:`LeadershipLost` (the process then exits, and its supervisor restarts it
as a standby), because controllers that may have stale caches must stop writing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path

from kybernetes.client import ApiClient, InformerFactory, LeaderElector
from kybernetes.client.transforms import drop_managed_fields
from kybernetes.controllers.base import Controller
from kybernetes.tasks import cancel_and_wait

log = logging.getLogger("kybernetes.controllers.manager")


@dataclass
class Options:
    """Settings from the command line that some controllers need."""

    cluster_cidr: IPv4Network | IPv6Network = field(
        default_factory=lambda: ip_network("10.244.0.0/16"))
    node_cidr_mask_size: int = 24
    node_monitor_grace_period: float = 40.0
    node_monitor_period: float = 5.0
    pod_eviction_timeout: float = 300.0
    pod_gc_period: float = 20.0
    pod_gc_quarantine: float = 40.0
    resource_quota_sync_period: float = 300.0  # kube's --resource-quota-sync-period
    horizontal_pod_autoscaler_sync_period: float = 15.0  # kube's flag of that name
    workers: int | None = None
    # The CA that signs approved CSRs; the csrsigning controller is off without it.
    cluster_signing_cert_file: str = ""
    cluster_signing_key_file: str = ""
    cluster_signing_duration: float = 365 * 24 * 3600.0
    # The CA bundle (PEM) published to every namespace as kube-root-ca.crt.
    root_ca: str = ""
    # Where the kyb.io/local-path provisioner makes one directory per claim.
    local_path_root: Path = field(
        default_factory=lambda: Path(os.environ.get("KYB_LOCAL_PATH_ROOT",
                                                    "/var/lib/kybernetes/local-path")))


# A factory gives None when its controller is not configured (csrsigning without a CA).
Factory = Callable[[ApiClient, InformerFactory, Options], Controller | None]


def _csr_signing(client: ApiClient, informers: InformerFactory, o: Options) -> Controller | None:
    from kybernetes.controllers.csr_signing import CertificateAuthority, CsrSigningController

    if not (o.cluster_signing_cert_file and o.cluster_signing_key_file):
        log.info("skipping the CSR signing controller: no --cluster-signing-cert-file/"
                 "--cluster-signing-key-file")
        return None
    authority = CertificateAuthority(o.cluster_signing_cert_file, o.cluster_signing_key_file)
    return CsrSigningController(client, informers, authority,
                                timedelta(seconds=o.cluster_signing_duration))


def _root_ca_publisher(client: ApiClient, informers: InformerFactory,
                       o: Options) -> Controller | None:
    from kybernetes.controllers.root_ca_publisher import RootCaPublisher

    if not o.root_ca:
        log.info("skipping the root CA publisher: no --root-ca-file and no CA in the kubeconfig")
        return None
    return RootCaPublisher(client, informers, o.root_ca)


def _registry() -> dict[str, Factory]:
    # Imported here so that the module map stays readable and imports stay lazy.
    from kybernetes.controllers.bootstrap_signer import BootstrapSigner
    from kybernetes.controllers.clusterrole_aggregation import ClusterRoleAggregationController
    from kybernetes.controllers.cronjob import CronJobController
    from kybernetes.controllers.csr_approving import CsrApprovingController
    from kybernetes.controllers.daemonset import DaemonSetController
    from kybernetes.controllers.deployment import DeploymentController
    from kybernetes.controllers.disruption import DisruptionController
    from kybernetes.controllers.endpoints import EndpointsController
    from kybernetes.controllers.endpointslice import EndpointSliceController
    from kybernetes.controllers.endpointslice_mirroring import EndpointSliceMirroringController
    from kybernetes.controllers.garbage_collector import GarbageCollector
    from kybernetes.controllers.horizontal_pod_autoscaler import (
        HorizontalPodAutoscalerController,
    )
    from kybernetes.controllers.job import JobController
    from kybernetes.controllers.namespace import NamespaceController
    from kybernetes.controllers.node_ipam import NodeIpamController
    from kybernetes.controllers.node_lifecycle import NodeLifecycleController
    from kybernetes.controllers.persistent_volume import PersistentVolumeController
    from kybernetes.controllers.pod_gc import PodGarbageCollector
    from kybernetes.controllers.replication import (
        ReplicaSetManager,
        ReplicationControllerManager,
    )
    from kybernetes.controllers.resourcequota import ResourceQuotaController
    from kybernetes.controllers.service_account import ServiceAccountController
    from kybernetes.controllers.service_lb import ServiceLbController
    from kybernetes.controllers.statefulset import StatefulSetController
    from kybernetes.controllers.storage_protection import (
        PvcProtectionController,
        PvProtectionController,
    )
    from kybernetes.controllers.token_cleaner import TokenCleaner
    from kybernetes.controllers.ttl_after_finished import TtlAfterFinishedController

    return {
        "replicationcontroller": lambda c, i, o: ReplicationControllerManager(c, i),
        "replicaset": lambda c, i, o: ReplicaSetManager(c, i),
        "deployment": lambda c, i, o: DeploymentController(c, i),
        "daemonset": lambda c, i, o: DaemonSetController(c, i),
        "statefulset": lambda c, i, o: StatefulSetController(c, i),
        "disruption": lambda c, i, o: DisruptionController(c, i),
        "horizontalpodautoscaling": lambda c, i, o: HorizontalPodAutoscalerController(
            c, i, sync_period=o.horizontal_pod_autoscaler_sync_period),
        "cronjob": lambda c, i, o: CronJobController(c, i),
        "job": lambda c, i, o: JobController(c, i),
        "ttl-after-finished-controller": lambda c, i, o: TtlAfterFinishedController(c, i),
        "endpoint": lambda c, i, o: EndpointsController(c, i),
        "endpointslice": lambda c, i, o: EndpointSliceController(c, i),
        "endpointslicemirroring": lambda c, i, o: EndpointSliceMirroringController(c, i),
        "service-lb-controller": lambda c, i, o: ServiceLbController(c, i),
        "resourcequota": lambda c, i, o: ResourceQuotaController(
            c, i, resync_period=o.resource_quota_sync_period),
        "nodelifecycle": lambda c, i, o: NodeLifecycleController(
            c, i, grace_period=o.node_monitor_grace_period,
            monitor_period=o.node_monitor_period, eviction_timeout=o.pod_eviction_timeout),
        "nodeipam": lambda c, i, o: NodeIpamController(
            c, i, cluster_cidr=o.cluster_cidr, mask_size=o.node_cidr_mask_size),
        "namespace": lambda c, i, o: NamespaceController(c, i),
        "garbagecollector": lambda c, i, o: GarbageCollector(c, i),
        "podgc": lambda c, i, o: PodGarbageCollector(
            c, i, period=o.pod_gc_period, quarantine=o.pod_gc_quarantine),
        "serviceaccount": lambda c, i, o: ServiceAccountController(c, i),
        "csrsigning": _csr_signing,
        "csrapproving": lambda c, i, o: CsrApprovingController(c, i),
        "root-ca-cert-publisher": _root_ca_publisher,
        "clusterrole-aggregation": lambda c, i, o: ClusterRoleAggregationController(c, i),
        "persistentvolume-binder": lambda c, i, o: PersistentVolumeController(
            c, i, local_path_root=o.local_path_root),
        "pvc-protection": lambda c, i, o: PvcProtectionController(c, i),
        "pv-protection": lambda c, i, o: PvProtectionController(c, i),
        "bootstrapsigner": lambda c, i, o: BootstrapSigner(c, i),
        "tokencleaner": lambda c, i, o: TokenCleaner(c, i),
    }


# kube-controller-manager's ControllersDisabledByDefault: only named, never by `*`.
DISABLED_BY_DEFAULT = frozenset({"bootstrapsigner", "tokencleaner"})


def known_controllers() -> list[str]:
    return list(_registry())


def select_controllers(spec: str) -> list[str]:
    """Resolve a --controllers value (`*`, `name`, `-name`, comma separated)."""
    known = known_controllers()
    chosen: list[str] = []
    removed: set[str] = set()
    for item in (s.strip() for s in spec.split(",")):
        if not item:
            continue
        name = item.lstrip("-")
        if name != "*" and name not in known:
            raise ValueError(f"unknown controller {name!r}; known: {', '.join(known)}")
        if item.startswith("-"):
            removed.add(name)
        elif item == "*":
            chosen.extend(n for n in known if n not in DISABLED_BY_DEFAULT)
        else:
            chosen.append(name)
    return [n for n in dict.fromkeys(chosen) if n not in removed]


class ControllerManager:
    """Builds the selected controllers over shared informers and runs them."""

    def __init__(self, client: ApiClient, names: list[str], options: Options | None = None):
        self.client = client
        self.names = names
        self.options = options or Options()
        self.informers: InformerFactory | None = None
        self.controllers: dict[str, Controller] = {}
        self.running = asyncio.Event()

    async def run(self) -> None:
        """Run until cancelled."""
        registry = _registry()
        # As kube-controller-manager's informers (TrimManagedFields): no controller
        # reads them, and they are often half of an object's memory.
        self.informers = InformerFactory(self.client, transform=drop_managed_fields)
        built = {n: registry[n](self.client, self.informers, self.options) for n in self.names}
        self.controllers = {n: c for n, c in built.items() if c is not None}
        tasks: list[asyncio.Task[None]] = []
        try:
            await self.informers.start()
            await self.informers.wait_synced()
            log.info("caches synced, starting controllers",
                     extra={"controllers": len(self.controllers)})
            tasks = [asyncio.create_task(c.run(self.options.workers), name=f"controller-{n}")
                     for n, c in self.controllers.items()]
            self.running.set()
            await asyncio.gather(*tasks)
        finally:
            self.running.clear()
            await cancel_and_wait(*tasks)
            await self.informers.aclose()

    async def run_with_leader_election(self, *, namespace: str = "kube-system",
                                       name: str = "kube-controller-manager",
                                       lease_duration: float = 15, renew_deadline: float = 10,
                                       retry_period: float = 2) -> None:
        # the pid too (as our scheduler's): `kyb status` tells which process leads
        identity = f"{socket.gethostname()}_{os.getpid()}_{uuid.uuid4()}"
        elector = LeaderElector(self.client, namespace=namespace, name=name,
                                identity=identity, lease_duration=lease_duration,
                                renew_deadline=renew_deadline, retry_period=retry_period)
        await elector.run(self.run)
