"""The agent controller against a live simulated cluster: sandbox scoping, trajectory, deadlines, agents."""

from __future__ import annotations

import json
import os
import signal
import sys
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import parse_qs, urlparse

import pytest
from chaoslib.activity import run_activity
from chaoslib.exceptions import ActivityFailed

from chaositbench import discover
from chaositbench.cli import main as cli_main
from chaositbench.agent.actions import hand_over
from chaositbench.agent.controller import AGENT_TIMEOUT_ENV, KILL_GRACE_S, agent_timeout, run_process
from chaositbench.agent.protocol import InvalidDiagnosis, validate_diagnosis
from chaositbench.agent.sandbox import create_sandbox, teardown_sandbox
from chaositbench.agent.tools import Tools
from chaositbench.agent.trajectory import Trajectory, classify_kubectl
from chaositbench.faults import RECORD_FILE

from conftest import Kubectl


@pytest.fixture(scope="module")
def shop(kubectl: Kubectl) -> str:
    """Namespace ``agent-shop`` with two Deployments, and a neighbour namespace ``agent-other``."""
    for namespace in ("agent-shop", "agent-other"):
        kubectl("create", "namespace", namespace)
    for name in ("web", "api"):
        kubectl("-n", "agent-shop", "create", "deployment", name, "--image=nginx:1.27")
    kubectl("-n", "agent-other", "create", "configmap", "settings", "--from-literal=a=b")
    return "agent-shop"


def run(kubeconfig: Path, tmp_path: Path, agent: str | None, timeout_s: float = 30,
        configuration: dict[str, Any] | None = None) -> dict[str, Any]:
    return hand_over("web returns 502 since 10:42", sla_s=300, namespaces=["agent-shop"],
                     prometheus_url="http://127.0.0.1:1", agent=agent, timeout_s=timeout_s,
                     kubeconfig=str(kubeconfig),
                     configuration={"chaositbench_run_dir": str(tmp_path), **(configuration or {})})


def script(tmp_path: Path, body: str) -> str:
    path = tmp_path / "agent.py"
    path.write_text(textwrap.dedent(body))
    return f"command:{sys.executable} {path}"


def test_sandbox_is_refused_outside_its_namespaces(kubectl: Kubectl, kubeconfig: Path, shop: str,
                                                   tmp_path: Path) -> None:
    sandbox = create_sandbox(kubeconfig, [shop], tmp_path / "agent.kubeconfig")
    agent = Kubectl(sandbox.kubeconfig, kubectl.cache_dir)
    try:
        assert "web" in agent("-n", shop, "get", "deployments")
        assert agent("get", "nodes")
        assert agent.run("auth", "can-i", "patch", "deployments", "-n", shop).stdout.strip() == "yes"
        denied = agent.run("-n", "agent-other", "get", "configmaps", check=False)
        assert denied.returncode == 1
        assert denied.stderr.strip() == (
            f'Error from server (Forbidden): configmaps is forbidden: User "{sandbox.username}" cannot list '
            'resource "configmaps" in API group "" in the namespace "agent-other"')
        secret = agent.run("-n", "kube-system", "get", "secrets", check=False)
        assert "Forbidden" in secret.stderr
        create = agent.run("-n", shop, "create", "deployment", "extra", "--image=nginx", check=False)
        assert 'cannot create resource "deployments"' in create.stderr
    finally:
        teardown_sandbox(kubeconfig, sandbox)
    assert not sandbox.kubeconfig.exists()
    assert kubectl("get", "clusterroles,clusterrolebindings", "-A", "-l", "chaositbench.io/sandbox",
                   "-o", "name") == ""
    assert kubectl("-n", shop, "get", "rolebindings", "-o", "name") == ""
    assert "chaositbench-agent" not in kubectl("get", "namespaces", "-o", "name")


