"""Kubernetes protobuf request bodies: the table-driven decoder, and real kubectl writing through it."""

from __future__ import annotations

import base64
import copy
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from conftest import Kubectl

from chaositbench.sim.errors import APIError
from chaositbench.sim.server import SimServer
from chaositbench.sim.protobuf import (MAGIC, FieldSpec, MessageSpec, decode_message, decode_request, is_protobuf,
                                       message_table)

# ---------------------------------------------------------------------------
# A test-only encoder, driven by the same table: JSON object -> protobuf bytes

_VARINT_TYPES = {"bool", "int32", "int64"}


def _varint(value: int) -> bytes:
    """A base-128 varint."""
    value &= (1 << 64) - 1  # negative numbers as ten-byte two's complement
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _key(number: int, wire: int) -> bytes:
    """A field key: number and wire type."""
    return _varint(number << 3 | wire)


def _length_delimited(number: int, payload: bytes) -> bytes:
    """A wire-type-2 field."""
    return _key(number, 2) + _varint(len(payload)) + payload


def _scalar_payload(type_: str, value: Any) -> bytes:
    """A scalar's encoded value, without key (and, for bytes-like types, without length)."""
    if type_ in _VARINT_TYPES:
        return _varint(int(value))
    if type_ == "string":
        return value.encode()
    if type_ == "bytes":
        return base64.b64decode(value)
    return json.dumps(value).encode()  # "json"


def _encode_value(field: FieldSpec, number: int, value: Any, packed: bool) -> bytes:
    """One occurrence of ``field`` numbered ``number`` (a map entry's key/value reuse this)."""
    if field.scalar:
        if field.type in _VARINT_TYPES:
            return _key(number, 0) + _scalar_payload(field.type, value)
        return _length_delimited(number, _scalar_payload(field.type, value))
    return _length_delimited(number, encode(value, field.type, packed=packed))


def _encode_field(field: FieldSpec, value: Any, packed: bool) -> bytes:
    """All occurrences of a field: map entries, repeated elements (optionally packed) or the one value."""
    if field.map_value:
        return b"".join(_length_delimited(field.number, _length_delimited(1, k.encode())
                                          + _encode_value(field, 2, v, packed)) for k, v in value.items())
    if field.repeated:
        if packed and field.type in _VARINT_TYPES:
            return _length_delimited(field.number, b"".join(_scalar_payload(field.type, v) for v in value))
        return b"".join(_encode_value(field, field.number, v, packed) for v in value)
    return _encode_value(field, field.number, value, packed)


def _json_names(message: MessageSpec) -> set[str]:
    """The JSON keys a message's object may carry (inline messages contribute theirs)."""
    names: set[str] = set()
    for field in message.fields.values():
        names |= _json_names(message_table().messages[field.type]) if field.inline else {field.json_name}
    return names


def _seconds_nanos(text: str) -> dict[str, int]:
    """An RFC 3339 time as the {seconds, nanos} of a Time message."""
    instant = datetime.fromisoformat(text)
    return {"seconds": int(instant.timestamp()), "nanos": instant.microsecond * 1000}


def encode(value: Any, message_name: str, *, packed: bool = False) -> bytes:
    """The protobuf encoding of a JSON value of message ``message_name`` (unknown keys are an error)."""
    message = message_table().messages[message_name]
    if message.format in ("time", "microtime"):
        value = {} if value is None else _seconds_nanos(value)
    elif message.format == "intorstring":
        value = {"type": 1, "strVal": value} if isinstance(value, str) else {"type": 0, "intVal": value}
    elif message.unwrap is not None:
        value = {message.unwrap: value}
    unknown = set(value) - _json_names(message)
    assert not unknown, f"{message_name} has no fields {unknown}"
    out = b""
    for field in message.fields.values():
        if field.inline:
            inner = {k: v for k, v in value.items() if k in _json_names(message_table().messages[field.type])}
            if inner:
                out += _length_delimited(field.number, encode(inner, field.type, packed=packed))
        elif field.json_name in value:
            out += _encode_field(field, value[field.json_name], packed)
    return out


def envelope(obj: dict[str, Any], message_name: str, *, packed: bool = False) -> bytes:
    """A request body as client-go writes it: magic, then runtime.Unknown{typeMeta, raw}."""
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
    type_meta = _length_delimited(1, obj["apiVersion"].encode()) + _length_delimited(2, obj["kind"].encode())
    return MAGIC + _length_delimited(1, type_meta) + _length_delimited(2, encode(body, message_name, packed=packed))


def round_trip(obj: dict[str, Any], message_name: str, *, packed: bool = False) -> dict[str, Any]:
    """``obj`` encoded as a request body, then decoded by the server's decoder."""
    return decode_request(envelope(obj, message_name, packed=packed))


# ---------------------------------------------------------------------------
# Objects in the JSON form the JSON encoding gives (no zero omitempty scalars)

