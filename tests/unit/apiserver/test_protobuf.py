"""Decoding Kubernetes protobuf request bodies (what kubectl ≥ 1.32 sends)."""

from __future__ import annotations

import pytest

from kybernetes.api.errors import BadRequest, UnsupportedMediaType
from kybernetes.apiserver.protobuf import MAGIC, decode


def varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(number: int, value: bytes | int | str) -> bytes:
    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    raw = value.encode() if isinstance(value, str) else value
    return varint(number << 3 | 2) + varint(len(raw)) + raw


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    type_meta = field(1, api_version) + field(2, kind)
    return MAGIC + field(1, type_meta) + field(2, raw) + field(3, "") + field(4, "")


def test_configmap_with_labels_and_data() -> None:
    meta = field(1, "cfg") + field(2, "") + field(11, field(1, "app") + field(2, "web"))
    raw = field(1, meta) + field(2, field(1, "a") + field(2, "1")) + field(2, field(1, "b")
                                                                        + field(2, "2"))
    obj = decode(envelope("v1", "ConfigMap", raw))
    assert obj == {"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "cfg", "labels": {"app": "web"}},
                   "data": {"a": "1", "b": "2"}}


def test_deployment_keeps_explicit_zero_replicas_and_int_or_string() -> None:
    container = field(1, "c") + field(2, "nginx") + field(3, "sleep") + field(3, "1")
    template = field(2, field(2, container))
    rolling = field(1, field(1, 1) + field(3, "25%")) + field(2, field(1, 0) + field(2, 2))
    spec = (field(1, 0) + field(2, field(1, field(1, "app") + field(2, "d")))
            + field(3, template) + field(4, field(1, "RollingUpdate") + field(2, rolling))
            + field(5, 0))
    obj = decode(envelope("apps/v1", "Deployment", field(1, field(1, "d")) + field(2, spec)
                          + field(3, field(1, 0))))
    assert obj["spec"]["replicas"] == 0
    assert "minReadySeconds" not in obj["spec"] and "status" not in obj
    assert obj["spec"]["template"]["spec"]["containers"] == [
        {"name": "c", "image": "nginx", "command": ["sleep", "1"]}]
    assert obj["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": "25%", "maxSurge": 2}


def test_secret_bytes_become_base64() -> None:
    raw = field(1, field(1, "s")) + field(2, field(1, "pw") + field(2, b"hunter2"))
    assert decode(envelope("v1", "Secret", raw))["data"] == {"pw": "aHVudGVyMg=="}


def test_unknown_non_empty_field_is_415_and_garbage_is_400() -> None:
    with pytest.raises(UnsupportedMediaType, match="field 99 of ConfigMap"):
        decode(envelope("v1", "ConfigMap", field(99, "x")))
    with pytest.raises(UnsupportedMediaType, match="kind HorizontalPodAutoscaler"):
        decode(envelope("autoscaling/v2", "HorizontalPodAutoscaler", b""))
    with pytest.raises(BadRequest):
        decode(b"not protobuf")
    with pytest.raises(BadRequest):
        decode(MAGIC + b"\x0a\xff")


def test_autoscaling_v1_hpa_as_kubectl_autoscale_sends_it() -> None:
    ref = field(1, "Deployment") + field(2, "web") + field(3, "apps/v1")
    spec = field(1, ref) + field(2, 1) + field(3, 5) + field(4, 50)
    obj = decode(envelope("autoscaling/v1", "HorizontalPodAutoscaler",
                          field(1, field(1, "web")) + field(2, spec)))
    assert obj["spec"] == {"scaleTargetRef": {"kind": "Deployment", "name": "web",
                                              "apiVersion": "apps/v1"},
                           "minReplicas": 1, "maxReplicas": 5,
                           "targetCPUUtilizationPercentage": 50}


@pytest.mark.parametrize("raw", [
    field(1, field(1, b"\xb7\x9b")),  # a name that is not UTF-8
    field(1, field(1, 1 << 40)),  # a varint where the name's bytes go: never a length
    field(1, field(11, field(1, 5))),  # a label's key as a varint
    field(1, field(8, field(1, b"x"))),  # a creationTimestamp whose seconds are bytes
    field(1, field(8, field(1, 1 << 62))),  # a time past the calendar
])
def test_hostile_fields_are_400(raw: bytes) -> None:
    with pytest.raises(BadRequest):
        decode(envelope("v1", "ConfigMap", raw))


def test_an_ingress_as_kubectl_create_ingress_sends_it() -> None:
    backend = field(4, field(1, "svc") + field(2, field(2, 8080)))
    path = field(1, "/bar") + field(2, backend) + field(3, "Prefix")
    rule = field(1, "foo.com") + field(2, field(1, field(1, path)))
    raw = field(1, field(1, "web")) + field(2, field(3, rule) + field(4, "nginx")
                                          + field(2, field(1, "foo.com") + field(2, "cert")))
    obj = decode(envelope("networking.k8s.io/v1", "Ingress", raw))
    assert obj["spec"] == {
        "rules": [{"host": "foo.com", "http": {"paths": [{
            "path": "/bar", "pathType": "Prefix",
            "backend": {"service": {"name": "svc", "port": {"number": 8080}}}}]}}],
        "ingressClassName": "nginx", "tls": [{"hosts": ["foo.com"], "secretName": "cert"}]}
