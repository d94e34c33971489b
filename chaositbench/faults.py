"""Injecting catalog faults and undoing them exactly.

Every write is recorded, before it is made, in the run record ``<run_dir>/faults.json``:

    {"injections": [{"fault": "oomkilled", "injected_at": "...", "complaint": "...",
                     "sla_seconds": 300, "namespaces": [...], "removed": false,
                     "changes": [<entry>, ...], "baseline": [<object>, ...]}]}

An entry is ``{"op": "create", "apiVersion", "kind", "namespace", "name", "uid"}``, or
``{"op": "patch" | "delete", ..., "before": <object>}`` (the full prior object), or
``{"op": "node", "name", "before": {"labels", "annotations", "taints", "unschedulable", "conditions"}}``
(one entry per node a ``node`` change selected); the entries of the catalog's ``distractors``
(always creates) come last, marked ``"distractor": true``. ``baseline`` is every declared object
of the fault's namespaces before the fault, and ``nodes`` what an agent may change on each node
(labels, annotations, ``unschedulable``, the taints no controller manages), which
``restore_cluster`` puts back (undoing what an agent changed too, e.g. a cordon). Because the record is a
file, rollback also works from another process given the same run directory.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration
from kubernetes import client
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import ApiException, NotFoundError, ResourceNotFoundError

from .catalog import PATCH_TYPES, Fault, ObjectRef, load_fault
from .listing import namespaced_objects
from .target import Target, connect

RECORD_FILE = "faults.json"
#: kinds of objects a scenario declares (controllers make the rest), snapshotted for restore_cluster
DECLARED_KINDS = (("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "Service"), ("v1", "ServiceAccount"),
                  ("v1", "ResourceQuota"), ("v1", "LimitRange"), ("v1", "PersistentVolumeClaim"),
                  ("apps/v1", "Deployment"), ("apps/v1", "StatefulSet"), ("apps/v1", "DaemonSet"),
                  ("batch/v1", "Job"), ("batch/v1", "CronJob"), ("autoscaling/v2", "HorizontalPodAutoscaler"),
                  ("networking.k8s.io/v1", "NetworkPolicy"), ("networking.k8s.io/v1", "Ingress"),
                  ("policy/v1", "PodDisruptionBudget"), ("rbac.authorization.k8s.io/v1", "Role"),
                  ("rbac.authorization.k8s.io/v1", "RoleBinding"))
#: metadata the server owns: never compared, never sent back
VOLATILE_METADATA = ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields", "selfLink",
                     "deletionTimestamp", "deletionGracePeriodSeconds")
SERVER_ANNOTATIONS = ("deployment.kubernetes.io/revision",)
#: taints with this key prefix mirror node conditions or spec.unschedulable: their controllers restore them
CONTROLLER_TAINT_PREFIX = "node.kubernetes.io/"
#: phases of a pod whose containers have all terminated for good: it runs on no node any more
TERMINAL_PHASES = ("Succeeded", "Failed")

_default_run_dir: Path | None = None


def run_dir(configuration: Configuration | None = None) -> Path:
    """The run directory: ``chaositbench_run_dir``, ``CHAOSITBENCH_RUN_DIR``, or one temp dir per process."""
    global _default_run_dir
    value = (configuration or {}).get("chaositbench_run_dir") or os.environ.get("CHAOSITBENCH_RUN_DIR")
    if value:
        return Path(value)
    if _default_run_dir is None:
        _default_run_dir = Path(tempfile.mkdtemp(prefix="chaositbench-run-"))
    return _default_run_dir


def read_record(directory: Path) -> dict[str, Any]:
    """The run record in ``directory`` (an empty one if nothing was injected)."""
    path = directory / RECORD_FILE
    return json.loads(path.read_text()) if path.exists() else {"injections": []}


def _write_record(directory: Path, record: dict[str, Any]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".{RECORD_FILE}.tmp"
    tmp.write_text(json.dumps(record, indent=2))
    tmp.replace(directory / RECORD_FILE)


def normalized(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` without status and server-owned metadata: what a declared object's owner controls."""
    out = {k: copy.deepcopy(v) for k, v in obj.items() if k != "status"}
    meta = out.setdefault("metadata", {})
    for key in VOLATILE_METADATA:
        meta.pop(key, None)
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in SERVER_ANNOTATIONS}
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    return out


