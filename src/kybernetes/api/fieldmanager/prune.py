"""Removing what an applier stopped applying (Updater.prune in structured-merge-diff).

A field leaves the object when the applier owned it by its last apply, its new
config no longer has it, and no other manager owns it. Only what is a member of
the merged object's own field set can go (a leaf, a list item, a map entry): a
struct field that still has content is walked into instead, so it survives when
its remaining children are owned. Whatever goes is recorded as removed, exactly as
comparing the merged object with the pruned one would record it.

The walk follows the last applied set only, and copies a map or list only where it
removes something in it (the rest stays shared with the input).
"""

from __future__ import annotations

from typing import Any

from kybernetes.api.fieldmanager.fieldset import SELF, Path, Tree, is_member
from kybernetes.api.fieldmanager.shape import Kind, Shape, is_leaf_value
from kybernetes.api.fieldmanager.walk import MISSING, Comparison, compare_into, index_items


def prune(merged: Any, shape: Shape, last: Tree, keep: list[Tree], diff: Comparison) -> Any:
    """`merged` without the members of `last` that no tree of `keep` holds."""
    if not last or not isinstance(merged, dict):
        return merged
    return _prune_map(merged, shape, last, keep, (), diff)


def _kept(element: str, keep: list[Tree]) -> bool:
    for tree in keep:
        node = tree.get(element)
        if node is not None and is_member(node):
            return True
    return False


def _descend(keep: list[Tree], element: str) -> list[Tree]:
    return [tree[element] for tree in keep if tree.get(element)]


def _is_own_member(value: Any, shape: Shape, parent: Shape, key: str) -> bool:
    """Whether the merged object's field set has this map entry as a member."""
    return (
        value is None
        or value == {}
        or is_leaf_value(shape, value)
        or parent.kind is Kind.DEDUCED
        or key not in parent.fields
    )


def _prune_map(
    value: dict[str, Any], shape: Shape, last: Tree, keep: list[Tree], path: Path, diff: Comparison
) -> Any:
    out = value
    for element, sub in last.items():
        if element == SELF or not element.startswith("f:") or element[2:] not in value:
            continue
        key = element[2:]
        child, child_shape = value[key], shape.field(key)
        child_path = (*path, element)
        if (
            is_member(sub)
            and _is_own_member(child, child_shape, shape, key)
            and not _kept(element, keep)
        ):
            compare_into(child, MISSING, child_shape, child_path, diff)
            new: Any = MISSING
        else:
            new = _prune_child(child, child_shape, sub, _descend(keep, element), child_path, diff)
        if new is not child:
            if out is value:
                out = dict(value)
            if new is MISSING:
                del out[key]
            else:
                out[key] = new
    return _emptied(out, value, path, diff)


def _prune_list(
    value: list[Any], shape: Shape, last: Tree, keep: list[Tree], path: Path, diff: Comparison
) -> Any:
    items = index_items(shape, value)
    item_shape = shape.item_shape()
    replaced: dict[str, Any] = {}
    for element, sub in last.items():
        item = items.get(element, MISSING)
        if item is MISSING:
            continue
        child_path = (*path, element)
        if is_member(sub) and not _kept(element, keep):
            compare_into(item, MISSING, item_shape, child_path, diff)
            replaced[element] = MISSING
        else:
            new = _prune_child(item, item_shape, sub, _descend(keep, element), child_path, diff)
            if new is not item:
                replaced[element] = new
    if not replaced:
        return value
    out = []
    for item in value:
        new = replaced.get(shape.element(item), item)
        if new is not MISSING:
            out.append(new)
    return _emptied(out, value, path, diff)


def _prune_child(
    value: Any, shape: Shape, last: Tree, keep: list[Tree], path: Path, diff: Comparison
) -> Any:
    if not last or (SELF in last and len(last) == 1) or is_leaf_value(shape, value):
        return value
    if isinstance(value, dict):
        return _prune_map(value, shape, last, keep, path, diff)
    return _prune_list(value, shape, last, keep, path, diff)


def _emptied(out: Any, before: Any, path: Path, diff: Comparison) -> Any:
    """An object or list emptied by pruning goes too (Kubernetes drops it)."""
    if out is not before and not out and path:
        diff.leaf(before, MISSING, path)
        return MISSING
    return out