META = {
    "name": "web", "namespace": "shop", "uid": "5b3c0e59-1a4f-4f0e-9a51-2d1a9c0e7f11", "resourceVersion": "812",
    "generation": 3, "creationTimestamp": "2026-03-01T08:15:30Z",
    "labels": {"app": "web", "tier": "frontend"},
    "annotations": {"deployment.kubernetes.io/revision": "2", "note": "línea ünïcode ✓"},
    "ownerReferences": [{"apiVersion": "v1", "kind": "Namespace", "name": "shop",
                         "uid": "0f6b6a57-7a47-4e39-a26c-8a0fd4bd2a63", "controller": True,
                         "blockOwnerDeletion": False}],
    "finalizers": ["example.com/cleanup"],
    "managedFields": [{"manager": "kubectl-create", "operation": "Update", "apiVersion": "apps/v1",
                       "time": "2026-03-01T08:15:30Z", "fieldsType": "FieldsV1",
                       "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:app": {}}}}}],
}

POD_SPEC: dict[str, Any] = {
    "volumes": [
        {"name": "config", "configMap": {"name": "web-config", "items": [{"key": "app.yaml", "path": "app.yaml",
                                                                          "mode": 420}],
                                         "defaultMode": 420, "optional": False}},
        {"name": "tls", "secret": {"secretName": "web-tls", "defaultMode": 256}},
        {"name": "cache", "emptyDir": {"medium": "Memory", "sizeLimit": "256Mi"}},
        {"name": "data", "persistentVolumeClaim": {"claimName": "web-data", "readOnly": True}},
        {"name": "logs", "hostPath": {"path": "/var/log/web", "type": "DirectoryOrCreate"}},
        {"name": "podinfo", "downwardAPI": {"items": [
            {"path": "labels", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.labels"}},
            {"path": "cpu", "resourceFieldRef": {"containerName": "web", "resource": "limits.cpu",
                                                 "divisor": "1m"}}]}},
        {"name": "token", "projected": {"defaultMode": 420, "sources": [
            {"serviceAccountToken": {"audience": "vault", "expirationSeconds": 3607, "path": "token"}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace",
                                        "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}},
    ],
    "initContainers": [{"name": "migrate", "image": "web:2.4.1", "command": ["/bin/migrate"],
                        "args": ["--to", "latest"], "resources": {}}],
    "containers": [{
        "name": "web", "image": "registry.example.com/web:2.4.1", "workingDir": "/srv",
        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"},
                  {"name": "metrics", "containerPort": 9090, "hostPort": 0, "protocol": "TCP"}],
        "envFrom": [{"configMapRef": {"name": "web-env"}}, {"prefix": "DB_", "secretRef": {"name": "db",
                                                                                          "optional": True}}],
        "env": [
            {"name": "MODE", "value": "production"},
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
            {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
            {"name": "LEVEL", "valueFrom": {"configMapKeyRef": {"name": "web-env", "key": "level",
                                                                "optional": False}}},
            {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
        ],
        "resources": {"limits": {"cpu": "500m", "memory": "512Mi"}, "requests": {"cpu": "250m", "memory": "256Mi"}},
        "volumeMounts": [{"name": "config", "mountPath": "/etc/web", "readOnly": True},
                         {"name": "cache", "mountPath": "/cache", "subPath": "web"}],
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP",
                                      "httpHeaders": [{"name": "X-Probe", "value": "1"}]},
                          "initialDelaySeconds": 10, "timeoutSeconds": 1, "periodSeconds": 10,
                          "successThreshold": 1, "failureThreshold": 3},
        "readinessProbe": {"tcpSocket": {"port": "http"}, "periodSeconds": 5},
        "startupProbe": {"exec": {"command": ["cat", "/tmp/ready"]}, "failureThreshold": 30,
                         "terminationGracePeriodSeconds": 15},
        "lifecycle": {"preStop": {"exec": {"command": ["sh", "-c", "sleep 5"]}},
                      "postStart": {"httpGet": {"path": "/started", "port": "http"}}},
        "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
        "imagePullPolicy": "IfNotPresent",
        "securityContext": {"capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]}, "privileged": False,
                            "runAsUser": 1000, "runAsNonRoot": True, "readOnlyRootFilesystem": False,
                            "allowPrivilegeEscalation": False, "seccompProfile": {"type": "RuntimeDefault"}},
    }, {"name": "sidecar", "image": "envoy:1.30", "ports": [{"containerPort": 15000}],
        "readinessProbe": {"grpc": {"port": 15001, "service": "ready"}}, "resources": {}, "stdin": True,
        "tty": True}],
    "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "activeDeadlineSeconds": 0,
    "dnsPolicy": "ClusterFirst", "nodeSelector": {"kubernetes.io/os": "linux"},
    "serviceAccountName": "web", "serviceAccount": "web", "automountServiceAccountToken": False,
    "securityContext": {"runAsUser": 1000, "runAsGroup": 3000, "fsGroup": 2000,
                        "supplementalGroups": [4000, 5000], "sysctls": [{"name": "net.core.somaxconn",
                                                                        "value": "1024"}]},
    "imagePullSecrets": [{"name": "registry"}],
    "affinity": {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["eu-1a", "eu-1b"]}]}]},
            "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 50, "preference": {"matchExpressions": [
                {"key": "node.kubernetes.io/instance-type", "operator": "NotIn", "values": ["small"]}]}}]},
        "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
            "weight": 100, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "web"}},
                                               "topologyKey": "kubernetes.io/hostname"}}]},
    },
    "schedulerName": "default-scheduler",
    "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
                     "tolerationSeconds": 300}, {"key": "dedicated", "operator": "Equal", "value": "web",
                                                 "effect": "NoSchedule"}],
    "hostAliases": [{"ip": "10.0.0.5", "hostnames": ["db.local"]}],
    "priorityClassName": "high", "priority": -5,
    "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                                   "whenUnsatisfiable": "ScheduleAnyway",
                                   "labelSelector": {"matchExpressions": [
                                       {"key": "app", "operator": "In", "values": ["web"]}]}}],
    "enableServiceLinks": True,
}

