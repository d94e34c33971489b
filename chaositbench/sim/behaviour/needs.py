"""Declared needs of a workload: what its containers need to run, as an annotation a real cluster ignores.

The pod (or pod template) annotation ``chaositbench.io/needs`` holds a YAML or
JSON mapping from container name to that container's needs::

    chaositbench.io/needs: |
      app:
        memory: {workingSet: 96Mi, growthPerMinute: 0Mi}
        cpu: {usage: 50m, perRequest: 5ms}   # idle usage, plus CPU time per request served
        ephemeralStorage: {usage: 10Mi, writesPerMinute: 0Mi}
        startupSeconds: 3
        listen:
          - port: 8080
            paths: {/healthz: 200, /ready: 200, /pay: 200}
        dependencies:
          - {name: database, host: postgres.data, port: 5432, timeoutSeconds: 2}
          - {name: fraud, host: fraud.risk, port: 8080, readiness: false}  # calls fail, readiness holds
        env:
          - {name: DB_HOST, required: true}
          - {name: PAYMENT_MODE, oneOf: [live, sandbox]}
        files:
          - {path: /etc/payments/config.yaml, requiredKeys: [gateway]}
        logs:
          startup: ["starting payments on :8080"]
          request: "POST /pay 200"
        load: {rps: 20, path: /pay}   # traffic arriving from outside (an edge service)
        kubernetesApi:                # requests it makes with its ServiceAccount; a denial → not ready
          - {verb: get, resource: configmaps, name: payments-flags}   # group "", the pod's namespace

A container may also be declared on its own, in the annotation
``needs.chaositbench.io/<container>`` (named like the per-container
``container.apparmor.security.beta.kubernetes.io/<container>``): its value is
that one container's mapping, and it overrides the container's entry of
``chaositbench.io/needs``. A change that adds a container (an init container,
a sidecar) declares it this way without rewriting the whole declaration.

Everything is optional; a container without needs starts and becomes ready.
The model reads only these declarations and the real objects (limits, env,
probes, policies, nodes) — never names of a particular application. Malformed
declarations raise :class:`NeedsError` naming the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import yaml

from ..quantity import QuantityError, bytes_of, cpu_millis

ANNOTATION = "chaositbench.io/needs"
#: Prefix of the per-container annotations ``needs.chaositbench.io/<container>``.
CONTAINER_ANNOTATION_PREFIX = "needs.chaositbench.io/"


class NeedsError(ValueError):
    """A declaration that cannot be understood (its message names the field)."""


@dataclass(frozen=True)
class Listener:
    """A port the container serves, and the HTTP status each path answers when healthy."""

    port: int
    protocol: str = "TCP"
    paths: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Dependency:
    """Another service the container calls; unreachable → errors, not-ready (if required)."""

    name: str
    host: str
    port: int
    protocol: str = "TCP"
    timeout_seconds: float = 2.0
    required: bool = True  # requests that need it fail (502 upstream) while it is unreachable
    readiness: bool = True  # the readiness endpoint checks it (only meaningful when required)


@dataclass(frozen=True)
class EnvNeed:
    """An environment variable the program reads; missing or wrong values crash it at start."""

    name: str
    required: bool = True
    one_of: tuple[str, ...] = ()  # accepted values, when constrained
    pattern: str | None = None  # a regular expression the value must match


@dataclass(frozen=True)
class FileNeed:
    """A file the program reads at start (from a mounted ConfigMap/Secret), with keys it must find in it."""

    path: str
    required_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class Load:
    """Steady traffic arriving at this container from outside the cluster (it is an edge)."""

    rps: float
    path: str = "/"
    port: int | None = None  # default: the first listener


@dataclass(frozen=True)
class ApiNeed:
    """A Kubernetes API request the program makes with its ServiceAccount; while it is denied, it is not ready."""

    verb: str
    resource: str
    group: str = ""
    namespace: str | None = None  # None: the pod's own namespace
    name: str | None = None  # None: the collection


@dataclass(frozen=True)
class ContainerNeeds:
    """Everything one container declares."""

    memory_bytes: int = 32 * 1024 * 1024
    memory_growth_bytes_per_min: int = 0
    cpu_millis: int = 10
    cpu_seconds_per_request: float = 0.0  # CPU time one request costs (0: usage scales with nominal traffic)
    storage_bytes: int = 0
    storage_writes_bytes_per_min: int = 0
    startup_seconds: float = 1.0
    listen: tuple[Listener, ...] = ()
    dependencies: tuple[Dependency, ...] = ()
    env: tuple[EnvNeed, ...] = ()
    files: tuple[FileNeed, ...] = ()
    startup_logs: tuple[str, ...] = ()
    request_log: str | None = None
    load: Load | None = None
    kubernetes_api: tuple[ApiNeed, ...] = ()


DEFAULT = ContainerNeeds()


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise NeedsError(f"{where}: must be a mapping")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise NeedsError(f"{where}: must be a list")
    return value


def _bytes(value: Any, where: str) -> int:
    try:
        return int(bytes_of(str(value)))
    except (QuantityError, ValueError) as exc:
        raise NeedsError(f"{where}: {exc}") from None


def _millis(value: Any, where: str) -> int:
    try:
        return int(cpu_millis(str(value)))
    except (QuantityError, ValueError) as exc:
        raise NeedsError(f"{where}: {exc}") from None


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise NeedsError(f"{where}: must be a non-negative number")
    return float(value)


def _duration(value: Any, where: str) -> float:
    """Seconds of a duration written ``5ms``, ``0.2s`` or as a number of seconds."""
    text = str(value).strip()
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s)?", text)
    if match is None or isinstance(value, bool):
        raise NeedsError(f"{where}: must be a duration such as 5ms or 0.2s, not {value!r}")
    return float(match.group(1)) / (1000 if match.group(2) == "ms" else 1)


def _port(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise NeedsError(f"{where}: must be a port number between 1 and 65535")
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise NeedsError(f"{where}: must be a non-empty string")
    return value


def parse_container(raw: Any, where: str) -> ContainerNeeds:
    """One container's needs from its declaration."""
    spec = _mapping(raw, where)
    memory = _mapping(spec.get("memory"), f"{where}.memory")
    cpu = _mapping(spec.get("cpu"), f"{where}.cpu")
    storage = _mapping(spec.get("ephemeralStorage"), f"{where}.ephemeralStorage")
    listen = tuple(
        Listener(port=_port(item.get("port"), f"{where}.listen[{i}].port"),
                 protocol=str(item.get("protocol", "TCP")),
                 paths={_text(p, f"{where}.listen[{i}].paths"): int(code)
                        for p, code in _mapping(item.get("paths"), f"{where}.listen[{i}].paths").items()})
        for i, item in enumerate(_mapping(x, f"{where}.listen[{j}]") for j, x in enumerate(
            _list(spec.get("listen"), f"{where}.listen"))))
    dependencies = tuple(
        Dependency(name=_text(item.get("name", item.get("host")), f"{where}.dependencies[{i}].name"),
                   host=_text(item.get("host"), f"{where}.dependencies[{i}].host"),
                   port=_port(item.get("port"), f"{where}.dependencies[{i}].port"),
                   protocol=str(item.get("protocol", "TCP")),
                   timeout_seconds=_number(item.get("timeoutSeconds", 2), f"{where}.dependencies[{i}].timeoutSeconds"),
                   required=bool(item.get("required", True)),
                   readiness=bool(item.get("readiness", item.get("required", True))))
        for i, item in enumerate(_mapping(x, f"{where}.dependencies[{j}]") for j, x in enumerate(
            _list(spec.get("dependencies"), f"{where}.dependencies"))))
    env = tuple(
        EnvNeed(name=_text(item.get("name"), f"{where}.env[{i}].name"), required=bool(item.get("required", True)),
                one_of=tuple(str(v) for v in _list(item.get("oneOf"), f"{where}.env[{i}].oneOf")),
                pattern=item.get("pattern"))
        for i, item in enumerate(_mapping(x, f"{where}.env[{j}]") for j, x in enumerate(
            _list(spec.get("env"), f"{where}.env"))))
    files = tuple(
        FileNeed(path=_text(item.get("path"), f"{where}.files[{i}].path"),
                 required_keys=tuple(str(k) for k in _list(item.get("requiredKeys"), f"{where}.files[{i}].requiredKeys")))
        for i, item in enumerate(_mapping(x, f"{where}.files[{j}]") for j, x in enumerate(
            _list(spec.get("files"), f"{where}.files"))))
    logs = _mapping(spec.get("logs"), f"{where}.logs")
    load_spec = _mapping(spec.get("load"), f"{where}.load")
    load = Load(rps=_number(load_spec.get("rps", 1), f"{where}.load.rps"),
                path=str(load_spec.get("path", "/")),
                port=_port(load_spec["port"], f"{where}.load.port") if "port" in load_spec else None
                ) if load_spec else None
    kubernetes_api = tuple(
        ApiNeed(verb=_text(item.get("verb"), f"{where}.kubernetesApi[{i}].verb"),
                resource=_text(item.get("resource"), f"{where}.kubernetesApi[{i}].resource"),
                group=str(item.get("group") or ""),
                namespace=_text(item["namespace"], f"{where}.kubernetesApi[{i}].namespace")
                if item.get("namespace") is not None else None,
                name=_text(item["name"], f"{where}.kubernetesApi[{i}].name") if item.get("name") is not None else None)
        for i, item in enumerate(_mapping(x, f"{where}.kubernetesApi[{j}]") for j, x in enumerate(
            _list(spec.get("kubernetesApi"), f"{where}.kubernetesApi"))))
    return ContainerNeeds(
        memory_bytes=_bytes(memory.get("workingSet", "32Mi"), f"{where}.memory.workingSet"),
        memory_growth_bytes_per_min=_bytes(memory.get("growthPerMinute", 0), f"{where}.memory.growthPerMinute"),
        cpu_millis=_millis(cpu.get("usage", "10m"), f"{where}.cpu.usage"),
        cpu_seconds_per_request=_duration(cpu.get("perRequest", 0), f"{where}.cpu.perRequest"),
        storage_bytes=_bytes(storage.get("usage", 0), f"{where}.ephemeralStorage.usage"),
        storage_writes_bytes_per_min=_bytes(storage.get("writesPerMinute", 0),
                                            f"{where}.ephemeralStorage.writesPerMinute"),
        startup_seconds=_number(spec.get("startupSeconds", 1.0), f"{where}.startupSeconds"),
        listen=listen, dependencies=dependencies, env=env, files=files,
        startup_logs=tuple(str(x) for x in _list(logs.get("startup"), f"{where}.logs.startup")),
        request_log=str(logs["request"]) if logs.get("request") is not None else None,
        load=load, kubernetes_api=kubernetes_api,
    )


