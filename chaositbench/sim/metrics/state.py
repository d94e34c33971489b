"""kube-state-metrics style series, read straight from the stored objects (names and labels as KSM v2)."""

from __future__ import annotations

from typing import Any

from ..kinds import preferred
from ..quantity import QuantityError, parse_quantity
from ..store import Obj, Store
from .exposition import Family

PODS = preferred("", "Pod")
NODES = preferred("", "Node")
DEPLOYMENTS = preferred("apps", "Deployment")
STATEFULSETS = preferred("apps", "StatefulSet")
PHASES = ("Pending", "Succeeded", "Failed", "Unknown", "Running")
NODE_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable")
UNITS = {"cpu": "core", "memory": "byte", "ephemeral-storage": "byte", "pods": "integer"}


def _status_label(value: str | None) -> str:
    return {"True": "true", "False": "false"}.get(value or "", "unknown")


def _amount(raw: Any) -> float | None:
    try:
        return float(parse_quantity(raw))
    except (QuantityError, ValueError, TypeError):
        return None


def _resources(family: Family, base: dict[str, str], values: dict[str, Any]) -> None:
    for resource, raw in sorted(values.items()):
        amount = _amount(raw)
        if amount is not None:
            family.add({**base, "resource": resource.replace("-", "_").replace(".", "_").replace("/", "_"),
                        "unit": UNITS.get(resource, "integer")}, amount)


def pod_families(pods: list[Obj]) -> list[Family]:
    info = Family("kube_pod_info", "Information about pod.", "gauge")
    owner = Family("kube_pod_owner", "Information about the Pod's owner.", "gauge")
    phase = Family("kube_pod_status_phase", "The pods current phase.", "gauge")
    ready = Family("kube_pod_status_ready", "Describes whether the pod is ready to serve requests.", "gauge")
    restarts = Family("kube_pod_container_status_restarts_total",
                      "The number of container restarts per container.", "counter")
    c_ready = Family("kube_pod_container_status_ready",
                     "Describes whether the containers readiness check succeeded.", "gauge")
    c_running = Family("kube_pod_container_status_running",
                       "Describes whether the container is currently in running state.", "gauge")
    c_waiting = Family("kube_pod_container_status_waiting",
                       "Describes whether the container is currently in waiting state.", "gauge")
    waiting_reason = Family("kube_pod_container_status_waiting_reason",
                            "Describes the reason the container is currently in waiting state.", "gauge")
    c_terminated = Family("kube_pod_container_status_terminated",
                          "Describes whether the container is currently in terminated state.", "gauge")
    terminated_reason = Family("kube_pod_container_status_terminated_reason",
                               "Describes the reason the container is currently in terminated state.", "gauge")
    last_reason = Family("kube_pod_container_status_last_terminated_reason",
                         "Describes the last reason the container was in terminated state.", "gauge")
    last_exit = Family("kube_pod_container_status_last_terminated_exitcode",
                       "Describes the exit code for the last container in terminated state.", "gauge")
    limits = Family("kube_pod_container_resource_limits",
                    "The number of requested limit resource by a container.", "gauge")
    requests = Family("kube_pod_container_resource_requests",
                      "The number of requested request resource by a container.", "gauge")
    for pod in pods:
        meta, spec, status = pod["metadata"], pod.get("spec") or {}, pod.get("status") or {}
        base = {"namespace": meta["namespace"], "pod": meta["name"], "uid": meta.get("uid", "")}
        controller = next((o for o in meta.get("ownerReferences") or [] if o.get("controller")), None)
        info.add({**base, "host_ip": status.get("hostIP", ""), "pod_ip": status.get("podIP", ""),
                  "node": spec.get("nodeName", ""), "created_by_kind": (controller or {}).get("kind", "<none>"),
                  "created_by_name": (controller or {}).get("name", "<none>"),
                  "priority_class": spec.get("priorityClassName", ""),
                  "host_network": str(bool(spec.get("hostNetwork"))).lower()}, 1)
        owner.add({**base, "owner_kind": (controller or {}).get("kind", "<none>"),
                   "owner_name": (controller or {}).get("name", "<none>"),
                   "owner_is_controller": "true" if controller else "<none>"}, 1)
        current = status.get("phase", "Pending")
        for name in PHASES:
            phase.add({**base, "phase": name}, 1 if name == current else 0)
        ready_status = _status_label(next((c.get("status") for c in status.get("conditions") or []
                                           if c.get("type") == "Ready"), None))
        for value in ("true", "false", "unknown"):
            ready.add({**base, "condition": value}, 1 if value == ready_status else 0)
        for cs in status.get("containerStatuses") or []:
            cbase = {**base, "container": cs["name"]}
            state = cs.get("state") or {}
            restarts.add(cbase, int(cs.get("restartCount") or 0))
            c_ready.add(cbase, 1 if cs.get("ready") else 0)
            c_running.add(cbase, 1 if "running" in state else 0)
            c_waiting.add(cbase, 1 if "waiting" in state else 0)
            c_terminated.add(cbase, 1 if "terminated" in state else 0)
            if state.get("waiting", {}).get("reason"):
                waiting_reason.add({**cbase, "reason": state["waiting"]["reason"]}, 1)
            if state.get("terminated", {}).get("reason"):
                terminated_reason.add({**cbase, "reason": state["terminated"]["reason"]}, 1)
            last = (cs.get("lastState") or {}).get("terminated")
            if last:
                last_reason.add({**cbase, "reason": last.get("reason", "")}, 1)
                last_exit.add(cbase, int(last.get("exitCode") or 0))
        for container in spec.get("containers") or []:
            cbase = {**base, "container": container["name"], "node": spec.get("nodeName", "")}
            resources = container.get("resources") or {}
            _resources(limits, cbase, resources.get("limits") or {})
            _resources(requests, cbase, resources.get("requests") or {})
    return [info, owner, phase, ready, restarts, c_ready, c_running, c_waiting, waiting_reason, c_terminated,
            terminated_reason, last_reason, last_exit, limits, requests]


