"""What workload controllers read off pods: activity, readiness, availability, restarts."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from .. import clock
from ..store import Obj

TERMINAL_PHASES = ("Succeeded", "Failed")


def is_active(pod: Obj) -> bool:
    """Counted by workload controllers: not finished and not being deleted."""
    return (pod.get("status") or {}).get("phase") not in TERMINAL_PHASES \
        and not pod["metadata"].get("deletionTimestamp")


def condition(obj: Obj, type_: str) -> dict[str, Any] | None:
    """The status condition of ``type_``, if any."""
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == type_:
            return cond
    return None


def is_ready(pod: Obj) -> bool:
    """The pod's Ready condition is True."""
    cond = condition(pod, "Ready")
    return cond is not None and cond.get("status") == "True"


def ready_since(pod: Obj) -> datetime | None:
    """When the pod last became Ready (None if it is not Ready)."""
    cond = condition(pod, "Ready")
    if cond is None or cond.get("status") != "True":
        return None
    return clock.parse(cond.get("lastTransitionTime"))


def is_available(pod: Obj, min_ready_seconds: int, now: datetime) -> bool:
    """Ready for longer than ``minReadySeconds``, as podutil.IsPodAvailable checks."""
    if not is_ready(pod):
        return False
    since = ready_since(pod)
    return min_ready_seconds <= 0 or since is None or since + timedelta(seconds=min_ready_seconds) < now


def pending_availability(pod: Obj, min_ready_seconds: int, now: datetime) -> float | None:
    """Seconds until a Ready but not yet available pod becomes available (None otherwise)."""
    since = ready_since(pod)
    if since is None or is_available(pod, min_ready_seconds, now):
        return None
    return (since + timedelta(seconds=min_ready_seconds) - now).total_seconds()


def max_restarts(pod: Obj) -> int:
    """The highest restart count among the pod's containers."""
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return max((int(s.get("restartCount") or 0) for s in statuses), default=0)