DEPLOYMENT = {
    "kind": "Deployment", "apiVersion": "apps/v1", "metadata": META,
    "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}},
             "template": {"metadata": {"creationTimestamp": None, "labels": {"app": "web"}}, "spec": POD_SPEC},
             "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}},
             "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600},
    "status": {"observedGeneration": 3, "replicas": 2, "conditions": [
        {"type": "Available", "status": "True", "lastUpdateTime": "2026-03-01T08:16:00Z",
         "lastTransitionTime": "2026-03-01T08:16:00Z", "reason": "MinimumReplicasAvailable",
         "message": "Deployment has minimum availability."}]},
}


def _deployment_expected() -> dict[str, Any]:
    """DEPLOYMENT as JSON carries it: a zero hostPort (int32, omitempty) goes; activeDeadlineSeconds (*int64) stays."""
    expected = copy.deepcopy(DEPLOYMENT)
    del expected["spec"]["template"]["spec"]["containers"][0]["ports"][1]["hostPort"]
    return expected


def test_deployment_with_a_full_pod_template_round_trips() -> None:
    assert round_trip(DEPLOYMENT, "apps.v1.Deployment") == _deployment_expected()


def test_json_key_order_follows_the_go_struct_order() -> None:
    decoded = round_trip(DEPLOYMENT, "apps.v1.Deployment")
    assert list(decoded) == ["kind", "apiVersion", "metadata", "spec", "status"]
    container = decoded["spec"]["template"]["spec"]["containers"][0]
    assert list(container)[:6] == ["name", "image", "workingDir", "ports", "envFrom", "env"]


