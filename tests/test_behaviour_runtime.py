"""The behaviour model's runtime: each failure mode as the real kubectl shows it, and its recovery.

A live simulated cluster (fast time scale) is driven with the real kubectl only:
image pulls outside the registry catalog, missing ConfigMaps/keys, bad program
configuration, memory limits, failing probes and unreachable dependencies. Each
test checks STATUS/RESTARTS, ``describe`` events and ``logs``/``logs --previous``,
then puts the object right and waits for the pod to recover.
"""

from __future__ import annotations

import base64
import json
import select
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml
from conftest import KUBECTL, Kubectl

from chaositbench.sim.behaviour.needs import CONTAINER_ANNOTATION_PREFIX, NeedsError, container_needs
from chaositbench.sim.behaviour.runtime import BehaviourRuntime, Registry, config_violation
from chaositbench.sim.controllers.kubelet_config import CONFIGMAPS, SECRETS, ConfigError, container_config
from chaositbench.sim.controllers.kubelet_runtime import ContainerContext
from chaositbench.sim.controllers.kubelet_status import ProbeState
from chaositbench.sim.server import SimServer
from workload_harness import MiniCluster
from polling import eventually

NEEDS = "chaositbench.io/needs"


# -- fixtures and helpers ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server() -> Iterator[SimServer]:
    sim = SimServer(time_scale=0.02).start()
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
def kube(server: SimServer, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    directory = tmp_path_factory.mktemp("behaviour")
    return Kubectl(server.write_kubeconfig(directory / "config"), directory / "cache")


@pytest.fixture()
def ns(kube: Kubectl, request: pytest.FixtureRequest) -> str:
    name = request.node.name.removeprefix("test_").replace("_", "-")[:40].rstrip("-")
    kube("create", "namespace", name)
    return name


def rows(kube: Kubectl, ns: str, *selector: str) -> list[dict[str, str]]:
    """``kubectl get pods`` as printed: NAME, READY, STATUS, RESTARTS (with its "(Xs ago)")."""
    out = kube("get", "pods", "-n", ns, "--no-headers", *selector)
    result = []
    for line in out.splitlines():
        parts = line.split()
        restarts = " ".join(parts[3:-1])
        result.append({"name": parts[0], "ready": parts[1], "status": parts[2], "restarts": restarts})
    return result


def only_row(kube: Kubectl, ns: str, *selector: str) -> dict[str, str] | None:
    found = rows(kube, ns, *selector)
    return found[0] if len(found) == 1 else None


def status_is(kube: Kubectl, ns: str, status: str, *selector: str, ready: str | None = None) -> dict[str, str] | None:
    row = only_row(kube, ns, *selector)
    return row if row and row["status"] == status and (ready is None or row["ready"] == ready) else None


def statuses_seen(kube: Kubectl, ns: str, wanted: set[str], *selector: str, timeout: float = 15.0) -> set[str]:
    """Watch ``kubectl get pods -w`` until every wanted STATUS has been printed (brief ones included)."""
    assert KUBECTL
    cmd = [KUBECTL, "--kubeconfig", str(kube.kubeconfig), "--cache-dir", str(kube.cache_dir), "get", "pods",
           "-n", ns, "--no-headers", "-w", *selector]
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as watch:
        assert watch.stdout is not None
        try:
            while not wanted <= seen and time.monotonic() < deadline:
                readable, _, _ = select.select([watch.stdout], [], [], 0.2)
                line = watch.stdout.readline() if readable else ""
                if line.split():
                    seen.add(line.split()[2])
        finally:
            watch.kill()
    assert wanted <= seen, f"STATUS {sorted(wanted)} not all printed; saw {sorted(seen)}"
    return seen


def pod_json(kube: Kubectl, ns: str, name: str) -> dict[str, Any]:
    return json.loads(kube("get", "pod", name, "-n", ns, "-o", "json"))


def apply(kube: Kubectl, ns: str, *docs: dict[str, Any]) -> None:
    kube("apply", "-n", ns, "-f", "-", input=yaml.safe_dump_all(docs))


def pod(name: str, container: dict[str, Any], needs: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {"app": name}}
    if needs is not None:
        meta["annotations"] = {NEEDS: yaml.safe_dump({container["name"]: needs})}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": {"containers": [container], **spec}}


def deployment(name: str, container: dict[str, Any], needs: dict[str, Any] | None = None) -> dict[str, Any]:
    template = pod(name, container, needs)
    del template["apiVersion"], template["kind"], template["metadata"]["name"]
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}}, "template": template}}


