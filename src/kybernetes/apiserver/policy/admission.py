"""The ValidatingAdmissionPolicy admission plugin.

Follows policy/validating/dispatcher.go for every policy that matches the
request (its matchConstraints) and each of its bindings that matches too
(matchResources), once per param:

- a failed validation goes where the binding's validationActions say: Deny
  refuses the request, Warn adds the warning `Validation failed for
  ValidatingAdmissionPolicy '<p>' with binding '<b>': <message>`, Audit is
  dropped (there is no audit log);
- a configuration problem (an unknown paramKind, a missing param under
  `parameterNotFoundAction: Deny`, a selector error) refuses the request under
  failurePolicy Fail (`failed to configure binding: …`) and is skipped under Ignore;
- the first refusal becomes admission.NewForbidden's Status with the
  validation's reason (Invalid, 422, by default) and the message
  `<resource> "<name>" is forbidden: ValidatingAdmissionPolicy '<p>' with binding
  '<b>' denied request: <message>`, which kubectl shows as `The <resource> "<name>"
  is invalid: : ValidatingAdmissionPolicy …` from its one cause.

Policies, bindings, namespaces and params come from the `PolicySource` (the
watch cache) on every request; compiled programs are kept per policy uid and
generation.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from kybernetes.api.cel import CelError
from kybernetes.api.errors import ApiError, from_status
from kybernetes.apiserver.policy.compiled import CompiledPolicy, Decision
from kybernetes.apiserver.policy.matching import (
    ConfigurationError,
    ParamStore,
    collect_params,
    kind_string,
    matches,
)
from kybernetes.apiserver.webhooks.attributes import AdmissionAttributes, Obj
from kybernetes.apiserver.webhooks.conditions import activation
from kybernetes.apiserver.webhooks.failures import forbidden
from kybernetes.apiserver.webhooks.matching import is_exempt

log = logging.getLogger("kybernetes.apiserver.policy")

_CODES = {"Forbidden": 403, "Unauthorized": 401, "RequestEntityTooLarge": 413, "Invalid": 422}


class PolicySource(Protocol):
    """What the plugin reads on every request (Kubernetes' informers)."""

    def policies(self) -> Iterable[Obj]: ...

    def bindings(self) -> Iterable[Obj]: ...

    def namespace(self, name: str) -> Obj | None: ...

    def params(self, api_version: str, kind: str) -> ParamStore | None:
        """The objects of a paramKind, or None when no such kind is served."""


@dataclass(frozen=True)
class _Refusal:
    policy: str
    binding: str | None
    decision: Decision

    @property
    def message(self) -> str:
        if self.binding is None:
            return f"ValidatingAdmissionPolicy '{self.policy}' denied request: " \
                   f"{self.decision.message}"
        return f"ValidatingAdmissionPolicy '{self.policy}' with binding '{self.binding}' " \
               f"denied request: {self.decision.message}"


class PolicyAdmission:
    """A validating admission plugin (see AdmissionChain) for ValidatingAdmissionPolicies."""

    def __init__(self, source: PolicySource) -> None:
        self._source = source
        self._compiled: dict[tuple[str, int], CompiledPolicy | str] = {}

    async def validate(self, attrs: AdmissionAttributes) -> list[str]:
        """The warnings of Warn bindings; raises the first Deny as Kubernetes' Status."""
        if is_exempt(attrs):
            return []
        policies = list(self._source.policies())
        if not policies:
            return []
        bindings: dict[str, list[Obj]] = {}
        for binding in sorted(self._source.bindings(), key=_name):
            bindings.setdefault(str(_spec(binding).get("policyName") or ""), []).append(binding)
        refusals: list[_Refusal] = []
        warnings: list[str] = []
        for policy in sorted(policies, key=_name):
            if bindings.get(_name(policy)):
                self._admit(policy, bindings[_name(policy)], attrs, refusals, warnings)
        self._forget_removed(policies)
        if refusals:
            raise _status(attrs, refusals[0])
        return warnings

    def _admit(self, policy: Obj, bindings: list[Obj], attrs: AdmissionAttributes,
               refusals: list[_Refusal], warnings: list[str]) -> None:
        name, spec = _name(policy), _spec(policy)
        fails_open = spec.get("failurePolicy") == "Ignore"
        try:
            if not matches(spec.get("matchConstraints"), attrs, self._namespace_labels):
                return
            compiled, store = self._compiled_policy(policy), self._param_store(spec)
        except ConfigurationError as e:
            if not fails_open:
                refusals.append(_Refusal(name, None, Decision(f"failed to configure policy: {e}")))
            return
        for binding in bindings:
            try:
                scope = _spec(binding).get("matchResources")
                if scope is not None and not matches(scope, attrs, self._namespace_labels):
                    continue
                params = collect_params(store, _spec(binding).get("paramRef"), attrs.namespace)
            except ConfigurationError as e:
                if not fails_open:
                    refusals.append(_Refusal(name, _name(binding),
                                             Decision(f"failed to configure binding: {e}")))
                continue
            namespace = self._request_namespace(attrs)
            for param in params:
                decisions = compiled.evaluate(activation(attrs, namespace=namespace,
                                                         params=param))
                _act(name, binding, decisions, refusals, warnings)

    def _compiled_policy(self, policy: Obj) -> CompiledPolicy:
        key = _generation_key(policy)
        compiled = self._compiled.get(key)
        if compiled is None:
            try:
                compiled = CompiledPolicy.compile(policy)
            except CelError as e:
                compiled = str(e)
            self._compiled[key] = compiled
        if isinstance(compiled, str):
            raise ConfigurationError(compiled)
        return compiled

    def _param_store(self, spec: Obj) -> ParamStore | None:
        kind = spec.get("paramKind")
        if not isinstance(kind, dict):
            return None
        store = self._source.params(str(kind.get("apiVersion") or ""), str(kind.get("kind")))
        if store is None:
            raise ConfigurationError("failed to find resource referenced by paramKind: "
                                     f"'{kind_string(kind)}'")
        return store

    def _forget_removed(self, policies: list[Obj]) -> None:
        live = {_generation_key(policy) for policy in policies}
        for key in set(self._compiled) - live:
            del self._compiled[key]

    def _namespace_labels(self, name: str) -> Mapping[str, str] | None:
        namespace = self._source.namespace(name)
        if namespace is None:
            return None
        return (namespace.get("metadata") or {}).get("labels") or {}

    def _request_namespace(self, attrs: AdmissionAttributes) -> Obj | None:
        """The Namespace of a namespaced request (none for a Namespace itself)."""
        if not attrs.namespace or (attrs.group, attrs.resource) == ("", "namespaces"):
            return None
        return self._source.namespace(attrs.namespace)


def _act(policy: str, binding: Obj, decisions: list[Decision], refusals: list[_Refusal],
         warnings: list[str]) -> None:
    """Send each failed validation where the binding's validationActions say."""
    binding_name = _name(binding)
    for decision in decisions:
        for action in _spec(binding).get("validationActions") or []:
            if action == "Deny":
                refusals.append(_Refusal(policy, binding_name, decision))
            elif action == "Warn":
                warnings.append(f"Validation failed for ValidatingAdmissionPolicy '{policy}' "
                                f"with binding '{binding_name}': {decision.message}")
            elif action == "Audit":
                log.debug("validation failed (audit)",
                          extra={"policy": policy, "binding": binding_name})


def _status(attrs: AdmissionAttributes, refusal: _Refusal) -> ApiError:
    """admission.NewForbidden, then the decision's reason and code, and one cause."""
    message = refusal.message
    refused = forbidden(attrs, message)
    reason = refusal.decision.reason or "Invalid"
    return from_status({"code": _CODES.get(reason, 422), "reason": reason,
                        "message": refused.message,
                        "details": {**refused.details, "causes": [{"message": message}]}})


def _generation_key(policy: Obj) -> tuple[str, int]:
    """What a compiled policy is kept under: its uid (else name) and generation."""
    metadata = policy.get("metadata") or {}
    return str(metadata.get("uid") or _name(policy)), int(metadata.get("generation") or 0)


def _name(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def _spec(obj: Obj) -> Obj:
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}
