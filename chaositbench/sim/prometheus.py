"""A real Prometheus server scraping a simulated cluster through its API server.

:class:`PrometheusServer` starts the ``prometheus`` binary (Debian package
``prometheus``) on a free local port with its own temporary data directory and a
generated configuration: every scrape interval (1 s by default; for a simulated
cluster :func:`scrape_interval_for` its time scale) it scrapes, over HTTPS with the cluster's
CA and bearer token, the proxy paths of :mod:`.metrics.endpoints` (jobs
``kube-state-metrics``, ``kubelet`` with ``metrics_path`` ``/metrics`` and
``/metrics/cadvisor`` per node, ``app-metrics``), and evaluates the alerting
rules of :func:`alert_rules` (names and expressions as kube-prometheus has them).
``start`` returns once ``/-/ready`` answers; ``scrape`` points a running server at
a cluster (a configuration reload through ``POST /-/reload``, enabled by
``--web.enable-lifecycle`` on the local address only); ``stop`` terminates it and
removes its directory.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable
from urllib.parse import urlparse

import yaml

from .children import spawn
from .kinds import preferred
from .metrics.endpoints import APP_SERVICE, METRICS_NAMESPACE, STATE_SERVICE

if TYPE_CHECKING:
    from .server import SimServer

INSTALL_HINT = ("the prometheus binary was not found: install it with `apt-get install prometheus` "
                "(or download it from https://prometheus.io/download/ and put it on PATH)")
READY_TIMEOUT_S = 30.0
#: the scrape interval at time scale 1, and the shortest one whatever the time scale (seconds)
SCRAPE_INTERVAL_S = 1.0
MIN_SCRAPE_INTERVAL_S = 0.5
KSM = 'job="kube-state-metrics"'
NODES = preferred("", "Node")


class PrometheusError(RuntimeError):
    """Prometheus is missing or did not start."""


def find_binary() -> str:
    """The path of the ``prometheus`` binary, or a :class:`PrometheusError` saying how to install it."""
    found = shutil.which("prometheus")
    if found is None:
        raise PrometheusError(INSTALL_HINT)
    return found


def scrape_interval_seconds(time_scale: float) -> float:
    """The scrape interval for a cluster at ``time_scale``, in seconds: 1 s times the scale, at least 0.5 s.

    A faster cluster changes state sooner, so its series are sampled more often; the floor keeps
    the scrapes' cost on the API server bounded.
    """
    return min(SCRAPE_INTERVAL_S, max(MIN_SCRAPE_INTERVAL_S, SCRAPE_INTERVAL_S * time_scale))


def scrape_interval_for(time_scale: float) -> str:
    """:func:`scrape_interval_seconds` as a Prometheus duration (``500ms`` at time scale 0.1)."""
    return f"{round(scrape_interval_seconds(time_scale) * 1000)}ms"


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _alert(name: str, expr: str, for_: str, severity: str, summary: str, description: str) -> dict[str, Any]:
    return {"alert": name, "expr": expr, "for": for_, "labels": {"severity": severity},
            "annotations": {"summary": summary, "description": description}}


def alert_rules(for_: str = "1m") -> dict[str, Any]:
    """The alerting rules, kube-prometheus style; ``for_`` replaces its 15 minutes so incidents surface in a run."""
    return {"groups": [
        {"name": "kubernetes-apps", "rules": [
            _alert("KubePodCrashLooping",
                   f'max_over_time(kube_pod_container_status_waiting_reason{{{KSM}, reason="CrashLoopBackOff"}}[5m]) '
                   ">= 1", for_, "warning", "Pod is crash looping.",
                   'Pod {{ $labels.namespace }}/{{ $labels.pod }} ({{ $labels.container }}) is in waiting state '
                   '(reason: "CrashLoopBackOff").'),
            _alert("KubePodNotReady",
                   f'(kube_pod_status_ready{{{KSM}, condition="false"}} == 1) and on (namespace, pod) '
                   f'(kube_pod_status_phase{{{KSM}, phase=~"Pending|Running|Unknown"}} == 1)',
                   for_, "warning", "Pod has been in a non-ready state for too long.",
                   "Pod {{ $labels.namespace }}/{{ $labels.pod }} has been in a non-ready state."),
            _alert("KubeDeploymentReplicasMismatch",
                   f"kube_deployment_spec_replicas{{{KSM}}} > kube_deployment_status_replicas_available{{{KSM}}}",
                   for_, "warning", "Deployment has not matched the expected number of replicas.",
                   "Deployment {{ $labels.namespace }}/{{ $labels.deployment }} has not matched the expected "
                   "number of replicas."),
            _alert("KubeContainerOOMKilled",
                   f'kube_pod_container_status_last_terminated_reason{{{KSM}, reason="OOMKilled"}} == 1',
                   "0s", "warning", "Container was OOMKilled.",
                   "Container {{ $labels.container }} of pod {{ $labels.namespace }}/{{ $labels.pod }} was last "
                   "terminated by the OOM killer."),
        ]},
        {"name": "kubernetes-nodes", "rules": [
            _alert("KubeNodeNotReady", f'kube_node_status_condition{{{KSM}, condition="Ready", status="true"}} == 0',
                   for_, "warning", "Node is not ready.", "{{ $labels.node }} has been unready."),
            _alert("KubeNodeDiskPressure",
                   f'kube_node_status_condition{{{KSM}, condition="DiskPressure", status="true"}} == 1',
                   for_, "warning", "Node has disk pressure.", "{{ $labels.node }} has DiskPressure condition."),
            _alert("KubeNodeMemoryPressure",
                   f'kube_node_status_condition{{{KSM}, condition="MemoryPressure", status="true"}} == 1',
                   for_, "warning", "Node has memory pressure.", "{{ $labels.node }} has MemoryPressure condition."),
            _alert("NodeFilesystemAlmostFull",
                   'container_fs_usage_bytes{job="kubelet", id="/"} / container_fs_limit_bytes{job="kubelet", id="/"} '
                   "> 0.85", for_, "warning", "Filesystem is more than 85% full.",
                   "The root filesystem of {{ $labels.node }} is {{ $value | humanizePercentage }} full."),
        ]},
        {"name": "slo", "rules": [
            _alert("HTTPErrorRateHigh",
                   'sum by (namespace, service) (rate(http_requests_total{code=~"5.."}[1m])) / '
                   "sum by (namespace, service) (rate(http_requests_total[1m])) > 0.05",
                   for_, "critical", "Service answers too many server errors.",
                   "{{ $labels.namespace }}/{{ $labels.service }} answers {{ $value | humanizePercentage }} 5xx."),
        ]},
    ]}


def base_config(interval: str = "1s") -> dict[str, Any]:
    """The Prometheus configuration without scrape jobs: intervals and the rules file."""
    return {"global": {"scrape_interval": interval, "scrape_timeout": interval, "evaluation_interval": interval},
            "rule_files": ["rules.yml"]}


def scrape_config(api_url: str, nodes: list[str], *, token_file: str, ca_file: str,
                  interval: str = "1s") -> dict[str, Any]:
    """The Prometheus configuration scraping a cluster's API server at ``api_url``."""
    parsed = urlparse(api_url)
    address = parsed.netloc
    def common() -> dict[str, Any]:
        return {"scheme": parsed.scheme, "authorization": {"credentials_file": token_file},
                "tls_config": {"ca_file": ca_file}}
    service = f"/api/v1/namespaces/{METRICS_NAMESPACE}/services"
    kubelet_targets = [{"targets": [address], "labels": {"__metrics_path__": f"/api/v1/nodes/{node}/proxy{path}",
                                                         "metrics_path": path, "node": node,
                                                         "instance": node}}
                       for node in nodes for path in ("/metrics", "/metrics/cadvisor")]
    return {
        **base_config(interval),
        "scrape_configs": [
            {"job_name": "kube-state-metrics", "honor_labels": True,
             "metrics_path": f"{service}/{STATE_SERVICE}/proxy/metrics", **common(),
             "static_configs": [{"targets": [address]}]},
            {"job_name": "kubelet", "honor_labels": True, **common(), "static_configs": kubelet_targets},
            {"job_name": "app-metrics", "honor_labels": True,
             "metrics_path": f"{service}/{APP_SERVICE}/proxy/metrics", **common(),
             "static_configs": [{"targets": [address]}]},
        ],
    }


