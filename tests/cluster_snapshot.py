"""A full snapshot of what a cluster's owners declared, and the difference of two, for rollback tests.

Taken with the real kubectl (``api-resources`` then one ``get -A -o json`` of every listable
kind), independently of the fault engine's own kind list, so a kind the rollback forgets shows up.

What is compared, per object (``Kind namespace/name``):

- every object nobody owns (no ``ownerReferences``): its whole body — ``spec``, ``data``,
  ``labels``, ``annotations``, rules, subjects, ... — without ``status`` and without the
  metadata the server owns (``resourceVersion``, ``uid``, ``creationTimestamp``, ``generation``,
  ``managedFields``, the Deployment revision annotation). Owned objects (ReplicaSets, pods of
  workloads, ControllerRevisions, EndpointSlices) are their owners' output, so their generated
  names are not compared; their owners are;
- Nodes: labels, annotations, ``spec`` (taints, ``unschedulable``) and the status of each
  condition type (what a fault or an agent sets; heartbeats and capacity are not compared);
- not compared at all: Events, Endpoints and Leases, which the control plane rewrites on its own,
  and the metrics.k8s.io measurements.

Namespaces, ClusterRoles and bindings are cluster-scoped objects like any other, so a leftover
agent sandbox shows as an added object.
"""

from __future__ import annotations

import json
import time
from typing import Any, Callable

#: kinds the control plane keeps rewriting: never compared
IGNORED_KINDS = frozenset({"Event", "Endpoints", "Lease"})
#: API groups of measurements rather than objects
IGNORED_GROUPS = ("metrics.k8s.io",)
SERVER_METADATA = ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields", "selfLink")
SERVER_ANNOTATIONS = ("deployment.kubernetes.io/revision",)

Snapshot = dict[str, Any]


def listable_resources(kubectl: Callable[..., str]) -> list[str]:
    """Every resource the API lists (``kubectl api-resources --verbs=list -o name``), measurements aside."""
    names = kubectl("api-resources", "--verbs=list", "-o", "name").split()
    return sorted(name for name in names if name.partition(".")[2] not in IGNORED_GROUPS)


def _node_view(node: dict[str, Any]) -> dict[str, Any]:
    meta = node["metadata"]
    return {"labels": meta.get("labels") or {}, "annotations": meta.get("annotations") or {},
            "spec": node.get("spec") or {},
            "conditions": {c["type"]: c["status"] for c in (node.get("status") or {}).get("conditions") or []}}


def _declared_view(obj: dict[str, Any]) -> dict[str, Any]:
    view = {key: value for key, value in obj.items() if key != "status"}
    meta = {key: value for key, value in obj["metadata"].items() if key not in SERVER_METADATA}
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in SERVER_ANNOTATIONS}
    meta.pop("annotations", None)
    if annotations:
        meta["annotations"] = annotations
    view["metadata"] = meta
    return view


def take(kubectl: Callable[..., str], resources: list[str]) -> Snapshot:
    """The compared view of every object of ``resources`` in the cluster, by ``Kind namespace/name``."""
    listed = json.loads(kubectl("get", ",".join(resources), "--all-namespaces", "-o", "json"))["items"]
    snapshot: Snapshot = {}
    for obj in listed:
        kind, meta = obj["kind"], obj["metadata"]
        if kind in IGNORED_KINDS or meta.get("ownerReferences"):
            continue
        group = obj["apiVersion"].rpartition("/")[0]
        key = f"{kind}.{group} " if group else f"{kind} "
        key += f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]
        snapshot[key] = _node_view(obj) if kind == "Node" else _declared_view(obj)
    return snapshot


def _paths(before: Any, after: Any, prefix: str = "") -> list[str]:
    """The paths (``.spec.replicas``) at which two JSON values differ."""
    if isinstance(before, dict) and isinstance(after, dict):
        return [path for key in sorted(set(before) | set(after), key=str)
                for path in _paths(before.get(key), after.get(key), f"{prefix}.{key}")]
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return [path for i, (b, a) in enumerate(zip(before, after)) for path in _paths(b, a, f"{prefix}[{i}]")]
    return [] if before == after else [f"{prefix or '.'}: {json.dumps(before)} -> {json.dumps(after)}"]


def diff(before: Snapshot, after: Snapshot) -> list[str]:
    """Readable differences: objects added, removed, and each changed path of the others."""
    lines = [f"added {key}" for key in sorted(set(after) - set(before))]
    lines += [f"removed {key}" for key in sorted(set(before) - set(after))]
    for key in sorted(set(before) & set(after)):
        lines += [f"changed {key} {path}" for path in _paths(before[key], after[key])]
    return lines


def wait_until_equal(kubectl: Callable[..., str], resources: list[str], baseline: Snapshot,
                     timeout_s: float) -> list[str]:
    """Poll until the cluster matches ``baseline`` (conditions lag: a node's pressure clears after its
    transition period, a namespace terminates); the remaining differences at the deadline, else []."""
    deadline = time.monotonic() + timeout_s
    while True:
        differences = diff(baseline, take(kubectl, resources))
        if not differences or time.monotonic() >= deadline:
            return differences
        time.sleep(1.0)
