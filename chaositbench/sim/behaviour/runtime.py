"""The behaviour model's container runtime: what each container does, from its declared needs and its real spec.

:class:`BehaviourRuntime` is the :class:`~..controllers.kubelet_runtime.ContainerRuntime`
every :class:`~..cluster.Cluster` gives its kubelet. It answers the kubelet's
questions from the container's ``chaositbench.io/needs`` declaration
(:mod:`.needs`) and the real objects only — never from names of an application:

* **pull** — images outside the registry catalog (:class:`Registry`, data in
  ``registry.yaml``) fail with containerd's errors; the kubelet turns them into
  ErrImagePull / ImagePullBackOff.
* **start** — the program checks its configuration first: every declared
  environment variable against the resolved environment (required, oneOf,
  pattern) and every declared file against the mounted ConfigMap/Secret files
  (required keys). The first violation is logged as a ``FATAL:`` line and the
  container exits 1. Otherwise it logs its start-up lines; a working set above
  the memory limit, or growth reaching it, ends it ``OOMKilled`` (137, no log line).
* **probe** — the container listens (its declared ``listen`` ports, else its
  ``containerPorts``, as the network model says) only after ``startupSeconds``;
  ``httpGet`` gets the declared status of the path (404 for undeclared paths),
  a port nobody listens on is refused, and the path a readiness probe asks
  answers 503 while the network model finds the container degraded (a required
  dependency, or one further down, fails) — or the probe times out when a
  dependency times out for at least the probe's ``timeoutSeconds``, and answers
  503 while RBAC denies one of its declared Kubernetes API requests
  (``kubernetesApi``, :mod:`.kubeapi`);
  ``tcpSocket``/``grpc`` succeed on a listened port; ``exec`` succeeds unless its
  command reads a declared file that is not mounted. Liveness and startup paths
  answer as declared (they check the process, not its dependencies).
* **observe** — while running, the container logs its dependency errors (the
  network's own message: ``dial tcp 10.96.0.12:5432: connect: connection
  refused``), the API server's 403 for each denied API request (``ERROR
  kubernetes API: configmaps "x" is forbidden: User ...``) and, when it takes
  external load, its request lines (502 while degraded, as the network model
  answers requests).

A container that declares nothing behaves as :class:`DefaultRuntime` does:
it starts and becomes ready.
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import yaml

from ..controllers.kubelet_runtime import (INIT_RUN_SECONDS, JOB_RUN_SECONDS, ContainerContext, ContainerPlan,
                                           DefaultRuntime, ProbeResult, PullPlan, normalize_image)
from ..network.model import declared_needs, listeners
from ..quantity import memory_limit
from .kubeapi import api_denials
from .needs import ContainerNeeds, Dependency

if TYPE_CHECKING:
    from ..cluster import Cluster

REGISTRY_FILE = Path(__file__).with_name("registry.yaml")
#: Extra registry catalogs (same shape as registry.yaml), separated by os.pathsep.
REGISTRY_ENV = "CHAOSITBENCH_REGISTRY"
#: Simulated seconds a failing pull takes before the registry's answer.
FAILED_PULL_SECONDS = 0.6
#: Simulated seconds a program runs before its configuration check ends it.
CONFIG_CHECK_SECONDS = 0.3
#: Exit code of a program stopped with SIGTERM that does not handle it (128 + 15).
SIGTERM_EXIT_CODE = 143
#: At most this many request lines are logged per observation (a sample of the traffic).
MAX_REQUEST_LINES = 5
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


class NetworkView(Protocol):
    """What the runtime asks of the network model (``cluster.network``, :class:`~..network.Network`)."""

    def dependency_health(self, pod: dict[str, Any], container: str) -> list[tuple[Dependency, Any]]: ...

    def degraded(self, pod: dict[str, Any], container: str) -> str | None: ...


# -- the registry catalog -----------------------------------------------------------------------
def _split(image: str) -> tuple[str, str, str]:
    """``nginx:1.27`` → (``docker.io/library/nginx``, ``1.27``, digest ``""``)."""
    normalized = normalize_image(image)
    name, _, digest = normalized.partition("@")
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        repository, _, tag = name.rpartition(":")
        return repository, tag, digest
    return name, "", digest


@dataclass
class Registry:
    """Repositories (normalized names or ``prefix/*``) and the tag patterns each serves."""

    registries: set[str]
    repositories: dict[str, list[str]]

    @classmethod
    def load(cls, *extra: str | os.PathLike[str]) -> "Registry":
        """The built-in catalog merged with ``extra`` files and those named by ``$CHAOSITBENCH_REGISTRY``."""
        registry = cls(set(), {})
        from_env = [p for p in os.environ.get(REGISTRY_ENV, "").split(os.pathsep) if p]
        for path in (REGISTRY_FILE, *extra, *from_env):
            registry.merge(yaml.safe_load(Path(path).read_text()) or {})
        return registry

    def merge(self, document: dict[str, Any]) -> None:
        self.registries.update(str(r) for r in document.get("registries") or [])
        for repository, tags in (document.get("repositories") or {}).items():
            self.repositories.setdefault(str(repository), []).extend(str(t) for t in tags or [])
            self.registries.add(str(repository).split("/", 1)[0])

    def _tags(self, repository: str) -> list[str] | None:
        if repository in self.repositories:
            return self.repositories[repository]
        for pattern, tags in self.repositories.items():
            if pattern.endswith("/*") and repository.startswith(pattern[:-1]):
                return tags
        return None

    def pull_error(self, image: str) -> str | None:
        """containerd's error pulling ``image``, or None when the registry serves it."""
        repository, tag, digest = _split(image)
        reference = f"{repository}:{tag}" if tag else repository
        if digest:
            reference = f"{reference}@{digest}"
        host = repository.split("/", 1)[0]
        resolve = f'failed to pull and unpack image "{reference}": failed to resolve reference "{reference}"'
        tags = self._tags(repository)
        if host not in self.registries:
            path = repository.split("/", 1)[1] if "/" in repository else repository
            return (f'rpc error: code = Unknown desc = {resolve}: failed to do request: Head '
                    f'"https://{host}/v2/{path}/manifests/{tag or digest}": dial tcp: lookup {host}: no such host')
        if tags is None:
            if host == "docker.io":
                return (f"rpc error: code = Unknown desc = {resolve}: pull access denied, repository does not exist "
                        f"or may require authorization: server message: insufficient_scope: authorization failed")
            return f"rpc error: code = NotFound desc = {resolve}: {reference}: not found"
        if digest or any(fnmatch.fnmatchcase(tag, pattern) for pattern in tags):
            return None
        return f"rpc error: code = NotFound desc = {resolve}: {reference}: not found"


# -- program-level configuration -----------------------------------------------------------------
def _lookup(document: Any, key: str) -> bool:
    """Whether a (dotted) key is present in a parsed config document."""
    node = document
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _parse_config(text: str) -> Any:
    """A config file as YAML/JSON, or ``key=value`` lines (properties, .env) when it is not a mapping."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        document = None
    if isinstance(document, dict):
        return document
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line and not line.lstrip().startswith("#"))
    return {k.strip(): v.strip() for k, v in pairs}


def config_violation(needs: ContainerNeeds, env: dict[str, str], files: dict[str, str]) -> str | None:
    """The program's fatal log line about its first bad variable, file or key; None when all is well."""
    for need in needs.env:
        value = env.get(need.name)
        if value is None or value == "":
            if need.required:
                return f"FATAL: required environment variable {need.name} is not set"
            continue
        if need.one_of and value not in need.one_of:
            return f'FATAL: {need.name}="{value}" is not one of [{" ".join(need.one_of)}]'
        if need.pattern and not re.fullmatch(need.pattern, value):
            return f'FATAL: {need.name}="{value}" does not match pattern {need.pattern}'
    for file in needs.files:
        if file.path not in files:
            return f"FATAL: open {file.path}: no such file or directory"
        document = _parse_config(files[file.path])
        for key in file.required_keys:
            if not _lookup(document, key):
                return f'FATAL: {file.path}: required key "{key}" is missing'
    return None


# -- the runtime ----------------------------------------------------------------------------------------
class BehaviourRuntime(DefaultRuntime):
    """Container fates, probe answers and logs from declared needs, the real spec and the network model."""

    def __init__(self, cluster: "Cluster | Any", registry: Registry | None = None) -> None:
        self.cluster = cluster
        self.registry = registry or Registry.load()

    # -- what the kubelet asks --------------------------------------------------------------------
    def pull(self, ctx: ContainerContext) -> PullPlan:
        error = self.registry.pull_error(ctx.container.get("image", ""))
        if error is not None:
            return PullPlan(seconds=FAILED_PULL_SECONDS, size_bytes=0, error=error)
        return super().pull(ctx)

    def start(self, ctx: ContainerContext) -> ContainerPlan:
        needs = self._declared(ctx)
        if needs is None:
            return super().start(ctx)
        container = ctx.container
        fatal = config_violation(needs, ctx.env, ctx.files)
        startup = self._startup_lines(container, needs)
        if fatal is not None:
            return ContainerPlan(logs=(*startup[:1], fatal), exit_after=CONFIG_CHECK_SECONDS, exit_code=1,
                                 stop_exit_code=SIGTERM_EXIT_CODE)
        sidecar = ctx.init and container.get("restartPolicy") == "Always"
        policy = (ctx.pod.get("spec") or {}).get("restartPolicy") or "Always"
        if ctx.init and not sidecar:
            return ContainerPlan(logs=startup, ready_after=None, exit_after=INIT_RUN_SECONDS)
        if policy != "Always" and container.get("command") and not sidecar:
            return ContainerPlan(logs=startup, exit_after=JOB_RUN_SECONDS)
        limit = memory_limit(container)
        oom_after: float | None = None
        if limit is not None and needs.memory_bytes > limit:
            oom_after = max(needs.startup_seconds / 2, CONFIG_CHECK_SECONDS)
        elif limit is not None and needs.memory_growth_bytes_per_min > 0:
            oom_after = (limit - needs.memory_bytes) / needs.memory_growth_bytes_per_min * 60
        return ContainerPlan(logs=startup, exit_after=oom_after, exit_code=137 if oom_after is not None else 0,
                             exit_reason="OOMKilled" if oom_after is not None else None,
                             stop_exit_code=SIGTERM_EXIT_CODE,
                             observe=bool(needs.dependencies) or needs.load is not None
                             or bool(needs.kubernetes_api))

    def probe(self, ctx: ContainerContext, kind: str, probe: dict[str, Any]) -> ProbeResult:
        needs = self._declared(ctx)
        if needs is None:
            return ProbeResult(success=True)
        listening = ctx.elapsed >= needs.startup_seconds
        if "exec" in probe:
            return self._exec(ctx, needs, probe["exec"] or {})
        for action in ("httpGet", "tcpSocket", "grpc"):
            if action in probe:
                spec = probe[action] or {}
                port = self._port(ctx.container, spec.get("port"))
                host = spec.get("host") or ctx.pod_ip
                open_ = listening and port is not None and any(
                    listener.port == port for listener in listeners(ctx.pod, ctx.container))
                if action == "httpGet":
                    return self._http(ctx, needs, kind, probe, spec, host, port, open_)
                if open_:
                    return ProbeResult(success=True)
                if action == "grpc":
                    timeout = go_seconds(probe.get("timeoutSeconds") or 1)
                    return ProbeResult(False, f'timeout: failed to connect service "{host}:{port}" within {timeout}')
                return ProbeResult(False, f"dial tcp {host}:{port}: connect: connection refused")
        return ProbeResult(success=True)

    def observe(self, ctx: ContainerContext, seconds: float) -> tuple[str, ...]:
        needs = self._declared(ctx)
        if needs is None or ctx.elapsed < needs.startup_seconds:
            return ()
        broken = self._unreachable(ctx, needs)
        lines = [f"ERROR kubernetes API: {denial}" for denial in self._denied(ctx, needs)]
        lines += [f"ERROR {dep.name} {dep.host}:{dep.port}: {_message(conn)}" for dep, conn in broken]
        failure = self._degraded(ctx, needs)
        if failure and not any(dep.required for dep, _ in broken):  # a dependency further down fails
            lines.append(f"ERROR {failure}")
        load = needs.load
        if load is not None and load.rps > 0:
            count = min(MAX_REQUEST_LINES, max(1, int(load.rps * seconds)))
            degraded = failure is not None or any(dep.required for dep, _ in broken)
            lines += [self._request_line(needs, load.path, degraded)] * count
        return tuple(lines)

    # -- helpers ------------------------------------------------------------------------------------
    @staticmethod
    def _declared(ctx: ContainerContext) -> ContainerNeeds | None:
        """The container's needs, or None when its pod declares none for it (a malformed declaration is none).

        Parsed once per annotation text (the network model's cache), as probes ask often.
        """
        return declared_needs(ctx.pod).get(ctx.container.get("name", ""))

    @staticmethod
    def _startup_lines(container: dict[str, Any], needs: ContainerNeeds) -> tuple[str, ...]:
        if needs.startup_logs:
            return needs.startup_logs
        lines = [f"starting {container.get('name', '')} ({container.get('image', '')})"]
        lines += [f"listening on :{listener.port}" for listener in needs.listen]
        return tuple(lines)

    @staticmethod
    def _port(container: dict[str, Any], port: Any) -> int | None:
        """A probe's port: a number, or the name of one of the container's ports."""
        if isinstance(port, int):
            return port
        if isinstance(port, str) and port.isdigit():
            return int(port)
        for declared in container.get("ports") or []:
            if declared.get("name") == port:
                return int(declared.get("containerPort") or 0)
        return None

    def _unreachable(self, ctx: ContainerContext, needs: ContainerNeeds) -> list[tuple[Dependency, Any]]:
        """The container's dependencies that the network model cannot connect to from its pod."""
        network: NetworkView | None = getattr(self.cluster, "network", None)
        if network is None or not needs.dependencies:
            return []
        return [(dep, conn) for dep, conn in network.dependency_health(ctx.pod, ctx.container.get("name", ""))
                if not getattr(conn, "ok", True)]

    def _denied(self, ctx: ContainerContext, needs: ContainerNeeds) -> list[str]:
        """The 403 messages of the container's declared API requests that the cluster's RBAC denies."""
        authorizer = getattr(self.cluster, "authorizer", None)
        if authorizer is None or not needs.kubernetes_api:
            return []
        return api_denials(authorizer, ctx.pod, needs)

    def _degraded(self, ctx: ContainerContext, needs: ContainerNeeds) -> str | None:
        """Why the container cannot serve (a required dependency, or one further down, fails), as the network says."""
        network: NetworkView | None = getattr(self.cluster, "network", None)
        if network is None or not needs.dependencies or not hasattr(network, "degraded"):
            return None
        return network.degraded(ctx.pod, ctx.container.get("name", ""))

    def _http(self, ctx: ContainerContext, needs: ContainerNeeds, kind: str, probe: dict[str, Any],
              spec: dict[str, Any], host: str, port: int | None, open_: bool) -> ProbeResult:
        scheme = str(spec.get("scheme") or "HTTP").lower()
        path = spec.get("path") or "/"
        url = f'Get "{scheme}://{host}:{port}{path}"'
        if port is None:
            return ProbeResult(False, f'{url}: dial tcp {host}: missing port in address')
        if not open_:
            return ProbeResult(False, f"{url}: dial tcp {host}:{port}: connect: connection refused")
        listener = next(listener for listener in listeners(ctx.pod, ctx.container) if listener.port == port)
        code = listener.paths.get(path, 404 if listener.paths else 200)
        if kind == "readiness" and code < 400 and self._denied(ctx, needs):
            code = 503
        if kind == "readiness" and code < 400:
            timeout = float(probe.get("timeoutSeconds") or 1)
            checked = [(dep, conn) for dep, conn in self._unreachable(ctx, needs) if dep.required and dep.readiness]
            if any(getattr(conn, "error", None) == "timeout" and dep.timeout_seconds >= timeout
                   for dep, conn in checked):
                return ProbeResult(False, f"{url}: context deadline exceeded (Client.Timeout exceeded while "
                                          f"awaiting headers)")
            if checked:
                code = 503
        if 200 <= code < 400:
            return ProbeResult(success=True)
        return ProbeResult(False, f"HTTP probe failed with statuscode: {code}")

    @staticmethod
    def _exec(ctx: ContainerContext, needs: ContainerNeeds, action: dict[str, Any]) -> ProbeResult:
        command = [str(part) for part in action.get("command") or []]
        text = " ".join(command)
        for file in needs.files:
            if file.path in text and file.path not in ctx.files:
                if any(Path(part).name == "cat" for part in command):
                    return ProbeResult(False, f"cat: can't open '{file.path}': No such file or directory")
                return ProbeResult(False, f"{file.path}: No such file or directory")
        return ProbeResult(success=True)

    @staticmethod
    def _request_line(needs: ContainerNeeds, path: str, degraded: bool) -> str:
        line = needs.request_log or f"GET {path} 200"
        if not degraded:
            return line
        words = line.split()
        method = words[0] if words and words[0] in HTTP_METHODS else "GET"
        return f"{method} {path} 502"


def _message(connection: Any) -> str:
    return str(getattr(connection, "message", "") or getattr(connection, "error", "") or "unreachable")


def go_seconds(value: Any) -> str:
    """Whole seconds as Go prints a duration (``1s``)."""
    return f"{int(value)}s"
