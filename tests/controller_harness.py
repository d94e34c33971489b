"""A real simulated cluster (bootstrap, defaulting, validation, admission) running only chosen controllers.

Tests drive it on their own asyncio loop: they create objects through the
same :class:`ResourceAPI` clients use, play the kubelet where needed (pod
phase, IP and readiness through the status subresource), and wait for the
controllers under test to converge.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable

from chaositbench.sim import clock
from chaositbench.sim.cluster import Cluster, ClusterOptions
from chaositbench.sim.controllers.base import Controller
from chaositbench.sim.controllers.serviceaccount import ServiceAccountController
from chaositbench.sim.kinds import Kind, preferred
from chaositbench.sim.store import Obj

PODS = preferred("", "Pod")
NODES = preferred("", "Node")
EVENTS = preferred("", "Event")
NAMESPACES = preferred("", "Namespace")

Factory = Callable[[Cluster], Controller]


class Harness:
    """A :class:`Cluster` whose only controllers are the ServiceAccount controller and ``factories``."""

    def __init__(self, *factories: Factory, time_scale: float = 0.05) -> None:
        self.cluster = Cluster(ClusterOptions(time_scale=time_scale))
        self.api = self.cluster.api
        self._factories = [ServiceAccountController, *factories]
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> "Harness":
        for factory in self._factories:
            controller = factory(self.cluster)
            self.cluster.controllers.append(controller)
            self.cluster.store.add_listener(controller.on_event)
            self._tasks.append(asyncio.create_task(controller.run()))
        await self.wait_for(lambda: self.api.try_get(preferred("", "ServiceAccount"), "default", "default"),
                            what="the default ServiceAccount")
        return self

    async def __aexit__(self, *exc: object) -> None:
        for controller in self.cluster.controllers:
            controller.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def controller(self, kind: type) -> Any:
        return next(c for c in self.cluster.controllers if isinstance(c, kind))

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0, what: str = "condition") -> Any:
        """Poll ``predicate`` until it returns something truthy."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if loop.time() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            await asyncio.sleep(0.01)

    async def settle(self, seconds: float = 0.1) -> None:
        await asyncio.sleep(seconds)

    # -- objects -----------------------------------------------------------------------
    def create(self, kind: Kind, body: Obj, namespace: str = "default") -> Obj:
        return self.api.create(kind, namespace if kind.namespaced else "", body)

    def get(self, kind: Kind, name: str, namespace: str = "default") -> Obj | None:
        return self.api.try_get(kind, namespace, name)

    def items(self, kind: Kind, namespace: str | None = "default", **options: Any) -> list[Obj]:
        return self.api.list(kind, namespace, **options)[0]

    def change(self, kind: Kind, name: str, mutate: Callable[[Obj], None], namespace: str = "default",
               subresource: str | None = None) -> Obj:
        return self.api.patch_object(kind, namespace if kind.namespaced else "", name, mutate,
                                     subresource=subresource)

    def events_for(self, obj: Obj) -> list[Obj]:
        uid = obj["metadata"]["uid"]
        return [e for e in self.items(EVENTS, None) if e["involvedObject"].get("uid") == uid]

    def create_namespace(self, name: str) -> Obj:
        return self.create(NAMESPACES, {"metadata": {"name": name}})

    # -- playing the kubelet ----------------------------------------------------------------
    def set_pod_state(self, pod: Obj, *, phase: str = "Running", ready: bool = True, ip: str | None = None) -> Obj:
        """Report a pod's phase, IP and Ready condition as a kubelet would."""
        meta = pod["metadata"]

        def report(p: Obj) -> None:
            status = p.setdefault("status", {})
            status["phase"] = phase
            if ip:
                status["podIP"], status["podIPs"] = ip, [{"ip": ip}]
            conditions = [c for c in status.get("conditions") or [] if c.get("type") != "Ready"]
            conditions.append({"type": "Ready", "status": "True" if ready else "False",
                               "lastTransitionTime": clock.rfc3339()})
            status["conditions"] = conditions
        return self.change(PODS, meta["name"], report, meta["namespace"], subresource="status")


def container(name: str = "app", image: str = "nginx:1.27", **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": image, **extra}


def run(body: Callable[[], Awaitable[None]]) -> None:
    """Run an async test body on a fresh loop."""
    asyncio.run(body())
