"""The CronJob controller: create a Job at each scheduled time.

At every reconcile it brings ``status.active`` up to date with the Jobs it
owns (recording ``SawCompletedJob`` and ``lastSuccessfulTime``), trims the
finished Jobs beyond the history limits, and, unless suspended, creates the
Job of the most recent unmet schedule named ``<cronjob>-<minutes since the
epoch>``, honouring ``startingDeadlineSeconds`` and ``concurrencyPolicy``
(``Allow``, ``Forbid``: wait for the running Job, ``Replace``: delete it
first). It then sleeps until the next scheduled time.
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

from .. import clock
from ..kinds import preferred
from ..store import Obj, WatchEvent
from .base import Controller, ObjectKey, key_of
from .cron import Schedule, ScheduleError, parse_schedule
from .job import finished_condition
from .ownership import controller_ref, owner_reference
from .podutil import object_ref, owned_by

CRONJOBS = preferred("batch", "CronJob")
JOBS = preferred("batch", "Job")
COMPONENT = "cronjob-controller"
SCHEDULED_AT = "batch.kubernetes.io/cronjob-scheduled-timestamp"
MAX_MISSED = 100


def job_name(cronjob: Obj, scheduled: datetime) -> str:
    """``<cronjob>-<minutes since the epoch of the scheduled time>``."""
    return f"{cronjob['metadata']['name']}-{int(scheduled.timestamp()) // 60}"


def _iso(when: datetime) -> str:
    """RFC 3339 in the schedule's zone, ``Z`` for UTC (Go's ``time.RFC3339``)."""
    text = when.replace(microsecond=0).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class CronJobController(Controller):
    """Runs CronJobs on schedule."""

    name = "cronjob"
    watches = (CRONJOBS, JOBS)

    def keys_for(self, event: WatchEvent) -> Iterator[ObjectKey]:
        if event.storage_key == CRONJOBS.storage_key:
            yield key_of(event.obj)
            return
        ref = controller_ref(event.obj)
        if ref is not None and ref.get("kind") == "CronJob":
            yield event.obj["metadata"]["namespace"], ref["name"]

    def reconcile(self, key: ObjectKey) -> None:
        cronjob = self.api.try_get(CRONJOBS, *key)
        if cronjob is None or cronjob["metadata"].get("deletionTimestamp"):
            return
        spec = cronjob.get("spec") or {}
        jobs = owned_by(self.api.list(JOBS, key[0])[0], cronjob)
        status = copy.deepcopy(cronjob.get("status") or {})
        self._sync_active(cronjob, status, jobs)
        self._trim_history(cronjob, jobs)
        if not spec.get("suspend"):
            try:
                schedule = parse_schedule(spec.get("schedule", ""), spec.get("timeZone"))
            except ScheduleError as err:
                self.cluster.events.record(cronjob, "Warning", "UnparseableSchedule",
                                           f"unparseable schedule: {spec.get('schedule', '')!r} : {err}", COMPONENT)
            else:
                self._run_due(cronjob, status, jobs, schedule)
        if status != (cronjob.get("status") or {}):
            self.api.update(CRONJOBS, key[0], key[1], {**cronjob, "status": status}, subresource="status")

    # -- status of what already ran ----------------------------------------------------------
    def _sync_active(self, cronjob: Obj, status: dict[str, Any], jobs: list[Obj]) -> None:
        by_uid = {j["metadata"]["uid"]: j for j in jobs}
        active = []
        for ref in status.get("active") or []:
            job = by_uid.get(ref.get("uid", ""))
            if job is None:
                continue
            done = finished_condition(job)
            if done is None:
                active.append(object_ref(job))
                continue
            self.cluster.events.record(cronjob, "Normal", "SawCompletedJob",
                                       f"Saw completed job: {job['metadata']['name']}, condition: {done['type']}",
                                       COMPONENT)
            completed = (job.get("status") or {}).get("completionTime")
            if done["type"] == "Complete" and completed and completed > status.get("lastSuccessfulTime", ""):
                status["lastSuccessfulTime"] = completed
        listed = {ref["uid"] for ref in active}
        for job in jobs:
            if job["metadata"]["uid"] not in listed and finished_condition(job) is None \
                    and not job["metadata"].get("deletionTimestamp"):
                active.append(object_ref(job))
        if active:
            status["active"] = active
        else:
            status.pop("active", None)

    def _trim_history(self, cronjob: Obj, jobs: list[Obj]) -> None:
        spec = cronjob.get("spec") or {}
        for type_, limit in (("Complete", spec.get("successfulJobsHistoryLimit", 3)),
                             ("Failed", spec.get("failedJobsHistoryLimit", 1))):
            done = [j for j in jobs if (finished_condition(j) or {}).get("type") == type_
                    and not j["metadata"].get("deletionTimestamp")]
            done.sort(key=lambda j: ((j.get("status") or {}).get("startTime") or j["metadata"]["creationTimestamp"]))
            for job in done[:max(len(done) - int(limit), 0)]:
                self._delete_job(cronjob, job)

    # -- what is due -------------------------------------------------------------------------
    def _run_due(self, cronjob: Obj, status: dict[str, Any], jobs: list[Obj], schedule: Schedule) -> None:
        spec = cronjob.get("spec") or {}
        now = clock.now()
        scheduled, missed = self._most_recent(cronjob, status, schedule, now)
        self._wake_at(cronjob, schedule.next_after(now), now)
        if scheduled is None:
            return
        if missed > MAX_MISSED:
            self.cluster.events.record(cronjob, "Warning", "TooManyMissedTimes",
                                       f"too many missed start times: {missed}. Set or decrease "
                                       ".spec.startingDeadlineSeconds or check clock skew", COMPONENT)
        deadline = spec.get("startingDeadlineSeconds")
        if deadline is not None and scheduled + timedelta(seconds=int(deadline)) < now:
            self.cluster.events.record(cronjob, "Warning", "MissSchedule",
                                       f"Missed scheduled time to start a job: {_iso(scheduled)}", COMPONENT)
            return
        name = job_name(cronjob, scheduled)
        if any(j["metadata"]["name"] == name for j in jobs):
            return
        active = status.get("active") or []
        policy = spec.get("concurrencyPolicy") or "Allow"
        if policy == "Forbid" and active:
            self.cluster.events.record(cronjob, "Normal", "JobAlreadyActive", "Not starting job because prior "
                                       "execution is running and concurrency policy is Forbid", COMPONENT)
            return
        if policy == "Replace":
            for job in jobs:
                if job["metadata"]["uid"] in {r["uid"] for r in active}:
                    self._delete_job(cronjob, job)
            status.pop("active", None)
        created = self._create_job(cronjob, name, scheduled)
        status.setdefault("active", []).append(object_ref(created))
        status["lastScheduleTime"] = clock.rfc3339(scheduled.astimezone(timezone.utc))

    @staticmethod
    def _most_recent(cronjob: Obj, status: dict[str, Any], schedule: Schedule,
                     now: datetime) -> tuple[datetime | None, int]:
        """The latest unmet scheduled time up to now, and how many were missed."""
        spec = cronjob.get("spec") or {}
        earliest = clock.parse(status.get("lastScheduleTime")) or clock.parse(cronjob["metadata"]["creationTimestamp"])
        earliest = earliest or now
        deadline = spec.get("startingDeadlineSeconds")
        if deadline is not None:
            earliest = max(earliest, now - timedelta(seconds=int(deadline)))
        latest, count = None, 0
        t = schedule.next_after(earliest)
        while t <= now and count <= MAX_MISSED:
            latest, count = t, count + 1
            t = schedule.next_after(t)
        if t <= now:  # too many to walk: find the last one from a window close to now
            for window in (timedelta(hours=1), timedelta(days=1), timedelta(days=32), timedelta(days=366)):
                t = schedule.next_after(max(now - window, earliest))
                if t <= now:
                    break
            while t <= now:
                latest, count = t, count + 1
                t = schedule.next_after(t)
        return latest, count

    def _wake_at(self, cronjob: Obj, when: datetime, now: datetime) -> None:
        self.requeue_after(key_of(cronjob), max((when - now).total_seconds(), 0.0) + 0.1)

    # -- writes --------------------------------------------------------------------------------
    def _create_job(self, cronjob: Obj, name: str, scheduled: datetime) -> Obj:
        template = (cronjob.get("spec") or {}).get("jobTemplate") or {}
        tmeta = template.get("metadata") or {}
        meta: dict[str, Any] = {"name": name, "namespace": cronjob["metadata"]["namespace"],
                                "ownerReferences": [owner_reference(cronjob)],
                                "annotations": {**(tmeta.get("annotations") or {}), SCHEDULED_AT: _iso(scheduled)}}
        if tmeta.get("labels"):
            meta["labels"] = dict(tmeta["labels"])
        body = {"apiVersion": JOBS.api_version, "kind": "Job", "metadata": meta,
                "spec": copy.deepcopy(template.get("spec") or {})}
        created = self.api.create(JOBS, meta["namespace"], body)
        self.cluster.events.record(cronjob, "Normal", "SuccessfulCreate", f"Created job {name}", COMPONENT)
        return created

    def _delete_job(self, cronjob: Obj, job: Obj) -> None:
        meta = job["metadata"]
        self.api.delete(JOBS, meta["namespace"], meta["name"], propagation="Background")
        self.cluster.events.record(cronjob, "Normal", "SuccessfulDelete", f"Deleted job {meta['name']}", COMPONENT)
