"""Blocked name resolution for the ``reference`` agent: lookups that time out behind the namespace's egress policies.

A not-ready pod whose log shows ``lookup <name> on <server>:53: read udp ...: i/o timeout`` gets no
answer from the cluster DNS. When the egress policies of its namespace admit none of that
query to the DNS add-on's pods (namespace ``kube-system``, label ``k8s-app=kube-dns``, the
convention of kube-dns and CoreDNS installs; the agent cannot read kube-system itself), the
policy is fixed with the least change (:func:`.reference_netpol.find_blocker`: usually the
missing protocol put back on the rule that already targets the DNS pods). Lookups that time out
although the policies admit them (CoreDNS itself down) are reported, not fixed.
"""

from __future__ import annotations

import json
import re

from . import reference
from .reference_netpol import Endpoint, find_blocker

DNS_LOOKUP_TIMEOUT = re.compile(r"lookup (?P<host>\S+) on (?P<server>\S+):53: read (?P<net>udp|tcp) \S+: i/o timeout")
DNS_NAMESPACE = "kube-system"
DNS_POD_LABELS = {"k8s-app": "kube-dns"}
DNS_PORT_NAMES = {"UDP": "dns", "TCP": "dns-tcp"}  # CoreDNS's container port names


def blocked_dns(cluster: "reference.Cluster") -> "reference.Finding | None":
    """The egress policy that drops a not-ready pod's DNS queries, fixed to admit them."""
    namespace_labels: dict[str, dict[str, str]] | None = None
    for pod, _ in cluster.running_not_ready():
        namespace, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        match = DNS_LOOKUP_TIMEOUT.search(cluster.logs(pod))
        if match is None:
            continue
        namespace_labels = namespace_labels or cluster.namespace_labels()
        protocol = match.group("net").upper()
        source = Endpoint(namespace, namespace_labels.get(namespace, {}), dict(pod["metadata"].get("labels") or {}))
        dns = Endpoint(DNS_NAMESPACE, namespace_labels.get(DNS_NAMESPACE, {"kubernetes.io/metadata.name": DNS_NAMESPACE}),
                       DNS_POD_LABELS)
        blocker = find_blocker(cluster.of_kind("NetworkPolicy"), source, dns, "egress", 53, DNS_PORT_NAMES[protocol],
                               protocol, DNS_POD_LABELS)
        if blocker is None:
            raise reference.NoFinding(f"Pod {namespace}/{name}: lookups of {match.group('host')} on "
                                      f"{match.group('server')}:53 time out, yet the policies of {namespace} admit "
                                      "DNS: the DNS service itself may be failing.")
        cluster.json_patch("NetworkPolicy", blocker.namespace, blocker.name, blocker.patch)
        awaited = [w for w in cluster.unavailable_workloads() if w[1] == namespace]
        return reference.Finding(
            "dns", "NetworkPolicy", blocker.namespace, blocker.name,
            f"Pods of {namespace} cannot resolve names: lookups of {match.group('host')} on "
            f"{match.group('server')}:53 over {protocol} time out, because the egress policies of {namespace} admit "
            f"no {protocol} 53 to the DNS pods. Fix: patched NetworkPolicy {blocker.namespace}/{blocker.name} "
            f"({json.dumps(blocker.patch)}).", awaited)
    return None
