"""The simulated kubelet: pod start-up, statuses, events, logs, init containers, jobs, restarts and deletion."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from chaositbench.sim.controllers.kubelet import KubeletController, go_duration
from chaositbench.sim.controllers.kubelet_runtime import (ContainerContext, ContainerPlan, DefaultRuntime,
                                                          image_id, normalize_image)
from workload_harness import PODS, MiniCluster, container, is_pod_ready, running


def _pod(name: str, *containers: dict, node: str | None = None, **spec: object) -> dict:
    body = {"metadata": {"name": name, "labels": {"app": name}},
            "spec": {"containers": list(containers) or [container()], **spec}}
    if node:
        body["spec"]["nodeName"] = node
    return body


def _phases(cluster: MiniCluster, name: str) -> list[str]:
    return [e.obj.get("status", {}).get("phase") for e in cluster.history
            if e.storage_key == PODS.storage_key and e.obj["metadata"]["name"] == name]


def test_pod_starts_pending_then_running_and_ready() -> None:
    async def body() -> None:
        async with MiniCluster([KubeletController]) as cluster:
            cluster.api.create(PODS, "default", _pod("web", container(ports=[{"containerPort": 80}])))
            pod = await cluster.wait_for(lambda: (p := cluster.get(PODS, "web")) and is_pod_ready(p) and p,
                                         what="web ready")
            statuses = [e.obj.get("status", {}) for e in cluster.history
                        if e.storage_key == PODS.storage_key and e.obj["metadata"]["name"] == "web"]
            first = next(s for s in statuses if s.get("startTime"))
            assert first["phase"] == "Pending"
            assert first["containerStatuses"][0]["state"] == {"waiting": {"reason": "ContainerCreating"}}
            assert "podIP" not in first and first["hostIP"] == pod["status"]["hostIP"]
            assert "Running" in _phases(cluster, "web")

            status = pod["status"]
            assert status["phase"] == "Running" and status["qosClass"] == "BestEffort"
            assert status["podIP"].startswith("10.244.") and status["podIPs"] == [{"ip": status["podIP"]}]
            assert [c["type"] for c in status["conditions"]] == [
                "PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]
            assert all(c["status"] == "True" and c["lastProbeTime"] is None for c in status["conditions"])
            cs = status["containerStatuses"][0]
            assert cs["ready"] is True and cs["started"] is True and cs["restartCount"] == 0
            assert re.fullmatch(r"containerd://[0-9a-f]{64}", cs["containerID"])
            assert cs["image"] == "docker.io/library/nginx:1.27"
            assert re.fullmatch(r"docker\.io/library/nginx@sha256:[0-9a-f]{64}", cs["imageID"])
            assert "startedAt" in cs["state"]["running"] and cs["lastState"] == {}

            events = {e["reason"]: e for e in cluster.events_of(pod)}
            assert events["Pulling"]["message"] == 'Pulling image "nginx:1.27"'
            assert re.fullmatch(r'Successfully pulled image "nginx:1\.27" in [0-9.]+m?s \([0-9.]+m?s including '
                                r'waiting\)\. Image size: \d+ bytes\.', events["Pulled"]["message"])
            assert events["Created"]["message"] == "Container created"
            assert events["Started"]["message"] == "Container started"
            for event in events.values():
                assert event["involvedObject"]["fieldPath"] == "spec.containers{app}"
                assert event["source"] == {"component": "kubelet", "host": pod["spec"]["nodeName"]}
                assert event["reportingInstance"] == pod["spec"]["nodeName"]
            lines = cluster.logbook.read(pod["metadata"]["uid"], "app")
            assert lines and any("port 80" in text for _, text in lines)
    running(body)


def test_pod_ips_are_unique_per_node_and_images_are_cached() -> None:
    async def body() -> None:
        async with MiniCluster([KubeletController], nodes=1) as cluster:
            cluster.api.create(PODS, "default", _pod("a"))
            await cluster.wait_for(lambda: is_pod_ready(cluster.get(PODS, "a")), what="first pod ready")
            for name in ("b", "c"):
                cluster.api.create(PODS, "default", _pod(name))
            pods = await cluster.wait_for(
                lambda: (ps := cluster.pods()) and all(is_pod_ready(p) for p in ps) and len(ps) == 3 and ps,
                what="three ready pods")
            ips = {p["status"]["podIP"] for p in pods}
            assert len(ips) == 3 and all(ip.startswith("10.244.1.") and ip != "10.244.1.1" for ip in ips)
            pulled = [e["message"] for p in pods for e in cluster.events_of(p) if e["reason"] == "Pulled"]
            assert sum(m.startswith("Successfully pulled") for m in pulled) >= 1
            assert any(m == 'Container image "nginx:1.27" already present on machine and can be accessed by the pod'
                       for m in pulled)
    running(body)


def test_init_containers_complete_before_app_containers_start() -> None:
    async def body() -> None:
        async with MiniCluster([KubeletController]) as cluster:
            cluster.api.create(PODS, "default", _pod("withinit", initContainers=[container("setup", "busybox:1.36")]))
            pod = await cluster.wait_for(lambda: (p := cluster.get(PODS, "withinit")) and is_pod_ready(p) and p,
                                         what="pod with init ready")
            init = pod["status"]["initContainerStatuses"][0]
            assert init["state"]["terminated"]["reason"] == "Completed"
            assert init["state"]["terminated"]["exitCode"] == 0 and init["ready"] is False
            seen = [e.obj["status"] for e in cluster.history
                    if e.storage_key == PODS.storage_key and e.obj.get("status", {}).get("initContainerStatuses")]
            assert seen[0]["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
            initialized = [next(c for c in s["conditions"] if c["type"] == "Initialized") for s in seen]
            assert initialized[0]["status"] == "False"
            assert initialized[0]["message"] == "containers with incomplete status: [setup]"
            for status in seen:  # the app container never runs before the init container finished
                app_running = "running" in status["containerStatuses"][0]["state"]
                assert not app_running or "terminated" in status["initContainerStatuses"][0]["state"]
    running(body)


def test_readiness_waits_for_the_probe_initial_delay() -> None:
    async def body() -> None:
        probe = {"httpGet": {"path": "/", "port": 80}, "initialDelaySeconds": 20}
        async with MiniCluster([KubeletController], time_scale=0.02) as cluster:
            cluster.api.create(PODS, "default", _pod("slow", container(readinessProbe=probe)))
            pod = await cluster.wait_for(
                lambda: (p := cluster.get(PODS, "slow")) and p["status"].get("phase") == "Running" and p,
                what="slow running")
            assert not is_pod_ready(pod)
            ready = next(c for c in pod["status"]["conditions"] if c["type"] == "Ready")
            assert ready["reason"] == "ContainersNotReady"
            assert ready["message"] == "containers with unready status: [app]"
            assert pod["status"]["containerStatuses"][0]["started"] is True
            await cluster.wait_for(lambda: is_pod_ready(cluster.get(PODS, "slow")), what="slow ready")
    running(body)


def test_job_pod_runs_to_completion() -> None:
    async def body() -> None:
        async with MiniCluster([KubeletController]) as cluster:
            cluster.api.create(PODS, "default", _pod("once", container("work", "busybox:1.36",
                                                                       command=["sh", "-c", "true"]),
                                                     restartPolicy="Never"))
            pod = await cluster.wait_for(
                lambda: (p := cluster.get(PODS, "once")) and p["status"].get("phase") == "Succeeded" and p,
                what="job pod succeeded")
            state = pod["status"]["containerStatuses"][0]["state"]["terminated"]
            assert state["reason"] == "Completed" and state["exitCode"] == 0
            assert state["containerID"].startswith("containerd://")
            conditions = {c["type"]: c for c in pod["status"]["conditions"]}
            assert conditions["Ready"]["reason"] == "PodCompleted"
            assert conditions["PodReadyToStartContainers"]["status"] == "False"
    running(body)


def test_graceful_deletion_stops_containers_then_removes_the_pod() -> None:
    async def body() -> None:
        async with MiniCluster([KubeletController]) as cluster:
            cluster.api.create(PODS, "default", _pod("bye"))
            pod = await cluster.wait_for(lambda: (p := cluster.get(PODS, "bye")) and is_pod_ready(p) and p,
                                         what="bye ready")
            cluster.api.delete(PODS, "default", "bye")
            assert cluster.get(PODS, "bye")["metadata"]["deletionTimestamp"]
            await cluster.wait_for(lambda: cluster.get(PODS, "bye") is None, what="pod removed")
            killing = [e for e in cluster.events_of(pod) if e["reason"] == "Killing"]
            assert [e["message"] for e in killing] == ["Stopping container app"]
            assert killing[0]["involvedObject"]["fieldPath"] == "spec.containers{app}"
            last = [e.obj for e in cluster.history if e.storage_key == PODS.storage_key][-1]
            assert last["status"]["phase"] == "Succeeded"
            assert last["status"]["containerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"
            assert cluster.logbook.read(pod["metadata"]["uid"], "app") is None
    running(body)


def test_pod_on_a_missing_node_is_left_alone() -> None:
    async def body() -> None:
        async with MiniCluster([KubeletController], bind=False) as cluster:
            cluster.api.create(PODS, "default", _pod("lost", node="no-such-node"))
            await asyncio.sleep(0.1)
            created = cluster.get(PODS, "lost")
            for controller in cluster.controllers:
                controller.reconcile(("default", "lost"))
            assert cluster.get(PODS, "lost") == created
            assert created["status"] == {"phase": "Pending", "qosClass": "BestEffort"}
    running(body)


@dataclass
class CrashingRuntime(DefaultRuntime):
    """Every instance of container ``app`` exits 1 shortly after starting."""

    def start(self, ctx: ContainerContext) -> ContainerPlan:
        return ContainerPlan(logs=("panic: boom",), exit_after=0.1, exit_code=1)


def test_crashing_container_restarts_with_back_off() -> None:
    async def body() -> None:
        factory = lambda cluster: KubeletController(cluster, CrashingRuntime())  # noqa: E731
        async with MiniCluster([factory], time_scale=0.005) as cluster:
            cluster.api.create(PODS, "default", _pod("crash"))
            pod = await cluster.wait_for(
                lambda: (p := cluster.get(PODS, "crash")) and p["status"].get("containerStatuses")
                and p["status"]["containerStatuses"][0]["restartCount"] >= 2 and p, what="two restarts")
            cs = pod["status"]["containerStatuses"][0]
            assert cs["lastState"]["terminated"]["exitCode"] == 1
            assert cs["lastState"]["terminated"]["reason"] == "Error"
            assert pod["status"]["phase"] == "Running"
            waits = [e.obj["status"]["containerStatuses"][0]["state"].get("waiting") for e in cluster.history
                     if e.storage_key == PODS.storage_key and e.obj.get("status", {}).get("containerStatuses")]
            loops = [w for w in waits if w and w["reason"] == "CrashLoopBackOff"]
            assert loops and re.fullmatch(
                r"back-off 10s restarting failed container=app pod=crash_default\([0-9a-f-]+\)", loops[0]["message"])
            backoff = [e for e in cluster.events_of(pod) if e["reason"] == "BackOff"]
            assert backoff and backoff[0]["type"] == "Warning"
            assert backoff[0]["message"].startswith("Back-off restarting failed container app in pod crash_default(")
            previous = cluster.logbook.read(pod["metadata"]["uid"], "app", previous=True)
            assert [text for _, text in previous] == ["panic: boom"]
    running(body)


def test_helpers() -> None:
    assert go_duration(1.2345) == "1.234s"
    assert go_duration(0.312) == "312ms"
    assert go_duration(10) == "10s"
    assert go_duration(80) == "1m20s"
    assert go_duration(300) == "5m0s"
    assert normalize_image("nginx:1.27") == "docker.io/library/nginx:1.27"
    assert normalize_image("nginx") == "docker.io/library/nginx:latest"
    assert normalize_image("bitnami/redis:7") == "docker.io/bitnami/redis:7"
    assert normalize_image("registry.k8s.io/pause:3.10") == "registry.k8s.io/pause:3.10"
    assert normalize_image("localhost:5000/app") == "localhost:5000/app:latest"
    assert image_id("nginx:1.27") == image_id("docker.io/library/nginx:1.27")


def test_sidecar_init_container_keeps_running_alongside_the_app() -> None:
    async def body() -> None:
        async with MiniCluster([KubeletController]) as cluster:
            sidecar = container("proxy", "envoyproxy/envoy:v1.31", restartPolicy="Always")
            cluster.api.create(PODS, "default", _pod("meshed", initContainers=[sidecar]))
            pod = await cluster.wait_for(lambda: (p := cluster.get(PODS, "meshed")) and is_pod_ready(p) and p,
                                         what="meshed ready")
            proxy = pod["status"]["initContainerStatuses"][0]
            assert "running" in proxy["state"] and proxy["ready"] is True and proxy["started"] is True
            assert pod["status"]["phase"] == "Running"
            assert next(c for c in pod["status"]["conditions"] if c["type"] == "Initialized")["status"] == "True"
    running(body)


def test_evicted_pod_has_its_containers_killed_and_stays_failed() -> None:
    async def body() -> None:
        async with MiniCluster([KubeletController]) as cluster:
            cluster.api.create(PODS, "default", _pod("evictee"))
            await cluster.wait_for(lambda: is_pod_ready(cluster.get(PODS, "evictee")), what="evictee ready")

            def evict(live: dict) -> None:  # what the eviction manager writes
                live["status"].update(phase="Failed", reason="Evicted", message="The node was low on resource: memory. ")
                live["status"].pop("containerStatuses")
            cluster.api.patch_object(PODS, "default", "evictee", evict, subresource="status")
            pod = await cluster.wait_for(
                lambda: (p := cluster.get(PODS, "evictee")) and p["status"].get("containerStatuses") and p,
                what="containers reported killed")
            await asyncio.sleep(0.2)
            pod = cluster.get(PODS, "evictee")
            status = pod["status"]
            assert status["phase"] == "Failed" and status["reason"] == "Evicted"
            terminated = status["containerStatuses"][0]["state"]["terminated"]
            assert terminated["exitCode"] == 137 and terminated["reason"] == "Error"
            assert {c["type"]: c["status"] for c in status["conditions"]}["Ready"] == "False"
            assert [e["message"] for e in cluster.events_of(pod) if e["reason"] == "Killing"] == ["Stopping container app"]
    running(body)
