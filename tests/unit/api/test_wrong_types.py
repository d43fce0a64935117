"""Wrong JSON types anywhere give causes, never an exception (a 500) from our logic."""

import copy

import pytest

from kybernetes.api import resources
from tests.support.kinds import apply_defaults, table_for, validate

TEMPLATE = {"metadata": {"labels": {"app": "a"}},
            "spec": {"containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 80}],
                                     "env": [{"name": "A", "value": "1"}],
                                     "resources": {"limits": {"cpu": "1"}}}],
                     "volumes": [{"name": "v", "emptyDir": {}}]}}
OBJECTS = {
    resources.PODS: {"metadata": {"name": "p", "namespace": "d", "labels": {"a": "b"}},
                     "spec": copy.deepcopy(TEMPLATE["spec"]),
                     "status": {"phase": "Running", "containerStatuses": [
                         {"name": "c", "ready": True, "restartCount": 1,
                          "state": {"running": {}}}]}},
    resources.DEPLOYMENTS: {"metadata": {"name": "d", "namespace": "d"},
                            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "a"}},
                                     "strategy": {"rollingUpdate": {"maxSurge": 1}},
                                     "template": copy.deepcopy(TEMPLATE)}},
    resources.REPLICATION_CONTROLLERS: {"metadata": {"name": "r", "namespace": "d"},
                                        "spec": {"selector": {"app": "a"},
                                                 "template": copy.deepcopy(TEMPLATE)}},
    resources.SERVICES: {"metadata": {"name": "s", "namespace": "d"},
                         "spec": {"selector": {"app": "a"}, "ports": [{"port": 80}]}},
    resources.ENDPOINTS: {"metadata": {"name": "s", "namespace": "d"},
                          "subsets": [{"addresses": [{"ip": "10.0.0.1"}],
                                       "ports": [{"port": 80}]}]},
    resources.SECRETS: {"metadata": {"name": "s", "namespace": "d"}, "data": {"a": "YQ=="}},
    resources.NODES: {"metadata": {"name": "n"}, "spec": {"taints": [{"key": "k",
                                                                      "effect": "NoSchedule"}]},
                      "status": {"capacity": {"cpu": "2"}}},
    resources.EVENTS: {"metadata": {"name": "e", "namespace": "d"},
                       "involvedObject": {"kind": "Pod", "name": "p"}, "count": 2},
}
WRONG = ("text", 7, True, [1], {"x": 1})


def paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, sub in value.items():
            yield from paths(sub, (*prefix, key))
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            yield from paths(sub, (*prefix, i))


def replaced(obj, path, value):
    obj = copy.deepcopy(obj)
    node = obj
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return obj


@pytest.mark.parametrize("resource", list(OBJECTS), ids=lambda r: r.plural)
def test_wrong_types_never_raise(resource):
    base = OBJECTS[resource]
    assert validate(resource, _defaulted(resource, base)) == []
    for path in list(paths(base))[1:]:
        for wrong in WRONG:
            obj = replaced(base, path, wrong)
            apply_defaults(resource, obj)
            causes = validate(resource, obj)
            table_for(resource, [obj])
            assert all(len(c) == 3 for c in causes)


def test_type_errors_are_reported_with_paths():
    dep = replaced(OBJECTS[resources.DEPLOYMENTS], ("spec", "replicas"), "3")
    assert validate(resources.DEPLOYMENTS, dep) == [
        ("spec.replicas", "FieldValueTypeInvalid",
         'Invalid value: "string": spec.replicas in body must be of type integer: "string"')]


def _defaulted(resource, obj):
    obj = copy.deepcopy(obj)
    apply_defaults(resource, obj)
    return obj
