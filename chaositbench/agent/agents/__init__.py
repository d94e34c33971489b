"""Built-in agents and the interface they implement.

An in-process agent is a class with ``run(incident, tools) -> Diagnosis | None``; it is
registered by name in ``BUILTIN`` (``"module:Class"``, imported on use); an agent named
``NAME:<argument>`` (``openai:<model>``) is built with the argument, one listed in
``PARAMETERIZED``. ``REQUIRES`` names the Python package an agent needs beyond the core
dependencies. An agent that cannot go on raises AgentError with a message for its stderr.
The controller runs it in a subprocess (``python -m chaositbench.agent.agents NAME``) inside
the same sandbox and under the same deadline as an external ``command:`` agent, so a hung or
crashing built-in agent is stopped the same way.
"""

from __future__ import annotations

import importlib
from typing import Protocol

from ..protocol import Diagnosis, Incident
from ..tools import Tools

BUILTIN: dict[str, str] = {
    "noop": "chaositbench.agent.agents.noop:NoopAgent",
    "restart-all": "chaositbench.agent.agents.restart_all:RestartAllAgent",
    "reference": "chaositbench.agent.agents.reference:ReferenceAgent",
    "openai": "chaositbench.agent.agents.openai_agent:OpenAIAgent",
    "mcp": "chaositbench.agent.agents.mcp_agent:MCPAgent",
}
PARAMETERIZED: dict[str, str] = {"openai": "model"}
REQUIRES: dict[str, str] = {"openai": "openai", "mcp": "mcp"}
CHOICES = "noop, restart-all, reference, openai:<model>, mcp or command:<shell command>"


class Agent(Protocol):
    """An agent: investigates through ``tools`` only, may act, and returns its diagnosis (or None)."""

    def run(self, incident: Incident, tools: Tools) -> Diagnosis | None:
        ...


class UnknownAgent(LookupError):
    """No built-in agent of that name is available."""


class AgentError(RuntimeError):
    """A built-in agent cannot go on (e.g. its model API fails); the message is for its stderr."""


def parse_agent(name: str) -> tuple[str, str | None]:
    """The built-in agent's base name and argument (``openai:gpt-4o`` → ``("openai", "gpt-4o")``).

    Raises UnknownAgent for an unknown name, a missing argument or an argument the agent takes none of.
    """
    base, colon, argument = name.partition(":")
    if base not in BUILTIN:
        raise UnknownAgent(f"unknown agent {name!r}: choose one of {CHOICES}")
    if base in PARAMETERIZED and not argument.strip():
        raise UnknownAgent(f"agent {base!r} needs a {PARAMETERIZED[base]}: {base}:<{PARAMETERIZED[base]}>")
    if base not in PARAMETERIZED and colon:
        raise UnknownAgent(f"agent {base!r} takes no argument (got {name!r})")
    return base, argument.strip() or None


def load_agent(name: str) -> Agent:
    """Instantiate the built-in agent ``name`` (``NAME`` or ``NAME:<argument>``)."""
    base, argument = parse_agent(name)
    module_name, _, class_name = BUILTIN[base].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise UnknownAgent(f"the built-in agent {name!r} is not installed ({module_name})") from exc
    cls = getattr(module, class_name)
    return cls() if argument is None else cls(argument)
