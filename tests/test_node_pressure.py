"""Node pressure and kubelet eviction: conditions, taints, events, evicted pods, replacements, recovery."""

from __future__ import annotations

import json
import re
import time
from typing import Any, Iterator

import pytest
import yaml

from chaositbench.sim import clock
from chaositbench.sim.controllers.eviction_manager import (ContainerUsage, EvictionManager, limit_message,
                                                           rank_for_eviction)
from chaositbench.sim.controllers.node_lifecycle import NodeLifecycleController
from chaositbench.sim.controllers.replicaset import ReplicaSetController
from chaositbench.sim.controllers.scheduler import Scheduler
from chaositbench.sim.kinds import preferred
from chaositbench.sim.server import SimServer
from chaositbench.sim.tables import pod_summary

from conftest import Kubectl
from controller_harness import NODES, PODS, Harness, container, run
from polling import eventually

REPLICASETS = preferred("apps", "ReplicaSet")
WORKER = "chaositbench-worker"
GI = 1024 ** 3
DISK_PRESSURE = ("node.kubernetes.io/disk-pressure", "NoSchedule")
SCALE = 0.01  # monitoring every 0.1 s, pressure transition period 3 s


def needs(**storage: str) -> dict[str, str]:
    return {"chaositbench.io/needs": yaml.safe_dump({"app": {"ephemeralStorage": storage}})}


def running_pod(h: Harness, name: str, *, node: str = WORKER, annotations: dict[str, str] | None = None,
                **spec: Any) -> dict[str, Any]:
    """A pod bound to ``node`` whose containers the test reports running (playing the kubelet)."""
    body: dict[str, Any] = {"metadata": {"name": name, "annotations": annotations or {}},
                            "spec": {"nodeName": node, "containers": [container()], **spec}}
    return report_running(h, h.create(PODS, body))


def report_running(h: Harness, pod: dict[str, Any]) -> dict[str, Any]:
    def report(p: dict[str, Any]) -> None:
        p["status"].update(phase="Running", containerStatuses=[
            {"name": c["name"], "image": c["image"], "imageID": "", "ready": True, "restartCount": 0, "started": True,
             "state": {"running": {"startedAt": clock.rfc3339()}}, "lastState": {}} for c in p["spec"]["containers"]])
        p["status"]["conditions"] = [{"type": "Ready", "status": "True", "lastTransitionTime": clock.rfc3339()}]
    return h.change(PODS, pod["metadata"]["name"], report, subresource="status")


def annotate(h: Harness, key: str, value: str | None, node: str = WORKER) -> None:
    def change(n: dict[str, Any]) -> None:
        annotations = n["metadata"].setdefault("annotations", {})
        if value is None:
            annotations.pop(key, None)
        else:
            annotations[key] = value
    h.change(NODES, node, change, "")


def node_condition(h: Harness, type_: str, node: str = WORKER) -> dict[str, Any]:
    return next(c for c in h.get(NODES, node, "")["status"]["conditions"] if c["type"] == type_)


def taints(h: Harness, node: str = WORKER) -> set[tuple[str, str]]:
    return {(t["key"], t["effect"]) for t in h.get(NODES, node, "")["spec"].get("taints") or []}


def events(h: Harness, obj: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(e["type"], e["reason"], e["message"]) for e in h.events_for(obj)]


def evicted(h: Harness, name: str) -> dict[str, Any] | None:
    pod = h.get(PODS, name)
    return pod if pod and pod["status"].get("reason") == "Evicted" else None


