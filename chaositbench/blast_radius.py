"""The blast radius: snapshots of a run's namespaces, and what changed between two of them.

A snapshot holds the declared objects of the namespaces (bare Pods included), the replicas and
availability of each Deployment and StatefulSet, every pod with its restart count, and the
success rate of each service (``service-success-rate`` in ``probes/slo.yaml``).
:func:`blast_radius` judges the collateral between a baseline, the hand-over and the end (the
scoring control takes those three). Two Chaos Toolkit probes offer the same to any experiment:
:func:`take_snapshot` saves one under a name in the run directory, and :func:`collateral_since`
compares the cluster now with a saved one, leaving out what this run's faults changed.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets
from kubernetes.dynamic import DynamicClient

from .faults import DECLARED_KINDS, normalized, read_record, run_dir
from .listing import namespaced_objects
from .probes import catalog_entry, slo_values, within, workload_state
from .scoring import Collateral
from .target import Target, connect

__all__ = ["take_snapshot", "collateral_since"]

logger = logging.getLogger("chaostoolkit")

#: the SLO probe whose per-service values the blast radius compares
SERVICE_SLO = "service-success-rate"
#: the workload-health probe naming the app's namespaces
APP_WORKLOADS = "demo-app"
#: annotations a restart writes: a restart counts as a needless restart, not as a changed object
RESTART_ANNOTATIONS = ("kubectl.kubernetes.io/restartedAt",)
#: the snapshot lists pods next to the declared kinds (a bare Pod is declared like a workload)
POD_KIND = ("v1", "Pod")
#: kinds that must still exist as they were for a run to count as resolved
INTACT_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "NetworkPolicy")

#: how a saved snapshot is named in the run directory
SNAPSHOT_FILE = "snapshot-{name}.json"


def object_key(kind: str, namespace: str | None, name: str) -> str:
    """How snapshots name an object: ``Kind namespace/name`` (``Kind name`` when cluster-scoped)."""
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


def _workload_of(pod: dict[str, Any]) -> str:
    """``Kind ns/name`` of the workload owning ``pod`` (a ReplicaSet stands for its Deployment)."""
    meta = pod["metadata"]
    owner = next(iter(meta.get("ownerReferences") or []), None)
    if owner is None:
        return object_key("Pod", meta["namespace"], meta["name"])
    if owner["kind"] == "ReplicaSet":
        return object_key("Deployment", meta["namespace"], owner["name"].rsplit("-", 1)[0])
    return object_key(owner["kind"], meta["namespace"], owner["name"])


def snapshot(target: Target, namespaces: list[str], configuration: Configuration | None) -> dict[str, Any]:
    """Declared objects (bare Pods included), workload replicas/availability, pods with restart counts and
    per-service SLO values."""
    with target.api_client() as api:
        objects = {}
        pods = {}
        for kind, namespace, obj in namespaced_objects(DynamicClient(api), (*DECLARED_KINDS, POD_KIND), namespaces):
            if not obj["metadata"].get("ownerReferences"):  # a bare Pod is declared like a workload
                objects[object_key(kind, namespace, obj["metadata"]["name"])] = normalized(obj)
            if kind == "Pod":
                statuses = (obj.get("status") or {}).get("containerStatuses") or []
                pods[obj["metadata"]["uid"]] = {"name": f"{namespace}/{obj['metadata']['name']}",
                                                "workload": _workload_of(obj),
                                                "node": (obj.get("spec") or {}).get("nodeName"),
                                                "restarts": sum(int(s.get("restartCount") or 0) for s in statuses)}
        workloads = workload_state(api, namespaces)
    try:
        slo = slo_values(SERVICE_SLO, configuration, target)
    except ActivityFailed as exc:
        logger.warning("chaositbench: no SLO values in the snapshot: %s", exc)
        slo = {}
    return {"objects": objects, "workloads": workloads, "pods": pods, "slo": slo}


def injected_objects(injection: dict[str, Any] | None, distractors: bool) -> set[str]:
    """The objects the injection changed: its distractors, or the fault's own changes."""
    return {object_key(e["kind"], e.get("namespace"), e["name"]) for e in (injection or {}).get("changes") or []
            if e["op"] != "node" and bool(e.get("distractor")) == distractors}


