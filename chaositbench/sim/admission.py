"""Admission: what the API server does to an object after validation and before storing it.

Each plugin is a small function with the :class:`~.resources.Admission`
signature, in the order kube-apiserver runs them: ServiceAccount, LimitRanger,
ResourceQuota, plus the allocation of Service cluster IPs and node ports, and
the initial status of a Pod.
"""

from __future__ import annotations

import ipaddress
import secrets
from typing import TYPE_CHECKING, Any

from .errors import FieldError, forbidden, invalid
from .kinds import Kind, preferred
from .quantity import BINARY_SI, bytes_of, cpu_millis, format_quantity, parse_quantity
from .store import Obj

if TYPE_CHECKING:
    from .resources import ResourceAPI

SERVICE_ACCOUNTS = preferred("", "ServiceAccount")
SERVICES = preferred("", "Service")
PODS = preferred("", "Pod")
LIMIT_RANGES = preferred("", "LimitRange")
QUOTAS = preferred("", "ResourceQuota")

SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/12")
NODE_PORTS = range(30000, 32768)


def _containers(pod: Obj) -> list[dict[str, Any]]:
    spec = pod.get("spec") or {}
    return list(spec.get("containers") or []) + list(spec.get("initContainers") or [])


# -- ServiceAccount --------------------------------------------------------------------
def service_account(api: "ResourceAPI", kind: Kind, obj: Obj, old: Obj | None) -> None:
    """Pods run as a ServiceAccount that must exist (defaulting mounts its token)."""
    if kind.kind != "Pod" or old is not None:
        return
    spec = obj.setdefault("spec", {})
    name = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    spec["serviceAccountName"] = spec["serviceAccount"] = name
    ns = obj["metadata"]["namespace"]
    if api.try_get(SERVICE_ACCOUNTS, ns, name) is None:
        raise forbidden("pods", "", obj["metadata"].get("name"),
                        f'error looking up service account {ns}/{name}: serviceaccount "{name}" not found')


# -- LimitRanger -----------------------------------------------------------------------
def limit_ranger(api: "ResourceAPI", kind: Kind, obj: Obj, old: Obj | None) -> None:
    """Apply Container defaults of the namespace's LimitRanges and enforce their min/max."""
    if kind.kind != "Pod" or old is not None:
        return
    ranges, _ = api.list(LIMIT_RANGES, obj["metadata"]["namespace"])
    for lr in ranges:
        for limit in (lr.get("spec") or {}).get("limits") or []:
            if limit.get("type") != "Container":
                continue
            for c in _containers(obj):
                res = c.setdefault("resources", {})
                for field, source in (("limits", "default"), ("requests", "defaultRequest")):
                    for name, value in (limit.get(source) or {}).items():
                        res.setdefault(field, {}).setdefault(name, value)
                if "limits" in res and "requests" not in res:
                    res["requests"] = dict(res["limits"])
                for name, maximum in (limit.get("max") or {}).items():
                    have = (res.get("limits") or {}).get(name)
                    if have is not None and parse_quantity(have) > parse_quantity(maximum):
                        raise forbidden("pods", "", obj["metadata"].get("name"),
                                        f"maximum {name} usage per Container is {maximum}, but limit is {have}")
                for name, minimum in (limit.get("min") or {}).items():
                    have = (res.get("requests") or {}).get(name)
                    if have is not None and parse_quantity(have) < parse_quantity(minimum):
                        raise forbidden("pods", "", obj["metadata"].get("name"),
                                        f"minimum {name} usage per Container is {minimum}, but request is {have}")


# -- ResourceQuota ------------------------------------------------------------------------
_COUNTED = {"pods": "Pod", "services": "Service", "configmaps": "ConfigMap", "secrets": "Secret",
            "persistentvolumeclaims": "PersistentVolumeClaim", "replicationcontrollers": "ReplicationController",
            "resourcequotas": "ResourceQuota"}


def pod_usage(pod: Obj) -> dict[str, float]:
    """What one pod counts against a quota: requests/limits of cpu (millicores) and memory (bytes)."""
    usage: dict[str, float] = {"pods": 1, "count/pods": 1}
    containers = (pod.get("spec") or {}).get("containers") or []
    for c in containers:
        res = c.get("resources") or {}
        for field in ("requests", "limits"):
            for name, value in (res.get(field) or {}).items():
                amount = cpu_millis(value) if name == "cpu" else bytes_of(value)
                usage[f"{field}.{name}"] = usage.get(f"{field}.{name}", 0) + amount
                if field == "requests":
                    usage[name] = usage.get(name, 0) + amount
    return usage


