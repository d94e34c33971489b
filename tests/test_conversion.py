"""Kinds served in two versions over one storage: events.k8s.io/v1 Events and autoscaling/v1 HPAs."""

from __future__ import annotations

import json
import uuid

from conftest import Kubectl


def _ns(kubectl: Kubectl) -> str:
    name = f"conv-{uuid.uuid4().hex[:6]}"
    kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
    return name


def test_core_events_are_served_as_events_k8s_io(kubectl: Kubectl) -> None:
    ns = _ns(kubectl)
    kubectl("apply", "-n", ns, "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Event", "metadata": {"name": "e1"}, "reason": "Tested", "message": "hello",
        "type": "Normal", "count": 2, "involvedObject": {"kind": "Pod", "name": "p", "namespace": ns},
        "source": {"component": "tester"}}))
    seen = json.loads(kubectl("get", "-n", ns, "events.v1.events.k8s.io", "e1", "-o", "json"))
    assert seen["apiVersion"] == "events.k8s.io/v1"
    assert seen["note"] == "hello" and seen["regarding"]["name"] == "p" and seen["deprecatedCount"] == 2
    assert "message" not in seen and "involvedObject" not in seen


def test_events_k8s_io_writes_are_stored_as_core_events(kubectl: Kubectl) -> None:
    ns = _ns(kubectl)
    kubectl("create", "-n", ns, "-f", "-", input=json.dumps({
        "apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e2"},
        "eventTime": "2026-11-25T10:00:00.000000Z", "reportingController": "tester", "reportingInstance": "t-1",
        "action": "Test", "reason": "Tested", "note": "via events.k8s.io", "type": "Warning",
        "regarding": {"kind": "Pod", "name": "q", "namespace": ns}}))
    core = json.loads(kubectl("get", "-n", ns, "events.v1.", "e2", "-o", "json"))
    assert core["apiVersion"] == "v1" and core["message"] == "via events.k8s.io"
    assert core["involvedObject"]["name"] == "q" and core["reportingComponent"] == "tester"


def test_hpa_v1_and_v2_views_of_one_object(kubectl: Kubectl) -> None:
    ns = _ns(kubectl)
    kubectl("create", "-n", ns, "-f", "-", input=json.dumps({
        "apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                 "minReplicas": 2, "maxReplicas": 5, "targetCPUUtilizationPercentage": 70}}))
    v2 = json.loads(kubectl("get", "-n", ns, "horizontalpodautoscalers.v2.autoscaling", "web", "-o", "json"))
    assert v2["spec"]["metrics"] == [{"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]
    v1 = json.loads(kubectl("get", "-n", ns, "horizontalpodautoscalers.v1.autoscaling", "web", "-o", "json"))
    assert v1["apiVersion"] == "autoscaling/v1" and v1["spec"]["targetCPUUtilizationPercentage"] == 70
    assert "metrics" not in v1["spec"]
