"""One fault after another on a `kyb up --servers 3` cluster under load, measured and
checked; the suite (tests/faults/) and bench/failover.py both run it.

Per fault: wait until the cluster has settled (every member ready, one leader per
role), delete one pod of the RC (so its controller has work while the fault lasts),
inject, hold, heal, wait until it has settled again and the RC has converged. The
record says: the longest time without an acknowledged write from the injection to
the end, seconds from the injection to a new leader for each role whose leader
changed, the writes acknowledged during the fault and how many of them cannot be
read back, the most pods the RC had at once (not terminating), and every check
that failed (`problems`).
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from kybernetes.api.meta import parse_time
from tests.support.faults import FaultCluster, fault_cluster, netns_of
from tests.support.ha import leaders, settled_doc, status_doc
from tests.support.load import AdminApi, PodTracker, Sampler, Writer, missing_writes
from tests.support.poll import wait_for

NAMESPACE = "faults"
RC = "faults-rc"
REPLICAS = 5
# The surge Kubernetes allows: a pod create whose answer is lost with the API server
# (killed, stopped or cut off mid-request) counts as not made for kube's ReplicaSet and
# ReplicationController controllers (slowStartBatch lowers the expectation), so they may
# make one more and delete the extra once their informer sees it. Any more is a bug.
LOST_ANSWER_SURGE = 1
MAX_WRITE_GAP = 10.0
SETTLE_WITHIN = 120.0
STABLE_FOR = 3.0
CONVERGE_WITHIN = 90.0
LEASES = {"scheduler": "kube-scheduler", "controller-manager": "kube-controller-manager"}

Heal = Callable[[], dict[str, Any]]


@dataclass(frozen=True)
class Fault:
    name: str
    hold: float  # seconds it lasts before it is healed (a kill: the supervisor heals)
    inject: Callable[[FaultCluster, dict[str, Any]], Heal]


def _one(doc: dict[str, Any], kind: str, *, leader: bool = False) -> dict[str, Any]:
    found = leaders(doc, kind) if leader else [c for c in doc["components"]
                                               if c["kind"] == kind]
    assert found, f"no {kind}{' leader' if leader else ''} in {doc}"
    return found[0]


def _killer(kind: str, *, leader: bool) -> Callable[[FaultCluster, dict[str, Any]], Heal]:
    def inject(fc: FaultCluster, doc: dict[str, Any]) -> Heal:
        target = _one(doc, kind, leader=leader)
        fc.injector.kill(target["pid"])
        return lambda: {"target": target["name"]}
    return inject


def kill_apiserver(fc: FaultCluster, doc: dict[str, Any]) -> Heal:
    """SIGKILL the API server the leading controller-manager talks to (its own
    host's, as kubeadm's static pods): clients through the balancers and that
    leader's renewals both lose it until the supervisor restarts it."""
    host = _one(doc, "controller-manager", leader=True)["host"]
    target = next(c for c in doc["components"]
                  if c["kind"] == "apiserver" and c["host"] == host)
    fc.injector.kill(target["pid"])
    return lambda: {"target": target["name"]}


def _host_pids(doc: dict[str, Any], host: str) -> list[int]:
    return [c["pid"] for c in doc["components"] if c["host"] == host]


def stop_host(fc: FaultCluster, doc: dict[str, Any]) -> Heal:
    """SIGSTOP every process of the host whose etcd member leads (a hung machine)."""
    host = _one(doc, "etcd", leader=True)["host"]
    pids = _host_pids(doc, host)
    fc.injector.stop(pids)

    def heal() -> dict[str, Any]:
        fc.injector.cont(pids)
        return {"target": host, "processes": len(pids)}
    return heal


def partition_host(fc: FaultCluster, doc: dict[str, Any]) -> Heal:
    """Cut the host whose controller-manager leads off the network, both ways."""
    host = _one(doc, "controller-manager", leader=True)["host"]
    netns = netns_of(_host_pids(doc, host)[0])
    fc.injector.partition(netns)

    def heal() -> dict[str, Any]:
        fc.injector.unpartition(netns)
        return {"target": host, "netns": netns}
    return heal


