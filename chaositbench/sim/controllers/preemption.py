"""The DefaultPreemption post-filter: evict lower-priority pods to make room for a pending one.

For each node rejected for a reason eviction could fix (resources, host
ports) it looks for the smallest set of lower-priority pods whose removal lets
the pod fit, keeping back ("reprieving") the most important pods it can. It
picks the node whose victims matter least, marks them ``DisruptionTarget``
(``PreemptionByScheduler``), deletes them and nominates the node. When no
node qualifies it returns the ``preemption: 0/N nodes are available: ...``
message the FailedScheduling event carries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..kinds import preferred
from ..store import Obj
from . import placement
from .filters import NodeInfo, Verdict, check_node, histogram
from .podutil import is_terminating, set_condition

if TYPE_CHECKING:
    from ..cluster import Cluster

PODS = preferred("", "Pod")
NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"


@dataclass
class Candidate:
    """A node where evicting ``victims`` lets the pod fit."""

    node: str
    victims: list[Obj]

    def rank(self) -> tuple[int, int, int]:
        """Fewer important victims first: highest priority, sum of priorities, count."""
        priorities = [priority(v) for v in self.victims]
        return max(priorities), sum(priorities), len(priorities)


def priority(pod: Obj) -> int:
    """``spec.priority`` (0 when unset)."""
    return int((pod.get("spec") or {}).get("priority") or 0)


class Preemption:
    """Preemption on behalf of one scheduler."""

    def __init__(self, cluster: "Cluster", scheduler_name: str) -> None:
        self.cluster = cluster
        self.scheduler_name = scheduler_name

    def run(self, pod: Obj, infos: dict[str, NodeInfo], verdicts: dict[str, Verdict]) -> str | None:
        """Try to preempt; the post-filter message when it cannot, None when victims were evicted."""
        ineligible = self._ineligible(pod, infos)
        if ineligible:
            return f"preemption: {ineligible}"
        request = placement.pod_requests(pod)
        per_node: list[str] = []
        candidates: list[Candidate] = []
        for name, verdict in verdicts.items():
            if not verdict.resolvable:
                per_node.append(NOT_HELPFUL)
                continue
            victims, reasons = self._victims(pod, infos[name], request)
            if victims:
                candidates.append(Candidate(name, victims))
            else:
                per_node.extend(reasons)
        if not candidates:
            return f"preemption: 0/{len(verdicts)} nodes are available: {histogram(per_node)}"
        self._evict(pod, min(candidates, key=Candidate.rank))
        return None

    @staticmethod
    def _ineligible(pod: Obj, infos: dict[str, NodeInfo]) -> str | None:
        """``PodEligibleToPreemptOthers``: policy Never, or victims of an earlier round still terminating."""
        if (pod.get("spec") or {}).get("preemptionPolicy") == "Never":
            return "not eligible due to preemptionPolicy=Never."
        nominated = (pod.get("status") or {}).get("nominatedNodeName")
        if nominated in infos and any(is_terminating(p) and priority(p) < priority(pod) for p in infos[nominated].pods):
            return "not eligible due to a terminating pod on the nominated node."
        return None

    @staticmethod
    def _victims(pod: Obj, info: NodeInfo, request: placement.Resources) -> tuple[list[Obj], list[str]]:
        """The fewest lower-priority pods to remove so ``pod`` fits, or the reasons it cannot."""
        lower = [p for p in info.pods if priority(p) < priority(pod) and not is_terminating(p)]
        if not lower:
            return [], [NO_VICTIMS]
        verdict = check_node(pod, info.without(lower), request)
        if verdict is not None:
            return [], verdict.reasons
        victims = []
        kept: list[Obj] = []
        for candidate in sorted(lower, key=lambda p: (-priority(p), p["metadata"].get("creationTimestamp", ""))):
            removed = [p for p in lower if p is not candidate and p not in kept]
            if check_node(pod, info.without(removed), request) is None:
                kept.append(candidate)
            else:
                victims.append(candidate)
        return victims, []

    def _evict(self, pod: Obj, chosen: Candidate) -> None:
        api, events = self.cluster.api, self.cluster.events
        reason = f"{self.scheduler_name}: preempting to accommodate a higher priority pod"
        for victim in chosen.victims:
            meta = victim["metadata"]

            def mark(p: Obj) -> None:
                set_condition(p.setdefault("status", {}).setdefault("conditions", []), "DisruptionTarget", "True",
                              "PreemptionByScheduler", reason)
            api.patch_object(PODS, meta["namespace"], meta["name"], mark, subresource="status")
            events.record(victim, "Normal", "Preempted",
                          f"Preempted by pod {pod['metadata']['uid']} on node {chosen.node}", self.scheduler_name)
            api.delete(PODS, meta["namespace"], meta["name"])

        def nominate(p: Obj) -> None:
            p.setdefault("status", {})["nominatedNodeName"] = chosen.node
        api.patch_object(PODS, pod["metadata"]["namespace"], pod["metadata"]["name"], nominate, subresource="status")