class PrometheusServer:
    """The real Prometheus, scraping one simulated (or any) cluster's API server.

    Without an ``api_url`` it starts with no scrape targets, and :meth:`scrape` points it at a
    cluster later: Prometheus applies new scrape targets on a fixed 5 s tick counted from its
    start, so starting it before the cluster exists saves that wait.
    """

    def __init__(self, api_url: str | None, token: str = "", ca_pem: str | bytes = "", nodes: Iterable[str] = (), *,
                 host: str = "127.0.0.1", port: int = 0, scrape_interval: str = "1s", alert_for: str = "1m") -> None:
        self._target(api_url, token, ca_pem, nodes)
        self.host, self.port = host, port
        self.scrape_interval, self.alert_for = scrape_interval, alert_for
        self.process: subprocess.Popen[bytes] | None = None
        self.directory: Path | None = None

    @classmethod
    def for_sim(cls, sim: "SimServer", **options: Any) -> "PrometheusServer":
        """A Prometheus for a running :class:`~.server.SimServer` (its nodes, admin token and CA), scraping
        every :func:`scrape_interval_for` its time scale unless ``scrape_interval`` is given."""
        assert sim.cluster is not None and sim.certificates is not None
        nodes = sorted(n["metadata"]["name"] for n in sim.call(sim.cluster.store.list, NODES.storage_key))
        options.setdefault("scrape_interval", scrape_interval_for(sim.time_scale))
        return cls(sim.url, sim.cluster.admin_token(), sim.certificates.ca_pem, nodes, **options)

    def _target(self, api_url: str | None, token: str, ca_pem: str | bytes, nodes: Iterable[str]) -> None:
        self.api_url, self.token, self.nodes = api_url, token, list(nodes)
        self.ca_pem = ca_pem.decode() if isinstance(ca_pem, bytes) else ca_pem

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def write_config(self, directory: Path) -> Path:
        """Write the CA, token, rules and configuration into ``directory``; the configuration's path.

        Without an API server URL yet, the configuration has the rules and no scrape jobs.
        """
        (directory / "ca.crt").write_text(self.ca_pem)
        token = directory / "token"
        token.write_text(self.token)
        token.chmod(0o600)
        (directory / "rules.yml").write_text(yaml.safe_dump(alert_rules(self.alert_for), sort_keys=False))
        doc = (scrape_config(self.api_url, self.nodes, token_file=str(token), ca_file=str(directory / "ca.crt"),
                             interval=self.scrape_interval) if self.api_url else base_config(self.scrape_interval))
        config = directory / "prometheus.yml"
        config.write_text(yaml.safe_dump(doc, sort_keys=False))
        return config

    def scrape(self, api_url: str, token: str, ca_pem: str | bytes, nodes: Iterable[str]) -> "PrometheusServer":
        """Point the running server at the API server ``api_url`` (rewrite its configuration, reload it)."""
        if self.directory is None or self.process is None:
            raise PrometheusError("prometheus is not running: start() it first")
        self._target(api_url, token, ca_pem, nodes)
        self.write_config(self.directory)
        request = urllib.request.Request(f"{self.url}/-/reload", method="POST")
        try:
            with urllib.request.urlopen(request, timeout=READY_TIMEOUT_S) as answer:
                answer.read()
        except urllib.error.HTTPError as exc:
            raise PrometheusError(f"prometheus on {self.url} refused its new configuration: "
                                  f"{exc.read().decode(errors='replace').strip()}") from exc
        except OSError as exc:
            raise PrometheusError(f"prometheus on {self.url} could not be reloaded: {exc}") from exc
        return self

    def start(self) -> "PrometheusServer":
        """Start Prometheus; returns once ``/-/ready`` answers 200 (raises :class:`PrometheusError` otherwise)."""
        return self.launch().wait_ready()

    def launch(self) -> "PrometheusServer":
        """Start the Prometheus process without waiting for it. Call it from a thread that lives as long as
        Prometheus should (see :mod:`.children`); :meth:`wait_ready` may run anywhere."""
        binary = find_binary()
        self.directory = Path(tempfile.mkdtemp(prefix="chaositbench-prometheus-"))
        config = self.write_config(self.directory)
        if not self.port:
            self.port = _free_port(self.host)
        with (self.directory / "prometheus.log").open("wb") as log:
            self.process = spawn(
                [binary, f"--config.file={config}", f"--storage.tsdb.path={self.directory / 'data'}",
                 f"--web.listen-address={self.host}:{self.port}", "--storage.tsdb.retention.time=1d",
                 "--web.enable-lifecycle", "--log.level=warn"], log, cwd=self.directory)
        return self

    def wait_ready(self) -> "PrometheusServer":
        """Return once the launched Prometheus answers ``/-/ready`` (PrometheusError, and stopped, otherwise)."""
        if self.process is None or self.directory is None:
            raise PrometheusError("prometheus is not running: launch() it first")
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not self._ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                output = (self.directory / "prometheus.log").read_text(errors="replace")[-2000:]
                self.stop()
                raise PrometheusError(f"prometheus did not become ready on {self.url}: {output.strip()}")
            time.sleep(0.1)
        return self

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as answer:
                return bool(answer.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def stop(self) -> None:
        """Stop Prometheus (SIGTERM, then SIGKILL after 10 s) and remove its directory."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None

    def __enter__(self) -> "PrometheusServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
