"""Subresources (status, scale, log, exec, eviction, binding, token, finalize, proxy) and virtual kinds (reviews, metrics)."""

from __future__ import annotations

import asyncio
import copy
import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import auth, clock, patch, rbac, tables
from .controllers.disruption import admit_eviction
from .errors import (FieldError, bad_request, conflict, invalid, method_not_allowed, not_found,
                     resource_not_found)
from .exec_stream import handle_exec
from .kinds import Kind
from .metrics.endpoints import proxy
from .request import ResourcePath
from .selectors import parse_label_selector, selector_to_string
from .store import Obj

if TYPE_CHECKING:
    from .apiserver import APIServer
    from .auth import UserInfo

LOG_FOLLOW_POLL_S = 0.25


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=json.dumps(body, separators=(",", ":")).encode(), status=status,
                        content_type="application/json")


def _success(code: int = 201) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": code}


async def handle(server: "APIServer", request: web.Request, user: "UserInfo", target: ResourcePath,
                 verb: str) -> web.StreamResponse:
    """Dispatch a request on ``{resource}/{name}/{subresource}``."""
    sub = target.subresource
    if sub == "status":
        return await _status(server, request, user, target, verb)
    if sub == "scale":
        return await _scale(server, request, target, verb)
    if sub == "exec":
        return await handle_exec(server, request, user, target, verb)
    if sub == "log" and verb == "get":
        return await _log(server, request, target)
    if sub == "eviction" and verb == "create":
        return await _eviction(server, request, target)
    if sub == "binding" and verb == "create":
        return await _binding(server, request, target)
    if sub == "token" and verb == "create":
        return await _token(server, request, target)
    if sub == "finalize" and verb == "update":
        return await _finalize(server, request, target)
    if sub == "proxy":
        return proxy(server.api, server.cluster.metrics, target, verb)
    raise method_not_allowed()


# -- status --------------------------------------------------------------------
async def _status(server: "APIServer", request: web.Request, user: "UserInfo", target: ResourcePath,
                  verb: str) -> web.Response:
    kind, ns, name = target.kind, target.namespace or "", target.name or ""
    if verb == "get":
        return server.respond_object(request, kind, server.api.get(kind, ns, name))
    if verb == "update":
        body = await server.read_body(request)
        return server.respond_object(request, kind, server.api.update(kind, ns, name, body, subresource="status"))
    if verb == "patch":
        return await server._patch(request, target, user, subresource="status")
    raise method_not_allowed()


# -- scale -----------------------------------------------------------------------
def _scale_of(kind: Kind, obj: Obj) -> dict[str, Any]:
    meta = obj["metadata"]
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    scale_status: dict[str, Any] = {"replicas": status.get("replicas", 0)}
    selector = selector_to_string(spec.get("selector")) if kind.group else ",".join(
        f"{k}={v}" for k, v in sorted((spec.get("selector") or {}).items()))
    if selector:
        scale_status["selector"] = selector
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                         if k in meta},
            "spec": {"replicas": spec.get("replicas", 1)}, "status": scale_status}


async def _scale(server: "APIServer", request: web.Request, target: ResourcePath, verb: str) -> web.Response:
    kind, ns, name = target.kind, target.namespace or "", target.name or ""
    obj = server.api.get(kind, ns, name)
    current = _scale_of(kind, obj)
    if verb == "get":
        return _json(current)
    if verb == "update":
        wanted = await server.read_body(request)
    elif verb == "patch":
        body = await server.read_body(request)
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip()
        if content_type == "application/json-patch+json":
            if not isinstance(body, list):
                raise bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
            wanted = patch.json_patch(current, body)
        elif isinstance(body, dict):
            wanted = patch.merge_patch(current, body)
        else:
            raise bad_request("json: cannot unmarshal array into Go value of type map[string]interface {}")
    else:
        raise method_not_allowed()
    if not isinstance(wanted, dict):
        raise bad_request("Scale must be an object")
    sent_rv = (wanted.get("metadata") or {}).get("resourceVersion") if isinstance(wanted.get("metadata"), dict) else None
    if verb == "update" and sent_rv and sent_rv != obj["metadata"]["resourceVersion"]:
        raise conflict(kind.plural, kind.group, name)
    replicas = (wanted.get("spec") or {}).get("replicas") if isinstance(wanted.get("spec"), dict) else None
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise invalid("Scale", "autoscaling", name, [FieldError(
            "spec.replicas", "FieldValueInvalid", "must be greater than or equal to 0", replicas)])
    new = copy.deepcopy(obj)
    new.setdefault("spec", {})["replicas"] = replicas
    updated = server.api.update(kind, ns, name, new)
    return _json(_scale_of(kind, updated))


