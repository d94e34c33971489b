"""Run a built-in agent inside its sandbox: ``python -m chaositbench.agent.agents NAME``.

Reads the incident from ``CHAOSITBENCH_INCIDENT`` and writes the agent's diagnosis, if any,
to ``CHAOSITBENCH_DIAGNOSIS``; exits 2 for an unknown agent, 1 with the message on stderr
when the agent raises AgentError.
"""

from __future__ import annotations

import json
import os
import sys

from ..protocol import Incident
from ..tools import Tools
from . import AgentError, UnknownAgent, load_agent


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m chaositbench.agent.agents NAME", file=sys.stderr)
        return 2
    try:
        agent = load_agent(argv[0])
    except UnknownAgent as exc:
        print(exc, file=sys.stderr)
        return 2
    try:
        diagnosis = agent.run(Incident.read(os.environ["CHAOSITBENCH_INCIDENT"]), Tools())
    except AgentError as exc:
        print(f"agent {argv[0]}: {exc}", file=sys.stderr)
        return 1
    if diagnosis is not None:
        with open(os.environ["CHAOSITBENCH_DIAGNOSIS"], "w") as handle:
            json.dump(diagnosis.to_json(), handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
