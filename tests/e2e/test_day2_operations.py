"""Day-2 operations on one two-node `kyb up` cluster (process runtime) through the real
kubectl: a Job that runs out of retries, CronJobs (a one-minute Forbid schedule whose
job outlasts the minute, and `kubectl create job --from`), `kubectl scale`, a quota
refusal, a drain blocked and then allowed by a PodDisruptionBudget, an HPA that
follows a real CPU load up and down (`kubectl top`), a DaemonSet that follows a
node joining the running cluster, and a joined node's graceful shutdown.

The cluster is shared (starting one is costly): every test works in its own
namespace, pins what it runs to `kyb-node-1` unless it is about nodes, and puts the
nodes back as it found them. The CronJob starts with the module and is checked last,
so its minutes pass while the other tests run.
"""

from __future__ import annotations

import functools
import itertools
import json
import signal
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from tests.support.cluster import KybCluster, joined_node, process_cluster
from tests.support.poll import wait_for

pytestmark = pytest.mark.timeout(600)

NODE1, NODE2 = "kyb-node-1", "kyb-node-2"
HPA_SYNC = "3s"
BUSYBOX = "busybox:stable"
# the oldest and newest kubectl for the commands under test (the default one is between)
VERSIONS = pytest.mark.parametrize("kubectl", ["kubectl.1.27", "kubectl.1.33"])


def short(kubectl: str) -> str:
    return kubectl.rsplit(".", 2)[-2] + kubectl.rsplit(".", 1)[-1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KybCluster]:
    with process_cluster(tmp_path_factory.mktemp("day2") / "kyb",
                         f"--controller-manager-arg=--horizontal-pod-autoscaler-sync-period="
                         f"{HPA_SYNC}") as c:
        yield c


def apply(cluster: KybCluster, *objects: dict[str, Any]) -> None:
    manifest = json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)})
    result = cluster.kubectl_run("apply", "-f", "-", stdin=manifest)
    assert result.returncode == 0, result.stderr


def get(cluster: KybCluster, *args: str) -> Any:
    return json.loads(cluster.kubectl("get", *args, "-o", "json"))


def namespace(cluster: KybCluster, name: str) -> str:
    cluster.kubectl("create", "namespace", name)
    return name


def pod_spec(command: str, *, node: str | None = NODE1, **extra: Any) -> dict[str, Any]:
    """A busybox container running `command` (sh), pinned to `node`."""
    spec: dict[str, Any] = {"terminationGracePeriodSeconds": 1, "containers": [
        {"name": "main", "image": BUSYBOX, "command": ["/bin/busybox", "sh", "-c", command],
         **extra.pop("container", {})}], **extra}
    if node:
        spec["nodeSelector"] = {"kubernetes.io/hostname": node}
    return spec


def deployment(name: str, ns: str, spec: dict[str, Any], replicas: int = 1) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": spec}}}


def live_pods(cluster: KybCluster, ns: str, selector: str) -> list[dict[str, Any]]:
    return [p for p in get(cluster, "pods", "-n", ns, "-l", selector)["items"]
            if not p["metadata"].get("deletionTimestamp")]


def ready(pod: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True"
               for c in pod["status"].get("conditions", []))


# -- CronJob: created with the module, checked by the last test --------------------------

CRON_NS = "cron"
CRON_JOB_SECONDS = 80  # longer than the schedule's minute


@pytest.fixture(scope="module")
def cron_created(cluster: KybCluster) -> float:
    """The `*/1` Forbid CronJob, created first so its minutes pass during the module."""
    namespace(cluster, CRON_NS)
    apply(cluster, {
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": "tick", "namespace": CRON_NS},
        "spec": {"schedule": "*/1 * * * *", "concurrencyPolicy": "Forbid",
                 "jobTemplate": {"spec": {"template": {"spec": pod_spec(
                     f"echo tick; exec /bin/busybox sleep {CRON_JOB_SECONDS}",
                     restartPolicy="Never")}}}}})
    return time.time()