def deployment_families(deployments: list[Obj]) -> list[Family]:
    spec_replicas = Family("kube_deployment_spec_replicas", "Number of desired pods for a deployment.", "gauge")
    replicas = Family("kube_deployment_status_replicas", "The number of replicas per deployment.", "gauge")
    available = Family("kube_deployment_status_replicas_available",
                       "The number of available replicas per deployment.", "gauge")
    unavailable = Family("kube_deployment_status_replicas_unavailable",
                         "The number of unavailable replicas per deployment.", "gauge")
    updated = Family("kube_deployment_status_replicas_updated", "The number of updated replicas per deployment.",
                     "gauge")
    ready = Family("kube_deployment_status_replicas_ready", "The number of ready replicas per deployment.", "gauge")
    observed = Family("kube_deployment_status_observed_generation",
                      "The generation observed by the deployment controller.", "gauge")
    generation = Family("kube_deployment_metadata_generation",
                        "Sequence number representing a specific generation of the desired state.", "gauge")
    condition = Family("kube_deployment_status_condition",
                       "The current status conditions of a deployment.", "gauge")
    for deployment in deployments:
        meta, spec, status = deployment["metadata"], deployment.get("spec") or {}, deployment.get("status") or {}
        base = {"namespace": meta["namespace"], "deployment": meta["name"]}
        spec_replicas.add(base, spec.get("replicas", 1))
        replicas.add(base, status.get("replicas", 0))
        available.add(base, status.get("availableReplicas", 0))
        unavailable.add(base, status.get("unavailableReplicas", 0))
        updated.add(base, status.get("updatedReplicas", 0))
        ready.add(base, status.get("readyReplicas", 0))
        observed.add(base, status.get("observedGeneration", 0))
        generation.add(base, meta.get("generation", 0))
        for cond in status.get("conditions") or []:
            current = _status_label(cond.get("status"))
            for value in ("true", "false", "unknown"):
                condition.add({**base, "condition": cond.get("type", ""), "status": value,
                               "reason": cond.get("reason", "")}, 1 if value == current else 0)
    return [spec_replicas, replicas, available, unavailable, updated, ready, observed, generation, condition]


