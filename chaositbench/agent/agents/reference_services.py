"""Broken Services for the ``reference`` agent: callers fail because a Service leads nowhere.

A not-ready pod whose log shows its own ``host:port: dial tcp ...: connect: connection refused``
(or ``i/o timeout``, when a NetworkPolicy admits only the right port) dialled a Service; that
Service is at fault when

* its selector selects no pod while exactly one workload of its namespace carries all of its
  keys and differs in the fewest values (a typo'd label) → the selector gets that workload's
  values; or
* it selects pods but its ``targetPort`` is neither the name nor the number of a port they declare
  → it targets the declared port named like the Service port (else their only port).

A Service whose pods exist but are not ready (a crash, a failing dependency) is not at fault.
"""

from __future__ import annotations

import re
from typing import Any

from . import reference

Obj = dict[str, Any]

# "<host>:<port>: dial tcp <ip>:<port>: connect: connection refused" (or "i/o timeout": a policy drops the
# wrong port) — the pod's own connection
DIAL_FAILED = re.compile(r"(?:^|\s)(?P<host>[A-Za-z0-9.-]+):(?P<port>\d+): dial tcp \S+: "
                         r"(?:connect: connection refused|i/o timeout)", re.M)


def broken_service(cluster: "reference.Cluster") -> "reference.Finding | None":
    """The first Service that not-ready callers cannot reach because of its selector or targetPort, fixed."""
    for pod, _ in cluster.running_not_ready():
        for match in DIAL_FAILED.finditer(cluster.logs(pod)):
            service = cluster.service_for_host(match.group("host"), pod["metadata"]["namespace"])
            if service is None:
                continue
            finding = _fix_selector(cluster, service) or _fix_target_port(cluster, service, int(match.group("port")))
            if finding is not None:
                return finding
    return None


def _pointer(key: str) -> str:
    """A map key as a JSON-pointer token."""
    return key.replace("~", "~0").replace("/", "~1")


def _patch(cluster: "reference.Cluster", service: Obj, patch: list[Obj], summary: str) -> "reference.Finding":
    namespace, name = service["metadata"]["namespace"], service["metadata"]["name"]
    cluster.json_patch("Service", namespace, name, patch)
    return reference.Finding("service-selector", "Service", namespace, name, f"Service {namespace}/{name} {summary}",
                             cluster.unavailable_workloads())


def _fix_selector(cluster: "reference.Cluster", service: Obj) -> "reference.Finding | None":
    selector: dict[str, str] = (service.get("spec") or {}).get("selector") or {}
    if not selector or cluster.pods_of(service):
        return None
    closest = _closest_workload(cluster, service, selector)
    if closest is None:
        return None
    owner, differing = closest
    patch = [op for key, value in differing.items() for op in (
        {"op": "test", "path": f"/spec/selector/{_pointer(key)}", "value": selector[key]},
        {"op": "replace", "path": f"/spec/selector/{_pointer(key)}", "value": value})]
    wrong = ", ".join(f"{key}={selector[key]}" for key in differing)
    right = ", ".join(f"{key}={value}" for key, value in differing.items())
    return _patch(cluster, service, patch, f"selects no pod (it has no endpoints), so its callers are refused: its "
                  f"selector asks {wrong}, the pods of {owner} carry {right}. Fix: set the selector to {right}.")


def _closest_workload(cluster: "reference.Cluster", service: Obj,
                      selector: dict[str, str]) -> tuple[str, dict[str, str]] | None:
    """The one workload of the Service's namespace whose pod labels have every selector key and differ in the
    fewest (but not all) values — ties broken by declaring the Service's targetPort — and the values it carries.

    None when there is none, a tie, or one the selector already matches (it has no pods: scaled to zero).
    """
    namespace = service["metadata"]["namespace"]
    targets = {p.get("targetPort", p["port"]) for p in (service.get("spec") or {}).get("ports") or []}
    ranked = []
    for workload in cluster.of_kind("Deployment", namespace) + cluster.of_kind("StatefulSet", namespace):
        template = workload["spec"]["template"]
        labels = (template.get("metadata") or {}).get("labels") or {}
        if not all(key in labels for key in selector):
            continue
        differing = {key: labels[key] for key, value in selector.items() if labels[key] != value}
        serves = any({p.get("name"), p["containerPort"]} & targets
                     for c in template["spec"]["containers"] for p in c.get("ports") or [])
        if len(differing) < len(selector):
            ranked.append(((len(differing), not serves), workload["metadata"]["name"], differing))
    ranked.sort(key=lambda candidate: candidate[0])
    if not ranked or (len(ranked) > 1 and ranked[0][0] == ranked[1][0]) or not ranked[0][2]:
        return None
    return ranked[0][1], ranked[0][2]


def _fix_target_port(cluster: "reference.Cluster", service: Obj, port: int) -> "reference.Finding | None":
    pods = cluster.pods_of(service)
    ports = (service.get("spec") or {}).get("ports") or []
    index = next((i for i, p in enumerate(ports) if p["port"] == port), None)
    if not pods or index is None:
        return None
    target = ports[index].get("targetPort", port)
    declared = [p for c in pods[0]["spec"]["containers"] for p in c.get("ports") or []]
    if not declared or any(target in (p.get("name"), p["containerPort"]) for p in declared):
        return None
    named = [p for p in declared if p.get("name") and p.get("name") == ports[index].get("name")]
    chosen = named or (declared if len(declared) == 1 else [])
    if not chosen:
        raise reference.NoFinding(f"Service {service['metadata']['namespace']}/{service['metadata']['name']} targets "
                                  f"port {target}, which its pods do not declare, and none of theirs is its match")
    value = chosen[0].get("name") or chosen[0]["containerPort"]
    patch = [{"op": "test", "path": f"/spec/ports/{index}/targetPort", "value": target},
             {"op": "replace", "path": f"/spec/ports/{index}/targetPort", "value": value}]
    return _patch(cluster, service, patch, f"port {port} targets port {target} of its pods, where they do not listen "
                  f"(they declare {', '.join(str(p['containerPort']) for p in declared)}), so its callers fail. "
                  f"Fix: set targetPort to {value}.")
