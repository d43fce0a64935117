"""Admission webhooks against real HTTPS webhook servers (a throw-away CA, loopback ports)."""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest
from aiohttp import web

from kybernetes.api.admissionregistration_validation import webhook_configuration_defaults
from kybernetes.api.errors import ApiError
from kybernetes.apiserver.webhooks import (
    CREATE,
    DELETE,
    UPDATE,
    AdmissionAttributes,
    UserInfo,
    WebhookAdmission,
)
from tests.support.net import free_port
from tests.support.webhook_server import ThrowAwayCA, WebhookServer

POD: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod",
                       "metadata": {"name": "p", "namespace": "default",
                                    "labels": {"app": "web"}},
                       "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
ALICE = UserInfo("alice", uid="u-1", groups=("devs", "system:authenticated"),
                 extra={"scopes": ("a", "b")})
NAMESPACES = {"default": {"env": "dev"}, "prod": {"env": "prod"}}


def pod_request(operation: str = CREATE, **changes: Any) -> AdmissionAttributes:
    attrs = AdmissionAttributes(operation=operation, group="", version="v1", resource="pods",
                                kind="Pod", user=ALICE, namespace="default", name="p",
                                object=copy.deepcopy(POD), options={"fieldManager": "kubectl"})
    for key, value in changes.items():
        setattr(attrs, key, value)
    return attrs


def hook(server: WebhookServer, name: str = "x.example.com", *, mutating: bool = False,
         **fields: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": name, "sideEffects": "None", "admissionReviewVersions": ["v1"],
        "clientConfig": {"url": f"{server.url}/check", "caBundle": server.ca.bundle},
        "rules": [{"operations": ["*"], "apiGroups": [""], "apiVersions": ["v1"],
                   "resources": ["pods"]}],
    }
    spec.update(fields)
    configuration = {"metadata": {"name": name}, "webhooks": [spec]}
    webhook_configuration_defaults(configuration, mutating=mutating)
    return spec


class Configurations:
    """The watch cache's view: configurations by resource, changeable between requests."""

    def __init__(self) -> None:
        self.mutating: list[dict[str, Any]] = []
        self.validating: list[dict[str, Any]] = []

    def __call__(self, resource: str) -> list[dict[str, Any]]:
        return self.mutating if resource.startswith("mutating") else self.validating

    def add(self, name: str, *webhooks: dict[str, Any], mutating: bool = False) -> None:
        target = self.mutating if mutating else self.validating
        target.append({"metadata": {"name": name}, "webhooks": list(webhooks)})


async def no_services(namespace: str, name: str, port: int) -> tuple[str, int]:
    raise LookupError(f'service "{name}" not found')


def namespace_labels(name: str) -> Mapping[str, str] | None:
    return NAMESPACES.get(name)


@pytest.fixture
def ca() -> ThrowAwayCA:
    return ThrowAwayCA()


@pytest.fixture
async def server(ca: ThrowAwayCA) -> AsyncIterator[WebhookServer]:
    server = await WebhookServer(ca).start()
    yield server
    await server.stop()


@pytest.fixture
async def configs() -> Configurations:
    return Configurations()


@pytest.fixture
async def admission(configs: Configurations) -> AsyncIterator[WebhookAdmission]:
    admission = WebhookAdmission(configs, resolve_service=no_services,
                                 namespace_labels=namespace_labels)
    yield admission
    await admission.aclose()


def patch_answer(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"allowed": True, "patchType": "JSONPatch",
            "patch": base64.b64encode(json.dumps(list(operations)).encode()).decode()}


# --- calls and answers --------------------------------------------------------------------

async def test_allowing_webhook_gets_the_admission_review_kubernetes_sends(
        server: WebhookServer, configs: Configurations, admission: WebhookAdmission) -> None:
    configs.add("check", hook(server))
    assert await admission.validate(pod_request()) == []
    [review] = server.reviews
    request = review["request"]
    assert review["apiVersion"] == "admission.k8s.io/v1" and review["kind"] == "AdmissionReview"
    assert server.paths == ["/check?timeout=10s"]
    gvk = {"group": "", "version": "v1", "kind": "Pod"}
    gvr = {"group": "", "version": "v1", "resource": "pods"}
    assert {k: v for k, v in request.items() if k != "uid"} == {
        "kind": gvk, "resource": gvr, "requestKind": gvk, "requestResource": gvr,
        "name": "p", "namespace": "default", "operation": "CREATE",
        "userInfo": {"username": "alice", "uid": "u-1",
                     "groups": ["devs", "system:authenticated"], "extra": {"scopes": ["a", "b"]}},
        "object": POD, "oldObject": None, "dryRun": False,
        "options": {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1",
                    "fieldManager": "kubectl"},
    }


