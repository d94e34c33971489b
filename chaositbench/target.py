"""Which cluster a run talks to: the one place that decides it, and refuses unsafe targets.

Default: a fresh embedded simulated cluster, served by ``chaositbench sim serve`` in a
subprocess with its admin kubeconfig in a temporary directory, the app of ``chaositbench_app``
(default ``demo``; ``none`` for an empty cluster) deployed on it from here and awaited healthy,
plus a real Prometheus scraping it once the app is healthy, when the ``prometheus`` binary is
installed (scraping every :func:`~.sim.prometheus.scrape_interval_for` the time scale); both are
stopped by :func:`release` or when the run (the Python process) ends. A real cluster is used
only when asked for explicitly::

    CHAOSITBENCH_CLUSTER=kubeconfig CHAOSITBENCH_CONTEXT=my-context \
        [CHAOSITBENCH_KUBECONFIG=path | KUBECONFIG=path] chaos run experiments/netpol.json

or with the experiment configuration keys ``chaositbench_cluster``, ``chaositbench_context``
and ``chaositbench_kubeconfig`` (configuration wins over the environment). The context must
be named: the current kube context is never used silently. Inside a pod (the game-day runner
chart), ``CHAOSITBENCH_CLUSTER=in-cluster`` uses the cluster the pod runs in with the pod's
ServiceAccount (see :mod:`chaositbench.incluster`).

When a run directory is given, the chosen target is written to ``<run_dir>/target.json`` so
that another process (a rollback run separately) talks to the same cluster.
"""

from __future__ import annotations

import atexit
import base64
import dataclasses
import json
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import urllib3
import yaml
from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration
from kubernetes import client, config
from kubernetes.dynamic import DynamicClient

from .apps import AppError, install_app, render_app
from .incluster import InClusterError, write_in_cluster_kubeconfig
from .sim.prometheus import PrometheusError, PrometheusServer, scrape_interval_for
from .sim.server import APP_READY_TIMEOUT_S, SimProcess

SIM, KUBECONFIG, IN_CLUSTER = "sim", "kubeconfig", "in-cluster"
TARGET_FILE = "target.json"
REACHABILITY_TIMEOUT_S = 5.0
#: cluster-scoped kinds a fault may write (everything else cluster-scoped is refused)
CLUSTER_SCOPED_WRITABLE = frozenset({"Node"})

DEFAULT_APP = "demo"
NO_APP = "none"

_started: dict[Path, tuple[SimProcess, PrometheusServer | None]] = {}


@dataclass(frozen=True)
class Target:
    """A cluster to talk to, and the namespaces a run may write to in it."""

    kind: str
    kubeconfig: Path
    context: str | None
    server: str
    prometheus_url: str | None = None
    namespaces: frozenset[str] = frozenset()

    def api_client(self) -> client.ApiClient:
        """A new official-client ApiClient for this cluster (the caller closes it)."""
        return config.new_client_from_config(config_file=str(self.kubeconfig), context=self.context)

    def dynamic_client(self) -> DynamicClient:
        """A dynamic client (any kind by apiVersion/kind) for this cluster."""
        return DynamicClient(self.api_client())

    def allowing(self, namespaces: Iterable[str]) -> "Target":
        """This target with ``namespaces`` as its write allow-list."""
        return dataclasses.replace(self, namespaces=frozenset(namespaces))

    def check_write(self, kind: str, namespace: str | None, name: str) -> None:
        """Refuse (ActivityFailed) a write outside the allow-list before it is sent."""
        if namespace is None:
            if kind not in CLUSTER_SCOPED_WRITABLE:
                raise ActivityFailed(f"refusing to write cluster-scoped {kind} {name!r}: only "
                                     f"{', '.join(sorted(CLUSTER_SCOPED_WRITABLE))} may be changed")
            return
        if namespace not in self.namespaces:
            allowed = ", ".join(sorted(self.namespaces)) or "none"
            raise ActivityFailed(f"refusing to write {kind} {namespace}/{name}: namespace {namespace!r} is "
                                 f"outside this scenario's namespaces ({allowed})")

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "kubeconfig": str(self.kubeconfig), "context": self.context,
                "server": self.server, "prometheus_url": self.prometheus_url}


def _setting(configuration: Configuration | None, key: str, env: str) -> str | None:
    value = (configuration or {}).get(key)
    if value in (None, ""):
        value = os.environ.get(env) or None
    return None if value is None else str(value)


def embedded_time_scale(configuration: Configuration | None = None) -> float | None:
    """The time scale of the embedded cluster a run starts (``chaositbench_sim_time_scale`` /
    ``CHAOSITBENCH_SIM_TIME_SCALE``, default 1), or None when the run targets another cluster."""
    if (_setting(configuration, "chaositbench_cluster", "CHAOSITBENCH_CLUSTER") or SIM) != SIM:
        return None
    return _time_scale(configuration)


