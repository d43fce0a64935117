"""ControllerRevisions of a workload's pod template: what a revision holds, its
name and hash, and which one is current. Shared by DaemonSets and StatefulSets.

As Kubernetes' daemon and statefulset controllers (and `kubectl rollout
history|undo`), a revision's `data` is the strategic merge patch that puts the
template back: ``{"spec": {"template": {..., "$patch": "replace"}}}``, with the
template written as Go's encoding/json writes it (keys sorted,
`metadata.creationTimestamp: null`, `resources: {}`), because kubectl compares
those bytes with its own rendering of the workload before an undo. Its name is
``<owner>-<hash>``.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson

from kybernetes.api.meta import owner_reference
from kybernetes.controllers.rollout import semantic, template_hash

Obj = dict[str, Any]
# The label a DaemonSet's revisions and pods carry (the hash); a StatefulSet's pods
# carry it too, with the revision's name as value.
HASH_LABEL = "controller-revision-hash"
# The label history.NewControllerRevision gives a StatefulSet's revisions.
REVISION_HASH_LABEL = "controller.kubernetes.io/hash"


def _go_like_template(template: Obj) -> Obj:
    t = copy.deepcopy(template)
    t.setdefault("metadata", {}).setdefault("creationTimestamp", None)
    spec = t.setdefault("spec", {})
    for key in ("containers", "initContainers"):
        for container in spec.get(key) or ():
            if isinstance(container, dict):
                container.setdefault("resources", {})
    return t


def _template(owner: Obj) -> Obj:
    return (owner.get("spec") or {}).get("template") or {}


def revision_data(owner: Obj) -> Obj:
    """The patch a revision of `owner` stores (keys in Go's order)."""
    template = _go_like_template(_template(owner))
    template["$patch"] = "replace"
    data = {"spec": {"template": template}}
    return dict(orjson.loads(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)))


def matches(owner: Obj, revision: Obj) -> bool:
    """Whether `revision` holds the owner's current template."""
    return bool(semantic(revision.get("data")) == semantic(revision_data(owner)))


def revision_hash(owner: Obj) -> str:
    status = owner.get("status") or {}
    return template_hash(_template(owner), status.get("collisionCount"))


def new_revision(owner: Obj, number: int, hash_label: str = HASH_LABEL) -> Obj:
    """A ControllerRevision of the owner's template with revision `number`."""
    meta = owner.get("metadata") or {}
    template_labels = (_template(owner).get("metadata") or {}).get("labels") or {}
    digest = revision_hash(owner)
    revision_meta: Obj = {"name": f"{meta.get('name')}-{digest}",
                          "namespace": meta.get("namespace"),
                          "labels": {**template_labels, hash_label: digest},
                          "ownerReferences": [owner_reference(owner)]}
    if meta.get("annotations"):
        revision_meta["annotations"] = dict(meta["annotations"])
    return {"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": revision_meta,
            "data": revision_data(owner), "revision": number}


def applied(owner: Obj, revision: Obj) -> Obj:
    """ApplyRevision: a copy of `owner` with the template `revision` stores."""
    template = copy.deepcopy(((revision.get("data") or {}).get("spec") or {}).get("template")
                             or {})
    template.pop("$patch", None)
    out = copy.deepcopy(owner)
    out.setdefault("spec", {})["template"] = template
    return out