@pytest.mark.parametrize("obj, message", [
    ({"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "x", "creationTimestamp": None},
      "spec": {"finalizers": ["kubernetes"]}, "status": {}}, "core.v1.Namespace"),
    ({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "c", "creationTimestamp": None},
      "immutable": False, "data": {"a": "b", "empty": ""}, "binaryData": {"blob": "AAEC/w=="}}, "core.v1.ConfigMap"),
    ({"kind": "Secret", "apiVersion": "v1", "metadata": {"name": "s", "creationTimestamp": None},
      "data": {"password": base64.b64encode(b"hunter2\x00\xff").decode()}, "type": "Opaque"}, "core.v1.Secret"),
    ({"kind": "ServiceAccount", "apiVersion": "v1", "metadata": {"name": "robot", "creationTimestamp": None},
      "secrets": [{"name": "robot-token"}], "automountServiceAccountToken": False}, "core.v1.ServiceAccount"),
    ({"kind": "Service", "apiVersion": "v1", "metadata": {"name": "web", "creationTimestamp": None},
      "spec": {"ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": "http"},
                         {"name": "https", "port": 443, "targetPort": 8443, "nodePort": 30443}],
               "selector": {"app": "web"}, "type": "ClusterIP", "clusterIP": "None",
               "sessionAffinity": "ClientIP",
               "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}}},
      "status": {"loadBalancer": {}}}, "core.v1.Service"),
    ({"kind": "ResourceQuota", "apiVersion": "v1", "metadata": {"name": "q", "creationTimestamp": None},
      "spec": {"hard": {"pods": "10", "requests.cpu": "4", "limits.memory": "8Gi"},
               "scopeSelector": {"matchExpressions": [{"scopeName": "PriorityClass", "operator": "In",
                                                       "values": ["high"]}]}},
      "status": {}}, "core.v1.ResourceQuota"),
    ({"kind": "Job", "apiVersion": "batch/v1", "metadata": {"name": "once", "creationTimestamp": None},
      "spec": {"parallelism": 2, "completions": 4, "backoffLimit": 0, "ttlSecondsAfterFinished": 100,
               "podFailurePolicy": {"rules": [{"action": "FailJob", "onExitCodes": {
                   "containerName": "main", "operator": "In", "values": [1, 2, 42]}}]},
               "template": {"metadata": {"creationTimestamp": None},
                            "spec": {"containers": [{"name": "main", "image": "busybox", "command": ["false"],
                                                     "resources": {}}], "restartPolicy": "Never"}}},
      "status": {}}, "batch.v1.Job"),
    ({"kind": "CronJob", "apiVersion": "batch/v1", "metadata": {"name": "nightly", "creationTimestamp": None},
      "spec": {"schedule": "0 3 * * *", "timeZone": "Etc/UTC", "concurrencyPolicy": "Forbid", "suspend": False,
               "successfulJobsHistoryLimit": 3, "jobTemplate": {
                   "metadata": {"creationTimestamp": None, "name": "nightly"},
                   "spec": {"template": {"metadata": {"creationTimestamp": None}, "spec": {
                       "containers": [{"name": "nightly", "image": "busybox", "resources": {}}],
                       "restartPolicy": "OnFailure"}}}}},
      "status": {}}, "batch.v1.CronJob"),
    ({"kind": "ClusterRole", "apiVersion": "rbac.authorization.k8s.io/v1",
      "metadata": {"name": "reader", "creationTimestamp": None},
      "rules": [{"verbs": ["get", "list", "watch"], "apiGroups": ["", "apps"], "resources": ["pods", "deployments"],
                 "resourceNames": ["web"]}, {"verbs": ["get"], "nonResourceURLs": ["/healthz"]}],
      "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"aggregate": "true"}}]}},
     "rbac.v1.ClusterRole"),
    ({"kind": "RoleBinding", "apiVersion": "rbac.authorization.k8s.io/v1",
      "metadata": {"name": "rb", "namespace": "shop", "creationTimestamp": None},
      "subjects": [{"kind": "ServiceAccount", "name": "robot", "namespace": "shop"},
                   {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "alice"}],
      "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"}},
     "rbac.v1.RoleBinding"),
    ({"kind": "PodDisruptionBudget", "apiVersion": "policy/v1", "metadata": {"name": "pdb", "creationTimestamp": None},
      "spec": {"minAvailable": "50%", "selector": {"matchLabels": {"app": "web"}}}, "status": {
          "disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0}},
     "policy.v1.PodDisruptionBudget"),
    ({"kind": "Eviction", "apiVersion": "policy/v1", "metadata": {"name": "web-1", "namespace": "shop",
                                                                   "creationTimestamp": None},
      "deleteOptions": {"gracePeriodSeconds": 0, "preconditions": {"uid": "u-1"}, "dryRun": ["All"]}},
     "policy.v1.Eviction"),
    ({"kind": "Ingress", "apiVersion": "networking.k8s.io/v1", "metadata": {"name": "ing", "creationTimestamp": None},
      "spec": {"ingressClassName": "nginx", "tls": [{"hosts": ["shop.example.com"], "secretName": "tls"}],
               "rules": [{"host": "shop.example.com", "http": {"paths": [
                   {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web",
                                                                               "port": {"number": 80}}}},
                   {"path": "/api", "pathType": "Exact", "backend": {"service": {"name": "api",
                                                                                 "port": {"name": "http"}}}}]}}]},
      "status": {"loadBalancer": {}}}, "networking.v1.Ingress"),
    ({"kind": "PriorityClass", "apiVersion": "scheduling.k8s.io/v1",
      "metadata": {"name": "low", "creationTimestamp": None}, "value": -100, "description": "batch",
      "preemptionPolicy": "Never"}, "scheduling.v1.PriorityClass"),
    ({"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1", "metadata": {"creationTimestamp": None},
      "spec": {"audiences": ["https://kubernetes.default.svc"], "expirationSeconds": 600,
               "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "web-1", "uid": "u-1"}},
      "status": {"token": "", "expirationTimestamp": None}}, "authentication.v1.TokenRequest"),
    ({"kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1", "metadata": {"creationTimestamp": None},
      "status": {"userInfo": {"username": "alice", "groups": ["dev"], "extra": {"scopes": ["a", "b"]}}}},
     "authentication.v1.SelfSubjectReview"),
    ({"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
      "metadata": {"creationTimestamp": None},
      "spec": {"resourceAttributes": {"namespace": "default", "verb": "list", "resource": "pods",
                                      "subresource": "log"}},
      "status": {"allowed": False}}, "authorization.v1.SelfSubjectAccessReview"),
    ({"kind": "SelfSubjectRulesReview", "apiVersion": "authorization.k8s.io/v1",
      "metadata": {"creationTimestamp": None}, "spec": {"namespace": "default"},
      "status": {"resourceRules": [{"verbs": ["get"], "resources": ["pods"]}], "incomplete": True}},
     "authorization.v1.SelfSubjectRulesReview"),
    ({"kind": "SubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
      "metadata": {"creationTimestamp": None},
      "spec": {"nonResourceAttributes": {"path": "/metrics", "verb": "get"}, "user": "bob",
               "groups": ["ops"], "extra": {"team": ["sre"]}, "uid": "42"}, "status": {"allowed": True}},
     "authorization.v1.SubjectAccessReview"),
    ({"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": {"name": "web", "namespace": "shop",
                                                                     "creationTimestamp": None},
      "spec": {"replicas": 5}, "status": {"replicas": 0}}, "autoscaling.v1.Scale"),
    ({"kind": "CertificateSigningRequest", "apiVersion": "certificates.k8s.io/v1",
      "metadata": {"name": "csr", "creationTimestamp": None},
      "spec": {"request": base64.b64encode(b"-----BEGIN CERTIFICATE REQUEST-----").decode(),
               "signerName": "kubernetes.io/kube-apiserver-client", "expirationSeconds": 86400,
               "usages": ["client auth"], "username": "alice", "extra": {"scopes": ["x"]}},
      "status": {"conditions": [{"type": "Approved", "status": "True", "reason": "KubectlApprove",
                                 "message": "ok", "lastUpdateTime": "2026-01-02T03:04:05Z",
                                 "lastTransitionTime": None}]}},
     "certificates.v1.CertificateSigningRequest"),
    ({"kind": "Event", "apiVersion": "v1", "metadata": {"name": "e", "creationTimestamp": None},
      "involvedObject": {"kind": "Pod", "name": "web-1"}, "reason": "Started", "source": {},
      "firstTimestamp": None, "lastTimestamp": None, "eventTime": "2026-03-01T08:15:30.123456Z",
      "reportingComponent": "", "reportingInstance": ""}, "core.v1.Event"),
])
def test_kinds_kubectl_sends_round_trip(obj: dict[str, Any], message: str) -> None:
    assert round_trip(obj, message) == obj


