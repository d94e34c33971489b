"""Server-side Table output (``meta.k8s.io/v1`` Table), as kube-apiserver prints it.

``kubectl get`` asks for ``application/json;as=Table;v=v1;g=meta.k8s.io`` and prints
whatever columns the server sends, so the columns and cell texts here follow the
kube-apiserver printers (``pkg/printers/internalversion``) column for column.

Each printed kind is one :class:`Printer`: a tuple of :class:`Column` entries, each
pairing a column definition (name, type, format, priority, description) with a small
cell function. Like the real server, the table always carries every column, the
``-o wide`` ones too (priority 1): kubectl hides them unless asked for ``-o wide``.
Kinds without a printer get the generic ``Name``/``Created At`` table that
kube-apiserver's default table convertor answers (roles, limit ranges, CRDs...).

Column descriptions are the API field documentation, read from the OpenAPI
definitions shipped with ``kubernetes-validate`` (the same text as Go's
``SwaggerDoc()``) or given literally where the printers write their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, Callable

from kubernetes_validate import utils as kv_utils

from . import clock
from .errors import bad_request
from .kinds import Kind

Obj = dict[str, Any]

TABLE_API_VERSION = "meta.k8s.io/v1"
INCLUDE_OBJECT_POLICIES = ("Metadata", "Object", "None")


# --- durations ----------------------------------------------------------------

def human_duration(d: timedelta) -> str:
    """Kubernetes' ``duration.HumanDuration``: ``45s``, ``3m20s``, ``5h``, ``2d3h``, ``45d``, ``3y``.

    Up to one second in the future counts as ``0s`` (clock skew); further is ``<invalid>``.
    """
    micros = d // timedelta(microseconds=1)
    seconds = abs(micros) // 1_000_000 * (1 if micros >= 0 else -1)  # truncation towards zero
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        rest = seconds % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        rest = hours % 24
        return f"{days}d" if rest == 0 else f"{days}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{days}d"
    years = days // 365
    if hours < 24 * 365 * 8:
        rest = days % 365
        return f"{years}y" if rest == 0 else f"{years}y{rest}d"
    return f"{years}y"


def parse_time(timestamp: str | None) -> datetime | None:
    """An RFC 3339 API timestamp as an aware datetime (UTC when no offset is written); None when unset."""
    when = clock.parse(timestamp)
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when


def since(timestamp: str | None, now: datetime) -> str:
    """``translateTimestampSince``: the age of an RFC 3339 timestamp, ``<unknown>`` when unset."""
    when = parse_time(timestamp)
    return "<unknown>" if when is None else human_duration(now - when)


# --- small accessors ------------------------------------------------------------

def _dig(obj: Any, *path: str) -> Any:
    """``obj[path[0]][path[1]]...``, or None as soon as a step is missing or null."""
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def _spec(obj: Obj) -> Obj:
    return obj.get("spec") or {}


def _status(obj: Obj) -> Obj:
    return obj.get("status") or {}


def _int(value: Any) -> int:
    """An int32/int64 field; absent means Go's zero value."""
    return int(value) if value is not None else 0


def _or(value: Any, default: str) -> str:
    """A string field, or ``default`` (``<none>``, ``<unset>``...) when empty."""
    return str(value) if value not in (None, "") else default


def _nullable(value: Any, default: str) -> str:
    """An optional (pointer) string field: ``default`` only when null, an empty string stays empty."""
    return default if value is None else str(value)


def _quantity(value: Any) -> str:
    """A resource quantity as served (the API answers quantities in canonical form); zero when absent."""
    return "0" if value in (None, "") else str(value)


def _join_host_port(host: str, port: Any) -> str:
    """``net.JoinHostPort``: brackets around IPv6 literals."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _format_labels(labels: dict[str, str] | None) -> str:
    """``labels.FormatLabels``: ``k=v`` pairs sorted by key, ``<none>`` when empty."""
    text = ",".join(f"{k}={v}" for k, v in sorted((labels or {}).items()))
    return text or "<none>"


def selector_string(selector: Obj | None) -> str:
    """A ``metav1.LabelSelector`` as ``LabelSelectorAsSelector(s).String()`` prints it.

    Requirements from matchLabels and matchExpressions are sorted by key; values of
    ``in``/``notin`` are sorted. Null and empty selectors both print as ``""``.
    """
    requirements: list[tuple[str, str]] = []
    for key, value in ((selector or {}).get("matchLabels") or {}).items():
        requirements.append((key, f"{key}={value}"))
    for expr in (selector or {}).get("matchExpressions") or []:
        key, op = expr.get("key", ""), expr.get("operator", "")
        values = sorted(expr.get("values") or [])
        text = {"In": f"{key} in ({','.join(values)})", "NotIn": f"{key} notin ({','.join(values)})",
                "Exists": key, "DoesNotExist": f"!{key}"}.get(op, key)
        requirements.append((key, text))
    requirements.sort(key=lambda item: item[0])
    return ",".join(text for _, text in requirements)


def _format_selector(selector: Obj | None) -> str:
    """``metav1.FormatLabelSelector``: the selector string, ``<none>`` when it selects everything/nothing."""
    return selector_string(selector) or "<none>"


def _list_with_more(items: list[str], total: int, limit: int = 3, empty: str = "<unset>") -> str:
    """The printers' ``a,b,c + N more...`` truncation."""
    text = ",".join(items[:limit])
    if total > limit:
        return f"{text} + {total - limit} more..."
    return text or empty


def _containers(template_path: tuple[str, ...]) -> Callable[[Obj], list[Obj]]:
    """Reader of the containers of the pod template found at ``template_path``."""
    def read(obj: Obj) -> list[Obj]:
        return _dig(obj, *template_path, "spec", "containers") or []
    return read


# --- column descriptions ---------------------------------------------------------

@dataclass(frozen=True)
class Doc:
    """A column description taken from the API documentation of one field."""

    definition: str  # OpenAPI definition name, e.g. io.k8s.api.core.v1.PodStatus
    field: str


def ref(type_name: str, field_name: str) -> Doc:
    """``ref("core.v1.PodStatus", "podIP")``: the documentation of a field of a k8s.io/api type."""
    return Doc(f"io.k8s.api.{type_name}", field_name)


_OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
DOC_NAME = Doc(_OBJECT_META, "name")
DOC_CREATED = Doc(_OBJECT_META, "creationTimestamp")


@lru_cache(maxsize=1)
def _definitions() -> dict[str, Any]:
    version = kv_utils.latest_version()
    schema = kv_utils.schema_contents(f"kubernetes-json-schema/v{version}-local/_definitions.json", version)
    return schema["$defs"]


def describe(doc: str | Doc) -> str:
    """The description text of a column."""
    if isinstance(doc, str):
        return doc
    return _definitions()[doc.definition]["properties"][doc.field].get("description", "")


# --- columns and printers ----------------------------------------------------------

