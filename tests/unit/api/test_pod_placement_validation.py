"""topologySpreadConstraints and pod (anti-)affinity are refused as Kubernetes refuses
them, with its paths and wording."""

import copy

from kybernetes.api import resources
from tests.unit.api.test_validation import POD, causes


def _pod(**spec):
    pod = copy.deepcopy(POD)
    pod["spec"].update(spec)
    return pod


def _spread(**fields):
    return {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {"app": "web"}}, **fields}


def test_valid_rules_pass():
    affinity = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"topologyKey": "kubernetes.io/hostname",
         "labelSelector": {"matchLabels": {"app": "web"}}}]},
        "podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 50, "podAffinityTerm": {"topologyKey": "zone", "namespaces": ["db"],
                                               "labelSelector": {"matchLabels": {"a": "b"}}}}]}}
    pod = _pod(topologySpreadConstraints=[_spread(minDomains=2), _spread(
        topologyKey="kubernetes.io/hostname", whenUnsatisfiable="ScheduleAnyway",
        matchLabelKeys=["pod-template-hash"], nodeTaintsPolicy="Honor")], affinity=affinity)
    assert causes(resources.PODS, pod) == {}


def test_bad_spread_constraints():
    path = "spec.topologySpreadConstraints"
    found = causes(resources.PODS, _pod(topologySpreadConstraints=[
        _spread(maxSkew=0, whenUnsatisfiable="Sometimes"),
        _spread(topologyKey="", minDomains=2, whenUnsatisfiable="ScheduleAnyway",
                nodeAffinityPolicy="Maybe"),
        _spread(), _spread(matchLabelKeys=["app"])]))
    assert found[(f"{path}[0].maxSkew", "FieldValueInvalid")] == \
        "Invalid value: 0: must be greater than zero"
    assert found[(f"{path}[0].whenUnsatisfiable", "FieldValueNotSupported")] == \
        'Unsupported value: "Sometimes": supported values: "DoNotSchedule", "ScheduleAnyway"'
    assert found[(f"{path}[1].topologyKey", "FieldValueRequired")] == \
        "Required value: can not be empty"
    assert found[(f"{path}[1].minDomains", "FieldValueInvalid")] == (
        "Invalid value: 2: can only use minDomains if whenUnsatisfiable=DoNotSchedule, "
        "not ScheduleAnyway")
    assert found[(f"{path}[1].nodeAffinityPolicy", "FieldValueNotSupported")] == \
        'Unsupported value: "Maybe": supported values: "Honor", "Ignore"'
    assert found[(f"{path}[2].{{topologyKey, whenUnsatisfiable}}", "FieldValueDuplicate")] == \
        'Duplicate value: "{zone, DoNotSchedule}"'
    assert found[(f"{path}[3].matchLabelKeys[0]", "FieldValueInvalid")] == \
        'Invalid value: "app": exists in both matchLabelKeys and labelSelector'


def test_bad_pod_affinity_terms():
    required = "requiredDuringSchedulingIgnoredDuringExecution"
    preferred = "preferredDuringSchedulingIgnoredDuringExecution"
    affinity = {"podAntiAffinity": {required: [{"labelSelector": {"matchLabels": {"a": "b"}}}]},
                "podAffinity": {preferred: [{"weight": 101, "podAffinityTerm": {
                    "topologyKey": "zone", "namespaces": ["Bad_NS"]}}]}}
    found = causes(resources.PODS, _pod(affinity=affinity))
    anti = f"spec.affinity.podAntiAffinity.{required}[0].topologyKey"
    assert found[(anti, "FieldValueRequired")] == "Required value: can not be empty"
    pref = f"spec.affinity.podAffinity.{preferred}[0]"
    assert found[(f"{pref}.weight", "FieldValueInvalid")] == \
        "Invalid value: 101: must be in the range 1-100"
    assert found[(f"{pref}.podAffinityTerm.namespace", "FieldValueInvalid")].startswith(
        'Invalid value: "Bad_NS": a lowercase RFC 1123 label must consist of')


def test_templates_are_checked_too():
    deployment = {"metadata": {"name": "d", "namespace": "default"},
                  "spec": {"selector": {"matchLabels": {"app": "x"}},
                           "template": {"metadata": {"labels": {"app": "x"}},
                                        "spec": {"containers": [{"name": "c", "image": "i"}],
                                                 "topologySpreadConstraints": [
                                                     _spread(maxSkew=-1)]}}}}
    found = causes(resources.DEPLOYMENTS, deployment)
    assert ("spec.template.spec.topologySpreadConstraints[0].maxSkew",
            "FieldValueInvalid") in found
