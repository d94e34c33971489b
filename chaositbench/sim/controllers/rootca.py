"""The root CA publisher: a ``kube-root-ca.crt`` ConfigMap in every namespace.

Pods mount it through their projected service-account volume to verify the
API server. The controller creates it in every active namespace and puts back
its data and description when they are changed or it is deleted.
"""

from __future__ import annotations

from typing import Iterator

from ..kinds import preferred
from ..store import WatchEvent
from .base import Controller, ObjectKey

NAMESPACES = preferred("", "Namespace")
CONFIGMAPS = preferred("", "ConfigMap")
NAME = "kube-root-ca.crt"
DESCRIPTION_KEY = "kubernetes.io/description"
DESCRIPTION = ("Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints "
               "such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across "
               "distributions of Kubernetes clusters.")


class RootCAPublisher(Controller):
    """Keeps ``kube-root-ca.crt`` in every namespace."""

    name = "root-ca-cert-publisher"
    watches = (NAMESPACES, CONFIGMAPS)

    def keys_for(self, event: WatchEvent) -> Iterator[ObjectKey]:
        meta = event.obj["metadata"]
        if event.storage_key == NAMESPACES.storage_key:
            yield "", meta["name"]
        elif meta["name"] == NAME:
            yield "", meta.get("namespace", "")

    def reconcile(self, key: ObjectKey) -> None:
        namespace = key[1]
        ns = self.api.try_get(NAMESPACES, "", namespace)
        if ns is None or ns["metadata"].get("deletionTimestamp"):
            return
        current = self.api.try_get(CONFIGMAPS, namespace, NAME)
        if current is None:
            self.api.create(CONFIGMAPS, namespace, {
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": NAME, "annotations": {DESCRIPTION_KEY: DESCRIPTION}},
                "data": {"ca.crt": self.cluster.ca_bundle}})
            return
        annotations = current["metadata"].get("annotations") or {}
        if current.get("data") == {"ca.crt": self.cluster.ca_bundle} and annotations.get(DESCRIPTION_KEY) == DESCRIPTION:
            return
        meta = {**current["metadata"], "annotations": {**annotations, DESCRIPTION_KEY: DESCRIPTION}}
        self.api.update(CONFIGMAPS, namespace, NAME, {**current, "metadata": meta, "data": {"ca.crt": self.cluster.ca_bundle}})
