"""PersistentVolume / claim / StorageClass validation and the binder's matching rules."""

from __future__ import annotations

from typing import Any

from kybernetes.api import storage
from kybernetes.api.field_errors import ErrorList


def pv(name: str, size: str, *, modes: tuple[str, ...] = ("ReadWriteOnce",), cls: str = "",
       phase: str = "Available", labels: dict[str, str] | None = None,
       claim: dict[str, Any] | None = None, host: str = "") -> dict[str, Any]:
    spec: dict[str, Any] = {"capacity": {"storage": size}, "accessModes": list(modes),
                            "hostPath": {"path": f"/tmp/{name}"}, "storageClassName": cls}
    if claim:
        spec["claimRef"] = claim
    if host:
        spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "kubernetes.io/hostname", "operator": "In", "values": [host]}]}]}}
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": spec,
            "status": {"phase": phase}}


def pvc(size: str = "1Gi", *, modes: tuple[str, ...] = ("ReadWriteOnce",), cls: str = "",
        selector: dict[str, Any] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"accessModes": list(modes), "storageClassName": cls,
                            "resources": {"requests": {"storage": size}}}
    if selector:
        spec["selector"] = selector
    return {"metadata": {"name": "data", "namespace": "ns", "uid": "u1"}, "spec": spec,
            "status": {"phase": "Pending"}}


def name_of(volume: dict[str, Any] | None) -> str:
    assert volume is not None
    return volume["metadata"]["name"]


def causes(check: Any, obj: dict[str, Any], old: dict[str, Any] | None = None) -> list[Any]:
    errs = ErrorList()
    check(errs, obj, old)
    return errs.causes


def test_the_smallest_fitting_available_volume_wins() -> None:
    vols = [pv("big", "10Gi"), pv("small", "2Gi"), pv("tiny", "500Mi"),
            pv("bound", "1Gi", phase="Bound", claim={"name": "x", "namespace": "ns"}),
            pv("rox", "1Gi", modes=("ReadOnlyMany",)), pv("fast", "1Gi", cls="fast")]
    assert name_of(storage.find_matching_volume(pvc(), vols)) == "small"
    assert name_of(storage.find_matching_volume(pvc(cls="fast"), vols)) == "fast"
    assert storage.find_matching_volume(pvc("20Gi"), vols) is None


def test_selector_prebinding_and_node_affinity() -> None:
    vols = [pv("a", "1Gi", labels={"tier": "gold"}), pv("b", "1Gi")]
    chosen = storage.find_matching_volume(
        pvc(selector={"matchLabels": {"tier": "gold"}}), vols)
    assert name_of(chosen) == "a"
    prebound = pv("c", "5Gi", phase="Pending", claim={"name": "data", "namespace": "ns"})
    assert storage.find_matching_volume(pvc(), [*vols, prebound]) is prebound
    node = {"metadata": {"name": "n2", "labels": {"kubernetes.io/hostname": "n2"}}}
    local = [pv("on1", "1Gi", host="n1"), pv("on2", "3Gi", host="n2")]
    assert name_of(storage.find_matching_volume(pvc(), local, node)) == "on2"


def test_pv_validation_as_kube() -> None:
    bad = {"metadata": {"name": "x"}, "spec": {}}
    assert causes(storage.validate_pv, bad) == [
        ("spec.accessModes", "FieldValueRequired",
         "Required value: must specify at least 1 access mode"),
        ("spec.capacity", "FieldValueRequired", "Required value"),
        ("spec.capacity", "FieldValueNotSupported",
         'Unsupported value: map[string]string{}: supported values: "storage"'),
        ("spec", "FieldValueRequired", "Required value: must specify a volume type")]
    local = pv("l", "1Gi")
    local["spec"]["local"] = local["spec"].pop("hostPath")
    assert causes(storage.validate_pv, local) == [
        ("spec.nodeAffinity", "FieldValueRequired",
         "Required value: Local volume requires node affinity")]


def test_pvc_validation_and_immutability() -> None:
    claim = pvc()
    claim["spec"] = {"resources": {}}
    assert [c[0] for c in causes(storage.validate_pvc, claim)] == [
        "spec.accessModes", "spec.resources[storage]"]
    old = pvc()
    new = pvc()
    new["spec"]["volumeName"] = "pv1"  # set once by the binder
    assert causes(storage.validate_pvc, new, old) == []
    new["spec"]["accessModes"] = ["ReadWriteMany"]
    assert causes(storage.validate_pvc, new, old)[0][:2] == ("spec", "FieldValueForbidden")
    bound = pvc()
    bound["status"]["phase"] = "Bound"
    grown = pvc("2Gi")
    assert causes(storage.validate_pvc, grown, bound) == []
    shrunk = pvc("500Mi")
    assert causes(storage.validate_pvc, shrunk, bound)[0][0] == \
        "spec.resources.requests.storage"
    assert causes(storage.validate_pvc, grown, pvc())[0][0] == "spec"  # unbound: no resize


def test_storage_class_validation_and_defaults() -> None:
    sc: dict[str, Any] = {"metadata": {"name": "s"}, "provisioner": "a"}
    storage.storage_class_defaults(sc)
    assert (sc["reclaimPolicy"], sc["volumeBindingMode"]) == ("Delete", "Immediate")
    assert causes(storage.validate_storage_class, sc) == []
    changed = {**sc, "provisioner": "b", "parameters": {"x": "y"}}
    assert [c[0] for c in causes(storage.validate_storage_class, changed, sc)] == [
        "parameters", "provisioner"]
    assert storage.access_modes_text(["ReadWriteMany", "ReadWriteOnce"]) == "RWO,RWX"
