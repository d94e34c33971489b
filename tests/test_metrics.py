"""Metrics: the usage and request models, the exposition format, metrics.k8s.io and the scrape paths."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import yaml

from chaositbench.sim.behaviour.needs import ANNOTATION
from chaositbench.sim.controllers.eviction_manager import DISK_USED_ANNOTATION, NODE_DISK_USED, NODE_MEMORY_USED
from chaositbench.sim.metrics import ClusterMetrics, Usage
from chaositbench.sim.metrics.exposition import Family, render
from chaositbench.sim.metrics.requests import RequestModel
from chaositbench.sim.store import Store
from conftest import Kubectl

NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=timezone.utc)
MI = 1024 * 1024
PROMTOOL = shutil.which("promtool")


@dataclass
class Connection:
    ok: bool
    error: str | None = None


class FakeNetwork:
    """The network model's ``dependency_health``: every connection to a host in ``failing`` fails with its error."""

    def __init__(self, failing: dict[str, str] | None = None) -> None:
        self.failing = failing or {}

    def dependency_health(self, pod: dict[str, Any], container: str) -> list[tuple[Any, Connection]]:
        from chaositbench.sim.metrics.requests import declared_needs
        needs = declared_needs(pod).get(container)
        return [(d, Connection(d.host not in self.failing, self.failing.get(d.host)))
                for d in (needs.dependencies if needs else ())]


class FakeCluster:
    def __init__(self, network: FakeNetwork | None = None, time_scale: float = 1.0) -> None:
        self.store = Store()
        self.time_scale = time_scale
        if network is not None:
            self.network = network

    def add(self, key: str, obj: dict[str, Any]) -> dict[str, Any]:
        return self.store.put(key, obj, "ADDED")


def pod(name: str, labels: dict[str, str], needs: dict[str, Any], *, started: datetime | None = NOW,
        ready: bool = True, limit: str | None = None, node: str = "n1", container_id: str = "c1",
        namespace: str = "shop") -> dict[str, Any]:
    state = {"running": {"startedAt": started.strftime("%Y-%m-%dT%H:%M:%SZ")}} if started else \
        {"waiting": {"reason": "CrashLoopBackOff"}}
    resources = {"limits": {"memory": limit}} if limit else {}
    return {"metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}", "labels": labels,
                         "annotations": {ANNOTATION: yaml.safe_dump({"app": needs})}},
            "spec": {"nodeName": node, "containers": [{"name": "app", "image": "shop:1", "resources": resources}]},
            "status": {"phase": "Running",
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                       "containerStatuses": [{"name": "app", "state": state, "ready": ready, "restartCount": 0,
                                              "containerID": f"containerd://{container_id}"}]}}


def service(name: str, selector: dict[str, str], namespace: str = "shop") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": namespace, "uid": f"svc-{name}"},
            "spec": {"selector": selector, "clusterIP": "10.96.0.9", "ports": [{"port": 80}]}}


HTTP = {"listen": [{"port": 8080, "paths": {"/": 200}}]}


def shop(network: FakeNetwork | None = None, *, api_ready: bool = True) -> FakeCluster:
    """edge (load 30 rps) → api (two replicas) → db."""
    cluster = FakeCluster(network)
    cluster.add("/pods", pod("edge-1", {"app": "edge"}, {**HTTP, "load": {"rps": 30},
                                                          "dependencies": [{"host": "api", "port": 80}]}))
    for i in (1, 2):
        cluster.add("/pods", pod(f"api-{i}", {"app": "api"}, {**HTTP, "cpu": {"usage": "100m"}, "dependencies": [
            {"host": "db.data.svc.cluster.local", "port": 5432, "timeoutSeconds": 2}]}, ready=api_ready))
    cluster.add("/pods", pod("db-1", {"app": "db"}, {"listen": [{"port": 5432}]}, namespace="data"))
    for svc in (service("edge", {"app": "edge"}), service("api", {"app": "api"}),
                service("db", {"app": "db"}, namespace="data")):
        cluster.add("/services", svc)
    return cluster


