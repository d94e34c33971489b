"""The kubelet's record of each pod it runs, and the PodStatus that record implies.

:class:`PodRun` and :class:`ContainerRun` hold what the simulated node knows
(sandbox, IPs, each container's stage and timers); :func:`pod_status` renders
them as the kubelet's status manager would write them: container statuses
(waiting/running/terminated, lastState, restartCount, ready, started), the
phase computed as the kubelet's ``getPhase`` does, and the kubelet-owned
conditions (PodReadyToStartContainers, Initialized, Ready, ContainersReady,
PodScheduled) after any conditions owned by others, with transition times kept
while a condition's status does not change.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from .. import clock
from ..defaults import pod_qos_class as qos_class
from ..store import Obj
from .kubelet_config import ContainerConfig
from .kubelet_runtime import ContainerPlan, PullPlan, image_id, normalize_image

WAITING, PULLING, RUNNING, EXITED, BACKOFF = "waiting", "pulling", "running", "exited", "backoff"
KUBELET_CONDITIONS = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")
KUBELET_FIELDS = ("phase", "conditions", "hostIP", "hostIPs", "podIP", "podIPs", "startTime",
                  "initContainerStatuses", "containerStatuses", "observedGeneration")


@dataclass
class ProbeState:
    """One probe of a running container: when it runs next, its consecutive results and verdict."""

    spec: dict[str, Any]
    due: float  # loop time of the next run
    result: bool | None = None  # None until the first verdict (readiness counts as failed until then)
    successes: int = 0
    failures: int = 0

    def period(self) -> float:
        return float(self.spec.get("periodSeconds") or 10)

    def record(self, success: bool) -> bool:
        """Count one run; returns whether the verdict changed."""
        if success:
            self.successes, self.failures = self.successes + 1, 0
            threshold = int(self.spec.get("successThreshold") or 1)
            verdict = True if self.successes >= threshold else self.result
        else:
            self.successes, self.failures = 0, self.failures + 1
            threshold = int(self.spec.get("failureThreshold") or 3)
            verdict = False if self.failures >= threshold else self.result
        changed, self.result = verdict != self.result, verdict
        return changed


@dataclass
class ContainerRun:
    """One container of a running pod, across its restarts."""

    spec: dict[str, Any]
    init: bool
    stage: str = WAITING
    due: float | None = None  # loop time of the next step of a pull or a back-off
    waiting_reason: str = "ContainerCreating"
    waiting_message: str = ""
    pull: PullPlan | None = None
    plan: ContainerPlan | None = None
    run_since: float = 0.0  # loop time the current instance started
    container_id: str = ""
    started_at: str = ""
    started_due: float = 0.0
    ready_due: float | None = None
    exit_due: float | None = None
    terminated: dict[str, Any] | None = None
    last_terminated: dict[str, Any] | None = None
    restarts: int = 0
    backoff_step: int = 0  # exits since the back-off was last reset
    ever_started: bool = False
    initialized: bool = False  # a regular init container exited 0, or a sidecar has started
    crash_loop: bool = False  # the back-off is reported (waiting CrashLoopBackOff) rather than the exit
    loop_due: float | None = None  # loop time the next sync reports the back-off
    backoff_delay: float = 0.0  # simulated seconds of the current restart back-off
    retry_due: float | None = None  # loop time a failed pull may be tried again
    pull_failures: int = 0  # failed pulls since the last success (image pull back-off)
    config: ContainerConfig | None = None  # environment and files resolved for the current instance
    probes: dict[str, ProbeState] = field(default_factory=dict)  # "startup"/"liveness"/"readiness"
    observe_due: float | None = None  # loop time the runtime is next asked what the container logs

    @property
    def name(self) -> str:
        return self.spec["name"]

    @property
    def sidecar(self) -> bool:
        return self.init and self.spec.get("restartPolicy") == "Always"

    @property
    def field_path(self) -> str:
        return f"spec.{'initContainers' if self.init else 'containers'}{{{self.name}}}"

    def started(self, now: float) -> bool:
        """Running, past the runtime's start-up time and, with a startup probe, once it succeeded."""
        startup = self.probes.get("startup")
        return self.stage == RUNNING and now >= self.started_due and (startup is None or startup.result is True)

    def ready(self, now: float) -> bool:
        """Started, ready by the runtime's plan and, with a readiness probe, while it succeeds."""
        readiness = self.probes.get("readiness")
        return self.started(now) and self.ready_due is not None and now >= self.ready_due \
            and (readiness is None or readiness.result is True)