async def test_denial_carries_the_webhooks_message_code_and_reason(
        ca: ThrowAwayCA, configs: Configurations, admission: WebhookAdmission) -> None:
    answer = {"allowed": False, "status": {"code": 403, "reason": "Forbidden",
                                           "message": "pods must not run as root"}}
    server = await WebhookServer(ca, lambda review: answer).start()
    try:
        configs.add("policy", hook(server, "policy.example.com"))
        with pytest.raises(ApiError) as caught:
            await admission.validate(pod_request())
    finally:
        await server.stop()
    assert caught.value.to_status() == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'admission webhook "policy.example.com" denied the request: '
                   "pods must not run as root",
        "reason": "Forbidden", "code": 403}


async def test_denial_without_status_is_a_400_without_explanation(
        ca: ThrowAwayCA, configs: Configurations, admission: WebhookAdmission) -> None:
    server = await WebhookServer(ca, lambda review: {"allowed": False,
                                                     "status": {"code": 200}}).start()
    try:
        configs.add("policy", hook(server))
        with pytest.raises(ApiError) as caught:
            await admission.validate(pod_request())
    finally:
        await server.stop()
    error = caught.value
    assert (error.code, error.reason) == (400, "")
    assert error.message == 'admission webhook "x.example.com" denied the request without ' \
                            "explanation"


async def test_json_patch_answer_mutates_a_copy_of_the_object(
        ca: ThrowAwayCA, configs: Configurations, admission: WebhookAdmission) -> None:
    server = await WebhookServer(ca, lambda review: patch_answer(
        {"op": "add", "path": "/metadata/labels/injected", "value": "yes"})).start()
    try:
        configs.add("inject", hook(server, mutating=True), mutating=True)
        attrs = pod_request()
        mutated, warnings = await admission.mutate(attrs)
    finally:
        await server.stop()
    assert mutated is not None
    assert mutated["metadata"]["labels"] == {"app": "web", "injected": "yes"}
    assert attrs.object == POD and warnings == []


async def test_patch_for_a_delete_is_an_internal_error(
        ca: ThrowAwayCA, configs: Configurations, admission: WebhookAdmission) -> None:
    server = await WebhookServer(ca, lambda review: patch_answer(
        {"op": "add", "path": "/x", "value": 1})).start()
    try:
        configs.add("inject", hook(server, mutating=True), mutating=True)
        with pytest.raises(ApiError) as caught:
            await admission.mutate(pod_request(DELETE, object=None, old_object=POD))
    finally:
        await server.stop()
    assert caught.value.code == 500
    assert caught.value.message == (
        'Internal error occurred: admission webhook "x.example.com" attempted to modify the '
        "object, which is not supported for this operation")


async def test_warnings_of_every_webhook_are_returned(
        ca: ThrowAwayCA, configs: Configurations, admission: WebhookAdmission) -> None:
    server = await WebhookServer(ca, lambda review: {"allowed": True,
                                                     "warnings": ["deprecated field"]}).start()
    try:
        configs.add("a", hook(server, "a.example.com"), hook(server, "b.example.com"))
        configs.add("m", hook(server, "m.example.com", mutating=True), mutating=True)
        assert await admission.validate(pod_request()) == ["deprecated field"] * 2
        assert (await admission.mutate(pod_request()))[1] == ["deprecated field"]
    finally:
        await server.stop()


# --- reinvocation -------------------------------------------------------------------------

