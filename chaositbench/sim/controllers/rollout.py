"""Deployment arithmetic shared by the deployment controller (the deploymentutil of upstream).

Pure functions over Deployment and ReplicaSet dicts: the pod-template hash,
surge/unavailability fenceposts, revision and replica annotations, replica
counts, conditions, and the status a Deployment reports.
"""

from __future__ import annotations

import copy
import json
import math
from datetime import datetime, timedelta
from typing import Any

from .. import clock
from ..store import Obj

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
HASH_LABEL = "pod-template-hash"
#: Deployment annotations never copied onto its ReplicaSets.
NOT_COPIED = frozenset({"kubectl.kubernetes.io/last-applied-configuration", REVISION, REVISION_HISTORY,
                        DESIRED_REPLICAS, MAX_REPLICAS, "deprecated.deployment.rollback.to"})
MAX_REVISION_HISTORY_CHARS = 2000
NO_DEADLINE = 2 ** 31 - 1

# Condition reasons and messages (deploymentutil).
NEW_RS_CREATED = "NewReplicaSetCreated"
FOUND_NEW_RS = "FoundNewReplicaSet"
RS_UPDATED = "ReplicaSetUpdated"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
TIMED_OUT = "ProgressDeadlineExceeded"
FAILED_RS_CREATE = "ReplicaSetCreateError"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"
MIN_AVAILABLE = "MinimumReplicasAvailable"
MIN_UNAVAILABLE = "MinimumReplicasUnavailable"

_FNV_OFFSET, _FNV_PRIME = 0x811C9DC5, 0x01000193
_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_DEFAULT_FRACTION = "25%"


# -- the pod-template hash ---------------------------------------------------------
def _fnv1a32(data: bytes, state: int = _FNV_OFFSET) -> int:
    for byte in data:
        state = ((state ^ byte) * _FNV_PRIME) & 0xFFFFFFFF
    return state


