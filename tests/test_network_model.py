"""What connections and HTTP requests from inside pods meet on a live simulated cluster.

Real Deployments, Services and NetworkPolicies are created through the API;
the kubelet runs the pods; the network model answers from those objects only.
"""

from __future__ import annotations

import copy
import time
from typing import Any, Callable, Iterator

import pytest
import yaml

from chaositbench.sim.kinds import preferred
from chaositbench.sim.network import Network
from chaositbench.sim.server import SimServer

PODS = preferred("", "Pod")
SERVICES = preferred("", "Service")
NAMESPACES = preferred("", "Namespace")
DEPLOYMENTS = preferred("apps", "Deployment")
POLICIES = preferred("networking.k8s.io", "NetworkPolicy")

POSTGRES_NEEDS = {"db": {"listen": [{"port": 5432}]}}
PAYMENTS_NEEDS = {"app": {
    "listen": [{"port": 8080, "paths": {"/healthz": 200, "/ready": 200, "/pay": 200, "/teapot": 418}}],
    "dependencies": [{"name": "database", "host": "postgres.data", "port": 5432, "timeoutSeconds": 2},
                     {"name": "audit", "host": "audit.data", "port": 9000, "required": False}]}}
ALLOW_DNS = {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{
    "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
    "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}]}


def deployment(name: str, container: dict[str, Any], needs: dict[str, Any] | None = None) -> dict[str, Any]:
    template: dict[str, Any] = {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}}
    if needs:
        template["metadata"]["annotations"] = {"chaositbench.io/needs": yaml.safe_dump(needs)}
    return {"metadata": {"name": name}, "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                                                 "template": template}}


def service(name: str, port: int, target: Any, selector: dict[str, str] | None = None,
            **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {
        "selector": selector or {"app": name}, "ports": [{"name": "main", "port": port, "targetPort": target}], **spec}}


class Live:
    """The test's handle on its cluster: API calls and network questions run on the cluster's loop."""

    def __init__(self, sim: SimServer) -> None:
        assert sim.cluster is not None
        self.sim, self.cluster = sim, sim.cluster
        self.network: Network = sim.cluster.network

    def call(self, fn: Callable[[], Any]) -> Any:
        return self.sim.call(fn)

    def create(self, kind: Any, namespace: str, body: dict[str, Any]) -> Any:
        return self.call(lambda: self.cluster.api.create(kind, namespace, copy.deepcopy(body)))

    def delete(self, kind: Any, namespace: str, name: str) -> None:
        self.call(lambda: self.cluster.api.delete(kind, namespace, name))

    def pod(self, namespace: str, app: str, *, ready: bool = True, timeout: float = 20,
            selector: str | None = None) -> dict[str, Any]:
        """The Running pod of an app (Ready too, unless ``ready`` is False)."""
        deadline = time.monotonic() + timeout
        while True:
            pods = self.call(lambda: self.cluster.api.list(PODS, namespace,
                                                           label_selector=selector or f"app={app}")[0])
            for pod in pods:
                status = pod.get("status") or {}
                conditions = {c["type"]: c["status"] for c in status.get("conditions") or []}
                if status.get("phase") == "Running" and status.get("podIP") and \
                        (not ready or conditions.get("Ready") == "True"):
                    return pod
            if time.monotonic() > deadline:
                raise AssertionError(f"no running pod of {namespace}/{app}: {pods}")
            time.sleep(0.05)

    def connect(self, src: dict[str, Any], host: str, port: int, protocol: str = "TCP") -> Any:
        return self.call(lambda: self.network.connect(src, host, port, protocol))

    def http(self, src: dict[str, Any], url: str, method: str = "GET") -> Any:
        return self.call(lambda: self.network.http(src, method, url))

    def cluster_ip(self, namespace: str, name: str) -> str:
        return self.call(lambda: self.cluster.api.get(SERVICES, namespace, name))["spec"]["clusterIP"]


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    with SimServer(time_scale=0.05) as sim:
        h = Live(sim)
        for ns in ("shop", "data"):
            h.create(NAMESPACES, "", {"metadata": {"name": ns}})
        h.create(DEPLOYMENTS, "data", deployment("postgres", {
            "name": "db", "image": "postgres:16", "ports": [{"name": "pg", "containerPort": 5432}]}, POSTGRES_NEEDS))
        h.create(SERVICES, "data", service("postgres", 5432, "pg"))
        h.create(SERVICES, "data", service("postgres-wrong-port", 5432, 5433, {"app": "postgres"}))
        h.create(SERVICES, "data", service("postgres-no-match", 5432, "pg", {"app": "postgresql"}))
        h.create(SERVICES, "data", service("postgres-headless", 5432, "pg", {"app": "postgres"}, clusterIP="None"))
        h.create(DEPLOYMENTS, "shop", deployment("payments", {
            "name": "app", "image": "nginx:1.27", "ports": [{"name": "http", "containerPort": 8080}],
            "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
            "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}}}, PAYMENTS_NEEDS))
        h.create(SERVICES, "shop", service("payments", 80, "http"))
        h.create(DEPLOYMENTS, "shop", deployment("toolbox", {"name": "shell", "image": "nginx:1.27"}))
        h.create(DEPLOYMENTS, "shop", deployment("plain", {
            "name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}))
        h.pod("kube-system", "coredns", selector="k8s-app=kube-dns")
        yield h


@pytest.fixture()
def policies(live: Live) -> Iterator[Callable[[str, str, dict[str, Any]], None]]:
    """Create NetworkPolicies for one test; they are deleted afterwards."""
    made: list[tuple[str, str]] = []

    def make(namespace: str, name: str, spec: dict[str, Any]) -> None:
        live.create(POLICIES, namespace, {"metadata": {"name": name}, "spec": spec})
        made.append((namespace, name))
    yield make
    for namespace, name in made:
        live.delete(POLICIES, namespace, name)


def test_service_name_reaches_a_ready_endpoint_through_the_target_port(live: Live) -> None:
    toolbox, db = live.pod("shop", "toolbox"), live.pod("data", "postgres")
    conn = live.connect(toolbox, "postgres.data", 5432)
    assert conn.ok and conn.error is None
    assert conn.ip == live.cluster_ip("data", "postgres")
    assert conn.target["metadata"]["name"] == db["metadata"]["name"]
    assert (conn.port, conn.container) == (5432, "db")
    assert live.connect(toolbox, "postgres.data.svc.cluster.local", 5432).ok
    assert live.connect(db, "postgres", 5432).ok  # short name from its own namespace


def test_unknown_names_are_nxdomain_as_go_prints_it(live: Live) -> None:
    conn = live.connect(live.pod("shop", "toolbox"), "postgres", 5432)  # wrong namespace for a short name
    assert (conn.ok, conn.error, conn.ip) == (False, "nxdomain", None)
    assert conn.message == "dial tcp: lookup postgres on 10.96.0.10:53: no such host"


def test_target_port_mismatch_and_selector_mismatch_are_refused(live: Live) -> None:
    toolbox = live.pod("shop", "toolbox")
    live.pod("data", "postgres")
    wrong = live.connect(toolbox, "postgres-wrong-port.data", 5432)
    ip = live.cluster_ip("data", "postgres-wrong-port")
    assert wrong.error == "refused" and wrong.message == f"dial tcp {ip}:5432: connect: connection refused"
    assert wrong.port == 5433 and wrong.target is not None  # it reached the pod, nobody listens there
    empty = live.connect(toolbox, "postgres-no-match.data", 5432)
    assert empty.error == "refused" and empty.target is None  # no endpoints: kube-proxy rejects


def test_a_port_the_service_does_not_expose_times_out(live: Live) -> None:
    conn = live.connect(live.pod("shop", "toolbox"), "postgres.data", 5433)
    ip = live.cluster_ip("data", "postgres")
    assert conn.error == "timeout" and conn.message == f"dial tcp {ip}:5433: i/o timeout"


def test_pod_ips_and_headless_services_dial_the_pod_directly(live: Live) -> None:
    toolbox, db = live.pod("shop", "toolbox"), live.pod("data", "postgres")
    ip = db["status"]["podIP"]
    assert live.connect(toolbox, ip, 5432).ok
    refused = live.connect(toolbox, ip, 6543)
    assert refused.error == "refused" and refused.message == f"dial tcp {ip}:6543: connect: connection refused"
    headless = live.connect(toolbox, "postgres-headless.data", 5432)
    assert headless.ok and headless.ip == ip
    dashed = ip.replace(".", "-")
    assert live.connect(toolbox, f"{dashed}.data.pod.cluster.local", 5432).ok
    nobody = live.connect(toolbox, "10.244.250.250", 80)
    assert nobody.error == "timeout"


def test_container_ports_count_when_nothing_is_declared(live: Live) -> None:
    toolbox, plain = live.pod("shop", "toolbox"), live.pod("shop", "plain")
    ip = plain["status"]["podIP"]
    assert live.connect(toolbox, ip, 80).ok
    assert live.connect(toolbox, ip, 8080).error == "refused"
    assert live.http(toolbox, f"http://{ip}/anything").status == 200  # no paths declared: 200


def test_http_answers_declared_paths(live: Live) -> None:
    toolbox = live.pod("shop", "toolbox")
    live.pod("shop", "payments")
    ok = live.http(toolbox, "http://payments.shop/pay", "POST")
    assert (ok.status, ok.error, ok.message) == (200, None, "HTTP/1.1 200 OK")
    assert live.http(toolbox, "http://payments.shop/pay?amount=3").status == 200
    assert live.http(toolbox, "http://payments.shop/teapot").status == 418
    missing = live.http(toolbox, "http://payments.shop/admin")
    assert missing.status == 404 and missing.body == "404 page not found\n"
    refused = live.http(toolbox, "http://payments.shop:8080/pay")
    assert refused.status is None and refused.error == "timeout"  # the Service exposes port 80 only
    assert refused.message.startswith('Get "http://payments.shop:8080/pay": dial tcp ')
    assert refused.message.endswith("i/o timeout (Client.Timeout exceeded while awaiting headers)")


def test_dependency_health_reports_each_declared_dependency(live: Live) -> None:
    payments = live.pod("shop", "payments")
    health = live.call(lambda: live.network.dependency_health(payments, "app"))
    assert [(d.name, c.ok, c.error) for d, c in health] == [("database", True, None), ("audit", False, "nxdomain")]
    assert live.call(lambda: live.network.degraded(payments, "app")) is None  # audit is optional


def test_ingress_default_deny_drops_packets_and_degrades_dependents(live: Live, policies: Any) -> None:
    toolbox, payments = live.pod("shop", "toolbox"), live.pod("shop", "payments")
    policies("data", "default-deny-ingress", {"podSelector": {}, "policyTypes": ["Ingress"]})
    conn = live.connect(toolbox, "postgres.data", 5432)
    assert conn.error == "timeout" and conn.decision is not None and conn.decision.ingress_denied
    assert conn.decision.ingress_isolating == ("data/default-deny-ingress",)
    assert conn.message == f"dial tcp {live.cluster_ip('data', 'postgres')}:5432: i/o timeout"
    (database, blocked), _ = live.call(lambda: live.network.dependency_health(payments, "app"))
    assert database.name == "database" and blocked.error == "timeout"
    # the pod answers (straight to its IP, whatever its readiness): 502 as a proxy, 503 on readiness
    base = f"http://{payments['status']['podIP']}:8080"
    pay = live.http(toolbox, f"{base}/pay")
    assert pay.status == 502 and "upstream database (postgres.data:5432) unavailable" in pay.body
    assert "i/o timeout" in pay.body and pay.message == "HTTP/1.1 502 Bad Gateway"
    assert live.http(toolbox, f"{base}/ready").status == 503
    assert live.http(toolbox, f"{base}/healthz").status == 200  # liveness does not look at dependencies

    policies("data", "allow-shop-to-pg", {"podSelector": {"matchLabels": {"app": "postgres"}}, "ingress": [{
        "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "shop"}}}],
        "ports": [{"port": "pg"}]}]})
    assert live.connect(toolbox, "postgres.data", 5432).ok
    assert live.http(toolbox, f"{base}/pay").status == 200


def test_egress_default_deny_breaks_dns_until_allowed(live: Live, policies: Any) -> None:
    toolbox, db = live.pod("shop", "toolbox"), live.pod("data", "postgres")
    policies("shop", "default-deny-egress", {"podSelector": {}, "policyTypes": ["Egress"]})
    lookup = live.connect(toolbox, "postgres.data", 5432)
    assert lookup.error == "timeout" and lookup.ip is None
    assert lookup.message.startswith(f"dial tcp: lookup postgres.data on 10.96.0.10:53: read udp "
                                     f"{toolbox['status']['podIP']}:")
    assert lookup.message.endswith("->10.96.0.10:53: i/o timeout")
    assert live.connect(toolbox, db["status"]["podIP"], 5432).error == "timeout"  # no lookup, still dropped
    assert live.connect(db, "payments.shop", 80).ok  # egress of other namespaces is untouched

    policies("shop", "allow-dns", ALLOW_DNS)
    conn = live.connect(toolbox, "postgres.data", 5432)
    assert conn.error == "timeout" and conn.ip == live.cluster_ip("data", "postgres")  # resolved, then dropped
    assert conn.decision.egress_denied

    policies("shop", "allow-data", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{
        "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "data"}}}]}]})
    assert live.connect(toolbox, "postgres.data", 5432).ok


def test_dns_egress_allowed_over_tcp_only_still_times_out(live: Live, policies: Any) -> None:
    toolbox = live.pod("shop", "toolbox")
    tcp_only = copy.deepcopy(ALLOW_DNS)
    tcp_only["egress"][0]["ports"] = [{"port": 53, "protocol": "TCP"}]
    policies("shop", "deny-egress", {"podSelector": {}, "policyTypes": ["Egress"]})
    policies("shop", "dns-over-tcp", tcp_only)
    assert live.connect(toolbox, "postgres.data", 5432).error == "timeout"
    assert live.connect(toolbox, "10.96.0.10", 53, "TCP").ok  # the TCP port itself is open


def test_answers_are_cached_until_the_objects_change(live: Live) -> None:
    toolbox = live.pod("shop", "toolbox")

    def many() -> float:
        start = time.perf_counter()
        for _ in range(2000):
            live.network.connect(toolbox, "postgres.data", 5432)
            live.network.http(toolbox, "GET", "http://payments.shop/pay")
        return time.perf_counter() - start
    assert live.call(many) < 1.0


def test_dns_without_ready_coredns_is_refused(live: Live) -> None:
    toolbox = live.pod("shop", "toolbox")

    def scale(replicas: int) -> None:
        live.call(lambda: live.cluster.api.patch_object(
            DEPLOYMENTS, "kube-system", "coredns", lambda d: d["spec"].__setitem__("replicas", replicas)))
    scale(0)
    try:
        deadline = time.monotonic() + 20
        while (conn := live.connect(toolbox, "postgres.data", 5432)).ok and time.monotonic() < deadline:
            time.sleep(0.05)
        assert conn.error == "refused" and conn.message.endswith("->10.96.0.10:53: read: connection refused")
        assert live.connect(toolbox, live.cluster_ip("data", "postgres"), 5432).ok  # addresses need no DNS
    finally:
        scale(2)
    deadline = time.monotonic() + 20
    while not live.connect(toolbox, "postgres.data", 5432).ok:
        assert time.monotonic() < deadline, "DNS did not come back"
        time.sleep(0.05)


def test_the_api_server_answers_behind_the_kubernetes_service(live: Live, policies: Any) -> None:
    toolbox = live.pod("shop", "toolbox")
    endpoints = live.call(lambda: live.cluster.api.get(preferred("", "Endpoints"), "default", "kubernetes"))
    assert endpoints["subsets"][0]["ports"] == [{"name": "https", "port": 6443, "protocol": "TCP"}]
    conn = live.connect(toolbox, "kubernetes.default.svc", 443)
    assert conn.ok and conn.ip == "10.96.0.1" and conn.target is None and conn.endpoint.endswith(":6443")
    health = live.http(toolbox, "https://kubernetes.default.svc/healthz")
    assert (health.status, health.body) == (200, "ok")
    assert '"gitVersion": "v1.' in live.http(toolbox, "https://kubernetes.default/version").body
    forbidden = live.http(toolbox, "https://kubernetes.default/api/v1/secrets")
    assert forbidden.status == 403 and '"reason": "Forbidden"' in forbidden.body
    assert 'User \\"system:anonymous\\" cannot get path' in forbidden.body

    policies("shop", "only-dns", ALLOW_DNS)  # egress isolated: the API server is dropped too
    assert live.connect(toolbox, "kubernetes.default", 443).error == "timeout"
    ip = conn.endpoint.split(":")[0]
    policies("shop", "to-apiserver", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{
        "to": [{"ipBlock": {"cidr": f"{ip}/32"}}], "ports": [{"port": 6443}]}]})
    assert live.connect(toolbox, "kubernetes.default", 443).ok  # the rule sees the endpoint port, not 443


def test_hand_made_endpoints_outside_the_pod_network_answer(live: Live) -> None:
    toolbox = live.pod("shop", "toolbox")
    live.create(SERVICES, "data", {"metadata": {"name": "legacy-db"}, "spec": {"ports": [{"port": 5432}]}})
    live.create(preferred("discovery.k8s.io", "EndpointSlice"), "data", {
        "metadata": {"name": "legacy-db-1", "labels": {"kubernetes.io/service-name": "legacy-db"}},
        "addressType": "IPv4", "ports": [{"name": "", "port": 15432, "protocol": "TCP"}],
        "endpoints": [{"addresses": ["192.0.2.40"], "conditions": {"ready": True}}]})
    conn = live.connect(toolbox, "legacy-db.data", 5432)
    assert conn.ok and conn.endpoint == "192.0.2.40:15432"
    assert live.connect(toolbox, "192.0.2.40", 15432).ok  # the address itself answers on its listed port
    assert live.connect(toolbox, "192.0.2.40", 5432).error == "timeout"


def test_node_addresses_answer_on_node_ports_and_the_kubelet_port(live: Live) -> None:
    toolbox, payments = live.pod("shop", "toolbox"), live.pod("shop", "payments")
    svc = live.create(SERVICES, "shop", service("payments-nodeport", 80, "http", {"app": "payments"},
                                                type="NodePort"))
    node_port = svc["spec"]["ports"][0]["nodePort"]
    node = live.call(lambda: live.cluster.api.get(preferred("", "Node"), "", toolbox["spec"]["nodeName"]))
    node_ip = next(a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP")
    conn = live.connect(toolbox, node_ip, node_port)
    assert conn.ok and conn.target["metadata"]["name"] == payments["metadata"]["name"] and conn.port == 8080
    assert live.http(toolbox, f"http://{node_ip}:{node_port}/pay").status == 200
    assert live.connect(toolbox, node_ip, 10250).ok  # the kubelet
    closed = live.connect(toolbox, node_ip, 31999 if node_port != 31999 else 31998)
    assert closed.error == "refused"


def test_internal_traffic_policy_local_drops_traffic_without_a_local_endpoint(live: Live) -> None:
    db = live.pod("data", "postgres")
    live.create(SERVICES, "data", service("postgres-local", 5432, "pg", {"app": "postgres"},
                                          internalTrafficPolicy="Local"))
    dns_pods = live.call(lambda: live.cluster.api.list(PODS, "kube-system", label_selector="k8s-app=kube-dns")[0])
    elsewhere = next(p for p in dns_pods if p["spec"].get("nodeName") != db["spec"]["nodeName"])
    local = live.connect(db, "postgres-local.data", 5432)
    assert local.ok and local.target["metadata"]["name"] == db["metadata"]["name"]
    # CoreDNS pods use the node's resolver (dnsPolicy Default), so they dial the ClusterIPs
    remote = live.connect(elsewhere, live.cluster_ip("data", "postgres-local"), 5432)
    assert remote.error == "timeout" and remote.target is None
    assert live.connect(elsewhere, live.cluster_ip("data", "postgres"), 5432).ok


def test_the_pods_dns_policy_decides_which_resolver_it_asks(live: Live, policies: Any) -> None:
    db = live.pod("data", "postgres")
    live.create(PODS, "shop", {"metadata": {"name": "node-dns", "labels": {"app": "node-dns"}}, "spec": {
        "dnsPolicy": "Default", "containers": [{"name": "c", "image": "nginx:1.27"}]}})
    live.create(PODS, "shop", {"metadata": {"name": "custom-dns", "labels": {"app": "custom-dns"}}, "spec": {
        "dnsPolicy": "None", "dnsConfig": {"nameservers": ["10.96.0.10"], "searches": ["data.svc.cluster.local"]},
        "containers": [{"name": "c", "image": "nginx:1.27"}]}})
    node_dns, custom = live.pod("shop", "node-dns"), live.pod("shop", "custom-dns")
    lookup = live.connect(node_dns, "postgres.data", 5432)
    assert lookup.error == "nxdomain" and lookup.message == "dial tcp: lookup postgres.data on 8.8.8.8:53: no such host"
    assert live.connect(node_dns, db["status"]["podIP"], 5432).ok
    assert live.connect(custom, "postgres", 5432).ok  # its only search domain is data's
    policies("shop", "only-dns", ALLOW_DNS)  # egress to 8.8.8.8 is not allowed
    assert live.connect(node_dns, "postgres.data", 5432).message.endswith("->8.8.8.8:53: i/o timeout")
