"""The StatefulSet controller: pods with stable names, ordinals and claims.

Pods are named ``<set>-<ordinal>`` with the ``statefulset.kubernetes.io/pod-name``,
``apps.kubernetes.io/pod-index`` and ``controller-revision-hash`` labels, a
hostname and the governing Service as subdomain. With ``OrderedReady`` each
pod waits for its predecessors to be Running and Ready and scale-down removes
the highest ordinal first, one at a time; ``Parallel`` acts on all at once.
Each ``volumeClaimTemplates`` entry gives every pod its own claim
``<claim>-<set>-<ordinal>``, created before the pod and kept on scale-down.
Failed pods are replaced; a ``RollingUpdate`` replaces outdated pods from the
highest ordinal down to the partition, one at a time. Template history lives in
ControllerRevisions, and the status reports replicas, ready, available,
current and updated counts with the current and update revisions. A pod the API
refuses (an admission plugin forbids it) is a Warning ``FailedCreate`` event on the set, and retried.
"""

from __future__ import annotations

import copy
from typing import Any, Iterator

from .. import clock
from ..errors import APIError
from ..kinds import preferred
from ..selectors import selector_from_object
from ..store import Obj, WatchEvent
from .base import Controller, ObjectKey, key_of
from .ownership import claim, controller_ref, owner_reference
from .podstate import is_available, is_ready, pending_availability
from .podutil import is_terminal, is_terminating, pod_from_template
from .revisions import HASH_LABEL, REVISIONS, ensure_revision, prune_revisions, template_of

STATEFULSETS = preferred("apps", "StatefulSet")
PODS = preferred("", "Pod")
PVCS = preferred("", "PersistentVolumeClaim")
COMPONENT = "statefulset-controller"
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"


def ordinal_of(sts: Obj, pod: Obj) -> int | None:
    """The ordinal in ``<set>-<ordinal>``, None for a pod not named that way."""
    prefix = f"{sts['metadata']['name']}-"
    name = pod["metadata"]["name"]
    suffix = name[len(prefix):] if name.startswith(prefix) else ""
    return int(suffix) if suffix.isdigit() else None


def running_and_ready(pod: Obj) -> bool:
    """What OrderedReady waits for: Running, Ready and not terminating."""
    return (pod.get("status") or {}).get("phase") == "Running" and is_ready(pod) and not is_terminating(pod)


Revision = tuple[str, dict[str, Any]]  # (name, pod template)


def claim_name(template: dict[str, Any], sts: Obj, ordinal: int) -> str:
    """``<claim>-<set>-<ordinal>``."""
    return f"{template['metadata']['name']}-{sts['metadata']['name']}-{ordinal}"


