"""Container environments: service links, $(VAR) expansion, fieldRef and key refs."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from kybernetes.kubelet.env import ConfigError, command_line, container_env, expand, service_env

POD = {"metadata": {"name": "web-1", "namespace": "shop", "uid": "u-1",
                    "labels": {"app": "web"}},
       "spec": {"nodeName": "n1", "containers": []},
       "status": {"podIP": "10.0.0.5", "hostIP": "192.0.2.1"}}


def test_service_env_matches_kubernetes_link_variables() -> None:
    svc = {"metadata": {"name": "redis-master"},
           "spec": {"clusterIP": "10.0.0.11",
                    "ports": [{"name": "db", "port": 6379, "protocol": "TCP"}]}}
    headless = {"metadata": {"name": "h"}, "spec": {"clusterIP": "None", "ports": [{"port": 1}]}}
    env = service_env([svc, headless])
    assert env == {
        "REDIS_MASTER_SERVICE_HOST": "10.0.0.11",
        "REDIS_MASTER_SERVICE_PORT": "6379",
        "REDIS_MASTER_SERVICE_PORT_DB": "6379",
        "REDIS_MASTER_PORT": "tcp://10.0.0.11:6379",
        "REDIS_MASTER_PORT_6379_TCP": "tcp://10.0.0.11:6379",
        "REDIS_MASTER_PORT_6379_TCP_PROTO": "tcp",
        "REDIS_MASTER_PORT_6379_TCP_PORT": "6379",
        "REDIS_MASTER_PORT_6379_TCP_ADDR": "10.0.0.11",
    }


def test_expand_leaves_unknown_references_and_unescapes_dollars() -> None:
    env = {"A": "x"}
    assert expand("$(A)-$(B)-$$(A)", env) == "x-$(B)-$(A)"


async def _lookup(kind: str, namespace: str, name: str) -> dict[str, Any] | None:
    if (kind, name) == ("ConfigMap", "cfg"):
        return {"data": {"color": "blue", "size": "L"}}
    if (kind, name) == ("Secret", "sec"):
        return {"data": {"pw": base64.b64encode(b"hunter2").decode()}}
    return None


async def test_container_env_resolves_every_source_in_order() -> None:
    container = {"name": "c", "envFrom": [{"configMapRef": {"name": "cfg"}, "prefix": "CM_"}],
                 "env": [{"name": "GREETING", "value": "hi $(CM_color)"},
                         {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                         {"name": "APP", "valueFrom": {"fieldRef": {
                             "fieldPath": "metadata.labels['app']"}}},
                         {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                         {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "sec",
                                                                       "key": "pw"}}},
                         {"name": "MEM", "valueFrom": {"resourceFieldRef": {
                             "resource": "limits.memory", "divisor": "1Mi"}}}],
                 "resources": {"limits": {"memory": "64Mi"}},
                 "command": ["echo", "$(POD)"]}
    env = await container_env(POD, container, services=[], lookup=_lookup)
    assert env["CM_color"] == "blue" and env["GREETING"] == "hi blue"
    assert (env["POD"], env["APP"], env["IP"], env["PW"], env["MEM"]) == \
        ("web-1", "web", "10.0.0.5", "hunter2", "64")
    assert command_line(container, env) == ["echo", "web-1"]


async def test_missing_configmap_is_a_config_error_unless_optional() -> None:
    ref: dict[str, Any] = {
        "name": "X", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "k"}}}
    with pytest.raises(ConfigError, match='configmap "nope" not found'):
        await container_env(POD, {"name": "c", "env": [ref]}, services=[], lookup=_lookup)
    ref["valueFrom"]["configMapKeyRef"]["optional"] = True
    env = await container_env(POD, {"name": "c", "env": [ref]}, services=[], lookup=_lookup)
    assert "X" not in env