@VERSIONS
def test_create_job_from_cronjob(cluster: KybCluster, cron_created: float,
                                 kubectl: str) -> None:
    ns = namespace(cluster, f"cron-manual-{short(kubectl)}")
    apply(cluster, {
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": "report", "namespace": ns},
        "spec": {"schedule": "@hourly", "suspend": True,
                 "jobTemplate": {"spec": {"template": {"spec": pod_spec(
                     "echo report done", restartPolicy="Never")}}}}})
    out = cluster.kubectl("create", "job", "report-now", "--from=cronjob/report", "-n", ns,
                          binary=kubectl)
    assert out.strip() == "job.batch/report-now created"
    out = cluster.kubectl("wait", "--for=condition=complete", "job/report-now", "-n", ns,
                          "--timeout=90s", check=False, binary=kubectl)
    assert "condition met" in out, out + cluster.logs()
    job = get(cluster, "job", "report-now", "-n", ns)
    assert job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    owner = job["metadata"]["ownerReferences"][0]
    cronjob_uid = get(cluster, "cronjob", "report", "-n", ns)["metadata"]["uid"]
    assert (owner["kind"], owner["name"], owner["uid"]) == ("CronJob", "report", cronjob_uid)
    # kubectl 1.27 sends no `controller`; newer ones mark the CronJob the controller
    assert owner.get("controller") is (None if kubectl.endswith("1.27") else True), owner
    assert cluster.kubectl("logs", "job/report-now", "-n", ns).strip() == "report done"
    # the suspended schedule itself started nothing
    assert get(cluster, "cronjob", "report", "-n", ns)["status"].get("active") in (None, [])


def test_job_reaches_backoff_limit(cluster: KybCluster) -> None:
    ns = namespace(cluster, "batch-fail")
    apply(cluster, {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "flaky", "namespace": ns},
        "spec": {"backoffLimit": 1, "template": {"spec": pod_spec(
            "echo trying; exit 3", restartPolicy="Never")}}})
    out = cluster.kubectl("wait", "--for=condition=failed", "job/flaky", "-n", ns,
                          "--timeout=50s", check=False)
    assert "condition met" in out, out + cluster.kubectl("get", "pods", "-n", ns) + \
        cluster.logs()
    job = get(cluster, "job", "flaky", "-n", ns)
    failed = next(c for c in job["status"]["conditions"] if c["type"] == "Failed")
    assert failed["status"] == "True"
    assert failed["reason"] == "BackoffLimitExceeded"
    assert failed["message"] == "Job has reached the specified backoff limit"
    assert job["status"]["failed"] == 2 and not job["status"].get("active")
    created = sorted(p["metadata"]["creationTimestamp"] for p in get(
        cluster, "pods", "-n", ns, "-l", "batch.kubernetes.io/job-name=flaky")["items"])
    assert len(created) == 2
    first, second = (datetime.fromisoformat(t) for t in created)
    assert (second - first).total_seconds() >= 10  # kube's back-off before a replacement
    assert cluster.kubectl("get", "job", "flaky", "-n", ns, "--no-headers").split()[1] == \
        "Failed"


@VERSIONS
def test_quota_refuses_what_exceeds_it(cluster: KybCluster, kubectl: str) -> None:
    ns = namespace(cluster, f"quota-{short(kubectl)}")
    out = cluster.kubectl("create", "quota", "small", "-n", ns,
                          "--hard=configmaps=2,requests.cpu=500m", binary=kubectl)
    assert out.strip() == "resourcequota/small created"
    wait_for(lambda: get(cluster, "quota", "small", "-n", ns).get("status", {})
             .get("used", {}).get("configmaps") == "1", within=30,
             what="quota usage counted (kube-root-ca.crt)")
    cluster.kubectl("create", "configmap", "first", "-n", ns, "--from-literal=a=1")
    refused = cluster.kubectl_run("create", "configmap", "second", "-n", ns,
                                  "--from-literal=a=1", binary=kubectl)
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        'error: failed to create configmap: configmaps "second" is forbidden: exceeded '
        "quota: small, requested: configmaps=1, used: configmaps=2, limited: configmaps=2")
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "big", "namespace": ns},
           "spec": pod_spec("sleep 1", container={"resources": {"requests": {"cpu": "1"}}})}
    refused = cluster.kubectl_run("apply", "-f", "-", stdin=json.dumps(pod), binary=kubectl)
    assert refused.returncode == 1
    assert 'pods "big" is forbidden: exceeded quota: small, requested: requests.cpu=1, ' \
        "used: requests.cpu=0, limited: requests.cpu=500m" in refused.stderr, refused.stderr
    assert not get(cluster, "pods", "-n", ns)["items"]


