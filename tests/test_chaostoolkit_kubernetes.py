"""chaostoolkit-kubernetes (``chaosk8s``) activities against the simulated cluster.

The activities are the unmodified functions experiments call; they find the
cluster the way they do on a real one: ``chaosk8s.create_k8s_api_client`` loads
the kubeconfig named by ``KUBECONFIG`` and the context named by the
``KUBERNETES_CONTEXT`` secret. Each test checks the activity's effect through
the official client, and the last one runs a small experiment through the real
``chaos run`` command line.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from chaoslib.exceptions import ActivityFailed
from chaosk8s.deployment.actions import scale_deployment
from chaosk8s.deployment.probes import deployment_available_and_healthy
from chaosk8s.networking.actions import create_network_policy
from chaosk8s.pod.actions import terminate_pods
from chaosk8s.pod.probes import pods_in_phase
from kubernetes import client
from kubernetes.client.rest import ApiException
from kubernetes.config import kube_config
from polling import eventually

WAIT_S = 45.0
CHAOS = Path(sys.executable).parent / "chaos"
CONTEXT = "chaositbench-sim"  # the context name in the kubeconfig the simulated cluster writes
DENY_WEB_INGRESS = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                    "metadata": {"name": "deny-web"},
                    "spec": {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Ingress"]}}


def deployment_manifest(name: str, replicas: int, cpu: str = "50m") -> dict[str, Any]:
    labels = {"app": name}
    container = {"name": "app", "image": "registry.k8s.io/pause:3.10", "resources": {"requests": {"cpu": cpu}}}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": labels},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}}}}


@pytest.fixture
def secrets(kubeconfig: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Point chaosk8s at the simulated cluster; the secrets name the kubeconfig context to use.

    ``kubernetes.config`` reads ``KUBECONFIG`` once, when it is imported, for the
    default path ``load_kube_config`` uses; in this long-lived test process that
    import happened long ago, so the default is pointed at the file as well.
    """
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(kubeconfig))
    return {"KUBERNETES_CONTEXT": CONTEXT}