@dataclass(frozen=True)
class Context:
    """What a cell may need besides its object."""

    now: datetime
    kind: Kind


Cell = Callable[[Obj, Context], Any]


@dataclass(frozen=True)
class Column:
    """One table column: its definition and the function computing its cell."""

    name: str
    cell: Cell
    doc: str | Doc
    type: str = "string"
    format: str = ""
    priority: int = 0

    def definition(self) -> Obj:
        return {"name": self.name, "type": self.type, "format": self.format,
                "description": describe(self.doc), "priority": self.priority}


@dataclass(frozen=True)
class Printer:
    """The table of one kind: its columns, and optional row conditions."""

    columns: tuple[Column, ...]
    conditions: Callable[[Obj], list[Obj]] | None = None


def _age(obj: Obj, ctx: Context) -> str:
    return since(_meta(obj).get("creationTimestamp"), ctx.now)


NAME = Column("Name", lambda o, c: _meta(o).get("name", ""), DOC_NAME, format="name")
AGE = Column("Age", _age, DOC_CREATED)


def containers_column(template_path: tuple[str, ...]) -> Column:
    read = _containers(template_path)
    return Column("Containers", lambda o, c: ",".join(x.get("name", "") for x in read(o)),
                  "Names of each container in the template.", priority=1)


def images_column(template_path: tuple[str, ...]) -> Column:
    read = _containers(template_path)
    return Column("Images", lambda o, c: ",".join(x.get("image", "") for x in read(o)),
                  "Images referenced by each container in the template.", priority=1)


# --- pods ----------------------------------------------------------------------------

@dataclass(frozen=True)
class PodSummary:
    """The READY/STATUS/RESTARTS figures of a pod, as the pod printer derives them."""

    ready: int
    total: int
    reason: str
    restarts: int
    last_restart: datetime | None


def _later(current: datetime | None, candidate: str | None) -> datetime | None:
    when = parse_time(candidate)
    if when is not None and (current is None or when > current):
        return when
    return current


def _has(state: Obj, key: str) -> bool:
    """Whether a container state has this member (Go: pointer not nil)."""
    return isinstance(state.get(key), dict)


def _restartable(container: Obj | None) -> bool:
    """A sidecar: an init container with ``restartPolicy: Always``."""
    return bool(container) and container.get("restartPolicy") == "Always"


def _condition_true(conditions: list[Obj], condition_type: str) -> bool:
    return any(c.get("type") == condition_type and c.get("status") == "True" for c in conditions)


def _terminated_reason(terminated: Obj, prefix: str = "") -> str:
    if terminated.get("reason"):
        return prefix + terminated["reason"]
    if _int(terminated.get("signal")) != 0:
        return f"{prefix}Signal:{terminated['signal']}"
    return f"{prefix}ExitCode:{_int(terminated.get('exitCode'))}"


