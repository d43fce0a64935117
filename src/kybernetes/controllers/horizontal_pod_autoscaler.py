"""The horizontalpodautoscaling controller: each HorizontalPodAutoscaler's target scale.

After kube's pkg/controller/podautoscaler: every sync period (15 s, kube's
--horizontal-pod-autoscaler-sync-period) each HPA reads its target's scale
subresource (replicas and the selector), lists the PodMetrics of the selected pods
(metrics.k8s.io through the API server), asks the replica calculator for each
Resource metric, takes the largest proposal, applies the behavior (stabilization
windows, rate policies, min/max) and writes the scale when it changes, with kube's
events, status and conditions (AbleToScale, ScalingActive, ScalingLimited).

Only Resource metrics are acted on: Pods, Object, ContainerResource and External
metrics need the custom/external metrics APIs, which are not served, so they count
as invalid metrics (as in a kube cluster without those APIs).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from kybernetes.api import errors
from kybernetes.api.disruption_budget import set_condition
from kybernetes.api.labels import parse_selector
from kybernetes.api.meta import now_rfc3339, object_key
from kybernetes.api.quantity import format_quantity
from kybernetes.api.resources import (
    HORIZONTAL_POD_AUTOSCALERS,
    POD_METRICS,
    PODS,
    Resource,
    by_kind,
)
from kybernetes.client import ApiClient, InformerFactory
from kybernetes.client.discovery import served_resources
from kybernetes.controllers import hpa_behavior as hb
from kybernetes.controllers import replica_calculator as rc
from kybernetes.controllers.base import Controller, Obj, meta

log = logging.getLogger("kybernetes.controllers.horizontal_pod_autoscaler")

SYNC_PERIOD = 15.0
_METRIC_REASONS = {"Resource": "FailedGetResourceMetric", "Pods": "FailedGetPodsMetric",
                   "Object": "FailedGetObjectMetric", "External": "FailedGetExternalMetric",
                   "ContainerResource": "FailedGetContainerResourceMetric"}


@dataclass(frozen=True)
class Proposal:
    replicas: int
    name: str  # "cpu resource utilization (percentage of request)"
    status: Obj  # its entry in status.currentMetrics


class MetricFailure(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _window_seconds(text: Any) -> float:
    value = str(text or "0s")
    return float(value[:-1]) if value.endswith("s") else 0.0


class HorizontalPodAutoscalerController(Controller):
    """Keeps each HPA's target scaled to its metrics."""

    name = "horizontalpodautoscaling"
    component = "horizontal-pod-autoscaler"
    default_workers = 2

    def __init__(self, client: ApiClient, informers: InformerFactory, *,
                 sync_period: float = SYNC_PERIOD) -> None:
        super().__init__(client, informers)
        self.sync_period = sync_period
        self.hpas = informers.get(HORIZONTAL_POD_AUTOSCALERS)
        self.pods = informers.get(PODS)
        self.history: dict[str, hb.History] = {}
        self._served: tuple[float, list[Resource]] = (0.0, [])
        self.hpas.add_handler(on_add=self.enqueue, on_update=self._updated,
                              on_delete=self._forget)

    def _updated(self, old: Obj, new: Obj) -> None:
        """A changed spec is acted on at once; our own status writes wait for the
        next period (kube's queue limits each HPA to one sync per period)."""
        if old.get("spec") != new.get("spec"):
            self.enqueue(new)

    def _forget(self, hpa: Obj) -> None:
        self.history.pop(object_key(hpa), None)

    async def sync(self, key: str) -> None:
        hpa = self.hpas.get(key)
        if hpa is None:
            self.history.pop(key, None)
            return
        try:
            await self._reconcile(key, hpa)
        except errors.Conflict:
            raise
        except errors.ApiError as e:
            log.info("failed to reconcile HPA", extra={"hpa": key, "error": str(e)})
        self.queue.add_after(key, self.sync_period)

    # -- the target ------------------------------------------------------------------

    async def _scale_resource(self, ref: Obj) -> Resource | None:
        api_version, kind = ref.get("apiVersion", ""), ref.get("kind", "")
        known = by_kind(api_version, kind)
        if known is not None and "scale" in known.subresources:
            return known
        fetched, resources = self._served
        if time.monotonic() - fetched > 30:
            resources = await served_resources(self.client)
            self._served = (time.monotonic(), resources)
        group = api_version.rpartition("/")[0]
        return next((r for r in resources if r.group == group and r.kind == kind
                     and "scale" in r.subresources), None)

    # -- one pass --------------------------------------------------------------------

    async def _reconcile(self, key: str, hpa: Obj) -> None:
        spec = hpa.get("spec") or {}
        ref = spec.get("scaleTargetRef") or {}
        namespace = meta(hpa).get("namespace", "")
        status = dict(hpa.get("status") or {})
        conditions: list[Obj] = list(status.get("conditions") or [])
        now_text = now_rfc3339()

        def condition(type_: str, state: str, reason: str, message: str) -> None:
            nonlocal conditions
            conditions = set_condition(conditions, {"type": type_, "status": state,
                                                    "reason": reason, "message": message},
                                       now_text)
        resource = await self._scale_resource(ref)
        try:
            if resource is None:
                raise errors.NotFound(f"no matches for kind \"{ref.get('kind')}\" in group "
                                      f"\"{str(ref.get('apiVersion', '')).rpartition('/')[0]}\"")
            scale = await self.client.get(resource, ref.get("name", ""), namespace=namespace,
                                          subresource="scale")
        except errors.ApiError as e:
            message = f"the HPA controller was unable to get the target's current scale: {e}"
            self.event(hpa, "Warning", "FailedGetScale", str(e))
            condition("AbleToScale", "False", "FailedGetScale", message)
            await self._write_status(hpa, status, conditions)
            return
        condition("AbleToScale", "True", "SucceededGetScale",
                  "the HPA controller was able to get the target's current scale")
        current = int((scale.get("spec") or {}).get("replicas") or 0)
        status["currentReplicas"] = int((scale.get("status") or {}).get("replicas") or 0)
        low, high = int(spec.get("minReplicas") or 1), int(spec.get("maxReplicas") or 0)
        reason, desired = "", current
        now = time.time()
        history = self.history.setdefault(key, hb.History())
        if current == 0 and low != 0:
            desired = 0
            condition("ScalingActive", "False", "ScalingDisabled",
                      "scaling is disabled since the replica count of the target is zero")
        elif current > high:
            reason, desired = "Current number of replicas above Spec.MaxReplicas", high
        elif current < low:
            reason, desired = "Current number of replicas below Spec.MinReplicas", low
        else:
            try:
                proposal, metrics_status = await self._proposal(
                    hpa, current, (scale.get("status") or {}).get("selector") or "", namespace)
            except MetricFailure as e:
                condition("ScalingActive", "False", e.reason,
                          f"the HPA was unable to compute the replica count: {e}")
                await self._write_status(hpa, status, conditions)
                return
            status["currentMetrics"] = metrics_status
            condition("ScalingActive", "True", "ValidMetricFound",
                      f"the HPA was able to successfully calculate a replica count from "
                      f"{proposal.name}")
            outcome = hb.normalize(history, current, proposal.replicas, low, high,
                                   spec.get("behavior"), now)
            desired = outcome.replicas
            if outcome.stabilized == "ScaleDownStabilized":
                condition("AbleToScale", "True", "ScaleDownStabilized",
                          "recent recommendations were higher than current one, applying "
                          "the highest recent recommendation")
            elif outcome.stabilized == "ScaleUpStabilized":
                condition("AbleToScale", "True", "ScaleUpStabilized",
                          "recent recommendations were lower than current one, applying "
                          "the lowest recent recommendation")
            else:
                condition("AbleToScale", "True", "ReadyForNewScale",
                          "recommended size matches current size")
            if outcome.limited is not None:
                condition("ScalingLimited", "True", *outcome.limited)
            else:
                condition("ScalingLimited", "False", "DesiredWithinRange",
                          "the desired count is within the acceptable range")
            if desired > current:
                reason = f"{proposal.name} above target"
            elif desired < current:
                reason = "All metrics below target"
        if desired != current:
            try:
                scale["spec"] = {**(scale.get("spec") or {}), "replicas": desired}
                await self.client.update_subresource(resource, scale, "scale")
            except errors.ApiError as e:
                self.event(hpa, "Warning", "FailedRescale",
                           f"New size: {desired}; reason: {reason}; error: {e}")
                condition("AbleToScale", "False", "FailedUpdateScale",
                          f"the HPA controller was unable to update the target scale: {e}")
                await self._write_status(hpa, status, conditions)
                return
            history.events.append(hb.ScaleEvent(desired - current, now))
            condition("AbleToScale", "True", "SucceededRescale",
                      f"the HPA controller was able to update the target scale to {desired}")
            self.event(hpa, "Normal", "SuccessfulRescale",
                       f"New size: {desired}; reason: {reason}")
            log.info("rescaled", extra={"hpa": key, "from": current, "to": desired})
            status["lastScaleTime"] = now_text
        status["desiredReplicas"] = desired
        await self._write_status(hpa, status, conditions)

    async def _proposal(self, hpa: Obj, current: int, selector: str,
                        namespace: str) -> tuple[Proposal, list[Obj]]:
        """computeReplicasForMetrics: the largest proposal over the valid metrics."""
        metrics = (hpa.get("spec") or {}).get("metrics") or []
        if not selector:
            raise MetricFailure("InvalidSelector",
                                "selector is required")
        pods = [p for p in self.pods.list(namespace) if _matches(selector, p)]
        proposals, statuses, failures = [], [], []
        usage_cache: dict[str, dict[str, rc.PodMetric]] = {}
        for metric in metrics:
            try:
                proposal = await self._one(metric, current, pods, selector, namespace,
                                           usage_cache)
            except MetricFailure as e:
                self.event(hpa, "Warning", e.reason, str(e))
                failures.append(e)
                continue
            proposals.append(proposal)
            statuses.append(proposal.status)
        if failures and (not proposals or len(failures) == len(metrics)):
            first = failures[0]
            self.event(hpa, "Warning", "FailedComputeMetricsReplicas",
                       f"invalid metrics ({len(failures)} invalid out of {len(metrics)}), "
                       f"first error is: {first}")
            raise first
        best = max(proposals, key=lambda p: p.replicas)
        return best, statuses

    async def _one(self, metric: Obj, current: int, pods: list[Obj], selector: str,
                   namespace: str, cache: dict[str, dict[str, rc.PodMetric]]) -> Proposal:
        kind = metric.get("type", "")
        if kind != "Resource":
            raise MetricFailure(_METRIC_REASONS.get(kind, "FailedGetResourceMetric"),
                                f"the {kind} metric source is not supported (no custom or "
                                f"external metrics API is served)")
        source = metric.get("resource") or {}
        name, target = source.get("name", ""), source.get("target") or {}
        if name not in cache:
            cache[name] = await self._pod_metrics(name, selector, namespace)
        utilization = target.get("averageUtilization") is not None
        goal = int(target["averageUtilization"]) if utilization else \
            rc.amount(name, target.get("averageValue") or 0)
        what = "utilization" if utilization else "usage"
        try:
            if goal <= 0:
                raise rc.MetricError("the target must be greater than zero")
            rec = rc.resource_replicas(current, goal, pods, cache[name], name,
                                       utilization=utilization, now=time.time())
        except rc.MetricError as e:
            raise MetricFailure("FailedGetResourceMetric",
                                f"failed to get {name} {what}: {e}") from e
        raw = format_quantity(rec.raw) if name != "cpu" else f"{rec.raw}m"
        current_status: Obj = {"averageValue": raw}
        if rec.utilization is not None:
            current_status["averageUtilization"] = rec.utilization
        label = f"{name} resource utilization (percentage of request)" if utilization \
            else f"{name} resource"
        return Proposal(rec.replicas, label, {"type": "Resource", "resource": {
            "name": name, "current": current_status}})

    async def _pod_metrics(self, resource: str, selector: str,
                           namespace: str) -> dict[str, rc.PodMetric]:
        try:
            listed = await self.client.list(POD_METRICS, namespace=namespace,
                                            label_selector=selector)
        except errors.ApiError as e:
            raise MetricFailure("FailedGetResourceMetric",
                                f"failed to get {resource} utilization: unable to get metrics "
                                f"for resource {resource}: {e}") from e
        out: dict[str, rc.PodMetric] = {}
        for item in listed.get("items") or []:
            containers = item.get("containers") or []
            if not containers:
                continue
            total = sum(rc.amount(resource, (c.get("usage") or {}).get(resource) or 0)
                        for c in containers)
            stamp = rc.seconds(item.get("timestamp")) or time.time()
            out[meta(item).get("name", "")] = rc.PodMetric(
                total, stamp, _window_seconds(item.get("window")))
        return out

    async def _write_status(self, hpa: Obj, status: Obj, conditions: list[Obj]) -> None:
        order = {"AbleToScale": 0, "ScalingActive": 1, "ScalingLimited": 2}
        status["conditions"] = sorted(conditions, key=lambda c: order.get(c.get("type"), 3))
        if status == (hpa.get("status") or {}):
            return
        await self.client.update_status(HORIZONTAL_POD_AUTOSCALERS,
                                        {**hpa, "status": status})


def _matches(selector: str, pod: Obj) -> bool:
    return parse_selector(selector).matches(meta(pod).get("labels") or {})
