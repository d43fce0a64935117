"""Name rules, keys, owners and pod readiness helpers."""

import datetime as dt

import pytest

from kybernetes.api import meta


@pytest.mark.parametrize(("name", "ok"), [
    ("web", True), ("web-1.example", True), ("a" * 253, True), ("Web", False),
    ("-web", False), ("web_1", False), ("a" * 254, False), ("", False),
])
def test_dns1123_subdomain(name, ok):
    assert (meta.is_dns1123_subdomain(name) == []) is ok


def test_dns1123_label_and_dns1035_wording():
    assert meta.is_dns1123_label("a.b") == [
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
        "and must start and end with an alphanumeric character (e.g. 'my-name',  or "
        "'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"]
    assert meta.is_dns1123_label("a" * 64)[0] == "must be no more than 63 characters"
    assert meta.is_dns1035_label("1abc")[0].startswith("a DNS-1035 label must consist")
    assert meta.is_dns1035_label("abc-1") == []


@pytest.mark.parametrize(("key", "errors"), [
    ("app", 0), ("example.com/app", 0), ("k8s.io/My_Name.1", 0), ("/app", 1),
    ("Example.com/app", 1), ("a/b/c", 1), ("bad key", 1), ("a" * 64, 1),
])
def test_qualified_names(key, errors):
    assert len(meta.is_qualified_name(key)) == errors


def test_label_values_env_names_config_keys_and_ports():
    assert meta.is_valid_label_value("") == []
    assert meta.is_valid_label_value("v1.2_x") == []
    assert meta.is_valid_label_value("-x") != []
    assert meta.is_env_var_name("MY_VAR.1") == []
    assert meta.is_env_var_name("1VAR") != []
    assert meta.is_config_map_key("..a") == ["must not start with '..'"]
    assert meta.is_config_map_key("a b") != []
    assert meta.is_valid_port_num(80) == []
    assert meta.is_valid_port_num(0) == ["must be between 1 and 65535, inclusive"]
    assert meta.is_valid_port_num(True) != []
    assert meta.is_valid_port_name("http") == []
    assert meta.is_valid_port_name("a--b") == ["must not contain consecutive hyphens"]
    assert meta.is_valid_port_name("8080") == ["must contain at least one letter (a-z)"]
    assert "must be no more than 15 characters" in meta.is_valid_port_name("a" * 16)


def test_times():
    when = dt.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC)
    assert meta.now_rfc3339(when) == "2026-01-02T03:04:05Z"
    assert meta.now_rfc3339_micro(when) == "2026-01-02T03:04:05.678901Z"
    assert meta.parse_time("2026-01-02T03:04:05Z") == when.replace(microsecond=0)
    assert meta.parse_time("garbage") is None
    assert meta.parse_time(None) is None


def test_keys_and_owners():
    owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
             "metadata": {"name": "rs", "uid": "u1", "namespace": "ns"}}
    pod = {"metadata": {"name": "p", "namespace": "ns",
                        "ownerReferences": [{"uid": "u0"}, meta.owner_reference(owner)]}}
    assert meta.object_key(pod) == "ns/p"
    assert meta.object_key({"metadata": {"name": "n1"}}) == "n1"
    assert meta.split_key("ns/p") == ("ns", "p")
    assert meta.split_key("n1") == (None, "n1")
    assert meta.controller_ref(pod) == {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                        "name": "rs", "uid": "u1", "controller": True,
                                        "blockOwnerDeletion": True}
    assert meta.is_owned_by(pod, "u0") and not meta.is_owned_by(pod, "u9")
    assert meta.controller_ref({"metadata": {}}) is None


def test_pod_readiness():
    now = dt.datetime(2026, 1, 1, 0, 1, tzinfo=dt.UTC)
    ready = {"status": {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:00:30Z"}]}}
    assert meta.is_pod_ready(ready)
    assert not meta.is_pod_ready({"status": {"conditions": [{"type": "Ready",
                                                            "status": "False"}]}})
    assert meta.is_pod_available(ready, 10, now=now)
    assert not meta.is_pod_available(ready, 60, now=now)
    assert meta.is_pod_active(ready)
    assert not meta.is_pod_active({"status": {"phase": "Succeeded"}})
    assert not meta.is_pod_active({"metadata": {"deletionTimestamp": "x"}, "status": {}})
