"""The API server's per-request pure logic: how many per second, against a baseline.

Run from the repo root: ``.venv/bin/python bench/api_logic.py [--seconds 1]``.

Each case runs for ``--seconds`` and reports operations per second:

- ``admit_pod``: defaults + validation of a fresh three-container pod (every create);
- ``unknown_fields``: the strict field-validation walk of that pod;
- ``smp_apply``: the strategic merge patch `kubectl apply` sends to change a
  Deployment's image, drop an env var and rescale ($setElementOrder, $patch: delete);
- ``table_100_pods``: a server-side Table of 100 running pods (`kubectl get pods`);
- ``label_select_1000``: parse `app=web,tier in (a,b),!canary` and match 1000 label sets.

The baseline, measured in the same run on the same objects, is a JSON round trip
(orjson dumps + loads) of the pod: the least any request already pays. Each
figure is also given as a ratio to it (``x_baseline``: how many round trips one
operation costs), so results compare across machines. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import os
import time
from collections.abc import Callable
from typing import Any

import orjson

from kybernetes.api import resources
from kybernetes.api.labels import parse_selector
from kybernetes.api.patch import STRATEGIC_MERGE_PATCH, apply_patch
from kybernetes.api.schema import definitions, unknown_fields
from kybernetes.apiserver.kinds.builtin import builtin_registry
from kybernetes.apiserver.tables import table_for

KINDS = builtin_registry()
PODS, DEPLOYMENTS = KINDS.of(resources.PODS), KINDS.of(resources.DEPLOYMENTS)


def _container(i: int) -> dict[str, Any]:
    return {"name": f"c{i}", "image": f"registry.local/app{i}:1.{i}",
            "ports": [{"containerPort": 8080 + i, "name": f"http{i}"}],
            "env": [{"name": f"VAR_{j}", "value": str(j)} for j in range(8)],
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"},
                          "limits": {"cpu": "1", "memory": "256Mi"}},
            "readinessProbe": {"httpGet": {"port": 8080 + i, "path": "/healthz"}},
            "volumeMounts": [{"name": "data", "mountPath": f"/data{i}"}]}


POD: dict[str, Any] = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "web-7d4b9c", "namespace": "default",
                 "labels": {"app": "web", "tier": "a", "pod-template-hash": "7d4b9c"},
                 "annotations": {"example.com/owner": "team-a"}},
    "spec": {"containers": [_container(i) for i in range(3)],
             "volumes": [{"name": "data", "emptyDir": {}}], "nodeSelector": {"zone": "a"}},
}


def _deployment() -> dict[str, Any]:
    template = copy.deepcopy(POD)
    dep = {"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
           "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}},
                                 "spec": template["spec"]}}}
    DEPLOYMENTS.apply_defaults(dep)
    return dep


APPLY_PATCH = orjson.dumps({"spec": {"replicas": 5, "template": {"spec": {
    "$setElementOrder/containers": [{"name": "c0"}, {"name": "c1"}, {"name": "c2"}],
    "containers": [{"name": "c1", "image": "registry.local/app1:2.0",
                    "$setElementOrder/env": [{"name": f"VAR_{j}"} for j in range(7)],
                    "env": [{"$patch": "delete", "name": "VAR_7"}]}]}}}})


def _running_pod(i: int) -> dict[str, Any]:
    pod = copy.deepcopy(POD)
    pod["metadata"]["name"] = f"web-{i}"
    pod["metadata"]["creationTimestamp"] = "2026-11-25T10:00:00Z"
    PODS.apply_defaults(pod)
    pod["spec"]["nodeName"] = f"node-{i % 5}"
    pod["status"] = {"phase": "Running", "podIP": f"10.244.0.{i}", "conditions": [
        {"type": "Ready", "status": "True"}], "containerStatuses": [
        {"name": c["name"], "ready": True, "restartCount": i % 3,
         "state": {"running": {"startedAt": "2026-11-25T10:00:05Z"}}}
        for c in pod["spec"]["containers"]]}
    return pod


def _rate(fn: Callable[[], object], seconds: float) -> float:
    """Operations per second of `fn`, measured over about `seconds`."""
    fn()
    count, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(20):
            fn()
        count += 20
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=1.0)
    args = parser.parse_args()
    definitions()  # load the schemas once, outside the timings
    dep, pods = _deployment(), [_running_pod(i) for i in range(100)]
    labels = [{"app": "web" if i % 2 else "db", "tier": "ab"[i % 2]} for i in range(1000)]
    now = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
    defaulted = copy.deepcopy(POD)
    PODS.apply_defaults(defaulted)

    def admit() -> None:
        pod = orjson.loads(orjson.dumps(POD))
        PODS.apply_defaults(pod)
        assert not PODS.causes(pod)

    cases: dict[str, Callable[[], object]] = {
        "admit_pod": admit,
        "unknown_fields": lambda: unknown_fields(PODS.schema(), defaulted),
        "smp_apply": lambda: apply_patch(dep, APPLY_PATCH, STRATEGIC_MERGE_PATCH,
                                         DEPLOYMENTS.schema()),
        "table_100_pods": lambda: table_for(PODS.table, pods, {}, now=now),
        "label_select_1000": lambda: sum(map(
            parse_selector("app=web,tier in (a,b),!canary").matches, labels)),
    }
    baseline = _rate(lambda: orjson.loads(orjson.dumps(POD)), args.seconds)
    results = {}
    for name, fn in cases.items():
        rate = _rate(fn, args.seconds)
        results[name] = {"ops_per_s": round(rate, 1), "x_baseline": round(baseline / rate, 1)}
    print(json.dumps({"benchmark": "api_logic", "seconds_per_case": args.seconds,
                      "baseline_json_roundtrip_ops_per_s": round(baseline, 1),
                      "cases": results, "load_average": os.getloadavg()[0]}, indent=2))


if __name__ == "__main__":
    main()
