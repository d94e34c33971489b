"""The demo app chart: lint, rendering, declared needs that the chart's own objects satisfy, its program, and deployment.

The chart is rendered with real Helm (helm-python-sdk) and deployed to a
simulated cluster through the API, then looked at with the real kubectl.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_python
import pytest

from chaositbench.apps import (APPS, AppError, apply_order, chart_path, deploy_app, install_app, render_chart,
                               wait_healthy)
from chaositbench.sim.behaviour.needs import ANNOTATION, needs_of
from chaositbench.sim.server import SimProcess, SimServer

from conftest import Kubectl

CHART = APPS["demo"]
APP_PY = CHART / "files" / "app.py"
NAMESPACES = {"shop", "payments", "data"}
WORKLOADS = {("shop", "storefront"), ("shop", "checkout"), ("shop", "inventory"), ("payments", "payment"),
             ("data", "postgres"), ("data", "redis")}
HEALTHY_WITHIN_S = 30.0


@pytest.fixture(scope="module")
def manifests() -> list[dict[str, Any]]:
    return render_chart(CHART)


def _of(manifests: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [obj for obj in manifests if obj["kind"] == kind]


def _find(manifests: list[dict[str, Any]], kind: str, namespace: str, name: str) -> dict[str, Any]:
    found = [obj for obj in _of(manifests, kind)
             if obj["metadata"].get("namespace") == namespace and obj["metadata"]["name"] == name]
    assert found, f"no {kind} {namespace}/{name} rendered"
    return found[0]


# -- the chart ------------------------------------------------------------------------------------

def test_chart_lints_clean() -> None:
    report = helm_python.lint(str(CHART), strict=True)
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


def test_renders_the_stack_across_three_namespaces(manifests: list[dict[str, Any]]) -> None:
    kinds = {obj["kind"] for obj in manifests}
    assert {"Namespace", "ServiceAccount", "ConfigMap", "Secret", "Service", "Deployment", "StatefulSet",
            "PodDisruptionBudget", "NetworkPolicy"} <= kinds
    assert {ns["metadata"]["name"] for ns in _of(manifests, "Namespace")} == NAMESPACES
    workloads = {(o["metadata"]["namespace"], o["metadata"]["name"]) for o in manifests
                 if o["kind"] in ("Deployment", "StatefulSet")}
    assert workloads == WORKLOADS
    assert {o["metadata"]["namespace"] for o in manifests if o["kind"] != "Namespace"} == NAMESPACES
    for namespace, name in WORKLOADS:
        assert _find(manifests, "ServiceAccount", namespace, name)
        assert _find(manifests, "Service", namespace, name)


def test_every_pod_template_is_careful(manifests: list[dict[str, Any]]) -> None:
    for obj in manifests:
        if obj["kind"] not in ("Deployment", "StatefulSet"):
            continue
        template = obj["spec"]["template"]
        labels = template["metadata"]["labels"]
        assert {"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component",
                "app.kubernetes.io/part-of"} <= set(labels)
        assert obj["spec"]["selector"]["matchLabels"].items() <= labels.items()
        assert template["spec"]["serviceAccountName"] == obj["metadata"]["name"]
        (container,) = template["spec"]["containers"]
        assert set(container["resources"]["requests"]) >= {"cpu", "memory"}
        assert set(container["resources"]["limits"]) >= {"cpu", "memory"}
        assert container["readinessProbe"] and container["livenessProbe"]
        needs = json.loads(template["metadata"]["annotations"]["chaositbench.io/needs"])["app"]
        # only a component that calls the API gets a token, and a Role granting exactly its requests
        assert template["spec"]["automountServiceAccountToken"] is bool(needs.get("kubernetesApi"))
        if needs.get("kubernetesApi"):
            role = _find(manifests, "Role", obj["metadata"]["namespace"], obj["metadata"]["name"])
            assert [(r["verbs"], r["resources"], r.get("resourceNames")) for r in role["rules"]] == [
                ([n["verb"]], [n["resource"]], [n["name"]] if "name" in n else None) for n in needs["kubernetesApi"]]


def _env_sources(manifests: list[dict[str, Any]], namespace: str, container: dict[str, Any]) -> dict[str, str]:
    """Each env var of a container and its value as the chart's own ConfigMaps and Secrets supply it."""
    import base64
    values: dict[str, str] = {}
    for var in container.get("env") or []:
        if "value" in var:
            values[var["name"]] = var["value"]
            continue
        source = var["valueFrom"]
        if "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            values[var["name"]] = _find(manifests, "ConfigMap", namespace, ref["name"])["data"][ref["key"]]
        elif "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            encoded = _find(manifests, "Secret", namespace, ref["name"])["data"][ref["key"]]
            values[var["name"]] = base64.b64decode(encoded).decode()
    return values