def pod_summary(pod: Obj) -> PodSummary:
    """READY, STATUS and RESTARTS of a pod, following the kube-apiserver pod printer."""
    spec, status = _spec(pod), _status(pod)
    conditions = status.get("conditions") or []
    phase = status.get("phase") or ""
    reason = status.get("reason") or phase
    if any(c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated" for c in conditions):
        reason = "SchedulingGated"

    init_specs = {c.get("name"): c for c in spec.get("initContainers") or []}
    total = len(spec.get("containers") or []) + sum(1 for c in init_specs.values() if _restartable(c))
    ready = restarts = sidecar_restarts = 0
    last_restart: datetime | None = None
    last_sidecar_restart: datetime | None = None

    initializing = False
    for index, cs in enumerate(status.get("initContainerStatuses") or []):
        state = cs.get("state") or {}
        finished = _dig(cs, "lastState", "terminated", "finishedAt")
        restarts += _int(cs.get("restartCount"))
        last_restart = _later(last_restart, finished)
        sidecar = _restartable(init_specs.get(cs.get("name")))
        if sidecar:
            sidecar_restarts += _int(cs.get("restartCount"))
            last_sidecar_restart = _later(last_sidecar_restart, finished)
        if _has(state, "terminated") and _int(state["terminated"].get("exitCode")) == 0:
            continue
        if sidecar and cs.get("started") is True:
            ready += 1 if cs.get("ready") else 0
            continue
        if _has(state, "terminated"):
            reason = _terminated_reason(state["terminated"], "Init:")
        elif _has(state, "waiting") and state["waiting"].get("reason") not in (None, "", "PodInitializing"):
            reason = "Init:" + state["waiting"]["reason"]
        else:
            reason = f"Init:{index}/{len(spec.get('initContainers') or [])}"
        initializing = True
        break

    if not initializing or _condition_true(conditions, "Initialized"):
        restarts, last_restart = sidecar_restarts, last_sidecar_restart
        has_running = False
        for cs in reversed(status.get("containerStatuses") or []):
            state = cs.get("state") or {}
            restarts += _int(cs.get("restartCount"))
            last_restart = _later(last_restart, _dig(cs, "lastState", "terminated", "finishedAt"))
            if _has(state, "waiting") and state["waiting"].get("reason"):
                reason = state["waiting"]["reason"]
            elif _has(state, "terminated"):
                reason = _terminated_reason(state["terminated"])
            elif cs.get("ready") and _has(state, "running"):
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _condition_true(conditions, "Ready") else "NotReady"

    if _meta(pod).get("deletionTimestamp"):
        if status.get("reason") == "NodeLost":
            reason = "Unknown"
        elif phase not in ("Succeeded", "Failed"):
            reason = "Terminating"
    return PodSummary(ready, total, reason, restarts, last_restart)


def _pod_restarts(pod: Obj, ctx: Context) -> str:
    summary = pod_summary(pod)
    if summary.restarts != 0 and summary.last_restart is not None:
        return f"{summary.restarts} ({human_duration(ctx.now - summary.last_restart)} ago)"
    return str(summary.restarts)


def _pod_ready(pod: Obj, ctx: Context) -> str:
    summary = pod_summary(pod)
    return f"{summary.ready}/{summary.total}"


def _pod_ip(pod: Obj, ctx: Context) -> str:
    status = _status(pod)
    ips = status.get("podIPs") or []
    return status.get("podIP") or (ips[0].get("ip") if ips else "") or "<none>"


def _readiness_gates(pod: Obj, ctx: Context) -> str:
    gates = _spec(pod).get("readinessGates") or []
    if not gates:
        return "<none>"
    conditions = _status(pod).get("conditions") or []
    true_count = 0
    for gate in gates:
        match = next((c for c in conditions if c.get("type") == gate.get("conditionType")), None)
        true_count += 1 if match is not None and match.get("status") == "True" else 0
    return f"{true_count}/{len(gates)}"


def _pod_conditions(pod: Obj) -> list[Obj]:
    phase = _status(pod).get("phase")
    if phase == "Succeeded":
        return [{"type": "Completed", "status": "True", "reason": "Succeeded",
                 "message": "The pod has completed successfully."}]
    if phase == "Failed":
        return [{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]
    return []


POD = Printer((
    NAME,
    Column("Ready", _pod_ready, "The aggregate readiness state of this pod for accepting traffic."),
    Column("Status", lambda o, c: pod_summary(o).reason, "The aggregate status of the containers in this pod."),
    Column("Restarts", _pod_restarts, "The number of times the containers in this pod have been restarted "
           "and when the last container in this pod has restarted."),
    AGE,
    Column("IP", _pod_ip, ref("core.v1.PodStatus", "podIP"), priority=1),
    Column("Node", lambda o, c: _or(_spec(o).get("nodeName"), "<none>"), ref("core.v1.PodSpec", "nodeName"),
           priority=1),
    Column("Nominated Node", lambda o, c: _or(_status(o).get("nominatedNodeName"), "<none>"),
           ref("core.v1.PodStatus", "nominatedNodeName"), priority=1),
    Column("Readiness Gates", _readiness_gates, ref("core.v1.PodSpec", "readinessGates"), priority=1),
), conditions=_pod_conditions)


# --- nodes and namespaces -------------------------------------------------------------

def _node_status(node: Obj, ctx: Context) -> str:
    ready = None
    for condition in _status(node).get("conditions") or []:
        if condition.get("type") == "Ready":
            ready = condition
    parts = ["Unknown" if ready is None else "Ready" if ready.get("status") == "True" else "NotReady"]
    if _spec(node).get("unschedulable"):
        parts.append("SchedulingDisabled")
    return ",".join(parts)


def _node_roles(node: Obj, ctx: Context) -> str:
    roles: set[str] = set()
    for key, value in (_meta(node).get("labels") or {}).items():
        if key.startswith("node-role.kubernetes.io/") and key[len("node-role.kubernetes.io/"):]:
            roles.add(key[len("node-role.kubernetes.io/"):])
        elif key == "kubernetes.io/role" and value:
            roles.add(value)
    return ",".join(sorted(roles)) or "<none>"


def _node_address(address_type: str) -> Cell:
    def cell(node: Obj, ctx: Context) -> str:
        for address in _status(node).get("addresses") or []:
            if address.get("type") == address_type:
                return address.get("address", "")
        return "<none>"
    return cell


def _node_info(field_name: str, default: str) -> Cell:
    return lambda o, c: _or(_dig(o, "status", "nodeInfo", field_name), default)


NODE = Printer((
    NAME,
    Column("Status", _node_status, "The status of the node"),
    Column("Roles", _node_roles, "The roles of the node"),
    AGE,
    Column("Version", lambda o, c: _dig(o, "status", "nodeInfo", "kubeletVersion") or "",
           ref("core.v1.NodeSystemInfo", "kubeletVersion")),
    Column("Internal-IP", _node_address("InternalIP"), ref("core.v1.NodeStatus", "addresses"), priority=1),
    Column("External-IP", _node_address("ExternalIP"), ref("core.v1.NodeStatus", "addresses"), priority=1),
    Column("OS-Image", _node_info("osImage", "<unknown>"), ref("core.v1.NodeSystemInfo", "osImage"), priority=1),
    Column("Kernel-Version", _node_info("kernelVersion", "<unknown>"), ref("core.v1.NodeSystemInfo", "kernelVersion"),
           priority=1),
    Column("Container-Runtime", _node_info("containerRuntimeVersion", "<unknown>"),
           ref("core.v1.NodeSystemInfo", "containerRuntimeVersion"), priority=1),
))

NAMESPACE = Printer((
    NAME,
    Column("Status", lambda o, c: _status(o).get("phase") or "", "The status of the namespace"),
    AGE,
))


# --- services and endpoints ----------------------------------------------------------

def _service_cluster_ip(svc: Obj, ctx: Context) -> str:
    spec = _spec(svc)
    ips = spec.get("clusterIPs") or []
    return spec.get("clusterIP") or (ips[0] if ips else "") or "<none>"


def _service_external_ip(svc: Obj, ctx: Context) -> str:
    spec = _spec(svc)
    external = spec.get("externalIPs") or []
    svc_type = spec.get("type")
    if svc_type in ("ClusterIP", "NodePort"):
        return ",".join(external) or "<none>"
    if svc_type == "LoadBalancer":
        lb = _load_balancer_addresses(_dig(svc, "status", "loadBalancer", "ingress"))
        if external:
            return ",".join(lb + external)
        return ",".join(lb) or "<pending>"
    if svc_type == "ExternalName":
        return spec.get("externalName") or ""
    return "<unknown>"


def _load_balancer_addresses(ingress: list[Obj] | None) -> list[str]:
    """Sorted, de-duplicated IPs (or hostnames) of a load balancer status (never clipped: the server prints wide)."""
    found = {entry.get("ip") or entry.get("hostname") for entry in ingress or []}
    return sorted(a for a in found if a)


def _service_ports(svc: Obj, ctx: Context) -> str:
    pieces = []
    for port in _spec(svc).get("ports") or []:
        protocol = port.get("protocol") or "TCP"
        if _int(port.get("nodePort")) > 0:
            pieces.append(f"{_int(port.get('port'))}:{port['nodePort']}/{protocol}")
        else:
            pieces.append(f"{_int(port.get('port'))}/{protocol}")
    return ",".join(pieces) or "<none>"


SERVICE = Printer((
    NAME,
    Column("Type", lambda o, c: _spec(o).get("type") or "", ref("core.v1.ServiceSpec", "type")),
    Column("Cluster-IP", _service_cluster_ip, ref("core.v1.ServiceSpec", "clusterIP")),
    Column("External-IP", _service_external_ip, ref("core.v1.ServiceSpec", "externalIPs")),
    Column("Port(s)", _service_ports, ref("core.v1.ServiceSpec", "ports")),
    AGE,
    Column("Selector", lambda o, c: _format_labels(_spec(o).get("selector")), ref("core.v1.ServiceSpec", "selector"),
           priority=1),
))


def format_endpoints(endpoints: Obj) -> str:
    """The ENDPOINTS cell: up to three ``ip:port`` (or bare IPs for port-less subsets), then ``+ N more...``."""
    subsets = endpoints.get("subsets") or []
    if not subsets:
        return "<none>"
    shown: list[str] = []
    total = 0
    for subset in subsets:
        addresses = [a.get("ip", "") for a in subset.get("addresses") or []]
        ports = subset.get("ports") or []
        if not ports:
            total += len(addresses)
            shown.extend(addresses)
            continue
        for port in ports:
            total += len(addresses)
            shown.extend(_join_host_port(ip, _int(port.get("port"))) for ip in addresses)
    return _list_with_more(shown, total, empty="")


ENDPOINTS = Printer((
    NAME,
    Column("Endpoints", lambda o, c: format_endpoints(o), ref("core.v1.Endpoints", "subsets")),
    AGE,
))


def _slice_ports(eps: Obj, ctx: Context) -> str:
    shown = []
    for port in eps.get("ports") or []:
        if port.get("port") is not None:
            shown.append(str(port["port"]))
        elif port.get("name") is not None:
            shown.append(port["name"])
        else:
            shown.append("*")
    return _list_with_more(shown, len(shown))


def _slice_endpoints(eps: Obj, ctx: Context) -> str:
    shown = [address for endpoint in eps.get("endpoints") or [] for address in endpoint.get("addresses") or []]
    return _list_with_more(shown, len(shown))


ENDPOINT_SLICE = Printer((
    NAME,
    Column("AddressType", lambda o, c: o.get("addressType") or "", ref("discovery.v1.EndpointSlice", "addressType")),
    Column("Ports", _slice_ports, ref("discovery.v1.EndpointSlice", "ports")),
    Column("Endpoints", _slice_endpoints, ref("discovery.v1.EndpointSlice", "endpoints")),
    AGE,
))


def _ingress_hosts(ing: Obj, ctx: Context) -> str:
    rules = _spec(ing).get("rules") or []
    hosts: list[str] = []
    more = False
    for rule in rules:  # rules without a host are skipped, but still counted in "N more"
        more = more or len(hosts) == 3
        if not more and rule.get("host"):
            hosts.append(rule["host"])
    if not hosts:
        return "*"
    return f"{','.join(hosts)} + {len(rules) - 3} more..." if more else ",".join(hosts)


INGRESS = Printer((
    NAME,
    Column("Class", lambda o, c: _or(_spec(o).get("ingressClassName"), "<none>"),
           "The name of the IngressClass resource that should be used for additional configuration"),
    Column("Hosts", _ingress_hosts, "Hosts that incoming requests are matched against before the ingress rule"),
    Column("Address", lambda o, c: ",".join(_load_balancer_addresses(_dig(o, "status", "loadBalancer", "ingress"))),
           "Address is a list containing ingress points for the load-balancer"),
    Column("Ports", lambda o, c: "80, 443" if _spec(o).get("tls") else "80", "Ports of TLS configurations that open"),
    AGE,
))


def _ingress_class_parameters(ic: Obj, ctx: Context) -> str:
    params = _spec(ic).get("parameters")
    if not params:
        return "<none>"
    kind = params.get("kind", "")
    if params.get("apiGroup") is not None:
        kind += "." + params["apiGroup"]
    return f"{kind}/{params.get('name', '')}"


INGRESS_CLASS = Printer((
    NAME,
    Column("Controller", lambda o, c: _spec(o).get("controller") or "",
           "Controller that is responsible for handling this class"),
    Column("Parameters", _ingress_class_parameters, "A reference to a resource with additional parameters"),
    AGE,
))

NETWORK_POLICY = Printer((
    NAME,
    Column("Pod-Selector", lambda o, c: _format_selector(_spec(o).get("podSelector")),
           ref("networking.v1.NetworkPolicySpec", "podSelector")),
    AGE,
))


# --- workloads -----------------------------------------------------------------------

_TEMPLATE = ("spec", "template")


def _replicas(obj: Obj) -> int:
    """``spec.replicas``, defaulted to 1 as the API does."""
    value = _spec(obj).get("replicas")
    return 1 if value is None else int(value)


def _status_int(field_name: str) -> Cell:
    return lambda o, c: _int(_status(o).get(field_name))


def _selector_column(doc: Doc) -> Column:
    return Column("Selector", lambda o, c: _format_selector(_spec(o).get("selector")), doc, priority=1)


DEPLOYMENT = Printer((
    NAME,
    Column("Ready", lambda o, c: f"{_int(_status(o).get('readyReplicas'))}/{_replicas(o)}",
           "Number of the pod with ready state"),
    Column("Up-to-date", _status_int("updatedReplicas"), ref("apps.v1.DeploymentStatus", "updatedReplicas")),
    Column("Available", _status_int("availableReplicas"), ref("apps.v1.DeploymentStatus", "availableReplicas")),
    AGE,
    containers_column(_TEMPLATE),
    images_column(_TEMPLATE),
    Column("Selector", lambda o, c: selector_string(_spec(o).get("selector")),
           ref("apps.v1.DeploymentSpec", "selector"), priority=1),
))

REPLICA_SET = Printer((
    NAME,
    Column("Desired", lambda o, c: _replicas(o), ref("apps.v1.ReplicaSetSpec", "replicas"), type="integer"),
    Column("Current", _status_int("replicas"), ref("apps.v1.ReplicaSetStatus", "replicas"), type="integer"),
    Column("Ready", _status_int("readyReplicas"), ref("apps.v1.ReplicaSetStatus", "readyReplicas"), type="integer"),
    AGE,
    containers_column(_TEMPLATE),
    images_column(_TEMPLATE),
    _selector_column(ref("apps.v1.ReplicaSetSpec", "selector")),
))

REPLICATION_CONTROLLER = Printer((
    NAME,
    Column("Desired", lambda o, c: _replicas(o), ref("core.v1.ReplicationControllerSpec", "replicas"), type="integer"),
    Column("Current", _status_int("replicas"), ref("core.v1.ReplicationControllerStatus", "replicas"),
           type="integer"),
    Column("Ready", _status_int("readyReplicas"), ref("core.v1.ReplicationControllerStatus", "readyReplicas"),
           type="integer"),
    AGE,
    containers_column(_TEMPLATE),
    images_column(_TEMPLATE),
    Column("Selector", lambda o, c: _format_labels(_spec(o).get("selector")),
           ref("core.v1.ReplicationControllerSpec", "selector"), priority=1),
))

STATEFUL_SET = Printer((
    NAME,
    Column("Ready", lambda o, c: f"{_int(_status(o).get('readyReplicas'))}/{_replicas(o)}",
           "Number of the pod with ready state"),
    AGE,
    containers_column(_TEMPLATE),
    images_column(_TEMPLATE),
))

DAEMON_SET = Printer((
    NAME,
    Column("Desired", _status_int("desiredNumberScheduled"), ref("apps.v1.DaemonSetStatus", "desiredNumberScheduled"),
           type="integer"),
    Column("Current", _status_int("currentNumberScheduled"), ref("apps.v1.DaemonSetStatus", "currentNumberScheduled"),
           type="integer"),
    Column("Ready", _status_int("numberReady"), ref("apps.v1.DaemonSetStatus", "numberReady"), type="integer"),
    Column("Up-to-date", _status_int("updatedNumberScheduled"),
           ref("apps.v1.DaemonSetStatus", "updatedNumberScheduled"), type="integer"),
    Column("Available", _status_int("numberAvailable"), ref("apps.v1.DaemonSetStatus", "numberAvailable"),
           type="integer"),
    Column("Node Selector", lambda o, c: _format_labels(_dig(o, "spec", "template", "spec", "nodeSelector")),
           ref("core.v1.PodSpec", "nodeSelector")),
    AGE,
    containers_column(_TEMPLATE),
    images_column(_TEMPLATE),
    _selector_column(ref("apps.v1.DaemonSetSpec", "selector")),
))


def _condition_status(conditions: list[Obj], condition_type: str) -> bool:
    """``hasJobCondition``: the first condition of this type decides."""
    for condition in conditions:
        if condition.get("type") == condition_type:
            return condition.get("status") == "True"
    return False


def _job_status(job: Obj, ctx: Context) -> str:
    conditions = _status(job).get("conditions") or []
    if _condition_status(conditions, "Complete"):
        return "Complete"
    if _condition_status(conditions, "Failed"):
        return "Failed"
    if _meta(job).get("deletionTimestamp"):
        return "Terminating"
    if _condition_status(conditions, "Suspended"):
        return "Suspended"
    if _condition_status(conditions, "FailureTarget"):
        return "FailureTarget"
    return "Running"


def _job_completions(job: Obj, ctx: Context) -> str:
    succeeded = _int(_status(job).get("succeeded"))
    completions = _spec(job).get("completions")
    if completions is not None:
        return f"{succeeded}/{completions}"
    parallelism = _int(_spec(job).get("parallelism"))
    return f"{succeeded}/1 of {parallelism}" if parallelism > 1 else f"{succeeded}/1"


def _job_duration(job: Obj, ctx: Context) -> str:
    start = parse_time(_status(job).get("startTime"))
    if start is None:
        return ""
    end = parse_time(_status(job).get("completionTime")) or ctx.now
    return human_duration(end - start)


JOB = Printer((
    NAME,
    Column("Status", _job_status, "Status of the job."),
    Column("Completions", _job_completions, ref("batch.v1.JobStatus", "succeeded")),
    Column("Duration", _job_duration, "Time required to complete the job."),
    AGE,
    containers_column(_TEMPLATE),
    images_column(_TEMPLATE),
    _selector_column(ref("batch.v1.JobSpec", "selector")),
))


def _bool_text(value: Any) -> str:
    """``printBoolPtr``: ``True``/``False``, ``<unset>`` for null."""
    if value is None:
        return "<unset>"
    return "True" if value else "False"


def _last_schedule(cj: Obj, ctx: Context) -> str:
    last = _status(cj).get("lastScheduleTime")
    return since(last, ctx.now) if last else "<none>"


_JOB_TEMPLATE = ("spec", "jobTemplate", "spec", "template")

CRON_JOB = Printer((
    NAME,
    Column("Schedule", lambda o, c: _spec(o).get("schedule") or "", ref("batch.v1.CronJobSpec", "schedule")),
    Column("Timezone", lambda o, c: _nullable(_spec(o).get("timeZone"), "<none>"),
           ref("batch.v1.CronJobSpec", "timeZone")),
    Column("Suspend", lambda o, c: _bool_text(_spec(o).get("suspend")), ref("batch.v1.CronJobSpec", "suspend"),
           type="boolean"),
    Column("Active", lambda o, c: len(_status(o).get("active") or []), ref("batch.v1.CronJobStatus", "active"),
           type="integer"),
    Column("Last Schedule", _last_schedule, ref("batch.v1.CronJobStatus", "lastScheduleTime")),
    AGE,
    containers_column(_JOB_TEMPLATE),
    images_column(_JOB_TEMPLATE),
    Column("Selector", lambda o, c: _format_selector(_dig(o, "spec", "jobTemplate", "spec", "selector")),
           ref("batch.v1.JobSpec", "selector"), priority=1),
))


def _controller_of(obj: Obj, ctx: Context) -> str:
    owner = next((r for r in _meta(obj).get("ownerReferences") or [] if r.get("controller")), None)
    if owner is None:
        return "<none>"
    api_version, kind = owner.get("apiVersion", ""), owner.get("kind", "")
    group = api_version.split("/", 1)[0] if "/" in api_version else ""
    if not group and not kind:
        return owner.get("name", "")
    group_kind = f"{kind}.{group}" if group else kind
    return f"{group_kind.lower()}/{owner.get('name', '')}"


CONTROLLER_REVISION = Printer((
    NAME,
    Column("Controller", _controller_of, "Controller of the object"),
    Column("Revision", lambda o, c: _int(o.get("revision")), ref("apps.v1.ControllerRevision", "revision")),
    AGE,
))


def _hpa_metrics(hpa: Obj) -> tuple[list[Obj], list[Obj]]:
    """Metric specs and statuses in autoscaling/v2 shape (autoscaling/v1 objects carry a CPU target only)."""
    spec, status = _spec(hpa), _status(hpa)
    if "targetCPUUtilizationPercentage" not in spec:
        return spec.get("metrics") or [], status.get("currentMetrics") or []
    specs, statuses = [], []
    if spec.get("targetCPUUtilizationPercentage") is not None:
        specs.append({"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization",
                                      "averageUtilization": spec["targetCPUUtilizationPercentage"]}}})
    if status.get("currentCPUUtilizationPercentage") is not None:
        statuses.append({"type": "Resource", "resource": {
            "name": "cpu", "current": {"averageUtilization": status["currentCPUUtilizationPercentage"]}}})
    return specs, statuses


