"""Defaulting as the real kube-apiserver applies it, plus the mutating admission
plugins every cluster runs (ServiceAccount, DefaultTolerationSeconds, Priority).

:func:`apply_defaults` mutates an object (a plain JSON dict as the API
serializes it) in place. The API server calls it on create and on update, after
patches are applied and before validation. Create-only steps (admission
mutations, the Job's generated selector, a Namespace's finalizer, a Pod's
initial status) run when the object has no ``metadata.resourceVersion`` yet,
which is how the server presents an object being created (it assigns the
resourceVersion only when storing it, and passes the stored one on update).

Left to the server because they need cluster state: allocating a Service's
``clusterIP``/``clusterIPs`` and ``nodePort``\\ s (and carrying them over from the
stored object when an update omits them, see :func:`carry_over_allocated_fields`),
resolving a non-built-in ``priorityClassName`` to its value, checking that the
Pod's ServiceAccount exists, and LimitRange/ResourceQuota admission.

Every quantity in a resource list is rounded up to milliunits and rewritten in
canonical form (``cpu: 0.5`` is stored as ``500m``), as the real server stores it.
"""

from __future__ import annotations

import base64
import copy
import hashlib
from typing import Any, Callable

from .kinds import Kind
from .quantity import QuantityError, canonical_quantity, parse_quantity, round_up_to_milli

Obj = dict[str, Any]

# --------------------------------------------------------------------------------------
# Declarative tables
# --------------------------------------------------------------------------------------

#: PodSpec defaults (``SetDefaults_PodSpec``): pods and every pod template.
POD_SPEC_DEFAULTS: Obj = {
    "restartPolicy": "Always",
    "dnsPolicy": "ClusterFirst",
    "securityContext": {},
    "terminationGracePeriodSeconds": 30,
    "schedulerName": "default-scheduler",
}

#: Container defaults (``SetDefaults_Container``; ``resources`` is always serialized).
CONTAINER_DEFAULTS: Obj = {
    "terminationMessagePath": "/dev/termination-log",
    "terminationMessagePolicy": "File",
    "resources": {},
}

#: Probe defaults (``SetDefaults_Probe``); a zero counts as unset.
PROBE_DEFAULTS: Obj = {"timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}

#: Volume sources whose ``defaultMode`` defaults to 0644 (420).
MODE_420_SOURCES = ("configMap", "secret", "downwardAPI", "projected")

#: Every volume source a pod volume may use; a volume naming none becomes ``emptyDir: {}``.
VOLUME_SOURCES = (
    "hostPath", "emptyDir", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "secret", "nfs", "iscsi",
    "glusterfs", "persistentVolumeClaim", "rbd", "flexVolume", "cinder", "cephfs", "flocker", "downwardAPI", "fc",
    "azureFile", "configMap", "vsphereVolume", "quobyte", "azureDisk", "photonPersistentDisk", "projected",
    "portworxVolume", "scaleIO", "storageos", "csi", "ephemeral", "image",
)

#: Spec defaults per kind, filled where the field is absent, null or "".
SPEC_DEFAULTS: dict[str, Obj] = {
    "Deployment": {"replicas": 1, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
                   "strategy": {"type": "RollingUpdate"}},
    "ReplicaSet": {"replicas": 1},
    "ReplicationController": {"replicas": 1},
    "StatefulSet": {"replicas": 1, "podManagementPolicy": "OrderedReady", "revisionHistoryLimit": 10,
                    "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"}},
    "DaemonSet": {"revisionHistoryLimit": 10, "updateStrategy": {"type": "RollingUpdate"}},
    "Job": {"parallelism": 1, "completionMode": "NonIndexed", "suspend": False, "manualSelector": False},
    "CronJob": {"concurrencyPolicy": "Allow", "suspend": False, "successfulJobsHistoryLimit": 3,
                "failedJobsHistoryLimit": 1},
    "Service": {"type": "ClusterIP", "sessionAffinity": "None"},
    "PersistentVolumeClaim": {"volumeMode": "Filesystem"},
    "PersistentVolume": {"persistentVolumeReclaimPolicy": "Retain", "volumeMode": "Filesystem"},
}