@dataclass
class PodRun:
    """A pod admitted by the kubelet of one node."""

    uid: str
    node: str
    host_ip: str
    start_time: str
    sandbox_due: float
    containers: list[ContainerRun] = field(default_factory=list)
    pod_ip: str = ""
    sandbox_ready: bool = False
    kill_due: float | None = None
    stopped: bool = False  # containers stopped for deletion: the pod is terminal
    mount_failures: int = 0  # failed volume set-ups so far (their retry back-off)

    @property
    def init_containers(self) -> list[ContainerRun]:
        return [c for c in self.containers if c.init]

    @property
    def app_containers(self) -> list[ContainerRun]:
        return [c for c in self.containers if not c.init]


# -- container statuses -------------------------------------------------------------------
def _state(c: ContainerRun) -> dict[str, Any]:
    if c.stage == RUNNING:
        return {"running": {"startedAt": c.started_at}}
    if c.stage == EXITED or (c.stage == BACKOFF and not c.crash_loop):
        return {"terminated": copy.deepcopy(c.terminated)}
    waiting = {"reason": "CrashLoopBackOff" if c.stage == BACKOFF else c.waiting_reason}
    message = c.waiting_message if c.stage != BACKOFF or c.crash_loop else ""
    if message:
        waiting["message"] = message
    return {"waiting": waiting}


def container_status(c: ContainerRun, now: float) -> dict[str, Any]:
    image = c.spec.get("image", "")
    status: dict[str, Any] = {
        "name": c.name,
        "image": normalize_image(image) if c.ever_started else image,
        "imageID": image_id(image) if c.ever_started else "",
        "ready": c.ready(now),
        "restartCount": c.restarts,
        "started": c.started(now),
        "state": _state(c),
        "lastState": {"terminated": copy.deepcopy(c.last_terminated)} if c.last_terminated else {},
    }
    if c.container_id:
        status["containerID"] = f"containerd://{c.container_id}"
    mounts = [_mount_status(m) for m in c.spec.get("volumeMounts") or []]
    if mounts:
        status["volumeMounts"] = mounts
    resources = c.spec.get("resources") or {}
    if resources.get("requests") or resources.get("limits"):
        status["resources"] = copy.deepcopy({k: v for k, v in resources.items() if k in ("requests", "limits")})
    return status


def _mount_status(mount: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"name": mount.get("name"), "mountPath": mount.get("mountPath")}
    if mount.get("readOnly"):
        out["readOnly"] = True
        out["recursiveReadOnly"] = "Disabled"
    return out


def _initialized(status: dict[str, Any], sidecar: bool) -> bool:
    """A sidecar counts once started, a regular init container once it exited 0."""
    if sidecar:
        return bool(status.get("started"))
    return (status["state"].get("terminated") or {}).get("exitCode") == 0


# -- phase -------------------------------------------------------------------------------------
def pod_phase(spec: dict[str, Any], init_statuses: list[dict], statuses: list[dict], terminal: bool) -> str:
    """The pod phase from its container statuses (the kubelet's getPhase)."""
    policy = spec.get("restartPolicy") or "Always"
    init_specs = {c["name"]: c for c in spec.get("initContainers") or []}
    pending_init = 0
    for s in init_statuses:
        sidecar = init_specs.get(s["name"], {}).get("restartPolicy") == "Always"
        if _initialized(s, sidecar):
            continue
        if not sidecar and "terminated" in s["state"] and policy == "Never":
            return "Failed"
        pending_init += 1
    if pending_init and not terminal:
        return "Pending"
    waiting = running = stopped = succeeded = 0
    for s in statuses:
        state = s["state"]
        last = (s.get("lastState") or {}).get("terminated")
        if "running" in state:
            running += 1
        elif "terminated" in state or last is not None:
            stopped += 1
            succeeded += 1 if (state.get("terminated") or last or {}).get("exitCode") == 0 else 0
        else:
            waiting += 1
    if terminal:
        return "Succeeded" if stopped == succeeded == len(statuses) else "Failed"
    if waiting:
        return "Pending"
    if running:
        return "Running"
    if policy == "Always":
        return "Running"
    if stopped == succeeded:
        return "Succeeded"
    return "Failed" if policy == "Never" else "Running"


