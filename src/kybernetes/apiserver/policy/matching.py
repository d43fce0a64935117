"""Which requests a policy and a binding apply to, and the params a binding names.

Matching follows policy/matching/matching.go: the namespace and object
selectors first (an error counts only when the rules match), then
excludeResourceRules, then resourceRules (with resourceNames; none at all, as a
binding may leave them, match every resource); the rule and
selector predicates are the webhooks' own. matchPolicy needs nothing beyond
Exact: we serve one version per resource.

Params follow generic/policy_dispatcher.go CollectParams: no paramKind or no
paramRef → one evaluation with `params` null; a name → that object (in the
paramRef's namespace, else the request's); a selector → every object it
matches; none found → no evaluation, or an error under
`parameterNotFoundAction: Deny`.
"""

from __future__ import annotations

from typing import Any, Protocol

from kybernetes.api.errors import BadRequest
from kybernetes.api.labels import from_label_selector
from kybernetes.apiserver.webhooks.attributes import AdmissionAttributes, NamespaceLabels, Obj
from kybernetes.apiserver.webhooks.matching import matches_rule, selectors_match


class ConfigurationError(Exception):
    """A policy or binding that cannot be applied; failurePolicy decides (str() is Kubernetes')."""


class ParamStore(Protocol):
    """The objects of one paramKind (e.g. straight from the watch cache)."""

    @property
    def namespaced(self) -> bool: ...

    def get(self, namespace: str, name: str) -> Obj | None: ...

    def list(self, namespace: str) -> list[Obj]:
        """Every object in `namespace` ("" for a cluster-scoped kind)."""


def matches(match: Obj | None, attrs: AdmissionAttributes,
            namespace_labels: NamespaceLabels) -> bool:
    """Matcher.Matches for a MatchResources; ConfigurationError for a selector problem."""
    if match is None:
        return False
    possible, selector_error = selectors_match(match, attrs, namespace_labels)
    if not possible:
        return False
    if _matches_named_rules(match.get("excludeResourceRules"), attrs):
        return False
    rules = match.get("resourceRules")
    if rules and not _matches_named_rules(rules, attrs):  # no rules: every resource
        return False
    if selector_error is not None:
        raise ConfigurationError(selector_error.message)
    return True


def _matches_named_rules(rules: Any, attrs: AdmissionAttributes) -> bool:
    for rule in rules or []:
        if not isinstance(rule, dict) or not matches_rule(rule, attrs):
            continue
        names = rule.get("resourceNames") or []
        if not names or attrs.name in names:
            return True
    return False


def collect_params(store: ParamStore | None, param_ref: Obj | None,
                   namespace: str) -> list[Obj | None]:
    """The params to evaluate one binding with (`store` None: the policy has no paramKind);
    ConfigurationError when it cannot say."""
    if store is None or param_ref is None:
        return [None]
    ref_namespace = str(param_ref.get("namespace") or "")
    if store.namespaced:
        namespace = ref_namespace or namespace
        if not namespace:
            raise ConfigurationError("cannot use namespaced paramRef in policy binding that "
                                     "matches cluster-scoped resources")
    elif ref_namespace:
        raise ConfigurationError("paramRef.namespace must not be provided for a cluster-scoped "
                                 "`paramKind`")
    else:
        namespace = ""
    params: list[Obj | None]
    if param_ref.get("name"):
        found = store.get(namespace, str(param_ref["name"]))
        params = [found] if found is not None else []
    else:
        try:
            selector = from_label_selector(param_ref.get("selector") or {})
        except BadRequest as e:
            raise ConfigurationError(e.message) from None
        params = [obj for obj in store.list(namespace)
                  if selector.matches((obj.get("metadata") or {}).get("labels") or {})]
    if not params and param_ref.get("parameterNotFoundAction") == "Deny":
        raise ConfigurationError("no params found for policy binding with `Deny` "
                                 "parameterNotFoundAction")
    return params


def kind_string(param_kind: Obj) -> str:
    """schema.GroupVersionKind's String(): `group/version, Kind=Kind`."""
    api_version = str(param_kind.get("apiVersion") or "")
    group, _, version = api_version.rpartition("/")
    return f"{group}/{version}, Kind={param_kind.get('kind', '')}"
