"""A read-only view of the objects the network depends on, rebuilt only when one of them changes.

The store calls a listener on every write; the view of a store is marked stale
only by writes to the kinds networking reads (pods, Services, Endpoints,
EndpointSlices, NetworkPolicies, namespaces, nodes), so the many Event and lease
writes cost nothing. :func:`view_of` returns the current :class:`NetworkView`.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any
from ..kinds import preferred
from ..store import Obj, Store, WatchEvent

PODS = preferred("", "Pod")
SERVICES = preferred("", "Service")
ENDPOINTS = preferred("", "Endpoints")
SLICES = preferred("discovery.k8s.io", "EndpointSlice")
POLICIES = preferred("networking.k8s.io", "NetworkPolicy")
NAMESPACES = preferred("", "Namespace")
NODES = preferred("", "Node")
WATCHED = frozenset(k.storage_key for k in (PODS, SERVICES, ENDPOINTS, SLICES, POLICIES, NAMESPACES, NODES))
SERVICE_NAME_LABEL = "kubernetes.io/service-name"


@dataclass(frozen=True)
class Backend:
    """One endpoint of a Service: a pod address, its readiness, hostname, node and resolved ports by port name."""

    ip: str
    ready: bool
    hostname: str | None
    pod: tuple[str, str] | None  # (namespace, name) of the target pod
    ports: dict[str, tuple[int, str]]  # Service port name ("" when unnamed) -> (number, protocol)
    node: str | None = None


@dataclass
class NetworkView:
    """Indexes over one consistent state of the network-relevant objects."""

    generation: int
    namespaces: dict[str, dict[str, str]] = field(default_factory=dict)
    services: dict[tuple[str, str], Obj] = field(default_factory=dict)
    service_by_ip: dict[str, Obj] = field(default_factory=dict)
    backends: dict[tuple[str, str], list[Backend]] = field(default_factory=dict)
    pods: dict[tuple[str, str], Obj] = field(default_factory=dict)
    pod_by_ip: dict[str, Obj] = field(default_factory=dict)
    policies: list[Obj] = field(default_factory=list)
    #: (ip, port, protocol) of Service endpoints that are not pods (the API server, hand-made Endpoints)
    outside_endpoints: set[tuple[str, int, str]] = field(default_factory=set)
    #: node addresses (InternalIP, ExternalIP) → node name
    node_ips: dict[str, str] = field(default_factory=dict)
    #: (nodePort, protocol) → (Service, its port entry)
    node_ports: dict[tuple[int, str], tuple[Obj, dict[str, Any]]] = field(default_factory=dict)

    def policies_between(self, *pods: Obj | None) -> list[Obj]:
        """The policies that can isolate any of ``pods`` (those of their namespaces)."""
        namespaces = {p["metadata"].get("namespace") for p in pods if p is not None}
        return [p for p in self.policies if p["metadata"].get("namespace") in namespaces]

    def ready_backends(self, namespace: str, service: str) -> list[Backend]:
        return [b for b in self.backends.get((namespace, service), []) if b.ready]


def pod_ip(pod: Obj) -> str | None:
    """A pod's (first) IP address, if it has one."""
    status = pod.get("status") or {}
    return status.get("podIP") or next((p.get("ip") for p in status.get("podIPs") or []), None)


def _slice_backends(slices: list[Obj]) -> list[Backend]:
    backends = []
    for item in slices:
        ports = {p.get("name") or "": (int(p["port"]), p.get("protocol") or "TCP")
                 for p in item.get("ports") or [] if p.get("port") is not None}
        for endpoint in item.get("endpoints") or []:
            ref = endpoint.get("targetRef") or {}
            pod = (ref.get("namespace", ""), ref["name"]) if ref.get("kind") == "Pod" and ref.get("name") else None
            ready = (endpoint.get("conditions") or {}).get("ready")
            for ip in endpoint.get("addresses") or []:
                backends.append(Backend(ip, ready is None or bool(ready), endpoint.get("hostname"), pod, ports,
                                        endpoint.get("nodeName")))
    return backends


