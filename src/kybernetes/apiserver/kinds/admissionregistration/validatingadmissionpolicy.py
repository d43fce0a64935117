"""ValidatingAdmissionPolicies: CEL validations run in the API server (admitted by
apiserver/policy). Status is its own subresource; generation follows the spec."""

from __future__ import annotations

from kybernetes.api import admission_policy_validation as validation
from kybernetes.api import resources as r
from kybernetes.apiserver.kinds.admissionregistration import tables
from kybernetes.apiserver.kinds.definition import KindDefinition, builtin_schema
from kybernetes.apiserver.kinds.strategy import StatusStrategy

DEFINITION = KindDefinition(
    resource=r.VALIDATING_ADMISSION_POLICIES,
    schema=builtin_schema("io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicy"),
    openapi_name="io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicy",
    defaults=validation.policy_defaults,
    validate=validation.validate_policy,
    strategy=StatusStrategy({}, tracks_generation=True),
    table=tables.VALIDATING_ADMISSION_POLICY,
    field_selectors={},
)
