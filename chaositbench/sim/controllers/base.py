"""The controller runtime: reconcile loops fed by store events, as client-go work queues are.

A controller declares the kinds it watches and maps each change to the keys
of the objects it reconciles; keys are de-duplicated in a queue and reconciled
one at a time. ``reconcile`` may ask to be called again after a delay (timers:
pod start-up, back-off, progress deadlines). Controllers act only through
:class:`~chaositbench.sim.resources.ResourceAPI`, exactly as a client would.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Iterable

from ..errors import APIError
from ..kinds import Kind
from ..store import Obj, WatchEvent

if TYPE_CHECKING:
    from ..cluster import Cluster

log = logging.getLogger(__name__)

ObjectKey = tuple[str, str]  # (namespace, name)


def key_of(obj: Obj) -> ObjectKey:
    return obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


class Controller(ABC):
    """Base class: subclasses set ``watches`` and implement :meth:`keys_for` and :meth:`reconcile`."""

    #: storage keys of the kinds whose changes wake this controller
    watches: tuple[Kind, ...] = ()
    name = "controller"

    def __init__(self, cluster: "Cluster") -> None:
        self.cluster = cluster
        self.api = cluster.api
        self._queue: asyncio.Queue[ObjectKey] = asyncio.Queue()
        self._queued: set[ObjectKey] = set()
        self._timers: dict[ObjectKey, asyncio.TimerHandle] = {}
        self._watched = {k.storage_key for k in self.watches}

    # -- wiring ----------------------------------------------------------------
    def on_event(self, event: WatchEvent) -> None:
        """Store listener: map a change to reconcile keys."""
        if event.storage_key in self._watched:
            try:
                keys = list(self.keys_for(event))
            except Exception:  # a malformed object must never turn a client's write into a 500
                log.exception("%s: cannot map %s event of %s", self.name, event.type, event.storage_key)
                return
            for key in keys:
                self.enqueue(key)

    def enqueue(self, key: ObjectKey) -> None:
        if key not in self._queued:
            self._queued.add(key)
            self._queue.put_nowait(key)

    def requeue_after(self, key: ObjectKey, seconds: float) -> None:
        """Reconcile ``key`` again in ``seconds`` (the earliest request wins)."""
        loop = asyncio.get_running_loop()
        existing = self._timers.get(key)
        if existing is not None:
            if existing.when() <= loop.time() + seconds:
                return
            existing.cancel()
        self._timers[key] = loop.call_later(seconds, self._fire, key)

    def _fire(self, key: ObjectKey) -> None:
        self._timers.pop(key, None)
        self.enqueue(key)

    def resync(self) -> None:
        """Enqueue every object of the primary kind (at start-up)."""
        if self.watches:
            for obj in self.cluster.store.list(self.watches[0].storage_key):
                self.enqueue(key_of(obj))

    async def run(self) -> None:
        self.resync()
        while True:
            key = await self._queue.get()
            self._queued.discard(key)
            try:
                self.reconcile(key)
            except APIError as err:
                if err.code == 409:  # stale read: try again promptly
                    self.requeue_after(key, 0.05)
                elif err.code != 404:
                    log.warning("%s: reconcile %s: %s", self.name, key, err)
                    self.requeue_after(key, 1.0)
            except Exception:
                log.exception("%s: reconcile %s failed", self.name, key)
                self.requeue_after(key, 1.0)
            await asyncio.sleep(0)

    def stop(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    # -- to implement ------------------------------------------------------------
    def keys_for(self, event: WatchEvent) -> Iterable[ObjectKey]:
        """Keys to reconcile for a change; by default the changed object of the primary kind."""
        if self.watches and event.storage_key == self.watches[0].storage_key:
            yield key_of(event.obj)

    @abstractmethod
    def reconcile(self, key: ObjectKey) -> None:
        """Drive the object at ``key`` toward its desired state (it may be gone)."""