def _time_scale(configuration: Configuration | None) -> float:
    value = _setting(configuration, "chaositbench_sim_time_scale", "CHAOSITBENCH_SIM_TIME_SCALE") or "1.0"
    try:
        scale = float(value)
    except ValueError:
        scale = 0.0
    if not scale > 0:
        raise ActivityFailed(f"time scale {value!r} (chaositbench_sim_time_scale / CHAOSITBENCH_SIM_TIME_SCALE) "
                             "is not a positive number")
    return scale


def connect(configuration: Configuration | None = None, run_dir: str | os.PathLike[str] | None = None) -> Target:
    """The target of this run: the one recorded in ``run_dir`` if any, else a newly chosen one.

    Raises ActivityFailed with what to check when the cluster cannot be reached or the
    choice is incomplete (unknown cluster kind, no context named, context not in the kubeconfig).
    """
    recorded = Path(run_dir) / TARGET_FILE if run_dir is not None else None
    if recorded is not None and recorded.exists():
        data = json.loads(recorded.read_text())
        target = Target(kind=data["kind"], kubeconfig=Path(data["kubeconfig"]), context=data["context"],
                        server=data["server"], prometheus_url=data.get("prometheus_url"))
        check_reachable(target)
        return target
    choice = _setting(configuration, "chaositbench_cluster", "CHAOSITBENCH_CLUSTER") or SIM
    prometheus_url = _setting(configuration, "chaositbench_prometheus_url", "CHAOSITBENCH_PROMETHEUS_URL")
    if choice == SIM:
        target = _start_sim(configuration, prometheus_url)
    elif choice == KUBECONFIG:
        target = _from_kubeconfig(configuration, prometheus_url)
    elif choice == IN_CLUSTER:
        target = _in_cluster(recorded.parent if recorded is not None else None, prometheus_url)
    else:
        raise ActivityFailed(f"unknown cluster {choice!r} (CHAOSITBENCH_CLUSTER / chaositbench_cluster): "
                             f"use {SIM!r} (the default), {KUBECONFIG!r} or {IN_CLUSTER!r}")
    check_reachable(target)
    if recorded is not None:
        recorded.parent.mkdir(parents=True, exist_ok=True)
        recorded.write_text(json.dumps(target.to_json(), indent=2))
    return target


def release(target: Target) -> None:
    """Stop the simulated cluster (and its Prometheus) behind ``target`` if this process started them."""
    _stop_started(target.kubeconfig)


def _stop_started(kubeconfig: Path) -> None:
    process, prometheus = _started.pop(kubeconfig, (None, None))
    if prometheus is not None:
        prometheus.stop()
    if process is not None:
        process.stop()
        shutil.rmtree(kubeconfig.parent, ignore_errors=True)


def _start_sim(configuration: Configuration | None, prometheus_url: str | None) -> Target:
    """Start Prometheus, the simulated cluster and the app's rendering side by side, deploy the app, point
    Prometheus at the cluster.

    Prometheus applies new scrape targets on a fixed 5 s tick counted from its start whatever its
    configuration, so it starts first, with no targets; it gets the cluster's once the app is
    healthy, so that its SLO windows start with the app up (as a Prometheus started then would).
    """
    time_scale = _time_scale(configuration)
    app = _setting(configuration, "chaositbench_app", "CHAOSITBENCH_APP") or DEFAULT_APP
    kubeconfig = Path(tempfile.mkdtemp(prefix="chaositbench-sim-")) / "kubeconfig"
    process = SimProcess(kubeconfig, time_scale=time_scale)
    _started[kubeconfig] = (process, None)
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            launched = None if prometheus_url else _launch_prometheus(time_scale)  # here: it dies with this thread
            starting = pool.submit(_prometheus_ready, launched) if launched else None
            rendering = pool.submit(render_app, app) if app != NO_APP else None  # needs no cluster
            try:
                process.start()
            finally:
                prometheus = starting.result() if starting else None
                _started[kubeconfig] = (process, prometheus)
            atexit.register(process.stop)
            server = _server_of(kubeconfig, None)
            # the official client writes the kubeconfig's CA to a temporary file that later loads of the same
            # kubeconfig share; two first loads racing in two threads would write one each and leak one
            api = config.new_client_from_config(config_file=str(kubeconfig)) if prometheus else None
            credentials = pool.submit(_scrape_credentials, kubeconfig, api) if api else None
            if rendering is not None:
                install_app(kubeconfig, app, timeout=APP_READY_TIMEOUT_S, manifests=rendering.result())
            if prometheus is not None and credentials is not None:
                prometheus.scrape(server, *credentials.result())
    except (RuntimeError, AppError) as exc:
        _stop_started(kubeconfig)
        raise ActivityFailed(f"could not start the embedded simulated cluster (app {app!r}): {exc}") from exc
    except BaseException:  # interrupted while starting (Ctrl-C): nothing of it may outlive the run
        _stop_started(kubeconfig)
        raise
    return Target(kind=SIM, kubeconfig=kubeconfig, context=None, server=server,
                  prometheus_url=prometheus_url or (prometheus.url if prometheus else None))


