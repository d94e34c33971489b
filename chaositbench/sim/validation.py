"""Validation as the real kube-apiserver performs it, with its field paths and texts.

:func:`validate` returns the field errors the real server would answer with
``422 Invalid`` for an object (a plain JSON dict, already defaulted); ``old`` is
the stored object on update. :func:`check_decodable` raises the ``400
BadRequest`` the real server answers when the body cannot even be decoded
(malformed quantities, bad base64 in a Secret).

Bad values print as apimachinery >= 1.34 prints them: strings quoted, numbers
bare, structures as compact JSON (``spec.selector: Invalid value:
{"matchLabels":{"app":"web"}}: field is immutable``).

The namespace of the request versus the body, name generation and uniqueness,
and everything that needs other objects (does the ConfigMap exist, quota) are
the server's job.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import re
import zoneinfo
from fractions import Fraction
from typing import Any, Callable

from . import schema
from .errors import APIError, FieldError, bad_request
from .formats import (inclusive_range_error, is_config_map_key, is_dns1035_label, is_dns1123_label,
                      is_dns1123_subdomain, is_http_header_name, is_label_value, is_path_segment_name,
                      is_qualified_name, is_relaxed_env_var_name, is_valid_cidr, is_valid_ip, is_valid_percent,
                      is_valid_port_name, is_valid_port_num, name_errors)
from .kinds import Kind
from .quantity import QuantityError, canonical_quantity, parse_quantity
from .selectors import selector_from_object

Obj = dict[str, Any]
Errors = list[FieldError]

MAX_INT32 = 2147483647
TOTAL_ANNOTATION_SIZE = 256 * 1024
MAX_SECRET_SIZE = 1024 * 1024
IMMUTABLE = "field is immutable"
NEGATIVE = "must be greater than or equal to 0"
FILE_MODE = "must be a number between 0 and 0777 (octal), both inclusive"

#: What a running pod may change, in the order the real message lists it.
UPDATABLE_POD_SPEC_FIELDS = (
    "`spec.containers[*].image`",
    "`spec.initContainers[*].image`",
    "`spec.activeDeadlineSeconds`",
    "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
)

#: Object-name rule per kind (default: DNS-1123 subdomain).
NAME_RULES = {
    "Service": "dns1035", "Namespace": "label", "StatefulSet": "label",
    "Role": "path", "ClusterRole": "path", "RoleBinding": "path", "ClusterRoleBinding": "path",
}


class JSONValue:
    """A structured bad value, printed as compact JSON like apimachinery prints it."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __str__(self) -> str:
        return json.dumps(self.value, separators=(",", ":"), ensure_ascii=False)

    __repr__ = __str__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, JSONValue) and other.value == self.value

    __hash__ = None  # type: ignore[assignment]


# --------------------------------------------------------------------------------------
# Error constructors and paths
# --------------------------------------------------------------------------------------


def _shown(value: Any) -> Any:
    return JSONValue(value) if isinstance(value, (dict, list)) else value


