"""Resource usage of running containers, pods and nodes: the one place every consumer reads it.

Usage follows the declared needs (:mod:`..behaviour.needs`) and the real
objects: a running container's memory working set is its declared working set
plus its growth over the simulated time since the container started (a restart
starts from the declared value again, as a new process does); its CPU is its
demand (:mod:`.cpu`: declared idle usage plus the per-request cost of the
traffic it is sent, or the declared usage scaled by the traffic it serves now
relative to healthy traffic, :mod:`.requests`) capped by its CPU limit, the
excess being throttled; its ephemeral storage is
the declared usage plus its writes since it started (a new container gets a
fresh writable layer). Containers that are not running use nothing. A node adds
what its kubelet, runtime and system daemons use to the sum of its pods (memory
and disk as the eviction manager counts them, so metrics agree with the
pressure conditions).

Simulated time is wall time divided by the cluster's ``time_scale``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable

from .. import clock
from ..behaviour.needs import DEFAULT, ContainerNeeds
from ..kinds import preferred
from ..controllers.eviction_manager import (DISK_USED_ANNOTATION, MEMORY_USED_ANNOTATION, NODE_DISK_USED,
                                           NODE_MEMORY_USED)
from ..quantity import QuantityError, bytes_of, memory_limit
from ..store import Obj
from .cpu import CpuState, container_spec, cpu_state
from .requests import RequestModel, declared_needs

if TYPE_CHECKING:
    from ..cluster import Cluster

PODS = preferred("", "Pod")
NODES = preferred("", "Node")
#: CPU a node uses besides its pods (kubelet, container runtime, system daemons); its own memory and disk are
#: the eviction manager's (defaults, or the node's ``chaositbench.io/node-{memory,disk}-used`` annotations)
NODE_SYSTEM_CPU_MILLIS = 120


@dataclass(frozen=True)
class ContainerUsage:
    """What one container uses now."""

    cpu_millis: float
    memory_bytes: int  # working set, as the kernel reports it: never above the memory limit
    memory_demand_bytes: int  # what the program would hold without a limit (above the limit: OOM)
    storage_bytes: int
    running_seconds: float  # simulated seconds since the current instance started
    cpu: CpuState = CpuState(0.0, None)  # demand against limit (throttling)

    @classmethod
    def zero(cls) -> "ContainerUsage":
        return cls(0.0, 0, 0, 0, 0.0)


@dataclass(frozen=True)
class Totals:
    """Sum over containers (a pod) or pods and system daemons (a node)."""

    cpu_millis: float
    memory_bytes: int
    storage_bytes: int


def running_since(pod: Obj, container: str) -> datetime | None:
    """When the container's current instance started, if it is running."""
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        if status.get("name") == container:
            return clock.parse(((status.get("state") or {}).get("running") or {}).get("startedAt"))
    return None


class Usage:
    """Current usage of containers, pods and nodes of one cluster."""

    def __init__(self, cluster: "Cluster", requests: RequestModel | None = None,
                 now: Callable[[], datetime] = clock.now) -> None:
        self.cluster = cluster
        self.requests = requests or RequestModel(cluster)
        self._now = now

    @property
    def time_scale(self) -> float:
        return float(getattr(self.cluster, "time_scale", 1.0)) or 1.0

    def container(self, pod: Obj, name: str) -> ContainerUsage:
        """Usage of one container of ``pod`` (zero unless it is running)."""
        return self._container(pod, name, declared_needs(pod).get(name, DEFAULT))

    def _container(self, pod: Obj, name: str, needs: ContainerNeeds) -> ContainerUsage:
        started = running_since(pod, name)
        if started is None:
            return ContainerUsage.zero()
        seconds = max(0.0, (self._now() - started).total_seconds() / self.time_scale)
        minutes = seconds / 60.0
        demand = needs.memory_bytes + int(needs.memory_growth_bytes_per_min * minutes)
        limit = memory_limit(container_spec(pod, name))
        uid = pod["metadata"].get("uid", "")
        cpu = cpu_state(pod, name, needs, self.requests.served_rps(uid), self.requests.load_factor(uid))
        storage = needs.storage_bytes + int(needs.storage_writes_bytes_per_min * minutes)
        return ContainerUsage(cpu_millis=cpu.usage_millis, memory_bytes=min(demand, limit) if limit else demand,
                              memory_demand_bytes=demand, storage_bytes=storage, running_seconds=seconds, cpu=cpu)

    def containers(self, pod: Obj) -> dict[str, ContainerUsage]:
        """Usage of each regular container of ``pod``, by name."""
        declared = declared_needs(pod)
        return {c["name"]: self._container(pod, c["name"], declared.get(c["name"], DEFAULT))
                for c in (pod.get("spec") or {}).get("containers") or []}

    def pod(self, pod: Obj) -> Totals:
        """Sum over the pod's containers."""
        return _sum(self.containers(pod).values())

    def node(self, name: str) -> Totals:
        """Sum over the pods bound to node ``name``, plus what the node's system daemons use."""
        return self.nodes([name])[name]

    def nodes(self, names: list[str]) -> dict[str, Totals]:
        """:meth:`node` of several nodes, in one pass over the pods."""
        per_node: dict[str, list[ContainerUsage]] = {name: [] for name in names}
        for pod in self.cluster.store.list(PODS.storage_key):
            bucket = per_node.get((pod.get("spec") or {}).get("nodeName") or "")
            if bucket is not None:
                bucket.extend(self.containers(pod).values())
        totals = {}
        for name, usages in per_node.items():
            total = _sum(usages)
            node = self.cluster.store.get(NODES.storage_key, "", name) or {"metadata": {}}
            annotations = node["metadata"].get("annotations") or {}
            totals[name] = Totals(
                cpu_millis=total.cpu_millis + NODE_SYSTEM_CPU_MILLIS,
                memory_bytes=total.memory_bytes + _amount(annotations.get(MEMORY_USED_ANNOTATION), NODE_MEMORY_USED),
                storage_bytes=total.storage_bytes + _amount(annotations.get(DISK_USED_ANNOTATION), NODE_DISK_USED))
        return totals


def _amount(raw: Any, default: int) -> int:
    try:
        return bytes_of(str(raw)) if raw is not None else default
    except QuantityError:
        return default


def _sum(usages: Any) -> Totals:
    cpu, memory, storage = 0.0, 0, 0
    for usage in usages:
        cpu += usage.cpu_millis
        memory += usage.memory_bytes
        storage += usage.storage_bytes
    return Totals(cpu, memory, storage)
