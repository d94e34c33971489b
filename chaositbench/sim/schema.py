"""The real Kubernetes API schemas, as shipped by the ``kubernetes-validate`` wheel.

The wheel carries, per Kubernetes version, one ``_definitions.json`` holding every
API type as JSON schema (``$defs``), including the vendor extensions the API
server itself relies on: ``x-kubernetes-group-version-kind`` on top-level kinds,
and ``x-kubernetes-patch-merge-key`` / ``x-kubernetes-patch-strategy`` /
``x-kubernetes-list-type`` / ``x-kubernetes-list-map-keys`` /
``x-kubernetes-map-type`` on fields. This module loads that file once, lazily,
and answers the questions the patch engines, the OpenAPI documents and strict
field validation ask of it.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

#: The schema set matching the Kubernetes version the simulated server reports.
SCHEMA_VERSION = "v1.37.0-local"

_REF_PREFIX = "#/$defs/"

Schema = dict[str, Any]


@lru_cache(maxsize=1)
def definitions() -> Mapping[str, Schema]:
    """All definitions by name (``io.k8s.api.core.v1.Pod``); loaded once per process.

    The returned mapping and its schemas are shared: treat them as read-only.
    """
    with _definitions_path().open("rb") as fh:
        return json.load(fh)["$defs"]


def _definitions_path() -> Path:
    """Where the wheel keeps the file, found without importing the package (its import is slow)."""
    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the kubernetes-validate package is not installed")
    package = Path(next(iter(spec.submodule_search_locations)))
    return package / "kubernetes-json-schema" / SCHEMA_VERSION / "_definitions.json"


@lru_cache(maxsize=1)
def _gvk_index() -> dict[tuple[str, str, str], str]:
    index: dict[tuple[str, str, str], str] = {}
    for name, schema in definitions().items():
        for gvk in schema.get("x-kubernetes-group-version-kind", ()):
            index.setdefault((gvk.get("group", ""), gvk.get("version", ""), gvk.get("kind", "")), name)
    return index


def definition_name(group: str, version: str, kind: str) -> str | None:
    """The definition declaring this group/version/kind, or None (core group is ``""``)."""
    return _gvk_index().get((group, version, kind))


def kind_schema(group: str, version: str, kind: str) -> Schema | None:
    """The definition of a top-level kind, or None when the schemas do not know it."""
    name = definition_name(group, version, kind)
    return definitions()[name] if name else None


def ref_name(schema: Schema) -> str | None:
    """The definition name a ``$ref`` schema points to (None for inline schemas)."""
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith(_REF_PREFIX):
        return ref[len(_REF_PREFIX):]
    return None


def resolve(schema: Schema | None) -> Schema | None:
    """Follow ``$ref`` chains to the schema that carries the type's structure."""
    seen = 0
    while schema is not None and "$ref" in schema and seen < 16:
        name = ref_name(schema)
        schema = definitions().get(name) if name else None
        seen += 1
    return schema


def _types(schema: Schema) -> set[str]:
    declared = schema.get("type")
    if isinstance(declared, str):
        return {declared}
    if isinstance(declared, list):
        return {t for t in declared if isinstance(t, str)}
    return set()


def is_free_form(schema: Schema | None) -> bool:
    """True when any content is accepted below this schema (unknown or untyped objects).

    That is: no schema at all, ``x-kubernetes-preserve-unknown-fields``, or an
    object type that declares neither ``properties`` nor ``additionalProperties``
    (``RawExtension``, apiextensions ``JSON``).
    """
    target = resolve(schema)
    if target is None or target.get("x-kubernetes-preserve-unknown-fields") or (
            schema is not None and schema.get("x-kubernetes-preserve-unknown-fields")):
        return True
    if "properties" in target or "additionalProperties" in target or "items" in target:
        return False
    types = _types(target)
    return not types or "object" in types


def child_schema(schema: Schema | None, key: str) -> Schema | None:
    """The schema of field ``key`` of an object (a declared property or a map value)."""
    target = resolve(schema)
    if target is None:
        return None
    props = target.get("properties")
    if props and key in props:
        return props[key]
    extra = target.get("additionalProperties")
    if isinstance(extra, dict):
        return extra
    if extra is True:
        return {}
    return None


