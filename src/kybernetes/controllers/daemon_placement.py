"""Where a DaemonSet's pods belong: pure decisions, as Kubernetes' daemon util.

- :func:`daemon_pod_spec` is the pod a DaemonSet runs on one node: its template
  plus the tolerations every daemon pod gets (AddOrUpdateDaemonPodTolerations)
  and a required node affinity `metadata.name In [node]` (matchFields) in place
  of the template's required terms, so the scheduler binds it to that node only.
- :func:`should_run` is NodeShouldRunDaemonPod: (should run, should continue
  running). A pod belongs where the node name (if the template names one),
  `nodeSelector` and required node affinity fit and no NoSchedule/NoExecute taint
  is left untolerated; an existing pod may stay while only NoSchedule taints are
  untolerated.
- :func:`target_node` is GetTargetNodeName: the bound node, or the one the
  affinity names while the pod waits for the scheduler.
"""

from __future__ import annotations

import copy
from typing import Any

from kybernetes.api.node_affinity import fits_node_affinity

Obj = dict[str, Any]
NO_SCHEDULE, NO_EXECUTE = "NoSchedule", "NoExecute"

_EXISTS = "Exists"
# Kubernetes' order: NotReady, Unreachable (NoExecute), then the NoSchedule conditions.
_DEFAULT_TOLERATIONS: tuple[tuple[str, str], ...] = (
    ("node.kubernetes.io/not-ready", NO_EXECUTE),
    ("node.kubernetes.io/unreachable", NO_EXECUTE),
    ("node.kubernetes.io/disk-pressure", NO_SCHEDULE),
    ("node.kubernetes.io/memory-pressure", NO_SCHEDULE),
    ("node.kubernetes.io/pid-pressure", NO_SCHEDULE),
    ("node.kubernetes.io/unschedulable", NO_SCHEDULE),
)
_HOST_NETWORK_TOLERATION = ("node.kubernetes.io/network-unavailable", NO_SCHEDULE)


def _d(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _l(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def with_default_tolerations(spec: Obj) -> list[Obj]:
    """The pod's tolerations plus the daemon defaults (a same key+effect one is replaced)."""
    wanted = list(_DEFAULT_TOLERATIONS)
    if spec.get("hostNetwork"):
        wanted.append(_HOST_NETWORK_TOLERATION)
    out = [t for t in _l(spec.get("tolerations")) if isinstance(t, dict)]
    for key, effect in wanted:
        toleration = {"key": key, "operator": _EXISTS, "effect": effect}
        # AddOrUpdateTolerationInPodSpec: one with the same key, operator, value and
        # effect (whatever its tolerationSeconds) is replaced where it stands.
        same = [i for i, t in enumerate(out) if t.get("key") == key
                and t.get("effect") == effect and t.get("operator") == _EXISTS
                and not t.get("value")]
        if same:
            out[same[0]] = toleration
        else:
            out.append(toleration)
    return out


def daemon_pod_spec(template_spec: Obj, node_name: str) -> Obj:
    """The template's pod spec for `node_name` (a private copy)."""
    spec = copy.deepcopy(template_spec)
    spec["tolerations"] = with_default_tolerations(spec)
    affinity = spec.setdefault("affinity", {})
    node_affinity = affinity.setdefault("nodeAffinity", {})
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node_name]}]}]}
    return spec


def target_node(pod: Obj) -> str:
    """The node a daemon pod is for: spec.nodeName, else its matchFields node name."""
    spec = _d(pod.get("spec"))
    if spec.get("nodeName"):
        return str(spec["nodeName"])
    required = _d(_d(_d(spec.get("affinity")).get("nodeAffinity"))
                  .get("requiredDuringSchedulingIgnoredDuringExecution"))
    for term in _l(required.get("nodeSelectorTerms")):
        for field in _l(_d(term).get("matchFields")):
            values = _l(_d(field).get("values"))
            if field.get("key") == "metadata.name" and field.get("operator") == "In" \
                    and len(values) == 1:
                return str(values[0])
    return ""


def _tolerates(toleration: Obj, taint: Obj) -> bool:
    if toleration.get("effect") and toleration.get("effect") != taint.get("effect"):
        return False
    if toleration.get("key") and toleration.get("key") != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == _EXISTS:
        return True
    return operator == "Equal" and (toleration.get("value") or "") == (taint.get("value") or "")


def untolerated_taints(node: Obj, tolerations: list[Obj], effects: tuple[str, ...]) -> list[Obj]:
    """The node's taints with one of `effects` that no toleration tolerates."""
    return [t for t in _l(_d(node.get("spec")).get("taints"))
            if isinstance(t, dict) and t.get("effect") in effects
            and not any(_tolerates(tol, t) for tol in tolerations)]


def should_run(template_spec: Obj, node: Obj) -> tuple[bool, bool]:
    """(should run, should continue running) for a DaemonSet's template on `node`."""
    name = str(_d(node.get("metadata")).get("name", ""))
    wanted_node = template_spec.get("nodeName")
    if wanted_node and wanted_node != name:
        return False, False
    if not fits_node_affinity(template_spec, node):
        return False, False
    tolerations = with_default_tolerations(template_spec)
    if untolerated_taints(node, tolerations, (NO_SCHEDULE, NO_EXECUTE)):
        return False, not untolerated_taints(node, tolerations, (NO_EXECUTE,))
    return True, True
