"""networking.k8s.io/v1 Ingresses and IngressClasses through the real kubectl (oldest and
newest): `kubectl create ingress`, the default class filled in by admission, the tables,
the status subresource, `describe`, and kube's refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.apiserver import ApiServer
from tests.support.kubectl import KUBECTLS, Kubectl


@pytest.fixture(params=[KUBECTLS[0], KUBECTLS[-1]])
def kubectl(request: pytest.FixtureRequest, sqlite_server: ApiServer, tmp_path: Path
            ) -> Kubectl:
    return Kubectl(request.param, sqlite_server, tmp_path)



def _ingress_class(name: str, **spec: object) -> str:
    return json.dumps({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
                       "metadata": {"name": name, "annotations": {
                           "ingressclass.kubernetes.io/is-default-class": "true"}},
                       "spec": {"controller": "example.com/ingress", **spec}})


def test_an_ingress_gets_the_default_class_and_shows_its_routes(kubectl: Kubectl) -> None:
    cls, ns = f"web-{kubectl.tag}", f"ing-{kubectl.tag}"
    kubectl("create", "namespace", ns)
    kubectl("apply", "-f", "-", stdin=_ingress_class(cls, parameters={
        "apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "p"}))
    try:
        stored = kubectl.json("get", "ingressclass", cls)
        assert stored["spec"]["parameters"]["scope"] == "Cluster"  # defaulted
        head, row = kubectl("get", "ingressclass", cls).strip().splitlines()
        assert head.split() == ["NAME", "CONTROLLER", "PARAMETERS", "AGE"]
        assert row.split()[:3] == [cls, "example.com/ingress",
                                   "IngressParameters.k8s.example.com/p"]
        kubectl("create", "ingress", "web", "-n", ns, "--rule=foo.com/bar*=svc1:8080",
                "--rule=bar.com/=svc2:http,tls=my-cert")
        made = kubectl.json("get", "ingress", "web", "-n", ns)
        assert made["spec"]["ingressClassName"] == cls
        paths = made["spec"]["rules"][0]["http"]["paths"]
        assert paths == [{"path": "/bar", "pathType": "Prefix", "backend": {"service": {
            "name": "svc1", "port": {"number": 8080}}}}]
        assert made["status"] == {"loadBalancer": {}}
        assert made["metadata"]["generation"] == 1
        head, row = kubectl("get", "ing", "web", "-n", ns).strip().splitlines()
        assert head.split() == ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"]
        assert row.split()[:5] == ["web", cls, "foo.com,bar.com", "80,", "443"]
        # an ingress controller writes the address through the status subresource
        kubectl("patch", "ingress", "web", "-n", ns, "--subresource=status", "--type=merge",
                "-p", '{"status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.5"}]}}}')
        assert kubectl("get", "ing", "web", "-n", ns).splitlines()[1].split()[3] == "10.0.0.5"
        described = kubectl("describe", "ingress", "web", "-n", ns)
        assert "foo.com" in described and "svc1:8080" in described
        # a class named, or the old annotation, is left alone
        kubectl("create", "ingress", "other", "-n", ns, "--class=none",
                "--default-backend=svc3:80")
        assert kubectl.json("get", "ing", "other", "-n", ns)["spec"]["ingressClassName"] == \
            "none"
    finally:
        kubectl("delete", "ingressclass", cls)
        kubectl("delete", "namespace", ns, "--wait=false")


@pytest.mark.parametrize(("spec", "message"), [
    ({"rules": [{"host": "a.com", "http": {"paths": [
        {"path": "/x", "backend": {"service": {"name": "s", "port": {"number": 80}}}}]}}]},
     "spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified"),
    ({"rules": [{"host": "10.0.0.1", "http": {"paths": [
        {"path": "x", "pathType": "Prefix",
         "backend": {"service": {"name": "s", "port": {"name": "http", "number": 80}}}}]}}]},
     'spec.rules[0].host: Invalid value: "10.0.0.1": must be a DNS name, not an IP address'),
    ({}, "spec: Invalid value: []networking.IngressRule(nil): either `defaultBackend` or "
         "`rules` must be specified"),
    ({"defaultBackend": {"service": {"name": "s"}}},
     "spec.defaultBackend: Required value: port name or number is required"),
])
def test_refusals_have_kubes_words(kubectl: Kubectl, spec: dict, message: str) -> None:
    body = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "bad"}, "spec": spec}
    out = kubectl.run("apply", "-f", "-", stdin=json.dumps(body), check=False)
    assert out.returncode != 0
    assert 'The Ingress "bad" is invalid' in out.stderr
    assert message in out.stderr, out.stderr
