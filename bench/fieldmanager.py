"""Server-side apply and managedFields bookkeeping of a Deployment: microseconds per call.

Run from the repo root: ``.venv/bin/python bench/fieldmanager.py [--seconds 1]``.

Cases, on a Deployment with a two-container pod template, defaulted as the server
stores it, already applied once by ``kubectl`` and scaled by the controller manager:

- ``apply_unchanged``: ``kubectl apply --server-side`` of the same config (the common case);
- ``apply_changed``: the same config with a new image;
- ``apply_create``: the first apply (no live object);
- ``update_scale``: the bookkeeping of a plain update that changes ``spec.replicas``;
- ``json_roundtrip``: orjson dumps + loads of the object, as a baseline.

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from collections.abc import Callable
from typing import Any

import orjson

from kybernetes.api.fieldmanager import apply, reset_fields, update_managed_fields
from kybernetes.api.schema import definition_for

NOW = "2024-01-01T00:00:00Z"


def _container(name: str, image: str, port: int) -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "args": ["--port", str(port)],
        "ports": [{"containerPort": port, "name": "http"}],
        "env": [{"name": "MODE", "value": "prod"}, {"name": "LEVEL", "value": "info"}],
        "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": port}},
    }


CONFIG: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web", "tier": "front"}},
    "spec": {
        "replicas": 3,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web", "tier": "front"}},
            "spec": {
                "containers": [
                    _container("web", "nginx:1.27", 8080),
                    _container("sidecar", "envoy:1.30", 9090),
                ]
            },
        },
    },
}


def _defaulted(obj: dict[str, Any]) -> dict[str, Any]:
    obj = copy.deepcopy(obj)
    obj["metadata"].update(uid="5f0c", resourceVersion="12", generation=1, creationTimestamp=NOW)
    spec = obj["spec"]
    spec.update(
        progressDeadlineSeconds=600,
        revisionHistoryLimit=10,
        strategy={
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
        },
    )
    pod = spec["template"]["spec"]
    pod.update(
        dnsPolicy="ClusterFirst",
        restartPolicy="Always",
        schedulerName="default-scheduler",
        securityContext={},
        terminationGracePeriodSeconds=30,
    )
    for c in pod["containers"]:
        c.update(
            imagePullPolicy="IfNotPresent",
            terminationMessagePath="/dev/termination-log",
            terminationMessagePolicy="File",
        )
        c["ports"][0]["protocol"] = "TCP"
        c["readinessProbe"].update(
            failureThreshold=3, periodSeconds=10, successThreshold=1, timeoutSeconds=1
        )
        c["readinessProbe"]["httpGet"]["scheme"] = "HTTP"
    obj["status"] = {"observedGeneration": 1, "replicas": 3, "readyReplicas": 3}
    return obj


def _rate(fn: Callable[[], object], seconds: float) -> float:
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        count += 1
    return (time.perf_counter() - start) / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=1.0)
    seconds = parser.parse_args().seconds
    schema = definition_for("apps/v1", "Deployment")
    reset = reset_fields(schema)

    def run_apply(live: Any, config: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        managed = (live or {}).get("metadata", {}).get("managedFields")
        return apply(
            live,
            config,
            managed,
            manager="kubectl",
            api_version="apps/v1",
            force=False,
            schema=schema,
            ignored=reset,
            now=NOW,
        )

    created, _ = run_apply(None, orjson.loads(orjson.dumps(CONFIG)))
    live = _defaulted(created)
    scaled = copy.deepcopy(live)
    scaled["spec"]["replicas"] = 5
    scaled["metadata"]["managedFields"] = update_managed_fields(
        live,
        scaled,
        live["metadata"]["managedFields"],
        manager="kube-controller-manager",
        api_version="apps/v1",
        now=NOW,
        schema=schema,
        ignored=reset,
    )
    unchanged = copy.deepcopy(CONFIG)
    del unchanged["spec"]["replicas"]
    changed = copy.deepcopy(unchanged)
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.28"
    results = {
        "apply_unchanged_us": _rate(lambda: run_apply(scaled, unchanged), seconds),
        "apply_changed_us": _rate(lambda: run_apply(scaled, changed), seconds),
        "apply_create_us": _rate(lambda: run_apply(None, CONFIG), seconds),
        "update_scale_us": _rate(
            lambda: update_managed_fields(
                live,
                scaled,
                live["metadata"]["managedFields"],
                manager="kube-controller-manager",
                api_version="apps/v1",
                now=NOW,
                schema=schema,
                ignored=reset,
            ),
            seconds,
        ),
        "json_roundtrip_us": _rate(lambda: orjson.loads(orjson.dumps(scaled)), seconds),
    }
    print(json.dumps({k: round(v, 1) for k, v in results.items()}))


if __name__ == "__main__":
    main()
