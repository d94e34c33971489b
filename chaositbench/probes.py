"""Chaos Toolkit probes of the ``probes/`` catalog: SLOs, workload health, root cause gone.

They talk only to the Kubernetes API and to Prometheus, so they work on a real cluster as
on the simulated one. The catalog (``probes/*.yaml``, see ``probes/README.md``) is found in
configuration ``chaositbench_probes_dir``, ``CHAOSITBENCH_PROBES_DIR`` or ``probes/`` of
the repository. Workload health compares with the replicas of the run's baseline
(``<run dir>/baseline.json``, written by the scoring control) when there is one.
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Callable

import yaml
from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets
from kubernetes import client
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import NotFoundError
from kubernetes.utils import parse_quantity

from .faults import run_dir
from .listing import namespaced_objects
from .sim.prometheus import scrape_interval_seconds
from .target import Target, connect, embedded_time_scale

__all__ = ["slo_holds", "workloads_healthy", "root_cause_gone"]

PROBES_DIR = Path(__file__).resolve().parent.parent / "probes"
BASELINE_FILE = "baseline.json"
#: how often a probe with a time-out checks again (a Prometheus query or a few API reads each time)
POLL_INTERVAL_S = 0.25
QUERY_TIMEOUT_S = 10.0
#: the placeholder of ``probes/slo.yaml`` queries replaced by the rate window
SLO_WINDOW_PLACEHOLDER = "$slo_window"
#: the configured SLO window that means: :data:`SLO_WINDOW_S`, scaled with an embedded cluster's clock
AUTO_SLO_WINDOW = "auto"
SLO_WINDOW_S = 15.0
QUIET_WINDOW = "1m"
#: the fewest scrapes an automatic SLO window holds (a rate needs two; four smooth a lost one out)
MIN_SLO_WINDOW_SCRAPES = 4
_DURATION = re.compile(r"(?:[0-9]+(?:ms|s|m|h|d|w|y))+")
_DURATION_PART = re.compile(r"([0-9]+)(ms|s|m|h|d|w|y)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
WORKLOAD_KINDS = (("apps/v1", "Deployment"), ("apps/v1", "StatefulSet"))


def probes_dir(configuration: Configuration | None = None) -> Path:
    """The probe catalog directory: ``chaositbench_probes_dir``, ``CHAOSITBENCH_PROBES_DIR`` or ``probes/``."""
    value = (configuration or {}).get("chaositbench_probes_dir") or os.environ.get("CHAOSITBENCH_PROBES_DIR")
    return Path(value) if value else PROBES_DIR


def catalog_entry(section: str, name: str, configuration: Configuration | None = None) -> Any:
    """Entry ``name`` of catalog file ``<section>.yaml`` (ActivityFailed naming the known entries)."""
    path = probes_dir(configuration) / f"{section}.yaml"
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise ActivityFailed(f"probe catalog {path} cannot be read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ActivityFailed(f"{path}: not valid YAML: {exc}") from exc
    if name not in doc:
        raise ActivityFailed(f"unknown {section} probe {name!r} in {path} (known: {', '.join(sorted(doc)) or 'none'})")
    return doc[name]


def query(prometheus_url: str | None, promql: str) -> list[tuple[dict[str, str], float]]:
    """An instant PromQL query: (labels, value) per series; ActivityFailed naming the URL when it fails."""
    if not prometheus_url:
        raise ActivityFailed("no Prometheus for this run: install the prometheus binary for the embedded cluster, "
                             "or set CHAOSITBENCH_PROMETHEUS_URL / chaositbench_prometheus_url")
    url = f"{prometheus_url.rstrip('/')}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    try:
        with urllib.request.urlopen(url, timeout=QUERY_TIMEOUT_S) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")
        raise ActivityFailed(f"Prometheus at {prometheus_url} refused the query {promql!r}: {exc.code} {detail}") from exc
    except (OSError, ValueError) as exc:
        raise ActivityFailed(f"Prometheus at {prometheus_url} is unreachable: {exc}. Check that it runs and that "
                             "CHAOSITBENCH_PROMETHEUS_URL points at it") from exc
    data = body.get("data") or {}
    if data.get("resultType") == "scalar":
        return [({}, float(data["result"][1]))]
    return [(series.get("metric") or {}, float(series["value"][1])) for series in data.get("result") or []]


def within(value: float, bounds: dict[str, Any]) -> bool:
    """Whether ``value`` is a number within ``bounds`` (optional ``min`` and ``max``, inclusive)."""
    if value != value:  # NaN: no traffic in the window, nothing to judge by
        return False
    return ("min" not in bounds or value >= float(bounds["min"])) and ("max" not in bounds or value <= float(bounds["max"]))


def _window_setting(configuration: Configuration | None, key: str, what: str, default: str,
                    accepted: str = "") -> str:
    """Configuration ``key``, else its upper-cased environment variable, else ``default``: a PromQL duration
    (or ``accepted``, when given); ActivityFailed naming the setting otherwise."""
    env = key.upper()
    value = str((configuration or {}).get(key) or os.environ.get(env) or default)
    if value != accepted and not _DURATION.fullmatch(value):
        alternative = f"{accepted!r} or " if accepted else ""
        raise ActivityFailed(f"{what} {value!r} ({key} / {env}) is not {alternative}a Prometheus duration such as "
                             "15s, 3s or 1m30s")
    return value


def slo_window(configuration: Configuration | None = None) -> str:
    """The SLO rate window (a PromQL duration): ``chaositbench_slo_window``, else ``CHAOSITBENCH_SLO_WINDOW``,
    else ``auto``.

    ``auto`` is 15 s on a real cluster; on the embedded one it follows the cluster's clock, 15 s times its
    time scale, but never fewer than four of Prometheus's scrapes (2 s at time scale 0.1).
    """
    value = _window_setting(configuration, "chaositbench_slo_window", "SLO window", AUTO_SLO_WINDOW, AUTO_SLO_WINDOW)
    if value != AUTO_SLO_WINDOW:
        return value
    scale = embedded_time_scale(configuration)
    seconds = SLO_WINDOW_S if scale is None else max(SLO_WINDOW_S * scale,
                                                      MIN_SLO_WINDOW_SCRAPES * scrape_interval_seconds(scale))
    millis = round(seconds * 1000)
    return f"{millis // 1000}s" if millis % 1000 == 0 else f"{millis}ms"


def quiet_window(configuration: Configuration | None = None) -> str:
    """How far back a baseline wants the SLOs met (a PromQL duration): ``chaositbench_quiet_window``, else
    ``CHAOSITBENCH_QUIET_WINDOW``, else :data:`QUIET_WINDOW`: the rate window agents and alert rules commonly
    use, so that a previous incident on a reused cluster has cleared from what the next agent sees."""
    return _window_setting(configuration, "chaositbench_quiet_window", "quiet window", QUIET_WINDOW)


def settle_seconds(configuration: Configuration | None = None) -> float:
    """How long the steady-state probes and the root-cause check may wait for a fix to show: configuration
    ``chaositbench_settle_s`` (0 when unset); ActivityFailed when it is not a number of seconds."""
    value = (configuration or {}).get("chaositbench_settle_s") or 0
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = -1.0
    if not seconds >= 0:
        raise ActivityFailed(f"settle time {value!r} (chaositbench_settle_s / CHAOSITBENCH_SETTLE_S) is not a "
                             "number of seconds")
    return seconds


def slo_window_seconds(configuration: Configuration | None = None) -> float:
    """:func:`slo_window` in seconds (``1m30s`` → 90)."""
    return sum(int(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION_PART.findall(slo_window(configuration)))


def poll(check: Callable[[], bool], timeout_s: float | str) -> bool:
    """Whether ``check()`` holds within ``timeout_s`` seconds (called at once, then every ``POLL_INTERVAL_S``)."""
    deadline = time.monotonic() + float(timeout_s)  # a string when substituted from the configuration
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_INTERVAL_S)


def slo_values(probe: str, configuration: Configuration | None = None,
               target: Target | None = None) -> dict[str, float]:
    """The current values of SLO probe ``probe``, keyed by the series' ``namespace/service`` (``""`` for one).

    ``$slo_window`` in the probe's query is replaced by :func:`slo_window`.
    """
    entry = catalog_entry("slo", probe, configuration)
    target = target or connect(configuration, run_dir(configuration))
    promql = entry["query"].replace(SLO_WINDOW_PLACEHOLDER, slo_window(configuration))
    return {"/".join(v for v in (labels.get("namespace"), labels.get("service")) if v): value
            for labels, value in query(target.prometheus_url, promql)}


def slo_holds(probe: str, timeout_s: float | str = 0.0, configuration: Configuration = None,
              secrets: Secrets = None) -> bool:
    """Whether SLO probe ``probe`` of ``probes/slo.yaml`` holds (every series within its bounds).

    Polls for up to ``timeout_s`` seconds (a fix takes time to show in rate windows).
    Raises ActivityFailed naming the URL when Prometheus cannot be queried.
    """
    entry = catalog_entry("slo", probe, configuration)
    target = connect(configuration, run_dir(configuration))

    def holds() -> bool:
        values = slo_values(probe, configuration, target)
        return bool(values) and all(within(v, entry) for v in values.values())
    return poll(holds, timeout_s)


def read_baseline(configuration: Configuration | None = None) -> dict[str, Any] | None:
    """The run's baseline snapshot written by the scoring control, if any."""
    path = run_dir(configuration) / BASELINE_FILE
    return json.loads(path.read_text()) if path.exists() else None


