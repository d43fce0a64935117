"""The ServiceAccount admission plugin (plugin/pkg/admission/serviceaccount): a pod
being created runs as a ServiceAccount that exists, and gets its API credentials.

A pod with no `serviceAccountName` gets `default`; a pod naming an account that
does not exist in its namespace is refused with Kubernetes' words (``pods "p" is
forbidden: error looking up service account ns/sa: serviceaccount "sa" not
found``). The account is looked up in the watch cache and, on a miss, in the store,
as Kubernetes falls back to a live lookup, so an account created just before the
pod is found. Mirror pods (a kubelet's static pods) are left alone.

Unless `automountServiceAccountToken: false` (the pod's setting wins over the
account's), the pod gets the projected volume `kube-api-access-<5 random>` (a
bound token, the cluster CA from the `kube-root-ca.crt` ConfigMap, the namespace)
mounted read-only at /var/run/secrets/kubernetes.io/serviceaccount in every init
container and container that has nothing mounted there yet; the account's
imagePullSecrets are copied to a pod that names none.
"""

from __future__ import annotations

import copy
from typing import Any

from kybernetes.api import resources as r
from kybernetes.api.errors import NotFound
from kybernetes.api.meta import MIRROR_POD_ANNOTATION, random_suffix
from kybernetes.apiserver.registry import Registry
from kybernetes.apiserver.webhooks.attributes import CREATE, AdmissionAttributes

NAME = "ServiceAccount"
DEFAULT_ACCOUNT = "default"
TOKEN_MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
VOLUME_PREFIX = "kube-api-access-"
ROOT_CA_CONFIGMAP = "kube-root-ca.crt"
# Kubernetes' WarnOnlyBoundTokenExpirationSeconds: an hour and 7 s, so a token of
# this length is recognisably one the admission plugin asked for.
TOKEN_EXPIRATION_SECONDS = 3607
PROJECTED_DEFAULT_MODE = 0o644

Obj = dict[str, Any]


def token_volume(name: str) -> Obj:
    """The projected volume that carries a pod's API credentials (kube's TokenVolumeSource)."""
    return {"name": name, "projected": {
        "defaultMode": PROJECTED_DEFAULT_MODE,
        "sources": [
            {"serviceAccountToken": {"expirationSeconds": TOKEN_EXPIRATION_SECONDS,
                                     "path": "token"}},
            {"configMap": {"name": ROOT_CA_CONFIGMAP,
                           "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
                "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
        ]}}


def should_automount(account: Obj, pod: Obj) -> bool:
    """The pod's `automountServiceAccountToken`, else the account's, else true."""
    for setting in ((pod.get("spec") or {}).get("automountServiceAccountToken"),
                    account.get("automountServiceAccountToken")):
        if setting is not None:
            return bool(setting)
    return True


def mount_token(pod: Obj) -> None:
    """Add the token volume and its mounts to `pod` (changed in place), as kube's
    mountServiceAccountToken: a volume already named kube-api-access-* is reused,
    and a container with something at the mount path keeps it."""
    spec = pod.setdefault("spec", {})
    volumes = spec.get("volumes") or []
    existing = next((v["name"] for v in volumes
                     if str(v.get("name", "")).startswith(VOLUME_PREFIX)), None)
    name = existing or VOLUME_PREFIX + random_suffix()
    needed = False
    for field in ("initContainers", "containers"):
        for container in spec.get(field) or []:
            mounts = container.get("volumeMounts") or []
            if any(m.get("mountPath") == TOKEN_MOUNT_PATH for m in mounts):
                continue
            container["volumeMounts"] = [*mounts, {"name": name, "readOnly": True,
                                                   "mountPath": TOKEN_MOUNT_PATH}]
            needed = True
    if needed and existing is None:
        spec["volumes"] = [*volumes, token_volume(name)]


class ServiceAccountAdmission:
    """A mutating admission plugin for pod creates."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    async def mutate(self, attrs: AdmissionAttributes) -> tuple[Obj | None, list[str]]:
        pod = attrs.object
        if (attrs.operation != CREATE or attrs.group or attrs.resource != r.PODS.plural
                or attrs.subresource or pod is None):
            return None, []
        if MIRROR_POD_ANNOTATION in ((pod.get("metadata") or {}).get("annotations") or {}):
            return None, []
        changed = copy.deepcopy(pod)
        spec = changed.setdefault("spec", {})
        name = spec.get("serviceAccountName") or DEFAULT_ACCOUNT
        spec["serviceAccountName"] = name
        account = await self._account(attrs.namespace, name)
        if account is None:
            raise attrs.forbidden(f"error looking up service account {attrs.namespace}/{name}: "
                                  f'serviceaccount "{name}" not found')
        if should_automount(account, changed):
            mount_token(changed)
        if not spec.get("imagePullSecrets") and account.get("imagePullSecrets"):
            spec["imagePullSecrets"] = copy.deepcopy(account["imagePullSecrets"])
        return (changed if changed != pod else None), []

    async def _account(self, namespace: str, name: str) -> Obj | None:
        kind = self.registry.kinds.of(r.SERVICE_ACCOUNTS)
        cached = self.registry.cache.cached(kind, namespace, name)
        if cached is not None:
            return cached
        try:
            return await self.registry.get(kind, namespace, name)
        except NotFound:
            return None
