"""Kubelet client certificate rotation end to end: an API server in mode RBAC,Node, the
csrapproving and csrsigning controllers, and a `kyb kubelet --rotate-certificates`
(fake runtime) whose first certificate lives 20 s. Its renewal is auto-approved and
signed (for 20 s again, so it renews twice), it writes kubelet-client-current.pem, and
it keeps renewing its Lease and Node status after the first certificate has expired:
the node stays Ready. A node asking for another node's name is not auto-approved."""

from __future__ import annotations

import datetime as _dt
from collections.abc import AsyncIterator, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from kybernetes.api import resources as r
from kybernetes.api.errors import NotFound
from kybernetes.apiserver import pki
from kybernetes.client import ApiClient
from kybernetes.client.kubeconfig import write_kubeconfig
from kybernetes.controllers.manager import Options
from kybernetes.kubelet.cert_store import CertStore
from kybernetes.kubelet.config import parse_rfc3339
from tests.integration.controllers.helpers import running
from tests.integration.kubelet.conftest import KubeletProcess, make_pod
from tests.support.apiserver import ApiServer, connected, started
from tests.support.certs import csr_object, csr_pem, new_key
from tests.support.poll import eventually

NODE = "rot-1"
TTL = _dt.timedelta(seconds=20)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    with started(ApiServer(tmp_path_factory.mktemp("apiserver"),
                           extra_args=("--authorization-mode", "RBAC,Node"))) as srv:
        yield srv


def kubeconfig(server: ApiServer, user: str, *groups: str,
               lifetime: _dt.timedelta = _dt.timedelta(days=1)) -> Path:
    cert, key = pki.issue_client_cert(server.data_dir, user, list(groups), lifetime=lifetime)
    ca = (pki.pki_dir(server.data_dir) / "ca.crt").read_bytes()
    return write_kubeconfig(server.data_dir / f"{user.replace(':', '_')}.kubeconfig",
                            server=server.url, ca_pem=ca, cert_pem=cert, key_pem=key, user=user)


@pytest.fixture
async def controllers(server: ApiServer) -> AsyncIterator[None]:
    """csrapproving + csrsigning as the controller manager's own user, signing for 20 s."""
    ca = pki.pki_dir(server.data_dir)
    client = ApiClient.from_kubeconfig(kubeconfig(server, "system:kube-controller-manager"))
    options = Options(cluster_signing_cert_file=str(ca / "ca.crt"),
                      cluster_signing_key_file=str(ca / "ca.key"),
                      cluster_signing_duration=TTL.total_seconds())
    try:
        async with running(client, "csrapproving", "csrsigning", options=options):
            yield
    finally:
        await client.aclose()


@pytest.fixture
def kubelet(server: ApiServer, tmp_path: Path) -> Iterator[KubeletProcess]:
    config = kubeconfig(server, f"system:node:{NODE}", "system:nodes", lifetime=TTL)
    proc = KubeletProcess(server, tmp_path / "root", name=NODE, runtime="fake",
                          kubeconfig=config,
                          args=("--rotate-certificates", "--status-seconds", "2"))
    try:
        yield proc.start()
    finally:
        proc.stop()


def ready(node: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True"
               for c in (node.get("status") or {}).get("conditions") or [])


