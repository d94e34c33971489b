"""What the kubelet hands a container: its environment and the files of its ConfigMap/Secret volumes.

:func:`container_config` resolves a container's environment as the kubelet's
``makeEnvironmentVariables`` does — ``envFrom`` first (with prefixes), then
``env`` in order (literal values with ``$(VAR)`` expansion, ``configMapKeyRef``,
``secretKeyRef``, ``fieldRef``, ``resourceFieldRef``) — and the files its
``volumeMounts`` show from ``configMap``, ``secret`` and ``projected`` volumes
(``items``, ``subPath``). A non-optional reference to a missing object or key
raises :class:`ConfigError` with the kubelet's message (``configmap "x" not
found``, ``couldn't find key KEY in ConfigMap ns/x``): the container then waits
in ``CreateContainerConfigError``. :func:`mount_errors` lists the ``configMap``
and ``secret`` volumes of a pod that cannot be set up (a missing non-optional
object, or a missing key its ``items`` name), as the kubelet's ``FailedMount``
messages: the pod then stays ``ContainerCreating``.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import Any

from ..kinds import preferred
from ..quantity import QuantityError, bytes_of, cpu_millis
from ..resources import ResourceAPI
from ..store import Obj

CONFIGMAPS = preferred("", "ConfigMap")
SECRETS = preferred("", "Secret")
_EXPANSION = re.compile(r"\$\((\w+)\)|\$\$")
_LABEL_REF = re.compile(r"metadata\.(labels|annotations)\['([^']+)'\]")


class ConfigError(Exception):
    """A container cannot be created: a referenced ConfigMap/Secret or key is missing."""


@dataclass(frozen=True)
class ContainerConfig:
    """The resolved environment and mounted files (path → content) of one container."""

    env: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)


class _Sources:
    """ConfigMap and Secret data of one namespace, read once per resolution."""

    def __init__(self, api: ResourceAPI, namespace: str) -> None:
        self.api, self.namespace = api, namespace
        self._cache: dict[tuple[str, str], dict[str, str] | None] = {}

    def data(self, kind: str, name: str) -> dict[str, str] | None:
        key = (kind, name)
        if key not in self._cache:
            self._cache[key] = self._load(kind, name)
        return self._cache[key]

    def _load(self, kind: str, name: str) -> dict[str, str] | None:
        if kind == "ConfigMap":
            obj = self.api.try_get(CONFIGMAPS, self.namespace, name)
            if obj is None:
                return None
            data = {k: str(v) for k, v in (obj.get("data") or {}).items()}
            data.update({k: _decode(v) for k, v in (obj.get("binaryData") or {}).items()})
            return data
        obj = self.api.try_get(SECRETS, self.namespace, name)
        if obj is None:
            return None
        data = {k: _decode(v) for k, v in (obj.get("data") or {}).items()}
        data.update({k: str(v) for k, v in (obj.get("stringData") or {}).items()})
        return data

    def require(self, kind: str, name: str, optional: bool) -> dict[str, str] | None:
        data = self.data(kind, name)
        if data is None and not optional:
            raise ConfigError(f'{kind.lower()} "{name}" not found')
        return data

    def key(self, kind: str, ref: dict[str, Any]) -> str | None:
        name, key, optional = ref.get("name", ""), ref.get("key", ""), bool(ref.get("optional"))
        data = self.require(kind, name, optional)
        if data is None:
            return None
        if key not in data:
            if optional:
                return None
            raise ConfigError(f"couldn't find key {key} in {kind} {self.namespace}/{name}")
        return data[key]


def _decode(value: Any) -> str:
    try:
        return base64.b64decode(str(value), validate=True).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return str(value)


def _expand(value: str, env: dict[str, str]) -> str:
    """``$(VAR)`` references to earlier variables are replaced; ``$$`` escapes a dollar."""
    def sub(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1), match.group(0))
    return _EXPANSION.sub(sub, value)


def _field(pod: Obj, path: str) -> str:
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    simple = {"metadata.name": meta.get("name"), "metadata.namespace": meta.get("namespace"),
              "metadata.uid": meta.get("uid"), "spec.nodeName": spec.get("nodeName"),
              "spec.serviceAccountName": spec.get("serviceAccountName"), "status.podIP": status.get("podIP"),
              "status.hostIP": status.get("hostIP"),
              "status.podIPs": ",".join(i.get("ip", "") for i in status.get("podIPs") or []),
              "status.hostIPs": ",".join(i.get("ip", "") for i in status.get("hostIPs") or [])}
    if path in simple:
        return str(simple[path] or "")
    match = _LABEL_REF.fullmatch(path)
    if match:
        return str((meta.get(match.group(1)) or {}).get(match.group(2), ""))
    return ""


def _resource(container: dict[str, Any], ref: dict[str, Any]) -> str:
    section, _, name = str(ref.get("resource", "")).partition(".")
    value = ((container.get("resources") or {}).get(section) or {}).get(name)
    if value is None:
        return "0"
    try:
        if name == "cpu":
            divisor = cpu_millis(str(ref.get("divisor", "1")))
            return str(-(-cpu_millis(str(value)) // max(divisor, 1)))
        divisor = bytes_of(str(ref.get("divisor", "1")))
        return str(-(-bytes_of(str(value)) // max(divisor, 1)))
    except QuantityError:
        return "0"


def _environment(pod: Obj, container: dict[str, Any], sources: _Sources) -> dict[str, str]:
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix") or ""
        for kind, ref in (("ConfigMap", source.get("configMapRef")), ("Secret", source.get("secretRef"))):
            if ref is not None:
                data = sources.require(kind, ref.get("name", ""), bool(ref.get("optional"))) or {}
                env.update({prefix + k: v for k, v in data.items()})
    for var in container.get("env") or []:
        name, source = var.get("name", ""), var.get("valueFrom")
        if source is None:
            env[name] = _expand(str(var.get("value") or ""), env)
            continue
        value: str | None
        if "configMapKeyRef" in source:
            value = sources.key("ConfigMap", source["configMapKeyRef"] or {})
        elif "secretKeyRef" in source:
            value = sources.key("Secret", source["secretKeyRef"] or {})
        elif "fieldRef" in source:
            value = _field(pod, str((source["fieldRef"] or {}).get("fieldPath", "")))
        elif "resourceFieldRef" in source:
            value = _resource(container, source["resourceFieldRef"] or {})
        else:
            value = None
        if value is not None:
            env[name] = value
    return env


def _volume_files(volume: dict[str, Any], sources: _Sources) -> dict[str, str]:
    """Relative path → content of a ConfigMap, Secret or projected volume (others hold no files we know)."""
    projections: list[tuple[str, dict[str, Any]]] = []
    if "configMap" in volume:
        projections.append(("ConfigMap", volume["configMap"] or {}))
    if "secret" in volume:
        secret = volume["secret"] or {}
        projections.append(("Secret", {**secret, "name": secret.get("secretName", "")}))
    for source in ((volume.get("projected") or {}).get("sources") or []):
        for kind, key in (("ConfigMap", "configMap"), ("Secret", "secret")):
            if key in source:
                projections.append((kind, source[key] or {}))
    files: dict[str, str] = {}
    for kind, ref in projections:
        data = sources.data(kind, ref.get("name", ""))
        if data is None:
            continue
        items = ref.get("items")
        if items:
            files.update({item.get("path", item.get("key", "")): data[item["key"]]
                          for item in items if item.get("key") in data})
        else:
            files.update(data)
    return files


def _mounted_files(pod: Obj, container: dict[str, Any], sources: _Sources) -> dict[str, str]:
    volumes = {v.get("name"): v for v in (pod.get("spec") or {}).get("volumes") or []}
    files: dict[str, str] = {}
    for mount in container.get("volumeMounts") or []:
        volume = volumes.get(mount.get("name"))
        if volume is None:
            continue
        content = _volume_files(volume, sources)
        base = str(mount.get("mountPath", "")).rstrip("/")
        sub_path = mount.get("subPath")
        if sub_path:
            if sub_path in content:
                files[base or "/"] = content[sub_path]
            continue
        files.update({f"{base}/{relative}": text for relative, text in content.items()})
    return files


def container_config(api: ResourceAPI, pod: Obj, container: dict[str, Any]) -> ContainerConfig:
    """The environment and mounted files of ``container``; raises :class:`ConfigError` as the kubelet would."""
    sources = _Sources(api, (pod.get("metadata") or {}).get("namespace") or "default")
    return ContainerConfig(env=_environment(pod, container, sources), files=_mounted_files(pod, container, sources))


def mount_errors(api: ResourceAPI, pod: Obj) -> list[str]:
    """``MountVolume.SetUp failed ...`` for each ConfigMap/Secret volume of ``pod`` that cannot be set up."""
    sources = _Sources(api, (pod.get("metadata") or {}).get("namespace") or "default")
    errors = []
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        for kind, field_name, name_key in (("ConfigMap", "configMap", "name"), ("Secret", "secret", "secretName")):
            ref = volume.get(field_name)
            if ref is None or ref.get("optional"):
                continue
            name = ref.get(name_key, "")
            data = sources.data(kind, name)
            prefix = f'MountVolume.SetUp failed for volume "{volume.get("name", "")}" : '
            if data is None:
                errors.append(f'{prefix}{kind.lower()} "{name}" not found')
                continue
            missing = [item.get("key", "") for item in ref.get("items") or [] if item.get("key") not in data]
            if missing:
                errors.append(f"{prefix}{kind.lower()} references non-existent {kind.lower()} key: {missing[0]}"
                              if kind == "Secret" else
                              f"{prefix}configmap references non-existent config key: {missing[0]}")
    return errors
