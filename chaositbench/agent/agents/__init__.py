"""Built-in agents and the interface they implement.

An in-process agent is a class with ``run(incident, tools) -> Diagnosis | None``; it is
registered by name in ``BUILTIN`` (``"module:Class"``, imported on use). The controller runs
it in a subprocess (``python -m chaositbench.agent.agents NAME``) inside the same sandbox
and under the same deadline as an external ``command:`` agent, so a hung or crashing
built-in agent is stopped the same way.
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
}


class Agent(Protocol):
    """An agent: investigates through ``tools`` only, may act, and returns its diagnosis (or None)."""

    def run(self, incident: Incident, tools: Tools) -> Diagnosis | None:
        ...


class UnknownAgent(LookupError):
    """No built-in agent of that name is available."""


def load_agent(name: str) -> Agent:
    """Instantiate the built-in agent ``name``."""
    if name not in BUILTIN:
        raise UnknownAgent(f"unknown agent {name!r}: choose one of {', '.join(BUILTIN)} or command:<shell command>")
    module_name, _, class_name = BUILTIN[name].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise UnknownAgent(f"the built-in agent {name!r} is not installed ({module_name})") from exc
    return getattr(module, class_name)()
