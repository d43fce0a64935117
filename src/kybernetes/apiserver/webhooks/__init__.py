"""Dynamic admission control: calling MutatingWebhookConfiguration and
ValidatingWebhookConfiguration webhooks (admissionregistration.k8s.io/v1).

attributes.py  the request as admission sees it, and the protocols admission needs
matching.py    which webhooks a request goes to (rules, scope, selectors, exemptions)
conditions.py  CEL variables of a request, and matchConditions (shared with policies)
review.py      the AdmissionReview sent, and the checks on the answer
client.py      the HTTPS call, with client-go's error wording
failures.py    call failures and refusals, and the Status each becomes
dispatch.py    WebhookAdmission: the mutating chain and the validating fan-out
"""

from kybernetes.apiserver.webhooks.attributes import (
    CONNECT,
    CREATE,
    DELETE,
    UPDATE,
    AdmissionAttributes,
    ConfigurationSource,
    NamespaceLabels,
    ServiceResolver,
    UserInfo,
)
from kybernetes.apiserver.webhooks.dispatch import WebhookAdmission

__all__ = [
    "CONNECT", "CREATE", "DELETE", "UPDATE", "AdmissionAttributes", "ConfigurationSource",
    "NamespaceLabels", "ServiceResolver", "UserInfo", "WebhookAdmission",
]
