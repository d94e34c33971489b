"""Target applications: render a Helm chart, apply it to a cluster in dependency order, wait until it is healthy.

The demo app is the chart ``helm/chaositbench-demo`` — the single source of
truth for both targets. It is rendered with real Helm: the ``helm`` binary when
one is on PATH, otherwise Helm's own Go library through the ``helm-python-sdk``
wheel. The manifests are applied through the Kubernetes API (server-side apply,
field manager ``chaositbench``), so the same code installs the app on the
simulated cluster and on a real one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, Union

import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

#: Charts shipped with chaositbench, by the name ``--app`` takes.
CHARTS_DIR = Path(__file__).resolve().parent.parent / "helm"
APPS = {"demo": CHARTS_DIR / "chaositbench-demo"}

FIELD_MANAGER = "chaositbench"

#: Apply order: what others refer to comes first; NetworkPolicies last, once everything they guard exists.
KIND_ORDER = ("Namespace", "ResourceQuota", "LimitRange", "PriorityClass", "StorageClass", "ServiceAccount",
              "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "Secret", "ConfigMap",
              "PersistentVolumeClaim", "Service", "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob",
              "HorizontalPodAutoscaler", "PodDisruptionBudget", "Ingress", "NetworkPolicy")
WORKLOAD_KINDS = ("Deployment", "StatefulSet")
POLL_INTERVAL_S = 0.2

Announce = Callable[[str], None]


class HasKubeconfig(Protocol):
    """A cluster that can hand out an admin kubeconfig (``SimServer``)."""

    def admin_kubeconfig(self) -> dict[str, Any]: ...


#: Where to apply: a kubeconfig file, a kubeconfig document, a running simulated cluster, or an API client.
Target = Union[str, os.PathLike[str], dict[str, Any], HasKubeconfig, k8s.ApiClient]


class AppError(RuntimeError):
    """An app that cannot be rendered, applied or made healthy (the message says which object and why)."""


def _quiet(announce: Announce | None) -> Announce:
    return announce or (lambda message: None)


# -- rendering -------------------------------------------------------------------------------------

def chart_path(app: str) -> Path:
    """The chart directory of a shipped app (``demo``)."""
    try:
        path = APPS[app]
    except KeyError:
        raise AppError(f"unknown app {app!r}; known apps: {', '.join(sorted(APPS))}") from None
    if not (path / "Chart.yaml").is_file():
        raise AppError(f"chart of app {app!r} not found at {path}")
    return path


def _documents(texts: Iterable[str]) -> list[dict[str, Any]]:
    return [doc for text in texts for doc in yaml.safe_load_all(text) if doc]


def render_chart(path: str | os.PathLike[str], values: dict[str, Any] | None = None, release: str = "demo",
                 namespace: str = "default") -> list[dict[str, Any]]:
    """The manifests of a chart as ``helm template`` renders them for an install (by template file; no NOTES)."""
    helm = shutil.which("helm")
    if helm:
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="values-") as handle:
            yaml.safe_dump(values or {}, handle)
            handle.flush()
            result = subprocess.run([helm, "template", release, os.fspath(path), "--namespace", namespace,
                                     "--values", handle.name], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise AppError(f"helm template {path} failed: {result.stderr.strip()}")
        return _documents([result.stdout])
    import helm_python  # imported lazily: it loads Helm's Go library

    try:
        rendered = helm_python.Chart.load(os.fspath(path)).render(values or {}, name=release, namespace=namespace,
                                                                  is_install=True)
    except helm_python.HelmError as exc:
        raise AppError(f"rendering chart {path} failed: {exc}") from None
    return _documents(text for name, text in sorted(rendered.items())
                      if name.endswith((".yaml", ".yml", ".json")) and not Path(name).name.startswith("_"))


# -- applying --------------------------------------------------------------------------------------

def api_client(target: Target) -> k8s.ApiClient:
    """An API client for the target (a new one unless the target is a client)."""
    if isinstance(target, k8s.ApiClient):
        return target
    if isinstance(target, dict):
        return k8s_config.new_client_from_config_dict(target)
    if isinstance(target, (str, os.PathLike)):
        return k8s_config.new_client_from_config(config_file=os.fspath(target))
    return k8s_config.new_client_from_config_dict(target.admin_kubeconfig())


@contextmanager
def _connected(target: Target) -> Iterator[k8s.ApiClient]:
    """A client for the target, closed afterwards if it was made here."""
    api = api_client(target)
    try:
        yield api
    finally:
        if api is not target:
            api.close()


def apply_order(manifests: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The manifests sorted for applying (stable within a kind; unknown kinds before the policies)."""
    rank = {kind: i for i, kind in enumerate(KIND_ORDER)}
    unknown = rank["NetworkPolicy"] - 0.5  # after every known kind but the policies
    return sorted(manifests, key=lambda obj: rank.get(obj.get("kind", ""), unknown))


