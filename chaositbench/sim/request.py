"""Parsing an API request path into what it addresses (kind, namespace, name, subresource)."""

from __future__ import annotations

from dataclasses import dataclass

from .kinds import Kind, by_path


@dataclass(frozen=True)
class ResourcePath:
    """``/api/v1/namespaces/ns/pods/name/log`` split into its parts."""

    kind: Kind
    namespace: str | None  # None: all namespaces (or cluster-scoped)
    name: str | None
    subresource: str | None
    proxy_path: str = ""  # what follows ``.../proxy/`` (nodes, services)


def parse_resource_path(group: str, version: str, segments: list[str]) -> ResourcePath | None:
    """Resolve the segments after ``/api/v1`` or ``/apis/g/v``; None when nothing is served there."""
    if not segments or any(not s for s in segments):
        return None
    if segments[0] == "namespaces" and len(segments) >= 3:
        kind = by_path(group, version, segments[2])
        if kind is not None and kind.namespaced and (len(segments) <= 5 or segments[4] == "proxy"):
            return ResourcePath(kind, segments[1], segments[3] if len(segments) > 3 else None,
                                segments[4] if len(segments) > 4 else None, "/".join(segments[5:]))
    kind = by_path(group, version, segments[0])
    if kind is None or (len(segments) > 3 and segments[2] != "proxy"):
        return None
    if kind.namespaced and len(segments) > 1:
        return None  # namespaced kinds are addressed by name only under /namespaces/{ns}/
    return ResourcePath(kind, None, segments[1] if len(segments) > 1 else None,
                        segments[2] if len(segments) > 2 else None, "/".join(segments[3:]))
