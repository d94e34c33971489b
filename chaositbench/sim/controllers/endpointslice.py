"""The EndpointSlice controller: ``discovery.k8s.io/v1`` slices for every Service with a selector.

Each slice is named ``<service>-<5 random>``, labelled with
``kubernetes.io/service-name`` and the controller's ``managed-by`` value, owned
by the Service, and holds up to 100 endpoints that share one port list. Every
endpoint carries its ``ready``/``serving``/``terminating`` conditions (so
terminating pods stay listed), node name, hostname and target reference. A
Service with no endpoints keeps one empty placeholder slice. Existing slices
are updated in place so their names stay stable.
"""

from __future__ import annotations

from typing import Any, Iterator

from ..kinds import preferred
from ..store import Obj, WatchEvent
from .base import Controller, ObjectKey, key_of
from .endpoints import (SERVICES, PODS, TRIGGER_TIME, endpoint_port, managed, owned_labels, pod_hostname,
                        pod_in_endpoints, pod_ref, selected_pods, services_for_pod, target_port, trigger_time)
from .ownership import owner_reference
from .podstate import is_ready
from .podutil import is_terminating

SLICES = preferred("discovery.k8s.io", "EndpointSlice")
SERVICE_NAME = "kubernetes.io/service-name"
MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
CONTROLLER_NAME = "endpointslice-controller.k8s.io"
MAX_ENDPOINTS = 100

Group = tuple[list[dict[str, Any]], list[dict[str, Any]]]  # (ports, endpoints)


def to_endpoint(pod: Obj, service: Obj) -> dict[str, Any]:
    """One slice endpoint for a pod (``podToEndpoint``)."""
    publish = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
    serving = publish or is_ready(pod)
    terminating = is_terminating(pod)
    status = pod.get("status") or {}
    endpoint: dict[str, Any] = {
        "addresses": [status.get("podIP") or status["podIPs"][0]["ip"]],
        "conditions": {"ready": publish or (serving and not terminating), "serving": serving,
                       "terminating": terminating},
    }
    hostname = pod_hostname(pod, service)
    if hostname:
        endpoint["hostname"] = hostname
    if (pod.get("spec") or {}).get("nodeName"):
        endpoint["nodeName"] = pod["spec"]["nodeName"]
    endpoint["targetRef"] = pod_ref(pod)
    return endpoint


def desired_groups(service: Obj, pods: list[Obj]) -> list[Group]:
    """Endpoints grouped by their resolved port list, chunked to the slice size limit."""
    grouped: dict[str, Group] = {}
    service_ports = (service.get("spec") or {}).get("ports") or []
    for pod in pods:
        if not pod_in_endpoints(pod, include_terminating=True):
            continue
        ports = []
        for service_port in service_ports:
            number = target_port(pod, service_port)
            if number is not None:
                ports.append(endpoint_port(service_port, number, always_named=True))
        grouped.setdefault(repr(ports), (ports, []))[1].append(to_endpoint(pod, service))
    chunks: list[Group] = []
    for ports, endpoints in grouped.values():
        for start in range(0, len(endpoints), MAX_ENDPOINTS):
            chunks.append((ports, endpoints[start:start + MAX_ENDPOINTS]))
    return chunks


class EndpointSliceController(Controller):
    """Keeps each Service's EndpointSlices in step with its pods."""

    name = "endpointslice"
    watches = (SERVICES, PODS, SLICES)

    def keys_for(self, event: WatchEvent) -> Iterator[ObjectKey]:
        if event.storage_key == SERVICES.storage_key:
            yield key_of(event.obj)
        elif event.storage_key == SLICES.storage_key:
            labels = event.obj["metadata"].get("labels") or {}
            if labels.get(MANAGED_BY) == CONTROLLER_NAME and labels.get(SERVICE_NAME):
                yield event.obj["metadata"]["namespace"], labels[SERVICE_NAME]
        else:
            yield from services_for_pod(self.api, event)

    def reconcile(self, key: ObjectKey) -> None:
        namespace, name = key
        service = self.api.try_get(SERVICES, namespace, name)
        if service is None or not managed(service) or service["metadata"].get("deletionTimestamp"):
            return  # slices of a deleted Service go with it (garbage collection)
        pods = selected_pods(self.api, service)
        groups = desired_groups(service, pods)
        labels = {**owned_labels(service), SERVICE_NAME: name, MANAGED_BY: CONTROLLER_NAME}
        existing = self._slices_of(service)
        stamp = trigger_time(service, pods)
        if not groups:
            groups = [([], [])]  # the placeholder slice of a Service without endpoints
        unused = list(existing)
        pending: list[Group] = []
        for ports, endpoints in groups:
            match = next((s for s in unused if (s.get("ports") or []) == ports), None)
            if match is None:
                pending.append((ports, endpoints))
            else:
                unused.remove(match)
                self._write(service, match, labels, ports, endpoints, stamp)
        for ports, endpoints in pending:
            reuse = unused.pop(0) if unused else None
            self._write(service, reuse, labels, ports, endpoints, stamp)
        self._delete(unused)

    def _slices_of(self, service: Obj) -> list[Obj]:
        meta = service["metadata"]
        slices, _ = self.api.list(SLICES, meta["namespace"],
                                  label_selector=f"{SERVICE_NAME}={meta['name']},{MANAGED_BY}={CONTROLLER_NAME}")
        return [s for s in slices
                if any(r.get("uid") == meta["uid"] for r in s["metadata"].get("ownerReferences") or [])]

    def _write(self, service: Obj, current: Obj | None, labels: dict[str, str], ports: list[dict[str, Any]],
               endpoints: list[dict[str, Any]], stamp: str) -> None:
        """Create a slice, or update ``current`` when its content differs."""
        body: dict[str, Any] = {"apiVersion": SLICES.api_version, "kind": "EndpointSlice", "addressType": "IPv4",
                                "endpoints": endpoints or None}
        if ports:
            body["ports"] = ports
        if current is not None:
            same_labels = (current["metadata"].get("labels") or {}) == labels
            if same_labels and (current.get("endpoints") or None) == body["endpoints"] \
                    and current.get("ports") == body.get("ports"):
                return
            meta = dict(current["metadata"])
            meta["labels"] = labels
            meta["annotations"] = {**(meta.get("annotations") or {}), TRIGGER_TIME: stamp}
            self.api.update(SLICES, meta["namespace"], meta["name"], {**body, "metadata": meta})
            return
        smeta = service["metadata"]
        body["metadata"] = {"generateName": f"{smeta['name']}-", "namespace": smeta["namespace"], "labels": labels,
                            "annotations": {TRIGGER_TIME: stamp},
                            "ownerReferences": [owner_reference(service)]}
        self.api.create(SLICES, smeta["namespace"], body)

    def _delete(self, slices: list[Obj]) -> None:
        for stale in slices:
            self.api.delete(SLICES, stale["metadata"]["namespace"], stale["metadata"]["name"])
