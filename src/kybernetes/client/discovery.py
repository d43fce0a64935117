"""What the server serves now, from aggregated discovery (two requests, as kubectl asks).

Controllers that act on every kind (the garbage collector, the namespace
controller) follow the server's kinds as they come and go (CustomResource-
Definitions) through this, as Kubernetes' do through their discovery clients.
"""

from __future__ import annotations

from typing import Any, Protocol

from kybernetes.api.resources import Resource

AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


class Requester(Protocol):
    """The one client method discovery needs."""

    async def request(self, method: str, path: str, *, accept: str | None = None) -> Any: ...


def _resources(document: dict[str, Any]) -> list[Resource]:
    """The resources of each group's preferred (first) version."""
    out = []
    for group in document.get("items") or ():
        versions = group.get("versions") or []
        if not versions:
            continue
        name = (group.get("metadata") or {}).get("name") or ""
        version = versions[0]
        for entry in version.get("resources") or ():
            kind = (entry.get("responseKind") or {}).get("kind") or ""
            out.append(Resource(
                name, version.get("version", ""), entry["resource"], kind,
                entry.get("scope") == "Namespaced",
                short_names=tuple(entry.get("shortNames") or ()),
                subresources=tuple(s.get("subresource", "") for s in
                                   entry.get("subresources") or ()),
                verbs=tuple(entry.get("verbs") or ()),
                singular=entry.get("singularResource") or "",
                categories=tuple(entry.get("categories") or ())))
    return out


async def served_resources(client: Requester) -> list[Resource]:
    """Every resource the server serves now, in its group's preferred version."""
    core = await client.request("GET", "/api", accept=AGGREGATED)
    groups = await client.request("GET", "/apis", accept=AGGREGATED)
    return _resources(core) + _resources(groups)
