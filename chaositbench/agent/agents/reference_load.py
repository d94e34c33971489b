"""Reference-agent investigations of load: an autoscaler capped too low, CPU throttling under a too-low limit.

``hpa_capped`` reads the HorizontalPodAutoscalers of the allowed namespaces: one at its
``maxReplicas`` that reports ``ScalingLimited`` (``TooManyReplicas``) holds its workload below
what the load needs; its maximum is raised to twice the replicas its current metrics ask for.

``cpu_throttled`` asks Prometheus (cAdvisor's CFS counters) which containers of the allowed
namespaces spend their CPU quota in more than a quarter of their periods — the threshold of the
well-known ``CPUThrottlingHigh`` alert — and raises the CPU limit of the most throttled one's
workload: back to the previous revision when the last change only lowered its resources, else
to four times the limit.
"""

from __future__ import annotations

import json
import math
import re
from typing import TYPE_CHECKING, Any

from . import reference as base
from .reference_pods import differs_only_in, previous_revision, rollout_undo

if TYPE_CHECKING:
    from .reference import Cluster, Finding

Obj = dict[str, Any]
#: share of CFS periods throttled above which a container is CPU-starved (kube-prometheus' CPUThrottlingHigh)
THROTTLED_SHARE = 0.25
RATE_WINDOW = "30s"
LIMIT_FACTOR = 4
THROTTLING = ('sum by (namespace, pod, container) (rate(container_cpu_cfs_throttled_periods_total'
              '{{namespace=~"{namespaces}",container!=""}}[{window}]))'
              ' / sum by (namespace, pod, container) (rate(container_cpu_cfs_periods_total'
              '{{namespace=~"{namespaces}",container!=""}}[{window}])) > {share}')


def _condition(obj: Obj, type_: str) -> Obj:
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") == type_), {})


def _needed_replicas(hpa: Obj) -> int:
    """The replicas the HPA's current utilization asks for (its current replicas scaled by usage/target)."""
    status = hpa.get("status") or {}
    current = int(status.get("currentReplicas") or 1)
    needed = current
    for spec, now in zip((hpa.get("spec") or {}).get("metrics") or [], status.get("currentMetrics") or []):
        target = ((spec.get("resource") or {}).get("target") or {}).get("averageUtilization")
        used = ((now.get("resource") or {}).get("current") or {}).get("averageUtilization")
        if target and used is not None:
            needed = max(needed, math.ceil(current * used / target))
    return needed


def hpa_capped(cluster: "Cluster") -> "Finding | None":
    """An HPA at its maximum that wants more replicas gets a higher ``maxReplicas`` (``autoscaling``)."""
    for namespace in cluster.namespaces:
        result = cluster.tools.kubectl("get", "hpa", "-n", namespace, "-o", "json")
        if not result.ok:
            continue
        for hpa in json.loads(result.stdout).get("items", []):
            limited = _condition(hpa, "ScalingLimited")
            spec, status = hpa.get("spec") or {}, hpa.get("status") or {}
            maximum = int(spec.get("maxReplicas") or 0)
            if limited.get("status") != "True" or limited.get("reason") != "TooManyReplicas" \
                    or int(status.get("currentReplicas") or 0) < maximum:
                continue
            name, ref = hpa["metadata"]["name"], spec.get("scaleTargetRef") or {}
            raised = max(2 * _needed_replicas(hpa), maximum + 1)
            cluster.tools.kubectl("patch", "hpa", name, "-n", namespace, "--type=merge", "-p",
                                  json.dumps({"spec": {"maxReplicas": raised}}))
            workload = (ref.get("kind", ""), namespace, ref.get("name", ""))
            awaited = [workload] if workload[0] in ("Deployment", "StatefulSet") else []
            return base.Finding("autoscaling", "HorizontalPodAutoscaler", namespace, name,
                                f"HorizontalPodAutoscaler {namespace}/{name} holds {workload[0]} "
                                f"{namespace}/{workload[2]} at its maxReplicas {maximum} while its metrics ask for "
                                f"more (ScalingLimited: {limited.get('message', 'TooManyReplicas')}). Fix: raised "
                                f"maxReplicas to {raised}.", awaited)
    return None


