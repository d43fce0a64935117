"""DaemonSet kinds and decisions, pure: defaults, validation, table, placement
(nodeSelector, affinity, taints and the default tolerations), revisions, and the
RollingUpdate step."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from kybernetes.api import resources
from kybernetes.controllers import controller_history as history
from kybernetes.controllers import daemon_history
from kybernetes.controllers import daemon_placement as placement
from kybernetes.controllers import daemon_rollout as rollout
from tests.support.kinds import apply_defaults, table_for, validate

DS: dict[str, Any] = {
    "apiVersion": "apps/v1", "kind": "DaemonSet",
    "metadata": {"name": "agent", "namespace": "default"},
    "spec": {"selector": {"matchLabels": {"app": "agent"}},
             "template": {"metadata": {"labels": {"app": "agent"}},
                          "spec": {"containers": [{"name": "c", "image": "img"}]}}}}


def defaulted(obj: dict[str, Any] = DS) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    apply_defaults(resources.DAEMON_SETS, out)
    return out


def causes(obj: dict[str, Any], old: dict[str, Any] | None = None) -> set[tuple[str, str]]:
    return {(path, reason) for path, reason, _ in validate(resources.DAEMON_SETS, obj, old)}


def node(name: str, labels: dict[str, str] | None = None,
         taints: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels or {}},
            "spec": {"taints": taints or []}}


def test_defaults_as_kubernetes() -> None:
    ds = defaulted()
    assert ds["spec"]["updateStrategy"] == {
        "type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
    assert ds["spec"]["revisionHistoryLimit"] == 10
    assert ds["spec"]["template"]["spec"]["restartPolicy"] == "Always"
    on_delete = copy.deepcopy(DS)
    on_delete["spec"]["updateStrategy"] = {"type": "OnDelete"}
    assert defaulted(on_delete)["spec"]["updateStrategy"] == {"type": "OnDelete"}
    assert validate(resources.DAEMON_SETS, defaulted()) == []


def test_validation_as_kubernetes() -> None:
    ds = defaulted()
    ds["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    ds["spec"]["template"]["spec"]["restartPolicy"] = "OnFailure"
    ds["spec"]["template"]["spec"]["activeDeadlineSeconds"] = 5
    ds["spec"]["updateStrategy"] = {"type": "RollingUpdate",
                                    "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}}
    assert causes(ds) >= {
        ("spec.template.metadata.labels", "FieldValueInvalid"),
        ("spec.template.spec.restartPolicy", "FieldValueNotSupported"),
        ("spec.template.spec.activeDeadlineSeconds", "FieldValueInvalid"),
        ("spec.updateStrategy.rollingUpdate.maxUnavailable", "FieldValueInvalid")}
    ds = defaulted()
    ds["spec"]["updateStrategy"] = {"type": "Sometimes"}
    assert ("spec.updateStrategy", "FieldValueNotSupported") in causes(ds)
    ds["spec"]["updateStrategy"] = {"type": "RollingUpdate",
                                    "rollingUpdate": {"maxUnavailable": "120%"}}
    assert ("spec.updateStrategy.rollingUpdate.maxUnavailable", "FieldValueInvalid") in causes(ds)
    ds = defaulted()
    ds["spec"]["selector"] = {}
    assert ("spec.selector", "FieldValueInvalid") in causes(ds)
    old, new = defaulted(), defaulted()
    new["spec"]["selector"] = {"matchLabels": {"app": "agent", "x": "y"}}
    new["spec"]["template"]["metadata"]["labels"]["x"] = "y"
    assert causes(new, old) == {("spec.selector", "FieldValueInvalid")}


def test_controller_revision_data_is_required_and_immutable() -> None:
    rev = {"apiVersion": "apps/v1", "kind": "ControllerRevision",
           "metadata": {"name": "r", "namespace": "default"}, "revision": 1}
    assert ("data", "FieldValueRequired") in {
        (p, r) for p, r, _ in validate(resources.CONTROLLER_REVISIONS, rev)}
    old = {**rev, "data": {"a": 1}}
    assert validate(resources.CONTROLLER_REVISIONS, {**old, "revision": 2}, old) == []
    assert ("data", "FieldValueInvalid") in {
        (p, r) for p, r, _ in validate(resources.CONTROLLER_REVISIONS, {**old, "data": {}}, old)}


def test_tables_as_kubectl_prints_them() -> None:
    ds = defaulted()
    ds["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"
    ds["spec"]["template"]["spec"]["nodeSelector"] = {"disk": "ssd"}
    ds["status"] = {"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2,
                    "updatedNumberScheduled": 1, "numberAvailable": 2}
    table = table_for(resources.DAEMON_SETS, [ds],
                      now=dt.datetime(2026, 1, 1, 0, 5, tzinfo=dt.UTC))
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name", "Desired", "Current", "Ready", "Up-to-date", "Available", "Node Selector", "Age",
        "Containers", "Images", "Selector"]
    assert table["rows"][0]["cells"] == ["agent", 3, 3, 2, 1, 2, "disk=ssd", "5m", "c", "img",
                                         "app=agent"]
    rev = history.new_revision({**ds, "metadata": {**ds["metadata"], "uid": "u1"}}, 4)
    rev["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"
    table = table_for(resources.CONTROLLER_REVISIONS, [rev],
                      now=dt.datetime(2026, 1, 1, 0, 5, tzinfo=dt.UTC))
    assert table["rows"][0]["cells"] == [rev["metadata"]["name"], "daemonset.apps/agent", 4,
                                         "5m"]


def test_default_tolerations_and_pod_affinity() -> None:
    spec = placement.daemon_pod_spec({"hostNetwork": True, "tolerations": [
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": 5}]}, "n1")
    assert [(t["key"], t["effect"]) for t in spec["tolerations"]] == [
        ("node.kubernetes.io/unreachable", "NoExecute"),
        ("node.kubernetes.io/not-ready", "NoExecute"),
        ("node.kubernetes.io/disk-pressure", "NoSchedule"),
        ("node.kubernetes.io/memory-pressure", "NoSchedule"),
        ("node.kubernetes.io/pid-pressure", "NoSchedule"),
        ("node.kubernetes.io/unschedulable", "NoSchedule"),
        ("node.kubernetes.io/network-unavailable", "NoSchedule")]
    assert "tolerationSeconds" not in spec["tolerations"][0]
    assert placement.target_node({"spec": spec}) == "n1"
    assert placement.target_node({"spec": {**spec, "nodeName": "n2"}}) == "n2"


def test_placement_by_selector_affinity_and_taints() -> None:
    assert placement.should_run({}, node("a")) == (True, True)
    assert placement.should_run({"nodeSelector": {"disk": "ssd"}}, node("a")) == (False, False)
    assert placement.should_run({"nodeSelector": {"disk": "ssd"}},
                                node("a", {"disk": "ssd"})) == (True, True)
    affinity = {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [
            {"key": "zone", "operator": "In", "values": ["z1"]}]},
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["b"]}]}]}}}}
    assert placement.should_run(affinity, node("a", {"zone": "z1"}))[0]
    assert placement.should_run(affinity, node("b"))[0]
    assert not placement.should_run(affinity, node("c", {"zone": "z2"}))[0]
    assert placement.should_run({"nodeName": "x"}, node("a")) == (False, False)
    no_schedule = node("a", taints=[{"key": "k", "value": "v", "effect": "NoSchedule"}])
    no_execute = node("a", taints=[{"key": "k", "value": "v", "effect": "NoExecute"}])
    assert placement.should_run({}, no_schedule) == (False, True)
    assert placement.should_run({}, no_execute) == (False, False)
    tolerating = {"tolerations": [{"key": "k", "operator": "Exists"}]}
    assert placement.should_run(tolerating, no_execute) == (True, True)
    assert placement.should_run({"tolerations": [{"key": "k", "value": "w"}]}, no_schedule) \
        == (False, True)
    # The daemon defaults: unschedulable and not-ready nodes keep or get daemon pods.
    for key, effect in (("node.kubernetes.io/unschedulable", "NoSchedule"),
                        ("node.kubernetes.io/not-ready", "NoExecute"),
                        ("node.kubernetes.io/memory-pressure", "NoSchedule")):
        assert placement.should_run({}, node("a", taints=[{"key": key, "effect": effect}])) \
            == (True, True)
    unavailable = node("a", taints=[{"key": "node.kubernetes.io/network-unavailable",
                                     "effect": "NoSchedule"}])
    assert placement.should_run({}, unavailable) == (False, True)
    assert placement.should_run({"hostNetwork": True}, unavailable) == (True, True)


def test_revisions_match_templates_and_hash_pods() -> None:
    ds = defaulted()
    ds["metadata"].update(uid="u1", annotations={"kubernetes.io/change-cause": "x"})
    rev = history.new_revision(ds, 1)
    digest = history.revision_hash(ds)
    assert rev["metadata"]["name"] == f"agent-{digest}"
    assert rev["metadata"]["labels"] == {"app": "agent", "controller-revision-hash": digest}
    assert rev["metadata"]["annotations"] == {"kubernetes.io/change-cause": "x"}
    template = rev["data"]["spec"]["template"]
    assert list(template) == sorted(template) and template["$patch"] == "replace"
    assert template["metadata"]["creationTimestamp"] is None
    assert history.matches(ds, rev)
    changed = copy.deepcopy(ds)
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "img:2"
    assert not history.matches(changed, rev) and history.revision_hash(changed) != digest
    collided = copy.deepcopy(ds)
    collided["status"] = {"collisionCount": 1}
    assert history.revision_hash(collided) != digest
    pod = {"metadata": {"labels": {"controller-revision-hash": "h",
                                   "pod-template-generation": "3"}}}
    assert daemon_history.is_pod_updated(pod, "h", "9")
    assert daemon_history.is_pod_updated(pod, "x", "3")
    assert not daemon_history.is_pod_updated(pod, "x", "9")


def _pod(name: str, *, new: bool, available: bool = True,
         deleting: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {"new": str(new)}}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": meta, "available": available}


def _step(node_pods: dict[str, list[dict[str, Any]]], surge: int, unavailable: int,
          not_wanted: frozenset[str] = frozenset()) -> rollout.Step:
    return rollout.rolling_step(
        node_pods, updated=lambda p: p["metadata"]["labels"]["new"] == "True",
        available=lambda p: p["available"], should_run=lambda n: n not in not_wanted,
        max_surge=surge, max_unavailable=unavailable, desired=len(node_pods) - len(not_wanted))


def test_rolling_step_without_surge_respects_max_unavailable() -> None:
    nodes = {f"n{i}": [_pod(f"old{i}", new=False)] for i in range(4)}
    assert [p["metadata"]["name"] for p in _step(nodes, 0, 1).delete] == ["old0"]
    assert [p["metadata"]["name"] for p in _step(nodes, 0, 2).delete] == ["old0", "old1"]
    # A node still waiting for its new pod uses up the budget; an unavailable old pod
    # is always replaced.
    nodes["n0"] = []
    nodes["n3"] = [_pod("old3", new=False, available=False)]
    assert [p["metadata"]["name"] for p in _step(nodes, 0, 1).delete] == ["old3"]
    nodes["n0"] = [_pod("new0", new=True, available=True)]
    assert [p["metadata"]["name"] for p in _step(nodes, 0, 1).delete] == ["old3", "old1"]


def test_rolling_step_with_surge_creates_before_deleting() -> None:
    nodes = {f"n{i}": [_pod(f"old{i}", new=False)] for i in range(3)}
    step = _step(nodes, 1, 0)
    assert (step.create_on, step.delete) == (["n0"], [])
    nodes["n0"].append(_pod("new0", new=True, available=False))
    step = _step(nodes, 1, 0)
    assert (step.create_on, step.delete) == ([], [])
    nodes["n0"][1]["available"] = True
    step = _step(nodes, 1, 0)
    assert step.create_on == ["n1"] and [p["metadata"]["name"] for p in step.delete] == ["old0"]
    # A node that should no longer run one loses its old pod only while enough are available.
    step = _step(nodes, 1, 0, frozenset({"n2"}))
    assert [p["metadata"]["name"] for p in step.delete] == ["old0", "old2"]


def test_scaled_values_round_up() -> None:
    ds = {"spec": {"updateStrategy": {"rollingUpdate": {"maxUnavailable": "10%",
                                                        "maxSurge": "0%"}}}}
    assert rollout.surge_and_unavailable(ds, 15) == (0, 2)
    assert rollout.surge_and_unavailable(
        {"spec": {"updateStrategy": {"rollingUpdate": {"maxUnavailable": "0%"}}}}, 5) == (0, 1)
