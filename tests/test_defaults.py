"""Defaulting and mutating admission as the real API server applies them."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from chaositbench.sim.defaults import apply_defaults, carry_over_allocated_fields, image_pull_policy, pod_qos_class
from chaositbench.sim.kinds import Kind, by_kind

Obj = dict[str, Any]


def kind_of(obj: Obj) -> Kind:
    kind = by_kind(obj["apiVersion"], obj["kind"])
    assert kind is not None
    return kind


def defaulted(obj: Obj) -> Obj:
    obj = copy.deepcopy(obj)
    apply_defaults(kind_of(obj), obj)
    return obj


def web_pod() -> Obj:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web-0", "namespace": "shop", "uid": "4f1c2d1e-0000-4000-8000-000000000001"},
        "spec": {
            "containers": [{
                "name": "web", "image": "ghcr.io/shop/web:1.4.2",
                "ports": [{"name": "http", "containerPort": 8080}],
                "env": [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
                "resources": {"limits": {"cpu": "0.5", "memory": "256Mi"}},
                "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
                "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 5},
                "volumeMounts": [{"name": "config", "mountPath": "/etc/web"}],
            }],
            "volumes": [{"name": "config", "configMap": {"name": "web-config"}}, {"name": "scratch"}],
        },
    }


def deployment() -> Obj:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "uid": "d-uid"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                         "spec": {"containers": [{"name": "web", "image": "nginx"}]}},
        },
    }


def test_pod_spec_and_container_defaults() -> None:
    pod = defaulted(web_pod())
    spec, container = pod["spec"], pod["spec"]["containers"][0]
    assert spec["restartPolicy"] == "Always"
    assert spec["dnsPolicy"] == "ClusterFirst"
    assert spec["schedulerName"] == "default-scheduler"
    assert spec["terminationGracePeriodSeconds"] == 30
    assert spec["securityContext"] == {}
    assert spec["enableServiceLinks"] is True
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert container["terminationMessagePath"] == "/dev/termination-log"
    assert container["terminationMessagePolicy"] == "File"
    assert container["ports"][0]["protocol"] == "TCP"
    assert container["env"][0]["valueFrom"]["fieldRef"] == {"fieldPath": "status.podIP", "apiVersion": "v1"}


def test_pod_resources_are_canonical_and_requests_come_from_limits() -> None:
    resources = defaulted(web_pod())["spec"]["containers"][0]["resources"]
    assert resources == {"limits": {"cpu": "500m", "memory": "256Mi"},
                         "requests": {"cpu": "500m", "memory": "256Mi"}}


def test_container_without_resources_serializes_empty_resources() -> None:
    pod = web_pod()
    del pod["spec"]["containers"][0]["resources"]
    assert defaulted(pod)["spec"]["containers"][0]["resources"] == {}


def test_probe_defaults() -> None:
    container = defaulted(web_pod())["spec"]["containers"][0]
    assert container["livenessProbe"] == {"httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP"},
                                          "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1,
                                          "failureThreshold": 3}
    assert container["readinessProbe"]["periodSeconds"] == 5


def test_volume_defaults() -> None:
    volumes = {v["name"]: v for v in defaulted(web_pod())["spec"]["volumes"]}
    assert volumes["config"]["configMap"] == {"name": "web-config", "defaultMode": 420}
    assert volumes["scratch"] == {"name": "scratch", "emptyDir": {}}


def test_service_account_admission_mounts_the_api_token() -> None:
    pod = defaulted(web_pod())
    spec = pod["spec"]
    assert spec["serviceAccountName"] == "default"
    assert spec["serviceAccount"] == "default"
    token = [v for v in spec["volumes"] if v["name"].startswith("kube-api-access-")]
    assert len(token) == 1 and len(token[0]["name"]) == len("kube-api-access-") + 5
    sources = token[0]["projected"]["sources"]
    assert sources[0] == {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}
    assert {"name": token[0]["name"], "readOnly": True,
            "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"} in spec["containers"][0]["volumeMounts"]


def test_no_token_when_automount_is_disabled() -> None:
    pod = web_pod()
    pod["spec"]["automountServiceAccountToken"] = False
    assert not any(v["name"].startswith("kube-api-access-") for v in defaulted(pod)["spec"]["volumes"])


def test_default_toleration_seconds_and_priority_admission() -> None:
    spec = defaulted(web_pod())["spec"]
    assert spec["tolerations"] == [
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": 300},
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": 300},
    ]
    assert spec["priority"] == 0
    assert spec["preemptionPolicy"] == "PreemptLowerPriority"


def test_existing_tolerations_are_respected() -> None:
    pod = web_pod()
    pod["spec"]["tolerations"] = [{"operator": "Exists"}]
    assert defaulted(pod)["spec"]["tolerations"] == [{"operator": "Exists"}]


def test_system_priority_class() -> None:
    pod = web_pod()
    pod["spec"]["priorityClassName"] = "system-node-critical"
    assert defaulted(pod)["spec"]["priority"] == 2000001000


def test_pod_initial_status_and_qos() -> None:
    assert defaulted(web_pod())["status"] == {"phase": "Pending", "qosClass": "Guaranteed"}
    pod = web_pod()
    pod["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "100m"}}
    assert defaulted(pod)["status"]["qosClass"] == "Burstable"
    del pod["spec"]["containers"][0]["resources"]
    assert pod_qos_class(defaulted(pod)) == "BestEffort"


def test_admission_runs_only_on_create() -> None:
    pod = web_pod()
    pod["metadata"]["resourceVersion"] = "42"
    spec = defaulted(pod)["spec"]
    assert "tolerations" not in spec and "serviceAccountName" not in spec and "priority" not in spec
    assert spec["dnsPolicy"] == "ClusterFirst"


def test_defaulting_is_idempotent() -> None:
    once = defaulted(web_pod())
    assert defaulted(once) == once
    stored = copy.deepcopy(once)
    stored["metadata"]["resourceVersion"] = "7"
    assert defaulted(stored) == stored


@pytest.mark.parametrize("image, policy", [
    ("nginx", "Always"),
    ("nginx:latest", "Always"),
    ("nginx:1.27", "IfNotPresent"),
    ("registry.local:5000/team/app", "Always"),
    ("registry.local:5000/team/app:v2", "IfNotPresent"),
    ("app@sha256:0123abcd", "IfNotPresent"),
])
def test_image_pull_policy(image: str, policy: str) -> None:
    assert image_pull_policy(image) == policy


def test_deployment_defaults() -> None:
    spec = defaulted(deployment())["spec"]
    assert spec["replicas"] == 1
    assert spec["revisionHistoryLimit"] == 10
    assert spec["progressDeadlineSeconds"] == 600
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    template = spec["template"]["spec"]
    assert template["restartPolicy"] == "Always" and template["dnsPolicy"] == "ClusterFirst"
    assert template["containers"][0]["imagePullPolicy"] == "Always"
    assert "enableServiceLinks" not in template and "tolerations" not in template


def test_explicit_zero_replicas_and_recreate_strategy_are_kept() -> None:
    deploy = deployment()
    deploy["spec"]["replicas"] = 0
    deploy["spec"]["strategy"] = {"type": "Recreate"}
    spec = defaulted(deploy)["spec"]
    assert spec["replicas"] == 0
    assert spec["strategy"] == {"type": "Recreate"}


def test_template_requests_are_not_defaulted_from_limits() -> None:
    deploy = deployment()
    deploy["spec"]["template"]["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "1"}}
    assert defaulted(deploy)["spec"]["template"]["spec"]["containers"][0]["resources"] == {"limits": {"cpu": "1"}}


def test_replicaset_daemonset_statefulset_defaults() -> None:
    rs = deployment() | {"kind": "ReplicaSet"}
    assert defaulted(rs)["spec"]["replicas"] == 1
    ds = defaulted(deployment() | {"kind": "DaemonSet"})["spec"]
    assert ds["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
    assert ds["revisionHistoryLimit"] == 10
    sts = deployment() | {"kind": "StatefulSet"}
    sts["spec"]["volumeClaimTemplates"] = [{"metadata": {"name": "data"}, "spec": {
        "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]
    spec = defaulted(sts)["spec"]
    assert spec["replicas"] == 1
    assert spec["podManagementPolicy"] == "OrderedReady"
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert spec["revisionHistoryLimit"] == 10
    assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    claim = spec["volumeClaimTemplates"][0]
    assert claim["spec"]["volumeMode"] == "Filesystem"
    assert claim["status"] == {"phase": "Pending"}
    assert (claim["apiVersion"], claim["kind"]) == ("v1", "PersistentVolumeClaim")


def test_job_defaults_and_generated_selector() -> None:
    job = {"apiVersion": "batch/v1", "kind": "Job",
           "metadata": {"name": "pi", "namespace": "batch", "uid": "9c7e"},
           "spec": {"template": {"spec": {"restartPolicy": "Never",
                                          "containers": [{"name": "pi", "image": "perl:5.34"}]}}}}
    out = defaulted(job)
    spec = out["spec"]
    assert {k: spec[k] for k in ("parallelism", "completions", "backoffLimit", "completionMode", "suspend",
                                 "manualSelector", "podReplacementPolicy")} == {
        "parallelism": 1, "completions": 1, "backoffLimit": 6, "completionMode": "NonIndexed", "suspend": False,
        "manualSelector": False, "podReplacementPolicy": "TerminatingOrFailed"}
    assert spec["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": "9c7e"}}
    labels = {"batch.kubernetes.io/controller-uid": "9c7e", "batch.kubernetes.io/job-name": "pi",
              "controller-uid": "9c7e", "job-name": "pi"}
    assert spec["template"]["metadata"]["labels"] == labels
    assert out["metadata"]["labels"] == labels


def test_parallel_job_keeps_completions_unset() -> None:
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "w", "uid": "u"},
           "spec": {"parallelism": 3, "template": {"spec": {"containers": [{"name": "w", "image": "w"}]}}}}
    assert "completions" not in defaulted(job)["spec"]


def test_cronjob_defaults() -> None:
    cron = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly"},
            "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "OnFailure", "containers": [{"name": "b", "image": "backup:2"}]}}}}}}
    spec = defaulted(cron)["spec"]
    assert (spec["concurrencyPolicy"], spec["suspend"], spec["successfulJobsHistoryLimit"],
            spec["failedJobsHistoryLimit"]) == ("Allow", False, 3, 1)
    assert spec["jobTemplate"]["spec"]["template"]["spec"]["schedulerName"] == "default-scheduler"
    assert "parallelism" not in spec["jobTemplate"]["spec"]


def test_service_defaults() -> None:
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"},
           "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80}]}}
    spec = defaulted(svc)["spec"]
    assert spec["type"] == "ClusterIP"
    assert spec["sessionAffinity"] == "None"
    assert spec["ipFamilies"] == ["IPv4"] and spec["ipFamilyPolicy"] == "SingleStack"
    assert spec["internalTrafficPolicy"] == "Cluster"
    assert "externalTrafficPolicy" not in spec
    assert spec["ports"] == [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 80}]


def test_nodeport_and_loadbalancer_service_defaults() -> None:
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "edge"},
           "spec": {"type": "LoadBalancer", "ports": [{"port": 443, "targetPort": "https"}]}}
    spec = defaulted(svc)["spec"]
    assert spec["externalTrafficPolicy"] == "Cluster"
    assert spec["allocateLoadBalancerNodePorts"] is True
    assert spec["ports"][0]["targetPort"] == "https"


def test_headless_service_mirrors_cluster_ips() -> None:
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db"},
           "spec": {"clusterIP": "None", "ports": [{"port": 5432}]}}
    assert defaulted(svc)["spec"]["clusterIPs"] == ["None"]


def test_carry_over_allocated_fields() -> None:
    old = {"spec": {"type": "NodePort", "clusterIP": "10.96.0.12", "clusterIPs": ["10.96.0.12"],
                    "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                    "ports": [{"port": 80, "protocol": "TCP", "nodePort": 30080}]}}
    new = {"spec": {"type": "NodePort", "ports": [{"port": 80, "protocol": "TCP"}]}}
    carry_over_allocated_fields(new, old)
    assert new["spec"]["clusterIP"] == "10.96.0.12" and new["spec"]["clusterIPs"] == ["10.96.0.12"]
    assert new["spec"]["ports"][0]["nodePort"] == 30080


def test_secret_defaults_and_string_data() -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}, "stringData": {"password": "s3cr3t"}}
    out = defaulted(secret)
    assert out["type"] == "Opaque"
    assert out["data"] == {"password": "czNjcjN0"}
    assert "stringData" not in out


def test_namespace_defaults() -> None:
    out = defaulted({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
    assert out["metadata"]["labels"] == {"kubernetes.io/metadata.name": "shop"}
    assert out["spec"] == {"finalizers": ["kubernetes"]}
    assert out["status"] == {"phase": "Active"}


def test_namespace_finalizer_not_readded_on_update() -> None:
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop", "resourceVersion": "9"}, "spec": {}}
    assert defaulted(ns)["spec"] == {}


def test_network_policy_defaults() -> None:
    ingress_only = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "a"},
                    "spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 8080}]}]}}
    spec = defaulted(ingress_only)["spec"]
    assert spec["policyTypes"] == ["Ingress"]
    assert spec["ingress"][0]["ports"] == [{"port": 8080, "protocol": "TCP"}]
    with_egress = copy.deepcopy(ingress_only)
    with_egress["spec"]["egress"] = [{"to": [{"podSelector": {}}]}]
    assert defaulted(with_egress)["spec"]["policyTypes"] == ["Ingress", "Egress"]


def test_hpa_pvc_and_rbac_defaults() -> None:
    hpa = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"},
           "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                    "maxReplicas": 10}}
    spec = defaulted(hpa)["spec"]
    assert spec["minReplicas"] == 1
    assert spec["metrics"][0]["resource"]["target"] == {"type": "Utilization", "averageUtilization": 80}
    pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
           "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1.5Gi"}}}}
    out = defaulted(pvc)
    assert out["spec"]["volumeMode"] == "Filesystem"
    assert out["spec"]["resources"]["requests"]["storage"] == "1536Mi"
    assert out["status"] == {"phase": "Pending"}
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "b"},
               "roleRef": {"kind": "Role", "name": "reader"},
               "subjects": [{"kind": "User", "name": "alice"}, {"kind": "ServiceAccount", "name": "agent"}]}
    out = defaulted(binding)
    assert out["roleRef"]["apiGroup"] == "rbac.authorization.k8s.io"
    assert [s["apiGroup"] for s in out["subjects"]] == ["rbac.authorization.k8s.io", ""]


def test_kinds_without_defaults_are_untouched() -> None:
    for obj in ({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "agent"}},
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}},
                {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "p"},
                 "spec": {"minAvailable": 1}}):
        assert defaulted(obj) == obj


def test_limit_range_and_node_defaults() -> None:
    limits = {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "defaults"},
              "spec": {"limits": [{"type": "Container", "max": {"cpu": "2"}, "min": {"memory": "64Mi"}},
                                  {"type": "Pod", "max": {"memory": "2Gi"}}]}}
    items = defaulted(limits)["spec"]["limits"]
    assert items[0]["default"] == {"cpu": "2"}
    assert items[0]["defaultRequest"] == {"cpu": "2", "memory": "64Mi"}
    assert "default" not in items[1] and "defaultRequest" not in items[1]
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"},
            "status": {"capacity": {"cpu": "4", "memory": "16384Mi", "pods": "110"}}}
    status = defaulted(node)["status"]
    assert status["capacity"]["memory"] == "16Gi"
    assert status["allocatable"] == status["capacity"]
