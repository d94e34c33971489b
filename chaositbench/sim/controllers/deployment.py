"""The Deployment controller: roll pod templates out through ReplicaSets, as kube-controller-manager does.

One sync of a Deployment claims its ReplicaSets, then, in upstream's order:
reports paused/resumed progress, handles a pure scaling change (proportional
scaling across active ReplicaSets), or rolls out with the ``RollingUpdate``
(bounded by maxSurge/maxUnavailable) or ``Recreate`` strategy. The ReplicaSet
for the current template is named ``<deployment>-<pod-template-hash>`` and
carries the revision; a template that returns to an older one (``kubectl
rollout undo``) revives that ReplicaSet under a new revision and records the
old one in ``revision-history``. Finished rollouts prune ReplicaSets beyond
``revisionHistoryLimit``. The status and its Available/Progressing/
ReplicaFailure conditions follow deploymentutil; ``ScalingReplicaSet`` events
read ``Scaled up replica set web-abc from 0 to 3``.
"""

from __future__ import annotations

import copy
from typing import Iterable

from .. import clock
from ..errors import APIError
from ..kinds import preferred
from ..selectors import selector_from_object
from ..store import Obj, WatchEvent
from . import rollout as ru
from .base import Controller, ObjectKey, key_of
from .ownership import claim, controller_ref, owner_reference, selects

DEPLOYMENTS = preferred("apps", "Deployment")
REPLICASETS = preferred("apps", "ReplicaSet")
PODS = preferred("", "Pod")
DEFAULT_HISTORY_LIMIT = 10


class DeploymentController(Controller):
    """Reconciles Deployments against their ReplicaSets."""

    name = "deployment-controller"
    watches = (DEPLOYMENTS, REPLICASETS, PODS)

    def keys_for(self, event: WatchEvent) -> Iterable[ObjectKey]:
        obj = event.obj
        namespace = obj["metadata"].get("namespace", "")
        if event.storage_key == DEPLOYMENTS.storage_key:
            yield key_of(obj)
        elif event.storage_key == REPLICASETS.storage_key:
            ref = controller_ref(obj)
            if ref is not None:
                if ref.get("kind") == "Deployment":
                    yield namespace, ref["name"]
            elif event.type != "DELETED":
                deployments, _ = self.api.list(DEPLOYMENTS, namespace)
                for d in deployments:
                    if selects(selector_from_object(d["spec"].get("selector"), null_matches_nothing=True), obj):
                        yield key_of(d)
        elif event.type == "DELETED":
            yield from self._recreate_owner_of(obj)

    def _recreate_owner_of(self, pod: Obj) -> Iterable[ObjectKey]:
        """A Recreate deployment waits for old pods to be gone: their deletion wakes it."""
        ref = controller_ref(pod)
        if ref is None or ref.get("kind") != "ReplicaSet":
            return
        namespace = pod["metadata"].get("namespace", "")
        rs = self.api.try_get(REPLICASETS, namespace, ref["name"])
        owner = controller_ref(rs) if rs is not None else None
        if owner is not None and owner.get("kind") == "Deployment":
            d = self.api.try_get(DEPLOYMENTS, namespace, owner["name"])
            if d is not None and not ru.is_rolling(d):
                yield namespace, owner["name"]

    def reconcile(self, key: ObjectKey) -> None:
        namespace, name = key
        live = self.api.try_get(DEPLOYMENTS, namespace, name)
        if live is not None:
            _Sync(self, copy.deepcopy(live)).run()