class _Resources:
    """The REST paths of kinds, from the API's discovery documents (one fetch per group-version)."""

    def __init__(self, api: k8s.ApiClient) -> None:
        self.api = api
        self._known: dict[tuple[str, str], tuple[str, bool]] = {}
        self._fetched: set[str] = set()

    def path(self, api_version: str, kind: str, namespace: str | None, name: str | None = None) -> str:
        if api_version not in self._fetched:
            self._fetched.add(api_version)
            prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
            try:
                listing = _call(self.api, "GET", prefix)
            except ApiException as exc:
                raise AppError(f"the cluster does not serve {api_version}: {exc.status} {exc.reason}") from None
            for resource in listing.get("resources", []):
                if "/" not in resource["name"]:
                    self._known[(api_version, resource["kind"])] = (resource["name"], resource["namespaced"])
        try:
            plural, namespaced = self._known[(api_version, kind)]
        except KeyError:
            raise AppError(f"the cluster does not serve {kind} in {api_version}") from None
        base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        if namespaced:
            base += f"/namespaces/{namespace or 'default'}"
        return f"{base}/{plural}" + (f"/{name}" if name else "")


def _call(api: k8s.ApiClient, method: str, path: str, body: Any = None, *, query: list[tuple[str, str]] | None = None,
          content_type: str | None = None) -> dict[str, Any]:
    """One authenticated request; the decoded JSON answer (raises ApiException on an error status)."""
    headers = {"Accept": "application/json"}
    if content_type:
        headers["Content-Type"] = content_type
    request = api.param_serialize(method, path, query_params=query or [], header_params=headers, body=body,
                                  auth_settings=["BearerToken"])
    response = api.call_api(*request)
    response.read()
    if not 200 <= response.status <= 299:
        raise ApiException(http_resp=response)
    return json.loads(response.data or b"{}")