def test_packed_repeated_integers_decode_like_unpacked_ones() -> None:
    job = {"kind": "Job", "apiVersion": "batch/v1", "metadata": {"name": "j"},
           "spec": {"podFailurePolicy": {"rules": [{"action": "Ignore", "onExitCodes": {
               "operator": "NotIn", "values": [0, 1, 255]}}]},
                    "template": {"spec": {"securityContext": {"supplementalGroups": [1, 2, 3]}}}}}
    assert round_trip(job, "batch.v1.Job", packed=True) == round_trip(job, "batch.v1.Job") == job


def test_zero_scalars_follow_json_omitempty_and_pointer_fields_keep_them() -> None:
    sent = {"kind": "Deployment", "apiVersion": "apps/v1",
            "metadata": {"name": "d", "generateName": "", "namespace": "", "uid": "", "generation": 0,
                         "creationTimestamp": None},
            "spec": {"replicas": 0, "minReadySeconds": 0, "paused": False, "progressDeadlineSeconds": 0,
                     "template": {"spec": {"containers": [{"name": "", "image": "", "stdin": False,
                                                           "ports": [{"containerPort": 0, "hostPort": 0}]}],
                                           "automountServiceAccountToken": False}}}}
    assert round_trip(sent, "apps.v1.Deployment") == {
        "kind": "Deployment", "apiVersion": "apps/v1", "metadata": {"name": "d", "creationTimestamp": None},
        "spec": {"replicas": 0, "progressDeadlineSeconds": 0,
                 "template": {"spec": {"containers": [{"name": "", "ports": [{"containerPort": 0}]}],
                                       "automountServiceAccountToken": False}}}}


def test_empty_time_is_null_and_times_are_rfc3339() -> None:
    assert message_table().messages["meta.v1.ObjectMeta"].fields[8].type == "meta.v1.Time"
    assert decode_message("meta.v1.ObjectMeta", _length_delimited(8, b"")) == {"creationTimestamp": None}
    stamp = _key(1, 0) + _varint(1_767_225_600) + _key(2, 0) + _varint(999_999_999)
    assert decode_message("meta.v1.ObjectMeta", _length_delimited(9, stamp)) == {
        "deletionTimestamp": "2026-01-01T00:00:00Z"}
    assert decode_message("meta.v1.MicroTime", _key(1, 0) + _varint(0) + _key(2, 0) + _varint(1500)) == \
        "1970-01-01T00:00:00.000001Z"


def test_int_or_string_quantity_and_extra_values_decode_to_json_scalars_and_lists() -> None:
    assert decode_message("intstr.IntOrString", _key(2, 0) + _varint(8080)) == 8080
    assert decode_message("intstr.IntOrString", _key(1, 0) + _varint(1) + _length_delimited(3, b"http")) == "http"
    assert decode_message("resource.Quantity", _length_delimited(1, b"1.5Gi")) == "1.5Gi"
    assert decode_message("authentication.v1.ExtraValue", b"") == []
    assert decode_message("runtime.RawExtension", _length_delimited(1, b'{"a": [1]}')) == {"a": [1]}
    assert decode_message("runtime.RawExtension", b"") is None


def test_negative_int32_spans_ten_bytes() -> None:
    body = envelope({"kind": "PriorityClass", "apiVersion": "scheduling.k8s.io/v1", "value": -1},
                    "scheduling.v1.PriorityClass")
    assert _varint(-1) == b"\xff" * 9 + b"\x01"
    assert decode_request(body)["value"] == -1


def test_unknown_field_numbers_of_every_wire_type_are_skipped() -> None:
    extra = (_key(900, 0) + _varint(7) + _key(901, 1) + b"\x00" * 8 + _key(902, 5) + b"\x00" * 4
             + _length_delimited(903, b"future"))
    raw = _length_delimited(1, _length_delimited(1, b"cm") + extra) + extra + _length_delimited(2, _length_delimited(
        1, b"k") + _length_delimited(2, b"v") + extra)
    type_meta = _length_delimited(1, b"v1") + _length_delimited(2, b"ConfigMap")
    body = MAGIC + _length_delimited(1, type_meta) + _length_delimited(2, raw) + extra
    assert decode_request(body) == {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "cm"},
                                    "data": {"k": "v"}}


