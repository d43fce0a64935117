"""PersistentVolumes, claims and StorageClasses: kube's defaults, validation and the
matching rules the binder uses (pure functions, shared by the API server, the
controller manager, the scheduler and the kubelet)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from kybernetes.api.field_errors import ErrorList, as_dict, as_list
from kybernetes.api.node_affinity import fits_node_affinity
from kybernetes.api.quantity import parse_quantity

Obj = dict[str, Any]

ACCESS_MODES = ("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod")
_SHORT_MODES = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX",
                "ReadWriteOncePod": "RWOP"}
PV_RECLAIM_POLICIES = ("Delete", "Recycle", "Retain")
SC_RECLAIM_POLICIES = ("Delete", "Retain")
BINDING_MODES = ("Immediate", "WaitForFirstConsumer")
VOLUME_MODES = ("Block", "Filesystem")
# The volume sources a PersistentVolume may name (one exactly).
PV_SOURCES = ("gcePersistentDisk", "awsElasticBlockStore", "hostPath", "glusterfs", "nfs",
              "rbd", "iscsi", "cinder", "cephfs", "fc", "flocker", "flexVolume", "azureFile",
              "vsphereVolume", "quobyte", "azureDisk", "photonPersistentDisk",
              "portworxVolume", "scaleIO", "local", "storageos", "csi")

DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
BETA_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class"
SELECTED_NODE_ANNOTATION = "volume.kubernetes.io/selected-node"
# storage object in-use protection: held by a pod (claim) or by a claim (volume)
PVC_PROTECTION_FINALIZER = "kubernetes.io/pvc-protection"
PV_PROTECTION_FINALIZER = "kubernetes.io/pv-protection"
BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner"
BETA_STORAGE_PROVISIONER = "volume.beta.kubernetes.io/storage-provisioner"


def access_modes_text(modes: Any) -> str:
    """GetAccessModesAsString: RWO,ROX,RWX,RWOP in that order, each once."""
    present = {str(m) for m in as_list(modes)}
    return ",".join(_SHORT_MODES[m] for m in ACCESS_MODES if m in present)


def storage_of(resources: Any) -> Fraction | None:
    """The `storage` quantity of a capacity or requests map, None when absent or bad."""
    raw = as_dict(resources).get("storage")
    if raw is None:
        return None
    try:
        return parse_quantity(raw)
    except (ValueError, TypeError):
        return None


def pv_class(pv: Obj) -> str:
    """GetPersistentVolumeClass: the beta annotation wins over spec.storageClassName."""
    ann = as_dict(as_dict(pv.get("metadata")).get("annotations"))
    if BETA_CLASS_ANNOTATION in ann:
        return str(ann[BETA_CLASS_ANNOTATION])
    return str(as_dict(pv.get("spec")).get("storageClassName") or "")


def claim_class(pvc: Obj) -> str:
    """GetPersistentVolumeClaimClass: as pv_class."""
    return pv_class(pvc)


def is_default_class(sc: Obj) -> bool:
    ann = as_dict(as_dict(sc.get("metadata")).get("annotations"))
    return str(ann.get(DEFAULT_CLASS_ANNOTATION, "")) == "true"


# --- defaults ------------------------------------------------------------------

def pv_defaults(pv: Obj) -> None:
    """SetDefaults_PersistentVolume: Retain, Filesystem, phase Pending; hostPath type ""."""
    spec = pv.setdefault("spec", {})
    if isinstance(spec, dict):
        spec.setdefault("persistentVolumeReclaimPolicy", "Retain")
        spec.setdefault("volumeMode", "Filesystem")
        host = spec.get("hostPath")
        if isinstance(host, dict):
            host.setdefault("type", "")
    status = pv.setdefault("status", {})
    if isinstance(status, dict):
        status.setdefault("phase", "Pending")


def pvc_defaults(pvc: Obj) -> None:
    """SetDefaults_PersistentVolumeClaim: Filesystem, phase Pending."""
    spec = pvc.setdefault("spec", {})
    if isinstance(spec, dict):
        spec.setdefault("volumeMode", "Filesystem")
    status = pvc.setdefault("status", {})
    if isinstance(status, dict):
        status.setdefault("phase", "Pending")


def storage_class_defaults(sc: Obj) -> None:
    """SetDefaults_StorageClass: reclaimPolicy Delete, volumeBindingMode Immediate."""
    sc.setdefault("reclaimPolicy", "Delete")
    sc.setdefault("volumeBindingMode", "Immediate")


# --- validation ----------------------------------------------------------------

def _access_modes(errs: ErrorList, modes: Any, path: str, empty: str) -> None:
    modes = as_list(modes)
    if not modes:
        errs.required(path, empty)
    for mode in modes:
        if mode not in ACCESS_MODES:
            errs.not_supported(path, mode, ACCESS_MODES)
    if "ReadWriteOncePod" in modes and len(modes) > 1:
        errs.forbidden(path, "may not use ReadWriteOncePod with other access modes")


def _positive_storage(errs: ErrorList, raw: Any, path: str) -> None:
    try:
        value = parse_quantity(raw)
    except (ValueError, TypeError):
        errs.invalid(path, raw, "must be a valid quantity")
        return
    if value <= 0:
        errs.invalid(path, raw, "must be greater than zero")


def validate_pv(errs: ErrorList, pv: Obj, old: Obj | None) -> None:
    """ValidatePersistentVolume(Spec), and the update rules kube keeps."""
    spec = as_dict(pv.get("spec"))
    _access_modes(errs, spec.get("accessModes"), "spec.accessModes",
                  "must specify at least 1 access mode")
    capacity = as_dict(spec.get("capacity"))
    if not capacity:
        errs.required("spec.capacity")
    if "storage" not in capacity or len(capacity) > 1:
        errs.not_supported("spec.capacity", capacity, ("storage",))
    if "storage" in capacity:
        _positive_storage(errs, capacity["storage"], "spec.capacity[storage]")
    policy = spec.get("persistentVolumeReclaimPolicy")
    if policy and policy not in PV_RECLAIM_POLICIES:
        errs.not_supported("spec.persistentVolumeReclaimPolicy", policy, PV_RECLAIM_POLICIES)
    mode = spec.get("volumeMode")
    if mode and mode not in VOLUME_MODES:
        errs.not_supported("spec.volumeMode", mode, VOLUME_MODES)
    sources = [s for s in PV_SOURCES if s in spec and spec[s] is not None]
    if not sources:
        errs.required("spec", "must specify a volume type")
    elif len(sources) > 1:
        errs.forbidden(f"spec.{sources[1]}", "may not specify more than 1 volume type")
    for source in ("hostPath", "local"):
        if source in sources and not as_dict(spec.get(source)).get("path"):
            errs.required(f"spec.{source}.path")
    if "local" in sources and not spec.get("nodeAffinity"):
        errs.required("spec.nodeAffinity", "Local volume requires node affinity")
    if old is not None:
        old_spec = as_dict(old.get("spec"))
        for source in PV_SOURCES:
            if spec.get(source) != old_spec.get(source):
                errs.forbidden("spec.persistentvolumesource",
                               "spec.persistentvolumesource is forbidden once the volume "
                               "has been created")
                break
        if old_spec.get("volumeMode") != spec.get("volumeMode"):
            errs.immutable("spec.volumeMode", spec.get("volumeMode"), old_spec.get("volumeMode"))
        if old_spec.get("nodeAffinity") and old_spec.get("nodeAffinity") != \
                spec.get("nodeAffinity"):
            errs.forbidden("spec.nodeAffinity", "field is immutable")


def validate_pvc(errs: ErrorList, pvc: Obj, old: Obj | None) -> None:
    """ValidatePersistentVolumeClaim(Spec) and ValidatePersistentVolumeClaimUpdate."""
    spec = as_dict(pvc.get("spec"))
    _access_modes(errs, spec.get("accessModes"), "spec.accessModes",
                  "at least 1 access mode is required")
    requests = as_dict(as_dict(spec.get("resources")).get("requests"))
    if "storage" not in requests:
        errs.required("spec.resources[storage]")
    else:
        _positive_storage(errs, requests["storage"], "spec.resources[storage]")
    mode = spec.get("volumeMode")
    if mode and mode not in VOLUME_MODES:
        errs.not_supported("spec.volumeMode", mode, VOLUME_MODES)
    if old is not None:
        _validate_pvc_update(errs, pvc, old)


def _validate_pvc_update(errs: ErrorList, pvc: Obj, old: Obj) -> None:
    """Spec immutable except requests growth (bound claims) and a volumeName once set."""
    new_spec, old_spec = dict(as_dict(pvc.get("spec"))), dict(as_dict(old.get("spec")))
    if not old_spec.get("volumeName"):
        new_spec.pop("volumeName", None)
        old_spec.pop("volumeName", None)
    if not old_spec.get("storageClassName") and BETA_CLASS_ANNOTATION not in as_dict(
            as_dict(old.get("metadata")).get("annotations")):
        new_spec.pop("storageClassName", None)
        old_spec.pop("storageClassName", None)
    bound = as_dict(old.get("status")).get("phase") == "Bound"
    new_res, old_res = as_dict(new_spec.get("resources")), as_dict(old_spec.get("resources"))
    if bound:
        new_size, old_size = storage_of(new_res.get("requests")), storage_of(
            old_res.get("requests"))
        if new_size is not None and old_size is not None and new_size < old_size:
            errs.forbidden("spec.resources.requests.storage",
                           "field can not be less than previous value")
        new_spec["resources"] = {**new_res, "requests": old_res.get("requests")}
    new_spec.pop("volumeAttributesClassName", None)
    old_spec.pop("volumeAttributesClassName", None)
    if new_spec != old_spec:
        changed = sorted(k for k in set(new_spec) | set(old_spec)
                         if new_spec.get(k) != old_spec.get(k))
        errs.forbidden("spec", "spec is immutable after creation except resources.requests "
                       "and volumeAttributesClassName for bound claims\n  changed: "
                       + ", ".join(changed))


def validate_storage_class(errs: ErrorList, sc: Obj, old: Obj | None) -> None:
    """ValidateStorageClass and ValidateStorageClassUpdate."""
    provisioner = sc.get("provisioner")
    if not provisioner:
        errs.required("provisioner")
    policy = sc.get("reclaimPolicy")
    if policy and policy not in SC_RECLAIM_POLICIES:
        errs.not_supported("reclaimPolicy", policy, SC_RECLAIM_POLICIES)
    mode = sc.get("volumeBindingMode")
    if mode is None:
        errs.required("volumeBindingMode")
    elif mode not in BINDING_MODES:
        errs.not_supported("volumeBindingMode", mode, BINDING_MODES)
    if old is None:
        return
    for name in ("parameters", "provisioner", "reclaimPolicy"):
        if sc.get(name) != old.get(name):
            errs.forbidden(name, f"updates to {name} are forbidden.")
    if sc.get("volumeBindingMode") != old.get("volumeBindingMode"):
        errs.immutable("volumeBindingMode", sc.get("volumeBindingMode"),
                       old.get("volumeBindingMode"))


# --- matching (pkg/controller/volume/persistentvolume/util FindMatchingVolume) ------

def _claim_ref_is(pv: Obj, pvc: Obj) -> bool:
    """The PV is pre-bound (or bound) to this claim: same namespace/name, uid unset or equal."""
    ref = as_dict(as_dict(pv.get("spec")).get("claimRef"))
    meta = as_dict(pvc.get("metadata"))
    if not ref or ref.get("name") != meta.get("name") or \
            ref.get("namespace") != meta.get("namespace"):
        return False
    return not ref.get("uid") or ref.get("uid") == meta.get("uid")


def pv_fits_node(pv: Obj, node: Obj) -> bool:
    """A PV's required nodeAffinity (none: every node) against a Node object."""
    required = as_dict(as_dict(as_dict(pv.get("spec")).get("nodeAffinity")).get("required"))
    if not required:
        return True
    return fits_node_affinity({"affinity": {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": required}}}, node)


def find_matching_volume(pvc: Obj, pvs: list[Obj], node: Obj | None = None) -> Obj | None:
    """The PV for `pvc`: one pre-bound to it, else the smallest Available, unclaimed PV
    of its class, volume mode, access modes and selector, big enough (and, with `node`,
    reachable from that node)."""
    from kybernetes.api import labels

    spec = as_dict(pvc.get("spec"))
    wanted = storage_of(as_dict(spec.get("resources")).get("requests")) or Fraction(0)
    modes = {str(m) for m in as_list(spec.get("accessModes"))}
    selector_obj = spec.get("selector")
    selector = labels.from_label_selector(selector_obj) if selector_obj else None
    cls = claim_class(pvc)
    mode = spec.get("volumeMode") or "Filesystem"
    best: tuple[Fraction, Obj] | None = None
    for pv in pvs:
        pv_spec = as_dict(pv.get("spec"))
        if (pv_spec.get("volumeMode") or "Filesystem") != mode:
            continue
        if as_dict(pv.get("metadata")).get("deletionTimestamp"):
            continue
        size = storage_of(pv_spec.get("capacity"))
        if size is None:
            continue
        if _claim_ref_is(pv, pvc):
            if size >= wanted and (node is None or pv_fits_node(pv, node)):
                return pv
            continue
        if node is not None and not pv_fits_node(pv, node):
            continue
        if as_dict(pv.get("status")).get("phase") != "Available" or pv_spec.get("claimRef"):
            continue
        pv_labels = {str(k): str(v) for k, v in as_dict(as_dict(
            pv.get("metadata")).get("labels")).items()}
        if selector is not None and not selector.matches(pv_labels):
            continue
        if pv_class(pv) != cls:
            continue
        if not modes <= {str(m) for m in as_list(pv_spec.get("accessModes"))}:
            continue
        if size >= wanted and (best is None or size < best[0]):
            best = (size, pv)
    return best[1] if best else None
