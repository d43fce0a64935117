"""Run one scheduling decision in memory: a cache of nodes, a profile, a pod."""

from __future__ import annotations

import random
from typing import Any

from kybernetes.api.meta import object_key
from kybernetes.api.resources import Resource
from kybernetes.scheduler.cache import Cache
from kybernetes.scheduler.config import parse_config
from kybernetes.scheduler.framework import CycleState, Handle
from kybernetes.scheduler.podinfo import pod_info
from kybernetes.scheduler.profile import FitError, Profile


class NoClient:
    """The API client of a profile that only decides: these tests never bind."""

    async def create_subresource(self, resource: Resource, name: str, subresource: str,
                                 body: dict[str, Any], *,
                                 namespace: str | None = None) -> dict[str, Any]:
        raise AssertionError("a scheduling decision in memory binds nothing")


class Objects:
    """A read-only stand-in for an informer's cache (services, RCs, RSs, namespaces)."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items

    def _key(self, o: dict[str, Any]) -> str:
        return object_key(o)

    def list(self, namespace: str | None = None) -> list[dict[str, Any]]:
        return [o for o in self.items
                if namespace is None or o["metadata"].get("namespace", "default") == namespace]

    def get(self, key: str) -> dict[str, Any] | None:
        return next((o for o in self.items if self._key(o) == key), None)


def build(nodes: list[dict[str, Any]], *, existing: tuple[dict[str, Any], ...] = (),
          objects: dict[Resource, list[dict[str, Any]]] | None = None,
          config: dict[str, Any] | None = None, seed: int = 0,
          preemptor: Any = None) -> Profile:
    cache = Cache()
    for n in nodes:
        cache.add_node(n)
    for p in existing:
        cache.add_pod(pod_info(p))
    objects = objects or {}
    handle = Handle(NoClient(), cache, lambda r: Objects(objects.get(r, [])), preemptor)
    cfg = parse_config(config or {})
    return Profile(cfg.profiles[0], handle,
                   percentage_of_nodes_to_score=cfg.percentage_of_nodes_to_score,
                   rng=random.Random(seed))


def decide(profile: Profile, pod: dict[str, Any]) -> str:
    """The chosen node's name, or the FitError message prefixed by 'FIT: '."""
    try:
        return profile.schedule(pod_info(pod), CycleState())
    except FitError as e:
        return "FIT: " + str(e)


def schedule(nodes: list[dict[str, Any]], pod: dict[str, Any], **kwargs: Any) -> str:
    return decide(build(nodes, **kwargs), pod)
