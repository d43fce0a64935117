"""ValidatingWebhookConfigurations: which webhooks must allow a write before it is stored."""

from __future__ import annotations

from kybernetes.api import resources as r
from kybernetes.apiserver.kinds.admissionregistration.webhook_configuration import (
    webhook_configuration_kind,
)

DEFINITION = webhook_configuration_kind(r.VALIDATING_WEBHOOK_CONFIGURATIONS, mutating=False)
