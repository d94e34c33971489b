"""A minimal kubelet for every node: runs the pods bound to it, as far as the API can see.

For a pod bound to an existing node the kubelet writes, step by step, what a
real one reports: first ``Pending`` with ``ContainerCreating`` (or
``PodInitializing``) waiting states, host IP, start time and conditions; then
the volumes (a missing ConfigMap/Secret is a ``FailedMount`` event, retried with
back-off while the pod stays ``ContainerCreating``); then the sandbox (pod IP
from the node's ``spec.podCIDR``, PodReadyToStartContainers);
then, container by container, image pull (``Pulling``/``Pulled`` or "already
present" events, following imagePullPolicy and the images the node holds),
``Created``/``Started`` events and ``running`` states, with init containers run
to completion first and sidecars started first. A pull the runtime fails is
ErrImagePull, then ImagePullBackOff with the image back-off (10 s doubling to
5 min); a container whose ConfigMap/Secret reference cannot be resolved
(:mod:`.kubelet_config`) waits in CreateContainerConfigError and is retried.
Startup, liveness and readiness probes run on their own schedule
(``initialDelaySeconds``, ``periodSeconds``, thresholds), each run answered by
the runtime: failures are ``Unhealthy`` events, a failed liveness or startup
probe kills the container (``Killing``). Exits are restarted according to
restartPolicy with the kubelet's back-off: the exit (Error, OOMKilled) shows
until the next sync, then CrashLoopBackOff; a pod with a deletion timestamp has
its containers stopped (``Killing`` events), is moved to a terminal phase and
removed after ``min(grace period, STOP_SECONDS)``; a pod the eviction manager
failed (reason ``Evicted``) has its containers killed and stays ``Failed``.
The runtime is also asked periodically what a running container logs.

What each container does is decided by a :class:`~.kubelet_runtime.ContainerRuntime`
(the default: starts and becomes ready). Every delay is a simulated duration
multiplied by the cluster's ``time_scale`` (1.0 when the cluster has none).
"""

from __future__ import annotations

import asyncio
import ipaddress
import secrets
from typing import TYPE_CHECKING, Iterable, Iterator

from .. import clock
from ..kinds import preferred
from ..store import Obj, WatchEvent
from .base import Controller, ObjectKey, key_of
from .kubelet_config import ConfigError, container_config, mount_errors
from .kubelet_runtime import (ContainerContext, ContainerRuntime, DefaultRuntime, default_pull_policy,
                              normalize_image)
from .kubelet_status import (BACKOFF, EXITED, PULLING, RUNNING, WAITING, ContainerRun, PodRun, ProbeState,
                             pod_status)

if TYPE_CHECKING:
    from ..cluster import Cluster

PODS = preferred("", "Pod")
NODES = preferred("", "Node")

#: Simulated seconds from admission to a ready sandbox (pod IP assigned, PodReadyToStartContainers).
SANDBOX_SECONDS = 0.4
#: Simulated seconds a graceful stop takes at most (the grace period caps it).
STOP_SECONDS = 1.0
#: Simulated seconds before the first restart of an exited container (the next pod sync).
FIRST_RESTART_SECONDS = 1.0
#: The kubelet's crash back-off: 10 s doubling to 5 min; reset after a run of twice the maximum.
BACKOFF_INITIAL_SECONDS = 10.0
BACKOFF_MAX_SECONDS = 300.0
DEFAULT_GRACE_SECONDS = 30
#: Simulated seconds before the next pod sync reports a back-off (ImagePullBackOff, CrashLoopBackOff).
POD_SYNC_SECONDS = 1.0
#: Simulated seconds before a container in CreateContainerConfigError is tried again (the pod worker's back-off).
CONFIG_RETRY_SECONDS = 10.0
#: Simulated seconds between two questions to the runtime about what a running container logs.
OBSERVE_SECONDS = 10.0
#: The volume manager's retry of a failed mount: 0.5 s doubling to 2m2s.
MOUNT_RETRY_INITIAL_SECONDS = 0.5
MOUNT_RETRY_MAX_SECONDS = 122.0
#: Exit code of containers killed by an eviction (no grace period: SIGKILL).
EVICTED_EXIT_CODE = 137
PROBE_KINDS = (("startup", "startupProbe"), ("liveness", "livenessProbe"), ("readiness", "readinessProbe"))


