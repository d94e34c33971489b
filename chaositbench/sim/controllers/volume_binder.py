"""Dynamic provisioning and binding of PersistentVolumeClaims (PV controller plus a local-path provisioner).

Every pending claim without a volume gets a ``pvc-<claim uid>`` PersistentVolume
of the requested size, access modes and class (a host path on the node, as
kind's local-path provisioner makes), and both are bound: the claim gets
``spec.volumeName``, the bind annotations and ``status.phase: Bound`` with its
capacity; the volume gets a ``claimRef`` and ``Bound``. When the claim is
deleted its volume is deleted (reclaim policy ``Delete``) or marked
``Released`` (``Retain``).
"""

from __future__ import annotations

from typing import Any, Iterator

from ..kinds import preferred
from ..store import Obj, WatchEvent
from .base import Controller, ObjectKey, key_of

PVCS = preferred("", "PersistentVolumeClaim")
PVS = preferred("", "PersistentVolume")
PROVISIONER = "rancher.io/local-path"
BIND_ANNOTATIONS = {"pv.kubernetes.io/bind-completed": "yes", "pv.kubernetes.io/bound-by-controller": "yes"}


def volume_for(pvc: Obj) -> Obj:
    """The PersistentVolume provisioned for a claim."""
    meta, spec = pvc["metadata"], pvc.get("spec") or {}
    name = f"pvc-{meta['uid']}"
    size = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
    pv_spec: dict[str, Any] = {
        "accessModes": list(spec.get("accessModes") or ["ReadWriteOnce"]),
        "capacity": {"storage": size},
        "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "name": meta["name"],
                     "namespace": meta["namespace"], "uid": meta["uid"], "resourceVersion": meta["resourceVersion"]},
        "hostPath": {"path": f"/var/local-path-provisioner/{name}_{meta['namespace']}_{meta['name']}",
                     "type": "DirectoryOrCreate"},
        "persistentVolumeReclaimPolicy": "Delete",
        "volumeMode": spec.get("volumeMode") or "Filesystem",
    }
    if spec.get("storageClassName"):
        pv_spec["storageClassName"] = spec["storageClassName"]
    return {"apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": name, "annotations": {"pv.kubernetes.io/provisioned-by": PROVISIONER}},
            "spec": pv_spec}


class VolumeBinder(Controller):
    """Provisions and binds claims; reclaims volumes of deleted claims."""

    name = "persistentvolume-binder"
    watches = (PVCS,)

    def keys_for(self, event: WatchEvent) -> Iterator[ObjectKey]:
        yield key_of(event.obj)

    def reconcile(self, key: ObjectKey) -> None:
        namespace, name = key
        pvc = self.api.try_get(PVCS, namespace, name)
        if pvc is None:
            self._reclaim(namespace, name)
            return
        if pvc["metadata"].get("deletionTimestamp") or (pvc.get("status") or {}).get("phase") == "Bound":
            return
        volume_name = (pvc.get("spec") or {}).get("volumeName")
        pv = self.api.try_get(PVS, "", volume_name) if volume_name else None
        if pv is None:
            pv = self.api.try_get(PVS, "", f"pvc-{pvc['metadata']['uid']}") or self.api.create(PVS, "", volume_for(pvc))
        self._bind(pvc, pv)

    def _bind(self, pvc: Obj, pv: Obj) -> None:
        def bound_volume(p: Obj) -> None:
            p.setdefault("status", {})["phase"] = "Bound"
        self.api.patch_object(PVS, "", pv["metadata"]["name"], bound_volume, subresource="status")
        meta = pvc["metadata"]

        def claim_spec(c: Obj) -> None:
            c.setdefault("spec", {})["volumeName"] = pv["metadata"]["name"]
            c["metadata"]["annotations"] = {**(c["metadata"].get("annotations") or {}), **BIND_ANNOTATIONS,
                                            "volume.kubernetes.io/storage-provisioner": PROVISIONER}
        self.api.patch_object(PVCS, meta["namespace"], meta["name"], claim_spec)

        def claim_status(c: Obj) -> None:
            c["status"] = {"phase": "Bound", "accessModes": list(pv["spec"].get("accessModes") or []),
                           "capacity": dict(pv["spec"].get("capacity") or {})}
        self.api.patch_object(PVCS, meta["namespace"], meta["name"], claim_status, subresource="status")

    def _reclaim(self, namespace: str, name: str) -> None:
        for pv in self.api.list(PVS)[0]:
            ref = (pv.get("spec") or {}).get("claimRef") or {}
            if ref.get("namespace") != namespace or ref.get("name") != name:
                continue
            if (pv.get("spec") or {}).get("persistentVolumeReclaimPolicy") == "Delete":
                self.api.delete(PVS, "", pv["metadata"]["name"])
            else:
                def released(p: Obj) -> None:
                    p.setdefault("status", {})["phase"] = "Released"
                self.api.patch_object(PVS, "", pv["metadata"]["name"], released, subresource="status")
