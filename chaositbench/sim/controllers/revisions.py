"""ControllerRevisions: the template history of StatefulSets and DaemonSets.

Each distinct pod template is stored once as a ``ControllerRevision`` named
``<owner>-<hash>`` whose ``data`` is the patch that restores the template
(``{"spec": {"template": {..., "$patch": "replace"}}}``) and whose
``revision`` numbers the order of use; re-applying an older template reuses
its revision under the next number, as ``kubectl rollout undo`` expects. The
hash is a 32-bit FNV-1a of the template rendered in the API's safe alphabet.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from ..kinds import preferred
from ..resources import ResourceAPI
from ..store import Obj
from .ownership import owner_reference
from .podutil import owned_by

REVISIONS = preferred("apps", "ControllerRevision")
HASH_LABEL = "controller-revision-hash"
_SAFE = "bcdfghjklmnpqrstvwxz2456789"


def template_hash(template: dict[str, Any], collision_count: int = 0) -> str:
    """FNV-1a (32 bit) of the template and collision count, as ``rand.SafeEncodeString`` renders it."""
    value = 0x811C9DC5
    for byte in json.dumps(template, sort_keys=True, separators=(",", ":")).encode() + str(collision_count).encode():
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return "".join(_SAFE[ord(ch) % len(_SAFE)] for ch in str(value))


def revision_data(template: dict[str, Any]) -> dict[str, Any]:
    """The patch a revision stores to restore ``template``."""
    return {"spec": {"template": {**copy.deepcopy(template), "$patch": "replace"}}}


def template_of(revision: Obj) -> dict[str, Any]:
    """The pod template a revision restores."""
    stored = ((revision.get("data") or {}).get("spec") or {}).get("template") or {}
    return {k: copy.deepcopy(v) for k, v in stored.items() if k != "$patch"}


def owned_revisions(api: ResourceAPI, owner: Obj) -> list[Obj]:
    """The owner's revisions, oldest revision number first."""
    items, _ = api.list(REVISIONS, owner["metadata"]["namespace"])
    return sorted(owned_by(items, owner), key=lambda r: int(r.get("revision", 0)))


def ensure_revision(api: ResourceAPI, owner: Obj, template: dict[str, Any]) -> Obj:
    """The revision of ``template``: created, or renumbered as the latest when it already exists."""
    revisions = owned_revisions(api, owner)
    data = revision_data(template)
    latest = int(revisions[-1].get("revision", 0)) if revisions else 0
    for revision in revisions:
        if revision.get("data") == data:
            if int(revision.get("revision", 0)) < latest:
                revision = api.update(REVISIONS, revision["metadata"]["namespace"], revision["metadata"]["name"],
                                      {**revision, "revision": latest + 1})
            return revision
    digest = template_hash(template, int((owner.get("status") or {}).get("collisionCount") or 0))
    labels = {**((template.get("metadata") or {}).get("labels") or {}), HASH_LABEL: digest}
    body = {"apiVersion": REVISIONS.api_version, "kind": "ControllerRevision",
            "metadata": {"name": f"{owner['metadata']['name']}-{digest}", "namespace": owner["metadata"]["namespace"],
                         "labels": labels, "ownerReferences": [owner_reference(owner)]},
            "data": data, "revision": latest + 1}
    return api.create(REVISIONS, owner["metadata"]["namespace"], body)


def prune_revisions(api: ResourceAPI, owner: Obj, keep: set[str], limit: int) -> None:
    """Delete the oldest revisions beyond ``limit`` that no live pod or status still uses (``keep``)."""
    spare = [r for r in owned_revisions(api, owner) if r["metadata"]["name"] not in keep]
    for revision in spare[:max(len(spare) - limit, 0)]:
        api.delete(REVISIONS, revision["metadata"]["namespace"], revision["metadata"]["name"])
