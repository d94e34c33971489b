"""The HTTP face of the simulated cluster: a kube-apiserver compatible REST API.

Routing, authentication, RBAC authorization, content negotiation (JSON or
server-side Table), watch streaming and the request-level parameters
(``dryRun``, ``fieldValidation``, ``propagationPolicy``...). Resource semantics
live in :mod:`.resources`; subresources in :mod:`.subresources`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import yaml
from aiohttp import web

from . import clock, discovery, openapi, patch, schema, subresources, tables, validation
from .errors import APIError, bad_request, forbidden, internal, method_not_allowed, resource_not_found
from .kinds import Kind
from .protobuf import decode_request, is_protobuf
from .rbac import RequestAttributes, forbidden_reason, impersonate, verb_for
from .request import ResourcePath, parse_resource_path
from .selectors import field_selector_names, parse_field_selector, parse_label_selector
from .store import Obj

if TYPE_CHECKING:
    from .auth import UserInfo
    from .cluster import Cluster

log = logging.getLogger(__name__)

JSON = "application/json"
PATCH_TYPES = {
    "application/json-patch+json": "json",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
}
WATCH_BOOKMARK_INTERVAL_S = 5.0
#: Largest request body accepted (bytes).
MAX_REQUEST_BYTES = 8 * 1024 * 1024
#: Deepest nesting of objects and arrays a request body may have. kube-apiserver's JSON decoder stops at
#: 10000 levels; the simulated server handles objects recursively, so it stops far earlier, at a depth
#: no Kubernetes object comes near, where Python's stack is still safe.
MAX_BODY_DEPTH = 100
_TOO_DEEP = "exceeded max depth"
DEFAULT_WATCH_TIMEOUT_S = 1800
#: request key of the warnings a response carries as ``Warning`` headers
WARNINGS = web.RequestKey("warnings", list)


def _json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=json.dumps(body, separators=(",", ":")).encode(), status=status,
                        content_type=JSON, headers=headers)


def _error_response(err: APIError) -> web.Response:
    return _json_response(err.status(), err.code)


def _wants_table(request: web.Request) -> bool:
    return "as=Table" in request.headers.get("Accept", "")


def _flag(value: str | None) -> bool:
    return value is not None and value.lower() in ("1", "true", "")


def _int_param(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        raise bad_request(f"invalid value for {name}: {raw!r}: must be an integer")


async def _read_limited(request: web.Request) -> bytes:
    """The request body; one over the server's size limit is the 413 kube-apiserver answers."""
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise APIError(413, "RequestEntityTooLarge",
                       f"Request entity too large: limit is {MAX_REQUEST_BYTES}") from None