def _declarations(pod: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """The pod's needs annotations (pod-wide first, then per container by name), as a hashable key."""
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    per_container = sorted((k, v) for k, v in annotations.items()
                           if k.startswith(CONTAINER_ANNOTATION_PREFIX) and isinstance(v, str))
    pod_wide = [(ANNOTATION, annotations[ANNOTATION])] if isinstance(annotations.get(ANNOTATION), str) else []
    return tuple(pod_wide + per_container)


def _load(key: str, text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise NeedsError(f"{key}: not valid YAML: {exc}") from None


def _parse(declarations: tuple[tuple[str, str], ...]) -> dict[str, ContainerNeeds]:
    result: dict[str, ContainerNeeds] = {}
    for key, text in declarations:
        if not text:
            continue
        if key == ANNOTATION:
            result.update({str(name): parse_container(spec, f"{ANNOTATION}.{name}")
                           for name, spec in _mapping(_load(key, text), ANNOTATION).items()})
        else:
            result[key[len(CONTAINER_ANNOTATION_PREFIX):]] = parse_container(_load(key, text), key)
    return result


def needs_of(pod: dict[str, Any]) -> dict[str, ContainerNeeds]:
    """The declared needs of each container of a pod (containers without a declaration get none)."""
    return _parse(_declarations(pod))


@lru_cache(maxsize=4096)
def _parse_leniently(declarations: tuple[tuple[str, str], ...]) -> dict[str, ContainerNeeds]:
    try:
        return _parse(declarations)
    except NeedsError:
        return {}


def declared_needs(pod: dict[str, Any]) -> dict[str, ContainerNeeds]:
    """:func:`needs_of`, parsed once per distinct declaration; a malformed declaration counts as none
    (for the models that ask often; the kubelet reports malformed ones)."""
    return _parse_leniently(_declarations(pod))


def container_needs(pod: dict[str, Any], container: str) -> ContainerNeeds:
    """One container's needs, or the defaults of a container that declares nothing."""
    return needs_of(pod).get(container, DEFAULT)