def _nil_quantity(value: Any) -> str:
    """``(*resource.Quantity).String()`` on a possibly nil pointer."""
    return "<nil>" if value is None else str(value)


def _value_metric(spec_source: Obj, status_source: Obj | None) -> str:
    """External and Object metrics: ``current/target``, ``(avg)`` for average-value targets."""
    target = spec_source.get("target") or {}
    if target.get("averageValue") is not None:
        current = "<unknown>"
        if status_source is not None and _dig(status_source, "current", "averageValue") is not None:
            current = str(status_source["current"]["averageValue"])
        return f"{current}/{target['averageValue']} (avg)"
    current = "<unknown>"
    if status_source is not None:
        current = _nil_quantity(_dig(status_source, "current", "value"))
    return f"{current}/{_nil_quantity(target.get('value'))}"


def _resource_metric(spec_source: Obj, status_source: Obj | None) -> str:
    """Resource and ContainerResource metrics: ``cpu: 45%/80%`` or ``memory: 100Mi/200Mi``."""
    target = spec_source.get("target") or {}
    name = spec_source.get("name", "")
    if target.get("averageValue") is not None:
        current = "<unknown>"
        if status_source is not None:
            current = _nil_quantity(_dig(status_source, "current", "averageValue"))
        return f"{name}: {current}/{target['averageValue']}"
    current = "<unknown>"
    if status_source is not None and _dig(status_source, "current", "averageUtilization") is not None:
        current = f"{status_source['current']['averageUtilization']}%"
    wanted = "<auto>" if target.get("averageUtilization") is None else f"{target['averageUtilization']}%"
    return f"{name}: {current}/{wanted}"


