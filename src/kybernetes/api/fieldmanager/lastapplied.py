"""Client-side apply's `last-applied-configuration` annotation, seen from server-side apply.

Two pieces of Kubernetes, both only for the field manager `kubectl`:

- lastAppliedManager: when `kubectl apply --server-side` conflicts, the fields of
  the annotation whose value still matches the live object count as the
  client-side applier's own, so conflicts on them alone are forced through (the
  clean upgrade from `kubectl apply`); other conflicts are reported without them.
- lastAppliedUpdater: after such an apply, an object that carries the annotation
  gets it rewritten from the applied config, so a later client-side apply agrees.
"""

from __future__ import annotations

from typing import Any

import orjson

from kybernetes.api.fieldmanager.fieldset import FieldSet
from kybernetes.api.fieldmanager.shape import Shape
from kybernetes.api.fieldmanager.walk import compare, value_set

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
UPGRADING_MANAGER = "kubectl"
TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024


def _annotation(obj: dict[str, Any] | None) -> str | None:
    annotations = ((obj or {}).get("metadata") or {}).get("annotations") or {}
    value = annotations.get(LAST_APPLIED)
    return value if isinstance(value, str) and value else None


def allowed_conflicts(
    live: dict[str, Any] | None, api_version: str, shape: Shape
) -> FieldSet | None:
    """The fields a client-side applier still holds (None if there is no usable annotation)."""
    text = _annotation(live)
    if text is None or live is None:
        return None
    try:
        last = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(last, dict) or last.get("apiVersion") != api_version:
        return None
    try:
        fields = FieldSet(value_set(last, shape))
        diff = compare(last, live, shape)
    except ValueError:
        return None
    for changed in (diff.modified, diff.added, diff.removed):
        fields = fields.difference(FieldSet(changed))
    return fields


def go_json(value: Any) -> str:
    """json.Encoder.Encode of an unstructured object: sorted keys, HTML escaped, newline."""
    text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029") + "\n"


def with_updated_annotation(merged: dict[str, Any], applied: dict[str, Any]) -> dict[str, Any]:
    """`merged` with the annotation rewritten from the applied config, if it has the annotation."""
    if _annotation(merged) is None:
        return merged
    config_meta = dict(applied.get("metadata") or {})
    if isinstance(config_meta.get("annotations"), dict):
        config_meta["annotations"] = {
            k: v for k, v in config_meta["annotations"].items() if k != LAST_APPLIED
        }
    config = {**applied, "metadata": config_meta} if "metadata" in applied else applied
    annotations = {**merged["metadata"]["annotations"], LAST_APPLIED: go_json(config)}
    if (
        sum(len(k.encode()) + len(str(v).encode()) for k, v in annotations.items())
        > TOTAL_ANNOTATION_SIZE_LIMIT
    ):
        del annotations[LAST_APPLIED]
    return {**merged, "metadata": {**merged["metadata"], "annotations": annotations}}
