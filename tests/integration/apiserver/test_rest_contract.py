"""The HTTP contract clients see: status codes, Status reasons, resourceVersion semantics."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.apiserver import ApiServer
from tests.support.http import Http, assert_status


@pytest.fixture(scope="module")
def http(server: ApiServer) -> Iterator[Http]:
    client = Http(server)
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "rest"}}
    assert client("POST", "/api/v1/namespaces", ns).status_code == 201
    yield client
    client.session.close()


def cm(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


CMS = "/api/v1/namespaces/rest/configmaps"


def test_health_and_version_need_no_credentials(server: ApiServer) -> None:
    """Anonymous requests reach what system:public-info-viewer allows, nothing else."""
    anonymous = Http(server, authenticated=False)
    for path in ("/healthz", "/livez", "/readyz"):
        assert anonymous("GET", path).text == "ok"
    assert "[+]" in anonymous("GET", "/readyz", verbose="").text
    assert anonymous("GET", "/version").json()["gitVersion"] == "v1.33.0-kyb"
    assert anonymous("GET", "/version/").json()["gitVersion"] == "v1.33.0-kyb"  # kr8s asks so
    assert_status(anonymous("GET", "/api/v1/pods"), 403, "Forbidden")
    bad_token = anonymous.session.get(server.url + "/version", timeout=10, verify=anonymous.ca,
                                      headers={"Authorization": "Bearer not-a-token"})
    assert_status(bad_token, 401, "Unauthorized")  # bad credentials are never anonymous


def test_error_bodies_are_byte_identical_to_kube_apiservers(http: Http) -> None:
    """Go's field order (details before code) and a final newline, as clients compare."""
    response = http("GET", f"{CMS}/absent")
    assert response.content == (
        b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
        b'"message":"configmaps \\"absent\\" not found","reason":"NotFound",'
        b'"details":{"name":"absent","kind":"configmaps"},"code":404}\n')
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "l"}}
    leases = "/apis/coordination.k8s.io/v1/namespaces/rest/leases"
    assert http("POST", leases, lease).status_code == 201
    again = http("POST", leases, lease)
    assert again.content.endswith(
        b'"reason":"AlreadyExists","details":{"name":"l","group":"coordination.k8s.io",'
        b'"kind":"leases"},"code":409}\n')


def test_malformed_bodies_are_400(http: Http) -> None:
    assert_status(http("POST", CMS, b"{not json"), 400, "BadRequest")
    assert_status(http("POST", CMS, b"- a\n- list", content_type="application/yaml"),
                  400, "BadRequest")
    assert_status(http("POST", CMS, {**cm("x"), "kind": "Secret"}), 400, "BadRequest")
    assert_status(http("POST", CMS, {**cm("x"), "apiVersion": "v2"}), 400, "BadRequest")
    mismatch = cm("x")
    mismatch["metadata"]["namespace"] = "other"
    assert_status(http("POST", CMS, mismatch), 400, "BadRequest")
    assert_status(http("POST", CMS, "x", content_type="text/plain"), 415,
                  "UnsupportedMediaType")


def test_yaml_bodies_are_accepted(http: Http) -> None:
    body = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-yaml}\ndata: {a: b}\n"
    created = http("POST", CMS, body, content_type="application/yaml")
    assert created.status_code == 201 and created.json()["data"] == {"a": "b"}


def test_unknown_fields_strict_warn_ignore(http: Http) -> None:
    body = {**cm("strict"), "bogus": 1}
    status = assert_status(http("POST", CMS, body, fieldValidation="Strict"), 400, "BadRequest")
    assert status["message"] == ('ConfigMap in version "v1" cannot be handled as a ConfigMap: '
                                 'strict decoding error: unknown field "bogus"')
    warned = http("POST", CMS, body, fieldValidation="Warn")
    assert warned.status_code == 201
    assert 'unknown field \\"bogus\\"' in warned.headers["Warning"]
    ignored = http("POST", CMS, {**cm("ignored"), "bogus": 1}, fieldValidation="Ignore")
    assert ignored.status_code == 201 and "Warning" not in ignored.headers
    # As decoding into Kubernetes' types does, unknown fields are never stored.
    assert "bogus" not in http("GET", f"{CMS}/strict").json()
    assert "bogus" not in http("GET", f"{CMS}/ignored").json()
    patched = http("PATCH", f"{CMS}/ignored", {"status": {"a": 1}, "data": {"k": "v"}},
                   content_type="application/merge-patch+json")
    assert 'unknown field \\"status\\"' in patched.headers["Warning"]
    assert "status" not in patched.json() and patched.json()["data"] == {"k": "v"}
    later = http("PATCH", f"{CMS}/ignored", {"data": {"k": "w"}}, fieldValidation="Strict",
                 content_type="application/merge-patch+json")
    assert later.status_code == 200, later.text  # nothing unknown was kept to refuse now


