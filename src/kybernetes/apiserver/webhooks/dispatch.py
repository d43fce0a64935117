"""Admission webhooks: the mutating chain and the validating fan-out.

Follows k8s.io/apiserver/pkg/admission/plugin/webhook/mutating/dispatcher.go and
validating/dispatcher.go:

- mutating webhooks run one after another (configurations by name, webhooks in
  order), each seeing the object as the ones before left it; a JSONPatch answer
  is applied at once. When a webhook changes the object, the earlier ones with
  `reinvocationPolicy: IfNeeded` are owed one more call, and a single second
  round makes exactly those calls (a change in that round owes the calls of
  the webhooks after it, never a third round);
- validating webhooks are all asked at once and all must allow; the first
  refusal in webhook order is the answer;
- on a dry run, a webhook whose sideEffects is not None/NoneOnDryRun fails the
  request (400) instead of being called;
- a call failure under `failurePolicy: Ignore` is logged and skipped, under Fail
  it is a 500; a refusal is always the webhook's own Status (see failures.py).

Warnings of the webhooks that answered are returned for the handler's
`Warning:` headers; audit annotations are dropped.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid

import orjson

from kybernetes.api.errors import ApiError
from kybernetes.api.patch import json_patch
from kybernetes.apiserver.webhooks.attributes import (
    MUTATING_CONFIGURATIONS,
    VALIDATING_CONFIGURATIONS,
    AdmissionAttributes,
    ConfigurationSource,
    NamespaceLabels,
    Obj,
    ServiceResolver,
)
from kybernetes.apiserver.webhooks.client import WebhookClient
from kybernetes.apiserver.webhooks.failures import (
    CallFailure,
    denied,
    dry_run_unsupported,
    internal_error,
)
from kybernetes.apiserver.webhooks.matching import Hook, hooks_of, is_exempt, should_call
from kybernetes.apiserver.webhooks.review import (
    AdmissionResponse,
    InvalidResponse,
    admission_review,
    review_version,
    verify_response,
)

log = logging.getLogger("kybernetes.apiserver.webhooks")

_NO_SIDE_EFFECTS = ("None", "NoneOnDryRun")


class _Reinvocation:
    """Which webhooks are owed a second call (mutating/reinvocationcontext.go)."""

    def __init__(self) -> None:
        self.needed = False
        self.invoked_reinvocable: set[str] = set()
        self.owed: set[str] = set()

    def record(self, hook: Hook, *, changed: bool) -> None:
        if changed:  # every earlier IfNeeded webhook is owed a call; `hook` itself is not
            self.owed |= self.invoked_reinvocable
            self.invoked_reinvocable = set()
            self.needed = True
        if hook.reinvoked_if_needed:
            self.invoked_reinvocable.add(hook.uid)


class WebhookAdmission:
    """Calls the configured admission webhooks for one request at a time.

    `source` gives the current configurations on every request, so a change is
    seen at once; `aclose()` closes the shared HTTP session.
    """

    def __init__(self, source: ConfigurationSource, *, resolve_service: ServiceResolver,
                 namespace_labels: NamespaceLabels) -> None:
        self._source = source
        self._namespace_labels = namespace_labels
        self._client = WebhookClient(resolve_service)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def mutate(self, attrs: AdmissionAttributes) -> tuple[Obj | None, list[str]]:
        """The object after every mutating webhook, and their warnings; ApiError if refused."""
        if is_exempt(attrs):
            return attrs.object, []
        hooks = hooks_of(self._source(MUTATING_CONFIGURATIONS))
        if not hooks:
            return attrs.object, []
        attrs = dataclasses.replace(attrs)  # attrs.object advances; the caller's stays put
        reinvocation, warnings = _Reinvocation(), list[str]()
        await self._mutating_round(hooks, attrs, reinvocation, warnings, reinvoking=False)
        if reinvocation.needed:
            await self._mutating_round(hooks, attrs, reinvocation, warnings, reinvoking=True)
        return attrs.object, warnings

    async def validate(self, attrs: AdmissionAttributes) -> list[str]:
        """The warnings of the validating webhooks, all asked at once; ApiError if one refuses."""
        if is_exempt(attrs):
            return []
        hooks = [hook for hook in hooks_of(self._source(VALIDATING_CONFIGURATIONS))
                 if should_call(hook, attrs, self._namespace_labels)]
        if not hooks:  # the common case: no gather, no task per request
            return []
        outcomes = await asyncio.gather(*(self._validate_one(hook, attrs) for hook in hooks),
                                        return_exceptions=True)
        warnings: list[str] = []
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
            warnings.extend(outcome)
        return warnings

    async def _mutating_round(self, hooks: list[Hook], attrs: AdmissionAttributes,
                              reinvocation: _Reinvocation, warnings: list[str], *,
                              reinvoking: bool) -> None:
        for hook in hooks:
            if not should_call(hook, attrs, self._namespace_labels):
                continue
            if reinvoking and hook.uid not in reinvocation.owed:
                continue  # a second round never calls a webhook for the first time
            changed = False
            try:
                response = await self._ask(hook, attrs, mutating=True)
                warnings.extend(response.warnings)
                changed = _apply_patch(hook, attrs, response)
            except CallFailure as failure:
                _fail_open_or_raise(hook, failure)
            reinvocation.record(hook, changed=changed)

    async def _validate_one(self, hook: Hook, attrs: AdmissionAttributes) -> list[str]:
        try:
            return (await self._ask(hook, attrs, mutating=False)).warnings
        except CallFailure as failure:
            _fail_open_or_raise(hook, failure)
            return []

    async def _ask(self, hook: Hook, attrs: AdmissionAttributes, *,
                   mutating: bool) -> AdmissionResponse:
        """One call: the allowing response, or denied()/CallFailure/dry-run refusal raised."""
        if attrs.dry_run:
            side_effects = hook.spec.get("sideEffects")
            if side_effects is None:
                raise CallFailure(hook.name, "Webhook SideEffects is nil")
            if side_effects not in _NO_SIDE_EFFECTS:
                raise dry_run_unsupported(hook.name)
        version = review_version(list(hook.spec.get("admissionReviewVersions") or []))
        if version is None:
            raise CallFailure(hook.name, "could not create admission objects: webhook does not "
                                         "accept known AdmissionReview versions (v1, v1beta1)")
        uid = str(uuid.uuid4())
        answer = await self._client.post(hook, admission_review(attrs, version, uid))
        try:
            response = verify_response(answer, uid=uid, version=version, mutating=mutating)
        except InvalidResponse as e:
            raise CallFailure(hook.name, f"received invalid webhook response: {e}") from None
        if not response.allowed:
            log.debug("webhook denied the request",
                      extra={"webhook": hook.name, "configuration": hook.configuration})
            raise denied(hook.name, response.result)
        return response


def _apply_patch(hook: Hook, attrs: AdmissionAttributes, response: AdmissionResponse) -> bool:
    """Apply the JSONPatch of an allowing answer to attrs.object; whether it changed."""
    if not response.patch:
        return False
    try:
        operations = orjson.loads(response.patch)
    except orjson.JSONDecodeError as e:
        raise CallFailure(hook.name, f"received undecodable patch in webhook response: {e}") \
            from None
    if not isinstance(operations, list):
        raise CallFailure(hook.name, "received undecodable patch in webhook response: json: "
                                     "cannot unmarshal object into Go value of type "
                                     "jsonpatch.Patch")
    if not operations:
        return False
    if attrs.object is None:
        raise internal_error(f'admission webhook "{hook.name}" attempted to modify the object, '
                             "which is not supported for this operation")
    if response.patch_type != "JSONPatch":
        raise CallFailure(hook.name, f'unsupported patch type "{response.patch_type}"')
    try:
        patched = json_patch(attrs.object, operations)
    except ApiError as e:
        raise internal_error(e.message) from None
    changed = patched != attrs.object
    attrs.object = patched
    return changed


def _fail_open_or_raise(hook: Hook, failure: CallFailure) -> None:
    """failurePolicy: Ignore logs and goes on; Fail makes the call failure a 500."""
    extra = {"webhook": hook.name, "configuration": hook.configuration, "error": str(failure)}
    if hook.fails_open:
        log.warning("webhook call failed, failing open", extra=extra)
        return
    log.warning("webhook call failed, failing closed", extra=extra)
    raise internal_error(str(failure)) from None
