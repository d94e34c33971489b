"""``chaositbench bench``: the command line of the bench."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .plan import PlanError, experiments_in, plan
from .report import render_html, table
from .results import aggregate
from .runner import Runner

DEFAULT_EXPERIMENTS = Path(__file__).resolve().parent.parent.parent / "experiments"


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``bench`` to the ``chaositbench`` command line."""
    bench = sub.add_parser("bench", help="run scenarios × agents × repeats in parallel; write results and a report",
                           description="Run every scenario with every agent, REPEAT times, WORKERS at a time "
                                       "(each a `chaos run` on its own embedded cluster unless the environment "
                                       "chooses a real one); write OUT/results.json and OUT/report.html and print "
                                       "the summary table.")
    bench.add_argument("--agent", action="append", required=True,
                       help="an agent (reference, noop, restart-all, command:..., openai:...); repeat for several")
    bench.add_argument("--experiments", type=Path, default=DEFAULT_EXPERIMENTS,
                       help=f"directory of experiments (default: {DEFAULT_EXPERIMENTS})")
    bench.add_argument("--scenario", action="append", help="only this scenario id; repeat for several")
    bench.add_argument("--repeat", type=int, default=1, help="runs per scenario and agent (pass^k uses them)")
    bench.add_argument("--workers", type=int, default=1, help="runs in parallel (each starts its own cluster)")
    bench.add_argument("--out", type=Path, required=True, help="output directory (must not hold a bench already)")


def run(args: argparse.Namespace) -> int:
    """Plan, run, aggregate and report; returns the exit code (2: the bench cannot be planned)."""
    try:
        if (args.out / "runs").exists() or (args.out / "results.json").exists():
            raise PlanError(f"{args.out} already holds a bench; choose another --out")
        if args.workers < 1:
            raise PlanError(f"--workers must be 1 or more, not {args.workers}")
        runs = plan(experiments_in(args.experiments, args.scenario), args.agent, args.repeat, args.out)
    except PlanError as exc:
        print(f"chaositbench bench: {exc}", file=sys.stderr)
        return 2
    print(f"chaositbench bench: {len(runs)} runs ({len({r.scenario for r in runs})} scenarios × "
          f"{len(args.agent)} agents × {args.repeat}), {args.workers} at a time", file=sys.stderr)
    results = aggregate(args.agent, Runner(args.workers).run_all(runs), args.repeat)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.out / "report.html").write_text(render_html(results, args.out.resolve()))
    print(table(results))
    print(f"\nresults: {args.out / 'results.json'}\nreport:  {args.out / 'report.html'}")
    return 0