def _pods_metric(spec_source: Obj, status_source: Obj | None) -> str:
    current = "<unknown>"
    if status_source is not None:
        current = _nil_quantity(_dig(status_source, "current", "averageValue"))
    return f"{current}/{_nil_quantity(_dig(spec_source, 'target', 'averageValue'))}"


#: metric type -> (member holding its source, formatter)
_HPA_METRIC_FORMATS: dict[str, tuple[str, Callable[[Obj, Obj | None], str]]] = {
    "External": ("external", _value_metric),
    "Object": ("object", _value_metric),
    "Pods": ("pods", _pods_metric),
    "Resource": ("resource", _resource_metric),
    "ContainerResource": ("containerResource", _resource_metric),
}


def _hpa_targets(hpa: Obj, ctx: Context) -> str:
    specs, statuses = _hpa_metrics(hpa)
    if not specs:
        return "<none>"
    texts = []
    for index, metric in enumerate(specs):
        known = _HPA_METRIC_FORMATS.get(metric.get("type", ""))
        if known is None:
            texts.append("<unknown type>")
            continue
        member, render = known
        status_source = statuses[index].get(member) if index < len(statuses) else None
        texts.append(render(metric.get(member) or {}, status_source))
    if len(texts) > 2:
        return f"{', '.join(texts[:2])} + {len(texts) - 2} more..."
    return ", ".join(texts)


