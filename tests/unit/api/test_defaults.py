"""Defaults match what a Kubernetes API server fills in."""

import copy

from kybernetes.api import resources
from kybernetes.api.defaults import image_pull_policy
from tests.support.kinds import apply_defaults


def test_pod_defaults():
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [
        {"name": "c", "image": "nginx", "ports": [{"containerPort": 80}],
         "readinessProbe": {"httpGet": {"port": 80}},
         "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}}
    apply_defaults(resources.PODS, pod)
    spec, c = pod["spec"], pod["spec"]["containers"][0]
    assert spec["restartPolicy"] == "Always"
    assert spec["dnsPolicy"] == "ClusterFirst"
    assert spec["schedulerName"] == "default-scheduler"
    assert spec["terminationGracePeriodSeconds"] == 30
    assert spec["securityContext"] == {}
    assert spec["enableServiceLinks"] is True
    assert "priority" not in spec  # the Priority admission plugin's to set
    assert spec["serviceAccountName"] == spec["serviceAccount"] == "default"
    assert {t["key"] for t in spec["tolerations"]} == {"node.kubernetes.io/not-ready",
                                                       "node.kubernetes.io/unreachable"}
    assert c["imagePullPolicy"] == "Always"
    assert c["terminationMessagePath"] == "/dev/termination-log"
    assert c["terminationMessagePolicy"] == "File"
    assert c["ports"][0]["protocol"] == "TCP"
    assert c["readinessProbe"] == {"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"},
                                   "timeoutSeconds": 1, "periodSeconds": 10,
                                   "successThreshold": 1, "failureThreshold": 3}
    assert c["resources"]["requests"] == {"cpu": "1", "memory": "1Gi"}
    assert pod["status"] == {"qosClass": "Guaranteed"}


def test_defaults_are_idempotent():
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x:1"}]}}
    apply_defaults(resources.PODS, pod)
    once = copy.deepcopy(pod)
    apply_defaults(resources.PODS, pod)
    assert pod == once


def test_image_pull_policy():
    assert image_pull_policy("nginx") == "Always"
    assert image_pull_policy("nginx:latest") == "Always"
    assert image_pull_policy("nginx:1.25") == "IfNotPresent"
    assert image_pull_policy("localhost:5000/app") == "Always"
    assert image_pull_policy("localhost:5000/app:v1") == "IfNotPresent"
    assert image_pull_policy("app@sha256:abc") == "IfNotPresent"


def test_rc_selector_and_labels_default_from_template():
    rc = {"metadata": {"name": "r"}, "spec": {"template": {
        "metadata": {"labels": {"app": "x"}},
        "spec": {"containers": [{"name": "c", "image": "i"}]}}}}
    apply_defaults(resources.REPLICATION_CONTROLLERS, rc)
    assert rc["spec"]["selector"] == {"app": "x"}
    assert rc["metadata"]["labels"] == {"app": "x"}
    assert rc["spec"]["replicas"] == 1
    template_spec = rc["spec"]["template"]["spec"]
    assert template_spec["restartPolicy"] == "Always"
    assert "serviceAccountName" not in template_spec
    assert "enableServiceLinks" not in template_spec


def test_deployment_defaults():
    dep = {"metadata": {"name": "d"}, "spec": {"template": {"spec": {"containers": []}}}}
    apply_defaults(resources.DEPLOYMENTS, dep)
    assert dep["spec"]["replicas"] == 1
    assert dep["spec"]["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {
        "maxUnavailable": "25%", "maxSurge": "25%"}}
    assert dep["spec"]["revisionHistoryLimit"] == 10
    assert dep["spec"]["progressDeadlineSeconds"] == 600


def test_service_defaults():
    svc = {"metadata": {"name": "s"}, "spec": {"sessionAffinity": "ClientIP",
                                              "ports": [{"port": 80}, {"port": 81,
                                                                       "targetPort": "web"}]}}
    apply_defaults(resources.SERVICES, svc)
    spec = svc["spec"]
    assert spec["type"] == "ClusterIP"
    assert spec["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 80},
                             {"port": 81, "protocol": "TCP", "targetPort": "web"}]
    assert spec["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 10800}}
    assert spec["internalTrafficPolicy"] == "Cluster"
    assert spec["ipFamilyPolicy"] == "SingleStack"
    assert spec["ipFamilies"] == ["IPv4"]


def test_namespace_secret_and_endpoints_defaults():
    ns = {"metadata": {"name": "team"}}
    apply_defaults(resources.NAMESPACES, ns)
    assert ns["spec"] == {"finalizers": ["kubernetes"]}
    assert ns["status"] == {"phase": "Active"}
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "team"}
    secret = {"metadata": {"name": "s"}}
    apply_defaults(resources.SECRETS, secret)
    assert secret["type"] == "Opaque"
    ep = {"subsets": [{"ports": [{"port": 1}]}]}
    apply_defaults(resources.ENDPOINTS, ep)
    assert ep["subsets"][0]["ports"][0]["protocol"] == "TCP"


def test_plural_fields_follow_singular_ones_as_the_v1_conversion_does():
    pod = {"metadata": {"name": "p"}, "spec": {"containers": []},
           "status": {"podIP": "10.0.0.5", "hostIP": "10.1.0.1"}}
    apply_defaults(resources.PODS, pod)
    assert pod["status"]["podIPs"] == [{"ip": "10.0.0.5"}]
    assert pod["status"]["hostIPs"] == [{"ip": "10.1.0.1"}]
    node = {"metadata": {"name": "n"}, "spec": {"podCIDR": "10.244.1.0/24"},
            "status": {"capacity": {"cpu": "2", "pods": "110"}}}
    apply_defaults(resources.NODES, node)
    assert node["spec"]["podCIDRs"] == ["10.244.1.0/24"]
    assert node["status"]["allocatable"] == {"cpu": "2", "pods": "110"}
