"""The real kubectl against the simulated cluster: every verb, errors, tables, RBAC."""

from __future__ import annotations

import base64
import json
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests
import yaml

from conftest import KUBECTL, Kubectl


def _ns(kubectl: Kubectl) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
    return name


def test_discovery_lists_core_and_group_resources(kubectl: Kubectl) -> None:
    out = kubectl("api-resources")
    for line in ("pods ", "deployments ", "networkpolicies ", "selfsubjectaccessreviews", "endpointslices"):
        assert line in out
    assert "v1.37" in kubectl("version")


def test_unknown_resource_type_is_reported_as_kubectl_does(kubectl: Kubectl) -> None:
    result = kubectl.run("get", "frobnicators", check=False)
    assert result.returncode == 1
    assert 'the server doesn\'t have a resource type "frobnicators"' in result.stderr


def test_create_get_apply_delete_configmap(kubectl: Kubectl) -> None:
    ns = _ns(kubectl)
    manifest = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "labels": {"tier": "web"}},
                "data": {"mode": "fast"}}
    assert "configmap/settings created" in kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(manifest))
    manifest["data"]["mode"] = "slow"
    assert "configmap/settings configured" in kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(manifest))
    got = json.loads(kubectl("get", "-n", ns, "configmap", "settings", "-o", "json"))
    assert got["data"] == {"mode": "slow"}
    assert got["metadata"]["uid"] and int(got["metadata"]["resourceVersion"]) > 0
    table = kubectl("get", "-n", ns, "configmaps", "-l", "tier=web")
    assert table.split("\n")[0].split() == ["NAME", "DATA", "AGE"]
    assert "settings" in table and "kube-root-ca.crt" not in table
    kubectl("delete", "-n", ns, "configmap", "settings")
    missing = kubectl.run("get", "-n", ns, "configmap", "settings", check=False)
    assert missing.stderr.strip() == 'Error from server (NotFound): configmaps "settings" not found'


def test_every_patch_type(kubectl: Kubectl) -> None:
    ns = _ns(kubectl)
    kubectl("create", "-n", ns, "-f", "-", input=yaml.safe_dump({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "api"},
        "spec": {"selector": {"app": "api"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}))
    kubectl("patch", "-n", ns, "service", "api", "--type=merge", "-p", '{"metadata":{"labels":{"a":"1"}}}')
    kubectl("patch", "-n", ns, "service", "api", "-p",
            '{"spec":{"ports":[{"name":"metrics","port":9090,"targetPort":9090}]}}')
    kubectl("patch", "-n", ns, "service", "api", "--type=json", "-p",
            '[{"op":"replace","path":"/spec/selector/app","value":"api2"}]')
    svc = json.loads(kubectl("get", "-n", ns, "svc", "api", "-o", "json"))
    assert svc["metadata"]["labels"] == {"a": "1"}
    assert sorted(p["port"] for p in svc["spec"]["ports"]) == [80, 9090]  # strategic merge by port
    assert svc["spec"]["selector"] == {"app": "api2"}
    assert svc["spec"]["clusterIP"].startswith("10.")
    bad = kubectl.run("patch", "-n", ns, "service", "api", "--type=json", "-p",
                      '[{"op":"test","path":"/spec/selector/app","value":"nope"}]', check=False)
    assert bad.returncode != 0 and "the server rejected our request" in bad.stderr


def test_server_side_apply_and_conflicts(kubectl: Kubectl) -> None:
    ns = _ns(kubectl)
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": {"k": "v1"}}
    assert "serverside-applied" in kubectl("apply", "--server-side", "-n", ns, "-f", "-", input=json.dumps(cm))
    kubectl("patch", "-n", ns, "configmap", "ssa", "--type=merge", "-p", '{"data":{"k":"other"}}')
    cm["data"]["k"] = "v2"
    clash = kubectl.run("apply", "--server-side", "-n", ns, "-f", "-", input=json.dumps(cm), check=False)
    assert clash.returncode != 0 and "conflict" in clash.stderr
    kubectl("apply", "--server-side", "--force-conflicts", "-n", ns, "-f", "-", input=json.dumps(cm))
    assert json.loads(kubectl("get", "-n", ns, "cm", "ssa", "-o", "json"))["data"] == {"k": "v2"}


def test_stale_replace_is_a_conflict(kubectl: Kubectl, tmp_path: Path) -> None:
    ns = _ns(kubectl)
    kubectl("create", "-n", ns, "configmap", "cfg", "--from-literal=a=1")
    stale = json.loads(kubectl("get", "-n", ns, "cm", "cfg", "-o", "json"))
    kubectl("patch", "-n", ns, "cm", "cfg", "--type=merge", "-p", '{"data":{"a":"2"}}')
    stale["data"]["a"] = "3"
    path = tmp_path / "stale.json"
    path.write_text(json.dumps(stale))
    result = kubectl.run("replace", "-f", str(path), check=False)
    assert result.returncode != 0
    assert ('Operation cannot be fulfilled on configmaps "cfg": the object has been modified; '
            'please apply your changes to the latest version and try again') in result.stderr


def test_invalid_objects_get_422_with_field_paths(kubectl: Kubectl) -> None:
    ns = _ns(kubectl)
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "Bad_Name"},
           "spec": {"containers": [{"name": "app", "image": "nginx"}]}}
    result = kubectl.run("create", "-n", ns, "-f", "-", input=json.dumps(pod), check=False)
    assert 'The Pod "Bad_Name" is invalid' in result.stderr
    assert "metadata.name" in result.stderr
    no_containers = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "empty"}, "spec": {"containers": []}}
    result = kubectl.run("create", "-n", ns, "-f", "-", input=json.dumps(no_containers), check=False)
    assert "spec.containers: Required value" in result.stderr