def test_node_disk_usage_sets_disk_pressure_taint_and_events_then_recovers_after_the_transition_period() -> None:
    async def body() -> None:
        async with Harness(EvictionManager, NodeLifecycleController, time_scale=SCALE) as h:
            annotate(h, "chaositbench.io/node-disk-used", "90Gi")
            await h.wait_for(lambda: DISK_PRESSURE in taints(h), what="disk-pressure taint")
            cond = node_condition(h, "DiskPressure")
            assert (cond["status"], cond["reason"], cond["message"]) == ("True", "KubeletHasDiskPressure",
                                                                         "kubelet has disk pressure")
            assert node_condition(h, "Ready")["status"] == "True"
            assert node_condition(h, "MemoryPressure")["status"] == "False"
            assert ("Normal", "NodeHasDiskPressure", f"Node {WORKER} status is now: NodeHasDiskPressure") in events(
                h, h.get(NODES, WORKER, ""))
            await h.wait_for(lambda: ("Warning", "EvictionThresholdMet", "Attempting to reclaim ephemeral-storage")
                             in events(h, h.get(NODES, WORKER, "")), what="EvictionThresholdMet")

            annotate(h, "chaositbench.io/node-disk-used", None)
            await h.settle(1.0)  # within the 5 min (× 0.01) transition period the condition holds
            assert node_condition(h, "DiskPressure")["status"] == "True"
            await h.wait_for(lambda: node_condition(h, "DiskPressure")["status"] == "False", timeout=5.0,
                             what="pressure lifted")
            cond = node_condition(h, "DiskPressure")
            assert (cond["reason"], cond["message"]) == ("KubeletHasNoDiskPressure", "kubelet has no disk pressure")
            await h.wait_for(lambda: DISK_PRESSURE not in taints(h), what="taint removed")
            assert ("Normal", "NodeHasNoDiskPressure", f"Node {WORKER} status is now: NodeHasNoDiskPressure") in events(
                h, h.get(NODES, WORKER, ""))
    run(body)


def test_disk_pressure_evicts_the_pod_using_most_above_its_request_with_the_kubelets_status_and_event() -> None:
    async def body() -> None:
        async with Harness(EvictionManager, NodeLifecycleController, time_scale=SCALE) as h:
            running_pod(h, "quiet", annotations=needs(usage="1Gi"),
                        containers=[container(resources={"requests": {"ephemeral-storage": "2Gi"}})])
            running_pod(h, "critical", annotations=needs(usage="1Gi"), priorityClassName="system-node-critical")
            running_pod(h, "hog", annotations=needs(usage="83Gi"))
            pod = await h.wait_for(lambda: evicted(h, "hog"), what="eviction")
            message = ("The node was low on resource: ephemeral-storage. Threshold quantity: 10508926313, "
                       "available: 7205816Ki. Container app was using 83Gi, request is 0, "
                       "has larger consumption of ephemeral-storage. ")
            status = pod["status"]
            assert (status["phase"], status["reason"], status["message"]) == ("Failed", "Evicted", message)
            target = next(c for c in status["conditions"] if c["type"] == "DisruptionTarget")
            assert (target["status"], target["reason"], target["message"]) == ("True", "TerminationByKubelet", message)
            assert next(c for c in status["conditions"] if c["type"] == "Ready")["status"] == "False"
            assert ("Warning", "Evicted", message) in events(h, pod)
            summary = pod_summary(pod)  # kubectl get pods: READY 0/1, STATUS Evicted
            assert (summary.ready, summary.total, summary.reason) == (0, 1, "Evicted")
            assert DISK_PRESSURE in taints(h)
            await h.settle(0.5)  # five more monitoring intervals: the node has room again, nobody else goes
            assert [p["metadata"]["name"] for p in h.items(PODS) if p["status"].get("reason") == "Evicted"] == ["hog"]
    run(body)


def test_pods_over_their_ephemeral_storage_limits_are_evicted_without_node_pressure() -> None:
    async def body() -> None:
        async with Harness(EvictionManager, time_scale=SCALE) as h:
            limited = {"limits": {"ephemeral-storage": "1Gi"}}
            running_pod(h, "writer", annotations=needs(usage="100Mi", writesPerMinute="1Gi"),
                        containers=[container(resources=limited)])
            pod = await h.wait_for(lambda: evicted(h, "writer"), timeout=5.0, what="limit eviction")
            message = "Pod ephemeral local storage usage exceeds the total limit of containers 1Gi. "
            assert (pod["status"]["phase"], pod["status"]["message"]) == ("Failed", message)
            assert not any(c["type"] == "DisruptionTarget" for c in pod["status"]["conditions"])
            assert ("Warning", "Evicted", message) in events(h, pod)
            assert node_condition(h, "DiskPressure")["status"] == "False"
    run(body)


