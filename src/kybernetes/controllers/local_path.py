"""The `kyb.io/local-path` provisioner, run by the controller manager beside the
binder: a claim's volume is a directory `<root>/<claim uid>` on the node the
scheduler chose for its first consumer (hostPath, DirectoryOrCreate, with required
node affinity to that node). The kubelet there makes the directory when it mounts
it; deleting the volume removes it (the controller manager and the kubelets share
one disk on a kybernetes machine)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

from kybernetes.api import storage

Obj = dict[str, Any]
PROVISIONER = "kyb.io/local-path"


class LocalPathProvisioner:
    def __init__(self, root: Path) -> None:
        self.root = root

    def volume_for(self, pvc: Obj, sc: Obj, node: Obj) -> Obj:
        """The PersistentVolume for `pvc` on `node` (pre-bound to the claim)."""
        m = pvc["metadata"]
        hostname = (node["metadata"].get("labels") or {}).get(
            "kubernetes.io/hostname", node["metadata"]["name"])
        return {
            "apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": f"pvc-{m['uid']}",
                         "annotations": {storage.PROVISIONED_BY: PROVISIONER}},
            "spec": {
                "capacity": {"storage": pvc["spec"]["resources"]["requests"]["storage"]},
                "accessModes": pvc["spec"].get("accessModes"),
                "persistentVolumeReclaimPolicy": sc.get("reclaimPolicy") or "Delete",
                "storageClassName": sc["metadata"]["name"],
                "volumeMode": pvc["spec"].get("volumeMode") or "Filesystem",
                "hostPath": {"path": str(self.root / m["uid"]), "type": "DirectoryOrCreate"},
                "claimRef": {"kind": "PersistentVolumeClaim", "apiVersion": "v1",
                             "namespace": m.get("namespace"), "name": m["name"],
                             "uid": m["uid"], "resourceVersion": m.get("resourceVersion")},
                "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                    {"key": "kubernetes.io/hostname", "operator": "In",
                     "values": [hostname]}]}]}},
            }}

    def owns(self, pv: Obj) -> Path | None:
        """The directory of a volume this provisioner made (None for any other volume)."""
        ann = pv["metadata"].get("annotations") or {}
        path = ((pv.get("spec") or {}).get("hostPath") or {}).get("path")
        if ann.get(storage.PROVISIONED_BY) != PROVISIONER or not path:
            return None
        target = Path(path)
        return target if target.parent == self.root else None  # never outside the root

    async def delete(self, pv: Obj) -> None:
        """Remove the volume's directory (nothing for volumes it did not make)."""
        target = self.owns(pv)
        if target is not None and target.exists():
            await asyncio.to_thread(shutil.rmtree, target)