def fill_disk(fc: FaultCluster, doc: dict[str, Any]) -> Heal:
    """Fill the tmpfs that is one member's data dir; afterwards free it and disarm
    any alarm etcd raised (`etcdctl alarm disarm`, as an operator would)."""
    member = next(c for c in doc["components"]
                  if c["kind"] == "etcd" and fc.disk.name in c["name"])
    log = fc.data_dir / "logs" / f"{member['name']}.log"
    seen = log.stat().st_size if log.exists() else 0
    filled = fc.injector.fill(fc.disk)

    def heal() -> dict[str, Any]:
        with open(log, "rb") as f:  # what the member said while its disk was full
            f.seek(seen)
            enospc = b"no space left on device" in f.read()
        fc.injector.unfill(fc.disk)
        alarms = _etcdctl(fc, "alarm", "list").stdout.split()
        if alarms:
            _etcdctl(fc, "alarm", "disarm")
        return {"target": member["name"], "filled_bytes": filled, "enospc_logged": enospc,
                "alarms": alarms, "old_pid": member["pid"]}
    return heal


FAULTS = (
    Fault("etcd-leader-kill", 0, _killer("etcd", leader=True)),
    Fault("apiserver-kill", 0, kill_apiserver),
    Fault("scheduler-leader-kill", 0, _killer("scheduler", leader=True)),
    Fault("controller-manager-leader-kill", 0, _killer("controller-manager", leader=True)),
    Fault("host-stop-30s", 30, stop_host),
    Fault("host-partition", 20, partition_host),
    Fault("etcd-disk-full", 15, fill_disk),
)


def _etcdctl(fc: FaultCluster, *args: str) -> subprocess.CompletedProcess[str]:
    from kybernetes.cli.servers import etcd_client_tls

    tls = etcd_client_tls(fc.data_dir)
    urls = ",".join(m["url"] for m in (fc.cluster_status().get("etcd") or []))
    return subprocess.run(["etcdctl", "--endpoints", urls, "--cacert", str(tls.cafile),
                           "--cert", str(tls.certfile), "--key", str(tls.keyfile),
                           "--command-timeout", "5s", *args],
                          capture_output=True, text=True, check=False, timeout=30,
                          env={**os.environ, "ETCDCTL_API": "3"})