def workload_state(api: client.ApiClient, namespaces: list[str]) -> dict[str, dict[str, int]]:
    """``{"Deployment ns/name": {"replicas", "available"}}`` for every Deployment and StatefulSet of ``namespaces``."""
    state = {}
    for kind, namespace, obj in namespaced_objects(DynamicClient(api), WORKLOAD_KINDS, namespaces):
        status = obj.get("status") or {}
        available = status.get("availableReplicas") if kind == "Deployment" else status.get("readyReplicas")
        state[f"{kind} {namespace}/{obj['metadata']['name']}"] = {"replicas": int(obj["spec"].get("replicas") or 0),
                                                                 "available": int(available or 0)}
    return state


def unhealthy_nodes(api: client.ApiClient) -> list[str]:
    """Why each unhealthy node is unhealthy: not Ready, or a pressure condition (``MemoryPressure``,
    ``DiskPressure``, ``PIDPressure``) True — which the kubelet keeps for its pressure-transition
    period after the cause is gone. Nodes this identity may not list are not judged."""
    try:
        nodes = client.CoreV1Api(api).list_node().items
    except client.ApiException as exc:
        if exc.status == 403:
            return []
        raise
    problems = []
    for node in nodes:
        conditions = {c.type: c.status for c in node.status.conditions or []}
        if conditions.get("Ready") != "True":
            problems.append(f"node {node.metadata.name} is not Ready")
        problems += [f"node {node.metadata.name} has {kind}" for kind, status in sorted(conditions.items())
                     if kind.endswith("Pressure") and status == "True"]
    return problems


