"""CPU demand against the CPU limit: the CFS quota, throttling and saturation of a container.

A container's CPU *demand* is what its program would use without a limit: its
declared idle ``cpu.usage`` plus ``cpu.perRequest`` CPU time for each request it
is sent per second (a container declaring no per-request cost scales its
declared usage with its traffic relative to healthy traffic, see
:mod:`.usage`). A CPU limit is a CFS quota of ``limit × 100 ms`` per 100 ms
period. While the demand fits, nothing is throttled. When it does not, the
container is *saturated* by ``demand / limit`` (> 1): the kernel lets it run
``limit / demand`` of the time it needs, so that share of its periods ends
with the quota spent — the throttled share of ``container_cpu_cfs_periods_total``
— and it completes only ``limit / demand`` of its requests in time (the request
model answers the rest from a full queue, :mod:`.requests`). Usage, as
``kubectl top`` and cAdvisor report it, never exceeds the limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..behaviour.needs import ContainerNeeds
from ..quantity import cpu_limit

#: The CFS scheduler period (the kubelet's default ``cpuCFSQuotaPeriod``).
CFS_PERIOD_SECONDS = 0.1
#: Fraction of its declared CPU a container uses with no traffic at all (runtime, GC, timers).
IDLE_CPU_FRACTION = 0.2


@dataclass(frozen=True)
class CpuState:
    """A container's CPU demand and limit (millicores; no limit: None)."""

    demand_millis: float
    limit_millis: float | None

    @property
    def saturation(self) -> float:
        """Demand over limit (0 without a limit)."""
        if not self.limit_millis:
            return 0.0
        return self.demand_millis / self.limit_millis

    @property
    def usage_millis(self) -> float:
        """What the container gets: its demand, at most its limit."""
        return min(self.demand_millis, self.limit_millis) if self.limit_millis else self.demand_millis

    @property
    def throttled_ratio(self) -> float:
        """Share of the CFS periods that end throttled (quota spent)."""
        return 1.0 - 1.0 / self.saturation if self.saturation > 1 else 0.0


def container_spec(pod: dict[str, Any], name: str) -> dict[str, Any]:
    """The spec of the pod's regular container ``name`` (empty when it has none of that name)."""
    return next((c for c in (pod.get("spec") or {}).get("containers") or [] if c.get("name") == name), {})


def demand(needs: ContainerNeeds, served_rps: float, load_factor: float) -> float:
    """Millicores a container would use now: idle plus per-request cost, or its usage scaled by its traffic."""
    if needs.cpu_seconds_per_request > 0:
        return needs.cpu_millis + needs.cpu_seconds_per_request * 1000 * served_rps
    return needs.cpu_millis * (IDLE_CPU_FRACTION + (1 - IDLE_CPU_FRACTION) * load_factor)


def cpu_state(pod: dict[str, Any], name: str, needs: ContainerNeeds, served_rps: float,
              load_factor: float) -> CpuState:
    """The CPU state of the pod's container ``name`` serving ``served_rps``."""
    return CpuState(demand(needs, served_rps, load_factor), cpu_limit(container_spec(pod, name)))
