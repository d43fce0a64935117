"""Rendering one request's audit event as kube-apiserver writes it."""

from __future__ import annotations

from typing import Any

import orjson
from multidict import CIMultiDict, CIMultiDictProxy

from kybernetes.apiserver.audit.event import (
    Record,
    micro_time,
    response_status,
    source_ips,
    truncated_user_agent,
    user_info,
    without_managed_fields,
)
from kybernetes.apiserver.audit.policy import Level, RequestConfig
from kybernetes.apiserver.authn import User


def headers(**values: str) -> CIMultiDictProxy[str]:
    return CIMultiDictProxy(CIMultiDict({k.replace("_", "-"): v for k, v in values.items()}))


def test_micro_time_is_six_digits_utc() -> None:
    assert micro_time(1796000000.5) == "2026-11-30T00:53:20.500000Z"


def test_user_info_omits_empty_fields() -> None:
    assert user_info(None) == {}
    assert user_info(User("a")) == {"username": "a"}
    assert user_info(User("a", "u", ("g",), {"k": ["v"]})) == {
        "username": "a", "uid": "u", "groups": ["g"], "extra": {"k": ["v"]}}


def test_source_ips_forwarded_then_real_then_peer() -> None:
    assert source_ips(headers(), "10.0.0.9") == ["10.0.0.9"]
    assert source_ips(headers(X_Forwarded_For="1.1.1.1, bad, 2.2.2.2",
                              X_Real_Ip="3.3.3.3"), "10.0.0.9") == [
        "1.1.1.1", "2.2.2.2", "3.3.3.3", "10.0.0.9"]
    assert source_ips(headers(X_Forwarded_For="10.0.0.9"), "10.0.0.9") == ["10.0.0.9"]


def test_status_fields_and_managed_fields() -> None:
    assert response_status(201, {"kind": "ConfigMap"}) == {"metadata": {}, "code": 201}
    status = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
              "message": "no", "reason": "NotFound", "details": {"name": "x"}, "code": 404}
    assert response_status(404, status) == {"metadata": {}, "status": "Failure",
                                            "message": "no", "reason": "NotFound",
                                            "details": {"name": "x"}, "code": 404}
    listed: dict[str, Any] = {"items": [{"metadata": {"name": "a", "managedFields": [{}]}}],
                              "metadata": {"managedFields": []}}
    assert without_managed_fields(listed) == {"items": [{"metadata": {"name": "a"}}],
                                              "metadata": {}}
    assert listed["items"][0]["metadata"]["managedFields"] == [{}]  # not mutated
    assert truncated_user_agent("a" * 1030) == "a" * 1024 + "...TRUNCATED"


def test_line_keeps_kubes_key_order_and_levels() -> None:
    record = Record(RequestConfig(Level.METADATA), "id", 1796000000.0, "/api/v1/pods", "list",
                    {"username": "a"}, ["127.0.0.1"], "", None,
                    request_object={"x": 1}, response_object={"y": 2})
    received = orjson.loads(record.line("RequestReceived", 1796000001.0))
    assert list(received) == ["kind", "apiVersion", "level", "auditID", "stage", "requestURI",
                              "verb", "user", "sourceIPs", "requestReceivedTimestamp",
                              "stageTimestamp"]
    assert received["stageTimestamp"] == received["requestReceivedTimestamp"]
    record.authorized(False, "no")
    done = orjson.loads(record.line("ResponseComplete", 1796000001.0))
    assert done["stageTimestamp"] == "2026-11-30T00:53:21.000000Z"
    assert done["annotations"] == {"authorization.k8s.io/decision": "forbid",
                                   "authorization.k8s.io/reason": "no"}
    assert "requestObject" not in done and "responseObject" not in done  # Metadata level