def unhealthy_workloads(state: dict[str, dict[str, int]], baseline: dict[str, dict[str, int]] | None) -> list[str]:
    """Why each unhealthy workload is unhealthy: missing, fewer replicas than the baseline, or not all available."""
    problems = [f"{key} is missing" for key in sorted(set(baseline or {}) - set(state))]
    for key, now in sorted(state.items()):
        wanted = max(now["replicas"], (baseline or {}).get(key, {}).get("replicas", 0))
        if now["replicas"] < wanted:
            problems.append(f"{key} has {now['replicas']} replicas, the baseline had {wanted}")
        elif now["available"] < wanted:
            problems.append(f"{key} has {now['available']}/{wanted} available")
    return problems


def workloads_healthy(probe: str = "demo-app", timeout_s: float | str = 0.0, configuration: Configuration = None,
                      secrets: Secrets = None) -> bool:
    """Whether every Deployment and StatefulSet of the probe's namespaces is available at its baseline replicas.

    ``probe`` names an entry of ``probes/workloads.yaml``; polls for up to ``timeout_s`` seconds.
    A workload of the baseline that no longer exists, or runs fewer replicas than the baseline
    had (scaled down), is unhealthy whatever its pods say.
    """
    namespaces = list(catalog_entry("workloads", probe, configuration)["namespaces"])
    baseline = (read_baseline(configuration) or {}).get("workloads")
    target = connect(configuration, run_dir(configuration))
    with target.api_client() as api:
        return poll(lambda: not unhealthy_workloads(workload_state(api, namespaces), baseline), timeout_s)