@pytest.fixture
def namespace(core: client.CoreV1Api, request: pytest.FixtureRequest) -> str:
    """A fresh namespace named after the test."""
    name = ("ctk-" + re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-"))[:63].rstrip("-")
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    return name


def available(name: str, namespace: str, secrets: dict[str, str]) -> bool:
    return bool(deployment_available_and_healthy(name, ns=namespace, raise_on_unavailable=False, secrets=secrets))


def running_pods(core: client.CoreV1Api, namespace: str, selector: str) -> list[client.V1Pod]:
    return [p for p in core.list_namespaced_pod(namespace, label_selector=selector).items
            if p.status.phase == "Running" and not p.metadata.deletion_timestamp]


# --- activities one by one ------------------------------------------------------------


def test_create_network_policy(secrets: dict[str, str], namespace: str, api_client: client.ApiClient) -> None:
    create_network_policy(spec=DENY_WEB_INGRESS, ns=namespace, secrets=secrets)
    policy = client.NetworkingV1Api(api_client).read_namespaced_network_policy("deny-web", namespace)
    assert policy.spec.pod_selector.match_labels == {"app": "web"}
    assert policy.spec.policy_types == ["Ingress"]
    assert policy.spec.ingress is None and policy.metadata.generation == 1
    with pytest.raises(ApiException) as info:
        create_network_policy(spec=DENY_WEB_INGRESS, ns=namespace, secrets=secrets)
    assert info.value.status == 409
    assert json.loads(info.value.body)["message"] == 'networkpolicies.networking.k8s.io "deny-web" already exists'


def test_create_network_policy_from_a_file(secrets: dict[str, str], namespace: str, api_client: client.ApiClient,
                                          tmp_path: Path) -> None:
    spec_path = tmp_path / "policy.json"
    spec_path.write_text(json.dumps({**DENY_WEB_INGRESS, "metadata": {"name": "from-file"}}))
    create_network_policy(spec_path=str(spec_path), ns=namespace, secrets=secrets)
    names = [p.metadata.name for p in client.NetworkingV1Api(api_client).list_namespaced_network_policy(namespace).items]
    assert names == ["from-file"]


def test_deployment_available_and_healthy(secrets: dict[str, str], namespace: str, apps: client.AppsV1Api) -> None:
    apps.create_namespaced_deployment(namespace, deployment_manifest("web", 2))
    eventually(lambda: available("web", namespace, secrets), "deployment web to be available")
    assert deployment_available_and_healthy("web", ns=namespace, label_selector="app=web", secrets=secrets) is True
    assert apps.read_namespaced_deployment("web", namespace).status.available_replicas == 2

    with pytest.raises(ActivityFailed, match="Deployment 'missing' was not found"):
        deployment_available_and_healthy("missing", ns=namespace, secrets=secrets)
    with pytest.raises(ActivityFailed, match="Deployment 'web' was not found"):
        deployment_available_and_healthy("web", ns=namespace, label_selector="app=other", secrets=secrets)

    apps.create_namespaced_deployment(namespace, deployment_manifest("huge", 1, cpu="64"))  # fits on no node
    time.sleep(1.0)
    with pytest.raises(ActivityFailed, match="Deployment 'huge' is not healthy"):
        deployment_available_and_healthy("huge", ns=namespace, secrets=secrets)


def test_pods_in_phase(secrets: dict[str, str], namespace: str, apps: client.AppsV1Api) -> None:
    apps.create_namespaced_deployment(namespace, deployment_manifest("web", 2))
    apps.create_namespaced_deployment(namespace, deployment_manifest("huge", 1, cpu="64"))
    eventually(lambda: pods_in_phase("app=web", "Running", ns=namespace, raise_on_invalid_phase=False,
                                     secrets=secrets), "web pods to run")
    assert pods_in_phase("app=huge", "Pending", ns=namespace, secrets=secrets) is True
    with pytest.raises(ActivityFailed, match="pod 'app=huge' is in phase 'Pending' but should be 'Running'"):
        pods_in_phase("app=huge", "Running", ns=namespace, secrets=secrets)
    with pytest.raises(ActivityFailed, match="no pods 'app=none' were found"):
        pods_in_phase("app=none", ns=namespace, secrets=secrets)


def test_scale_deployment(secrets: dict[str, str], namespace: str, apps: client.AppsV1Api,
                          core: client.CoreV1Api) -> None:
    apps.create_namespaced_deployment(namespace, deployment_manifest("web", 1))
    eventually(lambda: available("web", namespace, secrets), "deployment web to be available")

    scale_deployment("web", 3, ns=namespace, secrets=secrets)
    assert apps.read_namespaced_deployment("web", namespace).spec.replicas == 3
    eventually(lambda: available("web", namespace, secrets) and len(running_pods(core, namespace, "app=web")) == 3,
               "3 running replicas")

    scale_deployment("web", 1, ns=namespace, secrets=secrets)
    eventually(lambda: len(core.list_namespaced_pod(namespace, label_selector="app=web").items) == 1,
               "scale-down to 1 pod")
    with pytest.raises(ActivityFailed, match="failed to scale 'missing' to 2 replicas"):
        scale_deployment("missing", 2, ns=namespace, secrets=secrets)


def test_terminate_pods_is_undone_by_the_replicaset(secrets: dict[str, str], namespace: str, apps: client.AppsV1Api,
                                                     core: client.CoreV1Api) -> None:
    apps.create_namespaced_deployment(namespace, deployment_manifest("web", 2))
    eventually(lambda: available("web", namespace, secrets), "deployment web to be available")
    before = {p.metadata.name for p in running_pods(core, namespace, "app=web")}

    killed = terminate_pods(label_selector="app=web", qty=1, grace_period=0, ns=namespace, secrets=secrets)
    assert len(killed) == 1 and killed[0] in before

    def replaced() -> set[str]:
        names = {p.metadata.name for p in running_pods(core, namespace, "app=web")}
        return names if len(names) == 2 and killed[0] not in names else set()

    after = eventually(replaced, "the ReplicaSet to replace the terminated pod")
    assert len(after - before) == 1
    with pytest.raises(ApiException) as info:
        core.read_namespaced_pod(killed[0], namespace)
    assert info.value.status == 404
    eventually(lambda: available("web", namespace, secrets), "deployment web to be available again")


# --- a whole experiment through the chaos command line -------------------------------


def experiment(namespace: str) -> dict[str, Any]:
    k8s = {"type": "python", "secrets": ["k8s"]}
    healthy = {"type": "probe", "name": "web-is-healthy", "tolerance": True,
               "provider": {**k8s, "module": "chaosk8s.deployment.probes", "func": "deployment_available_and_healthy",
                            "arguments": {"name": "web", "ns": namespace}}}
    return {
        "version": "1.0.0",
        "title": "web survives a deny policy, a scale-up and a killed pod",
        "description": "chaosk8s activities against the chaositbench simulated cluster",
        "secrets": {"k8s": {"KUBERNETES_CONTEXT": CONTEXT}},
        "steady-state-hypothesis": {"title": "web is available", "probes": [healthy]},
        "method": [
            {"type": "action", "name": "deny-web-ingress",
             "provider": {**k8s, "module": "chaosk8s.networking.actions", "func": "create_network_policy",
                          "arguments": {"spec": DENY_WEB_INGRESS, "ns": namespace}}},
            {"type": "action", "name": "scale-web-up",
             "provider": {**k8s, "module": "chaosk8s.deployment.actions", "func": "scale_deployment",
                          "arguments": {"name": "web", "replicas": 3, "ns": namespace}},
             "pauses": {"after": 3}},
            {"type": "action", "name": "kill-one-web-pod",
             "provider": {**k8s, "module": "chaosk8s.pod.actions", "func": "terminate_pods",
                          "arguments": {"label_selector": "app=web", "qty": 1, "grace_period": 0, "ns": namespace}},
             "pauses": {"after": 3}},
            {"type": "probe", "name": "web-pods-running",
             "provider": {**k8s, "module": "chaosk8s.pod.probes", "func": "pods_in_phase",
                          "arguments": {"label_selector": "app=web", "phase": "Running", "ns": namespace}}},
        ],
        "rollbacks": [
            {"type": "action", "name": "remove-deny-web",
             "provider": {**k8s, "module": "chaosk8s.networking.actions", "func": "remove_network_policy",
                          "arguments": {"name": "deny-web", "ns": namespace}}},
        ],
    }


def test_chaos_run_completes(kubeconfig: Path, namespace: str, apps: client.AppsV1Api, api_client: client.ApiClient,
                             tmp_path: Path) -> None:
    apps.create_namespaced_deployment(namespace, deployment_manifest("web", 2))
    eventually(lambda: apps.read_namespaced_deployment("web", namespace).status.available_replicas == 2,
               "deployment web to be available")
    source = tmp_path / "experiment.json"
    source.write_text(json.dumps(experiment(namespace), indent=2))
    journal_path = tmp_path / "journal.json"
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    result = subprocess.run(
        [str(CHAOS), "--no-version-check", "--log-file", str(tmp_path / "chaostoolkit.log"),
         "--settings", str(tmp_path / "settings.yaml"), "run", "--journal-path", str(journal_path), str(source)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr

    journal = json.loads(journal_path.read_text())
    assert journal["status"] == "completed", result.stdout + result.stderr
    assert journal["deviated"] is False
    assert journal["steady_states"]["before"]["steady_state_met"] is True
    assert journal["steady_states"]["after"]["steady_state_met"] is True
    runs = {run["activity"]["name"]: run for run in journal["run"]}
    assert [run["status"] for run in journal["run"]] == ["succeeded"] * 4, journal["run"]
    assert len(runs["kill-one-web-pod"]["output"]) == 1
    assert runs["web-pods-running"]["output"] is True
    assert [r["status"] for r in journal["rollbacks"]] == ["succeeded"]

    assert apps.read_namespaced_deployment("web", namespace).spec.replicas == 3
    policies = client.NetworkingV1Api(api_client).list_namespaced_network_policy(namespace).items
    assert policies == []  # the rollback removed the fault