#: Rolling-update knobs filled when the strategy type is RollingUpdate.
ROLLING_UPDATE_DEFAULTS: dict[str, Obj] = {
    "Deployment": {"maxUnavailable": "25%", "maxSurge": "25%"},
    "DaemonSet": {"maxUnavailable": 1, "maxSurge": 0},
}

#: Tolerations the DefaultTolerationSeconds admission plugin adds to every pod.
DEFAULT_TOLERATIONS: tuple[Obj, ...] = (
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
)

#: Built-in PriorityClasses the Priority admission plugin resolves without a lookup.
SYSTEM_PRIORITIES = {"system-cluster-critical": 2000000000, "system-node-critical": 2000001000}

#: Where the ServiceAccount admission plugin mounts the projected API token.
SERVICE_ACCOUNT_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"

#: HPA ``behavior`` rules filled in when a behavior is given (``autoscaling/v2``).
HPA_SCALE_UP: Obj = {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                     "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15},
                                  {"type": "Percent", "value": 100, "periodSeconds": 15}]}
HPA_SCALE_DOWN: Obj = {"stabilizationWindowSeconds": 300, "selectPolicy": "Max",
                       "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}

_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_RBAC_GROUP = "rbac.authorization.k8s.io"

# --------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------


def _unset(value: Any) -> bool:
    return value is None or value == ""


def _fill(target: Obj, defaults: Obj, *, zero_is_unset: bool = False) -> None:
    """Set every default whose field is unset in ``target``; recurse into objects."""
    for key, value in defaults.items():
        current = target.get(key)
        if _unset(current) or (zero_is_unset and current == 0 and not isinstance(current, bool)):
            target[key] = copy.deepcopy(value)
        elif isinstance(value, dict) and isinstance(current, dict):
            _fill(current, value, zero_is_unset=zero_is_unset)


def _dict(parent: Obj, key: str) -> Obj | None:
    """``parent[key]`` as an object, created when absent or null; None when it is not an object."""
    value = parent.get(key)
    if value is None:
        value = parent[key] = {}
    return value if isinstance(value, dict) else None


def _dicts(parent: Any, key: str) -> list[Obj]:
    """The objects of list ``parent[key]`` (non-objects skipped; nothing when ``parent`` is no object)."""
    value = parent.get(key) if isinstance(parent, dict) else None
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _at(value: Any, *keys: str) -> Any:
    """``value[k1][k2]...`` through objects only; None when a step is missing or not an object."""
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _creating(obj: Obj) -> bool:
    return not _at(obj, "metadata", "resourceVersion")


def _canonical_list(resources: Any) -> None:
    """Round a resource list to milliunits and canonicalize it, in place."""
    if not isinstance(resources, dict):
        return
    for name, value in list(resources.items()):
        try:
            resources[name] = round_up_to_milli(value)
        except QuantityError:
            continue


def _canonical_field(parent: Any, key: str) -> None:
    """Canonicalize the single quantity ``parent[key]`` when present and well formed."""
    if isinstance(parent, dict) and parent.get(key) is not None:
        try:
            parent[key] = canonical_quantity(parent[key])
        except QuantityError:
            return


def image_pull_policy(image: str) -> str:
    """``Always`` for ``:latest`` or an untagged image without digest, else ``IfNotPresent``
    (an image reference that cannot be parsed also gets ``IfNotPresent``)."""
    if not isinstance(image, str) or not image or any(ch.isspace() for ch in image):
        return "IfNotPresent"
    name, _, digest = image.partition("@")
    colon = name.rfind(":")
    tag = name[colon + 1:] if colon > name.rfind("/") else ""
    if not tag and not digest:
        tag = "latest"
    return "Always" if tag == "latest" else "IfNotPresent"


# --------------------------------------------------------------------------------------
# Pod specs
# --------------------------------------------------------------------------------------


def _default_http_get(handler: Any) -> None:
    if isinstance(handler, dict):
        http = handler.get("httpGet")
        if isinstance(http, dict):
            _fill(http, {"path": "/", "scheme": "HTTP"})
        grpc = handler.get("grpc")
        if isinstance(grpc, dict) and grpc.get("service") is None:
            grpc["service"] = ""


def _default_field_ref(holder: Any) -> None:
    if isinstance(holder, dict) and isinstance(holder.get("fieldRef"), dict):
        _fill(holder["fieldRef"], {"apiVersion": "v1"})


def _default_container(container: Obj) -> None:
    if _unset(container.get("imagePullPolicy")):
        container["imagePullPolicy"] = image_pull_policy(container.get("image", ""))
    _fill(container, CONTAINER_DEFAULTS)
    resources = container.get("resources")
    if isinstance(resources, dict):
        _canonical_list(resources.get("limits"))
        _canonical_list(resources.get("requests"))
    for port in _dicts(container, "ports"):
        _fill(port, {"protocol": "TCP"})
    for env in _dicts(container, "env"):
        value_from = env.get("valueFrom")
        _default_field_ref(value_from)
        if isinstance(value_from, dict):
            _canonical_field(value_from.get("resourceFieldRef"), "divisor")
    for probe_name in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = container.get(probe_name)
        if isinstance(probe, dict):
            _fill(probe, PROBE_DEFAULTS, zero_is_unset=True)
            _default_http_get(probe)
    lifecycle = container.get("lifecycle")
    if isinstance(lifecycle, dict):
        _default_http_get(lifecycle.get("postStart"))
        _default_http_get(lifecycle.get("preStop"))


def _default_pvc_spec(spec: Obj) -> None:
    _fill(spec, SPEC_DEFAULTS["PersistentVolumeClaim"])
    resources = spec.get("resources")
    if isinstance(resources, dict):
        _canonical_list(resources.get("requests"))
        _canonical_list(resources.get("limits"))


def _default_volume(volume: Obj) -> None:
    if not any(volume.get(source) is not None for source in VOLUME_SOURCES):
        volume["emptyDir"] = {}
    for source in MODE_420_SOURCES:
        if isinstance(volume.get(source), dict):
            _fill(volume[source], {"defaultMode": 420})
    _canonical_field(volume.get("emptyDir"), "sizeLimit")
    if isinstance(volume.get("hostPath"), dict) and volume["hostPath"].get("type") is None:
        volume["hostPath"]["type"] = ""
    for item in _dicts(volume.get("downwardAPI"), "items"):
        _default_field_ref(item)
    for source in _dicts(volume.get("projected"), "sources"):
        if isinstance(source.get("serviceAccountToken"), dict):
            _fill(source["serviceAccountToken"], {"expirationSeconds": 3600})
        for item in _dicts(source.get("downwardAPI"), "items"):
            _default_field_ref(item)
    ephemeral = volume.get("ephemeral")
    if isinstance(ephemeral, dict) and isinstance(ephemeral.get("volumeClaimTemplate"), dict):
        claim_spec = _dict(ephemeral["volumeClaimTemplate"], "spec")
        if claim_spec is not None:
            _default_pvc_spec(claim_spec)


def _default_pod_spec(spec: Obj) -> None:
    """PodSpec defaults shared by pods and pod templates."""
    _fill(spec, POD_SPEC_DEFAULTS)
    for key in ("containers", "initContainers", "ephemeralContainers"):
        for container in _dicts(spec, key):
            _default_container(container)
    for volume in _dicts(spec, "volumes"):
        _default_volume(volume)
    _canonical_list(spec.get("overhead"))
    if _unset(spec.get("serviceAccountName")) and not _unset(spec.get("serviceAccount")):
        spec["serviceAccountName"] = spec["serviceAccount"]
    if not _unset(spec.get("serviceAccountName")):
        spec["serviceAccount"] = spec["serviceAccountName"]


def _default_template(parent: Obj) -> None:
    """Defaults of ``parent.template`` (a PodTemplateSpec)."""
    template = _dict(parent, "template")
    if template is not None:
        spec = _dict(template, "spec")
        if spec is not None:
            _default_pod_spec(spec)


def pod_qos_class(pod: Obj) -> str:
    """The QoS class of a pod (``Guaranteed``, ``Burstable`` or ``BestEffort``), as the
    API server records it in ``status.qosClass``."""
    spec = pod.get("spec")
    requests: dict[str, Any] = {}
    limits: dict[str, Any] = {}
    guaranteed = True
    for container in _dicts(spec, "containers") + _dicts(spec, "initContainers"):
        found = set()
        for target, source in ((requests, _at(container, "resources", "requests")),
                               (limits, _at(container, "resources", "limits"))):
            for name in ("cpu", "memory"):
                try:
                    value = parse_quantity(source[name])
                except (KeyError, TypeError, QuantityError):
                    continue
                if value:
                    target[name] = target.get(name, 0) + value
                    if target is limits:
                        found.add(name)
        if found != {"cpu", "memory"}:
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and requests == limits:
        return "Guaranteed"
    return "Burstable"


def _token_volume_name(obj: Obj) -> str:
    seed = _at(obj, "metadata", "uid") or _at(obj, "metadata", "name") or ""
    digest = hashlib.sha256(str(seed).encode()).digest()
    return "kube-api-access-" + "".join(_NAME_ALPHABET[b % len(_NAME_ALPHABET)] for b in digest[:5])


def _mount_service_account_token(obj: Obj, spec: Obj) -> None:
    """The ServiceAccount admission plugin's projected token volume and mounts."""
    if spec.get("automountServiceAccountToken") is False:
        return
    containers = _dicts(spec, "initContainers") + _dicts(spec, "containers")
    if any(m.get("mountPath") == SERVICE_ACCOUNT_MOUNT for c in containers for m in _dicts(c, "volumeMounts")):
        return
    name = _token_volume_name(obj)
    volumes = spec.get("volumes")
    if not isinstance(volumes, list):
        volumes = spec["volumes"] = []
    volumes.append({"name": name, "projected": {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace",
                                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
    ]}})
    for container in containers:
        mounts = container.get("volumeMounts")
        if not isinstance(mounts, list):
            mounts = container["volumeMounts"] = []
        mounts.append({"name": name, "readOnly": True, "mountPath": SERVICE_ACCOUNT_MOUNT})


