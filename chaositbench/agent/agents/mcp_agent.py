"""The ``mcp`` agent: the sandbox tools served over MCP, so that an external MCP client is the agent.

Transport: MCP streamable HTTP at ``http://127.0.0.1:<port>/mcp`` (port ``CHAOSITBENCH_MCP_PORT``,
default a free one), served by the official ``mcp`` SDK inside the agent's sandbox process, so
every tool call runs with the scoped identity and is recorded in the trajectory. The URL is
printed to the agent's stderr and written to ``mcp-url`` next to the incident file.

Offered: the tools of :mod:`.llm_tools` (``get_incident``, ``kubectl``, ``logs``, ``exec``,
``promql``, ``submit_diagnosis``), the incident as the resource ``chaositbench://incident``,
and the briefing of :func:`.llm_tools.system_prompt` as the server's instructions. Tools that
only read (``get_incident``, ``logs``, ``promql``) carry the ``readOnlyHint`` annotation.

The client: if ``CHAOSITBENCH_MCP_CLIENT`` holds a shell command, it is started once the server
listens, with ``CHAOSITBENCH_MCP_URL`` in its environment; otherwise any client may connect to
the URL (a fixed port makes it known in advance). The agent ends when ``submit_diagnosis`` is
called (also to escalate), when the client command exits (non-zero without a diagnosis: the run
counts as crashed), or at the deadline, when the controller stops it.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import uvicorn
from mcp.server.lowlevel import Server

from ..protocol import Diagnosis, Incident
from ..tools import Tools
from . import AgentError
from .llm_tools import TOOL_SPECS, Toolbox, ToolCallError, incident_text, system_prompt

PORT_ENV = "CHAOSITBENCH_MCP_PORT"
CLIENT_ENV = "CHAOSITBENCH_MCP_CLIENT"
URL_ENV = "CHAOSITBENCH_MCP_URL"
INCIDENT_URI = "chaositbench://incident"
REPLY_GRACE_S = 0.5  # lets the answer to submit_diagnosis reach the client before the server stops


def mcp_server(box: Toolbox, submitted: anyio.Event) -> Server[Any]:
    """An MCP server whose tools run through ``box``; ``submitted`` is set once a diagnosis is accepted."""

    async def list_tools(_ctx: Any, _params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[types.Tool(
            name=spec.name, description=spec.description, input_schema=spec.parameters,
            annotations=types.ToolAnnotations(read_only_hint=spec.read_only)) for spec in TOOL_SPECS])

    async def call_tool(_ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        try:
            text = await anyio.to_thread.run_sync(box.call, params.name, params.arguments)
        except ToolCallError as exc:
            return types.CallToolResult(content=[types.TextContent(type="text", text=f"error: {exc}")], is_error=True)
        if box.diagnosis is not None:
            submitted.set()
        return types.CallToolResult(content=[types.TextContent(type="text", text=text)])

    async def list_resources(_ctx: Any, _params: Any) -> types.ListResourcesResult:
        return types.ListResourcesResult(resources=[types.Resource(
            name="incident", uri=INCIDENT_URI, mime_type="application/json",
            description="the complaint, allowed namespaces, SLA, deadline and Prometheus URL")])

    async def read_resource(_ctx: Any, params: types.ReadResourceRequestParams) -> types.ReadResourceResult:
        if str(params.uri) != INCIDENT_URI:
            raise ValueError(f"unknown resource {params.uri}: the only one is {INCIDENT_URI}")
        return types.ReadResourceResult(contents=[types.TextResourceContents(
            uri=INCIDENT_URI, mime_type="application/json", text=incident_text(box.incident))])

    return Server("chaositbench", instructions=system_prompt(box.incident), on_list_tools=list_tools,
                  on_call_tool=call_tool, on_list_resources=list_resources, on_read_resource=read_resource)


class MCPAgent:
    """Serves the tools over MCP until a diagnosis is submitted or the client command exits."""

    def run(self, incident: Incident, tools: Tools) -> Diagnosis | None:
        box = Toolbox(incident, tools)
        return anyio.run(self._serve, box)

    async def _serve(self, box: Toolbox) -> Diagnosis | None:
        env = box.tools.env
        listener = socket.create_server(("127.0.0.1", int(env.get(PORT_ENV) or 0)))
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/mcp"
        submitted = anyio.Event()
        app = mcp_server(box, submitted).streamable_http_app(json_response=True)
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        client_code: int | None = None
        async with anyio.create_task_group() as group:
            group.start_soon(server.serve, [listener])
            while not server.started:
                await anyio.sleep(0.05)
            self._announce(url, env)
            command = env.get(CLIENT_ENV, "").strip()
            if command:
                client_code = await self._run_client(command, {**env, URL_ENV: url}, submitted)
            else:
                await submitted.wait()
            if submitted.is_set():
                await anyio.sleep(REPLY_GRACE_S)
            server.should_exit = True
        if box.diagnosis is None and client_code:
            raise AgentError(f"the MCP client ({command}) exited with code {client_code} without a diagnosis")
        return box.diagnosis

    @staticmethod
    def _announce(url: str, env: dict[str, str]) -> None:
        print(f"MCP server for the incident: {url}", file=sys.stderr, flush=True)
        if env.get("CHAOSITBENCH_INCIDENT"):
            (Path(env["CHAOSITBENCH_INCIDENT"]).parent / "mcp-url").write_text(url + "\n")

    @staticmethod
    async def _run_client(command: str, env: dict[str, str], submitted: anyio.Event) -> int | None:
        """Run the client command until it exits or a diagnosis is submitted; its exit code, or None if still running."""
        process = await anyio.open_process(command, env=env, stdin=subprocess.DEVNULL, stdout=None, stderr=None)
        async with anyio.create_task_group() as group:
            async def stop_on_submission() -> None:
                await submitted.wait()
                group.cancel_scope.cancel()
            group.start_soon(stop_on_submission)
            await process.wait()
            group.cancel_scope.cancel()
        return process.returncode
