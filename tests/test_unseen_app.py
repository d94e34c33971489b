"""The behaviour model on an app it has never seen: other names, namespaces, ports and topology.

A ``books`` gateway calls a ``ledger`` API, which stores into ``vault`` (port 6000, another
namespace, guarded by NetworkPolicies). Removing the policy that admits the ledger shows the
same symptoms as on the demo app — not Ready, timeouts naming host:port in the logs, what
``curl`` inside a pod sees, kube-state-metrics — and putting it back heals everything.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

import pytest
from conftest import Kubectl

from chaositbench.sim.server import SimServer
from polling import eventually

NEEDS = "chaositbench.io/needs"
KSM = "/api/v1/namespaces/kube-system/services/kube-state-metrics:8080/proxy/metrics"


def deployment(name: str, namespace: str, port: int, needs: dict[str, Any]) -> dict[str, Any]:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
            "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": {
                "metadata": {"labels": labels, "annotations": {NEEDS: json.dumps({"main": needs})}},
                "spec": {"containers": [{
                    "name": "main", "image": "busybox:1.36", "ports": [{"containerPort": port, "name": "svc"}],
                    "readinessProbe": {"httpGet": {"path": "/status", "port": "svc"}, "periodSeconds": 2}}]}}}}


def service(name: str, namespace: str, port: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace},
            "spec": {"selector": {"app": name}, "ports": [{"port": port, "targetPort": port}]}}


def manifests() -> list[dict[str, Any]]:
    listen = lambda port: [{"port": port, "paths": {"/status": 200, "/entries": 200}}]  # noqa: E731
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "books"}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "vault"}},
        deployment("vault-db", "vault", 6000, {"listen": listen(6000)}),
        service("vault-db", "vault", 6000),
        deployment("ledger", "books", 7070, {"listen": listen(7070), "dependencies": [
            {"name": "vault", "host": "vault-db.vault.svc.cluster.local", "port": 6000, "timeoutSeconds": 1}]}),
        service("ledger", "books", 7070),
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
         "metadata": {"name": "deny-all-ingress", "namespace": "vault"},
         "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
         "metadata": {"name": "admit-ledger", "namespace": "vault"},
         "spec": {"podSelector": {"matchLabels": {"app": "vault-db"}}, "ingress": [{
             "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "books"}},
                       "podSelector": {"matchLabels": {"app": "ledger"}}}],
             "ports": [{"port": 6000}]}]}},
    ]


@pytest.fixture(scope="module")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kubectl]:
    directory = tmp_path_factory.mktemp("unseen")
    sim = SimServer(time_scale=0.05).start()
    kubectl = Kubectl(sim.write_kubeconfig(directory / "config"), directory / "cache")
    kubectl("apply", "-f", "-", input="\n---\n".join(json.dumps(m) for m in manifests()))
    yield kubectl
    sim.stop()


def ledger_ready(kube: Kubectl) -> bool:
    pods = json.loads(kube("get", "pods", "-n", "books", "-l", "app=ledger", "-o", "json"))["items"]
    return bool(pods) and all(any(c["type"] == "Ready" and c["status"] == "True"
                                  for c in p["status"].get("conditions", [])) for p in pods)


def test_unseen_app_breaks_and_heals_like_the_demo_app(kube: Kubectl) -> None:
    eventually(lambda: ledger_ready(kube), "the ledger to become ready")
    probe = "curl -s -m 3 -o /dev/null -w '%{http_code}' http://vault-db.vault:6000/entries"
    assert kube("exec", "-n", "books", "deploy/ledger", "--", "sh", "-c", probe) == "200"

    kube("delete", "networkpolicy", "-n", "vault", "admit-ledger")
    eventually(lambda: not ledger_ready(kube), "the ledger to lose readiness")
    assert "0/1" in kube("get", "pods", "-n", "books", "-l", "app=ledger")
    logs = eventually(lambda: [line for line in kube("logs", "-n", "books", "deploy/ledger").splitlines()
                               if "vault-db.vault.svc.cluster.local:6000" in line and "i/o timeout" in line],
                      "a timeout naming vault-db:6000 in the ledger's logs")
    assert logs
    blocked = kube.run("exec", "-n", "books", "deploy/ledger", "--", "sh", "-c", probe, check=False)
    assert (blocked.returncode, blocked.stdout) == (28, "000"), blocked  # curl: (28) timed out; no HTTP status
    assert "Readiness probe failed" in kube("get", "events", "-n", "books", "--field-selector", "reason=Unhealthy")
    metrics = kube("get", "--raw", KSM)
    assert any(line.startswith("kube_pod_status_ready{") and 'namespace="books"' in line
               and 'condition="false"' in line and line.endswith(" 1") for line in metrics.splitlines())

    kube("apply", "-f", "-", input=json.dumps(manifests()[-1]))
    eventually(lambda: ledger_ready(kube), "the ledger to recover once the policy is back")
    assert kube("exec", "-n", "books", "deploy/ledger", "--", "sh", "-c", probe) == "200"
