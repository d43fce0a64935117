"""persistentVolumeClaim volumes on the process runtime (root): the kubelet follows the
claim to its volume's directory (made on first mount for DirectoryOrCreate), and what one
pod wrote there is read by the next pod on the same claim."""

from __future__ import annotations

import secrets
import shutil

import pytest

from tests.integration.kubelet.conftest import (
    IS_ROOT,
    finished_log,
    make_pod,
    wait_for,
)

pytestmark = [pytest.mark.root,
              pytest.mark.skipif(not IS_ROOT, reason="mount namespaces need root")]
BUSYBOX = shutil.which("busybox") or "/bin/busybox"




def test_data_on_a_claim_outlives_the_pod(module_core, process_node, ns, tmp_path) -> None:
    core, tag = module_core, secrets.token_hex(4)
    volume_dir = tmp_path / f"claim-{tag}"  # made by the kubelet on first mount
    pv_name = f"pv-{tag}"
    core.create_persistent_volume({
        "metadata": {"name": pv_name},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                 "storageClassName": "", "persistentVolumeReclaimPolicy": "Retain",
                 "hostPath": {"path": str(volume_dir), "type": "DirectoryOrCreate"},
                 "claimRef": {"namespace": ns, "name": "data"}}})
    core.create_namespaced_persistent_volume_claim(ns, {
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "",
                 "volumeName": pv_name, "resources": {"requests": {"storage": "1Gi"}}}})
    # the binder's last step, written by hand (no controller manager here)
    core.patch_namespaced_persistent_volume_claim_status("data", ns, {"status": {
        "phase": "Bound", "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"]}})
    volumes = [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]
    core.create_namespaced_pod(ns, make_pod("writer", [{
        "name": "c", "image": "busybox",
        "command": [BUSYBOX, "sh", "-c", f"echo {tag} > /data/f; echo done; sleep 3600"],
        "volumeMounts": [{"name": "data", "mountPath": "/data"}]}], volumes=volumes))
    wait_for(lambda: finished_log(process_node, core, ns, "writer"), timeout=30, what="the writer")
    assert (volume_dir / "f").read_text().strip() == tag
    core.delete_namespaced_pod("writer", ns, grace_period_seconds=0)
    wait_for(lambda: not core.list_namespaced_pod(ns).items, timeout=30,
             what="the writer gone")
    core.create_namespaced_pod(ns, make_pod("reader", [{
        "name": "c", "image": "busybox",
        "command": [BUSYBOX, "sh", "-c", "cat /data/f; echo done; sleep 3600"],
        "volumeMounts": [{"name": "data", "mountPath": "/data"}]}], volumes=volumes))
    out = wait_for(lambda: finished_log(process_node, core, ns, "reader"), timeout=30,
                   what="the reader")
    assert out.splitlines()[0] == tag
    core.delete_namespaced_pod("reader", ns, grace_period_seconds=0)
    core.delete_persistent_volume(pv_name)
