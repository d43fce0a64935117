"""StatefulSet decisions, pure: defaults, validation, table, identities and claims,
retention owners, and what one sync does (ordered and parallel creation, scale
down, partitioned rolling update, finished pods)."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from kybernetes.api import resources
from kybernetes.controllers import stateful_pods as sp
from kybernetes.controllers import stateful_update as su
from tests.support.kinds import apply_defaults, table_for, validate

STS: dict[str, Any] = {
    "apiVersion": "apps/v1", "kind": "StatefulSet",
    "metadata": {"name": "web", "namespace": "default", "uid": "set-uid"},
    "spec": {"replicas": 3, "serviceName": "web", "selector": {"matchLabels": {"app": "web"}},
             "template": {"metadata": {"labels": {"app": "web"}},
                          "spec": {"containers": [{"name": "c", "image": "img"}],
                                   "volumes": [{"name": "data", "emptyDir": {}},
                                               {"name": "cfg", "emptyDir": {}}]}},
             "volumeClaimTemplates": [{"metadata": {"name": "data"},
                                       "spec": {"accessModes": ["ReadWriteOnce"]}}]}}


def defaulted(**spec: Any) -> dict[str, Any]:
    out = copy.deepcopy(STS)
    out["spec"].update(spec)
    apply_defaults(resources.STATEFUL_SETS, out)
    return out


def pod(ordinal: int, *, revision: str = "web-1", phase: str = "Running", ready: bool = True,
        deleting: bool = False) -> dict[str, Any]:
    p = sp.new_pod(defaulted(), ordinal, revision)
    p["metadata"]["uid"] = f"pod-{ordinal}"
    if deleting:
        p["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    p["status"] = {"phase": phase, "conditions": [
        {"type": "Ready", "status": "True" if ready else "False",
         "lastTransitionTime": "2026-01-01T00:00:00Z"}]}
    return p


def plan(sts: dict[str, Any], pods: list[dict[str, Any]], update_rev: str = "web-1"
         ) -> list[tuple[str, str]]:
    result = su.plan(sts, pods, current_set=sts, update_set=sts, current_rev="web-1",
                     update_rev=update_rev, needs_fix=lambda p: False,
                     now=dt.datetime(2026, 2, 1, tzinfo=dt.UTC))
    return [(a.verb, a.pod["metadata"]["name"]) for a in result.actions]


def test_defaults_table_and_validation() -> None:
    sts = defaulted()
    assert sts["spec"]["podManagementPolicy"] == "OrderedReady"
    assert sts["spec"]["updateStrategy"] == {"type": "RollingUpdate",
                                             "rollingUpdate": {"partition": 0}}
    assert sts["spec"]["revisionHistoryLimit"] == 10
    assert sts["spec"]["volumeClaimTemplates"][0]["status"] == {"phase": "Pending"}
    assert not validate(resources.STATEFUL_SETS, sts, None)
    on_delete = defaulted(updateStrategy={"type": "OnDelete", "rollingUpdate": {}})
    assert [c[:2] for c in validate(resources.STATEFUL_SETS, on_delete, None)] == [
        ("spec.updateStrategy.rollingUpdate", "FieldValueInvalid")]
    changed = copy.deepcopy(sts)
    changed["spec"]["volumeClaimTemplates"][0]["spec"]["accessModes"] = ["ReadOnlyMany"]
    assert [c[:2] for c in validate(resources.STATEFUL_SETS, changed, sts)] == [
        ("spec", "FieldValueForbidden")]
    scaled = copy.deepcopy(sts)
    scaled["spec"]["replicas"] = 5
    scaled["spec"]["updateStrategy"]["rollingUpdate"]["partition"] = 2
    assert not validate(resources.STATEFUL_SETS, scaled, sts)
    sts["status"] = {"readyReplicas": 2}
    table = table_for(resources.STATEFUL_SETS, [sts])
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Ready", "Age",
                                                               "Containers", "Images"]
    assert table["rows"][0]["cells"][:2] == ["web", "2/3"]


def test_identity_and_storage() -> None:
    sts = defaulted()
    p = sp.new_pod(sts, 2, "web-abc")
    assert p["metadata"]["name"] == "web-2" and p["spec"]["hostname"] == "web-2"
    assert p["spec"]["subdomain"] == "web"
    assert p["metadata"]["labels"] == {"app": "web", "statefulset.kubernetes.io/pod-name": "web-2",
                                       "apps.kubernetes.io/pod-index": "2",
                                       "controller-revision-hash": "web-abc"}
    # The claim replaces the template's volume of the same name; others stay.
    assert p["spec"]["volumes"] == [{"name": "data",
                                     "persistentVolumeClaim": {"claimName": "data-web-2"}},
                                    {"name": "cfg", "emptyDir": {}}]
    assert sp.identity_matches(sts, p) and sp.storage_matches(sts, p)
    p["metadata"]["labels"]["apps.kubernetes.io/pod-index"] = "7"
    assert not sp.identity_matches(sts, p)
    assert sp.parent_and_ordinal({"metadata": {"name": "web-x-10"}}) == ("web-x", 10)
    assert sp.parent_and_ordinal({"metadata": {"name": "web"}}) == ("", -1)
    assert not sp.is_member(sts, {"metadata": {"name": "webby-0"}})


def test_claim_retention_owners() -> None:
    claim: dict[str, Any] = {
        "metadata": {"name": "data-web-4", "ownerReferences": [{"uid": "other"}]}}
    both = defaulted(persistentVolumeClaimRetentionPolicy={"whenDeleted": "Delete",
                                                           "whenScaled": "Delete"})
    live, gone = pod(1), pod(4)
    assert [r["uid"] for r in sp.claim_owner_refs(both, live, claim)] == ["other", "set-uid"]
    assert [r["uid"] for r in sp.claim_owner_refs(both, gone, claim)] == ["other", "pod-4"]
    retain = defaulted()
    assert [r["uid"] for r in sp.claim_owner_refs(retain, gone, claim)] == ["other"]
    claim["metadata"]["ownerReferences"].append({"uid": "pod-4"})
    assert sp.claim_refs_match(both, gone, claim)
    assert not sp.claim_refs_match(retain, gone, claim)


def test_ordered_creation_waits_for_ready_and_parallel_does_not() -> None:
    sts = defaulted()
    assert plan(sts, []) == [("create", "web-0")]
    assert plan(sts, [pod(0, ready=False)]) == []
    assert plan(sts, [pod(0)]) == [("create", "web-1")]
    assert plan(sts, [pod(0), pod(1, deleting=True)]) == []
    parallel = defaulted(podManagementPolicy="Parallel")
    assert plan(parallel, [pod(1, ready=False)]) == [("create", "web-0"), ("create", "web-2")]


def test_scale_down_highest_first_after_all_are_ready() -> None:
    sts = defaulted(replicas=1)
    assert plan(sts, [pod(0), pod(1), pod(2)]) == [("delete", "web-2")]
    assert plan(sts, [pod(0), pod(1), pod(2, deleting=True)]) == []
    # An unready survivor blocks scale down; an unready condemned pod may go.
    assert plan(sts, [pod(0, ready=False), pod(1), pod(2)]) == []
    assert plan(sts, [pod(0), pod(1, ready=False)]) == [("delete", "web-1")]
    parallel = defaulted(replicas=1, podManagementPolicy="Parallel")
    assert plan(parallel, [pod(0), pod(1), pod(2)]) == [("delete", "web-2"), ("delete", "web-1")]


def test_rolling_update_from_the_top_down_to_the_partition() -> None:
    sts = defaulted()
    pods = [pod(0), pod(1), pod(2)]
    assert plan(sts, pods, update_rev="web-2") == [("delete", "web-2")]
    pods[2] = pod(2, revision="web-2", ready=False)
    assert plan(sts, pods, update_rev="web-2") == []
    pods[2] = pod(2, revision="web-2")
    assert plan(sts, pods, update_rev="web-2") == [("delete", "web-1")]
    partitioned = defaulted(updateStrategy={"type": "RollingUpdate",
                                            "rollingUpdate": {"partition": 2}})
    assert plan(partitioned, pods, update_rev="web-2") == []
    on_delete = defaulted(updateStrategy={"type": "OnDelete"})
    assert plan(on_delete, [pod(0), pod(1), pod(2)], update_rev="web-2") == []


def test_new_pods_below_the_partition_use_the_current_revision() -> None:
    current = defaulted(updateStrategy={"type": "RollingUpdate",
                                        "rollingUpdate": {"partition": 2}})
    update = copy.deepcopy(current)
    update["spec"]["template"]["spec"]["containers"][0]["image"] = "img:2"
    low = su.new_versioned_pod(current, update, "web-1", "web-2", 1)
    high = su.new_versioned_pod(current, update, "web-1", "web-2", 2)
    assert (sp.revision_of(low), low["spec"]["containers"][0]["image"]) == ("web-1", "img")
    assert (sp.revision_of(high), high["spec"]["containers"][0]["image"]) == ("web-2", "img:2")


def test_finished_pods_are_deleted_to_be_made_anew() -> None:
    sts = defaulted()
    assert plan(sts, [pod(0, phase="Failed"), pod(1)]) == [("delete", "web-0")]
    assert plan(sts, [pod(0, phase="Succeeded", deleting=True)]) == []
    parallel = defaulted(podManagementPolicy="Parallel", replicas=2)
    assert plan(parallel, [pod(0, phase="Failed"), pod(2)]) == [("delete", "web-0"),
                                                               ("create", "web-1")]
