"""A StatefulSet's pods and claims by ordinal: names, identity, storage and the
claims' retention owners. Pure, as Kubernetes' stateful_set_utils.go.

Pod `<set>-<ordinal>` has hostname = its name, subdomain = the set's serviceName,
the labels `statefulset.kubernetes.io/pod-name` and `apps.kubernetes.io/pod-index`,
the set's revision name as `controller-revision-hash`, and for every
volumeClaimTemplate `t` a volume `t` on the claim `<t>-<set>-<ordinal>` (replacing
a template volume of that name). Claims carry the template's labels plus the
set's matchLabels.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from kybernetes.api.meta import owner_reference
from kybernetes.controllers.controller_history import HASH_LABEL

Obj = dict[str, Any]
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
_ORDINAL = re.compile(r"^(.*)-([0-9]+)$")


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def _spec(obj: Obj) -> Obj:
    return obj.get("spec") or {}


def start_ordinal(sts: Obj) -> int:
    return int((_spec(sts).get("ordinals") or {}).get("start") or 0)


def replicas(sts: Obj) -> int:
    value = _spec(sts).get("replicas")
    return 1 if value is None else int(value)


def pod_name(sts: Obj, ordinal: int) -> str:
    return f"{_meta(sts).get('name')}-{ordinal}"


def parent_and_ordinal(pod: Obj) -> tuple[str, int]:
    """getParentNameAndOrdinal: ("", -1) when the name is not `<parent>-<n>`."""
    match = _ORDINAL.match(_meta(pod).get("name") or "")
    return (match.group(1), int(match.group(2))) if match else ("", -1)


def ordinal(pod: Obj) -> int:
    return parent_and_ordinal(pod)[1]


def is_member(sts: Obj, pod: Obj) -> bool:
    """isMemberOf: the pod's name says it is one of the set's."""
    return parent_and_ordinal(pod)[0] == _meta(sts).get("name")


def in_range(sts: Obj, pod: Obj) -> bool:
    start = start_ordinal(sts)
    return start <= ordinal(pod) < start + replicas(sts)


def revision_of(pod: Obj) -> str:
    return (_meta(pod).get("labels") or {}).get(HASH_LABEL, "")


def claim_name(sts: Obj, template_name: str, ordinal: int) -> str:
    return f"{template_name}-{_meta(sts).get('name')}-{ordinal}"


def claims_for(sts: Obj, ordinal: int) -> list[tuple[str, Obj]]:
    """(template name, claim) for every volumeClaimTemplate, in template order."""
    match_labels = (_spec(sts).get("selector") or {}).get("matchLabels") or {}
    out = []
    for template in _spec(sts).get("volumeClaimTemplates") or ():
        tmeta = _meta(template)
        name = tmeta.get("name") or ""
        claim_meta: Obj = {"name": claim_name(sts, name, ordinal),
                           "namespace": _meta(sts).get("namespace"),
                           "labels": {**(tmeta.get("labels") or {}), **match_labels}}
        if tmeta.get("annotations"):
            claim_meta["annotations"] = dict(tmeta["annotations"])
        out.append((name, {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                           "metadata": claim_meta,
                           "spec": copy.deepcopy(_spec(template))}))
    return out


def _identity_labels(sts: Obj, ordinal: int) -> dict[str, str]:
    return {POD_NAME_LABEL: pod_name(sts, ordinal), POD_INDEX_LABEL: str(ordinal)}


def identity_matches(sts: Obj, pod: Obj) -> bool:
    """identityMatches: name, namespace and identity labels are the set's for its ordinal."""
    parent, n = parent_and_ordinal(pod)
    labels = _meta(pod).get("labels") or {}
    return (n >= 0 and parent == _meta(sts).get("name")
            and _meta(pod).get("namespace") == _meta(sts).get("namespace")
            and all(labels.get(k) == v for k, v in _identity_labels(sts, n).items()))