def values_at(obj: Any, path: list[Any]) -> list[Any]:
    """The values at ``path`` of ``obj``: steps are map keys, list indexes, ``{key: value}`` list
    selectors (the items with those fields) and ``"*"`` (every item of a list); absent → none."""
    values = [obj]
    for step in path:
        found: list[Any] = []
        for value in values:
            if step == "*" and isinstance(value, list):
                found.extend(value)
            elif isinstance(step, dict) and isinstance(value, list):
                found.extend(item for item in value if isinstance(item, dict)
                             and all(item.get(k) == v for k, v in step.items()))
            elif isinstance(step, int) and not isinstance(step, bool) and isinstance(value, list):
                found.extend(value[step:step + 1] if step >= 0 else value[step:][:1])
            elif isinstance(step, str) and isinstance(value, dict) and step in value:
                found.append(value[step])
        values = [v for v in found if v is not None]
    return values


def expectation_met(value: Any, expect: dict[str, Any]) -> bool:
    """Whether ``value`` meets one ``expect`` entry (``equals``, ``one_of``, ``above`` or ``below`` a
    quantity, or ``matches``: a regular expression found in the value's text, multi-line).

    (``none_of`` is judged on all the values at a path at once: none of them may be listed.)
    """
    if value is None:
        return False
    if "equals" in expect:
        return value == expect["equals"]
    if "one_of" in expect:
        return value in expect["one_of"]
    if "above" in expect:
        return parse_quantity(str(value)) > parse_quantity(str(expect["above"]))
    if "below" in expect:
        return parse_quantity(str(value)) < parse_quantity(str(expect["below"]))
    if "matches" in expect:
        return re.search(expect["matches"], str(value), re.MULTILINE) is not None
    raise ActivityFailed(f"expectation {expect!r} needs one of equals, one_of, above, below or matches")


def failed_root_cause_checks(fault: str, configuration: Configuration | None = None,
                             target: Target | None = None) -> list[str]:
    """What still shows the root cause of ``fault`` (empty when every check of ``probes/root-cause.yaml`` passes)."""
    checks = catalog_entry("root-cause", fault, configuration)
    target = target or connect(configuration, run_dir(configuration))
    failures = []
    with target.api_client() as api:
        dynamic = DynamicClient(api)
        for check in checks:
            if "promql" in check:
                series = query(target.prometheus_url, check["promql"])
                if not series or not all(within(value, check) for _, value in series):
                    failures.append(f"{check['promql']!r} = {[value for _, value in series]}")
                continue
            ref = check["object"]
            resource = dynamic.resources.get(api_version=ref["apiVersion"], kind=ref["kind"])
            try:
                obj = resource.get(name=ref["name"], namespace=ref.get("namespace")).to_dict()
            except NotFoundError:
                failures.append(f"{ref['kind']} {ref.get('namespace')}/{ref['name']} does not exist")
                continue
            for expect in check.get("expect") or []:
                if not path_expectation_met(obj, expect):
                    failures.append(f"{ref['kind']} {ref.get('namespace')}/{ref['name']} {_shown(obj, expect)}")
    return failures


def path_expectation_met(obj: Any, expect: dict[str, Any]) -> bool:
    """Whether ``obj`` meets one ``expect`` entry: some value at its ``path`` meets it (``none_of``: no
    value at the path is listed), or, for ``any_of``, at least one of the entries it lists is met."""
    if "any_of" in expect:
        return any(path_expectation_met(obj, alternative) for alternative in expect["any_of"])
    values = values_at(obj, expect["path"])
    if "none_of" in expect:
        return not any(value in expect["none_of"] for value in values)
    return any(expectation_met(value, expect) for value in values)


def _shown(obj: Any, expect: dict[str, Any]) -> str:
    """The values an unmet expectation saw, as ``path = values`` (each alternative of an ``any_of``)."""
    if "any_of" in expect:
        return " and ".join(_shown(obj, alternative) for alternative in expect["any_of"])
    return f"{expect['path']} = {values_at(obj, expect['path'])!r}"


def root_cause_gone(fault: str, timeout_s: float | str = 0.0, configuration: Configuration = None,
                    secrets: Secrets = None) -> bool:
    """Whether the root cause of catalog fault ``fault`` is gone (``probes/root-cause.yaml``), not merely hidden.

    Every check must pass: PromQL on the dependent workloads' state and the fields of the
    object the fault changed. Polls for up to ``timeout_s`` seconds.
    """
    target = connect(configuration, run_dir(configuration))
    return poll(lambda: not failed_root_cause_checks(fault, configuration, target), timeout_s)