class Load:
    """The writer, an RC of REPLICAS pods watched for surplus pods, and the etcd
    leader sampled, all running while the faults happen."""

    def __init__(self, fc: FaultCluster) -> None:
        self.fc = fc
        self.api = AdminApi(fc.data_dir)
        self._local = threading.local()
        self.writer = Writer(self.api, NAMESPACE)
        self.pods = PodTracker(self.api, NAMESPACE, f"app={RC}")
        self.etcd_leader: Sampler[tuple[tuple[str, int], ...]] = Sampler(self.etcd_leaders,
                                                                         0.25)

    def start(self) -> None:
        self.call("POST", "/api/v1/namespaces", {"metadata": {"name": NAMESPACE}})
        self.call("POST", f"/api/v1/namespaces/{NAMESPACE}/replicationcontrollers", {
            "apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": RC},
            "spec": {"replicas": REPLICAS, "selector": {"app": RC}, "template": {
                "metadata": {"labels": {"app": RC}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}})
        wait_for(self.converged, within=CONVERGE_WITHIN, interval=1, what="the RC's pods")
        for thread in (self.writer, self.pods, self.etcd_leader):
            thread.start()

    def stop(self) -> None:
        for thread in (self.writer, self.pods, self.etcd_leader):
            if thread.is_alive():
                thread.stop()

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        """One request in this thread's session; anything but 2xx fails."""
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = self.api.session()
        response = self.api.request(session, method, path, json=body, params=params)
        assert response.status_code < 300, f"{method} {path}: {response.text}"
        return response.json()

    def rc_pods(self) -> list[dict[str, Any]]:
        return self.call("GET", f"/api/v1/namespaces/{NAMESPACE}/pods",  # type: ignore[no-any-return]
                         labelSelector=f"app={RC}")["items"]

    def pod_counts(self) -> tuple[int, int]:
        """(pods not terminating, pods terminating) of the RC."""
        items = self.rc_pods()
        terminating = sum(1 for p in items if p["metadata"].get("deletionTimestamp"))
        return len(items) - terminating, terminating

    def converged(self) -> bool:
        """The RC reports REPLICAS ready and exactly REPLICAS pods are not terminating."""
        rc = self.call("GET", f"/api/v1/namespaces/{NAMESPACE}/replicationcontrollers/{RC}")
        status = rc.get("status") or {}
        return (status.get("replicas") == status.get("readyReplicas") == REPLICAS
                and self.pod_counts()[0] == REPLICAS)

    def delete_one_pod(self) -> None:
        """Give the replication controller work while the fault lasts."""
        live = [p for p in self.rc_pods() if not p["metadata"].get("deletionTimestamp")]
        if live:
            self.call("DELETE", f"/api/v1/namespaces/{NAMESPACE}/pods/"
                      f"{live[0]['metadata']['name']}")

    def lease(self, name: str) -> dict[str, Any]:
        return self.call(  # type: ignore[no-any-return]
            "GET", f"/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/{name}"
        ).get("spec") or {}

    def etcd_leaders(self) -> tuple[tuple[str, int], ...]:
        """The (leader, raft term) pairs the members that answer report, each once:
        one pair when they agree; a new term is a new election even when the same
        member wins it again (a killed leader restarted in a second often does)."""
        from kybernetes.cli.servers import etcd_client_tls

        session: requests.Session | None = getattr(self._local, "etcd", None)
        if session is None:
            tls = etcd_client_tls(self.fc.data_dir)
            session = self._local.etcd = requests.Session()
            session.cert = (str(tls.certfile), str(tls.keyfile))
            session.verify = str(tls.cafile)
        found: dict[str, tuple[str, int]] = {}  # member id -> (leader id, term) it reports
        names: dict[str, str] = {}
        for member in self.fc.cluster_status().get("etcd") or []:
            try:
                reply = session.post(f"{member['url']}/v3/maintenance/status", json={},
                                     timeout=1, verify=session.verify).json()
            except (requests.RequestException, ValueError):
                continue
            member_id = reply.get("header", {}).get("member_id", "")
            names[member_id] = member["name"]
            if reply.get("leader") not in (None, "0"):
                found[member_id] = (reply["leader"], int(reply.get("raftTerm") or 0))
        return tuple(sorted({(names.get(leader, leader), term)
                             for leader, term in found.values()}))


def wait_settled(fc: FaultCluster, what: str) -> dict[str, Any]:
    """The status once every member is ready with one leader per role."""
    def check() -> dict[str, Any] | None:
        doc = status_doc(fc.data_dir)
        return doc if settled_doc(doc) else None
    doc = wait_for(check, within=SETTLE_WITHIN, interval=1, what=what)
    assert doc is not None
    return doc


def _leader_pids(doc: dict[str, Any]) -> set[int]:
    return {c["pid"] for c in doc["components"] if c["leader"]}


def wait_stable(fc: FaultCluster, what: str) -> dict[str, Any]:
    """Settled twice STABLE_FOR seconds apart with the same leaders: the last fault's
    after-effects (a leader that lost its lease while its API server restarted) are
    over before the next fault is injected and timed."""
    deadline = time.monotonic() + SETTLE_WITHIN
    doc = wait_settled(fc, what)
    while True:
        time.sleep(STABLE_FOR)
        again = wait_settled(fc, what)
        if _leader_pids(again) == _leader_pids(doc) or time.monotonic() > deadline:
            return again
        doc = again


def run_fault(fc: FaultCluster, load: Load, fault: Fault) -> dict[str, Any]:
    """Inject `fault`, heal it, measure and check; never raises for a failed check
    (it goes into `problems`), so the report has every fault."""
    problems: list[str] = []
    before = wait_stable(fc, f"a settled cluster before {fault.name}")
    old = {kind: load.lease(name).get("holderIdentity") for kind, name in LEASES.items()}
    old_term = max((term for _, term in load.etcd_leaders()), default=0)
    load.writer.phase = fault.name
    load.delete_one_pod()
    start, wall = time.monotonic(), time.time()
    heal = fault.inject(fc, before)
    time.sleep(fault.hold)
    notes = heal()
    healed = time.monotonic() - start
    after: dict[str, Any] | None = None
    try:
        after = wait_settled(fc, "a settled cluster")
    except AssertionError as e:
        problems.append(f"not one ready member and one leader per role: {e}")
    try:
        wait_for(load.converged, within=CONVERGE_WITHIN, interval=1, what="the RC")
    except AssertionError as e:
        problems.append(f"the RC did not converge to {REPLICAS}: {e}")
    settled = time.monotonic()
    try:  # the window ends with a write acknowledged after everything settled
        wait_for(lambda: load.writer.acked_since(settled), within=SETTLE_WITHIN,
                 interval=0.1, what="a write acknowledged")
    except AssertionError as e:
        problems.append(f"writes did not resume: {e}")
    end = time.monotonic()
    gap = load.writer.longest_gap(start, end)
    if gap > MAX_WRITE_GAP:
        problems.append(f"no acknowledged write for {gap:.1f}s (> {MAX_WRITE_GAP:.0f}s)")
    new_leader: dict[str, float | None] = {}
    for kind, name in LEASES.items():
        spec = load.lease(name)
        if spec.get("holderIdentity") != old[kind]:
            acquired = parse_time(spec.get("acquireTime"))
            new_leader[kind] = round(acquired.timestamp() - wall, 2) if acquired else None
    elected = load.etcd_leader.first_after(
        start, lambda pairs: any(term > old_term for _, term in pairs))
    if elected is not None:  # a new term: an election (maybe won by the same member)
        new_leader["etcd"] = round(elected, 2)
    for pairs in load.etcd_leader.between(start, end):
        terms = [term for _, term in pairs]
        if len(terms) != len(set(terms)):
            problems.append(f"two etcd leaders in one term: {pairs}")
            break
    acked = load.writer.acked(fault.name)
    lost = missing_writes(load.api, NAMESPACE, acked)
    if lost:
        problems.append(f"{len(lost)} acknowledged writes lost: {lost[:10]}")
    most = load.pods.most(start, end)
    if len(most) > REPLICAS + LOST_ANSWER_SURGE:
        problems.append(f"{len(most)} pods of the RC not terminating at once "
                        f"(> {REPLICAS} + {LOST_ANSWER_SURGE}): {sorted(most)}")
    if after is not None and "old_pid" in notes:
        notes["member_restarted"] = _one_named(after, notes["target"])["pid"] != notes.pop(
            "old_pid")
    return {"fault": fault.name, "hold_s": fault.hold, "healed_after_s": round(healed, 2),
            "settled_after_s": round(end - start, 2), "longest_write_gap_s": round(gap, 2),
            "new_leader_s": new_leader, "writes_acknowledged": len(acked),
            "writes_lost": len(lost), "write_failures": load.writer.failed(start, end),
            "max_rc_pods": len(most), "notes": notes,
            "problems": problems}


def _one_named(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in doc["components"] if c["name"] == name)


def report(records: list[dict[str, Any]], load: Load | None, *, started: float,
           paths: list[Path]) -> dict[str, Any]:
    """The JSON report, written to every path in `paths`."""
    doc = {"faults": records, "replicas": REPLICAS, "seconds": round(time.monotonic() - started),
           "loadavg": [round(x, 2) for x in os.getloadavg()],
           "writes_acknowledged": len(load.writer.acked()) if load else 0,
           "write_failures": len(load.writer.failures) if load else 0}
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=2) + "\n")
    return doc


def run_under_load(cluster_dir: Path, faults: list[Fault], *, started: float,
                   paths: list[Path], each: Callable[[dict[str, Any]], None] = lambda _: None,
                   ) -> tuple[list[dict[str, Any]], dict[str, Any], list[str]]:
    """`faults` one after another on one `kyb up --servers 3` under load (the suite's
    and the bench's run): their records (`each` sees every one as it ends), the report
    written to `paths`, and the acknowledged writes not readable at the end."""
    records: list[dict[str, Any]] = []
    lost: list[str] = []
    load = None
    with fault_cluster(cluster_dir) as fc:
        try:
            load = Load(fc)
            load.start()
            for fault in faults:
                records.append(run_fault(fc, load, fault))
                each(records[-1])
            load.writer.stop()
            lost = missing_writes(load.api, NAMESPACE, load.writer.acked())
        finally:
            if load is not None:
                load.stop()
            doc = report(records, load, started=started, paths=paths)
    return records, doc, lost