def test_a_warning_a_header_cannot_carry_is_dropped(http: Http) -> None:
    """An unknown field named with a control character: the create succeeds and,
    as Kubernetes' NewWarningHeader refuses such text, warns only of the other one."""
    created = http("POST", CMS, {**cm("control"), "bad\u000bname": 1, "bogus": 1})
    assert created.status_code == 201, created.text
    assert created.headers["Warning"] == '299 - "unknown field \\"bogus\\""'


def test_invalid_objects_are_422_with_causes(http: Http) -> None:
    bad = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "Bad_Name"},
           "spec": {"containers": []}}
    status = assert_status(http("POST", "/api/v1/namespaces/rest/pods", bad), 422, "Invalid")
    fields = {c["field"] for c in status["details"]["causes"]}
    assert "metadata.name" in fields and "spec.containers" in fields


def test_too_large_bodies_are_413(http: Http) -> None:
    huge = cm("huge", blob="x" * (3 * 1024 * 1024 + 10))
    assert_status(http("POST", CMS, huge), 413, "RequestEntityTooLarge")


def test_not_found_already_exists_and_conflicts(http: Http) -> None:
    status = assert_status(http("GET", f"{CMS}/missing"), 404, "NotFound")
    assert status["message"] == 'configmaps "missing" not found'
    assert status["details"] == {"name": "missing", "kind": "configmaps"}
    assert_status(http("GET", "/api/v1/namespaces/nowhere/configmaps/x"), 404, "NotFound")
    assert_status(http("POST", "/api/v1/namespaces/nowhere/configmaps", cm("x")), 404,
                  "NotFound")
    assert_status(http("GET", "/api/v1/widgets"), 404, "NotFound")
    first = http("POST", CMS, cm("dup"))
    assert first.status_code == 201
    assert_status(http("POST", CMS, cm("dup")), 409, "AlreadyExists")
    stale = first.json()
    http("PUT", f"{CMS}/dup", {**stale, "data": {"v": "2"}})
    status = assert_status(http("PUT", f"{CMS}/dup", {**stale, "data": {"v": "3"}}), 409,
                           "Conflict")
    assert "the object has been modified" in status["message"]
    uid_pre = {"preconditions": {"uid": "not-the-uid"}}
    assert_status(http("DELETE", f"{CMS}/dup", uid_pre), 409, "Conflict")
    assert_status(http("PUT", f"{CMS}/other", cm("dup")), 400, "BadRequest")


def test_dry_run_does_not_persist(http: Http) -> None:
    created = http("POST", CMS, cm("dry"), dryRun="All")
    assert created.status_code == 201
    assert_status(http("GET", f"{CMS}/dry"), 404, "NotFound")
    assert_status(http("POST", CMS, cm("dry2"), dryRun="Some"), 422, "Invalid")


def test_update_without_change_keeps_resource_version(http: Http) -> None:
    obj = http("POST", CMS, cm("same", a="1")).json()
    again = http("PUT", f"{CMS}/same", obj).json()
    assert again["metadata"]["resourceVersion"] == obj["metadata"]["resourceVersion"]


def test_list_paging_with_continue(http: Http) -> None:
    http("POST", "/api/v1/namespaces", {"metadata": {"name": "paging"}})
    for i in range(7):
        http("POST", "/api/v1/namespaces/paging/configmaps", cm(f"p{i}"))
    names, token, pages = [], None, 0
    while True:
        params: dict[str, Any] = {"limit": 3, **({"continue": token} if token else {})}
        page = http("GET", "/api/v1/namespaces/paging/configmaps", **params).json()
        names += [i["metadata"]["name"] for i in page["items"]]
        pages += 1
        token = page["metadata"].get("continue")
        if not token:
            break
        assert page["metadata"]["remainingItemCount"] == 7 - len(names)
    assert names == [f"p{i}" for i in range(7)] and pages == 3
    assert_status(http("GET", CMS, limit=1, **{"continue": "garbage"}), 400, "BadRequest")


