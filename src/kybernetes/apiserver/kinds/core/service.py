"""Services: a ClusterIP and NodePorts from the allocator (a write hook), kept on update
when the client leaves them out."""

from __future__ import annotations

from typing import Any

from kybernetes.api import defaults, validation
from kybernetes.api import meta as names
from kybernetes.api import resources as r
from kybernetes.apiserver import tables
from kybernetes.apiserver.kinds.definition import (
    HookSource,
    KindDefinition,
    WriteHooks,
    builtin_schema,
)
from kybernetes.apiserver.kinds.strategy import StatusStrategy
from kybernetes.apiserver.service_allocation import patch_allocated_values

Obj = dict[str, Any]


class ServiceStrategy(StatusStrategy):
    def __init__(self) -> None:
        super().__init__({"loadBalancer": {}})

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        patch_allocated_values(new, old)  # kept/dropped clusterIP and nodePorts


def _addresses(server: HookSource) -> WriteHooks | None:
    return server.service_addresses


DEFINITION = KindDefinition(
    resource=r.SERVICES,
    schema=builtin_schema("io.k8s.api.core.v1.Service"),
    openapi_name="io.k8s.api.core.v1.Service",
    defaults=defaults.service_defaults,
    validate=validation.validate_service,
    name_check=names.is_dns1035_label,
    strategy=ServiceStrategy(),
    table=tables.SERVICE,
    field_selectors={},
    hooks=_addresses,
)
