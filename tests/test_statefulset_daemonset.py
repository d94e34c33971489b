"""StatefulSets create ordered, stably named pods with their own claims; DaemonSets run one pod per node."""

from __future__ import annotations

from typing import Any

from chaositbench.sim.controllers.daemonset import DaemonSetController
from chaositbench.sim.controllers.scheduler import Scheduler
from chaositbench.sim.controllers.statefulset import StatefulSetController
from chaositbench.sim.controllers.volume_binder import VolumeBinder
from chaositbench.sim.kinds import preferred

from controller_harness import NODES, PODS, Harness, container, run

STATEFULSETS = preferred("apps", "StatefulSet")
DAEMONSETS = preferred("apps", "DaemonSet")
REVISIONS = preferred("apps", "ControllerRevision")
PVCS = preferred("", "PersistentVolumeClaim")
PVS = preferred("", "PersistentVolume")
WORKERS = ["chaositbench-worker", "chaositbench-worker2", "chaositbench-worker3"]


def statefulset(replicas: int, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "db"}, "spec": {
        "replicas": replicas, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
        "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [container(image="postgres:17")]}},
        "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {
            "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}],
        **spec}}


def names(h: Harness, selector: str) -> list[str]:
    return sorted(p["metadata"]["name"] for p in h.items(PODS, label_selector=selector))


def test_ordered_ready_creation_claims_and_status() -> None:
    async def body() -> None:
        async with Harness(StatefulSetController, VolumeBinder) as h:
            h.create(STATEFULSETS, statefulset(3))
            for ordinal in range(3):
                await h.wait_for(lambda o=ordinal: names(h, "app=db") == [f"db-{i}" for i in range(o + 1)],
                                 what=f"db-{ordinal} alone")
                await h.settle(0.05)
                assert names(h, "app=db") == [f"db-{i}" for i in range(ordinal + 1)]  # waits for the previous one
                h.set_pod_state(h.get(PODS, f"db-{ordinal}"), ip=f"10.244.1.{10 + ordinal}")
            pod = h.get(PODS, "db-1")
            revision = pod["metadata"]["labels"]["controller-revision-hash"]
            assert pod["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"] == "db-1"
            assert pod["metadata"]["labels"]["apps.kubernetes.io/pod-index"] == "1"
            assert pod["spec"]["hostname"] == "db-1" and pod["spec"]["subdomain"] == "db"
            assert {"name": "data", "persistentVolumeClaim": {"claimName": "data-db-1"}} in pod["spec"]["volumes"]
            assert revision.startswith("db-") and h.get(REVISIONS, revision)["revision"] == 1
            claims = await h.wait_for(lambda: (lambda cs: cs if all(c["status"].get("phase") == "Bound" for c in cs)
                                               and len(cs) == 3 else None)(h.items(PVCS)), what="claims bound")
            assert sorted(c["metadata"]["name"] for c in claims) == ["data-db-0", "data-db-1", "data-db-2"]
            assert claims[0]["metadata"]["labels"] == {"app": "db"}
            assert h.get(PVS, claims[0]["spec"]["volumeName"], "")["status"]["phase"] == "Bound"
            status = await h.wait_for(lambda: (lambda s: s if s.get("readyReplicas") == 3 else None)(
                h.get(STATEFULSETS, "db").get("status") or {}))
            assert {k: status[k] for k in ("replicas", "readyReplicas", "currentReplicas", "updatedReplicas",
                                           "availableReplicas")} == dict.fromkeys(
                ("replicas", "readyReplicas", "currentReplicas", "updatedReplicas", "availableReplicas"), 3)
            assert status["currentRevision"] == status["updateRevision"] == revision
            events = [e["message"] for e in h.events_for(h.get(STATEFULSETS, "db"))]
            assert "create Pod db-0 in StatefulSet db successful" in events
            assert "create Claim data-db-0 Pod db-0 in StatefulSet db success" in events
    run(body)


def test_scale_down_from_the_highest_ordinal_keeps_claims() -> None:
    async def body() -> None:
        async with Harness(StatefulSetController) as h:
            h.create(STATEFULSETS, statefulset(3, podManagementPolicy="Parallel"))
            await h.wait_for(lambda: names(h, "app=db") == ["db-0", "db-1", "db-2"], what="parallel creation")
            for name in ("db-0", "db-1", "db-2"):
                h.set_pod_state(h.get(PODS, name))
            h.change(STATEFULSETS, "db", lambda s: s["spec"].update(replicas=1, podManagementPolicy="Parallel"))
            await h.wait_for(lambda: names(h, "app=db") == ["db-0"], what="scale down")
            assert sorted(c["metadata"]["name"] for c in h.items(PVCS)) == ["data-db-0", "data-db-1", "data-db-2"]
            deletions = [e["message"] for e in h.events_for(h.get(STATEFULSETS, "db")) if e["reason"] == "SuccessfulDelete"]
            assert deletions == ["delete Pod db-2 in StatefulSet db successful",
                                 "delete Pod db-1 in StatefulSet db successful"]
    run(body)


