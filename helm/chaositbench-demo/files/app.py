"""The chaositbench demo program: a small stdlib service that honours its pod's declared needs.

Every component of the demo chart runs this one file in a stock Python image. It
reads the pod's ``chaositbench.io/needs`` annotation (mounted by the downward API
as ``key="value"`` lines), takes the entry of its own container (or the
annotation ``needs.chaositbench.io/<container>`` when the pod has one), and behaves as
the simulated cluster's behaviour model says such a container behaves:

* at start it prints its startup log lines, then checks the required
  environment variables (presence, ``oneOf``, ``pattern`` matching the whole
  value) and files (``requiredKeys``, dotted for nested keys); the first
  violation prints one ``FATAL:`` line naming it — the line the simulated
  cluster logs — and exits 1;
* it keeps its declared memory working set resident (plus any growth per
  minute), writes its declared ephemeral storage under /tmp, and burns its
  declared CPU;
* after ``startupSeconds`` it listens on each declared port: an HTTP server answering the declared paths when it has
  paths, a plain TCP listener otherwise;
* every two seconds, and on each request to its readiness path, it connects
  (TCP, with the dependency's timeout) to each dependency; while a required one
  is unreachable every declared path answers 502 and, if the dependency is one
  its readiness checks (``readiness``, default ``required``), the readiness path 503, and the failure is logged naming host:port. A dependency whose packets
  are dropped makes the readiness request itself last its timeout, so a probe
  with a shorter or equal timeout fails with a timeout, as on the simulated
  cluster. The liveness path answers
  200 while the process lives;
* on each request to its readiness path it makes its declared Kubernetes API
  requests (``kubernetesApi``) with its ServiceAccount token: while the API
  server denies one (403), the readiness path answers 503 and the API's message
  is logged (``ERROR kubernetes API: configmaps "x" is forbidden: ...``). Only
  reads of core-group resources (``get``, ``list``) are made; other requests
  are not checked on a real cluster (the simulated one authorizes them all).

With ``--once`` (an init container's job) it exits 0 once the checks pass and
its start-up time is over.

Usage: app.py --container NAME --needs FILE [--liveness-path P] [--readiness-path P] [--once]
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import signal
import socket
import socketserver
import ssl
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ANNOTATION = "chaositbench.io/needs"
CONTAINER_ANNOTATION_PREFIX = "needs.chaositbench.io/"
BINARY_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
DECIMAL_UNITS = {"k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
PAGE = 4096
CHECK_INTERVAL_S = 2.0
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def log(line: str) -> None:
    print(line, flush=True)


def fatal(message: str) -> None:
    """Print the one line the behaviour model also logs, and exit 1 as a crashing program does."""
    log(f"FATAL: {message}")
    sys.exit(1)


def quantity_bytes(value: Any) -> int:
    """Bytes of a Kubernetes quantity such as ``96Mi`` or ``1G``."""
    text = str(value).strip()
    for units in (BINARY_UNITS, DECIMAL_UNITS):
        for suffix, factor in units.items():
            if text.endswith(suffix):
                return int(float(text[: -len(suffix)]) * factor)
    return int(float(text or 0))


def cpu_millis(value: Any) -> int:
    """Millicores of a CPU quantity such as ``50m`` or ``1``."""
    text = str(value).strip()
    return int(text[:-1]) if text.endswith("m") else int(float(text) * 1000)


def read_needs(path: str, container: str) -> dict[str, Any]:
    """This container's declaration from a downward-API annotations file (``key="escaped value"`` lines):
    its own annotation when there is one, else its entry of the pod-wide one."""
    pod_wide: dict[str, Any] = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            key, _, quoted = line.rstrip("\n").partition("=")
            if key == CONTAINER_ANNOTATION_PREFIX + container:
                return json.loads(ast.literal_eval(quoted)) or {}
            if key == ANNOTATION:
                pod_wide = json.loads(ast.literal_eval(quoted)).get(container) or {}
    return pod_wide


def check_env(needs: dict[str, Any]) -> None:
    for need in needs.get("env") or []:
        name = need["name"]
        value = os.environ.get(name)
        if not value:
            if need.get("required", True):
                fatal(f"required environment variable {name} is not set")
            continue
        one_of = [str(v) for v in need.get("oneOf") or []]
        if one_of and value not in one_of:
            fatal(f'{name}="{value}" is not one of [{" ".join(one_of)}]')
        pattern = need.get("pattern")
        if pattern and not re.fullmatch(pattern, value):
            fatal(f'{name}="{value}" does not match pattern {pattern}')


def config_keys(text: str) -> set[str]:
    """The (dotted) keys of a YAML mapping written in block style, or of ``key=value`` lines."""
    keys: set[str] = set()
    stack: list[tuple[int, str]] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = re.match(r"^(\s*)([^:=#\s][^:=]*?)\s*[:=]", line)
        if not match:
            continue
        indent = len(match.group(1))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        key = ".".join([parent for _, parent in stack] + [match.group(2).strip("'\"")])
        keys.add(key)
        stack.append((indent, match.group(2).strip("'\"")))
    return keys


def check_files(needs: dict[str, Any]) -> None:
    for need in needs.get("files") or []:
        path = need["path"]
        try:
            with open(path, encoding="utf-8") as handle:
                keys = config_keys(handle.read())
        except FileNotFoundError:
            fatal(f"open {path}: no such file or directory")
        except OSError as exc:
            fatal(f"open {path}: {(exc.strerror or str(exc)).lower()}")
        for key in need.get("requiredKeys") or []:
            if key not in keys:
                fatal(f'{path}: required key "{key}" is missing')


def resident_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as handle:
        return int(handle.read().split()[1]) * PAGE


def touched(size: int) -> bytearray:
    """A buffer of ``size`` bytes with every page written, so it counts in the working set."""
    block = bytearray(size)
    for offset in range(0, size, PAGE):
        block[offset] = 1
    return block


class Consumer:
    """Holds the declared memory and storage and burns the declared CPU, growing both as declared."""

    def __init__(self, needs: dict[str, Any], scratch: str) -> None:
        memory = needs.get("memory") or {}
        storage = needs.get("ephemeralStorage") or {}
        self.memory = [touched(max(0, quantity_bytes(memory.get("workingSet", "32Mi")) - resident_bytes()))]
        self.memory_growth = quantity_bytes(memory.get("growthPerMinute", 0))
        self.scratch = scratch
        self.storage_growth = quantity_bytes(storage.get("writesPerMinute", 0))
        self.cpu_share = min(0.9, cpu_millis((needs.get("cpu") or {}).get("usage", "10m")) / 1000)
        self._write(quantity_bytes(storage.get("usage", 0)))

    def _write(self, size: int) -> None:
        if size <= 0:
            return
        with open(self.scratch, "ab") as handle:
            for offset in range(0, size, 2**20):
                handle.write(b"\0" * min(2**20, size - offset))

    def run(self) -> None:
        """Each second: grow memory and storage by a sixtieth of their per-minute rates; burn CPU."""
        while True:
            started = time.monotonic()
            if self.memory_growth:
                self.memory.append(touched(self.memory_growth // 60))
            self._write(self.storage_growth // 60)
            while time.monotonic() - started < self.cpu_share:
                pass
            time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))


class Dependencies:
    """The reachability of each declared dependency, refreshed by TCP connects."""

    def __init__(self, declared: list[dict[str, Any]]) -> None:
        self.declared = declared
        self.errors: dict[str, str] = {}
        self.lock = threading.Lock()

    def check_once(self) -> None:
        for dep in self.declared:
            target = f"{dep['host']}:{dep['port']}"
            try:
                with socket.create_connection((dep["host"], int(dep["port"])),
                                              timeout=float(dep.get("timeoutSeconds", 2))):
                    error = ""
            except socket.timeout:
                error = f"dial tcp {target}: i/o timeout"
            except ConnectionRefusedError:
                error = f"dial tcp {target}: connect: connection refused"
            except OSError as exc:
                error = f"dial tcp {target}: {exc.strerror or exc}"
            with self.lock:
                previous = self.errors.get(dep["name"])
                if error and error != previous:
                    log(f"error: cannot reach {dep['name']}: {error}")
                elif not error and previous:
                    log(f"connected to {dep['name']} at {target}")
                if error:
                    self.errors[dep["name"]] = error
                else:
                    self.errors.pop(dep["name"], None)

    def run(self) -> None:
        while True:
            self.check_once()
            time.sleep(CHECK_INTERVAL_S)

    def blocking(self, readiness: bool = False) -> list[str]:
        """Errors of the required dependencies that are unreachable now (for the readiness path: only
        those it checks, ``readiness`` defaulting to ``required``)."""
        with self.lock:
            return [f"{dep['name']}: {self.errors[dep['name']]}" for dep in self.declared
                    if dep.get("required", True) and (not readiness or dep.get("readiness", dep.get("required", True)))
                    and dep["name"] in self.errors]


class KubernetesApi:
    """The declared Kubernetes API reads, made with the pod's ServiceAccount token."""

    def __init__(self, declared: list[dict[str, Any]]) -> None:
        self.reads = [r for r in declared if not r.get("group") and r.get("verb") in ("get", "list")]
        self.logged: set[str] = set()

    def _url(self, request: dict[str, Any]) -> str:
        host = os.environ.get("KUBERNETES_SERVICE_HOST", "kubernetes.default.svc")
        port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
        path = f"/api/v1/namespaces/{request['namespace']}/{request['resource']}"
        if request["verb"] == "get" and request.get("name"):
            path += f"/{request['name']}"
        return f"https://{host}:{port}{path}"

    def denials(self) -> list[str]:
        """The API server's messages for the declared reads it refuses now (logged once each)."""
        if not self.reads:
            return []
        try:
            with open(f"{SERVICE_ACCOUNT_DIR}/token") as handle:
                token = handle.read().strip()
            context = ssl.create_default_context(cafile=f"{SERVICE_ACCOUNT_DIR}/ca.crt")
        except OSError as exc:
            return [f"no ServiceAccount token: {exc}"]
        found = []
        for request in self.reads:
            call = urllib.request.Request(self._url(request), headers={"Authorization": f"Bearer {token}"})
            try:
                with urllib.request.urlopen(call, context=context, timeout=2):
                    continue
            except urllib.error.HTTPError as exc:
                if exc.code != 403:
                    continue
                try:
                    found.append(str(json.loads(exc.read()).get("message", "forbidden")))
                except ValueError:
                    found.append("forbidden")
            except OSError:
                continue  # reaching the API server is not what this checks
        for message in found:
            if message not in self.logged:
                log(f"ERROR kubernetes API: {message}")
        self.logged = set(found)
        return found


