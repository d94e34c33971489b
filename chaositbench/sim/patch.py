"""The patch engines of the API server: JSON patch, JSON merge patch, strategic merge patch.

All engines are pure functions on JSON dicts: they never mutate their inputs and
return a fresh object. Failures raise :class:`APIError` with the code, reason and
message the real kube-apiserver answers (it vendors ``evanphx/json-patch`` v4
and apimachinery's ``strategicpatch``). Server-side apply lives in
:mod:`chaositbench.sim.fieldmanager` and is re-exported here, so that the
server finds every patch type in one place.
"""

from __future__ import annotations

import json
import re
from typing import Any

from . import schema
from .errors import APIError, bad_request
from .fieldmanager import record_update_manager, server_side_apply
from .jsonvalue import deep_copy as _copy
from .jsonvalue import json_equal

__all__ = ["json_patch", "merge_patch", "strategic_merge_patch", "server_side_apply", "record_update_manager"]

#: The API server refuses JSON patches with more operations than this.
MAX_JSON_PATCH_OPERATIONS = 10000

_PATCH = "$patch"
_RETAIN_KEYS = "$retainKeys"
_DELETE_PRIMITIVE = "$deleteFromPrimitiveList/"
_SET_ORDER = "$setElementOrder/"


def _go_type(value: Any) -> str:
    """How Go's encoding/json names a JSON value's type in unmarshal errors."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _go_repr(value: Any) -> str:
    """``%v`` of a decoded JSON value, as Go prints it in strategicpatch errors."""
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go_repr(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(_go_repr(v) for v in value) + "]"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# -- RFC 6902 JSON patch --------------------------------------------------------------------------

class JSONPatchError(Exception):
    """Why a JSON patch did not apply (json-patch's wording; the server hides it behind a 422)."""


def _rejected() -> APIError:
    """The 422 the API server answers for any JSON patch that fails to apply (no details given)."""
    return APIError(422, "Invalid", "the server rejected our request due to an error in our request")


_INDEX = re.compile(r"[+-]?\d+")


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _index(token: str) -> int | None:
    return int(token) if _INDEX.fullmatch(token) else None


def _child(container: Any, token: str) -> tuple[bool, Any]:
    """(found, value) of one pointer token below a container; arrays accept negative indexes."""
    if isinstance(container, dict):
        return token in container, container.get(token)
    if isinstance(container, list):
        idx = _index(token)
        if idx is None or idx >= len(container) or idx < -len(container):
            return False, None
        return True, container[idx]
    return False, None


def _locate(doc: Any, path: Any) -> tuple[Any, str] | None:
    """The container holding the last token of ``path``, and that token (unescaped)."""
    if not isinstance(path, str) or not path.startswith("/"):
        return None
    tokens = path.split("/")[1:]
    node = doc
    for token in tokens[:-1]:
        found, node = _child(node, _unescape(token))
        if not found or not isinstance(node, (dict, list)):
            return None
    return node, _unescape(tokens[-1])


def _path(op: dict[str, Any], field: str, verb: str) -> Any:
    if field not in op or op[field] is None:
        raise JSONPatchError(f"{verb} operation failed to decode {field}: missing value")
    if not isinstance(op[field], str):
        raise JSONPatchError(f"{verb} operation failed to decode {field}: "
                             f"json: cannot unmarshal {_go_type(op[field])} into Go value of type string")
    return op[field]


def _add(doc: Any, path: str, value: Any) -> None:
    where = _locate(doc, path)
    if where is None:
        raise JSONPatchError(f'add operation does not apply: doc is missing path: "{path}": missing value')
    container, key = where
    if isinstance(container, dict):
        container[key] = value
        return
    if key == "-":
        container.append(value)
        return
    idx = _index(key)
    if idx is None:
        raise JSONPatchError(f"error in add for path: '{path}': value was not a proper array index: '{key}'")
    size = len(container) + 1
    if idx >= size or idx < -size:
        raise JSONPatchError(f"error in add for path: '{path}': Unable to access invalid index: {idx}: "
                             "invalid index referenced")
    container.insert(idx if idx >= 0 else idx + size, value)


def _remove(doc: Any, path: str, verb: str = "remove") -> Any:
    where = _locate(doc, path)
    if where is None:
        raise JSONPatchError(f'{verb} operation does not apply: doc is missing path: "{path}": missing value')
    container, key = where
    if isinstance(container, dict):
        if key not in container:
            raise JSONPatchError(f"error in {verb} for path: '{path}': Unable to remove nonexistent key: "
                                 f"{key}: missing value")
        return container.pop(key)
    found, _ = _child(container, key)
    if not found:
        raise JSONPatchError(f"error in {verb} for path: '{path}': Unable to access invalid index: {key}: "
                             "invalid index referenced")
    return container.pop(_index(key))


def _get(doc: Any, path: str, verb: str) -> Any:
    if path == "":
        return doc
    where = _locate(doc, path)
    if where is None:
        raise JSONPatchError(f"{verb} operation does not apply: doc is missing from path: {path}: missing value")
    found, value = _child(*where)
    if not found:
        raise JSONPatchError(f"error in {verb} for from: '{path}': missing value")
    return value


def _apply_op(doc: Any, op: dict[str, Any]) -> Any:
    """Apply one operation in place; returns the (possibly replaced) document."""
    kind = op.get("op")
    if kind == "add":
        _add(doc, _path(op, "path", "add"), _copy(op.get("value")))
    elif kind == "remove":
        _remove(doc, _path(op, "path", "remove"))
    elif kind == "replace":
        path = _path(op, "path", "replace")
        value = _copy(op.get("value"))
        if path == "":
            if not isinstance(value, (dict, list)):
                raise JSONPatchError("replace operation value must be object or array")
            return value
        where = _locate(doc, path)
        if where is None:
            raise JSONPatchError(f"replace operation does not apply: doc is missing path: {path}: missing value")
        container, key = where
        if isinstance(container, list):
            found, _ = _child(container, key)
            if not found:
                raise JSONPatchError(f"replace operation does not apply: doc is missing key: {path}: "
                                     "missing value")
            container[_index(key)] = value
        else:
            container[key] = value  # json-patch v4 lets replace create a missing object member
    elif kind == "move":
        source = _path(op, "from", "move")
        value = _remove(doc, source, "move")
        _add(doc, _path(op, "path", "move"), value)
    elif kind == "copy":
        value = _copy(_get(doc, _path(op, "from", "copy"), "copy"))
        _add(doc, _path(op, "path", "copy"), value)
    elif kind == "test":
        path = _path(op, "path", "test")
        if path == "":
            actual = doc
        else:
            where = _locate(doc, path)
            if where is None:
                raise JSONPatchError(f"test operation does not apply: is missing path: {path}: missing value")
            container, key = where
            if isinstance(container, list) and not _child(container, key)[0]:
                raise JSONPatchError(f"error in test for path: '{path}': Unable to access invalid index: "
                                     f"{key}: invalid index referenced")
            actual = _child(container, key)[1]
        expected = op.get("value")
        if (actual is None and expected is None) or (
                actual is not None and "value" in op and json_equal(actual, expected)):
            return doc
        raise JSONPatchError(f"testing value {path} failed: test failed")
    else:
        raise JSONPatchError(f"Unexpected kind: {kind if isinstance(kind, str) else 'unknown'}")
    return doc


def json_patch(obj: Any, ops: Any) -> Any:
    """Apply an RFC 6902 JSON patch (``application/json-patch+json``) to ``obj``.

    A body that is not a list of operation objects is a 400 BadRequest (the
    decoder's words); more than 10000 operations is a 413; an operation that
    does not apply (missing path, failed ``test``, bad index, unknown ``op``) is
    the server's opaque 422 ``the server rejected our request due to an error in
    our request`` — the json-patch reason is chained as the exception's cause.
    """
    if not isinstance(ops, list):
        raise bad_request(f"json: cannot unmarshal {_go_type(ops)} into Go value of type jsonpatch.Patch")
    for op in ops:
        if not isinstance(op, dict):
            raise bad_request(f"json: cannot unmarshal {_go_type(op)} into Go value of type jsonpatch.Operation")
    if len(ops) > MAX_JSON_PATCH_OPERATIONS:
        raise APIError(413, "RequestEntityTooLarge",
                       "Request entity too large: The allowed maximum operations in a JSON patch is "
                       f"{MAX_JSON_PATCH_OPERATIONS}, got {len(ops)}")
    doc = _copy(obj)
    for op in ops:
        try:
            doc = _apply_op(doc, op)
        except JSONPatchError as exc:
            raise _rejected() from exc
    return doc


# -- RFC 7386 JSON merge patch --------------------------------------------------------------------

def _merge(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return _copy(patch)
    result = target if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge(result.get(key), value)
    return result


def merge_patch(obj: dict[str, Any], patch: Any) -> dict[str, Any]:
    """Apply an RFC 7386 JSON merge patch (``application/merge-patch+json``): null deletes, lists replace."""
    if patch is None:
        raise bad_request("Invalid JSON Patch")
    if not isinstance(patch, dict):
        raise bad_request(f"json: cannot unmarshal {_go_type(patch)} into Go value of type map[string]interface {{}}")
    return _merge(_copy(obj), patch)


# -- strategic merge patch ------------------------------------------------------------------------

def _server_error(message: str) -> APIError:
    """A plain Go error surfacing from the patch code: a 500 with no reason, as the server answers."""
    return APIError(500, "", message)


def _bad_patch_type(directive: Any, where: Any) -> APIError:
    return _server_error(f"unknown patch type: {_go_repr(directive)} in map: {_go_repr(where)}")


def _ident(item: Any, key: str | None) -> str:
    """A hashable identity of a list item: its merge key value, or the whole primitive."""
    value = item.get(key) if key is not None and isinstance(item, dict) else item
    return json.dumps(value, sort_keys=True)


def _normalize_order(merged: list[Any], patch_order: list[Any], server: list[Any], key: str | None) -> list[Any]:
    """Order a merged list as strategicpatch does.

    Items named by the patch (or its ``$setElementOrder``) follow the patch's
    order; the other items keep their server order; the two runs are then
    interleaved so that items both present on the server keep their relative
    server order.
    """
    patch_rank = {}
    for pos, item in enumerate(patch_order):
        patch_rank.setdefault(_ident(item, key), pos)
    server_rank = {}
    for pos, item in enumerate(server):
        server_rank.setdefault(_ident(item, key), pos)
    from_patch = [m for m in merged if _ident(m, key) in patch_rank]
    server_only = [m for m in merged if _ident(m, key) not in patch_rank]
    from_patch.sort(key=lambda m: patch_rank[_ident(m, key)])
    server_only.sort(key=lambda m: server_rank.get(_ident(m, key), len(server)))
    out: list[Any] = []
    i = j = 0
    while i < len(server_only) and j < len(from_patch):
        left = server_rank.get(_ident(server_only[i], key), -1)
        right = server_rank.get(_ident(from_patch[j], key), -1)
        if left >= 0 and right >= 0 and left < right:
            out.append(server_only[i])
            i += 1
        else:
            out.append(from_patch[j])
            j += 1
    return out + server_only[i:] + from_patch[j:]


def _merge_list(original: list[Any], patch: list[Any], field: schema.Schema | None, merge_key: str | None,
                order: list[Any] | None) -> list[Any]:
    """Merge a list whose patch strategy is ``merge`` (``original`` is owned and may be reused)."""
    if not original and not patch and order is None:
        return []
    elements = original + patch
    if any(isinstance(e, list) for e in elements):
        raise _rejected()  # apimachinery: "lists of lists are not supported"
    items = schema.item_schema(field)
    if not any(isinstance(e, dict) for e in elements):
        merged: list[Any] = []
        seen: set[str] = set()
        for value in elements:
            ident = _ident(value, None)
            if ident not in seen:
                seen.add(ident)
                merged.append(value)
        return _normalize_order(merged, patch if order is None else order, original, None)
    if merge_key is None:
        return [_clean(e, items) for e in patch]
    replace = False
    deleted: set[str] = set()
    plain: list[Any] = []
    for element in patch:
        if isinstance(element, dict) and _PATCH in element:
            directive = element[_PATCH]
            if directive == "delete":
                if merge_key not in element:
                    raise _server_error(f"map: {_go_repr(element)} does not contain declared merge key: "
                                        f"{merge_key}")
                deleted.add(_ident(element, merge_key))
            elif directive == "replace":
                replace = True
            elif directive == "merge":
                plain.append({k: v for k, v in element.items() if k != _PATCH})
            else:
                raise _bad_patch_type(directive, element)
        else:
            plain.append(element)
    server = [] if replace else [e for e in original if _ident(e, merge_key) not in deleted]
    merged = list(server)
    positions = {_ident(e, merge_key): n for n, e in enumerate(merged) if isinstance(e, dict)}
    for element in plain:
        if not isinstance(element, dict) or merge_key not in element:
            raise _server_error(f"map: {_go_repr(element)} does not contain declared merge key: {merge_key}")
        ident = _ident(element, merge_key)
        if ident in positions:
            merged[positions[ident]] = _merge_map(merged[positions[ident]], element, items)
        else:
            positions[ident] = len(merged)
            merged.append(_merge_map({}, element, items))
    return _normalize_order(merged, plain if order is None else order, server, merge_key)


def _clean(value: Any, field: schema.Schema | None) -> Any:
    """A patch value taken whole: copied, with directives and nulls inside objects dropped."""
    if isinstance(value, dict):
        return _merge_map({}, value, field)
    if isinstance(value, list):
        items = schema.item_schema(field)
        return [_clean(v, items) for v in value]
    return value


def _retain_keys(original: dict[str, Any], patch: dict[str, Any]) -> None:
    keep = patch[_RETAIN_KEYS]
    if not isinstance(keep, list):
        raise bad_request("invalid patch format of retainKeys")
    allowed = {k for k in keep if isinstance(k, str)}
    for key, value in patch.items():
        if value is None or key in (_PATCH, _RETAIN_KEYS) or key.startswith((_DELETE_PRIMITIVE, _SET_ORDER)):
            continue
        if key not in allowed:
            raise bad_request("invalid patch format of retainKeys")
    for key in [k for k in original if k not in allowed]:
        del original[key]


def _merge_map(original: dict[str, Any], patch: dict[str, Any], node: schema.Schema | None) -> dict[str, Any]:
    """Strategic-merge ``patch`` into ``original`` (owned, updated in place) below schema ``node``."""
    if _PATCH in patch:
        directive = patch[_PATCH]
        if directive == "replace":
            return _merge_map({}, {k: v for k, v in patch.items() if k != _PATCH}, node)
        if directive == "delete":
            return {}
        if directive != "merge":
            raise _bad_patch_type(directive, patch)
    if _RETAIN_KEYS in patch:
        _retain_keys(original, patch)
    for key, value in patch.items():
        if key in (_PATCH, _RETAIN_KEYS):
            continue
        if key.startswith(_SET_ORDER):
            field = key[len(_SET_ORDER):]
            if not isinstance(value, list):
                raise bad_request("invalid patch format of setElementOrder list")
            if field not in patch and isinstance(original.get(field), list):
                meta = schema.field_meta(schema.child_schema(node, field))
                current = original[field]
                original[field] = _normalize_order(current, value, current, meta.merge_key)
            continue
        if key.startswith(_DELETE_PRIMITIVE):
            field = key[len(_DELETE_PRIMITIVE):]
            if not isinstance(value, list):
                raise bad_request("invalid patch format of primitive list")
            current = original.get(field)
            if isinstance(current, list):
                original[field] = [x for x in current if not any(json_equal(x, d) for d in value)]
            continue
        if value is None:
            original.pop(key, None)
            continue
        field = schema.child_schema(node, key)
        current = original.get(key)
        if isinstance(value, dict):
            meta = schema.field_meta(field)
            base = current if isinstance(current, dict) and not meta.replaces else {}
            original[key] = _merge_map(base, value, field)
        elif isinstance(value, list):
            meta = schema.field_meta(field)
            order = patch.get(_SET_ORDER + key)
            if meta.merges:
                base_list = current if isinstance(current, list) else []
                original[key] = _merge_list(base_list, value, field, meta.merge_key,
                                            order if isinstance(order, list) else None)
            else:
                original[key] = _clean(value, field)
        else:
            original[key] = value
    return original


def strategic_merge_patch(obj: dict[str, Any], patch: Any, group: str, version: str, kind: str) -> dict[str, Any]:
    """Apply a strategic merge patch (``application/strategic-merge-patch+json``).

    Lists whose schema declares patch strategy ``merge`` are merged by their
    merge key (containers by ``name``, ports by ``containerPort`` ...) or, for
    primitives such as finalizers, as ordered sets; other lists are replaced.
    ``null`` deletes a key. The directives ``$patch`` (replace, delete, merge),
    ``$retainKeys``, ``$deleteFromPrimitiveList/<field>`` and
    ``$setElementOrder/<field>`` are honoured and never stored. Kinds without a
    schema merge maps and replace every list.
    """
    if not isinstance(patch, dict):
        raise bad_request(f"json: cannot unmarshal {_go_type(patch)} into Go value of type map[string]interface {{}}")
    return _merge_map(_copy(obj), patch, schema.kind_schema(group, version, kind))
