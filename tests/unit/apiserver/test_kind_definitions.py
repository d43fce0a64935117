"""Every built-in kind has every part of its definition, and the registry is live.

A new kind cannot forget its table columns, its field selectors, its schema or
its strategy: the dataclass has no defaults for them, and this test checks that
what is given fits the kind (the schema is Kubernetes' own for that
group/version/kind, the table prints one cell per column, and so on).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import orjson
import pytest

from kybernetes.api import schema
from kybernetes.api.resources import Resource
from kybernetes.apiserver.discovery import Discovery
from kybernetes.apiserver.kinds.builtin import BUILTIN, builtin_registry
from kybernetes.apiserver.kinds.definition import KindDefinition
from kybernetes.apiserver.kinds.registry import version_priority
from kybernetes.apiserver.openapi import OpenApi
from kybernetes.apiserver.tables import table_for

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
IDS = [k.resource.qualified for k in BUILTIN]


def minimal(kind: KindDefinition) -> dict[str, object]:
    r = kind.resource
    meta = {"name": "x", "creationTimestamp": "2025-12-31T00:00:00Z"}
    if r.namespaced:
        meta["namespace"] = "default"
    return {"apiVersion": r.api_version, "kind": r.kind, "metadata": meta}


@pytest.mark.parametrize("kind", BUILTIN, ids=IDS)
def test_every_part_is_there_and_fits_the_kind(kind: KindDefinition) -> None:
    r = kind.resource
    assert r.kind and r.plural and r.version and r.verbs
    # Kubernetes' own schema for exactly this group/version/kind, published under that name.
    node = kind.schema()
    assert node is not None
    # (metrics.k8s.io is metrics-server's API: its schemas are k8s.io/metrics', written out)
    assert kind.openapi_name == (schema.definition_name(r.api_version, r.kind) or (
        f"io.k8s.metrics.pkg.apis.metrics.v1beta1.{r.kind}" if r.group == "metrics.k8s.io"
        else None))
    assert {"group": r.group, "version": r.version, "kind": r.kind} in \
        node["x-kubernetes-group-version-kind"]
    # Table: a Name column, and one cell per column for an object with nothing set.
    names = [c[0] for c in kind.table.columns]
    assert "Name" in names and len(set(names)) == len(names)
    row = table_for(kind.table, [minimal(kind)], now=NOW)["rows"][0]
    assert len(row["cells"]) == len(kind.table.columns)
    # Field selectors: metadata's always, every getter works on an empty object.
    assert {"metadata.name", "metadata.namespace"} <= set(kind.selectable_fields)
    for getter in kind.selectable_fields.values():
        assert isinstance(getter({}), str)
    # Strategy and subresources agree.
    assert kind.strategy is not None
    assert (kind.scale is not None) == ("scale" in r.subresources)
    if kind.strategy.resets_status_on_create:
        assert kind.has_status
    # Defaulting and validation accept a minimal object of the kind (where it can be valid).
    obj = minimal(kind)
    kind.apply_defaults(obj)
    assert all(isinstance(c, tuple) and len(c) == 3 for c in kind.causes(obj))


def test_the_registry_finds_every_kind_both_ways() -> None:
    kinds = builtin_registry()
    for kind in BUILTIN:
        r = kind.resource
        assert kinds.get(r.group, r.version, r.plural) is kind
        assert kinds.by_kind(r.api_version, r.kind) is kind
        assert kinds.of(r) is kind
    assert kinds.groups() == ["", "apps", "authentication.k8s.io", "authorization.k8s.io",
                              "autoscaling", "batch", "certificates.k8s.io", "networking.k8s.io",
                              "policy",
                              "rbac.authorization.k8s.io",
                              "storage.k8s.io",
                              "coordination.k8s.io", "apiextensions.k8s.io",
                              "admissionregistration.k8s.io", "scheduling.k8s.io",
                              "discovery.k8s.io", "events.k8s.io",
                              "metrics.k8s.io"]


def test_kube_aware_version_order() -> None:
    versions = ["v1alpha1", "v1", "foo", "v2beta1", "v1beta2", "v2", "v1beta1", "v10"]
    assert sorted(versions, key=version_priority) == [
        "v10", "v2", "v1", "v2beta1", "v1beta2", "v1beta1", "v1alpha1", "foo"]


def test_discovery_and_openapi_follow_kinds_added_and_removed() -> None:
    kinds = builtin_registry()
    discovery, openapi = Discovery(kinds), OpenApi(kinds)
    assert discovery.document("/apis/example.com/v1") is None
    before = openapi.encoded("v3")
    leases = kinds.of(Resource("coordination.k8s.io", "v1", "leases", "Lease", True))
    widget = replace(leases, resource=Resource("example.com", "v1", "widgets", "Widget", True,
                                               short_names=("wd",)),
                     storage_prefix="/registry/example.com/widgets/")
    changes: list[int] = []
    kinds.subscribe(lambda: changes.append(kinds.generation))
    kinds.register([widget])
    assert changes == [1]
    body, _ = discovery.document("/apis/example.com/v1") or (b"", "")
    listed = orjson.loads(body)["resources"]
    assert [(e["name"], e["kind"], e["shortNames"]) for e in listed] == [
        ("widgets", "Widget", ["wd"])]
    assert any(g["name"] == "example.com" for g in
               orjson.loads((discovery.document("/apis") or (b"{}", ""))[0])["groups"])
    index = orjson.loads(openapi.encoded("v3"))["paths"]
    assert "apis/example.com/v1" in index and openapi.encoded("v3") != before
    assert kinds.unregister("example.com", "widgets") == [widget]
    assert discovery.document("/apis/example.com/v1") is None
    assert "apis/example.com/v1" not in orjson.loads(openapi.encoded("v3"))["paths"]
