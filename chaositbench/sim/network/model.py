"""What a connection from inside a pod meets: DNS, kube-proxy's Service translation, NetworkPolicy, the listener.

:class:`Network` answers, for a source pod, what dialling ``host:port`` or
requesting a URL does, from the real objects only:

1. **DNS** (names only; IP literals skip it), as the pod's ``resolv.conf``
   says (``dnsPolicy``/``dnsConfig``): a nameserver outside the cluster must
   be reachable past the source's egress policies and answers no name. When
   the resolver asks the ``kube-system/kube-dns`` Service, the lookup needs a
   ready DNS endpoint whose policies let the source's UDP 53 through (egress
   of the source, ingress of the CoreDNS pod); none ready → the resolver's
   UDP read is refused, none allowed → it times out. Unknown names are
   NXDOMAIN (:mod:`.dns`).
2. **Service translation**: a ClusterIP is served only on the Service's ports
   (another port: nobody answers → timeout); a ready endpoint is chosen
   (stably per source, Service address and port) from the EndpointSlices (or
   Endpoints) and the port becomes its resolved ``targetPort``; no ready
   endpoint → refused, as kube-proxy rejects; with ``internalTrafficPolicy:
   Local`` only endpoints on the client's node count, and none there →
   timeout (dropped). A node address answers on each Service's ``nodePort``
   (translated the same way) and on the kubelet's ports, and refuses others
   (policies are not applied to the node itself). Pod IPs may be dialled
   directly. Any other address has nobody answering → timeout, except
   addresses a Service lists as endpoints outside the pod network (the API
   server's, hand-made Endpoints), which answer on their listed ports.
3. **NetworkPolicy** (:mod:`.policy`) on the pod address and port actually
   reached: denied → timeout (packets are dropped).
4. **The listener**: a running container of the destination pod listening on
   the port — its declared ``listen`` ports, or its ``containerPorts`` when it
   declares none — else refused.

HTTP (:meth:`Network.http`): after connecting, the container answers the
status its listener declares for the path (404 for a path it does not declare
when it declares any; 200 when it declares none). Its liveness/startup probe
paths always answer as declared. Its readiness-style paths (the readiness
probe's path, or any path containing ``ready``) answer 503 while a required
dependency it checks for readiness (``readiness``, default true) fails to
connect — dialled directly, not asked about its own dependencies. Its other
paths answer 502, as a proxy whose upstream fails, while it is *degraded*: a
required dependency fails to connect or is itself degraded (followed
recursively from each container's own pod; a cycle counts as healthy). The
body names the failing chain. The API server answers as
it answers ``system:anonymous`` (:mod:`.apiserver`); other endpoints outside
the pod network answer 200 with an empty body (nothing is known about them).

Results are cached until an object the network reads changes.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from ..behaviour.needs import Dependency, Listener, declared_needs
from ..store import Obj
from . import apiserver
from .dns import DNS_NAMESPACE, DNS_SERVICE, DNS_SERVICE_IP, NODE_NAMESERVER, ResolvConf, pod_resolv_conf, resolve_in
from .index import NetworkView, pod_ip, view_of
from .policy import Decision, Endpoint, evaluate

PROBES = ("livenessProbe", "startupProbe")
#: What every node listens on besides NodePorts: the kubelet's API (10250) and its health port (10248).
NODE_LISTENERS = frozenset({(10250, "TCP"), (10248, "TCP")})


@dataclass(frozen=True)
class Connection:
    """The outcome of dialling ``host:port`` from a pod.

    ``error`` is None, ``"nxdomain"``, ``"refused"`` or ``"timeout"``; ``ip`` is
    the address dialled (after DNS); ``target`` the pod reached (None for an
    endpoint outside the pod network), ``port`` and ``container`` where it was
    received, ``endpoint`` its ``ip:port``; ``message`` what a Go client prints;
    ``decision`` the NetworkPolicy verdict when one was taken.
    """

    ok: bool
    error: str | None
    ip: str | None
    target: Obj | None
    message: str
    port: int | None = None
    container: str | None = None
    decision: Decision | None = None
    endpoint: str | None = None


@dataclass(frozen=True)
class HttpResult:
    """An HTTP exchange: the status and body answered, or the connection error (status None)."""

    status: int | None
    body: str
    error: str | None
    message: str
    seconds: float = 0.0  # how long the client waited: the whole timeout when nothing answered


def _serving_containers(pod: Obj) -> list[dict[str, Any]]:
    spec = pod.get("spec") or {}
    sidecars = [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
    return list(spec.get("containers") or []) + sidecars


def _running(pod: Obj) -> set[str]:
    status = pod.get("status") or {}
    statuses = (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or [])
    return {s.get("name", "") for s in statuses if "running" in (s.get("state") or {})}


def listeners(pod: Obj, container: dict[str, Any]) -> list[Listener]:
    """What a container listens on: its declared ``listen`` entries, else its ``containerPorts``."""
    needs = declared_needs(pod).get(container.get("name", ""))
    if needs is not None and needs.listen:
        return list(needs.listen)
    return [Listener(int(p["containerPort"]), p.get("protocol") or "TCP")
            for p in container.get("ports") or [] if p.get("containerPort")]


def _probe_path(container: dict[str, Any], probe: str) -> str | None:
    return ((container.get(probe) or {}).get("httpGet") or {}).get("path")


class Network:
    """The network model of one cluster (see the module documentation)."""

    def __init__(self, cluster: Any) -> None:
        self.cluster = cluster
        self._generation = -1
        self._connections: dict[tuple[str, str, int, str], Connection] = {}
        self._degraded: dict[tuple[str, str], str | None] = {}

    # -- public API ------------------------------------------------------------------
    def connect(self, src_pod: Obj, host: str, port: int, protocol: str = "TCP") -> Connection:
        """Dial ``host:port`` from ``src_pod``."""
        view = self._view()
        key = (src_pod["metadata"].get("uid") or _name(src_pod), host, port, protocol)
        cached = self._connections.get(key)
        if cached is None:
            meta = src_pod["metadata"]
            current = view.pods.get((meta.get("namespace", ""), meta["name"]))
            source = current if current is not None and current["metadata"].get("uid") == meta.get("uid") else src_pod
            cached = self._connections[key] = self._connect(view, source, host, port, protocol)
        return cached

    def dependency_health(self, pod: Obj, container: str) -> list[tuple[Dependency, Connection]]:
        """Each dependency the container declares, and what dialling it from the pod meets."""
        needs = declared_needs(pod).get(container)
        return [(d, self.connect(pod, d.host, d.port, d.protocol)) for d in (needs.dependencies if needs else ())]

    def http(self, src_pod: Obj, method: str, url: str, timeout: float = 5) -> HttpResult:
        """Send one HTTP request from ``src_pod`` (see the module documentation for the answer)."""
        parts = urlsplit(url if "://" in url else f"http://{url}")
        op = method[:1].upper() + method[1:].lower()
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        conn = self.connect(src_pod, host, port)
        if not conn.ok:
            if conn.error == "timeout":
                return HttpResult(None, "", "timeout", f'{op} "{url}": {conn.message} '
                                  "(Client.Timeout exceeded while awaiting headers)", timeout)
            return HttpResult(None, "", conn.error, f'{op} "{url}": {conn.message}')
        if conn.target is None:
            status, body = self._outside_answer(conn, parts.path or "/")
        else:
            assert conn.container is not None and conn.port is not None
            status, body = self._answer(conn.target, conn.container, conn.port, parts.path or "/")
        return HttpResult(status, body, None, f"HTTP/1.1 {status} {phrase(status)}")

    def degraded(self, pod: Obj, container: str) -> str | None:
        """Why the container cannot serve (its failing required dependency chain), or None when it can."""
        self._view()
        key = (pod["metadata"].get("uid") or _name(pod), container)
        if key not in self._degraded:
            self._degraded[key] = self._failure(pod, container, frozenset())
        return self._degraded[key]

    def readiness_failure(self, pod: Obj, container: str) -> str | None:
        """Why the container's readiness endpoint fails: a dependency it checks is unreachable (no recursion:
        a readiness check dials its own dependencies, it does not ask them about theirs)."""
        for dependency, conn in self.dependency_health(pod, container):
            if dependency.required and dependency.readiness and not conn.ok:
                return f"upstream {dependency.name} ({dependency.host}:{dependency.port}) unavailable: {conn.message}"
        return None

    # -- connecting --------------------------------------------------------------------
    def _view(self) -> NetworkView:
        view = view_of(self.cluster.store)
        if view.generation != self._generation:
            self._generation = view.generation
            self._connections.clear()
            self._degraded.clear()
        return view

    def _connect(self, view: NetworkView, source: Obj, host: str, port: int, protocol: str) -> Connection:
        conf = pod_resolv_conf(source)
        resolution = resolve_in(view, host, source["metadata"].get("namespace", ""), conf)
        if resolution.fqdn is not None or not resolution.ok:  # a name, not an address literal
            failure = self._dns_failure(view, source, host, protocol, conf)
            if failure is not None:
                return failure
            if not resolution.ok:
                server = _dns_ip(view) if conf.cluster else next(iter(conf.nameservers), NODE_NAMESERVER)
                return Connection(False, "nxdomain", None, None,
                                  f"dial {protocol.lower()}: lookup {host} on {server}:53: no such host")
        first: Connection | None = None
        for ip in resolution.addresses:
            conn = self._dial(view, source, ip, port, protocol)
            if conn.ok:
                return conn
            first = first or conn
        assert first is not None
        return first

    def _dns_failure(self, view: NetworkView, source: Obj, host: str, protocol: str,
                     conf: ResolvConf) -> Connection | None:
        """Why the lookup gets no answer at all (no DNS pod ready, packets dropped), if so."""
        service = view.services.get((DNS_NAMESPACE, DNS_SERVICE))
        if conf.cluster and service is None:
            return None  # a cluster without the DNS add-on: names are answered without a server to reach
        server = _dns_ip(view) if conf.cluster else next(iter(conf.nameservers), NODE_NAMESERVER)
        client = f"{pod_ip(source) or '0.0.0.0'}:{32768 + zlib.crc32(f'{_name(source)}|{host}'.encode()) % 28000}"
        prefix = f"dial {protocol.lower()}: lookup {host} on {server}:53: read udp {client}->{server}:53: "
        origin = Endpoint(pod_ip(source) or "", source)
        if not conf.cluster:
            if evaluate(view.policies_between(source), view.namespaces, origin, Endpoint(server), 53, "UDP").allowed:
                return None
            return Connection(False, "timeout", None, None, prefix + "i/o timeout")
        assert service is not None
        port_name = next((p.get("name") or "" for p in (service.get("spec") or {}).get("ports") or []
                          if p.get("port") == 53 and (p.get("protocol") or "TCP") == "UDP"), None)
        backends = [b for b in view.ready_backends(DNS_NAMESPACE, DNS_SERVICE) if port_name in b.ports]
        if not backends:
            return Connection(False, "refused", None, None, prefix + "read: connection refused")
        for backend in backends:
            pod = view.pods.get(backend.pod) if backend.pod else view.pod_by_ip.get(backend.ip)
            if evaluate(view.policies_between(source, pod), view.namespaces, origin, Endpoint(backend.ip, pod),
                        backend.ports[port_name or ""][0], "UDP").allowed:
                return None
        return Connection(False, "timeout", None, None, prefix + "i/o timeout")

    def _dial(self, view: NetworkView, source: Obj, ip: str, port: int, protocol: str) -> Connection:
        address = f"{ip}:{port}"
        net = protocol.lower()
        refused = f"dial {net} {address}: connect: connection refused"
        timeout = f"dial {net} {address}: i/o timeout"
        service, service_port = view.service_by_ip.get(ip), None
        if service is not None:
            service_port = next((p for p in (service.get("spec") or {}).get("ports") or []
                                 if p.get("port") == port and (p.get("protocol") or "TCP") == protocol), None)
            if service_port is None:
                return Connection(False, "timeout", ip, None, timeout)
        elif ip in view.node_ips and (port, protocol) in view.node_ports:
            service, service_port = view.node_ports[(port, protocol)]
        elif ip in view.node_ips and (ip, port, protocol) not in view.outside_endpoints:
            if (port, protocol) in NODE_LISTENERS:
                return Connection(True, None, ip, None, f"connected to {address}", port, None, None, address)
            return Connection(False, "refused", ip, None, refused)
        if service is not None and service_port is not None:
            name = service_port.get("name") or ""
            meta = service["metadata"]
            backends = sorted((b for b in view.ready_backends(meta["namespace"], meta["name"]) if name in b.ports),
                              key=lambda b: b.ip)
            if not backends:
                return Connection(False, "refused", ip, None, refused)
            if (service.get("spec") or {}).get("internalTrafficPolicy") == "Local":
                node = (source.get("spec") or {}).get("nodeName")
                backends = [b for b in backends if b.node == node]
                if not backends:  # kube-proxy drops traffic with no endpoint on the client's node
                    return Connection(False, "timeout", ip, None, timeout)
            backend = backends[zlib.crc32(f"{_name(source)}|{address}".encode()) % len(backends)]
            target_ip, target_port = backend.ip, backend.ports[name][0]
            pod = view.pods.get(backend.pod) if backend.pod else view.pod_by_ip.get(backend.ip)
        else:
            target_ip, target_port = ip, port
            pod = view.pod_by_ip.get(ip)
        endpoint = f"{target_ip}:{target_port}"
        if pod is None and (target_ip, target_port, protocol) not in view.outside_endpoints:
            return Connection(False, "timeout", ip, None, timeout)
        decision = evaluate(view.policies_between(source, pod), view.namespaces, Endpoint(pod_ip(source) or "", source),
                            Endpoint(target_ip, pod), target_port, protocol)
        if not decision.allowed:
            return Connection(False, "timeout", ip, pod, timeout, target_port, None, decision, endpoint)
        if pod is None:
            return Connection(True, None, ip, None, f"connected to {address}", target_port, None, decision, endpoint)
        running = _running(pod)
        container = next((c.get("name", "") for c in _serving_containers(pod) if c.get("name") in running
                          and any(l.port == target_port and l.protocol == protocol for l in listeners(pod, c))), None)
        if container is None:
            return Connection(False, "refused", ip, pod, refused, target_port, None, decision, endpoint)
        return Connection(True, None, ip, pod, f"connected to {address}", target_port, container, decision, endpoint)

    # -- answering ---------------------------------------------------------------------
    def _failure(self, pod: Obj, container: str, seen: frozenset[tuple[str, str]]) -> str | None:
        key = (pod["metadata"].get("uid") or _name(pod), container)
        if key in seen:
            return None
        for dependency, conn in self.dependency_health(pod, container):
            if not dependency.required:
                continue
            upstream = f"upstream {dependency.name} ({dependency.host}:{dependency.port})"
            if not conn.ok:
                return f"{upstream} unavailable: {conn.message}"
            if conn.target is not None and conn.container is not None:
                failure = self._failure(conn.target, conn.container, seen | {key})
                if failure:
                    return f"{upstream} failing: {failure}"
        return None

    def _outside_answer(self, conn: Connection, path: str) -> tuple[int, str]:
        view = self._view()
        servers = {f"{b.ip}:{number}" for b in view.ready_backends(*apiserver.SERVICE)
                   for number, _ in b.ports.values()}
        if conn.endpoint in servers:
            return apiserver.anonymous_answer(path, self.cluster.version_info())
        return 200, ""

    def _answer(self, pod: Obj, container_name: str, port: int, path: str) -> tuple[int, str]:
        container = next(c for c in _serving_containers(pod) if c.get("name") == container_name)
        listener = next((l for l in listeners(pod, container) if l.port == port and l.protocol == "TCP"), None)
        declared = listener.paths if listener else {}
        if declared and path not in declared:
            return 404, "404 page not found\n"
        healthy_status = declared.get(path, 200)
        if path in {_probe_path(container, probe) for probe in PROBES}:
            return healthy_status, f"{phrase(healthy_status)}\n"
        if path == _probe_path(container, "readinessProbe") or "ready" in path:
            failure = self.readiness_failure(pod, container_name)
            return (503, failure + "\n") if failure else (healthy_status, f"{phrase(healthy_status)}\n")
        failure = self.degraded(pod, container_name)
        if failure is None:
            return healthy_status, f"{phrase(healthy_status)}\n"
        return 502, failure + "\n"


def phrase(status: int) -> str:
    """The reason phrase of an HTTP status code (empty for codes without one)."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _dns_ip(view: NetworkView) -> str:
    service = view.services.get((DNS_NAMESPACE, DNS_SERVICE))
    return ((service or {}).get("spec") or {}).get("clusterIP") or DNS_SERVICE_IP


def _name(pod: Obj) -> str:
    meta = pod["metadata"]
    return f"{meta.get('namespace', '')}/{meta['name']}"