def go_duration(seconds: float) -> str:
    """A duration as Go prints a ``time.Duration`` truncated to milliseconds (``1.234s``, ``1m20s``)."""
    millis = int(seconds * 1000)
    if millis < 1000:
        return f"{millis}ms" if millis else "0s"
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs = f"{rest // 1000}" + (f".{rest % 1000:03d}".rstrip("0") if rest % 1000 else "") + "s"
    if hours:
        return f"{hours}h{minutes}m{secs}"
    return f"{minutes}m{secs}" if minutes else secs


class KubeletController(Controller):
    """The kubelets of all nodes: one reconcile loop over pods bound to existing nodes."""

    name = "kubelet"
    watches = (PODS, NODES)

    def __init__(self, cluster: "Cluster", runtime: ContainerRuntime | None = None) -> None:
        super().__init__(cluster)
        self.runtime: ContainerRuntime = runtime or DefaultRuntime()
        self._runs: dict[ObjectKey, PodRun] = {}
        self._ips: dict[str, set[str]] = {}
        self._images: dict[str, set[str]] = {}

    @property
    def time_scale(self) -> float:
        return float(getattr(self.cluster, "time_scale", 1.0))

    def keys_for(self, event: WatchEvent) -> Iterable[ObjectKey]:
        if event.storage_key == PODS.storage_key:
            yield key_of(event.obj)
        elif event.type == "ADDED":  # a node (re)appeared: its pods can start now
            pods, _ = self.api.list(PODS, field_selector=f"spec.nodeName={event.obj['metadata']['name']}")
            yield from (key_of(p) for p in pods)

    # -- the loop ------------------------------------------------------------------------
    def reconcile(self, key: ObjectKey) -> None:
        pod = self.api.try_get(PODS, *key)
        run = self._runs.get(key)
        if run is not None and (pod is None or pod["metadata"]["uid"] != run.uid):
            self._forget(key, run)
            run = None
        node_name = ((pod or {}).get("spec") or {}).get("nodeName")
        if pod is None or not node_name:
            return
        node = self.api.try_get(NODES, "", node_name)
        if node is None:
            return
        now = asyncio.get_running_loop().time()
        if pod["metadata"].get("deletionTimestamp"):
            self._terminate(key, pod, run, now)
            return
        if run is None:
            if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                return
            run = self._runs[key] = self._admit(pod, node, now)
        if run.stopped:
            return
        if (pod.get("status") or {}).get("reason") == "Evicted":
            self._evicted(pod, run, now)
            return
        self._update_images(pod, run, now)
        self._advance(pod, run, node, now)
        self._write(pod, run, now)
        self._schedule(key, run, now)

    def _admit(self, pod: Obj, node: Obj, now: float) -> PodRun:
        spec = pod.get("spec") or {}
        initial = "PodInitializing" if spec.get("initContainers") else "ContainerCreating"
        run = PodRun(uid=pod["metadata"]["uid"], node=node["metadata"]["name"], host_ip=_internal_ip(node),
                     start_time=clock.rfc3339(), sandbox_due=now + SANDBOX_SECONDS * self.time_scale)
        run.containers = [ContainerRun(spec=c, init=True, waiting_reason=initial) for c in spec.get("initContainers") or []]
        run.containers += [ContainerRun(spec=c, init=False, waiting_reason=initial) for c in spec.get("containers") or []]
        return run

    def _update_images(self, pod: Obj, run: PodRun, now: float) -> None:
        """A container whose image was changed in the pod spec is restarted with the new one (its hash changed)."""
        spec = pod.get("spec") or {}
        current = {(True, c.get("name")): c for c in spec.get("initContainers") or []}
        current.update({(False, c.get("name")): c for c in spec.get("containers") or []})
        for c in run.containers:
            new = current.get((c.init, c.name))
            if new is None or new.get("image") == c.spec.get("image") or (c.initialized and not c.sidecar):
                continue
            c.spec = new
            if c.stage == RUNNING:
                self._event(pod, run, c, "Normal", "Killing",
                            f"Container {c.name} definition changed, will be restarted")
                self._exit(c, c.plan.stop_exit_code if c.plan else 0, None)
            elif c.stage in (WAITING, PULLING):  # a failing pull is tried again at once with the new image
                c.stage, c.due, c.pull_failures = WAITING, None, 0
                if c.waiting_reason in ("ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull"):
                    c.waiting_reason, c.waiting_message = "ContainerCreating", ""

    def _advance(self, pod: Obj, run: PodRun, node: Obj, now: float) -> None:
        """Apply every step that is due, in start order, until nothing more changes."""
        if not run.sandbox_ready:
            if now < run.sandbox_due or not self._volumes_mounted(pod, run, now):
                return
            run.sandbox_ready = True
            run.pod_ip = self._allocate_ip(pod, node, run)
        progress = True
        while progress:
            progress = False
            for c in list(_eligible(run)):
                progress = self._step(pod, run, node, c, now) or progress

    def _step(self, pod: Obj, run: PodRun, node: Obj, c: ContainerRun, now: float) -> bool:
        if c.stage == WAITING:
            if c.waiting_reason == "ErrImageNeverPull" or (c.due is not None and now < c.due):
                return False
            if c.waiting_reason == "ErrImagePull":
                self._image_back_off(pod, run, c, now)
                return True
            return self._begin(pod, run, node, c, now)
        if c.stage == PULLING:
            if c.due is None or now < c.due or c.pull is None:
                return False
            if c.pull.error is not None:
                self._pull_failed(pod, run, c, now)
                return True
            c.pull_failures = 0
            self._node_images(node).add(normalize_image(c.spec.get("image", "")))
            took = go_duration(c.pull.seconds)
            self._event(pod, run, c, "Normal", "Pulled",
                        f'Successfully pulled image "{c.spec.get("image", "")}" in {took} ({took} including waiting). '
                        f"Image size: {c.pull.size_bytes} bytes.")
            self._start(pod, run, c, now)
            return True
        if c.stage == RUNNING:
            if c.sidecar and not c.initialized and c.started(now):
                c.initialized = True
                return True
            if c.exit_due is not None and now >= c.exit_due and c.plan is not None:
                self._exit(c, c.plan.exit_code, c.plan.exit_reason)
                return True
            self._observe(pod, run, c, now)
            return self._probe(pod, run, c, now)
        if c.stage == EXITED:
            if not self._restarts(pod, c):
                return False
            self._back_off(pod, run, c, now)
            return True
        if c.stage == BACKOFF and c.due is not None and now >= c.due:
            c.restarts += 1
            c.last_terminated, c.terminated, c.crash_loop, c.loop_due = c.terminated, None, False, None
            return self._begin(pod, run, node, c, now)
        if c.stage == BACKOFF and not c.crash_loop and c.loop_due is not None and now >= c.loop_due:
            self._crash_loop(pod, run, c)
            return True
        return False

    def _volumes_mounted(self, pod: Obj, run: PodRun, now: float) -> bool:
        """Set up the pod's volumes; a missing ConfigMap/Secret is a ``FailedMount``, retried with back-off."""
        errors = mount_errors(self.api, pod)
        if not errors:
            return True
        for message in errors:
            self.cluster.events.record(pod, "Warning", "FailedMount", message, "kubelet", instance=run.node)
        delay = min(MOUNT_RETRY_INITIAL_SECONDS * 2 ** run.mount_failures, MOUNT_RETRY_MAX_SECONDS)
        run.mount_failures += 1
        run.sandbox_due = now + delay * self.time_scale
        return False

    # -- container steps ---------------------------------------------------------------------
    def _context(self, pod: Obj, run: PodRun, c: ContainerRun, now: float | None = None) -> ContainerContext:
        config = c.config
        elapsed = 0.0 if now is None else (now - c.run_since) / self.time_scale
        return ContainerContext(pod=pod, container=c.spec, init=c.init, restart_count=c.restarts, node=run.node,
                                env=dict(config.env) if config else {}, files=dict(config.files) if config else {},
                                pod_ip=run.pod_ip, elapsed=elapsed)

    def _begin(self, pod: Obj, run: PodRun, node: Obj, c: ContainerRun, now: float) -> bool:
        """Pull the image if the policy asks for it, else start at once."""
        image = c.spec.get("image", "")
        policy = c.spec.get("imagePullPolicy") or default_pull_policy(image)
        present = normalize_image(image) in self._node_images(node)
        if policy == "Never" and not present:
            c.stage, c.waiting_reason = WAITING, "ErrImageNeverPull"
            c.waiting_message = f'Container image "{image}" is not present with pull policy of Never'
            self._event(pod, run, c, "Warning", "ErrImageNeverPull", c.waiting_message)
            return True
        if policy == "Always" or not present:
            c.pull = self.runtime.pull(self._context(pod, run, c))
            c.stage, c.due = PULLING, now + c.pull.seconds * self.time_scale
            self._event(pod, run, c, "Normal", "Pulling", f'Pulling image "{image}"')
            return True
        self._event(pod, run, c, "Normal", "Pulled",
                    f'Container image "{image}" already present on machine and can be accessed by the pod')
        self._start(pod, run, c, now)
        return True

    def _start(self, pod: Obj, run: PodRun, c: ContainerRun, now: float) -> None:
        try:
            c.config = container_config(self.api, pod, c.spec)
        except ConfigError as err:
            c.stage, c.waiting_reason, c.waiting_message = WAITING, "CreateContainerConfigError", str(err)
            c.due = now + CONFIG_RETRY_SECONDS * self.time_scale
            self._event(pod, run, c, "Warning", "Failed", f"Error: {err}")
            return
        plan = self.runtime.start(self._context(pod, run, c))
        scale = self.time_scale
        c.plan, c.stage, c.due, c.ever_started = plan, RUNNING, None, True
        c.container_id = secrets.token_hex(32)
        c.started_at, c.run_since = clock.rfc3339(), now
        c.started_due = now + plan.started_after * scale
        c.ready_due = None if plan.ready_after is None else now + plan.ready_after * scale
        c.exit_due = None if plan.exit_after is None else now + plan.exit_after * scale
        c.waiting_message = ""
        c.probes = {kind: ProbeState(spec=c.spec[field], due=now + float(c.spec[field].get("initialDelaySeconds") or 0)
                                     * scale)
                    for kind, field in PROBE_KINDS if c.spec.get(field) and not (c.init and not c.sidecar)}
        c.observe_due = now + OBSERVE_SECONDS * scale if plan.observe else None
        self._event(pod, run, c, "Normal", "Created", "Container created")
        self._event(pod, run, c, "Normal", "Started", "Container started")
        book = self.cluster.logbook
        book.start_instance(run.uid, c.name)
        for line in plan.logs:
            book.write(run.uid, c.name, line)

    def _pull_failed(self, pod: Obj, run: PodRun, c: ContainerRun, now: float) -> None:
        """ErrImagePull: report the runtime's error, start (or double) the image's back-off."""
        image, error = c.spec.get("image", ""), c.pull.error if c.pull else ""
        self._event(pod, run, c, "Warning", "Failed", f'Failed to pull image "{image}": {error}')
        self._event(pod, run, c, "Warning", "Failed", "Error: ErrImagePull")
        delay = min(BACKOFF_INITIAL_SECONDS * 2 ** c.pull_failures, BACKOFF_MAX_SECONDS)
        c.pull_failures += 1
        c.stage, c.waiting_reason, c.waiting_message = WAITING, "ErrImagePull", error or ""
        c.due = now + POD_SYNC_SECONDS * self.time_scale
        c.retry_due = now + delay * self.time_scale

    def _image_back_off(self, pod: Obj, run: PodRun, c: ContainerRun, now: float) -> None:
        """ImagePullBackOff until the back-off expires; then the image is pulled again."""
        image = c.spec.get("image", "")
        self._event(pod, run, c, "Normal", "BackOff", f'Back-off pulling image "{image}"')
        self._event(pod, run, c, "Warning", "Failed", "Error: ImagePullBackOff")
        c.waiting_message = f'Back-off pulling image "{image}": ErrImagePull: {c.waiting_message}'
        c.waiting_reason = "ImagePullBackOff"
        c.due = max(c.retry_due or now, now)

    # -- probes and logs of running containers ---------------------------------------------------
    def _observe(self, pod: Obj, run: PodRun, c: ContainerRun, now: float) -> None:
        if c.observe_due is None or now < c.observe_due:
            return
        c.observe_due = now + OBSERVE_SECONDS * self.time_scale
        for line in self.runtime.observe(self._context(pod, run, c, now), OBSERVE_SECONDS):
            self.cluster.logbook.write(run.uid, c.name, line)

    def _probe(self, pod: Obj, run: PodRun, c: ContainerRun, now: float) -> bool:
        """Run the probes that are due; returns True when a failed liveness/startup probe killed the container."""
        for kind, _ in PROBE_KINDS:  # startup first: its success lets the others run at once
            state = c.probes.get(kind)
            if state is None or now < state.due or (kind == "startup") == c.started(now):
                continue
            state.due = now + state.period() * self.time_scale
            result = self.runtime.probe(self._context(pod, run, c, now), kind, state.spec)
            if not result.success:
                self._event(pod, run, c, "Warning", "Unhealthy", f"{kind.capitalize()} probe failed: {result.output}")
            state.record(result.success)
            if kind != "readiness" and state.result is False:
                self._event(pod, run, c, "Normal", "Killing",
                            f"Container {c.name} failed {kind} probe, will be restarted")
                self._exit(c, c.plan.stop_exit_code if c.plan else 137, None)
                return True
        return False

    @staticmethod
    def _exit(c: ContainerRun, code: int, reason: str | None) -> None:
        c.terminated = {"exitCode": code, "reason": reason or ("Completed" if code == 0 else "Error"),
                        "startedAt": c.started_at, "finishedAt": clock.rfc3339(),
                        "containerID": f"containerd://{c.container_id}"}
        c.stage, c.exit_due, c.ready_due = EXITED, None, None
        if c.init and not c.sidecar and code == 0:
            c.initialized = True

    @staticmethod
    def _restarts(pod: Obj, c: ContainerRun) -> bool:
        """Whether an exited container is started again (restartPolicy; sidecars always)."""
        code = (c.terminated or {}).get("exitCode", 0)
        policy = (pod.get("spec") or {}).get("restartPolicy") or "Always"
        if c.sidecar:
            return True
        if c.init:
            return code != 0 and policy != "Never"
        return policy == "Always" or (policy == "OnFailure" and code != 0)

    def _back_off(self, pod: Obj, run: PodRun, c: ContainerRun, now: float) -> None:
        """Schedule the restart; the exit stays visible (Error, OOMKilled) until the next sync reports the back-off."""
        scale = self.time_scale
        if now - c.run_since >= 2 * BACKOFF_MAX_SECONDS * scale:
            c.backoff_step = 0
        c.crash_loop, c.loop_due = False, None
        if c.backoff_step == 0:
            delay = FIRST_RESTART_SECONDS
        else:
            delay = min(BACKOFF_INITIAL_SECONDS * 2 ** (c.backoff_step - 1), BACKOFF_MAX_SECONDS)
            c.loop_due = now + min(POD_SYNC_SECONDS, delay) * scale
        c.backoff_delay = delay
        c.backoff_step += 1
        c.stage, c.due = BACKOFF, now + delay * scale

    def _crash_loop(self, pod: Obj, run: PodRun, c: ContainerRun) -> None:
        """CrashLoopBackOff: the waiting state and the BackOff event of a container restarted after a delay."""
        c.crash_loop = True
        meta = pod["metadata"]
        who = f"{meta['name']}_{meta.get('namespace', '')}({meta['uid']})"
        c.waiting_message = f"back-off {go_duration(c.backoff_delay)} restarting failed container={c.name} pod={who}"
        self._event(pod, run, c, "Warning", "BackOff", f"Back-off restarting failed container {c.name} in pod {who}")

    # -- eviction and deletion ----------------------------------------------------------------------
    def _evicted(self, pod: Obj, run: PodRun, now: float) -> None:
        """The eviction manager failed the pod: kill its containers at once (SIGKILL, 137); it stays Failed."""
        for c in run.containers:
            if c.stage == RUNNING:
                self._event(pod, run, c, "Normal", "Killing", f"Stopping container {c.name}")
                self._exit(c, EVICTED_EXIT_CODE, None)
            elif c.stage == BACKOFF:
                c.stage = EXITED
        run.stopped = True
        self._write(pod, run, now)

    # -- deletion --------------------------------------------------------------------------------
    def _terminate(self, key: ObjectKey, pod: Obj, run: PodRun | None, now: float) -> None:
        """Stop the containers (after at most the grace period), report a terminal phase, remove the pod."""
        if run is not None and not run.stopped:
            running = [c for c in run.containers if c.stage == RUNNING]
            if running and run.kill_due is None:
                for c in running:
                    self._event(pod, run, c, "Normal", "Killing", f"Stopping container {c.name}")
                run.kill_due = now + min(_grace_seconds(pod), STOP_SECONDS) * self.time_scale
            if run.kill_due is not None and now < run.kill_due:
                self.requeue_after(key, run.kill_due - now)
                return
            for c in run.containers:
                if c.stage == RUNNING and c.plan is not None:
                    self._exit(c, c.plan.stop_exit_code, None)
                elif c.stage == BACKOFF:
                    c.stage = EXITED
            run.stopped = True
            pod = self._write(pod, run, now)
        self.api.finish_delete(PODS, pod)
        if run is not None and self.api.try_get(PODS, *key) is None:
            self._forget(key, run)

    # -- bookkeeping -------------------------------------------------------------------------------
    def _write(self, pod: Obj, run: PodRun, now: float) -> Obj:
        status = pod_status(pod, run, now)
        if status == (pod.get("status") or {}):
            return pod

        def set_status(live: Obj) -> None:
            live["status"] = status

        return self.api.patch_object(PODS, pod["metadata"]["namespace"], pod["metadata"]["name"], set_status,
                                     subresource="status")

    def _schedule(self, key: ObjectKey, run: PodRun, now: float) -> None:
        """Wake up at the next due step or readiness/start-up change."""
        dues = [run.sandbox_due] if not run.sandbox_ready else []
        for c in run.containers:
            if c.stage in (PULLING, BACKOFF) and c.due is not None:
                dues.append(c.due)
                if c.stage == BACKOFF and not c.crash_loop and c.loop_due is not None:
                    dues.append(c.loop_due)
            elif c.stage == RUNNING:
                timers = (c.started_due, c.ready_due, c.exit_due, c.observe_due)
                dues += [t for t in timers if t is not None and t > now]
                dues += [p.due for p in c.probes.values() if p.due > now]
            elif c.stage == WAITING and c.due is not None:
                dues.append(c.due)
        if dues:
            self.requeue_after(key, max(min(dues) - now, 0.0))

    def _event(self, pod: Obj, run: PodRun, c: ContainerRun, type_: str, reason: str, message: str) -> None:
        self.cluster.events.record(pod, type_, reason, message, "kubelet", c.field_path, instance=run.node)

    def _node_images(self, node: Obj) -> set[str]:
        """Images present on the node: those its status lists, plus what this kubelet pulled."""
        name = node["metadata"]["name"]
        if name not in self._images:
            listed = ((node.get("status") or {}).get("images")) or []
            self._images[name] = {normalize_image(n) for image in listed for n in image.get("names") or []
                                  if "@" not in n}
        return self._images[name]

    def _allocate_ip(self, pod: Obj, node: Obj, run: PodRun) -> str:
        """The host IP for hostNetwork pods, else the first free address of the node's podCIDR."""
        if (pod.get("spec") or {}).get("hostNetwork"):
            return run.host_ip
        cidr = (node.get("spec") or {}).get("podCIDR")
        if not cidr:
            return ""
        taken = self._ips.setdefault(run.node, set())
        on_node, _ = self.api.list(PODS, field_selector=f"spec.nodeName={run.node}")
        in_use = taken | {(p.get("status") or {}).get("podIP") for p in on_node}
        network = ipaddress.ip_network(cidr, strict=False)
        gateway = next(network.hosts(), None)
        for address in network.hosts():
            ip = str(address)
            if address != gateway and ip not in in_use:
                taken.add(ip)
                return ip
        return ""

    def _forget(self, key: ObjectKey, run: PodRun) -> None:
        self._runs.pop(key, None)
        if run.pod_ip and run.pod_ip != run.host_ip:
            self._ips.get(run.node, set()).discard(run.pod_ip)
        self.cluster.logbook.forget(run.uid)


def _eligible(run: PodRun) -> Iterator[ContainerRun]:
    """Containers allowed to act now: init containers in turn, then app containers one after another."""
    for c in run.init_containers:
        yield c
        if not c.initialized:
            return
    previous_started = True
    for c in run.app_containers:
        if not previous_started:
            return
        yield c
        previous_started = c.ever_started


def _internal_ip(node: Obj) -> str:
    for address in (node.get("status") or {}).get("addresses") or []:
        if address.get("type") == "InternalIP":
            return address.get("address", "")
    return ""


def _grace_seconds(pod: Obj) -> int:
    grace = pod["metadata"].get("deletionGracePeriodSeconds")
    if grace is None:
        grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds", DEFAULT_GRACE_SECONDS)
    return int(grace)