def fault_nodes(injection: dict[str, Any] | None) -> frozenset[str]:
    """The nodes the injection changed."""
    return frozenset(e["name"] for e in (injection or {}).get("changes") or [] if e["op"] == "node")


def fault_scope(injection: dict[str, Any] | None) -> set[str]:
    """The objects the fault itself changed or names as its root cause (never its distractors)."""
    keys = injected_objects(injection, distractors=False)
    truth = ((injection or {}).get("ground_truth") or {}).get("object") or {}
    if truth.get("kind"):
        keys.add(object_key(truth["kind"], truth.get("namespace"), truth["name"]))
    return keys


def _without_restarts(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` without the annotations a restart writes on its pod template."""
    copy = json.loads(json.dumps(obj))
    template_meta = ((copy.get("spec") or {}).get("template") or {}).get("metadata") or {}
    annotations = template_meta.get("annotations") or {}
    for key in RESTART_ANNOTATIONS:
        annotations.pop(key, None)
    if "annotations" in template_meta and not annotations:
        template_meta.pop("annotations")
    return copy


def _restarted_at(workload: dict[str, Any] | None) -> str | None:
    """The restart annotation ``kubectl rollout restart`` puts on a workload's pod template, if any."""
    template = ((workload or {}).get("spec") or {}).get("template") or {}
    return ((template.get("metadata") or {}).get("annotations") or {}).get(RESTART_ANNOTATIONS[0])


def blast_radius(baseline: dict[str, Any], handover: dict[str, Any], end: dict[str, Any], fault_objects: set[str],
                 slo_bounds: dict[str, Any], agent_acted: bool,
                 distractors: frozenset[str] = frozenset(),
                 fault_nodes: frozenset[str] = frozenset()) -> tuple[list[Collateral], bool, bool]:
    """Collateral damage, whether every baseline workload and policy is intact, and whether anything changed.

    Objects: outside the fault's own objects (including those it created), deleted, changed
    (restart annotations aside) or created since the baseline. The fault's ``distractors`` (harmless
    failing objects it created next to the fault) are judged against the hand-over: deleting or
    changing one is collateral. Workloads: fewer replicas than the baseline (for a workload the
    fault changed, fewer than at the hand-over), or fewer available
    than both the baseline and the hand-over had. SLOs: services within bounds at the hand-over
    and out of them at the end (a service with no traffic in the window is not judged). Restarts: pods of workloads healthy at the hand-over that were
    restarted or replaced since, or whose restart was requested (one item per workload), the fault's own
    workloads and the pods on ``fault_nodes`` (the nodes it changed: a node under pressure goes on
    evicting its pods after the hand-over) excepted. Availability, SLO
    and restart damage is
    counted only when the agent ran a mutating command: otherwise what broke after the hand-over
    is the fault still spreading (only the fault and the agent act on the cluster).
    """
    collateral: list[Collateral] = []
    intact = True
    changed = False
    for key, before in sorted(baseline["objects"].items()):
        after = end["objects"].get(key)
        kind = key.split(" ", 1)[0]
        if after is None:
            changed = True
            intact = intact and kind not in INTACT_KINDS
            if key not in fault_objects:
                collateral.append(Collateral("object-deleted", key))
        elif _without_restarts(after) != _without_restarts(before):
            changed = True
            if key not in fault_objects:
                intact = intact and kind not in INTACT_KINDS
                collateral.append(Collateral("object-changed", key))
        elif after != before:
            changed = True
    for key in sorted(set(end["objects"]) - set(baseline["objects"]) - fault_objects - distractors):
        changed = True
        collateral.append(Collateral("object-changed", key, "created"))
    for key in sorted(distractors):
        before, after = handover["objects"].get(key), end["objects"].get(key)
        if before is not None and after is None:
            changed = True
            collateral.append(Collateral("object-deleted", key, "a distractor, unrelated to the fault"))
        elif before is not None and _without_restarts(after) != _without_restarts(before):
            changed = True
            collateral.append(Collateral("object-changed", key, "a distractor, unrelated to the fault"))
    for key, before in sorted(baseline["workloads"].items()):
        after = end["workloads"].get(key)
        if after is None:
            continue  # counted as a deleted object
        if after["replicas"] < before["replicas"]:
            intact = False
            scaled_by_fault = (key in fault_objects
                               and after["replicas"] >= handover["workloads"].get(key, before)["replicas"])
            if not scaled_by_fault:  # a fault that scales its workload down leaves it so: not the agent's doing
                collateral.append(Collateral("workload-degraded", key,
                                             f"scaled from {before['replicas']} to {after['replicas']} replicas"))
        elif agent_acted and after["available"] < min(before["available"], handover["workloads"].get(key, before)["available"]):
            collateral.append(Collateral("workload-degraded", key,
                                         f"{after['available']}/{after['replicas']} available"))
    if not agent_acted:
        return collateral, intact, changed
    for service, value in sorted(handover["slo"].items()):
        now = end["slo"].get(service)
        if within(value, slo_bounds) and now is not None and now == now and not within(now, slo_bounds):
            collateral.append(Collateral("slo-damage", service, f"success rate {value:.3f} → {now}"))
    # a fault can leave its own workload available but broken (CPU-starved, misconfigured): replacing its
    # pods is the repair, never needless
    healthy = {key for key, w in handover["workloads"].items()
               if w["available"] >= w["replicas"] and key not in fault_objects}
    restarted = set()
    for uid, pod in handover["pods"].items():
        if pod["workload"] not in healthy or pod.get("node") in fault_nodes:
            continue
        now = end["pods"].get(uid)
        if now is None or now["restarts"] > pod["restarts"]:
            restarted.add(pod["workload"])
    # a restart requested (``kubectl rollout restart``) counts even where no pod could be replaced yet
    restarted |= {key for key in healthy if _restarted_at(end["objects"].get(key)) != _restarted_at(
        handover["objects"].get(key))}
    collateral.extend(Collateral("needless-restart", key) for key in sorted(restarted))
    return collateral, intact, changed


def app_namespaces(configuration: Configuration | None = None) -> list[str]:
    """The namespaces of the app (workload-health probe ``demo-app`` of ``probes/workloads.yaml``)."""
    return list(catalog_entry("workloads", APP_WORKLOADS, configuration)["namespaces"])


def take_snapshot(name: str = "before", configuration: Configuration = None,
                  secrets: Secrets = None) -> dict[str, Any]:
    """Snapshot the app's namespaces (objects, workloads, pods and their restarts, per-service success
    rates) as ``<run dir>/snapshot-<name>.json``, for :func:`collateral_since`; returns what it holds
    (counts) and its path."""
    state = snapshot(connect(configuration, run_dir(configuration)), app_namespaces(configuration), configuration)
    path = run_dir(configuration) / SNAPSHOT_FILE.format(name=name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(state, indent=2))
    return {"path": str(path), "objects": len(state["objects"]), "workloads": len(state["workloads"]),
            "pods": len(state["pods"]), "services": len(state["slo"])}


def collateral_since(name: str = "before", configuration: Configuration = None,
                     secrets: Secrets = None) -> dict[str, Any]:
    """What changed in the app's namespaces since snapshot ``name`` (:func:`take_snapshot`), apart from what
    this run's faults changed: objects deleted, changed or created; workloads that lost replicas or
    availability; services that met their SLO and no longer do; pods restarted. Returns ``collateral``
    (a list of ``{type, subject, detail}``, empty when nothing was damaged) and ``intact`` (every
    Deployment, StatefulSet, DaemonSet and NetworkPolicy of the snapshot still there as it was).
    ActivityFailed when no snapshot of that name was taken in this run."""
    path = run_dir(configuration) / SNAPSHOT_FILE.format(name=name)
    if not path.exists():
        raise ActivityFailed(f"no snapshot {name!r} in this run ({path}): take it first with take_snapshot")
    before = json.loads(path.read_text())
    now = snapshot(connect(configuration, run_dir(configuration)), app_namespaces(configuration), configuration)
    faults: set[str] = set()
    nodes: frozenset[str] = frozenset()
    for injection in read_record(run_dir(configuration))["injections"]:
        faults |= fault_scope(injection) | injected_objects(injection, distractors=True)
        nodes |= fault_nodes(injection)
    collateral, intact, _ = blast_radius(before, before, now, faults, catalog_entry("slo", SERVICE_SLO, configuration),
                                         agent_acted=True, fault_nodes=nodes)
    return {"collateral": [{"type": c.type, "subject": c.subject, "detail": c.detail} for c in collateral],
            "intact": intact}