def test_declared_needs_parse_and_the_chart_satisfies_them(manifests: list[dict[str, Any]]) -> None:
    import re
    services = {f"{s['metadata']['name']}.{s['metadata']['namespace']}.svc.cluster.local":
                {p["port"] for p in s["spec"]["ports"]} for s in _of(manifests, "Service")}
    for obj in manifests:
        if obj["kind"] not in ("Deployment", "StatefulSet"):
            continue
        namespace, template = obj["metadata"]["namespace"], obj["spec"]["template"]
        assert ANNOTATION in template["metadata"]["annotations"]
        needs = needs_of(template)
        assert set(needs) == {"app"}
        app = needs["app"]
        (container,) = template["spec"]["containers"]
        assert app.memory_bytes > 0 and app.cpu_millis > 0 and app.listen
        # left alone, nothing grows: a no-fault run stays healthy however long it lasts
        assert app.memory_growth_bytes_per_min == 0 and app.storage_writes_bytes_per_min == 0
        assert {listener.port for listener in app.listen} == {p["containerPort"] for p in container["ports"]}
        probe = container["readinessProbe"]
        if "httpGet" in probe:
            assert app.listen[0].paths[probe["httpGet"]["path"]] == 200
            assert app.listen[0].paths[container["livenessProbe"]["httpGet"]["path"]] == 200
        for dep in app.dependencies:
            assert dep.port in services[dep.host], f"{obj['metadata']['name']}: no Service behind {dep.host}"
        env = _env_sources(manifests, namespace, container)
        for need in app.env:
            assert need.name in env, f"{obj['metadata']['name']}: {need.name} not supplied"
            if need.one_of:
                assert env[need.name] in need.one_of
            if need.pattern:
                assert re.fullmatch(need.pattern, env[need.name])
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        volumes = {v["name"]: v for v in template["spec"]["volumes"]}
        for file in app.files:
            directory, key = file.path.rsplit("/", 1)
            config_map = _find(manifests, "ConfigMap", namespace, volumes[mounts[directory]]["configMap"]["name"])
            text = config_map["data"][key]
            for required in file.required_keys:
                assert re.search(rf"^{required}:", text, re.MULTILINE)
    edges = [needs_of(o["spec"]["template"])["app"].load for o in manifests if o["kind"] == "Deployment"]
    assert [load.path for load in edges if load] == ["/"]


