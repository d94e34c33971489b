"""Cluster DNS as CoreDNS's ``kubernetes`` plugin answers it, and the add-on objects that serve it.

Names are looked up as the pod's ``resolv.conf`` says (:func:`pod_resolv_conf`);
with ``dnsPolicy: ClusterFirst`` (the default) it has ``search <ns>.svc.cluster.local svc.cluster.local
cluster.local`` and ``options ndots:5``, so a name with fewer than five dots
is tried with each search suffix first and then as given; a name ending in a
dot is absolute. Records of the ``cluster.local`` zone:

* ``<svc>.<ns>.svc.cluster.local`` — the Service's ClusterIP; a headless
  Service's ready endpoint addresses; an ExternalName Service's CNAME;
* ``<hostname>.<svc>.<ns>.svc.cluster.local`` — an endpoint of a headless
  Service with that hostname (StatefulSet pods: ``<pod>.<serviceName>``), or
  ``<a-b-c-d>.<svc>…`` for one without;
* ``<a-b-c-d>.<ns>.pod.cluster.local`` — the address itself (``pods insecure``);
* reverse (PTR) records of ClusterIPs and endpoint addresses (:func:`reverse`).

Everything else is NXDOMAIN: the simulated cluster has no upstream resolver,
so names outside the zone (and CNAME targets outside it) do not resolve.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from ..kinds import preferred
from ..store import Obj
from .index import NetworkView, view_of

CLUSTER_DOMAIN = "cluster.local"
DNS_SERVICE_IP = "10.96.0.10"
DNS_NAMESPACE = "kube-system"
DNS_SERVICE = "kube-dns"
DNS_LABELS = {"k8s-app": "kube-dns"}
#: The resolver a node's own ``resolv.conf`` names (what dnsPolicy Default pods inherit).
NODE_NAMESERVER = "8.8.8.8"
COREDNS_IMAGE = "registry.k8s.io/coredns/coredns:v1.12.1"
NDOTS = 5

COREFILE = """.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
       max_concurrent 1000
    }
    cache 30 {
       disable success cluster.local
       disable denial cluster.local
    }
    loop
    reload
    loadbalance
}
"""


@dataclass(frozen=True)
class Resolution:
    """The answer to one lookup: the name that answered, its addresses, a CNAME, or NXDOMAIN."""

    name: str
    addresses: tuple[str, ...] = ()
    fqdn: str | None = None
    cname: str | None = None
    error: str | None = None  # "nxdomain"

    @property
    def ok(self) -> bool:
        return self.error is None


def search_path(namespace: str) -> tuple[str, ...]:
    """The ``search`` line of a ClusterFirst pod's ``resolv.conf``."""
    return (f"{namespace}.svc.{CLUSTER_DOMAIN}", f"svc.{CLUSTER_DOMAIN}", CLUSTER_DOMAIN)


@dataclass(frozen=True)
class ResolvConf:
    """The resolver settings of a pod's ``/etc/resolv.conf``."""

    nameservers: tuple[str, ...]
    search: tuple[str, ...]
    ndots: int

    @property
    def cluster(self) -> bool:
        """It asks the cluster DNS (which answers the ``cluster.local`` zone)."""
        return DNS_SERVICE_IP in self.nameservers[:1]


def cluster_first(namespace: str) -> ResolvConf:
    """The ``resolv.conf`` of a ClusterFirst pod without ``dnsConfig``."""
    return ResolvConf((DNS_SERVICE_IP,), search_path(namespace), NDOTS)


def pod_resolv_conf(pod: Obj) -> ResolvConf:
    """The kubelet's ``resolv.conf`` for the pod's ``dnsPolicy`` and ``dnsConfig``.

    ClusterFirst (the default; Default on the host network unless
    ClusterFirstWithHostNet) asks the cluster DNS with the namespace search
    path and ``ndots:5``; Default inherits the node's resolver
    (:data:`NODE_NAMESERVER`, no search path, ``ndots:1``); None has only what
    ``dnsConfig`` gives. ``dnsConfig`` nameservers and searches are appended,
    its ``ndots`` option wins.
    """
    spec = pod.get("spec") or {}
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    if policy == "ClusterFirstWithHostNet" and not spec.get("hostNetwork"):
        policy = "ClusterFirst"
    if policy == "ClusterFirst" and spec.get("hostNetwork"):
        policy = "Default"
    servers: list[str] = []
    searches: list[str] = []
    ndots = 1
    if policy in ("ClusterFirst", "ClusterFirstWithHostNet"):
        base = cluster_first(pod["metadata"].get("namespace", ""))
        servers, searches, ndots = list(base.nameservers), list(base.search), base.ndots
    elif policy == "Default":
        servers = [NODE_NAMESERVER]
    config = spec.get("dnsConfig") or {}
    servers += [str(x) for x in config.get("nameservers") or [] if x not in servers]
    searches += [str(x).rstrip(".").lower() for x in config.get("searches") or [] if x not in searches]
    for option in config.get("options") or []:
        if option.get("name") == "ndots" and str(option.get("value", "")).isdigit():
            ndots = int(option["value"])
    return ResolvConf(tuple(servers), tuple(searches), ndots)


