"""What the scripted agents of the tests know about fixing a NetworkPolicy (shared by the chat and MCP scripts)."""

from __future__ import annotations

import json
from typing import Any


def output(result: str) -> str:
    """A kubectl tool result's stdout (after the ``exit code N`` line)."""
    return result.split("\n", 1)[1].split("\nstderr:\n", 1)[0]


def lost_peer_patch(policies: list[dict[str, Any]], existing: set[str],
                    namespaces: list[str]) -> tuple[dict[str, Any], list[str]]:
    """The policy with an ingress peer selecting a namespace that does not exist, and the kubectl args re-admitting
    the other allowed namespace in its place."""
    for policy in policies:
        for i, rule in enumerate(policy["spec"].get("ingress") or []):
            for j, peer in enumerate(rule.get("from") or []):
                label = ((peer.get("namespaceSelector") or {}).get("matchLabels") or {}).get("kubernetes.io/metadata.name")
                if label and label not in existing:
                    meta = policy["metadata"]
                    source = next(ns for ns in namespaces if ns != meta["namespace"])
                    patch = [{"op": "replace", "value": source,
                              "path": f"/spec/ingress/{i}/from/{j}/namespaceSelector/matchLabels/kubernetes.io~1metadata.name"}]
                    return meta, ["patch", "networkpolicy", meta["name"], "-n", meta["namespace"], "--type=json", "-p",
                                  json.dumps(patch)]
    raise AssertionError("no policy admits a namespace that does not exist")
