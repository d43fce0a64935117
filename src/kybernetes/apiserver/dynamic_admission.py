"""Dynamic admission wired to the watch cache: webhooks and ValidatingAdmissionPolicies.

Kubernetes' admission plugins read their configurations, namespaces and params
from informers; ours read the watch cache, which holds every object in memory
and follows the store within moments, the same eventual consistency. A change
to a configuration is seen by the next request; nothing is copied or indexed.

Webhook Services are resolved as kube-apiserver's endpoint resolver does: a
ready address of the Service's Endpoints on the port named like the Service
port (so a selector-less Service whose Endpoints point anywhere works), falling
back to the ClusterIP when there is no ready endpoint.

The chain's order is Kubernetes': mutating webhooks; then policies, then
validating webhooks.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from typing import Any

from kybernetes.api import resources as r
from kybernetes.apiserver.admission_chain import AdmissionChain
from kybernetes.apiserver.kinds.definition import KindDefinition
from kybernetes.apiserver.kinds.registry import KindRegistry
from kybernetes.apiserver.policy import ParamStore, PolicyAdmission
from kybernetes.apiserver.watch_cache import WatchCache
from kybernetes.apiserver.webhooks import WebhookAdmission

Obj = dict[str, Any]


class CachedParams:
    """The objects of one paramKind, read from the watch cache (a ParamStore)."""

    def __init__(self, cache: WatchCache, kind: KindDefinition) -> None:
        self._cache, self._kind = cache, kind

    @property
    def namespaced(self) -> bool:
        return self._kind.resource.namespaced

    def get(self, namespace: str, name: str) -> Obj | None:
        return self._cache.cached(self._kind, namespace, name)

    def list(self, namespace: str) -> list[Obj]:
        cache = self._cache.for_prefix(self._kind.key_prefix)
        return [e.obj for e in cache.entries(self._kind.prefix(namespace or None))]


class CachedAdmissionState:
    """What admission plugins read, straight from the watch cache."""

    def __init__(self, cache: WatchCache, kinds: KindRegistry) -> None:
        self._cache, self._kinds = cache, kinds

    def _objects(self, resource: r.Resource) -> list[Obj]:
        prefix = self._kinds.of(resource).key_prefix
        return [e.obj for e in self._cache.for_prefix(prefix).objects.values()]

    def _get(self, resource: r.Resource, namespace: str | None, name: str) -> Obj | None:
        return self._cache.cached(self._kinds.of(resource), namespace, name)

    # -- webhooks -------------------------------------------------------------------------

    def webhook_configurations(self, resource: str) -> Iterable[Obj]:
        """ConfigurationSource: "mutatingwebhookconfigurations" or "validating…"."""
        found = r.by_plural("admissionregistration.k8s.io", resource)
        return self._objects(found) if found is not None else []

    def namespace_labels(self, name: str) -> Mapping[str, str] | None:
        namespace = self.namespace(name)
        if namespace is None:
            return None
        return (namespace.get("metadata") or {}).get("labels") or {}

    async def resolve_service(self, namespace: str, name: str, port: int) -> tuple[str, int]:
        """ServiceResolver: a ready endpoint of the Service port, else its ClusterIP."""
        service = self._get(r.SERVICES, namespace, name)
        if service is None:
            raise LookupError(f'service "{name}" not found')
        spec = service.get("spec") or {}
        service_port = next((p for p in spec.get("ports") or [] if p.get("port") == port), None)
        if service_port is None:
            raise LookupError(f'no service port {port} found for service "{name}"')
        endpoint = self._ready_endpoint(namespace, name, service_port.get("name") or "")
        if endpoint is not None:
            return endpoint
        cluster_ip = spec.get("clusterIP")
        if cluster_ip and cluster_ip != "None":
            return str(cluster_ip), port
        raise LookupError(f'no endpoints available for service "{name}"')

    def _ready_endpoint(self, namespace: str, name: str,
                        port_name: str) -> tuple[str, int] | None:
        endpoints = self._get(r.ENDPOINTS, namespace, name) or {}
        choices = [(str(address.get("ip")), int(endpoint_port.get("port")))
                   for subset in endpoints.get("subsets") or []
                   for endpoint_port in subset.get("ports") or []
                   if (endpoint_port.get("name") or "") == port_name
                   for address in subset.get("addresses") or []]
        return random.choice(choices) if choices else None

    # -- policies (PolicySource) ----------------------------------------------------------

    def policies(self) -> Iterable[Obj]:
        return self._objects(r.VALIDATING_ADMISSION_POLICIES)

    def bindings(self) -> Iterable[Obj]:
        return self._objects(r.VALIDATING_ADMISSION_POLICY_BINDINGS)

    def namespace(self, name: str) -> Obj | None:
        return self._get(r.NAMESPACES, None, name)

    def params(self, api_version: str, kind: str) -> ParamStore | None:
        definition = self._kinds.by_kind(api_version, kind)
        return CachedParams(self._cache, definition) if definition is not None else None


def dynamic_admission(cache: WatchCache, kinds: KindRegistry
                      ) -> tuple[AdmissionChain, WebhookAdmission]:
    """The admission chain, and the webhook caller to close (`aclose()`) at shutdown."""
    state = CachedAdmissionState(cache, kinds)
    webhooks = WebhookAdmission(state.webhook_configurations,
                                resolve_service=state.resolve_service,
                                namespace_labels=state.namespace_labels)
    return AdmissionChain(mutating=[webhooks],
                          validating=[PolicyAdmission(state), webhooks]), webhooks