def ready_after_rollout(kube: Kubectl, ns: str, name: str) -> None:
    kube.run("rollout", "status", f"deployment/{name}", "-n", ns, "--timeout=20s", timeout=30)
    eventually(lambda: status_is(kube, ns, "Running", "-l", f"app={name}", ready="1/1"), what=f"{name} ready")


# -- image pulls ------------------------------------------------------------------------------------------
NOT_FOUND = ('Failed to pull image "nginx:1.277": rpc error: code = NotFound desc = failed to pull and unpack image '
             '"docker.io/library/nginx:1.277": failed to resolve reference "docker.io/library/nginx:1.277": '
             'docker.io/library/nginx:1.277: not found')


def test_unknown_image_tag_backs_off_then_recovers_when_the_tag_is_fixed(kube: Kubectl, ns: str) -> None:
    apply(kube, ns, deployment("web", {"name": "app", "image": "nginx:1.277"}))
    seen = statuses_seen(kube, ns, {"ErrImagePull", "ImagePullBackOff"}, "-l", "app=web")
    assert seen <= {"ContainerCreating", "Pending", "ErrImagePull", "ImagePullBackOff"}
    name = only_row(kube, ns, "-l", "app=web")["name"]  # type: ignore[index]
    described = kube("describe", "pod", name, "-n", ns)
    assert NOT_FOUND in described
    assert "Error: ErrImagePull" in described and "Error: ImagePullBackOff" in described
    assert 'Back-off pulling image "nginx:1.277"' in described
    waiting = eventually(lambda: (w := pod_json(kube, ns, name)["status"]["containerStatuses"][0]["state"]
                                  .get("waiting")) and w["reason"] == "ImagePullBackOff" and w, what="back-off")
    assert waiting["message"] == ('Back-off pulling image "nginx:1.277": ErrImagePull: ' + NOT_FOUND.split(": ", 1)[1])
    events = json.loads(kube("get", "events", "-n", ns, "--field-selector", f"involvedObject.name={name}",
                             "-o", "json"))["items"]
    types = {(e["reason"], e["message"].split(":")[0]): e["type"] for e in events}
    assert types[("BackOff", 'Back-off pulling image "nginx')] == "Normal"
    assert types[("Failed", "Error")] == "Warning"

    kube("set", "image", "deployment/web", "app=nginx:1.27", "-n", ns)
    ready_after_rollout(kube, ns, "web")


def test_registry_catalog() -> None:
    registry = Registry.load()
    assert registry.pull_error("nginx:1.27") is None
    assert registry.pull_error("docker.io/library/nginx:1.27.3-alpine") is None
    assert registry.pull_error("nginx") is None
    assert registry.pull_error("ghcr.io/chaositbench/payments:0.1.0-rc1") is None
    assert registry.pull_error("curlimages/curl:8.10.1") is None
    assert registry.pull_error("registry.k8s.io/coredns/coredns:v1.11.3") is None
    assert registry.pull_error("nginx@sha256:" + "a" * 64) is None
    assert registry.pull_error("nginx:1.277") == NOT_FOUND.split(": ", 1)[1]
    assert "pull access denied, repository does not exist" in (registry.pull_error("nginxx:1.27") or "")
    assert registry.pull_error("registry.example.com/team/app:1") == (
        'rpc error: code = Unknown desc = failed to pull and unpack image "registry.example.com/team/app:1": '
        'failed to resolve reference "registry.example.com/team/app:1": failed to do request: Head '
        '"https://registry.example.com/v2/team/app/manifests/1": dial tcp: lookup registry.example.com: no such host')
    assert "code = NotFound" in (registry.pull_error("ghcr.io/someone/else:1") or "")


