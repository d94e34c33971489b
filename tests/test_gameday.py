"""The game-day runner: the in-cluster target and the runner chart, checked against a simulated cluster.

The runner pod is imitated by pointing ``CHAOSITBENCH_SERVICEACCOUNT_DIR`` and
``KUBERNETES_SERVICE_HOST/PORT`` at a simulated cluster (HTTPS, RBAC enforced) with a token of
the chart's ServiceAccount; the chart is rendered with real Helm and applied with the real
kubectl; what the runner may do is asked with ``kubectl auth can-i --as`` and then done as it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import helm_python
import pytest
import yaml
from chaoslib.exceptions import ActivityFailed
from kubernetes import client

from chaositbench import faults
from chaositbench.agent.sandbox import (CLUSTER_RULES, NAMESPACED_RULES, Provisioned, create_sandbox,
                                        provisioned_from_env, teardown_sandbox)
from chaositbench.apps import AppError, render_chart
from chaositbench.incluster import SERVICEACCOUNT_DIR_ENV
from chaositbench.sim.prometheus import PrometheusServer
from chaositbench.sim.server import SimServer
from chaositbench.target import IN_CLUSTER, connect
from conftest import Kubectl
from polling import eventually

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "helm" / "chaositbench-gameday"
RELEASE, RELEASE_NAMESPACE = "drill", "chaositbench"
RUNNER = f"{RELEASE}-chaositbench-gameday"
RUNNER_USER = f"system:serviceaccount:{RELEASE_NAMESPACE}:{RUNNER}"
AGENTS_NAMESPACE = "chaositbench-agents"
APP_NAMESPACES = ("shop", "payments", "data")


def _render(values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return render_chart(CHART, values, release=RELEASE, namespace=RELEASE_NAMESPACE)


def _of(manifests: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [obj for obj in manifests if obj["kind"] == kind]


def _named(manifests: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [obj for obj in _of(manifests, kind) if obj["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, rendered {len(found)}"
    return found[0]


# -- the chart, rendered --------------------------------------------------------------------------

def test_chart_lints_clean() -> None:
    report = helm_python.lint(str(CHART), strict=True)
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


def test_cronjob_runs_the_scenarios_with_a_deadline_from_their_slas() -> None:
    manifests = _render({"scenarios": ["netpol", "oomkilled"], "marginSeconds": 100, "schedule": "0 3 * * 1",
                         "suspend": True})
    cronjob = _named(manifests, "CronJob", RUNNER)
    spec = cronjob["spec"]
    assert (spec["schedule"], spec["suspend"], spec["concurrencyPolicy"]) == ("0 3 * * 1", True, "Forbid")
    job = spec["jobTemplate"]["spec"]
    assert job["activeDeadlineSeconds"] == (600 + 100) + (300 + 100)
    pod = job["template"]["spec"]
    assert pod["serviceAccountName"] == RUNNER and pod["restartPolicy"] == "Never"
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    assert env["CHAOSITBENCH_CLUSTER"]["value"] == IN_CLUSTER
    assert env["DRILL_SCENARIOS"]["value"].split("\n") == ["netpol", "oomkilled"]
    assert env["CHAOSITBENCH_AGENT_CLUSTERROLE"]["value"] == f"{RUNNER}-agent-sre"
    assert "OPENAI_API_KEY" not in env and "CHAOSITBENCH_PROMETHEUS_URL" not in env
    assert pod["volumes"][1] == {"name": "results", "emptyDir": {}}


def test_openai_agent_key_comes_from_a_secret_and_results_from_a_claim() -> None:
    manifests = _render({"agent": {"name": "openai:gpt-4o-mini", "openai": {
        "baseUrl": "http://llm.internal/v1", "apiKeySecret": {"name": "llm", "key": "token"}}},
        "prometheus": {"url": "http://prometheus.monitoring:9090"},
        "results": {"persistence": {"enabled": True, "size": "2Gi"}},
        "mode": "bench", "bench": {"repeat": 2, "extraAgents": ["noop"]}})
    pod = _named(manifests, "CronJob", RUNNER)["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    assert env["OPENAI_API_KEY"]["valueFrom"] == {"secretKeyRef": {"name": "llm", "key": "token"}}
    assert env["OPENAI_BASE_URL"]["value"] == "http://llm.internal/v1"
    assert env["CHAOSITBENCH_PROMETHEUS_URL"]["value"] == "http://prometheus.monitoring:9090"
    assert env["DRILL_AGENTS"]["value"].split("\n") == ["openai:gpt-4o-mini", "noop"]
    assert _named(manifests, "CronJob", RUNNER)["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"] == \
        (600 + 900) * 2 * 2
    claim = _named(manifests, "PersistentVolumeClaim", f"{RUNNER}-results")
    assert claim["spec"]["resources"]["requests"]["storage"] == "2Gi"
    assert pod["volumes"][1]["persistentVolumeClaim"] == {"claimName": f"{RUNNER}-results"}


@pytest.mark.parametrize(("values", "reason"), [
    ({"scenarios": ["no-such-scenario"]}, 'scenario "no-such-scenario" has no entry in slaSeconds'),
    ({"mode": "forever"}, "/mode"),
    ({"namespaces": ["Not_A_Namespace"]}, "/namespaces/0"),
    ({"agentIdentity": {"namespace": RELEASE_NAMESPACE}}, "must differ from the release namespace"),
])
def test_bad_values_fail_rendering_with_the_reason(values: dict[str, Any], reason: str) -> None:
    with pytest.raises(AppError, match=reason):
        _render(values)


def test_node_rights_only_when_node_faults_are_enabled() -> None:
    assert not [obj for obj in _of(_render(), "ClusterRole") if obj["metadata"]["name"] == f"{RUNNER}-nodes"]
    role = _named(_render({"nodeFaults": {"enabled": True}}), "ClusterRole", f"{RUNNER}-nodes")
    assert {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch", "patch"]} in role["rules"]


def _rule_set(rules: list[dict[str, Any]]) -> set[tuple[tuple[str, ...], ...]]:
    return {(tuple(r["apiGroups"]), tuple(r["resources"]), tuple(r["verbs"])) for r in rules}


def test_agent_roles_are_the_sandbox_tables() -> None:
    manifests = _render()
    for name, table in ((f"{RUNNER}-agent-sre", NAMESPACED_RULES), (f"{RUNNER}-agent-cluster", CLUSTER_RULES)):
        expected = {(tuple(groups), tuple(resources), tuple(verbs)) for groups, resources, verbs, _ in table}
        assert _rule_set(_named(manifests, "ClusterRole", name)["rules"]) == expected


def test_sla_table_matches_the_fault_catalog() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    catalog = {path.stem: yaml.safe_load(path.read_text())["sla_seconds"] for path in (ROOT / "actions").glob("*.yaml")}
    assert values["slaSeconds"] == catalog
    assert set(values["scenarios"]) <= {path.stem for path in (ROOT / "experiments").glob("*.json")}


# -- the chart, installed on a simulated cluster --------------------------------------------------

def _stream(manifests: list[dict[str, Any]]) -> str:
    return "---\n".join(yaml.safe_dump(obj) for obj in manifests)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SimServer, Kubectl]]:
    """A simulated cluster with the demo app, the release namespace and the runner chart applied by kubectl."""
    server = SimServer(time_scale=0.2, app="demo").start()
    try:
        kubectl = Kubectl(server.write_kubeconfig(tmp_path_factory.mktemp("gameday") / "config"),
                          tmp_path_factory.mktemp("gamedaycache"))
        kubectl("create", "namespace", RELEASE_NAMESPACE)
        manifests = _render({"nodeFaults": {"enabled": True}})
        # namespaces first, as helm install does; then a server-side dry run of everything, then the real apply
        kubectl("apply", "--server-side", "-f", "-", input=_stream(_of(manifests, "Namespace")))
        kubectl("apply", "--server-side", "--dry-run=server", "-f", "-", input=_stream(manifests))
        kubectl("apply", "--server-side", "-f", "-", input=_stream(manifests))
        yield server, kubectl
    finally:
        server.stop()


def _can(kubectl: Kubectl, verb: str, resource: str, namespace: str | None = None, subresource: str | None = None,
         user: str = RUNNER_USER) -> bool:
    """``kubectl auth can-i`` as ``user`` (``resource`` may be ``type/name``; subresources go apart)."""
    args = ["auth", "can-i", verb, resource, f"--as={user}"]
    if namespace:
        args += ["-n", namespace]
    if subresource:
        args.append(f"--subresource={subresource}")
    answer = kubectl.run(*args, check=False)
    assert answer.returncode in (0, 1), answer.stderr
    return answer.stdout.strip() == "yes"


#: what the fault engine, the control's snapshots and restore_cluster do in each app namespace
RUNNER_NEEDS = [("get", "pods"), ("list", "pods"), ("list", "secrets"), ("list", "deployments.apps"),
                ("patch", "networkpolicies.networking.k8s.io"), ("update", "networkpolicies.networking.k8s.io"),
                ("create", "networkpolicies.networking.k8s.io"), ("delete", "networkpolicies.networking.k8s.io"),
                ("patch", "deployments.apps"), ("patch", "configmaps"),
                ("create", "secrets"), ("create", "pods"), ("delete", "pods"), ("create", "jobs.batch"), ("create", "rolebindings.rbac.authorization.k8s.io"),
                ("delete", "rolebindings.rbac.authorization.k8s.io"), ("list", "poddisruptionbudgets.policy")]


@pytest.mark.parametrize("namespace", APP_NAMESPACES)
def test_runner_may_do_what_a_scenario_does_in_the_allowed_namespaces(cluster: tuple[SimServer, Kubectl],
                                                                      namespace: str) -> None:
    _, kubectl = cluster
    refused = [f"{verb} {resource}" for verb, resource in RUNNER_NEEDS if not _can(kubectl, verb, resource, namespace)]
    assert refused == []
    assert _can(kubectl, "update", "deployments.apps", namespace, subresource="scale")
    assert _can(kubectl, "bind", f"clusterroles/{RUNNER}-agent-sre", namespace)
    assert not _can(kubectl, "bind", "clusterroles/cluster-admin", namespace)


def test_runner_may_write_nothing_else(cluster: tuple[SimServer, Kubectl]) -> None:
    _, kubectl = cluster
    for namespace in ("default", "kube-system", RELEASE_NAMESPACE):
        assert not _can(kubectl, "patch", "deployments.apps", namespace)
        assert not _can(kubectl, "list", "secrets", namespace)
    for verb, resource in (("create", "namespaces"), ("delete", "namespaces"), ("create", "clusterroles"),
                           ("create", "clusterrolebindings"), ("escalate", "clusterroles")):
        assert not _can(kubectl, verb, resource), f"runner may {verb} {resource}"
    assert _can(kubectl, "create", "serviceaccounts", AGENTS_NAMESPACE)
    assert _can(kubectl, "create", "serviceaccounts", AGENTS_NAMESPACE, subresource="token")
    assert not _can(kubectl, "create", "serviceaccounts", "payments", subresource="token")  # no app account tokens
    assert not _can(kubectl, "create", "pods", "payments", subresource="exec")
    assert _can(kubectl, "patch", "nodes") and _can(kubectl, "patch", "nodes", subresource="status")  # nodeFaults


@pytest.fixture
def runner_pod(cluster: tuple[SimServer, Kubectl], tmp_path: Path,
               monkeypatch: pytest.MonkeyPatch) -> Path:
    """This process as the runner's pod: its ServiceAccount directory and API server environment."""
    server, kubectl = cluster
    directory = tmp_path / "serviceaccount"
    directory.mkdir()
    (directory / "token").write_text(kubectl("create", "token", RUNNER, "-n", RELEASE_NAMESPACE).strip())
    (directory / "ca.crt").write_bytes(server.certificates.ca_pem)
    (directory / "namespace").write_text(RELEASE_NAMESPACE)
    for name, value in ((SERVICEACCOUNT_DIR_ENV, str(directory)), ("KUBERNETES_SERVICE_HOST", server.host),
                        ("KUBERNETES_SERVICE_PORT", str(server.port)), ("CHAOSITBENCH_CLUSTER", IN_CLUSTER)):
        monkeypatch.setenv(name, value)
    return directory