@pytest.mark.timeout(240)
async def test_the_kubelet_renews_its_certificate_and_stays_ready(
        server: ApiServer, controllers: None, kubelet: KubeletProcess) -> None:
    store = CertStore(kubelet.root / "pki")
    serials: list[str] = []

    def rotated(times: int) -> Any:
        async def check() -> bool:
            current = store.current()
            if current is not None and current.serial not in serials:
                serials.append(current.serial)
            return len(serials) >= times
        return check

    async with connected(server) as admin:
        await eventually(lambda: _node_ready(admin), within=30, what="the node Ready")
        started = _dt.datetime.now(_dt.UTC)
        await admin.create(r.PODS, make_pod("before", [{"name": "c", "image": "busybox"}],
                                            node=NODE), namespace="default")
        # the first certificate ends 20 s after it was made: renewed at 14-18 s
        await eventually(rotated(1), within=60, interval=0.2,
                         what=f"a rotation; kubelet log: {kubelet.log_tail()}")
        await eventually(rotated(2), within=60, interval=0.2,
                         what=f"a second rotation; kubelet log: {kubelet.log_tail()}")
        csrs = [c for c in (await admin.list(r.CERTIFICATE_SIGNING_REQUESTS))["items"]
                if c["spec"]["username"] == f"system:node:{NODE}"]
        assert len(csrs) >= 2
        for csr in csrs[:2]:
            assert csr["spec"]["signerName"] == "kubernetes.io/kube-apiserver-client-kubelet"
            assert csr["spec"]["usages"] == ["digital signature", "client auth"]
            approved = [c for c in csr["status"]["conditions"] if c["type"] == "Approved"]
            assert approved[0]["reason"] == "AutoApproved"
            assert approved[0]["message"] == ("Auto approving self kubelet client "
                                              "certificate after SubjectAccessReview.")
            assert csr["status"]["certificate"]
        # by now the first certificate has expired: only the new ones can renew these
        assert _dt.datetime.now(_dt.UTC) > started + TTL
        mark = _dt.datetime.now(_dt.UTC).timestamp()
        await eventually(lambda: _renewed_after(admin, mark), within=20,
                         what="the Lease and Node status renewed after the rotations")
        assert await _node_ready(admin)
        # the pod watch was re-established under the new identity: new pods still run
        await admin.create(r.PODS, make_pod("after", [{"name": "c", "image": "busybox"}],
                                            node=NODE), namespace="default")
        for name in ("before", "after"):
            await eventually(partial(_running, admin, name), within=30,
                             what=f"pod {name} Running")
    assert kubelet.proc is not None and kubelet.proc.alive()
    assert "rotation failed" not in kubelet.log_tail()


async def _node_ready(admin: ApiClient) -> bool:
    try:
        return ready(await admin.get(r.NODES, NODE))
    except NotFound:  # not registered yet
        return False


async def _running(admin: ApiClient, name: str) -> bool:
    pod = await admin.get(r.PODS, name, namespace="default")
    return (pod.get("status") or {}).get("phase") == "Running"


async def _renewed_after(admin: ApiClient, mark: float) -> bool:
    lease = await admin.get(r.LEASES, NODE, namespace="kube-node-lease")
    node = await admin.get(r.NODES, NODE)
    heartbeat = max((parse_rfc3339(c.get("lastHeartbeatTime")) or 0.0)
                    for c in node["status"]["conditions"])
    renewed = parse_rfc3339(lease["spec"].get("renewTime")) or 0.0
    return renewed > mark and heartbeat > mark


async def test_a_node_asking_for_another_nodes_name_is_not_approved(
        server: ApiServer, controllers: None) -> None:
    async with connected(server) as admin:
        node = ApiClient.from_kubeconfig(kubeconfig(server, "system:node:n9",
                                                    "system:nodes"))
        try:
            for name, cn in (("mine", "system:node:n9"), ("theirs", "system:node:n8")):
                await node.create(r.CERTIFICATE_SIGNING_REQUESTS, csr_object(
                    name, csr_pem(new_key(), cn, "system:nodes"),
                    signer="kubernetes.io/kube-apiserver-client-kubelet",
                    usages=("digital signature", "client auth")))
        finally:
            await node.aclose()

        async def issued_mine() -> bool:
            csr = await admin.get(r.CERTIFICATE_SIGNING_REQUESTS, "mine")
            return bool((csr.get("status") or {}).get("certificate"))
        await eventually(issued_mine, within=20, what="the node's own request issued")
        theirs = await admin.get(r.CERTIFICATE_SIGNING_REQUESTS, "theirs")
        assert not (theirs.get("status") or {}).get("conditions")
        assert not (theirs.get("status") or {}).get("certificate")
