"""The Deployment controller: ReplicaSets per template, rolling/recreate rollouts, rollback, scaling, history."""

from __future__ import annotations

import copy
import re
from typing import Callable, Iterator

from chaositbench.sim.controllers import rollout as ru
from chaositbench.sim.controllers.deployment import DeploymentController
from chaositbench.sim.controllers.kubelet import KubeletController
from chaositbench.sim.controllers.kubelet_runtime import ContainerContext, ContainerPlan, DefaultRuntime
from chaositbench.sim.controllers.replicaset import ReplicaSetController
from chaositbench.sim.store import Obj, WatchEvent
from workload_harness import (DEPLOYMENTS, PODS, REPLICASETS, MiniCluster, container, is_pod_ready,
                              pod_template, running)

LABELS = {"app": "web"}
CONTROLLERS = [DeploymentController, ReplicaSetController, KubeletController]


def _deployment(replicas: int = 3, image: str = "nginx:1.27", **spec: object) -> dict:
    return {"metadata": {"name": "web"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": LABELS},
                     "template": pod_template(LABELS, container(image=image)), **spec}}


def _replica_sets(cluster: MiniCluster) -> list[Obj]:
    return cluster.api.list(REPLICASETS, "default")[0]


def _complete(cluster: MiniCluster, name: str = "web") -> Obj | None:
    """The deployment once its rollout is complete (what `kubectl rollout status` waits for)."""
    d = cluster.get(DEPLOYMENTS, name)
    status = d.get("status") or {}
    want = d["spec"]["replicas"]
    progressing = ru.get_condition(status, "Progressing") or {}
    done = status.get("observedGeneration", 0) >= d["metadata"]["generation"] \
        and status.get("updatedReplicas", 0) == want and status.get("replicas", 0) == want \
        and status.get("availableReplicas", 0) == want and progressing.get("reason") == "NewReplicaSetAvailable"
    return d if done else None


def _set_image(cluster: MiniCluster, image: str) -> None:
    cluster.update(DEPLOYMENTS, "web", lambda d: d["spec"]["template"]["spec"]["containers"][0].__setitem__(
        "image", image))


def _rs_of_image(cluster: MiniCluster, image: str) -> Obj:
    return next(rs for rs in _replica_sets(cluster)
                if rs["spec"]["template"]["spec"]["containers"][0]["image"] == image)


def test_deployment_creates_a_hashed_replica_set_and_becomes_available() -> None:
    async def body() -> None:
        async with MiniCluster(CONTROLLERS) as cluster:
            cluster.api.create(DEPLOYMENTS, "default", _deployment())
            d = await cluster.wait_for(lambda: _complete(cluster), what="rollout complete")
            [rs] = _replica_sets(cluster)
            pod_hash = rs["metadata"]["labels"]["pod-template-hash"]
            assert re.fullmatch(r"[bcdfghjklmnpqrstvwxz2456789]{1,10}", pod_hash)
            assert rs["metadata"]["name"] == f"web-{pod_hash}"
            assert rs["spec"]["selector"]["matchLabels"] == {**LABELS, "pod-template-hash": pod_hash}
            assert rs["spec"]["template"]["metadata"]["labels"] == {**LABELS, "pod-template-hash": pod_hash}
            assert rs["metadata"]["annotations"] == {"deployment.kubernetes.io/revision": "1",
                                                     "deployment.kubernetes.io/desired-replicas": "3",
                                                     "deployment.kubernetes.io/max-replicas": "4"}
            assert rs["metadata"]["ownerReferences"][0]["kind"] == "Deployment"
            assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
            status = d["status"]
            assert {k: status[k] for k in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas",
                                           "observedGeneration")} == {
                "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 3,
                "observedGeneration": 1}
            assert "unavailableReplicas" not in status
            conditions = {c["type"]: c for c in status["conditions"]}
            assert [c["type"] for c in status["conditions"]] == ["Available", "Progressing"]
            assert conditions["Available"]["reason"] == "MinimumReplicasAvailable"
            assert conditions["Available"]["message"] == "Deployment has minimum availability."
            assert conditions["Progressing"]["message"] == f'ReplicaSet "{rs["metadata"]["name"]}" has successfully progressed.'
            scaling = [e["message"] for e in cluster.events_of(d) if e["reason"] == "ScalingReplicaSet"]
            assert scaling == [f"Scaled up replica set {rs['metadata']['name']} from 0 to 3"]
            pods = [p for p in cluster.pods() if p["metadata"]["labels"].get("pod-template-hash") == pod_hash]
            assert len(pods) == 3 and all(is_pod_ready(p) for p in pods)
    running(body)


