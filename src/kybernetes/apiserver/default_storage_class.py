"""The DefaultStorageClass admission plugin (plugin/pkg/admission/storage/
storageclass/setdefault), on by default: a claim created without a class gets the
default StorageClass (the newest when several are marked default). An explicit ""
means "no class" and is kept."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from kybernetes.api import resources as r
from kybernetes.api import storage
from kybernetes.api.meta import newest
from kybernetes.apiserver.webhooks.attributes import CREATE, AdmissionAttributes

NAME = "DefaultStorageClass"
Obj = dict[str, Any]
ClassLister = Callable[[], list[Obj]]


def default_class(classes: list[Obj]) -> Obj | None:
    """GetDefaultClass: the newest default class (then by name), None when there is none."""
    return newest([c for c in classes if storage.is_default_class(c)])


class DefaultStorageClass:
    def __init__(self, classes: ClassLister) -> None:
        self.classes = classes

    async def mutate(self, attrs: AdmissionAttributes) -> tuple[Obj | None, list[str]]:
        pvc = attrs.object
        if (attrs.operation != CREATE or attrs.subresource or attrs.group != ""
                or attrs.resource != "persistentvolumeclaims" or not isinstance(pvc, dict)):
            return None, []
        spec = pvc.get("spec")
        annotations = pvc.get("metadata", {}).get("annotations") or {}
        if not isinstance(spec, dict) or spec.get("storageClassName") is not None or \
                storage.BETA_CLASS_ANNOTATION in annotations:
            return None, []
        chosen = default_class(self.classes())
        if chosen is None:
            return None, []
        pvc = copy.deepcopy(pvc)
        pvc["spec"]["storageClassName"] = chosen["metadata"]["name"]
        return pvc, []


def cached_classes(cache: Any, kinds: Any) -> ClassLister:
    """Every StorageClass as the watch cache holds it."""
    def lister() -> list[Obj]:
        return cache.cached_list(kinds.of(r.STORAGE_CLASSES))
    return lister
