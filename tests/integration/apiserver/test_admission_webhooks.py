"""Admission webhooks registered through the API of a real API server, served by HTTPS
webhook servers the tests start on loopback ports."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from kybernetes.api import resources as r
from kybernetes.api.errors import ApiError, Forbidden, InternalError
from kybernetes.client import ApiClient
from tests.support.apiserver import ApiServer, connected
from tests.support.poll import eventually
from tests.support.webhook_server import Review, ThrowAwayCA, WebhookServer

RULES = [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
          "resources": ["configmaps"]}]


def label_patch(review: Review) -> Review:
    """Mutating answer: add the label `stamped=yes`."""
    patch = [{"op": "add", "path": "/metadata/labels", "value": {"stamped": "yes"}}]
    return {"allowed": True, "patchType": "JSONPatch",
            "patch": base64.b64encode(json.dumps(patch).encode()).decode()}


def refuse_forbidden_data(review: Review) -> Review:
    data = (review["request"]["object"] or {}).get("data") or {}
    if "forbidden" in data:
        return {"allowed": False, "status": {"code": 403, "message": "no forbidden data"}}
    return {"allowed": True, "warnings": ["checked by the webhook"]}


@pytest.fixture
async def client(sqlite_server: ApiServer) -> AsyncIterator[ApiClient]:
    async with connected(sqlite_server) as api:
        yield api


@pytest.fixture
async def webhooks() -> AsyncIterator[Callable[..., Awaitable[WebhookServer]]]:
    ca, started = ThrowAwayCA(), list[WebhookServer]()

    async def start(answer: Callable[[Review], Any]) -> WebhookServer:
        server = await WebhookServer(ca, answer, dns_names=("hooks.hooks-system.svc",)).start()
        started.append(server)
        return server

    yield start
    for server in started:
        await server.stop()


async def register(client: ApiClient, resource: r.Resource, name: str,
                   **webhook: Any) -> None:
    spec = {"name": name, "sideEffects": "None", "admissionReviewVersions": ["v1"],
            "rules": RULES, **webhook}
    await client.create(resource, {"apiVersion": resource.api_version, "kind": resource.kind,
                                   "metadata": {"name": name}, "webhooks": [spec]})


async def namespace(client: ApiClient, name: str, labels: dict[str, str]) -> str:
    await client.create(r.NAMESPACES, {"metadata": {"name": name, "labels": labels}})
    return name


async def create_configmap(client: ApiClient, ns: str, name: str, data: dict[str, str], *,
                           dry_run: bool = False) -> Any:
    return await client.request("POST", r.CONFIGMAPS.path(ns),
                                params={"dryRun": "All"} if dry_run else None,
                                body={"metadata": {"name": name}, "data": data})


async def refusal(client: ApiClient, ns: str, data: dict[str, str]) -> ApiError | None:
    """The error creating a ConfigMap (under a new name) got, or None while the webhook
    is not yet in force (the watch cache follows the store within moments, as
    Kubernetes' informers do)."""
    try:
        await create_configmap(client, ns, f"c-{time.monotonic_ns()}", data)
    except ApiError as e:
        return e
    return None


async def test_mutating_and_validating_webhooks_by_url_and_by_service(
        client: ApiClient, webhooks: Callable[..., Awaitable[WebhookServer]]) -> None:
    mutator, validator = await webhooks(label_patch), await webhooks(refuse_forbidden_data)
    ns = await namespace(client, "hooked", {"hooks": "on"})
    # The validating webhook lives behind a selector-less Service whose Endpoints point at it.
    system = await namespace(client, "hooks-system", {})
    await client.create(r.SERVICES, {"metadata": {"name": "hooks", "namespace": system},
                                     "spec": {"ports": [{"name": "https", "port": 443}]}})
    await client.create(r.ENDPOINTS, {"metadata": {"name": "hooks", "namespace": system},
                                      "subsets": [{"addresses": [{"ip": "127.0.0.1"}],
                                                   "ports": [{"name": "https",
                                                              "port": validator.port}]}]})
    selector = {"matchLabels": {"hooks": "on"}}
    await register(client, r.MUTATING_WEBHOOK_CONFIGURATIONS, "stamp.example.com",
                   namespaceSelector=selector,
                   clientConfig={"url": f"{mutator.url}/mutate", "caBundle": mutator.ca.bundle})
    await register(client, r.VALIDATING_WEBHOOK_CONFIGURATIONS, "check.example.com",
                   namespaceSelector=selector,
                   clientConfig={"service": {"namespace": system, "name": "hooks",
                                             "path": "/validate"},
                                 "caBundle": validator.ca.bundle})

    async def stamped() -> Any:
        created = await create_configmap(client, ns, f"cm-{time.monotonic_ns()}", {"a": "1"})
        return created["metadata"].get("labels") == {"stamped": "yes"}
    await eventually(stamped, what="the mutating webhook's label")
    error = await eventually(lambda: refusal(client, ns, {"forbidden": "x"}),
                             what="the validating webhook's refusal")
    assert isinstance(error, Forbidden)
    assert error.message == 'admission webhook "check.example.com" denied the request: ' \
                            "no forbidden data"
    assert validator.paths[-1] == "/validate?timeout=10s"
    # A namespace the selectors leave out is not sent to either webhook.
    plain = await namespace(client, "unhooked", {})
    created = await create_configmap(client, plain, "free", {"forbidden": "x"})
    assert "labels" not in created["metadata"]
    # A dry run is reviewed too (sideEffects None), flagged as such, and nothing is stored.
    await create_configmap(client, ns, "dry", {"a": "1"}, dry_run=True)
    assert validator.reviews[-1]["request"]["dryRun"] is True
    with pytest.raises(ApiError):
        await client.get(r.CONFIGMAPS, "dry", namespace=ns)


async def test_failure_policy_decides_when_the_webhook_is_down(
        client: ApiClient, webhooks: Callable[..., Awaitable[WebhookServer]]) -> None:
    down = await webhooks(refuse_forbidden_data)
    url, bundle = down.url, down.ca.bundle
    await down.stop()
    closed = await namespace(client, "fail-closed", {"policy": "fail"})
    opened = await namespace(client, "fail-open", {"policy": "ignore"})
    for name, policy, label in (("closed.example.com", "Fail", "fail"),
                                ("open.example.com", "Ignore", "ignore")):
        await register(client, r.VALIDATING_WEBHOOK_CONFIGURATIONS, name, failurePolicy=policy,
                       namespaceSelector={"matchLabels": {"policy": label}},
                       clientConfig={"url": url, "caBundle": bundle})

    error = await eventually(lambda: refusal(client, closed, {}), what="a refusal")
    assert isinstance(error, InternalError)
    assert error.message.startswith(
        'Internal error occurred: failed calling webhook "closed.example.com": failed to call '
        f'webhook: Post "{url}/?timeout=10s": dial tcp 127.0.0.1:')
    assert await create_configmap(client, opened, "fine", {"a": "1"})
    configurations = await client.list(r.VALIDATING_WEBHOOK_CONFIGURATIONS)
    stored = {c["metadata"]["name"]: c["webhooks"][0] for c in configurations["items"]}
    assert stored["open.example.com"]["timeoutSeconds"] == 10  # defaulted when stored
    assert stored["open.example.com"]["matchPolicy"] == "Equivalent"
    for name in stored:
        await client.delete(r.VALIDATING_WEBHOOK_CONFIGURATIONS, name)


async def test_match_conditions_skip_the_webhook(
        client: ApiClient, webhooks: Callable[..., Awaitable[WebhookServer]]) -> None:
    validator = await webhooks(refuse_forbidden_data)
    ns = await namespace(client, "conditional", {"conditions": "on"})
    await register(client, r.VALIDATING_WEBHOOK_CONFIGURATIONS, "cond.example.com",
                   namespaceSelector={"matchLabels": {"conditions": "on"}},
                   matchConditions=[{"name": "not-exempt",
                                     "expression": "!('exempt' in object.data)"}],
                   clientConfig={"url": validator.url, "caBundle": validator.ca.bundle})

    error = await eventually(lambda: refusal(client, ns, {"forbidden": "x"}), what="a refusal")
    assert isinstance(error, Forbidden)
    await create_configmap(client, ns, "exempted", {"forbidden": "x", "exempt": "y"})
    with pytest.raises(ApiError) as invalid:
        await register(client, r.VALIDATING_WEBHOOK_CONFIGURATIONS, "broken.example.com",
                       matchConditions=[{"name": "x", "expression": "object.data +"}],
                       clientConfig={"url": validator.url})
    assert invalid.value.code == 422
    assert "webhooks[0].matchConditions[0].expression: Invalid value: \"object.data +\": " \
           "compilation failed: ERROR: <input>:1:" in invalid.value.message
    await client.delete(r.VALIDATING_WEBHOOK_CONFIGURATIONS, "cond.example.com")