def _replay(cluster: MiniCluster, start: int) -> Iterator[tuple[WatchEvent, dict[str, Obj], dict[str, Obj]]]:
    """Rebuild ReplicaSets and pods from the store's history; yield each state after index ``start``."""
    state: dict[str, dict[str, Obj]] = {REPLICASETS.storage_key: {}, PODS.storage_key: {}}
    for index, event in enumerate(cluster.history):
        target = state.get(event.storage_key)
        if target is None:
            continue
        if event.type == "DELETED":
            target.pop(event.obj["metadata"]["name"], None)
        else:
            target[event.obj["metadata"]["name"]] = event.obj
        if index >= start:
            yield event, state[REPLICASETS.storage_key], state[PODS.storage_key]


def _check_rolling_bounds(cluster: MiniCluster, start: int, desired: int, surge: int, unavailable: int) -> int:
    """The rolling-update bounds hold at every observed state after ``start``; returns the states checked."""
    checked = 0
    for event, replica_sets, pods in _replay(cluster, start):
        total_spec = sum(rs["spec"]["replicas"] for rs in replica_sets.values())
        assert total_spec <= desired + surge, f"surge exceeded at rv {event.rv}: {total_spec}"
        live = [p for p in pods.values() if not p["metadata"].get("deletionTimestamp")]
        assert len(live) <= desired + surge, f"too many pods at rv {event.rv}"
        ready = sum(1 for p in live if is_pod_ready(p))
        assert ready >= desired - unavailable, f"availability dropped at rv {event.rv}: {ready}"
        checked += 1
    return checked


