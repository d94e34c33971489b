"""Benchmark of the behaviour model: demo app start, memory, and time from a fault to its visible symptom.

Runs ``chaositbench sim serve --app demo`` as a subprocess (as users run it) and drives it with
the real kubectl: for each fault, the wall time from the change to the symptom as ``kubectl``
shows it, and from the repair to recovery. Not a test: run it by hand and read the table.

    .venv/bin/python benchmarks/behaviour_bench.py [--time-scale 1.0]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from chaositbench.sim.server import SimProcess

KUBECTL = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or "kubectl"


def kubectl(config: Path, *args: str, stdin: str | None = None) -> str:
    return subprocess.run([KUBECTL, "--kubeconfig", str(config), "--cache-dir", str(config.parent / "cache"), *args],
                          input=stdin, capture_output=True, text=True, check=True).stdout


def timed(condition: Callable[[], bool], limit_s: float = 300.0) -> float:
    """Seconds until ``condition`` holds (polled every 0.1 s)."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > limit_s:
            raise TimeoutError(f"not reached within {limit_s:.0f}s")
        time.sleep(0.1)
    return time.monotonic() - start


def ready_count(config: Path, namespace: str, selector: str) -> int:
    pods = json.loads(kubectl(config, "get", "pods", "-n", namespace, "-l", selector, "-o", "json"))["items"]
    return sum(1 for p in pods if any(c["type"] == "Ready" and c["status"] == "True"
                                      for c in p["status"].get("conditions", [])))


def waiting_reasons(config: Path, namespace: str, selector: str) -> set[str]:
    pods = json.loads(kubectl(config, "get", "pods", "-n", namespace, "-l", selector, "-o", "json"))["items"]
    reasons = set()
    for pod in pods:
        for status in pod["status"].get("containerStatuses", []):
            for state in (status.get("state", {}), status.get("lastState", {})):
                for detail in state.values():
                    reasons.add(detail.get("reason", ""))
    return reasons


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-scale", type=float, default=1.0)
    args = parser.parse_args()
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as work:
        config = Path(work) / "kubeconfig"
        started = time.monotonic()
        with SimProcess(config, app="demo", time_scale=args.time_scale) as sim:
            rows.append(("sim serve --app demo: start to healthy app", f"{time.monotonic() - started:.1f} s"))
            assert sim.process is not None
            rows.append(("RSS of sim serve with the demo app", f"{rss_mib(sim.process.pid):.0f} MiB"))

            policy = json.loads(kubectl(config, "get", "networkpolicy", "-n", "data", "postgres-ingress", "-o", "json"))
            kubectl(config, "delete", "networkpolicy", "-n", "data", "postgres-ingress")
            payment = "app.kubernetes.io/name=payment"
            rows.append(("NetworkPolicy removed -> payment not Ready",
                         f"{timed(lambda: ready_count(config, 'payments', payment) == 0):.1f} s"))
            for key in ("resourceVersion", "uid", "creationTimestamp", "managedFields", "generation"):
                policy["metadata"].pop(key, None)
            kubectl(config, "apply", "-f", "-", stdin=json.dumps(policy))
            rows.append(("policy restored -> payment Ready again",
                         f"{timed(lambda: ready_count(config, 'payments', payment) == 2):.1f} s"))

            inventory = "app.kubernetes.io/name=inventory"
            kubectl(config, "set", "resources", "deployment/inventory", "-n", "shop", "--limits=memory=32Mi", "--requests=memory=16Mi")
            rows.append(("memory limit lowered -> OOMKilled shown",
                         f"{timed(lambda: 'OOMKilled' in waiting_reasons(config, 'shop', inventory)):.1f} s"))
            kubectl(config, "rollout", "undo", "deployment/inventory", "-n", "shop")
            rows.append(("rollout undo -> inventory Ready again",
                         f"{timed(lambda: ready_count(config, 'shop', inventory) >= 2):.1f} s"))
    width = max(len(name) for name, _ in rows)
    print(f"behaviour model benchmark (time scale {args.time_scale})")
    for name, value in rows:
        print(f"  {name:<{width}}  {value:>10}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