async def test_if_needed_webhook_is_called_again_after_a_later_webhook_changes_the_object(
        ca: ThrowAwayCA, configs: Configurations, admission: WebhookAdmission) -> None:
    def change_once(review: dict[str, Any]) -> dict[str, Any]:
        labels = review["request"]["object"]["metadata"]["labels"]
        if "sidecar" in labels:
            return {"allowed": True}
        return patch_answer({"op": "add", "path": "/metadata/labels/sidecar", "value": "on"})

    first = await WebhookServer(ca).start()
    second = await WebhookServer(ca, change_once).start()
    never = await WebhookServer(ca).start()
    try:
        configs.add("a-first", hook(first, "first.example.com", mutating=True,
                                    reinvocationPolicy="IfNeeded"), mutating=True)
        configs.add("b-never", hook(never, "never.example.com", mutating=True), mutating=True)
        configs.add("c-second", hook(second, "second.example.com", mutating=True),
                    mutating=True)
        mutated, _ = await admission.mutate(pod_request())
    finally:
        for server in (first, second, never):
            await server.stop()
    assert mutated is not None and mutated["metadata"]["labels"]["sidecar"] == "on"
    seen_by_first = [r["request"]["object"]["metadata"]["labels"] for r in first.reviews]
    assert seen_by_first == [{"app": "web"}, {"app": "web", "sidecar": "on"}]
    assert len(never.reviews) == 1 and len(second.reviews) == 1


async def test_a_webhooks_own_change_does_not_reinvoke_it(
        ca: ThrowAwayCA, configs: Configurations, admission: WebhookAdmission) -> None:
    server = await WebhookServer(ca, lambda review: patch_answer(
        {"op": "add", "path": "/metadata/labels/n", "value": "1"})).start()
    try:
        configs.add("self", hook(server, mutating=True, reinvocationPolicy="IfNeeded"),
                    mutating=True)
        await admission.mutate(pod_request())
    finally:
        await server.stop()
    assert len(server.reviews) == 1


# --- matching -----------------------------------------------------------------------------

async def test_only_webhooks_whose_rules_match_are_called(
        server: WebhookServer, configs: Configurations, admission: WebhookAdmission) -> None:
    rule = {"apiGroups": [""], "apiVersions": ["v1"], "scope": "*"}
    configs.add("rules",
                hook(server, "create.example.com",
                     rules=[{**rule, "operations": ["CREATE"], "resources": ["pods"]}]),
                hook(server, "status.example.com",
                     rules=[{**rule, "operations": ["UPDATE"], "resources": ["pods/status"]}]),
                hook(server, "scale.example.com",
                     rules=[{**rule, "operations": ["*"], "resources": ["*/scale"]}]),
                hook(server, "cluster.example.com",
                     rules=[{**rule, "operations": ["*"], "resources": ["*"],
                             "scope": "Cluster"}]),
                hook(server, "apps.example.com",
                     rules=[{**rule, "apiGroups": ["apps"], "operations": ["*"],
                             "resources": ["*/*"]}]))

    async def called_for(attrs: AdmissionAttributes) -> int:
        before = len(server.reviews)
        await admission.validate(attrs)
        return len(server.reviews) - before

    assert await called_for(pod_request()) == 1
    assert await called_for(pod_request(UPDATE, old_object=POD)) == 0
    assert await called_for(pod_request(UPDATE, old_object=POD, subresource="status")) == 1
    assert await called_for(pod_request(UPDATE, subresource="scale", kind="Scale",
                                        kind_group="autoscaling")) == 1
    node = pod_request(resource="nodes", kind="Node", namespace="", namespaced=False)
    assert await called_for(node) == 1
    assert server.reviews[-1]["request"]["kind"]["kind"] == "Node"


async def test_object_selector_matches_the_object_or_the_old_object(
        server: WebhookServer, configs: Configurations, admission: WebhookAdmission) -> None:
    configs.add("sel", hook(server, objectSelector={"matchLabels": {"app": "db"}}))
    await admission.validate(pod_request())
    assert server.reviews == []
    db = copy.deepcopy(POD)
    db["metadata"]["labels"] = {"app": "db"}
    await admission.validate(pod_request(DELETE, object=None, old_object=db))
    assert len(server.reviews) == 1


async def test_namespace_selector_uses_the_namespaces_labels(
        server: WebhookServer, configs: Configurations, admission: WebhookAdmission) -> None:
    configs.add("ns", hook(server, namespaceSelector={
        "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod"]}]},
        rules=[{"operations": ["*"], "apiGroups": [""], "apiVersions": ["v1"],
                "resources": ["*"]}]))
    await admission.validate(pod_request())  # default is env=dev
    assert server.reviews == []
    await admission.validate(pod_request(namespace="prod"))
    assert len(server.reviews) == 1
    # a Namespace being created is matched on its own labels
    namespace = {"metadata": {"name": "new", "labels": {"env": "prod"}}}
    await admission.validate(pod_request(resource="namespaces", kind="Namespace",
                                         namespace="new", name="new", object=namespace,
                                         namespaced=False))
    assert len(server.reviews) == 2
    # cluster-scoped objects are never exempted
    await admission.validate(pod_request(resource="nodes", kind="Node", namespace="",
                                         namespaced=False))
    assert len(server.reviews) == 3


