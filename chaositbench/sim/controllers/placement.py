"""Placement rules shared by the scheduler, the DaemonSet controller and taint eviction.

Taints and tolerations, node selectors and required/preferred node affinity,
a pod's effective resource requests (init containers, sidecars, overhead,
pod-level resources) and host ports: the helpers kube-scheduler's plugins and
``component-helpers/scheduling`` provide.
"""

from __future__ import annotations

from typing import Any, Iterable

from ..quantity import QuantityError, bytes_of, cpu_millis
from ..selectors import Requirement
from ..store import Obj

NO_SCHEDULE_EFFECTS = ("NoSchedule", "NoExecute")
#: Requests the scheduler assumes for scoring when a container sets none (``schedutil.DefaultMilliCPURequest``...).
DEFAULT_MILLI_CPU = 100
DEFAULT_MEMORY = 200 * 1024 * 1024

Resources = dict[str, int]


# -- taints and tolerations -------------------------------------------------------------
def tolerates(toleration: dict[str, Any], taint: dict[str, Any]) -> bool:
    """``Toleration.ToleratesTaint``: effect, key and value (Equal) or key only (Exists)."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    operator = toleration.get("operator") or "Equal"
    if key and key != taint.get("key"):
        return False
    if operator == "Exists":
        return True
    if operator == "Equal":
        return bool(key) and (toleration.get("value") or "") == (taint.get("value") or "")
    return False


def tolerated(taint: dict[str, Any], tolerations: Iterable[dict[str, Any]]) -> bool:
    """Some toleration tolerates ``taint``."""
    return any(tolerates(t, taint) for t in tolerations)


def untolerated_taint(node: Obj, tolerations: list[dict[str, Any]] | None,
                      effects: tuple[str, ...] = NO_SCHEDULE_EFFECTS) -> dict[str, Any] | None:
    """The first taint of ``node`` with one of ``effects`` that no toleration tolerates."""
    for taint in (node.get("spec") or {}).get("taints") or []:
        if taint.get("effect") in effects and not tolerated(taint, tolerations or []):
            return taint
    return None


# -- node selection ---------------------------------------------------------------------
def _requirement(expr: dict[str, Any]) -> Requirement:
    return Requirement(expr.get("key", ""), expr.get("operator", ""), frozenset(expr.get("values") or []))


def term_matches(term: dict[str, Any], node: Obj) -> bool:
    """A ``NodeSelectorTerm``: all its expressions (labels) and fields (``metadata.name``) hold.

    An empty term matches no node, as in ``nodeaffinity.NodeSelector``.
    """
    expressions, fields = term.get("matchExpressions") or [], term.get("matchFields") or []
    if not expressions and not fields:
        return False
    labels = node["metadata"].get("labels") or {}
    if not all(_requirement(e).matches(labels) for e in expressions):
        return False
    field_values = {"metadata.name": node["metadata"]["name"]}
    return all(f.get("key") in field_values and _requirement(f).matches(field_values) for f in fields)


def matches_node_selector(pod: Obj, node: Obj) -> bool:
    """``nodeSelector`` and required node affinity (terms ORed), as the NodeAffinity filter checks."""
    spec = pod.get("spec") or {}
    labels = node["metadata"].get("labels") or {}
    if any(labels.get(k) != v for k, v in (spec.get("nodeSelector") or {}).items()):
        return False
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution"))
    if required is None:
        return True
    return any(term_matches(term, node) for term in required.get("nodeSelectorTerms") or [])


def preferred_affinity_weight(pod: Obj, node: Obj) -> int:
    """Sum of the weights of the preferred node affinity terms ``node`` matches."""
    preferred = ((((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {})
                 .get("preferredDuringSchedulingIgnoredDuringExecution") or [])
    return sum(int(p.get("weight", 0)) for p in preferred if term_matches(p.get("preference") or {}, node))


def target_node(pod: Obj) -> str | None:
    """``spec.nodeName``, or the single node a ``metadata.name`` matchFields term pins (DaemonSet pods)."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return spec["nodeName"]
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    for term in required.get("nodeSelectorTerms") or []:
        for field in term.get("matchFields") or []:
            values = field.get("values") or []
            if field.get("key") == "metadata.name" and field.get("operator") == "In" and len(values) == 1:
                return values[0]
    return None


