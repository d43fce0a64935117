"""CSR validation and the built-in signers' rules (pure logic, Kubernetes' messages)."""

from __future__ import annotations

import datetime as _dt

import pytest

from kybernetes.api import certificates as certs
from kybernetes.api.csr_validation import validate_csr, validate_signer_name
from kybernetes.api.field_errors import ErrorList
from kybernetes.controllers.csr_signing import lifetime, validity, wants_signing
from tests.support.certs import csr_object, csr_pem, new_key

KEY = new_key()


def causes(obj: dict, old: dict | None = None) -> list[tuple[str, str, str]]:
    errs = ErrorList()
    validate_csr(errs, obj, old)
    return errs.causes


@pytest.mark.parametrize("signer, message", [
    ("", "Required value"),
    ("a/b/c", "Invalid value: \"a/b/c\": must be a fully qualified domain and path of the "
              "form 'example.com/signer-name'"),
    ("example/x", "Invalid value: \"example\": should be a domain with at least two segments "
                  "separated by dots"),
    ("Example.com/x", 'Invalid value: "Example.com": validating label "Example": a lowercase '
                      "RFC 1123 label must consist of"),
])
def test_signer_names(signer: str, message: str) -> None:
    errs = ErrorList()
    validate_signer_name(errs, "spec.signerName", signer)
    assert errs.causes and errs.causes[0][2].startswith(message), errs.causes
    errs = ErrorList()
    validate_signer_name(errs, "spec.signerName", "example.com/my-signer.v1")
    assert errs.causes == []


def test_a_good_request_validates() -> None:
    assert causes(csr_object("ok", csr_pem(KEY, "a"))) == []


def test_usages_required_known_and_unique() -> None:
    obj = csr_object("u", csr_pem(KEY, "a"), usages=())
    assert ("spec.usages", "FieldValueRequired", "Required value") in causes(obj)
    obj = csr_object("u", csr_pem(KEY, "a"), usages=("client auth", "client auth", "fly"))
    found = {(f, r) for f, r, _ in causes(obj)}
    assert found == {("spec.usages[1]", "FieldValueDuplicate"),
                     ("spec.usages[2]", "FieldValueNotSupported")}


def test_approved_and_denied_exclude_each_other_unless_already_stored() -> None:
    obj = csr_object("c", csr_pem(KEY, "a"))
    obj["status"] = {"conditions": [{"type": "Approved", "status": "True"},
                                    {"type": "Denied", "status": "True"}]}
    assert causes(obj)[0][:2] == ("status.conditions[1].type", "FieldValueInvalid")
    assert causes(obj, old=obj) == []  # tolerated when the stored object has both
    obj["status"] = {"conditions": [{"type": "Failed", "status": "False"}]}
    assert causes(obj)[0][2] == 'Unsupported value: "False": supported values: "True"'


def test_conditions_are_never_removed() -> None:
    old = csr_object("c", csr_pem(KEY, "a"))
    old["status"] = {"conditions": [{"type": "Failed", "status": "True"}]}
    new = {**old, "status": {}}
    assert causes(new, old) == [("status.conditions", "FieldValueForbidden",
                                 'Forbidden: updates may not remove a condition of type '
                                 '"Failed"')]


def test_kubelet_client_rules() -> None:
    usages = ["digital signature", "client auth"]
    good = certs.parse_csr(csr_pem(KEY, "system:node:n1", "system:nodes"))
    certs.validate_kubelet_client(good, usages)
    with pytest.raises(certs.SignerError, match="usages did not match \\[client auth "
                                                "digital signature key encipherment\\]"):
        certs.validate_kubelet_client(good, ["client auth"])
    with pytest.raises(certs.SignerError, match="subject organization is not system:nodes"):
        certs.validate_kubelet_client(certs.parse_csr(csr_pem(KEY, "system:node:n1")), usages)


def test_apiserver_client_rules() -> None:
    certs.validate_apiserver_client(["key encipherment", "digital signature", "client auth"])
    with pytest.raises(certs.SignerError, match="missing required usage for client "
                                                "certificate: client auth"):
        certs.validate_apiserver_client(["digital signature"])


def test_lifetime_and_what_gets_signed() -> None:
    year = _dt.timedelta(days=365)
    assert lifetime(None, year) == year
    assert lifetime(60, year) == _dt.timedelta(minutes=10)
    assert lifetime(10 * 365 * 86400, year) == year
    obj = csr_object("s", csr_pem(KEY, "a"))
    assert not wants_signing(obj)
    obj["status"] = {"conditions": [{"type": "Approved", "status": "True"}]}
    assert wants_signing(obj)
    assert not wants_signing({**obj, "spec": {**obj["spec"],
                                              "signerName": certs.LEGACY_UNKNOWN}})
    obj["status"]["certificate"] = "eA=="
    assert not wants_signing(obj)


def test_a_short_signing_duration_wins_and_is_backdated_less() -> None:
    short = _dt.timedelta(seconds=20)
    assert lifetime(3600, short) == short  # kube's duration(): over the maximum → maximum
    now = _dt.datetime(2026, 1, 1, tzinfo=_dt.UTC)
    assert validity(now, short) == (now - _dt.timedelta(seconds=2), now + short)
    hour, day = _dt.timedelta(hours=1), _dt.timedelta(days=1)
    five = _dt.timedelta(minutes=5)
    assert validity(now, hour) == (now - five, now + hour)  # short (< 8 h): the whole ttl
    assert validity(now, day) == (now - five, now + day - five)  # else ttl from notBefore
