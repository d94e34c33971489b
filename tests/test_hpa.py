"""The horizontal pod autoscaler against real kubectl and the official client: scaling, limits, conditions."""

from __future__ import annotations

import json
import time
from typing import Any, Callable

import pytest
import yaml
from kubernetes import client

from chaositbench.sim.behaviour.needs import ANNOTATION
from chaositbench.sim.controllers.hpa import HorizontalPodAutoscalerController
from conftest import Kubectl

NAMESPACE = "hpa-test"
#: 40 rps at 10ms of CPU each: 420m on one pod, against a 100m request
NEEDS = {"app": {"cpu": {"usage": "20m", "perRequest": "10ms"}, "listen": [{"port": 8080, "paths": {"/": 200}}],
                 "load": {"rps": 40}}}


def _until(check: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.5)


@pytest.fixture(scope="module")
def web(kubectl: Kubectl) -> str:
    kubectl("create", "namespace", NAMESPACE)
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": NAMESPACE},
                  "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}}, "template": {
                      "metadata": {"labels": {"app": "web"}, "annotations": {ANNOTATION: yaml.safe_dump(NEEDS)}},
                      "spec": {"containers": [{"name": "app", "image": "nginx:1.27", "resources": {
                          "requests": {"cpu": "100m"}, "limits": {"cpu": "2"}}}]}}}}
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": NAMESPACE},
               "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}}
    kubectl("apply", "-f", "-", input=yaml.safe_dump_all([deployment, service]))
    kubectl("rollout", "status", "deployment/web", "-n", NAMESPACE, "--timeout=60s")
    return NAMESPACE


def _hpa(kubectl: Kubectl) -> dict[str, Any]:
    return json.loads(kubectl("get", "hpa", "web", "-n", NAMESPACE, "-o", "json"))


def _condition(hpa: dict[str, Any], type_: str) -> dict[str, Any]:
    return next((c for c in (hpa.get("status") or {}).get("conditions") or [] if c["type"] == type_), {})


def test_an_hpa_at_its_maximum_is_scaling_limited_and_raising_it_scales_further(kubectl: Kubectl, web: str) -> None:
    kubectl("autoscale", "deployment/web", "-n", web, "--cpu=80%", "--min=1", "--max=3")
    def limited_hpa() -> dict[str, Any] | None:
        hpa = _hpa(kubectl)
        return hpa if _condition(hpa, "ScalingLimited").get("reason") == "TooManyReplicas" else None
    limited = _until(limited_hpa)
    assert _condition(limited, "ScalingLimited")["message"] == \
        "the desired replica count is more than the maximum replica count"
    assert _condition(limited, "ScalingActive")["reason"] == "ValidMetricFound"
    _until(lambda: json.loads(kubectl("get", "deploy", "web", "-n", web, "-o", "json"))["spec"]["replicas"] == 3)
    _until(lambda: _hpa(kubectl)["status"].get("currentReplicas") == 3)
    row = kubectl("get", "hpa", "web", "-n", web).splitlines()
    assert row[0].split() == ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"]
    assert row[1].split()[:2] == ["web", "Deployment/web"] and row[1].split()[5:7] == ["3", "3"]
    assert row[1].split()[2:4] == ["cpu:", row[1].split()[3]] and row[1].split()[3].endswith("/80%")
    described = kubectl("describe", "hpa", "web", "-n", web)
    assert "ScalingLimited  True    TooManyReplicas" in described
    assert "SuccessfulRescale" in described and "New size: 3; reason: cpu resource utilization" in described
    v1 = json.loads(kubectl("get", "--raw", f"/apis/autoscaling/v1/namespaces/{web}/horizontalpodautoscalers/web"))
    assert v1["spec"]["targetCPUUtilizationPercentage"] == 80 and v1["status"]["currentCPUUtilizationPercentage"] > 80
    kubectl("patch", "hpa", "web", "-n", web, "--type=merge", "-p", '{"spec": {"maxReplicas": 20}}')
    _until(lambda: json.loads(kubectl("get", "deploy", "web", "-n", web, "-o", "json"))["spec"]["replicas"] > 3)


def test_a_missing_target_fails_to_get_its_scale(api_client: client.ApiClient, web: str) -> None:
    autoscaling = client.AutoscalingV2Api(api_client)
    body = client.V2HorizontalPodAutoscaler(
        metadata=client.V1ObjectMeta(name="ghost"),
        spec=client.V2HorizontalPodAutoscalerSpec(
            max_replicas=2, scale_target_ref=client.V2CrossVersionObjectReference(
                api_version="apps/v1", kind="Deployment", name="ghost")))
    autoscaling.create_namespaced_horizontal_pod_autoscaler(web, body)

    def able() -> Any:
        status = autoscaling.read_namespaced_horizontal_pod_autoscaler("ghost", web).status
        return next((c for c in status.conditions or [] if c.type == "AbleToScale"), None)
    condition = _until(able)
    assert condition.status == "False" and condition.reason == "FailedGetScale"
    assert 'deployments.apps "ghost" not found' in condition.message


@pytest.mark.parametrize(("desired", "current", "expected"), [
    (5, 1, (5, "False", "DesiredWithinRange")),
    (9, 1, (5, "True", "ScaleUpLimit")),
    (12, 4, (10, "True", "TooManyReplicas")),
    (0, 3, (1, "True", "TooFewReplicas")),
])
def test_bounds_follow_the_default_behaviour(desired: int, current: int, expected: tuple[int, str, str]) -> None:
    replicas, (status, reason, _) = HorizontalPodAutoscalerController._bound(desired, current, 1, 10)
    assert (replicas, status, reason) == expected
