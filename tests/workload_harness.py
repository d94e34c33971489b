"""A small simulated cluster for controller tests: store, API, events, log book, nodes and a trivial binder.

It wires only the controllers a test asks for (plus a binder standing in for
the scheduler), runs them on the test's asyncio loop and records every store
event so tests can check invariants at each observed step.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
from typing import Any, Callable, Iterable

from chaositbench.sim import defaults, validation
from chaositbench.sim.controllers.base import Controller, ObjectKey
from chaositbench.sim.events import EventRecorder
from chaositbench.sim.kinds import preferred
from chaositbench.sim.logbook import LogBook
from chaositbench.sim.resources import Hooks, ResourceAPI
from chaositbench.sim.store import Obj, Store, WatchEvent

PODS = preferred("", "Pod")
NODES = preferred("", "Node")
NAMESPACES = preferred("", "Namespace")
EVENTS = preferred("", "Event")
DEPLOYMENTS = preferred("apps", "Deployment")
REPLICASETS = preferred("apps", "ReplicaSet")

ControllerFactory = Callable[[Any], Controller]


class Binder(Controller):
    """Binds every unbound pod to the test nodes in turn (what the scheduler would do)."""

    name = "test-binder"
    watches = (PODS,)

    def __init__(self, cluster: "MiniCluster") -> None:
        super().__init__(cluster)
        self._nodes = itertools.cycle(cluster.node_names)

    def reconcile(self, key: ObjectKey) -> None:
        pod = self.api.try_get(PODS, *key)
        if pod is None or pod["spec"].get("nodeName") or pod["metadata"].get("deletionTimestamp"):
            return
        self.api.assign_node(PODS, key[0], key[1], next(self._nodes))


class MiniCluster:
    """The attributes controllers use (``api``, ``store``, ``events``, ``logbook``, ``time_scale``)."""

    def __init__(self, factories: Iterable[ControllerFactory], *, time_scale: float = 0.02,
                 nodes: int = 2, bind: bool = True) -> None:
        self.time_scale = time_scale
        self.store = Store()
        self.api = ResourceAPI(self.store, Hooks(defaults=[defaults.apply_defaults], validators=[validation.validate]))
        self.events = EventRecorder(self.api)
        self.logbook = LogBook()
        self.node_names = [f"node-{i}" for i in range(1, nodes + 1)]
        self.history: list[WatchEvent] = []
        self.store.add_listener(self.history.append)
        self.api.create(NAMESPACES, "", {"metadata": {"name": "default"}})
        for index, name in enumerate(self.node_names, start=1):
            self.api.create(NODES, "", {
                "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
                "spec": {"podCIDR": f"10.244.{index}.0/24", "podCIDRs": [f"10.244.{index}.0/24"]},
                "status": {"addresses": [{"type": "InternalIP", "address": f"172.18.0.{index + 1}"},
                                         {"type": "Hostname", "address": name}]}})
        self._factories = list(factories) + ([Binder] if bind else [])
        self.controllers: list[Controller] = []
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> "MiniCluster":
        self.controllers = [factory(self) for factory in self._factories]
        for controller in self.controllers:
            self.store.add_listener(controller.on_event)
            self._tasks.append(asyncio.create_task(controller.run()))
        return self

    async def __aexit__(self, *exc: object) -> None:
        for controller in self.controllers:
            controller.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- helpers -----------------------------------------------------------------
    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
        """Poll ``predicate`` until it returns something truthy."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            await asyncio.sleep(0.01)

    def pods(self, namespace: str = "default") -> list[Obj]:
        return self.api.list(PODS, namespace)[0]

    def events_of(self, obj: Obj) -> list[Obj]:
        uid = obj["metadata"]["uid"]
        return [e for e in self.api.list(EVENTS)[0] if e["involvedObject"].get("uid") == uid]

    def get(self, kind: Any, name: str, namespace: str = "default") -> Obj | None:
        return self.api.try_get(kind, namespace, name)

    def update(self, kind: Any, name: str, change: Callable[[Obj], None], namespace: str = "default") -> Obj:
        return self.api.patch_object(kind, namespace, name, change)


def running(coro_factory: Callable[[], Any]) -> Any:
    """Run an async test body on a fresh loop."""
    return asyncio.run(coro_factory())


def container(name: str = "app", image: str = "nginx:1.27", **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": image, **extra}


def pod_template(labels: dict[str, str], *containers: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {"metadata": {"labels": dict(labels)},
            "spec": {"containers": [copy.deepcopy(c) for c in containers] or [container()], **spec}}


def is_pod_ready(pod: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])
