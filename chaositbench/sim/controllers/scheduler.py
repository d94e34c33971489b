"""kube-scheduler: binds pending pods to nodes with the default plugins' filters and scores.

Filters run per node in the default profile's order and stop at the first
failure (NodeUnschedulable, TaintToleration, NodeAffinity, NodePorts,
NodeResourcesFit); the VolumeBinding pre-filter rejects pods whose claims are
missing or unbound. Feasible nodes are scored (least allocated, balanced
allocation, PreferNoSchedule taints, preferred node affinity and the default
topology spreading of a controller's replicas) and the best one is bound
through the ``pods/binding`` subresource. A pod that fits nowhere gets the
``PodScheduled=False`` condition and a ``FailedScheduling`` event whose message
has the real ``FitError`` shape, and is retried when nodes, claims or the pods
on the nodes change (and every five minutes).
"""

from __future__ import annotations

import random
import time
from typing import TYPE_CHECKING, Iterator

from ..kinds import preferred
from ..store import Obj, WatchEvent
from . import placement
from .base import Controller, ObjectKey, key_of
from .filters import NodeInfo, Verdict, check_node, fit_error, histogram
from .ownership import controller_ref
from .podutil import is_terminal, set_condition
from .preemption import NOT_HELPFUL, Preemption, priority

if TYPE_CHECKING:
    from ..cluster import Cluster

PODS = preferred("", "Pod")
NODES = preferred("", "Node")
PVCS = preferred("", "PersistentVolumeClaim")

SCHEDULER_NAME = "default-scheduler"
NO_NODES = "no nodes available to schedule pods"
#: default score plugin weights of the scheduler's default profile
WEIGHTS = {"taint": 3, "affinity": 2, "spread": 2, "fit": 1, "balanced": 1}


def wants_scheduling(pod: Obj) -> bool:
    """An unbound, live pod of the default scheduler."""
    spec = pod.get("spec") or {}
    return (not spec.get("nodeName") and (spec.get("schedulerName") or SCHEDULER_NAME) == SCHEDULER_NAME
            and not pod["metadata"].get("deletionTimestamp") and not is_terminal(pod))


