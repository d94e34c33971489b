"""Server-side Table output: cells of realistic objects, durations, and the real kubectl printing them."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest
from aiohttp import web

from chaositbench.sim import kinds
from chaositbench.sim.errors import APIError
from chaositbench.sim.tables import human_duration, since, to_table
from conftest import KUBECTL

NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=timezone.utc)


def ago(**delta: float) -> str:
    return (NOW - timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


def kind(group: str, name: str, version: str | None = None) -> kinds.Kind:
    return next(k for k in kinds.all_kinds()
                if k.group == group and k.kind == name and (version is None or k.version == version))


def cells(group: str, kind_name: str, obj: dict[str, Any], version: str | None = None) -> list[Any]:
    return to_table(kind(group, kind_name, version), [obj], now=NOW)["rows"][0]["cells"]


# --- durations -------------------------------------------------------------------------


@pytest.mark.parametrize("delta, text", [
    (timedelta(seconds=-5), "<invalid>"),
    (timedelta(seconds=-1.5), "0s"),
    (timedelta(0), "0s"),
    (timedelta(seconds=5), "5s"),
    (timedelta(seconds=119.9), "119s"),
    (timedelta(seconds=120), "2m"),
    (timedelta(seconds=200), "3m20s"),
    (timedelta(minutes=9, seconds=59), "9m59s"),
    (timedelta(minutes=10, seconds=30), "10m"),
    (timedelta(minutes=179), "179m"),
    (timedelta(hours=3), "3h"),
    (timedelta(hours=5, minutes=30), "5h30m"),
    (timedelta(hours=8, minutes=30), "8h"),
    (timedelta(hours=47, minutes=59), "47h"),
    (timedelta(hours=48), "2d"),
    (timedelta(days=2, hours=3), "2d3h"),
    (timedelta(days=7, hours=23), "7d23h"),
    (timedelta(days=8, hours=5), "8d"),
    (timedelta(days=45), "45d"),
    (timedelta(days=729), "729d"),
    (timedelta(days=730), "2y"),
    (timedelta(days=740), "2y10d"),
    (timedelta(days=365 * 3), "3y"),
    (timedelta(days=365 * 8 + 40), "8y"),
    (timedelta(days=365 * 12), "12y"),
])
def test_human_duration(delta: timedelta, text: str) -> None:
    assert human_duration(delta) == text


def test_since_unknown_and_fractional() -> None:
    assert since(None, NOW) == "<unknown>"
    assert since("", NOW) == "<unknown>"
    assert since("2026-11-25T11:59:00.500000Z", NOW) == "59s"
    assert since("2026-11-25T11:59:00", NOW) == "60s"
    assert since("2026-11-25T12:00:03Z", NOW) == "<invalid>"


# --- pods --------------------------------------------------------------------------------


def pod(name: str, *, phase: str = "Running", statuses: list[dict[str, Any]] | None = None,
        init_statuses: list[dict[str, Any]] | None = None, containers: int = 1,
        init_containers: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "shop", "uid": f"uid-{name}", "resourceVersion": "42",
                     "creationTimestamp": ago(minutes=10), "labels": {"app": "web"}},
        "spec": {"containers": [{"name": f"c{i}", "image": "nginx"} for i in range(containers)],
                 "nodeName": "node-1"},
        "status": {"phase": phase, "podIP": "10.244.1.7", "podIPs": [{"ip": "10.244.1.7"}],
                   "containerStatuses": statuses or []},
    }
    if init_containers is not None:
        obj["spec"]["initContainers"] = init_containers
        obj["status"]["initContainerStatuses"] = init_statuses or []
    for key, value in extra.items():
        obj[key].update(value)
    return obj


def running(ready: bool = True, restarts: int = 0, **extra: Any) -> dict[str, Any]:
    return {"name": "c0", "ready": ready, "restartCount": restarts, "started": True,
            "state": {"running": {"startedAt": ago(minutes=9)}}, **extra}


def waiting(reason: str, restarts: int = 0, last: dict[str, Any] | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {"name": "c0", "ready": False, "restartCount": restarts,
                              "state": {"waiting": {"reason": reason}}}
    if last:
        status["lastState"] = {"terminated": last}
    return status


def terminated(**fields: Any) -> dict[str, Any]:
    return {"name": "c0", "ready": False, "restartCount": 0, "state": {"terminated": fields}}


def test_pod_running() -> None:
    assert cells("", "Pod", pod("web", statuses=[running()])) == [
        "web", "1/1", "Running", "0", "10m", "10.244.1.7", "node-1", "<none>", "<none>"]


def test_pod_crash_loop_shows_reason_and_last_restart() -> None:
    oom = {"reason": "OOMKilled", "exitCode": 137, "startedAt": ago(seconds=70), "finishedAt": ago(seconds=40)}
    obj = pod("web", statuses=[waiting("CrashLoopBackOff", restarts=3, last=oom)])
    assert cells("", "Pod", obj)[:5] == ["web", "0/1", "CrashLoopBackOff", "3 (40s ago)", "10m"]


def test_pod_latest_restart_across_containers() -> None:
    first = waiting("CrashLoopBackOff", restarts=2, last={"exitCode": 1, "finishedAt": ago(minutes=5)})
    second = running(restarts=1, name="c1", lastState={"terminated": {"exitCode": 1, "finishedAt": ago(seconds=30)}})
    obj = pod("web", statuses=[first, second], containers=2)
    assert cells("", "Pod", obj)[1:4] == ["1/2", "CrashLoopBackOff", "3 (30s ago)"]


def test_pod_restarts_without_termination_record_print_plain_count() -> None:
    assert cells("", "Pod", pod("web", statuses=[running(restarts=4)]))[3] == "4"


@pytest.mark.parametrize("state, status", [
    ({"terminated": {"reason": "OOMKilled", "exitCode": 137}}, "OOMKilled"),
    ({"terminated": {"reason": "Error", "exitCode": 1}}, "Error"),
    ({"terminated": {"reason": "Completed", "exitCode": 0}}, "Completed"),
    ({"terminated": {"exitCode": 0, "signal": 9}}, "Signal:9"),
    ({"terminated": {"exitCode": 2}}, "ExitCode:2"),
    ({"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}}, "ImagePullBackOff"),
    ({"waiting": {"reason": "CreateContainerConfigError"}}, "CreateContainerConfigError"),
    ({"waiting": {"reason": "ContainerCreating"}}, "ContainerCreating"),
    ({"waiting": {}}, "Running"),
])
def test_pod_status_from_container_state(state: dict[str, Any], status: str) -> None:
    obj = pod("web", statuses=[{"name": "c0", "ready": False, "restartCount": 0, "state": state}])
    assert cells("", "Pod", obj)[2] == status


def test_pod_pending_without_statuses() -> None:
    obj = pod("web", phase="Pending", statuses=[])
    obj["spec"].pop("nodeName")
    obj["status"] = {"phase": "Pending"}
    assert cells("", "Pod", obj) == ["web", "0/1", "Pending", "0", "10m", "<none>", "<none>", "<none>", "<none>"]


def test_pod_scheduling_gated() -> None:
    obj = pod("web", phase="Pending")
    obj["status"]["conditions"] = [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]
    assert cells("", "Pod", obj)[2] == "SchedulingGated"


def test_evicted_pod() -> None:
    obj = pod("web", phase="Failed", statuses=[])
    obj["status"].update({"reason": "Evicted", "message": "The node was low on resource: ephemeral-storage."})
    table = to_table(kind("", "Pod"), [obj], now=NOW)
    assert table["rows"][0]["cells"][:3] == ["web", "0/1", "Evicted"]
    assert table["rows"][0]["conditions"] == [{"type": "Completed", "status": "True", "reason": "Failed",
                                               "message": "The pod failed."}]


def test_evicted_pod_with_terminated_container_prints_container_reason() -> None:
    obj = pod("web", phase="Failed", statuses=[terminated(reason="ContainerStatusUnknown", exitCode=137)])
    obj["status"]["reason"] = "Evicted"
    assert cells("", "Pod", obj)[2] == "ContainerStatusUnknown"


def test_succeeded_pod_row_condition() -> None:
    obj = pod("job-x", phase="Succeeded", statuses=[terminated(reason="Completed", exitCode=0)])
    row = to_table(kind("", "Pod"), [obj], now=NOW)["rows"][0]
    assert row["cells"][2] == "Completed"
    assert row["conditions"][0]["reason"] == "Succeeded"


def test_terminating_pod() -> None:
    obj = pod("web", statuses=[running()], metadata={"deletionTimestamp": ago(seconds=5)})
    assert cells("", "Pod", obj)[2] == "Terminating"
    obj["status"]["reason"] = "NodeLost"
    assert cells("", "Pod", obj)[2] == "Unknown"
    done = pod("done", phase="Succeeded", statuses=[terminated(reason="Completed", exitCode=0)],
               metadata={"deletionTimestamp": ago(seconds=5)})
    assert cells("", "Pod", done)[2] == "Completed"


def test_completed_container_with_running_sibling() -> None:
    statuses = [terminated(reason="Completed", exitCode=0), running(name="c1")]
    obj = pod("web", statuses=statuses, containers=2)
    obj["status"]["conditions"] = [{"type": "Ready", "status": "False"}]
    assert cells("", "Pod", obj)[1:3] == ["1/2", "NotReady"]
    obj["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
    assert cells("", "Pod", obj)[2] == "Running"


INITS = [{"name": "migrate", "image": "migrate"}, {"name": "wait-db", "image": "busybox"}]


@pytest.mark.parametrize("init_statuses, status", [
    ([{"name": "migrate", "restartCount": 0, "state": {"running": {}}},
      {"name": "wait-db", "restartCount": 0, "state": {"waiting": {"reason": "PodInitializing"}}}], "Init:0/2"),
    ([{"name": "migrate", "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
      {"name": "wait-db", "restartCount": 0, "state": {"running": {}}}], "Init:1/2"),
    ([{"name": "migrate", "restartCount": 4, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
       "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2026-11-25T11:59:00Z"}}},
      {"name": "wait-db", "restartCount": 0, "state": {"waiting": {"reason": "PodInitializing"}}}],
     "Init:CrashLoopBackOff"),
    ([{"name": "migrate", "restartCount": 0, "state": {"terminated": {"exitCode": 1}}}], "Init:ExitCode:1"),
    ([{"name": "migrate", "restartCount": 0, "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}],
     "Init:Error"),
])
def test_init_containers(init_statuses: list[dict[str, Any]], status: str) -> None:
    obj = pod("web", phase="Pending", statuses=[waiting("PodInitializing")], init_containers=INITS,
              init_statuses=init_statuses)
    assert cells("", "Pod", obj)[2] == status


def test_init_container_restarts_count_while_initializing() -> None:
    init_statuses = [{"name": "migrate", "restartCount": 4, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                      "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(seconds=20)}}}]
    obj = pod("web", phase="Pending", statuses=[waiting("PodInitializing")], init_containers=INITS[:1],
              init_statuses=init_statuses)
    assert cells("", "Pod", obj)[1:4] == ["0/1", "Init:CrashLoopBackOff", "4 (20s ago)"]


def test_sidecar_counts_as_container() -> None:
    sidecar = [{"name": "proxy", "image": "envoy", "restartPolicy": "Always"}]
    init_statuses = [{"name": "proxy", "restartCount": 1, "started": True, "ready": True,
                      "state": {"running": {}}, "lastState": {"terminated": {"finishedAt": ago(minutes=3)}}}]
    obj = pod("web", statuses=[running()], init_containers=sidecar, init_statuses=init_statuses)
    obj["status"]["conditions"] = [{"type": "Initialized", "status": "True"}]
    assert cells("", "Pod", obj)[1:4] == ["2/2", "Running", "1 (3m ago)"]


def test_readiness_gates_and_nominated_node() -> None:
    obj = pod("web", statuses=[running()])
    obj["spec"]["readinessGates"] = [{"conditionType": "example.com/lb"}, {"conditionType": "example.com/dns"}]
    obj["status"]["conditions"] = [{"type": "example.com/lb", "status": "True"}]
    obj["status"]["nominatedNodeName"] = "node-2"
    assert cells("", "Pod", obj)[5:] == ["10.244.1.7", "node-1", "node-2", "1/2"]


# --- nodes ---------------------------------------------------------------------------------


def node(name: str, ready: str = "True", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "creationTimestamp": ago(days=45),
                     "labels": {"node-role.kubernetes.io/control-plane": "", "kubernetes.io/hostname": name}},
        "spec": spec,
        "status": {
            "conditions": [{"type": "DiskPressure", "status": "False"}, {"type": "Ready", "status": ready}],
            "addresses": [{"type": "InternalIP", "address": "172.18.0.2"}, {"type": "Hostname", "address": name}],
            "nodeInfo": {"kubeletVersion": "v1.37.1", "osImage": "Debian GNU/Linux 12 (bookworm)",
                         "kernelVersion": "6.8.0-45-generic", "containerRuntimeVersion": "containerd://2.1.4"},
        },
    }


def test_node_ready() -> None:
    assert cells("", "Node", node("cp-1")) == [
        "cp-1", "Ready", "control-plane", "45d", "v1.37.1", "172.18.0.2", "<none>",
        "Debian GNU/Linux 12 (bookworm)", "6.8.0-45-generic", "containerd://2.1.4"]


def test_node_cordoned_and_not_ready() -> None:
    assert cells("", "Node", node("w1", unschedulable=True))[1] == "Ready,SchedulingDisabled"
    assert cells("", "Node", node("w2", ready="Unknown"))[1] == "NotReady"
    bare = {"metadata": {"name": "w3", "labels": {"kubernetes.io/role": "worker"}}, "spec": {"unschedulable": True}}
    assert cells("", "Node", bare) == ["w3", "Unknown,SchedulingDisabled", "worker", "<unknown>", "", "<none>",
                                      "<none>", "<unknown>", "<unknown>", "<unknown>"]


# --- services, endpoints, ingress ---------------------------------------------------------------


def service(svc_type: str, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "web", "namespace": "shop", "creationTimestamp": ago(hours=5, minutes=3)},
            "spec": {"type": svc_type, "clusterIP": "10.96.12.34", "clusterIPs": ["10.96.12.34"],
                     "selector": {"app": "web", "tier": "front"}, **spec}}


def test_service_node_port() -> None:
    ports = [{"name": "http", "port": 80, "targetPort": 8080, "nodePort": 30080, "protocol": "TCP"},
             {"name": "dns", "port": 53, "protocol": "UDP"}]
    assert cells("", "Service", service("NodePort", ports=ports)) == [
        "web", "NodePort", "10.96.12.34", "<none>", "80:30080/TCP,53/UDP", "5h3m", "app=web,tier=front"]


def test_service_external_ips() -> None:
    assert cells("", "Service", service("ClusterIP", externalIPs=["1.2.3.4"]))[3:5] == ["1.2.3.4", "<none>"]
    assert cells("", "Service", service("LoadBalancer"))[3] == "<pending>"
    lb = service("LoadBalancer", externalIPs=["9.9.9.9"])
    lb["status"] = {"loadBalancer": {"ingress": [{"ip": "203.0.113.10"}, {"hostname": "a-very-long-elb-name.example"}]}}
    assert cells("", "Service", lb)[3] == "203.0.113.10,a-very-long-elb-name.example,9.9.9.9"
    ext = service("ExternalName", externalName="db.example.com", clusterIP=None, clusterIPs=None)
    assert cells("", "Service", ext)[2:4] == ["<none>", "db.example.com"]
    headless = service("ClusterIP", clusterIP="None", clusterIPs=["None"])
    assert cells("", "Service", headless)[2] == "None"


def endpoints(addresses: int, ports: list[dict[str, Any]]) -> dict[str, Any]:
    return {"metadata": {"name": "web", "creationTimestamp": ago(minutes=3)},
            "subsets": [{"addresses": [{"ip": f"10.244.0.{i}"} for i in range(1, addresses + 1)],
                         "notReadyAddresses": [{"ip": "10.244.9.9"}], "ports": ports}]}


def test_endpoints_truncation() -> None:
    five = endpoints(5, [{"port": 8080, "protocol": "TCP"}])
    assert cells("", "Endpoints", five)[1] == "10.244.0.1:8080,10.244.0.2:8080,10.244.0.3:8080 + 2 more..."
    two_ports = endpoints(2, [{"name": "a", "port": 80}, {"name": "b", "port": 443}])
    assert cells("", "Endpoints", two_ports)[1] == "10.244.0.1:80,10.244.0.2:80,10.244.0.1:443 + 1 more..."
    assert cells("", "Endpoints", endpoints(1, []))[1] == "10.244.0.1"
    assert cells("", "Endpoints", {"metadata": {"name": "web"}})[1] == "<none>"
    assert cells("", "Endpoints", endpoints(0, [{"port": 80}]))[1] == ""
    ipv6 = endpoints(0, [{"port": 80}])
    ipv6["subsets"][0]["addresses"] = [{"ip": "fd00::1"}]
    assert cells("", "Endpoints", ipv6)[1] == "[fd00::1]:80"


def test_endpoint_slice() -> None:
    eps = {"metadata": {"name": "web-abc12", "creationTimestamp": ago(minutes=3)}, "addressType": "IPv4",
           "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
           "endpoints": [{"addresses": [f"10.244.0.{i}"]} for i in range(1, 6)]}
    assert cells("discovery.k8s.io", "EndpointSlice", eps) == [
        "web-abc12", "IPv4", "8080", "10.244.0.1,10.244.0.2,10.244.0.3 + 2 more...", "3m"]
    assert cells("discovery.k8s.io", "EndpointSlice", {"metadata": {"name": "e"}})[2:4] == ["<unset>", "<unset>"]


def test_ingress() -> None:
    ing = {"metadata": {"name": "web", "creationTimestamp": ago(days=2)},
           "spec": {"ingressClassName": "nginx", "tls": [{"hosts": ["a.example"]}],
                    "rules": [{"host": "a.example"}, {}, {"host": "b.example"}, {"host": "c.example"},
                              {"host": "d.example"}]},
           "status": {"loadBalancer": {"ingress": [{"ip": "172.18.0.5"}]}}}
    assert cells("networking.k8s.io", "Ingress", ing) == [
        "web", "nginx", "a.example,b.example,c.example + 2 more...", "172.18.0.5", "80, 443", "2d"]
    assert cells("networking.k8s.io", "Ingress", {"metadata": {"name": "x"}})[1:5] == ["<none>", "*", "", "80"]


def test_network_policy_selector() -> None:
    deny = {"metadata": {"name": "deny-all", "creationTimestamp": ago(seconds=30)}, "spec": {"podSelector": {}}}
    assert cells("networking.k8s.io", "NetworkPolicy", deny) == ["deny-all", "<none>", "30s"]
    sel = {"matchLabels": {"tier": "db", "app": "shop"},
           "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "dev"]},
                                {"key": "canary", "operator": "DoesNotExist"}]}
    scoped = {"metadata": {"name": "db"}, "spec": {"podSelector": sel}}
    assert cells("networking.k8s.io", "NetworkPolicy", scoped)[1] == "app=shop,!canary,env in (dev,prod),tier=db"


# --- workloads ------------------------------------------------------------------------------------


def deployment(**status: Any) -> dict[str, Any]:
    return {"metadata": {"name": "web", "namespace": "shop", "creationTimestamp": ago(days=2, hours=3)},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"spec": {"containers": [{"name": "app", "image": "shop/web:1.4"},
                                                          {"name": "proxy", "image": "envoy:1.31"}]}}},
            "status": status}


def test_deployment_mid_rollout() -> None:
    dep = deployment(replicas=4, updatedReplicas=1, readyReplicas=2, availableReplicas=2, unavailableReplicas=2)
    assert cells("apps", "Deployment", dep) == [
        "web", "2/3", 1, 2, "2d3h", "app,proxy", "shop/web:1.4,envoy:1.31", "app=web"]
    assert cells("apps", "Deployment", deployment())[1:4] == ["0/3", 0, 0]


def test_replica_set_and_stateful_set_and_daemon_set() -> None:
    rs = deployment(replicas=3, readyReplicas=1)
    rs["metadata"]["name"] = "web-7d9f8c6b5"
    assert cells("apps", "ReplicaSet", rs) == [
        "web-7d9f8c6b5", 3, 3, 1, "2d3h", "app,proxy", "shop/web:1.4,envoy:1.31", "app=web"]
    assert cells("apps", "StatefulSet", deployment(readyReplicas=2)) == [
        "web", "2/3", "2d3h", "app,proxy", "shop/web:1.4,envoy:1.31"]
    ds = deployment(desiredNumberScheduled=3, currentNumberScheduled=3, numberReady=2, updatedNumberScheduled=3,
                    numberAvailable=2)
    ds["spec"]["template"]["spec"]["nodeSelector"] = {"kubernetes.io/os": "linux"}
    assert cells("apps", "DaemonSet", ds) == [
        "web", 3, 3, 2, 3, 2, "kubernetes.io/os=linux", "2d3h", "app,proxy", "shop/web:1.4,envoy:1.31", "app=web"]


def test_replication_controller() -> None:
    rc = {"metadata": {"name": "legacy"}, "spec": {"replicas": 2, "selector": {"app": "legacy"}}}
    assert cells("", "ReplicationController", rc) == ["legacy", 2, 0, 0, "<unknown>", "", "", "app=legacy"]


def test_jobs() -> None:
    running_job = {"metadata": {"name": "backup", "creationTimestamp": ago(minutes=3)},
                   "spec": {"completions": 3, "parallelism": 1, "selector": {"matchLabels": {"job": "backup"}},
                            "template": {"spec": {"containers": [{"name": "b", "image": "backup:1"}]}}},
                   "status": {"succeeded": 1, "active": 1, "startTime": ago(minutes=3)}}
    assert cells("batch", "Job", running_job) == [
        "backup", "Running", "1/3", "3m", "3m", "b", "backup:1", "job=backup"]
    complete = {"metadata": {"name": "once"}, "spec": {"parallelism": 1},
                "status": {"succeeded": 1, "startTime": ago(minutes=10), "completionTime": ago(minutes=9, seconds=48),
                           "conditions": [{"type": "SuccessCriteriaMet", "status": "True"},
                                          {"type": "Complete", "status": "True"}]}}
    assert cells("batch", "Job", complete)[1:4] == ["Complete", "1/1", "12s"]
    failed = {"metadata": {"name": "f"}, "spec": {"parallelism": 4},
              "status": {"conditions": [{"type": "FailureTarget", "status": "True"}]}}
    assert cells("batch", "Job", failed)[1:4] == ["FailureTarget", "0/1 of 4", ""]


def test_cron_job() -> None:
    cj = {"metadata": {"name": "nightly", "creationTimestamp": ago(days=10)},
          "spec": {"schedule": "0 3 * * *", "suspend": False, "jobTemplate": {"spec": {"template": {"spec": {
              "containers": [{"name": "n", "image": "n:1"}]}}}}},
          "status": {"active": [{"name": "nightly-1"}], "lastScheduleTime": ago(hours=9)}}
    assert cells("batch", "CronJob", cj) == [
        "nightly", "0 3 * * *", "<none>", "False", 1, "9h", "10d", "n", "n:1", "<none>"]


def test_controller_revision() -> None:
    cr = {"metadata": {"name": "db-5d8b9c", "ownerReferences": [
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db", "controller": True}]}, "revision": 2}
    assert cells("apps", "ControllerRevision", cr)[1:3] == ["statefulset.apps/db", 2]


# --- autoscaling and policy ------------------------------------------------------------------------


def test_hpa_v2_targets() -> None:
    hpa = {"metadata": {"name": "web", "creationTimestamp": ago(hours=1)},
           "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                    "minReplicas": 2, "maxReplicas": 10,
                    "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                                    "type": "Utilization", "averageUtilization": 80}}},
                                {"type": "Resource", "resource": {"name": "memory", "target": {
                                    "type": "AverageValue", "averageValue": "200Mi"}}}]},
           "status": {"currentReplicas": 3, "desiredReplicas": 3,
                      "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {
                          "averageUtilization": 45, "averageValue": "90m"}}}]}}
    assert cells("autoscaling", "HorizontalPodAutoscaler", hpa, "v2") == [
        "web", "Deployment/web", "cpu: 45%/80%, memory: <unknown>/200Mi", "2", 10, 3, "60m"]
    hpa["spec"]["metrics"].append({"type": "Pods", "pods": {"metric": {"name": "rps"},
                                                            "target": {"type": "AverageValue", "averageValue": "10"}}})
    assert cells("autoscaling", "HorizontalPodAutoscaler", hpa, "v2")[2] == \
        "cpu: 45%/80%, memory: <unknown>/200Mi + 1 more..."
    hpa["spec"]["metrics"] = []
    del hpa["spec"]["minReplicas"]
    assert cells("autoscaling", "HorizontalPodAutoscaler", hpa, "v2")[2:4] == ["<none>", "<unset>"]


def test_hpa_v1_cpu_target() -> None:
    hpa = {"metadata": {"name": "web"},
           "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 1, "maxReplicas": 5,
                    "targetCPUUtilizationPercentage": 70},
           "status": {"currentReplicas": 1}}
    assert cells("autoscaling", "HorizontalPodAutoscaler", hpa, "v1")[2] == "cpu: <unknown>/70%"
    hpa["status"]["currentCPUUtilizationPercentage"] = 12
    assert cells("autoscaling", "HorizontalPodAutoscaler", hpa, "v1")[2] == "cpu: 12%/70%"


def test_pdb() -> None:
    pdb = {"metadata": {"name": "web"}, "spec": {"minAvailable": "50%"}, "status": {"disruptionsAllowed": 1}}
    assert cells("policy", "PodDisruptionBudget", pdb)[:4] == ["web", "50%", "N/A", 1]
    pdb["spec"] = {"maxUnavailable": 1}
    assert cells("policy", "PodDisruptionBudget", pdb)[1:3] == ["N/A", "1"]


# --- config, access, storage, scheduling ------------------------------------------------------------


def test_config_and_secrets() -> None:
    cm = {"metadata": {"name": "cfg", "creationTimestamp": ago(seconds=90)}, "data": {"a": "1", "b": "2"},
          "binaryData": {"c": "AA=="}}
    assert cells("", "ConfigMap", cm) == ["cfg", 3, "90s"]
    secret = {"metadata": {"name": "tls"}, "type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": ""}}
    assert cells("", "Secret", secret)[:3] == ["tls", "kubernetes.io/tls", 2]
    assert cells("", "ServiceAccount", {"metadata": {"name": "default"}})[:2] == ["default", 0]


def test_bindings() -> None:
    rb = {"metadata": {"name": "agent"}, "roleRef": {"kind": "ClusterRole", "name": "view"},
          "subjects": [{"kind": "ServiceAccount", "name": "agent", "namespace": "shop"},
                       {"kind": "User", "name": "alice"}, {"kind": "User", "name": "bob"},
                       {"kind": "Group", "name": "sre"}]}
    assert cells("rbac.authorization.k8s.io", "RoleBinding", rb) == [
        "agent", "ClusterRole/view", "<unknown>", "alice, bob", "sre", "shop/agent"]


def test_resource_quota() -> None:
    quota = {"metadata": {"name": "compute"},
             "status": {"hard": {"requests.cpu": "2", "limits.memory": "4Gi", "pods": "10", "limits.cpu": "4"},
                        "used": {"requests.cpu": "500m", "limits.cpu": "1", "pods": "3"}}}
    assert cells("", "ResourceQuota", quota)[1:3] == [
        "pods: 3/10, requests.cpu: 500m/2", "limits.cpu: 1/4, limits.memory: 0/4Gi"]


def test_pv_and_pvc() -> None:
    pv = {"metadata": {"name": "pv-1"},
          "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteMany", "ReadWriteOnce"],
                   "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "standard",
                   "claimRef": {"namespace": "shop", "name": "data"}, "volumeMode": "Filesystem"},
          "status": {"phase": "Bound"}}
    assert cells("", "PersistentVolume", pv) == [
        "pv-1", "10Gi", "RWO,RWX", "Retain", "Bound", "shop/data", "standard", "<unset>", "", "<unknown>",
        "Filesystem"]
    pvc = {"metadata": {"name": "data", "annotations": {"volume.beta.kubernetes.io/storage-class": "fast"}},
           "spec": {"volumeName": "pv-1", "storageClassName": "standard"},
           "status": {"phase": "Bound", "capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"]}}
    assert cells("", "PersistentVolumeClaim", pvc)[:6] == ["data", "Bound", "pv-1", "10Gi", "RWO", "fast"]
    pending = {"metadata": {"name": "p", "deletionTimestamp": ago(seconds=1)}, "status": {"phase": "Pending"}}
    assert cells("", "PersistentVolumeClaim", pending)[1:6] == ["Terminating", "", "", "", ""]


def test_storage_class_and_priority_class_and_lease() -> None:
    sc = {"metadata": {"name": "standard", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
          "provisioner": "rancher.io/local-path", "volumeBindingMode": "WaitForFirstConsumer"}
    assert cells("storage.k8s.io", "StorageClass", sc)[:5] == [
        "standard (default)", "rancher.io/local-path", "Delete", "WaitForFirstConsumer", False]
    pc = {"metadata": {"name": "high"}, "value": 1000000, "preemptionPolicy": "PreemptLowerPriority"}
    assert cells("scheduling.k8s.io", "PriorityClass", pc) == ["high", 1000000, False, "<unknown>",
                                                              "PreemptLowerPriority"]
    lease = {"metadata": {"name": "node-1"}, "spec": {"holderIdentity": "node-1"}}
    assert cells("coordination.k8s.io", "Lease", lease)[:2] == ["node-1", "node-1"]


# --- events ---------------------------------------------------------------------------------------------


def test_core_event() -> None:
    ev = {"metadata": {"name": "web-x.1801"}, "type": "Warning", "reason": "BackOff",
          "involvedObject": {"kind": "Pod", "name": "web-x", "namespace": "shop", "fieldPath": "spec.containers{app}"},
          "message": "Back-off restarting failed container app in pod web-x_shop(uid)\n",
          "source": {"component": "kubelet", "host": "node-1"},
          "firstTimestamp": ago(minutes=10), "lastTimestamp": ago(seconds=40), "count": 7}
    assert cells("", "Event", ev) == [
        "40s", "Warning", "BackOff", "pod/web-x", "spec.containers{app}", "kubelet, node-1",
        "Back-off restarting failed container app in pod web-x_shop(uid)", "10m", 7, "web-x.1801"]
    fresh = {"metadata": {"name": "e"}, "type": "Normal", "reason": "Scheduled", "involvedObject": {"kind": "Node"},
             "eventTime": "2026-11-25T11:59:30.123456Z", "reportingComponent": "default-scheduler"}
    assert cells("", "Event", fresh)[:9] == [  # 29.9 s: durations truncate
        "29s", "Normal", "Scheduled", "node", "", "default-scheduler", "", "29s", 1]


def test_events_k8s_io_event() -> None:
    ev = {"metadata": {"name": "web-x.1802"}, "type": "Warning", "reason": "Unhealthy",
          "regarding": {"kind": "Pod", "name": "web-x"}, "note": "Readiness probe failed: connection refused",
          "eventTime": ago(minutes=5), "reportingController": "kubelet", "reportingInstance": "node-1",
          "series": {"count": 12, "lastObservedTime": "2026-11-25T11:59:50.000000Z"}}
    assert cells("events.k8s.io", "Event", ev) == [
        "10s", "Warning", "Unhealthy", "pod/web-x", "", "kubelet, node-1",
        "Readiness probe failed: connection refused", "5m", 12, "web-x.1802"]


# --- the Table envelope ------------------------------------------------------------------------------------


def test_table_envelope_with_metadata_rows() -> None:
    objs = [pod("a", statuses=[running()]), pod("b", statuses=[running()])]
    table = to_table(kind("", "Pod"), objs, now=NOW, list_meta={"resourceVersion": "77", "continue": ""})
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    assert table["metadata"] == {"resourceVersion": "77"}
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name", "Ready", "Status", "Restarts", "Age", "IP", "Node", "Nominated Node", "Readiness Gates"]
    assert [c["priority"] for c in table["columnDefinitions"]] == [0, 0, 0, 0, 0, 1, 1, 1, 1]
    name = table["columnDefinitions"][0]
    assert name["format"] == "name" and name["description"].startswith("Name must be unique within a namespace.")
    assert table["columnDefinitions"][5]["description"].startswith("podIP address allocated to the pod.")
    assert table["rows"][1]["object"] == {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                                          "metadata": objs[1]["metadata"]}
    assert "conditions" not in table["rows"][0]
    json.dumps(table)


def test_table_single_object_watch_event_and_policies() -> None:
    obj = pod("a", statuses=[running()])
    single = to_table(kind("", "Pod"), [obj], now=NOW, include_object="Object")
    assert single["metadata"] == {"resourceVersion": "42"}
    assert single["rows"][0]["object"] is obj
    event = to_table(kind("", "Pod"), [obj], now=NOW, include_object="None", headers=False)
    assert event["columnDefinitions"] == [] and event["rows"][0]["object"] is None
    assert to_table(kind("", "Pod"), [obj], now=NOW, include_object="")["rows"][0]["object"]["kind"] == \
        "PartialObjectMetadata"
    with pytest.raises(APIError) as err:
        to_table(kind("", "Pod"), [obj], now=NOW, include_object="Everything")
    assert err.value.code == 400 and err.value.message == 'unrecognized includeObject value: "Everything"'


def test_kinds_without_printer_get_created_at() -> None:
    role = {"metadata": {"name": "reader", "namespace": "shop", "creationTimestamp": "2026-11-20T08:30:00Z"}}
    table = to_table(kind("rbac.authorization.k8s.io", "Role"), [role], now=NOW)
    assert [(c["name"], c["type"]) for c in table["columnDefinitions"]] == [("Name", "string"), ("Created At", "date")]
    assert table["rows"][0]["cells"] == ["reader", "2026-11-20T08:30:00Z"]
    assert to_table(kind("", "LimitRange"), [{"metadata": {"name": "l"}}], now=NOW)["rows"][0]["cells"] == [
        "l", "0001-01-01T00:00:00Z"]


@pytest.mark.parametrize("k", [k for k in kinds.all_kinds() if not k.virtual], ids=lambda k: k.qualified + k.version)
def test_every_kind_prints_a_bare_object(k: kinds.Kind) -> None:
    table = to_table(k, [{"metadata": {"name": "x"}}], now=NOW)
    assert len(table["rows"][0]["cells"]) == len(table["columnDefinitions"])
    assert all(c["description"] for c in table["columnDefinitions"])
    json.dumps(table)


# --- the real kubectl ---------------------------------------------------------------------------------------

PODS = [
    pod("web-7d9f8c6b5-2xkqp", statuses=[running()]),
    pod("web-7d9f8c6b5-9hjzt", statuses=[waiting("CrashLoopBackOff", restarts=3, last={
        "reason": "OOMKilled", "exitCode": 137, "finishedAt": ago(seconds=40)})]),
    pod("worker-0", phase="Pending", statuses=[waiting("PodInitializing")], init_containers=INITS[:1],
        init_statuses=[{"name": "migrate", "restartCount": 0, "state": {"running": {}}}]),
]
NODES = [node("kind-control-plane"), node("kind-worker", unschedulable=True)]
RESOURCES = {"pods": (kind("", "Pod"), PODS), "nodes": (kind("", "Node"), NODES)}


VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
DISCOVERY = [
    {"name": "pods", "singularName": "pod", "namespaced": True, "kind": "Pod", "verbs": VERBS,
     "shortNames": ["po"], "categories": ["all"]},
    {"name": "nodes", "singularName": "node", "namespaced": False, "kind": "Node", "verbs": VERBS,
     "shortNames": ["no"]},
]


async def handle(request: web.Request) -> web.Response:
    path = request.path.rstrip("/")
    if path == "/api":
        return web.json_response({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": request.host}]})
    if path == "/apis":
        return web.json_response({"kind": "APIGroupList", "apiVersion": "v1", "groups": []})
    if path == "/api/v1":
        return web.json_response({"kind": "APIResourceList", "groupVersion": "v1", "resources": DISCOVERY})
    plural = path.rsplit("/", 1)[-1]
    if plural not in RESOURCES:
        return web.json_response({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404,
                                  "reason": "NotFound", "message": "the server could not find the requested resource"},
                                 status=404)
    k, items = RESOURCES[plural]
    assert "as=Table" in request.headers.get("Accept", "")
    return web.json_response(to_table(k, items, now=NOW, include_object=request.query.get("includeObject", ""),
                                      list_meta={"resourceVersion": "100"}))


@pytest.fixture
def kubeconfig(tmp_path: Path) -> Iterator[Path]:
    """A throwaway API server answering legacy discovery and Table lists, and a kubeconfig for it."""
    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    runner = web.AppRunner(app)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(runner.setup())
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    loop.run_until_complete(web.SockSite(runner, sock).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    config = tmp_path / "kubeconfig"
    config.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "sim",
        "clusters": [{"name": "sim", "cluster": {"server": f"http://127.0.0.1:{sock.getsockname()[1]}"}}],
        "users": [{"name": "admin", "user": {"token": "t"}}],
        "contexts": [{"name": "sim", "context": {"cluster": "sim", "user": "admin", "namespace": "shop"}}],
    }))
    try:
        yield config
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.run_until_complete(runner.cleanup())
        loop.close()


def kubectl(config: Path, *args: str) -> str:
    result = subprocess.run([KUBECTL, "--kubeconfig", str(config), "--cache-dir", str(config.parent / "cache"),
                             *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_real_kubectl_prints_server_tables(kubeconfig: Path) -> None:
    assert kubectl(kubeconfig, "get", "pods") == (
        "NAME                  READY   STATUS             RESTARTS      AGE\n"
        "web-7d9f8c6b5-2xkqp   1/1     Running            0             10m\n"
        "web-7d9f8c6b5-9hjzt   0/1     CrashLoopBackOff   3 (40s ago)   10m\n"
        "worker-0              0/1     Init:0/1           0             10m\n")
    assert kubectl(kubeconfig, "get", "pods", "-o", "wide") == (
        "NAME                  READY   STATUS             RESTARTS      AGE   IP           NODE     NOMINATED NODE"
        "   READINESS GATES\n"
        "web-7d9f8c6b5-2xkqp   1/1     Running            0             10m   10.244.1.7   node-1   <none>"
        "           <none>\n"
        "web-7d9f8c6b5-9hjzt   0/1     CrashLoopBackOff   3 (40s ago)   10m   10.244.1.7   node-1   <none>"
        "           <none>\n"
        "worker-0              0/1     Init:0/1           0             10m   10.244.1.7   node-1   <none>"
        "           <none>\n")
    assert kubectl(kubeconfig, "get", "pods", "-A", "--show-labels").splitlines()[1].split() == [
        "shop", "web-7d9f8c6b5-2xkqp", "1/1", "Running", "0", "10m", "app=web"]
    assert kubectl(kubeconfig, "get", "nodes") == (
        "NAME                 STATUS                     ROLES           AGE   VERSION\n"
        "kind-control-plane   Ready                      control-plane   45d   v1.37.1\n"
        "kind-worker          Ready,SchedulingDisabled   control-plane   45d   v1.37.1\n")
