"""Secrets: `stringData` becomes base64 `data` on every write, as Kubernetes converts it."""

from __future__ import annotations

import base64
from typing import Any

from kybernetes.api import defaults, validation
from kybernetes.api import resources as r
from kybernetes.api.fields import field_getter
from kybernetes.apiserver import tables
from kybernetes.apiserver.kinds.definition import KindDefinition, builtin_schema
from kybernetes.apiserver.kinds.strategy import Strategy

Obj = dict[str, Any]


def merge_string_data(secret: Obj) -> None:
    """stringData (write-only) into data, base64-encoded; stringData wins."""
    if not isinstance(secret.get("stringData"), dict):
        return
    data = secret.get("data")
    if not isinstance(data, dict):
        data = {}
    for key, value in secret.pop("stringData").items():
        data[key] = base64.b64encode(str(value).encode()).decode()
    secret["data"] = data


class SecretStrategy(Strategy):
    def prepare_for_create(self, obj: Obj) -> None:
        merge_string_data(obj)

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        merge_string_data(new)


DEFINITION = KindDefinition(
    resource=r.SECRETS,
    schema=builtin_schema("io.k8s.api.core.v1.Secret"),
    openapi_name="io.k8s.api.core.v1.Secret",
    defaults=defaults.secret_defaults,
    validate=validation.validate_secret,
    strategy=SecretStrategy(),
    table=tables.SECRET,
    field_selectors={"type": field_getter("type")},
)
