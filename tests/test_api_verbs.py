"""API verbs the kubectl tests do not reach: watch bookmarks and initial events, status and scale
subresources, deletecollection, logs parameters."""

from __future__ import annotations

import base64
import json
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
import yaml

from conftest import Kubectl


@pytest.fixture()
def http(kubectl: Kubectl, tmp_path: Path) -> Iterator[tuple[str, requests.Session]]:
    config = yaml.safe_load(kubectl.kubeconfig.read_text())
    ca = tmp_path / "ca.crt"
    ca.write_bytes(base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"]))
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE in the environment would override the cluster's CA
    session.verify = str(ca)
    session.headers["Authorization"] = f"Bearer {config['users'][0]['user']['token']}"
    yield config["clusters"][0]["cluster"]["server"], session
    session.close()


def _ns(kubectl: Kubectl) -> str:
    name = f"v-{uuid.uuid4().hex[:8]}"
    kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
    return name


def _events(response: requests.Response, count: int) -> list[dict[str, Any]]:
    events = []
    for line in response.iter_lines():
        if line:
            events.append(json.loads(line))
            if len(events) == count:
                break
    return events


def test_watch_sends_initial_events_then_a_bookmark(kubectl: Kubectl, http: tuple[str, requests.Session],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    server, session = http
    ns = _ns(kubectl)
    kubectl("create", "-n", ns, "configmap", "one", "--from-literal=a=1")
    url = (f"{server}/api/v1/namespaces/{ns}/configmaps?watch=1&sendInitialEvents=true&allowWatchBookmarks=true"
           f"&resourceVersionMatch=NotOlderThan&timeoutSeconds=5")
    with session.get(url, stream=True, timeout=10) as response:
        assert response.status_code == 200
        events = _events(response, 3)
    names = [e["object"]["metadata"]["name"] for e in events if e["type"] == "ADDED"]
    assert sorted(names) == ["kube-root-ca.crt", "one"]
    bookmark = events[-1]
    assert bookmark["type"] == "BOOKMARK"
    assert bookmark["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert int(bookmark["object"]["metadata"]["resourceVersion"]) > 0


def test_watch_from_a_resource_version_replays_later_changes_in_order(kubectl: Kubectl,
                                                                      http: tuple[str, requests.Session]) -> None:
    server, session = http
    ns = _ns(kubectl)
    listed = session.get(f"{server}/api/v1/namespaces/{ns}/configmaps", timeout=10).json()
    start = listed["metadata"]["resourceVersion"]
    kubectl("create", "-n", ns, "configmap", "a", "--from-literal=x=1")
    kubectl("patch", "-n", ns, "configmap", "a", "--type=merge", "-p", '{"data":{"x":"2"}}')
    kubectl("delete", "-n", ns, "configmap", "a")
    url = f"{server}/api/v1/namespaces/{ns}/configmaps?watch=1&resourceVersion={start}&timeoutSeconds=3"
    with session.get(url, stream=True, timeout=10) as response:
        events = [e for e in _events(response, 4) if e["object"]["metadata"]["name"] == "a"]
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert versions == sorted(versions) and len(set(versions)) == 3


def test_status_subresource_writes_only_status(kubectl: Kubectl) -> None:
    ns = _ns(kubectl)
    kubectl("apply", "-n", ns, "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "lb"},
        "spec": {"type": "ClusterIP", "ports": [{"port": 80}], "selector": {"app": "x"}}}))
    kubectl("patch", "-n", ns, "service", "lb", "--subresource=status", "--type=merge", "-p",
            '{"status":{"loadBalancer":{"ingress":[{"ip":"203.0.113.7"}]}},"spec":{"selector":{"app":"changed"}}}')
    svc = json.loads(kubectl("get", "-n", ns, "service", "lb", "-o", "json"))
    assert svc["status"]["loadBalancer"]["ingress"] == [{"ip": "203.0.113.7"}]
    assert svc["spec"]["selector"] == {"app": "x"}
    kubectl("patch", "-n", ns, "service", "lb", "--type=merge", "-p", '{"status":{"loadBalancer":{}}}')
    svc = json.loads(kubectl("get", "-n", ns, "service", "lb", "-o", "json"))
    assert svc["status"]["loadBalancer"]["ingress"] == [{"ip": "203.0.113.7"}]  # main resource ignores status


def test_scale_subresource_and_kubectl_scale(kubectl: Kubectl, http: tuple[str, requests.Session]) -> None:
    server, session = http
    ns = _ns(kubectl)
    kubectl("create", "-n", ns, "deployment", "web", "--image=nginx:1.27", "--replicas=1")
    assert "deployment.apps/web scaled" in kubectl("scale", "-n", ns, "deployment/web", "--replicas=3")
    scale = session.get(f"{server}/apis/apps/v1/namespaces/{ns}/deployments/web/scale", timeout=10).json()
    assert scale["kind"] == "Scale" and scale["apiVersion"] == "autoscaling/v1" and scale["spec"] == {"replicas": 3}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        scale = session.get(f"{server}/apis/apps/v1/namespaces/{ns}/deployments/web/scale", timeout=10).json()
        if scale["status"].get("replicas") == 3:
            break
        time.sleep(0.2)
    assert scale["status"] == {"replicas": 3, "selector": "app=web"}
    stale = {**scale, "spec": {"replicas": 5}, "metadata": {**scale["metadata"], "resourceVersion": "1"}}
    conflict = session.put(f"{server}/apis/apps/v1/namespaces/{ns}/deployments/web/scale", json=stale, timeout=10)
    assert conflict.status_code == 409 and conflict.json()["reason"] == "Conflict"


def test_deletecollection_by_label(kubectl: Kubectl, http: tuple[str, requests.Session]) -> None:
    server, session = http
    ns = _ns(kubectl)
    for name, tier in (("a", "web"), ("b", "web"), ("c", "db")):
        kubectl("create", "-n", ns, "configmap", name, f"--from-literal=t={tier}")
        kubectl("label", "-n", ns, "configmap", name, f"tier={tier}")
    answer = session.delete(f"{server}/api/v1/namespaces/{ns}/configmaps?labelSelector=tier%3Dweb", timeout=10)
    assert answer.status_code == 200
    assert sorted(i["metadata"]["name"] for i in answer.json()["items"]) == ["a", "b"]
    left = kubectl("get", "-n", ns, "configmaps", "-o", "name").split()
    assert "configmap/c" in left and "configmap/a" not in left and "configmap/b" not in left



def test_version_with_and_without_trailing_slash(http: tuple[str, requests.Session]) -> None:
    server, session = http
    for path in ("/version", "/version/"):
        answer = session.get(server + path, timeout=10)
        assert answer.status_code == 200 and answer.json()["gitVersion"].startswith("v1.37")