def _add_default_tolerations(spec: Obj) -> None:
    tolerations = spec.get("tolerations")
    if tolerations is None:
        tolerations = []
    if not isinstance(tolerations, list):
        return
    for default in DEFAULT_TOLERATIONS:
        covered = any(isinstance(t, dict) and (t.get("key") in (default["key"], "", None))
                      and t.get("effect") in ("NoExecute", "", None) for t in tolerations)
        if not covered:
            tolerations.append(copy.deepcopy(default))
    spec["tolerations"] = tolerations


def _default_pod(obj: Obj) -> None:
    spec = _dict(obj, "spec")
    if spec is None:
        return
    _default_pod_spec(spec)
    for container in _dicts(spec, "containers") + _dicts(spec, "initContainers"):
        resources = container.get("resources")
        if isinstance(resources, dict) and isinstance(resources.get("limits"), dict):
            requests = _dict(resources, "requests")
            if requests is not None:
                for name, value in resources["limits"].items():
                    requests.setdefault(name, value)
    _fill(spec, {"enableServiceLinks": True})
    if spec.get("hostNetwork") is True:
        for container in _dicts(spec, "containers") + _dicts(spec, "initContainers"):
            for port in _dicts(container, "ports"):
                if not port.get("hostPort"):
                    port["hostPort"] = port.get("containerPort")
    if not _creating(obj):
        return
    _fill(spec, {"serviceAccountName": "default"})
    spec["serviceAccount"] = spec["serviceAccountName"]
    _mount_service_account_token(obj, spec)
    _add_default_tolerations(spec)
    class_name = spec.get("priorityClassName") or ""
    if not class_name:
        _fill(spec, {"priority": 0})
    elif class_name in SYSTEM_PRIORITIES:
        _fill(spec, {"priority": SYSTEM_PRIORITIES[class_name]})
    _fill(spec, {"preemptionPolicy": "PreemptLowerPriority"})
    status = _dict(obj, "status")
    if status is not None:
        _fill(status, {"phase": "Pending", "qosClass": pod_qos_class(obj)})


