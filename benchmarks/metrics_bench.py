#!/usr/bin/env python3
"""What one scrape of the simulated cluster's metrics costs, with N pods.

Builds a :class:`~chaositbench.sim.cluster.Cluster` (no HTTP, no controllers)
holding N running pods with declared needs on 10 nodes, behind N/10 Services
in a chain of edge → backend → database dependencies, and times each scrape
target's full render (model evaluation plus exposition text): kube-state-metrics,
one node's cAdvisor, the request (RED) metrics and a ``metrics.k8s.io`` list of
every pod. Prints median / max milliseconds per scrape and the size of the
answer; writes JSON to ``--out`` (default ``benchmarks/results/metrics_bench.json``).

Usage: ``python benchmarks/metrics_bench.py [--pods 100 1000] [--runs 10] [--out PATH]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable

import yaml

from chaositbench.sim import clock
from chaositbench.sim.behaviour.needs import ANNOTATION
from chaositbench.sim.cluster import Cluster
from chaositbench.sim.metrics import ClusterMetrics
from chaositbench.sim.metrics.exposition import render

NODES = 10
PER_SERVICE = 10


def _pod(namespace: str, name: str, app: str, needs: dict[str, Any], node: str) -> dict[str, Any]:
    started = clock.rfc3339(clock.now() - timedelta(minutes=5))
    return {"metadata": {"name": name, "namespace": namespace, "uid": f"{namespace}-{name}", "labels": {"app": app},
                         "annotations": {ANNOTATION: yaml.safe_dump({"app": needs})}},
            "spec": {"nodeName": node, "containers": [{"name": "app", "image": "registry.example/app:1", "resources": {
                "limits": {"memory": "256Mi", "cpu": "500m"}, "requests": {"memory": "128Mi", "cpu": "100m"}}}]},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                       "containerStatuses": [{"name": "app", "ready": True, "restartCount": 0,
                                              "state": {"running": {"startedAt": started}},
                                              "containerID": f"containerd://{namespace}{name}"}]}}


def populate(cluster: Cluster, pods: int) -> None:
    """``pods`` running pods: groups of three Services (edge → api → db) of PER_SERVICE pods each."""
    http = [{"port": 8080, "paths": {"/": 200}}]
    roles = [("edge", {"listen": http, "load": {"rps": 50}, "dependencies": [{"host": "api", "port": 80}]}),
             ("api", {"listen": http, "dependencies": [{"host": "db", "port": 5432}]}),
             ("db", {"listen": [{"port": 5432}]})]
    for i in range(pods):
        group, member = divmod(i, PER_SERVICE)
        namespace = f"bench-{group // len(roles):03d}"
        role, needs = roles[group % len(roles)]
        if member == 0:
            if cluster.store.get("/namespaces", "", namespace) is None:
                cluster.store.put("/namespaces", {"metadata": {"name": namespace, "uid": namespace}}, "ADDED")
            meta = {"name": role, "namespace": namespace, "uid": f"{namespace}-{role}"}
            cluster.store.put("/services", {"metadata": meta, "spec": {"selector": {"app": role},
                                                                       "ports": [{"port": 80}]}}, "ADDED")
        node = "chaositbench-worker" if i % NODES == 0 else f"bench-node-{i % NODES}"
        cluster.store.put("/pods", _pod(namespace, f"{role}-{member}", role, needs, node), "ADDED")


def measure(fn: Callable[[], str], runs: int) -> dict[str, float]:
    times, size = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        size = len(fn())
        times.append((time.perf_counter() - started) * 1000)
    return {"median_ms": statistics.median(times), "max_ms": max(times), "bytes": size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--out", default="benchmarks/results/metrics_bench.json")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    print(f"{'pods':>6}  {'target':<28} {'median ms':>10} {'max ms':>10} {'bytes':>10}")
    for count in args.pods:
        cluster = Cluster()
        populate(cluster, count)
        metrics = ClusterMetrics(cluster)
        targets = {
            "kube-state-metrics": lambda: render(metrics.state()),
            "cadvisor (one node)": lambda: render(metrics.cadvisor("chaositbench-worker")),
            "request metrics": lambda: render(metrics.http()),
            "metrics.k8s.io pods (all)": lambda: json.dumps(metrics.list_pod_metrics(None)),
        }
        results[str(count)] = {}
        for name, fn in targets.items():
            result = results[str(count)][name] = measure(fn, args.runs)
            print(f"{count:>6}  {name:<28} {result['median_ms']:>10.1f} {result['max_ms']:>10.1f} "
                  f"{result['bytes']:>10}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
