"""The Job controller: run pods to completion, counting successes and failures.

Pods carry the ``batch.kubernetes.io/job-tracking`` finalizer until the
controller has counted them, so no finished pod is missed. Failed pods
(and pods deleted before they finished) count as failures and are replaced
after an exponential back-off (10 s doubling, at most 10 min); once
``failed > backoffLimit`` (or, for ``restartPolicy: OnFailure``, the container
restarts reach it) or ``activeDeadlineSeconds`` passes, the Job gets
``FailureTarget``, its remaining pods are deleted, then ``Failed``. When enough
pods succeeded it gets ``SuccessCriteriaMet``, then ``Complete`` with
``completionTime`` once no pod is left terminating. ``NonIndexed`` and
``Indexed`` completion modes, ``suspend`` and ``ttlSecondsAfterFinished`` are
honoured; the status keeps ``active``, ``ready``, ``terminating``,
``uncountedTerminatedPods`` and ``completedIndexes`` as the real one does.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from .. import clock
from ..kinds import preferred
from ..store import Obj, WatchEvent
from .base import Controller, ObjectKey, key_of
from .ownership import controller_ref
from .podstate import condition, is_ready
from .podutil import is_terminal, is_terminating, owned_by, pod_from_template, set_condition

if TYPE_CHECKING:
    from ..cluster import Cluster

JOBS = preferred("batch", "Job")
PODS = preferred("", "Pod")
COMPONENT = "job-controller"
TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
INDEX_KEY = "batch.kubernetes.io/job-completion-index"
BACKOFF_LIMIT = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
DEADLINE = ("DeadlineExceeded", "Job was active longer than specified deadline")
COMPLETIONS_REACHED = ("CompletionsReached", "Reached expected number of succeeded pods")


def finished_condition(job: Obj) -> dict[str, Any] | None:
    """The ``Complete`` or ``Failed`` condition when the Job has finished."""
    for type_ in ("Complete", "Failed"):
        cond = condition(job, type_)
        if cond is not None and cond.get("status") == "True":
            return cond
    return None


def pod_failed(pod: Obj) -> bool:
    """``isPodFailed`` under the default replacement policy: failed, or deleted before succeeding."""
    phase = (pod.get("status") or {}).get("phase")
    return phase == "Failed" or (is_terminating(pod) and phase != "Succeeded")


def pod_index(pod: Obj) -> int | None:
    """The completion index of an Indexed Job's pod."""
    raw = (pod["metadata"].get("annotations") or {}).get(INDEX_KEY)
    return int(raw) if raw is not None and raw.isdigit() else None


def format_indexes(indexes: set[int]) -> str:
    """``completedIndexes`` text: ``1,3-5,7``."""
    parts, ordered, i = [], sorted(indexes), 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(parts)


def parse_indexes(text: str | None) -> set[int]:
    """The indexes of a ``completedIndexes`` text."""
    found: set[int] = set()
    for part in (text or "").split(","):
        if "-" in part:
            low, high = part.split("-", 1)
            found.update(range(int(low), int(high) + 1))
        elif part.strip():
            found.add(int(part))
    return found


@dataclass
class Tally:
    """What one pass learned from the Job's pods."""

    active: list[Obj] = field(default_factory=list)
    terminating: int = 0
    new_succeeded: list[Obj] = field(default_factory=list)
    new_failed: list[Obj] = field(default_factory=list)
    restarts: int = 0


