"""The container runtime seen by the simulated kubelet: a strategy deciding each container's fate.

The kubelet (:mod:`.kubelet`) owns the mechanics every pod shares (sandbox,
image pulls, start order, probes' timing, exits, restarts with back-off,
graceful stops, status and events). What a particular container *does* is
asked of a :class:`ContainerRuntime`: how long its image takes to pull, what it
logs, when it becomes started and ready, whether and how it exits, how it
answers SIGTERM, what each probe run returns and what it logs while running.
:class:`DefaultRuntime` is the well-behaved workload: it starts, logs a couple
of lines and becomes ready (honouring the probes' ``initialDelaySeconds``); init containers and commands of run-to-completion pods
exit 0 after a short while; its probes always succeed. The behaviour model
(:mod:`chaositbench.sim.behaviour.runtime`) plugs in by passing its own runtime
to :class:`~.kubelet.KubeletController`, as every cluster does.

All durations are simulated seconds; the kubelet multiplies them by the
cluster's ``time_scale``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..store import Obj

#: Simulated time the default runtime takes to pull an image: base plus a per-image share of the spread.
PULL_BASE_SECONDS = 0.8
PULL_SPREAD_SECONDS = 0.8
#: Image sizes the default runtime reports, spread per image between these bounds.
IMAGE_SIZE_MIN, IMAGE_SIZE_MAX = 5_000_000, 200_000_000
#: How long an init container of the default runtime runs before exiting 0.
INIT_RUN_SECONDS = 0.5
#: How long a command of a run-to-completion pod (restartPolicy Never/OnFailure) runs before exiting 0.
JOB_RUN_SECONDS = 2.0


@dataclass(frozen=True)
class ContainerContext:
    """What the runtime is told about the container instance it is asked about.

    ``env`` and ``files`` are what the kubelet resolved for the container (its
    environment, and path → content of its ConfigMap/Secret mounts); ``elapsed``
    is how long the instance has been running, in simulated seconds.
    """

    pod: Obj
    container: dict[str, Any]
    init: bool  # an init container (a sidecar when its restartPolicy is Always)
    restart_count: int
    node: str
    env: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    pod_ip: str = ""
    elapsed: float = 0.0


@dataclass(frozen=True)
class PullPlan:
    """How an image pull goes: its duration and the image size reported, or the runtime's error."""

    seconds: float
    size_bytes: int
    error: str | None = None  # e.g. "rpc error: code = NotFound desc = ..." when the pull fails


@dataclass(frozen=True)
class ProbeResult:
    """One probe's outcome; ``output`` is what the kubelet reports when it failed."""

    success: bool
    output: str = ""


@dataclass(frozen=True)
class ContainerPlan:
    """The fate of one container instance, decided when it starts.

    ``started_after``/``ready_after`` are seconds after start at which the
    container counts as started (startup probe) and ready (readiness probe);
    ``ready_after`` None means it never becomes ready. ``exit_after`` None means
    it runs until stopped; otherwise it exits by itself with ``exit_code`` and
    ``exit_reason`` (default ``Completed`` for 0, ``Error`` otherwise).
    ``stop_exit_code`` is its exit code when the kubelet stops it; ``observe``
    asks the kubelet to call :meth:`ContainerRuntime.observe` while it runs.
    """

    logs: tuple[str, ...] = ()
    started_after: float = 0.0
    ready_after: float | None = 0.0
    exit_after: float | None = None
    exit_code: int = 0
    exit_reason: str | None = None
    stop_exit_code: int = 0
    observe: bool = False  # ask the runtime periodically what the running container logs


