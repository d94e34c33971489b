"""Running a bench's runs: one ``chaos run`` subprocess each, ``workers`` at a time, with progress.

Each run gets its own score file, journal, run directory and log, and the agent through
``CHAOSITBENCH_AGENT``; everything else (time scale, cluster choice, settle time) comes from the
caller's environment, exactly as for a ``chaos run`` by hand. A run that does not finish within
its time limit is interrupted (SIGINT, so the experiment's rollbacks and the control's release
still run), then killed; Ctrl-C on the bench interrupts the runs in flight the same way.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any, Callable, TextIO

from ..catalog import load_fault
from ..experiment import fault_of
from ..sim.children import sigint_default
from .plan import Run

#: time a run may take beyond its scenario's SLA (cluster and app start, settle, rollback)
OVERHEAD_S = 600.0
#: how long an interrupted run may take to roll back and release its cluster before it is killed (the
#: interrupt stops the control's waiting for the root cause to clear)
INTERRUPT_GRACE_S = 120.0
LOG_TAIL_CHARS = 2000


def chaos_binary() -> str:
    """The ``chaos`` command next to this Python (the one chaositbench is installed for)."""
    candidate = Path(sys.executable).parent / "chaos"
    return str(candidate) if candidate.exists() else "chaos"


def time_limit(run: Run) -> float:
    """The run's limit: its scenario's SLA (from the fault it injects) plus ``OVERHEAD_S``."""
    try:
        fault = fault_of(json.loads(run.experiment.read_text()))
        sla = float(load_fault(fault).sla_seconds) if fault else 0.0
    except Exception:  # an experiment the control will itself report invalid: no SLA to add
        sla = 0.0
    return sla + OVERHEAD_S


class Runner:
    """Runs a plan's runs in parallel; :meth:`run_all` returns one result object per run."""

    def __init__(self, workers: int, chaos: str | None = None, progress: TextIO | None = None,
                 limit: Callable[[Run], float] = time_limit) -> None:
        self.workers = max(1, workers)
        self.chaos = chaos or chaos_binary()
        self.progress = progress if progress is not None else sys.stderr
        self.limit = limit
        self._procs: dict[int, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def run_all(self, runs: list[Run]) -> list[dict[str, Any]]:
        """Every run's result, in plan order; on KeyboardInterrupt the runs in flight are rolled back
        and the ones not started are reported as not run."""
        results: dict[int, dict[str, Any]] = {}
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            pending: dict[Future[dict[str, Any]], int] = {pool.submit(self._run_one, run): i
                                                          for i, run in enumerate(runs)}
            try:
                while pending:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        index = pending.pop(future)
                        results[index] = future.result()
                        self._report(len(results), len(runs), runs[index], results[index], started)
            except KeyboardInterrupt:
                self._stopping.set()
                self._interrupt_all()
                for future, index in pending.items():
                    future.cancel()
                for future, index in pending.items():
                    if not future.cancelled():
                        results[index] = future.result()
                print("chaositbench bench: interrupted; the runs in flight were rolled back", file=self.progress)
        return [results.get(i) or _not_run(run, "the bench was interrupted before this run started")
                for i, run in enumerate(runs)]

    def _run_one(self, run: Run) -> dict[str, Any]:
        if self._stopping.is_set():
            return _not_run(run, "the bench was interrupted before this run started")
        run.directory.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "CHAOSITBENCH_AGENT": run.agent, "CHAOSITBENCH_SCORE_PATH": str(run.score_path),
               "CHAOSITBENCH_RUN_DIR": str(run.directory / "run")}
        limit = self.limit(run)
        start = time.monotonic()
        timed_out = False
        with run.log_path.open("wb") as log:
            proc = subprocess.Popen([self.chaos, "run", "--journal-path", str(run.journal_path),
                                     str(run.experiment.resolve())], cwd=run.directory, env=env,
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True, preexec_fn=sigint_default)
            with self._lock:
                self._procs[proc.pid] = proc
            try:
                proc.wait(timeout=limit)
            except subprocess.TimeoutExpired:
                timed_out = True
                _interrupt(proc)
            finally:
                with self._lock:
                    self._procs.pop(proc.pid, None)
        wall = round(time.monotonic() - start, 1)
        return _result(run, proc.returncode, wall, timed_out, limit)

    def _interrupt_all(self) -> None:
        with self._lock:
            procs = list(self._procs.values())
        for proc in procs:
            _interrupt(proc)

    def _report(self, done: int, total: int, run: Run, result: dict[str, Any], started: float) -> None:
        if not result.get("valid"):
            outcome = f"INVALID ({result.get('reason', 'no reason given')})"
        else:
            outcome = f"{'RESOLVED' if result.get('resolved') else 'not resolved'} · score {result.get('score')}"
        elapsed = time.monotonic() - started
        eta = elapsed / done * (total - done)
        print(f"[{done}/{total}] {run.label}: {outcome} · {result['wall_time_s']:.0f} s"
              f" (elapsed {elapsed:.0f} s, about {eta:.0f} s left)", file=self.progress, flush=True)


def _interrupt(proc: subprocess.Popen[bytes]) -> None:
    """SIGINT the run's process group (chaos rolls back), then SIGKILL it after the grace period."""
    try:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=INTERRUPT_GRACE_S)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _base(run: Run) -> dict[str, Any]:
    return {"scenario": run.scenario, "agent": run.agent, "repeat": run.repeat}


def _not_run(run: Run, reason: str) -> dict[str, Any]:
    return {**_base(run), "valid": False, "reason": reason, "wall_time_s": 0.0}


def _result(run: Run, returncode: int | None, wall: float, timed_out: bool, limit: float) -> dict[str, Any]:
    """The run's score object (plus repeat, wall time and file paths), or an invalid one saying why."""
    files = {"journal": str(run.journal_path), "log": str(run.log_path)}
    if timed_out:
        return {**_base(run), "valid": False, "reason": f"chaos run did not finish within {limit:.0f} s",
                "wall_time_s": wall, **files}
    try:
        scored = json.loads(run.score_path.read_text())
    except (OSError, ValueError):
        tail = run.log_path.read_text(errors="replace")[-LOG_TAIL_CHARS:].strip() if run.log_path.exists() else ""
        return {**_base(run), "valid": False, "wall_time_s": wall, **files,
                "reason": f"chaos run exited {returncode} without a score" + (f": ...{tail[-300:]}" if tail else "")}
    return {**scored, "repeat": run.repeat, "wall_time_s": wall, **files}
