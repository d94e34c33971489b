"""The DaemonSet controller: one pod on every eligible node.

A node is eligible when it matches the template's node selector and required
node affinity and every NoSchedule/NoExecute taint is tolerated, counting the
tolerations the controller adds to every daemon pod (not-ready and
unreachable NoExecute; disk, memory and PID pressure and unschedulable
NoSchedule; network-unavailable for host-network pods). Each pod is pinned to
its node with a required ``matchFields metadata.name`` node affinity and bound
by the scheduler, as upstream does. Pods on nodes that stop qualifying (a new
NoExecute taint, a label change) are removed, failed pods are replaced, and a
``RollingUpdate`` replaces outdated pods within ``maxUnavailable``. Template
history is kept in ControllerRevisions; pods carry ``controller-revision-hash``
and ``pod-template-generation``.
"""

from __future__ import annotations

import copy
from typing import Any, Iterator

from .. import clock
from ..kinds import preferred
from ..selectors import selector_from_object
from ..store import Obj, WatchEvent
from . import placement
from .base import Controller, ObjectKey, key_of
from .ownership import claim, controller_ref
from .podstate import is_available, is_ready, pending_availability
from .podutil import is_terminal, is_terminating, owned_by, pod_from_template
from .revisions import HASH_LABEL, ensure_revision, prune_revisions

DAEMONSETS = preferred("apps", "DaemonSet")
PODS = preferred("", "Pod")
NODES = preferred("", "Node")
COMPONENT = "daemonset-controller"
GENERATION_LABEL = "pod-template-generation"
DAEMON_TOLERATIONS = (
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
)
NETWORK_TOLERATION = {"key": "node.kubernetes.io/network-unavailable", "operator": "Exists", "effect": "NoSchedule"}


def daemon_tolerations(pod_spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The spec's tolerations plus the daemon defaults it lacks (``AddOrUpdateDaemonPodTolerations``)."""
    tolerations = list(pod_spec.get("tolerations") or [])
    extra = list(DAEMON_TOLERATIONS) + ([NETWORK_TOLERATION] if pod_spec.get("hostNetwork") else [])
    for default in extra:
        if not any(t.get("key") == default["key"] and t.get("effect") == default["effect"] for t in tolerations):
            tolerations.append(dict(default))
    return tolerations


def node_fit(template_spec: dict[str, Any], node: Obj) -> tuple[bool, bool]:
    """(should run, may keep running): selector/affinity and taints as ``NodeShouldRunDaemonPod`` checks."""
    probe = {"metadata": {}, "spec": template_spec}
    if not placement.matches_node_selector(probe, node):
        return False, False
    tolerations = daemon_tolerations(template_spec)
    keep = placement.untolerated_taint(node, tolerations, ("NoExecute",)) is None
    return keep and placement.untolerated_taint(node, tolerations) is None, keep


def pin_to_node(pod_spec: dict[str, Any], node: str) -> None:
    """Replace required node affinity with a single ``metadata.name`` term for ``node``."""
    affinity = pod_spec.setdefault("affinity", {})
    node_affinity = affinity.setdefault("nodeAffinity", {})
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}]}


