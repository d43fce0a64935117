"""ConfigMaps: keys checked, immutable ones stay as they are."""

from __future__ import annotations

from kybernetes.api import resources as r
from kybernetes.api import validation
from kybernetes.apiserver import tables
from kybernetes.apiserver.kinds.definition import KindDefinition, builtin_schema
from kybernetes.apiserver.kinds.strategy import DEFAULT

DEFINITION = KindDefinition(
    resource=r.CONFIGMAPS,
    schema=builtin_schema("io.k8s.api.core.v1.ConfigMap"),
    openapi_name="io.k8s.api.core.v1.ConfigMap",
    defaults=None,
    validate=validation.validate_configmap,
    strategy=DEFAULT,
    table=tables.CONFIG_MAP,
    field_selectors={},
)
