"""Which pods a ReplicaSet deletes first when it scales down (controller.ActivePodsWithRanks).

Pods are compared by, in order: unscheduled before scheduled; Pending before
Unknown before Running; not Ready before Ready; lower
``controller.kubernetes.io/pod-deletion-cost``; more ready siblings on the
same node first (doubled-up pods); more recently Ready first; more restarts
first; newer first. Times are compared in logarithmic buckets of their age (the
LogarithmicScaleDown behaviour), ties broken by UID for a random-but-stable
choice.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import datetime
from functools import cmp_to_key

from .. import clock
from ..store import Obj
from .podstate import is_active, is_ready, max_restarts, ready_since

DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
_PHASE_ORDINAL = {"Pending": 0, "Unknown": 1, "Running": 2}


def _deletion_cost(pod: Obj) -> int:
    try:
        return int((pod["metadata"].get("annotations") or {}).get(DELETION_COST, "0"))
    except ValueError:
        return 0


def _log_bucket(when: datetime, now: datetime) -> int:
    age_ns = (now - when).total_seconds() * 1e9
    return -1 if age_ns <= 0 else int(math.log2(age_ns))


def _compare_times(a: datetime | None, b: datetime | None, uid_a: str, uid_b: str, now: datetime) -> int:
    """Newer first: -1 when ``a`` should go before ``b``; missing times go first."""
    if a == b:
        return 0
    if a is None or b is None:
        return -1 if a is None else 1
    diff = _log_bucket(a, now) - _log_bucket(b, now)
    if diff == 0:
        return -1 if uid_a < uid_b else (1 if uid_a > uid_b else 0)
    return -1 if diff < 0 else 1


def _node(pod: Obj) -> str:
    return (pod.get("spec") or {}).get("nodeName") or ""


def rank_for_deletion(pods: list[Obj], related: list[Obj], now: datetime | None = None) -> list[Obj]:
    """``pods`` ordered most-deletable first; ``related`` are the pods of sibling ReplicaSets too."""
    now = now or clock.now()
    on_node = Counter(_node(p) for p in related if is_active(p))

    def compare(a: Obj, b: Obj) -> int:
        node_a, node_b = _node(a), _node(b)
        if node_a != node_b and (not node_a or not node_b):
            return -1 if not node_a else 1
        phase_a = _PHASE_ORDINAL.get((a.get("status") or {}).get("phase", ""), 0)
        phase_b = _PHASE_ORDINAL.get((b.get("status") or {}).get("phase", ""), 0)
        if phase_a != phase_b:
            return -1 if phase_a < phase_b else 1
        if is_ready(a) != is_ready(b):
            return -1 if not is_ready(a) else 1
        if _deletion_cost(a) != _deletion_cost(b):
            return -1 if _deletion_cost(a) < _deletion_cost(b) else 1
        if on_node[node_a] != on_node[node_b]:
            return -1 if on_node[node_a] > on_node[node_b] else 1
        uid_a, uid_b = a["metadata"].get("uid", ""), b["metadata"].get("uid", "")
        if is_ready(a) and is_ready(b):
            order = _compare_times(ready_since(a), ready_since(b), uid_a, uid_b, now)
            if order:
                return order
        if max_restarts(a) != max_restarts(b):
            return -1 if max_restarts(a) > max_restarts(b) else 1
        return _compare_times(clock.parse(a["metadata"].get("creationTimestamp")),
                              clock.parse(b["metadata"].get("creationTimestamp")), uid_a, uid_b, now)

    return sorted(pods, key=cmp_to_key(compare))
