"""Probe misconfigurations for the ``reference`` agent: the kubelet's own events say which probe fails and how.

A pod that runs but is never Ready, or that is restarted in a loop, is blamed on a probe only
on evidence that points at the probe itself, never at what it checks:

* a readiness probe answered ``HTTP probe failed with statuscode: 404`` — it asks a path the app
  does not serve (a 503 is a dependency failing, not the probe);
* a readiness probe refused on a port the container does not declare;
* liveness kills (``Container <c> failed liveness probe, will be restarted``) by a probe that
  gives the start-up less than :data:`MIN_LIVENESS_BUDGET_S` (initial delay + period × failure
  threshold), the failures being refused connections (the app is not listening yet).

The fix is the least change to the probe alone: the previous revision's probe when it differs,
else the container's one declared port (port), else start-up-friendly timing (liveness).
"""

from __future__ import annotations

import json
import re
from typing import Any

from . import reference
from .reference_pods import previous_revision

Obj = dict[str, Any]

NOT_FOUND = "HTTP probe failed with statuscode: 404"
REFUSED = re.compile(r"dial tcp \S+?:(?P<port>\d+): connect: connection refused")
LIVENESS_KILL = re.compile(r"Container (?P<container>\S+) failed liveness probe, will be restarted")
#: A liveness probe must give the app at least this long to start before it can kill it.
MIN_LIVENESS_BUDGET_S = 10
#: Liveness timing that tolerates a slow start (the Kubernetes defaults, with a start-up delay).
TOLERANT_LIVENESS = {"periodSeconds": 10, "timeoutSeconds": 2, "failureThreshold": 3}
PROBE_FIELDS = {"readiness": "readinessProbe", "liveness": "livenessProbe"}


def misconfigured_probe(cluster: "reference.Cluster") -> "reference.Finding | None":
    """The first workload whose not-ready or restarting pods fail a probe that is itself wrong, fixed."""
    for pod, workload in cluster.running_not_ready():
        mine = [e for e in cluster.events(pod["metadata"]["namespace"]) if (e.get("involvedObject") or {}).get("name") == pod["metadata"]["name"]]
        for container in (pod.get("spec") or {}).get("containers") or []:
            finding = (_liveness(cluster, workload, container, mine) or
                       _readiness(cluster, workload, container, mine))
            if finding is not None:
                return finding
    return None


def _messages(events: list[Obj], container: str, reason: str) -> list[str]:
    """Messages of the events with ``reason`` about ``container`` (or about the pod as a whole)."""
    return [e.get("message") or "" for e in events if e.get("reason") == reason
            and (e.get("involvedObject") or {}).get("fieldPath", f"spec.containers{{{container}}}")
            == f"spec.containers{{{container}}}"]


def _readiness(cluster: "reference.Cluster", workload: tuple[str, str, str], container: Obj,
               events: list[Obj]) -> "reference.Finding | None":
    probe = container.get("readinessProbe") or {}
    failures = [m for m in _messages(events, container["name"], "Unhealthy") if m.startswith("Readiness probe failed")]
    if any(NOT_FOUND in m for m in failures):
        path = (probe.get("httpGet") or {}).get("path")
        return _restore(cluster, workload, container, "readiness", f"its readiness probe asks {path}, which answers "
                        "404 (a path the app does not serve)", fallback=None)
    declared = container.get("ports") or []
    numbers = {p["containerPort"] for p in declared}
    refused = [int(m.group("port")) for f in failures if (m := REFUSED.search(f))]
    if not declared or not refused or refused[-1] in numbers:
        return None
    action = next(iter(a for a in ("httpGet", "tcpSocket", "grpc") if a in probe), None)
    fallback = None
    if action is not None and len(declared) == 1:
        fallback = {**probe, action: {**probe[action], "port": declared[0].get("name") or declared[0]["containerPort"]}}
    return _restore(cluster, workload, container, "readiness",
                    f"its readiness probe connects to port {refused[-1]}, where it does not listen "
                    f"(it declares {', '.join(str(n) for n in sorted(numbers))})", fallback)


def _liveness(cluster: "reference.Cluster", workload: tuple[str, str, str], container: Obj,
              events: list[Obj]) -> "reference.Finding | None":
    probe = container.get("livenessProbe")
    kills = [m for m in _messages(events, container["name"], "Killing")
             if (k := LIVENESS_KILL.search(m)) and k.group("container") == container["name"]]
    failures = [m for m in _messages(events, container["name"], "Unhealthy") if m.startswith("Liveness probe failed")]
    if not probe or not kills or not any(REFUSED.search(m) for m in failures):
        return None
    budget = _budget(probe)
    if budget >= MIN_LIVENESS_BUDGET_S:
        return None
    readiness_delay = int((container.get("readinessProbe") or {}).get("initialDelaySeconds") or 0)
    fallback = {**probe, **TOLERANT_LIVENESS, "initialDelaySeconds": max(MIN_LIVENESS_BUDGET_S, readiness_delay)}
    return _restore(cluster, workload, container, "liveness",
                    f"its liveness probe kills it before it listens: it allows {budget}s "
                    f"(initialDelaySeconds {probe.get('initialDelaySeconds', 0)}, periodSeconds "
                    f"{probe.get('periodSeconds', 10)}, failureThreshold {probe.get('failureThreshold', 3)}) and "
                    f"its connections are refused", fallback)


def _budget(probe: Obj) -> int:
    """Seconds a liveness probe lets a container start before it kills it."""
    return int(probe.get("initialDelaySeconds") or 0) + (int(probe.get("periodSeconds") or 10)
                                                         * int(probe.get("failureThreshold") or 3))


def _restore(cluster: "reference.Cluster", workload: tuple[str, str, str], container: Obj, kind: str, what: str,
             fallback: Obj | None) -> "reference.Finding":
    """Replace the container's ``kind`` probe by the previous revision's (when it differs), else ``fallback``."""
    field = PROBE_FIELDS[kind]
    workload_kind, namespace, name = workload
    obj = cluster.get(*workload)
    containers = obj["spec"]["template"]["spec"]["containers"]
    index = next(i for i, c in enumerate(containers) if c["name"] == container["name"])
    current = containers[index].get(field)
    previous = previous_revision(cluster, workload)
    earlier = next((c.get(field) for c in (previous[1]["spec"]["containers"] if previous else [])
                    if c["name"] == container["name"]), None)
    where = f"{workload_kind} {namespace}/{name} container {container['name']}"
    if earlier is not None and earlier != current:
        value, how = earlier, f"put back the {kind} probe of revision {previous[0]}"
    elif fallback is not None:
        value, how = fallback, f"set the {kind} probe to {json.dumps(fallback, sort_keys=True)}"
    else:
        raise reference.NoFinding(f"{where}: {what}, and no earlier revision shows a working {kind} probe")
    path = f"/spec/template/spec/containers/{index}"
    patch = [{"op": "test", "path": f"{path}/name", "value": container["name"]},
             {"op": "replace", "path": f"{path}/{field}", "value": value}]
    cluster.json_patch(workload_kind, namespace, name, patch)
    return reference.Finding("probe", workload_kind, namespace, name, f"{where} fails: {what}. Fix: {how}.",
                             [workload])