def duration_seconds(value: Any) -> float:
    """Seconds of a declared duration (``5ms``, ``0.2s`` or a number of seconds)."""
    text = str(value).strip()
    return float(text[:-2]) / 1000 if text.endswith("ms") else float(text.rstrip("s") or 0)


def burn(seconds: float) -> None:
    """Spend ``seconds`` of this thread's CPU time (a request's declared cost)."""
    until = time.thread_time() + seconds
    while time.thread_time() < until:
        pass


def http_handler(paths: dict[str, int], liveness: str | None, readiness: str | None,
                 deps: Dependencies, cost: float, api: KubernetesApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "chaositbench-demo"

        def _answer(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == readiness:
                deps.check_once()  # as the request comes, so a dependency's timeout can outlast the probe's
            blocking = deps.blocking()
            if path == liveness:
                code, body = 200, "ok"
            elif path == readiness:
                checked = deps.blocking(readiness=True) + api.denials()
                code, body = (503, "not ready: " + "; ".join(checked)) if checked else (200, "ready")
            elif path in paths:
                burn(cost)
                code, body = (502, "bad gateway: " + "; ".join(blocking)) if blocking else (paths[path], "ok")
                log(f"{self.command} {path} {code}")
            else:
                code, body = 404, "not found"
            data = (body + "\n").encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_POST = do_HEAD = _answer

        def log_message(self, format: str, *args: Any) -> None:
            """Requests are logged by ``_answer`` (probes are not logged, as most services do)."""

    return Handler


class TCPListener(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class Accept(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        """Accept the connection and close it: enough for tcpSocket probes and dependency checks."""


def serve(listener: dict[str, Any], args: argparse.Namespace, deps: Dependencies, cost: float,
          api: KubernetesApi) -> None:
    port = int(listener["port"])
    paths = {str(p): int(code) for p, code in (listener.get("paths") or {}).items()}
    server: socketserver.BaseServer
    if paths:
        server = ThreadingHTTPServer(("", port), http_handler(paths, args.liveness_path, args.readiness_path, deps,
                                                                    cost, api))
        server.daemon_threads = True
    else:
        server = TCPListener(("", port), Accept)
    threading.Thread(target=server.serve_forever, name=f"listen:{port}", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--container", required=True)
    parser.add_argument("--needs", required=True, help="downward-API annotations file")
    parser.add_argument("--liveness-path")
    parser.add_argument("--readiness-path")
    parser.add_argument("--scratch", default="/tmp/chaositbench-scratch", help="where storage writes go")
    parser.add_argument("--once", action="store_true", help="exit 0 after the checks and start-up (init container)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    needs = read_needs(args.needs, args.container)
    for line in (needs.get("logs") or {}).get("startup") or []:
        log(line)
    check_env(needs)
    check_files(needs)
    if args.once:
        time.sleep(float(needs.get("startupSeconds", 1.0)))
        return 0
    consumer = Consumer(needs, args.scratch)
    threading.Thread(target=consumer.run, name="consumer", daemon=True).start()
    time.sleep(float(needs.get("startupSeconds", 1.0)))
    deps = Dependencies(list(needs.get("dependencies") or []))
    deps.check_once()
    threading.Thread(target=deps.run, name="dependencies", daemon=True).start()
    cost = duration_seconds((needs.get("cpu") or {}).get("perRequest", 0))
    api = KubernetesApi(list(needs.get("kubernetesApi") or []))
    for listener in needs.get("listen") or []:
        serve(listener, args, deps, cost, api)
    threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
