"""One game-day drill (the chaositbench-gameday chart's CronJob).

Mode ``run``: ``chaos run`` of each scenario of ``DRILL_SCENARIOS`` (one per line) against the
cluster this pod runs in, with the agent of ``CHAOSITBENCH_AGENT``; mode ``bench``: one
``chaositbench bench`` over the scenarios and ``DRILL_AGENTS``. Results go to
``$DRILL_RESULTS/<UTC time>/`` and every score is printed. Exits 1 only when a scenario produced
no score (the cluster, the image or the RBAC is at fault, not the agent).

The job's deadline (or a deleted pod) sends SIGTERM: it is passed on as SIGINT, on which
``chaos`` and the bench stop the agent and still run the rollbacks, and the drill waits for
them (within the pod's terminationGracePeriodSeconds) and starts no further scenario.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from chaositbench.sim.children import sigint_default

stopping = False


def run(argv: list[str], env: dict[str, str]) -> int:
    """Run ``argv`` to its end, passing SIGTERM/SIGINT on to it as SIGINT."""
    child = subprocess.Popen(argv, env=env, preexec_fn=sigint_default)  # even if this script ignores SIGINT

    def interrupt(signum: int, frame: FrameType | None) -> None:
        global stopping
        stopping = True
        child.send_signal(signal.SIGINT)

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)
    try:
        return child.wait()
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)


def lines(name: str) -> list[str]:
    return [line for line in os.environ[name].splitlines() if line.strip()]


def bench(out: Path, experiments: str) -> int:
    argv = ["chaositbench", "bench", "--experiments", experiments, "--repeat", os.environ["DRILL_REPEAT"],
            "--workers", "1", "--out", str(out / "bench")]  # one run at a time: every run uses this cluster
    argv += [arg for scenario in lines("DRILL_SCENARIOS") for arg in ("--scenario", scenario)]
    argv += [arg for agent in lines("DRILL_AGENTS") for arg in ("--agent", agent)]
    run(argv, dict(os.environ))
    results = out / "bench" / "results.json"
    if not results.is_file():
        print("no bench results written", file=sys.stderr)
        return 1
    print(results.read_text(), flush=True)
    return 0


def scenarios(out: Path, experiments: str) -> int:
    status = 0
    for scenario in lines("DRILL_SCENARIOS"):
        if stopping:
            print(f"== {scenario}: not started (the drill was stopped)", file=sys.stderr)
            status = 1
            continue
        directory = out / scenario
        directory.mkdir(parents=True)
        score = directory / "score.json"
        print(f"== {scenario} (agent {os.environ['CHAOSITBENCH_AGENT']})", flush=True)
        env = {**os.environ, "CHAOSITBENCH_RUN_DIR": str(directory / "run"), "CHAOSITBENCH_SCORE_PATH": str(score)}
        run(["chaos", "--log-file", str(directory / "chaostoolkit.log"), "run", "--journal-path",
             str(directory / "journal.json"), f"{experiments}/{scenario}.json"], env)
        if score.is_file():
            print(f"== score of {scenario}:\n{score.read_text()}", flush=True)
        else:
            print(f"== {scenario} produced no score (see {directory / 'chaostoolkit.log'})", file=sys.stderr)
            status = 1
    return status


def main() -> int:
    out = Path(os.environ["DRILL_RESULTS"]) / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out.mkdir(parents=True)
    mode, experiments = os.environ["DRILL_MODE"], os.environ["DRILL_EXPERIMENTS"]
    print(f"chaositbench game day: mode {mode}, scenarios {', '.join(lines('DRILL_SCENARIOS'))}, results in {out}",
          flush=True)
    return bench(out, experiments) if mode == "bench" else scenarios(out, experiments)


if __name__ == "__main__":
    sys.exit(main())
