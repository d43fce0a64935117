"""Quota arithmetic, LimitRange defaulting and checks (pure)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from kybernetes.api import limitrange, quota
from kybernetes.api.field_errors import ErrorList


def _pod(*containers: dict[str, Any], init: list[dict[str, Any]] | None = None,
         **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "p"},
            "spec": {"containers": list(containers), "initContainers": init or [], **spec}}


def _c(name: str, requests: dict[str, str] | None = None,
       limits: dict[str, str] | None = None) -> dict[str, Any]:
    res: dict[str, Any] = {}
    if requests:
        res["requests"] = requests
    if limits:
        res["limits"] = limits
    return {"name": name, "resources": res}


def test_pod_usage_sums_containers_and_takes_the_largest_init_container() -> None:
    pod = _pod(_c("a", {"cpu": "250m", "memory": "64Mi"}, {"cpu": "500m"}),
               _c("b", {"cpu": "250m"}),
               init=[_c("i", {"cpu": "2"})])
    used = quota.usage("", "pods", pod)
    assert used["pods"] == used["count/pods"] == 1
    assert used["requests.cpu"] == used["cpu"] == 2
    assert used["requests.memory"] == 64 * 2**20
    assert used["limits.cpu"] == Fraction(1, 2)
    assert "limits.memory" not in used
    assert quota.usage("", "pods", {**pod, "status": {"phase": "Succeeded"}}) == {}


def test_service_and_count_usage() -> None:
    svc = {"spec": {"type": "LoadBalancer", "ports": [{"port": 80}, {"port": 443}]}}
    assert quota.usage("", "services", svc) == {
        "count/services": 1, "services": 1, "services.loadbalancers": 1,
        "services.nodeports": 2}
    assert quota.usage("apps", "deployments", {}) == {"count/deployments.apps": 1}


def test_exceeded_message_is_kubes() -> None:
    hard, used = {"pods": Fraction(2), "requests.cpu": Fraction(1)}, {"pods": Fraction(2)}
    assert quota.exceeded("q", hard, used, {"pods": Fraction(1)}) == (
        "exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2")
    assert quota.exceeded("q", hard, {"requests.cpu": Fraction(3, 4)},
                          {"requests.cpu": Fraction(1, 2)}) == (
        "exceeded quota: q, requested: requests.cpu=500m, used: requests.cpu=750m, "
        "limited: requests.cpu=1")
    assert quota.exceeded("q", hard, {}, {"requests.cpu": Fraction(1)}) is None
    assert quota.format_value("requests.memory", Fraction(2**30)) == "1Gi"


def test_constraints_name_every_missing_resource_and_container() -> None:
    pod = _pod(_c("a", {"cpu": "1"}), _c("b"))
    assert quota.pod_constraints(["requests.cpu", "limits.memory", "pods"], pod) == (
        "must specify limits.memory for: a,b; requests.cpu for: b")
    assert quota.pod_constraints(["pods"], pod) is None


def test_scopes_select_pods() -> None:
    best_effort = _pod(_c("a"))
    burstable = _pod(_c("a", {"cpu": "1"}), activeDeadlineSeconds=10)
    q = {"spec": {"scopes": ["BestEffort"]}}
    assert quota.quota_matches(q, "", "pods", best_effort)
    assert not quota.quota_matches(q, "", "pods", burstable)
    assert not quota.quota_matches(q, "", "services", {})
    terminating = {"spec": {"scopes": ["Terminating", "NotBestEffort"]}}
    assert quota.quota_matches(terminating, "", "pods", burstable)
    by_class = {"spec": {"scopeSelector": {"matchExpressions": [
        {"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]}}}
    assert quota.quota_matches(by_class, "", "pods", _pod(priorityClassName="high"))
    assert not quota.quota_matches(by_class, "", "pods", _pod())


def test_limit_range_defaults_follow_kubes_order() -> None:
    lr = {"spec": {"limits": [{"type": "Container", "max": {"cpu": "1"},
                               "min": {"memory": "1Mi"}},
                              {"type": "Pod", "max": {"cpu": "4"}}]}}
    limitrange.limit_range_defaults(lr)
    container, pod = lr["spec"]["limits"]
    assert container["default"] == {"cpu": "1"}
    assert container["defaultRequest"] == {"cpu": "1", "memory": "1Mi"}
    assert "default" not in pod


def test_limit_range_validation_messages() -> None:
    errs = ErrorList()
    limitrange.validate_limit_range(errs, {"spec": {"limits": [
        {"type": "Container", "min": {"cpu": "2"}, "max": {"cpu": "1"},
         "maxLimitRequestRatio": {"memory": "500m"}},
        {"type": "Pod", "default": {"cpu": "1"}}]}}, None)
    messages = [m for _, _, m in errs.causes]
    assert 'Invalid value: "2": min value 2 is greater than max value 1' in messages
    assert 'Invalid value: "500m": ratio 500m is less than 1' in messages
    assert "Forbidden: may not be specified when `type` is 'Pod'" in messages


def test_limit_ranger_defaults_and_violations() -> None:
    lr = {"spec": {"limits": [{"type": "Container", "min": {"cpu": "100m"},
                               "max": {"cpu": "1"}, "maxLimitRequestRatio": {"cpu": "2"}}]}}
    limitrange.limit_range_defaults(lr)
    pod = _pod(_c("c"))
    assert limitrange.default_pod(pod, [lr])
    assert pod["spec"]["containers"][0]["resources"] == {"limits": {"cpu": "1"},
                                                         "requests": {"cpu": "1"}}
    assert pod["metadata"]["annotations"][limitrange.ANNOTATION] == (
        "LimitRanger plugin set: cpu request for container c; cpu limit for container c")
    assert limitrange.pod_violations(pod, [lr]) == []
    low = _pod(_c("c", {"cpu": "50m"}, {"cpu": "500m"}))
    assert limitrange.pod_violations(low, [lr]) == [
        "minimum cpu usage per Container is 100m, but request is 50m",
        "cpu max limit to request ratio per Container is 2, but provided ratio is 10.000000"]
    assert limitrange.aggregate(["one"]) == "one"
    assert limitrange.aggregate(["one", "two"]) == "[one, two]"