def storage_matches(sts: Obj, pod: Obj) -> bool:
    """storageMatches: every claim template is a volume on the pod's own claim."""
    volumes = {v.get("name"): v for v in _spec(pod).get("volumes") or ()}
    for template, claim in claims_for(sts, ordinal(pod)):
        source = (volumes.get(template) or {}).get("persistentVolumeClaim") or {}
        if source.get("claimName") != _meta(claim)["name"]:
            return False
    return True


def with_storage(sts: Obj, spec: Obj, ordinal: int) -> list[Obj]:
    """The pod's volumes: one per claim template, then the template's others."""
    claims = claims_for(sts, ordinal)
    names = {template for template, _ in claims}
    return [{"name": template, "persistentVolumeClaim": {"claimName": _meta(claim)["name"]}}
            for template, claim in claims] + \
        [v for v in spec.get("volumes") or () if v.get("name") not in names]


def new_pod(sts: Obj, ordinal: int, revision: str) -> Obj:
    """newStatefulSetPod from `sts`'s template (the set as of `revision`)."""
    template = copy.deepcopy(_spec(sts).get("template") or {})
    tmeta = template.get("metadata") or {}
    name = pod_name(sts, ordinal)
    labels = {**(tmeta.get("labels") or {}), **_identity_labels(sts, ordinal),
              HASH_LABEL: revision}
    pod_meta: Obj = {"name": name, "namespace": _meta(sts).get("namespace"), "labels": labels,
                     "ownerReferences": [owner_reference(sts)]}
    for field in ("annotations", "finalizers"):
        if tmeta.get(field):
            pod_meta[field] = tmeta[field]
    spec = template.get("spec") or {}
    spec["volumes"] = with_storage(sts, spec, ordinal)
    if not spec["volumes"]:
        del spec["volumes"]
    spec["hostname"] = name
    if _spec(sts).get("serviceName"):
        spec["subdomain"] = _spec(sts)["serviceName"]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": spec}


def identity_patch(sts: Obj, pod: Obj) -> Obj:
    """The labels that give a pod back its identity (updateIdentity; the pod spec,
    and so its storage, cannot change on a live pod)."""
    return {"metadata": {"labels": _identity_labels(sts, ordinal(pod)),
                         "resourceVersion": _meta(pod).get("resourceVersion")}}


# -- claim retention ---------------------------------------------------------------------

def retention(sts: Obj) -> tuple[str, str]:
    """(whenDeleted, whenScaled) of persistentVolumeClaimRetentionPolicy."""
    policy = _spec(sts).get("persistentVolumeClaimRetentionPolicy") or {}
    return policy.get("whenDeleted") or "Retain", policy.get("whenScaled") or "Retain"


def claim_owner_refs(sts: Obj, pod: Obj, claim: Obj) -> list[Obj]:
    """The claim's ownerReferences under the set's retention policy
    (updateClaimOwnerRefForSetAndPod): owned by the set when it is deleted with
    Delete; owned by its pod when that pod is scaled away with Delete."""
    when_deleted, when_scaled = retention(sts)
    set_uid, pod_uid = _meta(sts).get("uid"), _meta(pod).get("uid")
    refs = [r for r in _meta(claim).get("ownerReferences") or ()
            if r.get("uid") not in (set_uid, pod_uid)]
    scaled_down = not in_range(sts, pod)
    if when_scaled == "Delete" and scaled_down:
        if pod_uid:
            refs.append(owner_reference(pod, controller=False, block_owner_deletion=False))
    elif when_deleted == "Delete":
        refs.append(owner_reference(sts))
    return refs


def claim_refs_match(sts: Obj, pod: Obj, claim: Obj) -> bool:
    def uids(refs: list[Obj]) -> set[Any]:
        return {r.get("uid") for r in refs
                if r.get("uid") in (_meta(sts).get("uid"), _meta(pod).get("uid"))}
    return uids(list(_meta(claim).get("ownerReferences") or [])) == \
        uids(claim_owner_refs(sts, pod, claim))