def _describe(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    where = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{obj.get('kind')} {where}{meta.get('name')}"


def deploy_app(target: Target, manifests: Iterable[dict[str, Any]], *, announce: Announce | None = None) -> None:
    """Server-side apply every manifest, in dependency order (namespaces first, NetworkPolicies last)."""
    say = _quiet(announce)
    done: dict[str, int] = {}
    with _connected(target) as api:
        resources = _Resources(api)
        for obj in apply_order(manifests):
            meta = obj.get("metadata") or {}
            path = resources.path(obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"])
            try:
                _call(api, "PATCH", path, obj, query=[("fieldManager", FIELD_MANAGER), ("force", "true")],
                      content_type="application/apply-patch+yaml")
            except ApiException as exc:
                raise AppError(f"applying {_describe(obj)} failed: {exc.status} {exc.reason}: {exc.body}") from None
            done[obj["kind"]] = done.get(obj["kind"], 0) + 1
    say("applied " + ", ".join(f"{count} {kind}" for kind, count in done.items()))


# -- health ----------------------------------------------------------------------------------------

def _workload_ready(obj: dict[str, Any]) -> bool:
    spec, status, meta = obj.get("spec") or {}, obj.get("status") or {}, obj["metadata"]
    want = int(spec.get("replicas", 1))
    if int(status.get("observedGeneration", 0)) < int(meta.get("generation", 1)):
        return False
    if obj["kind"] == "Deployment":
        return (status.get("updatedReplicas", 0) == want and status.get("availableReplicas", 0) == want
                and status.get("replicas", 0) == want)
    return (status.get("readyReplicas", 0) == want and status.get("availableReplicas", 0) == want
            and status.get("currentRevision") == status.get("updateRevision"))


def _pod_problems(api: k8s.ApiClient, resources: _Resources, obj: dict[str, Any]) -> list[str]:
    """Why the pods of a workload are not ready, as kubectl would summarise them."""
    labels = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
    path = resources.path("v1", "Pod", obj["metadata"].get("namespace"))
    problems = []
    for pod in _call(api, "GET", path, query=[("labelSelector", selector)]).get("items", []):
        status = pod.get("status") or {}
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
        if ready:
            continue
        reasons = []
        for container in status.get("containerStatuses") or []:
            state = container.get("state") or {}
            detail = (state.get("waiting") or state.get("terminated") or {}).get("reason")
            reasons.append(f"{container['name']}: {detail or ('running, not ready' if 'running' in state else '?')}")
        phase = status.get("phase", "Pending")
        problems.append(f"{pod['metadata']['name']} {phase}" + (f" ({'; '.join(reasons)})" if reasons else ""))
    return problems


def wait_healthy(target: Target, manifests: Iterable[dict[str, Any]], *, timeout: float = 120.0,
                 announce: Announce | None = None) -> float:
    """Wait until every Deployment and StatefulSet of the manifests is fully available; returns the seconds taken.

    Raises :class:`AppError` at the timeout, naming each workload that is not
    ready and why its pods are not.
    """
    say = _quiet(announce)
    pending = [obj for obj in manifests if obj.get("kind") in WORKLOAD_KINDS]
    say(f"waiting for {len(pending)} workloads to become available")
    started = time.monotonic()
    with _connected(target) as api:
        resources = _Resources(api)
        while True:
            still: list[dict[str, Any]] = []
            for obj in pending:
                meta = obj["metadata"]
                live = _call(api, "GET", resources.path(obj["apiVersion"], obj["kind"], meta.get("namespace"),
                                                        meta["name"]))
                if _workload_ready(live):
                    say(f"{_describe(obj)} available")
                else:
                    still.append(live)
            pending = still
            elapsed = time.monotonic() - started
            if not pending:
                return elapsed
            if elapsed > timeout:
                raise AppError(f"not healthy after {timeout:.0f}s:\n  "
                               + "\n  ".join(_not_ready(api, resources, live) for live in pending))
            time.sleep(POLL_INTERVAL_S)


def _not_ready(api: k8s.ApiClient, resources: _Resources, live: dict[str, Any]) -> str:
    """One line on a workload that is not available: its count and why its pods are not ready."""
    status = live.get("status") or {}
    want = int((live.get("spec") or {}).get("replicas", 1))
    counted = "availableReplicas" if live["kind"] == "Deployment" else "readyReplicas"
    problems = _pod_problems(api, resources, live)
    return (f"{_describe(live)}: {status.get(counted, 0)}/{want} available"
            + (f"; pods: {', '.join(problems)}" if problems else ""))


def render_app(app: str, values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The manifests of a shipped app's chart (release name: the app's name)."""
    return render_chart(chart_path(app), values, release=app)


def install_app(target: Target, app: str, *, values: dict[str, Any] | None = None, timeout: float = 120.0,
                announce: Announce | None = None, manifests: list[dict[str, Any]] | None = None
                ) -> list[dict[str, Any]]:
    """Render a shipped app's chart (unless its ``manifests`` are given, from :func:`render_app`), apply it and
    wait until it is healthy; returns the manifests applied."""
    say = _quiet(announce)
    if manifests is None:
        manifests = render_app(app, values)
        say(f"app {app}: rendered {len(manifests)} objects from chart {chart_path(app)}")
    deploy_app(target, manifests, announce=say)
    elapsed = wait_healthy(target, manifests, timeout=timeout, announce=say)
    say(f"app {app} healthy after {elapsed:.1f}s")
    return manifests
