"""The object store: every object of the cluster, one global resourceVersion, and watch fan-out.

Stored objects are treated as immutable: writers hand the store a fresh dict,
readers get the stored dict and must copy it before changing it. Every write
takes the next resourceVersion and appends an event to a bounded history from
which watches are served; a watch that starts before the oldest kept event is
told ``410 Gone``, as etcd compaction makes a real API server do.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from .errors import gone

Obj = dict[str, Any]
Key = tuple[str, str]  # (namespace, name); namespace "" for cluster-scoped


@dataclass
class WatchEvent:
    """One change: ``ADDED``, ``MODIFIED`` or ``DELETED`` of ``obj`` at ``rv``."""

    rv: int
    storage_key: str
    type: str
    obj: Obj


@dataclass(eq=False)
class Watcher:
    """A live watch: a queue of events of one storage key, filtered."""

    storage_key: str
    namespace: str | None
    accept: Callable[[Obj], bool]
    queue: asyncio.Queue[WatchEvent | None] = field(default_factory=asyncio.Queue)
    closed: bool = False

    def offer(self, event: WatchEvent) -> None:
        if self.closed or event.storage_key != self.storage_key:
            return
        if self.namespace and event.obj.get("metadata", {}).get("namespace") != self.namespace:
            return
        self.queue.put_nowait(event)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.queue.put_nowait(None)


class Store:
    """In-memory storage of all objects, keyed by kind storage key and (namespace, name)."""

    def __init__(self, history: int = 50_000) -> None:
        self._objects: dict[str, dict[Key, Obj]] = {}
        self._history: deque[WatchEvent] = deque(maxlen=history)
        self._watchers: set[Watcher] = set()
        self._listeners: list[Callable[[WatchEvent], None]] = []
        self.rv = 1  # the first write gets 2; "1" is a valid, empty starting point

    # -- reads ---------------------------------------------------------------
    def get(self, storage_key: str, namespace: str, name: str) -> Obj | None:
        return self._objects.get(storage_key, {}).get((namespace, name))

    def list(self, storage_key: str, namespace: str | None = None) -> list[Obj]:
        """Objects of a kind (in one namespace or all), ordered by namespace then name."""
        bucket = self._objects.get(storage_key, {})
        keys = sorted(k for k in bucket if namespace is None or k[0] == namespace)
        return [bucket[k] for k in keys]

    def iter_all(self) -> Iterator[tuple[str, Obj]]:
        for storage_key, bucket in self._objects.items():
            for obj in bucket.values():
                yield storage_key, obj

    def count(self, storage_key: str) -> int:
        return len(self._objects.get(storage_key, {}))

    # -- writes --------------------------------------------------------------
    def next_rv(self) -> int:
        self.rv += 1
        return self.rv

    def put(self, storage_key: str, obj: Obj, event_type: str) -> Obj:
        """Store ``obj`` (ADDED or MODIFIED) under a new resourceVersion and notify watchers."""
        rv = self.next_rv()
        meta = obj["metadata"]
        meta["resourceVersion"] = str(rv)
        self._objects.setdefault(storage_key, {})[(meta.get("namespace", ""), meta["name"])] = obj
        self._emit(WatchEvent(rv, storage_key, event_type, obj))
        return obj

    def delete(self, storage_key: str, obj: Obj) -> Obj:
        """Remove an object; the DELETED event carries it at a new resourceVersion."""
        meta = obj["metadata"]
        self._objects.get(storage_key, {}).pop((meta.get("namespace", ""), meta["name"]), None)
        rv = self.next_rv()
        gone_obj = {**obj, "metadata": {**meta, "resourceVersion": str(rv)}}
        self._emit(WatchEvent(rv, storage_key, "DELETED", gone_obj))
        return gone_obj

    def _emit(self, event: WatchEvent) -> None:
        self._history.append(event)
        for w in tuple(self._watchers):
            w.offer(event)
        for listener in self._listeners:
            listener(event)

    # -- watches -------------------------------------------------------------
    def add_listener(self, listener: Callable[[WatchEvent], None]) -> None:
        """Call ``listener`` synchronously on every change (controllers' informers)."""
        self._listeners.append(listener)

    def oldest_rv(self) -> int:
        return self._history[0].rv if self._history else self.rv + 1

    def watch(self, storage_key: str, namespace: str | None, since: int | None,
              accept: Callable[[Obj], bool]) -> Watcher:
        """Start a watch after ``since`` (None: now). Raises 410 Gone if history is gone."""
        watcher = Watcher(storage_key, namespace, accept)
        if since is not None and since < self.rv:
            if self._history and since + 1 < self._history[0].rv and len(self._history) == self._history.maxlen:
                raise gone(f"too old resource version: {since} ({self._history[0].rv - 1})")
            for event in self._history:
                if event.rv > since:
                    watcher.offer(event)
        self._watchers.add(watcher)
        return watcher

    def stop_watch(self, watcher: Watcher) -> None:
        self._watchers.discard(watcher)
        watcher.close()

    def close_all_watches(self) -> None:
        for w in tuple(self._watchers):
            self.stop_watch(w)
