"""The scheduler's filter plugins and the texts of their verdicts.

A node is checked by the default profile's filters in order, stopping at the
first that rejects it: NodeUnschedulable, TaintToleration, NodeAffinity,
NodePorts, NodeResourcesFit. The first three reject for good
(``UnschedulableAndUnresolvable``: evicting pods would not help); the last two
could be resolved by preemption. :func:`fit_error` renders the aggregate
message of ``FitError.Error()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from ..store import Obj
from . import placement

UNSCHEDULABLE_TAINT = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}
REASON_UNSCHEDULABLE = "node(s) were unschedulable"
REASON_TAINT = "node(s) had untolerated taint(s)"
REASON_AFFINITY = "node(s) didn't match Pod's node affinity/selector"
REASON_PORTS = "node(s) didn't have free ports for the requested pod ports"
_FIRST_RESOURCES = ("cpu", "memory", "ephemeral-storage")


@dataclass
class NodeInfo:
    """What the scheduler cache knows of one node: its pods and what they request."""

    node: Obj
    pods: list[Obj] = field(default_factory=list)
    requested: placement.Resources = field(default_factory=dict)
    non_zero: placement.Resources = field(default_factory=dict)
    ports: set[placement.HostPort] = field(default_factory=set)

    @property
    def name(self) -> str:
        """The node's name."""
        return self.node["metadata"]["name"]

    def add(self, pod: Obj) -> None:
        """Account for a pod on the node."""
        self.pods.append(pod)
        for target, extra in ((self.requested, placement.pod_requests(pod)),
                              (self.non_zero, placement.pod_requests(pod, non_zero=True))):
            for res, v in extra.items():
                target[res] = target.get(res, 0) + v
        self.ports |= placement.host_ports(pod)

    def without(self, removed: Iterable[Obj]) -> "NodeInfo":
        """The same node as if ``removed`` pods were gone (preemption's what-if)."""
        gone = {p["metadata"]["uid"] for p in removed}
        info = NodeInfo(self.node)
        for pod in self.pods:
            if pod["metadata"]["uid"] not in gone:
                info.add(pod)
        return info


@dataclass
class Verdict:
    """Why a node cannot take the pod; ``resolvable`` when evicting pods could change that."""

    reasons: list[str]
    resolvable: bool


def insufficient(pod_request: placement.Resources, info: NodeInfo) -> list[str]:
    """``NodeResourcesFit``: what the node lacks for the pod, in the plugin's order."""
    alloc = placement.allocatable(info.node)
    reasons = []
    if len(info.pods) + 1 > alloc.get("pods", 0):
        reasons.append("Too many pods")
    ordered = list(_FIRST_RESOURCES) + sorted(r for r in pod_request if r not in _FIRST_RESOURCES and r != "pods")
    for res in ordered:
        want = pod_request.get(res, 0)
        if want > 0 and want > alloc.get(res, 0) - info.requested.get(res, 0):
            reasons.append(f"Insufficient {res}")
    return reasons


def check_node(pod: Obj, info: NodeInfo, pod_request: placement.Resources) -> Verdict | None:
    """Run the filter plugins on one node; None when the pod fits."""
    node, spec = info.node, pod.get("spec") or {}
    tolerations = spec.get("tolerations") or []
    if (node.get("spec") or {}).get("unschedulable") and not placement.tolerated(UNSCHEDULABLE_TAINT, tolerations):
        return Verdict([REASON_UNSCHEDULABLE], False)
    if placement.untolerated_taint(node, tolerations) is not None:
        return Verdict([REASON_TAINT], False)
    if not placement.matches_node_selector(pod, node):
        return Verdict([REASON_AFFINITY], False)
    if placement.ports_conflict(placement.host_ports(pod), info.ports):
        return Verdict([REASON_PORTS], True)
    lacking = insufficient(pod_request, info)
    return Verdict(lacking, True) if lacking else None


def histogram(reasons: Iterable[str]) -> str:
    """``1 node(s) had untolerated taint(s), 3 Insufficient memory``: counts per reason, sorted as text."""
    counts: dict[str, int] = {}
    for reason in reasons:
        counts[reason] = counts.get(reason, 0) + 1
    return ", ".join(sorted(f"{n} {r}" for r, n in counts.items()))


def fit_error(total: int, filter_part: str, post_filter: str | None) -> str:
    """``FitError.Error()``: ``0/N nodes are available: <reasons>. <post-filter message>.``"""
    message = f"0/{total} nodes are available: {filter_part}."
    if post_filter:
        message += f" {post_filter.rstrip('.')}."
    return message
