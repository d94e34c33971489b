"""The Endpoints controller: one ``v1/Endpoints`` per Service with a selector.

Ready pods' addresses go to ``addresses``, the others to
``notReadyAddresses`` (terminating pods are left out unless the Service
publishes not-ready addresses); ports come from each Service port's
``targetPort`` (a number, or a container port name looked up per pod, pods
without it being skipped for that port). Addresses sharing the same ports
form one subset. Services without a selector are left to their owners.
The helpers here are shared with the EndpointSlice controller.
"""

from __future__ import annotations

from typing import Any, Iterator

from .. import clock
from ..kinds import preferred
from ..selectors import selector_from_map
from ..store import Obj, WatchEvent
from .base import Controller, ObjectKey, key_of
from .podstate import condition, is_ready
from .podutil import is_terminal, is_terminating

SERVICES = preferred("", "Service")
PODS = preferred("", "Pod")
ENDPOINTS = preferred("", "Endpoints")

TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"
HEADLESS = "service.kubernetes.io/headless"


# -- shared with the EndpointSlice controller --------------------------------------------
def managed(service: Obj) -> bool:
    """Services whose endpoints the controllers compute: a selector, and not ExternalName."""
    spec = service.get("spec") or {}
    return bool(spec.get("selector")) and spec.get("type") != "ExternalName"


def is_headless(service: Obj) -> bool:
    """``clusterIP: None``."""
    return (service.get("spec") or {}).get("clusterIP") == "None"


def selected_pods(api: Any, service: Obj) -> list[Obj]:
    """Pods of the Service's namespace matching its selector."""
    selector = selector_from_map((service.get("spec") or {}).get("selector"))
    pods, _ = api.list(PODS, service["metadata"]["namespace"], label_selector=selector)
    return pods


def pod_in_endpoints(pod: Obj, include_terminating: bool) -> bool:
    """``ShouldPodBeInEndpoints``: has an IP, is not terminal, and terminating only when allowed."""
    status = pod.get("status") or {}
    if is_terminal(pod) or not (status.get("podIP") or status.get("podIPs")):
        return False
    return include_terminating or not is_terminating(pod)


