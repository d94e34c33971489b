"""Cluster DNS: the name forms a pod's resolver finds, and the CoreDNS add-on objects of the cluster."""

from __future__ import annotations

from typing import Any

import pytest

from chaositbench.sim.cluster import Cluster
from chaositbench.sim.kinds import preferred
from chaositbench.sim.network import resolve, reverse
from chaositbench.sim.network.dns import (COREFILE, ResolvConf, candidates, cluster_first, pod_resolv_conf, ptr_name,
                                          resolve_in)
from chaositbench.sim.network.index import view_of

SERVICES = preferred("", "Service")
NAMESPACES = preferred("", "Namespace")
SLICES = preferred("discovery.k8s.io", "EndpointSlice")
DEPLOYMENTS = preferred("apps", "Deployment")
CONFIGMAPS = preferred("", "ConfigMap")


def endpoint(ip: str, *, ready: bool = True, hostname: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"addresses": [ip], "conditions": {"ready": ready}}
    if hostname:
        item["hostname"] = hostname
    return item


@pytest.fixture(scope="module")
def cluster() -> Cluster:
    c = Cluster()
    api = c.api
    for ns in ("shop", "data"):
        api.create(NAMESPACES, "", {"metadata": {"name": ns}})
    api.create(SERVICES, "data", {"metadata": {"name": "postgres"}, "spec": {
        "clusterIP": "10.96.45.12", "selector": {"app": "postgres"}, "ports": [{"port": 5432}]}})
    api.create(SERVICES, "shop", {"metadata": {"name": "web"}, "spec": {
        "clusterIP": "10.96.7.7", "selector": {"app": "web"}, "ports": [{"port": 80}]}})
    api.create(SERVICES, "data", {"metadata": {"name": "db"}, "spec": {
        "clusterIP": "None", "selector": {"app": "db"}, "ports": [{"port": 5432}]}})
    api.create(SLICES, "data", {"metadata": {"name": "db-abcde", "labels": {"kubernetes.io/service-name": "db"}},
                                "addressType": "IPv4", "ports": [{"name": "", "port": 5432, "protocol": "TCP"}],
                                "endpoints": [endpoint("10.244.2.9", hostname="db-1"),
                                              endpoint("10.244.1.8", hostname="db-0"),
                                              endpoint("10.244.3.7", ready=False, hostname="db-2"),
                                              endpoint("10.244.3.5")]})
    api.create(SERVICES, "data", {"metadata": {"name": "empty"}, "spec": {
        "clusterIP": "None", "selector": {"app": "nothing"}}})
    api.create(SERVICES, "shop", {"metadata": {"name": "alias"}, "spec": {
        "type": "ExternalName", "externalName": "postgres.data.svc.cluster.local"}})
    api.create(SERVICES, "shop", {"metadata": {"name": "stripe"}, "spec": {
        "type": "ExternalName", "externalName": "api.stripe.com"}})
    return c


@pytest.mark.parametrize("name", ["postgres.data", "postgres.data.svc", "postgres.data.svc.cluster.local",
                                  "postgres.data.svc.cluster.local.", "POSTGRES.Data"])
def test_service_name_forms_from_another_namespace(cluster: Cluster, name: str) -> None:
    answer = resolve(cluster, name, "shop")
    assert answer.ok and answer.addresses == ("10.96.45.12",)
    assert answer.fqdn == "postgres.data.svc.cluster.local"


def test_short_name_resolves_only_in_the_own_namespace(cluster: Cluster) -> None:
    assert resolve(cluster, "postgres", "data").addresses == ("10.96.45.12",)
    missing = resolve(cluster, "postgres", "shop")
    assert missing.error == "nxdomain" and not missing.ok and missing.addresses == ()
    assert resolve(cluster, "web", "shop").addresses == ("10.96.7.7",)


