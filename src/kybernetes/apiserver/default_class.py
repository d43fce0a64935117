"""The DefaultStorageClass and DefaultIngressClass admission plugins (plugin/pkg/
admission/storage/storageclass/setdefault, plugin/pkg/admission/network/
defaultingressclass), on by default: an object created without naming a class gets
the default one, the newest of the classes marked default (then the first by name).

A claim names its class by spec.storageClassName (an explicit "" means "no class" and
is kept) or the old beta annotation; an Ingress by spec.ingressClassName or the
`kubernetes.io/ingress.class` annotation."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kybernetes.api import ingress, storage
from kybernetes.api import resources as r
from kybernetes.api.meta import newest
from kybernetes.apiserver.webhooks.attributes import CREATE, AdmissionAttributes

Obj = dict[str, Any]
ClassLister = Callable[[], list[Obj]]


@dataclass(frozen=True)
class ClassField:
    """Where objects of `resource` name a class of `classes`, and which one is default."""

    plugin: str
    resource: r.Resource
    classes: r.Resource
    field: str  # in spec
    annotation: str  # the older way of naming one
    is_default: Callable[[Obj], bool]


STORAGE = ClassField("DefaultStorageClass", r.PERSISTENT_VOLUME_CLAIMS, r.STORAGE_CLASSES,
                     "storageClassName", storage.BETA_CLASS_ANNOTATION,
                     storage.is_default_class)
INGRESS = ClassField("DefaultIngressClass", r.INGRESSES, r.INGRESS_CLASSES,
                     "ingressClassName", ingress.CLASS_ANNOTATION, ingress.is_default_class)


class DefaultClass:
    """The admission plugin for one ClassField, reading the classes from `classes()`."""

    def __init__(self, where: ClassField, classes: ClassLister) -> None:
        self.where = where
        self.classes = classes

    async def mutate(self, attrs: AdmissionAttributes) -> tuple[Obj | None, list[str]]:
        where, obj = self.where, attrs.object
        if (attrs.operation != CREATE or attrs.subresource
                or attrs.group != where.resource.group
                or attrs.resource != where.resource.plural
                or not isinstance(obj, dict) or not isinstance(obj.get("spec"), dict)):
            return None, []
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        if obj["spec"].get(where.field) is not None or where.annotation in annotations:
            return None, []
        chosen = newest([c for c in self.classes() if where.is_default(c)])
        if chosen is None:
            return None, []
        obj = copy.deepcopy(obj)
        obj["spec"][where.field] = chosen["metadata"]["name"]
        return obj, []


def from_cache(where: ClassField, cache: Any, kinds: Any) -> DefaultClass:
    """The plugin reading the classes as the watch cache holds them."""
    return DefaultClass(where, lambda: cache.cached_list(kinds.of(where.classes)))
