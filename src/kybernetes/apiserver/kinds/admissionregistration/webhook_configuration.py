"""What the two webhook configuration kinds share: a generation bumped when `webhooks`
changes (they have no spec), and defaults/validation differing only in `mutating`."""

from __future__ import annotations

import functools
from typing import Any

from kybernetes.api.admissionregistration_validation import (
    validate_webhook_configuration,
    webhook_configuration_defaults,
)
from kybernetes.api.resources import Resource
from kybernetes.apiserver.kinds.admissionregistration import tables
from kybernetes.apiserver.kinds.definition import KindDefinition, builtin_schema
from kybernetes.apiserver.kinds.strategy import Strategy

Obj = dict[str, Any]


class WebhookConfigurationStrategy(Strategy):
    tracks_generation = True

    def spec_changed(self, new: Obj, old: Obj) -> bool:
        return new.get("webhooks") != old.get("webhooks")


_STRATEGY = WebhookConfigurationStrategy()


def webhook_configuration_kind(resource: Resource, *, mutating: bool) -> KindDefinition:
    name = f"io.k8s.api.admissionregistration.v1.{resource.kind}"
    return KindDefinition(
        resource=resource, schema=builtin_schema(name), openapi_name=name,
        defaults=functools.partial(webhook_configuration_defaults, mutating=mutating),
        validate=functools.partial(validate_webhook_configuration, mutating=mutating),
        strategy=_STRATEGY, table=tables.WEBHOOK_CONFIGURATION,
        field_selectors={})