def _canonical(value: Any) -> Any:
    """The value with null and empty members dropped: what typed Go structs compare and hash alike
    (``creationTimestamp: null`` in a template equals its absence)."""
    if isinstance(value, dict):
        kept = {k: _canonical(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v is not None and v != {} and v != []}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


def template_hash(template: dict[str, Any], collision_count: int | None) -> str:
    """A stable, short name-safe hash of a pod template (salted by ``collisionCount``).

    FNV-1a over the canonical JSON of the template, rendered in decimal and
    mapped onto the consonant/digit alphabet Kubernetes uses for generated names.
    """
    state = _fnv1a32(json.dumps(_canonical(template), sort_keys=True, separators=(",", ":")).encode())
    if collision_count is not None:
        state = _fnv1a32(int(collision_count).to_bytes(4, "little", signed=False), state)
    return "".join(_SAFE_ALPHABET[ord(ch) % len(_SAFE_ALPHABET)] for ch in str(state))


def _without_hash(template: dict[str, Any]) -> dict[str, Any]:
    clean = _canonical(template)
    labels = (clean.get("metadata") or {}).get("labels")
    if labels is not None:
        labels.pop(HASH_LABEL, None)
    return _canonical(clean)


def equal_ignore_hash(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Templates semantically equal apart from the ``pod-template-hash`` label."""
    return _without_hash(a) == _without_hash(b)


# -- spec accessors ----------------------------------------------------------------
def replicas(obj: Obj) -> int:
    value = (obj.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def _status_count(rs: Obj, field: str) -> int:
    return int((rs.get("status") or {}).get(field) or 0)


def is_rolling(d: Obj) -> bool:
    return ((d["spec"].get("strategy") or {}).get("type") or "RollingUpdate") == "RollingUpdate"


def scaled_value(value: int | str | None, total: int, round_up: bool) -> int:
    """An int-or-percent against ``total``: percentages round up (surge) or down (unavailable)."""
    if value is None:
        value = _DEFAULT_FRACTION
    if isinstance(value, str) and value.endswith("%"):
        exact = int(value[:-1]) * total / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return int(value)


def fenceposts(d: Obj) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) resolved against spec.replicas; both zero means unavailable 1."""
    rolling = (d["spec"].get("strategy") or {}).get("rollingUpdate") or {}
    desired = replicas(d)
    surge = scaled_value(rolling.get("maxSurge"), desired, True)
    unavailable = scaled_value(rolling.get("maxUnavailable"), desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def max_surge(d: Obj) -> int:
    return fenceposts(d)[0] if is_rolling(d) else 0


def max_unavailable(d: Obj) -> int:
    if not is_rolling(d) or replicas(d) == 0:
        return 0
    return min(fenceposts(d)[1], replicas(d))


def has_progress_deadline(d: Obj) -> bool:
    deadline = d["spec"].get("progressDeadlineSeconds", 600)
    return deadline is not None and int(deadline) != NO_DEADLINE


# -- annotations -------------------------------------------------------------------
def _int_annotation(obj: Obj, key: str) -> int | None:
    try:
        return int((obj["metadata"].get("annotations") or {})[key])
    except (KeyError, ValueError):
        return None


def revision(obj: Obj) -> int:
    return _int_annotation(obj, REVISION) or 0


def max_revision(rss: list[Obj]) -> int:
    return max((revision(rs) for rs in rss), default=0)


def desired_replicas_annotation(rs: Obj) -> int | None:
    return _int_annotation(rs, DESIRED_REPLICAS)


def set_replicas_annotations(rs: Obj, desired: int, maximum: int) -> bool:
    annotations = rs["metadata"].setdefault("annotations", {})
    wanted = {DESIRED_REPLICAS: str(desired), MAX_REPLICAS: str(maximum)}
    if all(annotations.get(k) == v for k, v in wanted.items()):
        return False
    annotations.update(wanted)
    return True


def replicas_annotations_need_update(rs: Obj, desired: int, maximum: int) -> bool:
    annotations = rs["metadata"].get("annotations") or {}
    return annotations.get(DESIRED_REPLICAS) != str(desired) or annotations.get(MAX_REPLICAS) != str(maximum)


def _copy_deployment_annotations(d: Obj, rs: Obj) -> bool:
    annotations = rs["metadata"].setdefault("annotations", {})
    changed = False
    for key, value in (d["metadata"].get("annotations") or {}).items():
        if key not in NOT_COPIED and annotations.get(key) != value:
            annotations[key] = value
            changed = True
    return changed


def _append_history(history: str, old_revision: str) -> str | None:
    """The revision-history list with ``old_revision`` appended, trimmed to the length limit."""
    if not history:
        return old_revision
    kept = history.split(",")
    total = len(history) + len(old_revision) + 1
    while total > MAX_REVISION_HISTORY_CHARS and kept:
        total -= len(kept.pop(0)) + 1
    if total > MAX_REVISION_HISTORY_CHARS:
        return None
    return ",".join(kept + [old_revision])


def set_new_rs_annotations(d: Obj, rs: Obj, new_revision: int, exists: bool) -> bool:
    """Copy the deployment's annotations and raise the RS revision (keeping the history of a rollback)."""
    changed = _copy_deployment_annotations(d, rs)
    annotations = rs["metadata"]["annotations"]
    old_text = annotations.get(REVISION)
    try:
        old = int(old_text) if old_text else 0
    except ValueError:
        return False
    if old < new_revision:
        annotations[REVISION] = str(new_revision)
        changed = True
        if old_text:
            history = _append_history(annotations.get(REVISION_HISTORY, ""), old_text)
            if history is not None:
                annotations[REVISION_HISTORY] = history
    if not exists and set_replicas_annotations(rs, replicas(d), replicas(d) + max_surge(d)):
        changed = True
    return changed


def set_deployment_revision(d: Obj, value: str) -> bool:
    annotations = d["metadata"].setdefault("annotations", {})
    if annotations.get(REVISION) == value:
        return False
    annotations[REVISION] = value
    return True


# -- replica sets ------------------------------------------------------------------
def by_creation(rs: Obj) -> tuple[str, str]:
    """Sort key: oldest first, then by name (ReplicaSetsByCreationTimestamp)."""
    return rs["metadata"].get("creationTimestamp", ""), rs["metadata"]["name"]


def find_new_rs(d: Obj, rss: list[Obj]) -> Obj | None:
    """The oldest ReplicaSet whose template equals the deployment's (ignoring the hash label)."""
    template = d["spec"].get("template") or {}
    for rs in sorted(rss, key=by_creation):
        if equal_ignore_hash(rs["spec"].get("template") or {}, template):
            return rs
    return None


def active(rss: list[Obj]) -> list[Obj]:
    return [rs for rs in rss if replicas(rs) > 0]


def spec_total(rss: list[Obj]) -> int:
    return sum(replicas(rs) for rs in rss)


def status_total(rss: list[Obj], field: str) -> int:
    return sum(_status_count(rs, field) for rs in rss)


def available_within_spec(rss: list[Obj]) -> int:
    """Available pods, counting each ReplicaSet for no more than its spec.replicas.

    Right after a scale-down a ReplicaSet's status may still count the pods it
    is deleting; capping keeps a sync that runs before that status catches up
    from scaling down twice for the same pods (maxUnavailable would be broken).
    """
    return sum(min(_status_count(rs, "availableReplicas"), replicas(rs)) for rs in rss)


def new_rs_replicas(d: Obj, all_rss: list[Obj], new_rs: Obj) -> int:
    """How big the new ReplicaSet may be now: up to replicas + maxSurge pods in total (rolling)."""
    if not is_rolling(d):
        return replicas(d)
    current = spec_total(all_rss)
    ceiling = replicas(d) + max_surge(d)
    if current >= ceiling:
        return replicas(new_rs)
    return replicas(new_rs) + min(ceiling - current, replicas(d) - replicas(new_rs))


def find_active_or_latest(new_rs: Obj | None, old_rss: list[Obj]) -> Obj | None:
    """The only active ReplicaSet, or the newest when none is active; None when several are."""
    if new_rs is None and not old_rss:
        return None
    newest_first = sorted(old_rss, key=by_creation, reverse=True)
    current = active(newest_first + ([new_rs] if new_rs is not None else []))
    if not current:
        return new_rs if new_rs is not None else newest_first[0]
    return current[0] if len(current) == 1 else None


def is_saturated(d: Obj, rs: Obj | None) -> bool:
    if rs is None:
        return False
    return replicas(rs) == replicas(d) and desired_replicas_annotation(rs) == replicas(d) \
        and _status_count(rs, "availableReplicas") == replicas(d)


def proportion(rs: Obj, d: Obj, to_add: int, added: int) -> int:
    """This ReplicaSet's share of a proportional scale by ``to_add`` (``added`` already handed out)."""
    if replicas(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    fraction = _fraction(rs, d)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def _fraction(rs: Obj, d: Obj) -> int:
    if replicas(d) == 0:
        return -replicas(rs)
    target = replicas(d) + max_surge(d)
    before = _int_annotation(rs, MAX_REPLICAS) or 0
    if before == 0:
        before = int((d.get("status") or {}).get("replicas") or 0)
        if before == 0:
            return 0
    return _round_half_away(replicas(rs) * target / before) - replicas(rs)


def _round_half_away(value: float) -> int:
    return int(math.floor(value + 0.5)) if value >= 0 else -int(math.floor(-value + 0.5))


# -- conditions --------------------------------------------------------------------
def get_condition(status: dict[str, Any], type_: str) -> dict[str, Any] | None:
    return next((c for c in status.get("conditions") or [] if c.get("type") == type_), None)


def new_condition(type_: str, status: str, reason: str, message: str, now: datetime | None = None) -> dict[str, Any]:
    stamp = clock.rfc3339(now)
    return {"type": type_, "status": status, "lastUpdateTime": stamp, "lastTransitionTime": stamp,
            "reason": reason, "message": message}


def set_condition(status: dict[str, Any], cond: dict[str, Any]) -> None:
    """Replace the condition of its type (moved last); unchanged status+reason is left alone."""
    current = get_condition(status, cond["type"])
    if current is not None and current.get("status") == cond["status"] and current.get("reason") == cond["reason"]:
        return
    if current is not None and current.get("status") == cond["status"]:
        cond = {**cond, "lastTransitionTime": current.get("lastTransitionTime")}
    remove_condition(status, cond["type"])
    status.setdefault("conditions", []).append(cond)


def remove_condition(status: dict[str, Any], type_: str) -> None:
    kept = [c for c in status.get("conditions") or [] if c.get("type") != type_]
    if kept:
        status["conditions"] = kept
    else:
        status.pop("conditions", None)


# -- status ------------------------------------------------------------------------
def calculate_status(d: Obj, all_rss: list[Obj], new_rs: Obj | None) -> dict[str, Any]:
    """The deployment status implied by its ReplicaSets (conditions carried over, Available recomputed)."""
    old = d.get("status") or {}
    available = status_total(all_rss, "availableReplicas")
    status: dict[str, Any] = {
        "observedGeneration": d["metadata"].get("generation", 1),
        "replicas": status_total(all_rss, "replicas"),
        "updatedReplicas": status_total([new_rs] if new_rs is not None else [], "replicas"),
        "readyReplicas": status_total(all_rss, "readyReplicas"),
        "availableReplicas": available,
        "unavailableReplicas": max(spec_total(all_rss) - available, 0),
    }
    if old.get("conditions"):
        status["conditions"] = copy.deepcopy(old["conditions"])
    if old.get("collisionCount") is not None:
        status["collisionCount"] = old["collisionCount"]
    if available >= replicas(d) - max_unavailable(d):
        set_condition(status, new_condition("Available", "True", MIN_AVAILABLE, "Deployment has minimum availability."))
    else:
        set_condition(status, new_condition("Available", "False", MIN_UNAVAILABLE,
                                            "Deployment does not have minimum availability."))
    return without_zero_counts(status)


def without_zero_counts(status: dict[str, Any]) -> dict[str, Any]:
    """Drop zero counters, as the omitempty JSON of DeploymentStatus does."""
    return {k: v for k, v in status.items() if not (isinstance(v, int) and v == 0 and k != "collisionCount")}


def _count(status: dict[str, Any], field: str) -> int:
    return int(status.get(field) or 0)


def is_complete(d: Obj, status: dict[str, Any]) -> bool:
    """All replicas updated and available, and the latest spec observed."""
    want = replicas(d)
    return _count(status, "updatedReplicas") == want and _count(status, "replicas") == want \
        and _count(status, "availableReplicas") == want \
        and _count(status, "observedGeneration") >= int(d["metadata"].get("generation", 1))


def is_progressing(d: Obj, new_status: dict[str, Any]) -> bool:
    """Any sign of progress between the stored status and ``new_status``."""
    old = d.get("status") or {}
    old_old = _count(old, "replicas") - _count(old, "updatedReplicas")
    new_old = _count(new_status, "replicas") - _count(new_status, "updatedReplicas")
    return _count(new_status, "updatedReplicas") > _count(old, "updatedReplicas") or new_old < old_old \
        or _count(new_status, "readyReplicas") > _count(old, "readyReplicas") \
        or _count(new_status, "availableReplicas") > _count(old, "availableReplicas")


def progress_deadline_at(d: Obj, status: dict[str, Any]) -> datetime | None:
    """When the current Progressing condition runs out of time (None if it cannot)."""
    cond = get_condition(status, "Progressing")
    if cond is None or not has_progress_deadline(d) or cond.get("reason") in (NEW_RS_AVAILABLE, TIMED_OUT):
        return None
    updated = clock.parse(cond.get("lastUpdateTime"))
    if updated is None:
        return None
    return updated + timedelta(seconds=int(d["spec"].get("progressDeadlineSeconds", 600)))


def has_timed_out(d: Obj, status: dict[str, Any], now: datetime) -> bool:
    cond = get_condition(status, "Progressing")
    if cond is None or not has_progress_deadline(d):
        return False
    if cond.get("reason") == TIMED_OUT:
        return True
    deadline = progress_deadline_at(d, status)
    return deadline is not None and deadline < now
