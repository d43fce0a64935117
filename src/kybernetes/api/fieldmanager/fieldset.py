"""Field sets: which fields of an object a manager owns (structured-merge-diff's fieldpath.Set).

A set is a trie whose shape *is* the `fieldsV1` JSON Kubernetes stores in
`metadata.managedFields`, so reading and writing managedFields is a copy and a sort:

- a key is one path element, spelled as Kubernetes spells it: `f:<field>`,
  `k:<json of the key fields>` (an associative-list item), `v:<json>` (a set
  item), `i:<index>`;
- a child node that is `{}` is a member with no children; a child node holding
  `"."` is a member that also has children; any other non-empty node only
  leads to members further down. Empty non-members never exist.

Trees are never mutated once built (operations share untouched subtrees), which
keeps union/difference cheap. Children are kept in the order they were built;
`to_fields_v1` sorts them the way Kubernetes serializes (`.`, then `f:` by name,
`k:`, `v:` by value, `i:` by index).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import orjson

Tree = dict[str, Any]
Path = tuple[str, ...]
SELF = "."


def is_member(node: Tree) -> bool:
    """True if the node (a child in some tree) is itself in the set."""
    return not node or SELF in node


def make_node(member: bool, children: Tree) -> Tree | None:
    """A child node: a member and/or a path to `children`; None if neither."""
    if not children:
        return {} if member else None
    if member:
        return {SELF: {}, **children}
    return children


def _children(node: Tree) -> Tree:
    if SELF in node:
        return {k: v for k, v in node.items() if k != SELF}
    return node


def union_tree(a: Tree, b: Tree) -> Tree:
    """The union of two child nodes: a member if either is, children merged."""
    if a is b:
        return a
    if not b:
        return a if is_member(a) else {SELF: {}, **a}
    if not a:
        return b if SELF in b else {SELF: {}, **b}
    out = dict(a)
    for key, b_child in b.items():
        a_child = out.get(key)
        if a_child is None:
            out[key] = b_child
        elif key != SELF and a_child is not b_child:
            out[key] = union_tree(a_child, b_child)
    return out


def _union_root(a: Tree, b: Tree) -> Tree:
    if not a:
        return b
    if not b:
        return a
    out = dict(a)
    for key, b_child in b.items():
        a_child = out.get(key)
        out[key] = b_child if a_child is None else union_tree(a_child, b_child)
    return out


def _difference(a: Tree, b: Tree) -> Tree:
    """Children of `a` minus members of `b` (both nodes; their own "." is ignored)."""
    out: Tree = {}
    for key, a_child in a.items():
        if key == SELF:
            continue
        b_child = b.get(key)
        if b_child is None:
            out[key] = a_child
            continue
        member = is_member(a_child) and not is_member(b_child)
        rest = _difference(a_child, b_child) if a_child and b_child else _children(a_child)
        node = make_node(member, rest)
        if node is not None:
            out[key] = node
    return out


def _intersection(a: Tree, b: Tree) -> Tree:
    out: Tree = {}
    for key, a_child in a.items():
        if key == SELF:
            continue
        b_child = b.get(key)
        if b_child is None:
            continue
        member = is_member(a_child) and is_member(b_child)
        rest = _intersection(a_child, b_child) if a_child and b_child else {}
        node = make_node(member, rest)
        if node is not None:
            out[key] = node
    return out


def _recursive_difference(a: Tree, b: Tree) -> Tree:
    """Children of `a` minus every path under a member of `b`."""
    out: Tree = {}
    for key, a_child in a.items():
        if key == SELF:
            continue
        b_child = b.get(key)
        if b_child is None:
            out[key] = a_child
        elif not is_member(b_child):
            node = make_node(is_member(a_child), _recursive_difference(a_child, b_child))
            if node is not None:
                out[key] = node
    return out


# -- ordering and printing, the way structured-merge-diff does it ------------------

_PREFIX_RANK = {"f": 1, "k": 2, "v": 3, "i": 4}


def value_order(value: Any) -> tuple[Any, ...]:
    """A sort key giving value.Compare's order: numbers, strings, bools, lists, maps, null."""
    if value is None:
        return (5,)
    if isinstance(value, bool):
        return (2, value)
    if isinstance(value, (int, float)):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    if isinstance(value, list):
        return (3, tuple(value_order(v) for v in value))
    return (4, tuple((k, value_order(v)) for k, v in sorted(value.items())))


@functools.lru_cache(maxsize=65536)
def element_order(element: str) -> tuple[Any, ...]:
    """A sort key for one path element (PathElement.Compare)."""
    if element == SELF:
        return (0,)
    kind, text = element[0], element[2:]
    rank = _PREFIX_RANK.get(kind, 9)
    if kind == "f":
        return (rank, text)
    if kind == "i":
        return (rank, int(text))
    parsed = orjson.loads(text)
    if kind == "k":
        return (rank, tuple((name, value_order(v)) for name, v in parsed.items()))
    return (rank, value_order(parsed))


