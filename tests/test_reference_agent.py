"""The ``reference`` agent: a healthy demo app left alone, and its reasoning on canned evidence.

That it diagnoses and fixes every scenario of the catalog (investigating first, nothing destructive,
the least change, verified) is checked end to end by the scenario matrix (``test_scenarios.py``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chaositbench.agent.actions import hand_over
from chaositbench.agent.protocol import Incident
from chaositbench.agent.agents.reference import DIAL_TIMEOUT, ReferenceAgent, format_memory, parse_memory
from chaositbench.agent.agents.reference_netpol import Endpoint, find_blocker, selector_matches
from chaositbench.agent.tools import ToolResult, Tools
from chaositbench.agent.trajectory import Trajectory

from reference_harness import AGENT_TIMEOUT_S, NAMESPACES



def test_reference_agent_changes_nothing_when_nothing_is_broken(demo: Path, configuration: dict[str, Any]) -> None:
    result = hand_over("the shop feels slow since 10:42", sla_s=300, namespaces=list(NAMESPACES),
                       agent="reference", timeout_s=AGENT_TIMEOUT_S, kubeconfig=str(demo),
                       context="chaositbench-sim", prometheus_url="", configuration=configuration)
    assert result["outcome"] == "submitted", result["stderr_tail"]
    assert result["diagnosis"]["root_cause"] == {"category": "no-fault", "kind": None, "namespace": None,
                                                 "name": None}
    entries = Trajectory(result["trajectory"]).read()
    assert entries and result["mutating_commands"] == 0 and not any(e["mutating"] for e in entries)


def test_memory_quantities_round_trip() -> None:
    assert parse_memory("48Mi") == 48 * 1024 ** 2 and parse_memory("1G") == 10 ** 9
    assert format_memory(2 * parse_memory("48Mi")) == "96Mi" and format_memory(parse_memory("2Gi")) == "2Gi"
    with pytest.raises(ValueError):
        parse_memory("lots")


def test_blocker_is_the_policy_admitting_no_source_and_the_patch_adds_it() -> None:
    assert selector_matches({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["db"]}]}, {"tier": "db"})
    assert not selector_matches({"matchLabels": {"a": "b"}}, {})
    policy = {"metadata": {"namespace": "db", "name": "db-ingress"},
              "spec": {"podSelector": {"matchLabels": {"app": "pg"}}, "policyTypes": ["Ingress"],
                       "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": "web"}}}],
                                    "ports": [{"port": "db"}]}]}}
    deny = {"metadata": {"namespace": "db", "name": "deny"}, "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}
    pg = Endpoint("db", {"kubernetes.io/metadata.name": "db"}, {"app": "pg"})
    api = Endpoint("api", {"kubernetes.io/metadata.name": "api"}, {"app": "api"})
    blocker = find_blocker([deny, policy], pg, api, "ingress", 5432, "db", "TCP", {"app": "api"})
    assert blocker is not None and (blocker.namespace, blocker.name) == ("db", "db-ingress")
    assert blocker.patch == [{"op": "add", "path": "/spec/ingress/0/from/-",
                              "value": {"podSelector": {"matchLabels": {"app": "api"}},
                                        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "api"}}}}]
    web = Endpoint("api", {"team": "web"}, {"app": "api"})
    assert find_blocker([deny, policy], pg, web, "ingress", 5432, "db", "TCP", {"app": "api"}) is None
    assert find_blocker([deny, policy], pg, api, "egress", 5432, "db", "TCP", {"app": "api"}) is None


def test_egress_blocker_at_the_source_gets_the_destination_as_a_peer() -> None:
    egress = {"metadata": {"namespace": "api", "name": "api-egress"},
              "spec": {"podSelector": {}, "policyTypes": ["Egress"],
                       "egress": [{"to": [{"podSelector": {"matchLabels": {"app": "cache"}}}], "ports": [{"port": 5432}]}]}}
    pg = Endpoint("db", {"kubernetes.io/metadata.name": "db"}, {"app": "pg"})
    api = Endpoint("api", {"kubernetes.io/metadata.name": "api"}, {"app": "api"})
    blocker = find_blocker([egress], api, pg, "egress", 5432, None, "TCP", {"app": "pg"})
    assert blocker is not None and (blocker.name, blocker.direction) == ("api-egress", "egress")
    assert blocker.patch[0]["path"] == "/spec/egress/0/to/-"
    assert blocker.patch[0]["value"]["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "db"}}


def test_only_the_pods_own_timeouts_are_read_not_the_ones_it_relays() -> None:
    log = ("ERROR postgres postgres.data.svc.cluster.local:5432: dial tcp 10.96.0.9:5432: i/o timeout\n"
           "ERROR upstream payment (payment.payments.svc.cluster.local:8080) failing: upstream postgres "
           "(postgres.data.svc.cluster.local:5432) unavailable: dial tcp 10.96.0.9:5432: i/o timeout\n"
           "ERROR payment payment.payments.svc.cluster.local:8080: dial tcp 10.96.0.8:8080: connect: connection refused\n")
    assert [(m["host"], m["port"]) for m in DIAL_TIMEOUT.finditer(log)] == [("postgres.data.svc.cluster.local", "5432")]


class CannedTools(Tools):
    """Tools whose kubectl answers from a fixed cluster: a Deployment whose pod crash-loops without a FATAL line
    (``ready`` 0) or runs (``ready`` 1), and a bare debug Pod that is OOMKilled over and over."""

    def __init__(self, ready: int = 0, series: dict[str, list[dict[str, Any]]] | None = None) -> None:
        super().__init__(env={"PROMETHEUS_URL": "http://prometheus.invalid"} if series is not None else {})
        self.calls: list[tuple[str, ...]] = []
        self.ready = ready
        self.series = series or {}

    def promql(self, query: str) -> list[dict[str, Any]]:
        """The canned series of the first key found in ``query`` (none otherwise)."""
        self.calls.append(("promql", query))
        return next((v for k, v in self.series.items() if k in query), [])

    def kubectl(self, *args: str, input: str | None = None, timeout: float = 60) -> ToolResult:
        self.calls.append(args)
        if args[:2] == ("get", "nodes"):
            return ToolResult(0, json.dumps({"items": []}), "")
        if args[0] == "get":
            owner = {"kind": "ReplicaSet", "name": "web-1"}
            items = [{"kind": "Deployment", "metadata": {"namespace": "ns", "name": "web"},
                      "spec": {"replicas": 1}, "status": {"readyReplicas": self.ready}},
                     {"kind": "Pod", "metadata": {"namespace": "ns", "name": "debug"},
                      "status": {"phase": "Running", "containerStatuses": [
                          {"name": "sh", "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                           "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}}}]}},
                     {"kind": "ReplicaSet", "metadata": {"namespace": "ns", "name": "web-1", "ownerReferences": [
                         {"kind": "Deployment", "name": "web"}]}},
                     {"kind": "Pod", "metadata": {"namespace": "ns", "name": "web-1-a", "ownerReferences": [owner]},
                      "status": {"phase": "Running", "containerStatuses": [
                          {"name": "app", "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                           "lastState": {"terminated": {"reason": "Error", "exitCode": 2}}}]}}]
            return ToolResult(0, json.dumps({"items": items}), "")
        if args[0] == "logs":
            return ToolResult(0, "panic: something unexpected\n", "")
        return ToolResult(1, "", "refused by the test")


def test_a_symptom_it_cannot_explain_is_escalated_and_nothing_is_changed() -> None:
    tools = CannedTools()
    incident = Incident("web is down", 300, "2099-01-01T00:00:00Z", ["ns"], "")
    diagnosis = ReferenceAgent().run(incident, tools)
    assert diagnosis is not None and diagnosis.escalate and diagnosis.root_cause is None
    assert "Impact: unavailable: Deployment ns/web." in diagnosis.summary
    assert "Left alone, as unrelated to the complaint (owned by no workload, behind no Service): " \
           "Pod ns/debug (CrashLoopBackOff, OOMKilled)." in diagnosis.summary
    assert {call[0] for call in tools.calls} == {"get", "logs"}
    assert all("debug" not in call for call in tools.calls)  # the bystander's logs are not even read


def test_a_service_missing_its_slo_is_not_called_no_fault() -> None:
    storefront = {"metric": {"namespace": "ns", "service": "web"}, "value": [0, "0.25"]}
    tools = CannedTools(ready=1, series={"code=~": [storefront], "http_requests_total": [storefront]})
    diagnosis = ReferenceAgent().run(Incident("errors on the site", 300, "2099-01-01T00:00:00Z", ["ns"], ""), tools)
    assert diagnosis is not None and diagnosis.escalate and diagnosis.root_cause is None
    assert "Impact: SLO missed: ns/web 5xx ratio 0.25 > 0.01." in diagnosis.summary


@pytest.mark.parametrize("series", [None, {"code=~": [], "duration": [], "http_requests_total": [
    {"metric": {"namespace": "ns", "service": "web"}, "value": [0, "20"]}]}])
def test_a_failing_bystander_next_to_a_healthy_app_is_no_fault_and_left_alone(
        series: dict[str, list[dict[str, Any]]] | None) -> None:
    tools = CannedTools(ready=1, series=series)
    diagnosis = ReferenceAgent().run(Incident("a pod keeps crashing", 300, "2099-01-01T00:00:00Z", ["ns"], ""), tools)
    assert diagnosis is not None and not diagnosis.escalate
    assert diagnosis.root_cause == {"category": "no-fault", "kind": None, "namespace": None, "name": None}
    assert "Nothing was changed." in diagnosis.summary
    assert "Pod ns/debug (CrashLoopBackOff, OOMKilled)" in diagnosis.summary
    assert ("all 1 services with traffic meet their SLOs" in diagnosis.summary) == (series is not None)
    assert {call[0] for call in tools.calls} == ({"get", "promql"} if series else {"get"})


class StuckTools(Tools):
    """Tools answering from a fixed cluster: Deployment ns/web whose container waits or crashes as given,
    with the ConfigMaps and Secrets given by (kind, namespace, name); every change is refused."""

    def __init__(self, status: dict[str, Any], objects: dict[tuple[str, str, str], dict[str, Any]],
                 log: str = "") -> None:
        super().__init__(env={})
        self.status, self.objects, self.log = status, objects, log
        self.calls: list[tuple[str, ...]] = []

    def kubectl(self, *args: str, input: str | None = None, timeout: float = 60) -> ToolResult:
        self.calls.append(args)
        if args[:2] == ("get", "nodes"):
            return ToolResult(0, json.dumps({"items": []}), "")
        if args[:2] in (("get", "secret"), ("get", "configmap")):
            obj = self.objects.get((args[1], args[4], args[2]))
            return ToolResult(0, json.dumps(obj), "") if obj else ToolResult(1, "", "NotFound")
        if args[0] == "get":
            volume = {"name": "conf", "configMap": {"name": "web-files"}}
            container = {"name": "app", "volumeMounts": [{"name": "conf", "mountPath": "/etc/web"}]}
            items = [{"kind": "Deployment", "metadata": {"namespace": "ns", "name": "web"},
                      "spec": {"replicas": 1, "template": {"spec": {"containers": [container], "volumes": [volume]}}},
                      "status": {"readyReplicas": 0}},
                     {"kind": "ReplicaSet", "metadata": {"namespace": "ns", "name": "web-1", "ownerReferences": [
                         {"kind": "Deployment", "name": "web"}]}},
                     {"kind": "Pod", "metadata": {"namespace": "ns", "name": "web-1-a", "ownerReferences": [
                         {"kind": "ReplicaSet", "name": "web-1"}]},
                      "status": {"phase": "Pending", "containerStatuses": [{"name": "app", **self.status}]}}]
            return ToolResult(0, json.dumps({"items": items if args[3] == "ns" else []}), "")
        if args[0] == "logs":
            return ToolResult(0, self.log, "")
        return ToolResult(1, "", "refused by the test")


def _secret(namespace: str, password: str) -> dict[str, Any]:
    return {"kind": "Secret", "metadata": {"namespace": namespace, "name": "creds"}, "data": {"password": password}}


@pytest.mark.parametrize("tools, unexplained", [
    # the same Secret in the other namespaces holds different contents: which one is right is unknown
    (StuckTools({"state": {"waiting": {"reason": "CreateContainerConfigError", "message": 'secret "creds" not found'}}},
                {("secret", "a", "creds"): _secret("a", "eA=="), ("secret", "b", "creds"): _secret("b", "eQ==")}),
     "no Secret creds of another allowed namespace to restore it from"),
    # the config file lacks the key and holds nothing like it: its value is unknown
    (StuckTools({"state": {"waiting": {"reason": "CrashLoopBackOff"}},
                 "lastState": {"terminated": {"reason": "Error", "exitCode": 1}}},
                {("configmap", "ns", "web-files"): {"data": {"web.yaml": "timeout: 5\n"}}},
                log='FATAL: /etc/web/web.yaml: required key "currency" is missing\n'),
     'lacks the required key "currency"; the file (timeout) has no misspelling of it'),
])
def test_what_is_missing_is_never_invented(tools: StuckTools, unexplained: str) -> None:
    incident = Incident("web is down", 300, "2099-01-01T00:00:00Z", ["ns", "a", "b"], "")
    diagnosis = ReferenceAgent().run(incident, tools)
    assert diagnosis is not None and diagnosis.escalate and diagnosis.root_cause is None
    assert unexplained in diagnosis.summary
    assert {call[0] for call in tools.calls} <= {"get", "logs"}
