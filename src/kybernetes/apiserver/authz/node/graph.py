"""Which node may reach which object: the pods bound to each node and what they
reference, kept current from the API server's watch cache.

The Node authorizer asks on every request from a kubelet, so an answer is a dict
lookup. The index follows the cache incrementally: each question first applies
the pod and PersistentVolume events the cache recorded since the last one (a
handful, usually none); only when the cache's history no longer reaches back
that far (a re-list, or more changes than its ring holds) is the index rebuilt
from the cache's current objects.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from typing import Any

from kybernetes.api.errors import ApiError
from kybernetes.apiserver.authz.node.references import PV, PVC, Ref, pod_references
from kybernetes.apiserver.watch_cache import Entry, ResourceCache, WatchCache

log = logging.getLogger("kybernetes.apiserver.authz.node")

PODS = "/registry/pods/"
PERSISTENT_VOLUMES = "/registry/persistentvolumes/"

Apply = Callable[[str, dict[str, Any] | None], None]


def _decoded(entry: Entry) -> dict[str, Any] | None:
    """The entry's object; None (it links nothing) for one the store could not read."""
    try:
        return entry.obj
    except ApiError as e:
        log.warning("node graph skips an unreadable object",
                    extra={"key": entry.key, "error": str(e)})
        return None


class _Follower:
    """Applies one resource cache's changes, in order, to an index."""

    def __init__(self, cache: ResourceCache, apply: Apply, clear: Callable[[], None]) -> None:
        self.cache, self.apply, self.clear = cache, apply, clear
        self.seen = -1  # the newest revision applied; -1: never loaded

    def catch_up(self) -> None:
        cache = self.cache
        last = cache.last_change()
        if last == self.seen:
            return
        if self.seen < cache.oldest_rv:
            self.clear()
            for key, entry in cache.objects.items():
                self.apply(key, _decoded(entry))
        else:
            newer = []
            for event in reversed(cache.ring):
                if event.rv <= self.seen:
                    break
                newer.append(event)
            for event in reversed(newer):
                self.apply(event.entry.key,
                           None if event.type == "DELETED" else _decoded(event.entry))
        self.seen = last


class NodeGraph:
    """node ← pod ← (secret | configmap | serviceaccount | pvc ← pv)."""

    def __init__(self, cache: WatchCache) -> None:
        self._pods: dict[str, tuple[str, frozenset[Ref]]] = {}  # key → (node, refs)
        self._nodes: dict[Ref, Counter[str]] = {}  # object → nodes whose pods use it
        self._claims: dict[str, Ref] = {}  # PersistentVolume name → its claim
        self._followers = (
            _Follower(cache.for_prefix(PODS), self._apply_pod, self._pods_clear),
            _Follower(cache.for_prefix(PERSISTENT_VOLUMES), self._apply_pv,
                      self._claims.clear))

    def related(self, node: str, ref: Ref) -> bool:
        """Does a pod bound to `node` use `ref` (for a PV: the claim it is bound to)?"""
        for follower in self._followers:
            follower.catch_up()
        if ref.type == PV:
            claim = self._claims.get(ref.name)
            if claim is None:
                return False
            ref = claim
        users = self._nodes.get(ref)
        return users is not None and node in users

    def _pods_clear(self) -> None:
        self._pods.clear()
        self._nodes.clear()

    def _apply_pod(self, key: str, pod: dict[str, Any] | None) -> None:
        old = self._pods.pop(key, None)
        if old is not None:
            node, refs = old
            for ref in refs:
                users = self._nodes[ref]
                users[node] -= 1
                if users[node] <= 0:
                    del users[node]
                    if not users:
                        del self._nodes[ref]
        node = str(((pod or {}).get("spec") or {}).get("nodeName") or "")
        if pod is None or not node:
            return  # only pods bound to a node link anything to one
        refs = pod_references(pod)
        self._pods[key] = (node, refs)
        for ref in refs:
            self._nodes.setdefault(ref, Counter())[node] += 1

    def _apply_pv(self, key: str, pv: dict[str, Any] | None) -> None:
        name = key[len(PERSISTENT_VOLUMES):]
        claim = ((pv or {}).get("spec") or {}).get("claimRef")
        if isinstance(claim, dict) and claim.get("name"):
            self._claims[name] = Ref(PVC, str(claim.get("namespace") or ""),
                                     str(claim["name"]))
        else:
            self._claims.pop(name, None)