# -- usage -------------------------------------------------------------------------------------
def test_memory_and_storage_grow_from_the_container_start_and_memory_stops_at_the_limit() -> None:
    cluster = FakeCluster(time_scale=0.5)
    needs = {"memory": {"workingSet": "100Mi", "growthPerMinute": "10Mi"},
             "ephemeralStorage": {"usage": "1Mi", "writesPerMinute": "2Mi"}}
    p = cluster.add("/pods", pod("w", {}, needs, started=NOW - timedelta(seconds=30), limit="110Mi"))
    usage = Usage(cluster, now=lambda: NOW).container(p, "app")  # type: ignore[arg-type]
    assert usage.running_seconds == 60  # 30 wall seconds at time scale 0.5
    assert usage.memory_demand_bytes == 110 * MI and usage.memory_bytes == 110 * MI
    assert usage.storage_bytes == 3 * MI
    later = Usage(cluster, now=lambda: NOW + timedelta(seconds=30)).container(p, "app")  # type: ignore[arg-type]
    assert later.memory_demand_bytes == 120 * MI and later.memory_bytes == 110 * MI  # capped: OOM territory
    restarted = cluster.add("/pods", pod("w", {}, needs, started=NOW + timedelta(seconds=30), limit="110Mi"))
    fresh = Usage(cluster, now=lambda: NOW + timedelta(seconds=30)).container(restarted, "app")  # type: ignore
    assert fresh.memory_demand_bytes == 100 * MI and fresh.storage_bytes == 1 * MI


def test_a_container_that_is_not_running_uses_nothing_and_nodes_add_their_system_share() -> None:
    cluster = FakeCluster()
    cluster.add("/pods", pod("down", {}, {"memory": {"workingSet": "64Mi"}}, started=None))
    up = cluster.add("/pods", pod("up", {}, {"memory": {"workingSet": "64Mi"}, "cpu": {"usage": "50m"}}))
    usage = Usage(cluster, now=lambda: NOW)  # type: ignore[arg-type]
    assert usage.container(cluster.store.get("/pods", "shop", "down"), "app").memory_bytes == 0  # type: ignore
    assert usage.pod(up).memory_bytes == 64 * MI
    node = usage.node("n1")
    assert node.memory_bytes == 64 * MI + NODE_MEMORY_USED and node.storage_bytes == NODE_DISK_USED
    cluster.add("/nodes", {"metadata": {"name": "full", "annotations": {DISK_USED_ANNOTATION: "90Gi"}}})
    assert usage.node("full").storage_bytes == 90 * 1024 * MI  # a scenario filling the node's disk
    assert usage.node("elsewhere").memory_bytes == NODE_MEMORY_USED


# -- request model -----------------------------------------------------------------------------
def _by_code(outcomes: list[Any]) -> dict[int, float]:
    codes: dict[int, float] = {}
    for o in outcomes:
        codes[o.code] = codes.get(o.code, 0.0) + o.rps
    return codes


def test_healthy_load_flows_along_dependencies() -> None:
    traffic = RequestModel(shop(FakeNetwork())).traffic()  # type: ignore[arg-type]
    assert _by_code(traffic.served[("shop", "edge")]) == {200: 30}
    assert _by_code(traffic.served[("shop", "api")]) == {200: 30}
    assert ("data", "db") not in traffic.served  # not an HTTP server
    assert traffic.actual["uid-api-1"] == traffic.actual["uid-api-2"] == 15
    assert traffic.actual["uid-db-1"] == 30


def test_a_blocked_dependency_times_out_into_502_at_the_edge() -> None:
    cluster = shop(FakeNetwork({"db.data.svc.cluster.local": "timeout"}))
    model = RequestModel(cluster)  # type: ignore[arg-type]
    traffic = model.traffic()
    assert _by_code(traffic.served[("shop", "api")]) == {502: 30}
    edge = traffic.served[("shop", "edge")]
    assert _by_code(edge) == {502: 30}
    assert edge[0].seconds > 2  # waited for the dependency's timeout
    assert traffic.actual.get("uid-db-1", 0) == 0 and traffic.nominal["uid-db-1"] == 30
    assert model.load_factor("uid-db-1") == 0 and model.load_factor("uid-api-1") == 1


def test_no_ready_endpoint_answers_503_and_the_caller_502() -> None:
    traffic = RequestModel(shop(FakeNetwork(), api_ready=False)).traffic()  # type: ignore[arg-type]
    assert _by_code(traffic.served[("shop", "api")]) == {503: 30}
    assert _by_code(traffic.served[("shop", "edge")]) == {502: 30}


