"""Container evidence the reference agent's start-up investigations share.

Which containers are stuck waiting (image pulls, container configuration), which crash (and what
their last run logged), and the specs of containers and init containers in a workload's pod
templates, compared across revisions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterator

if TYPE_CHECKING:
    from .reference import Cluster

Obj = dict[str, Any]
Workload = tuple[str, str, str]  # (kind, namespace, name)


@dataclass(frozen=True)
class Stuck:
    """One container of a workload's pod that does not run: why (its waiting reason) and what it said."""

    pod: Obj
    workload: Workload
    container: str
    init: bool
    reason: str
    message: str = ""

    @property
    def where(self) -> str:
        kind, namespace, name = self.workload
        role = "init container" if self.init else "container"
        return f"{kind} {namespace}/{name} {role} {self.container}"


def _statuses(pod: Obj) -> Iterator[tuple[bool, Obj]]:
    status = pod.get("status") or {}
    for init, key in ((True, "initContainerStatuses"), (False, "containerStatuses")):
        for container in status.get(key) or []:
            yield init, container


def waiting(cluster: "Cluster", reasons: set[str]) -> list[Stuck]:
    """For each workload, its first pod container (init containers first) waiting with one of ``reasons``."""
    found: dict[Workload, Stuck] = {}
    for pod in cluster.live_pods():
        workload = cluster.workload_of(pod)
        if workload is None or workload in found:
            continue
        for init, status in _statuses(pod):
            state = (status.get("state") or {}).get("waiting") or {}
            if state.get("reason") in reasons:
                found[workload] = Stuck(pod, workload, status["name"], init, state["reason"],
                                        state.get("message") or "")
                break
    return list(found.values())


def crashed(cluster: "Cluster", init: bool) -> Iterator[tuple[Stuck, str]]:
    """For each workload, its first pod container (or init container, with ``init``) that exits with an
    error, and the log of its last failed run."""
    seen: set[Workload] = set()
    for pod in cluster.live_pods():
        workload = cluster.workload_of(pod)
        if workload is None or workload in seen:
            continue
        for is_init, status in _statuses(pod):
            state = status.get("state") or {}
            last = (status.get("lastState") or {}).get("terminated") or {}
            current = state.get("terminated") or {}
            reason = (state.get("waiting") or {}).get("reason")
            if is_init != init or not (reason == "CrashLoopBackOff" or last.get("exitCode") or current.get("exitCode")):
                continue
            seen.add(workload)
            logs = cluster.logs(pod, container=status["name"], previous=bool(last) and not current)
            yield Stuck(pod, workload, status["name"], is_init, reason or "Error"), logs
            break


def template_of(cluster: "Cluster", workload: Workload) -> Obj:
    """The pod template of a workload as surveyed (empty when it is not known)."""
    return ((cluster.get(*workload) or {}).get("spec") or {}).get("template") or {}


def container_of(template: Obj, name: str) -> Obj | None:
    """The container (or init container) ``name`` of a pod template."""
    spec = template.get("spec") or {}
    return next((c for c in (spec.get("initContainers") or []) + (spec.get("containers") or [])
                 if c.get("name") == name), None)


def env_entry(container: Obj | None, variable: str) -> Obj | None:
    """The ``env`` item that sets ``variable`` in a container spec."""
    return next((e for e in (container or {}).get("env") or [] if e.get("name") == variable), None)


def differs_only_in(current: Obj, previous: Obj, container: str, strip: Callable[[Obj], None]) -> bool:
    """Whether two pod templates are the same once ``strip`` has removed, from ``container`` of each, what
    a change set (and the template hash is ignored)."""
    def normalized(template: Obj) -> Obj:
        copy = json.loads(json.dumps(template))
        (copy.get("metadata") or {}).get("labels", {}).pop("pod-template-hash", None)
        spec = container_of(copy, container)
        if spec is not None:
            strip(spec)
        return copy
    return normalized(current) == normalized(previous)


def without_variable(variable: str) -> Callable[[Obj], None]:
    """A ``strip`` for :func:`differs_only_in`: the container's env item setting ``variable``."""
    def strip(spec: Obj) -> None:
        spec["env"] = [e for e in spec.get("env") or [] if e.get("name") != variable]
    return strip


def previous_revision(cluster: "Cluster", workload: Workload) -> tuple[str, Obj] | None:
    """(revision, pod template) of the Deployment's revision before the current one."""
    revisions = cluster.revisions(workload)
    return revisions[1] if len(revisions) > 1 else None


def rollout_undo(cluster: "Cluster", workload: Workload, revision: str) -> None:
    kind, namespace, name = workload
    cluster.tools.kubectl("rollout", "undo", f"{kind.lower()}/{name}", "-n", namespace, f"--to-revision={revision}")


def rollout_restart(cluster: "Cluster", workload: Workload) -> None:
    kind, namespace, name = workload
    cluster.tools.kubectl("rollout", "restart", f"{kind.lower()}/{name}", "-n", namespace)


def get_object(cluster: "Cluster", kind: str, namespace: str, name: str) -> Obj | None:
    """One object read with ``kubectl get -o json``, or None when it cannot be read (absent)."""
    result = cluster.tools.kubectl("get", kind.lower(), name, "-n", namespace, "-o", "json")
    return json.loads(result.stdout) if result.ok else None
