"""The real Prometheus scraping a simulated cluster: series, PromQL and alerts through prometheus-api-client."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import yaml
from prometheus_api_client import PrometheusConnect

from chaositbench.sim import prometheus
from chaositbench.sim.prometheus import (PrometheusError, PrometheusServer, alert_rules, base_config, scrape_config,
                                         scrape_interval_for)
from chaositbench.sim.server import SimServer
from conftest import Kubectl

NAMESPACE = "prom-test"
#: Running, never Ready: a readiness probe whose first check is far away (the deployment misses its replicas).
STUCK = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "stuck", "namespace": NAMESPACE},
         "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "stuck"}}, "template": {
             "metadata": {"labels": {"app": "stuck"}},
             "spec": {"containers": [{"name": "app", "image": "nginx:1.27", "readinessProbe": {
                 "httpGet": {"path": "/", "port": 80}, "initialDelaySeconds": 3600}}]}}}}


#: Crashes at start: its declared needs require an environment variable the pod does not set.
CRASHER = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "crasher", "namespace": NAMESPACE, "annotations": {
    "chaositbench.io/needs": "app: {env: [{name: PAYMENT_MODE, required: true}]}"}},
           "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}


#: An edge service with steady external load.
EDGE_NEEDS = "app: {listen: [{port: 8080, paths: {/: 200}}], load: {rps: 10}}"
EDGE = [{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "edge", "namespace": NAMESPACE},
         "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "edge"}}, "template": {
             "metadata": {"labels": {"app": "edge"}, "annotations": {"chaositbench.io/needs": EDGE_NEEDS}},
             "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "edge", "namespace": NAMESPACE},
         "spec": {"selector": {"app": "edge"}, "ports": [{"port": 80, "targetPort": 8080}]}}]


def wait_for(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.5)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SimServer, PrometheusServer, Kubectl]]:
    with SimServer(time_scale=0.2) as sim:
        kubectl = Kubectl(sim.write_kubeconfig(tmp_path_factory.mktemp("prom") / "config"),
                          tmp_path_factory.mktemp("promcache"))
        kubectl("create", "namespace", NAMESPACE)
        kubectl("apply", "-f", "-", input=yaml.safe_dump_all([STUCK, CRASHER, *EDGE]))
        with PrometheusServer.for_sim(sim, alert_for="0s") as server:
            yield sim, server, kubectl


def query(server: PrometheusServer, promql: str) -> list[dict[str, Any]]:
    return PrometheusConnect(server.url).custom_query(promql)


def test_every_target_is_scraped(stack: tuple[SimServer, PrometheusServer, Kubectl]) -> None:
    _, server, _ = stack
    assert wait_for(lambda: len(query(server, "up == 1")) == 10), query(server, "up")
    up = query(server, "up == 1")
    assert {r["metric"]["job"] for r in up} == {"kube-state-metrics", "kubelet", "app-metrics"}


def test_promql_sees_the_not_ready_pods_and_the_replicas_mismatch(
        stack: tuple[SimServer, PrometheusServer, Kubectl]) -> None:
    _, server, kubectl = stack
    pods = set(kubectl("get", "pods", "-n", NAMESPACE, "-l", "app=stuck", "-o", "name").replace("pod/", "").split())
    assert len(pods) == 2

    def not_ready() -> set[str]:
        return {r["metric"]["pod"] for r in query(
            server, f'kube_pod_status_ready{{namespace="{NAMESPACE}", condition="false"}} == 1')}
    assert wait_for(lambda: not_ready() == pods | {"crasher"}), not_ready()
    def mismatch() -> list[tuple[str, str]]:
        return [(r["metric"]["deployment"], r["value"][1]) for r in query(
            server, f'kube_deployment_spec_replicas{{namespace="{NAMESPACE}"}} '
                    f'- kube_deployment_status_replicas_available{{namespace="{NAMESPACE}"}} > 0')]
    assert wait_for(lambda: mismatch() == [("stuck", "2")]), mismatch()
    alerts = wait_for(lambda: {r["metric"]["alertname"] for r in query(
        server, f'ALERTS{{alertstate="firing", namespace="{NAMESPACE}"}}')} >= {"KubePodNotReady",
                                                                            "KubeDeploymentReplicasMismatch"})
    assert alerts, query(server, "ALERTS")


def test_promql_sees_the_crash_loop(stack: tuple[SimServer, PrometheusServer, Kubectl]) -> None:
    _, server, _ = stack
    looping = wait_for(lambda: query(server, f'kube_pod_container_status_waiting_reason'
                                             f'{{namespace="{NAMESPACE}", reason="CrashLoopBackOff"}} == 1'))
    assert [r["metric"]["pod"] for r in looping] == ["crasher"]
    restarts = query(server, f'kube_pod_container_status_restarts_total{{namespace="{NAMESPACE}", pod="crasher"}}')
    assert int(restarts[0]["value"][1]) >= 1
    assert wait_for(lambda: query(server, f'ALERTS{{alertname="KubePodCrashLooping", alertstate="firing", '
                                          f'namespace="{NAMESPACE}", pod="crasher"}}'))


def test_counters_are_monotonic_in_prometheus(stack: tuple[SimServer, PrometheusServer, Kubectl]) -> None:
    _, server, _ = stack
    cpu = wait_for(lambda: query(server, f'rate(container_cpu_usage_seconds_total{{namespace="{NAMESPACE}"}}[5s]) > 0'))
    assert cpu
    assert query(server, "resets(container_cpu_usage_seconds_total[1m]) > 0") == []


def test_generated_rules_and_config_pass_promtool(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool, prometheus.INSTALL_HINT
    rules = tmp_path / "rules.yml"
    rules.write_text(yaml.safe_dump(alert_rules("1m")))
    (tmp_path / "ca.crt").write_text("")
    (tmp_path / "token").write_text("t")
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump(scrape_config("https://127.0.0.1:6443", ["n1"], token_file=str(tmp_path / "token"),
                                                   ca_file=str(tmp_path / "ca.crt"))))
    checked = subprocess.run([promtool, "check", "config", str(config)], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    config.write_text(yaml.safe_dump(base_config(scrape_interval_for(0.1))))  # no targets yet
    checked = subprocess.run([promtool, "check", "config", str(config)], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    names = {r["alert"] for g in alert_rules()["groups"] for r in g["rules"]}
    assert {"KubePodCrashLooping", "KubePodNotReady", "KubeDeploymentReplicasMismatch", "KubeNodeDiskPressure",
            "NodeFilesystemAlmostFull"} <= names


def test_a_missing_binary_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prometheus.shutil, "which", lambda name: None)
    with pytest.raises(PrometheusError, match="apt-get install prometheus"):
        PrometheusServer("https://127.0.0.1:1", "t", "", []).start()


def test_sim_serve_with_prometheus(tmp_path: Path) -> None:
    """``chaositbench sim serve --prometheus`` prints a ready Prometheus URL and stops it with the cluster."""
    kubeconfig = tmp_path / "config"
    process = subprocess.Popen([sys.executable, "-m", "chaositbench", "sim", "serve", "--kubeconfig", str(kubeconfig),
                                "--time-scale", "0.2", "--prometheus"], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("prometheus ready at http://127.0.0.1:"), line
        url = line.split(" at ", 1)[1].strip()
        assert "kubeconfig written" in process.stdout.readline() and kubeconfig.exists()
        with urllib.request.urlopen(f"{url}/-/ready", timeout=5) as answer:
            assert answer.status == 200
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{url}/-/ready", timeout=2)


def test_request_rate_is_the_declared_load(stack: tuple[SimServer, PrometheusServer, Kubectl]) -> None:
    """At time scale 0.2, rate() still shows the declared 10 requests per second (wall-clock rates)."""
    _, server, _ = stack
    promql = f'sum(rate(http_requests_total{{namespace="{NAMESPACE}", service="edge", code="200"}}[5s]))'
    assert wait_for(lambda: query(server, promql) and 8 < float(query(server, promql)[0]["value"][1]) < 12), \
        query(server, promql)


def test_the_scrape_interval_follows_the_time_scale_down_to_half_a_second() -> None:
    assert [scrape_interval_for(scale) for scale in (1.0, 2.0, 0.7, 0.1, 0.01)] == \
        ["1000ms", "1000ms", "700ms", "500ms", "500ms"]


def test_a_prometheus_started_without_targets_scrapes_the_cluster_it_is_pointed_at() -> None:
    """Started before the cluster exists, then pointed at it by a configuration reload."""
    with PrometheusServer(None, scrape_interval="500ms") as server:
        assert query(server, "up") == []
        with SimServer(time_scale=0.2) as sim:
            assert sim.cluster is not None and sim.certificates is not None
            nodes = ["chaositbench-worker"]
            server.scrape(sim.url, sim.cluster.admin_token(), sim.certificates.ca_pem, nodes)
            up = wait_for(lambda: {(s["metric"]["job"], s["value"][1]) for s in query(server, "up")} >= {
                ("kube-state-metrics", "1"), ("kubelet", "1"), ("app-metrics", "1")}, timeout=30)
            assert up, query(server, "up")


def test_pointing_a_prometheus_that_is_not_running_says_so() -> None:
    with pytest.raises(PrometheusError, match="is not running"):
        PrometheusServer(None).scrape("https://127.0.0.1:1", "t", "", ["n1"])
