"""A DaemonSet's ControllerRevisions: what a revision holds and which one is current.

As Kubernetes' daemon controller (and `kubectl rollout history|undo`), a revision's
`data` is the strategic merge patch that puts the template back:
``{"spec": {"template": {..., "$patch": "replace"}}}``, with the template written
as Go's encoding/json writes it (keys sorted, `metadata.creationTimestamp: null`,
`resources: {}`), because kubectl compares those bytes with its own rendering of
the DaemonSet before an undo. Its name is ``<ds>-<hash>`` where the hash is the
`controller-revision-hash` label of the revision and of the pods made from it.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson

from kybernetes.api.meta import owner_reference
from kybernetes.controllers.rollout import semantic, template_hash

Obj = dict[str, Any]
HASH_LABEL = "controller-revision-hash"
GENERATION_LABEL = "pod-template-generation"
TEMPLATE_GENERATION = "deprecated.daemonset.template.generation"


def _go_like_template(template: Obj) -> Obj:
    t = copy.deepcopy(template)
    t.setdefault("metadata", {}).setdefault("creationTimestamp", None)
    spec = t.setdefault("spec", {})
    for key in ("containers", "initContainers"):
        for container in spec.get(key) or ():
            if isinstance(container, dict):
                container.setdefault("resources", {})
    return t


def revision_data(ds: Obj) -> Obj:
    """The patch a revision of `ds` stores (keys in Go's order)."""
    template = _go_like_template((ds.get("spec") or {}).get("template") or {})
    template["$patch"] = "replace"
    data = {"spec": {"template": template}}
    return dict(orjson.loads(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)))


def matches(ds: Obj, revision: Obj) -> bool:
    """Whether `revision` holds the DaemonSet's current template."""
    return bool(semantic(revision.get("data")) == semantic(revision_data(ds)))


def revision_hash(ds: Obj) -> str:
    status = ds.get("status") or {}
    return template_hash((ds.get("spec") or {}).get("template") or {},
                         status.get("collisionCount"))


def new_revision(ds: Obj, number: int) -> Obj:
    """A ControllerRevision of the DaemonSet's template with revision `number`."""
    meta = ds.get("metadata") or {}
    template_labels = (((ds.get("spec") or {}).get("template") or {}).get("metadata")
                       or {}).get("labels") or {}
    digest = revision_hash(ds)
    revision_meta: Obj = {"name": f"{meta.get('name')}-{digest}",
                          "namespace": meta.get("namespace"),
                          "labels": {**template_labels, HASH_LABEL: digest},
                          "ownerReferences": [owner_reference(ds)]}
    if meta.get("annotations"):
        revision_meta["annotations"] = dict(meta["annotations"])
    return {"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": revision_meta,
            "data": revision_data(ds), "revision": number}


def template_generation(ds: Obj) -> str | None:
    """The DaemonSet's template generation (its annotation), None when absent."""
    value = ((ds.get("metadata") or {}).get("annotations") or {}).get(TEMPLATE_GENERATION)
    return str(value) if value is not None else None


def is_pod_updated(pod: Obj, digest: str, generation: str | None) -> bool:
    """IsPodUpdated: the pod carries the current hash or the current template generation."""
    pod_labels = (pod.get("metadata") or {}).get("labels") or {}
    return (bool(digest) and pod_labels.get(HASH_LABEL) == digest) or \
        (generation is not None and pod_labels.get(GENERATION_LABEL) == generation)