def test_scenario_registry_files_add_images(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    extra = tmp_path / "images.yaml"
    extra.write_text("repositories:\n  registry.example.com/team/app: ['1.*']\n")
    assert Registry.load(extra).pull_error("registry.example.com/team/app:1.4") is None
    monkeypatch.setenv("CHAOSITBENCH_REGISTRY", str(extra))
    registry = Registry.load()
    assert registry.pull_error("registry.example.com/team/app:1.4") is None
    assert "not found" in (registry.pull_error("registry.example.com/team/app:2") or "")


# -- CreateContainerConfigError ------------------------------------------------------------------------
def test_missing_configmap_and_key_block_creation_until_they_appear(kube: Kubectl, ns: str) -> None:
    env = [{"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "mode"}}}]
    apply(kube, ns, pod("cfg", {"name": "app", "image": "nginx:1.27", "env": env}))
    eventually(lambda: status_is(kube, ns, "CreateContainerConfigError", ready="0/1"), what="config error")
    assert 'Error: configmap "settings" not found' in kube("describe", "pod", "cfg", "-n", ns)
    waiting = pod_json(kube, ns, "cfg")["status"]["containerStatuses"][0]["state"]["waiting"]
    assert waiting == {"reason": "CreateContainerConfigError", "message": 'configmap "settings" not found'}

    kube("create", "configmap", "settings", "-n", ns, "--from-literal=other=1")
    eventually(lambda: f"couldn't find key mode in ConfigMap {ns}/settings" in kube("describe", "pod", "cfg", "-n", ns),
               what="missing key reported")
    kube("patch", "configmap", "settings", "-n", ns, "-p", '{"data": {"mode": "live"}}')
    eventually(lambda: status_is(kube, ns, "Running", ready="1/1"), what="cfg running")
    assert pod_json(kube, ns, "cfg")["status"]["containerStatuses"][0]["restartCount"] == 0


def test_missing_configmap_volume_keeps_the_pod_creating_until_it_exists(kube: Kubectl, ns: str) -> None:
    volume = {"name": "conf", "configMap": {"name": "conf", "items": [{"key": "app.yaml", "path": "app.yaml"}]}}
    container = {"name": "app", "image": "nginx:1.27", "volumeMounts": [{"name": "conf", "mountPath": "/etc/app"}]}
    apply(kube, ns, pod("mounter", container, volumes=[volume]))
    eventually(lambda: 'MountVolume.SetUp failed for volume "conf" : configmap "conf" not found'
               in kube("describe", "pod", "mounter", "-n", ns), what="FailedMount")
    assert status_is(kube, ns, "ContainerCreating", ready="0/1")
    assert "podIP" not in pod_json(kube, ns, "mounter")["status"]
    kube("create", "configmap", "conf", "-n", ns, "--from-literal=other=1")
    eventually(lambda: "configmap references non-existent config key: app.yaml"
               in kube("describe", "pod", "mounter", "-n", ns), what="missing key")
    kube("patch", "configmap", "conf", "-n", ns, "-p", '{"data": {"app.yaml": "k: v"}}')
    eventually(lambda: status_is(kube, ns, "Running", ready="1/1"), what="mounted and running")
    events = json.loads(kube("get", "events", "-n", ns, "--field-selector", "reason=FailedMount", "-o", "json"))
    assert {e["type"] for e in events["items"]} == {"Warning"}


# -- program-level configuration --------------------------------------------------------------------------
PAYMENT_NEEDS = {"env": [{"name": "DB_HOST", "required": True}, {"name": "PAYMENT_MODE", "oneOf": ["live", "sandbox"]}],
                 "logs": {"startup": ["payments starting"]}}


def test_bad_environment_value_crash_loops_with_a_fatal_log_then_recovers(kube: Kubectl, ns: str) -> None:
    env = [{"name": "DB_HOST", "value": "db"}, {"name": "PAYMENT_MODE", "value": "lve"}]
    apply(kube, ns, deployment("pay", {"name": "app", "image": "python:3.12", "env": env}, PAYMENT_NEEDS))
    statuses_seen(kube, ns, {"Error", "CrashLoopBackOff"}, "-l", "app=pay")
    row = eventually(lambda: (r := only_row(kube, ns, "-l", "app=pay")) and r["restarts"][:1] not in ("", "0") and r,
                     what="restarts")
    assert row["ready"] == "0/1" and "ago)" in row["restarts"]
    name = row["name"]
    previous = kube("logs", name, "-n", ns, "--previous")
    assert previous.splitlines() == ["payments starting", 'FATAL: PAYMENT_MODE="lve" is not one of [live sandbox]']
    status = pod_json(kube, ns, name)["status"]["containerStatuses"][0]
    last = status["lastState"]["terminated"]
    assert last["reason"] == "Error" and last["exitCode"] == 1
    described = kube("describe", "pod", name, "-n", ns)
    assert "Back-off restarting failed container app in pod" in described

    kube("set", "env", "deployment/pay", "-n", ns, "PAYMENT_MODE=live")
    ready_after_rollout(kube, ns, "pay")
    running = only_row(kube, ns, "-l", "app=pay")
    assert running is not None and running["restarts"] == "0"
    assert kube("logs", running["name"], "-n", ns).splitlines() == ["payments starting"]


def test_missing_required_variable_from_a_configmap_recovers_on_the_next_restart(kube: Kubectl, ns: str) -> None:
    kube("create", "configmap", "payments", "-n", ns, "--from-literal=PAYMENT_MODE=live")
    container = {"name": "app", "image": "python:3.12", "envFrom": [{"configMapRef": {"name": "payments"}}]}
    apply(kube, ns, pod("pay", container, PAYMENT_NEEDS))
    eventually(lambda: status_is(kube, ns, "CrashLoopBackOff"), what="crash loop")
    assert kube("logs", "pay", "-n", ns, "--previous").splitlines()[-1] == \
        "FATAL: required environment variable DB_HOST is not set"
    kube("patch", "configmap", "payments", "-n", ns, "-p", '{"data": {"DB_HOST": "postgres.data"}}')
    eventually(lambda: status_is(kube, ns, "Running", ready="1/1"), what="recovered in place")


def test_mounted_file_missing_a_required_key(kube: Kubectl, ns: str) -> None:
    kube("create", "configmap", "conf", "-n", ns, "--from-literal=config.yaml=currency: EUR\n")
    needs = {"files": [{"path": "/etc/app/config.yaml", "requiredKeys": ["gateway.url"]}]}
    container = {"name": "app", "image": "python:3.12", "volumeMounts": [{"name": "conf", "mountPath": "/etc/app"}]}
    apply(kube, ns, pod("filer", container, needs, volumes=[{"name": "conf", "configMap": {"name": "conf"}}]))
    eventually(lambda: status_is(kube, ns, "CrashLoopBackOff"), what="crash loop")
    assert kube("logs", "filer", "-n", ns, "--previous").splitlines()[-1] == \
        'FATAL: /etc/app/config.yaml: required key "gateway.url" is missing'
    kube("patch", "configmap", "conf", "-n", ns, "-p",
         json.dumps({"data": {"config.yaml": "gateway:\n  url: https://pay.example\n"}}))
    eventually(lambda: status_is(kube, ns, "Running", ready="1/1"), what="recovered")


def test_init_container_declared_on_its_own_fails_until_its_value_is_corrected(kube: Kubectl, ns: str) -> None:
    app = deployment("migrating", {"name": "app", "image": "python:3.12"}, {"logs": {"startup": ["serving"]}})
    template = app["spec"]["template"]
    template["metadata"]["annotations"][f"{CONTAINER_ANNOTATION_PREFIX}migrate"] = json.dumps(
        {"env": [{"name": "MIGRATION_MODE", "oneOf": ["apply", "verify"]}], "logs": {"startup": ["migrating"]}})
    template["spec"]["initContainers"] = [{"name": "migrate", "image": "python:3.12",
                                           "env": [{"name": "MIGRATION_MODE", "value": "aplly"}]}]
    apply(kube, ns, app)
    statuses_seen(kube, ns, {"Init:Error", "Init:CrashLoopBackOff"}, "-l", "app=migrating")
    name = only_row(kube, ns, "-l", "app=migrating")["name"]  # type: ignore[index]
    assert kube("logs", name, "-n", ns, "-c", "migrate", "--previous").splitlines() == \
        ["migrating", 'FATAL: MIGRATION_MODE="aplly" is not one of [apply verify]']
    status = pod_json(kube, ns, name)["status"]
    assert status["initContainerStatuses"][0]["lastState"]["terminated"]["exitCode"] == 1
    assert status["containerStatuses"][0]["state"]["waiting"]["reason"] == "PodInitializing"

    kube("set", "env", "deployment/migrating", "-n", ns, "-c", "migrate", "MIGRATION_MODE=apply")
    ready_after_rollout(kube, ns, "migrating")
    running = only_row(kube, ns, "-l", "app=migrating")
    assert running is not None and kube("logs", running["name"], "-n", ns, "-c", "migrate").splitlines() == ["migrating"]


def test_a_container_annotation_overrides_the_pod_wide_declaration() -> None:
    pod_meta = {"metadata": {"annotations": {
        NEEDS: yaml.safe_dump({"app": {"startupSeconds": 2}, "migrate": {"startupSeconds": 9}}),
        f"{CONTAINER_ANNOTATION_PREFIX}migrate": '{"startupSeconds": 1, "env": [{"name": "X"}]}'}}}
    assert container_needs(pod_meta, "app").startup_seconds == 2
    migrate = container_needs(pod_meta, "migrate")
    assert migrate.startup_seconds == 1 and [e.name for e in migrate.env] == ["X"]
    pod_meta["metadata"]["annotations"][f"{CONTAINER_ANNOTATION_PREFIX}migrate"] = "[unclosed"
    with pytest.raises(NeedsError, match=f"{CONTAINER_ANNOTATION_PREFIX}migrate: not valid YAML"):
        container_needs(pod_meta, "migrate")


# -- memory -------------------------------------------------------------------------------------------------
def test_working_set_above_the_limit_is_oom_killed_until_the_limit_is_raised(kube: Kubectl, ns: str) -> None:
    container = {"name": "app", "image": "redis:7", "resources": {"limits": {"memory": "128Mi"}}}
    apply(kube, ns, deployment("cache", container, {"memory": {"workingSet": "200Mi"}}))
    statuses_seen(kube, ns, {"OOMKilled", "CrashLoopBackOff"}, "-l", "app=cache")
    name = only_row(kube, ns, "-l", "app=cache")["name"]  # type: ignore[index]
    status = eventually(lambda: (s := pod_json(kube, ns, name)["status"]["containerStatuses"][0])
                        and s["lastState"] and s, what="last state")
    assert status["lastState"]["terminated"]["reason"] == "OOMKilled"
    assert status["lastState"]["terminated"]["exitCode"] == 137
    previous = kube("logs", name, "-n", ns, "--previous")
    assert "OOM" not in previous and "kill" not in previous.lower()
    described = kube("describe", "pod", name, "-n", ns)
    assert "Reason:       OOMKilled" in described and "Exit Code:    137" in described

    kube("set", "resources", "deployment/cache", "-n", ns, "--limits=memory=256Mi")
    ready_after_rollout(kube, ns, "cache")


def test_memory_growth_is_oom_killed_when_it_reaches_the_limit(kube: Kubectl, ns: str) -> None:
    container = {"name": "app", "image": "redis:7", "resources": {"limits": {"memory": "128Mi"}}}
    # 64Mi more at 640Mi/min: killed 6 simulated seconds after each start (0.12 s here)
    apply(kube, ns, pod("leak", container, {"memory": {"workingSet": "64Mi", "growthPerMinute": "640Mi"}}))
    eventually(lambda: status_is(kube, ns, "Running", ready="1/1"), what="runs first")
    status = eventually(lambda: (s := pod_json(kube, ns, "leak")["status"]["containerStatuses"][0])
                        and s["restartCount"] >= 2 and s, what="restarts")
    assert status["lastState"]["terminated"]["reason"] == "OOMKilled"


# -- probes and dependencies -------------------------------------------------------------------------------
API_NEEDS = {"listen": [{"port": 8080, "paths": {"/healthz": 200, "/ready": 200}}],
             "logs": {"startup": ["api listening on :8080"], "request": "POST /pay 200"},
             "load": {"rps": 5, "path": "/pay"}}
API_CONTAINER = {"name": "app", "image": "ghcr.io/chaositbench/api:1.0",
                 "ports": [{"name": "http", "containerPort": 8080}],
                 "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}, "periodSeconds": 5},
                 "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 5}}


def test_unreachable_dependency_makes_the_pod_unready_until_it_is_reachable(kube: Kubectl, ns: str) -> None:
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "postgres"},
               "spec": {"selector": {"app": "postgres"}, "ports": [{"port": 5432}]}}
    database_dependency = [{"name": "database", "host": "postgres", "port": 5432, "timeoutSeconds": 2}]
    apply(kube, ns, service, pod("api", API_CONTAINER, {**API_NEEDS, "dependencies": database_dependency}))
    # the database Service has no ready endpoint: kube-proxy rejects the connection
    eventually(lambda: status_is(kube, ns, "Running", ready="0/1"), what="api running but not ready")
    eventually(lambda: "Readiness probe failed: HTTP probe failed with statuscode: 503"
               in kube("describe", "pod", "api", "-n", ns), what="503 readiness failures")
    conditions = {c["type"]: c for c in pod_json(kube, ns, "api")["status"]["conditions"]}
    assert conditions["Ready"]["status"] == conditions["ContainersReady"]["status"] == "False"
    assert conditions["Ready"]["message"] == "containers with unready status: [app]"
    cluster_ip = json.loads(kube("get", "service", "postgres", "-n", ns, "-o", "json"))["spec"]["clusterIP"]
    refused = f"ERROR database postgres:5432: dial tcp {cluster_ip}:5432: connect: connection refused"
    logs = eventually(lambda: (text := kube("logs", "api", "-n", ns, "--timestamps")) and refused in text and text,
                      what="dependency errors in the log")
    assert "api listening on :8080" in logs and "POST /pay 502" in logs
    assert only_row(kube, ns, "-l", "app=api")["restarts"] == "0"  # type: ignore[index]  # liveness ignores deps

    database = pod("postgres", {"name": "db", "image": "postgres:17", "ports": [{"containerPort": 5432}]},
                   {"listen": [{"port": 5432}]})
    apply(kube, ns, database)
    eventually(lambda: status_is(kube, ns, "Running", "-l", "app=api", ready="1/1"), what="api ready again")
    eventually(lambda: "POST /pay 200" in kube("logs", "api", "-n", ns, "--tail=3"), what="requests served")

    # a policy drops the api's egress (DNS included): the lookup times out, for longer than the probe waits
    deny = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "api-egress"},
            "spec": {"podSelector": {"matchLabels": {"app": "api"}}, "policyTypes": ["Egress"]}}
    apply(kube, ns, deny)
    eventually(lambda: status_is(kube, ns, "Running", "-l", "app=api", ready="0/1"), what="api unready")
    described = eventually(lambda: (text := kube("describe", "pod", "api", "-n", ns))
                           and '/ready": context deadline exceeded' in text and text, what="probe timeout")
    assert 'Readiness probe failed: Get "http://10.244.' in described
    assert "i/o timeout" in kube("logs", "api", "-n", ns, "--tail=12")
    kube("delete", "networkpolicy", "api-egress", "-n", ns)
    eventually(lambda: status_is(kube, ns, "Running", "-l", "app=api", ready="1/1"), what="api ready at last")