def test_map_entries_without_value_hold_the_zero_value() -> None:
    raw = _length_delimited(2, _length_delimited(1, b"k")) + _length_delimited(3, _length_delimited(1, b"b"))
    assert decode_message("core.v1.ConfigMap", raw) == {"data": {"k": ""}, "binaryData": {"b": ""}}


def test_delete_options_resolve_in_meta_for_any_group_version() -> None:
    body = envelope({"kind": "DeleteOptions", "apiVersion": "policy/v1", "propagationPolicy": "Foreground",
                     "gracePeriodSeconds": 30}, "meta.v1.DeleteOptions")
    assert decode_request(body) == {"kind": "DeleteOptions", "apiVersion": "policy/v1", "gracePeriodSeconds": 30,
                                    "propagationPolicy": "Foreground"}


# Bodies as kubectl 1.37 sent them to a logging server.
KUBECTL_CREATE_NAMESPACE = bytes.fromhex(
    "6b3873000a0f0a02763112094e616d65737061636512190a110a017812001a0022002a0032003800420012001a020a001a002200")
KUBECTL_CREATE_DEPLOYMENT = bytes.fromhex(
    "6b3873000a150a07617070732f7631120a4465706c6f796d656e7412b0010a1f0a0377656212001a0022002a003200380042005a0a0a"
    "036170701203776562127f0802120c0a0a0a0361707012037765621a650a1c0a0012001a0022002a003200380042005a0a0a03617070"
    "1203776562124512270a056e67696e78120a6e67696e783a312e32372a0042006a007200800100880100900100a201001a0032004200"
    "4a0052005800600068008201008a01009a0100c2010022020a00280038001a0c0800100018002000280038001a002200")
KUBECTL_CAN_I = bytes.fromhex(
    "6b3873000a320a17617574686f72697a6174696f6e2e6b38732e696f2f7631121753656c665375626a656374416363657373526576"
    "696577123d0a100a0012001a0022002a00320038004200121f0a1d0a0764656661756c7412046c6973741a0022002a04706f6473320"
    "03a001a08080012001a0020001a002200")


def test_bodies_kubectl_sends_decode_to_what_it_would_send_as_json() -> None:
    assert decode_request(KUBECTL_CREATE_NAMESPACE) == {
        "kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "x", "creationTimestamp": None},
        "spec": {}, "status": {}}
    assert decode_request(KUBECTL_CREATE_DEPLOYMENT) == {
        "kind": "Deployment", "apiVersion": "apps/v1",
        "metadata": {"name": "web", "creationTimestamp": None, "labels": {"app": "web"}},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"creationTimestamp": None, "labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27", "resources": {}}]}},
                 "strategy": {}},
        "status": {}}
    assert decode_request(KUBECTL_CAN_I) == {
        "kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
        "metadata": {"creationTimestamp": None},
        "spec": {"resourceAttributes": {"namespace": "default", "verb": "list", "resource": "pods"}},
        "status": {"allowed": False}}


@pytest.mark.parametrize("body, words", [
    (b'{"kind": "Namespace"}', "prefix"),
    (KUBECTL_CREATE_NAMESPACE[:-5], "past the end"),
    (MAGIC + b"\x0a", "truncated varint"),
    (MAGIC + b"\x0b", "wire type 3"),
    (MAGIC + _length_delimited(2, b""), "'Kind'"),
    (envelope({"kind": "Widget", "apiVersion": "example.com/v1"}, "meta.v1.DeleteOptions"), 'kind "Widget"'),
    (envelope({"kind": "Time", "apiVersion": "meta.k8s.io/v1"}, "meta.v1.DeleteOptions"), 'kind "Time"'),
    (KUBECTL_CREATE_NAMESPACE + _length_delimited(3, b"gzip"), "content encoding"),
    (MAGIC + _length_delimited(1, _length_delimited(1, b"v1") + _length_delimited(2, b"ConfigMap"))
     + _length_delimited(2, _length_delimited(1, _key(1, 0) + _varint(5))), "wire type 0"),
])
def test_undecodable_bodies_are_a_400_bad_request(body: bytes, words: str) -> None:
    with pytest.raises(APIError) as err:
        decode_request(body)
    assert err.value.code == 400 and err.value.reason == "BadRequest"
    assert words in err.value.message and "protobuf" in err.value.message


def test_deeply_nested_embedded_objects_are_a_400_not_a_crash() -> None:
    body = KUBECTL_CREATE_NAMESPACE
    type_meta = _length_delimited(1, b"v1") + _length_delimited(2, b"List")
    for _ in range(2000):  # a v1 List whose one RawExtension item is the next List, and so on
        body = MAGIC + _length_delimited(1, type_meta) + _length_delimited(2, _length_delimited(
            2, _length_delimited(1, body)))
    with pytest.raises(APIError) as err:
        decode_request(body)
    assert err.value.code == 400


