"""The kubelet's eviction manager: node pressure from usage, the pressure conditions, and evictions.

Every ``monitoring_interval_s`` (10 s, scaled by the cluster's ``time_scale``)
the manager observes each Ready node as the kubelet's eviction manager does:

* ``memory.available`` = memory capacity − the working sets of the node's
  running containers − the node's own usage;
* ``nodefs.available`` and ``imagefs.available`` = ephemeral-storage capacity −
  what the running containers wrote (rootfs, logs, emptyDir) − the node's own
  usage (images, logs, other files). The node pool is kind-like: images and
  pods share one filesystem, so both signals observe the same bytes.

Container usage comes from the declared needs (:mod:`..behaviour.needs`):
``memory.workingSet`` plus ``growthPerMinute`` (capped at the memory limit)
and ``ephemeralStorage.usage`` plus ``writesPerMinute``, growing with the
simulated minutes the container has run (real seconds / ``time_scale``).
Scenarios raise the node's own usage with the node annotations
``chaositbench.io/node-disk-used`` and ``chaositbench.io/node-memory-used``
(quantities; absent: :data:`NODE_DISK_USED`, :data:`NODE_MEMORY_USED`).

The kubelet's default hard thresholds apply (``memory.available<100Mi``,
``nodefs.available<10%``, ``imagefs.available<15%``; no soft thresholds).
A met threshold sets its node condition (``MemoryPressure``/``DiskPressure``,
with the kubelet's reasons, messages and ``NodeHas…`` events); the condition
stays True until the threshold has not been met for the pressure transition
period (5 min, scaled by ``time_scale``). The node lifecycle controller turns
the conditions into ``node.kubernetes.io/*-pressure:NoSchedule`` taints.

While a threshold is met, one pod per interval is evicted (from the interval
after the condition was reported, so that the node is already tainted when the
replacement is scheduled), ranked as the kubelet ranks them: pods using more
than they request first, then lower priority, then larger usage above the
request (critical pods are spared).
Before that, every interval, pods over their ephemeral-storage limits are
evicted whatever the node's state. An evicted pod turns ``Failed`` with
reason ``Evicted`` and the kubelet's message, a ``DisruptionTarget`` condition
(``TerminationByKubelet``, for pressure evictions) and a Warning ``Evicted``
event, and stays listed; its controller replaces it. A pod once evicted uses
nothing more and is never evicted again (its reason stays ``Evicted``).
"""

from __future__ import annotations

import asyncio
import logging
import struct
from dataclasses import dataclass
from datetime import datetime
from functools import cmp_to_key
from typing import TYPE_CHECKING, Iterator

from .. import clock
from ..behaviour.needs import DEFAULT, NeedsError, needs_of
from ..kinds import preferred
from ..quantity import BINARY_SI, QuantityError, bytes_of, canonical_quantity, format_quantity, parse_quantity_with_format
from ..store import Obj, WatchEvent
from .base import Controller, ObjectKey
from .placement import pod_requests
from .podstate import condition, is_active
from .podutil import set_condition
from .preemption import priority

if TYPE_CHECKING:
    from ..cluster import Cluster

log = logging.getLogger(__name__)

NODES = preferred("", "Node")
PODS = preferred("", "Pod")
DISK_USED_ANNOTATION = "chaositbench.io/node-disk-used"
MEMORY_USED_ANNOTATION = "chaositbench.io/node-memory-used"
#: the node's own usage when no annotation says otherwise (kubelet, runtime, system daemons; images and logs)
NODE_MEMORY_USED = 640 * 1024 ** 2
NODE_DISK_USED = 6 * 1024 ** 3
MEMORY, STORAGE = "memory", "ephemeral-storage"
SYSTEM_CRITICAL_PRIORITY = 2_000_000_000
COMPONENT = "kubelet"


@dataclass(frozen=True)
class Threshold:
    """A hard eviction threshold: the signal, the resource it protects, and its value."""

    signal: str
    resource: str
    quantity: int | None = None
    percentage: float | None = None

    def amount(self, capacity: int) -> int:
        """The threshold in bytes (``evictionapi.GetThresholdQuantity``: float32 percentage of capacity)."""
        if self.quantity is not None:
            return self.quantity
        as_float32 = struct.unpack("f", struct.pack("f", self.percentage or 0.0))[0]
        return int(capacity * as_float32)


