"""PATCH bodies: JSON patch (RFC 6902), merge patch (RFC 7386), strategic merge patch.

Strategic merge patch follows apimachinery/pkg/util/strategicpatch (the server
side, `StrategicMergeMapPatch` with MergeParallelList and IgnoreUnmatchedNulls):

- maps merge key by key, `null` deletes, `$patch: replace|delete` on a map;
- a list field whose schema says `x-kubernetes-patch-strategy: merge` merges:
  lists of maps by `x-kubernetes-patch-merge-key` (an element with
  `$patch: delete` removes its match, `{"$patch": "replace"}` replaces the whole
  list), lists of scalars as a de-duplicated union; other lists are replaced;
- `$retainKeys` clears the original's keys it does not name;
- `$deleteFromPrimitiveList/<f>` removes scalars from list `f`;
- `$setElementOrder/<f>` fixes the order of the merged list `f` (patch items in
  that order, server-only items kept where they were).

The merge strategies come from the 1.33 schemas (api/schema.py), so no
per-kind code lives here. Everything works on copies: inputs are not mutated.
"""

from __future__ import annotations

from typing import Any

import orjson

from kybernetes.api import schema
from kybernetes.api.depth import check_depth
from kybernetes.api.errors import BadRequest, Invalid, UnsupportedMediaType

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, APPLY_PATCH, STRATEGIC_MERGE_PATCH)
MAX_JSON_PATCH_OPERATIONS = 10000

_DIRECTIVE = "$patch"
_RETAIN_KEYS = "$retainKeys"
_DELETE_PRIMITIVE = "$deleteFromPrimitiveList/"
_SET_ORDER = "$setElementOrder/"


class PatchError(Exception):
    """A strategic merge patch the server cannot apply (a client mistake)."""


