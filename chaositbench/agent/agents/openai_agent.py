"""The ``openai:<model>`` agent: a tool-calling loop against any OpenAI-compatible chat completions API.

The API is the one of ``OPENAI_BASE_URL`` (default: OpenAI's) with the key ``OPENAI_API_KEY``,
through the official ``openai`` client. The model gets the briefing of :func:`.llm_tools.system_prompt`
(complaint, namespaces, deadline, the taxonomy, how to submit) and the tools of
:mod:`.llm_tools` as function tools; each round, every tool call it makes is run (and recorded
in the trajectory) and its result handed back. The loop ends when the model calls
``submit_diagnosis``, after ``CHAOSITBENCH_OPENAI_MAX_STEPS`` requests (default 40), or when the
deadline is near. Token usage is written after every request to ``CHAOSITBENCH_USAGE``.
A failing API (refused key, server error, unreachable URL) ends the agent with AgentError:
its message goes to stderr and the run is scored as crashed.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import openai

from ..protocol import Diagnosis, Incident
from ..tools import Tools
from . import AgentError
from .llm_tools import TOOL_SPECS, Toolbox, ToolCallError, system_prompt

MAX_STEPS_ENV = "CHAOSITBENCH_OPENAI_MAX_STEPS"
DEFAULT_MAX_STEPS = 40
REQUEST_TIMEOUT_S = 120.0
DEADLINE_MARGIN_S = 3.0
MAX_RETRIES = 2
NUDGE = "Continue with the tools. When you know the root cause (or must escalate), call submit_diagnosis."


def openai_tools() -> list[dict[str, Any]]:
    """The tool set in the chat completions API's function-tool format."""
    return [{"type": "function", "function": {"name": spec.name, "description": spec.description,
                                              "parameters": spec.parameters}} for spec in TOOL_SPECS]


def api_error_text(exc: openai.OpenAIError, base_url: str) -> str:
    """A one-line account of an API failure (status, the server's message, or why it could not be reached)."""
    if isinstance(exc, openai.APIStatusError):
        return f"the chat API at {base_url} answered HTTP {exc.status_code}: {exc.message}"
    if isinstance(exc, openai.APIConnectionError):
        return f"cannot reach the chat API at {base_url}: {exc.__cause__ or exc}"
    return f"the chat API at {base_url} failed: {exc}"


class Usage:
    """Token usage summed over the requests, written to a file after each one."""

    def __init__(self, model: str, path: str | None) -> None:
        self.path = Path(path) if path else None
        self.totals: dict[str, Any] = {"model": model, "requests": 0, "prompt_tokens": 0, "completion_tokens": 0,
                                       "total_tokens": 0}

    def add(self, usage: Any) -> None:
        """Count one request and its usage (None when the server reports none)."""
        self.totals["requests"] += 1
        for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
            self.totals[key] += getattr(usage, key, 0) or 0
        if self.path is not None:
            self.path.write_text(json.dumps(self.totals) + "\n")


def _assistant_message(message: Any) -> dict[str, Any]:
    """The assistant's turn as it goes back into the conversation."""
    turn: dict[str, Any] = {"role": "assistant", "content": message.content}
    if message.tool_calls:
        turn["tool_calls"] = [{"id": call.id, "type": "function",
                               "function": {"name": call.function.name, "arguments": call.function.arguments}}
                              for call in message.tool_calls]
    return turn


def _seconds_left(incident: Incident) -> float:
    return datetime.fromisoformat(incident.deadline.replace("Z", "+00:00")).timestamp() - time.time()


class OpenAIAgent:
    """Drives ``model`` through the tool loop; returns the diagnosis it submits, if any."""

    def __init__(self, model: str) -> None:
        self.model = model

    def run(self, incident: Incident, tools: Tools) -> Diagnosis | None:
        base_url = tools.env.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        if not tools.env.get("OPENAI_API_KEY"):
            raise AgentError("OPENAI_API_KEY is not set (a local server that needs no key still wants any value)")
        try:
            max_steps = int(tools.env.get(MAX_STEPS_ENV) or DEFAULT_MAX_STEPS)
        except ValueError:
            raise AgentError(f"{MAX_STEPS_ENV} must be a whole number, not {tools.env[MAX_STEPS_ENV]!r}") from None
        client = openai.OpenAI(api_key=tools.env["OPENAI_API_KEY"], base_url=base_url, max_retries=MAX_RETRIES)
        box = Toolbox(incident, tools)
        usage = Usage(self.model, tools.env.get("CHAOSITBENCH_USAGE"))
        messages: list[dict[str, Any]] = [{"role": "system", "content": system_prompt(incident)},
                                          {"role": "user", "content": incident.complaint}]
        for _ in range(max_steps):
            left = _seconds_left(incident) - DEADLINE_MARGIN_S
            if left <= 0:
                print("the deadline is near: stopping without a diagnosis", file=sys.stderr)
                return None
            message = self._complete(client, base_url, messages, min(left, REQUEST_TIMEOUT_S), usage)
            if message is None:
                print("the deadline passed while waiting for the model: stopping without a diagnosis", file=sys.stderr)
                return None
            messages.append(_assistant_message(message))
            if not message.tool_calls:
                messages.append({"role": "user", "content": NUDGE})
                continue
            for call in message.tool_calls:
                messages.append({"role": "tool", "tool_call_id": call.id,
                                 "content": self._call(box, call.function.name, call.function.arguments)})
            if box.diagnosis is not None:
                return box.diagnosis
        print(f"no diagnosis after {max_steps} requests (the step budget, {MAX_STEPS_ENV})", file=sys.stderr)
        return None

    def _complete(self, client: openai.OpenAI, base_url: str, messages: list[dict[str, Any]], timeout: float,
                  usage: Usage) -> Any:
        """The model's next turn, or None if the deadline (not the API) cut the request short.

        Raises AgentError when the API fails or answers no chat completion.
        """
        try:
            response = client.chat.completions.create(model=self.model, messages=messages, tools=openai_tools(),
                                                      timeout=timeout)
        except openai.APITimeoutError:
            if timeout < REQUEST_TIMEOUT_S:
                return None
            raise AgentError(f"the chat API at {base_url} did not answer within {REQUEST_TIMEOUT_S:.0f}s") from None
        except openai.OpenAIError as exc:
            raise AgentError(api_error_text(exc, base_url)) from None
        except ValueError as exc:  # a body that is not JSON
            raise AgentError(f"the chat API at {base_url} answered something that is not JSON: {exc}") from None
        usage.add(response.usage)
        if not response.choices:
            raise AgentError(f"the chat API at {base_url} answered without a choice")
        return response.choices[0].message

    @staticmethod
    def _call(box: Toolbox, name: str, arguments: str) -> str:
        try:
            return box.call(name, arguments)
        except ToolCallError as exc:
            print(f"tool call refused: {exc}", file=sys.stderr)
            return f"error: {exc}"
