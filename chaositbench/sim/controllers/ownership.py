"""Controller references: reading them, building them, and claiming objects as ControllerRefManager does."""

from __future__ import annotations

from typing import Any

from ..errors import APIError
from ..kinds import Kind
from ..resources import ResourceAPI
from ..selectors import LabelSelector
from ..store import Obj


def controller_ref(obj: Obj) -> dict[str, Any] | None:
    """The ownerReference with ``controller: true``, if any."""
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def owner_reference(owner: Obj) -> dict[str, Any]:
    """A controller reference to ``owner`` as workload controllers set it."""
    meta = owner["metadata"]
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": meta["name"], "uid": meta["uid"],
            "controller": True, "blockOwnerDeletion": True}


def selects(selector: LabelSelector, obj: Obj) -> bool:
    """``selector`` matches ``obj``'s labels; an object whose labels are not a string map matches nothing."""
    labels = obj["metadata"].get("labels") or {}
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        return False
    return selector.matches(labels)


def claim(api: ResourceAPI, kind: Kind, owner: Obj, candidates: list[Obj], selector: LabelSelector) -> list[Obj]:
    """The candidates ``owner`` controls after adopting matching orphans and releasing non-matching ones.

    Objects controlled by someone else are left alone; nothing is adopted or
    released while the owner is being deleted, and terminating orphans are not adopted.
    """
    uid = owner["metadata"]["uid"]
    deleting = bool(owner["metadata"].get("deletionTimestamp"))
    claimed: list[Obj] = []
    for obj in candidates:
        ref = controller_ref(obj)
        matches = selects(selector, obj)
        if ref is not None:
            if ref.get("uid") != uid:
                continue
            if matches:
                claimed.append(obj)
            elif not deleting:
                _set_owner(api, kind, obj, owner, adopt=False)
        elif matches and not deleting and not obj["metadata"].get("deletionTimestamp"):
            adopted = _set_owner(api, kind, obj, owner, adopt=True)
            if adopted is not None:
                claimed.append(adopted)
    return claimed


def _set_owner(api: ResourceAPI, kind: Kind, obj: Obj, owner: Obj, *, adopt: bool) -> Obj | None:
    """Add (adopt) or remove (release) ``owner``'s reference on ``obj``; None if ``obj`` is gone."""
    uid = owner["metadata"]["uid"]

    def change(current: Obj) -> None:
        refs = [r for r in current["metadata"].get("ownerReferences") or [] if r.get("uid") != uid]
        if adopt:
            refs.append(owner_reference(owner))
        if refs:
            current["metadata"]["ownerReferences"] = refs
        else:
            current["metadata"].pop("ownerReferences", None)

    try:
        return api.patch_object(kind, obj["metadata"].get("namespace", ""), obj["metadata"]["name"], change)
    except APIError as err:
        if err.code == 404:
            return None
        raise