def test_liveness_probe_on_a_wrong_port_restarts_the_container(kube: Kubectl, ns: str) -> None:
    wrong = {**API_CONTAINER, "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8081}, "periodSeconds": 5,
                                                "initialDelaySeconds": 2}}
    apply(kube, ns, deployment("api", wrong, {**API_NEEDS, "load": None}))
    row = eventually(lambda: (r := only_row(kube, ns, "-l", "app=api")) and r["restarts"][:1] not in ("", "0") and r,
                     what="liveness restarts")
    described = kube("describe", "pod", row["name"], "-n", ns)
    assert 'Liveness probe failed: Get "http://10.244.' in described and ":8081/healthz\": dial tcp " in described
    assert "connect: connection refused" in described
    assert "Container app failed liveness probe, will be restarted" in described
    last = pod_json(kube, ns, row["name"])["status"]["containerStatuses"][0]["lastState"]["terminated"]
    assert last["reason"] == "Error" and last["exitCode"] == 143
    kube("patch", "deployment", "api", "-n", ns, "--type=json", "-p",
         '[{"op": "replace", "path": "/spec/template/spec/containers/0/livenessProbe/httpGet/port", "value": 8080}]')
    ready_after_rollout(kube, ns, "api")
    time.sleep(0.5)  # 25 simulated seconds: several liveness periods
    assert only_row(kube, ns, "-l", "app=api")["restarts"] == "0"  # type: ignore[index]


