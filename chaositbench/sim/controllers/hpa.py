"""The horizontal pod autoscaler: scales a workload's replicas on its pods' resource usage.

Every sync period (15 s, scaled by the cluster's ``time_scale``) each
HorizontalPodAutoscaler is reconciled as kube-controller-manager's
podautoscaler does it, for ``Resource`` metrics (``cpu``, ``memory``) read from
the resource metrics API (``metrics.k8s.io``, the cluster's metrics model):

* the scale target (``scaleTargetRef``: a Deployment, StatefulSet or ReplicaSet)
  gives the current replicas and, through its selector, the pods; a target at 0
  replicas disables autoscaling (``ScalingActive`` False, ``ScalingDisabled``);
* for each metric, the usage of the Running, Ready pods that have metrics:
  ``Utilization`` targets compare the summed usage with the summed requests
  (a pod without a request for the resource is an error, as upstream),
  ``AverageValue`` targets the average usage per pod; the usage ratio within
  the 10 % tolerance keeps the replicas, otherwise the proposal is
  ``ceil(ratio × ready pods)``; the largest proposal of all metrics wins;
* the default behaviour bounds it: scale-up by at most max(100 %, 4 pods) per
  period, scale-down to the highest recommendation of the last 300 s
  (stabilization window), then ``minReplicas`` (default 1) and ``maxReplicas``
  — the ``ScalingLimited`` condition says which bound applied (``TooManyReplicas``,
  ``TooFewReplicas``, ``ScaleUpLimit``) or ``DesiredWithinRange``;
* a new size is written to the target's ``spec.replicas`` with a
  ``SuccessfulRescale`` event; the status carries ``currentReplicas``,
  ``desiredReplicas``, ``currentMetrics``, ``lastScaleTime`` and the conditions
  ``AbleToScale``, ``ScalingActive`` and ``ScalingLimited`` with upstream's
  reasons and messages.

A ``behavior`` other than the default, and Pods, Object, External and
ContainerResource metrics, are not modelled: such a metric makes ``ScalingActive``
False (``InvalidMetricSourceType``).
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass
from typing import Any, Iterator

from .. import clock
from ..kinds import Kind, preferred
from ..quantity import QuantityError, bytes_of, cpu_millis
from ..selectors import selector_from_object
from ..store import Obj, WatchEvent
from .base import Controller, ObjectKey, key_of
from .podstate import is_ready
from .podutil import set_condition

HPAS = preferred("autoscaling", "HorizontalPodAutoscaler")
PODS = preferred("", "Pod")
TARGET_KINDS = {("apps", "Deployment"), ("apps", "StatefulSet"), ("apps", "ReplicaSet")}
SYNC_PERIOD_S = 15.0
TOLERANCE = 0.1
SCALE_DOWN_WINDOW_S = 300.0
SCALE_UP_PODS = 4
COMPONENT = "horizontal-pod-autoscaler"


class MetricError(Exception):
    """A metric that cannot be computed: (condition reason, message)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Proposal:
    """What one metric asks for, with its current value in the status's shape."""

    replicas: int
    status: Obj
    description: str  # "cpu resource utilization (percentage of request)"


def _amount(resource: str, raw: Any) -> float:
    """Millicores of CPU or bytes of memory of a quantity."""
    return float(cpu_millis(str(raw))) if resource == "cpu" else float(bytes_of(str(raw)))


def _render(resource: str, amount: float) -> str:
    return f"{int(amount)}m" if resource == "cpu" else str(int(amount))


