"""Nodes: their registration, heartbeats, and the node lifecycle controller.

:func:`bootstrap_nodes` registers the node pool of ``nodepool.yaml`` as real
kubelets do (well-known labels, pod CIDRs, capacity, the four conditions with
the kubelet's reasons and messages, addresses, node info, a node Lease).

:class:`NodeLifecycleController` keeps every node's heartbeat fresh (the
Lease every 10 s, the conditions' ``lastHeartbeatTime`` every minute) unless
its Ready condition is ``Unknown`` (a kubelet that stopped posting), and does
what kube-controller-manager's node lifecycle controller does: taints nodes by
condition (``not-ready``/``unreachable`` NoSchedule and NoExecute, disk,
memory and PID pressure, network-unavailable) and by cordon
(``unschedulable``), marks the pods of a node that stops being Ready as not
ready, and records ``RegisteredNode``, ``NodeNotReady`` and the kubelet's
``NodeNotSchedulable``/``NodeSchedulable`` events. Eviction of pods from
NoExecute-tainted nodes is :mod:`.taint_eviction`'s job.
"""

from __future__ import annotations

import copy
import secrets
import time
import uuid
from importlib import resources
from typing import TYPE_CHECKING, Any, Iterator

import yaml

from .. import clock
from ..kinds import preferred
from ..resources import ResourceAPI
from ..store import Obj, WatchEvent
from .base import Controller, ObjectKey
from .podstate import condition

if TYPE_CHECKING:
    from ..cluster import Cluster

NODES = preferred("", "Node")
PODS = preferred("", "Pod")
LEASES = preferred("coordination.k8s.io", "Lease")
NODE_LEASE_NAMESPACE = "kube-node-lease"
LEASE_DURATION_S = 40
KUBELET_CONDITIONS = (
    ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
)
#: NoSchedule taints the controller keeps in step with a condition status (TaintNodesByCondition)
CONDITION_TAINTS = {
    ("MemoryPressure", "True"): "node.kubernetes.io/memory-pressure",
    ("DiskPressure", "True"): "node.kubernetes.io/disk-pressure",
    ("PIDPressure", "True"): "node.kubernetes.io/pid-pressure",
    ("NetworkUnavailable", "True"): "node.kubernetes.io/network-unavailable",
    ("Ready", "False"): "node.kubernetes.io/not-ready",
    ("Ready", "Unknown"): "node.kubernetes.io/unreachable",
}
NOT_READY_TAINT = "node.kubernetes.io/not-ready"
UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"
UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"
MANAGED_TAINTS = set(CONDITION_TAINTS.values()) | {UNSCHEDULABLE_TAINT}
HUGEPAGES = {"hugepages-1Gi": "0", "hugepages-2Mi": "0"}


# -- registration ---------------------------------------------------------------------
def load_node_pool() -> dict[str, Any]:
    """The default node pool (``nodepool.yaml``)."""
    return yaml.safe_load(resources.files("chaositbench.sim").joinpath("nodepool.yaml").read_text())


def node_object(pool: dict[str, Any], entry: dict[str, Any], index: int) -> Obj:
    """The Node a kubelet registers for one pool entry (``index`` orders CIDRs and addresses)."""
    name = entry["name"]
    roles = entry.get("roles") or []
    labels = {"beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
              "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", **(entry.get("labels") or {})}
    for role in roles:
        labels[f"node-role.kubernetes.io/{role}"] = ""
    if "control-plane" in roles:
        labels["node.kubernetes.io/exclude-from-external-load-balancers"] = ""
    now = clock.rfc3339()
    cidr = f"10.244.{index}.0/24"
    spec: dict[str, Any] = {"podCIDR": cidr, "podCIDRs": [cidr],
                            "providerID": f"kind://docker/{pool.get('cluster_name', 'kind')}/{name}"}
    if entry.get("taints"):
        spec["taints"] = copy.deepcopy(entry["taints"])
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": labels, "annotations": {
            "kubeadm.alpha.kubernetes.io/cri-socket": "unix:///run/containerd/containerd.sock",
            "node.alpha.kubernetes.io/ttl": "0", "volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
        "spec": spec,
        "status": {
            "addresses": [{"address": f"172.18.0.{index + 2}", "type": "InternalIP"},
                          {"address": name, "type": "Hostname"}],
            "allocatable": {**HUGEPAGES, **entry.get("allocatable", entry["capacity"])},
            "capacity": {**HUGEPAGES, **entry["capacity"]},
            "conditions": [{"type": t, "status": s, "lastHeartbeatTime": now, "lastTransitionTime": now,
                            "reason": r, "message": m} for t, s, r, m in KUBELET_CONDITIONS],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "images": [],
            "nodeInfo": {"architecture": "amd64", "bootID": str(uuid.uuid4()),
                         "containerRuntimeVersion": pool.get("container_runtime", "containerd://2.1.4"),
                         "kernelVersion": pool.get("kernel_version", ""), "kubeProxyVersion": "",
                         "kubeletVersion": pool.get("kubelet_version", "v1.37.0"), "machineID": secrets.token_hex(16),
                         "operatingSystem": "linux", "osImage": pool.get("os_image", ""),
                         "systemUUID": str(uuid.uuid4())},
        },
    }


