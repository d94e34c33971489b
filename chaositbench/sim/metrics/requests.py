"""The request model: steady external load at edge containers, flowing along declared dependencies.

An edge is a container that declares ``load`` (requests per second arriving
from outside). Its traffic enters through the Service selecting its pod (or, if
none does, the pod's workload) and is shared among that Service's ready pods;
no ready pod answers 503. Each pod serving a share calls each declared
dependency once per request; the cluster's network model (``cluster.network``)
says whether the connection succeeds. A failed connection to a required
dependency (refused, unreachable, blocked by a NetworkPolicy — a drop waits for
the dependency's timeout) or a 5xx answer from it makes the caller answer 502;
successful calls go on to the dependency's Service the same way. Every HTTP
server on the way (a container whose listeners declare paths) records what it
answered, by Service and status code, with the latency of the whole call tree.
A hop's own time is ``HOP_SECONDS`` plus the CPU time a request costs
(``cpu.perRequest``). A server whose CPU demand exceeds its CPU limit by a
factor ``s`` (:mod:`.cpu`) is saturated: it completes ``1/s`` of its requests,
each ``s`` times slower, and answers the rest 503 from its full queue after
``QUEUE_TIMEOUT_SECONDS`` (only the completed ones call its dependencies). The
saturation comes from a first evaluation of the traffic, so the flow is
evaluated twice when some server is saturated.

The model also computes the traffic each pod would serve if everything were
healthy, so usage can scale CPU by served/nominal traffic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable

from ..behaviour.needs import ContainerNeeds, Dependency, declared_needs
from .cpu import cpu_state
from ..kinds import preferred
from ..store import Obj

if TYPE_CHECKING:
    from ..cluster import Cluster

PODS = preferred("", "Pod")
SERVICES = preferred("", "Service")
#: Simulated seconds one hop spends on a request besides waiting for its dependencies.
HOP_SECONDS = 0.004
#: Seconds a refused or unresolvable connection takes to fail.
FAIL_FAST_SECONDS = 0.001
#: Seconds a request waits in a saturated server's queue before it is answered 503.
QUEUE_TIMEOUT_SECONDS = 1.0
#: Longest chain of dependencies followed (cycles stop here).
MAX_DEPTH = 8
TIMEOUT_WORDS = ("timeout", "timed out", "etimedout", "deadline")


@dataclass(frozen=True)
class Outcome:
    """A stream of requests answered alike: rate, HTTP status and latency."""

    rps: float
    code: int
    seconds: float


@dataclass
class Traffic:
    """One evaluation of the request model."""

    #: (namespace, service) → what that service answered
    served: dict[tuple[str, str], list[Outcome]] = field(default_factory=dict)
    #: pod uid → requests per second it serves now
    actual: dict[str, float] = field(default_factory=dict)
    #: pod uid → requests per second it would serve if everything were healthy
    nominal: dict[str, float] = field(default_factory=dict)


def _selects(service: Obj, pod: Obj) -> bool:
    selector = (service.get("spec") or {}).get("selector") or {}
    labels = pod["metadata"].get("labels") or {}
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _alive(pod: Obj) -> bool:
    return not pod["metadata"].get("deletionTimestamp") and \
        (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


def _ready(pod: Obj) -> bool:
    return _alive(pod) and any(c.get("type") == "Ready" and c.get("status") == "True"
                               for c in (pod.get("status") or {}).get("conditions") or [])


def _workload_name(pod: Obj) -> str:
    """The owning workload's name (a ReplicaSet's without its pod-template-hash), else the pod's."""
    meta = pod["metadata"]
    owner = next((o for o in meta.get("ownerReferences") or [] if o.get("controller")), None)
    if owner is None:
        return meta["name"]
    suffix = "-" + (meta.get("labels") or {}).get("pod-template-hash", "")
    name = owner["name"]
    return name[:-len(suffix)] if owner.get("kind") == "ReplicaSet" and name.endswith(suffix) else name


def is_timeout(error: str | None) -> bool:
    """Whether a connection error is a timeout (a dropped packet) rather than a fast failure."""
    text = (error or "").lower()
    return any(word in text for word in TIMEOUT_WORDS)