def _hpa_reference(hpa: Obj, ctx: Context) -> str:
    target = _spec(hpa).get("scaleTargetRef") or {}
    return f"{target.get('kind', '')}/{target.get('name', '')}"


HORIZONTAL_POD_AUTOSCALER = Printer((
    NAME,
    Column("Reference", _hpa_reference, ref("autoscaling.v2.HorizontalPodAutoscalerSpec", "scaleTargetRef")),
    Column("Targets", _hpa_targets, ref("autoscaling.v2.HorizontalPodAutoscalerSpec", "metrics")),
    Column("MinPods", lambda o, c: _or(_spec(o).get("minReplicas"), "<unset>"),
           ref("autoscaling.v2.HorizontalPodAutoscalerSpec", "minReplicas")),
    Column("MaxPods", lambda o, c: _int(_spec(o).get("maxReplicas")),
           ref("autoscaling.v2.HorizontalPodAutoscalerSpec", "maxReplicas")),
    Column("Replicas", _status_int("currentReplicas"),
           ref("autoscaling.v2.HorizontalPodAutoscalerStatus", "currentReplicas")),
    AGE,
))

POD_DISRUPTION_BUDGET = Printer((
    NAME,
    Column("Min Available", lambda o, c: "N/A" if _spec(o).get("minAvailable") is None
           else str(_spec(o)["minAvailable"]), "The minimum number of pods that must be available."),
    Column("Max Unavailable", lambda o, c: "N/A" if _spec(o).get("maxUnavailable") is None
           else str(_spec(o)["maxUnavailable"]), "The maximum number of pods that may be unavailable."),
    Column("Allowed Disruptions", _status_int("disruptionsAllowed"),
           "Calculated number of pods that may be disrupted at this time.", type="integer"),
    AGE,
))


# --- configuration and access -----------------------------------------------------------

CONFIG_MAP = Printer((
    NAME,
    Column("Data", lambda o, c: len(o.get("data") or {}) + len(o.get("binaryData") or {}),
           ref("core.v1.ConfigMap", "data")),
    AGE,
))

SECRET = Printer((
    NAME,
    Column("Type", lambda o, c: o.get("type") or "", ref("core.v1.Secret", "type")),
    Column("Data", lambda o, c: len(o.get("data") or {}), ref("core.v1.Secret", "data")),
    AGE,
))

SERVICE_ACCOUNT = Printer((
    NAME,
    Column("Secrets", lambda o, c: len(o.get("secrets") or []), ref("core.v1.ServiceAccount", "secrets")),
    AGE,
))


def _subjects(subject_kind: str) -> Cell:
    """Users, groups or service accounts (``namespace/name``) of a binding, comma-separated."""
    def cell(binding: Obj, ctx: Context) -> str:
        names = []
        for subject in binding.get("subjects") or []:
            if subject.get("kind") != subject_kind:
                continue
            if subject_kind == "ServiceAccount":
                names.append(f"{subject.get('namespace', '')}/{subject.get('name', '')}")
            else:
                names.append(subject.get("name", ""))
        return ", ".join(names)
    return cell


def _binding_printer(type_name: str, noun: str) -> Printer:
    return Printer((
        NAME,
        Column("Role", lambda o, c: f"{_dig(o, 'roleRef', 'kind') or ''}/{_dig(o, 'roleRef', 'name') or ''}",
               ref(f"rbac.v1.{type_name}", "roleRef")),
        AGE,
        Column("Users", _subjects("User"), f"Users in the {noun}", priority=1),
        Column("Groups", _subjects("Group"), f"Groups in the {noun}", priority=1),
        Column("ServiceAccounts", _subjects("ServiceAccount"), f"ServiceAccounts in the {noun}", priority=1),
    ))


ROLE_BINDING = _binding_printer("RoleBinding", "roleBinding")
CLUSTER_ROLE_BINDING = _binding_printer("ClusterRoleBinding", "clusterRoleBinding")


def _quota_column(limits: bool) -> Cell:
    """``resource: used/hard`` pairs, sorted by resource; ``limits.*`` in the Limit column, the rest in Request."""
    def cell(quota: Obj, ctx: Context) -> str:
        hard = _status(quota).get("hard") or {}
        used = _status(quota).get("used") or {}
        pieces = [f"{name}: {_quantity(used.get(name))}/{_quantity(hard[name])}" for name in sorted(hard)
                  if (name.split(".")[0] == "limits" and "." in name) == limits]
        return ", ".join(pieces)
    return cell


RESOURCE_QUOTA = Printer((
    NAME,
    Column("Request", _quota_column(False),
           "Request represents a minimum amount of cpu/memory that a container may consume."),
    Column("Limit", _quota_column(True), "Limits control the maximum amount of cpu/memory that a container may use "
           "independent of contention on the node."),
    AGE,
))

PRIORITY_CLASS = Printer((
    NAME,
    Column("Value", lambda o, c: _int(o.get("value")), ref("scheduling.v1.PriorityClass", "value"), type="integer"),
    Column("Global-Default", lambda o, c: bool(o.get("globalDefault")),
           ref("scheduling.v1.PriorityClass", "globalDefault"), type="boolean"),
    AGE,
    Column("PreemptionPolicy", lambda o, c: o.get("preemptionPolicy") or "",
           ref("scheduling.v1.PriorityClass", "preemptionPolicy")),
))

