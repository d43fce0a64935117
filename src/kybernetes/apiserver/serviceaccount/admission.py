"""The ServiceAccount admission plugin (plugin/pkg/admission/serviceaccount): a pod
being created runs as a ServiceAccount that exists.

A pod with no `serviceAccountName` gets `default`; a pod naming an account that
does not exist in its namespace is refused with Kubernetes' words (``pods "p" is
forbidden: error looking up service account ns/sa: serviceaccount "sa" not
found``). The account is looked up in the watch cache and, on a miss, in the store,
as Kubernetes falls back to a live lookup, so an account created just before the
pod is found. Mirror pods (a kubelet's static pods) are left alone. Token volume
projection is not done here yet.
"""

from __future__ import annotations

import copy
from typing import Any

from kybernetes.api import resources as r
from kybernetes.api.errors import Forbidden, NotFound
from kybernetes.apiserver.registry import Registry
from kybernetes.apiserver.webhooks.attributes import CREATE, AdmissionAttributes

NAME = "ServiceAccount"
DEFAULT_ACCOUNT = "default"
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"

Obj = dict[str, Any]


class ServiceAccountAdmission:
    """A mutating admission plugin for pod creates."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    async def mutate(self, attrs: AdmissionAttributes) -> tuple[Obj | None, list[str]]:
        pod = attrs.object
        if (attrs.operation != CREATE or attrs.group or attrs.resource != r.PODS.plural
                or attrs.subresource or pod is None):
            return None, []
        if MIRROR_ANNOTATION in ((pod.get("metadata") or {}).get("annotations") or {}):
            return None, []
        changed = None
        account = (pod.get("spec") or {}).get("serviceAccountName")
        if not account:
            changed = copy.deepcopy(pod)
            changed.setdefault("spec", {})["serviceAccountName"] = account = DEFAULT_ACCOUNT
        if not await self._exists(attrs.namespace, account):
            raise Forbidden(f'pods "{attrs.name}" is forbidden: error looking up service '
                            f'account {attrs.namespace}/{account}: serviceaccount '
                            f'"{account}" not found',
                            details={"name": attrs.name, "kind": "pods"})
        return changed, []

    async def _exists(self, namespace: str, name: str) -> bool:
        kind = self.registry.kinds.of(r.SERVICE_ACCOUNTS)
        if self.registry.cache.cached(kind, namespace, name) is not None:
            return True
        try:
            await self.registry.get(kind, namespace, name)
        except NotFound:
            return False
        return True