class _Sync:
    """One sync of one Deployment: the working copy of it and of the ReplicaSets it owns."""

    def __init__(self, controller: DeploymentController, d: Obj) -> None:
        self.controller = controller
        self.api = controller.api
        self.events = controller.cluster.events
        self.d = d
        self.namespace = d["metadata"]["namespace"]
        self.rs: dict[str, Obj] = {}
        self.new_name: str | None = None

    # -- views ---------------------------------------------------------------------
    @property
    def new_rs(self) -> Obj | None:
        return self.rs.get(self.new_name) if self.new_name else None

    @property
    def old_rss(self) -> list[Obj]:
        return [rs for name, rs in self.rs.items() if name != self.new_name]

    @property
    def all_rss(self) -> list[Obj]:
        new = self.new_rs
        return self.old_rss + ([new] if new is not None else [])

    # -- entry -----------------------------------------------------------------------
    def run(self) -> None:
        d = self.d
        selector = d["spec"].get("selector") or {}
        if not selector.get("matchLabels") and not selector.get("matchExpressions"):
            self._record("Warning", "SelectingAll",
                         "This deployment is selecting all pods. A non-empty selector is required.")
            status = copy.deepcopy(d.get("status") or {})
            if int(status.get("observedGeneration") or 0) < d["metadata"].get("generation", 1):
                status["observedGeneration"] = d["metadata"].get("generation", 1)
                self._write_status(status)
            return
        self._claim()
        if d["metadata"].get("deletionTimestamp"):
            self._sync_new_and_old(create=False)
            self._sync_status()
            return
        self._check_paused_conditions()
        if d["spec"].get("paused") or self._is_scaling_event():
            self._scale_sync()
        elif ru.is_rolling(d):
            self._rollout_rolling()
        else:
            self._rollout_recreate()

    def _claim(self) -> None:
        selector = selector_from_object(self.d["spec"]["selector"], null_matches_nothing=True)
        candidates, _ = self.api.list(REPLICASETS, self.namespace)
        for rs in claim(self.api, REPLICASETS, self.d, candidates, selector):
            self.rs[rs["metadata"]["name"]] = rs

    # -- the new ReplicaSet and revisions ----------------------------------------------
    def _sync_new_and_old(self, *, create: bool) -> None:
        """Find (or create) the ReplicaSet of the current template and bring its revision up to date."""
        existing = ru.find_new_rs(self.d, list(self.rs.values()))
        self.new_name = existing["metadata"]["name"] if existing is not None else None
        new_revision = ru.max_revision(self.old_rss) + 1
        if existing is not None:
            self._sync_existing_new_rs(existing, new_revision)
        elif create:
            self._create_new_rs(new_revision)

    def _sync_existing_new_rs(self, existing: Obj, new_revision: int) -> None:
        rs = copy.deepcopy(existing)
        annotations_changed = ru.set_new_rs_annotations(self.d, rs, new_revision, exists=True)
        min_ready = self.d["spec"].get("minReadySeconds", 0)
        if annotations_changed or rs["spec"].get("minReadySeconds", 0) != min_ready:
            rs["spec"]["minReadySeconds"] = min_ready
            self._store_rs(self.api.replace_object(REPLICASETS, rs))
            return
        status = copy.deepcopy(self.d.get("status") or {})
        changed = ru.set_deployment_revision(self.d, rs["metadata"]["annotations"][ru.REVISION])
        if ru.has_progress_deadline(self.d) and ru.get_condition(status, "Progressing") is None:
            ru.set_condition(status, ru.new_condition("Progressing", "True", ru.FOUND_NEW_RS,
                                                      f'Found new replica set "{rs["metadata"]["name"]}"'))
            changed = True
        if changed:
            self._write_deployment(status)

    def _create_new_rs(self, new_revision: int) -> None:
        d = self.d
        status = copy.deepcopy(d.get("status") or {})
        template = copy.deepcopy(d["spec"].get("template") or {})
        pod_hash = ru.template_hash(template, status.get("collisionCount"))
        template.setdefault("metadata", {}).setdefault("labels", {})[ru.HASH_LABEL] = pod_hash
        selector = copy.deepcopy(d["spec"]["selector"])
        selector.setdefault("matchLabels", {})[ru.HASH_LABEL] = pod_hash
        name = f"{d['metadata']['name']}-{pod_hash}"
        rs: Obj = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                   "metadata": {"name": name, "namespace": self.namespace, "labels": dict(template["metadata"]["labels"]),
                                "ownerReferences": [owner_reference(d)]},
                   "spec": {"replicas": 0, "minReadySeconds": d["spec"].get("minReadySeconds", 0),
                            "selector": selector, "template": template}}
        rs["spec"]["replicas"] = ru.new_rs_replicas(d, self.old_rss + [rs], rs)
        ru.set_new_rs_annotations(d, rs, new_revision, exists=False)
        try:
            created, already = self.api.create(REPLICASETS, self.namespace, rs), False
        except APIError as err:
            created, already = self._after_failed_create(err, name, status), True
        self._store_rs(created)
        self.new_name = name
        if not already and ru.replicas(created) > 0:
            self._record("Normal", "ScalingReplicaSet", f"Scaled up replica set {name} from 0 to {ru.replicas(created)}")
        changed = ru.set_deployment_revision(d, str(new_revision))
        if not already and ru.has_progress_deadline(d):
            ru.set_condition(status, ru.new_condition("Progressing", "True", ru.NEW_RS_CREATED,
                                                      f'Created new replica set "{name}"'))
            changed = True
        if changed:
            self._write_deployment(status)

    def _after_failed_create(self, err: APIError, name: str, status: dict) -> Obj:
        """An existing RS of ours with this template is the new one; a foreign one is a hash collision."""
        if err.reason == "AlreadyExists":
            existing = self.api.try_get(REPLICASETS, self.namespace, name)
            ref = controller_ref(existing) if existing is not None else None
            if existing is not None and ref is not None and ref.get("uid") == self.d["metadata"]["uid"] \
                    and ru.equal_ignore_hash(existing["spec"]["template"], self.d["spec"].get("template") or {}):
                return existing
            status["collisionCount"] = int(status.get("collisionCount") or 0) + 1
            self._write_status(status)
            raise err
        message = f'Failed to create new replica set "{name}": {err.message}'
        if ru.has_progress_deadline(self.d):
            ru.set_condition(status, ru.new_condition("Progressing", "False", ru.FAILED_RS_CREATE, message))
            self._write_status(status)
        self._record("Warning", ru.FAILED_RS_CREATE, message)
        raise err

    # -- scaling ---------------------------------------------------------------------
    def _scale_rs(self, rs: Obj, new_scale: int) -> bool:
        """Set a ReplicaSet's size and replica annotations; True if its size changed."""
        d = self.d
        old_scale = ru.replicas(rs)
        size_changes = old_scale != new_scale
        desired, ceiling = ru.replicas(d), ru.replicas(d) + ru.max_surge(d)
        if not size_changes and not ru.replicas_annotations_need_update(rs, desired, ceiling):
            return False
        updated = copy.deepcopy(rs)
        updated["spec"]["replicas"] = new_scale
        ru.set_replicas_annotations(updated, desired, ceiling)
        updated = self._store_rs(self.api.replace_object(REPLICASETS, updated))
        if size_changes:
            direction = "up" if old_scale < new_scale else "down"
            self._record("Normal", "ScalingReplicaSet",
                         f"Scaled {direction} replica set {updated['metadata']['name']} from {old_scale} to {new_scale}")
        return size_changes

    def _scale_if_needed(self, rs: Obj, new_scale: int) -> bool:
        return ru.replicas(rs) != new_scale and self._scale_rs(rs, new_scale)

    def _is_scaling_event(self) -> bool:
        """Some active ReplicaSet was sized for another spec.replicas."""
        self._sync_new_and_old(create=False)
        for rs in ru.active(self.all_rss):
            desired = ru.desired_replicas_annotation(rs)
            if desired is not None and desired != ru.replicas(self.d):
                return True
        return False

    def _scale_sync(self) -> None:
        """Scale only (paused, or spec.replicas changed): no new ReplicaSet is created."""
        self._sync_new_and_old(create=False)
        self._scale()
        if self.d["spec"].get("paused"):
            self._cleanup()
        self._sync_status()

    def _scale(self) -> None:
        d = self.d
        target = ru.find_active_or_latest(self.new_rs, self.old_rss)
        if target is not None:
            self._scale_if_needed(target, ru.replicas(d))
            return
        if ru.is_saturated(d, self.new_rs):
            for old in ru.active(self.old_rss):
                self._scale_if_needed(old, 0)
            return
        if ru.is_rolling(d):
            self._scale_proportionally()

    def _scale_proportionally(self) -> None:
        """Spread a replicas change over the active ReplicaSets in proportion to their size."""
        d = self.d
        current = ru.active(self.all_rss)
        allowed = ru.replicas(d) + ru.max_surge(d) if ru.replicas(d) > 0 else 0
        to_add = allowed - ru.spec_total(current)
        if to_add > 0:  # larger first, newer first among equals
            current.sort(key=ru.by_creation, reverse=True)
            current.sort(key=ru.replicas, reverse=True)
        elif to_add < 0:  # larger first, older first among equals
            current.sort(key=ru.by_creation)
            current.sort(key=ru.replicas, reverse=True)
        sizes: dict[str, int] = {}
        added = 0
        for rs in current:
            share = ru.proportion(rs, d, to_add, added) if to_add else 0
            sizes[rs["metadata"]["name"]] = ru.replicas(rs) + share
            added += share
        for index, rs in enumerate(current):
            name = rs["metadata"]["name"]
            if index == 0 and to_add:
                sizes[name] = max(sizes[name] + to_add - added, 0)
            self._scale_rs(rs, sizes[name])

    # -- rolling update --------------------------------------------------------------
    def _rollout_rolling(self) -> None:
        self._sync_new_and_old(create=True)
        if self._reconcile_new_rs() or self._reconcile_old_rss():
            self._sync_rollout_status()
            return
        if ru.is_complete(self.d, self.d.get("status") or {}):
            self._cleanup()
        self._sync_rollout_status()

    def _reconcile_new_rs(self) -> bool:
        new = self.new_rs
        if new is None or ru.replicas(new) == ru.replicas(self.d):
            return False
        if ru.replicas(new) > ru.replicas(self.d):
            return self._scale_if_needed(new, ru.replicas(self.d))
        return self._scale_if_needed(new, ru.new_rs_replicas(self.d, self.all_rss, new))

    def _reconcile_old_rss(self) -> bool:
        """Scale old ReplicaSets down as far as maxUnavailable allows, unhealthy replicas first."""
        d, new = self.d, self.new_rs
        if new is None or ru.spec_total(self.old_rss) == 0:
            return False
        min_available = ru.replicas(d) - ru.max_unavailable(d)
        new_unavailable = ru.replicas(new) - int((new.get("status") or {}).get("availableReplicas") or 0)
        max_scaled_down = ru.spec_total(self.all_rss) - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False
        cleaned = self._cleanup_unhealthy(max_scaled_down)
        return cleaned + self._scale_down_old_for_rolling() > 0

    def _cleanup_unhealthy(self, max_cleanup: int) -> int:
        done = 0
        for rs in sorted(ru.active(self.old_rss), key=ru.by_creation):
            if done >= max_cleanup:
                break
            unhealthy = ru.replicas(rs) - int((rs.get("status") or {}).get("availableReplicas") or 0)
            if unhealthy <= 0:
                continue
            count = min(max_cleanup - done, unhealthy)
            self._scale_if_needed(rs, ru.replicas(rs) - count)
            done += count
        return done

    def _scale_down_old_for_rolling(self) -> int:
        d = self.d
        min_available = ru.replicas(d) - ru.max_unavailable(d)
        available = ru.available_within_spec(self.all_rss)
        if available <= min_available:
            return 0
        budget, done = available - min_available, 0
        for rs in sorted(ru.active(self.old_rss), key=ru.by_creation):
            if done >= budget:
                break
            count = min(ru.replicas(rs), budget - done)
            self._scale_if_needed(rs, ru.replicas(rs) - count)
            done += count
        return done

    # -- recreate ----------------------------------------------------------------------
    def _rollout_recreate(self) -> None:
        self._sync_new_and_old(create=False)
        scaled_down = False
        for rs in ru.active(self.old_rss):
            scaled_down = self._scale_if_needed(rs, 0) or scaled_down
        if scaled_down or self._old_pods_running():
            self._sync_rollout_status()
            return
        if self.new_rs is None:
            self._sync_new_and_old(create=True)
        new = self.new_rs
        if new is not None:
            self._scale_if_needed(new, ru.replicas(self.d))
        if ru.is_complete(self.d, self.d.get("status") or {}):
            self._cleanup()
        self._sync_rollout_status()

    def _old_pods_running(self) -> bool:
        """Old ReplicaSets still report pods, or pods of theirs have not finished."""
        if ru.status_total(self.old_rss, "replicas") > 0:
            return True
        old_uids = {rs["metadata"]["uid"] for rs in self.old_rss}
        selector = selector_from_object(self.d["spec"]["selector"], null_matches_nothing=True)
        pods, _ = self.api.list(PODS, self.namespace, label_selector=selector)
        return any((controller_ref(p) or {}).get("uid") in old_uids
                   and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed") for p in pods)

    # -- history -------------------------------------------------------------------------
    def _cleanup(self) -> None:
        """Delete the oldest revisions beyond revisionHistoryLimit (only empty, settled ones)."""
        limit = self.d["spec"].get("revisionHistoryLimit", DEFAULT_HISTORY_LIMIT)
        if limit is None:
            return
        alive = [rs for rs in self.old_rss if not rs["metadata"].get("deletionTimestamp")]
        excess = len(alive) - int(limit)
        for rs in sorted(alive, key=ru.revision)[:max(excess, 0)]:
            settled = int((rs.get("status") or {}).get("observedGeneration") or 0) >= rs["metadata"].get("generation", 1)
            if int((rs.get("status") or {}).get("replicas") or 0) or ru.replicas(rs) or not settled:
                continue
            try:
                self.api.delete(REPLICASETS, self.namespace, rs["metadata"]["name"])
            except APIError as err:
                if err.code != 404:
                    raise
            self.rs.pop(rs["metadata"]["name"], None)

    # -- status ---------------------------------------------------------------------------
    def _check_paused_conditions(self) -> None:
        d = self.d
        if not ru.has_progress_deadline(d):
            return
        status = copy.deepcopy(d.get("status") or {})
        cond = ru.get_condition(status, "Progressing")
        if cond is not None and cond.get("reason") == ru.TIMED_OUT:
            return
        paused_reported = cond is not None and cond.get("reason") == ru.PAUSED
        if d["spec"].get("paused") and not paused_reported:
            ru.set_condition(status, ru.new_condition("Progressing", "Unknown", ru.PAUSED, "Deployment is paused"))
        elif not d["spec"].get("paused") and paused_reported:
            ru.set_condition(status, ru.new_condition("Progressing", "Unknown", ru.RESUMED, "Deployment is resumed"))
        else:
            return
        self._write_status(status)

    def _sync_status(self) -> None:
        status = ru.calculate_status(self.d, self.all_rss, self.new_rs)
        if status != (self.d.get("status") or {}):
            self._write_status(status)

    def _sync_rollout_status(self) -> None:
        d, new = self.d, self.new_rs
        status = ru.calculate_status(d, self.all_rss, new)
        now = clock.now()
        if not ru.has_progress_deadline(d):
            ru.remove_condition(status, "Progressing")
        current = ru.get_condition(d.get("status") or {}, "Progressing")
        settled = status.get("replicas", 0) == status.get("updatedReplicas", 0) and current is not None \
            and current.get("reason") == ru.NEW_RS_AVAILABLE
        subject = f'ReplicaSet "{new["metadata"]["name"]}"' if new is not None else f'Deployment "{d["metadata"]["name"]}"'
        if ru.has_progress_deadline(d) and not settled:
            if ru.is_complete(d, status):
                ru.set_condition(status, ru.new_condition("Progressing", "True", ru.NEW_RS_AVAILABLE,
                                                          f"{subject} has successfully progressed.", now))
            elif ru.is_progressing(d, status):
                cond = ru.new_condition("Progressing", "True", ru.RS_UPDATED, f"{subject} is progressing.", now)
                if current is not None and current.get("status") == "True":
                    cond["lastTransitionTime"] = current.get("lastTransitionTime")
                ru.remove_condition(status, "Progressing")
                ru.set_condition(status, cond)
            elif ru.has_timed_out(d, status, now):
                ru.set_condition(status, ru.new_condition("Progressing", "False", ru.TIMED_OUT,
                                                          f"{subject} has timed out progressing.", now))
        failure = self._replica_failure()
        if failure is not None:
            ru.set_condition(status, failure)
        else:
            ru.remove_condition(status, "ReplicaFailure")
        if status != (d.get("status") or {}):
            self._write_status(status)
            return
        deadline = ru.progress_deadline_at(d, status)
        if deadline is not None and not ru.is_complete(d, status):
            self.controller.requeue_after(key_of(d), max((deadline - now).total_seconds(), 0.0) + 1.0)

    def _replica_failure(self) -> dict | None:
        """The first ReplicaFailure of the new ReplicaSet (else of any), as a deployment condition."""
        new = self.new_rs
        ordered = ([new] if new is not None else []) + self.old_rss
        for rs in ordered:
            for c in (rs.get("status") or {}).get("conditions") or []:
                if c.get("type") == "ReplicaFailure":
                    return {"type": "ReplicaFailure", "status": c.get("status"),
                            "lastUpdateTime": c.get("lastTransitionTime"),
                            "lastTransitionTime": c.get("lastTransitionTime"),
                            "reason": c.get("reason"), "message": c.get("message")}
        return None

    # -- writes ------------------------------------------------------------------------------
    def _record(self, type_: str, reason: str, message: str) -> None:
        self.events.record(self.d, type_, reason, message, self.controller.name)

    def _store_rs(self, rs: Obj) -> Obj:
        self.rs[rs["metadata"]["name"]] = rs
        return rs

    def _write_deployment(self, status: dict) -> None:
        """Write the revision annotation (main resource) and then the status."""
        annotations = self.d["metadata"].get("annotations") or {}

        def set_annotations(live: Obj) -> None:
            live["metadata"]["annotations"] = {**(live["metadata"].get("annotations") or {}),
                                               ru.REVISION: annotations[ru.REVISION]}

        if ru.REVISION in annotations:
            written = self.api.patch_object(DEPLOYMENTS, self.namespace, self.d["metadata"]["name"], set_annotations)
            self.d["metadata"] = copy.deepcopy(written["metadata"])
        if status != (self.d.get("status") or {}):
            self._write_status(status)

    def _write_status(self, status: dict) -> None:
        def set_status(live: Obj) -> None:
            live["status"] = status

        written = self.api.patch_object(DEPLOYMENTS, self.namespace, self.d["metadata"]["name"], set_status,
                                        subresource="status")
        self.d["metadata"] = copy.deepcopy(written["metadata"])
        self.d["status"] = copy.deepcopy(written.get("status") or {})