def test_cpu_scales_with_the_traffic_served() -> None:
    healthy = shop(FakeNetwork())
    broken = shop(FakeNetwork({"api": "refused"}))
    api_pod = healthy.store.get("/pods", "shop", "api-1")
    full = Usage(healthy, now=lambda: NOW).container(api_pod, "app").cpu_millis  # type: ignore[arg-type]
    idle = Usage(broken, now=lambda: NOW).container(api_pod, "app").cpu_millis  # type: ignore[arg-type]
    assert full == 100 and idle == pytest.approx(20)


def _throttled_shop(limit: str) -> FakeCluster:
    """The shop whose api containers cost 4ms of CPU per request (15 rps each: 20m + 60m) under ``limit``."""
    cluster = shop(FakeNetwork())
    for i in (1, 2):
        api = cluster.store.get("/pods", "shop", f"api-{i}")
        needs = {**HTTP, "cpu": {"usage": "20m", "perRequest": "4ms"},
                 "dependencies": [{"host": "db.data.svc.cluster.local", "port": 5432}]}
        api["metadata"]["annotations"][ANNOTATION] = yaml.safe_dump({"app": needs})
        api["spec"]["containers"][0]["resources"] = {"limits": {"cpu": limit}}
        cluster.add("/pods", api)
    return cluster


def test_cpu_demand_under_the_limit_is_not_throttled() -> None:
    cluster = _throttled_shop("500m")
    usage = Usage(cluster, now=lambda: NOW).container(cluster.store.get("/pods", "shop", "api-1"), "app")  # type: ignore
    assert usage.cpu_millis == pytest.approx(80) and usage.cpu.throttled_ratio == 0
    traffic = RequestModel(cluster).traffic()  # type: ignore[arg-type]
    assert _by_code(traffic.served[("shop", "api")]) == {200: 30}
    assert traffic.served[("shop", "api")][0].seconds < 0.05


def test_a_cpu_limit_below_the_demand_throttles_and_saturates_the_server() -> None:
    cluster = _throttled_shop("40m")  # demand 80m: saturated twice over
    model = RequestModel(cluster)  # type: ignore[arg-type]
    usage = Usage(cluster, model, now=lambda: NOW).container(cluster.store.get("/pods", "shop", "api-1"), "app")  # type: ignore
    assert usage.cpu_millis == 40 and usage.cpu.demand_millis == pytest.approx(80)
    assert usage.cpu.throttled_ratio == pytest.approx(0.5)
    traffic = model.traffic()
    api = _by_code(traffic.served[("shop", "api")])
    assert api == pytest.approx({200: 15, 503: 15})  # half completes in time, half waits out the queue
    assert traffic.actual["uid-db-1"] == pytest.approx(15)  # only completed requests reach the database
    edge = traffic.served[("shop", "edge")]
    assert min(o.seconds for o in edge) > 0.5  # the edge waits for api's answers, half of them queued 1 s
    assert _by_code(edge) == pytest.approx({200: 15, 502: 15})


# -- counters and exposition -------------------------------------------------------------------
def test_counters_only_grow_and_a_new_container_starts_a_new_series() -> None:
    cluster = shop(FakeNetwork({"db.data.svc.cluster.local": "refused"}))
    cluster.time_scale = 0.2  # speeds up the workloads' evolution, not their rates
    cluster.add("/nodes", {"metadata": {"name": "n1"}, "status": {"capacity": {"ephemeral-storage": "100Gi"}}})
    clock = iter([0.0, 10.0, 20.0, 30.0])
    metrics = ClusterMetrics(cluster, monotonic=lambda: next(clock))  # type: ignore[arg-type]

    def sample(text: str, name: str, **labels: str) -> float:
        wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
        return float(next(line.rsplit(" ", 1)[1] for line in text.splitlines()
                          if line.startswith(f"{name}{{") and wanted in line))

    first = render(metrics.http())
    second = render(metrics.http())
    assert sample(first, "http_requests_total", service="edge", code="502") == 0
    assert sample(second, "http_requests_total", service="edge", code="502") == pytest.approx(300)
    assert sample(second, "http_request_duration_seconds_count", service="edge") == pytest.approx(300)
    cpu = render(metrics.cadvisor("n1"))
    assert sample(cpu, "container_cpu_usage_seconds_total", pod="api-1") > 0
    cluster.add("/pods", pod("api-1", {"app": "api"}, {**HTTP}, container_id="c2"))
    cpu_after = render(metrics.cadvisor("n1"))
    root = {"id": "/"}
    assert sample(cpu_after, "container_cpu_usage_seconds_total", **root) > \
        sample(cpu, "container_cpu_usage_seconds_total", **root)
    assert "/c1" not in "".join(line for line in cpu_after.splitlines() if 'pod="api-1"' in line)
    assert 'name="c2"' in cpu_after


