"""The RBAC objects as the API server's watch cache holds them.

The authorizer reads roles and bindings on every request, so it reads them from
memory, never from the store; `version` changes whenever any of them changes,
which is how the resolver knows to forget the rules it worked out.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from typing import Any, Protocol

from kybernetes.apiserver.watch_cache import ResourceCache, WatchCache

Obj = dict[str, Any]

ROLES = "/registry/roles/"
ROLE_BINDINGS = "/registry/rolebindings/"
CLUSTER_ROLES = "/registry/clusterroles/"
CLUSTER_ROLE_BINDINGS = "/registry/clusterrolebindings/"


class RbacObjects(Protocol):
    """What the rule resolver reads."""

    def version(self) -> Hashable: ...
    def cluster_role_bindings(self) -> Iterator[Obj]: ...
    def role_bindings(self, namespace: str) -> Iterator[Obj]: ...
    def cluster_role(self, name: str) -> Obj | None: ...
    def role(self, namespace: str, name: str) -> Obj | None: ...


class CachedRbacObjects:
    """RbacObjects over the watch cache."""

    def __init__(self, cache: WatchCache) -> None:
        self._caches: tuple[ResourceCache, ...] = tuple(
            cache.for_prefix(p) for p in (ROLES, ROLE_BINDINGS, CLUSTER_ROLES,
                                          CLUSTER_ROLE_BINDINGS))
        self._roles, self._role_bindings, self._cluster_roles, self._cluster_bindings = \
            self._caches

    def version(self) -> Hashable:
        return tuple(c.last_change() for c in self._caches)

    def cluster_role_bindings(self) -> Iterator[Obj]:
        return (e.obj for e in self._cluster_bindings.objects.values())

    def role_bindings(self, namespace: str) -> Iterator[Obj]:
        return (e.obj for e in self._role_bindings.entries(f"{ROLE_BINDINGS}{namespace}/"))

    def cluster_role(self, name: str) -> Obj | None:
        entry = self._cluster_roles.objects.get(f"{CLUSTER_ROLES}{name}")
        return entry.obj if entry is not None else None

    def role(self, namespace: str, name: str) -> Obj | None:
        entry = self._roles.objects.get(f"{ROLES}{namespace}/{name}")
        return entry.obj if entry is not None else None
