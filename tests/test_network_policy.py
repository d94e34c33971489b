"""NetworkPolicy semantics, case by case against the networking.k8s.io/v1 specification.

The cases follow the well-known "network policy recipes": default deny,
allow from a namespace, podSelector and namespaceSelector combined (AND) or
listed apart (OR), ipBlock with except, named ports, port ranges, policyTypes
defaulting, and DNS egress to kube-system needing its own allow rule.
"""

from __future__ import annotations

from typing import Any

import pytest

from chaositbench.sim.network.policy import Decision, Endpoint, evaluate, policy_types

NAMESPACES = {
    "default": {"kubernetes.io/metadata.name": "default"},
    "shop": {"kubernetes.io/metadata.name": "shop", "team": "shop"},
    "data": {"kubernetes.io/metadata.name": "data", "team": "data"},
    "kube-system": {"kubernetes.io/metadata.name": "kube-system"},
}


def pod(name: str, namespace: str, ip: str, labels: dict[str, str] | None = None,
        ports: list[dict[str, Any]] | None = None) -> Endpoint:
    return Endpoint(ip, {"metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
                         "spec": {"containers": [{"name": "app", "ports": ports or []}]},
                         "status": {"podIP": ip}})


def policy(name: str, namespace: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": namespace}, "spec": spec}


WEB = pod("web", "shop", "10.244.1.10", {"app": "web"}, [{"name": "http", "containerPort": 8080}])
API = pod("api", "shop", "10.244.1.11", {"app": "api", "role": "backend"},
          [{"name": "http", "containerPort": 8080}, {"name": "dns-ish", "containerPort": 5353, "protocol": "UDP"}])
DB = pod("db", "data", "10.244.2.20", {"app": "db"}, [{"name": "pg", "containerPort": 5432}])
CACHE = pod("cache", "data", "10.244.2.21", {"app": "cache"}, [{"containerPort": 6379}])
OTHER = pod("other", "default", "10.244.3.30", {"app": "api"})
DNS = pod("coredns", "kube-system", "10.244.0.2", {"k8s-app": "kube-dns"},
          [{"name": "dns", "containerPort": 53, "protocol": "UDP"}])
OUTSIDE = Endpoint("203.0.113.7")


def check(policies: list[dict[str, Any]], src: Endpoint, dst: Endpoint, port: int, protocol: str = "TCP") -> Decision:
    return evaluate(policies, NAMESPACES, src, dst, port, protocol)


def test_no_policy_allows_everything() -> None:
    assert check([], WEB, DB, 5432).allowed
    assert check([], OUTSIDE, WEB, 8080).allowed


def test_default_deny_ingress_isolates_every_pod_of_its_namespace_only() -> None:
    deny = policy("default-deny-ingress", "data", {"podSelector": {}, "policyTypes": ["Ingress"]})
    decision = check([deny], WEB, DB, 5432)
    assert not decision.allowed and decision.ingress_denied and not decision.egress_denied
    assert decision.ingress_isolating == ("data/default-deny-ingress",)
    assert "ingress denied" in decision.explain() and "data/default-deny-ingress" in decision.explain()
    assert not check([deny], CACHE, DB, 5432).allowed  # same namespace is no exception
    assert check([deny], DB, WEB, 8080).allowed  # pods of other namespaces are not isolated
    assert check([deny], DB, OUTSIDE, 443).allowed  # egress is not isolated by an ingress policy


def test_default_deny_egress_blocks_even_dns() -> None:
    deny = policy("default-deny-egress", "shop", {"podSelector": {}, "policyTypes": ["Egress"]})
    decision = check([deny], WEB, DB, 5432)
    assert not decision.allowed and decision.egress_denied
    assert not check([deny], WEB, DNS, 53, "UDP").allowed
    assert check([deny], DB, WEB, 8080).allowed  # ingress of shop pods is still open


def test_dns_egress_to_kube_system_needs_its_own_allow_rule() -> None:
    deny = policy("default-deny-egress", "shop", {"podSelector": {}, "policyTypes": ["Egress"]})
    allow_db = policy("allow-db", "shop", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{
        "to": [{"namespaceSelector": {"matchLabels": {"team": "data"}}}], "ports": [{"port": 5432}]}]})
    assert check([deny, allow_db], WEB, DB, 5432).allowed
    assert not check([deny, allow_db], WEB, DNS, 53, "UDP").allowed
    allow_dns = policy("allow-dns", "shop", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{
        "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
        "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}]})
    decision = check([deny, allow_db, allow_dns], WEB, DNS, 53, "UDP")
    assert decision.allowed and decision.egress_allowing == ("shop/allow-dns",)
    assert set(decision.egress_isolating) == {"shop/default-deny-egress", "shop/allow-db", "shop/allow-dns"}


def test_allow_from_a_namespace_by_its_labels() -> None:
    allow = policy("allow-shop", "data", {"podSelector": {"matchLabels": {"app": "db"}}, "ingress": [{
        "from": [{"namespaceSelector": {"matchLabels": {"team": "shop"}}}]}]})
    assert check([allow], WEB, DB, 5432).allowed
    assert check([allow], API, DB, 5432).allowed
    assert not check([allow], OTHER, DB, 5432).allowed
    assert not check([allow], CACHE, DB, 5432).allowed  # its own namespace is not "shop"
    assert check([allow], OTHER, CACHE, 6379).allowed  # the cache is not selected, so not isolated


def test_namespace_name_label_is_always_present() -> None:
    labels_without_name = {name: {k: v for k, v in labels.items() if k != "kubernetes.io/metadata.name"}
                           for name, labels in NAMESPACES.items()}
    allow = policy("by-name", "data", {"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {
        "matchLabels": {"kubernetes.io/metadata.name": "shop"}}}]}]})
    assert evaluate([allow], labels_without_name, WEB, DB, 5432).allowed