def _is_terminal(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def _render(name: str, amount: float) -> str:
    base = name.split(".")[-1]
    if base == "cpu":
        return f"{int(amount)}m" if amount % 1000 else str(int(amount // 1000))
    if base in ("memory", "ephemeral-storage"):
        return format_quantity(int(amount), BINARY_SI)  # sums of Mi/Gi requests stay binary, as Quantity.Add keeps them
    return str(int(amount))


def resource_quota(api: "ResourceAPI", kind: Kind, obj: Obj, old: Obj | None) -> None:
    """Reject a create that would exceed a ResourceQuota of the namespace (the real message)."""
    if old is not None or not kind.namespaced:
        return
    ns = obj["metadata"]["namespace"]
    quotas, _ = api.list(QUOTAS, ns)
    if not quotas:
        return
    if kind.kind == "Pod":
        wanted = pod_usage(obj)
    else:
        wanted = {f"count/{kind.plural}" + (f".{kind.group}" if kind.group else ""): 1}
        if kind.plural in _COUNTED:
            wanted[kind.plural] = 1
    for quota in quotas:
        hard = (quota.get("spec") or {}).get("hard") or {}
        used = _quota_used(api, quota, ns)
        requested, used_txt, limited, exceeded = [], [], [], False
        for name, limit in sorted(hard.items()):
            if name not in wanted and not (kind.kind == "Pod" and name in ("requests.cpu", "requests.memory",
                                                                            "limits.cpu", "limits.memory",
                                                                            "cpu", "memory")):
                continue
            base = name.split(".")[-1]
            cap = cpu_millis(limit) if base == "cpu" else (bytes_of(limit) if base in ("memory", "ephemeral-storage")
                                                           else float(parse_quantity(limit)))
            if kind.kind == "Pod" and name not in wanted and name not in ("pods", "count/pods"):
                raise forbidden(kind.plural, kind.group, obj["metadata"].get("name"),
                                f"failed quota: {quota['metadata']['name']}: must specify {base}")
            if used.get(name, 0) + wanted[name] > cap:
                exceeded = True
                requested.append(f"{name}={_render(name, wanted[name])}")
                used_txt.append(f"{name}={_render(name, used.get(name, 0))}")
                limited.append(f"{name}={limit}")
        if exceeded:
            raise forbidden(kind.plural, kind.group, obj["metadata"].get("name"),
                            f"exceeded quota: {quota['metadata']['name']}, requested: {','.join(requested)}, "
                            f"used: {','.join(used_txt)}, limited: {','.join(limited)}")


def _quota_used(api: "ResourceAPI", quota: Obj, ns: str) -> dict[str, float]:
    used: dict[str, float] = {}
    hard = (quota.get("spec") or {}).get("hard") or {}
    for pod in api.list(PODS, ns)[0]:
        if _is_terminal(pod) or pod["metadata"].get("deletionTimestamp"):
            continue
        for name, amount in pod_usage(pod).items():
            used[name] = used.get(name, 0) + amount
    for name in hard:
        plural = name.removeprefix("count/").split(".")[0]
        if name in used or plural == "pods":
            continue
        for k in (preferred("", _COUNTED[plural]),) if plural in _COUNTED else ():
            used[name] = float(len(api.list(k, ns)[0]))
    return used


# -- Services ----------------------------------------------------------------------------
def allocate_service_addresses(api: "ResourceAPI", kind: Kind, obj: Obj, old: Obj | None) -> None:
    """Give a new Service its cluster IP (10.96.0.0/12) and node ports, as the allocators do."""
    if kind.kind != "Service":
        return
    spec = obj.setdefault("spec", {})
    if old is not None:
        return
    services = api.store.list(SERVICES.storage_key)
    if spec.get("type") != "ExternalName" and spec.get("clusterIP") != "None":
        taken = {s.get("spec", {}).get("clusterIP") for s in services}
        wanted = spec.get("clusterIP")
        if wanted:
            if wanted in taken:
                raise invalid("Service", "", obj["metadata"]["name"], [FieldError(
                    "spec.clusterIPs", "FieldValueInvalid",
                    f"failed to allocate IP {wanted}: provided IP is already allocated", [wanted])])
        else:
            hosts = SERVICE_CIDR.num_addresses
            for _ in range(hosts):
                candidate = str(SERVICE_CIDR[11 + secrets.randbelow(hosts - 12)])
                if candidate not in taken:
                    wanted = candidate
                    break
        spec["clusterIP"] = wanted
        spec["clusterIPs"] = [wanted]
    elif spec.get("clusterIP") == "None":
        spec["clusterIPs"] = ["None"]
    if spec.get("type") in ("NodePort", "LoadBalancer"):
        used_ports = {p.get("nodePort") for s in services for p in (s.get("spec") or {}).get("ports") or []}
        for port in spec.get("ports") or []:
            if not port.get("nodePort"):
                free = [p for p in NODE_PORTS if p not in used_ports]
                port["nodePort"] = free[secrets.randbelow(len(free))]
                used_ports.add(port["nodePort"])


ADMISSION_CHAIN = (service_account, limit_ranger, resource_quota, allocate_service_addresses)