def test_a_sandbox_the_cluster_refuses_is_a_clear_error_and_leaves_nothing(kubectl: Kubectl, kubeconfig: Path,
                                                                          tmp_path: Path) -> None:
    with pytest.raises(ActivityFailed, match="cannot create the agent sandbox: 404"):
        hand_over("x", sla_s=60, namespaces=["no-such-namespace"], agent="noop", kubeconfig=str(kubeconfig),
                  configuration={"chaositbench_run_dir": str(tmp_path)})
    assert kubectl("get", "clusterroles,clusterrolebindings", "-l", "chaositbench.io/sandbox", "-o", "name") == ""
    assert "chaositbench-agent" not in kubectl("get", "namespaces", "-o", "name")


def test_command_agent_is_recorded_and_its_diagnosis_parsed(kubeconfig: Path, shop: str, tmp_path: Path) -> None:
    agent = script(tmp_path, """
        import json, os, subprocess
        incident = json.load(open(os.environ["CHAOSITBENCH_INCIDENT"]))
        ns = incident["namespaces"][0]
        subprocess.run(["kubectl", "get", "pods", "-n", ns], check=True)
        subprocess.run(["kubectl", "describe", "deployment/web", "-n", ns], check=True)
        with open(os.environ["CHAOSITBENCH_DIAGNOSIS"], "w") as f:
            json.dump({"root_cause": {"category": "config-env", "kind": "Deployment", "namespace": ns,
                                      "name": "web"}, "summary": incident["complaint"]}, f)
    """)
    result = run(kubeconfig, tmp_path, agent)
    assert result["outcome"] == "submitted", result["stderr_tail"]
    assert result["diagnosis"] == {"root_cause": {"category": "config-env", "kind": "Deployment",
                                                  "namespace": "agent-shop", "name": "web"},
                                   "summary": "web returns 502 since 10:42", "escalate": False}
    assert result["commands"] == 2 and result["mutating_commands"] == 0 and result["exit_code"] == 0
    get, describe = Trajectory(result["trajectory"]).read()
    assert get["argv"] == ["get", "pods", "-n", "agent-shop"] and get["exit_code"] == 0
    assert get["effect"] == "read" and get["kinds"] == ["pods"] and get["namespaces"] == ["agent-shop"]
    assert "web-" in get["stdout"] and get["duration_s"] >= 0 and get["start"] <= get["end"]
    assert describe["verb"] == "describe" and describe["objects"] == [{"kind": "deployments", "name": "web"}]
    assert "Name:" in describe["stdout"]
    incident = json.loads((Path(result["run_dir"]) / "incident.json").read_text())
    assert incident["namespaces"] == ["agent-shop"] and incident["sla_s"] == 300
    assert incident["deadline"] == result["deadline"]
    assert not (Path(result["run_dir"]) / "kubeconfig").exists()