def lease_object(node: Obj) -> Obj:
    """The node's heartbeat Lease in ``kube-node-lease``, owned by the Node."""
    meta = node["metadata"]
    return {"apiVersion": LEASES.api_version, "kind": "Lease",
            "metadata": {"name": meta["name"], "namespace": NODE_LEASE_NAMESPACE, "ownerReferences": [
                {"apiVersion": "v1", "kind": "Node", "name": meta["name"], "uid": meta["uid"]}]},
            "spec": {"holderIdentity": meta["name"], "leaseDurationSeconds": LEASE_DURATION_S,
                     "renewTime": clock.rfc3339_micro()}}


def bootstrap_nodes(api: ResourceAPI, pool: dict[str, Any] | None = None) -> list[Obj]:
    """Register the node pool (``nodepool.yaml`` unless given) with their Leases; returns the Nodes."""
    pool = pool or load_node_pool()
    nodes = [api.create(NODES, "", node_object(pool, entry, i)) for i, entry in enumerate(pool["nodes"])]
    if api.try_get(preferred("", "Namespace"), "", NODE_LEASE_NAMESPACE) is not None:
        for node in nodes:
            api.create(LEASES, NODE_LEASE_NAMESPACE, lease_object(node))
    return nodes


# -- taints -------------------------------------------------------------------------------
def wanted_taints(node: Obj) -> set[tuple[str, str]]:
    """(key, effect) of the managed taints the node's conditions and cordon call for."""
    wanted: set[tuple[str, str]] = set()
    for cond in (node.get("status") or {}).get("conditions") or []:
        key = CONDITION_TAINTS.get((cond.get("type"), cond.get("status")))
        if key:
            wanted.add((key, "NoSchedule"))
            if key in (NOT_READY_TAINT, UNREACHABLE_TAINT):
                wanted.add((key, "NoExecute"))
    if (node.get("spec") or {}).get("unschedulable"):
        wanted.add((UNSCHEDULABLE_TAINT, "NoSchedule"))
    return wanted


def reconcile_taints(taints: list[dict[str, Any]], wanted: set[tuple[str, str]]) -> list[dict[str, Any]]:
    """Managed taints brought to ``wanted``; other taints untouched, in their order."""
    kept = [t for t in taints if t.get("key") not in MANAGED_TAINTS or (t.get("key"), t.get("effect")) in wanted]
    present = {(t.get("key"), t.get("effect")) for t in kept}
    stamp = clock.rfc3339()
    for key, effect in sorted(wanted - present):
        kept.append({"key": key, "effect": effect, "timeAdded": stamp})
    return kept