def _endpoints_backends(endpoints: Obj) -> list[Backend]:
    backends = []
    for subset in endpoints.get("subsets") or []:
        ports = {p.get("name") or "": (int(p["port"]), p.get("protocol") or "TCP") for p in subset.get("ports") or []}
        for field_name, ready in (("addresses", True), ("notReadyAddresses", False)):
            for address in subset.get(field_name) or []:
                ref = address.get("targetRef") or {}
                pod = (ref.get("namespace", ""), ref["name"]) if ref.get("kind") == "Pod" and ref.get("name") else None
                backends.append(Backend(address["ip"], ready, address.get("hostname"), pod, ports,
                                        address.get("nodeName")))
    return backends


def build(store: Store, generation: int) -> NetworkView:
    """Index the current objects of ``store``."""
    view = NetworkView(generation)
    for ns in store.list(NAMESPACES.storage_key):
        view.namespaces[ns["metadata"]["name"]] = dict(ns["metadata"].get("labels") or {})
    for svc in store.list(SERVICES.storage_key):
        meta = svc["metadata"]
        view.services[(meta["namespace"], meta["name"])] = svc
        spec = svc.get("spec") or {}
        for ip in [spec.get("clusterIP")] + list(spec.get("clusterIPs") or []):
            if ip and ip != "None":
                view.service_by_ip[ip] = svc
        for port in spec.get("ports") or []:
            if port.get("nodePort") and spec.get("type") in ("NodePort", "LoadBalancer"):
                view.node_ports[(int(port["nodePort"]), port.get("protocol") or "TCP")] = (svc, port)
    slices: dict[tuple[str, str], list[Obj]] = {}
    for item in store.list(SLICES.storage_key):
        name = (item["metadata"].get("labels") or {}).get(SERVICE_NAME_LABEL)
        if name:
            slices.setdefault((item["metadata"]["namespace"], name), []).append(item)
    for key, items in slices.items():
        view.backends[key] = _slice_backends(items)
    for endpoints in store.list(ENDPOINTS.storage_key):
        key = (endpoints["metadata"]["namespace"], endpoints["metadata"]["name"])
        if key not in view.backends:
            view.backends[key] = _endpoints_backends(endpoints)
    for pod in store.list(PODS.storage_key):
        meta = pod["metadata"]
        view.pods[(meta["namespace"], meta["name"])] = pod
        ip = pod_ip(pod)
        if ip and (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed") \
                and not (pod.get("spec") or {}).get("hostNetwork"):
            view.pod_by_ip[ip] = pod
    view.policies = list(store.list(POLICIES.storage_key))
    for node in store.list(NODES.storage_key):
        for address in (node.get("status") or {}).get("addresses") or []:
            if address.get("type") in ("InternalIP", "ExternalIP") and address.get("address"):
                view.node_ips[address["address"]] = node["metadata"]["name"]
    view.outside_endpoints = {(b.ip, number, protocol) for backends in view.backends.values() for b in backends
                              if b.ready and b.pod is None and b.ip not in view.pod_by_ip
                              for number, protocol in b.ports.values()}
    return view


class _Tracker:
    """Counts writes to watched kinds of one store and caches the view of the latest count."""

    def __init__(self, store: Store) -> None:
        self.generation = 0
        self.view: NetworkView | None = None
        self._store = weakref.ref(store)
        store.add_listener(self.on_event)

    def on_event(self, event: WatchEvent) -> None:
        if event.storage_key in WATCHED:
            self.generation += 1

    def current(self) -> NetworkView:
        if self.view is None or self.view.generation != self.generation:
            store = self._store()
            assert store is not None
            self.view = build(store, self.generation)
        return self.view


_TRACKERS: "weakref.WeakKeyDictionary[Store, _Tracker]" = weakref.WeakKeyDictionary()


def view_of(store: Store) -> NetworkView:
    """The network view of ``store``'s current state (cached until a watched kind changes)."""
    tracker = _TRACKERS.get(store)
    if tracker is None:
        tracker = _TRACKERS[store] = _Tracker(store)
    return tracker.current()