class ContainerRuntime(Protocol):
    """Decides image pulls and container fates for the kubelet."""

    def pull(self, ctx: ContainerContext) -> PullPlan:
        """The pull of ``ctx.container``'s image (only asked when the kubelet pulls)."""
        ...

    def start(self, ctx: ContainerContext) -> ContainerPlan:
        """The fate of the container instance starting now."""
        ...

    def probe(self, ctx: ContainerContext, kind: str, probe: dict[str, Any]) -> ProbeResult:
        """Run one ``kind`` ("startup", "liveness", "readiness") probe of the running container."""
        ...

    def observe(self, ctx: ContainerContext, seconds: float) -> tuple[str, ...]:
        """Lines the running container logs over the last ``seconds`` (asked periodically)."""
        ...


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


class DefaultRuntime:
    """Every container starts, logs a little and becomes ready; run-to-completion ones exit 0."""

    def pull(self, ctx: ContainerContext) -> PullPlan:
        seed = int.from_bytes(_digest(ctx.container.get("image", ""))[:4], "big") / 0xFFFFFFFF
        seconds = PULL_BASE_SECONDS + PULL_SPREAD_SECONDS * seed
        return PullPlan(seconds=seconds, size_bytes=int(IMAGE_SIZE_MIN + (IMAGE_SIZE_MAX - IMAGE_SIZE_MIN) * seed))

    def start(self, ctx: ContainerContext) -> ContainerPlan:
        container = ctx.container
        started_after = _initial_delay(container.get("startupProbe"))
        ready_after = max(started_after, _initial_delay(container.get("readinessProbe")))
        sidecar = ctx.init and container.get("restartPolicy") == "Always"
        restart_policy = (ctx.pod.get("spec") or {}).get("restartPolicy") or "Always"
        if ctx.init and not sidecar:
            return ContainerPlan(started_after=0.0, ready_after=None, exit_after=INIT_RUN_SECONDS)
        if restart_policy != "Always" and container.get("command") and not sidecar:
            return ContainerPlan(started_after=started_after, ready_after=ready_after, exit_after=JOB_RUN_SECONDS)
        return ContainerPlan(logs=_startup_lines(container), started_after=started_after, ready_after=ready_after)

    def probe(self, ctx: ContainerContext, kind: str, probe: dict[str, Any]) -> ProbeResult:
        return ProbeResult(success=True)

    def observe(self, ctx: ContainerContext, seconds: float) -> tuple[str, ...]:
        return ()


def _initial_delay(probe: dict[str, Any] | None) -> float:
    return float((probe or {}).get("initialDelaySeconds") or 0)


def _startup_lines(container: dict[str, Any]) -> tuple[str, ...]:
    lines = [f"Starting {container.get('name', '')} ({container.get('image', '')})"]
    for port in container.get("ports") or []:
        lines.append(f"Listening on {str(port.get('protocol') or 'TCP').lower()} port {port.get('containerPort')}")
    lines.append("Ready to accept connections")
    return tuple(lines)


# -- image references, as containerd reports them ------------------------------------------------
def normalize_image(image: str) -> str:
    """``nginx:1.27`` → ``docker.io/library/nginx:1.27`` (default registry, library/ and ``:latest``)."""
    name, at, digest = image.partition("@")
    first, slash, rest = name.partition("/")
    if not slash or ("." not in first and ":" not in first and first != "localhost"):
        name = f"docker.io/{name if slash else 'library/' + name}"
    if not at and ":" not in name.rsplit("/", 1)[-1]:
        name += ":latest"
    return f"{name}{at}{digest}"


def image_id(image: str) -> str:
    """The repo digest of an image (stable per image reference)."""
    normalized = normalize_image(image)
    if "@" in normalized:
        return normalized
    repository = normalized.rsplit(":", 1)[0] if ":" in normalized.rsplit("/", 1)[-1] else normalized
    return f"{repository}@sha256:{hashlib.sha256(normalized.encode()).hexdigest()}"


def default_pull_policy(image: str) -> str:
    """``Always`` for ``:latest`` or untagged images, else ``IfNotPresent`` (the API default)."""
    name = image.partition("@")[0]
    if "@" in image:
        return "IfNotPresent"
    last = name.rsplit("/", 1)[-1]
    return "Always" if ":" not in last or last.endswith(":latest") else "IfNotPresent"
