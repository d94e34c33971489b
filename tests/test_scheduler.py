"""The scheduler binds pods the way kube-scheduler's default profile would, and explains when it cannot."""

from __future__ import annotations

from typing import Any

from chaositbench.sim.controllers.scheduler import Scheduler
from chaositbench.sim.kinds import preferred

from controller_harness import NODES, PODS, Harness, container, run

PRIORITY_CLASSES = preferred("scheduling.k8s.io", "PriorityClass")
WORKERS = {"chaositbench-worker", "chaositbench-worker2", "chaositbench-worker3"}
CONTROL_PLANE = "chaositbench-control-plane"


def pod(name: str, *, memory: str | None = None, cpu: str | None = None, **spec: Any) -> dict[str, Any]:
    requests = {k: v for k, v in (("memory", memory), ("cpu", cpu)) if v}
    resources = {"resources": {"requests": requests}} if requests else {}
    return {"metadata": {"name": name, "labels": {"app": name}}, "spec": {"containers": [container(**resources)], **spec}}


def node_of(h: Harness, name: str) -> str | None:
    found = h.get(PODS, name)
    return (found or {}).get("spec", {}).get("nodeName")


def scheduled_condition(h: Harness, name: str) -> dict[str, Any]:
    found = h.get(PODS, name) or {}
    return next(c for c in found.get("status", {}).get("conditions") or [] if c["type"] == "PodScheduled")


def test_binds_to_a_worker_and_records_scheduled() -> None:
    async def body() -> None:
        async with Harness(Scheduler) as h:
            h.create(PODS, pod("web", cpu="100m"))
            node = await h.wait_for(lambda: node_of(h, "web"), what="binding")
            assert node in WORKERS  # the control plane's NoSchedule taint keeps it off
            cond = scheduled_condition(h, "web")
            assert cond["status"] == "True"
            messages = [(e["reason"], e["message"], e["source"]["component"]) for e in h.events_for(h.get(PODS, "web"))]
            assert ("Scheduled", f"Successfully assigned default/web to {node}", "default-scheduler") in messages
    run(body)


def test_tolerations_and_node_selector_reach_the_control_plane() -> None:
    async def body() -> None:
        async with Harness(Scheduler) as h:
            h.create(PODS, pod("admin", nodeSelector={"kubernetes.io/hostname": CONTROL_PLANE}, tolerations=[
                {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}]))
            assert await h.wait_for(lambda: node_of(h, "admin")) == CONTROL_PLANE
            h.create(PODS, pod("stuck", nodeSelector={"kubernetes.io/hostname": CONTROL_PLANE}))
            await h.wait_for(lambda: h.events_for(h.get(PODS, "stuck")), what="FailedScheduling")
            assert scheduled_condition(h, "stuck")["message"] == (
                "0/4 nodes are available: 1 node(s) had untolerated taint(s), 3 node(s) didn't match Pod's node "
                "affinity/selector. preemption: 0/4 nodes are available: 4 Preemption is not helpful for scheduling.")
    run(body)


def test_required_node_affinity_operators() -> None:
    async def body() -> None:
        async with Harness(Scheduler) as h:
            h.change(NODES, "chaositbench-worker2", lambda n: n["metadata"]["labels"].update({"disk": "ssd", "gen": "5"}))
            affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]},
                                      {"key": "gen", "operator": "Gt", "values": ["4"]},
                                      {"key": "node-role.kubernetes.io/control-plane", "operator": "DoesNotExist"}]}]}}}
            h.create(PODS, pod("fast", affinity=affinity))
            assert await h.wait_for(lambda: node_of(h, "fast")) == "chaositbench-worker2"
            pinned = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["chaositbench-worker3"]}]}]}}}
            h.create(PODS, pod("pinned", affinity=pinned))
            assert await h.wait_for(lambda: node_of(h, "pinned")) == "chaositbench-worker3"
    run(body)


def test_insufficient_memory_message_and_retry_when_room_appears() -> None:
    async def body() -> None:
        async with Harness(Scheduler) as h:
            h.create(PODS, pod("huge", memory="20Gi"))
            await h.wait_for(lambda: h.events_for(h.get(PODS, "huge")), what="FailedScheduling")
            message = ("0/4 nodes are available: 1 node(s) had untolerated taint(s), 3 Insufficient memory. "
                       "preemption: 0/4 nodes are available: 1 Preemption is not helpful for scheduling, "
                       "3 No preemption victims found for incoming pod.")
            cond = scheduled_condition(h, "huge")
            assert (cond["status"], cond["reason"], cond["message"]) == ("False", "Unschedulable", message)
            event = h.events_for(h.get(PODS, "huge"))[0]
            assert (event["type"], event["reason"], event["message"]) == ("Warning", "FailedScheduling", message)
            assert node_of(h, "huge") is None
            h.change(NODES, "chaositbench-worker3", lambda n: n["status"]["allocatable"].update(memory="64Gi"),
                     subresource="status")
            assert await h.wait_for(lambda: node_of(h, "huge")) == "chaositbench-worker3"
    run(body)