def test_startup_probe_gates_the_other_probes(kube: Kubectl, ns: str) -> None:
    slow = {**API_CONTAINER, "startupProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 2, "failureThreshold": 30}}
    apply(kube, ns, pod("slow", slow, {**API_NEEDS, "startupSeconds": 12, "load": None}))
    eventually(lambda: status_is(kube, ns, "Running", ready="1/1"), what="slow ready")
    status = pod_json(kube, ns, "slow")["status"]["containerStatuses"][0]
    assert status["restartCount"] == 0 and status["started"] is True
    described = kube("describe", "pod", "slow", "-n", ns)
    assert "Startup probe failed: dial tcp 10.244." in described and ":8080: connect: connection refused" in described
    assert "Liveness probe failed" not in described


def test_startup_probe_failure_restarts(kube: Kubectl, ns: str) -> None:
    never = {**API_CONTAINER, "startupProbe": {"httpGet": {"path": "/missing", "port": 8080}, "periodSeconds": 1,
                                               "failureThreshold": 2}}
    apply(kube, ns, pod("never", never, {**API_NEEDS, "load": None}))
    eventually(lambda: (r := only_row(kube, ns)) and r["restarts"][:1] not in ("", "0"), what="restart")
    described = kube("describe", "pod", "never", "-n", ns)
    assert "Startup probe failed: HTTP probe failed with statuscode: 404" in described
    assert "Container app failed startup probe, will be restarted" in described


def test_exec_probe_reading_a_missing_file(kube: Kubectl, ns: str) -> None:
    needs = {"files": [{"path": "/etc/app/token"}]}
    probe = {"exec": {"command": ["cat", "/etc/app/token"]}, "periodSeconds": 5}
    ctx_pod = pod("ex", {"name": "app", "image": "busybox:1.36", "readinessProbe": probe}, needs)
    runtime = BehaviourRuntime(cluster=object(), registry=Registry.load())
    ctx = ContainerContext(pod=ctx_pod, container=ctx_pod["spec"]["containers"][0], init=False, restart_count=0,
                           node="n", files={}, pod_ip="10.244.1.9", elapsed=5)
    result = runtime.probe(ctx, "readiness", probe)
    assert not result.success and result.output == "cat: can't open '/etc/app/token': No such file or directory"
    mounted = ContainerContext(pod=ctx_pod, container=ctx.container, init=False, restart_count=0, node="n",
                               files={"/etc/app/token": "x"}, pod_ip="10.244.1.9", elapsed=5)
    assert runtime.probe(mounted, "readiness", probe).success


def test_pods_without_needs_keep_the_default_behaviour(kube: Kubectl, ns: str) -> None:
    probe = {"httpGet": {"path": "/", "port": 80}, "periodSeconds": 5}
    apply(kube, ns, pod("plain", {"name": "web", "image": "nginx:1.27", "readinessProbe": probe,
                                  "livenessProbe": probe}))
    eventually(lambda: status_is(kube, ns, "Running", ready="1/1"), what="plain ready")
    assert kube("logs", "plain", "-n", ns).startswith("Starting web (nginx:1.27)")


# -- the pieces, directly ---------------------------------------------------------------------------------
def test_container_config_resolves_env_and_files_as_the_kubelet_does() -> None:
    cluster = MiniCluster([])
    api = cluster.api
    api.create(CONFIGMAPS, "default", {"metadata": {"name": "cm"}, "data": {"A": "1", "B": "2", "app.yaml": "k: v"}})
    api.create(SECRETS, "default", {"metadata": {"name": "sec"},
                                    "data": {"password": base64.b64encode(b"s3cret").decode()}})
    body = {"metadata": {"name": "p", "namespace": "default", "uid": "u1", "labels": {"tier": "web"}},
            "spec": {"nodeName": "node-1", "volumes": [
                {"name": "c", "configMap": {"name": "cm", "items": [{"key": "app.yaml", "path": "conf/app.yaml"}]}},
                {"name": "s", "secret": {"secretName": "sec"}},
                {"name": "gone", "configMap": {"name": "absent", "optional": True}}]},
            "status": {"podIP": "10.244.1.4"}}
    container = {"name": "app", "envFrom": [{"configMapRef": {"name": "cm"}, "prefix": "CM_"}],
                 "env": [{"name": "A", "value": "x"}, {"name": "URL", "value": "http://$(A):$(CM_B)/$$(A)"},
                         {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "password"}}},
                         {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                         {"name": "TIER", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['tier']"}}},
                         {"name": "OPT", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "k",
                                                                           "optional": True}}}],
                 "resources": {"limits": {"memory": "64Mi"}},
                 "volumeMounts": [{"name": "c", "mountPath": "/etc/app"},
                                  {"name": "s", "mountPath": "/run/pw", "subPath": "password"},
                                  {"name": "gone", "mountPath": "/opt"}]}
    config = container_config(api, body, container)
    assert config.env == {"CM_A": "1", "CM_B": "2", "CM_app.yaml": "k: v", "A": "x", "URL": "http://x:2/$(A)",
                          "PW": "s3cret", "IP": "10.244.1.4", "TIER": "web"}
    assert config.files == {"/etc/app/conf/app.yaml": "k: v", "/run/pw": "s3cret"}
    for env, message in ((
            [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "user"}}}],
            "couldn't find key user in Secret default/sec"),
            ([{"name": "X", "valueFrom": {"secretKeyRef": {"name": "other", "key": "user"}}}],
             'secret "other" not found')):
        with pytest.raises(ConfigError, match=message):
            container_config(api, body, {"name": "app", "env": env})
    with pytest.raises(ConfigError, match='configmap "missing" not found'):
        container_config(api, body, {"name": "app", "envFrom": [{"configMapRef": {"name": "missing"}}]})


