"""Server-side tables print what kubectl users know, computed as Kubernetes' printers do."""

import datetime as dt

import pytest

from kybernetes.api import resources
from kybernetes.apiserver.tables import human_duration, pod_status
from tests.support.kinds import table_for

NOW = dt.datetime(2026, 11, 25, 12, 0, 0, tzinfo=dt.UTC)


def ago(seconds):
    return (NOW - dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(("seconds", "text"), [
    (-5, "<invalid>"), (-1, "0s"), (0, "0s"), (119, "119s"), (120, "2m"), (185, "3m5s"),
    (600, "10m"), (179 * 60, "179m"), (3 * 3600, "3h"), (3 * 3600 + 120, "3h2m"),
    (8 * 3600, "8h"), (47 * 3600, "47h"), (48 * 3600, "2d"), (50 * 3600, "2d2h"),
    (8 * 86400, "8d"), (729 * 86400, "729d"), (730 * 86400, "2y"), (740 * 86400, "2y10d"),
    (9 * 365 * 86400, "9y"),
])
def test_human_duration(seconds, text):
    assert human_duration(seconds) == text


def container_status(name, state, ready=False, restarts=0, **extra):
    return {"name": name, "state": state, "ready": ready, "restartCount": restarts, **extra}


def pod(statuses=(), *, phase="Pending", containers=("c",), init=(), init_statuses=(),
        conditions=(), deleting=False):
    meta = {"name": "p", "namespace": "default", "creationTimestamp": ago(300)}
    if deleting:
        meta["deletionTimestamp"] = ago(1)
    return {"metadata": meta,
            "spec": {"containers": [{"name": n} for n in containers],
                     "initContainers": [{"name": n} for n in init], "nodeName": "n1"},
            "status": {"phase": phase, "containerStatuses": list(statuses),
                       "initContainerStatuses": list(init_statuses),
                       "conditions": list(conditions)}}


RUNNING = {"running": {"startedAt": ago(100)}}


def test_pod_status_cases():
    assert pod_status(pod(), NOW) == ("0/1", "Pending", "0")
    creating = container_status("c", {"waiting": {"reason": "ContainerCreating"}})
    assert pod_status(pod([creating]), NOW)[1] == "ContainerCreating"
    running = container_status("c", RUNNING, ready=True)
    assert pod_status(pod([running], phase="Running"), NOW) == ("1/1", "Running", "0")
    crash = container_status("c", {"waiting": {"reason": "CrashLoopBackOff"}}, restarts=4,
                             lastState={"terminated": {"exitCode": 1, "finishedAt": ago(65)}})
    assert pod_status(pod([crash], phase="Running"), NOW) == ("0/1", "CrashLoopBackOff",
                                                              "4 (65s ago)")
    done = container_status("c", {"terminated": {"exitCode": 0, "reason": "Completed"}})
    assert pod_status(pod([done], phase="Succeeded"), NOW)[1] == "Completed"
    failed = container_status("c", {"terminated": {"exitCode": 2}})
    assert pod_status(pod([failed], phase="Failed"), NOW)[1] == "ExitCode:2"
    err = container_status("c", {"terminated": {"exitCode": 1, "reason": "Error"}})
    assert pod_status(pod([err], phase="Failed"), NOW)[1] == "Error"
    assert pod_status(pod([running], phase="Running", deleting=True), NOW)[1] == "Terminating"


def test_pod_status_init_containers():
    waiting = container_status("i", {"waiting": {"reason": "PodInitializing"}})
    assert pod_status(pod(init=("i",), init_statuses=[waiting]), NOW)[1] == "Init:0/1"
    failed = container_status("i", {"terminated": {"exitCode": 3}})
    assert pod_status(pod(init=("i",), init_statuses=[failed]), NOW)[1] == "Init:ExitCode:3"


def test_pod_table_columns_rows_and_metadata_object():
    p = pod([container_status("c", RUNNING, ready=True)], phase="Running")
    p["status"]["podIP"] = "10.0.0.5"
    table = table_for(resources.PODS, [p], {}, now=NOW)
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    columns = [(c["name"], c["priority"]) for c in table["columnDefinitions"]]
    assert columns == [("Name", 0), ("Ready", 0), ("Status", 0), ("Restarts", 0), ("Age", 0),
                       ("IP", 1), ("Node", 1), ("Nominated Node", 1), ("Readiness Gates", 1)]
    row = table["rows"][0]
    assert row["cells"] == ["p", "1/1", "Running", "0", "5m", "10.0.0.5", "n1", "<none>",
                            "<none>"]
    assert row["object"] == {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": p["metadata"]}
    assert "object" not in table_for(resources.PODS, [p], {"includeObject": "None"})["rows"][0]
    assert table_for(resources.PODS, [p], {"includeObject": "Object"})["rows"][0]["object"] == p


def test_node_service_deployment_rows():
    node = {"metadata": {"name": "n1", "creationTimestamp": ago(7200),
                         "labels": {"node-role.kubernetes.io/control-plane": ""}},
            "spec": {"unschedulable": True},
            "status": {"conditions": [{"type": "Ready", "status": "True"}],
                       "addresses": [{"type": "InternalIP", "address": "10.1.0.2"}],
                       "nodeInfo": {"kubeletVersion": "v1.33.0"}}}
    assert table_for(resources.NODES, [node], now=NOW)["rows"][0]["cells"] == [
        "n1", "Ready,SchedulingDisabled", "control-plane", "120m", "v1.33.0", "10.1.0.2",
        "<none>", "<unknown>", "<unknown>", "<unknown>"]
    svc = {"metadata": {"name": "web", "creationTimestamp": ago(30)},
           "spec": {"type": "NodePort", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
                    "ports": [{"port": 80, "protocol": "TCP", "nodePort": 30080},
                              {"port": 53, "protocol": "UDP"}], "selector": {"app": "web"}}}
    assert table_for(resources.SERVICES, [svc], now=NOW)["rows"][0]["cells"] == [
        "web", "NodePort", "10.96.0.10", "<none>", "80:30080/TCP,53/UDP", "30s", "app=web"]
    dep = {"metadata": {"name": "d", "creationTimestamp": ago(30)},
           "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "d"}},
                    "template": {"spec": {"containers": [{"name": "c", "image": "nginx"}]}}},
           "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}}
    assert table_for(resources.DEPLOYMENTS, [dep], now=NOW)["rows"][0]["cells"] == [
        "d", "2/3", 3, 2, "30s", "c", "nginx", "app=d"]


def test_endpoints_event_and_small_kinds():
    ep = {"metadata": {"name": "e", "creationTimestamp": ago(10)},
          "subsets": [{"addresses": [{"ip": f"10.0.0.{i}"} for i in range(5)],
                       "ports": [{"port": 80}]}]}
    assert table_for(resources.ENDPOINTS, [ep], now=NOW)["rows"][0]["cells"] == [
        "e", "10.0.0.0:80,10.0.0.1:80,10.0.0.2:80 + 2 more...", "10s"]
    event = {"metadata": {"name": "p.1"}, "type": "Normal", "reason": "Scheduled",
             "message": "ok ", "involvedObject": {"kind": "Pod", "name": "p"},
             "source": {"component": "default-scheduler"}, "firstTimestamp": ago(20),
             "lastTimestamp": ago(10), "count": 2}
    assert table_for(resources.EVENTS, [event], now=NOW)["rows"][0]["cells"] == [
        "10s", "Normal", "Scheduled", "pod/p", "", "default-scheduler", "ok", "20s", 2, "p.1"]
    secret = {"metadata": {"name": "s", "creationTimestamp": ago(5)}, "type": "Opaque",
              "data": {"a": "", "b": ""}}
    assert table_for(resources.SECRETS, [secret], now=NOW)["rows"][0]["cells"] == [
        "s", "Opaque", 2, "5s"]
    ns = {"metadata": {"name": "default"}, "status": {"phase": "Active"}}
    assert table_for(resources.NAMESPACES, [ns], now=NOW)["rows"][0]["cells"] == [
        "default", "Active", "<unknown>"]
    binding = table_for(resources.BINDINGS, [{"metadata": {"name": "b"}}], now=NOW)
    assert [c["name"] for c in binding["columnDefinitions"]] == ["Name", "Age"]


def test_pod_status_init_crash_counts_init_restarts_and_sidecars_count_as_containers():
    crash = container_status("i", {"waiting": {"reason": "CrashLoopBackOff"}}, restarts=3,
                             lastState={"terminated": {"exitCode": 1, "finishedAt": ago(30)}})
    assert pod_status(pod(init=("i",), init_statuses=[crash]), NOW) == (
        "0/1", "Init:CrashLoopBackOff", "3 (30s ago)")
    sidecar_pod = pod([container_status("c", RUNNING, ready=True)], phase="Running",
                      init=("s",), init_statuses=[container_status("s", RUNNING, ready=True,
                                                                   started=True)])
    sidecar_pod["spec"]["initContainers"][0]["restartPolicy"] = "Always"
    assert pod_status(sidecar_pod, NOW) == ("2/2", "Running", "0")