def test_container_over_its_own_limit_is_named() -> None:
    pod = {"spec": {"containers": [container("big", resources={"limits": {"ephemeral-storage": "1Gi"}}),
                                   container("small", resources={"limits": {"ephemeral-storage": "1Gi"}})]}}
    usage = [ContainerUsage("big", 0, 1536 * 1024 ** 2), ContainerUsage("small", 0, 0)]
    assert limit_message(pod, usage) == 'Container big exceeded its local ephemeral storage limit "1Gi". '
    assert limit_message(pod, [ContainerUsage("big", 0, 3 * GI)]) == (
        "Pod ephemeral local storage usage exceeds the total limit of containers 2Gi. ")
    assert limit_message({"spec": {"containers": [container()]}}, [ContainerUsage("app", 0, 100 * GI)]) is None


def test_pods_are_ranked_as_the_kubelet_ranks_them() -> None:
    def pod(name: str, request: str | None = None, priority: int = 0) -> dict[str, Any]:
        resources = {"requests": {"ephemeral-storage": request}} if request else {}
        return {"metadata": {"name": name, "uid": name},
                "spec": {"priority": priority, "containers": [container(resources=resources)]}}
    pods = [pod("within-request", "10Gi"), pod("important-over", priority=1000), pod("small-over"),
            pod("big-over"), pod("big-within", "50Gi")]
    used = {"within-request": 5, "important-over": 40, "small-over": 1, "big-over": 30, "big-within": 45}
    usages = {name: [ContainerUsage("app", 0, gib * GI)] for name, gib in used.items()}
    ranked = [p["metadata"]["name"] for p in rank_for_eviction(pods, usages, "ephemeral-storage")]
    assert ranked == ["big-over", "small-over", "important-over", "within-request", "big-within"]


def test_memory_pressure_condition_taint_and_eviction() -> None:
    async def body() -> None:
        async with Harness(EvictionManager, NodeLifecycleController, time_scale=SCALE) as h:
            memory = {"chaositbench.io/needs": yaml.safe_dump({"app": {"memory": {"workingSet": "64Mi"}}})}
            running_pod(h, "greedy", annotations=memory,
                        containers=[container(resources={"requests": {"memory": "32Mi"}})])
            annotate(h, "chaositbench.io/node-memory-used", "15.5Gi")
            pod = await h.wait_for(lambda: evicted(h, "greedy"), what="memory eviction")
            assert pod["status"]["message"] == (
                "The node was low on resource: memory. Threshold quantity: 100Mi, available: 56120Ki. "
                "Container app was using 64Mi, request is 32Mi, has larger consumption of memory. ")
            cond = node_condition(h, "MemoryPressure")
            assert (cond["status"], cond["reason"], cond["message"]) == (
                "True", "KubeletHasInsufficientMemory", "kubelet has insufficient memory available")
            await h.wait_for(lambda: ("node.kubernetes.io/memory-pressure", "NoSchedule") in taints(h), what="taint")
            assert ("Normal", "NodeHasInsufficientMemory",
                    f"Node {WORKER} status is now: NodeHasInsufficientMemory") in events(h, h.get(NODES, WORKER, ""))
    run(body)


def test_evicted_pod_stays_listed_and_its_replicaset_replaces_it_on_another_node() -> None:
    async def body() -> None:
        async with Harness(EvictionManager, NodeLifecycleController, ReplicaSetController, Scheduler,
                           time_scale=SCALE) as h:
            template = {"metadata": {"labels": {"app": "writer"}, "annotations": needs(usage="5Gi")},
                        "spec": {"containers": [container()]}}
            h.create(REPLICASETS, {"metadata": {"name": "writer"}, "spec": {
                "replicas": 1, "selector": {"matchLabels": {"app": "writer"}}, "template": template}})
            first = await h.wait_for(lambda: next((p for p in h.items(PODS) if p["spec"].get("nodeName")), None),
                                     what="scheduled pod")
            node = first["spec"]["nodeName"]
            report_running(h, first)
            annotate(h, "chaositbench.io/node-disk-used", "83Gi", node)
            await h.wait_for(lambda: evicted(h, first["metadata"]["name"]), what="eviction")
            replacement = await h.wait_for(
                lambda: next((p for p in h.items(PODS) if p["metadata"]["name"] != first["metadata"]["name"]
                              and p["spec"].get("nodeName")), None), what="replacement scheduled")
            assert replacement["spec"]["nodeName"] != node
            assert h.get(PODS, first["metadata"]["name"])["status"]["phase"] == "Failed"
    run(body)


