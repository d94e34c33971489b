"""The taint eviction controller: pods leave nodes with NoExecute taints they do not tolerate.

A pod on a node with a NoExecute taint it does not tolerate is evicted at
once; one that tolerates every such taint but only for ``tolerationSeconds``
is evicted when the shortest of those runs out, counted from the taint's
``timeAdded`` in simulated seconds (scaled by the cluster's ``time_scale``: the
default 300 s of ``not-ready``/``unreachable`` take 3 s at 0.01); tolerating
without a time limit keeps it there. Eviction marks the pod
``DisruptionTarget`` (``DeletionByTaintManager``), records
``TaintManagerEviction`` "Marking for deletion Pod <ns>/<name>" and deletes it;
a scheduled eviction whose taint goes away first is cancelled with a
"Cancelling deletion" event.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Iterator

from .. import clock
from ..kinds import preferred
from ..store import Obj, WatchEvent
from . import placement
from .base import Controller, ObjectKey
from .podutil import is_terminal, is_terminating, set_condition

if TYPE_CHECKING:
    from ..cluster import Cluster

NODES = preferred("", "Node")
PODS = preferred("", "Pod")
COMPONENT = "taint-eviction-controller"
REASON = "DeletionByTaintManager"
MESSAGE = "Taint manager: deleting due to NoExecute taint"


def eviction_time(pod: Obj, taints: list[dict[str, Any]], now: datetime, time_scale: float = 1.0) -> datetime | None:
    """When ``pod`` must leave a node with these NoExecute ``taints`` (None: it may stay).

    ``tolerationSeconds`` are simulated seconds: they count ``time_scale`` times as fast.
    """
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    deadline: datetime | None = None
    for taint in taints:
        matching = [t for t in tolerations if placement.tolerates(t, taint)]
        if not matching:
            return now
        limits = [int(t["tolerationSeconds"]) for t in matching if t.get("tolerationSeconds") is not None]
        if len(limits) < len(matching):
            continue  # some toleration has no time limit
        since = clock.parse(taint.get("timeAdded")) or now
        due = since + timedelta(seconds=max(min(limits), 0) * time_scale)
        deadline = due if deadline is None else min(deadline, due)
    return deadline


class TaintEvictionController(Controller):
    """Evicts pods from nodes with NoExecute taints."""

    name = "taint-eviction"
    watches = (NODES, PODS)

    def __init__(self, cluster: "Cluster") -> None:
        super().__init__(cluster)
        self._scheduled: dict[str, tuple[str, str]] = {}  # pod uid -> (namespace, name) awaiting eviction

    def keys_for(self, event: WatchEvent) -> Iterator[ObjectKey]:
        if event.storage_key == NODES.storage_key:
            if event.type != "DELETED":
                yield "", event.obj["metadata"]["name"]
            return
        node = (event.obj.get("spec") or {}).get("nodeName")
        if node and event.type != "DELETED":
            yield "", node

    def reconcile(self, key: ObjectKey) -> None:
        node = self.api.try_get(NODES, "", key[1])
        if node is None:
            return
        taints = [t for t in (node.get("spec") or {}).get("taints") or [] if t.get("effect") == "NoExecute"]
        pods, _ = self.api.list(PODS, field_selector=f"spec.nodeName={key[1]}")
        now = clock.now()
        wake: datetime | None = None
        for pod in pods:
            if is_terminal(pod) or is_terminating(pod):
                continue
            uid = pod["metadata"]["uid"]
            due = eviction_time(pod, taints, now, self.cluster.time_scale) if taints else None
            if due is None:
                if self._scheduled.pop(uid, None) is not None:
                    self._event(pod, "Cancelling deletion")
                continue
            if due > now:
                self._scheduled[uid] = (pod["metadata"]["namespace"], pod["metadata"]["name"])
                wake = due if wake is None else min(wake, due)
                continue
            self._scheduled.pop(uid, None)
            self._evict(pod)
        if wake is not None:
            self.requeue_after(key, (wake - now).total_seconds() + 0.01)

    def _evict(self, pod: Obj) -> None:
        meta = pod["metadata"]

        def mark(current: Obj) -> None:
            set_condition(current.setdefault("status", {}).setdefault("conditions", []), "DisruptionTarget", "True",
                          REASON, MESSAGE)
        self.api.patch_object(PODS, meta["namespace"], meta["name"], mark, subresource="status")
        self._event(pod, "Marking for deletion")
        self.api.delete(PODS, meta["namespace"], meta["name"])

    def _event(self, pod: Obj, what: str) -> None:
        meta = pod["metadata"]
        self.cluster.events.record(pod, "Normal", "TaintManagerEviction",
                                   f"{what} Pod {meta['namespace']}/{meta['name']}", COMPONENT)
