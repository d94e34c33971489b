"""The ``restart-all`` agent: the classic symptom fix.

It runs ``kubectl rollout restart deployment -n NS`` (every Deployment of the namespace) in
each allowed namespace, without looking at anything first, and submits no diagnosis.
"""

from __future__ import annotations

from ..protocol import Diagnosis, Incident
from ..tools import Tools


class RestartAllAgent:
    """Restarts every Deployment in the allowed namespaces; investigates nothing, diagnoses nothing."""

    def run(self, incident: Incident, tools: Tools) -> Diagnosis | None:
        for namespace in incident.namespaces:
            tools.kubectl("rollout", "restart", "deployment", "-n", namespace)
        return None
