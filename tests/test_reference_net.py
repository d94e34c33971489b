"""The ``reference`` agent's probe, Service, DNS and egress reasoning on canned evidence.

The faults themselves are diagnosed and fixed end to end by the scenario matrix (``test_scenarios.py``).
"""

from __future__ import annotations

import json
from typing import Any

from chaositbench.agent.agents.reference import Cluster
from chaositbench.agent.agents.reference_dns import blocked_dns
from chaositbench.agent.agents.reference_netpol import Endpoint, find_blocker
from chaositbench.agent.agents.reference_probes import misconfigured_probe
from chaositbench.agent.agents.reference_services import broken_service
from chaositbench.agent.tools import ToolResult, Tools
from chaositbench.probes import path_expectation_met


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


class SurveyTools(Tools):
    """kubectl answering from fixed objects, events and logs; mutations are recorded, not applied."""

    def __init__(self, items: list[dict[str, Any]], events: list[dict[str, Any]], log: str = "") -> None:
        super().__init__(env={})
        self.items, self.events, self.log = items, events, log
        self.patches: list[tuple[str, ...]] = []

    def kubectl(self, *args: str, input: str | None = None, timeout: float = 60) -> ToolResult:
        if args[:2] == ("get", "events"):
            return ToolResult(0, json.dumps({"items": self.events}), "")
        if args[0] == "get":
            return ToolResult(0, json.dumps({"items": self.items if "pods" in args[1] else []}), "")
        if args[0] == "logs":
            return ToolResult(0, self.log, "")
        self.patches.append(args)
        return ToolResult(0, "", "")


def _web(readiness_path: str, revision: int) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{
        "name": "app", "ports": [{"name": "http", "containerPort": 8080}],
        "readinessProbe": {"httpGet": {"path": readiness_path, "port": "http"}, "periodSeconds": 5 * revision}}]}}


def _survey(readiness_path: str) -> list[dict[str, Any]]:
    """Deployment web at revision 2 (readiness on ``readiness_path``) over revision 1, its pod Running, not Ready."""
    owner = [{"kind": "Deployment", "name": "web"}]
    replica_sets = [{"kind": "ReplicaSet", "metadata": {"namespace": "ns", "name": f"web-{r}", "ownerReferences": owner,
                                                        "annotations": {"deployment.kubernetes.io/revision": str(r)}},
                     "spec": {"template": _web(path, r)}} for r, path in ((1, "/ready"), (2, readiness_path))]
    pod = {"kind": "Pod", "metadata": {"namespace": "ns", "name": "web-2-a", "labels": {"app": "web"},
                                       "ownerReferences": [{"kind": "ReplicaSet", "name": "web-2"}]},
           "spec": _web(readiness_path, 2)["spec"],
           "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}]}}
    deployment = {"kind": "Deployment", "metadata": {"namespace": "ns", "name": "web"},
                  "spec": {"replicas": 1, "template": _web(readiness_path, 2)}, "status": {"readyReplicas": 0}}
    service = {"kind": "Service", "metadata": {"namespace": "ns", "name": "web"},
               "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}
    return [deployment, *replica_sets, pod, service]


def _unhealthy(message: str) -> dict[str, Any]:
    return {"reason": "Unhealthy", "message": message,
            "involvedObject": {"kind": "Pod", "name": "web-2-a", "fieldPath": "spec.containers{app}"}}


def test_a_readiness_probe_answered_404_gets_the_previous_revisions_probe_back() -> None:
    tools = SurveyTools(_survey("/readyz"), [_unhealthy("Readiness probe failed: HTTP probe failed with statuscode: 404")])
    finding = misconfigured_probe(Cluster(tools, ["ns"]))
    assert finding is not None and (finding.category, finding.kind, finding.name) == ("probe", "Deployment", "web")
    (patch,) = tools.patches
    operations = json.loads(patch[patch.index("-p") + 1])
    assert operations[1] == {"op": "replace", "path": "/spec/template/spec/containers/0/readinessProbe",
                             "value": {"httpGet": {"path": "/ready", "port": "http"}, "periodSeconds": 5}}


def test_a_readiness_probe_failing_on_a_dependency_is_not_the_probe_nor_the_service() -> None:
    tools = SurveyTools(_survey("/ready"), [_unhealthy("Readiness probe failed: HTTP probe failed with statuscode: 503")],
                        log="ERROR web web.ns.svc.cluster.local:80: dial tcp 10.96.0.7:80: connect: connection refused\n")
    cluster = Cluster(tools, ["ns"])
    assert misconfigured_probe(cluster) is None
    assert broken_service(cluster) is None and blocked_dns(cluster) is None
    assert tools.patches == []