class RequestModel:
    """Evaluates the request flow of a cluster from its objects (cached per resourceVersion)."""

    def __init__(self, cluster: "Cluster") -> None:
        self.cluster = cluster
        self._cache: tuple[int, Traffic] | None = None

    def traffic(self) -> Traffic:
        rv = self.cluster.store.rv
        if self._cache is None or self._cache[0] != rv:
            first = _Evaluation(self.cluster).run()
            saturated = self._saturation(first)
            self._cache = (rv, _Evaluation(self.cluster, saturated).run() if saturated else first)
        return self._cache[1]

    def load_factor(self, pod_uid: str) -> float:
        """Served / nominal requests of a pod (1.0 for a pod that serves no traffic when healthy)."""
        return _factor(self.traffic(), pod_uid)

    def served_rps(self, pod_uid: str) -> float:
        """Requests per second sent to a pod now."""
        return self.traffic().actual.get(pod_uid, 0.0)

    def _saturation(self, traffic: Traffic) -> dict[str, float]:
        """Pod uid → demand/limit of its serving container, for the pods saturated by ``traffic``."""
        saturated = {}
        for pod in self.cluster.store.list(PODS.storage_key):
            uid = pod["metadata"].get("uid", "")
            declared = declared_needs(pod)
            server = next((name for name, needs in declared.items() if needs.listen), None)
            if server is None or uid not in traffic.actual:
                continue
            state = cpu_state(pod, server, declared[server], traffic.actual[uid], _factor(traffic, uid))
            if state.saturation > 1:
                saturated[uid] = state.saturation
        return saturated


def _factor(traffic: Traffic, pod_uid: str) -> float:
    nominal = traffic.nominal.get(pod_uid, 0.0)
    return min(1.0, traffic.actual.get(pod_uid, 0.0) / nominal) if nominal > 0 else 1.0


