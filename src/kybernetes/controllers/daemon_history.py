"""What only a DaemonSet's history adds to :mod:`controller_history`: the template
generation (the `deprecated.daemonset.template.generation` annotation, labelled on
pods as `pod-template-generation`) and whether a pod is of the current revision."""

from __future__ import annotations

from typing import Any

from kybernetes.controllers.controller_history import HASH_LABEL

Obj = dict[str, Any]
GENERATION_LABEL = "pod-template-generation"
TEMPLATE_GENERATION = "deprecated.daemonset.template.generation"


def template_generation(ds: Obj) -> str | None:
    """The DaemonSet's template generation (its annotation), None when absent."""
    value = ((ds.get("metadata") or {}).get("annotations") or {}).get(TEMPLATE_GENERATION)
    return str(value) if value is not None else None


def is_pod_updated(pod: Obj, digest: str, generation: str | None) -> bool:
    """IsPodUpdated: the pod carries the current hash or the current template generation."""
    pod_labels = (pod.get("metadata") or {}).get("labels") or {}
    return (bool(digest) and pod_labels.get(HASH_LABEL) == digest) or \
        (generation is not None and pod_labels.get(GENERATION_LABEL) == generation)
