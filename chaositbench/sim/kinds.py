"""The registry of kinds the simulated API server serves.

Each kind is one declarative :class:`Kind` entry loaded from ``kinds.yaml``
(group, version, plural, scope, short names, categories, subresources). The
server, discovery, the store and the controllers look kinds up here; nothing
else hard-codes the list.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class Kind:
    """One served resource type."""

    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...]
    categories: tuple[str, ...]
    subresources: tuple[str, ...]
    has_status: bool
    verbs: tuple[str, ...]
    virtual: bool  # no storage: create-only reviews and metrics computed on demand
    preferred: bool  # the preferred version of its group
    shares_storage_with: str | None  # "/v1/events": same objects under another group

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> str:
        return self.api_version

    @property
    def storage_key(self) -> str:
        """Objects of kinds sharing storage (events, hpa versions) live under one key."""
        if self.shares_storage_with:
            return self.shares_storage_with
        return f"{self.group}/{self.plural}"

    @property
    def qualified(self) -> str:
        """``pods`` or ``deployments.apps``, as error messages name it."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


def _load() -> list[Kind]:
    raw = yaml.safe_load(resources.files(__package__).joinpath("kinds.yaml").read_text())
    kinds: list[Kind] = []
    for entry in raw:
        entry: dict[str, Any]
        group = entry["group"]
        kinds.append(Kind(
            group=group,
            version=entry["version"],
            kind=entry["kind"],
            plural=entry["plural"],
            singular=entry.get("singular", entry["kind"].lower()),
            namespaced=entry.get("namespaced", True),
            short_names=tuple(entry.get("short_names", ())),
            categories=tuple(entry.get("categories", ())),
            subresources=tuple(entry.get("subresources", ())),
            has_status=entry.get("status", False),
            verbs=tuple(entry.get("verbs", ALL_VERBS)),
            virtual=entry.get("virtual", False),
            preferred=entry.get("preferred", True),
            shares_storage_with=entry.get("shares_storage_with"),
        ))
    return kinds


@lru_cache(maxsize=1)
def all_kinds() -> tuple[Kind, ...]:
    return tuple(_load())


@lru_cache(maxsize=None)
def by_path(group: str, version: str, plural: str) -> Kind | None:
    """The kind served at ``/apis/{group}/{version}/{plural}`` (``group`` empty for core)."""
    for k in all_kinds():
        if k.group == group and k.version == version and k.plural == plural:
            return k
    return None


@lru_cache(maxsize=None)
def by_kind(api_version: str, kind: str) -> Kind | None:
    """The kind of an object with this ``apiVersion`` and ``kind``."""
    for k in all_kinds():
        if k.api_version == api_version and k.kind == kind:
            return k
    return None


def preferred(group: str, kind: str) -> Kind:
    """The preferred version entry of ``group``/``kind`` (used by controllers)."""
    for k in all_kinds():
        if k.group == group and k.kind == kind and k.preferred:
            return k
    raise KeyError(f"{group}/{kind}")


def group_versions() -> dict[str, list[str]]:
    """Served versions per group, preferred version first; core group is ``""``."""
    out: dict[str, list[str]] = {}
    for k in all_kinds():
        versions = out.setdefault(k.group, [])
        if k.version not in versions:
            if k.preferred:
                versions.insert(0, k.version)
            else:
                versions.append(k.version)
    return out