def test_exposition_escapes_labels_and_help() -> None:
    text = render([Family("odd_total", 'a "help"\\ with\nnewline', "counter")
                   .add({"v": 'quote " backslash \\ newline \n'}, 2.5)])
    assert text == ('# HELP odd_total a "help"\\\\ with\\nnewline\n# TYPE odd_total counter\n'
                    'odd_total{v="quote \\" backslash \\\\ newline \\n"} 2.5\n')
    with pytest.raises(ValueError):
        Family("x", "x", "countr")


def _promtool_check(text: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL, "promtool not found: apt-get install prometheus"
    return subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)


def test_promtool_rejects_a_broken_exposition() -> None:
    assert _promtool_check('broken{l="x} 1\n').returncode != 0


# -- over the API server, with the real kubectl --------------------------------------------------
NEEDS = {"app": {"memory": {"workingSet": "96Mi"}, "cpu": {"usage": "40m"},
                 "listen": [{"port": 8080, "paths": {"/": 200}}], "load": {"rps": 10}}}


@pytest.fixture(scope="module")
def workload(kubectl: Kubectl) -> str:
    namespace = "metrics-test"
    kubectl("create", "namespace", namespace)
    manifest = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "front", "namespace": namespace},
                "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "front"}}, "template": {
                    "metadata": {"labels": {"app": "front"}, "annotations": {ANNOTATION: yaml.safe_dump(NEEDS)}},
                    "spec": {"containers": [{"name": "app", "image": "nginx:1.27",
                                             "resources": {"limits": {"memory": "256Mi", "cpu": "500m"}}}]}}}}
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "front", "namespace": namespace},
           "spec": {"selector": {"app": "front"}, "ports": [{"port": 80, "targetPort": 8080}]}}
    kubectl("apply", "-f", "-", input=yaml.safe_dump_all([manifest, svc]))
    kubectl("rollout", "status", "deployment/front", "-n", namespace, "--timeout=60s")
    return namespace


def test_kubectl_top_pods_and_nodes(kubectl: Kubectl, workload: str) -> None:
    out = kubectl("top", "pods", "-n", workload)
    rows = [line.split() for line in out.splitlines()[1:]]
    assert out.splitlines()[0].split() == ["NAME", "CPU(cores)", "MEMORY(bytes)"]
    assert len(rows) == 2 and all(r[0].startswith("front-") and r[1] == "40m" and r[2] == "96Mi" for r in rows)
    labelled = kubectl("top", "pods", "-n", workload, "-l", "app=front", "--containers")
    assert labelled.count("front-") == 2 and " app " in labelled
    nodes = kubectl("top", "nodes")
    assert nodes.splitlines()[0].split()[:3] == ["NAME", "CPU(cores)", "CPU(%)"]
    assert "chaositbench-worker" in nodes
    raw = json.loads(kubectl("get", "--raw", f"/apis/metrics.k8s.io/v1beta1/namespaces/{workload}/pods"))
    item = raw["items"][0]
    assert raw["kind"] == "PodMetricsList" and item["window"] == "10.5s"
    assert item["containers"][0]["usage"]["cpu"] == "40000000n"


def _scrape(kubectl: Kubectl, path: str) -> str:
    text = kubectl("get", "--raw", path)
    check = _promtool_check(text)
    assert check.returncode == 0, check.stdout + check.stderr
    return text


