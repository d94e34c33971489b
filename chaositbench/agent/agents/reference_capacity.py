"""Capacity and placement investigations of the ``reference`` agent: pods that are missing or never placed.

Each function takes the agent's :class:`~.reference.Cluster` survey, reads the evidence an SRE
would (pod conditions, the scheduler's ``FailedScheduling`` message, the controllers'
``FailedCreate`` and ``ScalingReplicaSet`` events, node specs, quotas and LimitRanges), applies
the least change that removes the cause and returns a :class:`~.reference.Finding`, or None
when its symptom is absent; :class:`~.reference.NoFinding` when it sees the symptom but cannot
name or fix the cause.

- :func:`unschedulable`: Pending pods the scheduler cannot place, by the reasons of its FitError —
  ``Insufficient <resource>`` beyond every node's allocatable (the workload's requests),
  ``node(s) were unschedulable`` (cordoned nodes) and ``didn't match Pod's node affinity/selector``
  (a nodeSelector no node satisfies);
- :func:`rejected`: workloads short of pods whose ReplicaSet or StatefulSet reports ``FailedCreate``
  because a ResourceQuota (``exceeded quota``) or a LimitRange (``maximum <r> usage per Container``)
  forbids them;
- :func:`scaled_to_zero`: a Deployment a Service selects, scaled to 0 replicas, put back to the
  replicas its last scale-down event (or the monitoring) says it had.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable

from . import reference as base

Obj = dict[str, Any]
Workload = tuple[str, str, str]

INSUFFICIENT = re.compile(r"\d+ Insufficient (?P<resource>[a-z0-9/-]+(?:\.[a-z0-9/-]+)*)")  # not the sentence's "."
CORDONED = "node(s) were unschedulable"
UNMATCHED = "didn't match Pod's node affinity/selector"
EXCEEDED_QUOTA = re.compile(r"exceeded quota: (?P<quota>[a-z0-9.-]+), requested: (?P<requested>\S+), "
                            r"used: (?P<used>\S+), limited: (?P<limited>[^\s,]+(?:,[^\s,]+)*)")
LIMIT_MAX = re.compile(r"maximum (?P<resource>[a-z0-9./-]+) usage per (?P<type>Container|Pod) is (?P<max>\S+), "
                       r"but limit is (?P<limit>[^\s,.]+)")
SCALED_DOWN = re.compile(r"Scaled down replica set (?P<rs>\S+) from (?P<replicas>\d+) to 0$")
HISTORY = "6h"  # how far back the monitoring is asked for a workload's replicas


def unschedulable(cluster: base.Cluster) -> base.Finding | None:
    """The cause of the first workload whose pods the scheduler leaves Pending, fixed."""
    for pod in cluster.live_pods():
        scheduled = next((c for c in (pod.get("status") or {}).get("conditions") or []
                          if c["type"] == "PodScheduled"), {})
        if scheduled.get("status") != "False" or scheduled.get("reason") != "Unschedulable":
            continue
        workload = cluster.workload_of(pod)
        if workload is None:
            continue
        message = scheduled.get("message") or ""
        if CORDONED in message:
            return _uncordon(cluster, workload, message)
        if UNMATCHED in message:
            return _unmatched_selector(cluster, workload, message)
        for match in INSUFFICIENT.finditer(message):
            finding = _oversized_request(cluster, workload, pod, match.group("resource"), message)
            if finding is not None:
                return finding
    return None


def rejected(cluster: base.Cluster) -> base.Finding | None:
    """The quota or LimitRange that forbids the pods of an unavailable workload, relaxed to admit them."""
    for kind, namespace, name in cluster.unavailable_workloads():
        for message in _failed_creates(cluster, (kind, namespace, name)):
            if (match := EXCEEDED_QUOTA.search(message)) is not None:
                return _raise_quota(cluster, (kind, namespace, name), match)
            if (match := LIMIT_MAX.search(message)) is not None:
                return _raise_limit_range(cluster, (kind, namespace, name), match)
    return None


def scaled_to_zero(cluster: base.Cluster) -> base.Finding | None:
    """A Deployment that a Service routes to, at 0 replicas, scaled back to what it had."""
    for deployment in cluster.of_kind("Deployment"):
        if (deployment.get("spec") or {}).get("replicas", 1) != 0:
            continue
        namespace, name = deployment["metadata"]["namespace"], deployment["metadata"]["name"]
        services = [s["metadata"]["name"] for s in cluster.of_kind("Service", namespace)
                    if _selects((s.get("spec") or {}).get("selector") or {}, deployment)]
        if not services:
            continue
        replicas, evidence = _replicas_before(cluster, deployment)
        if replicas is None:
            raise base.NoFinding(f"Deployment {namespace}/{name} is at 0 replicas and Service(s) "
                                 f"{', '.join(services)} route to it, but nothing says how many it had")
        cluster.tools.kubectl("scale", f"deployment/{name}", "-n", namespace, f"--replicas={replicas}")
        return base.Finding("scaling", "Deployment", namespace, name,
                            f"Deployment {namespace}/{name} is scaled to 0 replicas, so Service(s) "
                            f"{', '.join(services)} have no endpoints; {evidence}. "
                            f"Fix: scaled it back to {replicas}.", [("Deployment", namespace, name)])
    return None


# -- scheduling ------------------------------------------------------------------------------

def _uncordon(cluster: base.Cluster, workload: Workload, message: str) -> base.Finding:
    """Uncordon the Ready nodes without pressure that someone cordoned (a cordon with a cause stays)."""
    cordoned = sorted(n["metadata"]["name"] for n in cluster.nodes if (n.get("spec") or {}).get("unschedulable")
                      and _healthy(n))
    if not cordoned:
        raise base.NoFinding(f"{_name(workload)} pods are Pending ({message}), and every cordoned node is "
                             "NotReady or under pressure")
    for node in cordoned:
        cluster.tools.kubectl("uncordon", node)
    return base.Finding("node-scheduling", "Node", None, cordoned[0],
                        f"{_name(workload)} pods are Pending: {message.split(' preemption:')[0]} Node(s) "
                        f"{', '.join(cordoned)} are cordoned though Ready and without pressure. "
                        f"Fix: uncordoned them.", _awaited(cluster, workload))


def _unmatched_selector(cluster: base.Cluster, workload: Workload, message: str) -> base.Finding:
    """Put back the previous revision when it differs only in placement, else drop the selector keys no node has."""
    kind, namespace, name = workload
    selector = (cluster.get(kind, namespace, name) or {}).get("spec", {}).get("template", {}).get("spec", {}).get(
        "nodeSelector") or {}
    unmatched = sorted(key for key, value in selector.items()
                       if not any((n["metadata"].get("labels") or {}).get(key) == value for n in cluster.nodes))
    what = (f"{_name(workload)} pods are Pending: no node matches its placement"
            + (f" (nodeSelector {', '.join(f'{k}={selector[k]}' for k in unmatched)})" if unmatched else ""))
    if _undo_if_only(cluster, workload, lambda spec: _drop(spec, "nodeSelector", "affinity")):
        fix = "rolled back to the previous revision, which differs only in its placement"
    elif unmatched:
        cluster.tools.kubectl("patch", f"{kind.lower()}/{name}", "-n", namespace, "--type=json", "-p", json.dumps(
            [{"op": "remove", "path": "/spec/template/spec/nodeSelector/" + key.replace("~", "~0").replace("/", "~1")}
             for key in unmatched]))
        fix = "removed the selector keys no node carries"
    else:
        raise base.NoFinding(f"{what} ({message}); its node affinity is not one this agent can relax")
    return base.Finding("node-scheduling", kind, namespace, name, f"{what}. Fix: {fix}.", _awaited(cluster, workload))


def _oversized_request(cluster: base.Cluster, workload: Workload, pod: Obj, resource: str,
                       message: str) -> base.Finding | None:
    """The workload's request for ``resource`` if no node could ever offer it (else the cluster is merely full)."""
    requested = sum(_amount(resource, ((c.get("resources") or {}).get("requests") or {}).get(resource, "0"))
                    for c in pod["spec"]["containers"])
    largest = max((_amount(resource, ((n.get("status") or {}).get("allocatable") or {}).get(resource, "0"))
                   for n in cluster.nodes), default=0)
    if requested <= largest:
        return None
    kind, namespace, name = workload
    what = (f"{_name(workload)} pods are Pending ({message.split(' preemption:')[0]}): they request "
            f"{_show(resource, requested)} of {resource}, more than any node's allocatable "
            f"({_show(resource, largest)})")
    if _undo_if_only(cluster, workload, _drop_resources):
        return base.Finding("resource-limits", kind, namespace, name,
                            f"{what}. Fix: rolled back to the previous revision, which differs only in its "
                            "resources.", _awaited(cluster, workload))
    raise base.NoFinding(f"{what}; no earlier revision differing only in resources to go back to")


