"""Events as client-go's event recorder writes them: core/v1 Events, correlated and bounded.

Controllers and the kubelet report what they did with :meth:`EventRecorder.record`.
Each report becomes a ``v1.Event`` in the involved object's namespace (``default``
for cluster-scoped objects) named ``<object-name>.<hex timestamp>``; a report
identical to an earlier one (same object, source, type, reason and message)
bumps that event's ``count`` and ``lastTimestamp`` instead, as the client-side
event correlator does. The recorder keeps at most ``max_per_namespace`` events
of its own per namespace and lets them expire after ``ttl`` (kube-apiserver's
default event TTL is one hour).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from . import clock
from .errors import APIError
from .kinds import preferred
from .resources import ResourceAPI
from .store import Obj

EVENTS = preferred("", "Event")
EVENT_TTL = timedelta(hours=1)
MAX_EVENTS_PER_NAMESPACE = 1000

#: (namespace, involved uid, involved kind, involved name, field path, component, instance, type, reason, message)
CorrelationKey = tuple[str, str, str, str, str, str, str, str, str, str]


@dataclass
class _Recorded:
    """One event this recorder wrote: where it lives and when it was last touched."""

    namespace: str
    name: str
    last_seen: datetime


class EventRecorder:
    """Writes core/v1 Events through the API, de-duplicating repeats and expiring old ones."""

    def __init__(self, api: ResourceAPI, *, max_per_namespace: int = MAX_EVENTS_PER_NAMESPACE,
                 ttl: timedelta = EVENT_TTL) -> None:
        self.api = api
        self.max_per_namespace = max_per_namespace
        self.ttl = ttl
        self._recorded: OrderedDict[CorrelationKey, _Recorded] = OrderedDict()
        self._last_suffix = 0

    def record(self, involved: dict[str, Any], type_: str, reason: str, message: str, component: str,
               field_path: str | None = None, *, instance: str = "") -> Obj | None:
        """Report ``reason``/``message`` about ``involved``; returns the written Event (None if dropped).

        ``component`` is the reporting controller (``deployment-controller``,
        ``kubelet``); ``instance`` its host (the node name for the kubelet).
        Like client-go, a failed write drops the event rather than failing the caller.
        """
        meta = involved.get("metadata") or {}
        namespace = meta.get("namespace") or "default"
        key: CorrelationKey = (namespace, meta.get("uid", ""), involved.get("kind", ""), meta.get("name", ""),
                               field_path or "", component, instance, type_, reason, message)
        now = clock.now()
        self._expire(now)
        try:
            written = self._bump(key, now) or self._create(key, involved, now)
        except APIError:
            return None
        self._recorded[key] = _Recorded(namespace, written["metadata"]["name"], now)
        self._recorded.move_to_end(key)
        self._enforce_limit(namespace)
        return written

    # -- writes --------------------------------------------------------------------
    def _bump(self, key: CorrelationKey, now: datetime) -> Obj | None:
        """Increment the count of the event already recorded under ``key``, if it still exists."""
        seen = self._recorded.get(key)
        if seen is None or self.api.try_get(EVENTS, seen.namespace, seen.name) is None:
            return None

        def increment(event: Obj) -> None:
            event["count"] = int(event.get("count") or 1) + 1
            event["lastTimestamp"] = clock.rfc3339(now)

        return self.api.patch_object(EVENTS, seen.namespace, seen.name, increment)

    def _create(self, key: CorrelationKey, involved: dict[str, Any], now: datetime) -> Obj:
        namespace, _, _, _, field_path, component, instance, type_, reason, message = key
        meta = involved.get("metadata") or {}
        reference = {"kind": involved.get("kind", ""), "name": meta.get("name", ""), "uid": meta.get("uid", ""),
                     "apiVersion": involved.get("apiVersion", ""),
                     "resourceVersion": meta.get("resourceVersion", "")}
        if meta.get("namespace"):
            reference["namespace"] = meta["namespace"]
        if field_path:
            reference["fieldPath"] = field_path
        source = {"component": component, **({"host": instance} if instance else {})}
        stamp = clock.rfc3339(now)
        event = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{meta.get('name', '')}.{self._suffix()}", "namespace": namespace},
            "involvedObject": reference, "reason": reason, "message": message, "source": source,
            "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1, "type": type_, "eventTime": None,
            "reportingComponent": component, "reportingInstance": instance,
        }
        return self.api.create(EVENTS, namespace, event)

    def _suffix(self) -> str:
        """The hex Unix-nanosecond suffix of an event name, strictly increasing."""
        self._last_suffix = max(time.time_ns(), self._last_suffix + 1)
        return f"{self._last_suffix:x}"

    # -- bounds --------------------------------------------------------------------
    def _expire(self, now: datetime) -> None:
        """Delete events untouched for longer than the TTL (oldest first)."""
        while self._recorded:
            key, oldest = next(iter(self._recorded.items()))
            if now - oldest.last_seen < self.ttl:
                return
            self._forget(key)

    def _enforce_limit(self, namespace: str) -> None:
        keys = [k for k, rec in self._recorded.items() if rec.namespace == namespace]
        for key in keys[:max(0, len(keys) - self.max_per_namespace)]:
            self._forget(key)

    def _forget(self, key: CorrelationKey) -> None:
        rec = self._recorded.pop(key)
        try:
            self.api.delete(EVENTS, rec.namespace, rec.name)
        except APIError:
            pass  # already gone (namespace deleted, or removed by a user)