def test_unknown_names_and_namespaces_are_nxdomain(cluster: Cluster) -> None:
    for name in ("nope", "postgres.nowhere", "postgres.data.svc.cluster.example", "example.com", "web.shop.pod"):
        assert resolve(cluster, name, "shop").error == "nxdomain", name


def test_headless_service_answers_ready_endpoint_addresses(cluster: Cluster) -> None:
    answer = resolve(cluster, "db.data", "shop")
    assert answer.addresses == ("10.244.1.8", "10.244.2.9", "10.244.3.5")  # not-ready 10.244.3.7 left out
    assert resolve(cluster, "empty.data", "shop").error == "nxdomain"


def test_statefulset_style_pod_names_under_a_headless_service(cluster: Cluster) -> None:
    assert resolve(cluster, "db-0.db.data.svc.cluster.local", "shop").addresses == ("10.244.1.8",)
    assert resolve(cluster, "db-1.db", "data").addresses == ("10.244.2.9",)
    assert resolve(cluster, "db-2.db.data", "shop").error == "nxdomain"  # not ready
    assert resolve(cluster, "10-244-3-5.db.data.svc.cluster.local", "shop").addresses == ("10.244.3.5",)
    assert resolve(cluster, "db-0.postgres.data.svc.cluster.local", "shop").error == "nxdomain"  # not headless


def test_pod_a_records(cluster: Cluster) -> None:
    assert resolve(cluster, "10-244-1-8.data.pod.cluster.local", "shop").addresses == ("10.244.1.8",)
    assert resolve(cluster, "10-244-1-8.data.pod", "shop").addresses == ("10.244.1.8",)
    assert resolve(cluster, "10-244-1.data.pod.cluster.local", "shop").error == "nxdomain"


def test_external_name_is_a_cname(cluster: Cluster) -> None:
    inside = resolve(cluster, "alias", "shop")
    assert inside.cname == "postgres.data.svc.cluster.local" and inside.addresses == ("10.96.45.12",)
    outside = resolve(cluster, "stripe.shop", "data")
    assert outside.cname == "api.stripe.com" and outside.error == "nxdomain"  # no upstream resolver


def test_reverse_lookups(cluster: Cluster) -> None:
    assert reverse(cluster, "10.96.45.12") == "postgres.data.svc.cluster.local"
    assert reverse(cluster, "10.244.1.8") == "db-0.db.data.svc.cluster.local"
    assert reverse(cluster, "10.244.3.5") == "10-244-3-5.db.data.svc.cluster.local"
    assert reverse(cluster, "10.244.99.99") is None
    assert reverse(cluster, "10.244.3.7") is None  # not ready
    assert ptr_name("10.96.45.12") == "12.45.96.10.in-addr.arpa"


def test_address_literals_need_no_lookup(cluster: Cluster) -> None:
    answer = resolve(cluster, "10.96.45.12", "shop")
    assert answer.ok and answer.addresses == ("10.96.45.12",) and answer.fqdn is None


def test_search_path_and_ndots() -> None:
    shop = cluster_first("shop")
    assert candidates("web", shop) == ["web.shop.svc.cluster.local", "web.svc.cluster.local",
                                       "web.cluster.local", "web"]
    assert candidates("a.b.c.d.e.f", shop)[0] == "a.b.c.d.e.f"  # five dots or more: absolute first
    assert candidates("web.shop.svc.cluster.local.", shop) == ["web.shop.svc.cluster.local"]


