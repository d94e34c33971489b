"""The ``reference`` agent: a heuristic SRE that investigates, fixes the root cause with the least change, verifies.

It knows nothing of the scenario: everything comes from its tools in the incident's namespaces.

1. **Survey**: ``kubectl get pods,deploy,rs,sts,svc,netpol -o json`` per allowed namespace,
   ``kubectl get nodes -o json``.
2. **Triage** (``reference_triage``): the impact — unavailable workloads, nodes under pressure,
   services missing their SLO in Prometheus. Nothing impacted → ``no-fault``, changing nothing.
   Failing pods that no workload owns and no Service selects (debug pods, one-off Jobs) are
   bystanders: set aside, left untouched and named in the diagnosis.
3. **Classify**, most fundamental cause first:
   - a node under Disk/Memory pressure with the simulated kubelet's node-usage annotation
     (``chaositbench.io/node-disk-used`` / ``-memory-used``) → remove it → ``node-pressure``;
   - pods the scheduler leaves Pending, or that their controller cannot create (``FailedCreate``), and
     Deployments scaled to 0 under a Service (``reference_capacity``): requests beyond every node's
     allocatable or a nodeSelector no node has → ``rollout undo`` when the previous revision differs
     only there → ``resource-limits`` / ``node-scheduling``; nodes cordoned though healthy → uncordon →
     ``node-scheduling``; a ResourceQuota (``exceeded quota``) or LimitRange (``maximum ... per
     Container``) that forbids the pods → sized to the workload → ``quota``; a Deployment at 0 →
     back to the replicas its last scale-down event (or the monitoring) shows → ``scaling``;
   - containers last terminated ``OOMKilled`` → double the memory limit of the owning workload
     → ``resource-limits``;
   - containers waiting in ``ErrImagePull``/``ImagePullBackOff`` → the earlier revision's image
     (``rollout undo``, or ``set image`` when the release changed more) → ``image``
     (:mod:`.reference_image`);
   - containers waiting in ``CreateContainerConfigError`` (a missing ConfigMap/Secret or key) → undo
     the change that broke the reference, or copy what is missing from the same object of another
     allowed namespace → ``config-missing`` (:mod:`.reference_config`);
   - a failing init container whose log rejects a misspelt value → the accepted value →
     ``init-container`` (:mod:`.reference_init`);
   - crash-looping containers whose log says a mounted config file lacks a required key that it
     holds misspelt → rename it in the ConfigMap → ``config-missing``;
   - crash-looping containers whose previous log has ``FATAL: NAME="v" is not one of [...]`` (or
     ``does not match pattern``) → put back the previous revision when it differs only in that
     variable (``rollout undo``), else set an accepted value where the variable is defined (the
     pod template, or the ConfigMap/Secret it references) → ``config-env``;
   - else, crash-looping containers rejecting (``does not match pattern``) a value read from a ConfigMap →
     the value the ConfigMaps sharing its settings agree on → ``config-env``;
   - a readiness probe answered 404, or refused on a port the container does not declare, or
     liveness kills by a probe allowing the start-up under 10 s → put back the previous revision's
     probe (else the declared port, or tolerant timing) → ``probe`` (``reference_probes``);
   - not-ready callers refused by (or timing out on) a Service (``host:port: dial tcp ...``) that
     selects no pod (a typo'd label: the selector gets the closest workload's labels) or targets a
     port its pods do not declare → fix the Service → ``service-selector`` (``reference_services``);
   - not-ready pods whose lookups time out (``lookup X on S:53: read udp ...: i/o timeout``) because
     their namespace's egress policies admit no DNS → add the missing protocol or peer → ``dns``
     (``reference_dns``);
   - Running-but-not-Ready pods whose log shows ``host:port: dial tcp ...: i/o timeout`` → resolve
     the host to a Service, find the NetworkPolicy (ingress at the destination, egress at the
     source) that admits none of the flow and admit it with the least change (a peer on the rule
     for the port, the port on the rule for the peer, else a rule in the workload's own policy
     rather than a namespace-wide one) → ``network-policy``;
   - Running-but-not-Ready pods whose log has the API server's 403 for their ServiceAccount (``... is
     forbidden: User "system:serviceaccount:ns:sa" cannot get resource ...``) → add exactly that rule to
     the Role the ServiceAccount is bound to (or bind it to a new one) → ``rbac`` (:mod:`.reference_rbac`);
   - a HorizontalPodAutoscaler at its ``maxReplicas`` reporting ``ScalingLimited`` (``TooManyReplicas``) →
     raise ``maxReplicas`` to twice what its metrics ask for → ``autoscaling`` (:mod:`.reference_load`);
   - containers throttled in more than 25% of their CFS periods (cAdvisor, PromQL) → raise the CPU limit
     of the most throttled one's workload (roll back when the last change only lowered its resources)
     → ``resource-limits`` (:mod:`.reference_load`);
   - a node under pressure that evicted pods of the allowed namespaces, its cause not visible → cordon
     it → ``node-pressure``;
   - an impact it cannot explain (or fix) → it escalates, naming what it saw.
4. **Verify**: wait, within the deadline, until the node pressure relieved is gone (with a Prometheus,
   the node's usage back within the kubelet's eviction threshold, as cAdvisor shows it; else the
   condition, which lags by the pressure-transition period) and the affected workloads are available
   again, in the API and then in Prometheus (kube-state-metrics).
5. **Submit** the diagnosis.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from ..protocol import Diagnosis, Incident
from ..tools import Tools
from . import reference_capacity as capacity
from . import reference_load as load
from . import reference_rbac as rbac
from . import reference_triage as triage
from .reference_dns import blocked_dns
from .reference_netpol import Endpoint, find_blocker
from .reference_pods import differs_only_in, previous_revision, without_variable
from .reference_probes import misconfigured_probe
from .reference_services import broken_service

Obj = dict[str, Any]

NODE_USAGE_ANNOTATIONS = {"DiskPressure": "chaositbench.io/node-disk-used",
                          "MemoryPressure": "chaositbench.io/node-memory-used"}
MAX_MEMORY_BYTES = 8 * 1024 ** 3
FATAL_ONE_OF = re.compile(r'FATAL: (?P<name>[A-Za-z_][A-Za-z0-9_]*)="(?P<value>[^"]*)" is not one of \[(?P<allowed>[^\]]*)\]')
FATAL_PATTERN = re.compile(r'FATAL: (?P<name>[A-Za-z_][A-Za-z0-9_]*)="(?P<value>[^"]*)" does not match pattern (?P<pattern>\S+)')
# "<host>:<port>: dial tcp <ip>:<port>: i/o timeout" — the pod's own connection; a dependency's error it
# relays ("upstream X (host:port) unavailable: dial ...") has no "host:port: dial" and is not matched.
DIAL_TIMEOUT = re.compile(r"(?:^|\s)(?P<host>[A-Za-z0-9.-]+):(?P<port>\d+): dial (?P<net>tcp|udp) \S+: i/o timeout", re.M)
UNITS = {"Ki": 1024, "Mi": 1024 ** 2, "Gi": 1024 ** 3, "Ti": 1024 ** 4, "k": 1000, "M": 1000 ** 2, "G": 1000 ** 3}
DEADLINE_MARGIN_S = 5.0
MONITORING_LAG_S = 15.0  # how long the monitoring may take to see what the API already shows
MONITORING_POLL_S = 0.5
#: how many of a container's last log lines the survey reads
LOG_TAIL = 50
# a node whose usage (cAdvisor, root cgroup) still crosses the kubelet's hard eviction threshold behind a
# pressure condition: nodefs.available<10%, memory.available<100Mi (capacity minus the working set)
THRESHOLD_MET = {"DiskPressure": 'max(container_fs_usage_bytes{{id="/",node="{node}"}})'
                                 ' / max(container_fs_limit_bytes{{id="/",node="{node}"}}) > 0.9',
                 "MemoryPressure": 'max(kube_node_status_capacity{{node="{node}",resource="memory"}})'
                                   ' - max(container_memory_working_set_bytes{{id="/",node="{node}"}})'
                                   ' < 100 * 1024 * 1024'}
# kube-state-metrics series of a workload's (available or ready, desired) replicas
KSM_REPLICAS = {"Deployment": ("kube_deployment_status_replicas_available", "kube_deployment_spec_replicas"),
                "StatefulSet": ("kube_statefulset_status_replicas_ready", "kube_statefulset_replicas")}


class NoFinding(Exception):
    """The symptom seen does not lead to a root cause this agent can name."""


@dataclass
class Finding:
    """A root cause, the fix applied and the workloads that must be available again."""

    category: str
    kind: str | None
    namespace: str | None
    name: str | None
    summary: str
    awaited: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, namespace, name)
    relieved: list[tuple[str, str]] = field(default_factory=list)  # (node, pressure condition) to turn False


def parse_memory(quantity: str) -> int:
    """Bytes of a Kubernetes memory quantity (``48Mi``, ``1G``, ``512``)."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([KMGT]i|[kMG])?", quantity.strip())
    if not match:
        raise ValueError(f"not a memory quantity: {quantity!r}")
    return int(float(match.group(1)) * UNITS.get(match.group(2) or "", 1))


