"""Choosing the cluster: the embedded default, explicit kubeconfig contexts, clear errors, the write guard."""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from chaoslib.exceptions import ActivityFailed
from kubernetes import client

from chaositbench.target import KUBECONFIG, SIM, Target, connect, release


def _kubeconfig(path: Path, server: str, context: str = "prod") -> Path:
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": context,
        "clusters": [{"name": "c", "cluster": {"server": server}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": context, "context": {"cluster": "c", "user": "u"}}]}))
    return path


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CHAOSITBENCH_CLUSTER", "CHAOSITBENCH_CONTEXT", "CHAOSITBENCH_KUBECONFIG", "KUBECONFIG",
                 "CHAOSITBENCH_PROMETHEUS_URL"):
        monkeypatch.delenv(name, raising=False)


def test_default_is_a_fresh_embedded_cluster_recorded_for_other_processes(tmp_path: Path) -> None:
    target = connect({"chaositbench_app": "none"}, tmp_path)
    try:
        assert target.kind == SIM and target.context is None
        with target.api_client() as api:
            assert {n.metadata.name for n in client.CoreV1Api(api).list_node().items} >= {"chaositbench-worker"}
        if shutil.which("prometheus"):
            with urllib.request.urlopen(f"{target.prometheus_url}/-/ready", timeout=5) as answer:
                assert answer.status == 200
            with urllib.request.urlopen(f"{target.prometheus_url}/api/v1/status/config", timeout=5) as answer:
                scraping = yaml.safe_load(json.loads(answer.read())["data"]["yaml"])  # started empty, then pointed
            assert {job["job_name"] for job in scraping["scrape_configs"]} == {"kube-state-metrics", "kubelet",
                                                                               "app-metrics"}
            assert target.server.split("//")[1] in json.dumps(scraping["scrape_configs"])
        else:
            assert target.prometheus_url is None
        recorded = json.loads((tmp_path / "target.json").read_text())
        assert recorded["kind"] == SIM and recorded["server"] == target.server
        assert connect({"chaositbench_cluster": KUBECONFIG}, tmp_path) == target  # the recorded one wins
    finally:
        release(target)
    with pytest.raises(ActivityFailed, match=f"cannot reach the Kubernetes API server {target.server}"):
        connect({}, tmp_path)
    if target.prometheus_url:
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen(f"{target.prometheus_url}/-/ready", timeout=5)


def test_kubeconfig_needs_a_context_named_explicitly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAOSITBENCH_CLUSTER", KUBECONFIG)
    monkeypatch.setenv("KUBECONFIG", str(_kubeconfig(tmp_path / "config", "https://127.0.0.1:1")))
    with pytest.raises(ActivityFailed, match="needs a context named explicitly"):
        connect()
    monkeypatch.setenv("CHAOSITBENCH_CONTEXT", "staging")
    with pytest.raises(ActivityFailed, match=r"context 'staging' is not in kubeconfig .* \(it has: prod\)"):
        connect()


def test_an_unreachable_cluster_names_the_server_and_what_to_check(tmp_path: Path) -> None:
    kubeconfig = _kubeconfig(tmp_path / "config", "https://127.0.0.1:1")
    configuration = {"chaositbench_cluster": KUBECONFIG, "chaositbench_kubeconfig": str(kubeconfig),
                     "chaositbench_context": "prod"}
    with pytest.raises(ActivityFailed, match=r"cannot reach the Kubernetes API server https://127\.0\.0\.1:1 "
                                             r"\(context 'prod' in .*\).*Check that the cluster is running"):
        connect(configuration, tmp_path / "run")
    assert not (tmp_path / "run" / "target.json").exists()


def test_unknown_cluster_kind_is_refused() -> None:
    with pytest.raises(ActivityFailed, match="unknown cluster 'minikube'.*'sim'.*'kubeconfig'"):
        connect({"chaositbench_cluster": "minikube"})


def test_writes_outside_the_allow_list_are_refused() -> None:
    target = Target(kind=SIM, kubeconfig=Path("/nonexistent"), context=None, server="https://x").allowing(["shop"])
    target.check_write("Deployment", "shop", "web")
    target.check_write("Node", None, "worker")
    with pytest.raises(ActivityFailed, match=r"Deployment kube-system/coredns: namespace 'kube-system' is outside "
                                             r"this scenario's namespaces \(shop\)"):
        target.check_write("Deployment", "kube-system", "coredns")
    with pytest.raises(ActivityFailed, match="cluster-scoped ClusterRole 'admin'"):
        target.check_write("ClusterRole", None, "admin")