LEASE = Printer((
    NAME,
    Column("Holder", lambda o, c: _spec(o).get("holderIdentity") or "",
           ref("coordination.v1.LeaseSpec", "holderIdentity")),
    AGE,
))


# --- storage ------------------------------------------------------------------------------

_ACCESS_MODES = (("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"),
                 ("ReadWriteOncePod", "RWOP"))


def _access_modes(modes: list[str] | None) -> str:
    present = set(modes or [])
    return ",".join(short for mode, short in _ACCESS_MODES if mode in present)


def _storage_class_of(obj: Obj) -> str:
    """The beta storage-class annotation wins over ``spec.storageClassName``."""
    annotated = (_meta(obj).get("annotations") or {}).get("volume.beta.kubernetes.io/storage-class")
    if annotated is not None:
        return annotated
    return _spec(obj).get("storageClassName") or ""


def _phase_or_terminating(obj: Obj, ctx: Context) -> str:
    return "Terminating" if _meta(obj).get("deletionTimestamp") else (_status(obj).get("phase") or "")


def _pv_claim(pv: Obj, ctx: Context) -> str:
    claim = _spec(pv).get("claimRef")
    return f"{claim.get('namespace', '')}/{claim.get('name', '')}" if claim else ""


PERSISTENT_VOLUME = Printer((
    NAME,
    Column("Capacity", lambda o, c: _quantity(_dig(o, "spec", "capacity", "storage")),
           ref("core.v1.PersistentVolumeSpec", "capacity")),
    Column("Access Modes", lambda o, c: _access_modes(_spec(o).get("accessModes")),
           ref("core.v1.PersistentVolumeSpec", "accessModes")),
    Column("Reclaim Policy", lambda o, c: _spec(o).get("persistentVolumeReclaimPolicy") or "",
           ref("core.v1.PersistentVolumeSpec", "persistentVolumeReclaimPolicy")),
    Column("Status", _phase_or_terminating, ref("core.v1.PersistentVolumeStatus", "phase")),
    Column("Claim", _pv_claim, ref("core.v1.PersistentVolumeSpec", "claimRef")),
    Column("StorageClass", lambda o, c: _storage_class_of(o), "StorageClass of the pv"),
    Column("VolumeAttributesClass", lambda o, c: _or(_spec(o).get("volumeAttributesClassName"), "<unset>"),
           "VolumeAttributesClass of the pv"),
    Column("Reason", lambda o, c: _status(o).get("reason") or "", ref("core.v1.PersistentVolumeStatus", "reason")),
    AGE,
    Column("VolumeMode", lambda o, c: _or(_spec(o).get("volumeMode"), "<unset>"),
           ref("core.v1.PersistentVolumeSpec", "volumeMode"), priority=1),
))


def _bound(pvc: Obj) -> bool:
    return bool(_spec(pvc).get("volumeName"))


PERSISTENT_VOLUME_CLAIM = Printer((
    NAME,
    Column("Status", _phase_or_terminating, ref("core.v1.PersistentVolumeClaimStatus", "phase")),
    Column("Volume", lambda o, c: _spec(o).get("volumeName") or "",
           ref("core.v1.PersistentVolumeClaimSpec", "volumeName")),
    Column("Capacity", lambda o, c: _quantity(_dig(o, "status", "capacity", "storage")) if _bound(o) else "",
           ref("core.v1.PersistentVolumeClaimStatus", "capacity")),
    Column("Access Modes", lambda o, c: _access_modes(_status(o).get("accessModes")) if _bound(o) else "",
           ref("core.v1.PersistentVolumeClaimStatus", "accessModes")),
    Column("StorageClass", lambda o, c: _storage_class_of(o), "StorageClass of the pvc"),
    Column("VolumeAttributesClass", lambda o, c: _or(_spec(o).get("volumeAttributesClassName"), "<unset>"),
           "VolumeAttributesClass of the pvc"),
    AGE,
    Column("VolumeMode", lambda o, c: _or(_spec(o).get("volumeMode"), "<unset>"),
           ref("core.v1.PersistentVolumeClaimSpec", "volumeMode"), priority=1),
))


def _storage_class_name(sc: Obj, ctx: Context) -> str:
    annotations = _meta(sc).get("annotations") or {}
    default = "true" in (annotations.get("storageclass.kubernetes.io/is-default-class"),
                         annotations.get("storageclass.beta.kubernetes.io/is-default-class"))
    name = _meta(sc).get("name", "")
    return f"{name} (default)" if default else name


STORAGE_CLASS = Printer((
    Column("Name", _storage_class_name, DOC_NAME, format="name"),
    Column("Provisioner", lambda o, c: o.get("provisioner") or "", ref("storage.v1.StorageClass", "provisioner")),
    Column("ReclaimPolicy", lambda o, c: o.get("reclaimPolicy") or "Delete",
           ref("storage.v1.StorageClass", "reclaimPolicy")),
    Column("VolumeBindingMode", lambda o, c: o.get("volumeBindingMode") or "Immediate",
           ref("storage.v1.StorageClass", "volumeBindingMode")),
    Column("AllowVolumeExpansion", lambda o, c: bool(o.get("allowVolumeExpansion")),
           ref("storage.v1.StorageClass", "allowVolumeExpansion")),
    AGE,
))


# --- events ---------------------------------------------------------------------------------

#: events.k8s.io/v1 field -> the core/v1 field it is stored as
_EVENTS_V1_FIELDS = {"regarding": "involvedObject", "note": "message", "deprecatedFirstTimestamp": "firstTimestamp",
                     "deprecatedLastTimestamp": "lastTimestamp", "deprecatedCount": "count",
                     "deprecatedSource": "source", "reportingController": "reportingComponent"}


def _core_event(event: Obj, ctx: Context) -> Obj:
    """The event in core/v1 field names (events.k8s.io/v1 renames several)."""
    if ctx.kind.group != "events.k8s.io":
        return event
    return {_EVENTS_V1_FIELDS.get(key, key): value for key, value in event.items()}


def _event_times(event: Obj, ctx: Context) -> tuple[str, str, int]:
    """LAST SEEN, FIRST SEEN and COUNT of an event (series win over the deprecated fields)."""
    first = since(event.get("firstTimestamp"), ctx.now) if event.get("firstTimestamp") \
        else since(event.get("eventTime"), ctx.now)
    last = since(event.get("lastTimestamp"), ctx.now) if event.get("lastTimestamp") else first
    count = _int(event.get("count"))
    series = event.get("series")
    if series:
        last = since(series.get("lastObservedTime"), ctx.now)
        count = _int(series.get("count"))
    elif count == 0:
        count = 1
    return last, first, count


def _event_object(event: Obj, ctx: Context) -> str:
    involved = _core_event(event, ctx).get("involvedObject") or {}
    kind = (involved.get("kind") or "").lower()
    return f"{kind}/{involved['name']}" if involved.get("name") else kind