@VERSIONS
def test_kubectl_scale_deployment(cluster: KybCluster, kubectl: str) -> None:
    ns = namespace(cluster, f"scale-{short(kubectl)}")
    apply(cluster, deployment("web", ns, pod_spec("exec /bin/busybox sleep 3600")))
    cluster.kubectl("rollout", "status", "deployment/web", "-n", ns, "--timeout=90s")
    out = cluster.kubectl("scale", "deployment/web", "--replicas=3", "-n", ns, binary=kubectl)
    assert out.strip() == "deployment.apps/web scaled"
    cluster.kubectl("rollout", "status", "deployment/web", "-n", ns, "--timeout=90s")
    pods = live_pods(cluster, ns, "app=web")
    assert len(pods) == 3 and all(ready(p) for p in pods)
    assert cluster.kubectl("get", "deployment", "web", "-n", ns, "--no-headers").split()[1] \
        == "3/3"
    cluster.kubectl("scale", "deployment/web", "--replicas=1", "-n", ns, binary=kubectl)
    wait_for(lambda: len(live_pods(cluster, ns, "app=web")) == 1, within=60,
             what="scaled down to one pod")
    assert get(cluster, "deployment", "web", "-n", ns)["spec"]["replicas"] == 1


# -- HPA: a real CPU load that the test switches off through a file the pods read ---------

BURN = ('while :; do if [ "$(cat /load/mode)" = busy ]; then i=0; '
        'while [ $i -lt 3000 ]; do i=$((i+1)); done; else sleep 1; fi; done')


def test_hpa_follows_cpu_load(cluster: KybCluster) -> None:
    ns = namespace(cluster, "hpa")
    load = cluster.data_dir.parent / "hpa-load"
    load.mkdir()
    (load / "mode").write_text("busy\n")
    spec = pod_spec(BURN, container={
        "resources": {"requests": {"cpu": "100m"}, "limits": {"cpu": "200m"}},
        "volumeMounts": [{"name": "load", "mountPath": "/load", "readOnly": True}]},
        volumes=[{"name": "load", "hostPath": {"path": str(load), "type": "Directory"}}])
    hpa = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
           "metadata": {"name": "burn", "namespace": ns},
           "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                       "name": "burn"},
                    "minReplicas": 1, "maxReplicas": 3,
                    "metrics": [{"type": "Resource", "resource": {
                        "name": "cpu", "target": {"type": "Utilization",
                                                  "averageUtilization": 50}}}],
                    "behavior": {"scaleDown": {"stabilizationWindowSeconds": 5}}}}
    apply(cluster, deployment("burn", ns, spec), hpa)

    def replicas() -> int:
        return int(get(cluster, "deployment", "burn", "-n", ns)["spec"]["replicas"])

    wait_for(lambda: replicas() == 3, within=120, interval=1,
             what="scaled up to maxReplicas under load")
    status = get(cluster, "hpa", "burn", "-n", ns)["status"]
    assert status["desiredReplicas"] == 3 and status.get("lastScaleTime")
    events = cluster.kubectl("get", "events", "-n", ns,
                             "--field-selector=reason=SuccessfulRescale")
    assert "New size:" in events and "cpu resource utilization (percentage of request) " \
        "above target" in events, events
    def top_rows(kubectl: str) -> list[list[str]]:
        out = cluster.kubectl_run("top", "pods", "-n", ns, "--no-headers", binary=kubectl)
        return [line.split() for line in out.stdout.splitlines()]

    for kubectl in ("kubectl.1.27", "kubectl.1.33"):
        top = wait_for(functools.partial(top_rows, kubectl), within=30, interval=1,
                       what=f"{kubectl} top pods rows")
        assert all(row[0].startswith("burn-") and row[1].endswith("m") for row in top), top
        assert max(int(row[1][:-1]) for row in top) >= 50, top  # well above an idle pod

    (load / "mode").write_text("idle\n")
    wait_for(lambda: replicas() == 1, within=150, interval=1,
             what="scaled back down once the load stopped")
    # NAME REFERENCE TARGETS MINPODS MAXPODS REPLICAS AGE, once the status has caught up
    def hpa_row() -> list[str]:
        row = cluster.kubectl("get", "hpa", "burn", "-n", ns, "--no-headers").split()
        return row if row[-2] == "1" else []

    row = wait_for(hpa_row, within=30, interval=1, what="the HPA's status at one replica")
    assert row[:6] == ["burn", "Deployment/burn", "cpu:", row[3], "1", "3"], row
    assert row[3].endswith("%/50%") and int(row[3].split("%")[0]) < 50, row


# -- drain and PodDisruptionBudget ----------------------------------------------------------

DRAIN_LABEL = "kyb-test/drain-target"