@pytest.mark.parametrize("content_type, expected", [
    ("application/vnd.kubernetes.protobuf", True),
    ("application/vnd.kubernetes.protobuf; charset=utf-8", True),
    ("Application/VND.Kubernetes.Protobuf", True),
    ("application/vnd.kubernetes.protobuf;stream=watch", True),
    ("application/json", False),
    ("application/merge-patch+json", False),
    ("", False),
    (None, False),
])
def test_is_protobuf(content_type: str | None, expected: bool) -> None:
    assert is_protobuf(content_type) is expected


def test_every_group_kubectl_writes_to_resolves_its_kinds() -> None:
    table = message_table()
    for api_version, kind in [("v1", "Pod"), ("v1", "Namespace"), ("apps/v1", "Deployment"),
                              ("apps/v1", "StatefulSet"), ("batch/v1", "CronJob"),
                              ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"), ("policy/v1", "Eviction"),
                              ("networking.k8s.io/v1", "NetworkPolicy"), ("scheduling.k8s.io/v1", "PriorityClass"),
                              ("authentication.k8s.io/v1", "TokenReview"),
                              ("authorization.k8s.io/v1", "LocalSubjectAccessReview"),
                              ("autoscaling/v1", "Scale"), ("autoscaling/v2", "HorizontalPodAutoscaler"),
                              ("certificates.k8s.io/v1", "CertificateSigningRequest"), ("v1", "DeleteOptions")]:
        message = table.root(api_version, kind)
        assert message is not None and message.name.endswith("." + kind), (api_version, kind)


# ---------------------------------------------------------------------------
# Real kubectl against the simulated cluster

NS = "protobuf-e2e"


def _get(kubectl: Kubectl, *args: str) -> dict[str, Any]:
    """``kubectl get ... -o json``, parsed."""
    return json.loads(kubectl("get", *args, "-o", "json"))


def test_kubectl_create_namespace(kubectl: Kubectl) -> None:
    assert kubectl("create", "namespace", NS).strip() == f"namespace/{NS} created"
    namespace = _get(kubectl, "namespace", NS)
    assert namespace["metadata"]["name"] == NS and namespace["status"]["phase"] == "Active"


def test_kubectl_create_deployment(kubectl: Kubectl) -> None:
    kubectl("create", "deployment", "web", "--image=nginx:1.27", "--replicas=2", "-n", NS)
    deployment = _get(kubectl, "deployment", "web", "-n", NS)
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    container, = deployment["spec"]["template"]["spec"]["containers"]
    assert (container["name"], container["image"]) == ("nginx", "nginx:1.27")
    assert "stdin" not in container and deployment["metadata"]["labels"] == {"app": "web"}


def test_kubectl_create_configmap_and_secret(kubectl: Kubectl) -> None:
    kubectl("create", "configmap", "c", "--from-literal=a=b", "-n", NS)
    assert _get(kubectl, "configmap", "c", "-n", NS)["data"] == {"a": "b"}
    kubectl("create", "secret", "generic", "s", "--from-literal=password=hunter2", "-n", NS)
    secret = _get(kubectl, "secret", "s", "-n", NS)
    assert base64.b64decode(secret["data"]["password"]) == b"hunter2" and secret["type"] == "Opaque"


def test_kubectl_auth_can_i(kubectl: Kubectl) -> None:
    assert kubectl("auth", "can-i", "list", "pods").strip() == "yes"
    assert kubectl("auth", "can-i", "create", "deployments", "-n", NS).strip() == "yes"
    rules = kubectl("auth", "can-i", "--list", "-n", NS).splitlines()  # SelfSubjectRulesReview
    assert rules[0].split() == ["Resources", "Non-Resource", "URLs", "Resource", "Names", "Verbs"]
    assert any(line.split()[:3] == ["*.*", "[]", "[]"] and line.split()[-1] == "[*]" for line in rules[1:])


@pytest.fixture(scope="module")
def default_account(kubectl: Kubectl) -> str:
    """The namespace's ``default`` ServiceAccount, created by kubectl (protobuf) unless its controller did first."""
    account = kubectl.run("create", "serviceaccount", "default", "-n", NS, check=False)
    assert account.returncode == 0 or "already exists" in account.stderr, account.stderr
    return "default"


def test_kubectl_create_token(kubectl: Kubectl, default_account: str) -> None:
    token = kubectl("create", "token", "default", "-n", NS, "--duration=10m").strip()  # TokenRequest
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["sub"] == f"system:serviceaccount:{NS}:default"
    assert claims["exp"] - claims["iat"] == 600


def test_kubectl_auth_whoami(kubectl: Kubectl) -> None:
    review = json.loads(kubectl("auth", "whoami", "-o", "json"))
    assert review["kind"] == "SelfSubjectReview" and review["status"]["userInfo"]["username"]
    assert "system:authenticated" in review["status"]["userInfo"]["groups"]