class _Session:
    """One connection to the target with the writes it may make (namespaces of the fault)."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.api = target.api_client()
        self.dynamic = DynamicClient(self.api)
        self.core = client.CoreV1Api(self.api)

    def close(self) -> None:
        self.api.close()

    def resource(self, api_version: str, kind: str) -> Any:
        return self.dynamic.resources.get(api_version=api_version, kind=kind)

    def read(self, api_version: str, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        try:
            return self.resource(api_version, kind).get(name=name, namespace=namespace).to_dict()
        except NotFoundError:
            return None

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        self.target.check_write(obj["kind"], meta.get("namespace"), meta["name"])
        return self.resource(obj["apiVersion"], obj["kind"]).create(body=obj, namespace=meta.get("namespace")).to_dict()

    def replace(self, current: dict[str, Any], desired: dict[str, Any]) -> None:
        meta = current["metadata"]
        self.target.check_write(current["kind"], meta.get("namespace"), meta["name"])
        body = normalized(desired)
        body["metadata"]["resourceVersion"] = meta["resourceVersion"]
        self.resource(current["apiVersion"], current["kind"]).replace(body=body, namespace=meta.get("namespace"))

    def patch(self, api_version: str, kind: str, namespace: str, name: str, patch: Any, content_type: str) -> None:
        self.target.check_write(kind, namespace, name)
        self.resource(api_version, kind).patch(body=patch, name=name, namespace=namespace, content_type=content_type)

    def delete(self, api_version: str, kind: str, namespace: str, name: str, uid: str | None = None) -> None:
        self.target.check_write(kind, namespace, name)
        # Background: a Job's API default is to orphan its pods; a rollback must take them along
        body: dict[str, Any] = {"propagationPolicy": "Background", **({"preconditions": {"uid": uid}} if uid else {})}
        try:
            self.resource(api_version, kind).delete(name=name, namespace=namespace, body=body)
        except NotFoundError:
            pass
        except ApiException as exc:
            if exc.status != 409:  # 409: the uid differs, so it is no longer the object we made
                raise


def node_for(core: client.CoreV1Api, select: dict[str, Any]) -> str:
    """The node a catalog ``select`` means: first by name matching ``labels``, or running a ``pod``.

    A pod that has terminated (``Succeeded``, or ``Failed`` such as one the kubelet evicted, which
    stays listed) runs nowhere any more, so it does not designate the node it was bound to.
    """
    if "labels" in select:
        nodes = sorted(n.metadata.name for n in core.list_node(label_selector=select["labels"]).items)
        if not nodes:
            raise ActivityFailed(f"no node matches the label selector {select['labels']!r}")
        return nodes[0]
    pod = select["pod"]
    pods = sorted((p.metadata.name, p.spec.node_name) for p in core.list_namespaced_pod(
        pod["namespace"], label_selector=pod["selector"]).items
        if p.spec.node_name and (p.status.phase if p.status else None) not in TERMINAL_PHASES)
    if not pods:
        raise ActivityFailed(f"no pod in {pod['namespace']} matching {pod['selector']!r} runs on a node, "
                             "so no node to change")
    return pods[0][1]


def nodes_for(core: client.CoreV1Api, select: dict[str, Any]) -> list[str]:
    """The nodes a catalog ``select`` means: with ``all``, every node matching ``labels`` (by name), else one."""
    if not select.get("all"):
        return [node_for(core, select)]
    nodes = sorted(n.metadata.name for n in core.list_node(label_selector=select["labels"]).items)
    if not nodes:
        raise ActivityFailed(f"no node matches the label selector {select['labels']!r}")
    return nodes


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _snapshot(session: _Session, namespaces: tuple[str, ...]) -> list[dict[str, Any]]:
    return [normalized(obj) for _, _, obj in namespaced_objects(session.dynamic, DECLARED_KINDS, namespaces)
            if not obj["metadata"].get("ownerReferences")]


def inject(fault_id: str, configuration: Configuration | None = None) -> dict[str, Any]:
    """Apply catalog fault ``fault_id``; returns its injection record (complaint filled in).

    If a change fails, the changes already made are undone before ActivityFailed is raised.
    """
    fault = load_fault(fault_id, configuration)
    directory = run_dir(configuration)
    target = connect(configuration, directory).allowing(fault.namespaces)
    session = _Session(target)
    record = read_record(directory)
    now = datetime.now(timezone.utc)
    injection: dict[str, Any] = {
        "fault": fault.id, "injected_at": now.isoformat(), "complaint": fault.complaint.replace(
            "{time}", now.strftime("%H:%M")), "sla_seconds": fault.sla_seconds, "namespaces": list(fault.namespaces),
        "removed": False, "changes": [], "baseline": [], "nodes": {}}
    record["injections"].append(injection)
    try:
        injection["baseline"] = _snapshot(session, fault.namespaces)
        injection["nodes"] = _node_states(session)
        _write_record(directory, record)
        for change in fault.changes:
            _apply(session, fault, change, injection["changes"], lambda: _write_record(directory, record))
        for change in fault.distractors:
            _apply(session, fault, change, injection["changes"], lambda: _write_record(directory, record))
            injection["changes"][-1]["distractor"] = True
    except (ActivityFailed, ApiException, ResourceNotFoundError) as exc:
        _undo(session, injection)
        injection["removed"] = True
        _write_record(directory, record)
        raise ActivityFailed(f"injecting fault {fault.id!r} failed and was undone: {_reason(exc)}") from exc
    finally:
        session.close()
    injection["ground_truth"] = _ground_truth(fault, injection["changes"])
    _write_record(directory, record)
    return {k: v for k, v in injection.items() if k not in ("baseline", "nodes")}


def _reason(exc: Exception) -> str:
    """The API's own message for a failed request (its Status), else the exception's text."""
    if isinstance(exc, ApiException) and exc.body:
        try:
            return str(json.loads(exc.body).get("message") or exc.body)
        except (ValueError, AttributeError):
            return str(exc.body)
    return str(exc)


def _ground_truth(fault: Fault, entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The fault's ground truth as JSON, ``{node}`` replaced by the (first) node the fault changed; when it
    changed several, the root-cause object named ``{node}`` may be any of them (the others become aliases)."""
    truth = fault.ground_truth
    nodes = [e["name"] for e in entries if e["op"] == "node"]
    node = nodes[0] if nodes else None

    def fill(text: str) -> str:
        return text.replace("{node}", node) if node else text

    def ref(obj: ObjectRef | None) -> dict[str, Any] | None:
        return None if obj is None else {**obj.to_json(), "name": fill(obj.name)}
    return {"category": truth.category, "object": ref(truth.object),
            "propagation": [fill(step) for step in truth.propagation],
            "aliases": {"categories": list(truth.alias_categories),
                        "objects": [ref(o) for o in truth.alias_objects]
                        + [{**truth.object.to_json(), "name": truth.object.name.replace("{node}", other)}
                           for other in nodes[1:] if truth.object is not None and "{node}" in truth.object.name]}}


