"""The ReplicaSet (and ReplicationController) controller: keep the right number of pods.

As kube-controller-manager's replicaset controller does, a sync of one
ReplicaSet claims the active pods matching its selector (adopting orphans,
releasing pods that no longer match), creates missing pods from the template in
slow-start batches (1, 2, 4, ... up to 500 per sync) named
``<replicaset>-<5 random chars>`` with a controller owner reference, deletes
surplus pods in the order of :func:`~.podranking.rank_for_deletion`, records
``SuccessfulCreate``/``FailedCreate``/``SuccessfulDelete`` events and writes the
status (replicas, fullyLabeledReplicas, readyReplicas, availableReplicas,
observedGeneration and a ``ReplicaFailure`` condition when creating or
deleting failed). Terminating and finished pods do not count.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any, Iterable

from .. import clock
from ..errors import APIError
from ..kinds import Kind, preferred
from ..selectors import LabelSelector, selector_from_map, selector_from_object
from ..store import Obj, WatchEvent
from .base import Controller, ObjectKey, key_of
from .podranking import rank_for_deletion
from .ownership import claim, controller_ref, owner_reference, selects
from .podstate import condition, is_active, is_available, is_ready, pending_availability

PODS = preferred("", "Pod")
REPLICASETS = preferred("apps", "ReplicaSet")
REPLICATION_CONTROLLERS = preferred("", "ReplicationController")

#: Most pods created or deleted in one sync (the controller's burstReplicas).
BURST_REPLICAS = 500
#: Status fields serialized with omitempty: dropped when zero.
_OMIT_WHEN_ZERO = ("fullyLabeledReplicas", "readyReplicas", "availableReplicas", "observedGeneration")


class ReplicaSetController(Controller):
    """Reconciles ReplicaSets against their pods."""

    name = "replicaset-controller"
    kind: Kind = REPLICASETS
    watches = (REPLICASETS, PODS)

    def selector(self, owner: Obj) -> LabelSelector:
        """The pods ``owner`` selects."""
        return selector_from_object((owner.get("spec") or {}).get("selector"), null_matches_nothing=True)

    # -- event mapping ---------------------------------------------------------
    def keys_for(self, event: WatchEvent) -> Iterable[ObjectKey]:
        if event.storage_key == self.kind.storage_key:
            yield key_of(event.obj)
            return
        pod = event.obj
        namespace = pod["metadata"].get("namespace", "")
        ref = controller_ref(pod)
        if ref is not None:
            if ref.get("kind") == self.kind.kind:
                yield namespace, ref["name"]
            return
        if event.type == "DELETED" or not is_active(pod):
            return
        owners, _ = self.api.list(self.kind, namespace)
        for owner in owners:
            if selects(self.selector(owner), pod):
                yield key_of(owner)

    # -- sync ----------------------------------------------------------------------
    def reconcile(self, key: ObjectKey) -> None:
        namespace, name = key
        owner = self.api.try_get(self.kind, namespace, name)
        if owner is None:
            return
        pods, _ = self.api.list(PODS, namespace)
        active = claim(self.api, PODS, owner, [p for p in pods if is_active(p)], self.selector(owner))
        error: APIError | None = None
        if not owner["metadata"].get("deletionTimestamp"):
            error = self._manage(owner, active, pods)
        now = clock.now()
        self._write_status(owner, active, error, now)
        min_ready = int(owner["spec"].get("minReadySeconds") or 0)
        waits = [w for w in (pending_availability(p, min_ready, now) for p in active) if w is not None]
        if waits:
            self.requeue_after(key, max(min(waits), 0.0) + 0.05)
        if error is not None:
            self.requeue_after(key, 1.0)

    def _manage(self, owner: Obj, active: list[Obj], all_pods: list[Obj]) -> APIError | None:
        """Create or delete pods toward ``spec.replicas``; the first failure stops the sync."""
        diff = len(active) - int(owner["spec"].get("replicas", 1))
        if diff < 0:
            return self._create_pods(owner, min(-diff, BURST_REPLICAS))
        if diff > 0:
            related = self._related_pods(owner, all_pods)
            return self._delete_pods(owner, rank_for_deletion(active, related)[:min(diff, BURST_REPLICAS)])
        return None

    def _create_pods(self, owner: Obj, count: int) -> APIError | None:
        """Slow start: batches of 1, 2, 4, ... ; a failed batch stops the rest."""
        batch, done = 1, 0
        while done < count:
            size = min(batch, count - done)
            for _ in range(size):
                error = self._create_pod(owner)
                if error is not None:
                    return error
            done += size
            batch *= 2
        return None

    def _create_pod(self, owner: Obj) -> APIError | None:
        template = owner["spec"].get("template") or {}
        tmeta = template.get("metadata") or {}
        meta: dict[str, Any] = {"generateName": f"{owner['metadata']['name']}-",
                                "ownerReferences": [owner_reference(owner)]}
        for field in ("labels", "annotations", "finalizers"):
            if tmeta.get(field):
                meta[field] = copy.deepcopy(tmeta[field])
        body = {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": copy.deepcopy(template.get("spec") or {})}
        events = self.cluster.events
        try:
            pod = self.api.create(PODS, owner["metadata"]["namespace"], body)
        except APIError as err:
            events.record(owner, "Warning", "FailedCreate", f"Error creating: {err.message}", self.name)
            return err
        events.record(owner, "Normal", "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}", self.name)
        return None

    def _delete_pods(self, owner: Obj, victims: list[Obj]) -> APIError | None:
        events = self.cluster.events
        for pod in victims:
            name = pod["metadata"]["name"]
            try:
                self.api.delete(PODS, pod["metadata"]["namespace"], name,
                                preconditions={"uid": pod["metadata"]["uid"]})
            except APIError as err:
                if err.code == 404:
                    continue
                events.record(owner, "Warning", "FailedDelete", f"Error deleting: {err.message}", self.name)
                return err
            events.record(owner, "Normal", "SuccessfulDelete", f"Deleted pod: {name}", self.name)
        return None

    def _related_pods(self, owner: Obj, pods: list[Obj]) -> list[Obj]:
        """Pods of every sibling controlled by the same owner (for node co-location ranks)."""
        parent = controller_ref(owner)
        if parent is None:
            return [p for p in pods if (controller_ref(p) or {}).get("uid") == owner["metadata"]["uid"]]
        siblings, _ = self.api.list(self.kind, owner["metadata"]["namespace"])
        uids = {s["metadata"]["uid"] for s in siblings if (controller_ref(s) or {}).get("uid") == parent.get("uid")}
        return [p for p in pods if (controller_ref(p) or {}).get("uid") in uids]

    # -- status --------------------------------------------------------------------
    def _write_status(self, owner: Obj, active: list[Obj], error: APIError | None, now: datetime) -> None:
        spec = owner["spec"]
        status: dict[str, Any] = copy.deepcopy(owner.get("status") or {})
        template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        min_ready = int(spec.get("minReadySeconds") or 0)
        status["replicas"] = len(active)
        status["fullyLabeledReplicas"] = sum(
            1 for p in active if all((p["metadata"].get("labels") or {}).get(k) == v for k, v in template_labels.items()))
        status["readyReplicas"] = sum(1 for p in active if is_ready(p))
        status["availableReplicas"] = sum(1 for p in active if is_available(p, min_ready, now))
        status["observedGeneration"] = owner["metadata"].get("generation", 1)
        failure = condition(owner, "ReplicaFailure")
        if error is not None and failure is None:
            diff = len(active) - int(spec.get("replicas", 1))
            reason = "FailedCreate" if diff < 0 else ("FailedDelete" if diff > 0 else "")
            status.setdefault("conditions", []).append({"type": "ReplicaFailure", "status": "True",
                                                        "lastTransitionTime": clock.rfc3339(now),
                                                        "reason": reason, "message": error.message})
        elif error is None and failure is not None:
            status["conditions"] = [c for c in status["conditions"] if c.get("type") != "ReplicaFailure"]
            if not status["conditions"]:
                del status["conditions"]
        for field in _OMIT_WHEN_ZERO:
            if not status.get(field):
                status.pop(field, None)
        if status != (owner.get("status") or {}):
            self.api.patch_object(self.kind, owner["metadata"]["namespace"], owner["metadata"]["name"],
                                  lambda o: o.__setitem__("status", status), subresource="status")


class ReplicationControllerController(ReplicaSetController):
    """The same loop for the legacy ReplicationController (map selector, core/v1)."""

    name = "replication-controller"
    kind = REPLICATION_CONTROLLERS
    watches = (REPLICATION_CONTROLLERS, PODS)

    def selector(self, owner: Obj) -> LabelSelector:
        """``spec.selector``, which defaults to the template's labels."""
        spec = owner.get("spec") or {}
        return selector_from_map(spec.get("selector") or ((spec.get("template") or {}).get("metadata") or {}).get("labels"))