# -- admission -------------------------------------------------------------------------------

def _raise_quota(cluster: base.Cluster, workload: Workload, match: re.Match[str]) -> base.Finding:
    """Raise each exceeded hard limit of the quota to what the workload's missing pods need, plus one pod
    of headroom for a rolling update."""
    kind, namespace, name = workload
    quota = match.group("quota")
    requested, used, limited = (_pairs(match.group(g)) for g in ("requested", "used", "limited"))
    missing = _wanted(cluster, workload) - _pod_count(cluster, workload)
    hard = {}
    for resource, per_pod in requested.items():
        needed = _amount(resource, used.get(resource, "0")) + (missing + 1) * _amount(resource, per_pod)
        hard[resource] = _show(resource, max(needed, _amount(resource, limited.get(resource, "0"))))
    cluster.tools.kubectl("patch", "resourcequota", quota, "-n", namespace, "--type=merge", "-p",
                          json.dumps({"spec": {"hard": hard}}))
    return base.Finding("quota", "ResourceQuota", namespace, quota,
                        f"{_name(workload)} has {missing} pod(s) missing: ResourceQuota {namespace}/{quota} rejects "
                        f"them (requested {match.group('requested')}, used {match.group('used')}, limited "
                        f"{match.group('limited')}). Fix: raised it to "
                        + ", ".join(f"{k}={v}" for k, v in hard.items()) + ".", _awaited(cluster, workload))