# --------------------------------------------------------------------------------------
# Workloads
# --------------------------------------------------------------------------------------


def _spec(obj: Obj, kind: str) -> Obj | None:
    spec = _dict(obj, "spec")
    if spec is not None and kind in SPEC_DEFAULTS:
        _fill(spec, SPEC_DEFAULTS[kind])
    return spec


def _default_rolling_update(spec: Obj, strategy_key: str, kind: str) -> None:
    strategy = spec.get(strategy_key)
    if isinstance(strategy, dict) and strategy.get("type") == "RollingUpdate":
        rolling = _dict(strategy, "rollingUpdate")
        if rolling is not None:
            _fill(rolling, ROLLING_UPDATE_DEFAULTS[kind])


def _default_deployment(obj: Obj) -> None:
    spec = _spec(obj, "Deployment")
    if spec is not None:
        _default_rolling_update(spec, "strategy", "Deployment")
        _default_template(spec)


def _default_daemonset(obj: Obj) -> None:
    spec = _spec(obj, "DaemonSet")
    if spec is not None:
        _default_rolling_update(spec, "updateStrategy", "DaemonSet")
        _default_template(spec)


def _default_statefulset(obj: Obj) -> None:
    spec = _dict(obj, "spec")
    if spec is None:
        return
    strategy = _dict(spec, "updateStrategy")
    if strategy is not None and _unset(strategy.get("type")):
        strategy["type"] = "RollingUpdate"
        _fill(strategy, {"rollingUpdate": {}})
    if (strategy is not None and strategy.get("type") == "RollingUpdate"
            and isinstance(strategy.get("rollingUpdate"), dict)):
        _fill(strategy["rollingUpdate"], {"partition": 0})
    _fill(spec, SPEC_DEFAULTS["StatefulSet"])
    _default_template(spec)
    for claim in _dicts(spec, "volumeClaimTemplates"):
        _fill(claim, {"apiVersion": "v1", "kind": "PersistentVolumeClaim"})
        claim_spec = _dict(claim, "spec")
        if claim_spec is not None:
            _default_pvc_spec(claim_spec)
        status = _dict(claim, "status")
        if status is not None:
            _fill(status, {"phase": "Pending"})