class JobController(Controller):
    """Drives Jobs to completion."""

    name = "job"
    watches = (JOBS, PODS)
    #: first replacement delay after a failure (DefaultJobPodFailureBackOff); doubles per failure
    failure_backoff_s = 10.0
    max_backoff_s = 600.0

    def __init__(self, cluster: "Cluster") -> None:
        super().__init__(cluster)
        self._failures: dict[str, tuple[int, float]] = {}  # job uid -> (failures since last success, when)

    def keys_for(self, event: WatchEvent) -> Iterator[ObjectKey]:
        if event.storage_key == JOBS.storage_key:
            yield key_of(event.obj)
            return
        ref = controller_ref(event.obj)
        if ref is not None and ref.get("kind") == "Job" and ref.get("apiVersion") == JOBS.api_version:
            yield event.obj["metadata"]["namespace"], ref["name"]

    # -- reconcile --------------------------------------------------------------------
    def reconcile(self, key: ObjectKey) -> None:
        namespace, name = key
        job = self.api.try_get(JOBS, namespace, name)
        pods, _ = self.api.list(PODS, namespace)
        if job is None:
            self._release(p for p in pods if (controller_ref(p) or {}).get("name") == name
                          and (controller_ref(p) or {}).get("kind") == "Job")
            return
        mine = owned_by(pods, job)
        if finished_condition(job) is not None or job["metadata"].get("deletionTimestamp"):
            self._release(mine)
            self._expire(job)
            return
        status = copy.deepcopy(job.get("status") or {})
        tally = self._tally(job, mine)
        self._count(job, status, tally)
        spec = job.get("spec") or {}
        if spec.get("suspend"):
            self._suspend(job, status, tally)
        else:
            self._run(job, status, tally)
        self._write_status(job, status, tally)

    def _tally(self, job: Obj, pods: list[Obj]) -> Tally:
        tally = Tally()
        on_failure = ((job.get("spec") or {}).get("template") or {}).get("spec", {}).get("restartPolicy") == "OnFailure"
        for pod in pods:
            tracked = TRACKING_FINALIZER in (pod["metadata"].get("finalizers") or [])
            if tracked and (pod.get("status") or {}).get("phase") == "Succeeded":
                tally.new_succeeded.append(pod)
            elif tracked and pod_failed(pod):
                tally.new_failed.append(pod)
            if is_terminating(pod) and not is_terminal(pod):
                tally.terminating += 1
            elif not is_terminal(pod) and not is_terminating(pod):
                tally.active.append(pod)
                if on_failure:
                    statuses = (pod.get("status") or {}).get("containerStatuses") or []
                    tally.restarts += sum(int(s.get("restartCount", 0)) for s in statuses)
        return tally

    def _count(self, job: Obj, status: dict[str, Any], tally: Tally) -> None:
        """Fold newly finished pods into the counters, then let them go."""
        uid = job["metadata"]["uid"]
        if tally.new_succeeded:
            status["succeeded"] = status.get("succeeded", 0) + len(tally.new_succeeded)
            indexes = parse_indexes(status.get("completedIndexes"))
            indexes.update(i for i in map(pod_index, tally.new_succeeded) if i is not None)
            if indexes:
                status["completedIndexes"] = format_indexes(indexes)
            self._failures.pop(uid, None)
        if tally.new_failed:
            status["failed"] = status.get("failed", 0) + len(tally.new_failed)
            count, _ = self._failures.get(uid, (0, 0.0))
            self._failures[uid] = (count + len(tally.new_failed), time.monotonic())
        self._release(tally.new_succeeded + tally.new_failed)

    # -- the life of a running Job ----------------------------------------------------------
    def _run(self, job: Obj, status: dict[str, Any], tally: Tally) -> None:
        spec = job.get("spec") or {}
        now = clock.now()
        conditions = status.setdefault("conditions", [])
        suspended = condition(job, "Suspended")
        if suspended is not None and suspended.get("status") == "True":
            set_condition(conditions, "Suspended", "False", "JobResumed", "Job resumed", probe_time=True)
            self.cluster.events.record(job, "Normal", "Resumed", "Job resumed", COMPONENT)
            status["startTime"] = clock.rfc3339(now)
        status.setdefault("startTime", clock.rfc3339(now))
        failure = self._failure_reason(job, status, tally)
        target = condition({"status": status}, "FailureTarget")
        if failure is None and target is not None and target.get("status") == "True":
            failure = (target.get("reason", BACKOFF_LIMIT[0]), target.get("message", BACKOFF_LIMIT[1]))
        if failure is not None:
            self._finish(job, status, tally, "FailureTarget", "Failed", failure)
            return
        if self._complete(job, status, tally):
            self._finish(job, status, tally, "SuccessCriteriaMet", "Complete", COMPLETIONS_REACHED)
            return
        self._scale(job, status, tally)
        deadline = spec.get("activeDeadlineSeconds")
        if deadline is not None:
            start = clock.parse(status["startTime"]) or now
            self.requeue_after(key_of(job), max((start + timedelta(seconds=deadline) - now).total_seconds(), 0) + 0.01)

    def _failure_reason(self, job: Obj, status: dict[str, Any], tally: Tally) -> tuple[str, str] | None:
        spec = job.get("spec") or {}
        limit = int(spec.get("backoffLimit", 6))
        if status.get("failed", 0) > limit:
            return BACKOFF_LIMIT
        on_failure = (spec.get("template") or {}).get("spec", {}).get("restartPolicy") == "OnFailure"
        if on_failure and tally.restarts > 0 and tally.restarts >= max(limit, 1):
            return BACKOFF_LIMIT
        deadline = spec.get("activeDeadlineSeconds")
        start = clock.parse(status.get("startTime"))
        if deadline is not None and start is not None and clock.now() >= start + timedelta(seconds=deadline):
            return DEADLINE
        return None

    @staticmethod
    def _complete(job: Obj, status: dict[str, Any], tally: Tally) -> bool:
        spec = job.get("spec") or {}
        completions = spec.get("completions")
        if completions is None:
            return status.get("succeeded", 0) > 0 and not tally.active
        if spec.get("completionMode") == "Indexed":
            return len(parse_indexes(status.get("completedIndexes"))) >= completions
        return status.get("succeeded", 0) >= completions

    def _finish(self, job: Obj, status: dict[str, Any], tally: Tally, interim: str, final: str,
                why: tuple[str, str]) -> None:
        """Mark the interim condition, remove what still runs, and finish once nothing terminates."""
        conditions = status.setdefault("conditions", [])
        set_condition(conditions, interim, "True", *why, probe_time=True)
        for pod in tally.active:
            self._delete_pod(job, pod)
            tally.terminating += 1
        tally.active = []
        if tally.terminating:
            return
        set_condition(conditions, final, "True", *why, probe_time=True)
        if final == "Complete":
            status["completionTime"] = clock.rfc3339()
            self.cluster.events.record(job, "Normal", "Completed", "Job completed", COMPONENT)
        else:
            self.cluster.events.record(job, "Warning", why[0], why[1], COMPONENT)

    def _scale(self, job: Obj, status: dict[str, Any], tally: Tally) -> None:
        spec = job.get("spec") or {}
        parallelism = int(spec.get("parallelism", 1))
        completions = spec.get("completions")
        succeeded = status.get("succeeded", 0)
        if spec.get("completionMode") == "Indexed" and completions is not None:
            self._scale_indexed(job, status, tally, parallelism, int(completions))
            return
        if completions is None:
            want = len(tally.active) if succeeded > 0 else parallelism
        else:
            want = min(parallelism, max(int(completions) - succeeded, 0))
        if len(tally.active) > want:
            surplus = sorted(tally.active, key=lambda p: (is_ready(p), p["metadata"].get("creationTimestamp", "")))
            for pod in surplus[:len(tally.active) - want]:
                self._delete_pod(job, pod)
                tally.active.remove(pod)
                tally.terminating += 1
        elif len(tally.active) < want and self._backoff_over(job):
            for _ in range(want - len(tally.active)):
                tally.active.append(self._create_pod(job, None))

    def _scale_indexed(self, job: Obj, status: dict[str, Any], tally: Tally, parallelism: int,
                       completions: int) -> None:
        done = parse_indexes(status.get("completedIndexes"))
        running = {pod_index(p) for p in tally.active}
        missing = [i for i in range(completions) if i not in done and i not in running]
        room = parallelism - len(tally.active)
        if missing and room > 0 and self._backoff_over(job):
            for index in missing[:room]:
                tally.active.append(self._create_pod(job, index))

    def _backoff_over(self, job: Obj) -> bool:
        """Replacement pods wait out the failure back-off; ask to be woken when it ends."""
        failures, since = self._failures.get(job["metadata"]["uid"], (0, 0.0))
        if failures == 0:
            return True
        delay = min(self.failure_backoff_s * 2 ** (failures - 1), self.max_backoff_s) * self.cluster.time_scale
        remaining = since + delay - time.monotonic()
        if remaining > 0:
            self.requeue_after(key_of(job), remaining)
            return False
        return True

    def _suspend(self, job: Obj, status: dict[str, Any], tally: Tally) -> None:
        for pod in tally.active:
            self._delete_pod(job, pod)
            tally.terminating += 1
        tally.active = []
        conditions = status.setdefault("conditions", [])
        if set_condition(conditions, "Suspended", "True", "JobSuspended", "Job suspended", probe_time=True):
            self.cluster.events.record(job, "Normal", "Suspended", "Job suspended", COMPONENT)

    # -- writes ---------------------------------------------------------------------------
    def _create_pod(self, job: Obj, index: int | None) -> Obj:
        meta = job["metadata"]
        template = copy.deepcopy((job.get("spec") or {}).get("template") or {})
        labels = {"batch.kubernetes.io/controller-uid": meta["uid"], "batch.kubernetes.io/job-name": meta["name"],
                  "controller-uid": meta["uid"], "job-name": meta["name"]}
        generate = f"{meta['name']}-"
        if index is not None:
            labels[INDEX_KEY] = str(index)
            tmeta = template.setdefault("metadata", {})
            tmeta["annotations"] = {**(tmeta.get("annotations") or {}), INDEX_KEY: str(index)}
            pod_spec = template.setdefault("spec", {})
            pod_spec.setdefault("hostname", f"{meta['name']}-{index}")
            for container in pod_spec.get("containers") or []:
                container.setdefault("env", []).append({"name": "JOB_COMPLETION_INDEX", "valueFrom": {
                    "fieldRef": {"fieldPath": f"metadata.labels['{INDEX_KEY}']"}}})
            generate = f"{meta['name']}-{index}-"
        pod = pod_from_template(template, job, generate_name=generate, extra_labels=labels)
        pod["metadata"]["finalizers"] = [*pod["metadata"].get("finalizers", []), TRACKING_FINALIZER]
        created = self.api.create(PODS, meta["namespace"], pod)
        self.cluster.events.record(job, "Normal", "SuccessfulCreate", f"Created pod: {created['metadata']['name']}",
                                   COMPONENT)
        return created

    def _delete_pod(self, job: Obj, pod: Obj) -> None:
        meta = pod["metadata"]
        self.api.delete(PODS, meta["namespace"], meta["name"])
        self.cluster.events.record(job, "Normal", "SuccessfulDelete", f"Deleted pod: {meta['name']}", COMPONENT)

    def _release(self, pods: Iterable[Obj]) -> None:
        for pod in pods:
            if TRACKING_FINALIZER in (pod["metadata"].get("finalizers") or []):
                self.api.remove_finalizer(PODS, pod, TRACKING_FINALIZER)

    def _write_status(self, job: Obj, status: dict[str, Any], tally: Tally) -> None:
        if tally.active:
            status["active"] = len(tally.active)
        else:
            status.pop("active", None)
        status["ready"] = sum(1 for p in tally.active if is_ready(p))
        status["terminating"] = tally.terminating
        status["uncountedTerminatedPods"] = {}
        if not status.get("conditions"):
            status.pop("conditions", None)
        if status != (job.get("status") or {}):
            self.api.update(JOBS, job["metadata"]["namespace"], job["metadata"]["name"],
                            {**job, "status": status}, subresource="status")

    def _expire(self, job: Obj) -> None:
        """``ttlSecondsAfterFinished``: delete a finished Job (and, in the foreground, its pods)."""
        ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
        done = finished_condition(job)
        if ttl is None or done is None or job["metadata"].get("deletionTimestamp"):
            return
        finished_at = clock.parse((job.get("status") or {}).get("completionTime") or done.get("lastTransitionTime"))
        remaining = ((finished_at or clock.now()) + timedelta(seconds=int(ttl)) - clock.now()).total_seconds()
        if remaining > 0:
            self.requeue_after(key_of(job), remaining + 0.01)
            return
        meta = job["metadata"]
        self.api.delete(JOBS, meta["namespace"], meta["name"], propagation="Foreground",
                        preconditions={"uid": meta["uid"]})
