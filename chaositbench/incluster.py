"""The cluster a pod runs in, as a kubeconfig for the pod's own ServiceAccount.

Kubernetes gives every pod that mounts its ServiceAccount token the API server's address in
``KUBERNETES_SERVICE_HOST`` / ``KUBERNETES_SERVICE_PORT`` and, in
``/var/run/secrets/kubernetes.io/serviceaccount``, a ``token`` (rotated by the kubelet), the
cluster's ``ca.crt`` and the pod's ``namespace``. :func:`write_in_cluster_kubeconfig` turns them
into a kubeconfig with the context ``in-cluster`` whose user reads the token *file* (so a
rotated token is picked up) and whose cluster embeds the CA (so the agent's scoped kubeconfig,
which copies the cluster entry, works anywhere).

``CHAOSITBENCH_SERVICEACCOUNT_DIR`` overrides the ServiceAccount directory; it exists for the
tests, which point it and ``KUBERNETES_SERVICE_HOST/PORT`` at the simulated cluster.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from .sim.kubeconfig import write_kubeconfig

SERVICEACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
SERVICEACCOUNT_DIR_ENV = "CHAOSITBENCH_SERVICEACCOUNT_DIR"
CONTEXT = "in-cluster"


class InClusterError(RuntimeError):
    """Not running in a pod, or the pod has no ServiceAccount token mounted (the message says which)."""


def serviceaccount_dir() -> Path:
    """Where the pod's ServiceAccount token, CA and namespace are mounted."""
    return Path(os.environ.get(SERVICEACCOUNT_DIR_ENV) or SERVICEACCOUNT_DIR)


def api_server_url() -> str:
    """``https://host:port`` of the API server from the pod's environment (IPv6 hosts bracketed)."""
    host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT")
    if not host or not port:
        raise InClusterError("CHAOSITBENCH_CLUSTER=in-cluster needs KUBERNETES_SERVICE_HOST and "
                             "KUBERNETES_SERVICE_PORT, which Kubernetes sets in every pod: this process does not "
                             "run in a pod. Use CHAOSITBENCH_CLUSTER=kubeconfig with CHAOSITBENCH_CONTEXT instead")
    return f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"


def write_in_cluster_kubeconfig(path: str | os.PathLike[str]) -> Path:
    """Write the kubeconfig of this pod's ServiceAccount to ``path`` (mode 0600); returns the path."""
    server = api_server_url()
    directory = serviceaccount_dir()
    token, ca = directory / "token", directory / "ca.crt"
    missing = [p.name for p in (token, ca) if not p.is_file()]
    if missing:
        raise InClusterError(f"no ServiceAccount credentials in {directory} (missing {', '.join(missing)}): the pod "
                             "must mount its ServiceAccount token (automountServiceAccountToken: true)")
    namespace_file = directory / "namespace"
    namespace = namespace_file.read_text().strip() if namespace_file.is_file() else "default"
    return write_kubeconfig(path, {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": CONTEXT, "cluster": {
            "server": server, "certificate-authority-data": base64.b64encode(ca.read_bytes()).decode()}}],
        "users": [{"name": CONTEXT, "user": {"tokenFile": str(token)}}],
        "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": namespace}}],
        "current-context": CONTEXT, "preferences": {}})
