"""The LimitRanger admission plugin (plugin/pkg/admission/limitranger), on by default.

On a pod's create it fills the default requests and limits of the namespace's
LimitRanges into containers that lack them (mutating), then refuses a pod outside a
range's min, max or maxLimitRequestRatio with kube's 403 (validating). Pod updates
are left alone, as kube does: containers' resources cannot change there.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from kybernetes.api import limitrange
from kybernetes.api import resources as r
from kybernetes.apiserver.webhooks.attributes import CREATE, AdmissionAttributes

NAME = "LimitRanger"
Obj = dict[str, Any]
LimitRangeLister = Callable[[str], list[Obj]]


def _applies(attrs: AdmissionAttributes) -> bool:
    return (attrs.operation == CREATE and not attrs.subresource and attrs.group == ""
            and attrs.resource == "pods" and bool(attrs.namespace)
            and isinstance(attrs.object, dict))


class LimitRanger:
    """Both halves of the plugin: `mutate` defaults, `validate` enforces."""

    def __init__(self, limit_ranges: LimitRangeLister) -> None:
        self.limit_ranges = limit_ranges

    async def mutate(self, attrs: AdmissionAttributes) -> tuple[Obj | None, list[str]]:
        if not _applies(attrs):
            return None, []
        ranges = self.limit_ranges(attrs.namespace)
        if not ranges:
            return None, []
        pod = copy.deepcopy(attrs.object)
        assert pod is not None
        return (pod if limitrange.default_pod(pod, ranges) else None), []

    async def validate(self, attrs: AdmissionAttributes) -> list[str]:
        if not _applies(attrs):
            return []
        ranges = self.limit_ranges(attrs.namespace)
        problems = limitrange.pod_violations(attrs.object or {}, ranges) if ranges else []
        if problems:
            raise attrs.forbidden(limitrange.aggregate(problems))
        return []


def cached_limit_ranges(cache: Any, kinds: Any) -> LimitRangeLister:
    """The LimitRanges of a namespace as the watch cache holds them, by name."""
    def lister(namespace: str) -> list[Obj]:
        return cache.cached_list(kinds.of(r.LIMIT_RANGES), namespace)
    return lister