# -- logs ------------------------------------------------------------------------
def _container_for_logs(pod: Obj, requested: str | None) -> str:
    spec = pod.get("spec") or {}
    names = [c["name"] for c in spec.get("containers") or []]
    all_names = [c["name"] for c in spec.get("initContainers") or []] + names
    name = pod["metadata"]["name"]
    if requested:
        if requested not in all_names:
            raise bad_request(f"container {requested} is not valid for pod {name}")
        return requested
    default = (pod["metadata"].get("annotations") or {}).get("kubectl.kubernetes.io/default-container")
    if default in all_names:
        return default
    if len(names) == 1:
        return names[0]
    raise bad_request(f"a container name must be specified for pod {name}, choose one of: [{' '.join(names)}]")


def _waiting_reason(pod: Obj, container: str) -> str | None:
    status = pod.get("status") or {}
    for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        if cs.get("name") == container:
            if "waiting" in (cs.get("state") or {}) and not cs.get("lastState"):
                return cs["state"]["waiting"].get("reason", "ContainerCreating")
            return None
    return "ContainerCreating"


async def _log(server: "APIServer", request: web.Request, target: ResourcePath) -> web.StreamResponse:
    ns, name = target.namespace or "", target.name or ""
    pod = server.api.get(target.kind, ns, name)
    container = _container_for_logs(pod, request.query.get("container"))
    previous = request.query.get("previous", "false").lower() in ("1", "true")
    book = server.cluster.logbook
    uid = pod["metadata"]["uid"]
    lines = book.read(uid, container, previous=previous)
    if lines is None:
        if previous:
            raise bad_request(f'previous terminated container "{container}" in pod "{name}" not found')
        reason = _waiting_reason(pod, container) or "ContainerCreating"
        raise bad_request(f'container "{container}" in pod "{name}" is waiting to start: {reason}')
    timestamps = request.query.get("timestamps", "false").lower() in ("1", "true")
    since_s = request.query.get("sinceSeconds")
    since_time = clock.parse(request.query.get("sinceTime"))
    if since_s:
        try:
            since_time = clock.now() - timedelta(seconds=int(since_s))
        except ValueError:
            raise bad_request(f"invalid value for sinceSeconds: {since_s!r}") from None
    if since_time:
        lines = [ln for ln in lines if ln[0] >= since_time]
    tail = request.query.get("tailLines")
    if tail not in (None, ""):
        try:
            count = int(tail)
        except ValueError:
            raise bad_request(f"invalid value for tailLines: {tail!r}") from None
        lines = lines[-count:] if count > 0 else []

    def render(line: tuple[Any, str]) -> bytes:
        prefix = f"{clock.rfc3339_micro(line[0])[:-1]}000Z " if timestamps else ""
        return (prefix + line[1] + "\n").encode()

    follow = request.query.get("follow", "false").lower() in ("1", "true")
    if not follow or previous:
        return web.Response(body=b"".join(render(ln) for ln in lines), content_type="text/plain")
    response = web.StreamResponse(headers={"Content-Type": "text/plain"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    seen = len(book.read(uid, container) or [])
    for ln in lines:
        await response.write(render(ln))
    try:
        while server.api.try_get(target.kind, ns, name) is not None:
            await asyncio.sleep(LOG_FOLLOW_POLL_S)
            current = book.read(uid, container) or []
            if len(current) < seen:  # the container restarted: a new instance's log
                seen = 0
            for ln in current[seen:]:
                await response.write(render(ln))
            seen = len(current)
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    return response


# -- eviction, binding, token, finalize ------------------------------------------
async def _eviction(server: "APIServer", request: web.Request, target: ResourcePath) -> web.Response:
    ns, name = target.namespace or "", target.name or ""
    body = await server.read_body(request)
    if not isinstance(body, dict):
        raise bad_request("Eviction must be an object")
    admit_eviction(server.api, server.api.get(target.kind, ns, name))
    options = body.get("deleteOptions") or {}
    server.api.delete(target.kind, ns, name, grace_period=options.get("gracePeriodSeconds"),
                      preconditions=options.get("preconditions"))
    return _json(_success())


async def _binding(server: "APIServer", request: web.Request, target: ResourcePath) -> web.Response:
    ns, name = target.namespace or "", target.name or ""
    body = await server.read_body(request)
    node = ((body.get("target") or {}) if isinstance(body, dict) else {}).get("name")
    if not node:
        raise bad_request("Binding must name a target node")
    server.cluster.bind_pod(server.api.get(target.kind, ns, name), node)
    return _json(_success())


async def _token(server: "APIServer", request: web.Request, target: ResourcePath) -> web.Response:
    ns, name = target.namespace or "", target.name or ""
    server.api.get(target.kind, ns, name)
    body = await server.read_body(request)
    if not isinstance(body, dict):
        raise bad_request("TokenRequest must be an object")
    return _json(server.cluster.authenticator.issue_token_request(ns, name, body.get("spec") or {}, clock.now()), 201)


async def _finalize(server: "APIServer", request: web.Request, target: ResourcePath) -> web.Response:
    name = target.name or ""
    body = await server.read_body(request)
    if not isinstance(body, dict):
        raise bad_request("Namespace must be an object")
    live = server.api.get(target.kind, "", name)
    new = copy.deepcopy(live)
    new.setdefault("spec", {})["finalizers"] = list((body.get("spec") or {}).get("finalizers") or [])
    return server.respond_object(request, target.kind, server.cluster.finalize_namespace(live, new))


# -- virtual kinds -----------------------------------------------------------------
async def virtual(server: "APIServer", request: web.Request, user: "UserInfo", target: ResourcePath,
                  verb: str) -> web.Response:
    """Reviews (create-only, answered at once) and metrics.k8s.io (computed on demand)."""
    kind = target.kind
    if kind.group == "metrics.k8s.io":
        return _metrics(server, request, target, verb)
    if verb != "create":
        raise method_not_allowed()
    body = await server.read_body(request)
    if not isinstance(body, dict):
        raise bad_request(f"{kind.kind} must be an object")
    spec = body.get("spec") or {}
    authorizer = server.cluster.authorizer
    if kind.kind == "SelfSubjectAccessReview":
        result = rbac.access_review(authorizer, user, spec)
    elif kind.kind == "SubjectAccessReview":
        subject = auth.UserInfo(username=spec.get("user", ""), uid=spec.get("uid", ""),
                                groups=list(spec.get("groups") or []), extra=spec.get("extra") or {})
        result = rbac.access_review(authorizer, subject, spec, kind="SubjectAccessReview")
    elif kind.kind == "SelfSubjectRulesReview":
        result = rbac.rules_review(authorizer, user, spec.get("namespace", ""))
    elif kind.kind == "SelfSubjectReview":
        result = {"userInfo": user.as_dict()}
    elif kind.kind == "TokenReview":
        result = server.cluster.authenticator.token_review_status(spec)
    else:
        raise resource_not_found()
    answer = {"kind": kind.kind, "apiVersion": kind.api_version, "metadata": {"creationTimestamp": None},
              "spec": spec, "status": result}
    return _json(answer, 201)


def _metrics(server: "APIServer", request: web.Request, target: ResourcePath, verb: str) -> web.Response:
    provider = server.cluster.metrics
    if provider is None:
        raise resource_not_found()
    kind = target.kind
    as_table = "as=Table" in request.headers.get("Accept", "")
    include = request.query.get("includeObject", "Metadata")
    if verb == "get":
        item = provider.pod_metrics(target.namespace or "", target.name or "") if kind.kind == "PodMetrics" \
            else provider.node_metrics(target.name or "")
        if item is None:
            raise not_found(kind.plural, kind.group, target.name or "")
        return _json(tables.to_table(kind, [item], now=clock.now(), include_object=include) if as_table else item)
    if verb == "list":
        items = provider.list_pod_metrics(target.namespace) if kind.kind == "PodMetrics" else provider.list_node_metrics()
        selector = parse_label_selector(request.query.get("labelSelector"))
        items = [i for i in items if selector.matches(i["metadata"].get("labels"))]
        if as_table:
            return _json(tables.to_table(kind, items, now=clock.now(), include_object=include, list_meta={}))
        return _json({"kind": f"{kind.kind}List", "apiVersion": kind.api_version, "metadata": {}, "items": items})
    raise method_not_allowed()
