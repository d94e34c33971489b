"""Jobs run pods to completion or give up after their back-off limit; CronJobs create Jobs on schedule."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from chaositbench.sim import clock
from chaositbench.sim.controllers.cron import ScheduleError, parse_schedule
from chaositbench.sim.controllers.cronjob import SCHEDULED_AT, CronJobController
from chaositbench.sim.controllers.job import TRACKING_FINALIZER, JobController
from chaositbench.sim.kinds import preferred

from controller_harness import PODS, Harness, container, run

JOBS = preferred("batch", "Job")
CRONJOBS = preferred("batch", "CronJob")
UTC = timezone.utc


def job(name: str, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {
        "template": {"spec": {"restartPolicy": "Never", "containers": [container(image="busybox")]}}, **spec}}


def job_pods(h: Harness, name: str) -> list[dict[str, Any]]:
    return h.items(PODS, label_selector=f"batch.kubernetes.io/job-name={name}")


def finish(h: Harness, pod: dict[str, Any], phase: str) -> None:
    h.set_pod_state(pod, phase=phase, ready=False)


def conditions(obj: dict[str, Any] | None) -> dict[str, tuple[str, str, str]]:
    return {c["type"]: (c["status"], c.get("reason", ""), c.get("message", ""))
            for c in ((obj or {}).get("status") or {}).get("conditions") or []}


def test_job_runs_pods_one_at_a_time_to_completion() -> None:
    async def body() -> None:
        async with Harness(JobController) as h:
            created = h.create(JOBS, job("pi", completions=2, parallelism=1))
            for round_ in range(2):
                pod = await h.wait_for(lambda: [p for p in job_pods(h, "pi") if p["status"]["phase"] == "Pending"],
                                       what=f"pod {round_}")
                assert len(pod) == 1
                assert TRACKING_FINALIZER in pod[0]["metadata"]["finalizers"]
                assert pod[0]["metadata"]["labels"]["batch.kubernetes.io/controller-uid"] == created["metadata"]["uid"]
                assert pod[0]["metadata"]["ownerReferences"][0]["name"] == "pi"
                await h.wait_for(lambda: (h.get(JOBS, "pi") or {}).get("status", {}).get("active") == 1)
                finish(h, pod[0], "Succeeded")
            done = await h.wait_for(lambda: (lambda j: j if "Complete" in conditions(j) else None)(h.get(JOBS, "pi")),
                                    what="Complete")
            status = done["status"]
            assert status["succeeded"] == 2 and "active" not in status and status["ready"] == 0
            assert status["terminating"] == 0 and status["uncountedTerminatedPods"] == {}
            assert status["completionTime"] and status["startTime"]
            reached = ("True", "CompletionsReached", "Reached expected number of succeeded pods")
            assert [c["type"] for c in status["conditions"]] == ["SuccessCriteriaMet", "Complete"]
            assert conditions(done)["Complete"] == reached == conditions(done)["SuccessCriteriaMet"]
            assert all(TRACKING_FINALIZER not in (p["metadata"].get("finalizers") or []) for p in job_pods(h, "pi"))
            reasons = [(e["reason"], e["message"].split(":")[0]) for e in h.events_for(done)]
            assert reasons.count(("SuccessfulCreate", "Created pod")) == 2
            assert ("Completed", "Job completed") in reasons
    run(body)


def test_failed_pods_are_replaced_until_the_backoff_limit() -> None:
    async def body() -> None:
        async with Harness(JobController) as h:
            h.create(JOBS, job("flaky", backoffLimit=1))
            for attempt in range(2):
                pending = await h.wait_for(lambda: [p for p in job_pods(h, "flaky") if p["status"]["phase"] == "Pending"],
                                           what=f"attempt {attempt}")
                finish(h, pending[0], "Failed")
            failed = await h.wait_for(lambda: (lambda j: j if "Failed" in conditions(j) else None)(h.get(JOBS, "flaky")),
                                      what="Failed")
            limit = ("True", "BackoffLimitExceeded", "Job has reached the specified backoff limit")
            assert conditions(failed)["FailureTarget"] == limit == conditions(failed)["Failed"]
            assert failed["status"]["failed"] == 2 and "completionTime" not in failed["status"]
            assert len(job_pods(h, "flaky")) == 2
            assert any(e["type"] == "Warning" and e["reason"] == "BackoffLimitExceeded" for e in h.events_for(failed))
    run(body)


def test_indexed_job_tracks_completed_indexes() -> None:
    async def body() -> None:
        async with Harness(JobController) as h:
            h.create(JOBS, job("idx", completions=3, parallelism=3, completionMode="Indexed"))
            pods = await h.wait_for(lambda: (lambda ps: ps if len(ps) == 3 else None)(job_pods(h, "idx")))
            by_index = {p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]: p for p in pods}
            assert sorted(by_index) == ["0", "1", "2"]
            assert by_index["1"]["spec"]["hostname"] == "idx-1"
            assert by_index["1"]["metadata"]["name"].startswith("idx-1-")
            finish(h, by_index["1"], "Succeeded")
            await h.wait_for(lambda: h.get(JOBS, "idx")["status"].get("completedIndexes") == "1")
            finish(h, by_index["0"], "Succeeded")
            finish(h, by_index["2"], "Succeeded")
            done = await h.wait_for(lambda: (lambda j: j if "Complete" in conditions(j) else None)(h.get(JOBS, "idx")))
            assert done["status"]["completedIndexes"] == "0-2"
    run(body)


def test_suspended_job_creates_no_pods() -> None:
    async def body() -> None:
        async with Harness(JobController) as h:
            h.create(JOBS, job("later", suspend=True))
            suspended = await h.wait_for(lambda: (lambda j: j if "Suspended" in conditions(j) else None)(
                h.get(JOBS, "later")))
            assert conditions(suspended)["Suspended"] == ("True", "JobSuspended", "Job suspended")
            assert not job_pods(h, "later")
            h.change(JOBS, "later", lambda j: j["spec"].update(suspend=False))
            await h.wait_for(lambda: job_pods(h, "later"), what="pod after resume")
            assert conditions(h.get(JOBS, "later"))["Suspended"][:2] == ("False", "JobResumed")
    run(body)


# -- cron ------------------------------------------------------------------------------------
def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize("schedule, after, expected", [
    ("*/15 * * * *", "2026-03-01T10:07:00", "2026-03-01T10:15:00"),
    ("0 9-17/4 * * MON-FRI", "2026-03-06T17:30:00", "2026-03-09T09:00:00"),  # Friday evening to Monday
    ("30 2 1,15 * *", "2026-03-02T00:00:00", "2026-03-15T02:30:00"),
    ("0 0 13 * FRI", "2026-03-01T00:00:00", "2026-03-06T00:00:00"),  # day of month OR day of week
    ("0 0 29 FEB *", "2026-03-01T00:00:00", "2028-02-29T00:00:00"),
    ("@hourly", "2026-03-01T10:00:00", "2026-03-01T11:00:00"),
    ("@weekly", "2026-03-04T12:00:00", "2026-03-08T00:00:00"),
    ("5 4 * * sun", "2026-03-01T04:05:00", "2026-03-08T04:05:00"),
    ("*/20 1 * jan,jun *", "2026-03-01T00:00:00", "2026-06-01T01:00:00"),
])
def test_cron_schedules(schedule: str, after: str, expected: str) -> None:
    assert parse_schedule(schedule).next_after(at(after)) == at(expected)


def test_cron_time_zone_and_errors() -> None:
    ny = parse_schedule("0 9 * * *", "America/New_York")
    assert ny.next_after(at("2026-01-10T00:00:00")).astimezone(UTC) == at("2026-01-10T14:00:00")
    for bad, why in (("* * * *", "expected exactly 5 fields, found 4"), ("61 * * * *", "above maximum (59)"),
                     ("*/0 * * * *", "step of range should be a positive number"), ("@often", "unrecognized descriptor")):
        with pytest.raises(ScheduleError, match=why.replace("(", r"\(").replace(")", r"\)")):
            parse_schedule(bad)


def test_cronjob_creates_the_job_of_the_latest_schedule() -> None:
    async def body() -> None:
        async with Harness(CronJobController) as h:
            h.create(CRONJOBS, {"metadata": {"name": "report"}, "spec": {
                "schedule": "* * * * *", "jobTemplate": {"metadata": {"labels": {"team": "ops"}},
                                                         "spec": job("x")["spec"]}}})
            past = clock.rfc3339(clock.now() - timedelta(minutes=3))
            h.change(CRONJOBS, "report", lambda cj: cj.setdefault("status", {}).update(lastScheduleTime=past),
                     subresource="status")
            created = await h.wait_for(lambda: h.items(JOBS), what="job")
            scheduled = clock.now().replace(second=0, microsecond=0)
            (only,) = created
            assert only["metadata"]["name"] == f"report-{int(scheduled.timestamp()) // 60}"
            assert only["metadata"]["labels"] == {"team": "ops"}
            assert only["metadata"]["annotations"][SCHEDULED_AT] == scheduled.strftime("%Y-%m-%dT%H:%M:%SZ")
            assert only["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
            cronjob = await h.wait_for(lambda: (lambda c: c if c.get("status", {}).get("active") else None)(
                h.get(CRONJOBS, "report")))
            assert cronjob["status"]["lastScheduleTime"] == clock.rfc3339(scheduled)
            assert cronjob["status"]["active"][0]["name"] == only["metadata"]["name"]
            assert any(e["reason"] == "SuccessfulCreate" for e in h.events_for(cronjob))
    run(body)


def test_cronjob_history_limits_and_suspend() -> None:
    async def body() -> None:
        async with Harness(CronJobController) as h:
            cronjob = h.create(CRONJOBS, {"metadata": {"name": "nightly"}, "spec": {
                "schedule": "0 3 * * *", "suspend": True, "successfulJobsHistoryLimit": 1,
                "jobTemplate": {"spec": job("x")["spec"]}}})
            owner = {"apiVersion": "batch/v1", "kind": "CronJob", "name": "nightly",
                     "uid": cronjob["metadata"]["uid"], "controller": True}
            for day in (1, 2, 3):
                body = job(f"nightly-{day}")
                body["metadata"]["ownerReferences"] = [owner]
                h.create(JOBS, body)
                h.change(JOBS, f"nightly-{day}", lambda j, d=day: j.update(status={
                    "startTime": f"2026-03-0{d}T03:00:00Z", "completionTime": f"2026-03-0{d}T03:01:00Z",
                    "conditions": [{"type": "Complete", "status": "True"}]}), subresource="status")
            h.change(CRONJOBS, "nightly", lambda c: c["metadata"].setdefault("labels", {}).update(poke="1"))
            await h.wait_for(lambda: [j["metadata"]["name"] for j in h.items(JOBS)] == ["nightly-3"],
                             what="history trimmed")
            await h.settle()
            assert [j["metadata"]["name"] for j in h.items(JOBS)] == ["nightly-3"]  # suspended: nothing new
    run(body)