@pytest.mark.parametrize("args, kind_name", [
    (["create", "serviceaccount", "robot"], "serviceaccount/robot"),
    (["create", "role", "reader", "--verb=get,list", "--resource=pods"], "role/reader"),
    (["create", "rolebinding", "reader", "--role=reader", "--serviceaccount=protobuf-e2e:robot"],
     "rolebinding/reader"),
    (["create", "quota", "q", "--hard=pods=10,requests.cpu=2"], "resourcequota/q"),
    (["create", "pdb", "web", "--selector=app=web", "--min-available=50%"], "poddisruptionbudget/web"),
    (["create", "service", "clusterip", "web", "--tcp=80:8080"], "service/web"),
    (["create", "job", "once", "--image=busybox", "--", "true"], "job/once"),
    (["create", "cronjob", "nightly", "--image=busybox", "--schedule=0 3 * * *"], "cronjob/nightly"),
    (["create", "ingress", "web", "--rule=shop.example.com/=web:80"], "ingress/web"),
])
def test_kubectl_create_commands_built_on_typed_clients(kubectl: Kubectl, args: list[str], kind_name: str) -> None:
    kubectl("-n", NS, *args)
    assert _get(kubectl, kind_name, "-n", NS)["metadata"]["name"] == kind_name.split("/")[1]


def test_kubectl_create_job_from_cronjob_copies_a_full_pod_template(kubectl: Kubectl) -> None:
    spec = {k: v for k, v in copy.deepcopy(POD_SPEC).items()
            if k not in ("serviceAccountName", "serviceAccount", "priorityClassName", "priority", "imagePullSecrets",
                         "activeDeadlineSeconds")}
    del spec["containers"][0]["ports"][1]["hostPort"]  # a zero the JSON path stores but protobuf cannot carry
    template = {"metadata": {"labels": {"app": "report"}}, "spec": {**spec, "restartPolicy": "OnFailure"}}
    cronjob = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "report", "namespace": NS},
               "spec": {"schedule": "*/5 * * * *", "suspend": True,
                        "jobTemplate": {"spec": {"backoffLimit": 2, "template": template}}}}
    kubectl("apply", "-f", "-", input=json.dumps(cronjob))
    kubectl("create", "job", "report-now", "--from=cronjob/report", "-n", NS)
    stored = _get(kubectl, "cronjob", "report", "-n", NS)["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    job = _get(kubectl, "job", "report-now", "-n", NS)
    assert job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    assert job["spec"]["template"]["spec"] == stored


def _pod(name: str, **spec: Any) -> str:
    """A small Pod manifest in the test namespace, labelled with its name, plus extra spec fields."""
    return json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": NS,
                                                                       "labels": {"protobuf-e2e": name}},
                       "spec": {"containers": [{"name": "app", "image": "nginx:1.27",
                                                "env": [{"name": "A", "value": "1"}],
                                                "resources": {"requests": {"cpu": "10m"}}}], **spec}})


def test_kubectl_debug_copy_to_recreates_the_stored_pod(kubectl: Kubectl, default_account: str) -> None:
    kubectl("apply", "-f", "-", input=_pod("original", tolerations=[{"key": "k", "operator": "Exists"}]))
    kubectl("debug", "original", "--copy-to=original-copy", "--image=busybox", "--share-processes",
            "--container=debugger", "-n", NS, "--", "sleep", "1")  # POST Pod: the stored spec, sent back as protobuf
    original = _get(kubectl, "pod", "original", "-n", NS)["spec"]
    copy_ = _get(kubectl, "pod", "original-copy", "-n", NS)["spec"]
    assert copy_["containers"][0] == original["containers"][0]
    assert copy_["containers"][1]["name"] == "debugger" and copy_["containers"][1]["image"] == "busybox"
    assert copy_["shareProcessNamespace"] is True and copy_["tolerations"] == original["tolerations"]


def test_kubectl_drain_evicts_through_policy_v1_eviction(kubectl: Kubectl, default_account: str) -> None:
    node = kubectl("get", "nodes", "-o", "name").split()[-1].removeprefix("node/")
    kubectl("apply", "-f", "-", input=_pod("evictee", nodeName=node))
    try:
        out = kubectl("drain", node, "--pod-selector=protobuf-e2e=evictee", "--ignore-daemonsets", "--force",
                      "--timeout=60s")
    finally:
        kubectl("uncordon", node)
    assert "pod/evictee evicted" in out
    left = kubectl.run("get", "pod", "evictee", "-n", NS, "-o", "json", check=False)
    assert left.returncode != 0 or "deletionTimestamp" in json.loads(left.stdout)["metadata"]


def test_delete_with_protobuf_delete_options(kubectl: Kubectl, sim: SimServer, tmp_path: Path) -> None:
    """Typed clients (``kubectl drain --disable-eviction``) send DeleteOptions as protobuf."""
    kubectl("create", "configmap", "doomed", "--from-literal=a=b", "-n", NS)
    config = sim.admin_kubeconfig()
    ca = tmp_path / "ca.crt"
    ca.write_bytes(base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"]))
    body = envelope({"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"},
                    "meta.v1.DeleteOptions")
    answer = requests.delete(f"{sim.url}/api/v1/namespaces/{NS}/configmaps/doomed", data=body, verify=str(ca),
                             headers={"Authorization": f"Bearer {config['users'][0]['user']['token']}",
                                      "Content-Type": "application/vnd.kubernetes.protobuf"}, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "Success"
    assert kubectl.run("get", "configmap", "doomed", "-n", NS, check=False).returncode == 1
