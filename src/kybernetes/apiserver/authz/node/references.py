"""The objects a pod references, as the Node authorizer's graph links them to the pod
(podutil.VisitPodSecretNames / VisitPodConfigmapNames, and the graph populator's
ServiceAccount and PersistentVolumeClaim edges).

Malformed parts of a pod reference nothing: the pod was validated when written,
and anything odd only ever narrows what a node may read.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

SECRET, CONFIG_MAP, PVC, PV, SERVICE_ACCOUNT, POD = (
    "secret", "configmap", "persistentvolumeclaim", "persistentvolume", "serviceaccount",
    "pod")
CONTAINER_FIELDS = ("initContainers", "containers", "ephemeralContainers")
# Volume sources that name their Secret in `secretRef` (cephfs, cinder, flexVolume,
# iscsi, rbd, scaleIO, storageos) or `nodePublishSecretRef` (csi) or `secretName`
# (azureFile; `secret` is its own case below).
_SECRET_REF_FIELDS = ("secretRef", "nodePublishSecretRef")


class Ref(NamedTuple):
    """One object: its type (above), namespace ("" for cluster-scoped) and name."""

    type: str
    namespace: str
    name: str


def _dicts(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, list):
        yield from (v for v in value if isinstance(v, dict))


def _name(value: Any, key: str = "name") -> str:
    name = value.get(key) if isinstance(value, dict) else None
    return name if isinstance(name, str) else ""


def _container_refs(container: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for source in _dicts(container.get("envFrom")):
        yield SECRET, _name(source.get("secretRef"))
        yield CONFIG_MAP, _name(source.get("configMapRef"))
    for var in _dicts(container.get("env")):
        value_from = var.get("valueFrom")
        if isinstance(value_from, dict):
            yield SECRET, _name(value_from.get("secretKeyRef"))
            yield CONFIG_MAP, _name(value_from.get("configMapKeyRef"))


def _volume_refs(pod_name: str, volume: dict[str, Any]) -> Iterator[tuple[str, str]]:
    yield SECRET, _name(volume.get("secret"), "secretName")
    yield CONFIG_MAP, _name(volume.get("configMap"))
    projected = volume.get("projected")
    for source in _dicts(projected.get("sources") if isinstance(projected, dict) else None):
        yield SECRET, _name(source.get("secret"))
        yield CONFIG_MAP, _name(source.get("configMap"))
    yield PVC, _name(volume.get("persistentVolumeClaim"), "claimName")
    if isinstance(volume.get("ephemeral"), dict) and _name(volume):
        yield PVC, f"{pod_name}-{_name(volume)}"  # the claim the ephemeral volume makes
    yield SECRET, _name(volume.get("azureFile"), "secretName")
    for source in volume.values():
        if isinstance(source, dict):
            for field in _SECRET_REF_FIELDS:
                yield SECRET, _name(source.get(field))


def pod_references(pod: dict[str, Any]) -> frozenset[Ref]:
    """The pod itself and the Secrets, ConfigMaps, PVCs and ServiceAccount it uses."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
    found: list[tuple[str, str]] = [(POD, name),
                                    (SERVICE_ACCOUNT, _name(spec, "serviceAccountName"))]
    found.extend((SECRET, _name(s)) for s in _dicts(spec.get("imagePullSecrets")))
    for field in CONTAINER_FIELDS:
        for container in _dicts(spec.get(field)):
            found.extend(_container_refs(container))
    for volume in _dicts(spec.get("volumes")):
        found.extend(_volume_refs(name, volume))
    return frozenset(Ref(kind, namespace, ref) for kind, ref in found if ref)
