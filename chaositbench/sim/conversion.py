"""Conversion between the versions of kinds that share storage.

``events.k8s.io/v1`` Events are stored as core ``v1`` Events and
``autoscaling/v1`` HorizontalPodAutoscalers as ``autoscaling/v2`` ones, as
kube-apiserver does; clients see each in the version they asked for.
"""

from __future__ import annotations

import copy
from typing import Any, Callable

from .kinds import Kind, all_kinds
from .store import Obj

Converter = Callable[[Obj], Obj]


def storage_kind(kind: Kind) -> Kind:
    """The kind whose shape objects of ``kind`` are stored in (``kind`` itself when it stores itself)."""
    if not kind.shares_storage_with:
        return kind
    return next(k for k in all_kinds() if k.storage_key == kind.storage_key and not k.shares_storage_with)


# -- events.k8s.io/v1 <-> v1 ---------------------------------------------------------------
_EVENT_RENAMES = (("involvedObject", "regarding"), ("message", "note"), ("source", "deprecatedSource"),
                  ("firstTimestamp", "deprecatedFirstTimestamp"), ("lastTimestamp", "deprecatedLastTimestamp"),
                  ("count", "deprecatedCount"), ("reportingComponent", "reportingController"))
_EVENT_SAME = ("metadata", "reason", "type", "eventTime", "series", "action", "related", "reportingInstance")


def _event_to_v1(obj: Obj) -> Obj:
    out: Obj = {"apiVersion": "events.k8s.io/v1", "kind": "Event"}
    for key in _EVENT_SAME:
        if key in obj:
            out[key] = copy.deepcopy(obj[key])
    for core, events in _EVENT_RENAMES:
        if obj.get(core) not in (None, "", {}):
            out[events] = copy.deepcopy(obj[core])
    return out


def _event_to_core(obj: Obj) -> Obj:
    out: Obj = {"apiVersion": "v1", "kind": "Event"}
    for key in _EVENT_SAME:
        if key in obj:
            out[key] = copy.deepcopy(obj[key])
    for core, events in _EVENT_RENAMES:
        if obj.get(events) not in (None, "", {}):
            out[core] = copy.deepcopy(obj[events])
    out.setdefault("involvedObject", {})
    return out


# -- autoscaling/v1 <-> v2 -----------------------------------------------------------------
def _hpa_to_v1(obj: Obj) -> Obj:
    out = {k: copy.deepcopy(v) for k, v in obj.items() if k not in ("spec", "status")}
    out["apiVersion"] = "autoscaling/v1"
    spec = obj.get("spec") or {}
    v1_spec: dict[str, Any] = {k: spec[k] for k in ("scaleTargetRef", "minReplicas", "maxReplicas") if k in spec}
    for metric in spec.get("metrics") or []:
        resource = metric.get("resource") or {}
        target = resource.get("target") or {}
        if metric.get("type") == "Resource" and resource.get("name") == "cpu" and "averageUtilization" in target:
            v1_spec["targetCPUUtilizationPercentage"] = target["averageUtilization"]
    out["spec"] = v1_spec
    if "status" in obj:
        status = obj["status"] or {}
        v1_status: dict[str, Any] = {k: status[k] for k in ("observedGeneration", "lastScaleTime", "currentReplicas",
                                                            "desiredReplicas") if k in status}
        for metric in status.get("currentMetrics") or []:
            current = (metric.get("resource") or {}).get("current") or {}
            if (metric.get("resource") or {}).get("name") == "cpu" and "averageUtilization" in current:
                v1_status["currentCPUUtilizationPercentage"] = current["averageUtilization"]
        out["status"] = v1_status
    return out


def _hpa_to_v2(obj: Obj) -> Obj:
    out = {k: copy.deepcopy(v) for k, v in obj.items() if k not in ("spec", "status")}
    out["apiVersion"] = "autoscaling/v2"
    spec = dict(obj.get("spec") or {})
    cpu = spec.pop("targetCPUUtilizationPercentage", None)
    if cpu is not None:
        spec["metrics"] = [{"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": cpu}}}]
    out["spec"] = spec
    if "status" in obj:
        status = dict(obj["status"] or {})
        current = status.pop("currentCPUUtilizationPercentage", None)
        if current is not None:
            status["currentMetrics"] = [{"type": "Resource", "resource": {
                "name": "cpu", "current": {"averageUtilization": current}}}]
        out["status"] = status
    return out


_TO_STORAGE: dict[tuple[str, str], Converter] = {
    ("events.k8s.io/v1", "Event"): _event_to_core,
    ("autoscaling/v1", "HorizontalPodAutoscaler"): _hpa_to_v2,
}
_FROM_STORAGE: dict[tuple[str, str], Converter] = {
    ("events.k8s.io/v1", "Event"): _event_to_v1,
    ("autoscaling/v1", "HorizontalPodAutoscaler"): _hpa_to_v1,
}


def to_storage(kind: Kind, obj: Obj) -> Obj:
    """A client's object of ``kind`` in the shape it is stored in (unchanged for kinds that store themselves)."""
    convert = _TO_STORAGE.get((kind.api_version, kind.kind))
    if convert is None or not isinstance(obj, dict):
        return obj
    if obj.get("apiVersion") not in (None, kind.api_version):
        return obj  # wrong apiVersion: let the type check report it
    return convert(obj)


def from_storage(kind: Kind, obj: Obj) -> Obj:
    """A stored object as a client of ``kind`` sees it."""
    convert = _FROM_STORAGE.get((kind.api_version, kind.kind))
    if convert is None:
        return obj
    return convert(obj)
