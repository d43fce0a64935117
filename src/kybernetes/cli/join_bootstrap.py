"""How `kyb join` comes to trust a cluster and get a kubelet certificate from it, as
kubeadm's token discovery and the kubelet's TLS bootstrap do:

1. fetch the kube-public ``cluster-info`` ConfigMap without trusting the server yet
   (anonymous, TLS unverified); its ``jws-kubeconfig-<token id>`` must be the
   detached JWS of its ``kubeconfig`` under the token (made by the bootstrapsigner
   controller: proof that the server knows the token, and that the kubeconfig is
   the one it signed); the CA in that kubeconfig is kept only when the SHA-256 of
   its public key is the pinned ``--ca-cert-hash``; then cluster-info is fetched
   again over TLS verified by that CA and must be the same kubeconfig, so the answer
   came from a holder of the CA's key;
2. with the bootstrap token, create a CertificateSigningRequest for
   ``system:node:<name>`` (signer kubernetes.io/kube-apiserver-client-kubelet); the
   csrapproving controller approves it for the token's group, the signer issues it.

Nothing is written here: the caller stores the result once both steps succeed. A
token with no signature yet (made a moment ago) is waited for a few seconds, as
kubeadm retries discovery; then it is refused as unknown or expired."""

from __future__ import annotations

import asyncio
import base64
import hmac
import re
import ssl
import time

import aiohttp
import yaml

from kybernetes.api import bootstrap_jws as jws
from kybernetes.api import bootstrap_tokens as bt
from kybernetes.api import resources as r
from kybernetes.api.errors import ApiError, Unauthorized
from kybernetes.cli.errors import CliError
from kybernetes.client import ApiClient
from kybernetes.kubelet import client_cert

HASH_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
SIGNATURE_WAIT_SECONDS = 10.0
CLUSTER_INFO_PATH = f"/api/v1/namespaces/{bt.PUBLIC_NAMESPACE}/configmaps/{bt.CLUSTER_INFO}"


async def discover_ca(server: str, pinned: str, token: str, *, read_seconds: float = 10.0,
                      signature_seconds: float = SIGNATURE_WAIT_SECONDS) -> bytes:
    """The cluster CA (PEM) from cluster-info, once its kubeconfig is signed with
    `token` and its CA's public key matches `pinned`."""
    token_id, token_secret = _split(token)
    unverified = ssl.create_default_context()
    unverified.check_hostname = False
    unverified.verify_mode = ssl.CERT_NONE
    deadline = time.monotonic() + signature_seconds
    while True:
        data = await _cluster_info(server, unverified, read_seconds)
        kubeconfig, signature = data[jws.KUBECONFIG_KEY], data.get(jws.SIGNATURE_PREFIX + token_id)
        if signature or time.monotonic() >= deadline:
            break
        await asyncio.sleep(0.5)  # a token made a moment ago: the signer is on its way
    if not signature:
        raise CliError(f"token id \"{token_id}\" is invalid for this cluster or it has "
                       "expired. Use \"kyb token create\" on a server to create a new "
                       "valid token (a controller-manager run by hand needs "
                       "--controllers '*,bootstrapsigner,tokencleaner' to sign it)")
    if not jws.signature_is_valid(signature, kubeconfig, token_id, token_secret):
        raise CliError("failed to verify JWS signature of received cluster info object, "
                       "can't trust this API Server")
    ca = _ca_of(kubeconfig)
    found = bt.ca_cert_hash(ca)
    if not hmac.compare_digest(found, pinned.lower()):
        raise CliError(f"cluster CA found in cluster-info ConfigMap is invalid: none of the "
                       f"public keys \"{found}\" are pinned (--ca-cert-hash {pinned})")
    trusted = ssl.create_default_context(cadata=ca.decode())
    if (await _cluster_info(server, trusted, read_seconds))[jws.KUBECONFIG_KEY] != kubeconfig:
        raise CliError("the kubeconfig in cluster-info changed between two reads: try again")
    return ca


def _split(token: str) -> tuple[str, str]:
    match = bt.TOKEN_RE.match(token)
    if match is None:
        raise CliError("--token must look like [a-z0-9]{6}.[a-z0-9]{16}")
    return match.group(1), match.group(2)


async def _cluster_info(server: str, context: ssl.SSLContext,
                        read_seconds: float) -> dict[str, str]:
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=read_seconds)) as s, \
                s.get(server.rstrip("/") + CLUSTER_INFO_PATH, ssl=context) as answer:
            body = await answer.json(content_type=None)
            if not isinstance(body, dict):
                raise CliError(f"{server} answered cluster-info with no object")
            if answer.status != 200:
                raise CliError(f"cannot read the cluster-info ConfigMap from {server}: "
                               f"{answer.status} {body.get('message', '')} (was it "
                               "published? `kyb token create` publishes it)")
    except (aiohttp.ClientError, TimeoutError, ValueError) as e:
        raise CliError(f"cannot reach {server}: {e}") from None
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict) or not isinstance(data.get(jws.KUBECONFIG_KEY), str) \
            or not data[jws.KUBECONFIG_KEY]:
        raise CliError("there is no kubeconfig key in the cluster-info ConfigMap. This API "
                       "Server isn't set up for token bootstrapping, can't connect")
    return {k: v for k, v in data.items() if isinstance(v, str)}


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
