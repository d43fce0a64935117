"""`kubectl get` columns of the admissionregistration kinds (printers.go)."""

from __future__ import annotations

from typing import Any

from kybernetes.apiserver.kinds.definition import TableSpec
from kybernetes.apiserver.tables import AGE, NAME, age_last

Obj = dict[str, Any]
_UNSET = "<unset>"


def _spec(obj: Obj) -> Obj:
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}


def _count(value: Any) -> int:
    return len(value) if isinstance(value, list) else 0


def _param_kind(policy: Obj) -> str:
    kind = _spec(policy).get("paramKind")
    if not isinstance(kind, dict):
        return _UNSET
    return f"{kind.get('apiVersion', '')}/{kind.get('kind', '')}"


def _param_ref(binding: Obj) -> str:
    """namespace/name, `*/name` when the namespace is left to the request, or the selector."""
    ref = _spec(binding).get("paramRef")
    if not isinstance(ref, dict):
        return _UNSET
    if ref.get("name"):
        return f"{ref.get('namespace') or '*'}/{ref['name']}"
    if isinstance(ref.get("selector"), dict):
        return go_label_selector(ref["selector"])
    return _UNSET


def go_label_selector(selector: Obj) -> str:
    """A metav1.LabelSelector as its generated Go String() prints it."""
    labels = selector.get("matchLabels")
    labels = labels if isinstance(labels, dict) else {}
    pairs = "".join(f"{k}: {v}," for k, v in sorted(labels.items()))
    requirements = "".join(
        f"LabelSelectorRequirement{{Key:{e.get('key', '')},Operator:{e.get('operator', '')},"
        f"Values:[{' '.join(map(str, e.get('values') or []))}],}},"
        for e in selector.get("matchExpressions") or [] if isinstance(e, dict))
    return (f"&LabelSelector{{MatchLabels:map[string]string{{{pairs}}},"
            f"MatchExpressions:[]LabelSelectorRequirement{{{requirements}}},}}")


WEBHOOK_CONFIGURATION = TableSpec(
    (NAME, ("Webhooks", "integer", 0), AGE), age_last(lambda o: _count(o.get("webhooks"))),
    descriptions={"Webhooks": "Webhooks indicates the number of webhooks registered in this "
                              "configuration"})
VALIDATING_ADMISSION_POLICY = TableSpec(
    (NAME, ("Validations", "integer", 0), ("ParamKind", "string", 0), AGE),
    age_last(lambda o: _count(_spec(o).get("validations")), _param_kind),
    descriptions={"Validations": "Validations indicates the number of validation rules defined "
                                 "in this configuration",
                  "ParamKind": "ParamKind specifies the kind of resources used to parameterize "
                               "this policy"})
VALIDATING_ADMISSION_POLICY_BINDING = TableSpec(
    (NAME, ("PolicyName", "string", 0), ("ParamRef", "string", 0), AGE),
    age_last(lambda o: str(_spec(o).get("policyName") or ""), _param_ref),
    descriptions={"PolicyName": "PolicyName indicates the policy definition which the policy "
                                "binding binded to",
                  "ParamRef": "ParamRef indicates the param resource which sets the configration "
                              "param"})