#: the kubelet's defaults (``--eviction-hard``), in the order the kubelet reports them
HARD_THRESHOLDS = (
    Threshold("memory.available", MEMORY, quantity=100 * 1024 ** 2),
    Threshold("nodefs.available", STORAGE, percentage=0.10),
    Threshold("imagefs.available", STORAGE, percentage=0.15),
)
#: condition type, (status, reason, message, event) when True, the same when False
PRESSURE_CONDITIONS = {
    MEMORY: ("MemoryPressure",
             ("KubeletHasInsufficientMemory", "kubelet has insufficient memory available", "NodeHasInsufficientMemory"),
             ("KubeletHasSufficientMemory", "kubelet has sufficient memory available", "NodeHasSufficientMemory")),
    STORAGE: ("DiskPressure",
              ("KubeletHasDiskPressure", "kubelet has disk pressure", "NodeHasDiskPressure"),
              ("KubeletHasNoDiskPressure", "kubelet has no disk pressure", "NodeHasNoDiskPressure")),
}


# -- usage ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ContainerUsage:
    """What one running container uses: working set and ephemeral storage, in bytes."""

    name: str
    memory: int
    storage: int


def container_usage(pod: Obj, now: datetime, time_scale: float) -> list[ContainerUsage]:
    """Usage of the pod's running containers, from their declared needs and how long they have run."""
    try:
        needs = needs_of(pod)
    except NeedsError:
        needs = {}
    limits = {c.get("name"): (c.get("resources") or {}).get("limits") or {}
              for c in (pod.get("spec") or {}).get("containers") or []}
    usage = []
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        started = clock.parse(((status.get("state") or {}).get("running") or {}).get("startedAt"))
        if started is None:
            continue
        minutes = max((now - started).total_seconds(), 0.0) / max(time_scale, 1e-9) / 60
        declared = needs.get(status["name"], DEFAULT)
        memory = int(declared.memory_bytes + declared.memory_growth_bytes_per_min * minutes)
        limit = _quantity(limits.get(status["name"], {}).get(MEMORY))
        if limit:
            memory = min(memory, limit)
        storage = int(declared.storage_bytes + declared.storage_writes_bytes_per_min * minutes)
        usage.append(ContainerUsage(status["name"], memory, storage))
    return usage


def _quantity(value: object) -> int | None:
    if value is None:
        return None
    try:
        return bytes_of(str(value))
    except QuantityError:
        return None


def _binary(value: int) -> str:
    """``resource.NewQuantity(value, BinarySI).String()``."""
    return format_quantity(max(value, 0), BINARY_SI)


# -- observations ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Observation:
    """One resource of a node: its capacity and what is available."""

    capacity: int
    available: int


def observe(node: Obj, usages: dict[str, list[ContainerUsage]]) -> dict[str, Observation]:
    """Capacity and availability of memory and ephemeral storage on ``node`` with these pods' usage."""
    capacity = (node.get("status") or {}).get("capacity") or {}
    annotations = node["metadata"].get("annotations") or {}
    observed = {}
    for resource, annotation, default, field in ((MEMORY, MEMORY_USED_ANNOTATION, NODE_MEMORY_USED, "memory"),
                                                 (STORAGE, DISK_USED_ANNOTATION, NODE_DISK_USED, "storage")):
        total = _quantity(capacity.get(resource)) or 0
        node_used = _quantity(annotations.get(annotation))
        used = (default if node_used is None else node_used) + sum(
            getattr(c, field) for pod in usages.values() for c in pod)
        observed[resource] = Observation(total, max(total - used, 0))
    return observed


def met_thresholds(observed: dict[str, Observation]) -> list[Threshold]:
    """The hard thresholds the observation crosses."""
    return [t for t in HARD_THRESHOLDS
            if observed[t.resource].available < t.amount(observed[t.resource].capacity)]


# -- ranking and messages --------------------------------------------------------------------------
def _over_request(pod: Obj, used: int, resource: str) -> int:
    return used - pod_requests(pod).get(resource, 0)