def candidates(name: str, conf: ResolvConf) -> list[str]:
    """The fully qualified names tried, in order (glibc/Go ``ndots`` rules)."""
    if name.endswith("."):
        return [name[:-1]]
    expanded = [f"{name}.{suffix}" for suffix in conf.search]
    return [name, *expanded] if name.count(".") >= conf.ndots else [*expanded, name]


def _dashed_ip(label: str) -> str | None:
    try:
        return str(ipaddress.IPv4Address(label.replace("-", ".")))
    except ValueError:
        return None


def _service_records(view: NetworkView, service: Obj) -> tuple[tuple[str, ...], str | None]:
    """(addresses, cname) of a Service's own name."""
    spec = service.get("spec") or {}
    if spec.get("type") == "ExternalName":
        return (), str(spec.get("externalName") or "").rstrip(".").lower() or None
    if spec.get("clusterIP") == "None":
        meta = service["metadata"]
        return tuple(sorted({b.ip for b in view.ready_backends(meta["namespace"], meta["name"])},
                            key=ipaddress.ip_address)), None
    return ((spec["clusterIP"],) if spec.get("clusterIP") else ()), None


def lookup_fqdn(view: NetworkView, fqdn: str) -> tuple[tuple[str, ...], str | None]:
    """(addresses, cname) of one fully qualified name; both empty when it does not exist."""
    suffix = "." + CLUSTER_DOMAIN
    if not fqdn.endswith(suffix):
        return (), None
    labels = fqdn[:-len(suffix)].split(".")
    if len(labels) == 3 and labels[2] == "pod":
        ip = _dashed_ip(labels[0])
        return ((ip,) if ip else ()), None
    if len(labels) == 3 and labels[2] == "svc":
        service = view.services.get((labels[1], labels[0]))
        return _service_records(view, service) if service else ((), None)
    if len(labels) == 4 and labels[3] == "svc":
        host, svc, ns = labels[0], labels[1], labels[2]
        service = view.services.get((ns, svc))
        if service is None or (service.get("spec") or {}).get("clusterIP") != "None":
            return (), None
        ips = {b.ip for b in view.ready_backends(ns, svc) if (b.hostname or b.ip.replace(".", "-")) == host}
        return tuple(sorted(ips, key=ipaddress.ip_address)), None
    return (), None


def resolve_in(view: NetworkView, name: str, from_namespace: str, conf: ResolvConf | None = None) -> Resolution:
    """Resolve ``name`` for a pod of ``from_namespace`` (resolver ``conf``, default ClusterFirst) in one view.

    A resolver that does not ask the cluster DNS finds no name at all: the
    nameservers outside the cluster are not simulated.
    """
    try:
        return Resolution(name, (str(ipaddress.ip_address(name)),), fqdn=None)
    except ValueError:
        pass
    conf = conf or cluster_first(from_namespace)
    if not conf.cluster:
        return Resolution(name, error="nxdomain")
    for fqdn in candidates(name.lower(), conf):
        addresses, cname = lookup_fqdn(view, fqdn)
        if cname:
            target, _ = lookup_fqdn(view, cname)
            return Resolution(name, target, fqdn=fqdn, cname=cname, error=None if target else "nxdomain")
        if addresses:
            return Resolution(name, addresses, fqdn=fqdn)
    return Resolution(name, error="nxdomain")


def resolve(cluster: Any, name: str, from_namespace: str) -> Resolution:
    """Resolve ``name`` as a ClusterFirst pod in ``from_namespace`` would (no reachability check)."""
    return resolve_in(view_of(cluster.store), name, from_namespace)


def reverse_in(view: NetworkView, ip: str) -> str | None:
    """The PTR answer for ``ip``: a Service's name for its ClusterIP, an endpoint's name under its Service.

    A ready endpoint is named by its hostname, or its dashed address, under
    the first Service (by namespace and name) listing it; other addresses have
    no record (NXDOMAIN).
    """
    service = view.service_by_ip.get(ip)
    if service is not None:
        meta = service["metadata"]
        return f"{meta['name']}.{meta['namespace']}.svc.{CLUSTER_DOMAIN}"
    for (namespace, name), backends in sorted(view.backends.items()):
        for backend in backends:
            if backend.ip == ip and backend.ready and (namespace, name) in view.services:
                return f"{backend.hostname or ip.replace('.', '-')}.{name}.{namespace}.svc.{CLUSTER_DOMAIN}"
    return None


