"""The ``reference`` agent on the probe, Service, DNS and egress faults of the demo app.

Same harness as ``test_reference_agent.py`` (one simulated cluster, the agent run as the
controller runs it, told only the complaint): each fault is diagnosed exactly as its ground
truth names it, every workload is available again and the root-cause check passes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chaositbench import actions
from chaositbench.agent.actions import hand_over
from chaositbench.agent.agents.reference_netpol import Endpoint, find_blocker
from chaositbench.fault_probes import fault_symptom_visible
from chaositbench.probes import path_expectation_met

from test_reference_agent import AGENT_TIMEOUT_S, configuration, demo, matches, wait_available  # noqa: F401

NET_FAULTS = ("readiness-path", "readiness-port", "liveness-aggressive", "service-selector", "service-targetport",
              "dns-egress", "egress-blocked")


@pytest.mark.parametrize("fault", NET_FAULTS)
def test_reference_agent_diagnoses_and_resolves_net_fault(fault: str, demo: Path,  # noqa: F811
                                                           configuration: dict[str, Any]) -> None:  # noqa: F811
    record = actions.inject_fault(fault, configuration)
    assert fault_symptom_visible(fault, 30, configuration), f"the symptom of {fault} never showed"
    result = hand_over(agent="reference", timeout_s=AGENT_TIMEOUT_S, kubeconfig=str(demo),
                       context="chaositbench-sim", prometheus_url="", configuration=configuration)
    assert result["outcome"] == "submitted", result["stderr_tail"]
    root_cause = result["diagnosis"]["root_cause"]
    assert matches(root_cause, record["ground_truth"]), (root_cause, result["diagnosis"]["summary"])
    assert wait_available(demo, 10) == []
    assert result["diagnosis"]["summary"].endswith("Verified: the cluster reports it recovered.")


DNS = Endpoint("kube-system", {"kubernetes.io/metadata.name": "kube-system"}, {"k8s-app": "kube-dns"})
SHOP = Endpoint("shop", {"kubernetes.io/metadata.name": "shop"}, {"app": "web"})


def _policy(name: str, selector: dict[str, str], egress: list[Any] | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"podSelector": {"matchLabels": selector} if selector else {}, "policyTypes": ["Egress"]}
    if egress is not None:
        spec["egress"] = egress
    return {"metadata": {"namespace": "shop", "name": name}, "spec": spec}


def test_a_rule_that_targets_the_peer_gets_the_missing_protocol() -> None:
    dns_rule = {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                "ports": [{"port": 53, "protocol": "TCP"}]}
    policies = [_policy("allow-dns", {}, [dns_rule]), _policy("deny", {}, None)]
    blocker = find_blocker(policies, SHOP, DNS, "egress", 53, "dns", "UDP", {"k8s-app": "kube-dns"})
    assert blocker is not None and blocker.name == "allow-dns"
    assert blocker.patch == [{"op": "add", "path": "/spec/egress/0/ports/-", "value": {"protocol": "UDP", "port": 53}}]
    assert find_blocker(policies, SHOP, DNS, "egress", 53, "dns-tcp", "TCP", {"k8s-app": "kube-dns"}) is None


def test_a_new_egress_rule_goes_to_the_workloads_own_policy_not_a_namespace_wide_one() -> None:
    cache = {"to": [{"podSelector": {"matchLabels": {"app": "cache"}}}], "ports": [{"port": 6379, "protocol": "TCP"}]}
    policies = [_policy("allow-dns", {}, []), _policy("deny", {}, None), _policy("web-egress", {"app": "web"}, [cache])]
    db = Endpoint("data", {"kubernetes.io/metadata.name": "data"}, {"app": "pg"})
    blocker = find_blocker(policies, SHOP, db, "egress", 5432, None, "TCP", {"app": "pg"})
    assert blocker is not None and blocker.name == "web-egress"
    assert blocker.patch[0]["path"] == "/spec/egress/-"
    assert blocker.patch[0]["value"]["ports"] == [{"protocol": "TCP", "port": 5432}]


def test_any_of_holds_when_one_alternative_does() -> None:
    probe = {"spec": {"livenessProbe": {"failureThreshold": 1, "initialDelaySeconds": 15}}}
    either = {"any_of": [{"path": ["spec", "livenessProbe", "failureThreshold"], "above": 1},
                         {"path": ["spec", "livenessProbe", "initialDelaySeconds"], "above": 4}]}
    assert path_expectation_met(probe, either)
    probe["spec"]["livenessProbe"]["initialDelaySeconds"] = 0
    assert not path_expectation_met(probe, either)
    assert path_expectation_met(probe, {"path": ["spec", "missing"], "none_of": ["x"]})