def target_port(pod: Obj, service_port: dict[str, Any]) -> int | None:
    """``FindPort``: the pod's port for a Service port (None when a named port is missing)."""
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int):
        return target
    protocol = service_port.get("protocol") or "TCP"
    spec = pod.get("spec") or {}
    sidecars = [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
    for container in (spec.get("containers") or []) + sidecars:
        for port in container.get("ports") or []:
            if port.get("name") == target and (port.get("protocol") or "TCP") == protocol:
                return int(port["containerPort"])
    return None


def endpoint_port(service_port: dict[str, Any], number: int, *, always_named: bool) -> dict[str, Any]:
    """The ``EndpointPort`` for one Service port resolved to ``number``."""
    port: dict[str, Any] = {}
    if service_port.get("name") or always_named:
        port["name"] = service_port.get("name", "")
    port["port"] = number
    port["protocol"] = service_port.get("protocol") or "TCP"
    if service_port.get("appProtocol"):
        port["appProtocol"] = service_port["appProtocol"]
    return port


def pod_ref(pod: Obj) -> dict[str, str]:
    """The ``targetRef`` of a pod's address."""
    meta = pod["metadata"]
    return {"kind": "Pod", "namespace": meta["namespace"], "name": meta["name"], "uid": meta["uid"]}


def pod_hostname(pod: Obj, service: Obj) -> str | None:
    """A pod's DNS hostname under the Service (``hostname`` with ``subdomain`` naming the Service)."""
    spec = pod.get("spec") or {}
    if spec.get("hostname") and spec.get("subdomain") == service["metadata"]["name"]:
        return spec["hostname"]
    return None


def trigger_time(service: Obj, pods: list[Obj]) -> str:
    """The latest change among the Service and its pods (Ready transitions, creations)."""
    times = [service["metadata"].get("creationTimestamp", "")]
    for pod in pods:
        ready = condition(pod, "Ready")
        times.append((ready or {}).get("lastTransitionTime") or pod["metadata"].get("creationTimestamp", ""))
    return max(t for t in times if t) if any(times) else clock.rfc3339()


def owned_labels(service: Obj) -> dict[str, str]:
    """The Service's labels, plus the headless marker the controllers add."""
    labels = dict(service["metadata"].get("labels") or {})
    if is_headless(service):
        labels[HEADLESS] = ""
    return labels


def services_for_pod(api: Any, event: WatchEvent) -> Iterator[ObjectKey]:
    """Every managed Service of the pod's namespace (labels may have changed either way)."""
    services, _ = api.list(SERVICES, event.obj["metadata"].get("namespace", ""))
    for service in services:
        if managed(service):
            yield key_of(service)


# -- the controller ----------------------------------------------------------------------
def build_subsets(service: Obj, pods: list[Obj]) -> list[dict[str, Any]]:
    """Addresses grouped by identical port lists, addresses sorted by IP."""
    spec = service.get("spec") or {}
    publish = bool(spec.get("publishNotReadyAddresses"))
    groups: dict[str, dict[str, Any]] = {}
    for pod in pods:
        if not pod_in_endpoints(pod, publish):
            continue
        address: dict[str, Any] = {"ip": pod["status"].get("podIP") or pod["status"]["podIPs"][0]["ip"]}
        if (pod.get("spec") or {}).get("nodeName"):
            address["nodeName"] = pod["spec"]["nodeName"]
        hostname = pod_hostname(pod, service)
        if hostname:
            address["hostname"] = hostname
        address["targetRef"] = pod_ref(pod)
        ports = []
        for service_port in spec.get("ports") or []:
            number = target_port(pod, service_port)
            if number is not None:
                ports.append(endpoint_port(service_port, number, always_named=False))
        if not ports and (spec.get("ports") or not is_headless(service)):
            continue
        group = groups.setdefault(repr(ports), {"addresses": [], "notReadyAddresses": [], "ports": ports})
        group["addresses" if publish or is_ready(pod) else "notReadyAddresses"].append(address)
    subsets = []
    for group in groups.values():
        subset: dict[str, Any] = {}
        for field in ("addresses", "notReadyAddresses"):
            if group[field]:
                subset[field] = sorted(group[field], key=lambda a: (a["ip"], a["targetRef"]["uid"]))
        if group["ports"]:
            subset["ports"] = group["ports"]
        subsets.append(subset)
    return subsets


class EndpointsController(Controller):
    """Keeps ``Endpoints`` in step with each Service's pods."""

    name = "endpoints"
    watches = (SERVICES, PODS, ENDPOINTS)

    def keys_for(self, event: WatchEvent) -> Iterator[ObjectKey]:
        if event.storage_key == SERVICES.storage_key:
            yield key_of(event.obj)
        elif event.storage_key == ENDPOINTS.storage_key:
            if event.type == "DELETED":
                yield key_of(event.obj)
        else:
            yield from services_for_pod(self.api, event)

    def reconcile(self, key: ObjectKey) -> None:
        namespace, name = key
        service = self.api.try_get(SERVICES, namespace, name)
        existing = self.api.try_get(ENDPOINTS, namespace, name)
        if service is None:
            if existing is not None:
                self.api.delete(ENDPOINTS, namespace, name)
            return
        if not managed(service):
            return
        pods = selected_pods(self.api, service)
        subsets = build_subsets(service, pods)
        labels = owned_labels(service)
        if existing is not None and (existing.get("subsets") or []) == subsets \
                and (existing["metadata"].get("labels") or {}) == labels:
            return
        body: dict[str, Any] = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {
            "name": name, "namespace": namespace, "annotations": {TRIGGER_TIME: trigger_time(service, pods)}}}
        if labels:
            body["metadata"]["labels"] = labels
        if subsets:
            body["subsets"] = subsets
        if existing is None:
            self.api.create(ENDPOINTS, namespace, body)
            return
        meta = body["metadata"]
        meta["resourceVersion"] = existing["metadata"]["resourceVersion"]
        meta["annotations"] = {**(existing["metadata"].get("annotations") or {}), **meta["annotations"]}
        self.api.update(ENDPOINTS, namespace, name, body)
