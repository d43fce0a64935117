"""CertificateSigningRequests: cluster-scoped, immutable once made except through
their subresources, as Kubernetes' ``pkg/registry/certificates/certificates``.

* create: the server records who asks (spec.username/uid/groups/extra; whatever the
  client sent there is dropped) and starts with an empty status;
* update of the object: only metadata changes;
* ``/status``: the signer's endpoint; it may set the certificate and add conditions
  such as Failed, but not add or change Approved and Denied;
* ``/approval``: the approver's endpoint; it changes conditions only (the Failed
  ones it finds are kept).
"""

from __future__ import annotations

import copy
from typing import Any

from kybernetes.api import certificates as certs
from kybernetes.api import resources as r
from kybernetes.api.csr_validation import validate_csr
from kybernetes.api.errors import invalid
from kybernetes.api.field_errors import FORBIDDEN
from kybernetes.api.fields import field_getter
from kybernetes.api.meta import now_rfc3339
from kybernetes.apiserver.authn import User
from kybernetes.apiserver.kinds.definition import KindDefinition, TableSpec, builtin_schema
from kybernetes.apiserver.kinds.strategy import Strategy
from kybernetes.apiserver.tables import AGE, NAME, age_last, human_duration

Obj = dict[str, Any]
_REQUESTER_FIELDS = ("username", "uid", "groups", "extra")


def _conditions(obj: Obj) -> list[Obj]:
    status = obj.get("status")
    conditions = status.get("conditions") if isinstance(status, dict) else None
    return conditions if isinstance(conditions, list) else []


def _preserve(new: Obj, old: Obj, kind: str) -> bool:
    """Put old's conditions of `kind` back in new's places (preserveConditionInstances);
    False when new added or removed some, which validation then judges."""
    old_at = [c for c in _conditions(old) if isinstance(c, dict) and c.get("type") == kind]
    new_conditions = _conditions(new)
    new_at = [i for i, c in enumerate(new_conditions)
              if isinstance(c, dict) and c.get("type") == kind]
    if len(old_at) != len(new_at):
        return False
    for index, condition in zip(new_at, old_at, strict=True):
        new_conditions[index] = copy.deepcopy(condition)
    return True


def _stamp(new: Obj, old: Obj) -> None:
    """populateConditionTimestamps: lastUpdateTime now when unset; lastTransitionTime
    kept from an old condition of the same type and status, else now."""
    now = now_rfc3339()
    for condition in _conditions(new):
        if not isinstance(condition, dict):
            continue
        if not condition.get("lastUpdateTime"):
            condition["lastUpdateTime"] = now
        if condition.get("lastTransitionTime"):
            continue
        condition["lastTransitionTime"] = next(
            (c["lastTransitionTime"] for c in _conditions(old)
             if isinstance(c, dict) and c.get("type") == condition.get("type")
             and c.get("status") == condition.get("status") and c.get("lastTransitionTime")),
            now)


def _forbid(obj: Obj, message: str) -> None:
    name = str((obj.get("metadata") or {}).get("name") or "")
    resource = r.CERTIFICATE_SIGNING_REQUESTS
    raise invalid(resource.kind, name, [("status.conditions", FORBIDDEN, f"Forbidden: {message}")],
                  group=resource.group)


class CsrStrategy(Strategy):
    resets_status_on_create = True
    initial_status: Obj | None = {}
    status_subresources = ("status", "approval")

    def prepare_for_create_by(self, obj: Obj, user: User) -> None:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        for field in _REQUESTER_FIELDS:
            spec.pop(field, None)
        if user.name:
            spec["username"] = user.name
        if user.uid:
            spec["uid"] = user.uid
        if user.groups:
            spec["groups"] = list(user.groups)
        if user.extra:
            spec["extra"] = {k: list(v) for k, v in user.extra.items()}

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        new["spec"] = copy.deepcopy(old.get("spec"))

    def prepare_for_subresource_update(self, subresource: str, new: Obj, old: Obj) -> None:
        new["spec"] = copy.deepcopy(old.get("spec"))
        if not isinstance(new.get("status"), dict):
            new["status"] = {}
        if subresource == "status":
            for kind in (certs.APPROVED, certs.DENIED):
                preserved = _preserve(new, old, kind)
                if not preserved and certs.condition_types(new).count(kind) > \
                        certs.condition_types(old).count(kind):
                    _forbid(old, f'updates may not add a condition of type "{kind}"')
        else:
            certificate = (old.get("status") or {}).get("certificate")
            new["status"].pop("certificate", None)
            if certificate:
                new["status"]["certificate"] = certificate
            _preserve(new, old, certs.FAILED)
        _stamp(new, old)


def _requested_duration(csr: Obj) -> str:
    seconds = (csr.get("spec") or {}).get("expirationSeconds")
    return human_duration(seconds) if isinstance(seconds, int) else "<none>"


_S = "string"
TABLE = TableSpec((NAME, AGE, ("SignerName", _S, 0), ("Requestor", _S, 0),
                   ("RequestedDuration", _S, 0), ("Condition", _S, 0)),
                  lambda csr, now: [*age_last()(csr, now),
                                    (csr.get("spec") or {}).get("signerName") or "<none>",
                                    (csr.get("spec") or {}).get("username", ""),
                                    _requested_duration(csr), certs.status_text(csr)])

DEFINITION = KindDefinition(
    resource=r.CERTIFICATE_SIGNING_REQUESTS,
    schema=builtin_schema("io.k8s.api.certificates.v1.CertificateSigningRequest"),
    openapi_name="io.k8s.api.certificates.v1.CertificateSigningRequest",
    defaults=None,
    validate=validate_csr,
    strategy=CsrStrategy(),
    table=TABLE,
    field_selectors={"spec.signerName": field_getter("spec", "signerName")},
    name_check=lambda name: [],
)
