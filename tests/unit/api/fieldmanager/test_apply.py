"""Server-side apply: merge, removal, shared ownership, conflicts, force, idempotence."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from kybernetes.api import errors
from kybernetes.api.fieldmanager import FieldSet, apply, reset_fields, update_managed_fields

T0, T1, T2 = "2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z", "2024-01-03T00:00:00Z"


def _apply(
    live: Any,
    config: Any,
    schema: Any,
    reset: FieldSet,
    *,
    manager: str = "kubectl",
    force: bool = False,
    now: str = T1,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    managed = (live or {}).get("metadata", {}).get("managedFields")
    return apply(
        live,
        config,
        managed,
        manager=manager,
        api_version="apps/v1",
        force=force,
        schema=schema,
        ignored=reset,
        now=now,
    )


def _container(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["spec"]["template"]["spec"]["containers"][0]


def _owned(entries: list[dict[str, Any]], manager: str) -> FieldSet:
    return next(FieldSet.from_fields_v1(e["fieldsV1"]) for e in entries if e["manager"] == manager)


def test_apply_creates_with_one_apply_entry(
    deployment_schema: Any, main_reset: FieldSet, config: Any
) -> None:
    obj, managed = _apply(None, config, deployment_schema, main_reset, now=T0)
    assert obj["spec"]["replicas"] == 2 and obj["metadata"]["managedFields"] == managed
    assert [(e["manager"], e["operation"], e["time"]) for e in managed] == [
        ("kubectl", "Apply", T0)
    ]
    assert "f:name" not in managed[0]["fieldsV1"]["f:metadata"]


def test_reapplying_the_same_config_changes_nothing(
    deployment_schema: Any, main_reset: FieldSet, config: Any
) -> None:
    obj, _ = _apply(None, config, deployment_schema, main_reset, now=T0)
    again, _ = _apply(obj, copy.deepcopy(config), deployment_schema, main_reset, now=T2)
    assert orjson.dumps(again) == orjson.dumps(obj)


def test_containers_ports_and_env_merge_by_their_keys(
    deployment_schema: Any, main_reset: FieldSet, config: Any
) -> None:
    obj, _ = _apply(None, config, deployment_schema, main_reset)
    live = copy.deepcopy(obj)
    _container(live)["ports"][0]["protocol"] = "TCP"  # defaulted by the server
    _container(live)["imagePullPolicy"] = "IfNotPresent"
    other = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "nginx",
                            "ports": [
                                {"containerPort": 80, "protocol": "TCP", "name": "http"},
                                {"containerPort": 53, "protocol": "UDP"},
                            ],
                            "env": [{"name": "C", "value": "3"}],
                        }
                    ]
                }
            }
        },
    }
    merged, managed = _apply(live, other, deployment_schema, main_reset, manager="sidecar")
    container = _container(merged)
    assert container["image"] == "nginx:1" and container["imagePullPolicy"] == "IfNotPresent"
    assert container["ports"] == [
        {"containerPort": 80, "protocol": "TCP", "name": "http"},
        {"containerPort": 53, "protocol": "UDP"},
    ]
    assert [e["name"] for e in container["env"]] == ["A", "B", "C"]
    assert {e["manager"] for e in managed} == {"kubectl", "sidecar"}


def test_set_lists_merge_by_value_and_atomic_lists_are_replaced(
    deployment_schema: Any, main_reset: FieldSet, config: Any
) -> None:
    obj, _ = _apply(None, copy.deepcopy(config), deployment_schema, main_reset)
    other = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "finalizers": ["c/d"]},
    }
    merged, _ = _apply(obj, other, deployment_schema, main_reset, manager="finalizer")
    assert merged["metadata"]["finalizers"] == ["a/b", "c/d"]
    config["spec"]["template"]["spec"]["containers"][0]["args"] = ["-v"]
    merged, _ = _apply(merged, config, deployment_schema, main_reset)
    assert _container(merged)["args"] == ["-v"]


def test_fields_no_longer_applied_are_removed(
    deployment_schema: Any, main_reset: FieldSet, config: Any
) -> None:
    obj, _ = _apply(None, copy.deepcopy(config), deployment_schema, main_reset)
    del config["spec"]["template"]["spec"]["containers"][0]["env"][1]
    del config["metadata"]["labels"]
    merged, managed = _apply(obj, config, deployment_schema, main_reset)
    assert [e["name"] for e in _container(merged)["env"]] == ["A"]
    assert "labels" not in merged["metadata"]
    assert not _owned(managed, "kubectl").has(("f:metadata", "f:labels", "f:app"))


def test_a_field_another_manager_owns_stays_when_no_longer_applied(
    deployment_schema: Any, main_reset: FieldSet, config: Any
) -> None:
    obj, _ = _apply(None, config, deployment_schema, main_reset)
    shared = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"replicas": 2},
    }
    obj, managed = _apply(obj, shared, deployment_schema, main_reset, manager="scaler")
    config = copy.deepcopy(config)
    assert _owned(managed, "scaler").has(("f:spec", "f:replicas"))
    assert _owned(managed, "kubectl").has(
        ("f:spec", "f:replicas")
    )  # same value: shared, no conflict
    del config["spec"]["replicas"]
    merged, managed = _apply(obj, config, deployment_schema, main_reset)
    assert merged["spec"]["replicas"] == 2
    assert not _owned(managed, "kubectl").has(("f:spec", "f:replicas"))


def test_changing_a_field_another_manager_owns_is_a_conflict(
    deployment_schema: Any, main_reset: FieldSet, config: Any
) -> None:
    obj, _ = _apply(None, config, deployment_schema, main_reset)
    scaled = copy.deepcopy(obj)
    scaled["spec"]["replicas"] = 5
    scaled["metadata"]["managedFields"] = update_managed_fields(
        obj,
        scaled,
        obj["metadata"]["managedFields"],
        manager="kube-controller-manager",
        api_version="apps/v1",
        now=T1,
        schema=deployment_schema,
        ignored=main_reset,
    )
    with pytest.raises(errors.Conflict) as raised:
        _apply(scaled, config, deployment_schema, main_reset, now=T2)
    assert raised.value.code == 409
    assert raised.value.message == (
        'Apply failed with 1 conflict: conflict with "kube-controller-manager" '
        "using apps/v1: .spec.replicas"
    )
    assert raised.value.details == {
        "causes": [
            {
                "reason": "FieldManagerConflict",
                "message": 'conflict with "kube-controller-manager" using apps/v1',
                "field": ".spec.replicas",
            }
        ]
    }


def test_several_conflicts_are_grouped_by_manager(
    deployment_schema: Any, main_reset: FieldSet, config: Any
) -> None:
    obj, _ = _apply(
        None, copy.deepcopy(config), deployment_schema, main_reset
    )  # results share the config
    config["spec"]["replicas"] = 3
    config["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"
    with pytest.raises(errors.Conflict) as raised:
        _apply(obj, config, deployment_schema, main_reset, manager="other")
    assert raised.value.message == (
        'Apply failed with 2 conflicts: conflicts with "kubectl":\n- .spec.replicas\n'
        '- .spec.template.spec.containers[name="nginx"].image'
    )
    assert [c["field"] for c in raised.value.details["causes"]] == [
        ".spec.replicas",
        '.spec.template.spec.containers[name="nginx"].image',
    ]


def test_force_takes_ownership(deployment_schema: Any, main_reset: FieldSet, config: Any) -> None:
    obj, _ = _apply(None, config, deployment_schema, main_reset)
    mine = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"replicas": 9},
    }
    merged, managed = _apply(
        obj, mine, deployment_schema, main_reset, manager="hpa", force=True, now=T2
    )
    assert merged["spec"]["replicas"] == 9
    assert not _owned(managed, "kubectl").has(("f:spec", "f:replicas"))
    assert _owned(managed, "hpa").has(("f:spec", "f:replicas"))
    assert [e["manager"] for e in managed] == ["kubectl", "hpa"]  # sorted by time


def test_status_in_an_applied_config_is_not_recorded(
    deployment_schema: Any, main_reset: FieldSet, config: Any
) -> None:
    config["status"] = {"replicas": 1}
    _, managed = _apply(None, config, deployment_schema, main_reset)
    assert "f:status" not in managed[0]["fieldsV1"]


def test_an_applier_of_status_is_its_own_manager(deployment_schema: Any, config: Any) -> None:
    live, _ = _apply(None, config, deployment_schema, reset_fields(deployment_schema))
    status = {"apiVersion": "apps/v1", "kind": "Deployment", "status": {"replicas": 2}}
    managed = live["metadata"]["managedFields"]
    _, entries = apply(
        live,
        status,
        managed,
        manager="kubectl",
        api_version="apps/v1",
        force=False,
        schema=deployment_schema,
        ignored=reset_fields(deployment_schema, "status"),
        subresource="status",
        now=T2,
    )
    assert [(e["manager"], e["operation"], e.get("subresource")) for e in entries] == [
        ("kubectl", "Apply", None),
        ("kubectl", "Apply", "status"),
    ]
    assert entries[1]["fieldsV1"] == {"f:status": {"f:replicas": {}}}


def test_a_config_of_another_version_is_a_bad_request(
    deployment_schema: Any, main_reset: FieldSet, config: Any
) -> None:
    config["apiVersion"] = "apps/v1beta1"
    with pytest.raises(
        errors.BadRequest, match="Specified patch version: apps/v1beta1, expected: apps/v1"
    ):
        _apply(None, config, deployment_schema, main_reset)
