"""What model-driven agents (``openai:<model>`` and ``mcp``) are given: the briefing, tool schemas and dispatch.

One table, :data:`TOOL_SPECS`, defines each tool's name, description and JSON-Schema
parameters; :class:`Toolbox` validates a call's arguments against it and runs the call
through :class:`~chaositbench.agent.tools.Tools`, so kubectl, logs, exec and PromQL calls are
recorded in the trajectory exactly as the other agents' are. ``submit_diagnosis`` checks the
diagnosis against the protocol and the taxonomy and keeps it; it is not a cluster command and
is not recorded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

import jsonschema

from ...taxonomy import CATEGORIES
from ..protocol import Diagnosis, Incident, InvalidDiagnosis, validate_diagnosis
from ..tools import ToolResult, Tools

RESULT_LIMIT = 12000  # characters of one tool result handed back to the model
NULLABLE_STRING = {"type": ["string", "null"]}


@dataclass(frozen=True)
class ToolSpec:
    """One tool: its name, what it does (for the model), its parameters' JSON Schema, whether it only reads."""

    name: str
    description: str
    parameters: dict[str, Any]
    read_only: bool = False


def _object(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


TOOL_SPECS: tuple[ToolSpec, ...] = (
    ToolSpec("get_incident", "The incident: the user's complaint, allowed namespaces, SLA, deadline, Prometheus URL.",
             _object({}, []), read_only=True),
    ToolSpec("kubectl", "Run kubectl with these arguments (no shell), e.g. [\"get\", \"pods\", \"-n\", \"shop\", "
             "\"-o\", \"wide\"]. Your identity may act only in the incident's namespaces. Returns the exit code, "
             "stdout and stderr.",
             _object({"args": {"type": "array", "items": {"type": "string"}, "minItems": 1,
                               "description": "kubectl arguments, without the word kubectl"},
                      "stdin": {"type": "string", "description": "standard input, e.g. a manifest for apply -f -"}},
                     ["args"])),
    ToolSpec("logs", "A container's logs (kubectl logs).",
             _object({"namespace": {"type": "string"},
                      "pod": {"type": "string", "description": "a pod name, or kind/name such as deploy/web"},
                      "container": {"type": "string"},
                      "previous": {"type": "boolean", "description": "the previous (crashed) container's logs"},
                      "tail": {"type": "integer", "minimum": 1, "description": "last lines only (default 200)"}},
                     ["namespace", "pod"]), read_only=True),
    ToolSpec("exec", "Run a command in a pod's container (kubectl exec, no shell unless you run one).",
             _object({"namespace": {"type": "string"}, "pod": {"type": "string"},
                      "command": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                      "container": {"type": "string"}},
                     ["namespace", "pod", "command"])),
    ToolSpec("promql", "An instant PromQL query against the cluster's Prometheus; returns the result vector as JSON.",
             _object({"query": {"type": "string"}}, ["query"]), read_only=True),
    ToolSpec("submit_diagnosis", "Submit the diagnosis and end the incident: the root-cause category and the "
             "object at fault. Set escalate to true (category optional) to hand the incident to a human instead.",
             _object({"category": {"type": ["string", "null"], "enum": [*CATEGORIES, None],
                                   "description": "one taxonomy category"},
                      "kind": NULLABLE_STRING, "namespace": NULLABLE_STRING, "name": NULLABLE_STRING,
                      "summary": {"type": "string", "description": "what was wrong and what you did"},
                      "escalate": {"type": "boolean"}},
                     ["summary"])),
)


class ToolCallError(ValueError):
    """A tool call the model got wrong (unknown tool, arguments not JSON or not matching the schema)."""


def incident_text(incident: Incident) -> str:
    """The incident as JSON text."""
    return json.dumps({"complaint": incident.complaint, "namespaces": incident.namespaces, "sla_s": incident.sla_s,
                       "deadline": incident.deadline, "prometheus_url": incident.prometheus_url}, indent=2)


def taxonomy_text() -> str:
    """The taxonomy as ``- category: meaning`` lines."""
    return "\n".join(f"- {name}: {meaning}" for name, meaning in CATEGORIES.items())


SYSTEM_PROMPT = """You are the on-call Site Reliability Engineer for a Kubernetes cluster. A user reported an \
incident. Find its root cause, fix it with the smallest safe change, verify that the service recovered, and \
submit your diagnosis before the deadline.

Incident:
{incident}

Rules:
- Work only through the tools. Your Kubernetes identity may act only in the namespaces {namespaces}.
- Investigate before you change anything; never delete or scale down workloads to hide a symptom.
  Restarting pods is not a fix when the cause remains.
- If nothing is broken, change nothing and submit the category no-fault.
- If you cannot find or fix the cause, call submit_diagnosis with escalate set to true.
- submit_diagnosis ends the incident: call it once, last. Name the root-cause object (kind, namespace,
  name) at fault, e.g. kind NetworkPolicy, namespace db, name deny-all.

Root-cause categories (the diagnosis must use one of them):
{taxonomy}
"""


def system_prompt(incident: Incident) -> str:
    """The briefing for a model (system prompt, MCP instructions): the incident, the rules, the taxonomy."""
    return SYSTEM_PROMPT.format(incident=incident_text(incident), namespaces=", ".join(incident.namespaces),
                                taxonomy=taxonomy_text())


def _shown(result: ToolResult) -> str:
    text = f"exit code {result.exit_code}\n{result.stdout}"
    if result.stderr:
        text += f"\nstderr:\n{result.stderr}"
    return _cut(text)


def _cut(text: str) -> str:
    if len(text) <= RESULT_LIMIT:
        return text
    return text[:RESULT_LIMIT] + f"\n[... {len(text) - RESULT_LIMIT} more characters cut]"


class Toolbox:
    """Dispatches tool calls by name to the sandbox tools; holds the submitted diagnosis."""

    def __init__(self, incident: Incident, tools: Tools) -> None:
        self.incident = incident
        self.tools = tools
        self.diagnosis: Diagnosis | None = None
        self._specs = {spec.name: spec for spec in TOOL_SPECS}
        self._handlers: dict[str, Callable[[dict[str, Any]], str]] = {
            "get_incident": lambda _: incident_text(incident),
            "kubectl": lambda a: _shown(tools.kubectl(*a["args"], input=a.get("stdin"))),
            "logs": lambda a: _shown(tools.logs(a["namespace"], a["pod"], a.get("container"),
                                                a.get("previous", False), a.get("tail", 200))),
            "exec": lambda a: _shown(tools.exec(a["namespace"], a["pod"], a["command"], a.get("container"))),
            "promql": self._promql,
            "submit_diagnosis": self._submit,
        }

    def call(self, name: str, arguments: str | dict[str, Any] | None) -> str:
        """Run tool ``name`` with ``arguments`` (a JSON object, as text or parsed) and return its result as text.

        Raises ToolCallError for an unknown tool or arguments that do not fit its schema; the
        message is meant for the model, which may correct the call.
        """
        spec = self._specs.get(name)
        if spec is None:
            raise ToolCallError(f"unknown tool {name!r}: use one of {', '.join(self._specs)}")
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments) if arguments.strip() else {}
            except json.JSONDecodeError as exc:
                raise ToolCallError(f"the arguments of {name} are not valid JSON ({exc}): {arguments[:200]!r}") from None
        arguments = {} if arguments is None else arguments
        try:
            jsonschema.validate(arguments, spec.parameters)
        except jsonschema.ValidationError as exc:
            where = "/".join(str(p) for p in exc.absolute_path) or "arguments"
            raise ToolCallError(f"invalid arguments for {name}: {where}: {exc.message}") from None
        return self._handlers[name](arguments)

    def _promql(self, arguments: dict[str, Any]) -> str:
        try:
            return _cut(json.dumps(self.tools.promql(arguments["query"])))
        except Exception as exc:  # a failing query is an answer for the model, not a crash of the agent
            return f"error: {exc}"

    def _submit(self, arguments: dict[str, Any]) -> str:
        category = arguments.get("category")
        root = None if category is None else {key: arguments.get(key) for key in ("category", "kind", "namespace",
                                                                                   "name")}
        try:
            self.diagnosis = validate_diagnosis({"root_cause": root, "summary": arguments["summary"],
                                                 "escalate": arguments.get("escalate", False)})
        except InvalidDiagnosis as exc:
            raise ToolCallError(f"invalid diagnosis: {exc}") from None
        return "diagnosis recorded: " + json.dumps(self.diagnosis.to_json())
