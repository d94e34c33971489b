"""Reference agent investigations of configuration a workload cannot start with.

- **A missing ConfigMap/Secret or key** (containers waiting in ``CreateContainerConfigError``, the
  kubelet's ``secret "x" not found`` / ``couldn't find key K in Secret ns/x``): when the last
  revision of the Deployment changed nothing but the variable that references it, ``rollout undo``
  (the reference was broken); else, when an object of the same kind and name in another allowed
  namespace has what is missing (the shared ``postgres-credentials`` kind of object) and agrees with
  what is left, it is copied: the whole object, or the missing key. Nothing else is invented.
- **A required key missing from a mounted config file** (``FATAL: <path>: required key "k" is
  missing`` in the crashed container's last log): when the file (a ConfigMap key) holds a
  misspelling of that key, it is renamed back and the workload restarted.
- **A ConfigMap value the program rejects** (``FATAL: NAME="v" does not match pattern P``, the
  variable read from a ConfigMap): the value that ConfigMaps of the allowed namespaces sharing
  settings with it (same values for their other common keys) agree on, when it is accepted, is put
  back and the workload restarted. The rollback and literal cases are the wrong-env investigation's.
"""

from __future__ import annotations

import difflib
import json
import re
import yaml

from .reference import FATAL_PATTERN, Cluster, Finding, NoFinding
from .reference_pods import (Obj, Stuck, container_of, crashed, differs_only_in, env_entry, get_object,
                             previous_revision, rollout_restart, rollout_undo, template_of, waiting,
                             without_variable)

CONFIG_ERROR = "CreateContainerConfigError"
MISSING_KEY = re.compile(r"couldn't find key (?P<key>\S+) in (?P<kind>ConfigMap|Secret) (?P<namespace>[^/\s]+)/(?P<name>\S+)")
MISSING_OBJECT = re.compile(r'(?P<kind>configmap|secret) "(?P<name>[^"]+)" not found')
MISSING_FILE_KEY = re.compile(r'FATAL: (?P<path>/\S+): required key "(?P<key>[^"]+)" is missing')
KINDS = {"configmap": "ConfigMap", "secret": "Secret"}
REF_FIELDS = {"ConfigMap": "configMapKeyRef", "Secret": "secretKeyRef"}
#: how alike a key in a config file must be to the missing one to count as its misspelling
MISSPELLING_CUTOFF = 0.8


# -- CreateContainerConfigError ------------------------------------------------------------------

def missing_config(cluster: Cluster) -> Finding | None:
    """The first workload whose container cannot be created for a missing ConfigMap/Secret or key."""
    for stuck in waiting(cluster, {CONFIG_ERROR}):
        if (match := MISSING_KEY.search(stuck.message)) is not None:
            return _missing_key(cluster, stuck, match["kind"], match["name"], match["key"])
        if (match := MISSING_OBJECT.search(stuck.message)) is not None:
            return _missing_object(cluster, stuck, KINDS[match["kind"]], match["name"])
        raise NoFinding(f"{stuck.where} is in {CONFIG_ERROR}: {stuck.message}")
    return None


def _references(container: Obj | None, kind: str, name: str, key: str) -> list[str]:
    """The variables of a container spec that read ``key`` of ConfigMap/Secret ``name``."""
    field = REF_FIELDS[kind]
    return [e["name"] for e in (container or {}).get("env") or []
            if ((e.get("valueFrom") or {}).get(field) or {}).get("name") == name
            and ((e.get("valueFrom") or {}).get(field) or {}).get("key") == key]