def go_string(value: Any) -> str:
    """value.ToString: how structured-merge-diff prints a value inside a path."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return orjson.dumps(value).decode()
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ",".join(go_string(v) for v in value) + "]"
    return "{" + ",".join(f"{k}={go_string(v)}" for k, v in value.items()) + "}"


@functools.lru_cache(maxsize=65536)
def element_string(element: str) -> str:
    """PathElement.String: `.name`, `[key=value,...]`, `[=value]`, `[3]`."""
    kind, text = element[0], element[2:]
    if kind == "f":
        return "." + text
    if kind == "i":
        return f"[{text}]"
    parsed = orjson.loads(text)
    if kind == "k":
        return "[" + ",".join(f"{k}={go_string(v)}" for k, v in parsed.items()) + "]"
    return f"[={go_string(parsed)}]"


def path_string(path: Path) -> str:
    """fieldpath.Path.String, e.g. `.spec.template.spec.containers[name="app"].image`."""
    return "".join(element_string(e) for e in path)


def _sorted_keys(node: Tree) -> list[str]:
    """The child keys in PathElement order; byte order is that order when all are fields."""
    keys = sorted(node)
    if keys and keys[0] == SELF:
        del keys[0]
    if keys and not keys[-1].startswith("f:"):
        keys.sort(key=element_order)
    return keys


def _sorted_tree(node: Tree, include_self: bool) -> Tree:
    out: Tree = {SELF: {}} if include_self and node else {}
    keys = sorted(node)  # _sorted_keys, inline: every create encodes a whole tree
    if keys and keys[0] == SELF:
        del keys[0]
    if keys and not keys[-1].startswith("f:"):
        keys.sort(key=element_order)
    for key in keys:
        child = node[key]
        out[key] = _sorted_tree(child, SELF in child) if child else {}
    return out


def _check(node: Any, where: str) -> Tree:
    if not isinstance(node, dict):
        raise ValueError(f"{where}: expected an object, got {type(node).__name__}")
    out: Tree = {}
    for key, child in node.items():
        if key != SELF and (len(key) < 2 or key[1] != ":" or key[0] not in _PREFIX_RANK):
            raise ValueError(f"{where}: unexpected path element {key!r}")
        out[key] = _check(child, where)
    if len(out) == 1 and SELF in out:
        return {}
    return out


class FieldSet:
    """An immutable set of field paths."""

    __slots__ = ("tree",)

    def __init__(self, tree: Tree | None = None) -> None:
        self.tree: Tree = tree or {}

    @classmethod
    def from_fields_v1(cls, fields: Any) -> FieldSet:
        """Parse `fieldsV1` JSON (ValueError if malformed)."""
        tree = _check(fields, "fieldsV1")
        tree.pop(SELF, None)
        return cls(tree)

    @classmethod
    def from_paths(cls, paths: list[Path]) -> FieldSet:
        tree: Tree = {}
        for path in paths:
            tree = _union_root(tree, _single(path))
        return cls(tree)

    def to_fields_v1(self) -> Tree:
        """The `fieldsV1` JSON, ordered as Kubernetes writes it."""
        return _sorted_tree(self.tree, False)

    def empty(self) -> bool:
        return not self.tree

    def union(self, other: FieldSet) -> FieldSet:
        return FieldSet(_union_root(self.tree, other.tree))

    def difference(self, other: FieldSet) -> FieldSet:
        if not other.tree or not self.tree:
            return self
        return FieldSet(_difference(self.tree, other.tree))

    def intersection(self, other: FieldSet) -> FieldSet:
        if not other.tree or not self.tree:
            return FieldSet()
        return FieldSet(_intersection(self.tree, other.tree))

    def recursive_difference(self, other: FieldSet) -> FieldSet:
        """Without any path that has a member of `other` as prefix (or is one)."""
        if not other.tree or not self.tree:
            return self
        return FieldSet(_recursive_difference(self.tree, other.tree))

    def has(self, path: Path) -> bool:
        node = self.tree
        for element in path:
            child = node.get(element)
            if child is None or element == SELF:
                return False
            node = child
        return bool(path) and is_member(node)

    def __iter__(self) -> Iterator[Path]:
        """Every member path, in Kubernetes' order."""
        return _walk(self.to_fields_v1(), (), leaves_only=False)

    def leaves(self) -> list[Path]:
        """Member paths with no members below them."""
        return list(_walk(self.to_fields_v1(), (), leaves_only=True))

    def __eq__(self, other: object) -> bool:
        # Trees are normalized, so equal sets are equal dicts (dict equality ignores order).
        return isinstance(other, FieldSet) and self.tree == other.tree

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"FieldSet({[path_string(p) for p in self]})"


def _single(path: Path) -> Tree:
    node: Tree = {}
    for element in reversed(path):
        node = {element: node}
    return node


def _walk(node: Tree, prefix: Path, *, leaves_only: bool) -> Iterator[Path]:
    for key, child in node.items():
        if key == SELF:
            continue
        path = (*prefix, key)
        if not child or (SELF in child and not leaves_only):
            yield path
        yield from _walk(child, path, leaves_only=leaves_only)


def _parent(tree: Tree, path: Path) -> Tree:
    """The node holding `path`'s last element, made on the way (a member leaf gains ".")."""
    node = tree
    for element in path[:-1]:
        child = node.get(element)
        if child is None:
            child = node[element] = {}
        elif not child:
            child[SELF] = {}
        node = child
    return node


def insert(tree: Tree, path: Path) -> None:
    """Add a member path to a tree being built (only for trees not yet shared)."""
    if not path:
        return
    node = _parent(tree, path)
    child = node.get(path[-1])
    if child is None:
        node[path[-1]] = {}
    elif child and SELF not in child:
        child[SELF] = {}


def graft_children(tree: Tree, path: Path, children: list[tuple[str, Tree]]) -> None:
    """`graft(tree, (*path, element), node)` for each (element, node), the path walked once."""
    parent = _parent(tree, (*path, SELF))
    for element, node in children:
        existing = parent.get(element)
        parent[element] = node if existing is None else union_tree(existing, node)


def graft(tree: Tree, path: Path, node: Tree) -> None:
    """Add the child node `node` at `path` of a tree being built; at the root, its members."""
    if not path:
        for key, child in node.items():
            if key != SELF:
                tree[key] = union_tree(tree[key], child) if key in tree else child
        return
    parent = _parent(tree, path)
    existing = parent.get(path[-1])
    parent[path[-1]] = node if existing is None else union_tree(existing, node)