def _check_shape(body: Any, size: int) -> None:
    """Refuse a decoded body nested deeper than :data:`MAX_BODY_DEPTH` or grown by YAML aliases.

    An iterative walk, so neither check can itself overflow the stack; a YAML
    document whose aliases expand into more nodes than its text could spell
    (the "billion laughs") is refused as go-yaml refuses it.
    """
    budget = 4 * size + 10_000
    stack: list[tuple[Any, int]] = [(body, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > MAX_BODY_DEPTH:
            raise bad_request(f"couldn't get version/kind; json parse error: {_TOO_DEEP}")
        budget -= len(children)
        if budget < 0:
            raise bad_request("yaml: document contains excessive aliasing")
        stack.extend((child, depth + 1) for child in children)


class APIServer:
    """aiohttp application serving the Kubernetes REST API for one :class:`Cluster`."""

    def __init__(self, cluster: "Cluster") -> None:
        self.cluster = cluster
        self.api = cluster.api
        self.request_count = 0
        self.request_seconds = 0.0

    def application(self) -> web.Application:
        app = web.Application(client_max_size=MAX_REQUEST_BYTES)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    # -- entry point -----------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        try:
            user = self._authenticate(request)
            request[WARNINGS] = []
            response = await self._route(request, user)
            if not response.prepared:
                for warning in request[WARNINGS]:
                    response.headers.add("Warning", '299 - "' + warning.replace('"', '\\"') + '"')
            return response
        except APIError as err:
            return _error_response(err)
        except (ConnectionResetError, asyncio.CancelledError):
            raise
        except Exception as exc:  # a bug must never take the server down or leak a traceback
            log.exception("internal error serving %s %s", request.method, request.path)
            return _error_response(internal(f"{type(exc).__name__}: {exc}"))
        finally:
            self.request_count += 1
            self.request_seconds += time.perf_counter() - started

    def _authenticate(self, request: web.Request) -> "UserInfo":
        """The requester, then whom it impersonates (``kubectl --as``) if it may."""
        user = self.cluster.authenticate(request.headers.get("Authorization"))
        return impersonate(self.cluster.authorizer, user, list(request.headers.items()))

    async def _route(self, request: web.Request, user: "UserInfo") -> web.StreamResponse:
        path = request.path
        parts = [unquote(p) for p in path.strip("/").split("/")] if path.strip("/") else []
        if not parts or parts[0] not in ("api", "apis"):
            return self._non_resource(request, user, path, parts)
        if request.method == "GET" and len(parts) <= 3:
            doc = self._discovery(parts)
            if doc is not None:
                self._authorize_path(user, path, "get")
                return _json_response(doc)
        if parts[0] == "api":
            if len(parts) < 3 or parts[1] != "v1":
                raise resource_not_found()
            group, version, rest = "", "v1", parts[2:]
        else:
            if len(parts) < 4:
                raise resource_not_found()
            group, version, rest = parts[1], parts[2], parts[3:]
        target = parse_resource_path(group, version, rest)
        if target is None:
            raise resource_not_found()
        return await self._resource(request, user, target)

    # -- non-resource paths ----------------------------------------------------
    def _non_resource(self, request: web.Request, user: "UserInfo", path: str, parts: list[str]) -> web.Response:
        if request.method != "GET":
            raise method_not_allowed()
        self._authorize_path(user, path, "get")
        if path in ("/version", "/version/"):
            return _json_response(self.cluster.version_info())
        if path in ("/healthz", "/livez", "/readyz"):
            return web.Response(text="ok", content_type="text/plain")
        if parts[:1] == ["openapi"]:
            return self._openapi(request, parts)
        return web.Response(status=404, text="404 page not found\n", content_type="text/plain")

    def _openapi(self, request: web.Request, parts: list[str]) -> web.Response:
        if parts == ["openapi", "v3"]:
            return _json_response(openapi.openapi_v3_index(self.cluster.served_kinds()))
        if len(parts) >= 4 and parts[1] == "v3":
            if parts[2] == "api" and len(parts) == 4:
                doc = openapi.openapi_v3_document("", parts[3], self.cluster.served_kinds())
            elif parts[2] == "apis" and len(parts) == 5:
                doc = openapi.openapi_v3_document(parts[3], parts[4], self.cluster.served_kinds())
            else:
                doc = None
            if doc is not None:
                return _json_response(doc, headers={"Cache-Control": "public, immutable"})
        return web.Response(status=404, text="404 page not found\n", content_type="text/plain")

    def _discovery(self, parts: list[str]) -> dict[str, Any] | None:
        with_metrics = self.cluster.metrics_available()
        if parts == ["api"]:
            return discovery.api_versions(self.cluster.server_address)
        if parts == ["apis"]:
            return discovery.api_group_list(with_metrics)
        if parts == ["api", "v1"]:
            return discovery.resource_list("", "v1", with_metrics)
        if len(parts) == 2 and parts[0] == "apis":
            return discovery.api_group(parts[1])
        if len(parts) == 3 and parts[0] == "apis":
            return discovery.resource_list(parts[1], parts[2], with_metrics)
        return None

    # -- authorization -----------------------------------------------------------
    def _authorize_path(self, user: "UserInfo", path: str, verb: str) -> None:
        attrs = RequestAttributes(user=user, verb=verb, api_group="", resource="", subresource="", namespace="",
                                  name="", resource_request=False, path=path)
        if not self.cluster.authorizer.authorize(attrs).allowed:
            raise APIError(403, "Forbidden", f"forbidden: {forbidden_reason(attrs)}", {})

    def _authorize(self, user: "UserInfo", verb: str, target: ResourcePath, name: str | None = None) -> None:
        kind = target.kind
        namespace = target.namespace or ""
        if kind.kind == "Namespace" and target.name:
            namespace = target.name  # a namespace is authorized as inside itself, as kube-apiserver does
        attrs = RequestAttributes(user=user, verb=verb, api_group=kind.group, resource=kind.plural,
                                  subresource=target.subresource or "", namespace=namespace,
                                  name=name or target.name or "", resource_request=True, path="")
        if not self.cluster.authorizer.authorize(attrs).allowed:
            raise forbidden(kind.plural, kind.group, name or target.name, forbidden_reason(attrs))

    # -- resources -------------------------------------------------------------
    async def _resource(self, request: web.Request, user: "UserInfo", target: ResourcePath) -> web.StreamResponse:
        kind, method = target.kind, request.method
        watch = method == "GET" and _flag(request.query.get("watch"))
        is_collection = target.name is None
        if target.subresource and is_collection:
            raise resource_not_found()
        verb = verb_for(method, is_collection, watch)
        if verb is None:
            raise method_not_allowed()
        if target.subresource:
            if target.subresource not in kind.subresources:
                raise resource_not_found()
            self._authorize(user, verb, target)
            return await subresources.handle(self, request, user, target, verb)
        if verb not in kind.verbs:
            raise method_not_allowed()
        named = field_selector_names(request.query.get("fieldSelector")) if verb in ("list", "watch") else None
        self._authorize(user, verb, target, named)
        if kind.virtual:
            return await subresources.virtual(self, request, user, target, verb)
        namespace = target.namespace or ""
        if verb == "get":
            return self.respond_object(request, kind, self.api.get(kind, namespace, target.name or ""))
        if verb == "list":
            return self._list(request, target)
        if verb == "watch":
            return await self._watch(request, target)
        if verb == "create":
            body = await self.read_body(request)
            self._check_fields(request, kind, body)
            body = self._prepare_write(request, user, kind, namespace, body, None)
            created = self.api.create(kind, namespace, body, dry_run=self._dry_run(request))
            return self.respond_object(request, kind, created, status=201)
        if verb == "update":
            body = await self.read_body(request)
            self._check_fields(request, kind, body)
            body = self._prepare_write(request, user, kind, namespace, body,
                                       self.api.try_get(kind, namespace, target.name or ""))
            updated = self.api.update(kind, namespace, target.name or "", body, dry_run=self._dry_run(request))
            return self.respond_object(request, kind, updated)
        if verb == "patch":
            return await self._patch(request, target, user)
        if verb == "delete":
            return await self._delete(request, target)
        if verb == "deletecollection":
            return await self._delete_collection(request, target)
        raise method_not_allowed()

    def respond_object(self, request: web.Request, kind: Kind, obj: Obj, status: int = 200) -> web.Response:
        if _wants_table(request) and obj.get("kind") == kind.kind:
            return _json_response(self._table(request, kind, [obj]), status)
        return _json_response(obj, status)

    def _table(self, request: web.Request, kind: Kind, objects: list[Obj], list_meta: dict[str, Any] | None = None
               ) -> dict[str, Any]:
        include = request.query.get("includeObject", "Metadata")
        return tables.to_table(kind, objects, now=clock.now(), include_object=include, list_meta=list_meta)

    def _list(self, request: web.Request, target: ResourcePath) -> web.Response:
        kind = target.kind
        limit = _int_param(request, "limit")
        items, meta = self.api.list(kind, target.namespace, label_selector=request.query.get("labelSelector"),
                                    field_selector=request.query.get("fieldSelector"), limit=limit,
                                    continue_token=request.query.get("continue"))
        if _wants_table(request):
            return _json_response(self._table(request, kind, items, meta))
        return _json_response({"kind": f"{kind.kind}List", "apiVersion": kind.api_version, "metadata": meta,
                               "items": items})

    async def read_body(self, request: web.Request, *, allow_yaml: bool = False) -> Any:
        """The request's object: JSON (YAML too if allowed), or Kubernetes protobuf as typed clients send it."""
        raw = await _read_limited(request)
        if not raw:
            raise bad_request("the body of the request was empty")
        if is_protobuf(request.headers.get("Content-Type")):
            return decode_request(raw)
        try:
            body = yaml.safe_load(raw) if allow_yaml else json.loads(raw)
        except (ValueError, yaml.YAMLError) as exc:
            raise bad_request(f"couldn't get version/kind; json parse error: {exc}")
        except RecursionError:
            raise bad_request(f"couldn't get version/kind; json parse error: {_TOO_DEEP}") from None
        _check_shape(body, len(raw))
        return body

    @staticmethod
    def _dry_run(request: web.Request) -> bool:
        values = request.query.getall("dryRun", [])
        for v in values:
            if v != "All":
                raise bad_request(f'Invalid dry run value: "{v}": supported values: "All"')
        return bool(values)

    @staticmethod
    def _check_fields(request: web.Request, kind: Kind, body: Any) -> None:
        """``fieldValidation``: Strict rejects unknown fields; Warn (the server's default) and Ignore drop them,
        Warn also answering a ``Warning`` header for each (kubectl itself asks for Strict)."""
        mode = request.query.get("fieldValidation", "Warn")
        if mode not in ("Strict", "Warn", "Ignore"):
            raise bad_request(f"fieldValidation parameter unsupported: {mode}")
        if not isinstance(body, dict):
            return
        if mode == "Strict":
            unknown = schema.unknown_fields(body, kind.group, kind.version, kind.kind)
            if unknown:
                raise bad_request("strict decoding error: " + ", ".join(f'unknown field "{f}"' for f in unknown))
            return
        dropped = schema.prune_unknown(body, kind.group, kind.version, kind.kind)
        if mode == "Warn":
            request[WARNINGS].extend(f'unknown field "{f}"' for f in dropped)

    def _prepare_write(self, request: web.Request, user: "UserInfo", kind: Kind, namespace: str, body: Any,
                       old: Obj | None, subresource: str | None = None) -> Any:
        """RBAC escalation check, then managedFields for the writing manager (create, update, patch)."""
        if not isinstance(body, dict) or not isinstance(body.get("metadata", {}), dict):
            return body
        if kind.group == "rbac.authorization.k8s.io":
            self.cluster.authorizer.confirm_no_escalation(user, kind.plural, namespace, body, old)
        manager = request.query.get("fieldManager") or request.headers.get("User-Agent", "unknown").split("/")[0]
        return patch.record_update_manager(old, body, kind.group, kind.version, kind.kind, manager[:128],
                                           subresource=subresource)

    async def _patch(self, request: web.Request, target: ResourcePath, user: "UserInfo",
                     subresource: str | None = None) -> web.Response:
        kind, namespace, name = target.kind, target.namespace or "", target.name or ""
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip()
        patch_type = PATCH_TYPES.get(content_type)
        if patch_type is None:
            raise APIError(415, "UnsupportedMediaType",
                           f"the body of the request was in an unknown format - accepted media types include: "
                           f"{', '.join(PATCH_TYPES)}")
        body = await self.read_body(request, allow_yaml=patch_type == "apply")
        dry_run = self._dry_run(request)
        if patch_type == "apply":
            if not isinstance(body, dict):
                raise bad_request("error decoding YAML: the applied configuration must be an object")
            manager = request.query.get("fieldManager")
            if not manager:
                raise bad_request("PATCH, application/apply-patch+yaml requests must have a fieldManager")
            self._check_fields(request, kind, body)
            validation.check_decodable(kind, body)
            live = self.api.try_get(kind, namespace, name)
            result = patch.server_side_apply(live, body, kind.group, kind.version, kind.kind, manager,
                                             _flag(request.query.get("force")) if "force" in request.query else False,
                                             subresource=subresource)
            if kind.group == "rbac.authorization.k8s.io":
                self.cluster.authorizer.confirm_no_escalation(user, kind.plural, namespace, result, live)
            if live is None:
                return self.respond_object(request, kind, self.api.create(kind, namespace, result, dry_run=dry_run),
                                           status=201)
            return self.respond_object(request, kind, self.api.update(
                kind, namespace, name, result, subresource=subresource, dry_run=dry_run))
        live = self.api.get(kind, namespace, name)
        if patch_type == "json":
            if not isinstance(body, list):
                raise bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
            result = patch.json_patch(live, body)
        elif not isinstance(body, dict):
            raise bad_request("json: cannot unmarshal array into Go value of type map[string]interface {}")
        elif patch_type == "merge":
            result = patch.merge_patch(live, body)
        else:
            result = patch.strategic_merge_patch(live, body, kind.group, kind.version, kind.kind)
        if patch_type != "json" and isinstance(body, dict):
            self._check_fields(request, kind, result)
        if not isinstance(result, dict):
            raise bad_request("the patch produced an object that is not a JSON object")
        result = self._prepare_write(request, user, kind, namespace, result, live, subresource)
        result.setdefault("metadata", {})
        if isinstance(result["metadata"], dict):
            sent_rv = ((body.get("metadata") or {}) if isinstance(body, dict) else {}).get("resourceVersion") \
                if isinstance(body, dict) and isinstance(body.get("metadata"), dict) else None
            result["metadata"]["resourceVersion"] = sent_rv or live["metadata"]["resourceVersion"]
        updated = self.api.update(kind, namespace, name, result, subresource=subresource, dry_run=dry_run)
        return self.respond_object(request, kind, updated)

    async def delete_options(self, request: web.Request) -> dict[str, Any]:
        options: dict[str, Any] = {}
        raw = await _read_limited(request)
        if raw.strip() and is_protobuf(request.headers.get("Content-Type")):
            options = decode_request(raw)
        elif raw.strip():
            try:
                options = json.loads(raw)
            except ValueError as exc:
                raise bad_request(f"couldn't get version/kind; json parse error: {exc}")
            except RecursionError:
                raise bad_request(f"couldn't get version/kind; json parse error: {_TOO_DEEP}") from None
            _check_shape(options, len(raw))
            if not isinstance(options, dict):
                raise bad_request("DeleteOptions must be an object")
        if "propagationPolicy" in request.query:
            options["propagationPolicy"] = request.query["propagationPolicy"]
        if "gracePeriodSeconds" in request.query:
            options["gracePeriodSeconds"] = _int_param(request, "gracePeriodSeconds")
        if "orphanDependents" in request.query and "propagationPolicy" not in options:
            options["propagationPolicy"] = "Orphan" if _flag(request.query["orphanDependents"]) else "Background"
        if options.get("orphanDependents") is not None and "propagationPolicy" not in options:
            options["propagationPolicy"] = "Orphan" if options["orphanDependents"] else "Background"
        return options

    async def _delete(self, request: web.Request, target: ResourcePath) -> web.Response:
        kind = target.kind
        options = await self.delete_options(request)
        deleted = self.api.delete(kind, target.namespace or "", target.name or "",
                                  propagation=options.get("propagationPolicy"),
                                  grace_period=options.get("gracePeriodSeconds"),
                                  preconditions=options.get("preconditions"), dry_run=self._dry_run(request))
        still_there = bool(deleted["metadata"].get("deletionTimestamp")) and self.api.try_get(
            kind, target.namespace or "", target.name or "") is not None
        return _json_response(self.api.deletion_response(kind, deleted), 202 if still_there else 200)

    async def _delete_collection(self, request: web.Request, target: ResourcePath) -> web.Response:
        kind = target.kind
        options = await self.delete_options(request)
        items, _ = self.api.list(kind, target.namespace, label_selector=request.query.get("labelSelector"),
                                 field_selector=request.query.get("fieldSelector"))
        deleted = []
        for obj in list(items):
            meta = obj["metadata"]
            try:
                deleted.append(self.api.delete(kind, meta.get("namespace", ""), meta["name"],
                                               propagation=options.get("propagationPolicy"),
                                               grace_period=options.get("gracePeriodSeconds"),
                                               dry_run=self._dry_run(request)))
            except APIError as err:
                if err.code != 404:
                    raise
        return _json_response({"kind": f"{kind.kind}List", "apiVersion": kind.api_version,
                               "metadata": {"resourceVersion": str(self.cluster.store.rv)}, "items": deleted})

    # -- watch -----------------------------------------------------------------
    async def _watch(self, request: web.Request, target: ResourcePath) -> web.StreamResponse:
        kind = target.kind
        labels = parse_label_selector(request.query.get("labelSelector"))
        fields = parse_field_selector(request.query.get("fieldSelector"), kind.storage_key)
        rv_param = request.query.get("resourceVersion", "")
        send_initial = _flag(request.query.get("sendInitialEvents")) if "sendInitialEvents" in request.query else None
        try:
            since = int(rv_param) if rv_param not in ("", "0") else None
        except ValueError:
            raise bad_request(f'invalid resource version: "{rv_param}"') from None
        bookmarks = _flag(request.query.get("allowWatchBookmarks")) if "allowWatchBookmarks" in request.query else False
        timeout = _int_param(request, "timeoutSeconds") or DEFAULT_WATCH_TIMEOUT_S
        store = self.cluster.store
        namespace = target.namespace if kind.namespaced else None

        def accept(obj: Obj) -> bool:
            return labels.matches(obj["metadata"].get("labels")) and fields(obj)

        initial: list[Obj] = []
        if since is None or send_initial:
            initial = [o for o in store.list(kind.storage_key, namespace) if accept(o)]
            if send_initial and since is not None:
                since = None
        watcher = store.watch(kind.storage_key, namespace, since if not initial else None, accept)
        start_rv = store.rv
        response = web.StreamResponse(headers={"Content-Type": JSON, "Cache-Control": "no-cache, private"})
        response.enable_chunked_encoding()
        as_table = _wants_table(request)
        first_table = True
        matching: set[tuple[str, str]] = set()

        async def send(event_type: str, obj: Obj) -> None:
            nonlocal first_table
            if as_table and event_type != "BOOKMARK":
                body = tables.to_table(kind, [obj], now=clock.now(), headers=first_table,
                                       include_object=request.query.get("includeObject", "Metadata"))
                first_table = False
            else:
                body = obj if event_type == "BOOKMARK" else self.cluster.convert_out(kind, obj)
            await response.write(json.dumps({"type": event_type, "object": body}, separators=(",", ":")).encode()
                                 + b"\n")

        def bookmark(rv: int, initial_end: bool = False) -> Obj:
            meta: dict[str, Any] = {"resourceVersion": str(rv)}
            if initial_end:
                meta["annotations"] = {"k8s.io/initial-events-end": "true"}
            return {"kind": kind.kind, "apiVersion": kind.api_version, "metadata": meta}

        try:
            await response.prepare(request)
            for obj in initial:
                matching.add((obj["metadata"].get("namespace", ""), obj["metadata"]["name"]))
                await send("ADDED", obj)
            if send_initial and bookmarks:
                await send("BOOKMARK", bookmark(start_rv, initial_end=True))
            deadline = time.monotonic() + timeout
            filtered = not labels.empty or bool(request.query.get("fieldSelector"))
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    event = await asyncio.wait_for(watcher.queue.get(), min(remaining, WATCH_BOOKMARK_INTERVAL_S))
                except asyncio.TimeoutError:
                    if bookmarks:
                        await send("BOOKMARK", bookmark(store.rv))
                    continue
                if event is None:
                    break
                if initial and event.rv <= start_rv:
                    continue
                key = (event.obj["metadata"].get("namespace", ""), event.obj["metadata"]["name"])
                ok = accept(event.obj)
                if not filtered:
                    if ok:
                        await send(event.type, event.obj)
                    continue
                if event.type == "DELETED":
                    if key in matching or ok:
                        matching.discard(key)
                        await send("DELETED", event.obj)
                elif ok:
                    await send("MODIFIED" if key in matching and event.type != "ADDED" else "ADDED", event.obj)
                    matching.add(key)
                elif key in matching:
                    matching.discard(key)
                    await send("DELETED", event.obj)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            store.stop_watch(watcher)
        return response