def test_unknown_field_rejected_by_strict_validation(kubectl: Kubectl) -> None:
    ns = _ns(kubectl)
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {}, "bogus": 1}
    result = kubectl.run("create", "-n", ns, "-f", "-", input=json.dumps(cm), check=False)
    assert result.returncode != 0 and 'unknown field "bogus"' in result.stderr


def test_chunked_list_and_selectors(kubectl: Kubectl) -> None:
    ns = _ns(kubectl)
    for i in range(7):
        kubectl("create", "-n", ns, "configmap", f"c{i}", f"--from-literal=i={i}")
    kubectl("label", "-n", ns, "configmap", "c3", "pick=yes")
    names = kubectl("get", "-n", ns, "cm", "--chunk-size=2", "-o", "name").split()
    assert len(names) == len(set(names))
    assert {f"configmap/c{i}" for i in range(7)} <= set(names)
    assert kubectl("get", "-n", ns, "cm", "-l", "pick=yes", "-o", "name").split() == ["configmap/c3"]
    assert kubectl("get", "-n", ns, "cm", "-l", "pick!=yes,!nothing", "-o", "name").count("configmap/c") == 6
    assert kubectl("get", "-n", ns, "cm", "--field-selector", "metadata.name=c5", "-o", "name").split() == \
        ["configmap/c5"]
    bad = kubectl.run("get", "pods", "--field-selector", "spec.bogus=1", check=False)
    assert "field label not supported: spec.bogus" in bad.stderr


def test_watch_streams_changes(kubectl: Kubectl) -> None:
    ns = _ns(kubectl)
    assert KUBECTL
    watcher = subprocess.Popen([KUBECTL, "--kubeconfig", str(kubectl.kubeconfig), "--cache-dir",
                                str(kubectl.cache_dir), "get", "configmaps", "-n", ns, "--watch-only",
                                "-o", "name", "--request-timeout=8s"], stdout=subprocess.PIPE, text=True)
    time.sleep(1.5)
    kubectl("create", "-n", ns, "configmap", "w1", "--from-literal=a=1")
    kubectl("delete", "-n", ns, "configmap", "w1")
    out, _ = watcher.communicate(timeout=20)
    assert out.split().count("configmap/w1") >= 2