def _missing_key(cluster: Cluster, stuck: Stuck, kind: str, name: str, key: str) -> Finding:
    workload_kind, namespace, workload_name = stuck.workload
    what = f"{stuck.where} cannot be created: {stuck.message}"
    current = template_of(cluster, stuck.workload)
    previous = previous_revision(cluster, stuck.workload)
    for variable in _references(container_of(current, stuck.container), kind, name, key):
        if previous is not None and env_entry(container_of(previous[1], stuck.container), variable) is not None \
                and differs_only_in(current, previous[1], stuck.container, without_variable(variable)):
            rollout_undo(cluster, stuck.workload, previous[0])
            return Finding("config-missing", workload_kind, namespace, workload_name,
                           f"{what}. The last change only made {variable} read key {key}; fix: rolled back to "
                           f"revision {previous[0]}.", [stuck.workload])
    target = get_object(cluster, kind, namespace, name)
    if target is None:
        raise NoFinding(f"{what}, and {kind} {namespace}/{name} cannot be read")
    source = _copy_source(cluster, kind, name, namespace, _data(target), key)
    if source is None:
        raise NoFinding(f"{what}; no {kind} {name} of another allowed namespace holds key {key} and agrees with it")
    field = "data" if key in (source.get("data") or {}) else "binaryData"
    cluster.tools.kubectl("patch", kind.lower(), name, "-n", namespace, "--type=merge", "-p",
                          json.dumps({field: {key: source[field][key]}}))
    return Finding("config-missing", kind, namespace, name,
                   f"{what}. Fix: copied key {key} from {kind} {source['metadata']['namespace']}/{name}, which "
                   f"agrees with it on every other key.", [stuck.workload])


def _missing_object(cluster: Cluster, stuck: Stuck, kind: str, name: str) -> Finding:
    namespace = stuck.workload[1]
    what = f"{stuck.where} cannot be created: {stuck.message}"
    source = _copy_source(cluster, kind, name, namespace, {}, None)
    if source is None:
        raise NoFinding(f"{what}; no {kind} {name} of another allowed namespace to restore it from")
    metadata = source["metadata"]
    body = {key: value for key, value in source.items() if key in ("apiVersion", "kind", "type", "data", "binaryData",
                                                                   "immutable")}
    body["metadata"] = {"name": name, "namespace": namespace, "labels": metadata.get("labels") or {}}
    result = cluster.tools.kubectl("create", "-f", "-", input=json.dumps(body))
    if not result.ok:
        raise NoFinding(f"{what}; recreating it failed: {result.stderr.strip()}")
    return Finding("config-missing", kind, namespace, name,
                   f"{what}. Fix: recreated it as a copy of {kind} {metadata['namespace']}/{name} (the same "
                   f"{kind} the other namespaces hold).", [stuck.workload])


def _data(obj: Obj) -> dict[str, str]:
    return {**(obj.get("data") or {}), **(obj.get("binaryData") or {})}


def _copy_source(cluster: Cluster, kind: str, name: str, namespace: str, present: dict[str, str],
                 key: str | None) -> Obj | None:
    """The object of the same kind and name in another allowed namespace that holds ``key`` (any, when None)
    and agrees with ``present`` on every key both have; None when there is none or the candidates disagree."""
    candidates = [obj for other in cluster.namespaces if other != namespace
                  if (obj := get_object(cluster, kind, other, name)) is not None
                  and (key is None or key in _data(obj))
                  and all(_data(obj)[k] == v for k, v in present.items() if k in _data(obj))]
    contents = {json.dumps(_data(obj), sort_keys=True) for obj in candidates}
    return candidates[0] if len(contents) == 1 else None


# -- a required key missing from a config file ----------------------------------------------------

def config_file_key(cluster: Cluster) -> Finding | None:
    """The first crashing workload whose config file lacks a required key that it holds misspelt."""
    for stuck, log in crashed(cluster, init=False):
        match = MISSING_FILE_KEY.search(log)
        if match is not None:
            return _rename_key(cluster, stuck, match["path"], match["key"])
    return None


def _mounted_configmap(template: Obj, container: str, path: str) -> tuple[str, str] | None:
    """(ConfigMap name, key) that a container's mount shows at ``path``."""
    volumes = {v.get("name"): v for v in (template.get("spec") or {}).get("volumes") or []}
    for mount in (container_of(template, container) or {}).get("volumeMounts") or []:
        source = (volumes.get(mount.get("name")) or {}).get("configMap")
        base = str(mount.get("mountPath", "")).rstrip("/")
        if source is None or mount.get("subPath") or not path.startswith(base + "/"):
            continue
        relative = path[len(base) + 1:]
        items = source.get("items") or []
        key = next((item["key"] for item in items if item.get("path") == relative), None if items else relative)
        if key is not None:
            return source.get("name", ""), key
    return None


