"""Running a simulated cluster behind HTTP: in-process (a background thread) or as a subprocess.

``SimServer`` is the Python API tests and the engine use; ``serve_forever`` is
what ``chaositbench sim serve`` runs. Several servers can run side by side: each
binds its own port (an ephemeral one by default).
"""

from __future__ import annotations

import asyncio
import functools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from ..apps import install_app
from .apiserver import APIServer
from .children import spawn
from .cluster import Cluster, ClusterOptions
from .kinds import preferred
from .kubeconfig import kubeconfig, write_kubeconfig
from .prometheus import PrometheusServer
from .tls import ServingCertificates

READY_TIMEOUT_S = 30.0
NODES = preferred("", "Node")
#: How long an app deployed at start (``app=``) may take to become healthy.
APP_READY_TIMEOUT_S = 120.0


class SimServer:
    """A simulated cluster served on ``127.0.0.1:port`` from a background thread."""

    def __init__(self, *, port: int = 0, host: str = "127.0.0.1", time_scale: float = 1.0, app: str = "none",
                 announce: Callable[[str], None] | None = None) -> None:
        self.host, self.port = host, port
        self.time_scale = time_scale
        self.app, self.announce = app, announce
        self.cluster: Cluster | None = None
        self.certificates: ServingCertificates | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopped: asyncio.Event | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    def start(self) -> "SimServer":
        """Start serving; returns once the API answers and the app (if any) is healthy (raises what start-up raised)."""
        self._thread = threading.Thread(target=self._run, name=f"chaositbench-sim:{self.port}", daemon=True)
        self._thread.start()
        if not self._ready.wait(READY_TIMEOUT_S):
            raise RuntimeError(f"simulated cluster did not start within {READY_TIMEOUT_S:.0f}s")
        if self._error is not None:
            raise self._error
        if self.app != "none":
            try:
                install_app(self, self.app, timeout=APP_READY_TIMEOUT_S, announce=self.announce)
            except BaseException:
                self.stop()
                raise
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # surfaced to start()
            self._error = exc
            self._ready.set()
        finally:
            loop.close()

    async def _serve(self) -> None:
        self._stopped = asyncio.Event()
        runner, cluster, certificates = await start_cluster(self.host, self.port, self.time_scale)
        self.cluster, self.certificates = cluster, certificates
        self.port = runner.addresses[0][1]
        self._ready.set()
        try:
            await self._stopped.wait()
        finally:
            await cluster.stop()
            await runner.cleanup()

    def call(self, fn: Any, *args: Any) -> Any:
        """Run ``fn(*args)`` on the cluster's loop and return its result (thread-safe access)."""
        assert self._loop is not None

        async def wrapper() -> Any:
            return fn(*args)
        return asyncio.run_coroutine_threadsafe(wrapper(), self._loop).result(timeout=30)

    def admin_kubeconfig(self) -> dict[str, Any]:
        assert self.cluster is not None and self.certificates is not None
        return kubeconfig(self.url, self.cluster.admin_token(), self.certificates.ca_pem)

    def write_kubeconfig(self, path: str | os.PathLike[str]) -> Path:
        return write_kubeconfig(path, self.admin_kubeconfig())

    def stop(self) -> None:
        if self._loop is not None and self._stopped is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stopped.set)
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> "SimServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def start_cluster(host: str, port: int, time_scale: float
                        ) -> tuple[web.AppRunner, Cluster, ServingCertificates]:
    """Build a cluster, bind its HTTPS API server and start its controllers (on the running loop)."""
    cluster = Cluster(ClusterOptions(time_scale=time_scale, hosts=(host,)))
    certificates = cluster.certificates
    apiserver = APIServer(cluster)
    runner = web.AppRunner(apiserver.application(), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=certificates.server_context())
    await site.start()
    bound = runner.addresses[0][1]
    cluster.server_address = f"{host}:{bound}"
    await cluster.start()
    return runner, cluster, certificates


async def serve_forever(kubeconfig_path: str, *, host: str, port: int, time_scale: float,
                        announce: Any = print, app: str = "none", prometheus: bool = False) -> None:
    """Serve until SIGINT/SIGTERM; write the admin kubeconfig once ready (with ``app`` deployed and healthy).

    With ``prometheus``, the real Prometheus scraping the cluster is started before the kubeconfig is written
    (its URL announced) and stopped with the cluster.
    """
    runner, cluster, certificates = await start_cluster(host, port, time_scale)
    bound = runner.addresses[0][1]
    admin = kubeconfig(f"https://{host}:{bound}", cluster.admin_token(), certificates.ca_pem)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    scraper: PrometheusServer | None = None
    try:
        if app != "none":
            announce(f"simulated cluster serving at https://{host}:{bound}; deploying app {app}")
            await loop.run_in_executor(None, functools.partial(
                install_app, admin, app, timeout=APP_READY_TIMEOUT_S, announce=announce))
        if prometheus:
            nodes = sorted(n["metadata"]["name"] for n in cluster.store.list(NODES.storage_key))
            scraper = PrometheusServer(f"https://{host}:{bound}", cluster.admin_token(), certificates.ca_pem, nodes)
            await loop.run_in_executor(None, scraper.start)
            announce(f"prometheus ready at {scraper.url}")
        write_kubeconfig(kubeconfig_path, admin)
        announce(f"simulated cluster ready at https://{host}:{bound}; kubeconfig written to {kubeconfig_path}")
        await stop.wait()
    finally:
        if scraper is not None:
            await loop.run_in_executor(None, scraper.stop)
        await cluster.stop()
        await runner.cleanup()
        announce("simulated cluster stopped")


class SimProcess:
    """``chaositbench sim serve`` in a subprocess; ready once its kubeconfig exists."""

    def __init__(self, kubeconfig_path: str | os.PathLike[str], *, port: int = 0, time_scale: float = 1.0,
                 app: str = "none") -> None:
        self.kubeconfig_path = Path(kubeconfig_path)
        self.port, self.time_scale, self.app = port, time_scale, app
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None

    def start(self) -> "SimProcess":
        self.kubeconfig_path.unlink(missing_ok=True)
        cmd = [sys.executable, "-m", "chaositbench", "sim", "serve", "--kubeconfig", str(self.kubeconfig_path),
               "--port", str(self.port), "--time-scale", str(self.time_scale), "--app", self.app]
        self.log_path = self.kubeconfig_path.with_name(self.kubeconfig_path.name + ".log")
        with self.log_path.open("wb") as log:
            self.process = spawn(cmd, log)
        limit = READY_TIMEOUT_S + (APP_READY_TIMEOUT_S if self.app != "none" else 0)
        deadline = time.monotonic() + limit
        while not self.kubeconfig_path.exists():
            if self.process.poll() is not None:
                err = self.log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"chaositbench sim serve exited with {self.process.returncode}: {err.strip()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"simulated cluster did not start within {limit:.0f}s")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> "SimProcess":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