class _Evaluation:
    def __init__(self, cluster: "Cluster", saturation: dict[str, float] | None = None) -> None:
        self.saturation = saturation or {}
        self.network = getattr(cluster, "network", None)
        store = cluster.store
        self.pods = [p for p in store.list(PODS.storage_key) if _alive(p)]
        self.services = store.list(SERVICES.storage_key)
        self.needs = {p["metadata"]["uid"]: declared_needs(p) for p in self.pods}
        self.traffic = Traffic()

    def run(self) -> Traffic:
        for namespace, service, rps in self._edges():
            self._visit(namespace, service, rps, 0, nominal=False)
            self._visit(namespace, service, rps, 0, nominal=True)
        return self.traffic

    # -- topology -----------------------------------------------------------------------
    def _edges(self) -> Iterable[tuple[str, str, float]]:
        edges: dict[tuple[str, str], float] = {}
        for pod in self.pods:
            for needs in self.needs[pod["metadata"]["uid"]].values():
                if needs.load is not None:
                    key = (pod["metadata"]["namespace"], self._service_of(pod))
                    edges[key] = max(edges.get(key, 0.0), needs.load.rps)
        return [(ns, svc, rps) for (ns, svc), rps in sorted(edges.items())]

    def _service_of(self, pod: Obj) -> str:
        namespace = pod["metadata"]["namespace"]
        for service in self.services:
            if service["metadata"]["namespace"] == namespace and _selects(service, pod):
                return service["metadata"]["name"]
        return _workload_name(pod)

    def _members(self, namespace: str, name: str) -> list[Obj]:
        service = next((s for s in self.services if s["metadata"]["namespace"] == namespace
                        and s["metadata"]["name"] == name), None)
        if service is not None:
            return [p for p in self.pods if p["metadata"]["namespace"] == namespace and _selects(service, p)]
        return [p for p in self.pods if p["metadata"]["namespace"] == namespace and _workload_name(p) == name]

    def _resolve(self, pod: Obj, dependency: Dependency) -> tuple[str, str] | None:
        """The Service a dependency's host names (``svc``, ``svc.ns``, ``svc.ns.svc[.cluster.local]`` or its IP)."""
        host = dependency.host.rstrip(".")
        for service in self.services:
            if (service.get("spec") or {}).get("clusterIP") == host:
                return service["metadata"]["namespace"], service["metadata"]["name"]
        for suffix in (".svc.cluster.local", ".svc"):
            if host.endswith(suffix):
                host = host[:-len(suffix)]
        parts = host.split(".")
        if len(parts) == 1:
            return pod["metadata"]["namespace"], parts[0]
        return (parts[1], parts[0]) if len(parts) == 2 else None

    # -- flow ---------------------------------------------------------------------------
    def _visit(self, namespace: str, service: str, rps: float, depth: int, *, nominal: bool) -> list[Outcome]:
        """Send ``rps`` to a service; what it answers (recorded when it is an HTTP server)."""
        members = self._members(namespace, service)
        serving = members if nominal else [p for p in members if _ready(p)]
        if depth > MAX_DEPTH:
            return [Outcome(rps, 200, 0.0)]
        if not serving:
            outcomes = [Outcome(rps, 503, FAIL_FAST_SECONDS)]
            if not nominal and self._is_http(members):
                self.traffic.served.setdefault((namespace, service), []).extend(outcomes)
            return outcomes
        share = rps / len(serving)
        outcomes = []
        for pod in serving:
            uid = pod["metadata"]["uid"]
            book = self.traffic.nominal if nominal else self.traffic.actual
            book[uid] = book.get(uid, 0.0) + share
            outcomes.extend(self._serve(pod, share, depth, nominal=nominal))
        if not nominal and self._is_http(serving):
            self.traffic.served.setdefault((namespace, service), []).extend(outcomes)
        return outcomes

    def _is_http(self, pods: list[Obj]) -> bool:
        return any(listener.paths for p in pods for n in self.needs[p["metadata"]["uid"]].values()
                   for listener in n.listen)

    def _serve(self, pod: Obj, rps: float, depth: int, *, nominal: bool) -> list[Outcome]:
        declared = self.needs[pod["metadata"]["uid"]]
        server = next((n for n in declared.values() if n.listen), None)
        name = next((c for c, n in declared.items() if n is server), "")
        if server is None:
            return [Outcome(rps, 200, HOP_SECONDS)]
        slowdown = 1.0 if nominal else max(1.0, self.saturation.get(pod["metadata"]["uid"], 1.0))
        queued = [Outcome(rps * (1 - 1 / slowdown), 503, QUEUE_TIMEOUT_SECONDS)] if slowdown > 1 else []
        rps /= slowdown
        own = (HOP_SECONDS + server.cpu_seconds_per_request) * slowdown
        success, ok_seconds, fail_seconds = 1.0, own, own
        checked = [(d, None) for d in server.dependencies] if nominal else self._health(pod, name, server)
        for dependency, connection in checked:
            if connection is None or connection.ok:
                target = self._resolve(pod, dependency)
                answers = self._visit(*target, rps, depth + 1, nominal=nominal) if target else \
                    [Outcome(rps, 200, HOP_SECONDS)]
                total = sum(o.rps for o in answers) or 1.0
                good = sum(o.rps for o in answers if o.code < 500) / total
                mean = sum(o.rps * o.seconds for o in answers) / total
                ok_seconds += mean
                fail_seconds += mean
            else:
                good = 0.0
                fail_seconds += dependency.timeout_seconds if is_timeout(connection.error) else FAIL_FAST_SECONDS
            if dependency.required:
                success *= good
        outcomes = [Outcome(rps * success, 200, ok_seconds)] if success > 0 else []
        if success < 1:
            outcomes.append(Outcome(rps * (1 - success), 502, fail_seconds))
        return outcomes + queued

    def _health(self, pod: Obj, container: str, needs: ContainerNeeds) -> list[tuple[Dependency, Any]]:
        """Each dependency with the network's verdict on connecting to it (None: no network model)."""
        if self.network is None:
            return [(d, None) for d in needs.dependencies]
        return list(self.network.dependency_health(pod, container))