def _rename_key(cluster: Cluster, stuck: Stuck, path: str, key: str) -> Finding:
    namespace = stuck.workload[1]
    what = f'{stuck.where} exits at start-up: {path} lacks the required key "{key}"'
    mounted = _mounted_configmap(template_of(cluster, stuck.workload), stuck.container, path)
    configmap = get_object(cluster, "ConfigMap", namespace, mounted[0]) if mounted else None
    text = ((configmap or {}).get("data") or {}).get(mounted[1]) if mounted else None
    if mounted is None or text is None:
        raise NoFinding(f"{what}, and no ConfigMap mount shows that file")
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise NoFinding(f"{what}; the file is not YAML: {exc}") from None
    keys = [str(k) for k in document] if isinstance(document, dict) else []
    close = difflib.get_close_matches(key, keys, n=1, cutoff=MISSPELLING_CUTOFF) if "." not in key else []
    if not close:
        raise NoFinding(f"{what}; the file ({', '.join(keys)}) has no misspelling of it, and its value is unknown")
    fixed = re.sub(rf"^{re.escape(close[0])}(\s*:)", lambda m: key + m.group(1), text, count=1, flags=re.M)
    cluster.tools.kubectl("patch", "configmap", mounted[0], "-n", namespace, "--type=merge", "-p",
                          json.dumps({"data": {mounted[1]: fixed}}))
    rollout_restart(cluster, stuck.workload)
    return Finding("config-missing", "ConfigMap", namespace, mounted[0],
                   f"{what}; ConfigMap {namespace}/{mounted[0]} key {mounted[1]} has \"{close[0]}\" instead. "
                   f"Fix: renamed it to \"{key}\" and restarted the workload.", [stuck.workload])


# -- a ConfigMap value the program rejects ----------------------------------------------------------

def config_value(cluster: Cluster) -> Finding | None:
    """The first crashing workload rejecting a variable read from a ConfigMap, whose value its peers agree on."""
    for stuck, log in crashed(cluster, init=False):
        match = FATAL_PATTERN.search(log)
        if match is None:
            continue
        entry = env_entry(container_of(template_of(cluster, stuck.workload), stuck.container), match["name"])
        ref = ((entry or {}).get("valueFrom") or {}).get("configMapKeyRef")
        if ref is not None:
            return _agreed_value(cluster, stuck, ref["name"], ref["key"], match)
    return None


def _agreed_value(cluster: Cluster, stuck: Stuck, name: str, key: str, match: re.Match[str]) -> Finding:
    namespace = stuck.workload[1]
    what = (f'{stuck.where} exits at start-up: {match["name"]}="{match["value"]}" from ConfigMap {namespace}/{name} '
            f"key {key} does not match {match['pattern']}")
    broken = get_object(cluster, "ConfigMap", namespace, name)
    if broken is None:
        raise NoFinding(f"{what}, and the ConfigMap cannot be read")
    settings = {k: v for k, v in (broken.get("data") or {}).items() if k != key}
    values = set()
    for other in cluster.namespaces:
        result = cluster.tools.kubectl("get", "configmaps", "-n", other, "-o", "json")
        for peer in json.loads(result.stdout).get("items", []) if result.ok else []:
            data = peer.get("data") or {}
            if ((other, peer["metadata"]["name"]) != (namespace, name) and re.fullmatch(match["pattern"], data.get(key, ""))
                    and any(data.get(k) == v for k, v in settings.items())):
                values.add(data[key])
    if len(values) != 1:
        raise NoFinding(f"{what}; the ConfigMaps sharing its settings agree on no accepted value ({sorted(values)})")
    good = values.pop()
    cluster.tools.kubectl("patch", "configmap", name, "-n", namespace, "--type=merge", "-p",
                          json.dumps({"data": {key: good}}))
    rollout_restart(cluster, stuck.workload)
    return Finding("config-env", "ConfigMap", namespace, name,
                   f"{what}. The ConfigMaps that share its other settings set {key}={good}; fix: set it back and "
                   f"restarted the workload.", [stuck.workload])
