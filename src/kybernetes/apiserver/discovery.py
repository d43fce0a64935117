"""Discovery documents, built from the live kind registry.

Clients learn what the server serves from:

- `/api` (APIVersions), `/apis` (APIGroupList),
- `/api/v1`, `/apis/<group>/<version>` (APIResourceList, with subresource
  entries such as `pods/status` and `deployments/scale`),
- the aggregated documents (`apidiscovery.k8s.io` v2 and v2beta1
  APIGroupDiscoveryList) that kubectl ≥ 1.26 asks for on `/api` and `/apis`
  with an Accept header, to learn everything in two requests.

All of it is derived from the registry routing also reads, so discovery can
never disagree with the routes. :class:`Discovery` caches the serialized bytes
under the registry's generation, so a kind added or removed (a CRD) shows at
once; `negotiate()` reads an Accept header the way the Kubernetes apiserver
does (first acceptable media type wins).
"""

from __future__ import annotations

from typing import Any

import orjson

from kybernetes.api.resources import Resource
from kybernetes.apiserver.kinds.definition import KindDefinition
from kybernetes.apiserver.kinds.registry import KindRegistry

JSON = "application/json"
AGGREGATED_GROUP = "apidiscovery.k8s.io"
AGGREGATED_VERSIONS = ("v2", "v2beta1")
AGGREGATED_KIND = "APIGroupDiscoveryList"

_STATUS_VERBS = ("get", "patch", "update")
_PROXY_VERBS = ("create", "delete", "get", "patch", "update")

# subresource → ((group, version, kind) of its body or None for the parent's kind, verbs)
_SUBRESOURCES: dict[str, tuple[tuple[str, str, str] | None, tuple[str, ...]]] = {
    "status": (None, _STATUS_VERBS),
    "scale": (("autoscaling", "v1", "Scale"), _STATUS_VERBS),
    "binding": (("", "v1", "Binding"), ("create",)),
    "log": (None, ("get",)),
    "exec": (("", "v1", "PodExecOptions"), ("create", "get")),
    "attach": (("", "v1", "PodAttachOptions"), ("create", "get")),
    "portforward": (("", "v1", "PodPortForwardOptions"), ("create", "get")),
    "eviction": (("policy", "v1", "Eviction"), ("create",)),
    "token": (("authentication.k8s.io", "v1", "TokenRequest"), ("create",)),
    "finalize": (None, ("update",)),
    "ephemeralcontainers": (None, ("get", "patch", "update")),
    "proxy": (None, _PROXY_VERBS),
}


def _subresource_kind(resource: Resource, sub: str) -> tuple[str, str, str]:
    body, _ = _SUBRESOURCES.get(sub, (None, ()))
    if sub == "proxy":
        return ("", "v1", f"{resource.kind}ProxyOptions")
    return body or (resource.group, resource.version, resource.kind)


def _subresource_verbs(sub: str) -> list[str]:
    return list(_SUBRESOURCES.get(sub, (None, ("get",)))[1])


def _group_version(group: str, version: str) -> str:
    return f"{group}/{version}" if group else version


# --- legacy (unaggregated) documents -------------------------------------------------------

def api_versions(kinds: KindRegistry, server_address: str = "") -> dict[str, Any]:
    """`/api`: the core group's versions."""
    return {
        "kind": "APIVersions",
        "versions": kinds.versions(""),
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _api_group(kinds: KindRegistry, group: str) -> dict[str, Any]:
    versions = [{"groupVersion": f"{group}/{v}", "version": v} for v in kinds.versions(group)]
    return {"name": group, "versions": versions, "preferredVersion": versions[0]}


def api_group_list(kinds: KindRegistry) -> dict[str, Any]:
    """`/apis`: every named group."""
    return {"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [_api_group(kinds, g) for g in kinds.groups() if g]}


def api_group(kinds: KindRegistry, group: str) -> dict[str, Any] | None:
    """`/apis/<group>`: one group, or None if not served."""
    if not group or group not in kinds.groups():
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_api_group(kinds, group)}


def _names(resource: Resource) -> dict[str, list[str]]:
    """The optional shortNames and categories both discovery formats carry."""
    names: dict[str, list[str]] = {}
    if resource.short_names:
        names["shortNames"] = list(resource.short_names)
    if resource.categories:
        names["categories"] = list(resource.categories)
    return names


def _resource_entry(resource: Resource) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": resource.plural,
        "singularName": resource.singular_name,
        "namespaced": resource.namespaced,
        "kind": resource.kind,
        "verbs": list(resource.verbs),
    }
    entry.update(_names(resource))
    return entry


def _subresource_entry(resource: Resource, sub: str) -> dict[str, Any]:
    group, version, kind = _subresource_kind(resource, sub)
    entry: dict[str, Any] = {"name": f"{resource.plural}/{sub}", "singularName": "",
                             "namespaced": resource.namespaced, "kind": kind,
                             "verbs": _subresource_verbs(sub)}
    if (group, version) != (resource.group, resource.version):
        entry["group"], entry["version"] = group, version
    return entry