class HorizontalPodAutoscalerController(Controller):
    """Reconciles every HorizontalPodAutoscaler each sync period."""

    name = "horizontal-pod-autoscaler"
    watches = (HPAS,)

    def __init__(self, cluster: Any) -> None:
        super().__init__(cluster)
        self._recommendations: dict[ObjectKey, list[tuple[float, int]]] = {}
        self._synced: dict[ObjectKey, float] = {}

    def keys_for(self, event: WatchEvent) -> Iterator[ObjectKey]:
        if event.type == "DELETED":
            self._recommendations.pop(key_of(event.obj), None)
            self._synced.pop(key_of(event.obj), None)
        else:
            yield key_of(event.obj)

    @property
    def period_s(self) -> float:
        return SYNC_PERIOD_S * self.cluster.time_scale

    def reconcile(self, key: ObjectKey) -> None:
        hpa = self.api.try_get(HPAS, *key)
        if hpa is None:
            return
        now = time.monotonic()
        observed = (hpa.get("status") or {}).get("observedGeneration")
        recent = now - self._synced.get(key, -math.inf) < 0.9 * self.period_s
        if recent and observed == hpa["metadata"].get("generation", 1):
            return  # a status write or an unchanged spec: the next sync is already due
        self._synced[key] = now
        self.requeue_after(key, self.period_s)
        spec = hpa.get("spec") or {}
        ref = spec.get("scaleTargetRef") or {}
        group = str(ref.get("apiVersion", "")).rpartition("/")[0]
        target = self._target(group, ref, key[0])
        if target is None:
            kind = ref.get("kind", "")
            message = (f"the HPA controller was unable to get the target's current scale: "
                       f'{kind.lower()}s.{group or "core"} "{ref.get("name", "")}" not found')
            self._write(hpa, {"AbleToScale": ("False", "FailedGetScale", message)}, None, None, [])
            self.cluster.events.record(hpa, "Warning", "FailedGetScale", message.split(": ", 1)[1], COMPONENT)
            return
        kind, workload = target
        current = int((workload.get("spec") or {}).get("replicas", 1))
        if current == 0 and int(spec.get("minReplicas", 1)) != 0:
            self._write(hpa, {"AbleToScale": ("True", "SucceededGetScale",
                                              "the HPA controller was able to get the target's current scale"),
                              "ScalingActive": ("False", "ScalingDisabled",
                                                "scaling is disabled since the replica count of the target is zero")},
                        current, current, [])
            return
        try:
            proposals = self._proposals(spec.get("metrics") or [], workload, key[0], current)
        except MetricError as exc:
            self._write(hpa, {"AbleToScale": ("True", "SucceededGetScale",
                                              "the HPA controller was able to get the target's current scale"),
                              "ScalingActive": ("False", exc.reason, str(exc))}, current, current, [])
            self.cluster.events.record(hpa, "Warning", exc.reason, str(exc), COMPONENT)
            return
        best = max(proposals, key=lambda p: p.replicas)
        desired, stabilized = self._stabilize(key, best.replicas, current)
        desired, limited = self._bound(desired, current, int(spec.get("minReplicas", 1)), int(spec["maxReplicas"]))
        conditions = {"ScalingActive": ("True", "ValidMetricFound",
                                        f"the HPA was able to successfully calculate a replica count from "
                                        f"{best.description}"),
                      "ScalingLimited": limited}
        rescaled = desired != current
        if rescaled:
            self.api.patch_object(kind, key[0], workload["metadata"]["name"],
                                  lambda obj: obj["spec"].__setitem__("replicas", desired))
            reason = f"{best.description} {'above' if desired > current else 'below'} target"
            self.cluster.events.record(hpa, "Normal", "SuccessfulRescale", f"New size: {desired}; reason: {reason}",
                                       COMPONENT)
            conditions["AbleToScale"] = ("True", "SucceededRescale",
                                         f"the HPA controller was able to update the target scale to {desired}")
        elif stabilized:
            conditions["AbleToScale"] = ("True", "ScaleDownStabilized", "recent recommendations were higher than "
                                         "current one, applying the highest recent recommendation")
        else:
            conditions["AbleToScale"] = ("True", "ReadyForNewScale", "recommended size matches current size")
        self._write(hpa, conditions, current, desired, [p.status for p in proposals], rescaled=rescaled)

    # -- the algorithm --------------------------------------------------------------------------
    def _target(self, group: str, ref: Obj, namespace: str) -> tuple[Kind, Obj] | None:
        if (group, ref.get("kind")) not in TARGET_KINDS:
            return None
        kind = preferred(group, ref["kind"])
        workload = self.api.try_get(kind, namespace, str(ref.get("name", "")))
        return (kind, workload) if workload is not None else None

    def _pods(self, workload: Obj, namespace: str) -> list[Obj]:
        selector = selector_from_object((workload.get("spec") or {}).get("selector"), null_matches_nothing=True)
        return [p for p in self.api.list(PODS, namespace)[0]
                if selector.matches(p["metadata"].get("labels")) and not p["metadata"].get("deletionTimestamp")
                and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]

    def _proposals(self, metrics: list[Obj], workload: Obj, namespace: str, current: int) -> list[Proposal]:
        if not metrics:
            metrics = [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                                                   "averageUtilization": 80}}}]
        pods = [p for p in self._pods(workload, namespace) if is_ready(p)]
        return [self._resource_proposal(metric, pods, current) for metric in metrics]

    def _resource_proposal(self, metric: Obj, pods: list[Obj], current: int) -> Proposal:
        if metric.get("type") != "Resource":
            raise MetricError("InvalidMetricSourceType", f"the HPA was unable to compute the replica count: "
                                                         f"unsupported metric source type {metric.get('type')!r}")
        source = metric.get("resource") or {}
        resource, target = str(source.get("name", "")), source.get("target") or {}
        provider = self.cluster.metrics
        used, requested, counted = 0.0, 0.0, 0
        for pod in pods:
            item = provider.pod_metrics(pod["metadata"]["namespace"], pod["metadata"]["name"]) if provider else None
            if item is None:
                continue
            try:
                used += sum(_amount(resource, c["usage"][resource]) for c in item["containers"])
                requests = [((c.get("resources") or {}).get("requests") or {}).get(resource)
                            for c in pod["spec"]["containers"]]
                if target.get("type") == "Utilization" and any(r is None for r in requests):
                    raise MetricError("FailedGetResourceMetric",
                                      f"the HPA was unable to compute the replica count: failed to get {resource} "
                                      f"utilization: missing request for {resource} in container "
                                      f"{pod['spec']['containers'][requests.index(None)]['name']} of Pod "
                                      f"{pod['metadata']['name']}")
                requested += sum(_amount(resource, r) for r in requests if r is not None)
            except (KeyError, QuantityError):
                continue
            counted += 1
        if counted == 0:
            raise MetricError("FailedGetResourceMetric", f"the HPA was unable to compute the replica count: failed to "
                                                         f"get {resource} utilization: unable to get metrics for "
                                                         f"resource {resource}: no metrics returned from resource "
                                                         f"metrics API")
        average = used / counted
        if target.get("type") == "Utilization":
            utilization = int(round(100 * used / requested)) if requested else 0
            ratio = utilization / float(target.get("averageUtilization") or 80)
            status = {"type": "Resource", "resource": {"name": resource, "current": {
                "averageUtilization": utilization, "averageValue": _render(resource, average)}}}
            description = f"{resource} resource utilization (percentage of request)"
        else:
            ratio = average / _amount(resource, target.get("averageValue", 0) or 1)
            status = {"type": "Resource", "resource": {"name": resource, "current": {
                "averageValue": _render(resource, average)}}}
            description = f"{resource} resource"
        replicas = current if abs(ratio - 1.0) <= TOLERANCE else math.ceil(ratio * counted)
        return Proposal(replicas, status, description)

    def _stabilize(self, key: ObjectKey, proposed: int, current: int) -> tuple[int, bool]:
        """Scale-down stabilization: the highest recommendation within the window (and whether it held)."""
        now = time.monotonic()
        window = SCALE_DOWN_WINDOW_S * self.cluster.time_scale
        kept = [(at, r) for at, r in self._recommendations.get(key, []) if now - at <= window]
        kept.append((now, proposed))
        self._recommendations[key] = kept
        highest = max(r for _, r in kept)
        if proposed < current:
            stabilized = min(current, highest)
            return stabilized, stabilized != proposed
        return proposed, False

    @staticmethod
    def _bound(desired: int, current: int, minimum: int, maximum: int) -> tuple[int, tuple[str, str, str]]:
        """The default scale-up rate limit, then min/max, with the ScalingLimited condition."""
        limit = max(2 * current, current + SCALE_UP_PODS)
        if desired > maximum:
            return maximum, ("True", "TooManyReplicas", "the desired replica count is more than the maximum "
                                                        "replica count")
        if desired < minimum:
            return minimum, ("True", "TooFewReplicas", "the desired replica count is less than the minimum "
                                                       "replica count")
        if desired > limit:
            return limit, ("True", "ScaleUpLimit", "the desired replica count is increasing faster than the "
                                                   "maximum scale rate")
        return desired, ("False", "DesiredWithinRange", "the desired count is within the acceptable range")

    # -- status ---------------------------------------------------------------------------------
    def _write(self, hpa: Obj, conditions: dict[str, tuple[str, str, str]], current: int | None,
               desired: int | None, metrics: list[Obj], *, rescaled: bool = False) -> None:
        def mutate(obj: Obj) -> None:
            status = obj.setdefault("status", {})
            status["observedGeneration"] = obj["metadata"].get("generation", 1)
            status["currentReplicas"] = current or 0  # both required in autoscaling/v2: 0 when unknown
            status["desiredReplicas"] = desired or 0
            if metrics:
                status["currentMetrics"] = metrics
            else:
                status.pop("currentMetrics", None)
            if rescaled:
                status["lastScaleTime"] = clock.rfc3339()
            existing = status.setdefault("conditions", [])
            for type_ in ("AbleToScale", "ScalingActive", "ScalingLimited"):
                if type_ in conditions:
                    set_condition(existing, type_, *conditions[type_])
            order = {"AbleToScale": 0, "ScalingActive": 1, "ScalingLimited": 2}
            existing.sort(key=lambda c: order.get(c.get("type", ""), 3))
        probe = copy.deepcopy(hpa)
        mutate(probe)
        if probe["status"] != hpa.get("status") or rescaled:
            self.api.patch_object(HPAS, hpa["metadata"]["namespace"], hpa["metadata"]["name"], mutate,
                                  subresource="status")