def test_ordered_scale_down_and_failed_pod_replacement() -> None:
    async def body() -> None:
        async with Harness(StatefulSetController) as h:
            h.create(STATEFULSETS, statefulset(2))
            for name in ("db-0", "db-1"):
                await h.wait_for(lambda n=name: h.get(PODS, n), what=name)
                h.set_pod_state(h.get(PODS, name))
            first = h.get(PODS, "db-0")["metadata"]["uid"]
            h.set_pod_state(h.get(PODS, "db-0"), phase="Failed", ready=False)
            await h.wait_for(lambda: (h.get(PODS, "db-0") or {}).get("metadata", {}).get("uid") not in (None, first),
                             what="db-0 replaced")
            h.set_pod_state(h.get(PODS, "db-0"))
            h.change(STATEFULSETS, "db", lambda s: s["spec"].update(replicas=0))
            await h.wait_for(lambda: not names(h, "app=db"), what="all removed")
    run(body)


def daemonset(**template_spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "agent"}, "spec": {
        "selector": {"matchLabels": {"app": "agent"}},
        "template": {"metadata": {"labels": {"app": "agent"}},
                     "spec": {"containers": [container(image="fluent-bit:3")], **template_spec}}}}


def placed(h: Harness) -> dict[str, str]:
    return {p["spec"].get("nodeName", ""): p["metadata"]["name"] for p in h.items(PODS, label_selector="app=agent")
            if not p["metadata"].get("deletionTimestamp")}


def test_one_pod_per_eligible_node_bound_by_the_scheduler() -> None:
    async def body() -> None:
        async with Harness(DaemonSetController, Scheduler) as h:
            h.create(DAEMONSETS, daemonset())
            await h.wait_for(lambda: sorted(placed(h)) == WORKERS, what="one pod per worker")
            pod = h.get(PODS, placed(h)["chaositbench-worker2"])
            terms = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
            assert terms == {"nodeSelectorTerms": [{"matchFields": [
                {"key": "metadata.name", "operator": "In", "values": ["chaositbench-worker2"]}]}]}
            keys = {(t["key"], t["effect"]) for t in pod["spec"]["tolerations"]}
            assert ("node.kubernetes.io/unreachable", "NoExecute") in keys
            assert ("node.kubernetes.io/disk-pressure", "NoSchedule") in keys
            assert pod["metadata"]["labels"]["pod-template-generation"] == "1"
            revision = h.get(REVISIONS, f"agent-{pod['metadata']['labels']['controller-revision-hash']}")
            assert revision is not None and revision["data"]["spec"]["template"]["$patch"] == "replace"
            for name in placed(h).values():
                h.set_pod_state(h.get(PODS, name))
            status = await h.wait_for(lambda: (lambda s: s if s.get("numberReady") == 3 else None)(
                h.get(DAEMONSETS, "agent").get("status") or {}))
            assert {k: status[k] for k in ("desiredNumberScheduled", "currentNumberScheduled", "numberReady",
                                           "numberAvailable", "updatedNumberScheduled", "numberMisscheduled")} == {
                "desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 3, "numberAvailable": 3,
                "updatedNumberScheduled": 3, "numberMisscheduled": 0}
    run(body)


def test_tolerations_node_selector_and_noexecute_taints() -> None:
    async def body() -> None:
        async with Harness(DaemonSetController, Scheduler) as h:
            h.create(DAEMONSETS, daemonset(tolerations=[{"key": "node-role.kubernetes.io/control-plane",
                                                         "operator": "Exists", "effect": "NoSchedule"}]))
            await h.wait_for(lambda: len(placed(h)) == 4, what="control plane included")
            h.change(NODES, "chaositbench-worker3", lambda n: n["spec"].setdefault("taints", []).append(
                {"key": "maintenance", "effect": "NoExecute"}))
            await h.wait_for(lambda: "chaositbench-worker3" not in placed(h), what="evicted by NoExecute taint")
            status = await h.wait_for(lambda: (lambda s: s if s.get("desiredNumberScheduled") == 3 else None)(
                h.get(DAEMONSETS, "agent").get("status") or {}))
            assert status["currentNumberScheduled"] == 3
            h.change(DAEMONSETS, "agent", lambda d: d["spec"]["template"]["spec"].update(
                nodeSelector={"kubernetes.io/hostname": "chaositbench-worker"}))
            await h.wait_for(lambda: sorted(placed(h)) == ["chaositbench-worker"], what="selector narrows")
    run(body)


def test_a_pod_the_admission_forbids_is_a_failed_create_event_and_retried() -> None:
    async def body() -> None:
        async with Harness(StatefulSetController, VolumeBinder) as h:
            limits = h.create(preferred("", "LimitRange"), {"metadata": {"name": "small"}, "spec": {
                "limits": [{"type": "Container", "max": {"memory": "64Mi"}}]}})
            sts = statefulset(1)
            sts["spec"]["template"]["spec"]["containers"][0]["resources"] = {"limits": {"memory": "128Mi"}}
            created = h.create(STATEFULSETS, sts)
            failed = await h.wait_for(lambda: [e for e in h.events_for(created) if e["reason"] == "FailedCreate"],
                                      what="a FailedCreate event")
            assert failed[0]["type"] == "Warning"
            assert failed[0]["message"] == ('create Pod db-0 in StatefulSet db failed error: pods "db-0" is forbidden: '
                                            "maximum memory usage per Container is 64Mi, but limit is 128Mi")
            assert names(h, "app=db") == []
            h.api.delete(preferred("", "LimitRange"), "default", limits["metadata"]["name"])
            await h.wait_for(lambda: names(h, "app=db") == ["db-0"], what="db-0 created once allowed")
    run(body)