def test_network_policies_deny_by_default_and_allow_payment_to_postgres(manifests: list[dict[str, Any]]) -> None:
    policies = _of(manifests, "NetworkPolicy")
    for namespace in NAMESPACES:
        deny = _find(manifests, "NetworkPolicy", namespace, "default-deny")["spec"]
        assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
        dns = _find(manifests, "NetworkPolicy", namespace, "allow-dns-egress")["spec"]["egress"][0]
        assert {(p["port"], p["protocol"]) for p in dns["ports"]} == {(53, "UDP"), (53, "TCP")}
    ingress = _find(manifests, "NetworkPolicy", "data", "postgres-ingress")["spec"]
    assert ingress["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "postgres"
    peers = {(peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
              peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"]) for peer in ingress["ingress"][0]["from"]}
    assert peers == {("payments", "payment"), ("shop", "inventory")}
    assert ingress["ingress"][0]["ports"] == [{"port": 5432, "protocol": "TCP"}]
    egress = _find(manifests, "NetworkPolicy", "payments", "payment-egress")["spec"]["egress"]
    assert [(rule["to"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
             rule["ports"][0]["port"]) for rule in egress] == [("data", 5432)]
    edge = _find(manifests, "NetworkPolicy", "shop", "storefront-ingress")["spec"]["ingress"]
    assert edge == [{"ports": [{"port": 8080, "protocol": "TCP"}]}]
    assert len(policies) == 16


def test_values_rename_namespaces_and_switch_policies_off() -> None:
    rendered = render_chart(CHART, {"namespaces": {"data": "db"}, "networkPolicy": {"enabled": False},
                                    "payment": {"mode": "sandbox"}}, release="other")
    assert not _of(rendered, "NetworkPolicy")
    payment = _find(rendered, "Deployment", "payments", "payment")["spec"]["template"]
    assert [d.host for d in needs_of(payment)["app"].dependencies] == ["postgres.db.svc.cluster.local"]
    assert payment["metadata"]["labels"]["app.kubernetes.io/instance"] == "other"
    assert _find(rendered, "ConfigMap", "payments", "payment-config")["data"]["PAYMENT_MODE"] == "sandbox"
    assert _find(rendered, "StatefulSet", "db", "postgres")


def test_bad_values_fail_rendering_with_the_reason() -> None:
    with pytest.raises(AppError, match="at '/components/redis/workload': value must be one of 'Deployment', 'Stat"):
        render_chart(CHART, {"components": {"redis": {"workload": "DaemonSet"}}})
    with pytest.raises(AppError, match="at '/components/redis': additional properties 'replica' not allowed"):
        render_chart(CHART, {"components": {"redis": {"replica": 3}}})
    with pytest.raises(AppError, match="unknown app 'nope'"):
        chart_path("nope")


FAKE_HELM = """#!{python}
# `helm template RELEASE CHART --namespace NS --values FILE`, as the helm binary prints it (Helm's library).
import sys, yaml, helm_python
args = sys.argv[1:]
assert args[0] == "template", args
values = yaml.safe_load(open(args[args.index("--values") + 1]))
try:
    out = helm_python.Chart.load(args[2]).render(values, name=args[1], namespace=args[args.index("--namespace") + 1],
                                                 is_install=True)
except helm_python.HelmError as exc:
    sys.exit(f"Error: {{exc}}")
for name, text in sorted(out.items()):
    if name.endswith(".yaml"):
        print(f"---\\n# Source: {{name}}\\n{{text}}")
"""


def test_the_helm_binary_is_preferred_when_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   manifests: list[dict[str, Any]]) -> None:
    helm = tmp_path / "helm"
    helm.write_text(FAKE_HELM.format(python=sys.executable))
    helm.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    assert render_chart(CHART) == manifests
    with pytest.raises(AppError, match=r"(?s)helm template .* failed: Error: .*value must be one of"):
        render_chart(CHART, {"components": {"redis": {"workload": "Job"}}})


def test_apply_order_puts_what_others_need_first(manifests: list[dict[str, Any]]) -> None:
    kinds = [obj["kind"] for obj in apply_order(manifests)]
    first = {kind: kinds.index(kind) for kind in set(kinds)}
    assert first["Namespace"] == 0
    assert max(i for i, k in enumerate(kinds) if k in ("ServiceAccount", "ConfigMap", "Secret")) < first["Service"]
    assert first["Service"] < first["Deployment"] < first["NetworkPolicy"]
    assert kinds[-1] == "NetworkPolicy"


# -- the program the images run (files/app.py) ----------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _annotations_file(tmp_path: Path, needs: dict[str, Any]) -> Path:
    """The downward-API file: ``key="value"`` lines with Go-quoted values."""
    path = tmp_path / "annotations"
    path.write_text(f'{ANNOTATION}={json.dumps(json.dumps({"app": needs}))}\nother="x"\n')
    return path


def _run_app(tmp_path: Path, needs: dict[str, Any], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-u", str(APP_PY), "--container=app", f"--needs={_annotations_file(tmp_path, needs)}",
         "--liveness-path=/healthz", "--readiness-path=/ready", f"--scratch={tmp_path / 'scratch'}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={"PATH": os.environ.get("PATH", ""), **env})


@pytest.mark.parametrize("env, fatal", [
    ({"PAYMENT_MODE": "live"}, "FATAL: required environment variable DB_HOST is not set"),
    ({"DB_HOST": "postgres.data", "PAYMENT_MODE": "prod"}, 'FATAL: PAYMENT_MODE="prod" is not one of [live sandbox]'),
    ({"DB_HOST": "x", "PAYMENT_MODE": "live", "DB_PORT": "54x"}, 'FATAL: DB_PORT="54x" does not match pattern [0-9]+'),
    ({"DB_HOST": "x", "PAYMENT_MODE": "live", "DB_PORT": "5432"}, "FATAL: open {dir}/missing.yaml: no such file or directory"),
])
def test_program_exits_1_naming_the_bad_setting(tmp_path: Path, env: dict[str, str], fatal: str) -> None:
    needs = {"logs": {"startup": ["payment starting"]}, "listen": [{"port": _free_port(), "paths": {"/pay": 200}}],
             "env": [{"name": "DB_HOST"}, {"name": "PAYMENT_MODE", "oneOf": ["live", "sandbox"]},
                     {"name": "DB_PORT", "required": False, "pattern": "[0-9]+"}],
             "files": [{"path": str(tmp_path / "missing.yaml"), "requiredKeys": ["gateway"]}]}
    process = _run_app(tmp_path, needs, env)
    out, _ = process.communicate(timeout=20)
    assert process.returncode == 1
    assert out.splitlines() == ["payment starting", fatal.format(dir=tmp_path)]


def test_program_reports_a_missing_nested_config_key(tmp_path: Path) -> None:
    config = tmp_path / "payment.yaml"
    config.write_text("gateway:\n  url: https://x\ncurrency: EUR\n")
    needs = {"files": [{"path": str(config), "requiredKeys": ["gateway.url", "gateway.timeout"]}]}
    process = _run_app(tmp_path, needs, {})
    out, _ = process.communicate(timeout=20)
    assert (process.returncode, out.strip()) == (1, f'FATAL: {config}: required key "gateway.timeout" is missing')


def test_program_once_reads_its_container_annotation_and_exits_after_the_checks(tmp_path: Path) -> None:
    own = {"env": [{"name": "MIGRATION_MODE", "oneOf": ["apply", "verify"]}], "startupSeconds": 0}
    annotations = _annotations_file(tmp_path, {"listen": [{"port": _free_port()}]})
    with annotations.open("a") as handle:
        handle.write(f"needs.chaositbench.io/migrate={json.dumps(json.dumps(own))}\n")
    command = [sys.executable, "-u", str(APP_PY), "--container=migrate", f"--needs={annotations}", "--once"]
    for mode, code, out in (("aplly", 1, 'FATAL: MIGRATION_MODE="aplly" is not one of [apply verify]'),
                            ("apply", 0, "")):
        done = subprocess.run(command, capture_output=True, text=True, timeout=20,
                              env={"PATH": os.environ.get("PATH", ""), "MIGRATION_MODE": mode})
        assert (done.returncode, done.stdout.strip()) == (code, out)


def _get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def _until(predicate: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = predicate()
        except OSError:
            result = None
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.1)


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    yield sock
    sock.close()


def test_program_serves_its_paths_and_is_ready_only_while_its_dependency_answers(
        tmp_path: Path, listener: socket.socket) -> None:
    port, dep_port = _free_port(), listener.getsockname()[1]
    needs = {"memory": {"workingSet": "40Mi"}, "ephemeralStorage": {"usage": "2Mi"}, "startupSeconds": 0,
             "listen": [{"port": port, "paths": {"/pay": 200}}],
             "dependencies": [{"name": "database", "host": "127.0.0.1", "port": dep_port, "timeoutSeconds": 1}],
             "env": [{"name": "DB_HOST"}]}
    process = _run_app(tmp_path, needs, {"DB_HOST": "127.0.0.1"})
    try:
        assert _until(lambda: _get(port, "/healthz")) == (200, "ok\n")
        status, body = _get(port, "/ready")
        assert status == 503 and f"database: dial tcp 127.0.0.1:{dep_port}: connect: connection refused" in body
        assert _get(port, "/pay")[0] == 502
        assert _get(port, "/nope")[0] == 404
        listener.listen()
        assert _get(port, "/ready")[0] == 200  # checked as the probe asks, not at the next background round
        assert _get(port, "/pay") == (200, "ok\n")
        assert (tmp_path / "scratch").stat().st_size == 2 * 2**20
        rss_kib = int(Path(f"/proc/{process.pid}/status").read_text().split("VmRSS:")[1].split()[0])
        assert rss_kib >= 38 * 1024
    finally:
        process.terminate()
        out, _ = process.communicate(timeout=10)
    assert f"error: cannot reach database: dial tcp 127.0.0.1:{dep_port}: connect: connection refused" in out
    assert f"connected to database at 127.0.0.1:{dep_port}" in out
    assert "GET /pay 502" in out and "GET /pay 200" in out


# -- deploying to the simulated cluster -----------------------------------------------------------

@pytest.fixture(scope="module")
def demo_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SimServer, Kubectl, float]]:
    """A simulated cluster started with the demo app deployed (app="demo"), and kubectl on it."""
    progress: list[str] = []
    started = time.monotonic()
    server = SimServer(time_scale=0.2, app="demo", announce=progress.append).start()
    elapsed = time.monotonic() - started
    assert progress[-1].startswith("app demo healthy after")
    try:
        path = server.write_kubeconfig(tmp_path_factory.mktemp("demo") / "config")
        yield server, Kubectl(path, tmp_path_factory.mktemp("democache")), elapsed
    finally:
        server.stop()


def test_demo_app_starts_healthy_within_bound(demo_sim: tuple[SimServer, Kubectl, float]) -> None:
    _, kubectl, elapsed = demo_sim
    assert elapsed < HEALTHY_WITHIN_S
    rows = [line.split() for line in kubectl("get", "deploy,sts", "-A", "-l", "app.kubernetes.io/part-of=chaositbench-demo",
                                             "--no-headers").splitlines()]
    names = {(row[0], row[1].split("/", 1)[1]) for row in rows}
    assert names == WORKLOADS
    for row in rows:
        ready, want = row[2].split("/")
        assert ready == want and int(want) >= 1, row


def test_kubectl_shows_every_demo_pod_running_and_ready(demo_sim: tuple[SimServer, Kubectl, float]) -> None:
    _, kubectl, _ = demo_sim
    rows = [line.split() for line in kubectl("get", "pods", "-A", "-l", "app.kubernetes.io/part-of=chaositbench-demo",
                                             "--no-headers").splitlines()]
    assert len(rows) == 10
    for namespace, name, ready, status, *_ in rows:
        assert (ready, status) == ("1/1", "Running"), (namespace, name)
    assert {row[0] for row in rows} == NAMESPACES
    claims = kubectl("get", "pvc", "-n", "data", "--no-headers")
    assert "data-postgres-0" in claims and "Bound" in claims
    inventory = "--as=system:serviceaccount:shop:inventory"
    assert kubectl.run("auth", "can-i", "get", "configmap/inventory-config", "-n", "shop", inventory).stdout == "yes\n"
    denied = kubectl.run("auth", "can-i", "get", "configmap/checkout-config", "-n", "shop", inventory, check=False)
    assert denied.stdout == "no\n"


def _exec(kubectl: Kubectl, namespace: str, target: str, *command: str) -> tuple[int, str]:
    result = kubectl.run("-n", namespace, "exec", target, "--", *command, check=False)
    return result.returncode, result.stdout + result.stderr


def test_the_edge_answers_and_the_policies_allow_exactly_the_declared_calls(
        demo_sim: tuple[SimServer, Kubectl, float]) -> None:
    _, kubectl, _ = demo_sim
    kubectl("run", "client", "-n", "default", "--image=curlimages/curl:8.10.1", "--command", "--", "sleep", "infinity")
    kubectl("wait", "-n", "default", "--for=condition=Ready", "pod/client", "--timeout=30s")
    edge = "http://storefront.shop.svc.cluster.local:8080/"
    assert _exec(kubectl, "default", "client", "curl", "-s", "-m", "2", "-w", " %{http_code}", edge) == (0, "OK\n 200")
    code, _ = _exec(kubectl, "payments", "deploy/payment", "nc", "-z", "-w", "1", "postgres.data.svc.cluster.local",
                    "5432")
    assert code == 0
    # calls nobody declared are dropped by the default-deny policies
    code, out = _exec(kubectl, "payments", "deploy/payment", "nc", "-z", "-w", "1", "redis.data.svc.cluster.local",
                      "6379")
    assert code == 1
    code, _ = _exec(kubectl, "shop", "deploy/checkout", "curl", "-s", "-m", "1", edge)
    assert code == 28
    code, _ = _exec(kubectl, "default", "client", "nc", "-z", "-w", "1", "postgres.data.svc.cluster.local", "5432")
    assert code == 1


def test_deploying_again_is_idempotent(demo_sim: tuple[SimServer, Kubectl, float],
                                       manifests: list[dict[str, Any]]) -> None:
    server, kubectl, _ = demo_sim
    before = kubectl("get", "deploy", "-A", "-o", "jsonpath={.items[*].metadata.generation}")
    deploy_app(server, manifests)
    assert wait_healthy(server, manifests, timeout=10) < 10
    assert kubectl("get", "deploy", "-A", "-o", "jsonpath={.items[*].metadata.generation}") == before


def test_wait_healthy_names_what_is_not_ready(demo_sim: tuple[SimServer, Kubectl, float]) -> None:
    server, _, _ = demo_sim
    stuck = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "stuck", "namespace": "default"},
             "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "stuck"}},
                      "template": {"metadata": {"labels": {"app": "stuck"}},
                                   "spec": {"nodeSelector": {"no-such": "node"},
                                            "containers": [{"name": "app", "image": "nginx:1.27"}]}}}}
    deploy_app(server, [stuck])
    with pytest.raises(AppError) as err:
        wait_healthy(server, [stuck], timeout=0.5)
    assert "Deployment default/stuck: 0/1 available; pods: stuck-" in str(err.value)
    assert "Pending" in str(err.value)