# -- resources ----------------------------------------------------------------------------
def quantity_value(name: str, value: Any) -> int:
    """A resource quantity as the scheduler counts it: millicores for cpu, integers otherwise."""
    try:
        return cpu_millis(value) if name == "cpu" else bytes_of(value)
    except (QuantityError, TypeError):
        return 0


def resource_list(values: dict[str, Any] | None) -> Resources:
    """A ``ResourceList`` as integers (see :func:`quantity_value`)."""
    return {name: quantity_value(name, v) for name, v in (values or {}).items()}


def _add(target: Resources, extra: Resources) -> None:
    for name, v in extra.items():
        target[name] = target.get(name, 0) + v


def _max_into(target: Resources, other: Resources) -> None:
    for name, v in other.items():
        target[name] = max(target.get(name, 0), v)


def _container_requests(container: dict[str, Any], non_zero: bool) -> Resources:
    requests = resource_list((container.get("resources") or {}).get("requests"))
    if non_zero:
        requests.setdefault("cpu", DEFAULT_MILLI_CPU)
        requests.setdefault("memory", DEFAULT_MEMORY)
    return requests


#: pod_requests results by (uid, resourceVersion, non_zero): the scheduler asks for every pod on every cycle
_REQUESTS_CACHE: dict[tuple[str, str, bool], Resources] = {}
_REQUESTS_CACHE_LIMIT = 50_000


def pod_requests(pod: Obj, *, non_zero: bool = False) -> Resources:
    """Effective requests of a pod (see :func:`compute_pod_requests`), memoized per stored version."""
    meta = pod.get("metadata") or {}
    key = (meta.get("uid", ""), meta.get("resourceVersion", ""), non_zero)
    if not key[0] or not key[1]:
        return compute_pod_requests(pod, non_zero=non_zero)
    cached = _REQUESTS_CACHE.get(key)
    if cached is None:
        if len(_REQUESTS_CACHE) >= _REQUESTS_CACHE_LIMIT:
            _REQUESTS_CACHE.clear()
        cached = _REQUESTS_CACHE[key] = compute_pod_requests(pod, non_zero=non_zero)
    return dict(cached)


def compute_pod_requests(pod: Obj, *, non_zero: bool = False) -> Resources:
    """Effective requests of a pod (``resourcehelper.PodRequests``).

    Regular containers and restartable init containers (sidecars) add up; each
    other init container runs alone beside the sidecars started before it; the
    pod needs the larger of the two, plus its overhead. Pod-level requests win.
    ``non_zero`` applies the scheduler's scoring defaults (100m CPU, 200Mi).
    """
    spec = pod.get("spec") or {}
    total: Resources = {}
    for container in spec.get("containers") or []:
        _add(total, _container_requests(container, non_zero))
    sidecars: Resources = {}
    init_peak: Resources = {}
    for container in spec.get("initContainers") or []:
        requests = _container_requests(container, non_zero)
        if container.get("restartPolicy") == "Always":
            _add(total, requests)
            _add(sidecars, requests)
            _max_into(init_peak, sidecars)
        else:
            running = dict(requests)
            _add(running, sidecars)
            _max_into(init_peak, running)
    _max_into(total, init_peak)
    pod_level = resource_list((spec.get("resources") or {}).get("requests"))
    for name in ("cpu", "memory"):
        if name in pod_level:
            total[name] = pod_level[name]
    _add(total, resource_list(spec.get("overhead")))
    return total


def allocatable(node: Obj) -> Resources:
    """What the node offers to pods (``status.allocatable``)."""
    return resource_list((node.get("status") or {}).get("allocatable"))


# -- host ports ---------------------------------------------------------------------------
HostPort = tuple[str, str, int]  # (hostIP, protocol, hostPort)


def host_ports(pod: Obj) -> set[HostPort]:
    """The host ports the pod's containers bind."""
    spec = pod.get("spec") or {}
    ports: set[HostPort] = set()
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        for port in container.get("ports") or []:
            if port.get("hostPort"):
                ports.add((port.get("hostIP") or "0.0.0.0", port.get("protocol") or "TCP", int(port["hostPort"])))
    return ports


def ports_conflict(wanted: set[HostPort], used: set[HostPort]) -> bool:
    """Two host ports clash on the same protocol and port when either binds all addresses or both the same."""
    for ip, proto, port in wanted:
        for used_ip, used_proto, used_port in used:
            if proto == used_proto and port == used_port and (ip == used_ip or "0.0.0.0" in (ip, used_ip)):
                return True
    return False
