"""``chaositbench agent tool promql QUERY``: a recorded PromQL query for command agents.

Runs inside the sandbox: the answer's result vector is printed as JSON and the query is
recorded in the trajectory (``CHAOSITBENCH_TRAJECTORY``), as kubectl calls are by the shim.
"""

from __future__ import annotations

import argparse
import json
import sys

from .tools import Tools


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``agent tool promql`` to the ``chaositbench`` command line."""
    agent = sub.add_parser("agent", help="helpers for agents inside their sandbox")
    agent_sub = agent.add_subparsers(dest="agent_command", required=True)
    tool = agent_sub.add_parser("tool", help="a recorded tool call")
    tool_sub = tool.add_subparsers(dest="tool", required=True)
    promql = tool_sub.add_parser("promql", help="an instant PromQL query against PROMETHEUS_URL, printed as JSON")
    promql.add_argument("query")


def run(args: argparse.Namespace) -> int:
    """Run an ``agent`` command; returns the exit code."""
    try:
        result = Tools().promql(args.query)
    except Exception as exc:  # any failure of the query is the agent's to read, not a traceback
        print(f"chaositbench agent tool promql: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2))
    return 0
