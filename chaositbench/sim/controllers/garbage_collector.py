"""The garbage collector: ownerReferences across every stored kind.

It keeps a graph of owner → dependents from the watch stream, and for each
object acts as kube-controller-manager's collector does:

* a dependent whose owners are all gone (or replaced: another uid) is deleted,
  with the propagation its own finalizers ask for, background otherwise; owners
  that are gone are dropped from a dependent that still has a live one;
* an owner deleted with ``propagationPolicy=Foreground`` carries the
  ``foregroundDeletion`` finalizer: its dependents are deleted first and the
  finalizer is removed once no dependent with ``blockOwnerDeletion`` remains;
* an owner deleted with ``propagationPolicy=Orphan`` carries the ``orphan``
  finalizer: its dependents lose their reference to it, then the finalizer goes.

Cluster-scoped owners of namespaced dependents resolve in the cluster scope.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, Iterator

from ..kinds import Kind, all_kinds, by_kind
from ..store import Obj, WatchEvent
from .base import Controller, ObjectKey

if TYPE_CHECKING:
    from ..cluster import Cluster

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"


def _stored_kinds() -> dict[str, Kind]:
    """One kind per storage key (the preferred version), for every kind with storage."""
    kinds: dict[str, Kind] = {}
    for kind in all_kinds():
        if not kind.virtual and (kind.preferred or kind.storage_key not in kinds):
            kinds.setdefault(kind.storage_key, kind)
    return kinds


def gc_key(storage_key: str, namespace: str, name: str) -> ObjectKey:
    """Keys carry the kind: ``(storage key, "namespace/name")``."""
    return storage_key, f"{namespace}/{name}"


def _owner_uids(obj: Obj) -> frozenset[str]:
    return frozenset(r.get("uid", "") for r in obj["metadata"].get("ownerReferences") or [])


class GarbageCollector(Controller):
    """Deletes dependents of vanished owners and runs foreground/orphan deletion."""

    name = "garbage-collector"
    watches = tuple(_stored_kinds().values())

    def __init__(self, cluster: "Cluster") -> None:
        super().__init__(cluster)
        self._kinds = _stored_kinds()
        self._dependents: dict[str, set[ObjectKey]] = {}
        self._owners: dict[ObjectKey, frozenset[str]] = {}

    # -- the graph --------------------------------------------------------------------
    def resync(self) -> None:
        """Build the graph from every stored object and check each dependent once."""
        for storage_key, obj in self.cluster.store.iter_all():
            if storage_key in self._kinds:
                for key in self._observe(storage_key, "ADDED", obj):
                    self.enqueue(key)

    def keys_for(self, event: WatchEvent) -> Iterator[ObjectKey]:
        yield from self._observe(event.storage_key, event.type, event.obj)

    def _observe(self, storage_key: str, event_type: str, obj: Obj) -> Iterator[ObjectKey]:
        meta = obj["metadata"]
        key = gc_key(storage_key, meta.get("namespace", ""), meta["name"])
        before = self._owners.pop(key, frozenset())
        for uid in before:
            self._dependents.get(uid, set()).discard(key)
        if event_type == "DELETED":
            yield from list(self._dependents.get(meta["uid"], ()))
            yield from self._owner_keys(obj)
            return
        after = _owner_uids(obj)
        if after:
            self._owners[key] = after
            for uid in after:
                self._dependents.setdefault(uid, set()).add(key)
            yield key
        if meta.get("deletionTimestamp") and {FOREGROUND, ORPHAN} & set(meta.get("finalizers") or []):
            yield key
        if before != after or meta.get("deletionTimestamp"):
            yield from self._owner_keys(obj)

    def _owner_keys(self, obj: Obj) -> Iterator[ObjectKey]:
        """Keys of the owners ``obj`` names (they may be waiting for it to go)."""
        namespace = obj["metadata"].get("namespace", "")
        for ref in obj["metadata"].get("ownerReferences") or []:
            kind = by_kind(ref.get("apiVersion", ""), ref.get("kind", ""))
            if kind is not None and not kind.virtual:
                yield gc_key(kind.storage_key, namespace if kind.namespaced else "", ref.get("name", ""))

    # -- reconcile --------------------------------------------------------------------
    def reconcile(self, key: ObjectKey) -> None:
        storage_key, path = key
        namespace, name = path.split("/", 1)
        kind = self._kinds.get(storage_key)
        obj = self.api.try_get(kind, namespace, name) if kind else None
        if kind is None or obj is None:
            return
        meta = obj["metadata"]
        if meta.get("deletionTimestamp"):
            finalizers = meta.get("finalizers") or []
            if ORPHAN in finalizers:
                self._orphan_dependents(kind, obj)
            elif FOREGROUND in finalizers:
                self._delete_dependents(kind, obj)
            return
        if meta.get("ownerReferences"):
            self._check_owners(kind, obj)

    def _resolve(self, dependent: Obj, ref: dict[str, Any]) -> tuple[str, Obj | None]:
        """Classify one ownerReference: ``solid``, ``dangling`` or ``waiting`` (owner deleting in foreground)."""
        kind = by_kind(ref.get("apiVersion", ""), ref.get("kind", ""))
        if kind is None or kind.virtual:
            return "solid", None  # unknown kinds cannot be verified: leave the dependent alone
        namespace = dependent["metadata"].get("namespace", "") if kind.namespaced else ""
        owner = self.api.try_get(kind, namespace, ref.get("name", ""))
        if owner is None or owner["metadata"]["uid"] != ref.get("uid"):
            return "dangling", None
        owner_meta = owner["metadata"]
        if owner_meta.get("deletionTimestamp") and FOREGROUND in (owner_meta.get("finalizers") or []):
            return "waiting", owner
        return "solid", owner

    def _check_owners(self, kind: Kind, obj: Obj) -> None:
        """``attemptToDeleteItem``: delete the dependent, or drop references to vanished owners."""
        meta = obj["metadata"]
        states = {ref.get("uid"): self._resolve(obj, ref)[0] for ref in meta.get("ownerReferences") or []}
        if "solid" in states.values():
            stale = {uid for uid, state in states.items() if state != "solid"}
            if stale:
                self._drop_owner_refs(kind, obj, stale)
            return
        finalizers = meta.get("finalizers") or []
        if "waiting" in states.values() and self._live_dependents(obj):
            policy = "Foreground"
        elif ORPHAN in finalizers:
            policy = "Orphan"
        elif FOREGROUND in finalizers:
            policy = "Foreground"
        else:
            policy = "Background"
        self.api.delete(kind, meta.get("namespace", ""), meta["name"], propagation=policy,
                        preconditions={"uid": meta["uid"]})

    def _live_dependents(self, owner: Obj) -> list[tuple[Kind, Obj]]:
        """Stored objects that still reference ``owner`` by uid."""
        uid = owner["metadata"]["uid"]
        found = []
        for storage_key, path in sorted(self._dependents.get(uid, ())):
            kind = self._kinds[storage_key]
            namespace, name = path.split("/", 1)
            dependent = self.api.try_get(kind, namespace, name)
            if dependent is not None and uid in _owner_uids(dependent):
                found.append((kind, dependent))
        return found

    def _delete_dependents(self, kind: Kind, owner: Obj) -> None:
        """Foreground deletion: dependents go first; the owner's finalizer goes when none blocks."""
        uid = owner["metadata"]["uid"]
        dependents = self._live_dependents(owner)
        blocking = [d for _, d in dependents if any(r.get("uid") == uid and r.get("blockOwnerDeletion")
                                                     for r in d["metadata"].get("ownerReferences") or [])]
        for dep_kind, dependent in dependents:
            if not dependent["metadata"].get("deletionTimestamp"):
                dmeta = dependent["metadata"]
                self.enqueue(gc_key(dep_kind.storage_key, dmeta.get("namespace", ""), dmeta["name"]))
        if not blocking:
            self.api.remove_finalizer(kind, owner, FOREGROUND)

    def _orphan_dependents(self, kind: Kind, owner: Obj) -> None:
        """Orphan deletion: dependents forget the owner, then the owner's finalizer goes."""
        uid = owner["metadata"]["uid"]
        for dep_kind, dependent in self._live_dependents(owner):
            self._drop_owner_refs(dep_kind, dependent, {uid})
        self.api.remove_finalizer(kind, owner, ORPHAN)

    def _drop_owner_refs(self, kind: Kind, obj: Obj, uids: set[str]) -> None:
        def drop(current: Obj) -> None:
            refs = [r for r in current["metadata"].get("ownerReferences") or [] if r.get("uid") not in uids]
            if refs:
                current["metadata"]["ownerReferences"] = copy.deepcopy(refs)
            else:
                current["metadata"].pop("ownerReferences", None)
        meta = obj["metadata"]
        self.api.patch_object(kind, meta.get("namespace", ""), meta["name"], drop)