def statefulset_families(statefulsets: list[Obj]) -> list[Family]:
    desired = Family("kube_statefulset_replicas", "Number of desired pods for a StatefulSet.", "gauge")
    ready = Family("kube_statefulset_status_replicas_ready",
                   "The number of ready replicas per StatefulSet.", "gauge")
    for sts in statefulsets:
        base = {"namespace": sts["metadata"]["namespace"], "statefulset": sts["metadata"]["name"]}
        desired.add(base, (sts.get("spec") or {}).get("replicas", 1))
        ready.add(base, (sts.get("status") or {}).get("readyReplicas", 0))
    return [desired, ready]


def node_families(nodes: list[Obj]) -> list[Family]:
    info = Family("kube_node_info", "Information about a cluster node.", "gauge")
    condition = Family("kube_node_status_condition", "The condition of a cluster node.", "gauge")
    unschedulable = Family("kube_node_spec_unschedulable",
                           "Whether a node can schedule new pods.", "gauge")
    taint = Family("kube_node_spec_taint", "The taint of a cluster node.", "gauge")
    capacity = Family("kube_node_status_capacity", "The capacity for different resources of a node.", "gauge")
    allocatable = Family("kube_node_status_allocatable",
                         "The allocatable for different resources of a node that are available for scheduling.",
                         "gauge")
    for node in nodes:
        meta, spec, status = node["metadata"], node.get("spec") or {}, node.get("status") or {}
        base = {"node": meta["name"]}
        node_info = status.get("nodeInfo") or {}
        address = next((a.get("address", "") for a in status.get("addresses") or [] if a.get("type") == "InternalIP"),
                       "")
        info.add({**base, "kernel_version": node_info.get("kernelVersion", ""),
                  "os_image": node_info.get("osImage", ""),
                  "container_runtime_version": node_info.get("containerRuntimeVersion", ""),
                  "kubelet_version": node_info.get("kubeletVersion", ""), "internal_ip": address,
                  "pod_cidr": spec.get("podCIDR", ""), "provider_id": spec.get("providerID", "")}, 1)
        seen = {c.get("type"): _status_label(c.get("status")) for c in status.get("conditions") or []}
        for type_ in NODE_CONDITIONS:
            if type_ in seen:
                for value in ("true", "false", "unknown"):
                    condition.add({**base, "condition": type_, "status": value}, 1 if seen[type_] == value else 0)
        unschedulable.add(base, 1 if spec.get("unschedulable") else 0)
        for item in spec.get("taints") or []:
            taint.add({**base, "key": item.get("key", ""), "value": item.get("value", ""),
                       "effect": item.get("effect", "")}, 1)
        _resources(capacity, base, status.get("capacity") or {})
        _resources(allocatable, base, status.get("allocatable") or {})
    return [info, condition, unschedulable, taint, capacity, allocatable]


def state_families(store: Store) -> list[Family]:
    """Every kube-state-metrics family of the cluster, pods and workloads ordered by namespace and name."""
    def ordered(storage_key: str) -> list[Obj]:
        return sorted(store.list(storage_key), key=lambda o: (o["metadata"].get("namespace", ""),
                                                              o["metadata"]["name"]))
    return [*pod_families(ordered(PODS.storage_key)), *deployment_families(ordered(DEPLOYMENTS.storage_key)),
            *statefulset_families(ordered(STATEFULSETS.storage_key)), *node_families(ordered(NODES.storage_key))]
