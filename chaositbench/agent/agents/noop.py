"""The ``noop`` agent: does nothing and submits nothing (the lower bound)."""

from __future__ import annotations

from ..protocol import Diagnosis, Incident
from ..tools import Tools


class NoopAgent:
    """Returns at once without a diagnosis."""

    def run(self, incident: Incident, tools: Tools) -> Diagnosis | None:
        return None