def _default_replicaset(obj: Obj) -> None:
    spec = _spec(obj, "ReplicaSet")
    if spec is not None:
        _default_template(spec)


def _default_replication_controller(obj: Obj) -> None:
    spec = _spec(obj, "ReplicationController")
    if spec is None or spec.get("template") is None:
        return
    _default_template(spec)
    labels = _at(spec, "template", "metadata", "labels")
    if labels:
        if not spec.get("selector"):
            spec["selector"] = dict(labels)
        meta = _dict(obj, "metadata")
        if meta is not None and not meta.get("labels"):
            meta["labels"] = dict(labels)


def _generate_job_selector(obj: Obj, spec: Obj) -> None:
    """The selector and pod labels the Job strategy generates on create."""
    meta = obj.get("metadata") or {}
    uid, name = meta.get("uid"), meta.get("name")
    template = _dict(spec, "template")
    if not uid or not name or template is None:
        return
    template_meta = _dict(template, "metadata")
    labels = _dict(template_meta, "labels") if template_meta is not None else None
    if labels is None:
        return
    for key in ("job-name", "batch.kubernetes.io/job-name"):
        labels.setdefault(key, name)
    for key in ("controller-uid", "batch.kubernetes.io/controller-uid"):
        labels.setdefault(key, uid)
    selector = _dict(spec, "selector")
    match_labels = _dict(selector, "matchLabels") if selector is not None else None
    if match_labels is not None:
        match_labels.setdefault("batch.kubernetes.io/controller-uid", uid)