def test_pod_and_namespace_selector_in_one_peer_is_and() -> None:
    both = policy("and", "data", {"podSelector": {}, "ingress": [{"from": [{
        "namespaceSelector": {"matchLabels": {"team": "shop"}}, "podSelector": {"matchLabels": {"app": "api"}}}]}]})
    assert check([both], API, DB, 5432).allowed
    assert not check([both], WEB, DB, 5432).allowed  # right namespace, wrong pod
    assert not check([both], OTHER, DB, 5432).allowed  # right pod labels, wrong namespace


def test_separate_peers_are_or() -> None:
    either = policy("or", "data", {"podSelector": {}, "ingress": [{"from": [
        {"namespaceSelector": {"matchLabels": {"team": "shop"}}}, {"podSelector": {"matchLabels": {"app": "api"}}}]}]})
    assert check([either], API, DB, 5432).allowed
    assert check([either], WEB, DB, 5432).allowed  # any pod of shop
    # podSelector alone means the policy's own namespace: app=api in "default" does not match
    assert not check([either], OTHER, DB, 5432).allowed


def test_pod_selector_alone_means_the_policys_namespace() -> None:
    same_ns = policy("from-cache", "data", {"podSelector": {"matchLabels": {"app": "db"}}, "ingress": [{
        "from": [{"podSelector": {"matchLabels": {"app": "cache"}}}]}]})
    assert check([same_ns], CACHE, DB, 5432).allowed
    assert not check([same_ns], pod("cache", "shop", "10.244.1.99", {"app": "cache"}), DB, 5432).allowed


def test_match_expressions_in_selectors() -> None:
    expr = policy("expr", "data", {"podSelector": {"matchExpressions": [
        {"key": "app", "operator": "In", "values": ["db", "cache"]}]}, "ingress": [{"from": [{"namespaceSelector": {
            "matchExpressions": [{"key": "team", "operator": "Exists"}]}}]}]})
    assert check([expr], WEB, DB, 5432).allowed and check([expr], WEB, CACHE, 6379).allowed
    assert not check([expr], OTHER, CACHE, 6379).allowed


def test_ip_block_with_except_applies_to_pod_and_external_addresses() -> None:
    block = policy("cidr", "shop", {"podSelector": {"matchLabels": {"app": "web"}}, "ingress": [{"from": [{
        "ipBlock": {"cidr": "10.244.0.0/16", "except": ["10.244.2.0/24"]}}]}]})
    assert check([block], OTHER, WEB, 8080).allowed  # 10.244.3.30
    assert not check([block], DB, WEB, 8080).allowed  # 10.244.2.20 is excepted
    assert not check([block], OUTSIDE, WEB, 8080).allowed
    egress = policy("egress-cidr", "shop", {"podSelector": {}, "egress": [{"to": [{"ipBlock": {
        "cidr": "203.0.113.0/24"}}]}]})
    assert check([egress], WEB, OUTSIDE, 443).allowed
    assert not check([egress], WEB, DB, 5432).allowed