def _rendered(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(_shown(value))


def required(path: str, detail: str = "") -> FieldError:
    """``path: Required value[: detail]``."""
    return FieldError(path, "FieldValueRequired", detail)


def invalid(path: str, value: Any, detail: str) -> FieldError:
    """``path: Invalid value: <value>: detail``."""
    return FieldError(path, "FieldValueInvalid", detail, _shown(value))


def not_supported(path: str, value: Any, supported: list[str] | tuple[str, ...]) -> FieldError:
    """``path: Unsupported value: <value>: supported values: "a", "b"``."""
    detail = "supported values: " + ", ".join(json.dumps(v) for v in supported)
    return FieldError(path, "FieldValueNotSupported", detail, _shown(value))


def forbidden(path: str, detail: str) -> FieldError:
    """``path: Forbidden: detail``."""
    return FieldError(path, "FieldValueForbidden", detail)


def duplicate(path: str, value: Any, detail: str = "") -> FieldError:
    """``path: Duplicate value: <value>[: detail]``."""
    return FieldError(path, "FieldValueDuplicate", _rendered(value) + (f": {detail}" if detail else ""),
                      _shown(value))


def not_found(path: str, value: Any) -> FieldError:
    """``path: Not found: <value>``."""
    return FieldError(path, "FieldValueNotFound", _rendered(value), _shown(value))


def too_long(path: str, limit: int) -> FieldError:
    """``path: Too long: may not be more than N bytes``."""
    return FieldError(path, "FieldValueTooLong", f"may not be more than {limit} bytes")


def _p(path: str, *children: str | int) -> str:
    """Extend a field path the way ``field.Path`` prints: ``.child``, ``[0]``."""
    for child in children:
        if isinstance(child, int):
            path = f"{path}[{child}]"
        else:
            path = f"{path}.{child}" if path else child
    return path


def _key(path: str, key: str) -> str:
    return f"{path}[{key}]"


def _obj(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _objs(value: Any) -> list[Obj]:
    return [item if isinstance(item, dict) else {} for item in _list(value)]


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _nonnegative(value: Any, path: str) -> Errors:
    number = _int(value)
    return [invalid(path, number, NEGATIVE)] if number is not None and number < 0 else []


def _each(messages: list[str], path: str, value: Any) -> Errors:
    return [invalid(path, value, msg) for msg in messages]


def _prune(value: Any) -> Any:
    """Drop what Go's semantic equality treats as unset (null, "", 0, false, empty)."""
    if isinstance(value, dict):
        pruned = {k: _prune(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v is not None} or None
    if isinstance(value, list):
        return [_prune(v) for v in value] or None
    if value == "" or (not isinstance(value, str) and value == 0):
        return None
    return value


_GO_FIELD_NAMES = {"dnsPolicy": "DNSPolicy", "dnsConfig": "DNSConfig", "hostPID": "HostPID", "hostIPC": "HostIPC",
                   "os": "OS", "hostUsers": "HostUsers", "volumeMode": "VolumeMode"}


def spec_diff(type_name: str, old: Obj, new: Obj) -> str:
    """A ``cmp.Diff``-style summary of two specs for "may not change" messages."""
    lines = [f"  {type_name}{{"]
    same = 0
    for key in dict.fromkeys([*old, *new]):
        before, after = _prune(old.get(key)), _prune(new.get(key))
        if before == after:
            same += 1
            continue
        if same:
            lines.append(f"  \t... // {same} identical fields")
            same = 0
        name = _GO_FIELD_NAMES.get(key, key[:1].upper() + key[1:])
        if before is not None:
            lines.append(f"- \t{name}: {_rendered(before)},")
        if after is not None:
            lines.append(f"+ \t{name}: {_rendered(after)},")
    if same:
        lines.append(f"  \t... // {same} identical fields")
    lines.append("  }")
    return "\n".join(lines)


def _selector_value(selector: Any) -> JSONValue:
    """A LabelSelector as Go marshals it (struct field order, sorted maps)."""
    selector = _obj(selector)
    out: Obj = {}
    if selector.get("matchLabels"):
        out["matchLabels"] = dict(sorted(_obj(selector["matchLabels"]).items()))
    if selector.get("matchExpressions"):
        out["matchExpressions"] = [
            {k: e[k] for k in ("key", "operator", "values") if e.get(k) is not None}
            for e in _objs(selector["matchExpressions"])]
    return JSONValue(out)


def _map_value(labels: Any) -> JSONValue:
    return JSONValue(dict(sorted(_obj(labels).items())) if labels is not None else None)


# --------------------------------------------------------------------------------------
# Metadata, labels, selectors
# --------------------------------------------------------------------------------------

_STANDARD_FINALIZERS = ("kubernetes", "orphan", "foregroundDeletion")


def validate_labels(labels: Any, path: str) -> Errors:
    """Label keys (qualified names) and values, all reported at ``path``."""
    errs: Errors = []
    for key, value in _obj(labels).items():
        errs += _each(is_qualified_name(key), path, key)
        errs += _each(is_label_value(_str(value)), path, _str(value))
    return errs


def validate_annotations(annotations: Any, path: str) -> Errors:
    """Annotation keys (case-insensitive qualified names) and their total size (256 KiB)."""
    annotations = _obj(annotations)
    errs: Errors = []
    for key in annotations:
        errs += _each(is_qualified_name(key.lower()), path, key)
    if sum(len(k) + len(_str(v)) for k, v in annotations.items()) > TOTAL_ANNOTATION_SIZE:
        errs.append(too_long(path, TOTAL_ANNOTATION_SIZE))
    return errs


def _validate_finalizer(name: str, qualified_path: str, kube_path: str) -> Errors:
    errs = _each(is_qualified_name(name), qualified_path, name)
    if "/" not in name and name not in _STANDARD_FINALIZERS:
        errs.append(invalid(kube_path, name, "name is neither a standard finalizer name nor is it fully qualified"))
    return errs


def _validate_owner_references(refs: Any, path: str) -> Errors:
    errs: Errors = []
    controllers: list[str] = []
    for i, ref in enumerate(_objs(refs)):
        ipath = _p(path, i)
        for key in ("apiVersion", "kind", "name", "uid"):
            if not ref.get(key):
                errs.append(required(_p(ipath, key), "must not be empty"))
        if ref.get("controller") is True:
            controllers.append(f"{ref.get('kind', '')}/{ref.get('name', '')}")
    if len(controllers) > 1:
        errs.append(invalid(path, _list(refs), "Only one reference can have Controller set to true. "
                                               f'Found "true" in references for {controllers[0]} and {controllers[1]}'))
    return errs


def validate_object_meta(kind: Kind, meta: Obj, old_meta: Obj | None) -> Errors:
    """ObjectMeta rules: name (by kind), labels, annotations, owner references, finalizers."""
    rule = NAME_RULES.get(kind.kind, "subdomain")
    errs: Errors = []
    if old_meta is None and meta.get("generateName"):
        errs += _each(name_errors(rule, _str(meta["generateName"]), prefix=True), "metadata.generateName",
                      meta["generateName"])
    name = _str(meta.get("name"))
    if not name:
        errs.append(required("metadata.name", "name or generateName is required"))
    elif old_meta is None:
        errs += _each(name_errors(rule, name), "metadata.name", name)
    errs += validate_labels(meta.get("labels"), "metadata.labels")
    errs += validate_annotations(meta.get("annotations"), "metadata.annotations")
    errs += _validate_owner_references(meta.get("ownerReferences"), "metadata.ownerReferences")
    finalizers = [_str(f) for f in _list(meta.get("finalizers"))]
    for i, finalizer in enumerate(finalizers):
        errs += _validate_finalizer(finalizer, "metadata.finalizers", f"metadata.finalizers[{i}]")
    if old_meta is not None and old_meta.get("deletionTimestamp"):
        added = sorted(set(finalizers) - set(_list(old_meta.get("finalizers"))))
        if added:
            shown = "[]string{" + ", ".join(json.dumps(f) for f in added) + "}"
            errs.append(forbidden("metadata.finalizers", "no new finalizers can be added if the object is being "
                                                         f"deleted, found new finalizers {shown}"))
    return errs


def validate_label_selector(selector: Any, path: str) -> Errors:
    """``metav1.LabelSelector`` rules (operators, keys, values)."""
    if selector is None:
        return []
    selector = _obj(selector)
    errs = validate_labels(selector.get("matchLabels"), _p(path, "matchLabels"))
    for i, expr in enumerate(_objs(selector.get("matchExpressions"))):
        epath = _p(path, "matchExpressions", i)
        operator, values = expr.get("operator"), _list(expr.get("values"))
        if operator in ("In", "NotIn"):
            if not values:
                errs.append(required(_p(epath, "values"), "must be specified when `operator` is 'In' or 'NotIn'"))
        elif operator in ("Exists", "DoesNotExist"):
            if values:
                errs.append(forbidden(_p(epath, "values"),
                                      "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
        else:
            errs.append(invalid(_p(epath, "operator"), operator, "not a valid selector operator"))
        errs += _each(is_qualified_name(_str(expr.get("key"))), _p(epath, "key"), _str(expr.get("key")))
        for j, value in enumerate(values):
            errs += _each(is_label_value(_str(value)), _p(epath, "values", j), _str(value))
    return errs


def _selector_matches(selector: Any, labels: Any) -> bool:
    """Whether ``labels`` satisfy a LabelSelector (null selects nothing; malformed parts select nothing)."""
    if selector is None:
        return selector_from_object(None, null_matches_nothing=True).matches({})
    selector = _obj(selector)
    clean: Obj = {"matchLabels": {k: _str(v) for k, v in _obj(selector.get("matchLabels")).items()},
                  "matchExpressions": [{"key": _str(e.get("key")), "operator": _str(e.get("operator")),
                                        "values": [_str(v) for v in _list(e.get("values"))]}
                                       for e in _objs(selector.get("matchExpressions"))]}
    return selector_from_object(clean).matches({k: _str(v) for k, v in _obj(labels).items()})


# --------------------------------------------------------------------------------------
# Quantities and resources
# --------------------------------------------------------------------------------------

_STANDARD_RESOURCES = frozenset((
    "cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory", "requests.ephemeral-storage",
    "limits.cpu", "limits.memory", "limits.ephemeral-storage", "pods", "services", "replicationcontrollers",
    "resourcequotas", "secrets", "configmaps", "persistentvolumeclaims", "storage", "requests.storage",
    "services.nodeports", "services.loadbalancers"))


def _quantity(raw: Any) -> Fraction | None:
    try:
        return parse_quantity(raw)
    except (QuantityError, TypeError):
        return None


def _qtext(raw: Any) -> str:
    try:
        return canonical_quantity(raw)
    except (QuantityError, TypeError):
        return str(raw)


def _is_native(name: str) -> bool:
    return "/" not in name or "kubernetes.io/" in name


def _is_extended(name: str) -> bool:
    return not _is_native(name) and not name.startswith("requests.") and not is_qualified_name("requests." + name)


def _overcommit_allowed(name: str) -> bool:
    return _is_native(name) and not name.startswith("hugepages-")


def _validate_container_resource_name(name: str, path: str) -> Errors:
    errs = _each(is_qualified_name(name), path, name)
    if errs:
        return errs
    if "/" not in name:
        if name not in _STANDARD_RESOURCES and not name.startswith(("hugepages-", "requests.hugepages-")):
            errs.append(invalid(path, name, "must be a standard resource type or fully qualified"))
        if name not in ("cpu", "memory", "ephemeral-storage") and not name.startswith("hugepages-"):
            errs.append(invalid(path, name, "must be a standard resource for containers"))
    elif not _is_native(name) and not _is_extended(name):
        errs.append(invalid(path, name, "doesn't follow extended resource name standard"))
    return errs


def _validate_quantity_value(name: str, raw: Any, path: str) -> Errors:
    value = _quantity(raw)
    if value is None:
        return []
    errs: Errors = []
    if value < 0:
        errs.append(invalid(path, _qtext(raw), NEGATIVE))
    if _is_extended(name) and (value * 1000) % 1000 != 0:
        errs.append(invalid(path, _qtext(raw), "must be an integer"))
    return errs


def validate_resource_requirements(resources: Any, path: str) -> Errors:
    """Container ``resources``: names, non-negative values, requests within limits."""
    resources = _obj(resources)
    limits, requests = _obj(resources.get("limits")), _obj(resources.get("requests"))
    lim_path, req_path = _p(path, "limits"), _p(path, "requests")
    errs: Errors = []
    for name, raw in limits.items():
        errs += _validate_container_resource_name(name, _key(lim_path, name))
        errs += _validate_quantity_value(name, raw, _key(lim_path, name))
    for name, raw in requests.items():
        errs += _validate_container_resource_name(name, _key(req_path, name))
        errs += _validate_quantity_value(name, raw, _key(req_path, name))
        request = _quantity(raw)
        if name in limits:
            limit = _quantity(limits[name])
            if request is None or limit is None:
                continue
            if request != limit and not _overcommit_allowed(name):
                errs.append(invalid(req_path, _qtext(raw), f"must be equal to {name} limit of {_qtext(limits[name])}"))
            elif request > limit:
                errs.append(invalid(req_path, _qtext(raw),
                                    f"must be less than or equal to {name} limit of {_qtext(limits[name])}"))
        elif not _overcommit_allowed(name):
            errs.append(required(lim_path, "Limit must be set for non overcommitable resources"))
    return errs


# --------------------------------------------------------------------------------------
# Pod specs
# --------------------------------------------------------------------------------------

_VOLUME_SOURCE_PATHS = (
    ("emptyDir", "emptyDir"), ("hostPath", "hostPath"), ("gitRepo", "gitRepo"),
    ("gcePersistentDisk", "gcePersistentDisk"), ("awsElasticBlockStore", "awsElasticBlockStore"),
    ("secret", "secret"), ("nfs", "nfs"), ("iscsi", "iscsi"), ("glusterfs", "glusterfs"), ("flocker", "flocker"),
    ("persistentVolumeClaim", "persistentVolumeClaim"), ("rbd", "rbd"), ("cinder", "cinder"), ("cephfs", "cephFS"),
    ("quobyte", "quobyte"), ("downwardAPI", "downwarAPI"), ("fc", "fc"), ("flexVolume", "flexVolume"),
    ("configMap", "configMap"), ("azureFile", "azureFile"), ("vsphereVolume", "vsphereVolume"),
    ("photonPersistentDisk", "photonPersistentDisk"), ("portworxVolume", "portworxVolume"),
    ("azureDisk", "azureDisk"), ("storageos", "storageos"), ("projected", "projected"), ("scaleIO", "scaleIO"),
    ("csi", "csi"), ("ephemeral", "ephemeral"), ("image", "image"),
)
_HOST_PATH_TYPES = ("", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket")
_VOLUME_FIELD_PATHS = ("metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid")
_ENV_FIELD_PATHS = ("metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName",
                    "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs")
_CONVERTIBLE_FIELD_PATHS = frozenset(("metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace",
                                      "metadata.uid", "spec.nodeName", "spec.restartPolicy", "spec.serviceAccountName",
                                      "spec.schedulerName", "status.phase", "status.hostIP", "status.hostIPs",
                                      "status.podIP", "status.podIPs", "spec.host"))
_RESOURCE_FIELD_REFS = ("limits.cpu", "limits.ephemeral-storage", "limits.memory", "requests.cpu",
                        "requests.ephemeral-storage", "requests.memory")
_SUBSCRIPTED = re.compile(r"^(metadata\.(?:annotations|labels))\['(.*)'\]$")


def _validate_local_path(target: str, path: str, *, reserved: bool) -> Errors:
    errs: Errors = []
    if target.startswith("/"):
        errs.append(invalid(path, target, "must be a relative path"))
    if ".." in target.replace("\\", "/").split("/"):
        errs.append(invalid(path, target, "must not contain '..'"))
    if reserved and target.startswith("..") and not target.startswith("../"):
        errs.append(invalid(path, target, "must not start with '..'"))
    return errs


def _validate_mode(mode: Any, path: str) -> Errors:
    number = _int(mode)
    return [invalid(path, number, FILE_MODE)] if number is not None and not 0 <= number <= 0o777 else []


def _validate_key_to_paths(items: Any, path: str) -> Errors:
    errs: Errors = []
    for i, item in enumerate(_objs(items)):
        ipath = _p(path, i)
        if not item.get("key"):
            errs.append(required(_p(ipath, "key")))
        if not item.get("path"):
            errs.append(required(_p(ipath, "path")))
        errs += _validate_local_path(_str(item.get("path")), _p(ipath, "path"), reserved=True)
        errs += _validate_mode(item.get("mode"), _p(ipath, "mode"))
    return errs


def _validate_object_field_selector(ref: Obj, allowed: tuple[str, ...], path: str) -> Errors:
    api_version, field_path = _str(ref.get("apiVersion")), _str(ref.get("fieldPath"))
    if not api_version:
        return [required(_p(path, "apiVersion"))]
    if not field_path:
        return [required(_p(path, "fieldPath"))]
    subscripted = _SUBSCRIPTED.match(field_path)
    base = subscripted.group(1) if subscripted else field_path
    if api_version != "v1":
        return [invalid(_p(path, "fieldPath"), field_path,
                        f"error converting fieldPath: unsupported pod version: {api_version}")]
    if base not in _CONVERTIBLE_FIELD_PATHS:
        return [invalid(_p(path, "fieldPath"), field_path,
                        f"error converting fieldPath: field label not supported: {field_path}")]
    if subscripted:
        key = subscripted.group(2)
        return _each(is_qualified_name(key.lower() if base == "metadata.annotations" else key), path, key)
    base = "spec.nodeName" if base == "spec.host" else base
    if base not in allowed:
        return [not_supported(_p(path, "fieldPath"), base, allowed)]
    return []


def _validate_volume_source(volume: Obj, path: str) -> Errors:
    errs: Errors = []
    count = 0
    for source, shown_as in _VOLUME_SOURCE_PATHS:
        if volume.get(source) is None:
            continue
        if count:
            errs.append(forbidden(_p(path, shown_as), "may not specify more than 1 volume type"))
            continue
        count += 1
        errs += _validate_one_volume_source(source, _obj(volume[source]), _p(path, source))
    if not count:
        errs.append(required(path, "must specify a volume type"))
    return errs


def _validate_one_volume_source(source: str, spec: Obj, path: str) -> Errors:
    errs: Errors = []
    if source == "hostPath":
        if not spec.get("path"):
            return [required(_p(path, "path"))]
        if ".." in _str(spec["path"]).split("/"):
            errs.append(invalid(_p(path, "path"), spec["path"], "must not contain '..'"))
        if spec.get("type") is not None and spec["type"] not in _HOST_PATH_TYPES:
            errs.append(not_supported(_p(path, "type"), spec["type"], _HOST_PATH_TYPES))
    elif source in ("secret", "configMap"):
        name_key = "secretName" if source == "secret" else "name"
        if not spec.get(name_key):
            errs.append(required(_p(path, name_key)))
        errs += _validate_mode(spec.get("defaultMode"), _p(path, "defaultMode"))
        errs += _validate_key_to_paths(spec.get("items"), _p(path, "items"))
    elif source == "persistentVolumeClaim" and not spec.get("claimName"):
        errs.append(required(_p(path, "claimName")))
    elif source == "emptyDir":
        size = _quantity(spec.get("sizeLimit")) if spec.get("sizeLimit") is not None else None
        if size is not None and size < 0:
            errs.append(forbidden(_p(path, "sizeLimit"), "SizeLimit field must be a valid resource quantity"))
    elif source == "nfs":
        if not spec.get("server"):
            errs.append(required(_p(path, "server")))
        if not spec.get("path"):
            errs.append(required(_p(path, "path")))
        if not _str(spec.get("path")).startswith("/"):
            errs.append(invalid(_p(path, "path"), _str(spec.get("path")), "must be an absolute path"))
    elif source == "downwardAPI":
        errs += _validate_mode(spec.get("defaultMode"), _p(path, "defaultMode"))
        for item in _objs(spec.get("items")):
            if not item.get("path"):
                errs.append(required(_p(path, "path")))
            errs += _validate_local_path(_str(item.get("path")), _p(path, "path"), reserved=True)
            if isinstance(item.get("fieldRef"), dict):
                errs += _validate_object_field_selector(item["fieldRef"], _VOLUME_FIELD_PATHS, _p(path, "fieldRef"))
    elif source == "projected":
        errs += _validate_mode(spec.get("defaultMode"), _p(path, "defaultMode"))
        for i, projection in enumerate(_objs(spec.get("sources"))):
            for kind, name_key in (("secret", "name"), ("configMap", "name")):
                if isinstance(projection.get(kind), dict):
                    if not projection[kind].get(name_key):
                        errs.append(required(_p(path, "sources", i, kind, name_key)))
                    errs += _validate_key_to_paths(projection[kind].get("items"),
                                                   _p(path, "sources", i, kind, "items"))
    return errs


def validate_volumes(volumes: Any, path: str) -> tuple[dict[str, Obj], Errors]:
    """Volume names (DNS labels, unique) and sources; returns the valid volumes by name."""
    valid: dict[str, Obj] = {}
    errs: Errors = []
    for i, volume in enumerate(_objs(volumes)):
        ipath = _p(path, i)
        name = _str(volume.get("name"))
        found = _validate_volume_source(volume, ipath)
        if not name:
            found.append(required(_p(ipath, "name")))
        else:
            found += _each(is_dns1123_label(name), _p(ipath, "name"), name)
        if name in valid:
            found.append(duplicate(_p(ipath, "name"), name))
        if found:
            errs += found
        else:
            valid[name] = volume
    return valid, errs


def _validate_port_num_or_name(port: Any, path: str) -> Errors:
    if _int(port) is not None:
        return _each(is_valid_port_num(port), path, port)
    if isinstance(port, str):
        return _each(is_valid_port_name(port), path, port)
    return [invalid(path, _shown(port), "must be an integer or a port name")]


def _validate_handler(handler: Obj, path: str, kinds: tuple[str, ...]) -> Errors:
    errs: Errors = []
    count = 0
    for kind in kinds:
        action = handler.get(kind)
        if action is None:
            continue
        if count:
            errs.append(forbidden(_p(path, kind), "may not specify more than 1 handler type"))
            continue
        count += 1
        action, apath = _obj(action), _p(path, kind)
        if kind == "exec" and not action.get("command"):
            errs.append(required(_p(apath, "command")))
        elif kind == "httpGet":
            if not action.get("path"):
                errs.append(required(_p(apath, "path")))
            errs += _validate_port_num_or_name(action.get("port"), _p(apath, "port"))
            if action.get("scheme") not in ("HTTP", "HTTPS"):
                errs.append(not_supported(_p(apath, "scheme"), action.get("scheme"), ("HTTP", "HTTPS")))
            for header in _objs(action.get("httpHeaders")):
                errs += _each(is_http_header_name(_str(header.get("name"))), _p(apath, "httpHeaders"),
                              _str(header.get("name")))
        elif kind == "tcpSocket":
            errs += _validate_port_num_or_name(action.get("port"), _p(apath, "port"))
        elif kind == "grpc":
            errs += _each(is_valid_port_num(_int(action.get("port")) or 0), _p(apath, "port"), action.get("port"))
    if not count:
        errs.append(required(path, "must specify a handler type"))
    return errs


def _validate_probe(probe: Any, path: str, which: str) -> Errors:
    if probe is None:
        return []
    probe = _obj(probe)
    errs = _validate_handler(probe, path, ("exec", "httpGet", "tcpSocket", "grpc"))
    for key in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold"):
        errs += _nonnegative(probe.get(key), _p(path, key))
    grace = _int(probe.get("terminationGracePeriodSeconds"))
    if grace is not None and grace <= 0:
        errs.append(invalid(_p(path, "terminationGracePeriodSeconds"), grace, "must be greater than 0"))
    if which in ("livenessProbe", "startupProbe") and probe.get("successThreshold") != 1:
        errs.append(invalid(_p(path, "successThreshold"), probe.get("successThreshold"), "must be 1"))
    if which == "readinessProbe" and probe.get("terminationGracePeriodSeconds") is not None:
        errs.append(invalid(_p(path, "terminationGracePeriodSeconds"), probe["terminationGracePeriodSeconds"],
                            "must not be set for readinessProbes"))
    return errs


def _validate_probes_and_lifecycle(container: Obj, path: str) -> Errors:
    errs: Errors = []
    lifecycle = container.get("lifecycle")
    if isinstance(lifecycle, dict):
        for hook in ("postStart", "preStop"):
            if lifecycle.get(hook) is not None:
                errs += _validate_handler(_obj(lifecycle[hook]), _p(path, "lifecycle", hook),
                                          ("exec", "httpGet", "tcpSocket", "sleep"))
    for which in ("livenessProbe", "readinessProbe", "startupProbe"):
        errs += _validate_probe(container.get(which), _p(path, which), which)
    return errs


def _validate_container_ports(ports: Any, path: str) -> Errors:
    errs: Errors = []
    names: set[str] = set()
    for i, port in enumerate(_objs(ports)):
        ipath = _p(path, i)
        name = _str(port.get("name"))
        if name:
            messages = is_valid_port_name(name)
            if messages:
                errs += _each(messages, _p(ipath, "name"), name)
            elif name in names:
                errs.append(duplicate(_p(ipath, "name"), name))
            names.add(name)
        container_port = _int(port.get("containerPort")) or 0
        if not container_port:
            errs.append(required(_p(ipath, "containerPort")))
        else:
            errs += _each(is_valid_port_num(container_port), _p(ipath, "containerPort"), container_port)
        host_port = _int(port.get("hostPort")) or 0
        if host_port:
            errs += _each(is_valid_port_num(host_port), _p(ipath, "hostPort"), host_port)
        protocol = port.get("protocol")
        if not protocol:
            errs.append(required(_p(ipath, "protocol")))
        elif protocol not in ("SCTP", "TCP", "UDP"):
            errs.append(not_supported(_p(ipath, "protocol"), protocol, ("SCTP", "TCP", "UDP")))
    return errs


def _validate_key_selector(ref: Obj, path: str) -> Errors:
    errs = _each(is_dns1123_subdomain(_str(ref.get("name"))), _p(path, "name"), _str(ref.get("name")))
    key = _str(ref.get("key"))
    if not key:
        errs.append(required(_p(path, "key")))
    else:
        errs += _each(is_config_map_key(key), _p(path, "key"), key)
    return errs


def _validate_env(env: Any, path: str) -> Errors:
    errs: Errors = []
    for i, var in enumerate(_objs(env)):
        ipath = _p(path, i)
        name = _str(var.get("name"))
        if not name:
            errs.append(required(_p(ipath, "name")))
        else:
            errs += _each(is_relaxed_env_var_name(name), _p(ipath, "name"), name)
        value_from = var.get("valueFrom")
        if value_from is None:
            continue
        value_from, vpath = _obj(value_from), _p(ipath, "valueFrom")
        sources = 0
        if isinstance(value_from.get("fieldRef"), dict):
            sources += 1
            errs += _validate_object_field_selector(value_from["fieldRef"], _ENV_FIELD_PATHS, _p(vpath, "fieldRef"))
        if isinstance(value_from.get("resourceFieldRef"), dict):
            sources += 1
            resource = _str(value_from["resourceFieldRef"].get("resource"))
            rpath = _p(vpath, "resourceFieldRef")
            if not resource:
                errs.append(required(_p(rpath, "resource")))
            elif resource not in _RESOURCE_FIELD_REFS and not resource.startswith(("requests.hugepages-",
                                                                                   "limits.hugepages-")):
                errs.append(not_supported(_p(rpath, "resource"), resource, _RESOURCE_FIELD_REFS))
        for source in ("configMapKeyRef", "secretKeyRef"):
            if isinstance(value_from.get(source), dict):
                sources += 1
                errs += _validate_key_selector(value_from[source], _p(vpath, source))
        if sources == 0:
            errs.append(invalid(vpath, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` "
                                           "or `secretKeyRef`"))
        elif var.get("value"):
            errs.append(invalid(vpath, "", "may not be specified when `value` is not empty"))
        elif sources > 1:
            errs.append(invalid(vpath, "", "may not have more than one field specified at a time"))
    return errs


def _validate_env_from(env_from: Any, path: str) -> Errors:
    errs: Errors = []
    for i, source in enumerate(_objs(env_from)):
        ipath = _p(path, i)
        if source.get("prefix"):
            errs += _each(is_relaxed_env_var_name(_str(source["prefix"])), _p(ipath, "prefix"), source["prefix"])
        count = 0
        for key in ("configMapRef", "secretRef"):
            if isinstance(source.get(key), dict):
                count += 1
                name = _str(source[key].get("name"))
                if not name:
                    errs.append(required(_p(ipath, key, "name")))
                else:
                    errs += _each(name_errors("subdomain", name, prefix=True), _p(ipath, key, "name"), name)
        if count == 0:
            errs.append(invalid(path, "", "must specify one of: `configMapRef` or `secretRef`"))
        elif count > 1:
            errs.append(invalid(path, "", "may not have more than one field specified at a time"))
    return errs


def _validate_volume_mounts(mounts: Any, volumes: dict[str, Obj], path: str) -> Errors:
    errs: Errors = []
    seen: set[str] = set()
    for i, mount in enumerate(_objs(mounts)):
        ipath = _p(path, i)
        name, mount_path = _str(mount.get("name")), _str(mount.get("mountPath"))
        if not name:
            errs.append(required(_p(ipath, "name")))
        if name not in volumes:
            errs.append(not_found(_p(ipath, "name"), name))
        if not mount_path:
            errs.append(required(_p(ipath, "mountPath")))
        if mount_path in seen:
            errs.append(invalid(_p(ipath, "mountPath"), mount_path, "must be unique"))
        seen.add(mount_path)
        if mount.get("subPath"):
            errs += _validate_local_path(_str(mount["subPath"]), _p(path, "subPath"), reserved=False)
    return errs


def _validate_id(value: Any, path: str) -> Errors:
    number = _int(value)
    if number is not None and not 0 <= number <= MAX_INT32:
        return [invalid(path, number, inclusive_range_error(0, MAX_INT32))]
    return []


def _validate_security_context(context: Any, path: str) -> Errors:
    context = _obj(context)
    errs = _validate_id(context.get("runAsUser"), _p(path, "runAsUser"))
    errs += _validate_id(context.get("runAsGroup"), _p(path, "runAsGroup"))
    if context.get("allowPrivilegeEscalation") is False and context.get("privileged") is True:
        errs.append(invalid(path, context, "cannot set `allowPrivilegeEscalation` to false and `privileged` to true"))
    return errs


def _validate_container_common(container: Obj, volumes: dict[str, Obj], path: str) -> Errors:
    errs: Errors = []
    name = _str(container.get("name"))
    if not name:
        errs.append(required(_p(path, "name")))
    else:
        errs += _each(is_dns1123_label(name), _p(path, "name"), name)
    if not container.get("image"):
        errs.append(required(_p(path, "image")))
    policy = container.get("terminationMessagePolicy")
    if not policy:
        errs.append(required(_p(path, "terminationMessagePolicy")))
    elif policy not in ("File", "FallbackToLogsOnError"):
        errs.append(not_supported(_p(path, "terminationMessagePolicy"), policy, ("File", "FallbackToLogsOnError")))
    errs += _validate_container_ports(container.get("ports"), _p(path, "ports"))
    errs += _validate_env(container.get("env"), _p(path, "env"))
    errs += _validate_env_from(container.get("envFrom"), _p(path, "envFrom"))
    errs += _validate_volume_mounts(container.get("volumeMounts"), volumes, _p(path, "volumeMounts"))
    pull = container.get("imagePullPolicy")
    if not pull:
        errs.append(required(_p(path, "imagePullPolicy")))
    elif pull not in ("Always", "IfNotPresent", "Never"):
        errs.append(not_supported(_p(path, "imagePullPolicy"), pull, ("Always", "IfNotPresent", "Never")))
    errs += validate_resource_requirements(container.get("resources"), _p(path, "resources"))
    errs += _validate_security_context(container.get("securityContext"), _p(path, "securityContext"))
    return errs


def _host_port_conflicts(containers: list[Obj], path: str) -> Errors:
    errs: Errors = []
    seen: set[str] = set()
    for ci, container in enumerate(containers):
        for pi, port in enumerate(_objs(container.get("ports"))):
            host_port = _int(port.get("hostPort")) or 0
            if not host_port:
                continue
            key = f"{_str(port.get('protocol'))}/{_str(port.get('hostIP'))}/{host_port}"
            if key in seen:
                errs.append(duplicate(_p(path, ci, "ports", pi, "hostPort"), key))
            seen.add(key)
    return errs


def _validate_containers(containers: Any, volumes: dict[str, Obj], path: str) -> Errors:
    containers = _objs(containers)
    if not containers:
        return [required(path)]
    errs: Errors = []
    names: set[str] = set()
    for i, container in enumerate(containers):
        ipath = _p(path, i)
        errs += _validate_container_common(container, volumes, ipath)
        name = _str(container.get("name"))
        if name in names:
            errs.append(duplicate(_p(ipath, "name"), name))
        names.add(name)
        errs += _validate_probes_and_lifecycle(container, ipath)
        if container.get("restartPolicy") is not None:
            errs.append(forbidden(_p(ipath, "restartPolicy"), "may not be set for non-init containers"))
    return errs + _host_port_conflicts(containers, path)


def _validate_init_containers(init: Any, regular: Any, volumes: dict[str, Obj], path: str) -> Errors:
    errs: Errors = []
    names = {_str(c.get("name")) for c in _objs(regular)}
    for i, container in enumerate(_objs(init)):
        ipath = _p(path, i)
        errs += _validate_container_common(container, volumes, ipath)
        restart = container.get("restartPolicy")
        if restart is not None and restart != "Always":
            errs.append(not_supported(_p(ipath, "restartPolicy"), restart, ("Always",)))
        name = _str(container.get("name"))
        if name in names:
            errs.append(duplicate(_p(ipath, "name"), name))
        elif name:
            names.add(name)
        errs += _host_port_conflicts([container], path)
        if restart == "Always":
            errs += _validate_probes_and_lifecycle(container, ipath)
        else:
            for key in ("lifecycle", "livenessProbe", "readinessProbe", "startupProbe"):
                if container.get(key) is not None:
                    errs.append(forbidden(_p(ipath, key),
                                          "may not be set for init containers without restartPolicy=Always"))
    return errs


def validate_tolerations(tolerations: Any, path: str) -> Errors:
    """Pod tolerations: keys, operators, values, effects."""
    errs: Errors = []
    for i, toleration in enumerate(_objs(tolerations)):
        ipath = _p(path, i)
        key, operator = _str(toleration.get("key")), toleration.get("operator") or ""
        effect, value = toleration.get("effect") or "", _str(toleration.get("value"))
        if key:
            errs += _each(is_qualified_name(key), _p(ipath, "key"), key)
        if not key and operator != "Exists":
            errs.append(invalid(_p(ipath, "operator"), operator,
                                'operator must be Exists when `key` is empty, which means "match all values and all '
                                'keys"'))
        if toleration.get("tolerationSeconds") is not None and effect != "NoExecute":
            errs.append(invalid(_p(ipath, "effect"), effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"))
        if operator in ("Equal", ""):
            messages = is_label_value(value)
            if messages:
                errs.append(invalid(_p(ipath, "operator"), value, ";".join(messages)))
        elif operator == "Exists":
            if value:
                errs.append(invalid(_p(ipath, "operator"), toleration, "value must be empty when `operator` is 'Exists'"))
        else:
            errs.append(not_supported(_p(ipath, "operator"), operator, ("Equal", "Exists")))
        if effect and effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            errs.append(not_supported(_p(ipath, "effect"), effect, ("NoSchedule", "PreferNoSchedule", "NoExecute")))
    return errs


def _validate_topology_spread(constraints: Any, path: str) -> Errors:
    errs: Errors = []
    items = _objs(constraints)
    for i, constraint in enumerate(items):
        ipath = _p(path, i)
        max_skew = _int(constraint.get("maxSkew")) or 0
        if max_skew <= 0:
            errs.append(invalid(_p(ipath, "maxSkew"), max_skew, "must be greater than zero"))
        if not constraint.get("topologyKey"):
            errs.append(required(_p(ipath, "topologyKey"), "can not be empty"))
        action = constraint.get("whenUnsatisfiable") or ""
        if action not in ("DoNotSchedule", "ScheduleAnyway"):
            errs.append(not_supported(_p(ipath, "whenUnsatisfiable"), action, ("DoNotSchedule", "ScheduleAnyway")))
        for other in items[i + 1:]:
            if (other.get("topologyKey"), other.get("whenUnsatisfiable")) == (constraint.get("topologyKey"), action):
                errs.append(duplicate(_p(ipath, "{topologyKey, whenUnsatisfiable}"),
                                      f"{{{constraint.get('topologyKey')}, {action}}}"))
                break
        errs += validate_label_selector(constraint.get("labelSelector"), _p(ipath, "labelSelector"))
    return errs


def validate_pod_spec(spec: Obj, path: str, *, pod: bool) -> Errors:
    """``ValidatePodSpec`` for a pod (``pod=True``) or a pod template's spec."""
    errs: Errors = []
    if spec.get("terminationGracePeriodSeconds") is None:
        errs.append(required(_p(path, "terminationGracePeriodSeconds")))
    volumes, volume_errs = validate_volumes(spec.get("volumes"), _p(path, "volumes"))
    errs += volume_errs
    errs += _validate_containers(spec.get("containers"), volumes, _p(path, "containers"))
    errs += _validate_init_containers(spec.get("initContainers"), spec.get("containers"), volumes,
                                      _p(path, "initContainers"))
    if spec.get("hostNetwork") is True:
        for i, container in enumerate(_objs(spec.get("containers"))):
            for j, port in enumerate(_objs(container.get("ports"))):
                host, target = _int(port.get("hostPort")) or 0, _int(port.get("containerPort")) or 0
                if (pod or host != 0) and host != target:
                    errs.append(invalid(_p(path, "containers", i, "ports", j, "hostPort"), host,
                                        "must match `containerPort` when `hostNetwork` is true"))
    restart = spec.get("restartPolicy") or ""
    if not restart:
        errs.append(required(_p(path, "restartPolicy")))
    elif restart not in ("Always", "OnFailure", "Never"):
        errs.append(not_supported(_p(path, "restartPolicy"), restart, ("Always", "OnFailure", "Never")))
    dns = spec.get("dnsPolicy") or ""
    if not dns:
        errs.append(required(_p(path, "dnsPolicy")))
    elif dns not in ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"):
        errs.append(not_supported(_p(path, "dnsPolicy"), dns, ("ClusterFirstWithHostNet", "ClusterFirst", "Default",
                                                               "None")))
    errs += validate_labels(spec.get("nodeSelector"), _p(path, "nodeSelector"))
    security = _obj(spec.get("securityContext"))
    errs += _validate_id(security.get("runAsUser"), _p(path, "securityContext", "runAsUser"))
    errs += _validate_id(security.get("runAsGroup"), _p(path, "securityContext", "runAsGroup"))
    errs += _validate_id(security.get("fsGroup"), _p(path, "securityContext", "fsGroup"))
    if dns == "None":
        if spec.get("dnsConfig") is None:
            errs.append(required(_p(path, "dnsConfig"), "must provide `dnsConfig` when `dnsPolicy` is None"))
        elif not _obj(spec["dnsConfig"]).get("nameservers"):
            errs.append(required(_p(path, "dnsConfig", "nameservers"),
                                 "must provide at least one DNS nameserver when `dnsPolicy` is None"))
    errs += _validate_topology_spread(spec.get("topologySpreadConstraints"), _p(path, "topologySpreadConstraints"))
    for key, rule in (("serviceAccountName", "subdomain"), ("nodeName", "subdomain")):
        if spec.get(key):
            errs += _each(name_errors(rule, _str(spec[key])), _p(path, key), spec[key])
    deadline = _int(spec.get("activeDeadlineSeconds"))
    if deadline is not None and not 1 <= deadline <= MAX_INT32:
        errs.append(invalid(_p(path, "activeDeadlineSeconds"), deadline, inclusive_range_error(1, MAX_INT32)))
    for key in ("hostname", "subdomain"):
        if spec.get(key):
            errs += _each(is_dns1123_label(_str(spec[key])), _p(path, key), spec[key])
    errs += validate_tolerations(spec.get("tolerations"), _p(path, "tolerations"))
    if spec.get("priorityClassName"):
        errs += _each(is_dns1123_subdomain(_str(spec["priorityClassName"])), _p(path, "priorityClassName"),
                      spec["priorityClassName"])
    preemption = spec.get("preemptionPolicy")
    if preemption is not None and preemption not in ("PreemptLowerPriority", "Never"):
        errs.append(not_supported(_p(path, "preemptionPolicy"), preemption, ("PreemptLowerPriority", "Never")))
    return errs


def validate_pod_template(template: Any, path: str) -> Errors:
    """``ValidatePodTemplateSpec``: labels, annotations and the pod spec of a template."""
    template = _obj(template)
    meta = _obj(template.get("metadata"))
    errs = validate_labels(meta.get("labels"), _p(path, "labels"))
    errs += validate_annotations(meta.get("annotations"), _p(path, "annotations"))
    spec = _obj(template.get("spec"))
    errs += validate_pod_spec(spec, _p(path, "spec"), pod=False)
    if spec.get("ephemeralContainers"):
        errs.append(forbidden(_p(path, "spec", "ephemeralContainers"), "ephemeral containers not allowed in pod template"))
    return errs


def _validate_pod(obj: Obj, old: Obj | None) -> Errors:
    spec = _obj(obj.get("spec"))
    errs = validate_pod_spec(spec, "spec", pod=True)
    if not spec.get("serviceAccountName"):
        for i, volume in enumerate(_objs(spec.get("volumes"))):
            for j, source in enumerate(_objs(_obj(volume.get("projected")).get("sources"))):
                if source.get("serviceAccountToken") is not None:
                    errs.append(forbidden(_p("spec.volumes", i, "projected", "sources", j, "serviceAccountToken"),
                                          "must not be specified when serviceAccountName is not set"))
    for key in ("containers", "initContainers"):
        for i, container in enumerate(_objs(spec.get(key))):
            image = _str(container.get("image"))
            if image != image.strip():
                errs.append(invalid(_p("spec", key, i, "image"), image, "must not have leading or trailing whitespace"))
    if old is None:
        if spec.get("ephemeralContainers"):
            errs.append(forbidden("spec.ephemeralContainers", "cannot be set on create"))
        if spec.get("nodeName") and spec.get("schedulingGates"):
            errs.append(forbidden("spec.nodeName", "cannot be set until all schedulingGates have been cleared"))
        return errs
    return errs + _validate_pod_update(spec, _obj(old.get("spec")))


def _without_seconds(toleration: Obj) -> Any:
    return _prune({k: v for k, v in toleration.items() if k != "tolerationSeconds"})


def _validate_pod_update(spec: Obj, old_spec: Obj) -> Errors:
    errs: Errors = []
    for key in ("containers", "initContainers"):
        new_list, old_list = _objs(spec.get(key)), _objs(old_spec.get(key))
        if len(new_list) != len(old_list):
            return errs + [forbidden(_p("spec", key), "pod updates may not add or remove containers")]
        for i, container in enumerate(new_list):
            if not container.get("image"):
                errs.append(required(_p("spec", key, i, "image")))
    new_deadline, old_deadline = _int(spec.get("activeDeadlineSeconds")), _int(old_spec.get("activeDeadlineSeconds"))
    if new_deadline is not None:
        if not 0 <= new_deadline <= MAX_INT32:
            return errs + [invalid("spec.activeDeadlineSeconds", new_deadline, inclusive_range_error(0, MAX_INT32))]
        if old_deadline is not None and old_deadline < new_deadline:
            return errs + [invalid("spec.activeDeadlineSeconds", new_deadline,
                                   "must be less than or equal to previous value")]
    elif old_deadline is not None:
        errs.append(invalid("spec.activeDeadlineSeconds", None, "must not update from a positive integer to nil value"))
    new_tolerations = [_without_seconds(t) for t in _objs(spec.get("tolerations"))]
    for toleration in _objs(old_spec.get("tolerations")):
        if _without_seconds(toleration) not in new_tolerations:
            errs.append(forbidden("spec.tolerations", "existing toleration can not be modified except its "
                                                      "tolerationSeconds"))
            break
    old_gates = {_str(g.get("name")) for g in _objs(old_spec.get("schedulingGates"))}
    for i, gate in enumerate(_objs(spec.get("schedulingGates"))):
        if _str(gate.get("name")) not in old_gates:
            errs.append(forbidden(_p("spec.schedulingGates", i, "name"),
                                  f"only deletion is allowed, but found new scheduling gate '{gate.get('name')}'"))
    munged = copy.deepcopy(spec)
    for key in ("containers", "initContainers"):
        for container, old_container in zip(_objs(munged.get(key)), _objs(old_spec.get(key))):
            container["image"] = old_container.get("image")
    for key in ("activeDeadlineSeconds", "schedulingGates", "tolerations"):
        munged.pop(key, None)
        if key in old_spec:
            munged[key] = copy.deepcopy(old_spec[key])
    old_grace = _int(old_spec.get("terminationGracePeriodSeconds"))
    if old_grace is not None and old_grace < 0 and munged.get("terminationGracePeriodSeconds") == 1:
        munged["terminationGracePeriodSeconds"] = old_grace
    if _prune(munged) != _prune(old_spec):
        errs.append(forbidden("spec", "pod updates may not change fields other than "
                              + ",".join(UPDATABLE_POD_SPEC_FIELDS) + "\n" + spec_diff("core.PodSpec", old_spec, munged)))
    return errs


# --------------------------------------------------------------------------------------
# Workloads
# --------------------------------------------------------------------------------------


def _validate_selector_required(spec: Obj, path: str, what: str) -> Errors:
    selector = spec.get("selector")
    if selector is None:
        return [required(_p(path, "selector"))]
    errs = validate_label_selector(selector, _p(path, "selector"))
    selector = _obj(selector)
    if not selector.get("matchLabels") and not selector.get("matchExpressions"):
        errs.append(invalid(_p(path, "selector"), _selector_value(selector), f"empty selector is invalid for {what}"))
    return errs


def _template_matches(spec: Obj, path: str) -> Errors:
    """The template must carry the labels the selector selects (a null selector selects nothing)."""
    labels = _obj(_obj(spec.get("template")).get("metadata")).get("labels")
    selector = spec.get("selector")
    if (selector is not None and validate_label_selector(selector, "")) or _selector_matches(selector, labels):
        return []
    return [invalid(_p(path, "template", "metadata", "labels"), _map_value(labels),
                    "`selector` does not match template `labels`")]


def _validate_replica_template(spec: Obj, path: str, owner: str) -> Errors:
    """``ValidatePodTemplateSpecForReplicaSet`` (Deployments and ReplicaSets)."""
    selector = spec.get("selector")
    if selector is not None and validate_label_selector(selector, ""):
        errs = [invalid(_p(path, "selector"), _selector_value(selector), "invalid label selector")]
    else:
        errs = _template_matches(spec, path)
    template = _obj(spec.get("template"))
    errs += validate_pod_template(template, _p(path, "template"))
    template_spec = _obj(template.get("spec"))
    restart = template_spec.get("restartPolicy")
    if restart != "Always":
        errs.append(not_supported(_p(path, "template", "spec", "restartPolicy"), restart, ("Always",)))
    if template_spec.get("activeDeadlineSeconds") is not None:
        errs.append(forbidden(_p(path, "template", "spec", "activeDeadlineSeconds"),
                              f"activeDeadlineSeconds in {owner} is not Supported"))
    return errs


def _int_or_percent(value: Any, path: str) -> Errors:
    if isinstance(value, str):
        return _each(is_valid_percent(value), path, value)
    return _nonnegative(value, path)


def _int_or_percent_value(value: Any) -> int:
    if isinstance(value, str):
        return int(value[:-1]) if not is_valid_percent(value) else 0
    return _int(value) or 0


def _not_more_than_100_percent(value: Any, path: str) -> Errors:
    if isinstance(value, str) and not is_valid_percent(value) and int(value[:-1]) > 100:
        return [invalid(path, value, "must not be greater than 100%")]
    return []


def _immutable_selector(obj: Obj, old: Obj | None) -> Errors:
    if old is None:
        return []
    new_selector, old_selector = _obj(obj.get("spec")).get("selector"), _obj(old.get("spec")).get("selector")
    if _prune(new_selector) != _prune(old_selector):
        return [invalid("spec.selector", _selector_value(new_selector), IMMUTABLE)]
    return []


def _validate_deployment(obj: Obj, old: Obj | None) -> Errors:
    spec, path = _obj(obj.get("spec")), "spec"
    errs = _nonnegative(spec.get("replicas"), "spec.replicas")
    errs += _validate_selector_required(spec, path, "deployment")
    errs += _validate_replica_template(spec, path, "ReplicaSet")
    strategy = _obj(spec.get("strategy"))
    spath = "spec.strategy"
    if strategy.get("type") == "Recreate":
        if strategy.get("rollingUpdate") is not None:
            errs.append(forbidden(_p(spath, "rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'"))
    elif strategy.get("type") == "RollingUpdate":
        rolling = strategy.get("rollingUpdate")
        if rolling is None:
            errs.append(required(_p(spath, "rollingUpdate"), "this should be defaulted and never be nil"))
        else:
            rolling, rpath = _obj(rolling), _p(spath, "rollingUpdate")
            errs += _int_or_percent(rolling.get("maxUnavailable"), _p(rpath, "maxUnavailable"))
            errs += _int_or_percent(rolling.get("maxSurge"), _p(rpath, "maxSurge"))
            if _int_or_percent_value(rolling.get("maxUnavailable")) == 0 and \
                    _int_or_percent_value(rolling.get("maxSurge")) == 0:
                errs.append(invalid(_p(rpath, "maxUnavailable"), rolling.get("maxUnavailable"),
                                    "may not be 0 when `maxSurge` is 0"))
            errs += _not_more_than_100_percent(rolling.get("maxUnavailable"), _p(rpath, "maxUnavailable"))
    else:
        errs.append(not_supported(spath, strategy, ("Recreate", "RollingUpdate")))
    errs += _nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    errs += _nonnegative(spec.get("revisionHistoryLimit"), "spec.revisionHistoryLimit")
    deadline = _int(spec.get("progressDeadlineSeconds"))
    if deadline is not None:
        errs += _nonnegative(deadline, "spec.progressDeadlineSeconds")
        if deadline <= (_int(spec.get("minReadySeconds")) or 0):
            errs.append(invalid("spec.progressDeadlineSeconds", deadline, "must be greater than minReadySeconds"))
    return errs + _immutable_selector(obj, old)


def _validate_replicaset(obj: Obj, old: Obj | None) -> Errors:
    spec = _obj(obj.get("spec"))
    errs = _nonnegative(spec.get("replicas"), "spec.replicas")
    errs += _nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    errs += _validate_selector_required(spec, "spec", "deployment")
    errs += _validate_replica_template(spec, "spec", "ReplicaSet")
    return errs + _immutable_selector(obj, old)


def _validate_replication_controller(obj: Obj, old: Obj | None) -> Errors:
    spec = _obj(obj.get("spec"))
    errs = _nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    if not spec.get("selector"):
        errs.append(required("spec.selector"))
    errs += _nonnegative(spec.get("replicas"), "spec.replicas")
    if spec.get("template") is None:
        return errs + [required("spec.template")]
    template = _obj(spec["template"])
    labels = _obj(template.get("metadata")).get("labels")
    selector = _obj(spec.get("selector"))
    if selector and any(_obj(labels).get(k) != v for k, v in selector.items()):
        errs.append(invalid("spec.template.metadata.labels", _map_value(labels),
                            "`selector` does not match template `labels`"))
    errs += validate_pod_template(template, "spec.template")
    restart = _obj(template.get("spec")).get("restartPolicy")
    if restart != "Always":
        errs.append(not_supported("spec.template.spec.restartPolicy", restart, ("Always",)))
    return errs


def _validate_daemonset(obj: Obj, old: Obj | None) -> Errors:
    spec = _obj(obj.get("spec"))
    errs = validate_label_selector(spec.get("selector"), "spec.selector")
    selector = spec.get("selector")
    errs += _template_matches(spec, "spec")
    if selector is not None and not _obj(selector).get("matchLabels") and not _obj(selector).get("matchExpressions"):
        errs.append(invalid("spec.selector", _selector_value(selector), "empty selector is invalid for daemonset"))
    template = _obj(spec.get("template"))
    errs += validate_pod_template(template, "spec.template")
    template_spec = _obj(template.get("spec"))
    if template_spec.get("restartPolicy") != "Always":
        errs.append(not_supported("spec.template.spec.restartPolicy", template_spec.get("restartPolicy"), ("Always",)))
    if template_spec.get("activeDeadlineSeconds") is not None:
        errs.append(forbidden("spec.template.spec.activeDeadlineSeconds",
                              "activeDeadlineSeconds in DaemonSet is not Supported"))
    errs += _nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    strategy = _obj(spec.get("updateStrategy"))
    if strategy.get("type") == "RollingUpdate":
        rolling = strategy.get("rollingUpdate")
        if rolling is None:
            errs.append(required("spec.updateStrategy.rollingUpdate"))
        else:
            rolling, rpath = _obj(rolling), "spec.updateStrategy.rollingUpdate"
            for key in ("maxUnavailable", "maxSurge"):
                errs += _int_or_percent(rolling.get(key), _p(rpath, key))
                errs += _not_more_than_100_percent(rolling.get(key), _p(rpath, key))
            unavailable = _int_or_percent_value(rolling.get("maxUnavailable")) != 0
            surge = _int_or_percent_value(rolling.get("maxSurge")) != 0
            if unavailable and surge:
                errs.append(invalid(_p(rpath, "maxSurge"), rolling.get("maxSurge"),
                                    "may not be set when maxUnavailable is non-zero"))
            elif not unavailable and not surge:
                errs.append(required(_p(rpath, "maxUnavailable"), "cannot be 0 when maxSurge is 0"))
    elif strategy.get("type") != "OnDelete":
        errs.append(not_supported("spec.updateStrategy", strategy, ("RollingUpdate", "OnDelete")))
    errs += _nonnegative(spec.get("revisionHistoryLimit"), "spec.revisionHistoryLimit")
    return errs + _immutable_selector(obj, old)


def _validate_statefulset(obj: Obj, old: Obj | None) -> Errors:
    spec = _obj(obj.get("spec"))
    errs: Errors = []
    policy = spec.get("podManagementPolicy") or ""
    if not policy:
        errs.append(required("spec.podManagementPolicy"))
    elif policy not in ("OrderedReady", "Parallel"):
        errs.append(invalid("spec.podManagementPolicy", policy, "must be 'OrderedReady' or 'Parallel'"))
    strategy = _obj(spec.get("updateStrategy"))
    strategy_type = strategy.get("type") or ""
    if not strategy_type:
        errs.append(required("spec.updateStrategy"))
    elif strategy_type == "OnDelete":
        if strategy.get("rollingUpdate") is not None:
            errs.append(invalid("spec.updateStrategy.rollingUpdate", strategy["rollingUpdate"],
                                "only allowed for updateStrategy 'RollingUpdate'"))
    elif strategy_type == "RollingUpdate":
        rolling = _obj(strategy.get("rollingUpdate"))
        errs += _nonnegative(rolling.get("partition"), "spec.updateStrategy.rollingUpdate.partition")
        if rolling.get("maxUnavailable") is not None:
            upath = "spec.updateStrategy.rollingUpdate.maxUnavailable"
            errs += _int_or_percent(rolling["maxUnavailable"], upath)
            if _int_or_percent_value(rolling["maxUnavailable"]) == 0:
                errs.append(invalid(upath, rolling["maxUnavailable"], "cannot be 0"))
            errs += _not_more_than_100_percent(rolling["maxUnavailable"], upath)
    else:
        errs.append(invalid("spec.updateStrategy", strategy, "must be 'RollingUpdate' or 'OnDelete'"))
    retention = _obj(spec.get("persistentVolumeClaimRetentionPolicy"))
    for key in ("whenDeleted", "whenScaled"):
        if spec.get("persistentVolumeClaimRetentionPolicy") is not None and retention.get(key) not in ("Retain",
                                                                                                        "Delete"):
            errs.append(not_supported(_p("spec.persistentVolumeClaimRetentionPolicy", key), retention.get(key),
                                      ("Retain", "Delete")))
    errs += _nonnegative(spec.get("replicas"), "spec.replicas")
    errs += _nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    errs += _validate_selector_required(spec, "spec", "statefulset")
    errs += _template_matches(spec, "spec")
    template = _obj(spec.get("template"))
    template_meta = _obj(template.get("metadata"))
    errs += validate_labels(template_meta.get("labels"), "spec.template.labels")
    errs += validate_annotations(template_meta.get("annotations"), "spec.template.annotations")
    template_spec = _obj(template.get("spec"))
    if template_spec.get("restartPolicy") != "Always":
        errs.append(not_supported("spec.template.spec.restartPolicy", template_spec.get("restartPolicy"), ("Always",)))
    if template_spec.get("activeDeadlineSeconds") is not None:
        errs.append(forbidden("spec.template.spec.activeDeadlineSeconds",
                              "activeDeadlineSeconds in StatefulSet is not Supported"))
    if old is not None:
        mutable = ("replicas", "template", "updateStrategy", "minReadySeconds", "ordinals",
                   "persistentVolumeClaimRetentionPolicy", "revisionHistoryLimit")
        old_spec = _obj(old.get("spec"))
        if _prune({k: v for k, v in spec.items() if k not in mutable}) != \
                _prune({k: v for k, v in old_spec.items() if k not in mutable}):
            errs.append(forbidden("spec", "updates to statefulset spec for fields other than 'replicas', 'ordinals', "
                                          "'template', 'updateStrategy', 'revisionHistoryLimit', "
                                          "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"))
    return errs


def _validate_job_spec(spec: Obj, path: str) -> Errors:
    errs: Errors = []
    for key in ("parallelism", "completions", "activeDeadlineSeconds", "backoffLimit", "ttlSecondsAfterFinished"):
        errs += _nonnegative(spec.get(key), _p(path, key))
    mode = spec.get("completionMode")
    if mode is not None:
        if mode not in ("NonIndexed", "Indexed"):
            errs.append(not_supported(_p(path, "completionMode"), mode, ("NonIndexed", "Indexed")))
        if mode == "Indexed" and spec.get("completions") is None:
            errs.append(required(_p(path, "completions"), "when completion mode is Indexed"))
    errs += validate_pod_template(spec.get("template"), _p(path, "template"))
    restart = _obj(_obj(spec.get("template")).get("spec")).get("restartPolicy") or ""
    rpath = _p(path, "template", "spec", "restartPolicy")
    if restart in ("Always", ""):
        errs.append(required(rpath, 'valid values: "OnFailure", "Never"'))
    elif restart not in ("OnFailure", "Never"):
        errs.append(not_supported(rpath, restart, ("OnFailure", "Never")))
    return errs


def _validate_job(obj: Obj, old: Obj | None) -> Errors:
    meta, spec = _obj(obj.get("metadata")), _obj(obj.get("spec"))
    errs: Errors = []
    if spec.get("manualSelector") is not True and spec.get("selector") is not None:
        uid, name = _str(meta.get("uid")), _str(meta.get("name"))
        if not uid:
            errs.append(required("metadata.uid"))
        labels = _obj(_obj(_obj(spec.get("template")).get("metadata")).get("labels"))
        expected = {"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": name,
                    "controller-uid": uid, "job-name": name}
        for key, want in expected.items():
            if key not in labels:
                errs.append(required(_key("spec.template.metadata.labels", key), f"must be '{want}'"))
            elif labels[key] != want:
                errs.append(invalid(_key("spec.template.metadata.labels", key), _map_value(labels),
                                    f"must be '{want}'"))
        if not _selector_matches(spec.get("selector"), expected):
            errs.append(invalid("spec.selector", _selector_value(spec.get("selector")), "`selector` not auto-generated"))
    errs += _validate_job_spec(spec, "spec")
    if spec.get("selector") is None:
        errs.append(required("spec.selector"))
    else:
        errs += validate_label_selector(spec["selector"], "spec.selector")
        labels = _obj(_obj(spec.get("template")).get("metadata")).get("labels")
        if not _selector_matches(spec["selector"], labels):
            errs.append(invalid("spec.template.metadata.labels", _map_value(labels),
                                "`selector` does not match template `labels`"))
    completions = _int(spec.get("completions"))
    if spec.get("completionMode") == "Indexed" and completions:
        hostname = f"{meta.get('name', '')}-{completions - 1}"
        if is_dns1123_label(hostname):
            errs.append(invalid("metadata.name", meta.get("name"),
                                f"will not able to create pod with invalid DNS label: {hostname}"))
    if old is not None:
        errs += _validate_job_update(spec, _obj(old.get("spec")))
    return errs


def _validate_job_update(spec: Obj, old_spec: Obj) -> Errors:
    errs: Errors = []
    for key in ("completions", "selector", "completionMode"):
        if _prune(spec.get(key)) != _prune(old_spec.get(key)):
            value = _selector_value(spec.get(key)) if key == "selector" else spec.get(key)
            errs.append(invalid(_p("spec", key), value, IMMUTABLE))
    template, old_template = _obj(spec.get("template")), copy.deepcopy(_obj(old_spec.get("template")))
    if old_spec.get("suspend") is True:
        old_template.setdefault("metadata", {})
        for key in ("labels", "annotations"):
            old_template["metadata"][key] = _obj(template.get("metadata")).get(key)
        old_template.setdefault("spec", {})
        for key in ("nodeSelector", "tolerations", "affinity"):
            old_template["spec"][key] = _obj(template.get("spec")).get(key)
    if _prune(template) != _prune(old_template):
        errs.append(invalid("spec.template", template, IMMUTABLE))
    return errs


_CRON_FIELDS = (("minute", 0, 59, {}), ("hour", 0, 23, {}), ("day of month", 1, 31, {}),
                ("month", 1, 12, {m: i + 1 for i, m in enumerate(
                    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))}),
                ("day of week", 0, 6, {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}))
_CRON_DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")


def _cron_number(text: str, names: dict[str, int], expr: str) -> int:
    if text.lower() in names:
        return names[text.lower()]
    if not re.fullmatch(r"[+-]?\d+", text):
        raise ValueError(f'failed to parse int from {text}: strconv.Atoi: parsing "{text}": invalid syntax')
    number = int(text)
    if number < 0:
        raise ValueError(f"negative number ({number}) not allowed: {expr}")
    return number


def cron_schedule_error(schedule: str) -> str | None:
    """The error robfig/cron's standard parser reports for a CronJob schedule, or None."""
    text = schedule.strip()
    if text.startswith(("TZ=", "CRON_TZ=")):
        text = text.split(None, 1)[1] if " " in text else ""
    if text.startswith("@"):
        if text in _CRON_DESCRIPTORS or re.fullmatch(r"@every \S+", text):
            return None
        return f"unrecognized descriptor: {text}"
    fields = text.split()
    if len(fields) != 5:
        return f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]"
    for field_text, (_, low, high, names) in zip(fields, _CRON_FIELDS):
        for expr in field_text.split(","):
            try:
                range_part, _, step_part = expr.partition("/")
                if "/" in step_part:
                    raise ValueError(f"too many slashes: {expr}")
                if range_part in ("*", "?"):
                    start, end = low, high
                else:
                    bounds = range_part.split("-")
                    if len(bounds) > 2:
                        raise ValueError(f"too many hyphens: {expr}")
                    start = _cron_number(bounds[0], names, expr)
                    end = _cron_number(bounds[1], names, expr) if len(bounds) == 2 else start
                if step_part and _cron_number(step_part, {}, expr) == 0:
                    raise ValueError(f"step of range should be a positive number: {expr}")
                if start < low:
                    raise ValueError(f"beginning of range ({start}) below minimum ({low}): {expr}")
                if end > high:
                    raise ValueError(f"end of range ({end}) above maximum ({high}): {expr}")
                if start > end:
                    raise ValueError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
            except ValueError as err:
                return str(err)
    return None


def _validate_cronjob(obj: Obj, old: Obj | None) -> Errors:
    meta, spec = _obj(obj.get("metadata")), _obj(obj.get("spec"))
    errs: Errors = []
    if old is None and len(_str(meta.get("name"))) > 52:
        errs.append(invalid("metadata.name", meta.get("name"), "must be no more than 52 characters"))
    schedule = _str(spec.get("schedule"))
    if not schedule:
        errs.append(required("spec.schedule"))
    else:
        problem = cron_schedule_error(schedule)
        if problem:
            errs.append(invalid("spec.schedule", schedule, problem))
        if "TZ" in schedule and spec.get("timeZone") is not None:
            errs.append(invalid("spec.schedule", schedule, "cannot use both timeZone field and TZ or CRON_TZ in schedule"))
    errs += _nonnegative(spec.get("startingDeadlineSeconds"), "spec.startingDeadlineSeconds")
    zone = spec.get("timeZone")
    if zone is not None and (old is None or zone != _obj(old.get("spec")).get("timeZone")):
        errs += _validate_time_zone(zone)
    policy = spec.get("concurrencyPolicy") or ""
    if not policy:
        errs.append(required("spec.concurrencyPolicy"))
    elif policy not in ("Allow", "Forbid", "Replace"):
        errs.append(not_supported("spec.concurrencyPolicy", policy, ("Allow", "Forbid", "Replace")))
    job_spec = _obj(_obj(spec.get("jobTemplate")).get("spec"))
    errs += _validate_job_spec(job_spec, "spec.jobTemplate.spec")
    if job_spec.get("selector") is not None:
        errs.append(invalid("spec.jobTemplate.spec.selector", _selector_value(job_spec["selector"]),
                            "`selector` will be auto-generated"))
    if job_spec.get("manualSelector") is True:
        errs.append(not_supported("spec.jobTemplate.spec.manualSelector", True, ("nil", "false")))
    for key in ("successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        errs += _nonnegative(spec.get(key), _p("spec", key))
    return errs


def _validate_time_zone(zone: Any) -> Errors:
    if not zone:
        return [invalid("spec.timeZone", zone, "timeZone must be nil or non-empty string")]
    errs: Errors = []
    if _str(zone).lower() == "local":
        errs.append(invalid("spec.timeZone", zone,
                            "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"))
    try:
        zoneinfo.ZoneInfo(_str(zone))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        errs.append(invalid("spec.timeZone", zone, f"unknown time zone {zone}"))
    return errs


# --------------------------------------------------------------------------------------
# Services, configuration, storage, nodes
# --------------------------------------------------------------------------------------


def _validate_service(obj: Obj, old: Obj | None) -> Errors:
    spec = _obj(obj.get("spec"))
    service_type = spec.get("type") or ""
    ports = _objs(spec.get("ports"))
    cluster_ips = [_str(ip) for ip in _list(spec.get("clusterIPs"))]
    headless = cluster_ips == ["None"]
    errs: Errors = []
    if not ports and not headless and service_type != "ExternalName":
        errs.append(required("spec.ports"))
    if service_type in ("LoadBalancer", "NodePort") and headless:
        errs.append(invalid("spec.clusterIPs[0]", "None", f"may not be set to 'None' for {service_type} services"))
    elif service_type == "ExternalName":
        for key in ("clusterIPs", "ipFamilies"):
            if spec.get(key):
                errs.append(forbidden(_p("spec", key), "may not be set for ExternalName services"))
        if spec.get("ipFamilyPolicy") is not None:
            errs.append(forbidden("spec.ipFamilyPolicy", "may not be set for ExternalName services"))
        cname = _str(spec.get("externalName")).removesuffix(".")
        if cname:
            errs += _each(is_dns1123_subdomain(cname), "spec.externalName", cname)
        else:
            errs.append(required("spec.externalName"))
    names: set[str] = set()
    for i, port in enumerate(ports):
        ppath = _p("spec.ports", i)
        name = _str(port.get("name"))
        if len(ports) > 1 and not name:
            errs.append(required(_p(ppath, "name")))
        elif name:
            errs += _each(is_dns1123_label(name), _p(ppath, "name"), name)
            if name in names:
                errs.append(duplicate(_p(ppath, "name"), name))
            names.add(name)
        errs += _each(is_valid_port_num(_int(port.get("port")) or 0), _p(ppath, "port"), _int(port.get("port")) or 0)
        protocol = port.get("protocol") or ""
        if not protocol:
            errs.append(required(_p(ppath, "protocol")))
        elif protocol not in ("SCTP", "TCP", "UDP"):
            errs.append(not_supported(_p(ppath, "protocol"), protocol, ("SCTP", "TCP", "UDP")))
        errs += _validate_port_num_or_name(port.get("targetPort", 0), _p(ppath, "targetPort"))
        if port.get("appProtocol") is not None:
            errs += _each(is_qualified_name(_str(port["appProtocol"])), _p(ppath, "appProtocol"), port["appProtocol"])
    if spec.get("selector") is not None:
        errs += validate_labels(spec["selector"], "spec.selector")
    affinity = spec.get("sessionAffinity") or ""
    if not affinity:
        errs.append(required("spec.sessionAffinity"))
    elif affinity not in ("ClientIP", "None"):
        errs.append(not_supported("spec.sessionAffinity", affinity, ("ClientIP", "None")))
    if affinity == "ClientIP":
        timeout = _int(_obj(_obj(spec.get("sessionAffinityConfig")).get("clientIP")).get("timeoutSeconds"))
        if timeout is not None and not 0 < timeout <= 86400:
            errs.append(invalid("spec.sessionAffinityConfig.clientIP.timeoutSeconds", timeout,
                                "must be greater than 0 and less than 86400"))
    elif affinity == "None" and spec.get("sessionAffinityConfig") is not None:
        errs.append(forbidden("spec.sessionAffinityConfig", "must not be set when session affinity is None"))
    if service_type != "ExternalName":
        errs += _validate_cluster_ips(spec, cluster_ips)
    for i, ip in enumerate(_list(spec.get("externalIPs"))):
        errs += _each(is_valid_ip(_str(ip)), _p("spec.externalIPs", i), ip)
    if not service_type:
        errs.append(required("spec.type"))
    elif service_type not in ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort"):
        errs.append(not_supported("spec.type", service_type, ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")))
    seen_node_ports: set[tuple[str, int]] = set()
    seen_ports: set[tuple[str, int]] = set()
    for i, port in enumerate(ports):
        ppath = _p("spec.ports", i)
        node_port = _int(port.get("nodePort")) or 0
        if service_type == "ClusterIP" and node_port:
            errs.append(forbidden(_p(ppath, "nodePort"), "may not be used when `type` is 'ClusterIP'"))
        if node_port:
            if (_str(port.get("protocol")), node_port) in seen_node_ports:
                errs.append(duplicate(_p(ppath, "nodePort"), node_port))
            seen_node_ports.add((_str(port.get("protocol")), node_port))
        key = (_str(port.get("protocol")), _int(port.get("port")) or 0)
        if key in seen_ports:
            errs.append(duplicate(ppath, {"Name": "", "Protocol": key[0], "AppProtocol": None, "Port": key[1],
                                          "TargetPort": 0, "NodePort": 0}))
        seen_ports.add(key)
    externally = service_type in ("LoadBalancer", "NodePort") or (service_type == "ClusterIP" and spec.get("externalIPs"))
    traffic = spec.get("externalTrafficPolicy") or ""
    if not externally and traffic:
        errs.append(invalid("spec.externalTrafficPolicy", traffic, "may only be set for externally-accessible services"))
    elif externally and not traffic:
        errs.append(required("spec.externalTrafficPolicy"))
    elif externally and traffic not in ("Cluster", "Local"):
        errs.append(not_supported("spec.externalTrafficPolicy", traffic, ("Cluster", "Local")))
    if spec.get("healthCheckNodePort") and not (service_type == "LoadBalancer" and traffic == "Local"):
        errs.append(invalid("spec.healthCheckNodePort", spec["healthCheckNodePort"],
                            "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"))
    internal = spec.get("internalTrafficPolicy")
    if internal is None and service_type in ("ClusterIP", "NodePort", "LoadBalancer"):
        errs.append(required("spec.internalTrafficPolicy"))
    elif internal is not None and internal not in ("Cluster", "Local"):
        errs.append(not_supported("spec.internalTrafficPolicy", internal, ("Cluster", "Local")))
    if old is not None:
        errs += _validate_cluster_ips_update(spec, _obj(old.get("spec")))
    return errs


def _validate_cluster_ips(spec: Obj, cluster_ips: list[str]) -> Errors:
    errs: Errors = []
    cluster_ip = _str(spec.get("clusterIP"))
    if cluster_ip:
        if not cluster_ips:
            errs.append(required("spec.clusterIPs"))
        elif cluster_ips[0] != cluster_ip:
            errs.append(invalid("spec.clusterIPs", cluster_ips, "first value must match `clusterIP`"))
    elif cluster_ips:
        errs.append(invalid("spec.clusterIPs", cluster_ips, "must be empty when `clusterIP` is not specified"))
    families = _list(spec.get("ipFamilies"))
    for i, family in enumerate(families):
        if family not in ("IPv4", "IPv6"):
            errs.append(not_supported(_p("spec.ipFamilies", i), family, ("IPv4", "IPv6")))
        if family in families[:i]:
            errs.append(duplicate(_p("spec.ipFamilies", i), family))
    policy = spec.get("ipFamilyPolicy")
    if policy is not None and policy not in ("PreferDualStack", "RequireDualStack", "SingleStack"):
        errs.append(not_supported("spec.ipFamilyPolicy", policy, ("PreferDualStack", "RequireDualStack", "SingleStack")))
    for i, ip in enumerate(cluster_ips):
        if i == 0 and ip == "None":
            if len(cluster_ips) > 1:
                errs.append(invalid("spec.clusterIPs", cluster_ips, "'None' must be the first and only value"))
            continue
        errs += _each(is_valid_ip(ip), _p("spec.clusterIPs", i), ip)
    if len(cluster_ips) > 2:
        errs.append(invalid("spec.clusterIPs", cluster_ips, "may only hold up to 2 values"))
    return errs


def _validate_cluster_ips_update(spec: Obj, old_spec: Obj) -> Errors:
    if "ExternalName" in (spec.get("type"), old_spec.get("type")):
        return []
    new_ips, old_ips = _list(spec.get("clusterIPs")), _list(old_spec.get("clusterIPs"))
    if new_ips == ["None"] and old_ips == ["None"]:
        return []
    if len(new_ips) == len(old_ips):
        return [invalid(_p("spec.clusterIPs", i), new_ips, "may not change once set")
                for i, ip in enumerate(old_ips) if ip != new_ips[i]]
    if len(old_ips) > len(new_ips):
        if not new_ips:
            return [invalid("spec.clusterIPs[0]", None, "primary clusterIP can not be unset")]
        if new_ips[0] != old_ips[0]:
            return [invalid("spec.clusterIPs[0]", new_ips, "may not change once set")]
    elif old_ips and new_ips[0] != old_ips[0]:
        return [invalid("spec.clusterIPs[0]", new_ips, "may not change once set")]
    return []


def _base64_error(value: Any) -> str | None:
    """Go's ``illegal base64 data at input byte N`` for a bad base64 string, else None."""
    if not isinstance(value, str):
        return None
    text = value.replace("\r", "").replace("\n", "")
    alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
    for quantum_start in range(0, len(text), 4):
        quantum = text[quantum_start:quantum_start + 4]
        for offset, char in enumerate(quantum):
            if char == "=":
                if offset < 2 or quantum[offset:] not in ("=", "==") or quantum_start + 4 < len(text):
                    return f"illegal base64 data at input byte {quantum_start + offset}"
                break
            if char not in alphabet:
                return f"illegal base64 data at input byte {quantum_start + offset}"
        if len(quantum) < 4 and "=" not in quantum:
            return f"illegal base64 data at input byte {quantum_start}"
    return None


def _decoded_size(value: Any) -> int:
    text = _str(value).replace("\r", "").replace("\n", "")
    return len(text) * 3 // 4 - text.count("=")


def _validate_data_keys(data: Any, path: str) -> Errors:
    return [err for key in _obj(data) for err in _each(is_config_map_key(key), _key(path, key), key)]


def _validate_config_map(obj: Obj, old: Obj | None) -> Errors:
    data, binary = _obj(obj.get("data")), _obj(obj.get("binaryData"))
    errs = _validate_data_keys(data, "data")
    for key in data:
        if key in binary:
            errs.append(invalid(_key("data", key), key, "duplicate of key present in binaryData"))
    errs += _validate_data_keys(binary, "binaryData")
    if sum(len(_str(v).encode()) for v in data.values()) + sum(_decoded_size(v) for v in binary.values()) \
            > MAX_SECRET_SIZE:
        errs.append(too_long("[]", MAX_SECRET_SIZE))
    return errs + _immutable_data(obj, old, ("data", "binaryData"))


def _immutable_data(obj: Obj, old: Obj | None, keys: tuple[str, ...]) -> Errors:
    if old is None or old.get("immutable") is not True:
        return []
    errs: Errors = []
    if obj.get("immutable") is not True:
        errs.append(forbidden("immutable", "field is immutable when `immutable` is set"))
    for key in keys:
        if _prune(obj.get(key)) != _prune(old.get(key)):
            errs.append(forbidden(key, "field is immutable when `immutable` is set"))
    return errs


_SECRET_REQUIRED_KEYS = {
    "kubernetes.io/dockercfg": (".dockercfg",),
    "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
    "kubernetes.io/ssh-auth": ("ssh-privatekey",),
    "kubernetes.io/tls": ("tls.crt", "tls.key"),
}


def _validate_secret(obj: Obj, old: Obj | None) -> Errors:
    data = _obj(obj.get("data"))
    errs = _validate_data_keys(data, "data")
    if sum(_decoded_size(v) for v in data.values()) > MAX_SECRET_SIZE:
        errs.append(too_long("data", MAX_SECRET_SIZE))
    secret_type = _str(obj.get("type"))
    if secret_type == "kubernetes.io/service-account-token":
        if not _obj(_obj(obj.get("metadata")).get("annotations")).get("kubernetes.io/service-account.name"):
            errs.append(required("metadata.annotations[kubernetes.io/service-account.name]"))
    elif secret_type == "kubernetes.io/basic-auth":
        if "username" not in data and "password" not in data:
            errs += [required("data[username]"), required("data[password]")]
    else:
        for key in _SECRET_REQUIRED_KEYS.get(secret_type, ()):
            if key not in data:
                errs.append(required(_key("data", key)))
    if old is not None and (old.get("type") or "") != secret_type:
        errs.append(invalid("type", secret_type, IMMUTABLE))
    return errs + _immutable_data(obj, old, ("data",))


def _validate_namespace(obj: Obj, old: Obj | None) -> Errors:
    errs: Errors = []
    for finalizer in _list(_obj(obj.get("spec")).get("finalizers")):
        errs += _validate_finalizer(_str(finalizer), "spec.finalizers", "spec.finalizers")
    return errs


def _validate_pvc_spec(spec: Obj, path: str) -> Errors:
    errs: Errors = []
    modes = _list(spec.get("accessModes"))
    if not modes:
        errs.append(required(_p(path, "accessModes"), "at least 1 access mode is required"))
    if spec.get("selector") is not None:
        errs += validate_label_selector(spec["selector"], _p(path, "selector"))
    supported = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")
    for mode in modes:
        if mode not in supported:
            errs.append(not_supported(_p(path, "accessModes"), mode, supported))
    if "ReadWriteOncePod" in modes and any(m in supported and m != "ReadWriteOncePod" for m in modes):
        errs.append(forbidden(_p(path, "accessModes"), "may not use ReadWriteOncePod with other access modes"))
    storage_path = _key(_p(path, "resources"), "storage")
    requests = _obj(_obj(spec.get("resources")).get("requests"))
    if "storage" not in requests:
        errs.append(required(storage_path))
    else:
        value = _quantity(requests["storage"])
        if value is not None and value <= 0:
            errs.append(invalid(storage_path, _qtext(requests["storage"]), "must be greater than zero"))
    if spec.get("storageClassName"):
        errs += _each(is_dns1123_subdomain(_str(spec["storageClassName"])), _p(path, "storageClassName"),
                      spec["storageClassName"])
    if spec.get("volumeMode") is not None and spec["volumeMode"] not in ("Block", "Filesystem"):
        errs.append(not_supported(_p(path, "volumeMode"), spec["volumeMode"], ("Block", "Filesystem")))
    return errs


def _validate_pvc(obj: Obj, old: Obj | None) -> Errors:
    spec = _obj(obj.get("spec"))
    errs = _validate_pvc_spec(spec, "spec")
    if old is None:
        return errs
    old_spec = _obj(old.get("spec"))
    new_clone, old_clone = copy.deepcopy(spec), copy.deepcopy(old_spec)
    if not old_spec.get("volumeName"):
        old_clone["volumeName"] = new_clone.get("volumeName")
    if old_spec.get("storageClassName") is None and spec.get("storageClassName") is not None:
        new_clone["storageClassName"] = None
    bound = _obj(obj.get("status")).get("phase") == "Bound"
    if bound:
        new_clone.setdefault("resources", {}).setdefault("requests", {})["storage"] = \
            _obj(_obj(old_spec.get("resources")).get("requests")).get("storage")
        new_clone["volumeAttributesClassName"] = old_clone.get("volumeAttributesClassName")
    if _prune(new_clone) != _prune(old_clone):
        errs.append(forbidden("spec", "spec is immutable after creation except resources.requests and "
                                      "volumeAttributesClassName for bound claims\n"
                              + spec_diff("core.PersistentVolumeClaimSpec", old_clone, new_clone)))
    new_size = _quantity(_obj(_obj(spec.get("resources")).get("requests")).get("storage"))
    old_size = _quantity(_obj(_obj(old_spec.get("resources")).get("requests")).get("storage"))
    capacity = _quantity(_obj(_obj(old.get("status")).get("capacity")).get("storage")) or 0
    if new_size is not None and old_size is not None and new_size < old_size and new_size <= capacity:
        errs.append(forbidden("spec.resources.requests.storage", "field can not be less than status.capacity"))
    return errs


_PV_SOURCES = ("hostPath", "gcePersistentDisk", "awsElasticBlockStore", "glusterfs", "flocker", "nfs", "rbd",
               "quobyte", "cephfs", "iscsi", "cinder", "fc", "flexVolume", "azureFile", "vsphereVolume", "azureDisk",
               "photonPersistentDisk", "portworxVolume", "scaleIO", "local", "storageos", "csi")


def _validate_pv(obj: Obj, old: Obj | None) -> Errors:
    spec = _obj(obj.get("spec"))
    errs: Errors = []
    if not spec.get("accessModes"):
        errs.append(required("spec.accessModes"))
    capacity = _obj(spec.get("capacity"))
    if not capacity:
        errs.append(required("spec.capacity"))
    if "storage" not in capacity or len(capacity) > 1:
        errs.append(not_supported("spec.capacity", capacity, ("storage",)))
    for name, raw in capacity.items():
        value = _quantity(raw)
        if value is not None and value <= 0:
            errs.append(invalid(_key("spec.capacity", name), _qtext(raw), "must be greater than zero"))
    policy = spec.get("persistentVolumeReclaimPolicy")
    if policy and policy not in ("Delete", "Recycle", "Retain"):
        errs.append(not_supported("spec.persistentVolumeReclaimPolicy", policy, ("Delete", "Recycle", "Retain")))
    sources = [s for s in _PV_SOURCES if spec.get(s) is not None]
    if not sources:
        errs.append(required("spec", "must specify a volume type"))
    for extra in sources[1:]:
        errs.append(forbidden(_p("spec", extra), "may not specify more than 1 volume type"))
    if "hostPath" in sources and not _obj(spec["hostPath"]).get("path"):
        errs.append(required("spec.hostPath.path"))
    if "local" in sources and spec.get("nodeAffinity") is None:
        errs.append(required("spec.nodeAffinity", "Local volumes require node affinity"))
    return errs


def _validate_node(obj: Obj, old: Obj | None) -> Errors:
    errs: Errors = []
    seen: set[tuple[str, str]] = set()
    for i, taint in enumerate(_objs(_obj(obj.get("spec")).get("taints"))):
        tpath = _p("metadata.taints", i)
        key, value, effect = _str(taint.get("key")), _str(taint.get("value")), _str(taint.get("effect"))
        errs += _each(is_qualified_name(key), _p(tpath, "key"), key)
        if is_label_value(value):
            errs.append(invalid(_p(tpath, "value"), value, ";".join(is_label_value(value))))
        if not effect:
            errs.append(required(_p(tpath, "effect")))
        elif effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            errs.append(not_supported(_p(tpath, "effect"), effect, ("NoSchedule", "PreferNoSchedule", "NoExecute")))
        if (key, effect) in seen:
            errs.append(duplicate(tpath, taint, "taints must be unique by key and effect pair"))
            continue
        seen.add((key, effect))
    return errs


# --------------------------------------------------------------------------------------
# Networking, policy, autoscaling, RBAC
# --------------------------------------------------------------------------------------


def _validate_network_policy_port(port: Obj, path: str) -> Errors:
    errs: Errors = []
    protocol = port.get("protocol")
    if protocol is not None and protocol not in ("TCP", "UDP", "SCTP"):
        errs.append(not_supported(_p(path, "protocol"), protocol, ("TCP", "UDP", "SCTP")))
    number, end_port = port.get("port"), _int(port.get("endPort"))
    if number is None:
        if end_port is not None:
            errs.append(invalid(_p(path, "endPort"), end_port, "may not be specified when `port` is not specified"))
    elif _int(number) is not None:
        errs += _each(is_valid_port_num(number), _p(path, "port"), number)
        if end_port is not None:
            if end_port < number:
                errs.append(invalid(_p(path, "endPort"), number, "must be greater than or equal to `port`"))
            errs += _each(is_valid_port_num(end_port), _p(path, "endPort"), end_port)
    else:
        if end_port is not None:
            errs.append(invalid(_p(path, "endPort"), end_port, "may not be specified when `port` is non-numeric"))
        errs += _each(is_valid_port_name(_str(number)), _p(path, "port"), number)
    return errs


def _validate_network_policy_peer(peer: Obj, path: str) -> Errors:
    errs: Errors = []
    peers = 0
    for key in ("podSelector", "namespaceSelector"):
        if peer.get(key) is not None:
            peers += 1
            errs += validate_label_selector(peer[key], _p(path, key))
    block = peer.get("ipBlock")
    if block is not None:
        peers += 1
        block, bpath = _obj(block), _p(path, "ipBlock")
        cidr = _str(block.get("cidr"))
        if not cidr:
            errs.append(required(_p(bpath, "cidr")))
        else:
            errs += _each(is_valid_cidr(cidr), _p(bpath, "cidr"), cidr)
            errs += _validate_except(cidr, block.get("except"), _p(bpath, "except"))
    if peers == 0:
        errs.append(required(path, "must specify a peer"))
    elif peers > 1 and block is not None:
        errs.append(forbidden(path, "may not specify both ipBlock and another peer"))
    return errs


def _validate_except(cidr: str, excepts: Any, path: str) -> Errors:
    try:
        network = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return []
    errs: Errors = []
    for i, item in enumerate(_list(excepts)):
        messages = is_valid_cidr(_str(item))
        errs += _each(messages, _p(path, i), item)
        try:
            inner = ipaddress.ip_network(_str(item), strict=False)
        except ValueError:
            continue
        if inner.version != network.version or not inner.subnet_of(network) or inner.prefixlen <= network.prefixlen:
            errs.append(invalid(_p(path, i), item, "must be a strict subset of `cidr`"))
    return errs


def _validate_network_policy(obj: Obj, old: Obj | None) -> Errors:
    spec = _obj(obj.get("spec"))
    errs = validate_label_selector(spec.get("podSelector") or {}, "spec.podSelector")
    for direction, peers_key in (("ingress", "from"), ("egress", "to")):
        for i, rule in enumerate(_objs(spec.get(direction))):
            rpath = _p("spec", direction, i)
            for j, port in enumerate(_objs(rule.get("ports"))):
                errs += _validate_network_policy_port(port, _p(rpath, "ports", j))
            for j, peer in enumerate(_objs(rule.get(peers_key))):
                errs += _validate_network_policy_peer(peer, _p(rpath, peers_key, j))
    types = _list(spec.get("policyTypes"))
    if len(types) > 2:
        return errs + [invalid("spec.policyTypes", types, "may not specify more than two policyTypes")]
    for i, policy_type in enumerate(types):
        if policy_type not in ("Ingress", "Egress"):
            errs.append(not_supported(_p("spec.policyTypes", i), policy_type, ("Ingress", "Egress")))
    return errs


def _validate_ingress(obj: Obj, old: Obj | None) -> Errors:
    errs: Errors = []
    spec = _obj(obj.get("spec"))
    for i, rule in enumerate(_objs(spec.get("rules"))):
        rpath = _p("spec.rules", i)
        host = _str(rule.get("host"))
        if host:
            messages = is_dns1123_subdomain(host.removeprefix("*.")) if host.startswith("*.") else \
                is_dns1123_subdomain(host)
            errs += _each(messages, _p(rpath, "host"), host)
        for j, path_rule in enumerate(_objs(_obj(rule.get("http")).get("paths"))):
            ppath = _p(rpath, "http", "paths", j)
            path_type = path_rule.get("pathType")
            if path_type is None:
                errs.append(required(_p(ppath, "pathType"), "pathType must be specified"))
            elif path_type not in ("Exact", "ImplementationSpecific", "Prefix"):
                errs.append(not_supported(_p(ppath, "pathType"), path_type, ("Exact", "ImplementationSpecific",
                                                                             "Prefix")))
            elif path_type in ("Exact", "Prefix") and not _str(path_rule.get("path")).startswith("/"):
                errs.append(invalid(_p(ppath, "path"), _str(path_rule.get("path")), "must be an absolute path"))
            errs += _validate_ingress_backend(_obj(path_rule.get("backend")), _p(ppath, "backend"))
    if spec.get("defaultBackend") is not None:
        errs += _validate_ingress_backend(_obj(spec["defaultBackend"]), "spec.defaultBackend")
    return errs


def _validate_ingress_backend(backend: Obj, path: str) -> Errors:
    service, resource = backend.get("service"), backend.get("resource")
    if service is not None and resource is not None:
        return [invalid(path, "", "cannot set both resource and service backends")]
    if service is None:
        return [] if resource is not None else [invalid(path, "", "resource or service backend is required")]
    service, spath = _obj(service), _p(path, "service")
    name = _str(service.get("name"))
    errs = _each(is_dns1035_label(name), _p(spath, "name"), name) if name else [required(_p(spath, "name"))]
    port = _obj(service.get("port"))
    if port.get("name") and port.get("number"):
        errs.append(invalid(path, "", "cannot set both port name & port number"))
    elif port.get("name"):
        errs += _each(is_valid_port_name(_str(port["name"])), _p(spath, "port", "name"), port["name"])
    elif port.get("number"):
        errs += _each(is_valid_port_num(_int(port["number"]) or 0), _p(spath, "port", "number"), port["number"])
    else:
        errs.append(required(path, "port name or number is required"))
    return errs


def _validate_pdb(obj: Obj, old: Obj | None) -> Errors:
    spec = _obj(obj.get("spec"))
    errs: Errors = []
    if spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None:
        errs.append(invalid("spec", spec, "minAvailable and maxUnavailable cannot be both set"))
    for key in ("minAvailable", "maxUnavailable"):
        if spec.get(key) is not None:
            errs += _int_or_percent(spec[key], _p("spec", key))
            errs += _not_more_than_100_percent(spec[key], _p("spec", key))
    errs += validate_label_selector(spec.get("selector"), "spec.selector")
    policy = spec.get("unhealthyPodEvictionPolicy")
    if policy is not None and policy not in ("AlwaysAllow", "IfHealthyBudget"):
        errs.append(not_supported("spec.unhealthyPodEvictionPolicy", policy, ("AlwaysAllow", "IfHealthyBudget")))
    return errs


def _validate_hpa(obj: Obj, old: Obj | None) -> Errors:
    spec = _obj(obj.get("spec"))
    errs: Errors = []
    minimum, maximum = _int(spec.get("minReplicas")), _int(spec.get("maxReplicas")) or 0
    if minimum is not None and minimum < 1:
        errs.append(invalid("spec.minReplicas", minimum, "must be greater than or equal to 1"))
    if maximum < 1:
        errs.append(invalid("spec.maxReplicas", maximum, "must be greater than 0"))
    if minimum is not None and maximum < minimum:
        errs.append(invalid("spec.maxReplicas", maximum, "must be greater than or equal to `minReplicas`"))
    ref = _obj(spec.get("scaleTargetRef"))
    for key in ("kind", "name"):
        if not ref.get(key):
            errs.append(required(_p("spec.scaleTargetRef", key)))
        else:
            errs += _each(is_path_segment_name(_str(ref[key])), _p("spec.scaleTargetRef", key), ref[key])
    return errs


def _validate_policy_rules(rules: Any, namespaced: bool) -> Errors:
    errs: Errors = []
    for i, rule in enumerate(_objs(rules)):
        rpath = _p("rules", i)
        if not rule.get("verbs"):
            errs.append(required(_p(rpath, "verbs"), "verbs must contain at least one value"))
        if rule.get("nonResourceURLs"):
            if namespaced:
                errs.append(invalid(_p(rpath, "nonResourceURLs"), rule["nonResourceURLs"],
                                    "namespaced rules cannot apply to non-resource URLs"))
            if rule.get("apiGroups") or rule.get("resources") or rule.get("resourceNames"):
                errs.append(invalid(_p(rpath, "nonResourceURLs"), rule["nonResourceURLs"],
                                    "rules cannot apply to both regular resources and non-resource URLs"))
            continue
        if not rule.get("apiGroups"):
            errs.append(required(_p(rpath, "apiGroups"), "resource rules must supply at least one api group"))
        if not rule.get("resources"):
            errs.append(required(_p(rpath, "resources"), "resource rules must supply at least one resource"))
    return errs


def _validate_role(obj: Obj, old: Obj | None) -> Errors:
    return _validate_policy_rules(obj.get("rules"), namespaced=True)


def _validate_cluster_role(obj: Obj, old: Obj | None) -> Errors:
    return _validate_policy_rules(obj.get("rules"), namespaced=False)


def _role_ref_value(ref: Obj) -> JSONValue:
    return JSONValue({"APIGroup": _str(ref.get("apiGroup")), "Kind": _str(ref.get("kind")),
                      "Name": _str(ref.get("name"))})


def _validate_binding(obj: Obj, old: Obj | None, *, namespaced: bool) -> Errors:
    ref = _obj(obj.get("roleRef"))
    errs: Errors = []
    if ref.get("apiGroup") != "rbac.authorization.k8s.io":
        errs.append(not_supported("roleRef.apiGroup", ref.get("apiGroup", ""), ("rbac.authorization.k8s.io",)))
    kinds = ("Role", "ClusterRole") if namespaced else ("ClusterRole",)
    if ref.get("kind") not in kinds:
        errs.append(not_supported("roleRef.kind", ref.get("kind", ""), kinds))
    if not ref.get("name"):
        errs.append(required("roleRef.name"))
    else:
        errs += _each(is_path_segment_name(_str(ref["name"])), "roleRef.name", ref["name"])
    for i, subject in enumerate(_objs(obj.get("subjects"))):
        spath = _p("subjects", i)
        name, kind, group = _str(subject.get("name")), subject.get("kind"), _str(subject.get("apiGroup"))
        if not name:
            errs.append(required(_p(spath, "name")))
        if kind == "ServiceAccount":
            if name:
                errs += _each(is_dns1123_subdomain(name), _p(spath, "name"), name)
            if group:
                errs.append(not_supported(_p(spath, "apiGroup"), group, ("",)))
            if not namespaced and not subject.get("namespace"):
                errs.append(required(_p(spath, "namespace")))
        elif kind in ("User", "Group"):
            if group != "rbac.authorization.k8s.io":
                errs.append(not_supported(_p(spath, "apiGroup"), group, ("rbac.authorization.k8s.io",)))
        else:
            errs.append(not_supported(_p(spath, "kind"), kind or "", ("ServiceAccount", "User", "Group")))
    if old is not None:
        old_ref = _obj(old.get("roleRef"))
        if any(_str(ref.get(k)) != _str(old_ref.get(k)) for k in ("apiGroup", "kind", "name")):
            errs.append(invalid("roleRef", _role_ref_value(ref), "cannot change roleRef"))
    return errs


def _validate_resource_quota(obj: Obj, old: Obj | None) -> Errors:
    errs: Errors = []
    for name, raw in _obj(_obj(obj.get("spec")).get("hard")).items():
        value = _quantity(raw)
        if value is not None and value < 0:
            errs.append(invalid(_key("spec.hard", name), _qtext(raw), NEGATIVE))
    return errs


_VALIDATORS: dict[str, Callable[[Obj, Obj | None], Errors]] = {
    "Pod": _validate_pod,
    "Service": _validate_service,
    "ConfigMap": _validate_config_map,
    "Secret": _validate_secret,
    "Namespace": _validate_namespace,
    "PersistentVolumeClaim": _validate_pvc,
    "PersistentVolume": _validate_pv,
    "Node": _validate_node,
    "ResourceQuota": _validate_resource_quota,
    "ReplicationController": _validate_replication_controller,
    "Deployment": _validate_deployment,
    "ReplicaSet": _validate_replicaset,
    "DaemonSet": _validate_daemonset,
    "StatefulSet": _validate_statefulset,
    "Job": _validate_job,
    "CronJob": _validate_cronjob,
    "NetworkPolicy": _validate_network_policy,
    "Ingress": _validate_ingress,
    "PodDisruptionBudget": _validate_pdb,
    "HorizontalPodAutoscaler": _validate_hpa,
    "Role": _validate_role,
    "ClusterRole": _validate_cluster_role,
    "RoleBinding": lambda obj, old: _validate_binding(obj, old, namespaced=True),
    "ClusterRoleBinding": lambda obj, old: _validate_binding(obj, old, namespaced=False),
}


def validate(kind: Kind, obj: Obj, old: Obj | None = None) -> list[FieldError]:
    """The field errors the real API server reports (422 Invalid) for ``obj``;
    ``old`` is the stored object on update. Empty when the object is valid."""
    if kind.virtual or not isinstance(obj, dict):
        return []
    old_meta = _obj(old.get("metadata")) if isinstance(old, dict) else None
    errs = validate_object_meta(kind, _obj(obj.get("metadata")), old_meta)
    validator = _VALIDATORS.get(kind.kind)
    if validator is not None:
        errs += validator(obj, old if isinstance(old, dict) else None)
    unique: dict[str, FieldError] = {}
    for err in errs:
        unique.setdefault(err.message(), err)
    return list(unique.values())


# --------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------

_RESOURCE_LIST_KEYS = frozenset(("limits", "requests", "capacity", "allocatable", "hard", "used", "overhead", "max",
                                 "min", "default", "defaultRequest", "maxLimitRequestRatio"))
_QUANTITY_KEYS = frozenset(("sizeLimit", "divisor"))
_QUANTITY_KINDS = frozenset(("Pod", "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob",
                             "ReplicationController", "PersistentVolumeClaim", "PersistentVolume", "Node",
                             "ResourceQuota", "LimitRange"))


def _first_quantity_error(value: Any) -> str | None:
    if isinstance(value, list):
        for item in value:
            problem = _first_quantity_error(item)
            if problem:
                return problem
        return None
    if not isinstance(value, dict):
        return None
    for key, child in value.items():
        candidates = []
        if key in _RESOURCE_LIST_KEYS and isinstance(child, dict):
            candidates = list(child.values())
        elif key in _QUANTITY_KEYS and child is not None:
            candidates = [child]
        for raw in candidates:
            try:
                parse_quantity(raw)
            except QuantityError as err:
                return str(err)
        problem = _first_quantity_error(child)
        if problem:
            return problem
    return None


def _hpa_quantity_error(obj: Obj) -> str | None:
    for metric in _objs(_obj(obj.get("spec")).get("metrics")):
        for block in metric.values():
            target = _obj(_obj(block).get("target")) if isinstance(block, dict) else {}
            for key in ("averageValue", "value"):
                if target.get(key) is not None:
                    try:
                        parse_quantity(target[key])
                    except QuantityError as err:
                        return str(err)
    return None


def check_decodable(kind: Kind, obj: Obj) -> None:
    """Raise the 400 BadRequest the real server answers for a body it cannot decode
    into ``kind`` (a malformed quantity, bad base64 in Secret data or ConfigMap
    binaryData). The server calls it before defaulting."""
    problem = schema.type_mismatch(obj, kind.group, kind.version, kind.kind)
    if problem:
        raise decode_error(kind, problem)
    if kind.kind in _QUANTITY_KINDS:
        problem = _first_quantity_error(obj)
    elif kind.kind == "HorizontalPodAutoscaler":
        problem = _hpa_quantity_error(obj)
    elif kind.kind in ("Secret", "ConfigMap"):
        field_name = "data" if kind.kind == "Secret" else "binaryData"
        problem = next((p for p in map(_base64_error, _obj(obj.get(field_name)).values()) if p), None)
    if problem:
        raise decode_error(kind, problem)


def decode_error(kind: Kind, problem: str) -> APIError:
    """``<Kind> in version "<v>" cannot be handled as a <Kind>: <problem>`` (400)."""
    return bad_request(f'{kind.kind} in version "{kind.version}" cannot be handled as a {kind.kind}: {problem}')