def test_in_cluster_target_is_the_pods_serviceaccount(runner_pod: Path, tmp_path: Path) -> None:
    target = connect(None, tmp_path / "run")
    assert target.kind == IN_CLUSTER and target.context == IN_CLUSTER
    kubeconfig = yaml.safe_load(target.kubeconfig.read_text())
    assert kubeconfig["users"][0]["user"] == {"tokenFile": str(runner_pod / "token")}  # rotated tokens are read
    with target.api_client() as api:
        review = client.AuthenticationV1Api(api).create_self_subject_review({"apiVersion": "authentication.k8s.io/v1",
                                                                            "kind": "SelfSubjectReview"})
    assert review.status.user_info.username == RUNNER_USER
    recorded = json.loads((tmp_path / "run" / "target.json").read_text())
    assert recorded["kind"] == IN_CLUSTER and connect(None, tmp_path / "run") == target


def test_in_cluster_outside_a_pod_says_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CHAOSITBENCH_CLUSTER", IN_CLUSTER)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(ActivityFailed, match="does not run in a pod"):
        connect(None, tmp_path)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    monkeypatch.setenv(SERVICEACCOUNT_DIR_ENV, str(tmp_path))
    with pytest.raises(ActivityFailed, match="missing token, ca.crt.*automountServiceAccountToken"):
        connect(None, tmp_path)


