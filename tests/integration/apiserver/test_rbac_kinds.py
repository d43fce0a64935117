"""The RBAC kinds through the real kubectl, and the bootstrap policy a real API server writes
(and reconciles on every start)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.apiserver import ApiServer
from tests.support.kubectl import KUBECTLS, Kubectl

AUTOUPDATE = "rbac.authorization.kubernetes.io/autoupdate"


@pytest.fixture(params=[k for k in KUBECTLS if k != "kubectl.1.33"])
def kubectl(request: pytest.FixtureRequest, shared_apiserver: ApiServer, tmp_path: Path
            ) -> Kubectl:
    """kubectl.1.27 and the default kubectl."""
    return Kubectl(request.param, shared_apiserver, tmp_path)


def _namespace(kubectl: Kubectl, base: str) -> str:
    ns = f"{base}-{kubectl.tag}"
    kubectl("create", "namespace", ns)
    return ns


def _rows(out: str) -> list[list[str]]:
    return [line.split() for line in out.strip().splitlines()]


def test_create_and_get_with_kube_columns(kubectl: Kubectl) -> None:
    ns = _namespace(kubectl, "rbac-get")
    kubectl("create", "role", "pod-reader", "-n", ns, "--verb=get,list", "--resource=pods")
    kubectl("create", "rolebinding", "read-pods", "-n", ns, "--role=pod-reader",
            "--user=jane", "--group=devs", f"--serviceaccount={ns}:robot")
    cr = f"crd-reader-{ns}"
    kubectl("create", "clusterrole", cr, "--verb=get", "--resource=nodes")
    kubectl("create", "clusterrolebinding", cr, f"--clusterrole={cr}", "--group=ops")

    roles = _rows(kubectl("get", "roles", "-n", ns))
    assert roles[0] == ["NAME", "CREATED", "AT"]
    assert roles[1][0] == "pod-reader" and roles[1][1].endswith("Z")
    bindings = _rows(kubectl("get", "rolebindings", "-n", ns, "-o", "wide"))
    assert bindings[0] == ["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"]
    assert bindings[1][:2] == ["read-pods", "Role/pod-reader"]
    assert bindings[1][3:] == ["jane", "devs", f"{ns}/robot"]
    crb = _rows(kubectl("get", "clusterrolebinding", cr))
    assert crb[0] == ["NAME", "ROLE", "AGE"] and crb[1][:2] == [cr, f"ClusterRole/{cr}"]

    stored = kubectl.json("get", "rolebinding", "read-pods", "-n", ns)
    assert stored["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                 "name": "pod-reader"}
    assert "generation" not in stored["metadata"]  # Kubernetes does not track it for RBAC
    rule = kubectl.json("get", "role", "pod-reader", "-n", ns)["rules"][0]
    assert rule == {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}
    kubectl("delete", "clusterrolebinding", cr)
    kubectl("delete", "clusterrole", cr)


def _apply(kubectl: Kubectl, manifest: dict) -> str:
    proc = kubectl.run("apply", "-f", "-", stdin=json.dumps(manifest), check=False)
    assert proc.returncode != 0, proc.stdout
    return proc.stderr


def test_invalid_objects_are_refused_with_kube_messages(kubectl: Kubectl) -> None:
    ns = _namespace(kubectl, "rbac-bad")
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": "bad", "namespace": ns},
            "rules": [{"apiGroups": [""], "resources": ["pods"]},
                      {"nonResourceURLs": ["/healthz"], "verbs": ["get"]}]}
    err = _apply(kubectl, role)
    assert 'The Role "bad" is invalid' in err
    assert "rules[0].verbs: Required value: verbs must contain at least one value" in err
    assert ('rules[1].nonResourceURLs: Invalid value: []string{"/healthz"}: namespaced rules '
            "cannot apply to non-resource URLs") in err
    # Kubernetes accepts verbs it does not know (they never match a request).
    role["rules"] = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["frobnicate"]}]
    kubectl("apply", "-f", "-", stdin=json.dumps(role))

    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
               "metadata": {"name": f"bad-{ns}"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                           "name": "x"},
               "subjects": [{"kind": "ServiceAccount", "name": "default"}]}
    err = _apply(kubectl, binding)
    assert 'roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"' in err
    assert "subjects[0].namespace: Required value" in err


def test_role_ref_cannot_change(kubectl: Kubectl) -> None:
    ns = _namespace(kubectl, "rbac-ref")
    kubectl("create", "rolebinding", "b", "-n", ns, "--clusterrole=view", "--user=jane")
    proc = kubectl.run("patch", "rolebinding", "b", "-n", ns, "--type=merge", "-p",
                       '{"roleRef":{"name":"edit"}}', check=False)
    assert proc.returncode != 0
    assert ('roleRef: Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", '
            'Kind:"ClusterRole", Name:"edit"}: cannot change roleRef') in proc.stderr
    # subjects may change
    kubectl("patch", "rolebinding", "b", "-n", ns, "--type=merge", "-p",
            '{"subjects":[{"kind":"User","name":"joe","apiGroup":"rbac.authorization.k8s.io"}]}')


def test_bootstrap_policy_is_there(kubectl: Kubectl) -> None:
    admin = kubectl.json("get", "clusterrole", "cluster-admin")
    assert admin["metadata"]["labels"]["kubernetes.io/bootstrapping"] == "rbac-defaults"
    assert admin["metadata"]["annotations"][AUTOUPDATE] == "true"
    assert {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]} in admin["rules"]
    binding = kubectl.json("get", "clusterrolebinding", "cluster-admin")
    assert binding["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                                    "name": "system:masters"}]
    # admin/edit/view are aggregated at once (no controller manager runs here)
    view = kubectl.json("get", "clusterrole", "view")
    assert any("pods" in r.get("resources", []) for r in view["rules"])
    edit_rules = kubectl.json("get", "clusterrole", "edit")["rules"]
    assert all(r in edit_rules for r in view["rules"])
    admin_rules = kubectl.json("get", "clusterrole", "admin")["rules"]
    assert any("rolebindings" in r.get("resources", []) for r in admin_rules)
    kcm = kubectl.json("get", "clusterrolebinding", "system:controller:replicaset-controller")
    assert {"kind": "User", "apiGroup": "rbac.authorization.k8s.io",
            "name": "system:kube-controller-manager"} in kcm["subjects"]
    assert kubectl("get", "role", "-n", "kube-public", "-o", "name").split() == [
        "role.rbac.authorization.k8s.io/kubeadm:bootstrap-signer-clusterinfo",
        "role.rbac.authorization.k8s.io/system:controller:bootstrap-signer"]


def test_reconcile_on_restart(apiserver: ApiServer, tmp_path: Path) -> None:
    kubectl = Kubectl("kubectl", apiserver, tmp_path)

    def versions() -> dict[str, str]:
        items = kubectl.json("get", "clusterroles,clusterrolebindings,roles,rolebindings",
                             "-A")["items"]
        return {f"{i['kind']}/{i['metadata'].get('namespace', '')}/{i['metadata']['name']}":
                i["metadata"]["resourceVersion"] for i in items}

    # someone owns `view` now; `edit` lost a rule but is still auto-updated
    kubectl("annotate", "clusterrole", "view", f"{AUTOUPDATE}=false", "--overwrite")
    kubectl("patch", "clusterrole", "view", "--type=json",
            "-p", '[{"op":"replace","path":"/rules","value":[]}]')
    kubectl("patch", "clusterrole", "system:aggregate-to-edit", "--type=json",
            "-p", '[{"op":"remove","path":"/rules/0"}]')
    kubectl("delete", "clusterrolebinding", "system:basic-user")
    before = kubectl.json("get", "clusterrole", "system:aggregate-to-edit")["rules"]

    apiserver.restart()
    assert kubectl.json("get", "clusterrole", "view")["rules"] in (None, [])
    after = kubectl.json("get", "clusterrole", "system:aggregate-to-edit")["rules"]
    assert len(after) == len(before) + 1
    assert kubectl.json("get", "clusterrolebinding", "system:basic-user")["subjects"]

    settled = versions()
    apiserver.restart()
    assert versions() == settled  # a start with nothing to do writes nothing