def _event_source(event: Obj, ctx: Context) -> str:
    core = _core_event(event, ctx)
    source = core.get("source") or {}
    component = source.get("component") or core.get("reportingComponent") or ""
    instance = source.get("host") or core.get("reportingInstance") or ""
    return f"{component}, {instance}" if instance else component


def _event_field(field_name: str) -> Cell:
    return lambda o, c: _core_event(o, c).get(field_name) or ""


EVENT = Printer((
    Column("Last Seen", lambda o, c: _event_times(_core_event(o, c), c)[0], ref("core.v1.Event", "lastTimestamp")),
    Column("Type", _event_field("type"), ref("core.v1.Event", "type")),
    Column("Reason", _event_field("reason"), ref("core.v1.Event", "reason")),
    Column("Object", _event_object, ref("core.v1.Event", "involvedObject")),
    Column("Subobject", lambda o, c: _dig(_core_event(o, c), "involvedObject", "fieldPath") or "",
           ref("core.v1.ObjectReference", "fieldPath"), priority=1),
    Column("Source", _event_source, ref("core.v1.Event", "source"), priority=1),
    Column("Message", lambda o, c: (_core_event(o, c).get("message") or "").strip(), ref("core.v1.Event", "message")),
    Column("First Seen", lambda o, c: _event_times(_core_event(o, c), c)[1], ref("core.v1.Event", "firstTimestamp"),
           priority=1),
    Column("Count", lambda o, c: _event_times(_core_event(o, c), c)[2], ref("core.v1.Event", "count"), priority=1),
    Column("Name", lambda o, c: _meta(o).get("name", ""), DOC_NAME, format="name", priority=1),
))


# --- the default table ------------------------------------------------------------------------

def _created_at(obj: Obj, ctx: Context) -> str:
    """RFC 3339 creation time in UTC; Go's zero time when unset."""
    when = parse_time(_meta(obj).get("creationTimestamp"))
    if when is None:
        return "0001-01-01T00:00:00Z"
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


DEFAULT = Printer((
    NAME,
    Column("Created At", _created_at, DOC_CREATED, type="date"),
))

#: (API group, kind) -> its printer; every other kind gets :data:`DEFAULT`.
PRINTERS: dict[tuple[str, str], Printer] = {
    ("", "Pod"): POD,
    ("", "Node"): NODE,
    ("", "Namespace"): NAMESPACE,
    ("", "Service"): SERVICE,
    ("", "Endpoints"): ENDPOINTS,
    ("", "ConfigMap"): CONFIG_MAP,
    ("", "Secret"): SECRET,
    ("", "ServiceAccount"): SERVICE_ACCOUNT,
    ("", "Event"): EVENT,
    ("events.k8s.io", "Event"): EVENT,
    ("", "PersistentVolume"): PERSISTENT_VOLUME,
    ("", "PersistentVolumeClaim"): PERSISTENT_VOLUME_CLAIM,
    ("", "ResourceQuota"): RESOURCE_QUOTA,
    ("", "ReplicationController"): REPLICATION_CONTROLLER,
    ("apps", "Deployment"): DEPLOYMENT,
    ("apps", "ReplicaSet"): REPLICA_SET,
    ("apps", "StatefulSet"): STATEFUL_SET,
    ("apps", "DaemonSet"): DAEMON_SET,
    ("apps", "ControllerRevision"): CONTROLLER_REVISION,
    ("batch", "Job"): JOB,
    ("batch", "CronJob"): CRON_JOB,
    ("autoscaling", "HorizontalPodAutoscaler"): HORIZONTAL_POD_AUTOSCALER,
    ("policy", "PodDisruptionBudget"): POD_DISRUPTION_BUDGET,
    ("networking.k8s.io", "NetworkPolicy"): NETWORK_POLICY,
    ("networking.k8s.io", "Ingress"): INGRESS,
    ("networking.k8s.io", "IngressClass"): INGRESS_CLASS,
    ("discovery.k8s.io", "EndpointSlice"): ENDPOINT_SLICE,
    ("rbac.authorization.k8s.io", "RoleBinding"): ROLE_BINDING,
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): CLUSTER_ROLE_BINDING,
    ("coordination.k8s.io", "Lease"): LEASE,
    ("scheduling.k8s.io", "PriorityClass"): PRIORITY_CLASS,
    ("storage.k8s.io", "StorageClass"): STORAGE_CLASS,
}


def printer_for(kind: Kind) -> Printer:
    return PRINTERS.get((kind.group, kind.kind), DEFAULT)


# --- the Table --------------------------------------------------------------------------------

def _row_object(obj: Obj, include_object: str, api_version: str) -> Obj | None:
    if include_object == "Object":
        return obj
    if include_object == "None":
        return None
    return {"kind": "PartialObjectMetadata", "apiVersion": api_version, "metadata": _meta(obj)}


def to_table(kind: Kind, objects: list[Obj], *, now: datetime, include_object: str = "Metadata",
             list_meta: Obj | None = None, headers: bool = True,
             api_version: str = TABLE_API_VERSION) -> Obj:
    """A ``Table`` of ``objects`` (all of ``kind``), as kube-apiserver answers ``as=Table``.

    ``include_object`` is the ``includeObject`` parameter: ``Metadata`` (also when
    empty) puts a ``PartialObjectMetadata`` in each row, ``Object`` the object itself,
    ``None`` nothing. ``list_meta`` is the ListMeta of a list answer (resourceVersion,
    continue, remainingItemCount); without it (a single GET, a watch event) the table
    takes the object's resourceVersion. ``headers=False`` leaves out the column
    definitions, as the server does for watch events after the first.
    ``api_version`` is ``meta.k8s.io/v1`` or ``meta.k8s.io/v1beta1``, as negotiated.
    Rows refer to the given objects' dicts without copying them. ``now`` fixes AGE.
    """
    include_object = include_object or "Metadata"
    if include_object not in INCLUDE_OBJECT_POLICIES:
        raise bad_request(f'unrecognized includeObject value: "{include_object}"')
    printer = printer_for(kind)
    ctx = Context(now=now, kind=kind)
    if list_meta is not None:
        metadata = {k: list_meta[k] for k in ("resourceVersion", "continue", "remainingItemCount")
                    if list_meta.get(k) not in (None, "")}
    elif len(objects) == 1 and _meta(objects[0]).get("resourceVersion"):
        metadata = {"resourceVersion": _meta(objects[0])["resourceVersion"]}
    else:
        metadata = {}
    rows = []
    for obj in objects:
        row: Obj = {"cells": [column.cell(obj, ctx) for column in printer.columns]}
        conditions = printer.conditions(obj) if printer.conditions else []
        if conditions:
            row["conditions"] = conditions
        row["object"] = _row_object(obj, include_object, api_version)
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": api_version,
        "metadata": metadata,
        "columnDefinitions": [column.definition() for column in printer.columns] if headers else [],
        "rows": rows,
    }