# -- through the real kubectl ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fast_kubectl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kubectl]:
    """The real kubectl against a cluster of its own at time scale 0.01 (pressure transition 3 s, NoExecute 300 s → 3 s)."""
    server = SimServer(time_scale=SCALE).start()
    try:
        config = server.write_kubeconfig(tmp_path_factory.mktemp("pressure") / "config")
        yield Kubectl(config, tmp_path_factory.mktemp("pressure-cache"))
    finally:
        server.stop()


def deployment(name: str, replicas: int, **pod_spec: Any) -> str:
    return yaml.safe_dump({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": {
        "replicas": replicas, "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}},
                     "spec": {"containers": [container()], "terminationGracePeriodSeconds": 1, **pod_spec}}}})


def pods_by_node(kubectl: Kubectl, app: str) -> dict[str, str]:
    """Running, non-terminating pods of ``app`` → their node."""
    items = json.loads(kubectl("get", "pods", "-l", f"app={app}", "-o", "json"))["items"]
    return {p["metadata"]["name"]: p["spec"].get("nodeName", "") for p in items
            if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")}


def test_disk_pressure_as_kubectl_shows_it_and_new_pods_stay_off_the_node(fast_kubectl: Kubectl) -> None:
    kubectl, node = fast_kubectl, "chaositbench-worker3"
    assert f"node/{node} annotated" in kubectl("annotate", "node", node, "chaositbench.io/node-disk-used=90Gi")
    described = eventually(lambda: (lambda out: out if "disk-pressure:NoSchedule" in out else None)(
        kubectl("describe", "node", node)), "the disk-pressure taint")
    assert re.search(r"Taints:\s+node\.kubernetes\.io/disk-pressure:NoSchedule", described)
    assert re.search(r"DiskPressure\s+True\s.*KubeletHasDiskPressure\s+kubelet has disk pressure", described)
    assert re.search(r"Ready\s+True\s.*KubeletReady\s+kubelet is posting ready status", described)
    events = eventually(lambda: (lambda out: out if "EvictionThresholdMet" in out else None)(
        kubectl("get", "events", "--field-selector", f"involvedObject.name={node}")), "EvictionThresholdMet")
    assert re.search(rf"Normal\s+NodeHasDiskPressure\s+node/{node}\s+Node {node} status is now: NodeHasDiskPressure",
                     events)
    assert re.search(r"Warning\s+EvictionThresholdMet\s+.*Attempting to reclaim ephemeral-storage", events)
    assert re.search(rf"{node}\s+Ready\s", kubectl("get", "nodes"))

    kubectl("apply", "-f", "-", input=deployment("spread", 6))
    placed = eventually(lambda: (lambda p: p if len(p) == 6 else None)(pods_by_node(kubectl, "spread")), "6 pods")
    assert node not in placed.values()

    kubectl("annotate", "node", node, "chaositbench.io/node-disk-used-")
    described = eventually(lambda: (lambda out: out if re.search(r"Taints:\s+<none>", out) else None)(
        kubectl("describe", "node", node)), "pressure lifted after the transition period")
    assert re.search(r"DiskPressure\s+False\s.*KubeletHasNoDiskPressure\s+kubelet has no disk pressure", described)
    assert "NodeHasNoDiskPressure" in kubectl("get", "events", "--field-selector", f"involvedObject.name={node}")
    kubectl("delete", "deployment", "spread")


def test_cordon_drain_uncordon_with_kubectl(fast_kubectl: Kubectl) -> None:
    kubectl = fast_kubectl
    kubectl("apply", "-f", "-", input=deployment("web", 3, volumes=[{"name": "scratch", "emptyDir": {}}]))
    kubectl("apply", "-f", "-", input=yaml.safe_dump({
        "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"}, "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "template": {"metadata": {"labels": {"app": "agent"}}, "spec": {"containers": [container()]}}}}))
    placed = eventually(lambda: (lambda p: p if len(p) == 3 else None)(pods_by_node(kubectl, "web")), "3 web pods")
    node = sorted(placed.values())[0]
    eventually(lambda: node in pods_by_node(kubectl, "agent").values(), "the daemon pod on the node")

    kubectl("apply", "-f", "-", input=yaml.safe_dump({
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "web"},
        "spec": {"minAvailable": 3, "selector": {"matchLabels": {"app": "web"}}}}))
    eventually(lambda: re.search(r"web\s+3\s+N/A\s+0\s", kubectl("get", "pdb")), "PDB status: 3 healthy, 0 allowed")

    assert kubectl("cordon", node).strip() == f"node/{node} cordoned"
    assert re.search(rf"{node}\s+Ready,SchedulingDisabled\s", kubectl("get", "nodes"))
    refused = kubectl.run("drain", node, "--timeout=20s", check=False)
    assert refused.returncode != 0 and "cannot delete" in refused.stderr
    blocked = kubectl.run("drain", node, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=2s", check=False)
    assert blocked.returncode != 0
    assert "Cannot evict pod as it would violate the pod's disruption budget." in blocked.stderr
    assert set(pods_by_node(kubectl, "web")) == set(placed)  # nothing was evicted
    kubectl("patch", "pdb", "web", "--type=merge", "-p", '{"spec": {"minAvailable": 2}}')
    eventually(lambda: re.search(r"web\s+2\s+N/A\s+1\s", kubectl("get", "pdb")), "PDB allows one disruption")
    drained = kubectl.run("drain", node, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=30s")
    output = drained.stdout + drained.stderr
    assert "evicting pod default/web-" in output and f"node/{node} drained" in output
    after = eventually(lambda: (lambda p: p if len(p) == 3 and node not in p.values() else None)(
        pods_by_node(kubectl, "web")), "web pods rescheduled off the drained node")
    assert len(after) == 3
    assert node in pods_by_node(kubectl, "agent").values()  # DaemonSet pods stay

    assert kubectl("uncordon", node).strip() == f"node/{node} uncordoned"
    assert re.search(rf"{node}\s+Ready\s", kubectl("get", "nodes"))
    kubectl("delete", "deployment", "web")
    kubectl("delete", "daemonset", "agent")
    kubectl("delete", "pdb", "web")


def test_not_ready_node_is_tainted_and_its_pods_are_evicted_after_the_scaled_toleration(fast_kubectl: Kubectl) -> None:
    kubectl = fast_kubectl
    kubectl("apply", "-f", "-", input=deployment("api", 3))
    placed = eventually(lambda: (lambda p: p if len(p) == 3 else None)(pods_by_node(kubectl, "api")), "3 api pods")
    node = sorted(placed.values())[0]
    lost = [name for name, on in placed.items() if on == node]
    unknown = {"status": {"conditions": [{"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown",
                                          "message": "Kubelet stopped posting node status."}]}}
    kubectl("patch", "node", node, "--subresource=status", "-p", json.dumps(unknown))
    eventually(lambda: re.search(rf"{node}\s+NotReady\s", kubectl("get", "nodes")), "NotReady")
    taints = eventually(lambda: (lambda t: t if len(t) == 2 else None)(
        json.loads(kubectl("get", "node", node, "-o", "json"))["spec"].get("taints") or []), "unreachable taints")
    assert {(t["key"], t["effect"]) for t in taints} == {("node.kubernetes.io/unreachable", "NoSchedule"),
                                                         ("node.kubernetes.io/unreachable", "NoExecute")}
    started = time.monotonic()
    for name in lost:  # default toleration: 300 s, i.e. 3 s at this time scale
        eventually(lambda: f"Marking for deletion Pod default/{name}" in kubectl(
            "get", "events", "--field-selector", f"involvedObject.name={name}"), f"eviction of {name}")
    assert time.monotonic() - started > 1.5
    eventually(lambda: (lambda p: p if len(p) == 3 and node not in p.values() else None)(
        pods_by_node(kubectl, "api")), "replacements on Ready nodes")
    ready = {"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                        "message": "kubelet is posting ready status"}]}}
    kubectl("patch", "node", node, "--subresource=status", "-p", json.dumps(ready))
    eventually(lambda: not json.loads(kubectl("get", "node", node, "-o", "json"))["spec"].get("taints"), "taints lifted")
    kubectl("delete", "deployment", "api")


def test_a_pod_writing_to_its_disk_brings_pressure_is_evicted_and_the_node_recovers() -> None:
    async def body() -> None:
        async with Harness(EvictionManager, NodeLifecycleController, time_scale=SCALE) as h:
            critical = running_pod(h, "critical", annotations=needs(usage="40Gi"),
                                   priorityClassName="system-node-critical")
            assert critical["spec"]["priority"] == 2000001000
            running_pod(h, "logger", annotations=needs(usage="1Gi", writesPerMinute="30Gi"))  # 50 GiB per real second
            await h.wait_for(lambda: node_condition(h, "DiskPressure")["status"] == "True", what="disk pressure")
            pod = await h.wait_for(lambda: evicted(h, "logger"), what="the writer evicted")
            assert re.fullmatch(r"The node was low on resource: ephemeral-storage\. Threshold quantity: \d+, "
                                r"available: \w+\. Container app was using \w+, request is 0, has larger "
                                r"consumption of ephemeral-storage\. ", pod["status"]["message"])
            await h.wait_for(lambda: node_condition(h, "DiskPressure")["status"] == "False", timeout=6.0,
                             what="recovery once the writer is gone and the transition period is over")
            assert h.get(PODS, "critical")["status"]["phase"] == "Running"
            await h.wait_for(lambda: DISK_PRESSURE not in taints(h), what="taint lifted")
    run(body)


def test_evicted_pod_as_kubectl_shows_it_and_its_replacement_elsewhere(fast_kubectl: Kubectl) -> None:
    kubectl = fast_kubectl
    manifest = yaml.safe_load(deployment("filler", 1))
    manifest["spec"]["template"]["metadata"]["annotations"] = needs(usage="5Gi")
    kubectl("apply", "-f", "-", input=yaml.safe_dump(manifest))
    first, node = eventually(lambda: next(iter(pods_by_node(kubectl, "filler").items()), None), "a running pod")
    kubectl("annotate", "node", node, "chaositbench.io/node-disk-used=84Gi")  # + 5Gi of the pod: 9 % available
    eventually(lambda: f"pod/{first}" in kubectl("get", "events", "--field-selector", "reason=Evicted"), "eviction")
    replacement = eventually(lambda: next((n for n in pods_by_node(kubectl, "filler") if n != first), None),
                             "a replacement running")
    assert pods_by_node(kubectl, "filler")[replacement] != node
    row = next(line for line in kubectl("get", "pods").splitlines() if line.startswith(first))
    assert re.match(rf"{first}\s+0/1\s+(Evicted|Error)\s", row)  # Error once the kubelet reported the kill (137)
    described = kubectl("describe", "pod", first)
    assert re.search(r"Status:\s+Failed", described) and re.search(r"Reason:\s+Evicted", described)
    assert re.search(r"Message:\s+The node was low on resource: ephemeral-storage\. Threshold quantity: \d+, "
                     r"available: \w+\. Container app was using 5Gi, request is 0, has larger consumption of "
                     r"ephemeral-storage\.", described)
    assert re.search(r"Warning\s+Evicted\s+\S+\s+kubelet\s+The node was low on resource", described)
    kubectl("annotate", "node", node, "chaositbench.io/node-disk-used-")
    kubectl("delete", "deployment", "filler")