@VERSIONS
def test_drain_blocked_then_allowed_by_budget(cluster: KybCluster, kubectl: str) -> None:
    ns = namespace(cluster, f"drain-{short(kubectl)}")
    cluster.kubectl("label", "node", NODE2, f"{DRAIN_LABEL}=yes")
    try:
        spec = pod_spec("exec /bin/busybox sleep 3600", node=None,
                        nodeSelector={DRAIN_LABEL: "yes"})
        apply(cluster, deployment("web", ns, spec, replicas=2))
        cluster.kubectl("rollout", "status", "deployment/web", "-n", ns, "--timeout=90s")
        assert {p["spec"]["nodeName"] for p in live_pods(cluster, ns, "app=web")} == {NODE2}
        out = cluster.kubectl("create", "pdb", "web", "-n", ns, "--selector=app=web",
                              "--min-available=2", binary=kubectl)
        assert out.strip() == "poddisruptionbudget.policy/web created"

        def budget() -> dict[str, Any]:
            pdb = get(cluster, "pdb", "web", "-n", ns)
            fresh = pdb["status"].get("observedGeneration") == pdb["metadata"]["generation"]
            return pdb["status"] if fresh else {}

        wait_for(lambda: budget().get("currentHealthy") == 2, within=30, what="budget status")
        assert budget()["disruptionsAllowed"] == 0

        blocked = cluster.kubectl_run("drain", NODE2, "--ignore-daemonsets",
                                      "--delete-emptydir-data", "--timeout=12s",
                                      binary=kubectl)
        assert blocked.returncode != 0
        assert "Cannot evict pod as it would violate the pod's disruption budget." in \
            blocked.stderr, blocked.stderr
        assert "global timeout reached: 12s" in blocked.stderr, blocked.stderr
        assert get(cluster, "node", NODE2)["spec"].get("unschedulable") is True
        assert len([p for p in live_pods(cluster, ns, "app=web") if ready(p)]) == 2

        # room elsewhere and a budget that allows one pod at a time: the drain goes through
        cluster.kubectl("label", "node", NODE1, f"{DRAIN_LABEL}=yes")
        cluster.kubectl("patch", "pdb", "web", "-n", ns, "--type=merge",
                        "-p", '{"spec":{"minAvailable":1}}')
        wait_for(lambda: budget().get("disruptionsAllowed") == 1, within=30,
                 what="budget relaxed")
        drained = cluster.kubectl_run("drain", NODE2, "--ignore-daemonsets",
                                      "--delete-emptydir-data", "--timeout=150s", timeout=170,
                                      binary=kubectl)
        assert drained.returncode == 0, drained.stderr + cluster.logs()
        assert f"node/{NODE2} drained" in drained.stdout
        cluster.kubectl("rollout", "status", "deployment/web", "-n", ns, "--timeout=90s")
        pods = live_pods(cluster, ns, "app=web")
        assert {p["spec"]["nodeName"] for p in pods} == {NODE1} and len(pods) == 2
    finally:
        cluster.kubectl("uncordon", NODE2, check=False, binary=kubectl)
        for node in (NODE1, NODE2):
            cluster.kubectl("label", "node", node, f"{DRAIN_LABEL}-", check=False)
    assert not get(cluster, "node", NODE2)["spec"].get("unschedulable")


# -- DaemonSet on a node that joins ---------------------------------------------------------

def test_daemon_set_follows_a_new_node(cluster: KybCluster) -> None:
    ns = namespace(cluster, "agents")
    apply(cluster, {
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "agent", "namespace": ns},
        "spec": {"selector": {"matchLabels": {"app": "agent"}},
                 "template": {"metadata": {"labels": {"app": "agent"}},
                              "spec": pod_spec("exec /bin/busybox sleep 3600", node=None)}}})

    def nodes_with_ready_agent() -> set[str]:
        return {p["spec"]["nodeName"] for p in live_pods(cluster, ns, "app=agent")
                if ready(p)}

    cluster.kubectl("rollout", "status", "ds/agent", "-n", ns, "--timeout=90s")
    assert nodes_with_ready_agent() == {NODE1, NODE2}
    with joined_node(cluster, 3) as joined:
        new = joined.name
        wait_for(lambda: nodes_with_ready_agent() == {NODE1, NODE2, new}, within=120,
                 interval=1, what=f"an agent on the new node {new}")
        row = cluster.kubectl("get", "ds", "agent", "-n", ns, "--no-headers").split()
        assert row[1:5] == ["3", "3", "3", "3"], row
        node = get(cluster, "node", new)
        assert any(c["type"] == "Ready" and c["status"] == "True"
                   for c in node["status"]["conditions"])
    wait_for(lambda: cluster.kubectl("get", "ds", "agent", "-n", ns,
                                     "--no-headers").split()[1] == "2",
             within=60, interval=1, what="desired back to 2 once the node is gone")
    wait_for(lambda: nodes_with_ready_agent() == {NODE1, NODE2}, within=60,
             what="the gone node's agent cleaned up")


