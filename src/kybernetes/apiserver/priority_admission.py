"""The Priority admission plugin (plugin/pkg/admission/priority), on by default.

A pod created with `priorityClassName` gets that class's `value` as
`spec.priority` and its `preemptionPolicy`; one created without gets the
cluster's globalDefault class (or priority 0 when there is none). A pod naming a
missing class, or carrying a priority or policy other than its class's, is
refused with kube's 403. An update keeps the priority set at create. Among
PriorityClasses only one may be the globalDefault.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kybernetes.api import priority as priority_api
from kybernetes.api import resources as r
from kybernetes.apiserver.webhooks.attributes import CREATE, UPDATE, AdmissionAttributes

NAME = "Priority"
Obj = dict[str, Any]
ClassLister = Callable[[], list[Obj]]


def _name(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def _default_class(classes: list[Obj]) -> Obj | None:
    """getDefaultPriorityClass: the globalDefault class with the lowest value."""
    defaults = [c for c in classes if c.get("globalDefault")]
    return min(defaults, key=lambda c: (c.get("value", 0), _name(c))) if defaults else None


class PriorityAdmission:
    def __init__(self, classes: ClassLister) -> None:
        self.classes = classes

    async def mutate(self, attrs: AdmissionAttributes) -> tuple[Obj | None, list[str]]:
        pod = attrs.object
        if attrs.subresource or attrs.group != "" or attrs.resource != "pods" or \
                not isinstance(pod, dict) or not isinstance(pod.get("spec"), dict):
            return None, []
        if attrs.operation == UPDATE:
            return self._keep_priority(pod, attrs.old_object or {}), []
        if attrs.operation != CREATE:
            return None, []
        spec = pod["spec"]
        classes = self.classes()
        class_name = spec.get("priorityClassName")
        if not class_name:
            chosen = _default_class(classes)
            class_name = _name(chosen) if chosen else ""
        else:
            chosen = next((c for c in classes if _name(c) == class_name), None)
            if chosen is None:
                raise attrs.forbidden(f"no PriorityClass with name {class_name} was found")
        priority = int(chosen.get("value", 0)) if chosen else 0
        given = spec.get("priority")
        if given is not None and given != priority:
            raise attrs.forbidden(f"the integer value of priority ({given}) must not be "
                                   "provided in pod spec; priority admission controller "
                                   f"computed {priority} from the given PriorityClass name")
        # no class at all: priority 0, PreemptLowerPriority (getDefaultPriority)
        policy = chosen.get("preemptionPolicy") if chosen else priority_api.PREEMPT_LOWER
        given_policy = spec.get("preemptionPolicy")
        if policy is not None and given_policy is not None and given_policy != policy:
            raise attrs.forbidden(f"the string value of PreemptionPolicy ({given_policy}) "
                                   "must not be provided in pod spec; priority admission "
                                   f"controller computed {policy} from the given "
                                   "PriorityClass name")
        # The pod being created is the registry's own: set in place, as kube's plugin
        # sets the typed object (no copy, and nothing for the chain to default again).
        if class_name:
            spec["priorityClassName"] = class_name
        spec["priority"] = priority
        if policy is not None:
            spec["preemptionPolicy"] = policy
        return pod, []

    @staticmethod
    def _keep_priority(pod: Obj, old: Obj) -> Obj | None:
        """An update that leaves out the priority set at create keeps it."""
        old_spec = old.get("spec") or {}
        missing = [k for k in ("priority", "preemptionPolicy")
                   if pod["spec"].get(k) is None and old_spec.get(k) is not None]
        if not missing:
            return None
        spec = {**pod["spec"], **{key: old_spec[key] for key in missing}}
        return {**pod, "spec": spec}

    async def validate(self, attrs: AdmissionAttributes) -> list[str]:
        """Only one globalDefault PriorityClass."""
        pc = attrs.object
        if attrs.operation not in (CREATE, UPDATE) or attrs.resource != "priorityclasses" or \
                attrs.group != r.PRIORITY_CLASSES.group or not isinstance(pc, dict) or \
                not pc.get("globalDefault"):
            return []
        other = _default_class([c for c in self.classes() if _name(c) != _name(pc)])
        if other is not None:
            raise attrs.forbidden(f"PriorityClass {_name(other)} is already marked as "
                                   "default. Only one default can exist")
        return []


def cached_priority_classes(cache: Any, kinds: Any) -> ClassLister:
    """Every PriorityClass as the watch cache holds it."""
    def lister() -> list[Obj]:
        return cache.cached_list(kinds.of(r.PRIORITY_CLASSES))
    return lister
