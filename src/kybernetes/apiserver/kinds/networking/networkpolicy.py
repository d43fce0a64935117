"""NetworkPolicies: which traffic may reach (and leave) the pods they select."""

from __future__ import annotations

import datetime as _dt
from typing import Any

from kybernetes.api import network_policy
from kybernetes.api import resources as r
from kybernetes.api.field_errors import as_dict
from kybernetes.api.labels import label_selector_string
from kybernetes.apiserver.kinds.definition import KindDefinition, TableSpec, builtin_schema
from kybernetes.apiserver.kinds.strategy import DEFAULT
from kybernetes.apiserver.tables import AGE, NAME, since

Obj = dict[str, Any]


def _print(policy: Obj, now: _dt.datetime) -> list[Any]:
    """printNetworkPolicy: NAME POD-SELECTOR AGE (`<none>` for the empty selector)."""
    meta = as_dict(policy.get("metadata"))
    try:
        selector = label_selector_string(as_dict(policy.get("spec")).get("podSelector") or {})
    except Exception:
        selector = ""
    return [meta.get("name", ""), selector or "<none>", since(meta.get("creationTimestamp"), now)]


DEFINITION = KindDefinition(
    resource=r.NETWORK_POLICIES,
    schema=builtin_schema("io.k8s.api.networking.v1.NetworkPolicy"),
    openapi_name="io.k8s.api.networking.v1.NetworkPolicy",
    defaults=network_policy.network_policy_defaults,
    validate=network_policy.validate_network_policy,
    strategy=DEFAULT,
    table=TableSpec((NAME, ("Pod-Selector", "string", 0), AGE), _print),
    field_selectors={},
)
