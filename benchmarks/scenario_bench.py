"""Benchmark of whole scenarios: the wall time of ``chaos run`` with an agent, and where it goes.

Each run is a real ``chaos run experiments/<id>.json`` in a fresh temporary directory (its own
embedded cluster and Prometheus), timed from launching the command to its exit. The phases
come from the run's journal (Chaos Toolkit's timestamps of each activity); ``baseline`` is the
scoring control starting the cluster, the app and Prometheus and waiting for the app's SLOs.
Not a test: run it by hand and read the tables.

    .venv/bin/python benchmarks/scenario_bench.py one [--scenario netpol] [--runs 3] [--settings fast,default]
    .venv/bin/python benchmarks/scenario_bench.py catalog [--scenarios netpol,oomkilled] [--settings fast]

``one`` reports the median of ``--runs`` runs of one scenario per setting, phase by phase;
``catalog`` runs every ``experiments/*.json`` (or the ``--scenarios`` listed) once, one after
the other, and prints the wall time, the baseline phase, whether it was resolved and the score
of each.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

import yaml

from chaositbench.blast_radius import app_namespaces
from chaositbench.control import wait_healthy
from chaositbench.target import connect

ROOT = Path(__file__).resolve().parent.parent
CHAOS = str(Path(sys.executable).parent / "chaos")
#: the environment of each setting (on top of the agent and the run's own paths)
SETTINGS: dict[str, dict[str, str]] = {
    "fast": {"CHAOSITBENCH_SIM_TIME_SCALE": "0.1", "CHAOSITBENCH_SETTLE_S": "30", "CHAOSITBENCH_SLO_WINDOW": "3s"},
    # the shortest SLO window that still holds four scrapes at the 0.5 s scrape-interval floor
    "fastest": {"CHAOSITBENCH_SIM_TIME_SCALE": "0.1", "CHAOSITBENCH_SETTLE_S": "30", "CHAOSITBENCH_SLO_WINDOW": "2s"},
    # one embedded cluster served for all the setting's runs (started outside the timed runs), as the
    # test matrix and long game days use it: a run's baseline finds the app and Prometheus already up
    "warm": {"CHAOSITBENCH_SIM_TIME_SCALE": "0.1", "CHAOSITBENCH_SETTLE_S": "30", "CHAOSITBENCH_SLO_WINDOW": "2s"},
    "default": {},
}
SERVED = frozenset({"warm"})
SERVE_TIMEOUT_S = 120.0
#: every variable a setting may set, removed from the inherited environment first
KNOBS = ("CHAOSITBENCH_SIM_TIME_SCALE", "CHAOSITBENCH_SETTLE_S", "CHAOSITBENCH_SLO_WINDOW", "CHAOSITBENCH_CLUSTER",
         "CHAOSITBENCH_PROMETHEUS_URL", "CHAOSITBENCH_APP", "CHAOSITBENCH_CONTEXT", "CHAOSITBENCH_KUBECONFIG")
PHASES = ("startup", "baseline", "steady-state before", "inject", "symptom", "hand-over wait", "agent",
          "steady-state after", "end")
RUN_TIMEOUT_S = 900.0


@dataclass
class Run:
    """One ``chaos run``: its wall time, phases (seconds) and score file."""

    scenario: str
    wall_s: float
    phases: dict[str, float] = field(default_factory=dict)
    score: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    quiet_wait_s: float | None = None  # on a served cluster: the untimed wait for the last run to clear


def wait_quiet(cluster: dict[str, str], setting: str) -> float:
    """Wait until the served cluster of ``cluster`` (:func:`cluster_for`) is as a run's baseline wants it
    (nodes, workloads, and the SLOs over the last minute, as ``chaositbench.control.wait_healthy``
    judges them); the seconds it took."""
    configuration = {key.lower(): value for key, value in {**SETTINGS[setting], **cluster}.items()}
    started = time.monotonic()
    problems = wait_healthy(connect(configuration), app_namespaces(configuration), configuration)
    if problems:
        raise RuntimeError(f"the served cluster did not become quiet: {'; '.join(problems)}")
    return time.monotonic() - started


def _at(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


def phases(journal: dict[str, Any], launched: float, exited: float) -> dict[str, float]:
    """Seconds per phase of a run from its journal, ``launched``/``exited`` being the command's epoch times.

    Phases a run did not reach (the method after an invalid baseline) are left out.
    """
    states = journal.get("steady_states") or {}
    before = (states.get("before") or {}).get("probes") or []
    after = (states.get("after") or {}).get("probes") or []
    method = {activity["activity"]["name"]: activity for activity in journal.get("run") or []}
    inject = next((a for name, a in method.items() if name.startswith("inject-")), None)
    symptom, agent = method.get("symptom-visible"), method.get("hand-over-to-agent")
    start = _at(journal["start"])
    found = {"startup": start - launched}
    if before:
        found["baseline"] = _at(before[0]["start"]) - start
        found["steady-state before"] = _at(before[-1]["end"]) - _at(before[0]["start"])
    for name, step in (("inject", inject), ("symptom", symptom), ("agent", agent)):
        if step is not None:
            found[name] = float(step["duration"])
    if symptom is not None and agent is not None:
        found["hand-over wait"] = _at(agent["start"]) - _at(symptom["end"])
    if after:
        found["steady-state after"] = _at(after[-1]["end"]) - _at(after[0]["start"])
    steps = list(method.values())
    last = after[-1]["end"] if after else (steps[-1]["end"] if steps else journal["start"])
    found["end"] = exited - _at(last)
    return found


@contextlib.contextmanager
def cluster_for(setting: str) -> Iterator[dict[str, str]]:
    """The environment that points runs of ``setting`` at their cluster: none (each run starts its own
    embedded one) or, for a :data:`SERVED` setting, a ``chaositbench sim serve --app demo --prometheus``
    started here and stopped when the setting is done."""
    if setting not in SERVED:
        yield {}
        return
    with tempfile.TemporaryDirectory(prefix="chaositbench-bench-served-") as work:
        kubeconfig, log_path = Path(work) / "kubeconfig", Path(work) / "serve.log"
        with log_path.open("wb") as log:
            server = subprocess.Popen([sys.executable, "-m", "chaositbench", "sim", "serve", "--kubeconfig",
                                       str(kubeconfig), "--app", "demo", "--prometheus", "--time-scale",
                                       SETTINGS[setting]["CHAOSITBENCH_SIM_TIME_SCALE"]],
                                      stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + SERVE_TIMEOUT_S
            while not (found := re.search(r"prometheus ready at (\S+)", log_path.read_text())):
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the served cluster did not start: {log_path.read_text()[-1000:]}")
                time.sleep(0.2)
            context = yaml.safe_load(kubeconfig.read_text())["current-context"]
            yield {"CHAOSITBENCH_CLUSTER": "kubeconfig", "CHAOSITBENCH_CONTEXT": context,
                   "CHAOSITBENCH_KUBECONFIG": str(kubeconfig), "CHAOSITBENCH_PROMETHEUS_URL": found.group(1)}
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def run(experiment: Path, setting: str, agent: str, cluster: dict[str, str]) -> Run:
    """``chaos run`` of ``experiment`` with ``agent`` under ``setting`` on ``cluster`` (:func:`cluster_for`),
    in a fresh temporary directory; on a served cluster, once the previous run has cleared (untimed)."""
    quiet_wait = wait_quiet(cluster, setting) if cluster else None
    with tempfile.TemporaryDirectory(prefix="chaositbench-bench-") as work:
        directory = Path(work)
        env = {key: value for key, value in os.environ.items() if key not in KNOBS}
        env.update(SETTINGS[setting], **cluster, CHAOSITBENCH_AGENT=agent, CHAOSITBENCH_RUN_DIR=str(directory / "run"),
                   CHAOSITBENCH_SCORE_PATH=str(directory / "score.json"))
        launched = time.time()
        try:
            done = subprocess.run([CHAOS, "run", "--journal-path", str(directory / "journal.json"), str(experiment)],
                                  cwd=directory, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return Run(experiment.stem, time.time() - launched, error=f"timed out after {RUN_TIMEOUT_S:.0f}s",
                       quiet_wait_s=quiet_wait)
        exited = time.time()
        result = Run(experiment.stem, exited - launched, quiet_wait_s=quiet_wait)
        try:
            result.score = json.loads((directory / "score.json").read_text())
            result.phases = phases(json.loads((directory / "journal.json").read_text()), launched, exited)
        except (OSError, ValueError, KeyError) as exc:
            result.error = f"chaos run exited {done.returncode} without a usable journal/score ({exc}): " \
                           f"{(done.stdout + done.stderr).strip()[-500:]}"
        return result


def _outcome(result: Run) -> tuple[str, str]:
    if result.error:
        return "ERROR", "-"
    if not result.score.get("valid"):
        return "invalid", "-"
    return ("yes" if result.score.get("resolved") else "no"), f"{result.score.get('score')}"


def one(args: argparse.Namespace) -> int:
    """The median wall time and phases of ``--runs`` runs of one scenario, per setting."""
    experiment = args.experiments / f"{args.scenario}.json"
    if not experiment.is_file():
        print(f"scenario_bench: no experiment {experiment}", file=sys.stderr)
        return 2
    columns: dict[str, list[Run]] = {}
    for setting in args.settings:
        columns[setting] = []
        with cluster_for(setting) as cluster:
            for index in range(args.runs):
                result = run(experiment, setting, args.agent, cluster)
                print(f"  {setting} run {index + 1}: {result.wall_s:.1f} s, resolved {_outcome(result)[0]}"
                      + (f" — {result.error}" if result.error else ""), flush=True)
                columns[setting].append(result)
    print(f"\n{args.scenario} with agent {args.agent}: median of {args.runs} run(s), seconds")
    header = f"  {'phase':<22}" + "".join(f"{name:>10}" for name in columns)
    print(header)
    for phase in ("wall time", *PHASES, "quiet wait (untimed)"):
        cells = []
        for results in columns.values():
            values = [r.wall_s if phase == "wall time" else r.quiet_wait_s if phase.startswith("quiet")
                      else r.phases.get(phase) for r in results if not r.error]
            values = [v for v in values if v is not None]
            cells.append(f"{statistics.median(values):>10.1f}" if values else f"{'-':>10}")
        print(f"  {phase:<22}" + "".join(cells))
    for name, results in columns.items():
        print(f"  {name}: resolved {sum(_outcome(r)[0] == 'yes' for r in results)}/{len(results)} "
              f"({', '.join(f'{k}={v}' for k, v in SETTINGS[name].items()) or 'no configuration'})")
    return 0 if all(not r.error for results in columns.values() for r in results) else 1


def catalog(args: argparse.Namespace) -> int:
    """Every scenario (or the ``--scenarios`` listed) once per setting, one after the other."""
    experiments = sorted(args.experiments.glob("*.json"))
    if args.scenarios:
        wanted = set(args.scenarios)
        missing = wanted - {e.stem for e in experiments}
        if missing:
            print(f"scenario_bench: no experiment for {', '.join(sorted(missing))} in {args.experiments}",
                  file=sys.stderr)
            return 2
        experiments = [e for e in experiments if e.stem in wanted]
    failed = False
    for setting in args.settings:
        started = time.monotonic()
        rows = []
        with cluster_for(setting) as cluster:
            for experiment in experiments:
                result = run(experiment, setting, args.agent, cluster)
                resolved, score = _outcome(result)
                failed = failed or bool(result.error)
                baseline, quiet = result.phases.get("baseline"), result.quiet_wait_s
                rows.append((experiment.stem, f"{result.wall_s:.1f}", "-" if baseline is None else f"{baseline:.1f}",
                             resolved, score, "-" if quiet is None else f"{quiet:.1f}", result.error))
                print(f"  {setting} {experiment.stem}: {result.wall_s:.1f} s, resolved {resolved}", flush=True)
        total = time.monotonic() - started
        print(f"\ncatalog with agent {args.agent}, setting {setting} "
              f"({', '.join(f'{k}={v}' for k, v in SETTINGS[setting].items()) or 'no configuration'})")
        width = max(len(row[0]) for row in rows)
        print(f"  {'scenario':<{width}}  {'wall s':>7}  {'baseline s':>10}  {'resolved':>8}  {'score':>6}"
              f"  {'quiet wait s (untimed)':>22}")
        for name, wall, baseline, resolved, score, quiet, error in rows:
            print(f"  {name:<{width}}  {wall:>7}  {baseline:>10}  {resolved:>8}  {score:>6}  {quiet:>22}"
                  + (f"  {error}" if error else ""))
        print(f"  {len(rows)} scenarios in {total:.0f} s ({sum(r[3] == 'yes' for r in rows)} resolved)")
    return 1 if failed else 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (("one", "median wall time and phases of one scenario"),
                            ("catalog", "wall time, resolution and score of every scenario")):
        command = sub.add_parser(name, help=help_text)
        command.add_argument("--agent", default="reference", help="the agent (CHAOSITBENCH_AGENT; default reference)")
        command.add_argument("--settings", type=lambda text: text.split(","),
                             default=["fast", "default"] if name == "one" else ["fast"],
                             help=f"comma-separated settings among {', '.join(SETTINGS)}")
        command.add_argument("--experiments", type=Path, default=ROOT / "experiments",
                             help="the experiments directory (default: experiments/ of this repository)")
    sub.choices["one"].add_argument("--scenario", default="netpol")
    sub.choices["one"].add_argument("--runs", type=int, default=3)
    sub.choices["catalog"].add_argument("--scenarios", type=lambda text: [s for s in text.split(",") if s],
                                        help="comma-separated scenario ids (default: every experiment)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    unknown = [name for name in args.settings if name not in SETTINGS]
    if unknown:
        print(f"scenario_bench: unknown setting(s) {', '.join(unknown)}; known: {', '.join(SETTINGS)}",
              file=sys.stderr)
        return 2
    return one(args) if args.command == "one" else catalog(args)


if __name__ == "__main__":
    raise SystemExit(main())
