"""Merging an applied configuration into the live object (TypedValue.Merge).

Granular maps merge key by key (live keys keep their order, new keys follow in the
config's order); associative lists merge item by item, matched by their keys or, for
sets, by value; scalars and atomic values are replaced whole.

List order follows structured-merge-diff: items both sides have come in the
config's order, items only the live object has stay where they were relative to
them, new items come where the config puts them.

The walk only descends where the config has content, and records on the way how the
result differs from the live object (the `Comparison` that conflict detection
needs), so a re-apply of an unchanged config costs about the size of the config.
Subtrees the config does not touch are shared with `live`, not copied.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api.fieldmanager.fieldset import Path
from kybernetes.api.fieldmanager.shape import Shape, is_leaf_value
from kybernetes.api.fieldmanager.walk import MISSING, Comparison, compare_into, same


def merge(live: Any, config: Any, shape: Shape, path: Path, diff: Comparison) -> Any:
    """The merged value at `path` (live may be MISSING); differences go into `diff`."""
    if live is MISSING:
        compare_into(MISSING, config, shape, path, diff)
        return config
    if same(live, config):
        return live
    if is_leaf_value(shape, config) or type(live) is not type(config):
        diff.leaf(live, config, path)
        return config
    if isinstance(config, dict):
        return _merge_maps(live, config, shape, path, diff)
    return _merge_lists(live, config, shape, path, diff)


def _merge_maps(
    live: dict[str, Any], config: dict[str, Any], shape: Shape, path: Path, diff: Comparison
) -> dict[str, Any]:
    out = dict(live)
    for key, value in config.items():
        out[key] = merge(live.get(key, MISSING), value, shape.field(key), (*path, "f:" + key), diff)
    return out


def _merge_lists(
    live: list[Any], config: list[Any], shape: Shape, path: Path, diff: Comparison
) -> list[Any]:
    live_pes = [shape.element(item) for item in live]
    config_pes = [shape.element(item) for item in config]
    live_items: dict[str, Any] = {}
    for pe, item in zip(live_pes, live, strict=True):
        live_items.setdefault(pe, item)
    config_items: dict[str, Any] = {}
    for pe, item in zip(config_pes, config, strict=True):
        if pe in config_items:
            raise ValueError(f"duplicate entries for key {pe[2:]}")
        config_items[pe] = item
    shared = [pe for pe in config_pes if pe in live_items]
    item_shape = shape.item_shape()

    def take(pe: str) -> Any:
        return merge(live_items.get(pe, MISSING), config_items[pe], item_shape, (*path, pe), diff)

    out: list[Any] = []
    merged: set[str] = set()
    next_shared = 0
    li, ri, ln, rn = 0, 0, len(live_pes), len(config_pes)
    while li < ln or ri < rn:
        if li < ln and ri < rn:
            pe = live_pes[li]
            if pe == config_pes[ri]:
                merged.add(pe)
                out.append(take(pe))
                li, ri, next_shared = li + 1, ri + 1, next_shared + 1
                continue
            if pe in config_items and next_shared < len(shared) and shared[next_shared] != pe:
                li += 1
                continue
        if li < ln:
            pe = live_pes[li]
            if pe not in config_items:
                out.append(live[li])
                li += 1
                continue
            if pe in merged:
                li += 1
                continue
        if ri < rn:
            pe = config_pes[ri]
            merged.add(pe)
            out.append(take(pe))
            ri += 1
            if next_shared < len(shared) and shared[next_shared] == pe:
                next_shared += 1
    return out