def reverse(cluster: Any, ip: str) -> str | None:
    """The name cluster DNS gives ``ip`` (``nslookup <ip>``), or None for NXDOMAIN."""
    return reverse_in(view_of(cluster.store), ip)


def ptr_name(ip: str) -> str:
    """The ``in-addr.arpa`` name queried for an IPv4 address."""
    return ".".join(reversed(ip.split("."))) + ".in-addr.arpa"


# -- the DNS add-on objects ---------------------------------------------------------------
SERVICES = preferred("", "Service")
DEPLOYMENTS = preferred("apps", "Deployment")
CONFIGMAPS = preferred("", "ConfigMap")
SERVICE_ACCOUNTS = preferred("", "ServiceAccount")

#: What CoreDNS serves, declared for the behaviour model (chaositbench.io/needs).
COREDNS_NEEDS = """coredns:
  memory: {workingSet: 18Mi}
  cpu: {usage: 3m}
  startupSeconds: 1
  listen:
    - {port: 53, protocol: UDP}
    - {port: 53, protocol: TCP}
    - {port: 8080, paths: {/health: 200}}
    - {port: 8181, paths: {/ready: 200}}
    - {port: 9153, paths: {/metrics: 200}}
  logs:
    startup: [".:53", "CoreDNS-1.12.1"]
"""


def _coredns_deployment() -> Obj:
    probe = {"failureThreshold": 5, "initialDelaySeconds": 60, "periodSeconds": 10, "successThreshold": 1,
             "timeoutSeconds": 5}
    container = {
        "name": "coredns", "image": COREDNS_IMAGE, "imagePullPolicy": "IfNotPresent",
        "args": ["-conf", "/etc/coredns/Corefile"],
        "ports": [{"containerPort": 53, "name": "dns", "protocol": "UDP"},
                  {"containerPort": 53, "name": "dns-tcp", "protocol": "TCP"},
                  {"containerPort": 9153, "name": "metrics", "protocol": "TCP"}],
        "resources": {"limits": {"memory": "170Mi"}, "requests": {"cpu": "100m", "memory": "70Mi"}},
        "livenessProbe": {"httpGet": {"path": "/health", "port": 8080, "scheme": "HTTP"}, **probe},
        "readinessProbe": {"httpGet": {"path": "/ready", "port": 8181, "scheme": "HTTP"}, "failureThreshold": 3,
                           "periodSeconds": 10, "successThreshold": 1, "timeoutSeconds": 1},
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                            "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]}},
        "volumeMounts": [{"name": "config-volume", "mountPath": "/etc/coredns", "readOnly": True}],
    }
    return {
        "metadata": {"name": "coredns", "labels": dict(DNS_LABELS)},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": dict(DNS_LABELS)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": "25%"}},
            "template": {
                "metadata": {"labels": dict(DNS_LABELS), "annotations": {"chaositbench.io/needs": COREDNS_NEEDS}},
                "spec": {
                    "priorityClassName": "system-cluster-critical",
                    "serviceAccountName": "coredns",
                    "dnsPolicy": "Default",
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                    "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists"},
                                    {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}],
                    "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
                        "weight": 100, "podAffinityTerm": {
                            "labelSelector": {"matchExpressions": [
                                {"key": "k8s-app", "operator": "In", "values": ["kube-dns"]}]},
                            "topologyKey": "kubernetes.io/hostname"}}]}},
                    "containers": [container],
                    "volumes": [{"name": "config-volume", "configMap": {
                        "name": "coredns", "items": [{"key": "Corefile", "path": "Corefile"}]}}],
                },
            },
        },
    }


def bootstrap_dns(api: Any) -> None:
    """Create the cluster DNS add-on in kube-system: CoreDNS's ServiceAccount, Corefile, Deployment and ``kube-dns``."""
    api.create(SERVICE_ACCOUNTS, DNS_NAMESPACE, {"metadata": {"name": "coredns"}})
    api.create(CONFIGMAPS, DNS_NAMESPACE, {"metadata": {"name": "coredns"}, "data": {"Corefile": COREFILE}})
    api.create(DEPLOYMENTS, DNS_NAMESPACE, _coredns_deployment())
    api.create(SERVICES, DNS_NAMESPACE, {
        "metadata": {"name": DNS_SERVICE, "labels": {**DNS_LABELS, "kubernetes.io/cluster-service": "true",
                                                     "kubernetes.io/name": "CoreDNS"},
                     "annotations": {"prometheus.io/port": "9153", "prometheus.io/scrape": "true"}},
        "spec": {"clusterIP": DNS_SERVICE_IP, "selector": dict(DNS_LABELS),
                 "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                           {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                           {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153}]}})