def test_the_agent_does_not_inherit_the_operators_settings(kubeconfig: Path, shop: str, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither the admin kubeconfig nor the run directory (with the fault record) is named in the agent's environment."""
    monkeypatch.setenv("CHAOSITBENCH_KUBECONFIG", str(kubeconfig))
    monkeypatch.setenv("CHAOSITBENCH_RUN_DIR", str(tmp_path))
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.setenv("CHAOSITBENCH_OPENAI_MAX_STEPS", "7")  # a built-in agent's own setting passes through
    seen = tmp_path / "env.json"
    result = run(kubeconfig, tmp_path, script(tmp_path, f"""
        import json, os
        json.dump(dict(os.environ), open({str(seen)!r}, "w"))
    """))
    assert result["exit_code"] == 0, result["stderr_tail"]
    env = json.loads(seen.read_text())
    assert "CHAOSITBENCH_KUBECONFIG" not in env and "CHAOSITBENCH_RUN_DIR" not in env
    assert env["KUBECONFIG"] != str(kubeconfig) and Path(env["CHAOSITBENCH_INCIDENT"]).exists()
    assert env["CHAOSITBENCH_OPENAI_MAX_STEPS"] == "7"


def alive(pid: int, within_s: float = 2.0) -> bool:
    """Whether ``pid`` still runs after ``within_s`` (SIGKILL is delivered asynchronously; a zombie is dead)."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
        except FileNotFoundError:
            return False
        if state in ("Z", "X"):
            return False
        if time.monotonic() > deadline:
            return True
        time.sleep(0.05)


def test_hanging_agent_is_killed_at_the_deadline(kubeconfig: Path, shop: str, tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    agent = f"command:kubectl get pods -n agent-shop; sleep 300 & echo $! > {pid_file}; wait"
    began = time.monotonic()
    result = run(kubeconfig, tmp_path, agent, timeout_s=3)
    assert result["outcome"] == "timeout" and result["diagnosis"] is None
    assert result["elapsed_s"] < 3 + KILL_GRACE_S + 1
    assert time.monotonic() - began < 15
    assert not alive(int(pid_file.read_text()))
    get, = Trajectory(result["trajectory"]).read()
    assert get["argv"][:2] == ["get", "pods"] and get["exit_code"] == 0


def test_the_deadline_is_the_argument_else_the_environment_else_the_sla(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(AGENT_TIMEOUT_ENV, raising=False)
    assert agent_timeout(None, 300.0) == 300.0
    monkeypatch.setenv(AGENT_TIMEOUT_ENV, "12.5")
    assert agent_timeout(None, 300.0) == 12.5 and agent_timeout(4, 300.0) == 4.0
    for wrong in ("soon", "0", "-3"):
        monkeypatch.setenv(AGENT_TIMEOUT_ENV, wrong)
        with pytest.raises(ActivityFailed, match=f"CHAOSITBENCH_AGENT_TIMEOUT_S='{wrong}' is not a positive number"):
            agent_timeout(None, 300.0)


def test_an_interrupted_hand_over_leaves_no_agent_process(tmp_path: Path) -> None:
    class Interrupted(Exception):
        pass

    def interrupt(*_: object) -> None:
        if pid_file.exists() and pid_file.read_text().strip():
            raise Interrupted
        signal.setitimer(signal.ITIMER_REAL, 0.1)
    pid_file = tmp_path / "child.pid"
    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.5)
    try:
        with pytest.raises(Interrupted):
            run_process(["/bin/sh", "-c", f"sleep 300 & echo $! > {pid_file}; wait"], dict(os.environ), tmp_path,
                        60, tmp_path / "out", tmp_path / "err")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert not alive(int(pid_file.read_text()))


def test_crashing_agent_is_recorded(kubeconfig: Path, shop: str, tmp_path: Path) -> None:
    agent = script(tmp_path, """
        import sys
        sys.stderr.write("Traceback: model overloaded\\n")
        sys.exit(3)
    """)
    result = run(kubeconfig, tmp_path, agent)
    assert result["outcome"] == "crashed" and result["exit_code"] == 3
    assert "model overloaded" in result["stderr_tail"]


def test_malformed_diagnosis_is_recorded_as_invalid(kubeconfig: Path, shop: str, tmp_path: Path) -> None:
    agent = script(tmp_path, """
        import json, os
        with open(os.environ["CHAOSITBENCH_DIAGNOSIS"], "w") as f:
            json.dump({"root_cause": {"category": "Network Policy!"}}, f)
    """)
    result = run(kubeconfig, tmp_path, agent)
    assert result["outcome"] == "invalid-diagnosis" and result["diagnosis"] is None
    assert "category" in result["diagnosis_error"]


def test_restart_all_restarts_every_deployment_without_investigating(kubectl: Kubectl, kubeconfig: Path,
                                                                     shop: str, tmp_path: Path) -> None:
    def restarted_at() -> dict[str, str | None]:
        items = json.loads(kubectl("-n", shop, "get", "deployments", "-o", "json"))["items"]
        return {d["metadata"]["name"]: (d["spec"]["template"]["metadata"].get("annotations") or {})
                .get("kubectl.kubernetes.io/restartedAt") for d in items}
    before = restarted_at()
    result = run(kubeconfig, tmp_path, "restart-all")
    after = restarted_at()
    assert result["outcome"] == "no-diagnosis" and result["exit_code"] == 0
    assert set(after) == {"web", "api"} and all(after[name] and after[name] != before[name] for name in after)
    records = Trajectory(result["trajectory"]).read()
    assert [r["verb"] for r in records] == ["rollout restart"] and records[0]["exit_code"] == 0
    assert all(r["mutating"] for r in records) and not any(r["effect"] == "read" for r in records)


def test_noop_agent_chosen_from_the_environment(kubeconfig: Path, shop: str, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAOSITBENCH_AGENT", "noop")
    result = run(kubeconfig, tmp_path, agent=None, configuration={"chaositbench_agent": "restart-all"})
    assert result["agent"] == "noop" and result["outcome"] == "no-diagnosis" and result["commands"] == 0


def test_the_incident_and_cluster_default_to_the_runs_fault_and_target(kubeconfig: Path, shop: str,
                                                                       tmp_path: Path) -> None:
    (tmp_path / RECORD_FILE).write_text(json.dumps({"injections": [
        {"fault": "old", "complaint": "old", "sla_seconds": 10, "namespaces": ["agent-other"], "removed": True},
        {"fault": "wrong-env", "complaint": "checkout fails since 10:42", "sla_seconds": 120,
         "namespaces": ["agent-shop"], "removed": False}]}))
    agent = script(tmp_path, """
        import json, os, shutil
        shutil.copy(os.environ["CHAOSITBENCH_INCIDENT"], "incident-seen.json")
        with open(os.environ["CHAOSITBENCH_DIAGNOSIS"], "w") as f:
            json.dump({"root_cause": None, "escalate": True, "summary": "paging a human"}, f)
    """)
    result = hand_over(agent=agent, configuration={
        "chaositbench_run_dir": str(tmp_path), "chaositbench_cluster": "kubeconfig",
        "chaositbench_kubeconfig": str(kubeconfig), "chaositbench_context": "chaositbench-sim",
        "chaositbench_prometheus_url": "http://prometheus.example:9090"})
    assert result["outcome"] == "escalated" and result["sla_s"] == 120
    seen = json.loads((Path(result["run_dir"]) / "workspace" / "incident-seen.json").read_text())
    assert seen["complaint"] == "checkout fails since 10:42" and seen["namespaces"] == ["agent-shop"]
    assert seen["prometheus_url"] == "http://prometheus.example:9090"


def test_chaos_toolkit_discovers_and_runs_the_hand_over(kubeconfig: Path, shop: str, tmp_path: Path) -> None:
    assert ("hand_over", "action", "chaositbench.agent.actions") in {
        (a["name"], a["type"], a["mod"]) for a in discover(discover_system=False)["activities"]}
    activity = {"type": "action", "name": "hand over", "provider": {
        "type": "python", "module": "chaositbench.agent.actions", "func": "hand_over",
        "arguments": {"complaint": "x", "sla_s": 30, "namespaces": ["agent-shop"], "kubeconfig": str(kubeconfig)}}}
    result = run_activity(activity, {"chaositbench_run_dir": str(tmp_path), "chaositbench_agent": "noop"}, {})
    assert result["agent"] == "noop" and result["outcome"] == "no-diagnosis"


def test_hand_over_without_a_fault_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ActivityFailed, match="no fault is injected"):
        hand_over(agent="noop", configuration={"chaositbench_run_dir": str(tmp_path)})


def test_unknown_agent_is_a_clear_error(kubeconfig: Path, tmp_path: Path) -> None:
    with pytest.raises(ActivityFailed, match="unknown agent 'gpt-9'"):
        run(kubeconfig, tmp_path, "gpt-9")


@pytest.mark.parametrize("argv, expected", [
    ("get pods -n shop -o wide", {"verb": "get", "effect": "read", "kinds": ["pods"], "namespaces": ["shop"]}),
    ("-n shop rollout restart deploy/web", {"verb": "rollout restart", "mutating": True,
                                            "objects": [{"kind": "deployments", "name": "web"}]}),
    ("rollout status deployment web", {"effect": "read", "objects": [{"kind": "deployments", "name": "web"}]}),
    ("scale deployment web --replicas=0", {"mutating": True, "destructive": True}),
    ("scale deployment web --replicas 2", {"mutating": True, "destructive": False}),
    ("delete networkpolicy --all -n db", {"destructive": True, "kinds": ["networkpolicies"]}),
    ("delete pod web-1 -n shop", {"destructive": False, "mutating": True}),
    ("delete ns shop", {"destructive": True, "kinds": ["namespaces"]}),
    ("get pods -A", {"namespaces": "*"}),
    ("cordon worker-1", {"mutating": True, "objects": [{"kind": "nodes", "name": "worker-1"}]}),
    ("exec -n shop web-1 -- cat /etc/hosts", {"effect": "exec", "mutating": False,
                                              "objects": [{"kind": "pods", "name": "web-1"}]}),
    ("patch deploy web -p {} --dry-run=server", {"effect": "read", "mutating": False}),
    ("set env deployment/web DB_HOST=db", {"verb": "set env", "mutating": True, "kinds": ["deployments"]}),
])
def test_classification(argv: str, expected: dict[str, Any]) -> None:
    classification = classify_kubectl(argv.split())
    assert {key: classification[key] for key in expected} == expected


@pytest.mark.parametrize("data", [
    {"root_cause": {"category": "network-policy", "kind": "NetworkPolicy", "namespace": "db", "name": "deny"}},
    {"root_cause": {"category": "no-fault", "kind": None, "namespace": None, "name": None}, "summary": "fine"},
    {"root_cause": None, "escalate": True, "summary": "need a human"},
])
def test_valid_diagnoses(data: dict[str, Any]) -> None:
    assert validate_diagnosis(data).root_cause == data["root_cause"]


@pytest.mark.parametrize("data, message", [
    ([], "JSON object"), ({"summary": "x"}, "root_cause is required"), ({"root_cause": "np"}, "object"),
    ({"root_cause": {"category": "x", "pod": "y"}}, "unknown root_cause fields: pod"),
    ({"root_cause": {"category": "x", "name": ""}}, "root_cause.name"),
    ({"root_cause": {"category": "x"}, "escalate": "no"}, "escalate"),
    ({"root_cause": {"category": "x"}, "confidence": 1}, "unknown fields: confidence"),
])
def test_invalid_diagnoses(data: Any, message: str) -> None:
    with pytest.raises(InvalidDiagnosis, match=message):
        validate_diagnosis(data)


@pytest.fixture
def prometheus() -> Iterator[str]:
    """A local server speaking the Prometheus HTTP API's instant query endpoint."""
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlparse(self.path)
            query = parse_qs(url.query).get("query", [""])[0]
            if url.path != "/api/v1/query" or query.startswith("bad"):
                body, status = {"status": "error", "errorType": "bad_data", "error": "parse error"}, 400
            else:
                body, status = {"status": "success", "data": {"resultType": "vector", "result": [
                    {"metric": {"service": "web"}, "value": [1700000000, "0.5"]}]}}, 200
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_promql_tool_is_recorded(prometheus: str, tmp_path: Path) -> None:
    tools = Tools({"PROMETHEUS_URL": prometheus, "CHAOSITBENCH_TRAJECTORY": str(tmp_path / "t.jsonl"),
                   "PATH": os.environ["PATH"]})
    assert tools.promql('sum(rate(http_requests_total{code="502"}[1m]))')[0]["value"][1] == "0.5"
    with pytest.raises(Exception):
        tools.promql("bad(")
    ok, bad = Trajectory(tmp_path / "t.jsonl").read()
    assert ok["tool"] == "promql" and ok["exit_code"] == 0 and ok["effect"] == "read" and "0.5" in ok["stdout"]
    assert bad["argv"] == ["bad("] and bad["exit_code"] == 1


def test_promql_command_line_helper(prometheus: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PROMETHEUS_URL", prometheus)
    monkeypatch.setenv("CHAOSITBENCH_TRAJECTORY", str(tmp_path / "t.jsonl"))
    assert cli_main(["agent", "tool", "promql", "up"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["metric"] == {"service": "web"}
    assert cli_main(["agent", "tool", "promql", "bad("]) == 1
    assert "chaositbench agent tool promql:" in capsys.readouterr().err
    assert [(r["argv"], r["exit_code"]) for r in Trajectory(tmp_path / "t.jsonl").read()] == [(["up"], 0), (["bad("], 1)]
