"""ValidatingAdmissionPolicyBindings: where a policy applies, with which params, and
what a failed validation does (Deny, Warn, Audit)."""

from __future__ import annotations

from kybernetes.api import admission_policy_validation as validation
from kybernetes.api import resources as r
from kybernetes.apiserver.kinds.admissionregistration import tables
from kybernetes.apiserver.kinds.definition import KindDefinition, builtin_schema
from kybernetes.apiserver.kinds.strategy import TRACKS_GENERATION

DEFINITION = KindDefinition(
    resource=r.VALIDATING_ADMISSION_POLICY_BINDINGS,
    schema=builtin_schema(
        "io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicyBinding"),
    openapi_name="io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicyBinding",
    defaults=validation.binding_defaults,
    validate=validation.validate_binding,
    strategy=TRACKS_GENERATION,
    table=tables.VALIDATING_ADMISSION_POLICY_BINDING,
    field_selectors={},
)
