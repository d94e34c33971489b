"""Validation with the real API server's field paths and texts."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from chaositbench.sim.defaults import apply_defaults
from chaositbench.sim.errors import APIError, invalid
from chaositbench.sim.kinds import Kind, by_kind
from chaositbench.sim.validation import check_decodable, cron_schedule_error, validate

Obj = dict[str, Any]

SUBDOMAIN_RULE = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                  "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                  r"validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")


def kind_of(obj: Obj) -> Kind:
    kind = by_kind(obj["apiVersion"], obj["kind"])
    assert kind is not None
    return kind


def prepared(obj: Obj, rv: str | None = None) -> Obj:
    """What the server validates: a copy defaulted on create (a stored one also gets ``rv``)."""
    obj = copy.deepcopy(obj)
    apply_defaults(kind_of(obj), obj)
    if rv:
        obj["metadata"]["resourceVersion"] = rv
    return obj


def messages(obj: Obj, old: Obj | None = None) -> list[str]:
    return [e.message() for e in validate(kind_of(obj), obj, old)]


def status_message(obj: Obj, old: Obj | None = None) -> str:
    """The Status message the server answers (``Kind "name" is invalid: ...``)."""
    kind = kind_of(obj)
    errs = validate(kind, obj, old)
    assert errs, "expected the object to be invalid"
    return invalid(kind.kind, kind.group, obj["metadata"].get("name", ""), errs).message


def pod(**spec_changes: Any) -> Obj:
    spec = {"containers": [{"name": "app", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]}
    spec.update(spec_changes)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "shop", "uid": "p-uid"},
            "spec": spec}


def deployment(labels: Obj | None = None) -> Obj:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop", "uid": "d-uid"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": labels or {"app": "web"}},
                                  "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}}


# -- metadata ------------------------------------------------------------------------------


def test_valid_objects_pass() -> None:
    assert messages(prepared(pod())) == []
    assert messages(prepared(deployment())) == []


def test_name_required() -> None:
    obj = prepared(pod())
    del obj["metadata"]["name"]
    assert messages(obj) == ["metadata.name: Required value: name or generateName is required"]


def test_pod_name_must_be_a_subdomain() -> None:
    obj = prepared(pod())
    obj["metadata"]["name"] = "Web_1"
    assert status_message(obj) == f'Pod "Web_1" is invalid: metadata.name: Invalid value: "Web_1": {SUBDOMAIN_RULE}'


def test_service_and_namespace_name_rules() -> None:
    svc = prepared({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "1st-web"},
                    "spec": {"ports": [{"port": 80}]}})
    assert messages(svc) == [
        'metadata.name: Invalid value: "1st-web": a DNS-1035 label must consist of lower case alphanumeric '
        "characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. "
        "'my-name', or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"]
    ns = prepared({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team.a"}})
    assert messages(ns) == ['metadata.name: Invalid value: "team.a": must not contain dots']


def test_generate_name_prefix_may_end_with_dash() -> None:
    obj = prepared(pod())
    obj["metadata"]["generateName"] = "web-"
    assert messages(obj) == []


def test_labels_and_annotations() -> None:
    obj = prepared(pod())
    obj["metadata"]["labels"] = {"app": "web server", "-bad": "x"}
    obj["metadata"]["annotations"] = {"note": "x" * (256 * 1024)}
    assert messages(obj) == [
        'metadata.labels: Invalid value: "web server": a valid label must be an empty string or consist of '
        "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. "
        "'MyValue', or 'my_value', or '12345', regex used for validation is "
        "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
        'metadata.labels: Invalid value: "-bad": name part must consist of alphanumeric characters, \'-\', \'_\' '
        "or '.', and must start and end with an alphanumeric character (e.g. 'MyName', or 'my.name', or '123-abc', "
        "regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
        "metadata.annotations: Too long: may not be more than 262144 bytes",
    ]


def test_virtual_kinds_are_not_validated() -> None:
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "metadata": {},
              "spec": {"resourceAttributes": {"verb": "get"}}}
    assert messages(review) == []


# -- pods ------------------------------------------------------------------------------------


def test_containers_required() -> None:
    obj = prepared(pod(containers=[]))
    assert status_message(obj) == 'Pod "web" is invalid: spec.containers: Required value'


def test_container_name_image_and_duplicates() -> None:
    obj = prepared(pod(containers=[{"name": "app", "image": "nginx"}, {"name": "app", "image": ""},
                                   {"image": "busybox"}]))
    assert messages(obj) == [
        "spec.containers[1].image: Required value",
        'spec.containers[1].name: Duplicate value: "app"',
        "spec.containers[2].name: Required value",
    ]


def test_requests_above_limits() -> None:
    obj = prepared(pod(containers=[{"name": "app", "image": "nginx",
                                    "resources": {"limits": {"cpu": "1"}, "requests": {"cpu": "2"}}}]))
    assert status_message(obj) == ('Pod "web" is invalid: spec.containers[0].resources.requests: Invalid value: "2": '
                                   "must be less than or equal to cpu limit of 1")


def test_memory_requests_above_limits_use_canonical_quantities() -> None:
    obj = prepared(pod(containers=[{"name": "app", "image": "nginx",
                                    "resources": {"limits": {"memory": "0.5Gi"}, "requests": {"memory": "1Gi"}}}]))
    assert messages(obj) == ['spec.containers[0].resources.requests: Invalid value: "1Gi": '
                             "must be less than or equal to memory limit of 512Mi"]


def test_resource_names_and_signs() -> None:
    obj = prepared(pod(containers=[{"name": "app", "image": "nginx",
                                    "resources": {"requests": {"cpus": "1", "memory": "-1"},
                                                  "limits": {"nvidia.com/gpu": "1"}}}]))
    assert messages(obj) == [
        'spec.containers[0].resources.requests[cpus]: Invalid value: "cpus": must be a standard resource type or '
        "fully qualified",
        'spec.containers[0].resources.requests[cpus]: Invalid value: "cpus": must be a standard resource for '
        "containers",
        'spec.containers[0].resources.requests[memory]: Invalid value: "-1": must be greater than or equal to 0',
    ]


def test_extended_resources_cannot_overcommit() -> None:
    obj = prepared(pod(containers=[{"name": "app", "image": "cuda",
                                    "resources": {"requests": {"nvidia.com/gpu": "1"}}}]))
    assert messages(obj) == ["spec.containers[0].resources.limits: Required value: Limit must be set for non "
                             "overcommitable resources"]


def test_ports_and_restart_policy() -> None:
    obj = prepared(pod(restartPolicy="Sometimes", containers=[{
        "name": "app", "image": "nginx", "ports": [{"containerPort": 70000}, {"containerPort": 8080,
                                                                            "protocol": "HTTP"}]}]))
    assert messages(obj) == [
        "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
        'spec.containers[0].ports[1].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"',
        'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
    ]


def test_volume_mounts_and_env() -> None:
    obj = prepared(pod(containers=[{
        "name": "app", "image": "nginx",
        "volumeMounts": [{"name": "cache", "mountPath": "/cache"}],
        "env": [{"name": "A=B", "value": "x"}, {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.host"}}},
                {"name": "PHASE", "valueFrom": {"fieldRef": {"fieldPath": "status.phase"}}},
                {"name": "CFG", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "bad key"}}}]}]))
    assert messages(obj) == [
        'spec.containers[0].env[0].name: Invalid value: "A=B": a valid environment variable name must consist only '
        "of printable ASCII characters other than '='",
        'spec.containers[0].env[2].valueFrom.fieldRef.fieldPath: Unsupported value: "status.phase": supported '
        'values: "metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", '
        '"spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"',
        'spec.containers[0].env[3].valueFrom.configMapKeyRef.key: Invalid value: "bad key": a valid config key must '
        "consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name', or 'KEY_NAME', or 'key-name', regex "
        "used for validation is '[-._a-zA-Z0-9]+')",
        'spec.containers[0].volumeMounts[0].name: Not found: "cache"',
    ]


def test_probes() -> None:
    obj = prepared(pod(containers=[{"name": "app", "image": "nginx",
                                    "livenessProbe": {"successThreshold": 2, "httpGet": {"port": 80}},
                                    "readinessProbe": {"periodSeconds": 5}}]))
    assert messages(obj) == [
        "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
        "spec.containers[0].readinessProbe: Required value: must specify a handler type",
    ]


def test_tolerations_and_volumes() -> None:
    obj = prepared(pod(tolerations=[{"key": "dedicated", "operator": "Exists", "value": "gpu"},
                                    {"key": "x", "effect": "NoSchedule", "tolerationSeconds": 10}],
                       volumes=[{"name": "Data", "emptyDir": {}}, {"name": "cfg", "configMap": {}}]))
    assert messages(obj) == [
        'spec.volumes[0].name: Invalid value: "Data": a lowercase RFC 1123 label must consist of lower case '
        "alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name', "
        "or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
        "spec.volumes[1].configMap.name: Required value",
        'spec.tolerations[0].operator: Invalid value: {"key":"dedicated","operator":"Exists","value":"gpu"}: value '
        "must be empty when `operator` is 'Exists'",
        "spec.tolerations[1].effect: Invalid value: \"NoSchedule\": effect must be 'NoExecute' when "
        "`tolerationSeconds` is set",
    ]


def test_pod_update_may_change_only_images() -> None:
    stored = prepared(pod(), rv="11")
    new = copy.deepcopy(stored)
    new["spec"]["containers"][0]["image"] = "nginx:1.28"
    new["spec"]["activeDeadlineSeconds"] = 600
    assert messages(new, stored) == []
    new["spec"]["containers"][0]["ports"][0]["containerPort"] = 8080
    text = status_message(new, stored)
    assert text.startswith(
        'Pod "web" is invalid: spec: Forbidden: pod updates may not change fields other than '
        "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
        "`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
        "(allow it to be set to 1 if it was previously negative)\n  core.PodSpec{\n")
    assert '- \tContainers: [{"name":"app"' in text and '"containerPort":8080' in text


def test_pod_update_tolerations_and_containers() -> None:
    stored = prepared(pod(), rv="11")
    new = copy.deepcopy(stored)
    new["spec"]["tolerations"] = new["spec"]["tolerations"][:1]
    assert messages(new, stored) == ["spec.tolerations: Forbidden: existing toleration can not be modified except its "
                                     "tolerationSeconds"]
    new = copy.deepcopy(stored)
    new["spec"]["tolerations"].append({"key": "spot", "operator": "Exists", "effect": "NoSchedule"})
    new["spec"]["tolerations"][0]["tolerationSeconds"] = 60
    assert messages(new, stored) == []
    new["spec"]["containers"].append({"name": "sidecar", "image": "envoy", "terminationMessagePolicy": "File",
                                      "imagePullPolicy": "IfNotPresent"})
    assert messages(new, stored) == ["spec.containers: Forbidden: pod updates may not add or remove containers"]


def test_ephemeral_containers_cannot_be_set_on_create() -> None:
    obj = prepared(pod(ephemeralContainers=[{"name": "debug", "image": "busybox"}]))
    assert "spec.ephemeralContainers: Forbidden: cannot be set on create" in messages(obj)


# -- workloads ------------------------------------------------------------------------------


def test_selector_does_not_match_template_labels() -> None:
    obj = prepared(deployment({"app": "wbe"}))
    assert status_message(obj) == ('Deployment.apps "web" is invalid: spec.template.metadata.labels: Invalid value: '
                                   '{"app":"wbe"}: `selector` does not match template `labels`')


def test_selector_required() -> None:
    obj = deployment()
    del obj["spec"]["selector"]
    assert messages(prepared(obj)) == [
        "spec.selector: Required value",
        'spec.template.metadata.labels: Invalid value: {"app":"web"}: `selector` does not match template `labels`']


def test_empty_selector_and_negative_replicas() -> None:
    obj = deployment()
    obj["spec"]["selector"] = {}
    obj["spec"]["replicas"] = -1
    assert messages(prepared(obj)) == ["spec.replicas: Invalid value: -1: must be greater than or equal to 0",
                                       "spec.selector: Invalid value: {}: empty selector is invalid for deployment"]


def test_selector_is_immutable() -> None:
    stored = prepared(deployment(), rv="20")
    new = copy.deepcopy(stored)
    new["spec"]["selector"] = {"matchLabels": {"tier": "fe", "app": "web"}}
    new["spec"]["template"]["metadata"]["labels"]["tier"] = "fe"
    assert status_message(new, stored) == ('Deployment.apps "web" is invalid: spec.selector: Invalid value: '
                                           '{"matchLabels":{"app":"web","tier":"fe"}}: field is immutable')
    scaled = copy.deepcopy(stored)
    scaled["spec"]["replicas"] = 5
    assert messages(scaled, stored) == []


def test_deployment_template_restart_policy_and_strategy() -> None:
    obj = deployment()
    obj["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    obj["spec"]["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "0%"}}
    assert messages(prepared(obj)) == [
        'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"',
        "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0",
    ]


def test_statefulset_update_forbidden_fields() -> None:
    sts = deployment() | {"kind": "StatefulSet"}
    sts["spec"]["serviceName"] = "web"
    stored = prepared(sts, rv="3")
    new = copy.deepcopy(stored)
    new["spec"]["serviceName"] = "other"
    assert messages(new, stored) == [
        "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
        "'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' "
        "are forbidden"]


def test_daemonset_selector_mismatch_and_update_strategy() -> None:
    ds = deployment({"app": "agent"}) | {"kind": "DaemonSet"}
    del ds["spec"]["replicas"]
    ds["spec"]["updateStrategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0}}
    assert messages(prepared(ds)) == [
        'spec.template.metadata.labels: Invalid value: {"app":"agent"}: `selector` does not match template `labels`',
        "spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0",
    ]


def job(restart_policy: str | None = "Never") -> Obj:
    spec: Obj = {"containers": [{"name": "pi", "image": "perl:5.34"}]}
    if restart_policy:
        spec["restartPolicy"] = restart_policy
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi", "namespace": "batch", "uid": "j1"},
            "spec": {"template": {"spec": spec}}}


def test_job_restart_policy() -> None:
    assert status_message(prepared(job(None))) == ('Job.batch "pi" is invalid: spec.template.spec.restartPolicy: Required '
                                                   'value: valid values: "OnFailure", "Never"')
    assert messages(prepared(job("OnFailure"))) == []


def test_job_selector_and_template_are_immutable() -> None:
    stored = prepared(job(), rv="4")
    new = copy.deepcopy(stored)
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "perl:5.40"
    [text] = messages(new, stored)
    assert text.startswith("spec.template: Invalid value: {") and text.endswith("}: field is immutable")
    new = copy.deepcopy(stored)
    new["spec"]["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": "j1", "x": "y"}}
    assert 'spec.selector: Invalid value: {"matchLabels":{"batch.kubernetes.io/controller-uid":"j1","x":"y"}}: ' \
           "field is immutable" in messages(new, stored)


def test_job_with_foreign_selector() -> None:
    obj = job()
    obj["spec"]["selector"] = {"matchLabels": {"app": "pi"}}
    obj["spec"]["template"]["metadata"] = {"labels": {"app": "pi"}}
    out = prepared(obj)
    assert 'spec.selector: Invalid value: {"matchLabels":{"app":"pi","batch.kubernetes.io/controller-uid":"j1"}}: ' \
           "`selector` not auto-generated" in messages(out)


@pytest.mark.parametrize("schedule, error", [
    ("*/5 * * * *", None),
    ("@hourly", None),
    ("0 3 * * mon-fri", None),
    ("*/5 * * *", "expected exactly 5 fields, found 4: [*/5 * * *]"),
    ("0 25 * * *", "end of range (25) above maximum (23): 25"),
    ("x * * * *", 'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax'),
    ("@fortnightly", "unrecognized descriptor: @fortnightly"),
])
def test_cron_schedules(schedule: str, error: str | None) -> None:
    assert cron_schedule_error(schedule) == error


def test_cronjob_validation() -> None:
    cron = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly", "namespace": "ops"},
            "spec": {"schedule": "61 * * * *", "timeZone": "Mars/Olympus", "jobTemplate": {"spec": {"template": {
                "spec": {"restartPolicy": "OnFailure", "containers": [{"name": "b", "image": "backup:2"}]}}}}}}
    assert messages(prepared(cron)) == [
        'spec.schedule: Invalid value: "61 * * * *": end of range (61) above maximum (59): 61',
        'spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus',
    ]


# -- services, config, storage, nodes -----------------------------------------------------------


def service(**spec: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"}, "spec": spec}


def test_service_ports() -> None:
    assert messages(prepared(service(selector={"app": "web"}))) == ["spec.ports: Required value"]
    assert messages(prepared(service(clusterIP="None", selector={"app": "web"}))) == []
    obj = prepared(service(ports=[{"port": 80}, {"port": 0, "name": "admin"}, {"name": "x", "port": 80}]))
    assert messages(obj) == [
        "spec.ports[0].name: Required value",
        "spec.ports[1].port: Invalid value: 0: must be between 1 and 65535, inclusive",
        "spec.ports[1].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive",
        'spec.ports[2]: Duplicate value: {"Name":"","Protocol":"TCP","AppProtocol":null,"Port":80,"TargetPort":0,'
        '"NodePort":0}',
    ]


def test_cluster_ip_is_immutable() -> None:
    stored = prepared(service(clusterIP="10.96.0.10", ports=[{"port": 53, "protocol": "UDP"}]), rv="2")
    new = copy.deepcopy(stored)
    new["spec"]["clusterIP"] = "10.96.0.11"
    new["spec"]["clusterIPs"] = ["10.96.0.11"]
    assert status_message(new, stored) == ('Service "web" is invalid: spec.clusterIPs[0]: Invalid value: '
                                           '["10.96.0.11"]: may not change once set')


def test_nodeport_forbidden_for_cluster_ip() -> None:
    obj = prepared(service(ports=[{"port": 80, "nodePort": 30080}]))
    assert messages(obj) == ["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"]


def test_config_map_and_secret_keys() -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"},
          "data": {"app.properties": "x", "bad key": "y", "..hidden": "z"}}
    assert messages(prepared(cm)) == [
        'data[bad key]: Invalid value: "bad key": a valid config key must consist of alphanumeric characters, '
        "'-', '_' or '.' (e.g. 'key.name', or 'KEY_NAME', or 'key-name', regex used for validation is "
        "'[-._a-zA-Z0-9]+')",
        "data[..hidden]: Invalid value: \"..hidden\": must not start with '..'",
    ]
    tls = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "cert"}, "type": "kubernetes.io/tls",
           "data": {"tls.crt": "Y2VydA=="}}
    assert messages(prepared(tls)) == ["data[tls.key]: Required value"]


def test_secret_type_and_immutable_config_map_updates() -> None:
    stored = prepared({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {}}, rv="1")
    new = copy.deepcopy(stored)
    new["type"] = "kubernetes.io/basic-auth"
    new["data"] = {"username": "YQ=="}
    assert messages(new, stored) == ['type: Invalid value: "kubernetes.io/basic-auth": field is immutable']
    cm = prepared({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "immutable": True,
                   "data": {"k": "v"}}, rv="1")
    changed = copy.deepcopy(cm)
    changed["data"]["k"] = "w"
    assert messages(changed, cm) == ["data: Forbidden: field is immutable when `immutable` is set"]


def test_pvc_validation_and_update() -> None:
    pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"}, "spec": {}}
    assert messages(prepared(pvc)) == ["spec.accessModes: Required value: at least 1 access mode is required",
                                       "spec.resources[storage]: Required value"]
    pvc["spec"] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    stored = prepared(pvc, rv="5")
    new = copy.deepcopy(stored)
    new["spec"]["accessModes"] = ["ReadWriteMany"]
    text = messages(new, stored)[0]
    assert text.startswith("spec: Forbidden: spec is immutable after creation except resources.requests and "
                           "volumeAttributesClassName for bound claims\n  core.PersistentVolumeClaimSpec{\n")
    assert '- \tAccessModes: ["ReadWriteOnce"],\n+ \tAccessModes: ["ReadWriteMany"],' in text


def test_node_taints() -> None:
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"},
            "spec": {"taints": [{"key": "dedicated", "value": "db", "effect": "NoRun"}]}}
    assert messages(prepared(node)) == ['metadata.taints[0].effect: Unsupported value: "NoRun": supported values: '
                                        '"NoSchedule", "PreferNoSchedule", "NoExecute"']


# -- networking, policy, autoscaling, RBAC --------------------------------------------------------


def test_network_policy_fields() -> None:
    netpol = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "db"},
              "spec": {"podSelector": {"matchExpressions": [{"key": "app", "operator": "Equals"}]},
                       "ingress": [{"from": [{}, {"ipBlock": {"cidr": "10.0.0.1/8"}, "podSelector": {}}],
                                    "ports": [{"port": 70000}, {"port": "postgres", "endPort": 6000}]}]}}
    assert messages(prepared(netpol)) == [
        'spec.podSelector.matchExpressions[0].operator: Invalid value: "Equals": not a valid selector operator',
        "spec.ingress[0].ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive",
        "spec.ingress[0].ports[1].endPort: Invalid value: 6000: may not be specified when `port` is non-numeric",
        "spec.ingress[0].from[0]: Required value: must specify a peer",
        'spec.ingress[0].from[1].ipBlock.cidr: Invalid value: "10.0.0.1/8": must not have bits set beyond the '
        "prefix length",
        "spec.ingress[0].from[1]: Forbidden: may not specify both ipBlock and another peer",
    ]


def test_pdb_and_hpa() -> None:
    pdb = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "web"},
           "spec": {"minAvailable": "150%", "selector": {"matchLabels": {"app": "web"}}}}
    assert messages(prepared(pdb)) == ['spec.minAvailable: Invalid value: "150%": must not be greater than 100%']
    hpa = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"},
           "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment"}, "minReplicas": 4,
                    "maxReplicas": 2}}
    assert messages(prepared(hpa)) == [
        "spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`",
        "spec.scaleTargetRef.name: Required value",
    ]


def test_rbac_rules_and_role_ref() -> None:
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "reader"},
            "rules": [{"apiGroups": [""], "resources": ["pods"]}, {"verbs": ["get"], "nonResourceURLs": ["/healthz"]}]}
    assert messages(prepared(role)) == [
        "rules[0].verbs: Required value: verbs must contain at least one value",
        'rules[1].nonResourceURLs: Invalid value: ["/healthz"]: namespaced rules cannot apply to non-resource URLs',
    ]
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "read"},
               "roleRef": {"kind": "Role", "name": "reader"}, "subjects": [{"kind": "User", "name": "alice"}]}
    stored = prepared(binding, rv="8")
    assert messages(stored) == []
    new = copy.deepcopy(stored)
    new["roleRef"]["name"] = "admin"
    assert status_message(new, stored) == (
        'RoleBinding.rbac.authorization.k8s.io "read" is invalid: roleRef: Invalid value: '
        '{"APIGroup":"rbac.authorization.k8s.io","Kind":"Role","Name":"admin"}: cannot change roleRef')
    cluster = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "x"},
               "roleRef": {"kind": "Role", "name": "r"}, "subjects": [{"kind": "ServiceAccount", "name": "agent"}]}
    assert messages(prepared(cluster)) == ['roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"',
                                           "subjects[0].namespace: Required value"]


# -- decoding -----------------------------------------------------------------------------------


def test_malformed_quantity_is_a_bad_request() -> None:
    obj = deployment()
    obj["spec"]["template"]["spec"]["containers"][0]["resources"] = {"limits": {"memory": "1GB"}}
    with pytest.raises(APIError) as err:
        check_decodable(kind_of(obj), obj)
    assert (err.value.code, err.value.reason) == (400, "BadRequest")
    assert err.value.message == ('Deployment in version "v1" cannot be handled as a Deployment: quantities must match '
                                 "the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")


def test_bad_secret_base64_is_a_bad_request() -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"token": "abc"}}
    with pytest.raises(APIError) as err:
        check_decodable(kind_of(secret), secret)
    assert err.value.message == ('Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input '
                                 "byte 0")
    check_decodable(kind_of(secret), secret | {"data": {"token": "c2VjcmV0"}})


def test_pod_update_keeps_user_tolerations_without_seconds() -> None:
    stored = prepared(pod(tolerations=[{"key": "dedicated", "operator": "Equal", "value": "web",
                                        "effect": "NoSchedule"}]), rv="3")
    new = copy.deepcopy(stored)
    new["spec"]["containers"][0]["image"] = "nginx:1.28"
    assert messages(new, stored) == []
