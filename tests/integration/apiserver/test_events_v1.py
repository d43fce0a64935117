"""events.k8s.io/v1 Events: the same objects as core/v1 Events under kube's newer names,
each API reading what the other wrote, with events.k8s.io's stricter creates."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.apiserver import ApiServer
from tests.support.http import Http
from tests.support.kubectl import KUBECTLS, Kubectl

NS = "default"
V1 = f"/apis/events.k8s.io/v1/namespaces/{NS}/events"
CORE = f"/api/v1/namespaces/{NS}/events"


def _new_style(name: str, **fields: object) -> dict:
    return {"apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": name, "namespace": NS},
            "eventTime": "2026-11-30T10:00:00.000000Z", "type": "Normal",
            "reportingController": "example.com/ctl", "reportingInstance": "ctl-1",
            "action": "Checking", "reason": "Checked", "note": "all good",
            "regarding": {"kind": "Pod", "namespace": NS, "name": "web-1"}, **fields}


@pytest.mark.parametrize("binary", [KUBECTLS[0], KUBECTLS[-1]])
def test_one_event_through_both_apis(sqlite_server: ApiServer, tmp_path: Path,
                                     binary: str) -> None:
    kubectl = Kubectl(binary, sqlite_server, tmp_path)
    http, name = Http(sqlite_server), f"checked-{kubectl.tag}"
    made = http("POST", V1, _new_style(name))
    assert made.status_code == 201, made.text
    assert (made.json()["note"], made.json()["regarding"]["name"]) == ("all good", "web-1")
    core = http("GET", f"{CORE}/{name}").json()
    assert (core["apiVersion"], core["message"], core["involvedObject"]["name"],
            core["reportingComponent"]) == ("v1", "all good", "web-1", "example.com/ctl")
    assert "note" not in core and "regarding" not in core
    # an old-style Event written through core/v1 reads with the deprecated* names
    assert http("POST", CORE, {"metadata": {"name": f"old-{name}"}, "reason": "Pulled",
                               "message": "pulled", "count": 3, "type": "Normal",
                               "involvedObject": {"kind": "Pod", "name": "web-2"},
                               "source": {"component": "kubelet"}}).status_code == 201
    old = http("GET", f"{V1}/old-{name}").json()
    assert (old["deprecatedCount"], old["deprecatedSource"], old["note"]) == \
        (3, {"component": "kubelet"}, "pulled")
    found = http("GET", V1, fieldSelector="regarding.name=web-1").json()["items"]
    assert [e["metadata"]["name"] for e in found if e["metadata"]["name"] == name] == [name]
    assert all(e["apiVersion"] == "events.k8s.io/v1" for e in found)
    rows = kubectl("get", "events.events.k8s.io", "-n", NS).splitlines()
    assert rows[0].split()[:4] == ["LAST", "SEEN", "TYPE", "REASON"]
    assert any(row.split()[2:4] == ["Checked", "pod/web-1"] for row in rows[1:]), rows
    assert kubectl.json("get", "events.v1.events.k8s.io", name, "-n", NS)["note"] == "all good"


def test_a_create_through_events_k8s_io_must_be_new_style(sqlite_server: ApiServer) -> None:
    http = Http(sqlite_server)
    body = _new_style("legacy", deprecatedCount=2, type="Odd")
    del body["eventTime"], body["action"]
    refused = http("POST", V1, body)
    assert refused.status_code == 422
    causes = {(c["field"], c["message"]) for c in refused.json()["details"]["causes"]}
    assert ("eventTime", "Required value") in causes
    assert ("count", 'Invalid value: "": needs to be unset') in causes
    assert ("type", 'Invalid value: "": has invalid value: Odd') in causes
    body = _new_style("too-long", note="x" * 1025, reportingController="")
    causes = {(c["field"], c["message"]) for c in http("POST", V1, body).json()["details"][
        "causes"]}
    assert ("note", 'Invalid value: "": can have at most 1024 characters') in causes
    assert ("reportingController", "Required value") in causes