def test_rolling_update_respects_surge_and_unavailability_at_every_step() -> None:
    async def body() -> None:
        strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}}
        async with MiniCluster(CONTROLLERS) as cluster:
            cluster.api.create(DEPLOYMENTS, "default", _deployment(replicas=4, strategy=strategy))
            await cluster.wait_for(lambda: _complete(cluster), what="first rollout")
            start = len(cluster.history)
            _set_image(cluster, "nginx:1.28")
            d = await cluster.wait_for(lambda: _complete(cluster) if len(_replica_sets(cluster)) == 2 else None,
                                       timeout=20, what="second rollout")
            assert _check_rolling_bounds(cluster, start, desired=4, surge=1, unavailable=1) > 20
            old, new = _rs_of_image(cluster, "nginx:1.27"), _rs_of_image(cluster, "nginx:1.28")
            assert old["spec"]["replicas"] == 0 and new["spec"]["replicas"] == 4
            assert new["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
            assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
            new_hash = new["metadata"]["labels"]["pod-template-hash"]
            await cluster.wait_for(lambda: {p["metadata"]["labels"]["pod-template-hash"] for p in cluster.pods()}
                                   == {new_hash}, what="old pods gone")
            messages = [e["message"] for e in cluster.events_of(d) if e["reason"] == "ScalingReplicaSet"]
            assert any(re.fullmatch(rf"Scaled down replica set {old['metadata']['name']} from \d to \d", m)
                       for m in messages)
    running(body)


def test_percentages_round_surge_up_and_unavailability_down() -> None:
    d = _deployment(replicas=10, strategy={"type": "RollingUpdate",
                                           "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}})
    assert ru.fenceposts(d) == (3, 2)
    d["spec"]["strategy"]["rollingUpdate"] = {"maxSurge": 0, "maxUnavailable": "10%"}
    d["spec"]["replicas"] = 5
    assert ru.fenceposts(d) == (0, 1)  # both zero after rounding: one may be unavailable
    template = pod_template(LABELS, container())
    assert ru.template_hash(template, None) == ru.template_hash(copy.deepcopy(template), None)
    assert ru.template_hash(template, None) != ru.template_hash(template, 1)
    assert set(ru.template_hash(template, None)) <= set("bcdfghjklmnpqrstvwxz2456789")


def _undo_to(cluster: MiniCluster, revision: str) -> None:
    """What `kubectl rollout undo` sends: the old RS template (without the hash label) as the deployment's."""
    target = next(rs for rs in _replica_sets(cluster)
                  if rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == revision)
    template = copy.deepcopy(target["spec"]["template"])
    del template["metadata"]["labels"]["pod-template-hash"]
    template["metadata"].pop("creationTimestamp", None)
    cluster.update(DEPLOYMENTS, "web", lambda d: d["spec"].__setitem__("template", template))


def test_rollback_revives_the_old_replica_set_under_a_new_revision() -> None:
    async def body() -> None:
        async with MiniCluster(CONTROLLERS) as cluster:
            created = _deployment(replicas=2)
            created["spec"]["template"]["metadata"]["creationTimestamp"] = None  # as `kubectl create` sends it
            cluster.api.create(DEPLOYMENTS, "default", created)
            await cluster.wait_for(lambda: _complete(cluster), what="v1")
            first = _rs_of_image(cluster, "nginx:1.27")
            _set_image(cluster, "nginx:1.28")
            await cluster.wait_for(lambda: _complete(cluster) if len(_replica_sets(cluster)) == 2 else None,
                                   what="v2")
            _undo_to(cluster, "1")
            d = await cluster.wait_for(
                lambda: _complete(cluster) if _rs_of_image(cluster, "nginx:1.27")["spec"]["replicas"] == 2 else None,
                what="rolled back")
            revived = _rs_of_image(cluster, "nginx:1.27")
            assert revived["metadata"]["uid"] == first["metadata"]["uid"]
            assert revived["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
            assert revived["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1"
            assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
            assert _rs_of_image(cluster, "nginx:1.28")["spec"]["replicas"] == 0
            assert len(_replica_sets(cluster)) == 2
    running(body)


def test_scaling_down_removes_pods_and_updates_annotations() -> None:
    async def body() -> None:
        async with MiniCluster(CONTROLLERS) as cluster:
            cluster.api.create(DEPLOYMENTS, "default", _deployment(replicas=3))
            await cluster.wait_for(lambda: _complete(cluster), what="3 replicas")
            cluster.update(DEPLOYMENTS, "web", lambda d: d["spec"].__setitem__("replicas", 1))
            d = await cluster.wait_for(lambda: _complete(cluster), what="1 replica")
            await cluster.wait_for(lambda: len(cluster.pods()) == 1, what="pods deleted")
            [rs] = _replica_sets(cluster)
            assert rs["spec"]["replicas"] == 1
            assert rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] == "1"
            assert rs["metadata"]["annotations"]["deployment.kubernetes.io/max-replicas"] == "2"
            messages = [e["message"] for e in cluster.events_of(d) if e["reason"] == "ScalingReplicaSet"]
            assert messages[-1] == f"Scaled down replica set {rs['metadata']['name']} from 3 to 1"
            deletes = [e for e in cluster.events_of(rs) if e["reason"] == "SuccessfulDelete"]
            assert len(deletes) == 2
    running(body)


def test_revision_history_limit_prunes_old_replica_sets() -> None:
    async def body() -> None:
        async with MiniCluster(CONTROLLERS) as cluster:
            cluster.api.create(DEPLOYMENTS, "default", _deployment(replicas=1, revisionHistoryLimit=1))
            await cluster.wait_for(lambda: _complete(cluster), what="v1")
            for version, image in enumerate(("nginx:1.28", "nginx:1.29", "nginx:1.30"), start=2):
                _set_image(cluster, image)
                await cluster.wait_for(
                    lambda: _complete(cluster) if cluster.get(DEPLOYMENTS, "web")["metadata"]["annotations"][
                        "deployment.kubernetes.io/revision"] == str(version) else None, what=f"v{version}")
            await cluster.wait_for(lambda: len(_replica_sets(cluster)) == 2, what="history pruned")
            revisions = sorted(rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
                               for rs in _replica_sets(cluster))
            assert revisions == ["3", "4"]
    running(body)


def test_recreate_stops_every_old_pod_before_starting_new_ones() -> None:
    async def body() -> None:
        async with MiniCluster(CONTROLLERS) as cluster:
            cluster.api.create(DEPLOYMENTS, "default", _deployment(replicas=3, strategy={"type": "Recreate"}))
            await cluster.wait_for(lambda: _complete(cluster), what="v1")
            old_hash = _replica_sets(cluster)[0]["metadata"]["labels"]["pod-template-hash"]
            start = len(cluster.history)
            _set_image(cluster, "nginx:1.28")
            await cluster.wait_for(lambda: _complete(cluster) if len(_replica_sets(cluster)) == 2 else None,
                                   what="v2")
            for _, _, pods in _replay(cluster, start):
                hashes = {p["metadata"]["labels"]["pod-template-hash"] for p in pods.values()}
                assert not (old_hash in hashes and len(hashes) > 1), "old and new pods coexisted"
            new = _rs_of_image(cluster, "nginx:1.28")
            d = cluster.get(DEPLOYMENTS, "web")
            messages = [e["message"] for e in cluster.events_of(d) if e["reason"] == "ScalingReplicaSet"]
            assert f"Scaled up replica set {new['metadata']['name']} from 0 to 3" in messages
    running(body)


def test_paused_deployment_does_not_roll_out_until_resumed() -> None:
    async def body() -> None:
        async with MiniCluster(CONTROLLERS) as cluster:
            cluster.api.create(DEPLOYMENTS, "default", _deployment(replicas=1))
            await cluster.wait_for(lambda: _complete(cluster), what="v1")
            cluster.update(DEPLOYMENTS, "web", lambda d: d["spec"].__setitem__("paused", True))
            _set_image(cluster, "nginx:1.28")
            cond = await cluster.wait_for(
                lambda: (c := ru.get_condition(cluster.get(DEPLOYMENTS, "web")["status"], "Progressing"))
                and c["reason"] == "DeploymentPaused" and c, what="paused condition")
            assert cond["status"] == "Unknown" and cond["message"] == "Deployment is paused"
            assert len(_replica_sets(cluster)) == 1
            cluster.update(DEPLOYMENTS, "web", lambda d: d["spec"].__setitem__("paused", False))
            await cluster.wait_for(lambda: _complete(cluster) if len(_replica_sets(cluster)) == 2 else None,
                                   what="resumed rollout")
    running(body)


class NeverReady(DefaultRuntime):
    """Containers of image ``broken:*`` run but never pass readiness."""

    def start(self, ctx: ContainerContext) -> ContainerPlan:
        if ctx.container.get("image", "").startswith("broken:"):
            return ContainerPlan(ready_after=None)
        return super().start(ctx)


def test_stuck_rollout_reports_progress_deadline_exceeded() -> None:
    async def body() -> None:
        kubelet = lambda cluster: KubeletController(cluster, NeverReady())  # noqa: E731
        async with MiniCluster([DeploymentController, ReplicaSetController, kubelet]) as cluster:
            cluster.api.create(DEPLOYMENTS, "default", _deployment(replicas=2, progressDeadlineSeconds=1))
            await cluster.wait_for(lambda: _complete(cluster), what="v1")
            _set_image(cluster, "broken:1")
            cond = await cluster.wait_for(
                lambda: (c := ru.get_condition(cluster.get(DEPLOYMENTS, "web")["status"], "Progressing"))
                and c["reason"] == "ProgressDeadlineExceeded" and c, timeout=15, what="deadline exceeded")
            new = _rs_of_image(cluster, "broken:1")
            assert cond["status"] == "False"
            assert cond["message"] == f'ReplicaSet "{new["metadata"]["name"]}" has timed out progressing.'
            d = cluster.get(DEPLOYMENTS, "web")
            available = ru.get_condition(d["status"], "Available")
            assert available["status"] == "True"  # the old pods still serve: maxUnavailable 25% of 2 is 0
            assert _rs_of_image(cluster, "nginx:1.27")["spec"]["replicas"] == 2
    running(body)


def test_kubectl_rollout_commands_against_the_served_cluster(kubectl: Callable[..., str]) -> None:
    """The real kubectl: create, rollout status/history/undo/restart and scale all behave as on a cluster."""
    ns = ("-n", "rollout-e2e")
    kubectl("create", "namespace", "rollout-e2e")
    kubectl("create", "deployment", "shop", "--image=nginx:1.27", "--replicas=3", *ns)
    assert 'deployment "shop" successfully rolled out' in kubectl("rollout", "status", "deployment/shop",
                                                                  "--timeout=60s", *ns)
    kubectl("set", "image", "deployment/shop", "nginx=nginx:1.28", *ns)
    kubectl("rollout", "status", "deployment/shop", "--timeout=60s", *ns)
    history = kubectl("rollout", "history", "deployment/shop", *ns)
    assert re.search(r"^1\s+<none>$", history, re.M) and re.search(r"^2\s+<none>$", history, re.M)
    assert "rolled back" in kubectl("rollout", "undo", "deployment/shop", *ns)
    kubectl("rollout", "status", "deployment/shop", "--timeout=60s", *ns)
    history = kubectl("rollout", "history", "deployment/shop", *ns)
    assert re.findall(r"^(\d+)\s", history, re.M) == ["2", "3"]
    assert kubectl("get", "deployment/shop", "-o", "jsonpath={.spec.template.spec.containers[0].image}",
                   *ns) == "nginx:1.27"
    kubectl("rollout", "restart", "deployment/shop", *ns)
    kubectl("rollout", "status", "deployment/shop", "--timeout=60s", *ns)
    kubectl("scale", "deployment/shop", "--replicas=1", *ns)
    kubectl("rollout", "status", "deployment/shop", "--timeout=60s", *ns)
    ready = kubectl("get", "deployment/shop", "-o", "jsonpath={.status.readyReplicas}/{.status.replicas}", *ns)
    assert ready == "1/1"
    described = kubectl("describe", "deployment/shop", *ns)
    assert re.search(r"ScalingReplicaSet\s.*Scaled down replica set shop-\w+ from 3 to 1", described)
    kubectl("delete", "namespace", "rollout-e2e", "--wait=false")
