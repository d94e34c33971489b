"""Scrape targets served through the API server's proxy subresources, at the paths real setups use.

=======================================================================  ==========================
path                                                                     series
=======================================================================  ==========================
``/api/v1/nodes/{node}/proxy/metrics/cadvisor``                          cAdvisor (containers, node)
``/api/v1/nodes/{node}/proxy/metrics``                                   kubelet
``/api/v1/namespaces/kube-system/services/kube-state-metrics:8080/proxy/metrics``  kube-state-metrics
``/api/v1/namespaces/kube-system/services/app-metrics:9090/proxy/metrics``         request (RED) metrics
=======================================================================  ==========================

Access is authorized as kube-apiserver authorizes proxying: ``get`` on
``nodes/proxy`` or ``services/proxy`` (the API server checks that before
calling :func:`proxy`). Any other service proxy answers 503 as the real server
does for a Service it cannot reach; any other node path 404.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from ..errors import APIError, method_not_allowed
from .exposition import CONTENT_TYPE, Family, render

if TYPE_CHECKING:
    from ..request import ResourcePath
    from ..resources import ResourceAPI
    from .model import ClusterMetrics

METRICS_NAMESPACE = "kube-system"
STATE_SERVICE = "kube-state-metrics:8080"
APP_SERVICE = "app-metrics:9090"


def _text(families: list[Family]) -> web.Response:
    response = web.Response(text=render(families))
    response.headers["Content-Type"] = CONTENT_TYPE
    return response


def service_name(proxied: str) -> str:
    """The Service of a proxy name ``[scheme:]name[:port]``."""
    parts = proxied.split(":")
    return parts[1] if len(parts) > 1 and parts[0] in ("http", "https") else parts[0]


def proxy(api: "ResourceAPI", metrics: "ClusterMetrics | None", target: "ResourcePath", verb: str) -> web.Response:
    """Answer a request on a node or service proxy path."""
    if verb != "get":
        raise method_not_allowed()
    name, path = target.name or "", target.proxy_path
    if target.kind.kind == "Node":
        api.get(target.kind, "", name)
        if metrics is not None and path == "metrics/cadvisor":
            return _text(metrics.cadvisor(name))
        if metrics is not None and path == "metrics":
            return _text(metrics.kubelet(name))
        return web.Response(status=404, text="404 page not found\n", content_type="text/plain")
    if metrics is not None and target.namespace == METRICS_NAMESPACE and path == "metrics":
        if name == STATE_SERVICE:
            return _text(metrics.state())
        if name == APP_SERVICE:
            return _text(metrics.http())
    service = service_name(name)
    api.get(target.kind, target.namespace or "", service)
    raise APIError(503, "ServiceUnavailable", f'no endpoints available for service "{service}"')
