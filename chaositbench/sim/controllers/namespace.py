"""The namespace controller: empties a terminating namespace, then finalizes it.

For a namespace with a ``deletionTimestamp`` it deletes every object of every
namespaced kind in it, reports progress in the status conditions the real
controller writes (``NamespaceDeletionDiscoveryFailure``,
``NamespaceDeletionGroupVersionParsingFailure``,
``NamespaceDeletionContentFailure``, ``NamespaceContentRemaining``,
``NamespaceFinalizersRemaining``), and when nothing is left removes the
``kubernetes`` finalizer through the ``finalize`` subresource, which lets the
namespace go. It is woken by the deletion of anything in a terminating
namespace, and otherwise retries after half the longest remaining grace period.
"""

from __future__ import annotations

import copy
from typing import Any, Iterator

from ..kinds import Kind, all_kinds, preferred
from ..store import Obj, WatchEvent
from .base import Controller, ObjectKey
from .podutil import set_condition

NAMESPACES = preferred("", "Namespace")
FINALIZER = "kubernetes"


def _namespaced_kinds() -> tuple[Kind, ...]:
    """One kind per storage key among namespaced kinds that can be deleted."""
    seen: dict[str, Kind] = {}
    for kind in all_kinds():
        if kind.namespaced and not kind.virtual and "delete" in kind.verbs and kind.preferred:
            seen.setdefault(kind.storage_key, kind)
    return tuple(seen.values())


CONTENT_KINDS = _namespaced_kinds()


def _resource_name(kind: Kind) -> str:
    """``pods.`` / ``deployments.apps``: how the conditions name a group resource."""
    return f"{kind.plural}.{kind.group}"


def content_conditions(remaining: dict[str, int], finalizers: dict[str, int]) -> list[tuple[str, str, str, str]]:
    """(type, status, reason, message) of the five deletion conditions."""
    if remaining:
        content = ("True", "SomeResourcesRemain", "Some resources are remaining: " + ", ".join(
            f"{name} has {count} resource instances" for name, count in sorted(remaining.items())))
    else:
        content = ("False", "ContentRemoved", "All content successfully removed")
    if finalizers:
        held = ("True", "SomeFinalizersRemain", "Some content in the namespace has finalizers remaining: " + ", ".join(
            f"{name} in {count} resource instances" for name, count in sorted(finalizers.items())))
    else:
        held = ("False", "ContentHasNoFinalizers", "All content-preserving finalizers finished")
    return [
        ("NamespaceDeletionDiscoveryFailure", "False", "ResourcesDiscovered", "All resources successfully discovered"),
        ("NamespaceDeletionGroupVersionParsingFailure", "False", "ParsedGroupVersions",
         "All legacy kube types successfully parsed"),
        ("NamespaceDeletionContentFailure", "False", "ContentDeleted",
         "All content successfully deleted, may be waiting on finalization"),
        ("NamespaceContentRemaining", *content),
        ("NamespaceFinalizersRemaining", *held),
    ]


class NamespaceController(Controller):
    """Deletes the content of terminating namespaces and finalizes them."""

    name = "namespace"
    watches = (NAMESPACES, *CONTENT_KINDS)

    def keys_for(self, event: WatchEvent) -> Iterator[ObjectKey]:
        if event.storage_key == NAMESPACES.storage_key:
            if event.type != "DELETED":
                yield "", event.obj["metadata"]["name"]
            return
        namespace = event.obj["metadata"].get("namespace", "")
        ns = self.cluster.store.get(NAMESPACES.storage_key, "", namespace)
        if event.type == "DELETED" and ns is not None and ns["metadata"].get("deletionTimestamp"):
            yield "", namespace

    def resync(self) -> None:
        """Check every namespace once (some may already be terminating)."""
        for ns in self.cluster.store.list(NAMESPACES.storage_key):
            self.enqueue(("", ns["metadata"]["name"]))

    def reconcile(self, key: ObjectKey) -> None:
        name = key[1]
        ns = self.api.try_get(NAMESPACES, "", name)
        if ns is None or not ns["metadata"].get("deletionTimestamp"):
            return
        if FINALIZER not in ((ns.get("spec") or {}).get("finalizers") or []):
            return
        remaining, finalizers, grace = self._delete_content(name)
        self._report(ns, remaining, finalizers)
        if remaining:
            self.requeue_after(key, (grace / 2 + 1) * self.cluster.time_scale)
            return
        live = self.api.get(NAMESPACES, "", name)
        finalized = copy.deepcopy(live)
        finalized.setdefault("spec", {})["finalizers"] = [
            f for f in (live.get("spec") or {}).get("finalizers") or [] if f != FINALIZER]
        self.cluster.finalize_namespace(live, finalized)

    def _delete_content(self, namespace: str) -> tuple[dict[str, int], dict[str, int], int]:
        """Delete everything in ``namespace``; what remains per resource, per finalizer, and the longest grace."""
        remaining: dict[str, int] = {}
        finalizers: dict[str, int] = {}
        grace = 0
        for kind in CONTENT_KINDS:
            for obj in self.api.list(kind, namespace)[0]:
                meta = obj["metadata"]
                if not meta.get("deletionTimestamp"):
                    self.api.delete(kind, namespace, meta["name"])
            left = self.api.list(kind, namespace)[0]
            if not left:
                continue
            remaining[_resource_name(kind)] = len(left)
            for obj in left:
                grace = max(grace, int(obj["metadata"].get("deletionGracePeriodSeconds") or 0))
                for finalizer in obj["metadata"].get("finalizers") or []:
                    finalizers[finalizer] = finalizers.get(finalizer, 0) + 1
        return remaining, finalizers, grace

    def _report(self, ns: Obj, remaining: dict[str, int], finalizers: dict[str, int]) -> None:
        status: dict[str, Any] = copy.deepcopy(ns.get("status") or {})
        conditions = status.setdefault("conditions", [])
        changed = False
        for type_, cond_status, reason, message in content_conditions(remaining, finalizers):
            changed = set_condition(conditions, type_, cond_status, reason, message) or changed
        if changed:
            self.api.update(NAMESPACES, "", ns["metadata"]["name"], {**ns, "status": status}, subresource="status")
