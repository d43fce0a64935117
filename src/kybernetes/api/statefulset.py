"""StatefulSets as the API sees them: defaults and validation (kube's
SetDefaults_StatefulSet and ValidateStatefulSet{,Update}).

As in Kubernetes, the pod template's spec is not validated with the set (its
volume mounts may name volumeClaimTemplates, which are not pod volumes until the
controller adds them); a bad template shows as FailedCreate events on the set.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api import storage
from kybernetes.api.defaults import template_defaults
from kybernetes.api.errors import BadRequest
from kybernetes.api.field_errors import ErrorList, Obj, as_dict, as_list, validate_labels
from kybernetes.api.labels import from_label_selector
from kybernetes.api.pod_validation import validate_label_selector

POLICIES = ("OrderedReady", "Parallel")
STRATEGIES = ("RollingUpdate", "OnDelete")
RETENTION = ("Retain", "Delete")
# Spec fields an update may change; any other change is refused as a whole.
MUTABLE = ("replicas", "ordinals", "template", "updateStrategy", "revisionHistoryLimit",
           "persistentVolumeClaimRetentionPolicy", "minReadySeconds")


def _dict(parent: Obj, key: str) -> Obj:
    if not isinstance(parent.get(key), dict):
        parent[key] = {}
    value: Obj = parent[key]
    return value


def stateful_set_defaults(sts: Obj) -> None:
    """OrderedReady, RollingUpdate with partition 0, claims retained, 1 replica, 10
    revisions kept; claim templates get a PVC's defaults (Filesystem, phase Pending)."""
    spec = _dict(sts, "spec")
    if not spec.get("podManagementPolicy"):
        spec["podManagementPolicy"] = "OrderedReady"
    strategy = _dict(spec, "updateStrategy")
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
        strategy.setdefault("rollingUpdate", {})
    if strategy["type"] == "RollingUpdate" and isinstance(strategy.get("rollingUpdate"), dict):
        strategy["rollingUpdate"].setdefault("partition", 0)
    retention = _dict(spec, "persistentVolumeClaimRetentionPolicy")
    for when in ("whenDeleted", "whenScaled"):
        if not retention.get(when):
            retention[when] = "Retain"
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    template_defaults(spec)
    for claim in as_list(spec.get("volumeClaimTemplates")):
        if isinstance(claim, dict):
            storage.pvc_defaults(claim)


def _validate_strategy(errs: ErrorList, strategy: Obj) -> None:
    path = "spec.updateStrategy"
    kind = strategy.get("type")
    rolling = strategy.get("rollingUpdate")
    if not kind:
        errs.required(path)
    elif kind == "OnDelete":
        if rolling is not None:
            errs.invalid(f"{path}.rollingUpdate", rolling,
                         "only allowed for updateStrategy 'RollingUpdate'")
    elif kind == "RollingUpdate":
        if isinstance(rolling, dict):
            errs.non_negative(f"{path}.rollingUpdate.partition", rolling.get("partition"))
    else:
        errs.invalid(path, strategy, "must be 'RollingUpdate' or 'OnDelete'")


def _validate_retention(errs: ErrorList, policy: Obj) -> None:
    path = "spec.persistentVolumeClaimRetentionPolicy"
    for when in ("whenDeleted", "whenScaled"):
        value = policy.get(when)
        if value not in RETENTION:
            errs.not_supported(f"{path}.{when}", value, RETENTION)


def _validate_template(errs: ErrorList, spec: Obj, selector: Any) -> None:
    template = spec.get("template")
    if not isinstance(template, dict):
        errs.required("spec.template")
        return
    labels = as_dict(as_dict(template.get("metadata")).get("labels"))
    try:
        matches = from_label_selector(selector).matches(labels) if selector else True
    except BadRequest:  # reported with the selector
        matches = True
    if not matches:
        errs.invalid("spec.template.metadata.labels", labels,
                     "`selector` does not match template `labels`")
    validate_labels(errs, labels, "spec.template.labels")
    pod_spec = as_dict(template.get("spec"))
    policy = pod_spec.get("restartPolicy")
    if policy != "Always":
        errs.not_supported("spec.template.spec.restartPolicy", policy, ("Always",))
    if pod_spec.get("activeDeadlineSeconds") is not None:
        errs.forbidden("spec.template.spec.activeDeadlineSeconds",
                       "activeDeadlineSeconds in StatefulSet is not Supported")


def validate_stateful_set(errs: ErrorList, sts: Obj, old: Obj | None) -> None:
    spec = as_dict(sts.get("spec"))
    policy = spec.get("podManagementPolicy")
    if not policy:
        errs.required("spec.podManagementPolicy")
    elif policy not in POLICIES:
        errs.invalid("spec.podManagementPolicy", policy, "must be 'OrderedReady' or 'Parallel'")
    _validate_strategy(errs, as_dict(spec.get("updateStrategy")))
    _validate_retention(errs, as_dict(spec.get("persistentVolumeClaimRetentionPolicy")))
    for key in ("replicas", "minReadySeconds", "revisionHistoryLimit"):
        errs.non_negative(f"spec.{key}", spec.get(key))
    errs.non_negative("spec.ordinals.start", as_dict(spec.get("ordinals")).get("start"))
    selector = spec.get("selector")
    valid_selector = validate_label_selector(
        errs, selector, "spec.selector", "statefulset", "empty selector is not valid for {kind}.")
    _validate_template(errs, spec, selector if valid_selector else None)
    if old is not None:
        old_spec = as_dict(old.get("spec"))
        if {k: v for k, v in spec.items() if k not in MUTABLE} != \
                {k: v for k, v in old_spec.items() if k not in MUTABLE}:
            errs.forbidden("spec", "updates to statefulset spec for fields other than "
                           "'replicas', 'ordinals', 'template', 'updateStrategy', "
                           "'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and "
                           "'minReadySeconds' are forbidden")
