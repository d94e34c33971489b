"""NetworkPolicy reasoning for the ``reference`` agent: which policy fails to admit a flow, and its minimal fix.

Pure functions over the JSON ``kubectl get -o json`` returns: label selectors as the API server
matches them, whether a policy's rules admit a peer on a port, and the JSON patch that adds the
source as a peer to the rule that already covers the destination port.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]


@dataclass(frozen=True)
class Endpoint:
    """One side of a flow: a pod's namespace, its namespace's labels and its own labels."""

    namespace: str
    namespace_labels: dict[str, str]
    labels: dict[str, str]


@dataclass(frozen=True)
class Blocker:
    """A policy that isolates one side of the flow and admits none of it, with the patch that admits it."""

    namespace: str
    name: str
    direction: str  # "ingress" or "egress"
    patch: list[Obj]


def selector_matches(selector: Obj | None, labels: dict[str, str]) -> bool:
    """Whether a LabelSelector (``matchLabels``/``matchExpressions``) selects ``labels``; empty selects all."""
    selector = selector or {}
    if any(labels.get(key) != value for key, value in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def peer_admits(peer: Obj, policy_namespace: str, other: Endpoint) -> bool:
    """Whether a ``from``/``to`` peer of a policy in ``policy_namespace`` selects the ``other`` side."""
    if "ipBlock" in peer:
        return False
    if "namespaceSelector" in peer:
        if not selector_matches(peer["namespaceSelector"], other.namespace_labels):
            return False
    elif other.namespace != policy_namespace:
        return False
    return selector_matches(peer.get("podSelector"), other.labels)


def port_covered(rule: Obj, port: int, port_name: str | None, protocol: str) -> bool:
    """Whether a rule's ``ports`` (absent: every port) include the pod port ``port`` (named ``port_name``)."""
    ports = rule.get("ports")
    if not ports:
        return True
    for entry in ports:
        if (entry.get("protocol") or "TCP") != protocol:
            continue
        if "port" not in entry:
            return True
        start = entry["port"]
        if isinstance(start, str) and start == port_name:
            return True
        if isinstance(start, int) and start <= port <= entry.get("endPort", start):
            return True
    return False


def _direction_types(policy: Obj) -> list[str]:
    spec = policy.get("spec") or {}
    types = spec.get("policyTypes")
    if types:
        return [t.lower() for t in types]
    return ["ingress", "egress"] if spec.get("egress") else ["ingress"]


def _specificity(policy: Obj) -> int:
    """How narrowly a policy's podSelector selects: its number of terms (0 for every pod of the namespace)."""
    selector = (policy.get("spec") or {}).get("podSelector") or {}
    return len(selector.get("matchLabels") or {}) + len(selector.get("matchExpressions") or [])


def find_blocker(policies: list[Obj], local: Endpoint, other: Endpoint, direction: str,
                 port: int, port_name: str | None, protocol: str, peer_labels: dict[str, str]) -> Blocker | None:
    """The policy to patch if the policies of ``local``'s namespace drop the flow in ``direction``.

    ``local`` is the destination for ``ingress`` and the source for ``egress``; ``port`` is the
    destination pod's port number and ``port_name`` its name, if any. None when the
    flow is admitted (or ``local`` is not isolated in that direction). The least change is chosen:
    a rule that already covers the port gets ``other`` (its namespace by name, its pods by
    ``peer_labels``) as a peer; else a rule whose peers already admit ``other`` gets the port;
    else the policy selecting ``local`` most specifically (the most selector terms, not a
    namespace-wide default) gets a new rule for the peer and the port.
    """
    key = "from" if direction == "ingress" else "to"
    selecting = [p for p in policies if p["metadata"]["namespace"] == local.namespace
                 and direction in _direction_types(p)
                 and selector_matches((p.get("spec") or {}).get("podSelector"), local.labels)]
    if not selecting:
        return None
    for policy in selecting:
        for rule in (policy.get("spec") or {}).get(direction) or []:
            peers = rule.get(key)
            if port_covered(rule, port, port_name, protocol) and (not peers or any(
                    peer_admits(peer, local.namespace, other) for peer in peers)):
                return None
    peer: Obj = {"podSelector": {"matchLabels": dict(peer_labels)}}
    if other.namespace != local.namespace:
        peer["namespaceSelector"] = {"matchLabels": {"kubernetes.io/metadata.name": other.namespace}}
    for policy in selecting:
        for index, rule in enumerate((policy.get("spec") or {}).get(direction) or []):
            if rule.get("ports") and port_covered(rule, port, port_name, protocol) and rule.get(key):
                return Blocker(local.namespace, policy["metadata"]["name"], direction,
                               [{"op": "add", "path": f"/spec/{direction}/{index}/{key}/-", "value": peer}])
    for policy in selecting:
        for index, rule in enumerate((policy.get("spec") or {}).get(direction) or []):
            if rule.get("ports") and rule.get(key) and any(peer_admits(p, local.namespace, other) for p in rule[key]):
                return Blocker(local.namespace, policy["metadata"]["name"], direction,
                               [{"op": "add", "path": f"/spec/{direction}/{index}/ports/-",
                                 "value": {"protocol": protocol, "port": port}}])
    policy = max(selecting, key=_specificity)
    new_rule = {key: [peer], "ports": [{"protocol": protocol, "port": port}]}
    if (policy.get("spec") or {}).get(direction) is None:
        patch = [{"op": "add", "path": f"/spec/{direction}", "value": [new_rule]}]
    else:
        patch = [{"op": "add", "path": f"/spec/{direction}/-", "value": new_rule}]
    return Blocker(local.namespace, policy["metadata"]["name"], direction, patch)