def test_later_pages_show_the_list_as_it_was_at_the_first(http: Http) -> None:
    """Every page of a paged list is at the first page's resourceVersion: objects
    deleted, changed or added after it do not show in the pages that follow."""
    http("POST", "/api/v1/namespaces", {"metadata": {"name": "frozen"}})
    cms = "/api/v1/namespaces/frozen/configmaps"
    made = [http("POST", cms, cm(f"f{i}", v="old")).json() for i in range(6)]
    first = http("GET", cms, limit=2).json()
    assert [i["metadata"]["name"] for i in first["items"]] == ["f0", "f1"]
    assert first["metadata"]["remainingItemCount"] == 4
    http("DELETE", f"{cms}/f3")
    http("PUT", f"{cms}/f4", {**made[4], "data": {"v": "new"}})
    http("POST", cms, cm("f45"))
    rest = http("GET", cms, limit=10, **{"continue": first["metadata"]["continue"]}).json()
    assert [(i["metadata"]["name"], i["data"]["v"]) for i in rest["items"]] == [
        ("f2", "old"), ("f3", "old"), ("f4", "old"), ("f5", "old")]
    assert rest["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    assert "continue" not in rest["metadata"]
    selected = http("GET", cms, limit=1, fieldSelector="metadata.name!=f0").json()
    assert [i["metadata"]["name"] for i in selected["items"]] == ["f1"]
    assert "remainingItemCount" not in selected["metadata"]


def test_status_subresource_changes_only_status(http: Http) -> None:
    pods = "/api/v1/namespaces/rest/pods"
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "st"},
           "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    created = http("POST", pods, pod).json()
    assert created["status"]["phase"] == "Pending"
    sneaky = {**created, "status": {"phase": "Running"}}
    sneaky["metadata"] = {**created["metadata"], "labels": {"l": "1"}}
    updated = http("PUT", f"{pods}/st", sneaky).json()
    assert updated["status"]["phase"] == "Pending" and updated["metadata"]["labels"] == {"l": "1"}
    status = {**updated, "status": {"phase": "Running"}, "spec": {"containers": []}}
    after = http("PUT", f"{pods}/st/status", status).json()
    assert after["status"]["phase"] == "Running"
    assert after["spec"]["containers"][0]["name"] == "c"


def test_main_resource_never_changes_a_nodes_status(http: Http) -> None:
    """As Kubernetes' node strategy: a create keeps the status the kubelet registers with;
    afterwards only nodes/status changes it (an update or patch of the node does not)."""
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "status-n1"},
            "status": {"capacity": {"cpu": "2"}}}
    created = http("POST", "/api/v1/nodes", node).json()
    assert created["status"]["capacity"] == {"cpu": "2"}
    patched = http("PATCH", "/api/v1/nodes/status-n1",
                   {"status": {"capacity": {"cpu": "99"}}, "metadata": {"labels": {"a": "b"}}},
                   content_type="application/merge-patch+json").json()
    assert patched["status"]["capacity"] == {"cpu": "2"}
    assert patched["metadata"]["labels"] == {"a": "b"}
    replaced = http("PUT", "/api/v1/nodes/status-n1",
                    {**patched, "status": {"capacity": {"cpu": "7"}}}).json()
    assert replaced["status"]["capacity"] == {"cpu": "2"}
    through_status = http("PATCH", "/api/v1/nodes/status-n1/status",
                          {"status": {"capacity": {"cpu": "4"}}},
                          content_type="application/merge-patch+json").json()
    assert through_status["status"]["capacity"] == {"cpu": "4"}
    assert http("DELETE", "/api/v1/nodes/status-n1").status_code == 200


def test_binding_sets_node_once(http: Http) -> None:
    pods = "/api/v1/namespaces/rest/pods"
    http("POST", pods, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bind"},
                        "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "bind"},
               "target": {"kind": "Node", "name": "n1"}}
    done = http("POST", f"{pods}/bind/binding", binding)
    assert done.status_code == 201 and done.json()["status"] == "Success"
    assert http("GET", f"{pods}/bind").json()["spec"]["nodeName"] == "n1"
    again = {**binding, "target": {"kind": "Node", "name": "n2"}}
    status = assert_status(http("POST", "/api/v1/namespaces/rest/bindings", again), 409,
                           "Conflict")
    assert 'is already assigned to node "n1"' in status["message"]