class Scheduler(Controller):
    """The default scheduler."""

    name = "scheduler"
    watches = (PODS, NODES, PVCS)
    #: an unschedulable pod is retried at the latest after this long (podMaxInUnschedulablePodsDuration)
    retry_unschedulable_s = 300.0

    def __init__(self, cluster: "Cluster") -> None:
        super().__init__(cluster)
        self._epoch = 0
        self._node_marks: dict[str, tuple[object, ...]] = {}
        self._bound: set[str] = set()
        self._failed: dict[ObjectKey, tuple[str, int, int, float]] = {}
        self._preemption = Preemption(cluster, SCHEDULER_NAME)

    # -- events ---------------------------------------------------------------------
    def keys_for(self, event: WatchEvent) -> Iterator[ObjectKey]:
        if event.storage_key == NODES.storage_key:
            if self._node_changed(event):
                yield from self._pending_keys()
        elif event.storage_key == PVCS.storage_key:
            self._epoch += 1
            yield from self._pending_keys()
        else:
            yield from self._pod_keys(event)

    def _pod_keys(self, event: WatchEvent) -> Iterator[ObjectKey]:
        pod = event.obj
        uid = pod["metadata"]["uid"]
        if (pod.get("spec") or {}).get("nodeName"):
            if event.type == "DELETED" or is_terminal(pod):
                if uid in self._bound:
                    self._bound.discard(uid)
                    self._epoch += 1
                    yield from self._pending_keys()
            else:
                self._bound.add(uid)
        elif event.type != "DELETED" and wants_scheduling(pod):
            yield key_of(pod)

    def _node_changed(self, event: WatchEvent) -> bool:
        """Only changes that can alter a scheduling decision count (heartbeats do not)."""
        node = event.obj
        name = node["metadata"]["name"]
        if event.type == "DELETED":
            self._node_marks.pop(name, None)
            self._epoch += 1
            return False
        status, spec = node.get("status") or {}, node.get("spec") or {}
        mark = (repr(node["metadata"].get("labels")), repr(spec.get("taints")), bool(spec.get("unschedulable")),
                repr(status.get("allocatable")),
                repr(sorted((c.get("type"), c.get("status")) for c in status.get("conditions") or [])))
        if self._node_marks.get(name) == mark:
            return False
        self._node_marks[name] = mark
        self._epoch += 1
        return True

    def resync(self) -> None:
        """Remember the pods already bound (their deletion may free room), then queue every pod."""
        for pod in self.cluster.store.list(PODS.storage_key):
            if (pod.get("spec") or {}).get("nodeName") and not is_terminal(pod):
                self._bound.add(pod["metadata"]["uid"])
        super().resync()

    def _pending_keys(self) -> Iterator[ObjectKey]:
        for pod in self.cluster.store.list(PODS.storage_key):
            if wants_scheduling(pod):
                yield key_of(pod)

    # -- one pod ----------------------------------------------------------------------
    def reconcile(self, key: ObjectKey) -> None:
        pod = self.api.try_get(PODS, *key)
        if pod is None or not wants_scheduling(pod):
            self._failed.pop(key, None)
            return
        if (pod.get("spec") or {}).get("schedulingGates"):
            self._set_unscheduled(pod, "SchedulingGated", "Scheduling is blocked due to non-empty scheduling gates")
            return
        retry_s = self.retry_unschedulable_s * self.cluster.time_scale
        marker = (pod["metadata"]["uid"], int(pod["metadata"].get("generation", 0)), self._epoch)
        previous = self._failed.get(key)
        if previous and previous[:3] == marker and time.monotonic() - previous[3] < retry_s:
            return
        chosen, message = self.schedule(pod)
        if chosen is not None:
            self._failed.pop(key, None)
            self._bind(pod, chosen)
            return
        self._failed[key] = (*marker, time.monotonic())
        self._set_unscheduled(pod, "Unschedulable", message)
        self.cluster.events.record(pod, "Warning", "FailedScheduling", message, SCHEDULER_NAME)
        self.requeue_after(key, retry_s)

    def schedule(self, pod: Obj) -> tuple[str | None, str]:
        """The node to bind ``pod`` to, or None and the FailedScheduling message."""
        infos = self.node_infos(pod)
        if not infos:
            return None, NO_NODES
        total = len(infos)
        claim_problem = self._claim_problem(pod)
        if claim_problem:
            return None, fit_error(total, claim_problem,
                                   f"preemption: 0/{total} nodes are available: {total} {NOT_HELPFUL}")
        request = placement.pod_requests(pod)
        verdicts: dict[str, Verdict] = {}
        feasible: list[NodeInfo] = []
        for info in infos.values():
            verdict = check_node(pod, info, request)
            if verdict is None:
                feasible.append(info)
            else:
                verdicts[info.name] = verdict
        if feasible:
            return self._pick(pod, feasible), ""
        post_filter = self._preemption.run(pod, infos, verdicts)
        return None, fit_error(total, histogram(r for v in verdicts.values() for r in v.reasons), post_filter)

    def node_infos(self, for_pod: Obj) -> dict[str, NodeInfo]:
        """A snapshot of every node with its non-terminal pods, plus the pending pods nominated to it
        that are at least as important as ``for_pod`` (their room is held for them)."""
        infos = {n["metadata"]["name"]: NodeInfo(n) for n in self.cluster.store.list(NODES.storage_key)}
        uid = for_pod["metadata"]["uid"]
        for pod in self.cluster.store.list(PODS.storage_key):
            node = (pod.get("spec") or {}).get("nodeName")
            nominated = (pod.get("status") or {}).get("nominatedNodeName")
            if node in infos and not is_terminal(pod):
                infos[node].add(pod)
            elif (not node and nominated in infos and pod["metadata"]["uid"] != uid and wants_scheduling(pod)
                  and priority(pod) >= priority(for_pod)):
                infos[nominated].add(pod)
        return infos

    def _claim_problem(self, pod: Obj) -> str | None:
        """VolumeBinding pre-filter: every claim must exist, be alive and be bound."""
        unbound = False
        for volume in (pod.get("spec") or {}).get("volumes") or []:
            claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
            if not claim:
                continue
            pvc = self.api.try_get(PVCS, pod["metadata"]["namespace"], claim)
            if pvc is None:
                return f'persistentvolumeclaim "{claim}" not found'
            if pvc["metadata"].get("deletionTimestamp"):
                return f'persistentvolumeclaim "{claim}" is being deleted'
            unbound = unbound or (pvc.get("status") or {}).get("phase") != "Bound"
        return "pod has unbound immediate PersistentVolumeClaims" if unbound else None

    # -- scoring ----------------------------------------------------------------------------
    def _pick(self, pod: Obj, feasible: list[NodeInfo]) -> str:
        if len(feasible) == 1:
            return feasible[0].name
        request = placement.pod_requests(pod, non_zero=True)
        tolerations = (pod.get("spec") or {}).get("tolerations") or []
        raw_taints = {i.name: sum(1 for t in (i.node.get("spec") or {}).get("taints") or []
                                  if t.get("effect") == "PreferNoSchedule" and not placement.tolerated(t, tolerations))
                      for i in feasible}
        raw_affinity = {i.name: placement.preferred_affinity_weight(pod, i.node) for i in feasible}
        raw_spread = {i.name: self._siblings_on(pod, i) for i in feasible}
        totals: dict[str, float] = {}
        for info in feasible:
            fit, balanced = self._resource_scores(request, info)
            totals[info.name] = (WEIGHTS["fit"] * fit + WEIGHTS["balanced"] * balanced
                                 + WEIGHTS["taint"] * _normalize(raw_taints, info.name, reverse=True)
                                 + WEIGHTS["affinity"] * _normalize(raw_affinity, info.name, reverse=False)
                                 + WEIGHTS["spread"] * _normalize(raw_spread, info.name, reverse=True))
        best = max(totals.values())
        return random.choice(sorted(name for name, score in totals.items() if score == best))

    @staticmethod
    def _resource_scores(request: placement.Resources, info: NodeInfo) -> tuple[float, float]:
        """LeastAllocated and BalancedAllocation scores over cpu and memory (0..100)."""
        alloc = placement.allocatable(info.node)
        fractions = []
        free_scores = []
        for res in ("cpu", "memory"):
            capacity = alloc.get(res, 0)
            used = info.non_zero.get(res, 0) + request.get(res, 0)
            if capacity <= 0:
                fractions.append(1.0)
                free_scores.append(0.0)
                continue
            fractions.append(min(used / capacity, 1.0))
            free_scores.append(max(capacity - used, 0) * 100.0 / capacity)
        balanced = (1.0 - abs(fractions[0] - fractions[1]) / 2.0) * 100.0
        return sum(free_scores) / len(free_scores), balanced

    @staticmethod
    def _siblings_on(pod: Obj, info: NodeInfo) -> int:
        """Pods of the same controller on the node (the default topology spread constraint)."""
        owner = controller_ref(pod)
        if owner is None:
            return 0
        ns = pod["metadata"]["namespace"]
        return sum(1 for p in info.pods if p["metadata"].get("namespace") == ns
                   and (controller_ref(p) or {}).get("uid") == owner["uid"])

    # -- writes ---------------------------------------------------------------------------------
    def _bind(self, pod: Obj, node: str) -> None:
        meta = pod["metadata"]
        self.cluster.bind_pod(pod, node)  # the binding also sets PodScheduled=True
        self._bound.add(meta["uid"])
        self.cluster.events.record(pod, "Normal", "Scheduled",
                                   f"Successfully assigned {meta['namespace']}/{meta['name']} to {node}",
                                   SCHEDULER_NAME)

    def _set_unscheduled(self, pod: Obj, reason: str, message: str) -> None:
        """``PodScheduled=False`` with why, as the scheduler's status patch writes it."""
        def mutate(p: Obj) -> None:
            conditions = p.setdefault("status", {}).setdefault("conditions", [])
            set_condition(conditions, "PodScheduled", "False", reason, message)
            for cond in conditions:
                if cond["type"] == "PodScheduled":
                    cond["lastProbeTime"] = None
        meta = pod["metadata"]
        self.api.patch_object(PODS, meta["namespace"], meta["name"], mutate, subresource="status")


def _normalize(raw: dict[str, int], name: str, *, reverse: bool) -> float:
    """``DefaultNormalizeScore``: scale to 0..100 by the maximum, reversed for 'fewer is better'."""
    top = max(raw.values())
    if top == 0:
        return 100.0 if reverse else 0.0
    score = raw[name] * 100.0 / top
    return 100.0 - score if reverse else score
