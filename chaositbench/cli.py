"""The ``chaositbench`` command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path

from chaoslib.exceptions import ActivityFailed

from .agent import cli as agent_cli
from .bench import cli as bench_cli
from .apps import APPS, AppError
from .catalog import load_fault
from .experiment import render
from .sim.prometheus import PrometheusError
from .sim.server import serve_forever


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chaositbench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sim = sub.add_parser("sim", help="the embedded simulated Kubernetes cluster")
    sim_sub = sim.add_subparsers(dest="sim_command", required=True)
    serve = sim_sub.add_parser("serve", help="serve a simulated cluster until SIGINT/SIGTERM")
    serve.add_argument("--kubeconfig", required=True, help="where to write the admin kubeconfig once ready")
    serve.add_argument("--port", type=int, default=0, help="port to listen on (default: a free one)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    serve.add_argument("--app", choices=["none", *sorted(APPS)], default="none",
                       help="application to deploy at start; the kubeconfig is written once it is healthy "
                            "(demo: the chart helm/chaositbench-demo)")
    serve.add_argument("--time-scale", type=float, default=1.0,
                       help="multiply simulated delays (start-up, back-off); <1 is faster than reality")
    serve.add_argument("--prometheus", action="store_true",
                       help="also start the real Prometheus (apt-get install prometheus) scraping the cluster "
                            "and print its URL")
    experiment = sub.add_parser("experiment", help="Chaos Toolkit experiments of the fault catalog")
    experiment_sub = experiment.add_subparsers(dest="experiment_command", required=True)
    new = experiment_sub.add_parser("new", help="write the experiment of a catalog fault (actions/<fault>.yaml)")
    new.add_argument("fault", help="the fault's id")
    new.add_argument("--out", help="where to write it (default: experiments/<fault>.json; - for stdout)")
    agent_cli.add_commands(sub)
    bench_cli.add_commands(sub)
    return parser


def _new_experiment(fault_id: str, out: str | None) -> int:
    try:
        fault = load_fault(fault_id)
    except ActivityFailed as exc:
        print(f"chaositbench: {exc}", file=sys.stderr)
        return 1
    text = json.dumps(render(fault), indent=2) + "\n"
    if out == "-":
        sys.stdout.write(text)
        return 0
    path = Path(out) if out else fault.path.parent.parent / "experiments" / f"{fault.id}.json"
    path.write_text(text)
    print(f"chaositbench: wrote {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "agent":
        return agent_cli.run(args)
    if args.command == "bench":
        return bench_cli.run(args)
    if args.command == "experiment":
        return _new_experiment(args.fault, args.out)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.command == "sim" and args.sim_command == "serve":
        if args.time_scale <= 0:
            print("chaositbench: --time-scale must be greater than 0", file=sys.stderr)
            return 2
        try:
            asyncio.run(serve_forever(args.kubeconfig, host=args.host, port=args.port, time_scale=args.time_scale,
                                      announce=lambda msg: print(msg, flush=True), app=args.app,
                                      prometheus=args.prometheus))
        except PrometheusError as exc:
            print(f"chaositbench: {exc}", file=sys.stderr)
            return 1
        except OSError as exc:
            print(f"chaositbench: cannot serve on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
            return 1
        except AppError as exc:
            print(f"chaositbench: app {args.app}: {exc}", file=sys.stderr)
            return 1
        return 0
    return 2