def format_memory(size: int) -> str:
    """A byte count as the largest binary unit that divides it (``100663296`` → ``96Mi``)."""
    for unit in ("Gi", "Mi", "Ki"):
        if size % UNITS[unit] == 0:
            return f"{size // UNITS[unit]}{unit}"
    return str(size)


def _deadline(incident: Incident) -> float:
    return datetime.fromisoformat(incident.deadline.replace("Z", "+00:00")).timestamp()


def _labels(obj: Obj) -> dict[str, str]:
    return dict(obj["metadata"].get("labels") or {})


class Cluster:
    """What the survey saw in the allowed namespaces (and the nodes), with owner and Service lookups."""

    def __init__(self, tools: Tools, namespaces: list[str]) -> None:
        self.tools = tools
        self.namespaces = namespaces
        self.items: list[Obj] = []
        for namespace in namespaces:
            self.items += self._get_json("get", "pods,deploy,rs,sts,svc,netpol", "-n", namespace, "-o", "json")
        self.nodes = self._get_json("get", "nodes", "-o", "json")
        self._events: dict[str, list[Obj]] = {}
        self._logs: dict[tuple[str, str, str | None, bool], str] = {}

    def _get_json(self, *args: str) -> list[Obj]:
        result = self.tools.kubectl(*args)
        if not result.ok:
            raise NoFinding(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
        return json.loads(result.stdout).get("items", [])

    def events(self, namespace: str) -> list[Obj]:
        """The Events of ``namespace`` (none if unreadable), read once per survey."""
        if namespace not in self._events:
            result = self.tools.kubectl("get", "events", "-n", namespace, "-o", "json")
            self._events[namespace] = json.loads(result.stdout).get("items", []) if result.ok else []
        return self._events[namespace]

    def logs(self, pod: Obj, container: str | None = None, previous: bool = False) -> str:
        """The last ``LOG_TAIL`` lines of a pod's (container's, previous instance's) logs, read once per survey."""
        key = (pod["metadata"]["namespace"], pod["metadata"]["name"], container, previous)
        if key not in self._logs:
            self._logs[key] = self.tools.logs(key[0], key[1], container=container, previous=previous,
                                              tail=LOG_TAIL).stdout
        return self._logs[key]

    def of_kind(self, kind: str, namespace: str | None = None) -> list[Obj]:
        return [i for i in self.items if i["kind"] == kind
                and (namespace is None or i["metadata"].get("namespace") == namespace)]

    def get(self, kind: str, namespace: str, name: str) -> Obj | None:
        return next((i for i in self.of_kind(kind, namespace) if i["metadata"]["name"] == name), None)

    def workload_of(self, pod: Obj) -> tuple[str, str, str] | None:
        """The Deployment or StatefulSet owning ``pod``, as (kind, namespace, name)."""
        namespace = pod["metadata"]["namespace"]
        for owner in pod["metadata"].get("ownerReferences") or []:
            if owner["kind"] == "StatefulSet":
                return "StatefulSet", namespace, owner["name"]
            if owner["kind"] == "ReplicaSet":
                replica_set = self.get("ReplicaSet", namespace, owner["name"])
                for parent in (replica_set or {}).get("metadata", {}).get("ownerReferences") or []:
                    if parent["kind"] == "Deployment":
                        return "Deployment", namespace, parent["name"]
        return None

    def service_for_host(self, host: str, source_namespace: str) -> Obj | None:
        """The Service a DNS name (``svc``, ``svc.ns``, ``svc.ns.svc.cluster.local``) or ClusterIP designates."""
        for service in self.of_kind("Service"):
            if (service.get("spec") or {}).get("clusterIP") == host:
                return service
        parts = host.split(".")
        namespace = parts[1] if len(parts) > 1 else source_namespace
        return self.get("Service", namespace, parts[0])

    def pods_of(self, service: Obj) -> list[Obj]:
        selector = (service.get("spec") or {}).get("selector") or {}
        if not selector:
            return []
        return [p for p in self.of_kind("Pod", service["metadata"]["namespace"])
                if all(_labels(p).get(k) == v for k, v in selector.items())]

    def unavailable_workloads(self) -> list[tuple[str, str, str]]:
        """Deployments and StatefulSets with fewer ready replicas than they want, as (kind, namespace, name)."""
        return [(w["kind"], w["metadata"]["namespace"], w["metadata"]["name"])
                for w in self.of_kind("Deployment") + self.of_kind("StatefulSet")
                if (w.get("status") or {}).get("readyReplicas", 0) < (w.get("spec") or {}).get("replicas", 1)]

    def revision_sets(self, workload: tuple[str, str, str]) -> list[Obj]:
        """The ReplicaSets of a Deployment, newest revision first (none for other kinds)."""
        kind, namespace, name = workload
        if kind != "Deployment":
            return []
        owned = [rs for rs in self.of_kind("ReplicaSet", namespace)
                 if any(o["kind"] == "Deployment" and o["name"] == name
                        for o in rs["metadata"].get("ownerReferences") or [])]
        revision = lambda rs: int((rs["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision", 0))
        return sorted(owned, key=revision, reverse=True)

    def revisions(self, workload: tuple[str, str, str]) -> list[tuple[str, Obj]]:
        """(revision, pod template) of a Deployment's ReplicaSets, newest first (none for other kinds)."""
        return [((rs["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision", "0"),
                 rs["spec"]["template"]) for rs in self.revision_sets(workload)]

    def live_pods(self) -> list[Obj]:
        return [p for p in self.of_kind("Pod") if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]

    def running_not_ready(self) -> list[tuple[Obj, tuple[str, str, str]]]:
        """One Running-but-not-Ready pod of each workload that has one, with its workload."""
        found: dict[tuple[str, str, str], Obj] = {}
        for pod in self.live_pods():
            status = pod.get("status") or {}
            ready = any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions") or [])
            workload = self.workload_of(pod)
            if not ready and status.get("phase") == "Running" and workload is not None:
                found.setdefault(workload, pod)
        return [(pod, workload) for workload, pod in found.items()]

    def namespace_labels(self) -> dict[str, dict[str, str]]:
        """The labels of every namespace (only the well-known name label of the allowed ones if unreadable)."""
        result = self.tools.kubectl("get", "namespaces", "-o", "json")
        if not result.ok:
            return {ns: {"kubernetes.io/metadata.name": ns} for ns in self.namespaces}
        return {ns["metadata"]["name"]: _labels(ns) for ns in json.loads(result.stdout)["items"]}

    def json_patch(self, kind: str, namespace: str, name: str, operations: list[Obj]) -> None:
        """``kubectl patch <kind> <name> -n <namespace> --type=json`` with ``operations``."""
        self.tools.kubectl("patch", kind.lower(), name, "-n", namespace, "--type=json", "-p", json.dumps(operations))


class ReferenceAgent:
    """Investigates through its tools, fixes the root cause with the least change, verifies, diagnoses."""

    def run(self, incident: Incident, tools: Tools) -> Diagnosis | None:
        """Survey, fix the first root cause found, verify and diagnose; escalate what it cannot explain."""
        deadline = _deadline(incident) - DEADLINE_MARGIN_S
        try:
            cluster = Cluster(tools, incident.namespaces)
        except NoFinding as exc:
            return Diagnosis(None, f"Cannot survey the cluster: {exc}", escalate=True)
        impact = triage.assess(cluster)
        if not impact:
            return triage.no_fault(incident, impact)
        finding, unexplained = None, []
        for investigate in self._investigations():
            try:
                finding = investigate(cluster)
            except NoFinding as exc:
                unexplained.append(str(exc))
                continue
            if finding is not None:
                break
        if finding is None:
            return triage.unexplained(impact, unexplained)
        recovered = self._verify(tools, finding, deadline)
        summary = finding.summary + (" Verified: the cluster reports it recovered." if recovered
                                     else " It had not recovered by the deadline.") + triage.left_alone(impact)
        return Diagnosis({"category": finding.category, "kind": finding.kind, "namespace": finding.namespace,
                          "name": finding.name}, summary)

    def _investigations(self) -> list[Callable[[Cluster], Finding | None]]:
        """Most fundamental first; a pressure condition whose cause is not visible is the last resort."""
        from . import reference_config as config, reference_image as image, reference_init as init
        return [lambda cluster: self._node_pressure(cluster, knob=True),
                capacity.unschedulable, capacity.rejected, capacity.scaled_to_zero, self._oom_killed,
                image.image_pull, config.missing_config, init.failing_init_container, config.config_file_key,
                self._bad_env, config.config_value, misconfigured_probe, broken_service, blocked_dns,
                self._blocked_dependency, rbac.rbac_denied, load.hpa_capped, load.cpu_throttled,
                lambda cluster: self._node_pressure(cluster, knob=False)]

    # -- node pressure ---------------------------------------------------------------------------

    def _node_pressure(self, cluster: Cluster, knob: bool) -> Finding | None:
        """A node under pressure: with ``knob``, one whose simulated usage annotation explains it (removed);
        without, one whose usage is not visible and that evicted pods of the allowed namespaces (cordoned)."""
        evicted = [p for p in cluster.of_kind("Pod") if (p.get("status") or {}).get("reason") == "Evicted"]
        for node in cluster.nodes:
            pressures = [c["type"] for c in (node.get("status") or {}).get("conditions") or []
                         if c["type"] in NODE_USAGE_ANNOTATIONS and c["status"] == "True"]
            name = node["metadata"]["name"]
            annotations = node["metadata"].get("annotations") or {}
            knobs = [NODE_USAGE_ANNOTATIONS[p] for p in pressures if NODE_USAGE_ANNOTATIONS[p] in annotations]
            victims = [p for p in evicted if (p.get("spec") or {}).get("nodeName") == name]
            if knob and knobs:
                cluster.tools.kubectl("annotate", "node", name, *[f"{k}-" for k in knobs])
                action = "removed the node-usage annotation " + ", ".join(f"{k}={annotations[k]}" for k in knobs)
                relieved = [(name, p) for p in pressures if NODE_USAGE_ANNOTATIONS[p] in knobs]
            elif not knob and pressures and victims:
                cluster.tools.kubectl("cordon", name)
                action = "cordoned it (what fills it is outside the allowed namespaces)"
                relieved = []
            else:
                continue
            awaited = sorted({w for p in victims if (w := cluster.workload_of(p)) is not None}
                             | set(cluster.unavailable_workloads()))
            return Finding("node-pressure", "Node", None, name,
                           f"Node {name} reports {', '.join(pressures)}; the kubelet evicted {len(victims)} pod(s) "
                           f"of the allowed namespaces from it. Fix: {action}.", awaited, relieved)
        return None

    # -- OOMKilled -------------------------------------------------------------------------------

    def _oom_killed(self, cluster: Cluster) -> Finding | None:
        for pod in cluster.live_pods():
            for status in (pod.get("status") or {}).get("containerStatuses") or []:
                terminated = (status.get("lastState") or {}).get("terminated") or {}
                current = (status.get("state") or {}).get("terminated") or {}
                if "OOMKilled" not in (terminated.get("reason"), current.get("reason")):
                    continue
                workload = cluster.workload_of(pod)
                if workload is None:
                    continue
                return self._raise_memory(cluster, workload, status["name"])
        return None

    def _raise_memory(self, cluster: Cluster, workload: tuple[str, str, str], container: str) -> Finding:
        kind, namespace, name = workload
        obj = cluster.get(kind, namespace, name)
        spec = next(c for c in obj["spec"]["template"]["spec"]["containers"] if c["name"] == container)
        resources = spec.get("resources") or {}
        limit = (resources.get("limits") or {}).get("memory")
        request = (resources.get("requests") or {}).get("memory")
        if limit is None:
            raise NoFinding(f"{kind} {namespace}/{name} container {container} is OOMKilled without a memory limit")
        new_limit = format_memory(min(2 * parse_memory(limit), MAX_MEMORY_BYTES))
        cluster.tools.kubectl("set", "resources", f"{kind.lower()}/{name}", "-n", namespace, "-c", container,
                              f"--limits=memory={new_limit}")
        return Finding("resource-limits", kind, namespace, name,
                       f"Container {container} of {kind} {namespace}/{name} is OOMKilled: its memory limit {limit}"
                       f" (request {request}) is below its working set. Fix: raised the limit to {new_limit}.",
                       [workload])

    # -- wrong environment value -------------------------------------------------------------------

    def _bad_env(self, cluster: Cluster) -> Finding | None:
        seen: set[tuple[str, str, str]] = set()
        for pod in cluster.live_pods():
            workload = cluster.workload_of(pod)
            if workload is None or workload in seen:
                continue
            for status in (pod.get("status") or {}).get("containerStatuses") or []:
                waiting = (status.get("state") or {}).get("waiting") or {}
                if waiting.get("reason") != "CrashLoopBackOff" and not (status.get("lastState") or {}).get("terminated"):
                    continue
                seen.add(workload)
                logs = cluster.logs(pod, container=status["name"], previous=True)
                match = FATAL_ONE_OF.search(logs) or FATAL_PATTERN.search(logs)
                if match:
                    return self._fix_env(cluster, workload, status["name"], match)
        return None

    def _fix_env(self, cluster: Cluster, workload: tuple[str, str, str], container: str,
                 match: re.Match[str]) -> Finding:
        kind, namespace, name = workload
        variable, bad = match.group("name"), match.group("value")
        allowed = match.group("allowed").split() if "allowed" in match.groupdict() else []
        pattern = match.groupdict().get("pattern")

        def acceptable(value: str | None) -> bool:
            return value is not None and (value in allowed if allowed else bool(re.fullmatch(pattern or "", value)))

        obj = cluster.get(kind, namespace, name)
        entry = _env_entry(obj["spec"]["template"], container, variable)
        what = f'{kind} {namespace}/{name} container {container} exits at start-up: {variable}="{bad}" is rejected'
        previous = previous_revision(cluster, workload)
        if previous is not None and entry is not None:
            revision, template = previous
            if differs_only_in(obj["spec"]["template"], template, container, without_variable(variable)):
                cluster.tools.kubectl("rollout", "undo", f"{kind.lower()}/{name}", "-n", namespace,
                                      f"--to-revision={revision}")
                return Finding("config-env", kind, namespace, name,
                               f"{what}. The last change only set {variable}; fix: rolled back to revision {revision}.",
                               [workload])
        if entry is not None and "valueFrom" in entry:
            return self._fix_env_source(cluster, workload, variable, bad, entry["valueFrom"], allowed, what)
        good = next((v for v in self._previous_values(cluster, workload, container, variable) if acceptable(v)),
                    allowed[0] if allowed else None)
        if good is None:
            raise NoFinding(f"{what}, and no accepted value is known")
        cluster.tools.kubectl("set", "env", f"{kind.lower()}/{name}", "-n", namespace, "-c", container,
                              f"{variable}={good}")
        return Finding("config-env", kind, namespace, name, f"{what}. Fix: set {variable}={good}.", [workload])

    def _fix_env_source(self, cluster: Cluster, workload: tuple[str, str, str], variable: str, bad: str,
                        source: Obj, allowed: list[str], what: str) -> Finding:
        ref = source.get("configMapKeyRef") or source.get("secretKeyRef")
        if ref is None or not allowed:
            raise NoFinding(f"{what}; it comes from {source}, which this agent does not fix")
        kind = "ConfigMap" if "configMapKeyRef" in source else "Secret"
        namespace = workload[1]
        good = allowed[0]
        if kind == "ConfigMap":
            body = {"data": {ref["key"]: good}}
        else:
            body = {"stringData": {ref["key"]: good}}
        cluster.tools.kubectl("patch", kind.lower(), ref["name"], "-n", namespace, "--type=merge", "-p",
                              json.dumps(body))
        cluster.tools.kubectl("rollout", "restart", f"{workload[0].lower()}/{workload[2]}", "-n", namespace)
        return Finding("config-env", kind, namespace, ref["name"],
                       f'{what}; it comes from {kind} {namespace}/{ref["name"]} key {ref["key"]}. '
                       f"Fix: set it to {good} and restarted the workload.", [workload])

    def _previous_values(self, cluster: Cluster, workload: tuple[str, str, str], container: str,
                         variable: str) -> list[str]:
        """Literal values of ``variable`` in the workload's earlier revisions, newest first."""
        values = []
        for _, template in cluster.revisions(workload)[1:]:
            entry = _env_entry(template, container, variable)
            if entry is not None and "value" in entry:
                values.append(entry["value"])
        return values

    # -- blocked dependency ------------------------------------------------------------------------

    def _blocked_dependency(self, cluster: Cluster) -> Finding | None:
        for pod, workload in cluster.running_not_ready():
            for match in DIAL_TIMEOUT.finditer(cluster.logs(pod)):
                finding = self._admit_flow(cluster, pod, workload, match.group("host"), int(match.group("port")),
                                           match.group("net").upper())
                if finding is not None:
                    return finding
        return None

    def _admit_flow(self, cluster: Cluster, pod: Obj, workload: tuple[str, str, str], host: str, port: int,
                    protocol: str) -> Finding | None:
        source_namespace = pod["metadata"]["namespace"]
        service = cluster.service_for_host(host, source_namespace)
        if service is None:
            return None
        destinations = cluster.pods_of(service)
        if not destinations:
            return None
        target_port, port_name = _pod_port(service, destinations[0], port)
        namespace_labels = cluster.namespace_labels()
        source = Endpoint(source_namespace, namespace_labels.get(source_namespace, {}), _labels(pod))
        destination_namespace = service["metadata"]["namespace"]
        destination = Endpoint(destination_namespace, namespace_labels.get(destination_namespace, {}),
                               _labels(destinations[0]))
        owner = cluster.get(*workload)
        source_selector = (owner or {}).get("spec", {}).get("selector", {}).get("matchLabels") or _labels(pod)
        destination_selector = service["spec"]["selector"]
        policies = cluster.of_kind("NetworkPolicy")
        blocker = (find_blocker(policies, destination, source, "ingress", target_port, port_name, protocol,
                                source_selector)
                   or find_blocker(policies, source, destination, "egress", target_port, port_name, protocol,
                                   destination_selector))
        if blocker is None:
            return None
        cluster.json_patch("NetworkPolicy", blocker.namespace, blocker.name, blocker.patch)
        peer = "source" if blocker.direction == "ingress" else "destination"
        return Finding("network-policy", "NetworkPolicy", blocker.namespace, blocker.name,
                       f"{workload[0]} {source_namespace}/{workload[2]} is not ready: its connections to {host}:{port} "
                       f"(Service {destination_namespace}/{service['metadata']['name']}) time out because "
                       f"NetworkPolicy {blocker.namespace}/{blocker.name} admits no {blocker.direction} from that "
                       f"{peer}. Fix: added it as a peer of the rule for port {target_port}.", [workload])

    # -- verification ----------------------------------------------------------------------------

    def _verify(self, tools: Tools, finding: Finding, deadline: float) -> bool:
        """Within the deadline: ``kubectl wait`` until each relieved node condition is False and
        ``kubectl rollout status`` of every awaited workload, then the same seen by the monitoring
        (when there is a Prometheus); whether all completed. With a Prometheus, a relieved node is
        judged by its disk or memory usage against the kubelet's eviction threshold, not by the
        condition, which the kubelet keeps for its pressure-transition period (5 minutes) after the
        resource is freed."""
        checks = [("wait", f"--for=condition={condition}=False", f"node/{node}")
                  for node, condition in finding.relieved
                  if not (tools.prometheus_url and condition in THRESHOLD_MET)]
        checks += [("rollout", "status", f"{kind.lower()}/{name}", "-n", namespace)
                   for kind, namespace, name in finding.awaited]
        recovered = True
        for check in checks:
            remaining = int(deadline - time.time())
            if remaining < 1:
                return False
            recovered = tools.kubectl(*check, f"--timeout={remaining}s", timeout=remaining + 5).ok and recovered
        if recovered and tools.prometheus_url:
            recovered = self._monitoring_agrees(tools, finding, min(deadline, time.time() + MONITORING_LAG_S))
        return recovered

    def _monitoring_agrees(self, tools: Tools, finding: Finding, until: float) -> bool:
        """Poll kube-state-metrics in Prometheus (it lags the API by a scrape) until it shows the recovery."""
        queries = [THRESHOLD_MET[condition].format(node=node) if condition in THRESHOLD_MET else
                   f'kube_node_status_condition{{node="{node}",condition="{condition}",status="true"}} > 0'
                   for node, condition in finding.relieved]
        for kind, namespace, name in finding.awaited:
            have, want = KSM_REPLICAS[kind]
            labels = f'namespace="{namespace}",{kind.lower()}="{name}"'
            queries.append(f"{have}{{{labels}}} - {want}{{{labels}}} < 0")
        if not queries:
            return True
        query = " or ".join(f"({q})" for q in queries)  # an empty answer: nothing still shows the symptom
        while True:
            try:
                if not tools.promql(query):
                    return True
            except Exception:  # an unreachable or failing Prometheus cannot confirm; the API already did
                return True
            if time.time() + MONITORING_POLL_S > until:
                return False
            time.sleep(MONITORING_POLL_S)


def _pod_port(service: Obj, pod: Obj, port: int) -> tuple[int, str | None]:
    """The pod port number and name that Service ``port`` targets on ``pod`` (named targetPorts resolved)."""
    target: int | str = next((p.get("targetPort", p["port"]) for p in service["spec"].get("ports") or []
                              if p["port"] == port), port)
    declared = [p for c in pod["spec"]["containers"] for p in c.get("ports") or []]
    if isinstance(target, str):
        number = next((p["containerPort"] for p in declared if p.get("name") == target), port)
        return number, target
    return target, next((p.get("name") for p in declared if p["containerPort"] == target), None)


def _env_entry(template: Obj, container: str, variable: str) -> Obj | None:
    spec = next((c for c in template["spec"]["containers"] if c["name"] == container), {})
    return next((e for e in spec.get("env") or [] if e["name"] == variable), None)