def item_schema(schema: Schema | None) -> Schema | None:
    """The schema of the items of an array."""
    target = resolve(schema)
    if target is None:
        return None
    items = target.get("items")
    return items if isinstance(items, dict) else None


@dataclass(frozen=True)
class FieldMeta:
    """How a field merges: its patch strategies, merge key, list type and map type."""

    patch_strategies: tuple[str, ...] = ()
    merge_key: str | None = None
    list_type: str | None = None  # "atomic", "set" or "map"
    list_map_keys: tuple[str, ...] = ()
    map_type: str | None = None  # "atomic" or "granular" for objects

    @property
    def patch_strategy(self) -> str | None:
        """The strategy as written in the schema (``merge``, ``merge,retainKeys`` ...)."""
        return ",".join(self.patch_strategies) or None

    @property
    def merges(self) -> bool:
        """Strategic merge patch merges this list (or map) instead of replacing it."""
        return "merge" in self.patch_strategies

    @property
    def replaces(self) -> bool:
        """Strategic merge patch replaces this field whole."""
        return "replace" in self.patch_strategies

    @property
    def retains_keys(self) -> bool:
        """The field honours ``$retainKeys`` (a union such as Deployment ``strategy``)."""
        return "retainKeys" in self.patch_strategies

    @property
    def associative_keys(self) -> tuple[str, ...]:
        """Keys identifying list items for server-side apply (empty when not a list map)."""
        if self.list_type == "map":
            return self.list_map_keys or ((self.merge_key,) if self.merge_key else ())
        if self.list_type is None and self.merge_key:
            return (self.merge_key,)
        return ()


_NO_META = FieldMeta()


def field_meta(schema: Schema | None) -> FieldMeta:
    """The merge metadata of a field, read from its property schema and its referenced type."""
    if schema is None:
        return _NO_META
    target = resolve(schema) or {}

    def pick(key: str) -> Any:
        value = schema.get(key)
        return target.get(key) if value is None else value

    strategy = pick("x-kubernetes-patch-strategy") or ""
    return FieldMeta(
        patch_strategies=tuple(s for s in strategy.split(",") if s),
        merge_key=pick("x-kubernetes-patch-merge-key"),
        list_type=pick("x-kubernetes-list-type"),
        list_map_keys=tuple(pick("x-kubernetes-list-map-keys") or ()),
        map_type=pick("x-kubernetes-map-type"),
    )


def schema_at(group: str, version: str, kind: str, path: Sequence[str]) -> Schema | None:
    """The (unresolved) schema of the field at ``path`` below a kind's root.

    ``path`` holds field names only; arrays on the way are entered transparently,
    so ``("spec", "template", "spec", "containers", "ports")`` reaches the
    container ports list. The kind's own definition is returned for an empty path.
    """
    schema = kind_schema(group, version, kind)
    for key in path:
        while schema is not None and "array" in _types(resolve(schema) or {}):
            schema = item_schema(schema)
        schema = child_schema(schema, key)
        if schema is None:
            return None
    return schema


def field_meta_at(group: str, version: str, kind: str, path: Sequence[str]) -> FieldMeta:
    """Merge metadata of the field at ``path`` (see :func:`schema_at`); empty when unknown."""
    return field_meta(schema_at(group, version, kind, path))


def unknown_fields(obj: dict[str, Any], group: str, version: str, kind: str) -> list[str]:
    """Dotted paths of the fields of ``obj`` its schema does not declare.

    Paths read as the API server's strict decoding errors print them:
    ``spec.template.spec.containers[0].imagePullPolicyy``. ``apiVersion`` and
    ``kind`` are always accepted; nothing below a free-form schema is flagged.
    Kinds without a schema yield no unknown fields.
    """
    root = kind_schema(group, version, kind)
    if root is None:
        return []
    found: list[str] = []
    for key, value in obj.items():
        if key in ("apiVersion", "kind"):
            continue
        _check(value, child_schema(root, key), key, root, found)
    return found