def pod_spec(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": "shop"}, "spec": {"containers": [{"name": "c"}], **spec}}


def test_resolv_conf_follows_dns_policy_and_dns_config() -> None:
    assert pod_resolv_conf(pod_spec()) == cluster_first("shop")
    assert pod_resolv_conf(pod_spec(hostNetwork=True)) == ResolvConf(("8.8.8.8",), (), 1)
    assert pod_resolv_conf(pod_spec(hostNetwork=True, dnsPolicy="ClusterFirstWithHostNet")).cluster
    assert pod_resolv_conf(pod_spec(dnsPolicy="Default")) == ResolvConf(("8.8.8.8",), (), 1)
    custom = pod_resolv_conf(pod_spec(dnsPolicy="None", dnsConfig={
        "nameservers": ["10.96.0.10"], "searches": ["data.svc.cluster.local"],
        "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]}))
    assert custom == ResolvConf(("10.96.0.10",), ("data.svc.cluster.local",), 2) and custom.cluster
    extra = pod_resolv_conf(pod_spec(dnsConfig={"searches": ["data.svc.cluster.local"],
                                                "options": [{"name": "ndots", "value": "1"}]}))
    assert extra.search[-1] == "data.svc.cluster.local" and extra.ndots == 1


def test_lookups_use_the_pods_resolver(cluster: Cluster) -> None:
    view = view_of(cluster.store)
    custom = pod_resolv_conf(pod_spec(dnsConfig={"searches": ["data.svc.cluster.local"]}))
    assert resolve_in(view, "postgres", "shop", custom).addresses == ("10.96.45.12",)  # found via the extra search
    ndots1 = pod_resolv_conf(pod_spec(dnsConfig={"options": [{"name": "ndots", "value": "1"}]}))
    assert candidates("postgres.data", ndots1)[0] == "postgres.data"  # one dot: tried as given first
    assert resolve_in(view, "postgres.data", "shop", ndots1).addresses == ("10.96.45.12",)
    node = pod_resolv_conf(pod_spec(dnsPolicy="Default"))
    assert resolve_in(view, "postgres.data.svc.cluster.local", "shop", node).error == "nxdomain"
    assert resolve_in(view, "10.96.45.12", "shop", node).addresses == ("10.96.45.12",)


def test_answers_follow_changes(cluster: Cluster) -> None:
    cluster.api.create(SERVICES, "shop", {"metadata": {"name": "late"}, "spec": {
        "clusterIP": "10.96.9.9", "ports": [{"port": 80}]}})
    assert resolve(cluster, "late.shop", "data").addresses == ("10.96.9.9",)
    cluster.api.delete(SERVICES, "shop", "late")
    assert resolve(cluster, "late.shop", "data").error == "nxdomain"


def test_dns_add_on_objects(cluster: Cluster) -> None:
    service = cluster.api.get(SERVICES, "kube-system", "kube-dns")
    assert service["spec"]["clusterIP"] == "10.96.0.10"
    assert service["spec"]["selector"] == {"k8s-app": "kube-dns"}
    assert [(p["name"], p["port"], p["protocol"]) for p in service["spec"]["ports"]] == [
        ("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"), ("metrics", 9153, "TCP")]
    deployment = cluster.api.get(DEPLOYMENTS, "kube-system", "coredns")
    assert deployment["spec"]["replicas"] == 2
    assert deployment["metadata"]["labels"] == {"k8s-app": "kube-dns"}
    pod_spec = deployment["spec"]["template"]["spec"]
    assert pod_spec["containers"][0]["image"] == "registry.k8s.io/coredns/coredns:v1.12.1"
    assert {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"} in pod_spec["tolerations"]
    assert cluster.api.get(CONFIGMAPS, "kube-system", "coredns")["data"]["Corefile"] == COREFILE
    assert resolve(cluster, "kube-dns.kube-system", "default").addresses == ("10.96.0.10",)


def test_coredns_runs_on_a_live_cluster(kubectl: Any) -> None:
    kubectl("wait", "--for=condition=Ready", "pod", "-l", "k8s-app=kube-dns", "-n", "kube-system", "--timeout=20s")
    out = kubectl("get", "pods", "-n", "kube-system", "-l", "k8s-app=kube-dns", "-o",
                  "jsonpath={range .items[*]}{.status.phase}{\"\\n\"}{end}")
    assert out.split() == ["Running", "Running"]
    assert "10.96.0.10" in kubectl("get", "service", "kube-dns", "-n", "kube-system")