def _raise_limit_range(cluster: base.Cluster, workload: Workload, match: re.Match[str]) -> base.Finding:
    """Raise the LimitRange maximum that forbids the workload's pods to the workload's own limit."""
    kind, namespace, name = workload
    resource, scope, maximum, limit = match.group("resource", "type", "max", "limit")
    result = cluster.tools.kubectl("get", "limitranges", "-n", namespace, "-o", "json")
    ranges = json.loads(result.stdout).get("items", []) if result.ok else []
    for limit_range in ranges:
        for index, item in enumerate((limit_range.get("spec") or {}).get("limits") or []):
            current = (item.get("max") or {}).get(resource)
            if item.get("type") != scope or current is None or _amount(resource, current) != _amount(resource, maximum):
                continue
            range_name = limit_range["metadata"]["name"]
            cluster.tools.kubectl("patch", "limitrange", range_name, "-n", namespace, "--type=json", "-p", json.dumps(
                [{"op": "test", "path": f"/spec/limits/{index}/max/{resource}", "value": current},
                 {"op": "replace", "path": f"/spec/limits/{index}/max/{resource}", "value": limit}]))
            return base.Finding("quota", "LimitRange", namespace, range_name,
                                f"{_name(workload)} cannot create its pods: LimitRange {namespace}/{range_name} "
                                f"allows at most {maximum} of {resource} per {scope}, its limit is {limit}. "
                                f"Fix: raised that maximum to {limit}.", _awaited(cluster, workload))
    raise base.NoFinding(f"{_name(workload)} pods are forbidden (maximum {resource} per {scope} {maximum}), "
                         f"and no LimitRange of {namespace} has that maximum")


def _failed_creates(cluster: base.Cluster, workload: Workload) -> list[str]:
    """Messages of the FailedCreate events of the workload (a StatefulSet) or its newest ReplicaSet, newest first."""
    kind, namespace, name = workload
    owner = ("StatefulSet", name)
    if kind == "Deployment":
        revisions = cluster.revision_sets(workload)
        if not revisions:
            return []
        owner = ("ReplicaSet", revisions[0]["metadata"]["name"])
    events = [e for e in cluster.events(namespace) if e.get("reason") == "FailedCreate"
              and (e["involvedObject"].get("kind"), e["involvedObject"].get("name")) == owner]
    events.sort(key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "", reverse=True)
    return [e.get("message") or "" for e in events]


# -- scaling ---------------------------------------------------------------------------------

