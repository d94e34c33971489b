"""Units of the reference agent's capacity and RBAC investigations (the scenarios run them end to end)."""

from __future__ import annotations

import pytest

from chaositbench.agent.agents.reference_load import _needed_replicas, _without_resources, parse_cpu
from chaositbench.agent.agents.reference_pods import differs_only_in
from chaositbench.agent.agents.reference_rbac import FORBIDDEN, _rule


def test_the_api_servers_403_sentence_gives_exactly_the_rule_to_grant() -> None:
    line = ('ERROR kubernetes API: configmaps "inventory-config" is forbidden: User '
            '"system:serviceaccount:shop:inventory" cannot get resource "configmaps" in API group "" in the '
            'namespace "shop"')
    match = FORBIDDEN.search(line)
    assert match is not None and match.group("account") == "inventory" and match.group("namespace") == "shop"
    assert _rule(match) == {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"],
                            "resourceNames": ["inventory-config"]}
    collection = FORBIDDEN.search('deployments.apps is forbidden: User "system:serviceaccount:ops:bot" cannot list '
                                  'resource "deployments" in API group "apps" in the namespace "shop"')
    assert collection is not None and _rule(collection) == {"apiGroups": ["apps"], "resources": ["deployments"],
                                                            "verbs": ["list"]}
    # a user that is not a ServiceAccount is not the workload's identity
    assert FORBIDDEN.search('pods is forbidden: User "jane" cannot list resource "pods" in API group "" in the '
                            'namespace "shop"') is None


def test_an_hpa_asks_for_its_replicas_scaled_by_usage_over_target() -> None:
    hpa = {"spec": {"metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
        "type": "Utilization", "averageUtilization": 80}}}]},
           "status": {"currentReplicas": 1, "currentMetrics": [{"type": "Resource", "resource": {
               "name": "cpu", "current": {"averageUtilization": 125}}}]}}
    assert _needed_replicas(hpa) == 2
    assert _needed_replicas({"spec": {}, "status": {"currentReplicas": 3}}) == 3


@pytest.mark.parametrize(("quantity", "millis"), [("250m", 250), ("0.5", 500), ("2", 2000)])
def test_cpu_quantities(quantity: str, millis: float) -> None:
    assert parse_cpu(quantity) == millis


def test_only_a_resources_change_counts_as_resources_only() -> None:
    def template(cpu: str, image: str = "app:1") -> dict:
        return {"metadata": {"labels": {"pod-template-hash": cpu}}, "spec": {"containers": [
            {"name": "app", "image": image, "resources": {"limits": {"cpu": cpu}}}]}}
    assert differs_only_in(template("25m"), template("250m"), "app", _without_resources)
    assert not differs_only_in(template("25m", "app:2"), template("250m"), "app", _without_resources)