def _launch_prometheus(time_scale: float) -> PrometheusServer | None:
    """A real Prometheus with no scrape targets yet, launched, or None when the binary is not installed."""
    try:
        prometheus = PrometheusServer(None, scrape_interval=scrape_interval_for(time_scale)).launch()
    except PrometheusError:
        return None
    atexit.register(prometheus.stop)
    return prometheus


def _prometheus_ready(prometheus: PrometheusServer) -> PrometheusServer | None:
    """``prometheus`` once ready, or None when it cannot start (the run goes on without SLO data)."""
    try:
        return prometheus.wait_ready()
    except PrometheusError:
        return None


def _scrape_credentials(kubeconfig: Path, api: client.ApiClient) -> tuple[str, bytes, list[str]]:
    """What Prometheus needs to scrape the simulated cluster of ``kubeconfig`` (``api`` a client of it, closed
    here): its token, CA and nodes."""
    doc = yaml.safe_load(kubeconfig.read_text())
    token = doc["users"][0]["user"]["token"]
    ca_pem = base64.b64decode(doc["clusters"][0]["cluster"]["certificate-authority-data"])
    with api:
        nodes = sorted(n.metadata.name for n in client.CoreV1Api(api).list_node().items)
    return token, ca_pem, nodes


def _from_kubeconfig(configuration: Configuration | None, prometheus_url: str | None) -> Target:
    context = _setting(configuration, "chaositbench_context", "CHAOSITBENCH_CONTEXT")
    path = (_setting(configuration, "chaositbench_kubeconfig", "CHAOSITBENCH_KUBECONFIG")
            or (os.environ.get("KUBECONFIG") or "").split(os.pathsep)[0]
            or str(Path.home() / ".kube" / "config"))
    if not context:
        raise ActivityFailed("CHAOSITBENCH_CLUSTER=kubeconfig needs a context named explicitly "
                             "(CHAOSITBENCH_CONTEXT or chaositbench_context): the current kube context is never "
                             "used implicitly")
    kubeconfig = Path(path).expanduser()
    if not kubeconfig.is_file():
        raise ActivityFailed(f"kubeconfig {kubeconfig} does not exist (CHAOSITBENCH_KUBECONFIG / KUBECONFIG)")
    return Target(kind=KUBECONFIG, kubeconfig=kubeconfig, context=context, server=_server_of(kubeconfig, context),
                  prometheus_url=prometheus_url)


def _in_cluster(directory: Path | None, prometheus_url: str | None) -> Target:
    """The cluster this pod runs in, through a kubeconfig for the pod's ServiceAccount."""
    where = directory if directory is not None else Path(tempfile.mkdtemp(prefix="chaositbench-in-cluster-"))
    try:
        kubeconfig = write_in_cluster_kubeconfig(where / "in-cluster.kubeconfig")
    except InClusterError as exc:
        raise ActivityFailed(str(exc)) from None
    return Target(kind=IN_CLUSTER, kubeconfig=kubeconfig, context=IN_CLUSTER,
                  server=_server_of(kubeconfig, IN_CLUSTER), prometheus_url=prometheus_url)


def _server_of(kubeconfig: Path, context: str | None) -> str:
    """The API server URL of ``context`` (or the file's only/current one for our own sim kubeconfig)."""
    doc = yaml.safe_load(kubeconfig.read_text()) or {}
    contexts = {c["name"]: c.get("context") or {} for c in doc.get("contexts") or []}
    name = context or doc.get("current-context")
    if name not in contexts:
        raise ActivityFailed(f"context {name!r} is not in kubeconfig {kubeconfig} "
                             f"(it has: {', '.join(sorted(contexts)) or 'no contexts'})")
    cluster_name = contexts[name].get("cluster")
    for entry in doc.get("clusters") or []:
        if entry.get("name") == cluster_name:
            return str((entry.get("cluster") or {}).get("server", ""))
    raise ActivityFailed(f"context {name!r} in kubeconfig {kubeconfig} names cluster {cluster_name!r}, "
                         f"which the kubeconfig does not define")


def check_reachable(target: Target) -> None:
    """Raise ActivityFailed naming the server and what to check unless its API answers /version."""
    where = f"the Kubernetes API server {target.server}"
    if target.context:
        where += f" (context {target.context!r} in {target.kubeconfig})"
    try:
        with target.api_client() as api:
            # /version, not the client's VersionApi path /version/ (which the simulated server lacks)
            request = api.param_serialize("GET", "/version", auth_settings=["BearerToken"])
            response = api.call_api(*request, _request_timeout=REACHABILITY_TIMEOUT_S)
            response.read()
            if response.status != 200:
                raise ActivityFailed(f"cannot use {where}: GET /version answered {response.status} "
                                     f"{response.reason}. Check the kubeconfig's credentials for this cluster")
    except (OSError, ValueError, urllib3.exceptions.HTTPError, client.ApiException, config.ConfigException) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise ActivityFailed(f"cannot reach {where}: {reason}. Check that the cluster is running and reachable "
                             f"from here, and that the kubeconfig's server address and credentials are right; "
                             f"unset CHAOSITBENCH_CLUSTER to use the embedded simulated cluster instead") from exc