def _default_job(obj: Obj) -> None:
    spec = _dict(obj, "spec")
    if spec is None:
        return
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = 2147483647 if spec.get("backoffLimitPerIndex") is not None else 6
    _fill(spec, SPEC_DEFAULTS["Job"])
    if spec.get("podReplacementPolicy") is None:
        spec["podReplacementPolicy"] = "Failed" if spec.get("podFailurePolicy") else "TerminatingOrFailed"
    _default_template(spec)
    if _creating(obj) and spec.get("manualSelector") is not True:
        _generate_job_selector(obj, spec)
    labels = _at(spec, "template", "metadata", "labels")
    meta = _dict(obj, "metadata")
    if labels and meta is not None and not meta.get("labels"):
        meta["labels"] = dict(labels)


def _default_cronjob(obj: Obj) -> None:
    spec = _spec(obj, "CronJob")
    if spec is None:
        return
    job_template = _dict(spec, "jobTemplate")
    job_spec = _dict(job_template, "spec") if job_template is not None else None
    if job_spec is not None:
        _default_template(job_spec)


# --------------------------------------------------------------------------------------
# Other kinds
# --------------------------------------------------------------------------------------


def _default_service(obj: Obj) -> None:
    spec = _spec(obj, "Service")
    if spec is None:
        return
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == "ClientIP":
        config = spec.get("sessionAffinityConfig") or {}
        if _at(config, "clientIP", "timeoutSeconds") is None:
            spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": 10800}}
    for port in _dicts(spec, "ports"):
        _fill(port, {"protocol": "TCP"})
        if port.get("targetPort") in (None, 0, "") and port.get("port") is not None:
            port["targetPort"] = port["port"]
    service_type = spec["type"]
    if service_type in ("NodePort", "LoadBalancer") or (service_type == "ClusterIP" and spec.get("externalIPs")):
        _fill(spec, {"externalTrafficPolicy": "Cluster"})
    if service_type in ("ClusterIP", "NodePort", "LoadBalancer"):
        _fill(spec, {"internalTrafficPolicy": "Cluster"})
    if service_type == "LoadBalancer":
        _fill(spec, {"allocateLoadBalancerNodePorts": True})
    if service_type != "ExternalName":
        if not _unset(spec.get("clusterIP")) and not spec.get("clusterIPs"):
            spec["clusterIPs"] = [spec["clusterIP"]]
        _fill(spec, {"ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack"})