def rank_for_eviction(pods: list[Obj], usages: dict[str, list[ContainerUsage]], resource: str) -> list[Obj]:
    """The kubelet's order: usage above requests first, then lower priority, then larger usage above requests."""
    field = "memory" if resource == MEMORY else "storage"

    def excess(pod: Obj) -> int:
        return _over_request(pod, sum(getattr(c, field) for c in usages[pod["metadata"]["uid"]]), resource)

    def compare(a: Obj, b: Obj) -> int:
        ea, eb = excess(a), excess(b)
        if (ea > 0) != (eb > 0):
            return -1 if ea > 0 else 1
        if priority(a) != priority(b):
            return -1 if priority(a) < priority(b) else 1
        return (eb > ea) - (eb < ea)
    return sorted(pods, key=cmp_to_key(compare))


def pressure_message(pod: Obj, usage: list[ContainerUsage], threshold: Threshold, observation: Observation) -> str:
    """The kubelet's ``evictionMessage`` for a pod evicted to reclaim ``threshold.resource``."""
    resource = threshold.resource
    message = (f"The node was low on resource: {resource}. Threshold quantity: "
               f"{_binary(threshold.amount(observation.capacity))}, available: {_binary(observation.available)}. ")
    used = {c.name: (c.memory if resource == MEMORY else c.storage) for c in usage}
    for container in (pod.get("spec") or {}).get("containers") or []:
        name = container.get("name")
        if name not in used:
            continue
        request_text = ((container.get("resources") or {}).get("requests") or {}).get(resource)
        request = _quantity(request_text) or 0
        if used[name] > request:
            shown = canonical_quantity(str(request_text)) if request_text is not None else "0"
            message += (f"Container {name} was using {_binary(used[name])}, request is {shown}, "
                        f"has larger consumption of {resource}. ")
    return message


def limit_message(pod: Obj, usage: list[ContainerUsage]) -> str | None:
    """Why the pod breaks its ephemeral-storage limits (pod total first, then a container's), if it does."""
    containers = (pod.get("spec") or {}).get("containers") or []
    limited = [(c.get("name"), str(((c.get("resources") or {}).get("limits") or {})[STORAGE])) for c in containers
               if STORAGE in ((c.get("resources") or {}).get("limits") or {})]
    if not limited:
        return None
    used = {c.name: c.storage for c in usage}
    try:
        parsed = [(name, parse_quantity_with_format(text)) for name, text in limited]
    except QuantityError:
        return None
    total = sum(value for _, (value, _fmt) in parsed)
    if sum(used.values()) > total:
        return (f"Pod ephemeral local storage usage exceeds the total limit of containers "
                f"{format_quantity(total, parsed[0][1][1])}. ")
    for name, (value, fmt) in parsed:
        if used.get(name, 0) > value:
            return f'Container {name} exceeded its local ephemeral storage limit "{format_quantity(value, fmt)}". '
    return None


def is_critical(pod: Obj) -> bool:
    """Static/mirror pods and system-critical priorities are never evicted by the kubelet."""
    annotations = pod["metadata"].get("annotations") or {}
    return priority(pod) >= SYSTEM_CRITICAL_PRIORITY or "kubernetes.io/config.mirror" in annotations


