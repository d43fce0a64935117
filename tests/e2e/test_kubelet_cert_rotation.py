"""`kyb up --kubelet-cert-ttl 20s`: the kubelet's first client certificate lives 20 s;
the kubelet renews it through a CSR that the cluster's own controller manager approves
and signs, writes it under its root, and its node stays Ready (kubectl sees it all)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography import x509

from kybernetes.cli import cluster_dir
from kybernetes.client.kubeconfig import load_kubeconfig
from kybernetes.kubelet.cert_store import CertStore
from kybernetes.kubelet.config import parse_rfc3339
from tests.support.cluster import KybCluster
from tests.support.poll import wait_for

pytestmark = pytest.mark.timeout(300)


def test_kyb_up_kubelets_renew_a_short_certificate(tmp_path: Path) -> None:
    cluster = KybCluster(tmp_path / "kyb", env={"KYB_HOST_NETWORK": "1"})
    try:
        cluster.up("--nodes", "1", "--runtime", "fake", "--kubelet-cert-ttl", "20s")
        cdir = cluster_dir.resolve(str(cluster.data_dir))
        cluster_status = cdir.read_status()
        assert cluster_status is not None
        [node] = cluster_status["nodes"]
        first = x509.load_pem_x509_certificate(
            _kubeconfig_cert(cdir.root / "identities" / f"kubelet-{node}.kubeconfig"))
        store = CertStore(cdir.node_dir(node) / "pki")

        def rotated() -> bool:
            current = store.current()
            return current is not None and current.cert.serial_number != first.serial_number
        wait_for(rotated, within=90, interval=0.5,
                 what=f"the kubelet's rotated certificate\n{cluster.logs()}")
        csrs = json.loads(cluster.kubectl("get", "csr", "-o", "json"))["items"]
        mine = [c for c in csrs if c["spec"]["username"] == f"system:node:{node}"]
        assert mine and mine[0]["status"]["conditions"][0]["reason"] == "AutoApproved"
        listed = cluster.kubectl("get", "csr")
        assert "Approved,Issued" in listed and f"system:node:{node}" in listed
        # past the first certificate's end the node still renews its Lease: as itself,
        # with the new certificate
        ended = first.not_valid_after_utc.timestamp()

        def renewed_since_expiry() -> bool:
            lease = json.loads(cluster.kubectl("get", "lease", "-n", "kube-node-lease", node,
                                               "-o", "json"))
            return (parse_rfc3339(lease["spec"]["renewTime"]) or 0.0) > ended + 2
        wait_for(renewed_since_expiry, within=60, interval=0.5,
                 what="the Lease renewed after the first certificate ended")
        status = cluster.kubectl("get", "node", node, "--no-headers").split()
        assert status[1] == "Ready", status
    finally:
        cluster.down()


def _kubeconfig_cert(path: Path) -> bytes:
    pem = load_kubeconfig(path).cert_pem
    assert pem is not None
    return pem