def _apply(session: _Session, fault: Fault, change: dict[str, Any], entries: list[dict[str, Any]],
           save: Callable[[], None]) -> None:
    op, body = next(iter(change.items()))
    if op == "create":
        manifest = copy.deepcopy(body["manifest"])
        meta = manifest["metadata"]
        entry = {"op": "create", "apiVersion": manifest["apiVersion"], "kind": manifest["kind"],
                 "namespace": meta["namespace"], "name": meta["name"], "uid": None}
        entries.append(entry)
        save()
        entry["uid"] = session.create(manifest)["metadata"]["uid"]
        save()
        return
    if op == "node":
        _apply_node(session, body, entries, save)
        return
    api_version, kind, namespace, name = body["apiVersion"], body["kind"], body["namespace"], body["name"]
    before = session.read(api_version, kind, namespace, name)
    if before is None:
        raise ActivityFailed(f"{kind} {namespace}/{name} does not exist (is the {fault.app!r} app deployed?)")
    entries.append({"op": "delete" if op == "delete" else "patch", "apiVersion": api_version, "kind": kind,
                    "namespace": namespace, "name": name, "before": before})
    save()
    if op == "delete":
        session.delete(api_version, kind, namespace, name)
    elif op == "scale":
        session.patch(api_version, kind, namespace, name, {"spec": {"replicas": body["replicas"]}},
                      PATCH_TYPES["merge"])
    else:
        session.patch(api_version, kind, namespace, name, body["patch"], PATCH_TYPES[body["type"]])


def _apply_node(session: _Session, body: dict[str, Any], entries: list[dict[str, Any]],
                save: Callable[[], None]) -> None:
    for name in nodes_for(session.core, body["select"]):
        _change_node(session, name, body, entries, save)


