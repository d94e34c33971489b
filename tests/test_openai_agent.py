"""The ``openai:<model>`` agent against a scripted OpenAI-compatible server and a live simulated cluster.

The server (tests/chat_server.py) speaks the chat completions API; its script decides from
what the agent sends back (real kubectl output), so the agent's prompt, tool schemas, tool
dispatch, trajectory and usage are checked end to end. API failures must end the agent with
a clear message, scored as crashed.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from chaoslib.exceptions import ActivityFailed

from chaositbench.agent.actions import hand_over
from chaositbench.agent.agents.llm_tools import TOOL_SPECS
from chaositbench.agent.trajectory import Trajectory
from chaositbench.taxonomy import CATEGORIES

from chat_server import ChatServer, api_error, tool_calls, tool_results
from conftest import Kubectl
from scripted_sre import lost_peer_patch, output
from test_experiments import ROOT, _run, needs_prometheus

NAMESPACE = "llm-shop"


@pytest.fixture(scope="module")
def shop(kubectl: Kubectl) -> str:
    """Namespace ``llm-shop`` with the Deployments web and api."""
    kubectl("create", "namespace", NAMESPACE)
    for name in ("web", "api"):
        kubectl("-n", NAMESPACE, "create", "deployment", name, "--image=nginx:1.27")
    return NAMESPACE


def run(kubeconfig: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, base_url: str,
        agent: str = "openai:scripted-model", timeout_s: float = 40) -> dict[str, Any]:
    monkeypatch.setenv("OPENAI_BASE_URL", base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    return hand_over("web is down since 10:42", sla_s=300, namespaces=[NAMESPACE], prometheus_url="",
                     agent=agent, timeout_s=timeout_s, kubeconfig=str(kubeconfig),
                     configuration={"chaositbench_run_dir": str(tmp_path)})


def deployments_then_submit(request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """List the Deployments, then name the first one listed (as the cluster answered) in the diagnosis."""
    results = tool_results(request)
    if not results:
        return tool_calls(("kubectl", {"args": ["get", "deployments", "-n", NAMESPACE, "-o", "json"]}),
                          ("promql", {"query": "up"}))
    listed = json.loads(results[0].split("\n", 1)[1])
    name = listed["items"][0]["metadata"]["name"]
    return tool_calls(("submit_diagnosis", {"category": "scaling", "kind": "Deployment", "namespace": NAMESPACE,
                                            "name": name, "summary": f"{name} runs too few replicas"}))


def test_the_model_investigates_through_recorded_tools_and_submits(kubeconfig: Path, shop: str, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    with ChatServer(deployments_then_submit) as server:
        result = run(kubeconfig, tmp_path, monkeypatch, server.base_url)
    assert result["outcome"] == "submitted", result["stderr_tail"]
    assert result["diagnosis"]["root_cause"] == {"category": "scaling", "kind": "Deployment", "namespace": shop,
                                                 "name": "api"}
    first = server.requests[0]
    assert first["model"] == "scripted-model"
    assert [t["function"]["name"] for t in first["tools"]] == [spec.name for spec in TOOL_SPECS]
    system, user = first["messages"][0], first["messages"][1]
    assert system["role"] == "system" and all(category in system["content"] for category in CATEGORIES)
    assert NAMESPACE in system["content"] and user == {"role": "user", "content": "web is down since 10:42"}
    answered = tool_results(server.requests[1])
    assert answered[0].startswith("exit code 0\n") and '"name": "web"' in answered[0]
    assert answered[1].startswith("error: ") and "PROMETHEUS_URL" in answered[1]
    records = Trajectory(result["trajectory"]).read()
    assert [r["tool"] for r in records] == ["kubectl", "promql"]
    assert records[0]["argv"] == ["get", "deployments", "-n", NAMESPACE, "-o", "json"] and records[0]["exit_code"] == 0
    assert result["usage"] == {"model": "scripted-model", "requests": 2, "prompt_tokens": 200,
                               "completion_tokens": 30, "total_tokens": 230}


def test_malformed_tool_arguments_are_answered_with_an_error_the_model_can_correct(
        kubeconfig: Path, shop: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def script(request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if not tool_results(request):
            return tool_calls(("kubectl", '{"args": ["get", '), ("kubectl", {"args": "get pods"}),
                              ("submit_diagnosis", {"category": "gremlins", "summary": "?"}), ("reboot", {}))
        return tool_calls(("submit_diagnosis", {"category": None, "summary": "cannot tell", "escalate": True}))

    with ChatServer(script) as server:
        result = run(kubeconfig, tmp_path, monkeypatch, server.base_url)
    assert result["outcome"] == "escalated", result["stderr_tail"]
    errors = tool_results(server.requests[1])
    assert errors[0].startswith("error: the arguments of kubectl are not valid JSON")
    assert errors[1] == "error: invalid arguments for kubectl: args: 'get pods' is not of type 'array'"
    assert errors[2].startswith("error: invalid arguments for submit_diagnosis: category: 'gremlins' is not one of")
    assert errors[3].startswith("error: unknown tool 'reboot'")
    assert "tool call refused: the arguments of kubectl are not valid JSON" in result["stderr_tail"]
    assert Trajectory(result["trajectory"]).read() == []


def test_the_step_budget_ends_a_model_that_never_calls_a_tool(kubeconfig: Path, shop: str, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    answer = {"id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "m", "choices": [
        {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Probably DNS."}}]}
    monkeypatch.setenv("CHAOSITBENCH_OPENAI_MAX_STEPS", "3")
    with ChatServer(lambda _: (200, answer)) as server:
        result = run(kubeconfig, tmp_path, monkeypatch, server.base_url)
    assert result["outcome"] == "no-diagnosis" and len(server.requests) == 3
    assert "no diagnosis after 3 requests" in result["stderr_tail"]
    last = server.requests[-1]["messages"]
    assert [m["role"] for m in last[-2:]] == ["assistant", "user"] and "submit_diagnosis" in last[-1]["content"]
    assert result["usage"]["requests"] == 3 and result["usage"]["total_tokens"] == 0


def test_the_agent_stops_itself_before_the_deadline(kubeconfig: Path, shop: str, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    def slow_reader(_: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        time.sleep(0.5)
        return tool_calls(("get_incident", {}))

    monkeypatch.setenv("CHAOSITBENCH_OPENAI_MAX_STEPS", "1000")
    with ChatServer(slow_reader) as server:
        result = run(kubeconfig, tmp_path, monkeypatch, server.base_url, timeout_s=8)
    assert result["outcome"] == "no-diagnosis", result["stderr_tail"]
    assert "stopping without a diagnosis" in result["stderr_tail"] and result["elapsed_s"] < 8
    assert '"complaint": "web is down since 10:42"' in tool_results(server.requests[-1])[0]


@pytest.mark.parametrize(("status", "message", "code", "requests"), [
    (401, "Incorrect API key provided: sk-test.", "invalid_api_key", 1),
    (500, "The server had an error while processing your request.", "server_error", 3),
])
def test_an_api_error_is_a_clear_crash(status: int, message: str, code: str, requests: int, kubeconfig: Path,
                                       shop: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with ChatServer(lambda _: api_error(status, message, code)) as server:
        result = run(kubeconfig, tmp_path, monkeypatch, server.base_url)
    assert result["outcome"] == "crashed" and result["exit_code"] == 1
    assert f"answered HTTP {status}" in result["stderr_tail"] and message in result["stderr_tail"]
    assert "Traceback" not in result["stderr_tail"]
    assert len(server.requests) == requests  # a server error is retried, a refused key is not
    assert result["usage"] is None


@pytest.mark.parametrize(("body", "message"), [
    ("<html>Bad gateway</html>", "answered something that is not JSON"),
    ({"id": "chatcmpl-1", "object": "chat.completion", "choices": []}, "answered without a choice"),
])
def test_an_answer_that_is_no_chat_completion_is_a_clear_crash(body: dict[str, Any] | str, message: str,
                                                                kubeconfig: Path, shop: str, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    with ChatServer(lambda _: (200, body)) as server:
        result = run(kubeconfig, tmp_path, monkeypatch, server.base_url)
    assert result["outcome"] == "crashed" and message in result["stderr_tail"]
    assert "Traceback" not in result["stderr_tail"]


def test_an_unreachable_api_is_a_clear_crash(kubeconfig: Path, shop: str, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"  # bound, never listening: connection refused
        result = run(kubeconfig, tmp_path, monkeypatch, url)
    assert result["outcome"] == "crashed"
    assert f"cannot reach the chat API at {url}" in result["stderr_tail"]
    assert "Traceback" not in result["stderr_tail"]


def test_a_missing_api_key_is_a_clear_crash(kubeconfig: Path, shop: str, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
    result = hand_over("web is down", sla_s=300, namespaces=[NAMESPACE], prometheus_url="", agent="openai:m",
                       timeout_s=30, kubeconfig=str(kubeconfig), configuration={"chaositbench_run_dir": str(tmp_path)})
    assert result["outcome"] == "crashed" and "OPENAI_API_KEY is not set" in result["stderr_tail"]


@pytest.mark.parametrize(("agent", "message"), [("openai", "agent 'openai' needs a model: openai:<model>"),
                                                ("openai: ", "needs a model"),
                                                ("noop:x", "agent 'noop' takes no argument")])
def test_agent_names_are_checked_before_anything_runs(agent: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(ActivityFailed, match=message):
        hand_over("x", sla_s=1, namespaces=["x"], agent=agent, kubeconfig=str(tmp_path / "none"),
                  configuration={"chaositbench_run_dir": str(tmp_path)})


def incident_namespaces(request: dict[str, Any]) -> list[str]:
    """The allowed namespaces, as the system prompt's incident JSON states them."""
    system = request["messages"][0]["content"]
    start = system.index("{")
    return json.JSONDecoder().raw_decode(system[start:])[0]["namespaces"]


