"""Legacy API discovery documents (``/api``, ``/apis``, ``APIResourceList``) built from the kind registry.

client-go picks the discovery format from the response Content-Type only; we
answer plain ``application/json`` so kubectl uses the legacy documents.
"""

from __future__ import annotations

import hashlib
from typing import Any

from .kinds import Kind, all_kinds, group_versions

#: Subresource name → (kind, group, version, verbs) of what it serves; group/version None = the parent's.
SUBRESOURCES: dict[str, tuple[str | None, str | None, str | None, list[str]]] = {
    "status": (None, None, None, ["get", "patch", "update"]),
    "scale": ("Scale", "autoscaling", "v1", ["get", "patch", "update"]),
    "log": (None, None, None, ["get"]),
    "exec": ("PodExecOptions", None, None, ["create", "get"]),
    "attach": ("PodAttachOptions", None, None, ["create", "get"]),
    "portforward": ("PodPortForwardOptions", None, None, ["create", "get"]),
    "proxy": (None, None, None, ["create", "delete", "get", "patch", "update"]),
    "eviction": ("Eviction", "policy", "v1", ["create"]),
    "binding": ("Binding", None, None, ["create"]),
    "token": ("TokenRequest", "authentication.k8s.io", "v1", ["create"]),
    "finalize": (None, None, None, ["update"]),
    "ephemeralcontainers": (None, None, None, ["get", "patch", "update"]),
    "resize": (None, None, None, ["get", "patch", "update"]),
}


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def served_kinds(include_virtual_metrics: bool) -> list[Kind]:
    return [k for k in all_kinds() if include_virtual_metrics or k.group != "metrics.k8s.io"]


def api_versions(server_address: str) -> dict[str, Any]:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}


def _group(group: str, versions: list[str]) -> dict[str, Any]:
    entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": entries, "preferredVersion": entries[0]}


def api_group_list(with_metrics: bool) -> dict[str, Any]:
    groups = [_group(g, vs) for g, vs in group_versions().items()
              if g and (with_metrics or g != "metrics.k8s.io")]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(group: str) -> dict[str, Any] | None:
    versions = group_versions().get(group)
    if not group or not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(group, versions)}


def resource_list(group: str, version: str, with_metrics: bool) -> dict[str, Any] | None:
    """The ``APIResourceList`` of one group-version, subresources included."""
    kinds = [k for k in served_kinds(with_metrics) if k.group == group and k.version == version]
    if not kinds:
        return None
    resources: list[dict[str, Any]] = []
    for k in kinds:
        entry: dict[str, Any] = {"name": k.plural, "singularName": k.singular, "namespaced": k.namespaced,
                                 "kind": k.kind, "verbs": list(k.verbs)}
        if k.short_names:
            entry["shortNames"] = list(k.short_names)
        if k.categories:
            entry["categories"] = list(k.categories)
        if not k.virtual:
            entry["storageVersionHash"] = _hash(f"{k.group}/{k.version}/{k.kind}")
        resources.append(entry)
        for sub in k.subresources:
            sub_kind, sub_group, sub_version, verbs = SUBRESOURCES[sub]
            sub_entry: dict[str, Any] = {"name": f"{k.plural}/{sub}", "singularName": "", "namespaced": k.namespaced,
                                         "kind": sub_kind or k.kind, "verbs": verbs}
            if sub_group:
                sub_entry["group"], sub_entry["version"] = sub_group, sub_version
            resources.append(sub_entry)
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}
