"""A container's environment as the kubelet and the container runtime build it.

Order and precedence follow the kubelet: ``envFrom`` sources, then ``env``
entries (``$(VAR)`` references expanded against what is defined so far and the
service variables), then the Docker-link-style service variables of the
``kubernetes`` Service and, with ``enableServiceLinks`` (the default), of every
Service of the pod's namespace, for names not already defined; the runtime adds
``PATH``, ``HOSTNAME`` and ``HOME``.
"""

from __future__ import annotations

import base64
import math
import re
from typing import Any, Callable

from ..quantity import QuantityError, bytes_of, cpu_millis

Lookup = Callable[[str, str, str], dict[str, Any] | None]  # (kind, namespace, name) -> object
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_REFERENCE = re.compile(r"\$\$|\$\(([^)]*)\)")


def expand_references(value: str, defined: dict[str, str]) -> str:
    """Kubernetes ``$(VAR)`` expansion: known names are replaced, ``$$`` escapes, unknown ones stay as written."""
    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return defined.get(name, match.group(0))
    return _REFERENCE.sub(replace, value)


def source_data(obj: dict[str, Any] | None, secret: bool) -> dict[str, str]:
    """The key → text of a ConfigMap (``data``, ``binaryData``) or Secret (``data``, base64-decoded)."""
    if obj is None:
        return {}
    out: dict[str, str] = {}
    encoded = (obj.get("data") if secret else obj.get("binaryData")) or {}
    for key, value in encoded.items():
        out[key] = base64.b64decode(value or "").decode("utf-8", errors="replace")
    if not secret:
        out.update({k: str(v) for k, v in (obj.get("data") or {}).items()})
    return out


def field_value(pod: dict[str, Any], path: str) -> str | None:
    """A downward-API ``fieldRef`` value of the pod."""
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    subscript = re.match(r"^metadata\.(labels|annotations)\['(.*)'\]$", path)
    if subscript:
        return (meta.get(subscript.group(1)) or {}).get(subscript.group(2))
    if path in ("metadata.labels", "metadata.annotations"):
        return "\n".join(f'{k}="{v}"' for k, v in sorted((meta.get(path.split(".")[1]) or {}).items()))
    simple = {"metadata.name": meta.get("name"), "metadata.namespace": meta.get("namespace"),
              "metadata.uid": meta.get("uid"), "spec.nodeName": spec.get("nodeName"),
              "spec.serviceAccountName": spec.get("serviceAccountName"), "status.hostIP": status.get("hostIP"),
              "status.podIP": status.get("podIP"),
              "status.hostIPs": ",".join(a.get("ip", "") for a in status.get("hostIPs") or []),
              "status.podIPs": ",".join(a.get("ip", "") for a in status.get("podIPs") or [])}
    return simple.get(path)


def resource_value(pod: dict[str, Any], ref: dict[str, Any], default_container: str,
                   node_allocatable: dict[str, str]) -> str | None:
    """A downward-API ``resourceFieldRef`` value: limits fall back to the node's allocatable, as the kubelet does."""
    name = ref.get("containerName") or default_container
    container = next((c for c in (pod.get("spec") or {}).get("containers") or [] if c.get("name") == name), None)
    if container is None or "." not in str(ref.get("resource", "")):
        return None
    section, resource = str(ref["resource"]).split(".", 1)
    quantity = ((container.get("resources") or {}).get(section) or {}).get(resource)
    if quantity is None:
        quantity = node_allocatable.get(resource) if section == "limits" else "0"
    if quantity is None:
        return None
    divisor = str(ref.get("divisor") or "1")
    try:
        if resource == "cpu":
            return str(math.ceil(cpu_millis(str(quantity)) / cpu_millis(divisor)))
        return str(math.ceil(bytes_of(str(quantity)) / bytes_of(divisor)))
    except (QuantityError, ValueError, ZeroDivisionError):
        return None


def _env_name(service: str) -> str:
    return service.upper().replace("-", "_")


def service_variables(services: list[dict[str, Any]]) -> dict[str, str]:
    """The ``<SVC>_SERVICE_HOST``/``_PORT`` and link variables of Services that have a cluster IP."""
    out: dict[str, str] = {}
    for svc in sorted(services, key=lambda s: s["metadata"]["name"]):
        spec = svc.get("spec") or {}
        ip, ports = spec.get("clusterIP"), spec.get("ports") or []
        if not ip or ip == "None" or not ports:
            continue
        prefix = _env_name(svc["metadata"]["name"])
        out[f"{prefix}_SERVICE_HOST"] = ip
        out[f"{prefix}_SERVICE_PORT"] = str(ports[0].get("port"))
        for port in ports:
            if port.get("name"):
                out[f"{prefix}_SERVICE_PORT_{_env_name(port['name'])}"] = str(port.get("port"))
        for index, port in enumerate(ports):
            protocol = str(port.get("protocol") or "TCP")
            url = f"{protocol.lower()}://{ip}:{port.get('port')}"
            if index == 0:
                out[f"{prefix}_PORT"] = url
            link = f"{prefix}_PORT_{port.get('port')}_{protocol.upper()}"
            out.update({link: url, f"{link}_PROTO": protocol.lower(), f"{link}_PORT": str(port.get("port")),
                        f"{link}_ADDR": ip})
    return out


def container_environment(pod: dict[str, Any], container: dict[str, Any], services: list[dict[str, Any]],
                          lookup: Lookup, hostname: str, node_allocatable: dict[str, str]) -> dict[str, str]:
    """The environment a process of ``container`` sees (``services``: the kubernetes Service and, with
    service links, those of the pod's namespace)."""
    namespace = pod["metadata"].get("namespace", "")
    service_env = service_variables(services)
    env: dict[str, str] = {"PATH": DEFAULT_PATH, "HOSTNAME": hostname}
    defined: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix") or ""
        for key, secret in (("configMapRef", False), ("secretRef", True)):
            ref = source.get(key)
            if isinstance(ref, dict):
                data = source_data(lookup("Secret" if secret else "ConfigMap", namespace, ref.get("name", "")),
                                   secret)
                defined.update({prefix + k: v for k, v in data.items() if _ENV_NAME.match(prefix + k)})
    for item in container.get("env") or []:
        value = _env_entry(pod, container, item, {**service_env, **defined}, lookup, node_allocatable)
        if value is not None:
            defined[item["name"]] = value
    env.update(defined)
    env.update({k: v for k, v in service_env.items() if k not in defined})
    env.setdefault("HOME", "/root")
    return env


def _env_entry(pod: dict[str, Any], container: dict[str, Any], item: dict[str, Any], defined: dict[str, str],
               lookup: Lookup, node_allocatable: dict[str, str]) -> str | None:
    if "valueFrom" not in item:
        return expand_references(str(item.get("value") or ""), defined)
    source = item.get("valueFrom") or {}
    namespace = pod["metadata"].get("namespace", "")
    for key, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
        ref = source.get(key)
        if isinstance(ref, dict):
            data = source_data(lookup(kind, namespace, ref.get("name", "")), kind == "Secret")
            return data.get(ref.get("key", ""))
    if isinstance(source.get("fieldRef"), dict):
        return field_value(pod, str(source["fieldRef"].get("fieldPath", "")))
    if isinstance(source.get("resourceFieldRef"), dict):
        return resource_value(pod, source["resourceFieldRef"], container.get("name", ""), node_allocatable)
    return None
