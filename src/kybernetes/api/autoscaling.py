"""HorizontalPodAutoscaler defaults shared by the kind (defaulting) and the controller
(behavior when a direction has no rules): Kubernetes' default scaling rules."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]


def default_scale_up() -> Obj:
    """Kube's scale-up rules: at once, by 4 pods or by 100% per 15 s, whichever is more."""
    return {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
            "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15},
                         {"type": "Percent", "value": 100, "periodSeconds": 15}]}


def default_scale_down() -> Obj:
    """Kube's scale-down rules: the highest recommendation of the last 5 minutes."""
    return {"stabilizationWindowSeconds": 300, "selectPolicy": "Max",
            "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}
