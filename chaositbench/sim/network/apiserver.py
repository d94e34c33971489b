"""The API server as the pod network sees it: the ``default/kubernetes`` endpoints and anonymous answers.

kube-apiserver publishes its own address behind the ``kubernetes`` Service:
an ``Endpoints`` object (marked to skip mirroring) and an ``EndpointSlice``,
both named ``kubernetes``, listing the control-plane addresses on port 6443
as ``https``. A pod that calls it without credentials is ``system:anonymous``,
who may read only the health and version endpoints; any other path is a 403
``Status``.
"""

from __future__ import annotations

import json
from typing import Any

from ..kinds import preferred
from ..store import Obj

ENDPOINTS = preferred("", "Endpoints")
SLICES = preferred("discovery.k8s.io", "EndpointSlice")
NODES = preferred("", "Node")
SERVICE = ("default", "kubernetes")
PORT = 6443
CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"
PUBLIC_PATHS = ("/healthz", "/livez", "/readyz")


def control_plane_addresses(nodes: list[Obj]) -> list[str]:
    """The InternalIP of every control-plane node, sorted."""
    return sorted(address["address"] for node in nodes
                  if CONTROL_PLANE_LABEL in (node["metadata"].get("labels") or {})
                  for address in (node.get("status") or {}).get("addresses") or []
                  if address.get("type") == "InternalIP")


def bootstrap_apiserver_endpoints(api: Any) -> None:
    """Publish the API server's addresses for the ``kubernetes`` Service, as its endpoint reconciler does."""
    addresses = control_plane_addresses(api.list(NODES)[0])
    if not addresses:
        return
    port = {"name": "https", "port": PORT, "protocol": "TCP"}
    api.create(ENDPOINTS, "default", {
        "metadata": {"name": "kubernetes", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
        "subsets": [{"addresses": [{"ip": ip} for ip in addresses], "ports": [port]}]})
    api.create(SLICES, "default", {
        "metadata": {"name": "kubernetes", "labels": {"kubernetes.io/service-name": "kubernetes"}},
        "addressType": "IPv4", "ports": [port],
        "endpoints": [{"addresses": [ip], "conditions": {"ready": True}} for ip in addresses]})


def anonymous_answer(path: str, version: dict[str, str]) -> tuple[int, str]:
    """What kube-apiserver answers an unauthenticated GET of ``path``: (status, body)."""
    if path in PUBLIC_PATHS:
        return 200, "ok"
    if path == "/version":
        return 200, json.dumps(version, indent=2)
    status = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
              "message": f'forbidden: User "system:anonymous" cannot get path "{path}"', "reason": "Forbidden",
              "details": {}, "code": 403}
    return 403, json.dumps(status, indent=2)
