"""The tools a built-in agent works with: kubectl, logs, exec and PromQL, each recorded in the trajectory.

kubectl, logs and exec run the ``kubectl`` first on the sandbox PATH (the recording shim, with
the scoped KUBECONFIG); PromQL queries go through prometheus-api-client and are recorded here.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from typing import Any, Sequence

from .trajectory import Trajectory


@dataclass(frozen=True)
class ToolResult:
    """The outcome of one tool call."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


class Tools:
    """An agent's tools inside its sandbox (environment as set by the controller)."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.env = dict(os.environ if env is None else env)
        self.prometheus_url = self.env.get("PROMETHEUS_URL", "")
        trajectory = self.env.get("CHAOSITBENCH_TRAJECTORY")
        self.trajectory = Trajectory(trajectory) if trajectory else None

    def kubectl(self, *args: str, input: str | None = None, timeout: float = 60) -> ToolResult:
        """Run ``kubectl args...`` as the agent (recorded by the shim)."""
        try:
            proc = subprocess.run(["kubectl", *args], input=input, capture_output=True, text=True,
                                  timeout=timeout, env=self.env)
        except subprocess.TimeoutExpired as exc:
            return ToolResult(124, _text(exc.stdout), _text(exc.stderr) + f"\ntimed out after {timeout}s")
        return ToolResult(proc.returncode, proc.stdout, proc.stderr)

    def logs(self, namespace: str, pod: str, container: str | None = None, previous: bool = False,
             tail: int | None = 200) -> ToolResult:
        """A pod's (or ``kind/name``'s) logs."""
        args = ["logs", "-n", namespace, pod]
        if container:
            args += ["-c", container]
        if previous:
            args.append("--previous")
        if tail is not None:
            args.append(f"--tail={tail}")
        return self.kubectl(*args)

    def exec(self, namespace: str, pod: str, command: Sequence[str], container: str | None = None) -> ToolResult:
        """Run ``command`` in a pod's container."""
        args = ["exec", "-n", namespace, pod]
        if container:
            args += ["-c", container]
        return self.kubectl(*args, "--", *command)

    def promql(self, query: str) -> list[dict[str, Any]]:
        """An instant PromQL query's result vector (raises on a failing query, after recording it)."""
        from prometheus_api_client import PrometheusConnect

        start = time.time()
        try:
            if not self.prometheus_url:
                raise RuntimeError("no PROMETHEUS_URL in the sandbox")
            result = PrometheusConnect(url=self.prometheus_url, disable_ssl=True).custom_query(query)
        except Exception as exc:
            self._record_promql(query, start, 1, "", str(exc))
            raise
        self._record_promql(query, start, 0, repr(result), "")
        return result

    def _record_promql(self, query: str, start: float, code: int, out: str, err: str) -> None:
        if self.trajectory is not None:
            self.trajectory.record("promql", [query], start, time.time(), code, out, err,
                                   {"verb": "query", "effect": "read", "mutating": False, "destructive": False,
                                    "kinds": [], "objects": [], "namespaces": []})


def _text(data: str | bytes | None) -> str:
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else data