def api_resource_list(kinds: KindRegistry, group: str, version: str
                      ) -> dict[str, Any] | None:
    """`/api/v1` or `/apis/<g>/<v>`: the resources and subresources, or None."""
    served = kinds.in_group_version(group, version)
    if not served:
        return None
    entries: list[dict[str, Any]] = []
    for kind in served:
        resource = kind.resource
        entries.append(_resource_entry(resource))
        entries.extend(_subresource_entry(resource, s) for s in resource.subresources)
    return {"kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": _group_version(group, version), "resources": entries}


# --- aggregated discovery ------------------------------------------------------------------

def _aggregated_resource(kind: KindDefinition) -> dict[str, Any]:
    resource = kind.resource
    entry: dict[str, Any] = {
        "resource": resource.plural,
        "responseKind": {"group": resource.group, "version": resource.version,
                         "kind": resource.kind},
        "scope": "Namespaced" if resource.namespaced else "Cluster",
        "singularResource": resource.singular_name,
        "verbs": list(resource.verbs),
    }
    entry.update(_names(resource))
    if resource.subresources:
        entry["subresources"] = [
            {"subresource": sub,
             "responseKind": dict(zip(("group", "version", "kind"),
                                      _subresource_kind(resource, sub), strict=True)),
             "verbs": _subresource_verbs(sub)}
            for sub in resource.subresources]
    return entry


def _aggregated_group(kinds: KindRegistry, group: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {"creationTimestamp": None}
    if group:
        metadata["name"] = group
    versions = []
    for version in kinds.versions(group):
        versions.append({"version": version, "freshness": "Current",
                         "resources": [_aggregated_resource(k)
                                       for k in kinds.in_group_version(group, version)]})
    return {"metadata": metadata, "versions": versions}


def aggregated(kinds: KindRegistry, core: bool, version: str = "v2") -> dict[str, Any]:
    """The APIGroupDiscoveryList for `/api` (core=True) or `/apis`."""
    groups = [""] if core else [g for g in kinds.groups() if g]
    return {"kind": AGGREGATED_KIND, "apiVersion": f"{AGGREGATED_GROUP}/{version}",
            "metadata": {}, "items": [_aggregated_group(kinds, g) for g in groups]}


def aggregated_content_type(version: str) -> str:
    return f"application/json;g={AGGREGATED_GROUP};v={version};as={AGGREGATED_KIND}"


# --- negotiation and cached bytes -----------------------------------------------------------

def _media_types(accept: str) -> list[tuple[str, dict[str, str]]]:
    out = []
    for part in (accept or "").split(","):
        fields = [f.strip() for f in part.split(";")]
        if not fields[0]:
            continue
        params = {}
        for field in fields[1:]:
            key, _, value = field.partition("=")
            params[key.strip().lower()] = value.strip()
        out.append((fields[0].lower(), params))
    return out


def negotiate(accept: str | None) -> str | None:
    """The aggregated version (`v2`/`v2beta1`) the Accept header prefers, else None."""
    for media, params in _media_types(accept or ""):
        if media not in (JSON, "application/*", "*/*"):
            continue
        if (params.get("g") == AGGREGATED_GROUP and params.get("as") == AGGREGATED_KIND
                and params.get("v") in AGGREGATED_VERSIONS):
            return params["v"]
        if "as" not in params:
            return None
    return None


class Discovery:
    """The discovery documents of one API server, cached until its kinds change."""

    def __init__(self, kinds: KindRegistry, server_address: str = "") -> None:
        self.kinds = kinds
        self.server_address = server_address
        self._cache: dict[tuple[str, str | None], bytes | None] = {}
        self._generation = kinds.generation

    def _build(self, path: str, version: str | None) -> dict[str, Any] | None:
        kinds = self.kinds
        if version and path in ("/api", "/apis"):
            return aggregated(kinds, path == "/api", version)
        if path == "/api":
            return api_versions(kinds, self.server_address)
        if path == "/apis":
            return api_group_list(kinds)
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) == 2:
            return api_resource_list(kinds, "", parts[1])
        if parts[0] == "apis" and len(parts) == 2:
            return api_group(kinds, parts[1])
        if parts[0] == "apis" and len(parts) == 3:
            return api_resource_list(kinds, parts[1], parts[2])
        return None

    def document(self, path: str, accept: str | None = None) -> tuple[bytes, str] | None:
        """(body, content type) for a discovery path, or None if it is not one we serve."""
        if self._generation != self.kinds.generation:
            self._cache.clear()
            self._generation = self.kinds.generation
        path = path.rstrip("/") or "/"
        version = negotiate(accept) if path in ("/api", "/apis") else None
        key = (path, version)
        if key not in self._cache:
            doc = self._build(path, version)
            self._cache[key] = orjson.dumps(doc) if doc is not None else None
        body = self._cache[key]
        if body is None:
            return None
        return body, aggregated_content_type(version) if version else JSON
