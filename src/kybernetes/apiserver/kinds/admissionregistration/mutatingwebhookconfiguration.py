"""MutatingWebhookConfigurations: which webhooks may change objects before they are stored."""

from __future__ import annotations

from kybernetes.api import resources as r
from kybernetes.apiserver.kinds.admissionregistration.webhook_configuration import (
    webhook_configuration_kind,
)

DEFINITION = webhook_configuration_kind(r.MUTATING_WEBHOOK_CONFIGURATIONS, mutating=True)
