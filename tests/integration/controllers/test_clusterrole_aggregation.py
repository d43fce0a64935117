"""The clusterrole-aggregation controller keeps aggregated ClusterRoles (view, and roles of
one's own) the union of the rules of the ClusterRoles they select."""

from __future__ import annotations

from typing import Any

from kybernetes.api.resources import CLUSTER_ROLES
from kybernetes.client import ApiClient
from tests.integration.controllers.helpers import running
from tests.support.poll import eventually

GROUP = "rbac.authorization.k8s.io"


def _cluster_role(name: str, rules: list[dict[str, Any]], labels: dict[str, str] | None = None,
                  aggregate: dict[str, str] | None = None) -> dict[str, Any]:
    role: dict[str, Any] = {"apiVersion": f"{GROUP}/v1", "kind": "ClusterRole",
                            "metadata": {"name": name, "labels": labels or {}}, "rules": rules}
    if aggregate:
        role["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": aggregate}]}
    return role


async def test_a_labelled_role_adds_its_rules_to_view_and_takes_them_away(
        client: ApiClient, ns: str) -> None:
    widgets = {"apiGroups": ["example.com"], "resources": [f"widgets-{ns}"],
               "verbs": ["get", "list", "watch"]}

    async def view_has_widgets() -> bool:
        view = await client.get(CLUSTER_ROLES, "view")
        return widgets in (view.get("rules") or [])

    async with running(client, "clusterrole-aggregation"):
        await client.create(CLUSTER_ROLES, _cluster_role(
            f"widget-viewer-{ns}", [widgets], labels={f"{GROUP}/aggregate-to-view": "true"}))
        await eventually(view_has_widgets, within=5, what="widgets rule in view")
        # edit aggregates view, admin aggregates edit: the rule travels up
        await eventually(lambda: _has(client, "admin", widgets), within=5,
                         what="widgets rule in admin")
        await client.delete(CLUSTER_ROLES, f"widget-viewer-{ns}")
        await eventually(lambda: _lacks(client, "view", widgets), within=5,
                         what="widgets rule gone from view")


async def _has(client: ApiClient, name: str, rule: dict[str, Any]) -> bool:
    return rule in ((await client.get(CLUSTER_ROLES, name)).get("rules") or [])


async def _lacks(client: ApiClient, name: str, rule: dict[str, Any]) -> bool:
    return not await _has(client, name, rule)


async def test_rules_are_deduplicated_and_written_only_when_changed(
        client: ApiClient, ns: str) -> None:
    label = {f"example.com/aggregate-{ns}": "true"}
    read = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}
    write = {"apiGroups": [""], "resources": ["pods"], "verbs": ["delete"]}
    await client.create(CLUSTER_ROLES, _cluster_role(f"b-{ns}", [read, write], labels=label))
    await client.create(CLUSTER_ROLES, _cluster_role(f"a-{ns}", [write], labels=label))
    await client.create(CLUSTER_ROLES, _cluster_role(f"agg-{ns}", [], aggregate=label))

    async def aggregated() -> dict[str, Any] | None:
        role = await client.get(CLUSTER_ROLES, f"agg-{ns}")
        return role if role.get("rules") else None

    async with running(client, "clusterrole-aggregation"):
        role = await eventually(aggregated, within=5, what="aggregated rules")
        assert role["rules"] == [write, read]  # roles by name (a, b), each rule once
        await client.create(CLUSTER_ROLES, _cluster_role(f"unrelated-{ns}", [read]))
        # a sentinel aggregation queued after that event: once it is filled, the event
        # that re-queued agg has been handled too (one worker, first in first out)
        other = {f"example.com/sentinel-{ns}": "true"}
        await client.create(CLUSTER_ROLES, _cluster_role(f"s-{ns}", [read], labels=other))
        await client.create(CLUSTER_ROLES, _cluster_role(f"sentinel-{ns}", [], aggregate=other))
        await eventually(lambda: _has(client, f"sentinel-{ns}", read), within=5,
                         what="sentinel aggregated")
        again = await client.get(CLUSTER_ROLES, f"agg-{ns}")
        assert again["metadata"]["resourceVersion"] == role["metadata"]["resourceVersion"]
