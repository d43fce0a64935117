"""The live registry of served kinds: routing, discovery, OpenAPI, watch caches and the
write path all consult it, and follow it when a kind is added or removed.

Built-in kinds are registered at start; each CustomResourceDefinition registers
its versions when it is established and unregisters them when it goes. Every
change bumps :attr:`KindRegistry.generation`, which the discovery and OpenAPI
documents are cached under, and calls the listeners (synchronously, on the event
loop, so a request that starts after ``register`` returns sees the kind).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from kybernetes.api.resources import Resource
from kybernetes.apiserver.kinds.definition import KindDefinition

Listener = Callable[[], None]
_KUBE_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(version: str) -> tuple[int, int, int, str]:
    """Sort key putting versions in Kubernetes' order: v2, v1, v1beta2, v1beta1,
    v1alpha1, then anything else alphabetically (apimachinery CompareKubeAwareVersionStrings)."""
    match = _KUBE_VERSION.match(version)
    if match is None:
        return (3, 0, 0, version)
    major, stage, minor = match.groups()
    rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (rank, -int(major), -int(minor or 0), "")


class KindRegistry:
    """Definitions by group/version/plural and by apiVersion/kind; changes while serving."""

    def __init__(self, definitions: Iterable[KindDefinition] = ()) -> None:
        self._by_gvr: dict[tuple[str, str, str], KindDefinition] = {}
        self._by_gvk: dict[tuple[str, str], KindDefinition] = {}
        self._builtin_groups: list[str] = []
        self._listeners: list[Listener] = []
        self.generation = 0
        for definition in definitions:
            self._add(definition)
            group = definition.resource.group
            if group not in self._builtin_groups:
                self._builtin_groups.append(group)

    # -- changes ------------------------------------------------------------------------

    def register(self, definitions: Iterable[KindDefinition]) -> None:
        """Add (or replace) definitions, then tell the listeners once."""
        for definition in definitions:
            self._add(definition)
        self._changed()

    def unregister(self, group: str, plural: str) -> list[KindDefinition]:
        """Remove every version of group/plural; returns what was removed."""
        gone = [d for d in self._by_gvr.values()
                if (d.resource.group, d.resource.plural) == (group, plural)]
        for definition in gone:
            self._remove(definition)
        if gone:
            self._changed()
        return gone

    def replace(self, group: str, plural: str, definitions: Iterable[KindDefinition]) -> None:
        """Serve exactly `definitions` for group/plural (versions not among them go), with
        one change: a CRD's update never leaves its kind unserved in between."""
        for old in [d for d in self._by_gvr.values()
                    if (d.resource.group, d.resource.plural) == (group, plural)]:
            self._remove(old)
        for definition in definitions:
            self._add(definition)
        self._changed()

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def _add(self, definition: KindDefinition) -> None:
        r = definition.resource
        previous = self._by_gvr.get((r.group, r.version, r.plural))
        if previous is not None:
            self._remove(previous)
        self._by_gvr[(r.group, r.version, r.plural)] = definition
        self._by_gvk[(r.api_version, r.kind)] = definition

    def _remove(self, definition: KindDefinition) -> None:
        r = definition.resource
        self._by_gvr.pop((r.group, r.version, r.plural), None)
        if self._by_gvk.get((r.api_version, r.kind)) is definition:
            del self._by_gvk[(r.api_version, r.kind)]

    def _changed(self) -> None:
        self.generation += 1
        for listener in list(self._listeners):
            listener()

    # -- lookups ------------------------------------------------------------------------

    def get(self, group: str, version: str, plural: str) -> KindDefinition | None:
        """The served definition at a path's group/version/plural, or None."""
        found = self._by_gvr.get((group, version, plural))
        return found if found is not None and found.served else None

    def by_kind(self, api_version: str, kind: str) -> KindDefinition | None:
        return self._by_gvk.get((api_version, kind))

    def of(self, resource: Resource) -> KindDefinition:
        """The definition of a resource the server itself uses; KeyError if unknown."""
        found = self._by_gvr.get((resource.group, resource.version, resource.plural))
        if found is None:
            raise KeyError(f"{resource.qualified} is not registered")
        return found

    def definitions(self) -> list[KindDefinition]:
        """Every served definition, grouped as discovery lists them."""
        order = {gv: i for i, gv in enumerate(self.group_versions())}
        served = [d for d in self._by_gvr.values() if d.served]
        return sorted(served, key=lambda d: (order[(d.resource.group, d.resource.version)],
                                             d.resource.plural))

    def groups(self) -> list[str]:
        """Built-in groups in their registration order, then the others by name."""
        served = {d.resource.group for d in self._by_gvr.values() if d.served}
        builtin = [g for g in self._builtin_groups if g in served]
        return builtin + sorted(served - set(builtin))

    def versions(self, group: str) -> list[str]:
        """A group's served versions, preferred first."""
        versions = {d.resource.version for d in self._by_gvr.values()
                    if d.served and d.resource.group == group}
        return sorted(versions, key=version_priority)

    def group_versions(self) -> list[tuple[str, str]]:
        return [(g, v) for g in self.groups() for v in self.versions(g)]

    def in_group_version(self, group: str, version: str) -> list[KindDefinition]:
        return sorted((d for d in self._by_gvr.values()
                       if d.served and (d.resource.group, d.resource.version) == (group, version)),
                      key=lambda d: d.resource.plural)

    def for_key_prefix(self, prefix: str) -> list[KindDefinition]:
        """The definitions (one per version) whose objects live under `prefix`."""
        return [d for d in self._by_gvr.values() if d.key_prefix == prefix]
