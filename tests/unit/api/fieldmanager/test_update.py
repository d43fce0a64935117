"""Update bookkeeping, the client-side → server-side apply upgrade, and manager names."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kybernetes.api import errors
from kybernetes.api.fieldmanager import (
    LAST_APPLIED,
    FieldSet,
    apply,
    managed_fields_for_update,
    manager_or_user_agent,
    update_managed_fields,
)
from kybernetes.api.fieldmanager.lastapplied import go_json

T0, T1, T2 = "2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z", "2024-01-03T00:00:00Z"


def _update(
    old: Any, new: Any, schema: Any, reset: FieldSet, manager: str, now: str
) -> list[dict[str, Any]]:
    managed = (old or {}).get("metadata", {}).get("managedFields")
    return update_managed_fields(
        old,
        new,
        managed,
        manager=manager,
        api_version="apps/v1",
        now=now,
        schema=schema,
        ignored=reset,
    )


def _created(config: Any, schema: Any, reset: FieldSet, manager: str) -> dict[str, Any]:
    obj = copy.deepcopy(config)
    obj["metadata"]["managedFields"] = _update(None, obj, schema, reset, manager, T0)
    return obj


def test_create_records_like_kubernetes(
    deployment_schema: Any, main_reset: FieldSet, config: Any
) -> None:
    obj = _created(config, deployment_schema, main_reset, "kubectl-create")
    [entry] = obj["metadata"]["managedFields"]
    assert (entry["manager"], entry["operation"], entry["time"]) == ("kubectl-create", "Update", T0)
    fields = entry["fieldsV1"]
    assert fields["f:metadata"]["f:labels"] == {".": {}, "f:app": {}}
    assert "." not in fields["f:spec"] and "." not in fields["f:spec"]["f:template"]
    assert fields["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"nginx"}']["."] == {}


def test_writer_gains_changes_and_others_lose_them(
    deployment_schema: Any, main_reset: FieldSet, config: Any
) -> None:
    obj = _created(config, deployment_schema, main_reset, "kubectl-create")
    new = copy.deepcopy(obj)
    new["spec"]["replicas"] = 4
    new["status"] = {"replicas": 4}
    managed = _update(obj, new, deployment_schema, main_reset, "kube-controller-manager", T1)
    owners = {e["manager"]: FieldSet.from_fields_v1(e["fieldsV1"]) for e in managed}
    assert set(owners["kube-controller-manager"]) == {("f:spec", "f:replicas")}
    assert not owners["kubectl-create"].has(("f:spec", "f:replicas"))


def test_a_write_that_changes_nothing_keeps_the_entries(
    deployment_schema: Any, main_reset: FieldSet, config: Any
) -> None:
    obj = _created(config, deployment_schema, main_reset, "kubectl-create")
    new = copy.deepcopy(obj)
    new["metadata"]["resourceVersion"] = "7"
    assert (
        _update(obj, new, deployment_schema, main_reset, "other", T1)
        == obj["metadata"]["managedFields"]
    )


def test_an_empty_managed_fields_list_resets_them() -> None:
    live = {"metadata": {"managedFields": [{"manager": "a"}]}}
    assert managed_fields_for_update(live, {"metadata": {"managedFields": []}}) == []
    assert managed_fields_for_update(live, {"metadata": {}}) == [{"manager": "a"}]
    assert managed_fields_for_update(live, {"metadata": {"managedFields": []}}, "status") == [
        {"manager": "a"}
    ]


def test_update_managers_are_capped_at_ten(
    deployment_schema: Any, main_reset: FieldSet, config: Any
) -> None:
    obj = _created(config, deployment_schema, main_reset, "m00")
    for index in range(1, 12):
        new = copy.deepcopy(obj)
        new["metadata"]["labels"][f"l{index}"] = "x"
        new["metadata"]["managedFields"] = _update(
            obj, new, deployment_schema, main_reset, f"m{index:02}", f"2024-01-01T00:00:{index:02}Z"
        )
        obj = new
    managers = [e["manager"] for e in obj["metadata"]["managedFields"]]
    assert len(managers) == 10 and "ancient-changes" in managers


def _client_side_applied(config: Any, schema: Any, reset: FieldSet) -> dict[str, Any]:
    """What client-side `kubectl apply` leaves: the annotation, and its fields owned."""
    obj = copy.deepcopy(config)
    obj["metadata"]["annotations"] = {LAST_APPLIED: go_json(config)}
    obj["metadata"]["managedFields"] = _update(
        None, obj, schema, reset, "kubectl-client-side-apply", T0
    )
    return obj


def test_server_side_apply_by_kubectl_upgrades_a_client_side_applied_object(
    deployment_schema: Any, main_reset: FieldSet, config: Any
) -> None:
    live = _client_side_applied(config, deployment_schema, main_reset)
    config["spec"]["replicas"] = 3
    merged, managed = apply(
        live,
        copy.deepcopy(config),
        live["metadata"]["managedFields"],
        manager="kubectl",
        api_version="apps/v1",
        force=False,
        schema=deployment_schema,
        ignored=main_reset,
        now=T1,
    )
    assert merged["spec"]["replicas"] == 3
    kubectl = next(e for e in managed if e["manager"] == "kubectl")
    assert FieldSet.from_fields_v1(kubectl["fieldsV1"]).has(("f:spec", "f:replicas"))
    assert merged["metadata"]["annotations"][LAST_APPLIED] == go_json(config)


def test_another_manager_still_conflicts_with_client_side_apply(
    deployment_schema: Any, main_reset: FieldSet, config: Any
) -> None:
    live = _client_side_applied(config, deployment_schema, main_reset)
    config["spec"]["replicas"] = 3
    with pytest.raises(
        errors.Conflict, match='conflict with "kubectl-client-side-apply" using apps/v1'
    ):
        apply(
            live,
            config,
            live["metadata"]["managedFields"],
            manager="helm",
            api_version="apps/v1",
            force=False,
            schema=deployment_schema,
            ignored=main_reset,
            now=T1,
        )


def test_default_manager_comes_from_the_user_agent() -> None:
    assert (
        manager_or_user_agent(None, "kubectl-edit/v1.33.0 (linux/amd64) kubernetes/abc")
        == "kubectl-edit"
    )
    assert manager_or_user_agent("mine", "kubectl/v1.33.0") == "mine"
    assert manager_or_user_agent(None, "x" * 200) == "x" * 128