def _replicas_before(cluster: base.Cluster, deployment: Obj) -> tuple[int | None, str]:
    """The replicas the Deployment had before it went to 0, and where that was read."""
    namespace, name = deployment["metadata"]["namespace"], deployment["metadata"]["name"]
    events = sorted((e for e in cluster.events(namespace) if e.get("reason") == "ScalingReplicaSet"
                     and e["involvedObject"].get("kind") == "Deployment" and e["involvedObject"].get("name") == name),
                    key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "", reverse=True)
    for event in events:
        if (match := SCALED_DOWN.search(event.get("message") or "")) is not None and int(match.group("replicas")):
            return int(match.group("replicas")), f"its event says \"{event['message']}\""
    if cluster.tools.prometheus_url:
        try:
            series = cluster.tools.promql(f'max_over_time(kube_deployment_spec_replicas{{namespace="{namespace}",'
                                          f'deployment="{name}"}}[{HISTORY}])')
        except Exception:  # no monitoring to ask: the events were the evidence
            series = []
        if series and int(float(series[0]["value"][1])) > 0:
            return int(float(series[0]["value"][1])), f"the monitoring saw {series[0]['value'][1]} replicas"
    return None, ""


# -- helpers ---------------------------------------------------------------------------------

def _undo_if_only(cluster: base.Cluster, workload: Workload, strip: Callable[[Obj], Any]) -> bool:
    """``rollout undo`` to the previous revision if the current pod template differs from it only in
    what ``strip`` removes from a pod spec; whether it did."""
    kind, namespace, name = workload
    sets = cluster.revision_sets(workload)
    if len(sets) < 2:
        return False

    def normalized(template: Obj) -> Obj:
        copy = json.loads(json.dumps(template))
        (copy.get("metadata") or {}).get("labels", {}).pop("pod-template-hash", None)
        strip(copy["spec"])
        return copy
    current = (cluster.get(kind, namespace, name) or {})["spec"]["template"]
    if normalized(current) != normalized(sets[1]["spec"]["template"]):
        return False
    revision = (sets[1]["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision")
    return cluster.tools.kubectl("rollout", "undo", f"{kind.lower()}/{name}", "-n", namespace,
                                 f"--to-revision={revision}").ok


def _drop(spec: Obj, *fields: str) -> None:
    for key in fields:
        spec.pop(key, None)


def _drop_resources(spec: Obj) -> None:
    for container in spec["containers"]:
        container.pop("resources", None)


def _healthy(node: Obj) -> bool:
    conditions = {c["type"]: c["status"] for c in (node.get("status") or {}).get("conditions") or []}
    return conditions.get("Ready") == "True" and not any(
        status == "True" for kind, status in conditions.items() if kind.endswith("Pressure"))


def _selects(selector: dict[str, str], deployment: Obj) -> bool:
    labels = ((deployment["spec"].get("template") or {}).get("metadata") or {}).get("labels") or {}
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _pairs(text: str) -> dict[str, str]:
    """``a=1,b=2Mi`` → ``{"a": "1", "b": "2Mi"}``."""
    return dict(part.split("=", 1) for part in text.split(",") if "=" in part)


def _amount(resource: str, quantity: str) -> int:
    """A quantity in base units: millicores for cpu, bytes for memory and storage, else a count."""
    if resource.split(".")[-1] == "cpu":
        return int(quantity[:-1]) if quantity.endswith("m") else int(float(quantity) * 1000)
    return base.parse_memory(quantity)


def _show(resource: str, amount: int) -> str:
    if resource.split(".")[-1] == "cpu":
        return f"{amount}m"
    if resource.split(".")[-1] in ("memory", "ephemeral-storage", "storage"):
        return base.format_memory(amount)
    return str(amount)


def _wanted(cluster: base.Cluster, workload: Workload) -> int:
    return int(((cluster.get(*workload) or {}).get("spec") or {}).get("replicas", 1))


def _pod_count(cluster: base.Cluster, workload: Workload) -> int:
    return sum(1 for p in cluster.live_pods() if cluster.workload_of(p) == workload)


def _awaited(cluster: base.Cluster, workload: Workload) -> list[Workload]:
    return sorted({workload, *cluster.unavailable_workloads()})


def _name(workload: Workload) -> str:
    return f"{workload[0]} {workload[1]}/{workload[2]}"
