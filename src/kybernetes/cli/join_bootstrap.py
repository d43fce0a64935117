"""How `kyb join` comes to trust a cluster and get a kubelet certificate from it, as
kubeadm's token discovery and the kubelet's TLS bootstrap do:

1. fetch the kube-public ``cluster-info`` ConfigMap without trusting the server yet
   (anonymous, TLS unverified), take the CA from its kubeconfig and keep it only when
   the SHA-256 of its public key is the pinned ``--ca-cert-hash``; then fetch it again
   over TLS verified by that CA, so the answer came from a holder of the CA's key;
2. with the bootstrap token, create a CertificateSigningRequest for
   ``system:node:<name>`` (signer kubernetes.io/kube-apiserver-client-kubelet); the
   csrapproving controller approves it for the token's group, the signer issues it.

Nothing is written here: the caller stores the result once both steps succeed.
kubeadm also checks a JWS signature over cluster-info made with the token by the
bootstrap-signer controller, which proves the server knows the token; kybernetes has
no bootstrap signer, so the CA pin alone guards against a false server (it is the
check that does), and a wrong token fails at step 2."""

from __future__ import annotations

import asyncio
import base64
import hmac
import re
import ssl
import time

import aiohttp
import yaml

from kybernetes.api import bootstrap_tokens as bt
from kybernetes.api import resources as r
from kybernetes.api.errors import ApiError, Unauthorized
from kybernetes.cli.errors import CliError
from kybernetes.client import ApiClient
from kybernetes.kubelet import client_cert

HASH_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
CLUSTER_INFO_PATH = f"/api/v1/namespaces/{bt.PUBLIC_NAMESPACE}/configmaps/{bt.CLUSTER_INFO}"


async def discover_ca(server: str, pinned: str, *, read_seconds: float = 10.0) -> bytes:
    """The cluster CA (PEM) from cluster-info, once its public key matches `pinned`."""
    unverified = ssl.create_default_context()
    unverified.check_hostname = False
    unverified.verify_mode = ssl.CERT_NONE
    ca = _ca_of(await _cluster_info(server, unverified, read_seconds))
    found = bt.ca_cert_hash(ca)
    if not hmac.compare_digest(found, pinned.lower()):
        raise CliError(f"cluster CA found in cluster-info ConfigMap is invalid: none of the "
                       f"public keys \"{found}\" are pinned (--ca-cert-hash {pinned})")
    trusted = ssl.create_default_context(cadata=ca.decode())
    if _ca_of(await _cluster_info(server, trusted, read_seconds)) != ca:
        raise CliError("cluster-info changed between two reads: try again")
    return ca


async def _cluster_info(server: str, context: ssl.SSLContext, read_seconds: float) -> str:
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=read_seconds)) as s, \
                s.get(server.rstrip("/") + CLUSTER_INFO_PATH, ssl=context) as answer:
            body = await answer.json(content_type=None)
            if answer.status != 200:
                raise CliError(f"cannot read the cluster-info ConfigMap from {server}: "
                               f"{answer.status} {body.get('message', '')} (was it "
                               "published? `kyb token create` publishes it)")
    except (aiohttp.ClientError, TimeoutError, ValueError) as e:
        raise CliError(f"cannot reach {server}: {e}") from None
    kubeconfig = (body.get("data") or {}).get("kubeconfig")
    if not isinstance(kubeconfig, str):
        raise CliError("the cluster-info ConfigMap has no kubeconfig")
    return kubeconfig


def _ca_of(kubeconfig: str) -> bytes:
    try:
        doc = yaml.safe_load(kubeconfig) or {}
        cluster = doc["clusters"][0]["cluster"]
        return base64.b64decode(cluster["certificate-authority-data"])
    except (yaml.YAMLError, KeyError, IndexError, TypeError, ValueError):
        raise CliError("the cluster-info ConfigMap's kubeconfig names no CA") from None


async def request_client_cert(server: str, ca_pem: bytes, token: str, node_name: str, *,
                              wait_seconds: float) -> tuple[bytes, bytes]:
    """(certificate PEM, key PEM) for `node_name`, asked for with the bootstrap token."""
    request_pem, key_pem = client_cert.new_request(node_name)
    context = ssl.create_default_context(cadata=ca_pem.decode())
    request_seconds = min(wait_seconds, 30.0)
    async with ApiClient(server, ssl=context, token=token, timeout=request_seconds) as client:
        try:
            csr = await client.create(r.CERTIFICATE_SIGNING_REQUESTS,
                                      client_cert.csr_object(request_pem))
        except Unauthorized:
            raise CliError("the bootstrap token was refused: is it right, and neither "
                           "expired nor deleted? (`kyb token create` makes a new one)") from None
        except (ApiError, OSError, TimeoutError) as e:
            raise CliError(f"cannot ask for a kubelet certificate: {e}") from None
        name = csr["metadata"]["name"]
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            try:
                cert = client_cert.issued(
                    await client.get(r.CERTIFICATE_SIGNING_REQUESTS, name))
            except client_cert.RotationFailed as e:
                raise CliError(str(e)) from None
            except (ApiError, OSError, TimeoutError):
                cert = None  # a passing hiccup: ask again
            if cert:
                return cert, key_pem
            await asyncio.sleep(0.5)
    raise CliError(f"the certificate signing request {name} was not approved and issued "
                   f"within {wait_seconds:.0f}s (does the controller-manager run?)")