def test_state_metrics_agree_with_the_objects(kubectl: Kubectl, workload: str) -> None:
    text = _scrape(kubectl, "/api/v1/namespaces/kube-system/services/kube-state-metrics:8080/proxy/metrics")
    assert f'kube_deployment_spec_replicas{{namespace="{workload}",deployment="front"}} 2' in text
    assert f'kube_deployment_status_replicas_available{{namespace="{workload}",deployment="front"}} 2' in text
    ready = [line for line in text.splitlines()
             if line.startswith("kube_pod_status_ready{") and workload in line and 'condition="true"' in line]
    assert len(ready) == 2 and all(line.endswith(" 1") for line in ready)
    assert 'kube_node_status_condition{node="chaositbench-worker",condition="Ready",status="true"} 1' in text
    assert f'resource="memory",unit="byte"}} {256 * MI}' in text


def test_cadvisor_and_request_metrics(kubectl: Kubectl, workload: str) -> None:
    pods = json.loads(kubectl("get", "pods", "-n", workload, "-o", "json"))["items"]
    node = pods[0]["spec"]["nodeName"]
    text = _scrape(kubectl, f"/api/v1/nodes/{node}/proxy/metrics/cadvisor")
    assert f'namespace="{workload}",pod="{pods[0]["metadata"]["name"]}"}} {96 * MI}' in text
    assert 'container_fs_limit_bytes{container="",id="/"' in text
    cfs = {line.split("{")[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
           if line.startswith("container_cpu_cfs_") and f'pod="{pods[0]["metadata"]["name"]}"' in line}
    assert cfs["container_cpu_cfs_periods_total"] > 0 and cfs["container_cpu_cfs_throttled_periods_total"] == 0
    _scrape(kubectl, f"/api/v1/nodes/{node}/proxy/metrics")
    path = "/api/v1/namespaces/kube-system/services/app-metrics:9090/proxy/metrics"
    first = _scrape(kubectl, path)
    time.sleep(0.3)
    second = _scrape(kubectl, path)

    def total(text: str) -> float:
        line = next(ln for ln in text.splitlines()
                    if ln.startswith(f'http_requests_total{{namespace="{workload}",service="front",code="200"}}'))
        return float(line.rsplit(" ", 1)[1])
    assert total(second) > total(first)


def test_proxy_paths_are_authorized_and_unknown_ones_answer_as_kube_apiserver(kubectl: Kubectl) -> None:
    denied = kubectl.run("get", "--raw", "/api/v1/nodes/chaositbench-worker/proxy/metrics/cadvisor",
                         "--as", "system:serviceaccount:default:default", check=False)
    assert denied.returncode != 0
    assert 'cannot get resource "nodes/proxy" in API group "" at the cluster scope' in denied.stderr
    missing = kubectl.run("get", "--raw", "/api/v1/nodes/no-such-node/proxy/metrics", check=False)
    assert 'nodes "no-such-node" not found' in missing.stderr
    other = kubectl.run("get", "--raw", "/api/v1/namespaces/default/services/kubernetes:443/proxy/metrics",
                        check=False)
    assert 'no endpoints available for service "kubernetes"' in other.stderr


def test_state_series_of_a_crash_looping_container() -> None:
    from chaositbench.sim.metrics.state import pod_families
    looping = pod("loop", {"app": "loop"}, {}, started=None, ready=False)
    status = looping["status"]["containerStatuses"][0]
    status["restartCount"] = 4
    status["state"] = {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting failed container"}}
    status["lastState"] = {"terminated": {"reason": "OOMKilled", "exitCode": 137}}
    text = render(pod_families([looping]))
    base = 'namespace="shop",pod="loop",uid="uid-loop",container="app"'
    assert f'kube_pod_container_status_waiting_reason{{{base},reason="CrashLoopBackOff"}} 1' in text
    assert f'kube_pod_container_status_last_terminated_reason{{{base},reason="OOMKilled"}} 1' in text
    assert f'kube_pod_container_status_last_terminated_exitcode{{{base}}} 137' in text
    assert f'kube_pod_container_status_restarts_total{{{base}}} 4' in text
    assert 'kube_pod_status_ready{namespace="shop",pod="loop",uid="uid-loop",condition="false"} 1' in text
    assert 'kube_pod_status_phase{namespace="shop",pod="loop",uid="uid-loop",phase="Running"} 1' in text
    check = _promtool_check(text)
    assert check.returncode == 0, check.stdout + check.stderr