def test_external_source_matches_only_ip_blocks() -> None:
    ns_only = policy("ns", "shop", {"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {}}]}]})
    assert check([ns_only], DB, WEB, 8080).allowed  # every namespace
    assert not check([ns_only], OUTSIDE, WEB, 8080).allowed  # but not outside the cluster


def test_empty_from_allows_all_peers_and_absent_rules_deny() -> None:
    allow_all = policy("allow-all", "shop", {"podSelector": {}, "ingress": [{}]})
    assert check([allow_all], OUTSIDE, WEB, 8080).allowed and check([allow_all], DB, WEB, 9999).allowed
    empty_list = policy("empty", "shop", {"podSelector": {}, "ingress": [], "policyTypes": ["Ingress"]})
    assert not check([empty_list], DB, WEB, 8080).allowed
    assert check([allow_all, empty_list], DB, WEB, 8080).allowed  # policies add up


def test_ports_number_protocol_and_default_tcp() -> None:
    only_8080 = policy("p", "shop", {"podSelector": {}, "ingress": [{"ports": [{"port": 8080}]}]})
    assert check([only_8080], DB, WEB, 8080).allowed
    assert not check([only_8080], DB, WEB, 8081).allowed
    assert not check([only_8080], DB, WEB, 8080, "UDP").allowed  # protocol defaults to TCP
    udp_any = policy("udp", "shop", {"podSelector": {}, "ingress": [{"ports": [{"protocol": "UDP"}]}]})
    assert check([udp_any], DB, API, 5353, "UDP").allowed and not check([udp_any], DB, API, 8080).allowed


def test_named_port_resolves_against_the_destination_pod() -> None:
    named = policy("named", "data", {"podSelector": {}, "ingress": [{"ports": [{"port": "pg"}]}]})
    assert check([named], WEB, DB, 5432).allowed
    assert not check([named], WEB, CACHE, 6379).allowed  # the cache has no port called pg
    egress = policy("egress-named", "shop", {"podSelector": {}, "egress": [{"ports": [{"port": "pg"}]}]})
    assert check([egress], WEB, DB, 5432).allowed  # egress too: the destination's port name
    assert not check([egress], WEB, CACHE, 6379).allowed
    udp_name = policy("udp-name", "shop", {"podSelector": {}, "ingress": [{"ports": [
        {"port": "dns-ish", "protocol": "UDP"}]}]})
    assert check([udp_name], DB, API, 5353, "UDP").allowed


def test_end_port_range_is_inclusive() -> None:
    ranged = policy("range", "data", {"podSelector": {}, "ingress": [{"ports": [{"port": 5000, "endPort": 5432}]}]})
    assert check([ranged], WEB, DB, 5000).allowed and check([ranged], WEB, DB, 5432).allowed
    assert not check([ranged], WEB, DB, 5433).allowed and not check([ranged], WEB, DB, 4999).allowed


@pytest.mark.parametrize(("spec", "types"), [
    ({"podSelector": {}}, ("Ingress",)),
    ({"podSelector": {}, "egress": [{}]}, ("Ingress", "Egress")),
    ({"podSelector": {}, "egress": []}, ("Ingress",)),
    ({"podSelector": {}, "policyTypes": ["Egress"], "ingress": [{}]}, ("Egress",)),
])
def test_policy_types_defaulting(spec: dict[str, Any], types: tuple[str, ...]) -> None:
    assert policy_types(policy("p", "shop", spec)) == types


def test_egress_rules_without_policy_types_isolate_ingress_too() -> None:
    egress_only = policy("egress", "shop", {"podSelector": {"matchLabels": {"app": "web"}}, "egress": [{}]})
    decision = check([egress_only], DB, WEB, 8080)
    assert not decision.allowed and decision.ingress_isolating == ("shop/egress",)
    assert check([egress_only], WEB, DB, 5432).allowed


def test_ingress_rules_are_ignored_when_policy_types_say_egress_only() -> None:
    egress_typed = policy("typed", "shop", {"podSelector": {}, "policyTypes": ["Egress"], "ingress": [],
                                            "egress": [{}]})
    assert check([egress_typed], DB, WEB, 8080).allowed


def test_both_directions_must_allow() -> None:
    shop_egress = policy("to-db", "shop", {"podSelector": {}, "egress": [{"to": [{"podSelector": {}}]}],
                                           "policyTypes": ["Egress"]})
    # egress only to shop pods, so db in another namespace is denied on egress
    decision = check([shop_egress], WEB, DB, 5432)
    assert decision.egress_denied and not decision.ingress_denied
    data_ingress = policy("deny", "data", {"podSelector": {}})
    open_egress = policy("open", "shop", {"podSelector": {}, "egress": [{}], "policyTypes": ["Egress"]})
    decision = check([open_egress, data_ingress], WEB, DB, 5432)
    assert decision.egress_allowing == ("shop/open",) and decision.ingress_denied and not decision.allowed
    assert "egress allowed" not in decision.explain() and "ingress denied" in decision.explain()


def test_policies_of_other_namespaces_do_not_select() -> None:
    elsewhere = policy("deny-all", "default", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})
    assert check([elsewhere], WEB, DB, 5432).allowed
    assert not check([elsewhere], OTHER, DB, 5432).allowed  # other's egress is isolated


def test_null_selectors_count_as_absent() -> None:
    null_pods = policy("null", "data", {"podSelector": {}, "ingress": [{"from": [
        {"namespaceSelector": {"matchLabels": {"team": "shop"}}, "podSelector": None}]}]})
    assert check([null_pods], WEB, DB, 5432).allowed and not check([null_pods], OTHER, DB, 5432).allowed
    nothing = policy("nothing", "data", {"podSelector": {}, "ingress": [{"from": [{"podSelector": None}]}]})
    assert not check([nothing], CACHE, DB, 5432).allowed  # a peer selecting nothing matches nothing