def test_deploy_names_the_object_the_api_refused(demo_sim: tuple[SimServer, Kubectl, float]) -> None:
    server, _, _ = demo_sim
    bad = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Not_A_Name", "namespace": "default"}}
    with pytest.raises(AppError, match="applying ConfigMap default/Not_A_Name failed: 422"):
        deploy_app(server, [bad])
    unknown = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    with pytest.raises(AppError, match="the cluster does not serve example.com/v1: 404"):
        deploy_app(server, [unknown])


def test_sim_serve_app_demo_writes_the_kubeconfig_once_healthy(tmp_path: Path) -> None:
    config = tmp_path / "config"
    with SimProcess(config, time_scale=0.2, app="demo"):
        kubectl = Kubectl(config, tmp_path / "cache")
        out = kubectl("get", "deploy,sts", "-A", "-l", "app.kubernetes.io/part-of=chaositbench-demo",
                      "-o", "jsonpath={range .items[*]}{.status.readyReplicas}/{.spec.replicas} {end}")
        assert sorted(out.split()) == sorted(["2/2"] * 4 + ["1/1"] * 2)


def test_install_app_prints_progress(tmp_path: Path) -> None:
    lines: list[str] = []
    with SimServer(time_scale=0.2) as server:
        install_app(server.admin_kubeconfig(), "demo", announce=lines.append, timeout=HEALTHY_WITHIN_S)
    assert lines[0].startswith("app demo: rendered 57 objects from chart")
    assert lines[1].startswith("applied 3 Namespace, 6 ServiceAccount, 1 Role, 1 RoleBinding, 3 Secret, 10 ConfigMap")
    assert "StatefulSet data/postgres available" in lines
    assert lines[-1].startswith("app demo healthy after")