def _change_node(session: _Session, name: str, body: dict[str, Any], entries: list[dict[str, Any]],
                 save: Callable[[], None]) -> None:
    session.target.check_write("Node", None, name)
    node = session.read("v1", "Node", None, name) or {}
    types = [c["type"] for c in body.get("conditions") or []]
    before: dict[str, Any] = {"conditions": [c for c in _conditions(session, name) if c["type"] in types],
                              "condition_types": types}
    for key in ("labels", "annotations"):
        if body.get(key):
            before[key] = node["metadata"].get(key)
    if body.get("taints"):
        before["taints"] = node["spec"].get("taints")
    if "unschedulable" in body:
        before["unschedulable"] = node["spec"].get("unschedulable")
    entries.append({"op": "node", "name": name, "before": before})
    save()
    patch = [{"op": "add", "path": f"/metadata/{key}", "value": {**(before[key] or {}), **body[key]}}
             for key in ("labels", "annotations") if key in before]
    if "taints" in before:
        added = {(t["key"], t["effect"]) for t in body["taints"]}
        kept = [t for t in before["taints"] or [] if (t["key"], t.get("effect")) not in added]
        patch.append({"op": "add", "path": "/spec/taints", "value": kept + body["taints"]})
    if "unschedulable" in before:  # a cordon (the node lifecycle controller adds the unschedulable taint)
        patch.append({"op": "add", "path": "/spec/unschedulable", "value": body["unschedulable"]})
    if patch:
        session.core.patch_node(name, patch)
    if types:
        now = _now()
        _set_conditions(session, name, types,
                        [{"lastHeartbeatTime": now, "lastTransitionTime": now, **c} for c in body["conditions"]])


def _conditions(session: _Session, name: str) -> list[dict[str, Any]]:
    node = session.read("v1", "Node", None, name) or {}
    return (node.get("status") or {}).get("conditions") or []


def _set_conditions(session: _Session, name: str, types: list[str], conditions: list[dict[str, Any]]) -> None:
    """Make the node's conditions of ``types`` exactly ``conditions``, in place; the others stay as they are."""
    by_type = {c["type"]: c for c in conditions}
    current = _conditions(session, name)
    present = {c["type"] for c in current}
    merged = [by_type.get(c["type"], c) for c in current if c["type"] not in types or c["type"] in by_type]
    merged += [c for c in conditions if c["type"] not in present]
    session.core.patch_node_status(name, [{"op": "add", "path": "/status/conditions", "value": merged}])


def _undo_node(session: _Session, entry: dict[str, Any]) -> None:
    name, before = entry["name"], entry["before"]
    session.target.check_write("Node", None, name)
    node = session.read("v1", "Node", None, name) or {}
    current = {"labels": node["metadata"].get("labels"), "annotations": node["metadata"].get("annotations"),
               "taints": node["spec"].get("taints"), "unschedulable": node["spec"].get("unschedulable")}
    paths = {"labels": "/metadata/labels", "annotations": "/metadata/annotations", "taints": "/spec/taints",
             "unschedulable": "/spec/unschedulable"}
    patch = [{"op": "remove", "path": paths[key]} if before[key] is None else
             {"op": "add", "path": paths[key], "value": before[key]}
             for key in paths if key in before and current[key] != before[key]]
    if patch:
        session.core.patch_node(name, patch)
    types = before["condition_types"]
    now = [c for c in _conditions(session, name) if c["type"] in types]
    if types and now != before["conditions"]:
        _set_conditions(session, name, types, before["conditions"])


def _undo(session: _Session, injection: dict[str, Any]) -> None:
    """Undo the injection's recorded changes, last first; each step checks the current state first."""
    for entry in reversed(injection["changes"]):
        op = entry["op"]
        if op == "create":
            if entry["uid"] is not None:  # None: the create failed, so whatever has that name is not ours
                session.delete(entry["apiVersion"], entry["kind"], entry["namespace"], entry["name"], entry["uid"])
        elif op == "node":
            _undo_node(session, entry)
        else:
            _restore_object(session, entry["before"])


#: attempts at restoring one object while controllers keep updating it (each 409 re-reads it)
RESTORE_ATTEMPTS = 5


def _restore_object(session: _Session, before: dict[str, Any]) -> None:
    meta = before["metadata"]
    for attempt in range(RESTORE_ATTEMPTS):
        current = session.read(before["apiVersion"], before["kind"], meta.get("namespace"), meta["name"])
        try:
            if current is None:
                body = normalized(before)
                body["metadata"].pop("ownerReferences", None)
                session.create(body)
            elif normalized(current) != normalized(before):
                session.replace(current, before)
            return
        except ApiException as exc:
            if exc.status != 409 or attempt == RESTORE_ATTEMPTS - 1:
                raise


