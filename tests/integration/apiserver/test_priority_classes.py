"""PriorityClasses and the Priority admission plugin through the real kubectl (1.27 with
JSON, the newest with protobuf for `kubectl create priorityclass`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.apiserver import ApiServer
from tests.support.kubectl import KUBECTLS, Kubectl


@pytest.fixture(params=[k for k in KUBECTLS if k != "kubectl"])
def kubectl(request: pytest.FixtureRequest, sqlite_server: ApiServer, tmp_path: Path
            ) -> Kubectl:
    return Kubectl(request.param, sqlite_server, tmp_path)



def _pod(name: str, namespace: str = "default", **spec: object) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "Pod",
                       "metadata": {"name": name, "namespace": namespace},
                       "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec}})


def test_system_classes_table_and_pods_get_their_class_value(kubectl: Kubectl) -> None:
    names = kubectl("get", "priorityclasses", "-o", "name").split()
    assert {"priorityclass.scheduling.k8s.io/system-node-critical",
            "priorityclass.scheduling.k8s.io/system-cluster-critical"} <= set(names)
    high = f"high-{kubectl.tag}"
    kubectl("create", "priorityclass", high, "--value=1000", "--description=urgent")
    zero = f"zero-{kubectl.tag}"
    kubectl("create", "priorityclass", zero, "--value=0", "--preemption-policy=Never")
    assert kubectl.json("get", "pc", zero)["value"] == 0
    head, row = kubectl("get", "pc", high).strip().splitlines()
    assert head.split() == ["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"]
    assert row.split()[:3] == [high, "1000", "false"]
    assert row.split()[-1] == "PreemptLowerPriority"

    kubectl("apply", "-f", "-", stdin=_pod(f"urgent-{kubectl.tag}",
                                          priorityClassName=high))
    spec = kubectl.json("get", "pod", f"urgent-{kubectl.tag}")["spec"]
    assert (spec["priority"], spec["preemptionPolicy"]) == (1000, "PreemptLowerPriority")
    kubectl("apply", "-f", "-", stdin=_pod(f"plain-{kubectl.tag}"))
    assert kubectl.json("get", "pod", f"plain-{kubectl.tag}")["spec"]["priority"] == 0
    # an update that leaves the priority out keeps it
    kubectl("label", "pod", f"urgent-{kubectl.tag}", "touched=yes")
    assert kubectl.json("get", "pod", f"urgent-{kubectl.tag}")["spec"]["priority"] == 1000


def test_refusals_have_kubes_words(kubectl: Kubectl) -> None:
    out = kubectl.run("apply", "-f", "-", stdin=_pod("lost", priorityClassName="nope"),
                      check=False)
    assert out.returncode != 0
    assert 'pods "lost" is forbidden: no PriorityClass with name nope was found' in out.stderr
    out = kubectl.run("apply", "-f", "-", stdin=_pod("forged", priority=7), check=False)
    assert ("the integer value of priority (7) must not be provided in pod spec; priority "
            "admission controller computed 0 from the given PriorityClass name") in out.stderr
    out = kubectl.run("create", "priorityclass", "system-mine", "--value=5", check=False)
    assert ("priority class names with 'system-' prefix are reserved for system use only. "
            "error: system-mine is not a known system priority class") in out.stderr
    out = kubectl.run("create", "priorityclass", f"huge-{kubectl.tag}",
                      "--value=2000000000", check=False)
    assert "maximum allowed value of a user defined priority is 1000000000" in out.stderr
    name = f"fixed-{kubectl.tag}"
    kubectl("create", "priorityclass", name, "--value=10")
    out = kubectl.run("patch", "pc", name, "--type=merge", "-p", '{"value": 11}', check=False)
    assert "value: Forbidden: may not be changed in an update." in out.stderr


def test_one_global_default_which_new_pods_get(sqlite_server: ApiServer,
                                               tmp_path: Path) -> None:
    kubectl = Kubectl("kubectl.1.27", sqlite_server, tmp_path)
    kubectl("create", "namespace", "prio-default")
    kubectl("create", "priorityclass", "everyday", "--value=50", "--global-default")
    try:
        out = kubectl.run("create", "priorityclass", "another", "--value=60",
                          "--global-default", check=False)
        assert ("PriorityClass everyday is already marked as default. Only one default can "
                "exist") in out.stderr
        kubectl("apply", "-f", "-", stdin=_pod("defaulted", "prio-default"))
        spec = kubectl.json("get", "pod", "defaulted", "-n", "prio-default")["spec"]
        assert (spec["priorityClassName"], spec["priority"]) == ("everyday", 50)
    finally:
        kubectl("delete", "priorityclass", "everyday")