def test_config_violations_name_the_variable_file_or_key() -> None:
    needs = container_needs({"metadata": {"annotations": {NEEDS: yaml.safe_dump({"app": {
        "env": [{"name": "PORT", "pattern": "[0-9]+"}, {"name": "OPTIONAL", "required": False}],
        "files": [{"path": "/etc/x.properties", "requiredKeys": ["url"]}]}})}}}, "app")
    files = {"/etc/x.properties": "# comment\nurl=http://x\n"}
    assert config_violation(needs, {"PORT": "80"}, files) is None
    assert config_violation(needs, {"PORT": "eighty"}, files) == 'FATAL: PORT="eighty" does not match pattern [0-9]+'
    assert config_violation(needs, {}, files) == "FATAL: required environment variable PORT is not set"
    assert config_violation(needs, {"PORT": "80"}, {}) == "FATAL: open /etc/x.properties: no such file or directory"
    assert config_violation(needs, {"PORT": "80"}, {"/etc/x.properties": "user=a"}) == \
        'FATAL: /etc/x.properties: required key "url" is missing'


def test_probe_thresholds() -> None:
    state = ProbeState(spec={"failureThreshold": 2, "successThreshold": 2}, due=0)
    assert state.result is None
    assert not state.record(False) and state.result is None
    assert state.record(False) and state.result is False
    assert not state.record(True) and state.result is False
    assert state.record(True) and state.result is True
    assert not state.record(False) and state.result is True


def test_fixing_the_image_of_a_bare_pod_pulls_the_new_one(kube: Kubectl, ns: str) -> None:
    apply(kube, ns, pod("bare", {"name": "app", "image": "busybox:1.377", "command": ["sleep", "3600"]}))
    eventually(lambda: status_is(kube, ns, "ImagePullBackOff"), what="back-off")
    kube("set", "image", "pod/bare", "app=busybox:1.37", "-n", ns)
    eventually(lambda: status_is(kube, ns, "Running", ready="1/1"), what="running with the fixed image")
    status = pod_json(kube, ns, "bare")["status"]["containerStatuses"][0]
    assert status["image"] == "docker.io/library/busybox:1.37" and status["restartCount"] == 0
    kube("set", "image", "pod/bare", "app=busybox:1.36", "-n", ns)
    eventually(lambda: "Container app definition changed, will be restarted" in kube("describe", "pod", "bare",
                                                                                      "-n", ns), what="restart")
    eventually(lambda: (s := pod_json(kube, ns, "bare")["status"]["containerStatuses"][0])
               and s["image"] == "docker.io/library/busybox:1.36" and s["ready"] and s["restartCount"] == 1,
               what="running the new image")
