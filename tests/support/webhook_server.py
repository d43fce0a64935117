"""A real HTTPS admission webhook on a free loopback port, signed by a throw-away CA."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import ssl
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.net import free_port

Review = dict[str, Any]
Answer = Callable[[Review], Awaitable[Any] | Any]


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


class ThrowAwayCA:
    """A CA made for one test, and serving certs it signs."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        name = _name(f"webhook-test-ca-{uuid.uuid4().hex[:8]}")  # two CAs never share a name
        self.cert = (x509.CertificateBuilder().subject_name(name)
                     .issuer_name(name).public_key(self.key.public_key())
                     .serial_number(x509.random_serial_number())
                     .not_valid_before(now - dt.timedelta(minutes=5))
                     .not_valid_after(now + dt.timedelta(days=1))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
                     .sign(self.key, hashes.SHA256()))

    @property
    def bundle(self) -> str:
        """The caBundle field value: base64 of the PEM."""
        pem = self.cert.public_bytes(serialization.Encoding.PEM)
        return base64.b64encode(pem).decode()

    def server_context(self, dns_names: tuple[str, ...] = ()) -> ssl.SSLContext:
        """A TLS server context for 127.0.0.1 and `dns_names`, signed by this CA."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        sans: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        sans += [x509.DNSName(n) for n in dns_names]
        cert = (x509.CertificateBuilder().subject_name(_name("webhook"))
                .issuer_name(self.cert.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(minutes=5))
                .not_valid_after(now + dt.timedelta(days=1))
                .add_extension(x509.SubjectAlternativeName(sans), False)
                .sign(self.key, hashes.SHA256()))
        with tempfile.TemporaryDirectory() as tmp:
            cert_path, key_path = Path(tmp, "tls.crt"), Path(tmp, "tls.key")
            cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
            key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                   serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()))
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cert_path, key_path)
        return context


def allow(review: Review) -> Review:
    return {"allowed": True}


class WebhookServer:
    """Answers every POST with `answer(review)`: a dict is the `response` (uid and
    apiVersion/kind filled in for v1 when missing), a `web.Response` is sent as is.
    Every review received is kept in `reviews`."""

    def __init__(self, ca: ThrowAwayCA, answer: Answer = allow, *,
                 dns_names: tuple[str, ...] = ()) -> None:
        self.ca = ca
        self.answer = answer
        self.dns_names = dns_names
        self.port = free_port()
        self.reviews: list[Review] = []
        self.paths: list[str] = []
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    async def start(self) -> WebhookServer:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port,
                           ssl_context=self.ca.server_context(self.dns_names))
        await site.start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        review = await request.json()
        self.reviews.append(review)
        self.paths.append(request.path_qs)
        answer = self.answer(review)
        if isinstance(answer, Awaitable):
            answer = await answer
        if isinstance(answer, web.StreamResponse):
            return answer
        response = {"uid": review["request"]["uid"], **answer}
        return web.json_response({"apiVersion": review["apiVersion"], "kind": "AdmissionReview",
                                  "response": response})
