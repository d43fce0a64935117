"""Validation finds what Kubernetes finds, with its field paths and wording."""

import copy

import pytest

from kybernetes.api import resources
from kybernetes.api.validation import validate_binding, validate_scale
from tests.support.kinds import apply_defaults, validate


def defaulted(resource, obj):
    obj = copy.deepcopy(obj)
    apply_defaults(resource, obj)
    return obj


POD = {"metadata": {"name": "p", "namespace": "default"},
       "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
DEPLOYMENT = {"metadata": {"name": "d", "namespace": "default"},
              "spec": {"selector": {"matchLabels": {"app": "x"}},
                       "template": {"metadata": {"labels": {"app": "x"}},
                                    "spec": {"containers": [{"name": "c", "image": "i"}]}}}}


def causes(resource, obj, old=None):
    return {(f, r): m for f, r, m in validate(resource, defaulted(resource, obj), old)}


def test_valid_objects_have_no_causes():
    assert validate(resources.PODS, defaulted(resources.PODS, POD)) == []
    assert validate(resources.DEPLOYMENTS, defaulted(resources.DEPLOYMENTS, DEPLOYMENT)) == []


def test_bad_name_uses_kubernetes_message():
    pod = copy.deepcopy(POD)
    pod["metadata"]["name"] = "Foo"
    found = causes(resources.PODS, pod)
    assert found[("metadata.name", "FieldValueInvalid")].startswith(
        'Invalid value: "Foo": a lowercase RFC 1123 subdomain must consist of lower case '
        "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric "
        "character (e.g. 'example.com', regex used for validation is")


def test_missing_name_and_namespace():
    found = causes(resources.PODS, {"metadata": {}, "spec": POD["spec"]})
    assert found[("metadata.name", "FieldValueRequired")] == \
        "Required value: name or generateName is required"
    assert ("metadata.namespace", "FieldValueRequired") in found


def test_pod_spec_errors():
    pod = copy.deepcopy(POD)
    pod["spec"] = {"restartPolicy": "Sometimes", "containers": [
        {"name": "", "image": "x"},
        {"name": "b", "image": "y", "ports": [{"containerPort": 70000}]},
        {"name": "b"}]}
    found = causes(resources.PODS, pod)
    assert found[("spec.containers[0].name", "FieldValueRequired")] == "Required value"
    assert found[("spec.containers[1].ports[0].containerPort", "FieldValueInvalid")] == \
        "Invalid value: 70000: must be between 1 and 65535, inclusive"
    assert found[("spec.containers[2].name", "FieldValueDuplicate")] == 'Duplicate value: "b"'
    assert ("spec.containers[2].image", "FieldValueRequired") in found
    assert found[("spec.restartPolicy", "FieldValueNotSupported")] == (
        'Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"')


def test_no_containers_and_bad_labels():
    pod = {"metadata": {"name": "p", "namespace": "d", "labels": {"bad key": "v", "k": "-x"}},
           "spec": {"containers": []}}
    found = causes(resources.PODS, pod)
    assert ("spec.containers", "FieldValueRequired") in found
    labels = [c for c in validate(resources.PODS, defaulted(resources.PODS, pod))
              if c[0] == "metadata.labels"]
    assert len(labels) == 2


def test_volume_mount_must_name_a_volume():
    pod = copy.deepcopy(POD)
    pod["spec"]["containers"][0]["volumeMounts"] = [{"name": "v", "mountPath": "/v"}]
    assert causes(resources.PODS, pod)[("spec.containers[0].volumeMounts[0].name",
                                        "FieldValueNotFound")] == 'Not found: "v"'


def test_pod_update_may_only_change_image():
    old = defaulted(resources.PODS, POD)
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["image"] = "busybox:2"
    new["metadata"]["labels"] = {"a": "b"}
    assert validate(resources.PODS, new, old) == []
    new["spec"]["restartPolicy"] = "Never"
    found = {(f, r): m for f, r, m in validate(resources.PODS, new, old)}
    assert found[("spec", "FieldValueForbidden")].startswith(
        "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,")


def test_name_is_immutable():
    old = defaulted(resources.PODS, POD)
    new = copy.deepcopy(old)
    new["metadata"]["name"] = "q"
    assert ("metadata.name", "FieldValueInvalid", 'Invalid value: "q": field is immutable') \
        in validate(resources.PODS, new, old)


def test_deployment_selector_must_match_template():
    dep = copy.deepcopy(DEPLOYMENT)
    dep["spec"]["template"]["metadata"]["labels"] = {"app": "y"}
    dep["spec"]["replicas"] = -1
    found = causes(resources.DEPLOYMENTS, dep)
    assert found[("spec.template.metadata.labels", "FieldValueInvalid")] == (
        'Invalid value: map[string]string{"app":"y"}: `selector` does not match template '
        "`labels`")
    assert found[("spec.replicas", "FieldValueInvalid")] == \
        "Invalid value: -1: must be greater than or equal to 0"


def test_deployment_strategy_rules():
    dep = copy.deepcopy(DEPLOYMENT)
    dep["spec"]["strategy"] = {"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}
    assert ("spec.strategy.rollingUpdate", "FieldValueForbidden") in \
        causes(resources.DEPLOYMENTS, dep)
    dep["spec"]["strategy"] = {"type": "RollingUpdate",
                               "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}
    assert ("spec.strategy.rollingUpdate.maxUnavailable", "FieldValueInvalid") in \
        causes(resources.DEPLOYMENTS, dep)


def test_replica_set_selector_immutable_and_template_restart_policy():
    rs = copy.deepcopy(DEPLOYMENT)
    old = defaulted(resources.REPLICA_SETS, rs)
    rs["spec"]["selector"] = {"matchLabels": {"app": "x", "b": "c"}}
    rs["spec"]["template"]["metadata"]["labels"]["b"] = "c"
    rs["spec"]["template"]["spec"]["restartPolicy"] = "OnFailure"
    found = causes(resources.REPLICA_SETS, rs, old)
    assert ("spec.selector", "FieldValueInvalid") in found
    assert found[("spec.template.spec.restartPolicy", "FieldValueNotSupported")] == \
        'Unsupported value: "OnFailure": supported values: "Always"'


def test_rc_requires_selector_matching_template():
    rc = {"metadata": {"name": "r", "namespace": "d"}, "spec": {
        "selector": {"app": "x"}, "template": {"metadata": {"labels": {"app": "z"}},
                                               "spec": POD["spec"]}}}
    assert ("spec.template.metadata.labels", "FieldValueInvalid") in \
        causes(resources.REPLICATION_CONTROLLERS, rc)


@pytest.mark.parametrize(("spec", "key"), [
    ({"ports": [{"port": 0}]}, ("spec.ports[0].port", "FieldValueInvalid")),
    ({"ports": [{"port": 1}, {"port": 2}]}, ("spec.ports[0].name", "FieldValueRequired")),
    ({"ports": []}, ("spec.ports", "FieldValueRequired")),
    ({"type": "Weird", "ports": [{"port": 1}]}, ("spec.type", "FieldValueNotSupported")),
    ({"ports": [{"port": 1, "nodePort": 30001}]}, ("spec.ports[0].nodePort",
                                                   "FieldValueForbidden")),
    ({"ports": [{"port": 1, "protocol": "ICMP"}]}, ("spec.ports[0].protocol",
                                                    "FieldValueNotSupported")),
])
def test_service_errors(spec, key):
    svc = {"metadata": {"name": "s", "namespace": "d"}, "spec": spec}
    assert key in causes(resources.SERVICES, svc)


def test_service_name_is_dns1035_and_cluster_ip_immutable():
    svc = {"metadata": {"name": "1abc", "namespace": "d"}, "spec": {"ports": [{"port": 80}]}}
    assert "DNS-1035" in causes(resources.SERVICES, svc)[("metadata.name", "FieldValueInvalid")]
    old = defaulted(resources.SERVICES, {"metadata": {"name": "s", "namespace": "d"},
                                         "spec": {"ports": [{"port": 80}],
                                                  "clusterIP": "10.0.0.1"}})
    new = copy.deepcopy(old)
    new["spec"]["clusterIP"] = "10.0.0.2"
    assert ("spec.clusterIP", "FieldValueInvalid", 'Invalid value: "10.0.0.2": field is '
            "immutable") in validate(resources.SERVICES, new, old)


def test_configmap_and_secret_keys():
    cm = {"metadata": {"name": "c", "namespace": "d"}, "data": {"bad key": "v", "ok": "v"}}
    assert ("data[bad key]", "FieldValueInvalid") in causes(resources.CONFIGMAPS, cm)
    secret = {"metadata": {"name": "s", "namespace": "d"}, "type": "kubernetes.io/tls",
              "data": {"x": "not base64!"}}
    found = causes(resources.SECRETS, secret)
    assert ("data[tls.crt]", "FieldValueRequired") in found
    assert ("data[x]", "FieldValueInvalid") in found


def test_cluster_scoped_kinds_forbid_namespace():
    node = {"metadata": {"name": "n", "namespace": "d"}}
    assert ("metadata.namespace", "FieldValueForbidden") in causes(resources.NODES, node)
    ns = {"metadata": {"name": "a.b"}}
    assert ("metadata.name", "FieldValueInvalid") in causes(resources.NAMESPACES, ns)


def test_binding_and_scale():
    assert validate_binding({"target": {"kind": "Node", "name": "n1"}}) == []
    assert validate_binding({"target": {"kind": "Pod"}}) == [
        ("target.kind", "FieldValueNotSupported",
         'Unsupported value: "Pod": supported values: "Node", "<empty>"'),
        ("target.name", "FieldValueRequired", "Required value")]
    assert validate_binding({"target": {}}) == [
        ("target.name", "FieldValueRequired", "Required value")]
    assert validate_scale({"metadata": {"name": "d"}, "spec": {"replicas": 2}}) == []
    assert validate_scale({"metadata": {"name": "d"}, "spec": {"replicas": -1}}) == [
        ("spec.replicas", "FieldValueInvalid",
         "Invalid value: -1: must be greater than or equal to 0")]


def test_lease_duration_positive():
    lease = {"metadata": {"name": "l", "namespace": "d"}, "spec": {"leaseDurationSeconds": 0}}
    assert ("spec.leaseDurationSeconds", "FieldValueInvalid") in causes(resources.LEASES, lease)


def test_invalid_status_message_aggregates_like_kubernetes():
    from kybernetes.api.errors import invalid

    one = invalid("Pod", "p", [("spec.x", "FieldValueRequired", "Required value")])
    assert one.message == 'Pod "p" is invalid: spec.x: Required value'
    two = invalid("Deployment", "d", [("a", "FieldValueRequired", "Required value"),
                                      ("b", "FieldValueRequired", "Required value")],
                  group="apps")
    assert two.message == 'Deployment.apps "d" is invalid: [a: Required value, b: Required value]'
    assert len(two.details["causes"]) == 2


def test_binding_may_set_node_name_once():
    old = defaulted(resources.PODS, POD)
    bound = copy.deepcopy(old)
    bound["spec"]["nodeName"] = "n1"
    assert validate(resources.PODS, bound, old) == []
    moved = copy.deepcopy(bound)
    moved["spec"]["nodeName"] = "n2"
    assert [c[0] for c in validate(resources.PODS, moved, bound)] == ["spec"]


def test_volume_sources():
    pod = copy.deepcopy(POD)
    pod["spec"]["volumes"] = [{"name": "a", "emptyDir": {}, "hostPath": {"path": "/x"}},
                              {"name": "b", "hostPath": {"type": "Weird"}},
                              {"name": "c", "configMap": {}}, {"name": "d"}]
    found = causes(resources.PODS, pod)
    assert found[("spec.volumes[0].hostPath", "FieldValueForbidden")] == \
        "Forbidden: may not specify more than 1 volume type"
    assert ("spec.volumes[1].hostPath.path", "FieldValueRequired") in found
    assert ("spec.volumes[1].hostPath.type", "FieldValueNotSupported") in found
    assert ("spec.volumes[2].configMap.name", "FieldValueRequired") in found
    assert not any(f.startswith("spec.volumes[3]") for f, _ in found)  # defaulted to emptyDir


def test_container_restart_policy_env_sources_and_probe_thresholds():
    pod = copy.deepcopy(POD)
    pod["spec"]["initContainers"] = [{"name": "i", "image": "x", "restartPolicy": "Never"}]
    c = pod["spec"]["containers"][0]
    c["restartPolicy"] = "Always"
    c["env"] = [{"name": "A", "value": "1", "valueFrom": {"fieldRef": {"fieldPath": "x"}}},
                {"name": "B", "valueFrom": {}}]
    c["livenessProbe"] = {"exec": {"command": ["true"]}, "successThreshold": 2}
    found = causes(resources.PODS, pod)
    assert found[("spec.initContainers[0].restartPolicy", "FieldValueNotSupported")] == \
        'Unsupported value: "Never": supported values: "Always"'
    assert found[("spec.containers[0].restartPolicy", "FieldValueForbidden")] == \
        "Forbidden: may not be set for non-init containers"
    assert ("spec.containers[0].env[0].valueFrom", "FieldValueInvalid") in found
    assert ("spec.containers[0].env[1].valueFrom", "FieldValueInvalid") in found
    assert found[("spec.containers[0].livenessProbe.successThreshold", "FieldValueInvalid")] == \
        "Invalid value: 2: must be 1"


def test_an_ephemeral_container_targets_only_the_pods_own_containers():
    from kybernetes.api.field_errors import ErrorList
    from kybernetes.api.pod_validation import validate_pod_spec
    errs = ErrorList()
    validate_pod_spec(errs, {"restartPolicy": "Always", "dnsPolicy": "ClusterFirst",
                             "containers": [{"name": "app", "image": "x", "imagePullPolicy":
                                             "Always", "terminationMessagePolicy": "File"}],
                             "ephemeralContainers": [
                                 {"name": f"dbg{i}", "image": "x", "targetContainerName": t,
                                  "imagePullPolicy": "Always",
                                  "terminationMessagePolicy": "File"}
                                 for i, t in enumerate(("app", "dbg0"))]}, "spec")
    assert [c[0] for c in errs.causes] == ["spec.ephemeralContainers[1].targetContainerName"]
