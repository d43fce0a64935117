"""ValidatingAdmissionPolicies applied with the real kubectl against a real API server."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.apiserver import ApiServer
from tests.support.kubectl import Kubectl

POLICY = """\
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: replica-limit.example.com}
spec:
  failurePolicy: Fail
  PARAM_KIND
  matchConstraints:
    resourceRules:
    - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE, UPDATE],
       resources: [deployments]}
  validations:
  - EXPRESSION
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: replica-limit-binding.example.com}
spec:
  policyName: replica-limit.example.com
  validationActions: [ACTION]
  PARAM_REF
  matchResources:
    namespaceSelector: {matchLabels: {policy-test: NS}}
"""

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: NS}
spec:
  replicas: REPLICAS
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: busybox}]}
"""


@pytest.fixture
def kubectl(sqlite_server: ApiServer, tmp_path: Path) -> Kubectl:
    return Kubectl("kubectl", sqlite_server, tmp_path)


def apply(kubectl: Kubectl, text: str, *, check: bool = True) -> tuple[str, str]:
    path = kubectl.tmp / f"manifest-{time.monotonic_ns()}.yaml"
    path.write_text(text)
    proc = kubectl.run("apply", "-f", str(path), check=check)
    return proc.stdout, proc.stderr


def labelled_namespace(kubectl: Kubectl, name: str) -> str:
    kubectl("create", "namespace", name)
    kubectl("label", "namespace", name, f"policy-test={name}")
    return name


def deployment(namespace: str, replicas: int) -> str:
    return DEPLOYMENT.replace("NS", namespace).replace("REPLICAS", str(replicas))


def install_policy(kubectl: Kubectl, namespace: str, *, expression: str, action: str = "Deny",
                   param_kind: str = "", param_ref: str = "") -> None:
    text = (POLICY.replace("NS", namespace).replace("EXPRESSION", expression)
            .replace("ACTION", action).replace("PARAM_KIND", param_kind)
            .replace("PARAM_REF", param_ref))
    out, _ = apply(kubectl, text)
    assert "validatingadmissionpolicy.admissionregistration.k8s.io/replica-limit.example.com" \
        in out


def refused_until_enforced(kubectl: Kubectl, manifest: str) -> str:
    """The stderr of an apply that the policy refuses (the cache follows the store in moments)."""
    deadline = time.monotonic() + 10
    while True:
        proc = kubectl.run("apply", "-f", "-", stdin=manifest, check=False)
        if proc.returncode != 0 or time.monotonic() > deadline:
            return proc.stderr
        kubectl.run("delete", "-f", "-", stdin=manifest, check=False)
        time.sleep(0.1)


@pytest.fixture(autouse=True)
def no_policy_left(kubectl: Kubectl) -> object:
    yield None
    kubectl.run("delete", "validatingadmissionpolicybindings,validatingadmissionpolicies",
                "--all", check=False)


def test_too_many_replicas_are_refused_with_kubernetes_message(kubectl: Kubectl) -> None:
    namespace = labelled_namespace(kubectl, "vap-deny")
    install_policy(kubectl, namespace, expression='expression: "object.spec.replicas <= 5"')
    stderr = refused_until_enforced(kubectl, deployment(namespace, 7))
    assert stderr.strip() == (
        'The deployments "web" is invalid: : ValidatingAdmissionPolicy '
        "'replica-limit.example.com' with binding 'replica-limit-binding.example.com' denied "
        "request: failed expression: object.spec.replicas <= 5")
    out, _ = apply(kubectl, deployment(namespace, 3))
    assert "deployment.apps/web created" in out
    # Namespaces the binding does not select are not checked.
    other = labelled_namespace(kubectl, "vap-elsewhere")
    kubectl("label", "namespace", other, "policy-test-")
    assert "created" in apply(kubectl, deployment(other, 9))[0]
    table = kubectl("get", "validatingadmissionpolicies")
    assert table.split("\n")[0].split() == ["NAME", "VALIDATIONS", "PARAMKIND", "AGE"]
    assert "replica-limit.example.com   1             <unset>" in table
    bindings = kubectl("get", "validatingadmissionpolicybindings")
    assert bindings.split("\n")[0].split() == ["NAME", "POLICYNAME", "PARAMREF", "AGE"]


def test_params_from_a_configmap_and_message_expression(kubectl: Kubectl) -> None:
    namespace = labelled_namespace(kubectl, "vap-params")
    kubectl("create", "configmap", "limits", "-n", namespace, "--from-literal=maxReplicas=2")
    install_policy(
        kubectl, namespace,
        expression="{expression: 'object.spec.replicas <= int(params.data.maxReplicas)', "
                   "messageExpression: \"'replicas must be at most ' + "
                   "params.data.maxReplicas\", reason: Forbidden}",
        param_kind="paramKind: {apiVersion: v1, kind: ConfigMap}",
        param_ref=f"paramRef: {{name: limits, namespace: {namespace}, "
                  "parameterNotFoundAction: Deny}")
    stderr = refused_until_enforced(kubectl, deployment(namespace, 3))
    assert stderr.strip() == (
        'Error from server (Forbidden): error when creating "STDIN": deployments.apps "web" is '
        "forbidden: ValidatingAdmissionPolicy 'replica-limit.example.com' with binding "
        "'replica-limit-binding.example.com' denied request: replicas must be at most 2")
    assert "created" in apply(kubectl, deployment(namespace, 2))[0]
    # The param gone: parameterNotFoundAction Deny refuses every matching request.
    kubectl("delete", "configmap", "limits", "-n", namespace)
    stderr = refused_until_enforced(kubectl, deployment(namespace, 1).replace("web", "other"))
    assert "failed to configure binding: no params found for policy binding with `Deny` " \
           "parameterNotFoundAction" in stderr
    policies = kubectl("get", "validatingadmissionpolicies")
    assert "v1/ConfigMap" in policies
    assert f"{namespace}/limits" in kubectl("get", "validatingadmissionpolicybindings")


def test_warn_action_admits_with_a_warning(kubectl: Kubectl) -> None:
    namespace = labelled_namespace(kubectl, "vap-warn")
    install_policy(kubectl, namespace, action="Warn",
                   expression="{expression: 'object.spec.replicas <= 5', "
                              "message: 'too many replicas'}")
    deadline = time.monotonic() + 10
    while True:
        proc = kubectl.run("apply", "-f", "-", stdin=deployment(namespace, 8))
        if "Warning" in proc.stderr or time.monotonic() > deadline:
            break
        kubectl.run("delete", "deployment", "web", "-n", namespace)
        time.sleep(0.1)
    assert "deployment.apps/web created" in proc.stdout
    assert ("Warning: Validation failed for ValidatingAdmissionPolicy "
            "'replica-limit.example.com' with binding 'replica-limit-binding.example.com': "
            "too many replicas") in proc.stderr


def test_invalid_policy_is_refused_with_the_cel_compile_error(kubectl: Kubectl) -> None:
    text = POLICY.split("---")[0].replace("EXPRESSION", 'expression: "object.spec.replicas <"')
    _, stderr = apply(kubectl, text.replace("PARAM_KIND", ""), check=False)
    assert 'The ValidatingAdmissionPolicy "replica-limit.example.com" is invalid' in stderr
    assert "spec.validations[0].expression: Invalid value: \"object.spec.replicas <\": " \
           "compilation failed: ERROR: <input>:1:" in stderr