# -- the controller ----------------------------------------------------------------------------------
class EvictionManager(Controller):
    """The eviction managers of all kubelets: one periodic synchronization per node."""

    name = "eviction-manager"
    watches = (NODES,)
    monitoring_interval_s = 10.0
    pressure_transition_period_s = 300.0

    def __init__(self, cluster: "Cluster") -> None:
        super().__init__(cluster)
        self._last_met: dict[str, dict[str, float]] = {}  # node -> resource -> loop time last met

    def keys_for(self, event: WatchEvent) -> Iterator[ObjectKey]:
        name = event.obj["metadata"]["name"]
        if event.type == "DELETED":
            self._last_met.pop(name, None)
        elif name not in self._last_met:
            self._last_met[name] = {}
            yield "", name

    def reconcile(self, key: ObjectKey) -> None:
        node = self.api.try_get(NODES, "", key[1])
        if node is None:
            return
        self.requeue_after(key, self.monitoring_interval_s * self.cluster.time_scale)
        if (condition(node, "Ready") or {}).get("status") != "True":
            return  # a kubelet that is not posting status does not evict either
        self.synchronize(node)

    def synchronize(self, node: Obj) -> None:
        """One pass of the eviction manager on ``node``: conditions, limit evictions, one pressure eviction."""
        name = node["metadata"]["name"]
        pods = [p for p in self.api.list(PODS, field_selector=f"spec.nodeName={name}")[0]
                if is_active(p) and (p.get("status") or {}).get("reason") != "Evicted"]
        now = clock.now()
        usages = {p["metadata"]["uid"]: container_usage(p, now, self.cluster.time_scale) for p in pods}
        observed = observe(node, usages)
        met = met_thresholds(observed)
        reported = {resource for resource, (type_, _on, _off) in PRESSURE_CONDITIONS.items()
                    if (condition(node, type_) or {}).get("status") == "True"}
        self._set_conditions(node, {t.resource for t in met})
        for pod in pods:
            message = limit_message(pod, usages[pod["metadata"]["uid"]])
            if message is not None:
                self._evict(pod, name, message, disruption=False)
                return
        met = [t for t in met if t.resource in reported]  # the condition (and so the taint) comes first
        if not met:
            return
        threshold = next((t for t in met if t.resource == MEMORY), met[0])
        self.cluster.events.record(node, "Warning", "EvictionThresholdMet", f"Attempting to reclaim {threshold.resource}",
                                   COMPONENT, instance=name)
        for pod in rank_for_eviction([p for p in pods if not is_critical(p)], usages, threshold.resource):
            self._evict(pod, name, pressure_message(pod, usages[pod["metadata"]["uid"]], threshold,
                                                    observed[threshold.resource]), disruption=True)
            return

    def _set_conditions(self, node: Obj, met: set[str]) -> None:
        """Pressure conditions: True while met, and for the transition period after."""
        name = node["metadata"]["name"]
        now = asyncio.get_running_loop().time()
        last = self._last_met.setdefault(name, {})
        for resource in met:
            last[resource] = now
        period = self.pressure_transition_period_s * self.cluster.time_scale
        changes = []
        for resource, (type_, on, off) in PRESSURE_CONDITIONS.items():
            pressure = resource in last and now - last[resource] < period
            wanted = "True" if pressure else "False"
            if (condition(node, type_) or {}).get("status") != wanted:
                changes.append((type_, wanted, on if pressure else off))
        if not changes:
            return

        def apply(current: Obj) -> None:
            stamp = clock.rfc3339()
            for cond in (current.get("status") or {}).get("conditions") or []:
                for type_, wanted, (reason, message, _event) in changes:
                    if cond.get("type") == type_:
                        cond.update(status=wanted, reason=reason, message=message, lastHeartbeatTime=stamp,
                                    lastTransitionTime=stamp)
        updated = self.api.patch_object(NODES, "", name, apply, subresource="status")
        for _type, _wanted, (_reason, _message, event) in changes:
            self.cluster.events.record(updated, "Normal", event, f"Node {name} status is now: {event}", COMPONENT,
                                       instance=name)

    def _evict(self, pod: Obj, node: str, message: str, *, disruption: bool) -> None:
        """Kill the pod as the kubelet's ``evictPod`` does: event, then a terminal Failed/Evicted status."""
        meta = pod["metadata"]
        self.cluster.events.record(pod, "Warning", "Evicted", message, COMPONENT, instance=node)

        def fail(current: Obj) -> None:
            status = current.setdefault("status", {})
            status.update(phase="Failed", reason="Evicted", message=message)
            status.pop("containerStatuses", None)
            status.pop("initContainerStatuses", None)
            conditions = status.setdefault("conditions", [])
            if disruption:
                set_condition(conditions, "DisruptionTarget", "True", "TerminationByKubelet", message)
            for type_ in ("PodReadyToStartContainers", "Ready", "ContainersReady"):
                if any(c.get("type") == type_ for c in conditions):
                    set_condition(conditions, type_, "False", None if type_ == "PodReadyToStartContainers"
                                  else "PodFailed")
        log.info("evicting pod %s/%s from %s: %s", meta["namespace"], meta["name"], node, message)
        self.api.patch_object(PODS, meta["namespace"], meta["name"], fail, subresource="status")
