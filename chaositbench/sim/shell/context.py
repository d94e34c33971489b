"""What a process started by ``kubectl exec`` sees of its pod: environment, files, identity, resources."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable

from .. import clock
from ..behaviour.needs import ContainerNeeds, NeedsError, container_needs
from ..kinds import preferred
from ..network import Network, Resolution, dns
from .environment import container_environment
from .filesystem import FileSystem, container_filesystem

if TYPE_CHECKING:
    from ..cluster import Cluster

SERVICES = preferred("", "Service")
NODES = preferred("", "Node")
PODS = preferred("", "Pod")


@dataclass
class ExecContext:
    """One exec session's view of a running container, and the cluster's network model as seen from it."""

    pod: dict[str, Any]
    container: dict[str, Any]
    node: dict[str, Any]
    env: dict[str, str]
    fs: FileSystem
    needs: ContainerNeeds
    pods_on_node: list[dict[str, Any]]
    network: Network
    resolver: Callable[[str], Resolution]
    time_scale: float = 1.0
    exec_command: list[str] = field(default_factory=list)  # the argv kubectl exec asked for
    started: datetime = field(default_factory=clock.now)

    @property
    def hostname(self) -> str:
        return pod_hostname(self.pod)

    @property
    def uid(self) -> int:
        """The user the process runs as (container, then pod securityContext; root by default)."""
        for ctx in (self.container.get("securityContext"), (self.pod.get("spec") or {}).get("securityContext")):
            if isinstance(ctx, dict) and isinstance(ctx.get("runAsUser"), int):
                return int(ctx["runAsUser"])
        return 0

    def cmdline(self) -> list[str]:
        return main_process(self.container)

    def resolve(self, name: str) -> Resolution:
        """The cluster DNS answer for ``name`` as this pod's resolver asks it."""
        return self.resolver(name)


def pod_hostname(pod: dict[str, Any]) -> str:
    """The pod's hostname: ``spec.hostname``, else its name (at most 63 characters)."""
    return str((pod.get("spec") or {}).get("hostname") or pod["metadata"]["name"])[:63]


def main_process(container: dict[str, Any]) -> list[str]:
    """PID 1's argv: command + args, or the image's name as its entrypoint when the spec sets none."""
    argv = [str(a) for a in (container.get("command") or []) + (container.get("args") or [])]
    if container.get("command"):
        return argv
    image = str(container.get("image") or "app").rsplit("/", 1)[-1].split("@")[0].split(":")[0]
    return [image] + argv


def build_context(cluster: "Cluster", pod: dict[str, Any], container_name: str,
                  exec_command: list[str]) -> ExecContext:
    """The context of an exec into ``container_name`` of ``pod`` on ``cluster``."""
    api = cluster.api
    spec = pod.get("spec") or {}
    container = next(c for c in (spec.get("containers") or []) + (spec.get("initContainers") or [])
                     + (spec.get("ephemeralContainers") or []) if c.get("name") == container_name)
    node = api.try_get(NODES, "", spec.get("nodeName") or "") or {}
    allocatable = {k: str(v) for k, v in ((node.get("status") or {}).get("allocatable") or {}).items()}

    def lookup(kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        return api.try_get(preferred("", kind), namespace, name) if name else None

    def issue_token(namespace: str, account: str, seconds: int) -> str:
        authenticator = cluster.authenticator
        return authenticator.issue_token(namespace, account, list(authenticator.api_audiences), seconds, clock.now())

    namespace = pod["metadata"].get("namespace", "")
    services = [s for s in [api.try_get(SERVICES, "default", "kubernetes")] if s]
    if spec.get("enableServiceLinks", True):
        services += [s for s in api.list(SERVICES, namespace)[0] if s["metadata"]["name"] != "kubernetes"
                     or namespace != "default"]
    hostname = pod_hostname(pod)
    env = container_environment(pod, container, services, lookup, hostname, allocatable)
    fs = container_filesystem(pod, container, hostname, main_process(container), lookup, issue_token, allocatable)
    try:
        needs = container_needs(pod, container_name)
    except NeedsError:
        needs = ContainerNeeds()
    on_node = api.list(PODS, None, field_selector=f"spec.nodeName={spec.get('nodeName')}")[0]

    def resolver(name: str) -> Resolution:
        return dns.resolve(cluster, name, namespace)
    return ExecContext(pod=pod, container=container, node=node, env=env, fs=fs, needs=needs, pods_on_node=on_node,
                       network=cluster.network, resolver=resolver, time_scale=cluster.time_scale,
                       exec_command=list(exec_command))
