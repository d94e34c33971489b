"""The cluster's metrics: ``metrics.k8s.io``, cAdvisor, kube-state-metrics and request (RED) series.

:class:`ClusterMetrics` is plugged in as ``cluster.metrics``. Everything comes
from :class:`~.usage.Usage` (itself from the declared needs and the real
objects) and :class:`~.requests.RequestModel`, so ``kubectl top`` and every
scrape agree. Counters (CPU seconds, requests, latency histograms) integrate
their current rates at each observation, so they only grow between scrapes; a
container's CPU counter starts again with a new container (its series carries
the container ID, as cAdvisor's does). Rates are per wall-clock second whatever
the cluster's ``time_scale`` (which speeds up how the workloads evolve, not how
fast they work), so PromQL's ``rate()`` agrees with ``kubectl top`` and the
declared requests per second.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from .. import clock
from ..kinds import preferred
from ..quantity import QuantityError, bytes_of
from ..store import Obj
from .cpu import CFS_PERIOD_SECONDS
from .exposition import Family
from .requests import RequestModel
from .state import state_families
from .usage import Usage, running_since

if TYPE_CHECKING:
    from ..cluster import Cluster

PODS = preferred("", "Pod")
NODES = preferred("", "Node")
#: metrics-server's windows as ``kubectl get --raw`` shows them
POD_WINDOW = "10.5s"
NODE_WINDOW = "20.042s"
#: Prometheus client default buckets (seconds)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class _Histogram:
    buckets: list[float] = field(default_factory=lambda: [0.0] * len(LATENCY_BUCKETS))
    total: float = 0.0
    count: float = 0.0

    def observe(self, seconds: float, weight: float) -> None:
        for i, bound in enumerate(LATENCY_BUCKETS):
            if seconds <= bound:
                self.buckets[i] += weight
        self.total += seconds * weight
        self.count += weight


@dataclass
class _Counter:
    value: float
    at: float  # monotonic time of the last observation


def _nanocores(millis: float) -> str:
    return f"{int(millis * 1_000_000)}n"


def _kibibytes(value: int) -> str:
    return f"{value // 1024}Ki"


def _container_id(pod: Obj, name: str) -> str:
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        if status.get("name") == name:
            return str(status.get("containerID") or "").split("://")[-1]
    return ""


def _image(pod: Obj, name: str) -> str:
    return next((c.get("image", "") for c in (pod.get("spec") or {}).get("containers") or [] if c["name"] == name), "")


def _storage_capacity(node: Obj) -> int:
    try:
        return bytes_of(((node.get("status") or {}).get("capacity") or {}).get("ephemeral-storage", "0"))
    except QuantityError:
        return 0


class ClusterMetrics:
    """Metrics of one cluster: a :class:`~..cluster.MetricsProvider` and the scrape targets' families."""

    def __init__(self, cluster: "Cluster", monotonic: Callable[[], float] = time.monotonic) -> None:
        self.cluster = cluster
        self.requests = RequestModel(cluster)
        self.usage = Usage(cluster, self.requests)
        self._monotonic = monotonic
        self._requests_at: float | None = None
        self._cpu: dict[tuple[str, ...], _Counter] = {}
        self._node_keys: dict[str, set[tuple[str, ...]]] = {}
        self._http: dict[tuple[str, str, str], float] = {}
        self._latency: dict[tuple[str, str], _Histogram] = {}
        self._state: tuple[int, list[Family]] | None = None

    # -- counters ---------------------------------------------------------------------------
    def _integrate(self, key: tuple[str, ...], rate: float, now: float, initial: float) -> float:
        """A CPU counter advanced at ``rate`` since its last observation (``initial`` when first seen)."""
        counter = self._cpu.get(key)
        if counter is None:
            counter = self._cpu[key] = _Counter(initial, now)
        else:
            counter.value += rate * (now - counter.at)
            counter.at = now
        return counter.value

    def _advance_requests(self) -> None:
        """Integrate the request counters and histograms over the time since the last observation."""
        now = self._monotonic()
        elapsed = 0.0 if self._requests_at is None else now - self._requests_at
        self._requests_at = now
        for (namespace, service), outcomes in self.requests.traffic().served.items():
            histogram = self._latency.setdefault((namespace, service), _Histogram())
            for outcome in outcomes:
                weight = outcome.rps * elapsed
                code_key = (namespace, service, str(outcome.code))
                self._http[code_key] = self._http.get(code_key, 0.0) + weight
                histogram.observe(outcome.seconds, weight)

    # -- metrics.k8s.io -------------------------------------------------------------------------
    def _pod_item(self, pod: Obj) -> dict[str, Any] | None:
        if (pod.get("status") or {}).get("phase") != "Running":
            return None
        containers = [{"name": name, "usage": {"cpu": _nanocores(u.cpu_millis), "memory": _kibibytes(u.memory_bytes)}}
                      for name, u in self.usage.containers(pod).items() if u.running_seconds > 0 or u.memory_bytes]
        if not containers:
            return None
        meta = pod["metadata"]
        return {"kind": "PodMetrics", "apiVersion": "metrics.k8s.io/v1beta1",
                "metadata": {"name": meta["name"], "namespace": meta["namespace"],
                             "creationTimestamp": clock.rfc3339(), "labels": dict(meta.get("labels") or {})},
                "timestamp": clock.rfc3339(), "window": POD_WINDOW, "containers": containers}

    def _node_item(self, node: Obj) -> dict[str, Any]:
        usage = self.usage.node(node["metadata"]["name"])
        return {"kind": "NodeMetrics", "apiVersion": "metrics.k8s.io/v1beta1",
                "metadata": {"name": node["metadata"]["name"], "creationTimestamp": clock.rfc3339(),
                             "labels": dict(node["metadata"].get("labels") or {})},
                "timestamp": clock.rfc3339(), "window": NODE_WINDOW,
                "usage": {"cpu": _nanocores(usage.cpu_millis), "memory": _kibibytes(usage.memory_bytes)}}

    def pod_metrics(self, namespace: str, name: str) -> dict[str, Any] | None:
        pod = self.cluster.store.get(PODS.storage_key, namespace, name)
        return self._pod_item(pod) if pod is not None else None

    def node_metrics(self, name: str) -> dict[str, Any] | None:
        node = self.cluster.store.get(NODES.storage_key, "", name)
        return self._node_item(node) if node is not None else None

    def list_pod_metrics(self, namespace: str | None) -> list[dict[str, Any]]:
        items = (self._pod_item(p) for p in self.cluster.store.list(PODS.storage_key, namespace))
        return [i for i in items if i is not None]

    def list_node_metrics(self) -> list[dict[str, Any]]:
        return [self._node_item(n) for n in self.cluster.store.list(NODES.storage_key)]

    # -- scrape targets -----------------------------------------------------------------------
    def state(self) -> list[Family]:
        """kube-state-metrics (computed again only when an object has changed)."""
        rv = self.cluster.store.rv
        if self._state is None or self._state[0] != rv:
            self._state = (rv, state_families(self.cluster.store))
        return self._state[1]

    def cadvisor(self, node_name: str) -> list[Family]:
        """The node's kubelet cAdvisor endpoint: its containers, and the node's root cgroup (``id="/"``).

        Only the node's own containers are observed, so a scrape costs in proportion to the node's pods.
        """
        now = self._monotonic()
        cpu = Family("container_cpu_usage_seconds_total", "Cumulative cpu time consumed in seconds.", "counter")
        memory = Family("container_memory_working_set_bytes", "Current working set in bytes.", "gauge")
        fs_usage = Family("container_fs_usage_bytes", "Number of bytes that are consumed by the container on this "
                                                      "filesystem.", "gauge")
        fs_limit = Family("container_fs_limit_bytes", "Number of bytes that can be consumed by the container on this "
                                                      "filesystem.", "gauge")
        periods = Family("container_cpu_cfs_periods_total", "Number of elapsed enforcement period intervals.",
                         "counter")
        throttled = Family("container_cpu_cfs_throttled_periods_total", "Number of throttled period intervals.",
                           "counter")
        families = [cpu, memory, fs_usage, fs_limit, periods, throttled]
        node = self.cluster.store.get(NODES.storage_key, "", node_name)
        if node is None:
            return families
        total = self.usage.node(node_name)
        root = {"container": "", "id": "/", "image": "", "name": "", "namespace": "", "pod": ""}
        cpu.add({**root, "cpu": "total"}, self._integrate(("node", node_name), total.cpu_millis / 1000, now, 0.0))
        memory.add(root, total.memory_bytes)
        fs_usage.add({**root, "device": "/dev/sda1"}, total.storage_bytes)
        fs_limit.add({**root, "device": "/dev/sda1"}, _storage_capacity(node))
        pods = sorted((p for p in self.cluster.store.list(PODS.storage_key)
                       if (p.get("spec") or {}).get("nodeName") == node_name),
                      key=lambda p: (p["metadata"]["namespace"], p["metadata"]["name"]))
        seen: set[tuple[str, ...]] = set()
        for pod in pods:
            meta = pod["metadata"]
            for name, usage in self.usage.containers(pod).items():
                if running_since(pod, name) is None:
                    continue
                container_id = _container_id(pod, name)
                key = (meta["uid"], name, container_id)
                seen.add(key)
                rate = usage.cpu_millis / 1000
                labels = {"container": name,
                          "id": f"/kubepods/pod{meta['uid']}/{container_id}", "image": _image(pod, name),
                          "name": container_id, "namespace": meta["namespace"], "pod": meta["name"]}
                cpu.add({**labels, "cpu": "total"},
                        self._integrate(key, rate, now, rate * usage.running_seconds * self.usage.time_scale))
                memory.add(labels, usage.memory_bytes)
                fs_usage.add({**labels, "device": "/dev/sda1"}, usage.storage_bytes)
                if usage.cpu.limit_millis:  # cAdvisor reports CFS statistics of containers with a quota
                    per_second = 1 / CFS_PERIOD_SECONDS
                    elapsed = usage.running_seconds * self.usage.time_scale
                    for family, share in ((periods, 1.0), (throttled, usage.cpu.throttled_ratio)):
                        counter_key = (*key, family.name)
                        seen.add(counter_key)
                        family.add(labels, int(self._integrate(counter_key, per_second * share, now,
                                                               per_second * share * elapsed)))
        for gone in self._node_keys.get(node_name, set()) - seen:
            self._cpu.pop(gone, None)
        self._node_keys[node_name] = seen
        return families

    def kubelet(self, node_name: str) -> list[Family]:
        """The node's kubelet ``/metrics``: what it runs."""
        pods = [p for p in self.cluster.store.list(PODS.storage_key)
                if (p.get("spec") or {}).get("nodeName") == node_name
                and (p.get("status") or {}).get("phase") == "Running"]
        states: dict[str, int] = {"running": 0, "exited": 0, "created": 0, "unknown": 0}
        for pod in pods:
            for status in (pod.get("status") or {}).get("containerStatuses") or []:
                state = status.get("state") or {}
                bucket = "running" if "running" in state else "exited" if "terminated" in state else "created"
                states[bucket] += 1
        running_pods = Family("kubelet_running_pods", "[ALPHA] Number of pods that have a running pod sandbox",
                              "gauge").add({}, len(pods))
        containers = Family("kubelet_running_containers", "[ALPHA] Number of containers currently running", "gauge")
        for state, count in states.items():
            containers.add({"container_state": state}, count)
        return [running_pods, containers]

    def http(self) -> list[Family]:
        """Application RED metrics of every HTTP service in the request model."""
        self._advance_requests()
        total = Family("http_requests_total", "Total number of HTTP requests served, by status code.", "counter")
        duration = Family("http_request_duration_seconds", "HTTP request latency in seconds.", "histogram")
        for (namespace, service, code), count in sorted(self._http.items()):
            total.add({"namespace": namespace, "service": service, "code": code}, count)
        for (namespace, service), histogram in sorted(self._latency.items()):
            duration.histogram({"namespace": namespace, "service": service}, LATENCY_BUCKETS, histogram.buckets,
                               histogram.total, histogram.count)
        return [total, duration]