async def test_namespace_that_does_not_exist_is_a_404(
        server: WebhookServer, configs: Configurations, admission: WebhookAdmission) -> None:
    configs.add("ns", hook(server, namespaceSelector={"matchLabels": {"env": "prod"}}))
    with pytest.raises(ApiError) as caught:
        await admission.validate(pod_request(namespace="ghost"))
    assert (caught.value.code, caught.value.message) == (404, 'namespaces "ghost" not found')


async def test_webhook_configurations_are_never_sent_to_webhooks(
        server: WebhookServer, configs: Configurations, admission: WebhookAdmission) -> None:
    configs.add("all", hook(server, rules=[{"operations": ["*"], "apiGroups": ["*"],
                                            "apiVersions": ["*"], "resources": ["*/*"]}]))
    for kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
        await admission.validate(pod_request(
            group="admissionregistration.k8s.io", resource=kind.lower() + "s", kind=kind,
            namespace="", namespaced=False, object={"metadata": {"name": "w"}}))
    assert server.reviews == []
    await admission.validate(pod_request())
    assert len(server.reviews) == 1


# --- failures -----------------------------------------------------------------------------

async def test_server_down_fails_closed_with_kubernetes_words(
        ca: ThrowAwayCA, configs: Configurations, admission: WebhookAdmission) -> None:
    port = free_port()
    down = hook(WebhookServer(ca), clientConfig={"url": f"https://127.0.0.1:{port}/v",
                                                 "caBundle": ca.bundle})
    configs.add("down", down)
    with pytest.raises(ApiError) as caught:
        await admission.validate(pod_request())
    reason = (f'failed calling webhook "x.example.com": failed to call webhook: Post '
              f'"https://127.0.0.1:{port}/v?timeout=10s": dial tcp 127.0.0.1:{port}: connect: '
              "connection refused")
    assert caught.value.to_status() == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": f"Internal error occurred: {reason}", "reason": "InternalError",
        "code": 500, "details": {"causes": [{"message": reason}]}}


async def test_server_down_is_skipped_when_failure_policy_is_ignore(
        ca: ThrowAwayCA, configs: Configurations, admission: WebhookAdmission) -> None:
    config = {"url": f"https://127.0.0.1:{free_port()}/", "caBundle": ca.bundle}
    configs.add("down", hook(WebhookServer(ca), failurePolicy="Ignore", clientConfig=config,
                             mutating=True), mutating=True)
    configs.add("down", hook(WebhookServer(ca), failurePolicy="Ignore", clientConfig=config))
    attrs = pod_request()
    assert await admission.mutate(attrs) == (POD, [])
    assert await admission.validate(attrs) == []


