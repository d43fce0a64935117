"""Does a node satisfy a pod's nodeSelector and required node affinity?

Kubernetes' GetRequiredNodeAffinity(pod).Match: every nodeSelector label, and any one
of the required nodeSelectorTerms (its matchExpressions on the node's labels and its
matchFields on `metadata.name`). Shared by the DaemonSet controller and the volume
binder (a local PersistentVolume's nodeAffinity).
"""

from __future__ import annotations

from typing import Any

from kybernetes.api import labels

Obj = dict[str, Any]

_OPERATORS = {"In": labels.IN, "NotIn": labels.NOT_IN, "Exists": labels.EXISTS,
              "DoesNotExist": labels.DOES_NOT_EXIST, "Gt": labels.GT, "Lt": labels.LT}


def _d(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _l(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _requirement_matches(expr: Obj, subject: dict[str, str]) -> bool:
    op = _OPERATORS.get(str(expr.get("operator", "")))
    if op is None:
        return False
    values = tuple(str(v) for v in _l(expr.get("values")))
    return labels.Requirement(str(expr.get("key", "")), op, values).matches(subject)


def _term_matches(term: Obj, node_labels: dict[str, str], node_name: str) -> bool:
    exprs, fields = _l(term.get("matchExpressions")), _l(term.get("matchFields"))
    if not exprs and not fields:
        return False
    if not all(_requirement_matches(_d(e), node_labels) for e in exprs):
        return False
    return all(_d(f).get("key") == "metadata.name"
               and _requirement_matches(_d(f), {"metadata.name": node_name}) for f in fields)


def fits_node_affinity(spec: Obj, node: Obj) -> bool:
    """nodeSelector and required node affinity (GetRequiredNodeAffinity(pod).Match)."""
    metadata = _d(node.get("metadata"))
    node_labels = {str(k): str(v) for k, v in _d(metadata.get("labels")).items()}
    for key, value in _d(spec.get("nodeSelector")).items():
        if node_labels.get(key) != value:
            return False
    required = _d(spec.get("affinity")).get("nodeAffinity")
    required = _d(required).get("requiredDuringSchedulingIgnoredDuringExecution")
    if required is None:
        return True
    name = str(metadata.get("name", ""))
    return any(_term_matches(_d(t), node_labels, name)
               for t in _l(_d(required).get("nodeSelectorTerms")))