def test_pre_provisioned_identity_needs_both_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHAOSITBENCH_AGENT_CLUSTERROLE", raising=False)
    monkeypatch.delenv("CHAOSITBENCH_AGENT_NAMESPACE", raising=False)
    assert provisioned_from_env() is None
    monkeypatch.setenv("CHAOSITBENCH_AGENT_NAMESPACE", AGENTS_NAMESPACE)
    with pytest.raises(ActivityFailed, match="set both CHAOSITBENCH_AGENT_NAMESPACE and CHAOSITBENCH_AGENT_CLUSTERROLE"):
        provisioned_from_env()


def test_runner_creates_and_removes_the_agent_sandbox(runner_pod: Path, cluster: tuple[SimServer, Kubectl],
                                                      tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, kubectl = cluster
    monkeypatch.setenv("CHAOSITBENCH_AGENT_NAMESPACE", AGENTS_NAMESPACE)
    monkeypatch.setenv("CHAOSITBENCH_AGENT_CLUSTERROLE", f"{RUNNER}-agent-sre")
    provisioned = provisioned_from_env()
    assert provisioned == Provisioned(AGENTS_NAMESPACE, f"{RUNNER}-agent-sre")
    target = connect(None, tmp_path / "run")
    sandbox = create_sandbox(target.kubeconfig, ["shop", "payments"], tmp_path / "agent.kubeconfig",
                             context=target.context, provisioned=provisioned)
    agent = Kubectl(sandbox.kubeconfig, tmp_path / "agentcache")
    try:
        assert agent("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}") == sandbox.username
        assert agent.run("auth", "can-i", "patch", "networkpolicies.networking.k8s.io", "-n", "payments",
                         check=False).stdout.strip() == "yes"
        assert agent.run("auth", "can-i", "patch", "networkpolicies.networking.k8s.io", "-n", "data",
                         check=False).stdout.strip() == "no"
        assert agent("get", "nodes", "-o", "name")  # the cluster rules, through the agents' group
    finally:
        teardown_sandbox(target.kubeconfig, sandbox)
    assert kubectl.run("get", "serviceaccount", sandbox.service_account, "-n", AGENTS_NAMESPACE,
                       check=False).returncode == 1
    assert kubectl("get", "rolebindings", "-A", "-l", f"chaositbench.io/sandbox={sandbox.id}", "-o", "name") == ""


@pytest.mark.parametrize(("fault", "watched", "namespace"), [
    ("netpol", "networkpolicy/payment-ingress", "payments"),        # patches a policy
    ("oomkilled-distractor", "pod/cart-loadtest", "shop"),          # adds a bare pod
])
def test_runner_injects_and_removes_a_fault(runner_pod: Path, cluster: tuple[SimServer, Kubectl], tmp_path: Path,
                                            fault: str, watched: str, namespace: str) -> None:
    _, kubectl = cluster
    configuration = {"chaositbench_run_dir": str(tmp_path / "run")}

    def spec() -> str:
        return kubectl("get", watched, "-n", namespace, "--ignore-not-found", "-o", "jsonpath={.spec}")

    before = spec()
    injection = faults.inject(fault, configuration)
    try:
        assert namespace in injection["namespaces"]
        assert spec() != before
    finally:
        faults.restore(configuration)  # remove_fault, then every declared object back as before
    eventually(lambda: spec() == before, f"{watched} back as before the fault")


@pytest.fixture(scope="module")
def prometheus(cluster: tuple[SimServer, Kubectl]) -> Iterator[PrometheusServer]:
    """A real Prometheus scraping the simulated cluster (the one the chart's prometheus.url names)."""
    scraper = PrometheusServer.for_sim(cluster[0]).start()
    yield scraper
    scraper.stop()


def _start_drill(values: dict[str, Any], tmp_path: Path, prometheus_url: str) -> subprocess.Popen[str]:
    """The CronJob's script with the CronJob's environment (paths made local), as the runner's pod would start it."""
    manifests = _render({**values, "prometheus": {"url": prometheus_url}, "settleSeconds": 30})
    script = tmp_path / "drill.py"
    script.write_text(_named(manifests, "ConfigMap", RUNNER)["data"]["drill.py"])
    container = _named(manifests, "CronJob", RUNNER)["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["python", "/etc/chaositbench/drill.py"]
    env = {**os.environ, **{e["name"]: e["value"] for e in container["env"]},
           "DRILL_EXPERIMENTS": str(ROOT / "experiments"), "DRILL_RESULTS": str(tmp_path / "results"),
           "HOME": str(tmp_path), "PYTHONPATH": str(ROOT),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', os.defpath)}"}
    return subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=tmp_path)


def _agent_accounts(kubectl: Kubectl) -> str:
    return kubectl("get", "serviceaccounts", "-n", AGENTS_NAMESPACE, "-l", "chaositbench.io/sandbox", "-o", "name")


def test_a_drill_runs_the_chart_script_in_cluster_and_scores(runner_pod: Path, cluster: tuple[SimServer, Kubectl],
                                                             prometheus: PrometheusServer, tmp_path: Path) -> None:
    _, kubectl = cluster
    drill = _start_drill({"scenarios": ["netpol"]}, tmp_path, prometheus.url)
    stdout, stderr = drill.communicate(timeout=600)
    assert drill.returncode == 0, stdout[-3000:] + stderr[-3000:]
    (score_path,) = (tmp_path / "results").glob("*/netpol/score.json")
    score = json.loads(score_path.read_text())
    assert score["scenario"] == "netpol" and score["agent"] == "reference"
    assert score["valid"] is True and score["resolved"] is True, score  # the agent fixed it with its sandbox
    assert "== score of netpol:" in stdout, stdout
    assert _agent_accounts(kubectl) == ""  # the per-run agent identity is gone


def test_a_terminated_drill_rolls_back_and_starts_nothing_more(runner_pod: Path, cluster: tuple[SimServer, Kubectl],
                                                               prometheus: PrometheusServer, tmp_path: Path) -> None:
    """SIGTERM (the job's deadline) during the hand-over: the fault is rolled back, the next scenario not started."""
    _, kubectl = cluster
    policy = ("get", "networkpolicy", "payment-ingress", "-n", "payments", "-o", "jsonpath={.spec}")
    before = kubectl(*policy)
    drill = _start_drill({"scenarios": ["netpol", "oomkilled"], "agent": {"name": "command:sleep 600"}}, tmp_path,
                         prometheus.url)
    try:
        eventually(lambda: drill.poll() is not None or _agent_accounts(kubectl), "the hand-over to the agent",
                   timeout=300, interval=0.5)
        assert drill.poll() is None, drill.communicate()
        assert kubectl(*policy) != before  # the fault is in place
        drill.send_signal(signal.SIGTERM)
        stdout, stderr = drill.communicate(timeout=300)
    finally:
        if drill.poll() is None:
            drill.kill()
    assert drill.returncode == 1 and "oomkilled: not started (the drill was stopped)" in stderr, stdout + stderr
    assert kubectl(*policy) == before
    assert _agent_accounts(kubectl) == ""