def apply_patch(obj: dict[str, Any], patch_bytes: bytes, content_type: str,
                strategic_root: schema.Node | None) -> dict[str, Any]:
    """Apply a PATCH body of `content_type` to `obj`; returns a new object.

    `strategic_root` is the kind's schema for strategic merge patch; None (custom
    resources) refuses that patch type with 415, as Kubernetes does."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media not in (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH):
        raise UnsupportedMediaType(
            f"the body of the request was in an unknown format - accepted media types "
            f"include: {', '.join(PATCH_TYPES)}")
    try:
        body = orjson.loads(patch_bytes or b"null")
    except orjson.JSONDecodeError as e:
        raise BadRequest(f"error decoding patch: {e}") from None
    check_depth(body)
    if media == JSON_PATCH:
        return json_patch(obj, body)
    if not isinstance(body, dict):
        raise BadRequest(f"error decoding patch: the patch must be a JSON object, not "
                         f"{type(body).__name__}")
    if media == MERGE_PATCH:
        return merge_patch(obj, body)
    # The object's own kind first: a subresource body (a Scale) is not the resource's kind.
    root = schema.definition_for(str(obj.get("apiVersion", "")), str(obj.get("kind", ""))) \
        if isinstance(obj, dict) else None
    if root is None:
        root = strategic_root
    if root is None:
        raise UnsupportedMediaType(
            f"the body of the request was in an unknown format - accepted media types "
            f"include: {JSON_PATCH}, {MERGE_PATCH}, {APPLY_PATCH}")
    try:
        return strategic_merge_patch(obj, body, root)
    except PatchError as e:
        raise BadRequest(str(e)) from None


# --- RFC 7386 merge patch ---------------------------------------------------------------

def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return _copy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# --- RFC 6902 JSON patch ----------------------------------------------------------------

def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise BadRequest(f"invalid JSON pointer: {path!r}")
    if path == "":
        return []
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _index(container: list[Any], token: str, path: str, *, allow_end: bool) -> int:
    if token == "-" and allow_end:
        return len(container)
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
        raise _op_error(f"invalid array index {token!r} in {path}")
    index = int(token)
    limit = len(container) if allow_end else len(container) - 1
    if index > limit:
        raise _op_error(f"index {index} out of bounds in {path}")
    return index


def _op_error(message: str) -> Invalid:
    return Invalid(message)


def _parent(doc: Any, tokens: list[str], path: str) -> Any:
    node = doc
    for token in tokens[:-1]:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, path, allow_end=False)]
        else:
            raise _op_error(f"doc is missing path: \"{path}\": missing value")
    if not isinstance(node, dict | list):
        raise _op_error(f"doc is missing path: \"{path}\": missing value")
    return node


def _existing(doc: Any, tokens: list[str], path: str, missing: str) -> tuple[Any, Any]:
    """The container of an existing value and its key (or list index); `missing` if absent."""
    parent, last = _parent(doc, tokens, path), tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise _op_error(missing)
        return parent, last
    return parent, _index(parent, last, path, allow_end=False)


def _get(doc: Any, path: str) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return doc
    parent, key = _existing(doc, tokens, path, f"doc is missing key: \"{path}\": missing value")
    return parent[key]


def _add(doc: Any, path: str, value: Any) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return value
    parent, last = _parent(doc, tokens, path), tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    else:
        parent.insert(_index(parent, last, path, allow_end=True), value)
    return doc


def _remove(doc: Any, path: str) -> Any:
    tokens = _pointer(path)
    if not tokens:
        raise _op_error("unable to remove the whole document")
    parent, key = _existing(doc, tokens, path,
                            f"remove operation does not apply: doc is missing path: \"{path}\"")
    return parent.pop(key)


def _replace(doc: Any, path: str, value: Any) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return value
    parent, key = _existing(
        doc, tokens, path,
        f"replace operation does not apply: doc is missing key: {path}: missing value")
    parent[key] = value
    return doc


def json_patch(obj: Any, operations: Any) -> Any:
    """Apply RFC 6902 operations; BadRequest for a malformed patch, 422 if one fails."""
    if not isinstance(operations, list):
        raise BadRequest("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    if len(operations) > MAX_JSON_PATCH_OPERATIONS:
        raise BadRequest(f"The allowed maximum operations in a JSON patch is "
                         f"{MAX_JSON_PATCH_OPERATIONS}, got {len(operations)}")
    doc = _copy(obj)
    for op in operations:
        if not isinstance(op, dict):
            raise BadRequest("invalid JSON Patch: each operation must be an object")
        kind, path = op.get("op"), op.get("path")
        if not isinstance(path, str):
            raise BadRequest(f"invalid JSON pointer: {path!r}")
        if kind in ("add", "replace", "test") and "value" not in op:
            raise BadRequest(f"invalid JSON Patch: {kind} operation has no value")
        if kind == "add":
            doc = _add(doc, path, _copy(op["value"]))
        elif kind == "remove":
            _remove(doc, path)
        elif kind == "replace":
            doc = _replace(doc, path, _copy(op["value"]))
        elif kind in ("move", "copy"):
            source = op.get("from")
            if not isinstance(source, str):
                raise BadRequest(f"invalid JSON pointer: {source!r}")
            if kind == "move" and path.startswith(source + "/"):
                raise _op_error(f"move operation: \"from\" {source} is a prefix of {path}")
            value = _remove(doc, source) if kind == "move" else _copy(_get(doc, source))
            doc = _add(doc, path, value)
        elif kind == "test":
            if _get(doc, path) != op["value"]:
                raise _op_error(f"testing value {path} failed: test failed")
        else:
            raise BadRequest(f"Unexpected kind: {kind}")
    return doc


# --- strategic merge patch --------------------------------------------------------------

def _copy(value: Any) -> Any:
    """A deep copy of JSON-native data (much faster than copy.deepcopy)."""
    return orjson.loads(orjson.dumps(value))


def strategic_merge_patch(obj: dict[str, Any], patch: dict[str, Any],
                          root: schema.Node) -> dict[str, Any]:
    """Apply a strategic merge patch against the schema `root` of `obj`'s kind."""
    return _merge_map(_copy(obj), _copy(patch), root)


def _field_meta(node: schema.Node | None, key: str) -> tuple[schema.Node | None, str, str]:
    """(sub-schema, strategy, merge key) of field `key`; strategy without retainKeys."""
    raw = schema.raw_property(node, key) or {}
    strategies = [s for s in str(raw.get("x-kubernetes-patch-strategy", "")).split(",")
                  if s and s != "retainKeys"]
    return (schema.property_schema(node, key), strategies[0] if strategies else "",
            str(raw.get("x-kubernetes-patch-merge-key", "")))


