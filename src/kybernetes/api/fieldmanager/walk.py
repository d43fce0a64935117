"""Walking a value against its shape: its field set, and the comparison of two values.

`value_set` is structured-merge-diff's ToFieldSet: every leaf, every list item,
every entry of a granular map (and empty or null objects) is a member; a declared
struct field with content is only a path to its members.

`compare` is TypedValue.Compare: the leaf paths added, modified and removed, plus
every non-leaf node (list item, object) that appeared or disappeared as a whole.
Equal subtrees are skipped with one `==`, so comparing an object with a slightly
changed copy costs about the size of the change, not of the object; a subtree on
one side only (all of a create) is built in one pass and grafted, not inserted
path by path.
"""

from __future__ import annotations

from typing import Any, cast

from kybernetes.api.fieldmanager.fieldset import (
    SELF,
    FieldSet,
    Path,
    Tree,
    graft,
    graft_children,
    insert,
    make_node,
)
from kybernetes.api.fieldmanager.shape import Kind, Shape, is_leaf_value

MISSING: Any = object()


def same(a: Any, b: Any) -> bool:
    """JSON equality (`True` is not `1`; `1` is `1.0`)."""
    if a is b:
        return True
    if a != b:
        return False
    return type(a) is type(b) or not (isinstance(a, bool) or isinstance(b, bool))


def value_set(value: Any, shape: Shape) -> Tree:
    """The field set (a tree) of an object."""
    if not isinstance(value, dict):
        return {}
    return _map_children(value, shape)


def _map_children(value: dict[str, Any], shape: Shape) -> Tree:
    out: Tree = {}
    deduced = shape.kind is Kind.DEDUCED
    for key, child in value.items():
        child_shape = shape.field(key)
        member = child is None or child == {} or deduced or key not in shape.fields
        node = _node(child, child_shape, member)
        if node is not None:
            out["f:" + key] = node
    return out


def _node(value: Any, shape: Shape, member: bool) -> Tree | None:
    if is_leaf_value(shape, value):
        return {}
    if isinstance(value, dict):
        children = _map_children(value, shape)
    else:
        children = _list_children(value, shape)
    return make_node(member, children)


def _list_children(items: list[Any], shape: Shape) -> Tree:
    out: Tree = {}
    item_shape = shape.item_shape()
    for item in items:
        node = _node(item, item_shape, True)
        if node is not None:
            out[shape.element(item)] = node
    return out


class Comparison:
    """Paths added, modified and removed between two values (trees being built)."""

    __slots__ = ("added", "modified", "removed")

    def __init__(self) -> None:
        self.added: Tree = {}
        self.modified: Tree = {}
        self.removed: Tree = {}

    def empty(self) -> bool:
        return not (self.added or self.modified or self.removed)

    def changes(self, ignored: FieldSet) -> tuple[FieldSet, FieldSet]:
        """(changed, lost) outside `ignored`: added or modified, and those plus removed."""
        changed = FieldSet(self.added).union(FieldSet(self.modified)).recursive_difference(ignored)
        return changed, changed.union(FieldSet(self.removed).recursive_difference(ignored))

    def leaf(self, lhs: Any, rhs: Any, path: Path) -> None:
        """Record one leaf (or atomic value) that differs."""
        if lhs is MISSING:
            insert(self.added, path)
        elif rhs is MISSING:
            insert(self.removed, path)
        else:
            insert(self.modified, path)


def compare(lhs: Any, rhs: Any, shape: Shape) -> Comparison:
    """Compare two objects (either may be MISSING)."""
    out = Comparison()
    compare_into(lhs, rhs, shape, (), out)
    return out


def compare_into(lhs: Any, rhs: Any, shape: Shape, path: Path, out: Comparison) -> None:
    """Record the differences of lhs → rhs at `path` into `out`."""
    if lhs is MISSING:
        graft(out.added, path, whole(rhs, shape))
        return
    if rhs is MISSING:
        graft(out.removed, path, whole(lhs, shape))
        return
    if same(lhs, rhs):
        return
    if is_leaf_value(shape, lhs) or (_empty(lhs) and _empty(rhs)) or type(lhs) is not type(rhs):
        out.leaf(lhs, rhs, path)
        return
    if isinstance(lhs, dict):
        _compare_maps(lhs, rhs, shape, path, out)
    else:
        _compare_lists(lhs, rhs, shape, path, out)


def whole(value: Any, shape: Shape) -> Tree:
    """The child node of a value present on one side only: it and everything below it.

    What comparing it with MISSING records: a leaf or an empty value is one member;
    an object or list is a member with each field or item (the first of duplicates).
    """
    container = shape.container  # is_leaf_value and _empty, inline: this is every create
    if container is None or not value or not isinstance(value, container):
        return {}
    out: Tree = {SELF: {}}
    if isinstance(value, dict):
        # Scalars are leaves whatever their shape, and most of an object: no lookup.
        field = shape.field
        for key, child in value.items():
            out["f:" + key] = whole(child, field(key)) if isinstance(child, dict | list) else {}
    else:
        item_shape = shape.item_shape()
        for element, item in index_items(shape, cast(list[Any], value)).items():
            out[element] = whole(item, item_shape)
    return out


def _empty(value: Any) -> bool:
    """Empty or absent: both sides so makes an object or list one leaf (emptyPromoteToLeaf)."""
    return value is MISSING or not value


def _compare_maps(left: dict[str, Any], right: dict[str, Any], shape: Shape, path: Path,
                  out: Comparison) -> None:
    if not left:
        # Every field is added (a create's metadata, spec and status): the node at
        # `path` is made once, not once per field as compare_into(MISSING, …) would.
        field = shape.field
        graft_children(out.added, path, [
            ("f:" + key, whole(value, field(key)) if isinstance(value, dict | list) else {})
            for key, value in right.items()])
        return
    for key, value in left.items():
        compare_into(value, right.get(key, MISSING), shape.field(key), (*path, "f:" + key), out)
    for key, value in right.items():
        if key not in left:
            compare_into(MISSING, value, shape.field(key), (*path, "f:" + key), out)


def _compare_lists(lhs: list[Any], rhs: list[Any], shape: Shape, path: Path,
                   out: Comparison) -> None:
    left = index_items(shape, lhs)
    right = index_items(shape, rhs)
    item_shape = shape.item_shape()
    for element, value in left.items():
        compare_into(value, right.get(element, MISSING), item_shape, (*path, element), out)
    for element, value in right.items():
        if element not in left:
            compare_into(MISSING, value, item_shape, (*path, element), out)


def index_items(shape: Shape, items: list[Any]) -> dict[str, Any]:
    """List items by path element (the first of duplicates wins)."""
    out: dict[str, Any] = {}
    for item in items:
        out.setdefault(shape.element(item), item)
    return out