def test_graceful_node_shutdown_stops_pods_and_marks_the_node(cluster: KybCluster) -> None:
    """SIGTERM to a kubelet with --shutdown-grace-period: its pods get their TERM and
    end Failed with kube's shutdown reason, and its Node goes not Ready."""
    ns = namespace(cluster, "shutdown")
    with joined_node(cluster, 4, "--shutdown-grace-period", "10s",
                     "--shutdown-grace-period-critical-pods", "3s") as joined:
        def registered_ready() -> bool:
            out = cluster.kubectl("get", "node", joined.name, "-o", "json",
                                  "--ignore-not-found")
            return bool(out.strip()) and any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in json.loads(out)["status"].get("conditions", []))
        wait_for(registered_ready, within=60, what="the joined node Ready")
        apply(cluster, {"apiVersion": "v1", "kind": "Pod",
                        "metadata": {"name": "worker", "namespace": ns},
                        "spec": pod_spec("trap 'echo got TERM; exit 0' TERM; echo up; "
                                         "while true; do sleep 0.2; done", node=joined.name,
                                         terminationGracePeriodSeconds=5)})
        wait_for(lambda: ready(get(cluster, "pod", "worker", "-n", ns)), within=60,
                 what="the pod Ready on the joined node")
        wait_for(lambda: "up" in cluster.kubectl("logs", "worker", "-n", ns), within=20,
                 what="the pod's first line")
        joined.kubelet.signal(signal.SIGTERM)
        assert joined.kubelet.popen is not None
        joined.kubelet.popen.wait(30)
        pod = get(cluster, "pod", "worker", "-n", ns)
        assert (pod["status"]["phase"], pod["status"].get("reason"),
                pod["status"].get("message")) == (
            "Failed", "Terminated", "Pod was terminated in response to imminent node shutdown.")
        assert any(c["type"] == "DisruptionTarget" and c["reason"] == "TerminationByKubelet"
                   for c in pod["status"]["conditions"])
        node_ready = next(c for c in get(cluster, "node", joined.name)["status"]["conditions"]
                          if c["type"] == "Ready")
        assert (node_ready["status"], node_ready["message"]) == ("False",
                                                                "node is shutting down")


# -- the CronJob, last: its minutes have passed meanwhile -----------------------------------

def test_cronjob_forbid_runs_one_job_at_a_time(cluster: KybCluster,
                                               cron_created: float) -> None:
    def skipped() -> str:
        return cluster.kubectl("get", "events", "-n", CRON_NS,
                               "--field-selector=reason=JobAlreadyActive", "--no-headers")

    # the first run starts within a minute of creation; the next minute finds it running
    wait_for(skipped, within=max(5.0, cron_created + 150 - time.time()), interval=2,
             what="a scheduled time skipped because the job is still running")
    assert "Not starting job because prior execution is running and concurrency policy " \
        "is Forbid" in skipped()
    cronjob = get(cluster, "cronjob", "tick", "-n", CRON_NS)
    assert len(cronjob["status"].get("active", [])) <= 1
    assert cronjob["status"].get("lastScheduleTime")
    jobs = sorted(get(cluster, "jobs", "-n", CRON_NS)["items"],
                  key=lambda j: j["metadata"]["creationTimestamp"])
    assert jobs and all(j["metadata"]["ownerReferences"][0]["name"] == "tick" for j in jobs)
    # one at a time: each job started after the one before it had finished (a minute
    # that came while a job ran is started when it finishes, as in Kubernetes: no
    # startingDeadlineSeconds here)
    for before, after in itertools.pairwise(jobs):
        assert before["status"].get("completionTime"), before["status"]
        assert after["status"]["startTime"] >= before["status"]["completionTime"]
    running = [p for p in get(cluster, "pods", "-n", CRON_NS)["items"]
               if p["status"].get("phase") in ("Pending", "Running")]
    assert len(running) <= 1, [p["metadata"]["name"] for p in running]