def test_requests_of_bound_pods_count_against_allocatable() -> None:
    async def body() -> None:
        async with Harness(Scheduler) as h:
            for i in range(3):
                h.create(PODS, pod(f"big-{i}", cpu="3"))
            nodes = [await h.wait_for(lambda i=i: node_of(h, f"big-{i}")) for i in range(3)]
            assert set(nodes) == WORKERS  # 3 CPUs each: one per 4-CPU worker
            h.create(PODS, pod("extra", cpu="2"))
            await h.wait_for(lambda: h.events_for(h.get(PODS, "extra")), what="FailedScheduling")
            assert "3 Insufficient cpu" in scheduled_condition(h, "extra")["message"]
            h.api.delete(PODS, "default", "big-0", grace_period=0)
            assert await h.wait_for(lambda: node_of(h, "extra")) == nodes[0]
    run(body)


def test_cordoned_nodes_are_skipped() -> None:
    async def body() -> None:
        async with Harness(Scheduler) as h:
            for name in ("chaositbench-worker", "chaositbench-worker2"):
                h.change(NODES, name, lambda n: n["spec"].update(unschedulable=True))
            for i in range(3):
                h.create(PODS, pod(f"p{i}"))
            for i in range(3):
                assert await h.wait_for(lambda i=i: node_of(h, f"p{i}")) == "chaositbench-worker3"
            h.change(NODES, "chaositbench-worker3", lambda n: n["spec"].update(unschedulable=True))
            h.create(PODS, pod("late"))
            await h.wait_for(lambda: h.events_for(h.get(PODS, "late")), what="FailedScheduling")
            assert scheduled_condition(h, "late")["message"].startswith(
                "0/4 nodes are available: 1 node(s) had untolerated taint(s), 3 node(s) were unschedulable.")
    run(body)


def test_replicas_of_one_owner_spread_over_nodes() -> None:
    async def body() -> None:
        async with Harness(Scheduler) as h:
            owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1", "controller": True,
                     "uid": "3f0c1e9e-7b4c-4a55-9b2f-0c1d2e3f4a5b"}
            for i in range(3):
                body = pod(f"web-1-{i}")
                body["metadata"]["ownerReferences"] = [owner]
                h.create(PODS, body)
            nodes = {await h.wait_for(lambda i=i: node_of(h, f"web-1-{i}")) for i in range(3)}
            assert nodes == WORKERS
    run(body)


def test_preemption_evicts_lower_priority_pods() -> None:
    async def body() -> None:
        async with Harness(Scheduler) as h:
            h.create(PRIORITY_CLASSES, {"metadata": {"name": "high"}, "value": 1000})
            for i in range(3):
                h.create(PODS, pod(f"filler-{i}", cpu="3"))
            for i in range(3):
                await h.wait_for(lambda i=i: node_of(h, f"filler-{i}"))
            h.create(PODS, pod("never", cpu="3", priority=1000, preemptionPolicy="Never"))
            await h.wait_for(lambda: h.events_for(h.get(PODS, "never")), what="FailedScheduling")
            assert scheduled_condition(h, "never")["message"].endswith(
                "3 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never.")
            h.create(PODS, pod("vip", cpu="3", priority=1000))
            nominated = await h.wait_for(lambda: (h.get(PODS, "vip") or {}).get("status", {}).get("nominatedNodeName"))
            victims = [p for p in h.items(PODS) if p["metadata"].get("deletionTimestamp")
                       or p["metadata"]["name"].startswith("filler") and p["spec"]["nodeName"] == nominated]
            assert len(victims) == 1
            victim = victims[0]
            target = next(c for c in victim["status"]["conditions"] if c["type"] == "DisruptionTarget")
            assert target["reason"] == "PreemptionByScheduler"
            assert any(e["reason"] == "Preempted" for e in h.events_for(victim))
            h.api.finish_delete(PODS, victim)
            assert await h.wait_for(lambda: node_of(h, "vip")) == nominated
    run(body)
