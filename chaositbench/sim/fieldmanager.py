"""Field ownership (``metadata.managedFields``) and server-side apply.

Field sets follow the structured-merge-diff model the API server uses: a set of
paths whose elements are ``f:<field>``, ``k:<json of the item's keys>`` (items of
associative lists, ``x-kubernetes-list-type: map``), ``v:<json value>`` (items of
set lists) and ``i:<index>``; a set is stored as the ``fieldsV1`` trie in which
``.`` marks a member that also has members below it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from . import clock, schema
from .errors import APIError, bad_request
from .jsonvalue import deep_copy, json_equal

Path = tuple[str, ...]

#: Metadata fields the API server owns itself; never part of a manager's set.
_SERVER_METADATA = frozenset({"name", "namespace", "creationTimestamp", "selfLink", "uid", "clusterName",
                              "generation", "managedFields", "resourceVersion"})

#: Defaults of associative-list key fields that clients often omit (container and service ports).
_KEY_DEFAULTS: dict[str, Any] = {"protocol": "TCP"}

#: The manager owning every field of an object that had no managedFields when first applied to.
BEFORE_FIRST_APPLY = "before-first-apply"


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _key_of(item: dict[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in keys:
        if key in item:
            out[key] = item[key]
        elif key in _KEY_DEFAULTS:
            out[key] = _KEY_DEFAULTS[key]
    return out


def _matches(item: Any, key: dict[str, Any]) -> bool:
    return isinstance(item, dict) and all(
        json_equal(item.get(k, _KEY_DEFAULTS.get(k)), v) for k, v in key.items())


def _collect(value: Any, node: schema.Schema | None, path: Path, out: set[Path]) -> None:
    meta = schema.field_meta(node)
    if isinstance(value, dict) and value and meta.map_type != "atomic":
        for key, sub in value.items():
            _collect(sub, schema.child_schema(node, key), path + ("f:" + key,), out)
        return
    if isinstance(value, list) and value:
        scalars = all(not isinstance(x, (dict, list)) for x in value)
        keys = meta.associative_keys
        if meta.list_type == "set" and scalars:
            out.update(path + ("v:" + _compact(x),) for x in value)
            return
        if keys and all(isinstance(x, dict) for x in value):
            items = schema.item_schema(node)
            for item in value:
                item_path = path + ("k:" + _compact(_key_of(item, keys)),)
                out.add(item_path)
                for key, sub in item.items():
                    _collect(sub, schema.child_schema(items, key), item_path + ("f:" + key,), out)
            return
    out.add(path)


def field_set(obj: dict[str, Any], root: schema.Schema | None) -> set[Path]:
    """The field paths ``obj`` sets, as a manager would own them (server-owned metadata excluded)."""
    out: set[Path] = set()
    for key, value in obj.items():
        if key in ("apiVersion", "kind"):
            continue
        field = schema.child_schema(root, key)
        if key == "metadata" and isinstance(value, dict):
            for meta_key, meta_value in value.items():
                if meta_key not in _SERVER_METADATA:
                    _collect(meta_value, schema.child_schema(field, meta_key), ("f:metadata", "f:" + meta_key), out)
            continue
        _collect(value, field, ("f:" + key,), out)
    return out


def to_fields_v1(paths: Iterable[Path]) -> dict[str, Any]:
    """Encode a field set as the ``fieldsV1`` trie stored in managedFields."""
    root: dict[str, Any] = {}
    members = sorted(set(paths))
    for path in members:
        node = root
        for element in path:
            node = node.setdefault(element, {})
    for path in members:
        node = root
        for element in path:
            node = node[element]
        if node and "." not in node:
            node["."] = {}

    def ordered(node: dict[str, Any]) -> dict[str, Any]:
        return {k: ordered(node[k]) for k in sorted(node)}

    return ordered(root)


def from_fields_v1(trie: Any, prefix: Path = ()) -> set[Path]:
    """Decode a ``fieldsV1`` trie into a field set."""
    out: set[Path] = set()
    if not isinstance(trie, dict):
        return out
    for element, sub in trie.items():
        if element == ".":
            out.add(prefix)
        elif isinstance(sub, dict) and sub:
            out |= from_fields_v1(sub, prefix + (element,))
        else:
            out.add(prefix + (element,))
    return out


def path_string(path: Path) -> str:
    """A field path as conflict messages print it: ``.spec.containers[name="app"].image``."""
    parts: list[str] = []
    for element in path:
        kind, _, body = element.partition(":")
        if kind == "f":
            parts.append("." + body)
        elif kind == "k":
            key = json.loads(body)
            parts.append("[" + ",".join(f"{k}={json.dumps(v)}" for k, v in key.items()) + "]")
        elif kind == "v":
            parts.append("[=" + body + "]")
        else:
            parts.append("[" + body + "]")
    return "".join(parts)


def _step(node: Any, element: str) -> tuple[bool, Any]:
    kind, _, body = element.partition(":")
    if kind == "f":
        if isinstance(node, dict) and body in node:
            return True, node[body]
        return False, None
    if not isinstance(node, list):
        return False, None
    if kind == "k":
        key = json.loads(body)
        for item in node:
            if _matches(item, key):
                return True, item
        return False, None
    if kind == "v":
        wanted = json.loads(body)
        for item in node:
            if json_equal(item, wanted):
                return True, item
        return False, None
    if kind == "i" and body.isdigit() and int(body) < len(node):
        return True, node[int(body)]
    return False, None


def lookup(obj: Any, path: Path) -> tuple[bool, Any]:
    """(found, value) of the field at ``path`` in ``obj``."""
    node = obj
    for element in path:
        found, node = _step(node, element)
        if not found:
            return False, None
    return True, node


def _prune(obj: dict[str, Any], path: Path, kept: set[Path]) -> None:
    """Remove the field at ``path``, then the objects and lists it leaves empty (Go omits those)."""
    _remove(obj, path)
    for depth in range(len(path) - 1, 0, -1):
        parent = path[:depth]
        found, value = lookup(obj, parent)
        if not found or value or parent in kept or not isinstance(value, (dict, list)):
            return
        _remove(obj, parent)


def _remove(obj: dict[str, Any], path: Path) -> None:
    found, parent = lookup(obj, path[:-1])
    if not found:
        return
    kind, _, body = path[-1].partition(":")
    if kind == "f" and isinstance(parent, dict):
        parent.pop(body, None)
    elif kind in ("k", "v") and isinstance(parent, list):
        wanted = json.loads(body)
        keep = [x for x in parent if not (_matches(x, wanted) if kind == "k" else json_equal(x, wanted))]
        parent[:] = keep


# -- managedFields entries ------------------------------------------------------------------------

def _entries(obj: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not obj:
        return []
    entries = (obj.get("metadata") or {}).get("managedFields")
    if not isinstance(entries, list):
        return []
    return [deep_copy(e) for e in entries if isinstance(e, dict)]


def _is(entry: dict[str, Any], manager: str, operation: str, subresource: str | None) -> bool:
    return (entry.get("manager") == manager and entry.get("operation") == operation
            and (entry.get("subresource") or None) == (subresource or None))


def _entry(manager: str, operation: str, api_version: str, paths: set[Path], subresource: str | None,
           time: str | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"manager": manager, "operation": operation, "apiVersion": api_version}
    if time is not None:
        entry["time"] = time
    entry["fieldsType"] = "FieldsV1"
    entry["fieldsV1"] = to_fields_v1(paths)
    if subresource:
        entry["subresource"] = subresource
    return entry


def _with_fields(entry: dict[str, Any], paths: set[Path]) -> dict[str, Any]:
    entry = dict(entry)
    entry["fieldsType"] = "FieldsV1"
    entry["fieldsV1"] = to_fields_v1(paths)
    return entry


def _store(obj: dict[str, Any], entries: list[dict[str, Any]]) -> dict[str, Any]:
    metadata = obj.setdefault("metadata", {})
    if entries:
        metadata["managedFields"] = entries
    else:
        metadata.pop("managedFields", None)
    return obj


def _api_version(group: str, version: str) -> str:
    return f"{group}/{version}" if group else version


def record_update_manager(old: dict[str, Any] | None, new: dict[str, Any], group: str, version: str, kind: str,
                          manager: str, operation: str = "Update", subresource: str | None = None) -> dict[str, Any]:
    """``new`` (copied) with managedFields updated for a create or update made by ``manager``.

    The manager takes ownership of every field it added or changed (other
    managers lose those fields); fields the write removed leave every set.
    The managedFields ``new`` carries win over ``old``'s when the client sent some.
    """
    root = schema.kind_schema(group, version, kind)
    result = deep_copy(new)
    entries = _entries(new) or _entries(old)
    new_set = field_set(result, root)
    old_set = field_set(old, root) if old else set()
    changed: set[Path] = set()
    for path in new_set:
        if path not in old_set:
            changed.add(path)
        elif path[-1].startswith("f:"):
            if not json_equal(lookup(old, path)[1], lookup(result, path)[1]):
                changed.add(path)
    removed = old_set - new_set
    updated: list[dict[str, Any]] = []
    own_found = False
    for entry in entries:
        owned = from_fields_v1(entry.get("fieldsV1")) - removed
        if _is(entry, manager, operation, subresource):
            own_found = True
            if changed:
                entry = dict(entry, apiVersion=_api_version(group, version), time=clock.rfc3339())
            owned |= changed
        else:
            owned -= changed
        if owned:
            updated.append(_with_fields(entry, owned))
    if not own_found and changed:
        updated.append(_entry(manager, operation, _api_version(group, version), changed, subresource,
                              clock.rfc3339()))
    return _store(result, updated)


# -- server-side apply ----------------------------------------------------------------------------

def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _merge_applied(live: Any, applied: Any, node: schema.Schema | None) -> Any:
    """Merge an applied configuration onto the live value (``live`` is owned and reused)."""
    meta = schema.field_meta(node)
    if isinstance(applied, dict) and isinstance(live, dict) and meta.map_type != "atomic":
        for key, value in applied.items():
            field = schema.child_schema(node, key)
            live[key] = _merge_applied(live[key], value, field) if key in live else deep_copy(value)
        return live
    if isinstance(applied, list) and isinstance(live, list):
        keys = meta.associative_keys
        if keys and all(isinstance(x, dict) for x in applied + live):
            items = schema.item_schema(node)
            merged = list(live)
            for item in applied:
                key = _key_of(item, keys)
                for pos, current in enumerate(merged):
                    if _matches(current, key):
                        merged[pos] = _merge_applied(current, item, items)
                        break
                else:
                    merged.append(deep_copy(item))
            return merged
        if meta.list_type == "set":
            merged = list(live)
            merged.extend(deep_copy(x) for x in applied if not any(json_equal(x, y) for y in merged))
            return merged
    return deep_copy(applied)


def _manager_label(entry: dict[str, Any]) -> str:
    label = json.dumps(entry.get("manager", ""))
    if entry.get("subresource"):
        label += f" with subresource {json.dumps(entry['subresource'])}"
    if entry.get("operation") == "Update":
        label += f" using {entry.get('apiVersion', '')}"
    return label


def _conflict_error(conflicts: list[tuple[dict[str, Any], Path]]) -> APIError:
    causes = [{"reason": "FieldManagerConflict", "message": f"conflict with {_manager_label(entry)}",
               "field": path_string(path)} for entry, path in conflicts]
    if len(conflicts) == 1:
        entry, path = conflicts[0]
        message = f"Apply failed with 1 conflict: conflict with {_manager_label(entry)}: {path_string(path)}"
    else:
        by_manager: dict[str, list[str]] = {}
        for entry, path in conflicts:
            by_manager.setdefault(_manager_label(entry), []).append(path_string(path))
        lines: list[str] = []
        for label in sorted(by_manager):
            lines.append(f"conflicts with {label}:")
            lines.extend(f"- {p}" for p in by_manager[label])
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return APIError(409, "Conflict", message, {"causes": causes})


def _scope(applied: dict[str, Any], root: schema.Schema | None, subresource: str | None) -> dict[str, Any]:
    """The part of an applied configuration the endpoint takes: the status subresource takes only
    ``status``; the main resource ignores ``status`` (the status/spec split)."""
    has_status = schema.child_schema(root, "status") is not None
    if subresource == "status":
        return {k: v for k, v in applied.items() if k in ("apiVersion", "kind", "status")} | {
            "metadata": {k: v for k, v in (applied.get("metadata") or {}).items() if k in ("name", "namespace")}}
    if has_status:
        return {k: v for k, v in applied.items() if k != "status"}
    return applied


def server_side_apply(live: dict[str, Any] | None, applied: dict[str, Any], group: str, version: str, kind: str,
                      field_manager: str, force: bool, subresource: str | None = None) -> dict[str, Any]:
    """The object after ``field_manager`` applies ``applied`` (``application/apply-patch+yaml``).

    With no live object the result is the applied configuration (the server
    creates it). Otherwise the configuration is merged onto ``live`` with list-map
    semantics (``x-kubernetes-list-map-keys``), set lists as sets and atomic
    lists and maps replaced; fields this manager applied before and no longer
    applies are removed unless another manager owns them. A field another
    manager owns with a different value is a 409 conflict (``Apply failed with 1
    conflict: conflict with "kubectl-edit" using apps/v1: .spec.replicas``)
    unless ``force`` moves its ownership. ``metadata.managedFields`` gets this
    manager's ``Apply`` entry; an object without managedFields is first owned
    whole by ``before-first-apply``, as the real server does.
    """
    applied_meta = applied.get("metadata")
    if isinstance(applied_meta, dict) and applied_meta.get("managedFields") is not None:
        raise bad_request("metadata.managedFields must be nil")
    root = schema.kind_schema(group, version, kind)
    api_version = _api_version(group, version)
    config = _scope(_without_nulls(applied), root, subresource)
    applied_set = field_set(config, root)
    now = clock.rfc3339()
    own = _entry(field_manager, "Apply", api_version, applied_set, subresource, now)
    if live is None:
        return _store(deep_copy(config), [own] if applied_set else [])

    entries = _entries(live)
    if not entries:
        entries = [_entry(BEFORE_FIRST_APPLY, "Update", api_version, field_set(live, root), None, None)]
    previous: set[Path] = set()
    others: list[tuple[dict[str, Any], set[Path]]] = []
    own_index: int | None = None
    for pos, entry in enumerate(entries):
        if _is(entry, field_manager, "Apply", subresource):
            previous = from_fields_v1(entry.get("fieldsV1"))
            own_index = pos
        else:
            others.append((entry, from_fields_v1(entry.get("fieldsV1"))))

    conflicts: list[tuple[dict[str, Any], Path]] = []
    for entry, owned in others:
        for path in sorted(applied_set & owned):
            if not path[-1].startswith("f:"):
                continue
            found, current = lookup(live, path)
            if found and not json_equal(current, lookup(config, path)[1]):
                conflicts.append((entry, path))
    if conflicts and not force:
        raise _conflict_error(conflicts)
    lost = {id(entry): {p for e, p in conflicts if e is entry} for entry, _ in others}

    result = _merge_applied(deep_copy(live), config, root)
    kept = applied_set.union(*(owned - lost[id(entry)] for entry, owned in others))
    for path in sorted(previous - applied_set, key=len):  # items before their fields
        if not any(p[:len(path)] == path for p in kept):
            _prune(result, path, kept)

    updated: list[dict[str, Any]] = []
    for pos, entry in enumerate(entries):
        if pos == own_index:
            if applied_set:
                updated.append(own)
            continue
        owned = from_fields_v1(entry.get("fieldsV1")) - lost.get(id(entry), set())
        if owned:
            updated.append(_with_fields(entry, owned) if lost.get(id(entry)) else entry)
    if own_index is None and applied_set:
        updated.append(own)
    return _store(result, updated)