def carry_over_allocated_fields(obj: Obj, old: Obj) -> None:
    """On a Service update that omits them, keep the allocated ``clusterIP``/``clusterIPs``,
    IP families and node ports of the stored object (the Service strategy's behaviour).
    The server calls this with the stored object before :func:`apply_defaults`."""
    spec, old_spec = obj.get("spec"), old.get("spec")
    if not isinstance(spec, dict) or not isinstance(old_spec, dict):
        return
    if spec.get("type", "ClusterIP") == "ExternalName" or old_spec.get("type") == "ExternalName":
        return
    if _unset(spec.get("clusterIP")) and not spec.get("clusterIPs"):
        for key in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
            if key in old_spec and _unset(spec.get(key)):
                spec[key] = copy.deepcopy(old_spec[key])
    elif spec.get("clusterIP") != old_spec.get("clusterIP") and spec.get("clusterIPs") == old_spec.get("clusterIPs"):
        spec["clusterIPs"] = [spec["clusterIP"]] + list(spec.get("clusterIPs") or [])[1:]
    if spec.get("type", "ClusterIP") in ("NodePort", "LoadBalancer"):
        old_ports = {(p.get("port"), p.get("protocol", "TCP")): p.get("nodePort") for p in _dicts(old_spec, "ports")}
        for port in _dicts(spec, "ports"):
            node_port = old_ports.get((port.get("port"), port.get("protocol", "TCP")))
            if not port.get("nodePort") and node_port:
                port["nodePort"] = node_port
        if not spec.get("healthCheckNodePort") and old_spec.get("healthCheckNodePort"):
            spec["healthCheckNodePort"] = old_spec["healthCheckNodePort"]


def _default_secret(obj: Obj) -> None:
    _fill(obj, {"type": "Opaque"})
    string_data = obj.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        data = _dict(obj, "data")
        if data is not None:
            for key, value in string_data.items():
                data[key] = base64.b64encode(str(value).encode()).decode()


def _default_namespace(obj: Obj) -> None:
    meta = _dict(obj, "metadata")
    if meta is not None and meta.get("name"):
        labels = _dict(meta, "labels")
        if labels is not None:
            labels["kubernetes.io/metadata.name"] = meta["name"]
    if _creating(obj):
        spec = _dict(obj, "spec")
        if spec is not None:
            _fill(spec, {"finalizers": ["kubernetes"]})
    status = _dict(obj, "status")
    if status is not None:
        _fill(status, {"phase": "Active"})


def _default_network_policy(obj: Obj) -> None:
    spec = _dict(obj, "spec")
    if spec is None:
        return
    for direction in ("ingress", "egress"):
        for rule in _dicts(spec, direction):
            for port in _dicts(rule, "ports"):
                _fill(port, {"protocol": "TCP"})
    if not spec.get("policyTypes"):
        spec["policyTypes"] = ["Ingress"] + (["Egress"] if spec.get("egress") else [])


def _default_hpa_metric_targets(spec: Obj) -> None:
    for metric in _dicts(spec, "metrics"):
        for source in ("resource", "containerResource", "pods", "object", "external"):
            block = metric.get(source)
            if isinstance(block, dict):
                _canonical_field(block.get("target"), "averageValue")
                _canonical_field(block.get("target"), "value")


