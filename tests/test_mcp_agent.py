"""The ``mcp`` agent: the official MCP client SDK acts as the agent against a live simulated cluster.

The controller serves the sandbox tools over MCP streamable HTTP; the test (or a client
command it configures) connects, investigates, acts and submits through them.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from chaositbench.agent.actions import hand_over
from chaositbench.agent.agents.llm_tools import TOOL_SPECS
from chaositbench.agent.agents.mcp_agent import INCIDENT_URI
from chaositbench.agent.trajectory import Trajectory
from chaositbench.taxonomy import CATEGORIES

from conftest import Kubectl
from test_experiments import ROOT, _run, needs_prometheus

NAMESPACE = "mcp-shop"
CONNECT_TIMEOUT_S = 30


@pytest.fixture(scope="module")
def shop(kubectl: Kubectl) -> str:
    """Namespace ``mcp-shop`` with the ConfigMap settings."""
    kubectl("create", "namespace", NAMESPACE)
    kubectl("-n", NAMESPACE, "create", "configmap", "settings", "--from-literal=mode=fast")
    return NAMESPACE


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def hand_over_mcp(kubeconfig: Path, tmp_path: Path, timeout_s: float = 60) -> dict[str, Any]:
    return hand_over("settings look wrong", sla_s=300, namespaces=[NAMESPACE], prometheus_url="", agent="mcp",
                     timeout_s=timeout_s, kubeconfig=str(kubeconfig),
                     configuration={"chaositbench_run_dir": str(tmp_path)})


def wait_listening(port: int) -> None:
    """Wait until the agent's server accepts connections (it starts after the sandbox is made)."""
    deadline = time.monotonic() + CONNECT_TIMEOUT_S
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert time.monotonic() < deadline, f"nothing listens on port {port}"
            time.sleep(0.2)


def test_an_mcp_client_investigates_through_recorded_tools_and_submits(
        kubeconfig: Path, shop: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    monkeypatch.setenv("CHAOSITBENCH_MCP_PORT", str(port))
    monkeypatch.delenv("CHAOSITBENCH_MCP_CLIENT", raising=False)
    outcome: dict[str, Any] = {}
    agent = threading.Thread(target=lambda: outcome.update(hand_over_mcp(kubeconfig, tmp_path)))
    agent.start()
    seen: dict[str, Any] = {}

    async def act() -> None:
        async with Client(f"http://127.0.0.1:{port}/mcp") as client:
            seen["instructions"] = client.instructions
            seen["tools"] = {tool.name: tool.annotations.read_only_hint for tool in (await client.list_tools()).tools}
            seen["incident"] = (await client.read_resource(INCIDENT_URI)).contents[0].text
            seen["get"] = await client.call_tool("kubectl", {"args": ["get", "configmap", "settings", "-n", NAMESPACE,
                                                                       "-o", "jsonpath={.data.mode}"]})
            seen["bad"] = await client.call_tool("logs", {"namespace": NAMESPACE})
            seen["submit"] = await client.call_tool("submit_diagnosis", {
                "category": "config-env", "kind": "ConfigMap", "namespace": NAMESPACE, "name": "settings",
                "summary": "mode is fast"})

    wait_listening(port)
    anyio.run(act)
    agent.join(timeout=60)
    assert outcome["outcome"] == "submitted", outcome["stderr_tail"]
    assert outcome["diagnosis"]["root_cause"] == {"category": "config-env", "kind": "ConfigMap",
                                                  "namespace": NAMESPACE, "name": "settings"}
    assert list(seen["tools"]) == [spec.name for spec in TOOL_SPECS]
    assert [name for name, read_only in seen["tools"].items() if read_only] == ["get_incident", "logs", "promql"]
    assert all(category in seen["instructions"] for category in CATEGORIES) and NAMESPACE in seen["instructions"]
    assert '"complaint": "settings look wrong"' in seen["incident"] and NAMESPACE in seen["incident"]
    assert seen["get"].content[0].text == "exit code 0\nfast" and not seen["get"].is_error
    assert seen["bad"].is_error and "'pod' is a required property" in seen["bad"].content[0].text
    assert not seen["submit"].is_error
    records = Trajectory(outcome["trajectory"]).read()
    assert [r["argv"][:3] for r in records] == [["get", "configmap", "settings"]] and records[0]["exit_code"] == 0
    url_file = Path(outcome["run_dir"]) / "mcp-url"
    assert url_file.read_text() == f"http://127.0.0.1:{port}/mcp\n"
    assert f"MCP server for the incident: http://127.0.0.1:{port}/mcp" in outcome["stderr_tail"]


@pytest.mark.parametrize(("code", "outcome"), [(3, "crashed"), (0, "no-diagnosis")])
def test_a_client_command_that_exits_without_a_diagnosis_ends_the_agent(code: int, outcome: str, kubeconfig: Path,
                                                                        shop: str, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAOSITBENCH_MCP_CLIENT", f'test -n "$CHAOSITBENCH_MCP_URL" && exit {code}')
    result = hand_over_mcp(kubeconfig, tmp_path)
    assert result["outcome"] == outcome and result["diagnosis"] is None
    assert (f"exited with code {code} without a diagnosis" in result["stderr_tail"]) == (code != 0)


def test_without_a_client_the_deadline_ends_the_wait(kubeconfig: Path, shop: str, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHAOSITBENCH_MCP_CLIENT", raising=False)
    monkeypatch.delenv("CHAOSITBENCH_MCP_PORT", raising=False)
    result = hand_over_mcp(kubeconfig, tmp_path, timeout_s=8)
    assert result["outcome"] == "timeout" and result["diagnosis"] is None
    assert "MCP server for the incident: http://127.0.0.1:" in result["stderr_tail"]


@needs_prometheus
def test_chaos_run_netpol_with_an_mcp_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAOSITBENCH_MCP_CLIENT", f"{sys.executable} {Path(__file__).parent / 'mcp_netpol_client.py'}")
    monkeypatch.delenv("CHAOSITBENCH_MCP_PORT", raising=False)
    score, _, _ = _run(tmp_path, ROOT / "experiments" / "netpol.json", "mcp")
    assert score["agent"] == "mcp" and score["outcome"] == "submitted"
    assert score["resolved"] and score["diagnosis"]["correct"], score
    records = Trajectory(score["trajectory"]).read()
    assert records[-1]["verb"] == "patch" and records[-1]["exit_code"] == 0
    assert not any(r["mutating"] for r in records[:-1])
