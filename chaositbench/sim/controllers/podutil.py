"""What the Job, StatefulSet and DaemonSet controllers share besides :mod:`.podstate` and :mod:`.ownership`.

Terminal/terminating pod tests, the objects a controller owns, status
conditions with real transition-time semantics, pods built from a template
(``controller.GetPodFromTemplate``) and object references.
"""

from __future__ import annotations

import copy
from typing import Any

from .. import clock
from ..store import Obj
from .ownership import controller_ref, owner_reference
from .podstate import TERMINAL_PHASES


def is_terminal(pod: Obj) -> bool:
    """The pod reached ``Succeeded`` or ``Failed``: it runs no more and never will."""
    return (pod.get("status") or {}).get("phase") in TERMINAL_PHASES


def is_terminating(obj: Obj) -> bool:
    """The object has a deletion timestamp (a pod in its grace period, a finalizer pending)."""
    return bool(obj["metadata"].get("deletionTimestamp"))


def owned_by(items: list[Obj], owner: Obj) -> list[Obj]:
    """The objects of ``items`` whose controller is ``owner``."""
    uid = owner["metadata"]["uid"]
    return [o for o in items if (controller_ref(o) or {}).get("uid") == uid]


def set_condition(conditions: list[dict[str, Any]], type_: str, status: str, reason: str | None = None,
                  message: str | None = None, *, probe_time: bool = False) -> bool:
    """Set a condition in place; ``lastTransitionTime`` moves only when the status changes.

    ``probe_time`` stamps ``lastProbeTime`` too (Job conditions carry it).
    Returns True when anything changed.
    """
    now = clock.rfc3339()
    wanted: dict[str, Any] = {"type": type_, "status": status}
    if probe_time:
        wanted["lastProbeTime"] = now
    wanted["lastTransitionTime"] = now
    if reason:
        wanted["reason"] = reason
    if message:
        wanted["message"] = message
    for i, cond in enumerate(conditions):
        if cond.get("type") != type_:
            continue
        if (cond.get("status"), cond.get("reason"), cond.get("message")) == (status, reason or None, message or None):
            return False
        if cond.get("status") == status and cond.get("lastTransitionTime"):
            wanted["lastTransitionTime"] = cond["lastTransitionTime"]
        conditions[i] = wanted
        return True
    conditions.append(wanted)
    return True


def pod_from_template(template: dict[str, Any], owner: Obj, *, name: str | None = None,
                      generate_name: str | None = None, extra_labels: dict[str, str] | None = None) -> Obj:
    """``controller.GetPodFromTemplate``: a Pod body controlled by ``owner``."""
    tmeta = template.get("metadata") or {}
    meta: dict[str, Any] = {}
    if name:
        meta["name"] = name
    else:
        meta["generateName"] = generate_name or f"{owner['metadata']['name']}-"
    meta["namespace"] = owner["metadata"]["namespace"]
    labels = {**(tmeta.get("labels") or {}), **(extra_labels or {})}
    if labels:
        meta["labels"] = labels
    if tmeta.get("annotations"):
        meta["annotations"] = dict(tmeta["annotations"])
    if tmeta.get("finalizers"):
        meta["finalizers"] = list(tmeta["finalizers"])
    meta["ownerReferences"] = [owner_reference(owner)]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": copy.deepcopy(template.get("spec") or {})}


def object_ref(obj: Obj) -> dict[str, Any]:
    """A ``v1.ObjectReference`` to ``obj``."""
    meta = obj["metadata"]
    ref = {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"), "name": meta["name"],
           "namespace": meta.get("namespace"), "uid": meta["uid"], "resourceVersion": meta.get("resourceVersion")}
    return {k: v for k, v in ref.items() if v}
