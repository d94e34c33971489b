"""Nodes register as kubelets do; the lifecycle controller heartbeats, taints and evicts as upstream does."""

from __future__ import annotations

from typing import Any

from chaositbench.sim.controllers.node_lifecycle import NodeLifecycleController
from chaositbench.sim.controllers.taint_eviction import TaintEvictionController
from chaositbench.sim.kinds import preferred

from controller_harness import NODES, PODS, Harness, container, run

LEASES = preferred("coordination.k8s.io", "Lease")
WORKER = "chaositbench-worker"


def taints(h: Harness, node: str = WORKER) -> set[tuple[str, str]]:
    return {(t["key"], t["effect"]) for t in (h.get(NODES, node, "")["spec"].get("taints") or [])}


def set_condition(h: Harness, type_: str, status: str, reason: str, node: str = WORKER) -> None:
    def change(n: dict[str, Any]) -> None:
        for cond in n["status"]["conditions"]:
            if cond["type"] == type_:
                cond.update(status=status, reason=reason)
    h.change(NODES, node, change, "", subresource="status")


def test_nodes_register_like_kubelets() -> None:
    h = Harness()
    nodes = {n["metadata"]["name"]: n for n in h.items(NODES, None)}
    assert sorted(nodes) == ["chaositbench-control-plane", "chaositbench-worker", "chaositbench-worker2",
                             "chaositbench-worker3"]
    control, worker = nodes["chaositbench-control-plane"], nodes["chaositbench-worker2"]
    assert control["metadata"]["labels"]["node-role.kubernetes.io/control-plane"] == ""
    assert control["spec"]["taints"][0]["key"] == "node-role.kubernetes.io/control-plane"
    assert control["spec"]["podCIDR"] == "10.244.0.0/24"
    labels = worker["metadata"]["labels"]
    assert {labels[k] for k in ("kubernetes.io/os", "beta.kubernetes.io/os")} == {"linux"}
    assert labels["kubernetes.io/arch"] == "amd64" and labels["kubernetes.io/hostname"] == "chaositbench-worker2"
    assert worker["spec"]["podCIDRs"] == ["10.244.2.0/24"]
    status = worker["status"]
    assert {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]} == {
        "MemoryPressure": ("False", "KubeletHasSufficientMemory"), "DiskPressure": ("False", "KubeletHasNoDiskPressure"),
        "PIDPressure": ("False", "KubeletHasSufficientPID"), "Ready": ("True", "KubeletReady")}
    assert status["addresses"] == [{"address": "172.18.0.4", "type": "InternalIP"},
                                   {"address": "chaositbench-worker2", "type": "Hostname"}]
    info = status["nodeInfo"]
    assert info["kubeletVersion"] == "v1.37.0" and info["containerRuntimeVersion"].startswith("containerd://")
    assert len(info["machineID"]) == 32 and info["operatingSystem"] == "linux"
    assert status["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10250}}
    lease = h.get(LEASES, "chaositbench-worker2", "kube-node-lease")
    assert lease["spec"]["holderIdentity"] == "chaositbench-worker2"
    assert lease["metadata"]["ownerReferences"][0]["uid"] == worker["metadata"]["uid"]


def test_heartbeats_keep_lease_and_conditions_fresh() -> None:
    async def body() -> None:
        async with Harness(NodeLifecycleController, time_scale=0.02) as h:
            lease = h.get(LEASES, WORKER, "kube-node-lease")["spec"]["renewTime"]
            beat = h.get(NODES, WORKER, "")["status"]["conditions"][-1]["lastHeartbeatTime"]
            await h.wait_for(lambda: h.get(LEASES, WORKER, "kube-node-lease")["spec"]["renewTime"] != lease,
                             what="lease renewal")
            await h.wait_for(lambda: h.get(NODES, WORKER, "")["status"]["conditions"][-1]["lastHeartbeatTime"] != beat,
                             timeout=4.0, what="condition heartbeat")
    run(body)


def test_cordon_and_pressure_conditions_become_taints() -> None:
    async def body() -> None:
        async with Harness(NodeLifecycleController) as h:
            h.change(NODES, WORKER, lambda n: n["spec"].update(unschedulable=True), "")
            await h.wait_for(lambda: ("node.kubernetes.io/unschedulable", "NoSchedule") in taints(h), what="cordon")
            set_condition(h, "DiskPressure", "True", "KubeletHasDiskPressure")
            await h.wait_for(lambda: ("node.kubernetes.io/disk-pressure", "NoSchedule") in taints(h), what="pressure")
            h.change(NODES, WORKER, lambda n: n["spec"].pop("unschedulable"), "")
            set_condition(h, "DiskPressure", "False", "KubeletHasNoDiskPressure")
            await h.wait_for(lambda: not taints(h), what="taints removed")
            reasons = [e["reason"] for e in h.events_for(h.get(NODES, WORKER, ""))]
            assert "NodeNotSchedulable" in reasons and "NodeSchedulable" in reasons
    run(body)


def test_not_ready_node_is_tainted_and_its_pods_evicted_after_their_toleration() -> None:
    async def body() -> None:
        async with Harness(NodeLifecycleController, TaintEvictionController) as h:
            def on_worker(name: str, tolerations: list[dict[str, Any]] | None = None) -> None:
                spec: dict[str, Any] = {"nodeName": WORKER, "containers": [container()]}
                if tolerations is not None:
                    spec["tolerations"] = tolerations
                h.set_pod_state(h.create(PODS, {"metadata": {"name": name}, "spec": spec}))
            not_ready = {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"}
            on_worker("patient")  # admission gives it the default 300 s tolerations
            on_worker("quick", [{**not_ready, "tolerationSeconds": 1}])
            on_worker("forever", [not_ready])
            set_condition(h, "Ready", "False", "KubeletNotReady")
            await h.wait_for(lambda: {("node.kubernetes.io/not-ready", "NoSchedule"),
                                      ("node.kubernetes.io/not-ready", "NoExecute")} <= taints(h), what="taints")
            node = h.get(NODES, WORKER, "")
            assert all(t.get("timeAdded") for t in node["spec"]["taints"])
            assert "NodeNotReady" in [e["reason"] for e in h.events_for(node)]
            patient = h.get(PODS, "patient")
            assert next(c for c in patient["status"]["conditions"] if c["type"] == "Ready")["status"] == "False"
            quick = await h.wait_for(lambda: (lambda p: p if p["metadata"].get("deletionTimestamp") else None)(
                h.get(PODS, "quick")), timeout=4.0, what="eviction after tolerationSeconds")
            target = next(c for c in quick["status"]["conditions"] if c["type"] == "DisruptionTarget")
            assert (target["reason"], target["message"]) == ("DeletionByTaintManager",
                                                             "Taint manager: deleting due to NoExecute taint")
            assert ("TaintManagerEviction", "Marking for deletion Pod default/quick") in [
                (e["reason"], e["message"]) for e in h.events_for(quick)]
            assert not h.get(PODS, "patient")["metadata"].get("deletionTimestamp")
            assert not h.get(PODS, "forever")["metadata"].get("deletionTimestamp")

            set_condition(h, "Ready", "True", "KubeletReady")
            await h.wait_for(lambda: not taints(h), what="taints lifted")
            h.change(NODES, WORKER, lambda n: n["spec"].update(taints=[{"key": "example.com/drain",
                                                                         "effect": "NoExecute"}]), "")
            await h.wait_for(lambda: all(h.get(PODS, n)["metadata"].get("deletionTimestamp")
                                         for n in ("patient", "forever")), what="immediate eviction")
    run(body)
