"""The kubelet's client certificate rotation without a cluster: the deadline rule, the
store on disk, and one rotation against a fake API that approves, denies or is slow."""

from __future__ import annotations

import asyncio
import base64
import datetime as _dt
import logging
import os
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from kybernetes.api.errors import ServiceUnavailable
from kybernetes.kubelet.cert_store import CURRENT, CertStore, ClientCert
from kybernetes.kubelet.client_cert import (
    ClientCertManager,
    RotationFailed,
    initial_cert,
    issued,
    node_subject,
    rotation_deadline,
)
from tests.support.certs import key_pem, new_key, subject

T0 = _dt.datetime(2026, 1, 1, tzinfo=_dt.UTC)
CA_KEY = new_key()
CA_NAME = subject("test-ca")


def sign(public_key: Any, name: x509.Name, *, start: _dt.datetime,
         lifetime: _dt.timedelta) -> bytes:
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(CA_NAME)
            .public_key(public_key).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(start + lifetime)
            .sign(CA_KEY, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


def pair(name: x509.Name | None = None, *, start: _dt.datetime | None = None,
         lifetime: _dt.timedelta = _dt.timedelta(hours=1)) -> ClientCert:
    key = new_key()
    cert = sign(key.public_key(), name or node_subject("n1"),
                start=start or _dt.datetime.now(_dt.UTC), lifetime=lifetime)
    return ClientCert.load(cert, key_pem(key))


# -- the deadline ---------------------------------------------------------------------

def test_the_deadline_lies_70_to_90_percent_through_the_lifetime() -> None:
    end = T0 + _dt.timedelta(seconds=100)
    assert rotation_deadline(T0, end, 0.0) == T0 + _dt.timedelta(seconds=70)
    assert rotation_deadline(T0, end, 0.5) == T0 + _dt.timedelta(seconds=80)
    assert rotation_deadline(T0, end, 0.999) < T0 + _dt.timedelta(seconds=90)


def test_a_certificate_for_another_subject_is_replaced_at_once(tmp_path: Path) -> None:
    ok = ClientCertManager(FakeApi(), "n1", CertStore(tmp_path), pair(), lambda p: None,
                           jitter=lambda: 0.0)
    assert ok.next_deadline() > _dt.datetime.now(_dt.UTC) + _dt.timedelta(minutes=40)
    wrong = ClientCertManager(FakeApi(), "n1", CertStore(tmp_path),
                              pair(subject("system:node:n2", "system:nodes")), lambda p: None)
    assert wrong.next_deadline() <= _dt.datetime.now(_dt.UTC)


# -- the store ------------------------------------------------------------------------

def test_the_store_writes_one_file_per_certificate_and_swaps_the_link(tmp_path: Path) -> None:
    store = CertStore(tmp_path / "pki")
    assert store.current() is None
    first, second = pair(), pair()
    store.update(first, T0)
    store.update(second, T0 + _dt.timedelta(seconds=1))
    names = sorted(p.name for p in store.cert_dir.iterdir())
    assert names == ["kubelet-client-2026-01-01-00-00-00.pem",
                     "kubelet-client-2026-01-01-00-00-01.pem", CURRENT]
    assert os.readlink(store.current_path) == "kubelet-client-2026-01-01-00-00-01.pem"
    assert (store.cert_dir / names[1]).stat().st_mode & 0o777 == 0o600
    current = store.current()
    assert current is not None and current.serial == second.serial


def test_a_broken_stored_pair_is_skipped_for_the_kubeconfigs(tmp_path: Path,
                                                             caplog: Any) -> None:
    store = CertStore(tmp_path)
    configured = pair()
    tmp_path.joinpath(CURRENT).write_bytes(b"garbage")
    with caplog.at_level(logging.WARNING):
        assert initial_cert(store, configured) is configured
    assert "ignoring the stored client certificate" in caplog.text
    longer = pair(lifetime=_dt.timedelta(hours=2))
    store.update(longer)
    assert initial_cert(store, configured).serial == longer.serial  # type: ignore[union-attr]
    assert initial_cert(CertStore(tmp_path / "none"), None) is None


def test_issued_reads_the_certificate_or_says_why_not() -> None:
    assert issued({"status": {}}) is None
    assert issued({"status": {"certificate": base64.b64encode(b"PEM").decode()}}) == b"PEM"
    with pytest.raises(RotationFailed, match="certificate signing request is denied, reason: "
                                             "Nope, message: not you"):
        issued({"status": {"conditions": [{"type": "Denied", "reason": "Nope",
                                           "message": "not you"}]}})


# -- one rotation against a fake API ----------------------------------------------------

class FakeApi:
    """Creates CSRs; answers each get with the next of `answers` ("deny", "pending",
    "down", or "issue")."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.created: list[dict[str, Any]] = []

    async def create(self, resource: Any, obj: dict[str, Any], **_: Any) -> dict[str, Any]:
        obj = {**obj, "metadata": {"name": f"csr-{len(self.created)}"}}
        self.created.append(obj)
        return obj

    async def get(self, resource: Any, name: str, **_: Any) -> dict[str, Any]:
        answer = self.answers.pop(0) if self.answers else "issue"
        if answer == "down":
            raise ServiceUnavailable("cannot reach the API server")
        if answer == "pending":
            return {"status": {}}
        if answer == "deny":
            return {"status": {"conditions": [{"type": "Denied", "reason": "Nope"}]}}
        request = x509.load_pem_x509_csr(base64.b64decode(self.created[-1]["spec"]["request"]))
        cert = sign(request.public_key(), request.subject, start=_dt.datetime.now(_dt.UTC),
                    lifetime=_dt.timedelta(hours=1))
        return {"status": {"certificate": base64.b64encode(cert).decode()}}


async def test_a_rotation_requests_stores_and_switches(tmp_path: Path) -> None:
    api = FakeApi("pending")
    switched: list[ClientCert] = []
    old = pair()
    manager = ClientCertManager(api, "n1", CertStore(tmp_path), old, switched.append)
    new = await manager.rotate()
    [csr] = api.created
    assert csr["metadata"] == {"name": "csr-0"}
    assert csr["spec"]["signerName"] == "kubernetes.io/kube-apiserver-client-kubelet"
    assert csr["spec"]["usages"] == ["digital signature", "client auth"]
    request = x509.load_pem_x509_csr(base64.b64decode(csr["spec"]["request"]))
    assert request.subject == node_subject("n1")
    assert switched == [new] and manager.current is new and new.serial != old.serial
    assert CertStore(tmp_path).current().serial == new.serial  # type: ignore[union-attr]


async def test_failures_are_retried_with_backoff_and_logged(tmp_path: Path,
                                                            caplog: Any) -> None:
    api = FakeApi("deny", "down")
    switched: list[ClientCert] = []
    manager = ClientCertManager(api, "n1", CertStore(tmp_path), pair(), switched.append,
                                retry_base=0.01, retry_cap=0.02)
    with caplog.at_level(logging.WARNING):
        async with asyncio.timeout(10):
            await manager._rotate_until_done()
    assert len(api.created) == 3 and len(switched) == 1
    failures = [r for r in caplog.records if r.message == "client certificate rotation "
                                                         "failed; retrying"]
    assert [r.error for r in failures] == [  # type: ignore[attr-defined]
        "certificate signing request is denied, reason: Nope, message: ",
        "cannot reach the API server"]
    assert "PRIVATE KEY" not in caplog.text


async def test_an_unanswered_request_times_out(tmp_path: Path) -> None:
    manager = ClientCertManager(FakeApi(*["pending"] * 100), "n1", CertStore(tmp_path),
                                pair(), lambda p: None, wait_timeout=0.3)
    with pytest.raises(TimeoutError):
        await manager.rotate()
