"""The DefaultIngressClass admission plugin (plugin/pkg/admission/network/
defaultingressclass), on by default: an Ingress created without a class (no
spec.ingressClassName and no `kubernetes.io/ingress.class` annotation) gets the
default IngressClass, the newest of those annotated
`ingressclass.kubernetes.io/is-default-class: "true"`."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from kybernetes.api import ingress
from kybernetes.api import resources as r
from kybernetes.api.meta import newest
from kybernetes.apiserver.webhooks.attributes import CREATE, AdmissionAttributes

NAME = "DefaultIngressClass"
Obj = dict[str, Any]
ClassLister = Callable[[], list[Obj]]


class DefaultIngressClass:
    def __init__(self, classes: ClassLister) -> None:
        self.classes = classes

    async def mutate(self, attrs: AdmissionAttributes) -> tuple[Obj | None, list[str]]:
        obj = attrs.object
        if (attrs.operation != CREATE or attrs.subresource
                or attrs.group != r.INGRESSES.group or attrs.resource != r.INGRESSES.plural
                or not isinstance(obj, dict) or not isinstance(obj.get("spec"), dict)):
            return None, []
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        if obj["spec"].get("ingressClassName") is not None or \
                ingress.CLASS_ANNOTATION in annotations:
            return None, []
        chosen = newest([c for c in self.classes() if ingress.is_default_class(c)])
        if chosen is None:
            return None, []
        obj = copy.deepcopy(obj)
        obj["spec"]["ingressClassName"] = chosen["metadata"]["name"]
        return obj, []


def cached_classes(cache: Any, kinds: Any) -> ClassLister:
    """Every IngressClass as the watch cache holds it."""
    return lambda: cache.cached_list(kinds.of(r.INGRESS_CLASSES))
