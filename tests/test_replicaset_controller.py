"""The ReplicaSet controller: pods from the template, adoption, scale-down order, status and failures."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from chaositbench.sim import clock
from chaositbench.sim.controllers.kubelet import KubeletController
from chaositbench.sim.controllers.podranking import rank_for_deletion
from chaositbench.sim.controllers.replicaset import (REPLICATION_CONTROLLERS, ReplicaSetController,
                                                     ReplicationControllerController)
from chaositbench.sim.admission import resource_quota
from chaositbench.sim.errors import forbidden
from chaositbench.sim.kinds import Kind, preferred
from chaositbench.sim.store import Obj
from workload_harness import PODS, REPLICASETS, MiniCluster, container, is_pod_ready, pod_template, running

LABELS = {"app": "web"}


def _rs(name: str = "web", replicas: int = 3) -> dict:
    return {"metadata": {"name": name}, "spec": {"replicas": replicas, "selector": {"matchLabels": LABELS},
                                                 "template": pod_template(LABELS, container())}}


def _owned(cluster: MiniCluster, owner: Obj, active_only: bool = True) -> list[Obj]:
    uid = owner["metadata"]["uid"]
    return [p for p in cluster.pods()
            if any(r["uid"] == uid for r in p["metadata"].get("ownerReferences") or [])
            and (not active_only or not p["metadata"].get("deletionTimestamp"))]


def test_creates_owned_pods_that_become_ready() -> None:
    async def body() -> None:
        async with MiniCluster([ReplicaSetController, KubeletController]) as cluster:
            rs = cluster.api.create(REPLICASETS, "default", _rs())
            status = await cluster.wait_for(
                lambda: (s := cluster.get(REPLICASETS, "web").get("status", {})).get("availableReplicas") == 3 and s,
                what="3 available")
            assert status == {"replicas": 3, "fullyLabeledReplicas": 3, "readyReplicas": 3, "availableReplicas": 3,
                              "observedGeneration": 1}
            pods = _owned(cluster, rs)
            assert len(pods) == 3
            for pod in pods:
                assert re.fullmatch(r"web-[bcdfghjklmnpqrstvwxz2456789]{5}", pod["metadata"]["name"])
                assert pod["metadata"]["labels"] == LABELS
                assert pod["metadata"]["ownerReferences"] == [{
                    "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": rs["metadata"]["uid"],
                    "controller": True, "blockOwnerDeletion": True}]
                assert is_pod_ready(pod)
            created = [e for e in cluster.events_of(rs) if e["reason"] == "SuccessfulCreate"]
            assert sorted(e["message"] for e in created) == sorted(f"Created pod: {p['metadata']['name']}" for p in pods)
            assert created[0]["source"] == {"component": "replicaset-controller"}
    running(body)


def test_adopts_orphans_and_releases_pods_that_stop_matching() -> None:
    async def body() -> None:
        async with MiniCluster([ReplicaSetController, KubeletController]) as cluster:
            orphan = cluster.api.create(PODS, "default", {"metadata": {"name": "orphan", "labels": LABELS},
                                                          "spec": {"containers": [container()]}})
            rs = cluster.api.create(REPLICASETS, "default", _rs(replicas=2))
            await cluster.wait_for(lambda: len(_owned(cluster, rs)) == 2, what="two owned pods")
            adopted = cluster.get(PODS, "orphan")
            assert adopted["metadata"]["uid"] == orphan["metadata"]["uid"]
            assert adopted["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"]

            cluster.update(PODS, "orphan", lambda p: p["metadata"].__setitem__("labels", {"app": "debug"}))
            await cluster.wait_for(lambda: not cluster.get(PODS, "orphan")["metadata"].get("ownerReferences"),
                                   what="release")
            await cluster.wait_for(lambda: len(_owned(cluster, rs)) == 2, what="replacement pod")
            assert cluster.get(PODS, "orphan") is not None
    running(body)


def test_scale_down_deletes_surplus_and_terminating_pods_do_not_count() -> None:
    async def body() -> None:
        async with MiniCluster([ReplicaSetController, KubeletController]) as cluster:
            rs = cluster.api.create(REPLICASETS, "default", _rs(replicas=4))
            await cluster.wait_for(lambda: cluster.get(REPLICASETS, "web").get("status", {}).get("readyReplicas") == 4,
                                   what="4 ready")
            cluster.update(REPLICASETS, "web", lambda o: o["spec"].__setitem__("replicas", 1))
            status = await cluster.wait_for(
                lambda: (s := cluster.get(REPLICASETS, "web")["status"]).get("replicas") == 1 and s, what="1 replica")
            assert status["observedGeneration"] == 2
            deleted = [e["message"] for e in cluster.events_of(rs) if e["reason"] == "SuccessfulDelete"]
            assert len(deleted) == 3 and all(m.startswith("Deleted pod: web-") for m in deleted)
            await cluster.wait_for(lambda: len(_owned(cluster, rs, active_only=False)) == 1, what="pods gone")
    running(body)


def test_pod_creation_failure_sets_replica_failure_until_it_succeeds() -> None:
    async def body() -> None:
        quota = {"blocked": True}

        def deny(api: object, kind: Kind, obj: Obj, old: Obj | None) -> None:
            if kind.kind == "Pod" and old is None and quota["blocked"]:
                raise forbidden("pods", "", obj["metadata"].get("name") or obj["metadata"].get("generateName"),
                                "exceeded quota: compute, requested: pods=1, used: pods=0, limited: pods=0")

        async with MiniCluster([ReplicaSetController, KubeletController]) as cluster:
            cluster.api.hooks.admission.append(deny)
            rs = cluster.api.create(REPLICASETS, "default", _rs(replicas=1))
            cond = await cluster.wait_for(
                lambda: next((c for c in cluster.get(REPLICASETS, "web").get("status", {}).get("conditions", [])
                              if c["type"] == "ReplicaFailure"), None), what="ReplicaFailure")
            assert cond["status"] == "True" and cond["reason"] == "FailedCreate"
            assert "exceeded quota" in cond["message"]
            failed = [e for e in cluster.events_of(rs) if e["reason"] == "FailedCreate"]
            assert failed and failed[0]["type"] == "Warning" and failed[0]["message"].startswith("Error creating: ")
            quota["blocked"] = False
            await cluster.wait_for(
                lambda: (s := cluster.get(REPLICASETS, "web")["status"]).get("readyReplicas") == 1
                and "conditions" not in s, what="recovery")
    running(body)


def test_a_resource_quota_rejects_the_pod_with_the_api_servers_message() -> None:
    async def body() -> None:
        async with MiniCluster([ReplicaSetController]) as cluster:
            cluster.api.hooks.admission.append(resource_quota)  # the API server's own plugin
            cluster.api.create(preferred("", "ResourceQuota"), "default", {
                "metadata": {"name": "compute"}, "spec": {"hard": {"limits.memory": "192Mi", "pods": "10"}}})
            template = pod_template(LABELS, container(resources={"limits": {"memory": "256Mi"}}))
            rs = cluster.api.create(REPLICASETS, "default", {**_rs(replicas=1), "spec": {
                **_rs(replicas=1)["spec"], "template": template}})
            failed = await cluster.wait_for(
                lambda: [e for e in cluster.events_of(rs) if e["reason"] == "FailedCreate"], what="FailedCreate")
            assert re.fullmatch(r'Error creating: pods "web-\w+" is forbidden: exceeded quota: compute, '
                                r"requested: limits.memory=256Mi, used: limits.memory=0, limited: limits.memory=192Mi",
                                failed[0]["message"]), failed[0]["message"]
    running(body)


def test_replication_controller_keeps_its_replicas() -> None:
    async def body() -> None:
        async with MiniCluster([ReplicationControllerController, KubeletController]) as cluster:
            rc = cluster.api.create(REPLICATION_CONTROLLERS, "default", {
                "metadata": {"name": "legacy"},
                "spec": {"replicas": 2, "selector": LABELS, "template": pod_template(LABELS, container())}})
            await cluster.wait_for(
                lambda: cluster.get(REPLICATION_CONTROLLERS, "legacy").get("status", {}).get("readyReplicas") == 2,
                what="rc ready")
            pods = _owned(cluster, rc)
            assert {p["metadata"]["ownerReferences"][0]["kind"] for p in pods} == {"ReplicationController"}
            assert {p["metadata"]["ownerReferences"][0]["apiVersion"] for p in pods} == {"v1"}
    running(body)


def _pod(name: str, *, node: str = "n1", phase: str = "Running", ready: bool = True, age: float = 100,
         ready_for: float = 50, restarts: int = 0) -> Obj:
    now = clock.now()
    return {"metadata": {"name": name, "uid": name,
                         "creationTimestamp": clock.rfc3339(now - timedelta(seconds=age))},
            "spec": {"nodeName": node},
            "status": {"phase": phase,
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                       "lastTransitionTime": clock.rfc3339(now - timedelta(seconds=ready_for))}],
                       "containerStatuses": [{"name": "app", "restartCount": restarts}]}}


def test_scale_down_ranking_follows_upstream_order() -> None:
    now = datetime.now(timezone.utc)
    old_ready = _pod("old-ready", age=10_000, ready_for=9_000)
    young_ready = _pod("young-ready", age=20, ready_for=10)
    not_ready = _pod("not-ready", ready=False)
    pending = _pod("pending", phase="Pending", ready=False)
    unscheduled = _pod("unscheduled", node="", phase="Pending", ready=False)
    crashy = _pod("crashy", age=10_000, ready_for=9_000, restarts=5)
    order = rank_for_deletion([old_ready, crashy, young_ready, not_ready, pending, unscheduled], [], now)
    assert [p["metadata"]["name"] for p in order] == [
        "unscheduled", "pending", "not-ready", "young-ready", "crashy", "old-ready"]

    doubled = _pod("doubled", node="busy", age=10_000, ready_for=9_000)
    alone = _pod("alone", node="quiet", age=10_000, ready_for=9_000)
    sibling = _pod("sibling", node="busy")
    assert rank_for_deletion([alone, doubled], [alone, doubled, sibling], now)[0]["metadata"]["name"] == "doubled"