# -- conditions --------------------------------------------------------------------------------
def _names(items: list[str]) -> str:
    return "[" + " ".join(items) + "]"


def _kubelet_conditions(run: PodRun, phase: str, init_statuses: list[dict], statuses: list[dict],
                        spec: dict[str, Any]) -> list[dict[str, Any]]:
    sidecars = {c["name"] for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"}
    terminal = phase in ("Succeeded", "Failed")
    conditions = [{"type": "PodReadyToStartContainers",
                   "status": "True" if run.sandbox_ready and not terminal and not run.stopped else "False"}]
    incomplete = [s["name"] for s in init_statuses if not _initialized(s, s["name"] in sidecars)]
    if not init_statuses:
        conditions.append({"type": "Initialized", "status": "True"})
    elif phase == "Succeeded":
        conditions.append({"type": "Initialized", "status": "True", "reason": "PodCompleted"})
    elif incomplete:
        conditions.append({"type": "Initialized", "status": "False", "reason": "ContainersNotInitialized",
                           "message": f"containers with incomplete status: {_names(incomplete)}"})
    else:
        conditions.append({"type": "Initialized", "status": "True"})
    unready = [s["name"] for s in init_statuses if s["name"] in sidecars and not s.get("ready")]
    unready += [s["name"] for s in statuses if not s.get("ready")]
    if phase == "Succeeded":
        ready: dict[str, Any] = {"status": "False", "reason": "PodCompleted"}
    elif phase == "Failed":
        ready = {"status": "False", "reason": "PodFailed"}
    elif unready:
        ready = {"status": "False", "reason": "ContainersNotReady",
                 "message": f"containers with unready status: {_names(unready)}"}
    else:
        ready = {"status": "True"}
    conditions.append({"type": "Ready", **ready})
    conditions.append({"type": "ContainersReady", **ready})
    conditions.append({"type": "PodScheduled", "status": "True"})
    return conditions


def _stamp(conditions: list[dict[str, Any]], old: list[dict[str, Any]], generation: int) -> list[dict[str, Any]]:
    """Add lastProbeTime/observedGeneration and keep lastTransitionTime while a status holds."""
    previous = {c.get("type"): c for c in old}
    now = clock.rfc3339()
    stamped = []
    for cond in conditions:
        before = previous.get(cond["type"])
        since = before.get("lastTransitionTime") if before and before.get("status") == cond["status"] else now
        stamped.append({"type": cond["type"], "status": cond["status"], "lastProbeTime": None,
                        "lastTransitionTime": since or now, "observedGeneration": generation,
                        **{k: cond[k] for k in ("reason", "message") if k in cond}})
    return stamped


# -- the whole status ---------------------------------------------------------------------------
def pod_status(pod: Obj, run: PodRun, now: float) -> dict[str, Any]:
    """The status the kubelet writes for ``pod``, merged over fields others own."""
    old = pod.get("status") or {}
    spec = pod.get("spec") or {}
    generation = int(pod["metadata"].get("generation") or 1)
    init_statuses = [container_status(c, now) for c in run.init_containers]
    statuses = [container_status(c, now) for c in run.app_containers]
    phase = pod_phase(spec, init_statuses, statuses, run.stopped)
    status = {k: copy.deepcopy(v) for k, v in old.items() if k not in KUBELET_FIELDS}
    status.setdefault("qosClass", qos_class(pod))
    others = [c for c in old.get("conditions") or [] if c.get("type") not in KUBELET_CONDITIONS]
    mine = _stamp(_kubelet_conditions(run, phase, init_statuses, statuses, spec), old.get("conditions") or [],
                  generation)
    status.update({"observedGeneration": generation, "phase": phase, "conditions": copy.deepcopy(others) + mine,
                   "startTime": run.start_time, "containerStatuses": statuses})
    if run.host_ip:
        status["hostIP"] = run.host_ip
        status["hostIPs"] = [{"ip": run.host_ip}]
    if run.pod_ip:
        status["podIP"] = run.pod_ip
        status["podIPs"] = [{"ip": run.pod_ip}]
    if init_statuses:
        status["initContainerStatuses"] = init_statuses
    return status
