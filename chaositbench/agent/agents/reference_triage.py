"""Triage for the reference agent: what does the complaint's impact consist of, before anything is changed?

The agent looks at what a complaint can be about, from evidence only:

- **workloads** (Deployments, StatefulSets) of the incident's namespaces with fewer ready replicas
  than they want, and **Services** whose selector matches no ready pod (a workload scaled to zero
  is "available", its Service is not);
- **nodes** with a pressure condition (memory, disk, PID);
- **services** of those namespaces missing the agent's SLOs in Prometheus over the last minute:
  more than 1% of requests answered with a 5xx, or a 95th percentile latency above 500 ms.

Pods that no long-running controller owns (bare Pods, or Pods a Job runs) and that no Service
selects are **bystanders**: one-off debug shells, load tests, batch jobs. However loudly they fail,
they cannot make a workload unavailable or a service miss its SLO, so they are set aside before
the investigations look for a root cause, left untouched, and named in the diagnosis.

When nothing is impacted, nothing is broken: the answer is ``no-fault`` and nothing is changed.
When something is impacted but no investigation explains it, the agent escalates with what it saw.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..protocol import Diagnosis, Incident

if TYPE_CHECKING:
    from .reference import Cluster

Obj = dict[str, Any]

PRESSURE_CONDITIONS = ("MemoryPressure", "DiskPressure", "PIDPressure")
#: controllers whose pods are part of a long-running workload (a Job's pods run once and end)
WORKLOAD_OWNERS = ("ReplicaSet", "StatefulSet", "DaemonSet", "ReplicationController")
MAX_ERROR_RATIO = 0.01
MAX_P95_SECONDS = 0.5
WINDOW = "1m"
ERRORS = ('sum by (namespace, service) (rate(http_requests_total{{namespace=~"{ns}",code=~"5.."}}[{w}]))'
          ' / sum by (namespace, service) (rate(http_requests_total{{namespace=~"{ns}"}}[{w}])) > {max}')
LATENCY = ('histogram_quantile(0.95, sum by (namespace, service, le) '
           '(rate(http_request_duration_seconds_bucket{{namespace=~"{ns}"}}[{w}]))) > {max}')
#: (what, PromQL of the series beyond the limit, limit)
SLOS = (("5xx ratio", ERRORS, MAX_ERROR_RATIO), ("p95 latency", LATENCY, MAX_P95_SECONDS))
TRAFFIC = 'sum by (namespace, service) (rate(http_requests_total{{namespace=~"{ns}"}}[{w}]))'


@dataclass
class Impact:
    """What the complaint can be about: unavailable workloads, pressured nodes, services missing their SLO."""

    unavailable: list[str] = field(default_factory=list)
    pressured: list[str] = field(default_factory=list)
    slo_breaches: list[str] = field(default_factory=list)
    slo_judged: int = 0  # services with traffic whose SLOs were read (0: Prometheus could not tell)
    slo_note: str = ""  # why the SLOs could not be judged
    bystanders: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.unavailable or self.pressured or self.slo_breaches)

    def describe(self) -> str:
        """The impact in one sentence."""
        parts = [f"unavailable: {', '.join(self.unavailable)}" if self.unavailable else "",
                 f"nodes under pressure: {', '.join(self.pressured)}" if self.pressured else "",
                 f"SLO missed: {', '.join(self.slo_breaches)}" if self.slo_breaches else ""]
        return "; ".join(p for p in parts if p) + "."


def assess(cluster: Cluster) -> Impact:
    """The impact seen in the survey and in Prometheus; the bystander pods are set aside from the survey."""
    impact = Impact()
    impact.unavailable = [f"{kind} {namespace}/{name}" for kind, namespace, name in cluster.unavailable_workloads()]
    impact.unavailable += [f"Service {s['metadata']['namespace']}/{s['metadata']['name']} (no ready endpoints)"
                           for s in cluster.of_kind("Service") if (s.get("spec") or {}).get("selector")
                           and not any(_ready(p) for p in cluster.pods_of(s))]
    for node in cluster.nodes:
        impact.pressured += [f"{node['metadata']['name']} {c['type']}"
                             for c in (node.get("status") or {}).get("conditions") or []
                             if c["type"] in PRESSURE_CONDITIONS and c["status"] == "True"]
    _read_slos(cluster, impact)
    bystanders = {id(p): p for p in cluster.of_kind("Pod") if _is_bystander(cluster, p)}
    impact.bystanders = [f"Pod {p['metadata']['namespace']}/{p['metadata']['name']} ({trouble})"
                         for p in bystanders.values() if (trouble := _trouble(p))]
    cluster.items = [i for i in cluster.items if id(i) not in bystanders]
    return impact


def _read_slos(cluster: Cluster, impact: Impact) -> None:
    """Services missing their error or latency SLO; without a Prometheus nothing is judged."""
    if not cluster.tools.prometheus_url:
        impact.slo_note = "there is no Prometheus to read the SLOs from"
        return
    namespaces = "|".join(cluster.namespaces)
    try:
        impact.slo_judged = len(cluster.tools.promql(TRAFFIC.format(ns=namespaces, w=WINDOW)))
        for label, template, limit in SLOS:
            for series in cluster.tools.promql(template.format(ns=namespaces, w=WINDOW, max=limit)):
                metric = series.get("metric") or {}
                impact.slo_breaches.append(f"{metric.get('namespace')}/{metric.get('service')} {label} "
                                           f"{float(series['value'][1]):.3g} > {limit}")
    except Exception as exc:  # an unreachable Prometheus: judge by the API alone, and say so
        impact.slo_judged = 0
        impact.slo_breaches.clear()
        impact.slo_note = f"Prometheus could not be read ({exc})"


def _is_bystander(cluster: Cluster, pod: Obj) -> bool:
    """A pod no long-running controller owns and no Service selects."""
    owners = pod["metadata"].get("ownerReferences") or []
    if any(o["kind"] in WORKLOAD_OWNERS for o in owners):
        return False
    return not any(any(p is pod for p in cluster.pods_of(s)) for s in cluster.of_kind("Service"))


def _ready(pod: Obj) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def _trouble(pod: Obj) -> str:
    """What is visibly wrong with a pod (``""`` when nothing is)."""
    status = pod.get("status") or {}
    if status.get("phase") == "Failed":
        return f"Failed{': ' + status['reason'] if status.get('reason') else ''}"
    reasons = []
    for container in status.get("containerStatuses") or []:
        waiting = (container.get("state") or {}).get("waiting") or {}
        last = (container.get("lastState") or {}).get("terminated") or {}
        reasons += [r for r in (waiting.get("reason"), last.get("reason")) if r and r not in reasons]
    return ", ".join(reasons)


def left_alone(impact: Impact) -> str:
    """The sentence naming the failing bystanders the agent did not touch (``""`` when there are none)."""
    if not impact.bystanders:
        return ""
    return (" Left alone, as unrelated to the complaint (owned by no workload, behind no Service): "
            + "; ".join(impact.bystanders) + ".")


def no_fault(incident: Incident, impact: Impact) -> Diagnosis:
    """The diagnosis when nothing is impacted: ``no-fault``, with the evidence; nothing was changed."""
    slo = (f"all {impact.slo_judged} services with traffic meet their SLOs over the last {WINDOW} "
           f"(5xx ratio <= {MAX_ERROR_RATIO}, p95 latency <= {MAX_P95_SECONDS}s)" if impact.slo_judged
           else impact.slo_note or "no service traffic was visible in Prometheus")
    return Diagnosis({"category": "no-fault", "kind": None, "namespace": None, "name": None},
                     f"Nothing is broken: every workload in {', '.join(incident.namespaces)} is available, no node is "
                     f"under pressure, and {slo}. Nothing was changed." + left_alone(impact))


def unexplained(impact: Impact, reasons: list[str]) -> Diagnosis:
    """The escalation when something is impacted but no investigation found its cause."""
    return Diagnosis(None, "Root cause not found. " + " ".join(reasons) + " Impact: " + impact.describe()
                     + left_alone(impact), escalate=True)
