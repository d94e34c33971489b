"""Built-in symptom checks: does the cluster show that a fault is active?

A catalog entry's ``symptom`` names one check (see ``actions/README.md``):
``pods-not-ready`` (some selected live pod is not Ready, or none is live), ``container-reason`` (some selected pod's
container, init containers included, is or was last in state ``reason``, e.g. OOMKilled or
CrashLoopBackOff), ``node-condition`` (the selected node has condition ``type`` with ``status``),
``event`` (an event of the namespace has ``reason`` and, if given, ``message`` in its text: what the
scheduler or a controller reports when pods cannot be placed or created) and ``none`` (nothing is
broken, so nothing has to show: always true; no-fault entries only).
"""

from __future__ import annotations

from typing import Any

from kubernetes import client

from .faults import TERMINAL_PHASES, node_for


def _pod_ready(pod: Any) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or []))


def _container_reasons(pod: Any) -> set[str]:
    reasons = set()
    for status in (pod.status.init_container_statuses or []) + (pod.status.container_statuses or []):
        for state in (status.state, status.last_state):
            if state is None:
                continue
            for part in (state.waiting, state.terminated):
                if part is not None and part.reason:
                    reasons.add(part.reason)
    return reasons


def symptom_visible(api: client.ApiClient, symptom: dict[str, Any], node: str | None = None) -> bool:
    """Whether ``symptom`` (a validated catalog ``symptom`` mapping) shows in the cluster now.

    ``node`` is the node the fault changed, if any: a node check looks there (the pod that
    selected it may have moved since).
    """
    if symptom["check"] == "none":
        return True
    core = client.CoreV1Api(api)
    if symptom["check"] == "node-condition":
        node = core.read_node_status(node or node_for(core, symptom["node"]))
        return any(c.type == symptom["type"] and c.status == symptom["status"]
                   for c in node.status.conditions or [])
    if symptom["check"] == "event":
        events = core.list_namespaced_event(symptom["namespace"], field_selector=f"reason={symptom['reason']}").items
        return any(symptom.get("message", "") in (e.message or "") for e in events)
    pods = core.list_namespaced_pod(symptom["namespace"], label_selector=symptom["selector"]).items
    if symptom["check"] == "pods-not-ready":  # a terminated pod (an evicted one stays listed) serves nothing
        live = [p for p in pods if p.status.phase not in TERMINAL_PHASES]
        return not live or any(not _pod_ready(p) for p in live)
    return any(symptom["reason"] in _container_reasons(p) for p in pods)