def _strip(value: Any) -> Any:
    """A patch value taken as is: drop nulls and directives (nothing to merge into)."""
    if isinstance(value, dict):
        if value.get(_DIRECTIVE) == "delete":
            return None
        return {k: _strip(v) for k, v in value.items() if v is not None and not (
            k == _DIRECTIVE or k == _RETAIN_KEYS or k.startswith((_SET_ORDER, _DELETE_PRIMITIVE)))}
    if isinstance(value, list):
        items = [_strip(v) for v in value if not (isinstance(v, dict) and _DIRECTIVE in v)]
        return [v for v in items if v is not None]
    return value


def _merge_map(original: dict[str, Any], patch: dict[str, Any],
               node: schema.Node | None) -> dict[str, Any]:
    if _DIRECTIVE in patch:
        directive = patch.pop(_DIRECTIVE)
        if directive == "replace":
            return _strip(patch)
        if directive == "delete":
            return {}
        raise PatchError(f"Unknown patch type: {directive} in map: {patch}")
    _apply_retain_keys(original, patch)
    _apply_set_element_order(original, patch, node)
    for key, value in patch.items():
        delete_list = key.startswith(_DELETE_PRIMITIVE)
        if delete_list:
            key = _extract_key(key, _DELETE_PRIMITIVE)
        if value is None:
            original.pop(key, None)
            continue
        if key not in original:
            if not delete_list:
                original[key] = _strip(value)
            continue
        current = original[key]
        sub, strategy, merge_key = _field_meta(node, key)
        if isinstance(current, dict) and isinstance(value, dict):
            original[key] = _strip(value) if strategy == "replace" else \
                _merge_map(current, value, sub)
        elif isinstance(current, list) and isinstance(value, list):
            if strategy == "merge":
                original[key] = _merge_list(current, value, schema.items_schema(sub),
                                            merge_key, delete_list=delete_list)
            else:
                original[key] = _strip(value)
        elif not delete_list:
            original[key] = _strip(value)
    return original


def _extract_key(key: str, prefix: str) -> str:
    rest = key[len(prefix):]
    if not rest:
        raise PatchError("invalid patch: " + (
            "$setElementOrder list" if prefix == _SET_ORDER else "deleteFromPrimitiveList")
            + " format is wrong")
    return rest


def _apply_retain_keys(original: dict[str, Any], patch: dict[str, Any]) -> None:
    if _RETAIN_KEYS not in patch:
        return
    keep = patch.pop(_RETAIN_KEYS)
    if not isinstance(keep, list) or not all(isinstance(k, str) for k in keep):
        raise PatchError("doesn't match retainKeys format: the value of $retainKeys "
                         "must be a list of field names")
    wanted = set(keep)
    for key, value in patch.items():
        if value is None or key.startswith((_DELETE_PRIMITIVE, _SET_ORDER)):
            continue
        if key not in wanted:
            raise PatchError("doesn't match retainKeys format: all keys in the patch must "
                             "be present in $retainKeys")
    for key in list(original):
        if key not in wanted:
            del original[key]


def _apply_set_element_order(original: dict[str, Any], patch: dict[str, Any],
                             node: schema.Node | None) -> None:
    for key in [k for k in patch if k.startswith(_SET_ORDER)]:
        order = patch.pop(key)
        field = _extract_key(key, _SET_ORDER)
        if not isinstance(order, list):
            raise PatchError(f"invalid patch: {key} must be a list")
        current, new = original.get(field), patch.get(field)
        if field not in original and field not in patch:
            continue
        sub, strategy, merge_key = _field_meta(node, field)
        if isinstance(current, list) and isinstance(new, list):
            merged = (_merge_list(current, new, schema.items_schema(sub),
                                  merge_key, delete_list=False)
                      if strategy == "merge" else _strip(new))
        elif isinstance(new, list):
            merged = _strip(new)
        elif isinstance(current, list):
            merged = current
        else:
            continue
        patch_items = [v for v in merged if _index_of(order, v, merge_key) >= 0]
        server_only = [v for v in merged if _index_of(order, v, merge_key) < 0]
        original[field] = _normalize_order(patch_items, server_only, order,
                                           current if isinstance(current, list) else [],
                                           merge_key)
        patch.pop(field, None)