def test_rbac_denies_what_roles_do_not_grant(kubectl: Kubectl, tmp_path: Path) -> None:
    ns = _ns(kubectl)
    kubectl("create", "-n", ns, "serviceaccount", "agent")
    kubectl("create", "-n", ns, "role", "reader", "--verb=get,list,watch", "--resource=pods,configmaps")
    kubectl("create", "-n", ns, "rolebinding", "agent-reads", "--role=reader", f"--serviceaccount={ns}:agent")
    token = kubectl("create", "-n", ns, "token", "agent").strip()
    config = yaml.safe_load(kubectl.kubeconfig.read_text())
    config["users"][0]["user"] = {"token": token}
    scoped = tmp_path / "agent.kubeconfig"
    scoped.write_text(yaml.safe_dump(config))
    agent = Kubectl(scoped, tmp_path / "cache")
    assert agent.run("get", "-n", ns, "pods").returncode == 0
    denied = agent.run("get", "-n", "kube-system", "pods", check=False)
    assert denied.stderr.strip() == (
        f'Error from server (Forbidden): pods is forbidden: User "system:serviceaccount:{ns}:agent" cannot list '
        f'resource "pods" in API group "" in the namespace "kube-system"')
    denied = agent.run("delete", "-n", ns, "configmap", "kube-root-ca.crt", check=False)
    assert f'User "system:serviceaccount:{ns}:agent" cannot delete resource "configmaps"' in denied.stderr
    assert agent("auth", "can-i", "list", "pods", "-n", ns).strip() == "yes"
    assert agent.run("auth", "can-i", "delete", "pods", "-n", ns, check=False).stdout.strip() == "no"


def test_explain_uses_openapi_v3(kubectl: Kubectl) -> None:
    out = kubectl("explain", "deployment.spec.strategy")
    assert "KIND:" in out and "Deployment" in out and "rollingUpdate" in out


def test_namespace_deletion_removes_content(kubectl: Kubectl) -> None:
    ns = _ns(kubectl)
    kubectl("create", "-n", ns, "configmap", "doomed", "--from-literal=a=1")
    kubectl("delete", "namespace", ns, "--timeout=60s")
    assert kubectl.run("get", "namespace", ns, check=False).returncode != 0
    created = kubectl.run("create", "-n", ns, "configmap", "late", "--from-literal=a=1", check=False)
    assert f'namespaces "{ns}" not found' in created.stderr


@pytest.mark.parametrize("kind,header", [
    ("nodes", ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]),
    ("namespaces", ["NAME", "STATUS", "AGE"]),
    ("services", ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]),
])
def test_tables_have_real_columns(kubectl: Kubectl, kind: str, header: list[str]) -> None:
    out = kubectl("get", kind, "-A" if kind == "services" else "--no-headers=false")
    first = out.split("\n")[0].split()
    assert first[-len(header):] == header


def test_root_ca_configmap_holds_the_serving_ca(kubectl: Kubectl) -> None:
    config = yaml.safe_load(kubectl.kubeconfig.read_text())
    served = base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"]).decode()
    published = json.loads(kubectl("get", "configmap", "kube-root-ca.crt", "-n", "default", "-o", "json"))
    assert published["data"]["ca.crt"] == served


def test_unknown_fields_are_dropped_with_a_warning_by_default(kubectl: Kubectl, tmp_path: Path) -> None:
    """Without fieldValidation (the Python client) the server drops unknown fields and says so in a Warning."""
    ns = _ns(kubectl)
    config = yaml.safe_load(kubectl.kubeconfig.read_text())
    ca = tmp_path / "ca.crt"
    ca.write_bytes(base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"]))
    answer = requests.post(f"{config['clusters'][0]['cluster']['server']}/api/v1/namespaces/{ns}/configmaps",
                           json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "w", "bogus": 1},
                                 "data": {"a": "b"}, "stray": True}, verify=str(ca), timeout=10,
                           headers={"Authorization": f"Bearer {config['users'][0]['user']['token']}"})
    assert answer.status_code == 201, answer.text
    assert "stray" not in answer.json() and "bogus" not in answer.json()["metadata"]
    warnings = answer.raw.headers.getlist("Warning")
    assert sorted(warnings) == ['299 - "unknown field \\"metadata.bogus\\""', '299 - "unknown field \\"stray\\""']