def _check(value: Any, schema: Schema | None, path: str, parent: Schema, found: list[str]) -> None:
    if schema is None:
        if not is_free_form(parent):
            found.append(path)
        return
    if isinstance(value, dict):
        target = resolve(schema) or {}
        if is_free_form(schema) or ("properties" not in target and "additionalProperties" not in target):
            return  # free-form, or a type mismatch that validation reports
        for key, sub in value.items():
            _check(sub, child_schema(schema, key), f"{path}.{key}", schema, found)
    elif isinstance(value, list):
        items = item_schema(schema)
        if items is None:
            return
        for index, sub in enumerate(value):
            if isinstance(sub, (dict, list)):
                _check(sub, items, f"{path}[{index}]", items, found)


_JSON_NAMES = {dict: "object", list: "array", str: "string", bool: "bool", int: "number", float: "number"}


def _go_type(schema: Schema) -> str:
    """How Go names the field's type in a decoding error (``int32``, ``string``, ``v1.Container`` ...)."""
    name = ref_name(schema)
    if name:
        parts = name.split(".")
        return f"{parts[-2]}.{parts[-1]}" if len(parts) > 1 else name
    target = resolve(schema) or {}
    types = _types(target)
    fmt = target.get("format")
    if "integer" in types:
        return fmt or "int64"
    if "number" in types:
        return "float64"
    if "boolean" in types:
        return "bool"
    if "string" in types:
        return "string"
    if "array" in types:
        items = item_schema(target)
        return "[]" + (_go_type(items) if items else "interface {}")
    if "object" in types:
        extra = target.get("additionalProperties")
        return "map[string]" + (_go_type(extra) if isinstance(extra, dict) else "interface {}")
    return "interface {}"


def _accepts(value: Any, schema: Schema) -> bool:
    target = resolve(schema) or {}
    if value is None or target.get("x-kubernetes-int-or-string") or schema.get("x-kubernetes-int-or-string"):
        return value is None or isinstance(value, (str, int)) and not isinstance(value, bool)
    if "oneOf" in target or "anyOf" in target:
        return True
    types = _types(target)
    if not types:
        return True
    if isinstance(value, bool):
        return "boolean" in types
    if isinstance(value, int):
        return bool(types & {"integer", "number"})
    if isinstance(value, float):
        return "number" in types or ("integer" in types and value.is_integer())
    if isinstance(value, str):
        return "string" in types
    if isinstance(value, list):
        return "array" in types
    if isinstance(value, dict):
        return "object" in types
    return False


def type_mismatch(obj: dict[str, Any], group: str, version: str, kind: str) -> str | None:
    """The first value of ``obj`` whose JSON type its schema cannot decode, as Go's decoder words it.

    ``json: cannot unmarshal array into Go struct field Pod.metadata.labels of type string`` —
    the API server answers such a body with 400 before looking at it any further.
    """
    root = kind_schema(group, version, kind)
    if root is None:
        return None
    stack: list[tuple[Any, Schema, str]] = [(value, child_schema(root, key) or {}, key)
                                            for key, value in reversed(list(obj.items()))
                                            if key not in ("apiVersion", "kind")]
    while stack:
        value, schema, path = stack.pop()
        if not schema or is_free_form(schema) and not isinstance(value, (str, int, float, bool)):
            continue
        if not _accepts(value, schema):
            got = _JSON_NAMES.get(type(value), "value")
            return f"json: cannot unmarshal {got} into Go struct field {kind}.{path} of type {_go_type(schema)}"
        if isinstance(value, dict):
            for key, sub in reversed(list(value.items())):
                child = child_schema(schema, key)
                if child is not None:
                    stack.append((sub, child, f"{path}.{key}"))
        elif isinstance(value, list):
            items = item_schema(schema)
            if items is not None:
                stack.extend((sub, items, path) for sub in reversed(value))
    return None


_PATH_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def prune_unknown(obj: dict[str, Any], group: str, version: str, kind: str) -> list[str]:
    """Drop the fields of ``obj`` its schema does not declare (in place), as decoding does; return their paths."""
    paths = unknown_fields(obj, group, version, kind)
    for path in paths:
        tokens = [(m.group(1), m.group(2)) for m in _PATH_TOKEN.finditer(path)]
        container: Any = obj
        for name, index in tokens[:-1]:
            container = container[int(index)] if index is not None else container.get(name)
            if not isinstance(container, (dict, list)):
                break
        else:
            last, last_index = tokens[-1]
            if isinstance(container, dict) and last_index is None:
                container.pop(last, None)
    return paths
