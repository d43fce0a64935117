"""Discovery documents, built from the resource registry (api/resources.py).

Clients learn what the server serves from:

- `/api` (APIVersions), `/apis` (APIGroupList),
- `/api/v1`, `/apis/<group>/<version>` (APIResourceList, with subresource
  entries such as `pods/status` and `deployments/scale`),
- the aggregated documents (`apidiscovery.k8s.io` v2 and v2beta1
  APIGroupDiscoveryList) that kubectl ≥ 1.26 asks for on `/api` and `/apis`
  with an Accept header, to learn everything in two requests.

All of it is derived from one table, so discovery can never disagree with the
routes. The documents never change while a server runs, so `document()` caches
the serialized bytes; `negotiate()` reads an Accept header the way the
Kubernetes apiserver does (first acceptable media type wins).
"""

from __future__ import annotations

import functools
from typing import Any

import orjson

from kybernetes.api.resources import GROUP_VERSIONS, Resource, in_group_version

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
    "finalize": (None, ("update",)),
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

def api_versions(server_address: str = "") -> dict[str, Any]:
    """`/api`: the core group's versions."""
    return {
        "kind": "APIVersions",
        "versions": [v for g, v in GROUP_VERSIONS if not g],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _api_group(group: str) -> dict[str, Any]:
    versions = [{"groupVersion": f"{group}/{v}", "version": v}
                for g, v in GROUP_VERSIONS if g == group]
    return {"name": group, "versions": versions, "preferredVersion": versions[0]}


def _named_groups() -> list[str]:
    groups: list[str] = []
    for group, _ in GROUP_VERSIONS:
        if group and group not in groups:
            groups.append(group)
    return groups


def api_group_list() -> dict[str, Any]:
    """`/apis`: every named group."""
    return {"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [_api_group(g) for g in _named_groups()]}


def api_group(group: str) -> dict[str, Any] | None:
    """`/apis/<group>`: one group, or None if not served."""
    if group not in _named_groups():
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_api_group(group)}


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


def api_resource_list(group: str, version: str) -> dict[str, Any] | None:
    """`/api/v1` or `/apis/<g>/<v>`: the resources and subresources, or None."""
    if (group, version) not in GROUP_VERSIONS:
        return None
    entries: list[dict[str, Any]] = []
    for resource in sorted(in_group_version(group, version), key=lambda r: r.plural):
        entries.append(_resource_entry(resource))
        entries.extend(_subresource_entry(resource, s) for s in resource.subresources)
    return {"kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": _group_version(group, version), "resources": entries}


# --- aggregated discovery ------------------------------------------------------------------

def _aggregated_resource(resource: Resource) -> dict[str, Any]:
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


def _aggregated_group(group: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {"creationTimestamp": None}
    if group:
        metadata["name"] = group
    versions = []
    for g, version in GROUP_VERSIONS:
        if g != group:
            continue
        resources = sorted(in_group_version(group, version), key=lambda r: r.plural)
        versions.append({"version": version, "freshness": "Current",
                         "resources": [_aggregated_resource(r) for r in resources]})
    return {"metadata": metadata, "versions": versions}


def aggregated(core: bool, version: str = "v2") -> dict[str, Any]:
    """The APIGroupDiscoveryList for `/api` (core=True) or `/apis`."""
    groups = [""] if core else _named_groups()
    return {"kind": AGGREGATED_KIND, "apiVersion": f"{AGGREGATED_GROUP}/{version}",
            "metadata": {}, "items": [_aggregated_group(g) for g in groups]}


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


@functools.cache
def _encoded(path: str, version: str | None, server_address: str) -> bytes | None:
    doc: dict[str, Any] | None
    if version and path in ("/api", "/apis"):
        doc = aggregated(path == "/api", version)
    elif path == "/api":
        doc = api_versions(server_address)
    elif path == "/apis":
        doc = api_group_list()
    else:
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) == 2:
            doc = api_resource_list("", parts[1])
        elif parts[0] == "apis" and len(parts) == 2:
            doc = api_group(parts[1])
        elif parts[0] == "apis" and len(parts) == 3:
            doc = api_resource_list(parts[1], parts[2])
        else:
            doc = None
    return orjson.dumps(doc) if doc is not None else None


def document(path: str, accept: str | None = None,
             server_address: str = "") -> tuple[bytes, str] | None:
    """(body, content type) for a discovery path, or None if it is not one we serve."""
    path = path.rstrip("/") or "/"
    version = negotiate(accept) if path in ("/api", "/apis") else None
    body = _encoded(path, version, server_address)
    if body is None:
        return None
    return body, aggregated_content_type(version) if version else JSON
