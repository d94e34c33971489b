"""The ``/openapi/v3`` documents kubectl fetches for ``--validate=strict`` and ``kubectl explain``.

``GET /openapi/v3`` answers an index of group-versions, each with a
``serverRelativeURL`` carrying the hash of its document; ``GET
/openapi/v3/api/v1`` and ``/openapi/v3/apis/{group}/{version}`` answer an OpenAPI
3.0 document with one path per served resource (the operations the kind's verbs
allow, each tagged with ``x-kubernetes-group-version-kind`` and
``x-kubernetes-action``; PATCH declares ``fieldValidation``, which is what
kubectl looks for) and the referenced component schemas, taken from the real
Kubernetes definitions in :mod:`chaositbench.sim.schema`. Documents are built
once per process.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from . import schema
from .kinds import Kind

_COMPONENT_PREFIX = "#/components/schemas/"
_META = "io.k8s.apimachinery.pkg.apis.meta.v1."
_MEDIA_TYPES = ("application/json", "application/vnd.kubernetes.protobuf", "application/yaml")
_PATCH_TYPES = ("application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json",
                "application/strategic-merge-patch+json")

# -- component schemas ------------------------------------------------------------------------------


def _convert(node: Any) -> Any:
    """A JSON-schema node as OpenAPI 3.0 writes it: component refs, single types, no nulls."""
    if isinstance(node, list):
        return [_convert(v) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$ref":
            continue
        if key == "type" and isinstance(value, list):
            types = [t for t in value if t != "null"]
            if types:
                out["type"] = types[0] if len(types) == 1 else types
        elif key in ("properties", "x-kubernetes-group-version-kind", "enum", "required",
                     "x-kubernetes-list-map-keys"):
            out[key] = {k: _convert(v) for k, v in value.items()} if key == "properties" else value
        else:
            out[key] = _convert(value)
    name = schema.ref_name(node)
    if name is None:
        return out
    ref = {"$ref": _COMPONENT_PREFIX + name}
    return {"allOf": [ref], **out} if out else ref


@lru_cache(maxsize=None)
def _component(name: str) -> dict[str, Any]:
    converted = _convert(schema.definitions()[name])
    if "x-kubernetes-group-version-kind" in converted:
        for field in ("apiVersion", "kind"):
            prop = converted.get("properties", {}).get(field)
            if prop is not None:
                prop.pop("enum", None)  # the JSON-schema generator's addition; the server has none
    return converted


def _direct_refs(node: Any, out: set[str]) -> None:
    if isinstance(node, dict):
        name = schema.ref_name(node)
        if name is not None:
            out.add(name)
        for key, value in node.items():
            if key not in ("description", "enum", "required"):
                _direct_refs(value, out)
    elif isinstance(node, list):
        for value in node:
            _direct_refs(value, out)


@lru_cache(maxsize=None)
def _refs_of(name: str) -> frozenset[str]:
    out: set[str] = set()
    _direct_refs(schema.definitions().get(name, {}), out)
    return frozenset(out)


def _closure(roots: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    stack = [r for r in roots if r in schema.definitions()]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        stack.extend(r for r in _refs_of(name) if r not in seen and r in schema.definitions())
    return sorted(seen)


# -- operations -------------------------------------------------------------------------------------

def _query(name: str, description: str, kind: str = "string") -> dict[str, Any]:
    return {"description": description, "in": "query", "name": name,
            "schema": {"type": kind, "uniqueItems": True}}


def _path_param(name: str, description: str) -> dict[str, Any]:
    return {"description": description, "in": "path", "name": name, "required": True,
            "schema": {"type": "string", "uniqueItems": True}}


_PRETTY = _query("pretty", "If 'true', then the output is pretty printed. Defaults to 'false' unless the user-agent "
                           "indicates a browser or command-line HTTP tool (curl and wget).")
_NAMESPACE = _path_param("namespace", "object name and auth scope, such as for teams and projects")
_DRY_RUN = _query("dryRun", "When present, indicates that modifications should not be persisted. An invalid or "
                            "unrecognized dryRun directive will result in an error response and no further "
                            "processing of the request. Valid values are: - All: all dry run stages will be "
                            "processed")
_FIELD_MANAGER = _query("fieldManager", "fieldManager is a name associated with the actor or entity that is making "
                                        "these changes. The value must be less than or 128 characters long, and "
                                        "only contain printable characters, as defined by "
                                        "https://golang.org/pkg/unicode/#IsPrint.")
_FIELD_VALIDATION = _query(
    "fieldValidation",
    "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing "
    "unknown or duplicate fields. Valid values are: - Ignore: This will ignore any unknown fields that are "
    "silently dropped from the object, and will ignore all but the last duplicate field that the decoder "
    "encounters. This is the default behavior prior to v1.23. - Warn: This will send a warning via the standard "
    "warning response header for each unknown field that is dropped from the object, and for each duplicate field "
    "that is encountered. The request will still succeed if there are no other errors, and will only persist the "
    "last of any duplicate fields. This is the default in v1.23+ - Strict: This will fail the request with a "
    "BadRequest error if any unknown fields would be dropped from the object, or if any duplicate fields are "
    "present. The error returned from the server will contain all unknown and duplicate fields encountered.")
_FORCE = _query("force", "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting "
                         "fields owned by other people. Force flag must be unset for non-apply patch requests.",
                "boolean")
_LIST_PARAMS = [
    _query("allowWatchBookmarks", "allowWatchBookmarks requests watch events with type \"BOOKMARK\".", "boolean"),
    _query("continue", "The continue option should be set when retrieving more results from the server."),
    _query("fieldSelector", "A selector to restrict the list of returned objects by their fields. Defaults to "
                            "everything."),
    _query("labelSelector", "A selector to restrict the list of returned objects by their labels. Defaults to "
                            "everything."),
    _query("limit", "limit is a maximum number of responses to return for a list call.", "integer"),
    _query("resourceVersion", "resourceVersion sets a constraint on what resource versions a request may be served "
                              "from. Defaults to unset"),
    _query("resourceVersionMatch", "resourceVersionMatch determines how resourceVersion is applied to list calls."),
    _query("sendInitialEvents", "`sendInitialEvents=true` may be set together with `watch=true`.", "boolean"),
    _query("timeoutSeconds", "Timeout for the list/watch call. This limits the duration of the call, regardless of "
                             "any activity or inactivity.", "integer"),
    _query("watch", "Watch for changes to the described resources and return them as a stream of add, update, and "
                    "remove notifications. Specify resourceVersion.", "boolean"),
]
_DELETE_PARAMS = [
    _DRY_RUN,
    _query("gracePeriodSeconds", "The duration in seconds before the object should be deleted. Value must be "
                                 "non-negative integer.", "integer"),
    _query("ignoreStoreReadErrorWithClusterBreakingPotential",
           "if set to true, it will trigger an unsafe deletion of the resource in case the normal deletion flow "
           "fails with a corrupt object error.", "boolean"),
    _query("orphanDependents", "Deprecated: please use the PropagationPolicy, this field will be deprecated in "
                               "1.7.", "boolean"),
    _query("propagationPolicy", "Whether and how garbage collection will be performed. Acceptable values are: "
                                "'Orphan', 'Background' and 'Foreground'."),
]


def _content(name: str, media_types: Iterable[str] = _MEDIA_TYPES) -> dict[str, Any]:
    return {media: {"schema": {"$ref": _COMPONENT_PREFIX + name}} for media in media_types}


def _responses(name: str, *codes: tuple[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {code: {"content": _content(name), "description": text} for code, text in codes}
    out["401"] = {"description": "Unauthorized"}
    return out


def _camel_group(group: str) -> str:
    parts = (group.removesuffix(".k8s.io") or "core").split(".")
    return parts[0] + "".join(p.capitalize() for p in parts[1:])


def _operation_name(kind: Kind, collection: bool = False, all_namespaces: bool = False) -> str:
    """``CoreV1NamespacedPod``: an operationId without its verb (``deleteCoreV1CollectionNamespacedPod``,
    ``listCoreV1PodForAllNamespaces``)."""
    group = _camel_group(kind.group)
    scope = "Namespaced" if kind.namespaced and not all_namespaces else ""
    return (f"{group[0].upper()}{group[1:]}{kind.version.capitalize()}{'Collection' if collection else ''}"
            f"{scope}{kind.kind}{'ForAllNamespaces' if all_namespaces else ''}")


class _Builder:
    """Collects the paths of one group-version and the definitions they reference."""

    def __init__(self, group: str, version: str) -> None:
        self.group = group
        self.version = version
        self.tag = f"{_camel_group(group)}_{version}"
        self.paths: dict[str, dict[str, Any]] = {}
        self.roots: set[str] = {_META + "Status", _META + "Patch", _META + "DeleteOptions"}

    def operation(self, op_id: str, action: str, gvk: tuple[str, str, str], description: str,
                  parameters: list[dict[str, Any]], responses: dict[str, Any],
                  body: str | None = None, body_types: Iterable[str] = ("*/*",)) -> dict[str, Any]:
        op: dict[str, Any] = {"description": description, "operationId": op_id}
        if parameters:
            op["parameters"] = parameters
        if body is not None:
            op["requestBody"] = {"content": _content(body, body_types), "required": True}
        op["responses"] = responses
        op["tags"] = [self.tag]
        op["x-kubernetes-action"] = action
        op["x-kubernetes-group-version-kind"] = {"group": gvk[0], "kind": gvk[2], "version": gvk[1]}
        return op

    def add_kind(self, kind: Kind, definition: str) -> None:
        base = f"/apis/{kind.group}/{kind.version}" if kind.group else f"/api/{kind.version}"
        scope = f"{base}/namespaces/{{namespace}}" if kind.namespaced else base
        collection = f"{scope}/{kind.plural}"
        item = f"{collection}/{{name}}"
        name_param = _path_param("name", f"name of the {kind.kind}")
        scope_params = [_NAMESPACE] if kind.namespaced else []
        gvk = (kind.group, kind.version, kind.kind)
        ident = _operation_name(kind)
        self.roots.add(definition)
        list_definition = schema.definition_name(kind.group, kind.version, kind.kind + "List")
        verbs = set(kind.verbs)

        ops: dict[str, Any] = {}
        if "list" in verbs and list_definition:
            self.roots.add(list_definition)
            ops["get"] = self.operation(f"list{ident}", "list", gvk, f"list or watch objects of kind {kind.kind}",
                                        _LIST_PARAMS, _responses(list_definition, ("200", "OK")))
        if "create" in verbs:
            ops["post"] = self.operation(f"create{ident}", "post", gvk, f"create a {kind.kind}",
                [_DRY_RUN, _FIELD_MANAGER, _FIELD_VALIDATION],
                _responses(definition, ("200", "OK"), ("201", "Created"), ("202", "Accepted")), body=definition)
        if "deletecollection" in verbs:
            ops["delete"] = self.operation(f"delete{_operation_name(kind, collection=True)}",
                "deletecollection", gvk, f"delete collection of {kind.kind}", _DELETE_PARAMS + _LIST_PARAMS,
                _responses(_META + "Status", ("200", "OK")), body=_META + "DeleteOptions")
        if ops:
            self.paths[collection] = {**ops, "parameters": scope_params + [_PRETTY]}

        if kind.namespaced and "list" in verbs and list_definition:
            all_ns = f"{base}/{kind.plural}"
            every = _operation_name(kind, all_namespaces=True)
            self.paths[all_ns] = {
                "get": self.operation(f"list{every}", "list", gvk, f"list or watch objects of kind {kind.kind}",
                                      [], _responses(list_definition, ("200", "OK"))),
                "parameters": _LIST_PARAMS + [_PRETTY],
            }

        ops = {}
        if "get" in verbs:
            ops["get"] = self.operation(f"read{ident}", "get", gvk, f"read the specified {kind.kind}", [],
                                        _responses(definition, ("200", "OK")))
        if "update" in verbs:
            ops["put"] = self.operation(f"replace{ident}", "put", gvk, f"replace the specified {kind.kind}",
                                        [_DRY_RUN, _FIELD_MANAGER, _FIELD_VALIDATION],
                                        _responses(definition, ("200", "OK"), ("201", "Created")), body=definition)
        if "patch" in verbs:
            ops["patch"] = self._patch(f"patch{ident}", gvk, f"partially update the specified {kind.kind}", definition)
        if "delete" in verbs:
            ops["delete"] = self.operation(f"delete{ident}", "delete", gvk,
                                           f"delete a {kind.kind}", _DELETE_PARAMS,
                                           _responses(_META + "Status", ("200", "OK"), ("202", "Accepted")),
                                           body=_META + "DeleteOptions")
        if ops:
            self.paths[item] = {**ops, "parameters": [name_param] + scope_params + [_PRETTY]}

        if "status" in kind.subresources:
            self._subresource(f"{item}/status", f"{ident}Status", gvk, f"status of the specified {kind.kind}",
                              definition, [name_param] + scope_params)
        scale = schema.definition_name("autoscaling", "v1", "Scale")
        if "scale" in kind.subresources and scale:
            self.roots.add(scale)
            self._subresource(f"{item}/scale", f"{ident}Scale", ("autoscaling", "v1", "Scale"),
                              f"scale of the specified {kind.kind}", scale, [name_param] + scope_params)

    def _patch(self, op_id: str, gvk: tuple[str, str, str], description: str, definition: str) -> dict[str, Any]:
        return self.operation(op_id, "patch", gvk, description,
                              [_DRY_RUN, _FIELD_MANAGER, _FIELD_VALIDATION, _FORCE],
                              _responses(definition, ("200", "OK"), ("201", "Created")),
                              body=_META + "Patch", body_types=_PATCH_TYPES)

    def _subresource(self, path: str, ident: str, gvk: tuple[str, str, str], what: str, definition: str,
                     parameters: list[dict[str, Any]]) -> None:
        self.paths[path] = {
            "get": self.operation(f"read{ident}", "get", gvk, f"read {what}", [],
                                  _responses(definition, ("200", "OK"))),
            "parameters": parameters + [_PRETTY],
            "patch": self._patch(f"patch{ident}", gvk, f"partially update {what}", definition),
            "put": self.operation(f"replace{ident}", "put", gvk, f"replace {what}",
                                  [_DRY_RUN, _FIELD_MANAGER, _FIELD_VALIDATION],
                                  _responses(definition, ("200", "OK"), ("201", "Created")), body=definition),
        }

    def document(self) -> dict[str, Any]:
        return {
            "components": {
                "schemas": {name: _component(name) for name in _closure(self.roots)},
                "securitySchemes": {"BearerToken": {"description": "Bearer Token authentication",
                                                    "in": "header", "name": "authorization", "type": "apiKey"}},
            },
            "info": {"title": "Kubernetes", "version": "unversioned"},
            "openapi": "3.0.0",
            "paths": {path: self.paths[path] for path in sorted(self.paths)},
        }


# -- documents and index ----------------------------------------------------------------------------

def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


@lru_cache(maxsize=64)
def _documents(kinds: tuple[Kind, ...]) -> dict[str, tuple[dict[str, Any], str]]:
    """Every group-version's document and hash, keyed by ``api/v1`` / ``apis/apps/v1``."""
    builders: dict[tuple[str, str], _Builder] = {}
    for kind in kinds:
        definition = schema.definition_name(kind.group, kind.version, kind.kind)
        if definition is None:
            continue  # e.g. metrics.k8s.io: served, but the schemas do not describe it
        builder = builders.setdefault((kind.group, kind.version), _Builder(kind.group, kind.version))
        builder.add_kind(kind, definition)
    out: dict[str, tuple[dict[str, Any], str]] = {}
    for (group, version), builder in sorted(builders.items()):
        document = builder.document()
        encoded = json.dumps(document, separators=(",", ":"), sort_keys=True).encode()
        out[_gv_path(group, version)] = (document, hashlib.sha512(encoded).hexdigest().upper())
    return out


def openapi_v3_index(kinds: Iterable[Kind]) -> dict[str, Any]:
    """The body of ``GET /openapi/v3``: one entry per group-version with its document's hash."""
    documents = _documents(tuple(kinds))
    return {"paths": {path: {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
                      for path, (_, digest) in documents.items()}}


def openapi_v3_document(group: str, version: str, kinds: Iterable[Kind]) -> dict[str, Any] | None:
    """The body of ``GET /openapi/v3/api/v1`` or ``/openapi/v3/apis/{group}/{version}``; None if not served.

    The document is cached and shared between calls: serialize it, never mutate it.
    """
    entry = _documents(tuple(kinds)).get(_gv_path(group, version))
    return entry[0] if entry else None