async def test_slow_webhook_times_out_after_its_timeout_seconds(
        ca: ThrowAwayCA, configs: Configurations, admission: WebhookAdmission) -> None:
    async def slow(review: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(5)
        return {"allowed": True}

    server = await WebhookServer(ca, slow).start()
    try:
        configs.add("slow", hook(server, timeoutSeconds=1))
        started = time.monotonic()
        with pytest.raises(ApiError) as caught:
            await admission.validate(pod_request())
        elapsed = time.monotonic() - started
    finally:
        await server.stop()
    assert 0.9 < elapsed < 3
    assert caught.value.message.endswith(
        f'Post "{server.url}/check?timeout=1s": context deadline exceeded')


async def test_answer_for_another_request_is_an_invalid_response(
        ca: ThrowAwayCA, configs: Configurations, admission: WebhookAdmission) -> None:
    server = await WebhookServer(ca, lambda review: {"uid": "other", "allowed": True}).start()
    try:
        configs.add("bad", hook(server))
        with pytest.raises(ApiError) as caught:
            await admission.validate(pod_request())
    finally:
        await server.stop()
    uid = server.reviews[0]["request"]["uid"]
    assert caught.value.message == (
        'Internal error occurred: failed calling webhook "x.example.com": received invalid '
        f'webhook response: expected response.uid="{uid}", got "other"')


async def test_server_error_is_worded_as_client_go_does(
        ca: ThrowAwayCA, configs: Configurations, admission: WebhookAdmission) -> None:
    server = await WebhookServer(ca, lambda review: web.Response(status=500,
                                                                  text="boom")).start()
    try:
        configs.add("bad", hook(server))
        with pytest.raises(ApiError) as caught:
            await admission.validate(pod_request())
    finally:
        await server.stop()
    assert caught.value.message == (
        'Internal error occurred: failed calling webhook "x.example.com": failed to call '
        'webhook: an error on the server ("boom") has prevented the request from succeeding')


async def test_certificate_from_another_ca_is_not_trusted(
        server: WebhookServer, configs: Configurations, admission: WebhookAdmission) -> None:
    configs.add("tls", hook(server, clientConfig={"url": f"{server.url}/check",
                                                  "caBundle": ThrowAwayCA().bundle}))
    with pytest.raises(ApiError) as caught:
        await admission.validate(pod_request())
    assert caught.value.message.endswith(
        "tls: failed to verify certificate: x509: certificate signed by unknown authority")


# --- dry run, versions, services, concurrency ---------------------------------------------

async def test_dry_run_refuses_webhooks_with_side_effects_without_calling_them(
        server: WebhookServer, configs: Configurations, admission: WebhookAdmission) -> None:
    configs.add("fx", hook(server, sideEffects="Some", failurePolicy="Ignore"))
    with pytest.raises(ApiError) as caught:
        await admission.validate(pod_request(dry_run=True))
    assert (caught.value.code, caught.value.message) == (
        400, 'admission webhook "x.example.com" does not support dry run')
    assert server.reviews == []
    configs.validating[0]["webhooks"][0]["sideEffects"] = "NoneOnDryRun"
    await admission.validate(pod_request(dry_run=True))
    assert server.reviews[0]["request"]["dryRun"] is True


async def test_review_version_is_the_first_one_the_webhook_lists_that_we_speak(
        server: WebhookServer, configs: Configurations, admission: WebhookAdmission) -> None:
    configs.add("beta", hook(server, admissionReviewVersions=["v2", "v1beta1", "v1"]))
    await admission.validate(pod_request())
    assert server.reviews[0]["apiVersion"] == "admission.k8s.io/v1beta1"
    configs.validating[0]["webhooks"][0]["admissionReviewVersions"] = ["v2"]
    with pytest.raises(ApiError) as caught:
        await admission.validate(pod_request())
    assert caught.value.message.endswith(
        "could not create admission objects: webhook does not accept known AdmissionReview "
        "versions (v1, v1beta1)")


async def test_service_webhook_is_reached_through_its_endpoint_with_its_service_name(
        ca: ThrowAwayCA, configs: Configurations) -> None:
    server = await WebhookServer(ca, dns_names=("hooks.system.svc",)).start()
    resolved: list[tuple[str, str, int]] = []

    async def resolve(namespace: str, name: str, port: int) -> tuple[str, int]:
        resolved.append((namespace, name, port))
        return "127.0.0.1", server.port

    admission = WebhookAdmission(configs, resolve_service=resolve,
                                 namespace_labels=namespace_labels)
    configs.add("svc", hook(server, clientConfig={
        "service": {"namespace": "system", "name": "hooks", "path": "/validate", "port": 443},
        "caBundle": ca.bundle}))
    try:
        await admission.validate(pod_request())
    finally:
        await admission.aclose()
        await server.stop()
    assert resolved == [("system", "hooks", 443)]
    assert server.paths == ["/validate?timeout=10s"]


async def test_unknown_service_fails_with_the_resolvers_words(
        server: WebhookServer, configs: Configurations, admission: WebhookAdmission) -> None:
    configs.add("svc", hook(server, clientConfig={"service": {
        "namespace": "system", "name": "gone", "port": 8443}}))
    with pytest.raises(ApiError) as caught:
        await admission.validate(pod_request())
    assert caught.value.message.endswith(
        'Post "https://gone.system.svc:8443/?timeout=10s": service "gone" not found')


async def test_validating_webhooks_are_called_concurrently(
        ca: ThrowAwayCA, configs: Configurations, admission: WebhookAdmission) -> None:
    async def slow_allow(review: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(0.5)
        return {"allowed": True}

    server = await WebhookServer(ca, slow_allow).start()
    try:
        configs.add("slow", *(hook(server, f"h{i}.example.com") for i in range(3)))
        started = time.monotonic()
        await admission.validate(pod_request())
        elapsed = time.monotonic() - started
    finally:
        await server.stop()
    assert len(server.reviews) == 3 and elapsed < 1.2