def netpol_fixer(request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """A model that lists namespaces and policies, re-admits the namespace a policy lost, then submits.

    Turn by turn: list namespaces and policies (and ask Prometheus); read each policy; patch
    the ingress peer that selects a namespace which does not exist so that it selects the
    other allowed namespace; submit the patched policy as the root cause.
    """
    namespaces = incident_namespaces(request)
    results = tool_results(request)
    turns = [m for m in request["messages"] if m["role"] == "assistant"]
    if not turns:
        return tool_calls(("kubectl", {"args": ["get", "namespaces", "-o", "jsonpath={.items[*].metadata.name}"]}),
                          ("promql", {"query": "up"}),
                          *[("kubectl", {"args": ["get", "networkpolicies", "-n", ns, "-o", "name"]}) for ns in namespaces])
    if len(turns) == 1:
        return tool_calls(*[("kubectl", {"args": ["get", name, "-n", ns, "-o", "json"]})
                            for ns, names in zip(namespaces, results[2:]) for name in output(names).split()])
    if len(turns) == 3:
        assert results[-1].startswith("exit code 0\nnetworkpolicy"), results[-1]
        patched = json.loads(turns[-1]["tool_calls"][0]["function"]["arguments"])["args"]
        return tool_calls(("submit_diagnosis", {"category": "network-policy", "kind": "NetworkPolicy",
                                                "namespace": patched[4], "name": patched[2],
                                                "summary": "the ingress policy admitted a namespace that is gone"}))
    policies = [json.loads(output(r)) for r in results[2 + len(namespaces):]]
    _, args = lost_peer_patch(policies, set(output(results[0]).split()), namespaces)
    return tool_calls(("kubectl", {"args": args}))


@needs_prometheus
def test_chaos_run_netpol_with_an_openai_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with ChatServer(netpol_fixer) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        score, journal, _ = _run(tmp_path, ROOT / "experiments" / "netpol.json", "openai:scripted-model")
    assert score["agent"] == "openai:scripted-model" and score["outcome"] == "submitted"
    assert score["resolved"] and score["diagnosis"]["correct"], score
    assert score["usage"]["model"] == "scripted-model" and score["usage"]["requests"] == 4
    records = Trajectory(score["trajectory"]).read()
    assert [r["verb"] for r in records if r["tool"] == "kubectl"][-1] == "patch" and records[-1]["exit_code"] == 0
    assert sum(r["tool"] == "promql" for r in records) == 1 and score["diagnosis"]["submitted"]["root_cause"]["name"]
    assert '"__name__": "up"' in tool_results(server.requests[1])[1]  # the run's real Prometheus answered