class DaemonSetController(Controller):
    """Drives DaemonSets."""

    name = "daemonset"
    watches = (DAEMONSETS, PODS, NODES)

    def keys_for(self, event: WatchEvent) -> Iterator[ObjectKey]:
        if event.storage_key == DAEMONSETS.storage_key:
            yield key_of(event.obj)
        elif event.storage_key == NODES.storage_key:
            for ds in self.cluster.store.list(DAEMONSETS.storage_key):
                yield key_of(ds)
        else:
            ref = controller_ref(event.obj)
            if ref is not None and ref.get("kind") == "DaemonSet":
                yield event.obj["metadata"]["namespace"], ref["name"]

    def reconcile(self, key: ObjectKey) -> None:
        ds = self.api.try_get(DAEMONSETS, *key)
        if ds is None or ds["metadata"].get("deletionTimestamp"):
            return
        spec = ds.get("spec") or {}
        template = spec.get("template") or {}
        selector = selector_from_object(spec.get("selector"), null_matches_nothing=True)
        pods = claim(self.api, PODS, ds, self.api.list(PODS, key[0])[0], selector)
        revision = ensure_revision(self.api, ds, template)
        digest = revision["metadata"]["labels"][HASH_LABEL]
        nodes = {n["metadata"]["name"]: n for n in self.api.list(NODES)[0]}
        by_node: dict[str, list[Obj]] = {}
        for pod in pods:
            by_node.setdefault(placement.target_node(pod) or "", []).append(pod)
        plan = {name: node_fit(template.get("spec") or {}, node) for name, node in nodes.items()}
        for name, (should_run, keep) in plan.items():
            self._manage_node(ds, name, should_run, keep, by_node.get(name, []), digest)
        for name, orphans in by_node.items():
            if name not in nodes:
                for pod in orphans:
                    if not is_terminating(pod):
                        self._delete_pod(ds, pod)
        pods = owned_by(self.api.list(PODS, key[0])[0], ds)
        self._roll(ds, plan, pods, digest)
        self._write_status(ds, plan, pods, digest)
        in_use = {f"{ds['metadata']['name']}-{(p['metadata'].get('labels') or {}).get(HASH_LABEL)}" for p in pods}
        limit = int(spec.get("revisionHistoryLimit", 10))
        prune_revisions(self.api, ds, {revision["metadata"]["name"]} | in_use, limit)

    def _manage_node(self, ds: Obj, node: str, should_run: bool, keep: bool, pods: list[Obj], digest: str) -> None:
        live = []
        for pod in pods:
            if is_terminating(pod):
                continue
            if is_terminal(pod) and (pod.get("status") or {}).get("phase") == "Failed":
                meta = pod["metadata"]
                self.cluster.events.record(ds, "Warning", "FailedDaemonPod", f"Found failed daemon pod "
                                           f"{meta['namespace']}/{meta['name']} on node {node}, will try to kill it",
                                           COMPONENT)
                self._delete_pod(ds, pod)
                continue
            live.append(pod)
        if not keep or (not should_run and not live):
            for pod in live:
                self._delete_pod(ds, pod)
            return
        if not live and should_run:
            self._create_pod(ds, node, digest)
            return
        for extra in sorted(live, key=lambda p: p["metadata"]["creationTimestamp"])[1:]:
            self._delete_pod(ds, extra)

    def _roll(self, ds: Obj, plan: dict[str, tuple[bool, bool]], pods: list[Obj], digest: str) -> None:
        """RollingUpdate: delete outdated pods while fewer than ``maxUnavailable`` nodes lack an available pod."""
        strategy = (ds.get("spec") or {}).get("updateStrategy") or {}
        if strategy.get("type", "RollingUpdate") != "RollingUpdate":
            return
        desired = [name for name, (run, _) in plan.items() if run]
        budget = _max_unavailable(strategy, len(desired))
        min_ready = int((ds.get("spec") or {}).get("minReadySeconds", 0))
        now = clock.now()
        on_node = {placement.target_node(p): p for p in pods if not is_terminating(p)}
        unavailable = sum(1 for n in desired if n not in on_node or not is_available(on_node[n], min_ready, now))
        for name in desired:
            pod = on_node.get(name)
            if pod is None or (pod["metadata"].get("labels") or {}).get(HASH_LABEL) == digest:
                continue
            if is_available(pod, min_ready, now):
                if unavailable >= budget:
                    return
                unavailable += 1
            self._delete_pod(ds, pod)

    # -- writes -----------------------------------------------------------------------------
    def _create_pod(self, ds: Obj, node: str, digest: str) -> None:
        template = copy.deepcopy((ds.get("spec") or {}).get("template") or {})
        pod = pod_from_template(template, ds, extra_labels={
            HASH_LABEL: digest, GENERATION_LABEL: str(ds["metadata"].get("generation", 1))})
        pod["spec"]["tolerations"] = daemon_tolerations(pod["spec"])
        pin_to_node(pod["spec"], node)
        created = self.api.create(PODS, ds["metadata"]["namespace"], pod)
        self.cluster.events.record(ds, "Normal", "SuccessfulCreate", f"Created pod: {created['metadata']['name']}",
                                   COMPONENT)

    def _delete_pod(self, ds: Obj, pod: Obj) -> None:
        meta = pod["metadata"]
        self.api.delete(PODS, meta["namespace"], meta["name"])
        self.cluster.events.record(ds, "Normal", "SuccessfulDelete", f"Deleted pod: {meta['name']}", COMPONENT)

    def _write_status(self, ds: Obj, plan: dict[str, tuple[bool, bool]], pods: list[Obj], digest: str) -> None:
        min_ready = int((ds.get("spec") or {}).get("minReadySeconds", 0))
        now = clock.now()
        on_node: dict[str, Obj] = {}
        for pod in pods:
            if not is_terminating(pod) and not is_terminal(pod):
                on_node.setdefault(placement.target_node(pod) or "", pod)
        status: dict[str, Any] = {"currentNumberScheduled": 0, "desiredNumberScheduled": 0, "numberMisscheduled": 0,
                                  "numberReady": 0, "observedGeneration": ds["metadata"].get("generation", 1),
                                  "updatedNumberScheduled": 0, "numberAvailable": 0}
        for name, (should_run, _) in plan.items():
            pod = on_node.get(name)
            if not should_run:
                status["numberMisscheduled"] += pod is not None
                continue
            status["desiredNumberScheduled"] += 1
            if pod is None:
                continue
            status["currentNumberScheduled"] += 1
            status["updatedNumberScheduled"] += (pod["metadata"].get("labels") or {}).get(HASH_LABEL) == digest
            if is_ready(pod):
                status["numberReady"] += 1
                if is_available(pod, min_ready, now):
                    status["numberAvailable"] += 1
                else:
                    wait = pending_availability(pod, min_ready, now)
                    if wait is not None:
                        self.requeue_after(key_of(ds), wait + 0.01)
        unavailable = status["desiredNumberScheduled"] - status["numberAvailable"]
        if unavailable:
            status["numberUnavailable"] = unavailable
        if not status["numberAvailable"]:
            del status["numberAvailable"]
        old = ds.get("status") or {}
        if old.get("conditions"):
            status["conditions"] = old["conditions"]
        if status != old:
            self.api.update(DAEMONSETS, ds["metadata"]["namespace"], ds["metadata"]["name"], {**ds, "status": status},
                            subresource="status")


def _max_unavailable(strategy: dict[str, Any], desired: int) -> int:
    """``maxUnavailable`` as a number of nodes (percentages round down, at least one)."""
    raw = (strategy.get("rollingUpdate") or {}).get("maxUnavailable", 1)
    if isinstance(raw, str) and raw.endswith("%"):
        return max(desired * int(raw[:-1]) // 100, 1)
    return max(int(raw), 1)
