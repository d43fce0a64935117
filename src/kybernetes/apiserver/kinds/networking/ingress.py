"""Ingresses: HTTP routes from hosts and paths to Services, for an ingress controller."""

from __future__ import annotations

import datetime as _dt
from typing import Any

from kybernetes.api import ingress
from kybernetes.api import resources as r
from kybernetes.api.field_errors import as_dict, as_list
from kybernetes.apiserver.kinds.definition import KindDefinition, TableSpec, builtin_schema
from kybernetes.apiserver.kinds.strategy import StatusStrategy
from kybernetes.apiserver.tables import AGE, NAME, since

Obj = dict[str, Any]
_S = "string"
_MAX_HOSTS = 3


def _hosts(rules: list[Any]) -> str:
    """formatHosts: the first three rules' hosts, `+ N more...`, or `*` for none."""
    hosts = [str(h) for rule in rules[:_MAX_HOSTS] if (h := as_dict(rule).get("host"))]
    if not hosts:
        return "*"
    text = ",".join(hosts)
    return f"{text} + {len(rules) - _MAX_HOSTS} more..." if len(rules) > _MAX_HOSTS else text


def _address(status: Obj) -> str:
    """ingressLoadBalancerStatusStringer (server side prints wide: no truncation)."""
    found = {str(i.get("ip") or i.get("hostname")) for i in map(
        as_dict, as_list(as_dict(status.get("loadBalancer")).get("ingress")))
        if i.get("ip") or i.get("hostname")}
    return ",".join(sorted(found))


def _print(obj: Obj, now: _dt.datetime) -> list[Any]:
    """printIngress: NAME CLASS HOSTS ADDRESS PORTS AGE."""
    meta, spec = as_dict(obj.get("metadata")), as_dict(obj.get("spec"))
    return [meta.get("name", ""), spec.get("ingressClassName") or "<none>",
            _hosts(as_list(spec.get("rules"))), _address(as_dict(obj.get("status"))),
            "80, 443" if as_list(spec.get("tls")) else "80",
            since(meta.get("creationTimestamp"), now)]


DEFINITION = KindDefinition(
    resource=r.INGRESSES,
    schema=builtin_schema("io.k8s.api.networking.v1.Ingress"),
    openapi_name="io.k8s.api.networking.v1.Ingress",
    defaults=None,
    validate=ingress.validate_ingress,
    strategy=StatusStrategy({"loadBalancer": {}}, tracks_generation=True),
    table=TableSpec((NAME, ("Class", _S, 0), ("Hosts", _S, 0), ("Address", _S, 0),
                     ("Ports", _S, 0), AGE), _print),
    field_selectors={},
)
