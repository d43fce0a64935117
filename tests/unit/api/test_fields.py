"""Field selectors: the fields Kubernetes supports per resource, and its errors."""

import pytest

from kybernetes.api import resources
from kybernetes.api.errors import BadRequest
from tests.support.kinds import parse_field_selector

POD = {"metadata": {"name": "p", "namespace": "ns"},
       "spec": {"nodeName": "n1", "restartPolicy": "Always"},
       "status": {"phase": "Running"}}


@pytest.mark.parametrize(("text", "expected"), [
    ("spec.nodeName=n1", True),
    ("spec.nodeName==n1", True),
    ("spec.nodeName!=n1", False),
    ("spec.nodeName=n1,status.phase=Running", True),
    ("spec.nodeName=n1,status.phase!=Running", False),
    ("metadata.name=p,metadata.namespace=ns", True),
    ("spec.hostNetwork=false", True),
    ("status.podIP=", True),
    ("", True),
])
def test_pod_field_selectors(text, expected):
    assert parse_field_selector(text, resources.PODS).matches(POD) is expected


def test_unscheduled_pods_selector():
    sel = parse_field_selector("spec.nodeName=", resources.PODS)
    assert sel.matches({"metadata": {"name": "x"}, "spec": {}})
    assert not sel.matches(POD)
    assert sel.requires("spec.nodeName") == ""


def test_unsupported_field_is_bad_request():
    with pytest.raises(BadRequest) as info:
        parse_field_selector("spec.nodeName=n1", resources.SERVICES)
    assert info.value.message == "field label not supported: spec.nodeName"


def test_term_without_operator_is_bad_request():
    with pytest.raises(BadRequest) as info:
        parse_field_selector("metadata.name", resources.PODS)
    assert "can't understand 'metadata.name'" in info.value.message


def test_event_and_other_resource_fields():
    event = {"involvedObject": {"kind": "Pod", "name": "p"}, "source": {"component": "kubelet"},
             "type": "Warning", "reason": "Failed"}
    sel = parse_field_selector("involvedObject.kind=Pod,source=kubelet,type=Warning",
                               resources.EVENTS)
    assert sel.matches(event)
    assert parse_field_selector("spec.unschedulable=false", resources.NODES).matches({})
    assert parse_field_selector("type=Opaque", resources.SECRETS).matches({"type": "Opaque"})
    assert parse_field_selector("status.replicas=0", resources.REPLICA_SETS).matches({})


def test_escaped_values():
    sel = parse_field_selector(r"metadata.name=a\,b", resources.PODS)
    assert sel.matches({"metadata": {"name": "a,b"}})