def _key_of(item: Any, merge_key: str) -> Any:
    if merge_key:
        return item.get(merge_key) if isinstance(item, dict) else None
    return item


def _index_of(items: list[Any], item: Any, merge_key: str) -> int:
    wanted = _key_of(item, merge_key)
    for i, candidate in enumerate(items):
        if _key_of(candidate, merge_key) == wanted:
            return i
    return -1


def _sorted_by(items: list[Any], order: list[Any], merge_key: str) -> list[Any]:
    """Stable sort of `items` by their position in `order` (unknown ones keep place)."""
    known = [i for i in items if _index_of(order, i, merge_key) >= 0]
    known.sort(key=lambda i: _index_of(order, i, merge_key))
    it = iter(known)
    return [next(it) if _index_of(order, i, merge_key) >= 0 else i for i in items]


def _normalize_order(patch_items: list[Any], server_only: list[Any], patch_order: list[Any],
                     server_order: list[Any], merge_key: str) -> list[Any]:
    """Patch items in patch order, server-only items slotted in by live order."""
    left = _sorted_by(server_only, server_order, merge_key)
    right = _sorted_by(patch_items, patch_order, merge_key)
    out: list[Any] = []
    i = j = 0
    while i < len(left) or j < len(right):
        if i >= len(left):
            out.append(right[j])
            j += 1
        elif j >= len(right):
            out.append(left[i])
            i += 1
        else:
            li = _index_of(server_order, left[i], merge_key)
            ri = _index_of(server_order, right[j], merge_key)
            if li >= 0 and ri >= 0 and li < ri:
                out.append(left[i])
                i += 1
            else:
                out.append(right[j])
                j += 1
    return out


def _dedupe(items: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def _merge_list(original: list[Any], patch: list[Any], item_node: schema.Node | None,
                merge_key: str, *, delete_list: bool) -> list[Any]:
    if not original and not patch:
        return original
    if any(isinstance(v, list) for v in (*original, *patch)):
        raise PatchError("lists of lists are not supported")
    maps = [isinstance(v, dict) for v in (*original, *patch)]
    if any(maps) and not all(maps):
        raise PatchError("mismatched types in list: maps mixed with scalars")
    if not all(maps):
        if delete_list:
            return [v for v in original if v not in patch]
        merged = _dedupe(original + patch)
        patch_items = [v for v in merged if v in patch]
        server_only = [v for v in merged if v not in patch]
        return _normalize_order(patch_items, server_only, patch, original, "")
    if not merge_key:
        raise PatchError("cannot merge lists without merge key")
    original, plain = _merge_special_elements(original, patch, merge_key)
    for item in plain:
        if merge_key not in item:
            raise PatchError(f"map: {item} does not contain declared merge key: {merge_key}")
        at = _index_of(original, item, merge_key)
        if at >= 0:
            original[at] = _merge_map(original[at], item, item_node)
        else:
            original.append(_strip(item))
    patch_items = [v for v in original if _index_of(plain, v, merge_key) >= 0]
    server_only = [v for v in original if _index_of(plain, v, merge_key) < 0]
    return _normalize_order(patch_items, server_only, plain, original, merge_key)


def _merge_special_elements(original: list[Any], patch: list[Any],
                            merge_key: str) -> tuple[list[Any], list[Any]]:
    plain, replace = [], False
    for item in patch:
        directive = item.get(_DIRECTIVE)
        if directive is None:
            plain.append(item)
        elif directive == "delete":
            if merge_key not in item:
                raise PatchError(
                    f"map: {item} does not contain declared merge key: {merge_key}")
            original = [v for v in original if _key_of(v, merge_key) != item[merge_key]]
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise PatchError("merging lists cannot yet be specified in the patch")
        else:
            raise PatchError(f"Unknown patch type: {directive} in map: {item}")
    if replace:
        return [_strip(v) for v in plain], []
    return original, plain