def parse_cpu(quantity: str) -> float:
    """Millicores of a Kubernetes CPU quantity (``250m``, ``0.5``, ``2``)."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(m?)", quantity.strip())
    if not match:
        raise ValueError(f"not a CPU quantity: {quantity!r}")
    return float(match.group(1)) * (1 if match.group(2) else 1000)


def throttled_containers(cluster: "Cluster") -> list[tuple[float, str, str, str]]:
    """(throttled share, namespace, pod, container) above THROTTLED_SHARE, most throttled first."""
    if not cluster.tools.prometheus_url:
        return []
    # namespace names are DNS labels: no character of theirs needs escaping in a PromQL regex
    query = THROTTLING.format(namespaces="|".join(cluster.namespaces),
                              window=RATE_WINDOW, share=THROTTLED_SHARE)
    try:
        series = cluster.tools.promql(query)
    except Exception as exc:  # noqa: BLE001 — a failing Prometheus is evidence missing, not a crash
        raise base.NoFinding(f"cannot query CPU throttling: {exc}") from exc
    found = [(float(s["value"][1]), s["metric"]["namespace"], s["metric"]["pod"], s["metric"]["container"])
             for s in series]
    return sorted(found, reverse=True)


def _without_resources(spec: Obj) -> None:
    """A ``strip`` for :func:`~.reference_pods.differs_only_in`: the container's resources."""
    spec.pop("resources", None)


def _cpu_limit(template: Obj, container: str) -> str | None:
    spec = next((c for c in template["spec"]["containers"] if c["name"] == container), {})
    return ((spec.get("resources") or {}).get("limits") or {}).get("cpu")


def cpu_throttled(cluster: "Cluster") -> "Finding | None":
    """The most CPU-throttled container's workload gets a higher CPU limit (``resource-limits``)."""
    for share, namespace, pod_name, container in throttled_containers(cluster):
        pod = cluster.get("Pod", namespace, pod_name)
        workload = cluster.workload_of(pod) if pod is not None else None
        obj = cluster.get(*workload) if workload is not None else None
        limit = _cpu_limit(obj["spec"]["template"], container) if obj is not None else None
        if workload is None or limit is None:
            continue
        return _raise_cpu(cluster, workload, obj, container, limit, share)
    return None


def _raise_cpu(cluster: "Cluster", workload: tuple[str, str, str], obj: Obj, container: str, limit: str,
               share: float) -> "Finding":
    kind, namespace, name = workload
    what = (f"Container {container} of {kind} {namespace}/{name} is CPU-throttled in {share:.0%} of its CFS "
            f"periods: its CPU limit {limit} is below what it needs, so its requests queue and slow down "
            f"everything that calls it")
    previous = previous_revision(cluster, workload)
    if previous is not None:
        revision, template = previous
        before = _cpu_limit(template, container)
        if (differs_only_in(obj["spec"]["template"], template, container, _without_resources)
                and (before is None or parse_cpu(before) > parse_cpu(limit))):
            rollout_undo(cluster, workload, revision)
            return base.Finding("resource-limits", kind, namespace, name,
                                f"{what}. The last change only lowered its resources; fix: rolled back to "
                                f"revision {revision} (CPU limit {before or 'none'}).", [workload])
    raised = f"{int(parse_cpu(limit) * LIMIT_FACTOR)}m"
    cluster.tools.kubectl("set", "resources", f"{kind.lower()}/{name}", "-n", namespace, "-c", container,
                          f"--limits=cpu={raised}")
    return base.Finding("resource-limits", kind, namespace, name, f"{what}. Fix: raised the CPU limit to {raised}.",
                        [workload])