class NodeLifecycleController(Controller):
    """Heartbeats, taints by condition and cordon, and Ready transitions of nodes."""

    name = "node-lifecycle"
    watches = (NODES,)
    #: how often the kubelet renews its Lease, and re-posts unchanged node status (scaled by time_scale)
    lease_renew_s = 10.0
    status_report_s = 60.0

    def __init__(self, cluster: "Cluster") -> None:
        super().__init__(cluster)
        self._ready: dict[str, str] = {}
        self._cordoned: dict[str, bool] = {}
        self._reported: dict[str, float] = {}

    def keys_for(self, event: WatchEvent) -> Iterator[ObjectKey]:
        name = event.obj["metadata"]["name"]
        if event.type == "DELETED":
            for memory in (self._ready, self._cordoned, self._reported):
                memory.pop(name, None)
            return
        yield "", name

    def reconcile(self, key: ObjectKey) -> None:
        node = self.api.try_get(NODES, "", key[1])
        if node is None:
            return
        self._observe(node)
        self._taint(node)
        self._heartbeat(node)
        self.requeue_after(key, self.lease_renew_s * self.cluster.time_scale)

    def _observe(self, node: Obj) -> None:
        """Events for registration, Ready transitions and cordon changes."""
        name = node["metadata"]["name"]
        ready = (condition(node, "Ready") or {}).get("status", "Unknown")
        before = self._ready.get(name)
        if before is None:
            self.cluster.events.record(node, "Normal", "RegisteredNode",
                                       f"Node {name} event: Registered Node {name} in Controller", "node-controller")
        elif before == "True" and ready != "True":
            self.cluster.events.record(node, "Normal", "NodeNotReady", f"Node {name} status is now: NodeNotReady",
                                       "node-controller")
            self._mark_pods_not_ready(name)
        self._ready[name] = ready
        cordoned = bool((node.get("spec") or {}).get("unschedulable"))
        if name in self._cordoned and self._cordoned[name] != cordoned:
            status = "NodeNotSchedulable" if cordoned else "NodeSchedulable"
            self.cluster.events.record(node, "Normal", status, f"Node {name} status is now: {status}", "kubelet",
                                       instance=name)
        self._cordoned[name] = cordoned

    def _taint(self, node: Obj) -> None:
        taints = list((node.get("spec") or {}).get("taints") or [])
        updated = reconcile_taints(taints, wanted_taints(node))
        if updated == taints:
            return

        def apply(current: Obj) -> None:
            now_taints = list((current.get("spec") or {}).get("taints") or [])
            new = reconcile_taints(now_taints, wanted_taints(current))
            if new:
                current.setdefault("spec", {})["taints"] = new
            else:
                current.get("spec", {}).pop("taints", None)
        self.api.patch_object(NODES, "", node["metadata"]["name"], apply)

    def _heartbeat(self, node: Obj) -> None:
        """Renew the Lease; re-post the conditions' heartbeat time when a report is due."""
        name = node["metadata"]["name"]
        if (condition(node, "Ready") or {}).get("status", "Unknown") == "Unknown":
            return
        lease = self.api.try_get(LEASES, NODE_LEASE_NAMESPACE, name)
        if lease is not None:
            def renew(current: Obj) -> None:
                current.setdefault("spec", {})["renewTime"] = clock.rfc3339_micro()
            self.api.patch_object(LEASES, NODE_LEASE_NAMESPACE, name, renew)
        elif self.api.try_get(preferred("", "Namespace"), "", NODE_LEASE_NAMESPACE) is not None:
            self.api.create(LEASES, NODE_LEASE_NAMESPACE, lease_object(node))
        now = time.monotonic()
        if now - self._reported.get(name, float("-inf")) < self.status_report_s * self.cluster.time_scale:
            return
        self._reported[name] = now

        def beat(current: Obj) -> None:
            stamp = clock.rfc3339()
            for cond in (current.get("status") or {}).get("conditions") or []:
                cond["lastHeartbeatTime"] = stamp
        self.api.patch_object(NODES, "", name, beat, subresource="status")

    def _mark_pods_not_ready(self, node: str) -> None:
        """``MarkPodsNotReady``: the Ready condition of the node's pods turns False."""
        pods, _ = self.api.list(PODS, field_selector=f"spec.nodeName={node}")
        for pod in pods:
            ready = condition(pod, "Ready")
            if ready is None or ready.get("status") != "True":
                continue

            def unready(current: Obj) -> None:
                for cond in (current.get("status") or {}).get("conditions") or []:
                    if cond.get("type") == "Ready":
                        cond["status"] = "False"
                        cond["lastTransitionTime"] = clock.rfc3339()
            meta = pod["metadata"]
            self.api.patch_object(PODS, meta["namespace"], meta["name"], unready, subresource="status")
            self.cluster.events.record(pod, "Warning", "NodeNotReady", "Node is not ready", "node-controller")