def test_finalizers_hold_deletion_until_removed(http: Http) -> None:
    held = cm("held")
    held["metadata"]["finalizers"] = ["example.com/hold"]
    http("POST", CMS, held)
    marked = http("DELETE", f"{CMS}/held").json()
    assert marked["metadata"]["deletionTimestamp"]
    current = http("GET", f"{CMS}/held").json()
    current["metadata"]["finalizers"] = []
    assert http("PUT", f"{CMS}/held", current).status_code == 200
    assert_status(http("GET", f"{CMS}/held"), 404, "NotFound")


def test_terminating_namespace_refuses_creates(http: Http) -> None:
    http("POST", "/api/v1/namespaces", {"metadata": {"name": "doomed"}})
    ns = http("DELETE", "/api/v1/namespaces/doomed").json()
    assert ns["status"]["phase"] == "Terminating"
    status = assert_status(http("POST", "/api/v1/namespaces/doomed/configmaps", cm("x")),
                           403, "Forbidden")
    assert "because it is being terminated" in status["message"]
    finalize = {**ns, "spec": {"finalizers": []}}
    http("PUT", "/api/v1/namespaces/doomed/finalize", finalize)
    assert_status(http("GET", "/api/v1/namespaces/doomed"), 404, "NotFound")


def test_scale_subresource(http: Http) -> None:
    rcs = "/api/v1/namespaces/rest/replicationcontrollers"
    rc = {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "rc"},
          "spec": {"replicas": 1, "selector": {"app": "rc"}, "template": {
              "metadata": {"labels": {"app": "rc"}},
              "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}
    http("POST", rcs, rc)
    scale = http("GET", f"{rcs}/rc/scale").json()
    assert (scale["kind"], scale["spec"]["replicas"], scale["status"]["selector"]) == (
        "Scale", 1, "app=rc")
    scale["spec"]["replicas"] = 4
    assert http("PUT", f"{rcs}/rc/scale", scale).json()["spec"]["replicas"] == 4
    assert http("GET", f"{rcs}/rc").json()["spec"]["replicas"] == 4
    assert_status(http("PUT", f"{rcs}/rc/scale", scale), 409, "Conflict")


def test_metrics_count_requests(http: Http) -> None:
    http("GET", CMS)
    text = http("GET", "/metrics").text
    assert 'apiserver_request_total{verb="LIST",resource="configmaps",code="200"}' in text
    assert "apiserver_request_duration_seconds_bucket" in text
    # the process collector's series, as kube-apiserver's
    values = dict(line.split() for line in text.splitlines()
                  if line.startswith(("process_cpu_seconds_total ",
                                      "process_resident_memory_bytes ")))
    assert float(values["process_cpu_seconds_total"]) > 0
    assert int(values["process_resident_memory_bytes"]) > 10 * 2**20


def test_delete_collection_with_a_label_selector(http: Http) -> None:
    for name, app in (("dc-a", "x"), ("dc-b", "x"), ("dc-c", "y")):
        body = cm(name)
        body["metadata"]["labels"] = {"app": app}
        http("POST", CMS, body)
    deleted = http("DELETE", CMS, labelSelector="app=x").json()
    assert sorted(i["metadata"]["name"] for i in deleted["items"]) == ["dc-a", "dc-b"]
    left = http("GET", CMS, labelSelector="app in (x,y)").json()["items"]
    assert [i["metadata"]["name"] for i in left] == ["dc-c"]


def test_eviction_deletes_the_pod(http: Http) -> None:
    pods = "/api/v1/namespaces/rest/pods"
    http("POST", pods, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ev"},
                        "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
    eviction = {"apiVersion": "policy/v1", "kind": "Eviction",
                "metadata": {"name": "ev", "namespace": "rest"}}
    assert http("POST", f"{pods}/ev/eviction", eviction).status_code == 201
    assert_status(http("GET", f"{pods}/ev"), 404, "NotFound")


def test_exact_resource_version_lists_the_past(http: Http) -> None:
    http("POST", "/api/v1/namespaces", {"metadata": {"name": "history"}})
    path = "/api/v1/namespaces/history/configmaps"
    first = http("POST", path, cm("h1")).json()["metadata"]["resourceVersion"]
    http("POST", path, cm("h2"))
    past = http("GET", path, resourceVersion=first, resourceVersionMatch="Exact").json()
    assert [i["metadata"]["name"] for i in past["items"]] == ["h1"]
    assert past["metadata"]["resourceVersion"] == first
    now = http("GET", path, resourceVersion=first, resourceVersionMatch="NotOlderThan").json()
    assert [i["metadata"]["name"] for i in now["items"]] == ["h1", "h2"]
    assert_status(http("GET", path, resourceVersionMatch="Exact"), 400, "BadRequest")