def _node_state(node: dict[str, Any]) -> dict[str, Any]:
    """What an agent may change on a node and the rollback puts back (not what controllers maintain)."""
    return {"labels": node["metadata"].get("labels") or {}, "annotations": node["metadata"].get("annotations") or {},
            "unschedulable": bool((node.get("spec") or {}).get("unschedulable")),
            "taints": [t for t in (node.get("spec") or {}).get("taints") or []
                       if not t["key"].startswith(CONTROLLER_TAINT_PREFIX)]}


def _node_states(session: _Session) -> dict[str, dict[str, Any]]:
    return {n.metadata.name: _node_state(session.read("v1", "Node", None, n.metadata.name) or {"metadata": {}})
            for n in session.core.list_node().items}


def _restore_nodes(session: _Session, baseline: dict[str, dict[str, Any]]) -> list[str]:
    """Put each node's labels, annotations, cordon and own taints back as ``baseline`` had them."""
    restored = []
    for name, before in sorted(baseline.items()):
        node = session.read("v1", "Node", None, name)
        if node is None or _node_state(node) == before:
            continue
        session.target.check_write("Node", None, name)
        spec = node.get("spec") or {}
        taints = [t for t in spec.get("taints") or [] if t["key"].startswith(CONTROLLER_TAINT_PREFIX)] + before["taints"]
        patch = [{"op": "add", "path": "/metadata/labels", "value": before["labels"]},
                 {"op": "add", "path": "/metadata/annotations", "value": before["annotations"]}]
        for field, value in (("unschedulable", before["unschedulable"]), ("taints", taints)):
            if value:
                patch.append({"op": "add", "path": f"/spec/{field}", "value": value})
            elif field in spec:
                patch.append({"op": "remove", "path": f"/spec/{field}"})
        session.core.patch_node(name, patch)
        restored.append(f"Node/{name}")
    return restored


def remove(configuration: Configuration | None = None, fault_id: str | None = None) -> list[str]:
    """Undo every injection not yet removed (or only those of ``fault_id``); returns the faults undone.

    Idempotent: an injection is marked removed once undone, and each step compares the current
    state with the recorded one before writing.
    """
    directory = run_dir(configuration)
    record = read_record(directory)
    pending = [i for i in record["injections"] if not i["removed"] and fault_id in (None, i["fault"])]
    if not pending:
        return []
    target = connect(configuration, directory)
    undone = []
    for injection in reversed(pending):
        session = _Session(target.allowing(injection["namespaces"]))
        try:
            _undo(session, injection)
        finally:
            session.close()
        injection["removed"] = True
        _write_record(directory, record)
        undone.append(injection["fault"])
    return undone


def restore(configuration: Configuration | None = None) -> dict[str, Any]:
    """Remove the faults, then put every declared object of their namespaces, and the nodes, back as the
    baseline had them.

    Objects created since (not owned by a controller) are deleted, deleted ones recreated,
    changed ones replaced by their baseline version; nodes get their labels, annotations, cordon
    and own taints back. Returns what it did.
    """
    undone = remove(configuration)
    directory = run_dir(configuration)
    record = read_record(directory)
    if not record["injections"]:
        return {"faults_removed": undone, "restored": [], "deleted": []}
    namespaces = tuple(sorted({ns for i in record["injections"] for ns in i["namespaces"]}))
    # the earliest injection's baseline wins: later ones were taken with earlier faults active
    baseline = {(o["kind"], o["metadata"]["namespace"], o["metadata"]["name"]): o
                for i in reversed(record["injections"]) for o in i["baseline"]}
    target = connect(configuration, directory).allowing(namespaces)
    session = _Session(target)
    restored, deleted = [], []
    try:
        current = {(o["kind"], o["metadata"]["namespace"], o["metadata"]["name"]): o
                   for o in _snapshot(session, namespaces)}
        for key, obj in current.items():
            if key not in baseline:
                session.delete(obj["apiVersion"], obj["kind"], key[1], key[2])
                deleted.append("/".join(key))
        for key, obj in baseline.items():
            if current.get(key) != obj:
                _restore_object(session, obj)
                restored.append("/".join(key))
        restored += _restore_nodes(session, record["injections"][0].get("nodes") or {})
    finally:
        session.close()
    return {"faults_removed": undone, "restored": restored, "deleted": deleted}