class StatefulSetController(Controller):
    """Drives StatefulSets."""

    name = "statefulset"
    watches = (STATEFULSETS, PODS)

    def keys_for(self, event: WatchEvent) -> Iterator[ObjectKey]:
        if event.storage_key == STATEFULSETS.storage_key:
            yield key_of(event.obj)
            return
        ref = controller_ref(event.obj)
        if ref is not None and ref.get("kind") == "StatefulSet":
            yield event.obj["metadata"]["namespace"], ref["name"]

    def reconcile(self, key: ObjectKey) -> None:
        sts = self.api.try_get(STATEFULSETS, *key)
        if sts is None or sts["metadata"].get("deletionTimestamp"):
            return
        spec = sts.get("spec") or {}
        selector = selector_from_object(spec.get("selector"), null_matches_nothing=True)
        pods = claim(self.api, PODS, sts, self.api.list(PODS, key[0])[0], selector)
        template = spec.get("template") or {}
        update_name = ensure_revision(self.api, sts, template)["metadata"]["name"]
        current_name = (sts.get("status") or {}).get("currentRevision") or update_name
        stored = self.api.try_get(REVISIONS, key[0], current_name)
        current = (current_name, template_of(stored) if stored is not None else template)
        by_ordinal = {o: p for p in pods if (o := ordinal_of(sts, p)) is not None}
        start = int((spec.get("ordinals") or {}).get("start", 0))
        replicas = int(spec.get("replicas", 1))
        wanted = range(start, start + replicas)
        ordered = spec.get("podManagementPolicy", "OrderedReady") != "Parallel"
        progressing = self._scale_up(sts, by_ordinal, wanted, ordered, current, (update_name, template))
        if progressing:
            progressing = self._scale_down(sts, by_ordinal, wanted, ordered)
        if progressing:
            self._roll(sts, by_ordinal, wanted, update_name)
        self._write_status(sts, list(by_ordinal.values()), current_name, update_name)
        prune_revisions(self.api, sts, {current_name, update_name} |
                        {(p["metadata"].get("labels") or {}).get(HASH_LABEL, "") for p in pods},
                        int(spec.get("revisionHistoryLimit", 10)))

    # -- the three phases ----------------------------------------------------------------
    def _scale_up(self, sts: Obj, by_ordinal: dict[int, Obj], wanted: range, ordered: bool,
                  current: Revision, update: Revision) -> bool:
        """Create missing pods and replace finished ones; False while an ordered set must wait."""
        strategy = (sts.get("spec") or {}).get("updateStrategy") or {}
        partition = int((strategy.get("rollingUpdate") or {}).get("partition", 0))
        for ordinal in wanted:
            pod = by_ordinal.get(ordinal)
            if pod is not None and is_terminal(pod) and not is_terminating(pod):
                self._delete_pod(sts, pod)  # a finished pod is replaced under the same name
                del by_ordinal[ordinal]
                pod = None
            if pod is None:
                revision = current if strategy.get("type") != "OnDelete" and ordinal < partition else update
                by_ordinal[ordinal] = self._create_pod(sts, ordinal, *revision)
                if ordered:
                    return False
            elif ordered and not running_and_ready(pod):
                return False
        return True

    def _scale_down(self, sts: Obj, by_ordinal: dict[int, Obj], wanted: range, ordered: bool) -> bool:
        """Delete pods beyond the wanted ordinals, highest first (one at a time when ordered)."""
        condemned = sorted((o for o in by_ordinal if o not in wanted), reverse=True)
        for ordinal in condemned:
            pod = by_ordinal[ordinal]
            if is_terminating(pod):
                if ordered:
                    return False
                continue
            self._delete_pod(sts, pod)
            if ordered:
                return False
        return not condemned

    def _roll(self, sts: Obj, by_ordinal: dict[int, Obj], wanted: range, update_rev: str) -> None:
        """RollingUpdate: replace the highest outdated pod at or above the partition, once all are ready."""
        strategy = (sts.get("spec") or {}).get("updateStrategy") or {}
        if strategy.get("type", "RollingUpdate") != "RollingUpdate":
            return
        if not all(o in by_ordinal and running_and_ready(by_ordinal[o]) for o in wanted):
            return
        partition = int((strategy.get("rollingUpdate") or {}).get("partition", 0))
        for ordinal in sorted(wanted, reverse=True):
            if ordinal < wanted.start + partition:
                break
            pod = by_ordinal[ordinal]
            if (pod["metadata"].get("labels") or {}).get(HASH_LABEL) != update_rev:
                self._delete_pod(sts, pod)
                return

    # -- writes --------------------------------------------------------------------------------
    def _create_pod(self, sts: Obj, ordinal: int, revision: str, template: dict[str, Any]) -> Obj:
        spec = sts.get("spec") or {}
        name = f"{sts['metadata']['name']}-{ordinal}"
        pod = pod_from_template(template, sts, name=name, extra_labels={
            POD_NAME_LABEL: name, POD_INDEX_LABEL: str(ordinal), HASH_LABEL: revision})
        pod_spec = pod["spec"]
        pod_spec["hostname"] = name
        if spec.get("serviceName"):
            pod_spec["subdomain"] = spec["serviceName"]
        for claim_template in spec.get("volumeClaimTemplates") or []:
            claim = self._ensure_claim(sts, claim_template, ordinal, name)
            volumes = [v for v in pod_spec.get("volumes") or [] if v.get("name") != claim_template["metadata"]["name"]]
            volumes.append({"name": claim_template["metadata"]["name"], "persistentVolumeClaim": {"claimName": claim}})
            pod_spec["volumes"] = volumes
        try:
            created = self.api.create(PODS, sts["metadata"]["namespace"], pod)
        except APIError as err:  # e.g. forbidden by an admission plugin: said on the StatefulSet, then retried
            self.cluster.events.record(sts, "Warning", "FailedCreate", f"create Pod {name} in StatefulSet "
                                       f"{sts['metadata']['name']} failed error: {err.message}", COMPONENT)
            raise
        self.cluster.events.record(sts, "Normal", "SuccessfulCreate",
                                   f"create Pod {name} in StatefulSet {sts['metadata']['name']} successful", COMPONENT)
        return created

    def _ensure_claim(self, sts: Obj, template: dict[str, Any], ordinal: int, pod_name: str) -> str:
        name = claim_name(template, sts, ordinal)
        namespace = sts["metadata"]["namespace"]
        if self.api.try_get(PVCS, namespace, name) is not None:
            return name
        match_labels = ((sts.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        meta: dict[str, Any] = {"name": name, "namespace": namespace,
                                "labels": {**((template.get("metadata") or {}).get("labels") or {}), **match_labels}}
        retention = (sts.get("spec") or {}).get("persistentVolumeClaimRetentionPolicy") or {}
        if retention.get("whenDeleted") == "Delete":
            meta["ownerReferences"] = [owner_reference(sts)]
        if (template.get("metadata") or {}).get("annotations"):
            meta["annotations"] = dict(template["metadata"]["annotations"])
        self.api.create(PVCS, namespace, {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta,
                                          "spec": copy.deepcopy(template.get("spec") or {})})
        self.cluster.events.record(sts, "Normal", "SuccessfulCreate", f"create Claim {name} Pod {pod_name} in "
                                   f"StatefulSet {sts['metadata']['name']} success", COMPONENT)
        return name

    def _delete_pod(self, sts: Obj, pod: Obj) -> None:
        meta = pod["metadata"]
        self.api.delete(PODS, meta["namespace"], meta["name"])
        self.cluster.events.record(sts, "Normal", "SuccessfulDelete",
                                   f"delete Pod {meta['name']} in StatefulSet {sts['metadata']['name']} successful",
                                   COMPONENT)

    def _write_status(self, sts: Obj, pods: list[Obj], current_rev: str, update_rev: str) -> None:
        spec = sts.get("spec") or {}
        min_ready = int(spec.get("minReadySeconds", 0))
        now = clock.now()
        status: dict[str, Any] = {"observedGeneration": sts["metadata"].get("generation", 1), "replicas": 0,
                                  "readyReplicas": 0, "currentReplicas": 0, "updatedReplicas": 0,
                                  "availableReplicas": 0}
        for pod in pods:
            status["replicas"] += 1
            if running_and_ready(pod):
                status["readyReplicas"] += 1
                if is_available(pod, min_ready, now):
                    status["availableReplicas"] += 1
                else:
                    wait = pending_availability(pod, min_ready, now)
                    if wait is not None:
                        self.requeue_after(key_of(sts), wait + 0.01)
            if not is_terminating(pod):
                revision = (pod["metadata"].get("labels") or {}).get(HASH_LABEL)
                status["currentReplicas"] += revision == current_rev
                status["updatedReplicas"] += revision == update_rev
        if status["updatedReplicas"] == status["replicas"] == status["readyReplicas"] == int(spec.get("replicas", 1)):
            current_rev, status["currentReplicas"] = update_rev, status["updatedReplicas"]
        old = sts.get("status") or {}
        status.update({"currentRevision": current_rev, "updateRevision": update_rev,
                       "collisionCount": int(old.get("collisionCount") or 0)})
        if old.get("conditions"):
            status["conditions"] = old["conditions"]
        if status != old:
            self.api.update(STATEFULSETS, sts["metadata"]["namespace"], sts["metadata"]["name"],
                            {**sts, "status": status}, subresource="status")
