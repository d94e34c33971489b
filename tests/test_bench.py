"""``chaositbench bench``: planning, the DESIGN §3 aggregates (pass^k), the report, and real runs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from chaositbench.bench.plan import PlanError, experiments_in, plan
from chaositbench.bench.report import render_html, table
from chaositbench.bench.results import aggregate, pass_hat_k
from chaositbench.bench.runner import Runner

ROOT = Path(__file__).resolve().parent.parent
CHAOSITBENCH = str(Path(sys.executable).parent / "chaositbench")
needs_prometheus = pytest.mark.skipif(shutil.which("prometheus") is None, reason="needs the prometheus binary")


def _scored(scenario: str, agent: str, resolved: bool, score: float, repeat: int = 1) -> dict:
    value = 1.0 if resolved else 0.0
    return {"scenario": scenario, "agent": agent, "repeat": repeat, "valid": True, "resolved": resolved,
            "score": score, "wall_time_s": 10.0,
            "criteria": {"diagnosis": value, "blast_radius": 1.0, "resolution": value, "tool_use": 0.5,
                         "time_efficiency": value}}


def test_pass_hat_k_is_the_chance_that_k_runs_all_resolve() -> None:
    outcomes = {"a": [True, True, False], "b": [False, False, False]}
    assert pass_hat_k(outcomes, 1) == pytest.approx((2 / 3 + 0) / 2, abs=1e-4)
    assert pass_hat_k(outcomes, 2) == pytest.approx((1 / 3 + 0) / 2, abs=1e-4)
    assert pass_hat_k(outcomes, 3) == 0.0
    assert pass_hat_k(outcomes, 4) is None
    assert pass_hat_k({"a": [True, True]}, 2) == 1.0


def test_aggregate_leaves_invalid_runs_out_of_every_rate() -> None:
    runs = [_scored("netpol", "reference", True, 99.0, 1), _scored("netpol", "reference", False, 40.0, 2),
            {"scenario": "netpol", "agent": "reference", "repeat": 3, "valid": False, "reason": "unhealthy baseline",
             "wall_time_s": 5.0},
            _scored("netpol", "noop", False, 20.0)]
    results = aggregate(["reference", "noop"], runs, 3)
    reference, noop = results["agents"]
    assert reference["agent"] == "reference" and results["runs"] == runs
    assert (reference["runs"], reference["valid_runs"], reference["invalid_runs"]) == (3, 2, 1)
    assert reference["resolution_rate"] == 0.5 and reference["mean_score"] == 69.5
    assert reference["criteria"]["diagnosis"] == 0.5 and reference["criteria"]["blast_radius"] == 1.0
    assert reference["pass_k"] == {"1": 0.5, "2": 0.0, "3": None}
    assert noop["resolution_rate"] == 0.0 and noop["pass_k"]["1"] == 0.0
    lines = table(results).splitlines()
    assert lines[0].split() == ["agent", "valid/runs", "resolved", "mean", "score", "diag", "blast", "resol",
                                "tools", "time", "pass^1", "pass^2", "pass^3"]
    assert lines[2].split()[:4] == ["reference", "2/3", "50%", "69.5"]


def test_the_report_escapes_what_agents_and_runs_say(tmp_path: Path) -> None:
    runs = [_scored("netpol", "command:./a.sh <x>", True, 90.0),
            {"scenario": "netpol", "agent": "command:./a.sh <x>", "repeat": 2, "valid": False,
             "reason": "<script>alert(1)</script>", "wall_time_s": 1.0, "journal": str(tmp_path / "j.json")}]
    page = render_html(aggregate(["command:./a.sh <x>"], runs, 2), tmp_path)
    assert "<script>" not in page and "&lt;script&gt;" in page and "command:./a.sh &lt;x&gt;" in page
    assert '<a href="j.json">journal</a>' in page and "1/1 resolved" in page


def test_planning_refuses_what_cannot_run(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="does not exist"):
        experiments_in(tmp_path / "nope")
    with pytest.raises(PlanError, match=r"no experiments \(\*.json\)"):
        experiments_in(tmp_path)
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(PlanError, match="bad.json: not a readable JSON experiment"):
        experiments_in(tmp_path)
    with pytest.raises(PlanError, match=r"unknown scenario\(s\) nope .*known: .*disk-pressure"):
        experiments_in(ROOT / "experiments", ["nope"])
    netpol = experiments_in(ROOT / "experiments", ["netpol"])
    with pytest.raises(PlanError, match="same --agent is given twice"):
        plan(netpol, ["noop", "noop"], 1, tmp_path)
    with pytest.raises(PlanError, match="would share an output directory"):
        plan(netpol, ["command:a b", "command:a-b"], 1, tmp_path)
    with pytest.raises(PlanError, match="--repeat must be 1 or more"):
        plan(netpol, ["noop"], 0, tmp_path)
    with pytest.raises(PlanError, match="unknown agent 'bogus': choose one of"):
        plan(netpol, ["noop", "bogus"], 1, tmp_path)
    runs = plan(netpol, ["reference", "command:./agent.sh --fast"], 2, tmp_path)
    assert [(r.agent, r.repeat) for r in runs] == [("reference", 1), ("command:./agent.sh --fast", 1),
                                                   ("reference", 2), ("command:./agent.sh --fast", 2)]
    assert runs[1].directory == tmp_path / "runs" / "netpol" / "command-.-agent.sh-fast" / "1"


def test_the_cli_names_a_bad_argument_without_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "out" / "runs").mkdir(parents=True)
    for args, message in [(["--scenario", "nope"], "unknown scenario(s) nope"),
                          (["--workers", "0"], "--workers must be 1 or more"),
                          (["--out", str(tmp_path / "out")], "already holds a bench")]:
        argv = [CHAOSITBENCH, "bench", "--agent", "noop", "--out", str(tmp_path / "fresh"), *args]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "fresh").exists()


def _env(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "CHAOSITBENCH_SIM_TIME_SCALE": "0.1", "CHAOSITBENCH_SETTLE_S": "3"}
    for key in ("CHAOSITBENCH_AGENT", "CHAOSITBENCH_CLUSTER", "CHAOSITBENCH_SCORE_PATH", "CHAOSITBENCH_RUN_DIR"):
        env.pop(key, None)
    return env


def _sim_processes(marker: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().decode(errors="replace")
        except OSError:
            continue
        if marker in text:
            found.append(text)
    return found


@needs_prometheus
def test_a_real_bench_writes_results_and_report(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = subprocess.run([CHAOSITBENCH, "bench", "--agent", "noop", "--scenario", "oomkilled", "--out", str(out)],
                          capture_output=True, text=True, timeout=300, env=_env(tmp_path), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[1/1] oomkilled × noop #1: not resolved · score 20.0" in done.stderr
    results = json.loads((out / "results.json").read_text())
    (agent,) = results["agents"]
    assert agent["agent"] == "noop" and agent["resolution_rate"] == 0.0 and agent["pass_k"] == {"1": 0.0}
    (run,) = results["runs"]
    assert run["scenario"] == "oomkilled" and run["valid"] is True and run["resolved"] is False
    assert Path(run["journal"]).exists() and Path(run["trajectory"]).exists()
    assert "oomkilled" in (out / "report.html").read_text()
    assert done.stdout.splitlines()[2].split()[:3] == ["noop", "1/1", "0%"]


@needs_prometheus
def test_a_run_past_its_time_limit_is_interrupted_released_and_reported(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAOSITBENCH_SIM_TIME_SCALE", "0.1")
    monkeypatch.setenv("CHAOSITBENCH_SETTLE_S", "3")  # the end snapshot's settle polling precedes the rollback
    (run,) = plan(experiments_in(ROOT / "experiments", ["netpol"]), ["noop"], 1, tmp_path)
    (result,) = Runner(1, limit=lambda _: 15.0).run_all([run])
    assert result["valid"] is False and result["reason"] == "chaos run did not finish within 15 s"
    kubeconfig = json.loads((run.directory / "run" / "target.json").read_text())["kubeconfig"]
    assert not Path(kubeconfig).parent.exists() and not _sim_processes(kubeconfig)
