"""The ServiceAccount controller: every active namespace has a ``default`` ServiceAccount.

Pods that name no service account run as ``default``; admission refuses pods
whose service account is missing, so the controller creates it as soon as a
namespace appears and again whenever it is deleted.
"""

from __future__ import annotations

from typing import Iterator

from ..kinds import preferred
from ..store import WatchEvent
from .base import Controller, ObjectKey

NAMESPACES = preferred("", "Namespace")
SERVICE_ACCOUNTS = preferred("", "ServiceAccount")
DEFAULT = "default"


class ServiceAccountController(Controller):
    """Ensures the ``default`` ServiceAccount of each namespace."""

    name = "serviceaccount"
    watches = (NAMESPACES, SERVICE_ACCOUNTS)

    def keys_for(self, event: WatchEvent) -> Iterator[ObjectKey]:
        meta = event.obj["metadata"]
        if event.storage_key == NAMESPACES.storage_key:
            yield "", meta["name"]
        elif event.type == "DELETED" and meta["name"] == DEFAULT:
            yield "", meta.get("namespace", "")

    def reconcile(self, key: ObjectKey) -> None:
        namespace = key[1]
        ns = self.api.try_get(NAMESPACES, "", namespace)
        if ns is None or ns["metadata"].get("deletionTimestamp"):
            return
        if self.api.try_get(SERVICE_ACCOUNTS, namespace, DEFAULT) is None:
            self.api.create(SERVICE_ACCOUNTS, namespace, {"apiVersion": "v1", "kind": "ServiceAccount",
                                                          "metadata": {"name": DEFAULT}})