def _default_hpa(obj: Obj, version: str) -> None:
    spec = _dict(obj, "spec")
    if spec is None:
        return
    _fill(spec, {"minReplicas": 1})
    if version != "v2":
        return
    if not spec.get("metrics"):
        spec["metrics"] = [{"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]
    _default_hpa_metric_targets(spec)
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        for key, rules in (("scaleUp", HPA_SCALE_UP), ("scaleDown", HPA_SCALE_DOWN)):
            current = _dict(behavior, key)
            if current is not None:
                _fill(current, rules)


def _default_pvc(obj: Obj) -> None:
    spec = _dict(obj, "spec")
    if spec is not None:
        _default_pvc_spec(spec)
    status = _dict(obj, "status")
    if status is not None:
        _fill(status, {"phase": "Pending"})


def _default_pv(obj: Obj) -> None:
    spec = _spec(obj, "PersistentVolume")
    if spec is not None:
        _canonical_list(spec.get("capacity"))
    status = _dict(obj, "status")
    if status is not None:
        _fill(status, {"phase": "Pending"})


def _default_node(obj: Obj) -> None:
    status = obj.get("status")
    if not isinstance(status, dict):
        return
    _canonical_list(status.get("capacity"))
    _canonical_list(status.get("allocatable"))
    if status.get("allocatable") is None and isinstance(status.get("capacity"), dict):
        status["allocatable"] = dict(status["capacity"])


def _default_endpoint_ports(obj: Obj) -> None:
    for subset in _dicts(obj, "subsets"):
        for port in _dicts(subset, "ports"):
            _fill(port, {"protocol": "TCP"})
    for port in _dicts(obj, "ports"):
        _fill(port, {"protocol": "TCP"})


def _default_binding(obj: Obj) -> None:
    role_ref = obj.get("roleRef")
    if isinstance(role_ref, dict):
        _fill(role_ref, {"apiGroup": _RBAC_GROUP})
    for subject in _dicts(obj, "subjects"):
        if _unset(subject.get("apiGroup")):
            subject["apiGroup"] = "" if subject.get("kind") == "ServiceAccount" else _RBAC_GROUP


def _default_resource_quota(obj: Obj) -> None:
    _canonical_list(_at(obj, "spec", "hard"))
    status = obj.get("status")
    if isinstance(status, dict):
        _canonical_list(status.get("hard"))
        _canonical_list(status.get("used"))


def _default_limit_range(obj: Obj) -> None:
    for item in _dicts(obj.get("spec"), "limits"):
        for key in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio"):
            _canonical_list(item.get(key))
        if item.get("type") != "Container":
            continue
        defaults, default_requests = _dict(item, "default"), _dict(item, "defaultRequest")
        if defaults is None or default_requests is None:
            continue
        for name, value in (_at(item, "max") or {}).items():
            defaults.setdefault(name, value)
        for name, value in defaults.items():
            default_requests.setdefault(name, value)
        for name, value in (_at(item, "min") or {}).items():
            default_requests.setdefault(name, value)
        for key in ("default", "defaultRequest"):
            if not item[key]:
                del item[key]


_DEFAULTERS: dict[tuple[str, str], Callable[[Obj], None]] = {
    ("v1", "Pod"): _default_pod,
    ("v1", "Service"): _default_service,
    ("v1", "Secret"): _default_secret,
    ("v1", "Namespace"): _default_namespace,
    ("v1", "PersistentVolumeClaim"): _default_pvc,
    ("v1", "PersistentVolume"): _default_pv,
    ("v1", "Node"): _default_node,
    ("v1", "Endpoints"): _default_endpoint_ports,
    ("v1", "ResourceQuota"): _default_resource_quota,
    ("v1", "LimitRange"): _default_limit_range,
    ("v1", "ReplicationController"): _default_replication_controller,
    ("apps/v1", "Deployment"): _default_deployment,
    ("apps/v1", "ReplicaSet"): _default_replicaset,
    ("apps/v1", "StatefulSet"): _default_statefulset,
    ("apps/v1", "DaemonSet"): _default_daemonset,
    ("batch/v1", "Job"): _default_job,
    ("batch/v1", "CronJob"): _default_cronjob,
    ("networking.k8s.io/v1", "NetworkPolicy"): _default_network_policy,
    ("discovery.k8s.io/v1", "EndpointSlice"): _default_endpoint_ports,
    ("autoscaling/v2", "HorizontalPodAutoscaler"): lambda obj: _default_hpa(obj, "v2"),
    ("autoscaling/v1", "HorizontalPodAutoscaler"): lambda obj: _default_hpa(obj, "v1"),
    (f"{_RBAC_GROUP}/v1", "RoleBinding"): _default_binding,
    (f"{_RBAC_GROUP}/v1", "ClusterRoleBinding"): _default_binding,
}


def apply_defaults(kind: Kind, obj: Obj) -> None:
    """Fill in, in place, what the real API server's defaulting and mutating admission
    would fill in for an object of ``kind`` (see the module docstring)."""
    defaulter = _DEFAULTERS.get((kind.api_version, kind.kind))
    if defaulter is not None and isinstance(obj, dict):
        defaulter(obj)
