"""The scoring control, declared in every experiment::

    "controls": [{"name": "chaositbench", "provider": {"type": "python", "module": "chaositbench.control"}}]

- before the experiment: connect the target (the embedded simulated cluster by default),
  wait until the app is healthy and take the baseline snapshot (``<run dir>/baseline.json``);
- before the hand-over: a snapshot of what the fault already broke (so that only what broke
  afterwards counts against the agent);
- before the rollbacks: the end snapshot and the root-cause check (the rollbacks will undo the
  fault, so they must be taken first); Ctrl-C while the check waits for the cause to clear stops
  the wait, and the rollbacks follow;
- after the experiment: the score (``chaositbench.scoring``) written to
  ``chaositbench-score.json`` (``CHAOSITBENCH_SCORE_PATH``), into the journal's ``extensions``
  as ``chaositbench``, and printed; a run whose first steady state failed, or that was
  interrupted, is reported invalid instead. Then, when the journal shows no successful
  ``restore_cluster`` rollback (Chaos Toolkit skips the remaining rollbacks on a Ctrl-C during
  them, and all of them on SIGUSR2), the cluster is restored here, with further Ctrl-Cs deferred
  until it is done. The embedded cluster is released last.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from chaoslib.exceptions import ActivityFailed, InterruptExecution
from chaoslib.types import Configuration, Experiment, Journal, Secrets

from . import target as targets
from .agent.controller import agent_argv, choose_agent
from .blast_radius import (SERVICE_SLO, app_namespaces, blast_radius, fault_nodes, fault_scope, injected_objects,
                           snapshot)
from .catalog import load_fault
from .experiment import fault_of
from .faults import read_record, restore, run_dir
from .probes import (BASELINE_FILE, catalog_entry, failed_root_cause_checks, poll, query, quiet_window, settle_seconds,
                     slo_values, slo_window, slo_window_seconds, unhealthy_nodes, unhealthy_workloads, within,
                     workload_state)
from .scoring import Command, RunFacts, score

__all__ = ["before_experiment_control", "before_activity_control", "after_activity_control", "before_rollback_control",
           "after_experiment_control"]

logger = logging.getLogger("chaostoolkit")

SCORE_FILE = "chaositbench-score.json"
SCORE_PATH_ENV = "CHAOSITBENCH_SCORE_PATH"
EXTENSION = "chaositbench"
DEFAULT_READY_TIMEOUT_S = 120.0
#: the SLOs a baseline waits for: every service's success rate and the edge's latency
BASELINE_SLOS = (SERVICE_SLO, "edge-latency-p95")

_run: dict[str, Any] = {}


def wait_healthy(target: targets.Target, namespaces: list[str], configuration: Configuration | None) -> list[str]:
    """Wait until every node is Ready without pressure, every workload of ``namespaces`` is available and
    every service meets its success-rate SLO, and the edge its latency SLO, over the SLO window and over
    the quiet window (:func:`~.probes.quiet_window`; a cluster reused after a run may still be recovering
    from it, and its errors would still show in the windows agents and alert rules use).

    Returns what is still unhealthy at the time-out (configuration ``chaositbench_ready_timeout_s``).
    """
    timeout = float((configuration or {}).get("chaositbench_ready_timeout_s") or DEFAULT_READY_TIMEOUT_S)
    problems: list[str] = []
    with target.api_client() as api:
        def healthy() -> bool:
            problems[:] = unhealthy_nodes(api) + unhealthy_workloads(workload_state(api, namespaces), None)
            if not problems and target.prometheus_url:
                problems[:] = _slo_problems(target, configuration)
            return not problems
        poll(healthy, timeout)
    return problems


def _slo_problems(target: targets.Target, configuration: Configuration | None) -> list[str]:
    """The services out of their SLOs over the SLO window or the quiet window."""
    problems = []
    for window in dict.fromkeys((slo_window(configuration), quiet_window(configuration))):
        windowed = {**(configuration or {}), "chaositbench_slo_window": window}
        for probe in BASELINE_SLOS:
            bounds = catalog_entry("slo", probe, configuration)
            values = slo_values(probe, windowed, target)
            if not values:
                return [f"no traffic in Prometheus yet ({probe})"]
            problems += [f"{service or probe} at {value:.3g} over {window}" for service, value in values.items()
                         if not within(value, bounds)]
    return problems


def before_experiment_control(context: Experiment, configuration: Configuration = None,
                              secrets: Secrets = None, **kwargs: Any) -> None:
    """Connect the target, wait for the app to be healthy and take the baseline snapshot.

    Raises InterruptExecution (the run stops, rollbacks still run, the run is reported invalid)
    when the experiment injects no known catalog fault or the cluster cannot be reached.
    """
    _run.clear()
    _run["started"] = time.monotonic()
    fault = fault_of(context)
    directory = run_dir(configuration)
    _run.update(fault=fault, run_dir=directory)
    try:
        if fault is None:
            raise ActivityFailed("the experiment's method injects no catalog fault (no inject_fault action)")
        # an unknown fault or agent stops the run before any cluster is started
        _run["no_fault"] = load_fault(fault, configuration).no_fault
        agent_argv(choose_agent(None, configuration))
        slo_window(configuration)  # so is a malformed setting
        quiet_window(configuration)
        settle_seconds(configuration)
        target = targets.connect(configuration, directory)
        _run["target"] = target  # released after the experiment whatever happens next
        if target.prometheus_url:
            query(target.prometheus_url, "up")  # unreachable: a clear invalid run, not failing probes
    except ActivityFailed as exc:
        _run["invalid"] = str(exc)
        raise InterruptExecution(f"chaositbench: {exc}") from exc
    namespaces = app_namespaces(configuration)
    _run["namespaces"] = namespaces
    problems = wait_healthy(target, namespaces, configuration)
    if problems:
        logger.warning("chaositbench: the app is not healthy before the fault: %s", "; ".join(problems))
    baseline = snapshot(target, namespaces, configuration)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / BASELINE_FILE).write_text(json.dumps(baseline, indent=2))
    _run["baseline"] = baseline
    logger.info("chaositbench: baseline taken on %s cluster (%d objects, %d workloads)", target.kind,
                len(baseline["objects"]), len(baseline["workloads"]))


#: how long the hand-over waits for the root-cause check to see the injected fault
FAULT_VISIBLE_TIMEOUT_S = 30.0


def before_activity_control(context: dict[str, Any], configuration: Configuration = None,
                            secrets: Secrets = None, **kwargs: Any) -> None:
    """Before the injection: note its time. Before the hand-over: wait until the root-cause check itself
    sees the fault (Prometheus may lag the API by a scrape) and one SLO window has passed since the
    injection (so the hand-over's SLO values already hold what the fault broke, and only what breaks
    afterwards counts against the agent), then snapshot what the fault has broken so far. A no-fault
    scenario has no root cause to see: its checks state that the app is healthy, and nothing is awaited."""
    func = (context.get("provider") or {}).get("func")
    if func == "inject_fault":
        _run["injected"] = time.monotonic()
    if func == "hand_over" and "target" in _run:
        if _run.get("no_fault"):
            _run["handover"] = snapshot(_run["target"], _run["namespaces"], configuration)
            return

        def seen() -> bool:
            try:
                return bool(failed_root_cause_checks(_run["fault"], configuration, _run["target"]))
            except ActivityFailed:
                return False
        if not poll(seen, FAULT_VISIBLE_TIMEOUT_S if _run.get("fault") else 0.0):
            logger.warning("chaositbench: the root-cause check does not see fault %s before the hand-over",
                           _run["fault"])
        if "injected" in _run:
            time.sleep(max(0.0, _run["injected"] + slo_window_seconds(configuration) - time.monotonic()))
        _run["handover"] = snapshot(_run["target"], _run["namespaces"], configuration)


def after_activity_control(context: dict[str, Any], state: dict[str, Any] | None = None,
                           configuration: Configuration = None, secrets: Secrets = None, **kwargs: Any) -> None:
    """After the hand-over: note whether it finished (the agent submitted, gave up or ran out of time).
    After an activity that did not finish (Chaos Toolkit hands no run over when Ctrl-C, SIGTERM or
    SIGUSR1/2 interrupted it) before the end snapshot: note that the run was interrupted."""
    if (context.get("provider") or {}).get("func") == "hand_over":
        _run["handed_over"] = (state or {}).get("status") == "succeeded"
    if state is None and "end" not in _run:
        _run.setdefault("interrupted", f"the run was interrupted during activity {context.get('name')!r}")


def before_rollback_control(context: Experiment, configuration: Configuration = None,
                            secrets: Secrets = None, **kwargs: Any) -> None:
    """Before the rollbacks undo the fault: the root-cause check, then the end snapshot.

    The check is polled for up to configuration ``chaositbench_settle_s`` seconds once the hand-over
    finished, and checked once when the run was interrupted, so that the rollback is not held up.
    Ctrl-C (or SIGTERM) during that poll stops it: the run is noted interrupted (reported invalid) and
    the end snapshot and the rollbacks follow at once.
    """
    if "baseline" not in _run or "handover" not in _run:
        return
    settle = settle_seconds(configuration) if _run.get("handed_over") and "interrupted" not in _run else 0.0
    failures: list[str] = []

    def gone() -> bool:  # some causes take a while to clear once fixed (a disk, a rate window)
        try:
            failures[:] = failed_root_cause_checks(_run["fault"], configuration, _run["target"])
        except ActivityFailed as exc:
            failures[:] = [str(exc)]
        return not failures
    try:
        if settle:
            logger.info("chaositbench: waiting up to %.0f s for the root cause to clear (Ctrl-C stops waiting "
                        "and rolls back)", settle)
        poll(gone, settle)
    except (KeyboardInterrupt, InterruptExecution):
        logger.warning("chaositbench: interrupted while waiting for the root cause to clear; rolling back now")
        _run["interrupted"] = "the run was interrupted while the root-cause check waited for the cause to clear"
    _run["root_cause_failures"] = failures
    _run["end"] = snapshot(_run["target"], _run["namespaces"], configuration)


def _hand_over_result(journal: Journal) -> dict[str, Any] | None:
    for run in journal.get("run") or []:
        if (run.get("activity", {}).get("provider") or {}).get("func") == "hand_over":
            return run.get("output") if run.get("status") == "succeeded" else None
    return None


#: the exception class names Chaos Toolkit writes before an activity's error message in the journal
_EXCEPTION_PREFIX = re.compile(r"^(?:(?:\w+\.)*\w*(?:Error|Exception|Failed|Interrupt\w*): )+")


def _hand_over_error(journal: Journal) -> str:
    for run in journal.get("run") or []:
        if run.get("status") != "succeeded":
            message = _EXCEPTION_PREFIX.sub("", ((run.get("exception") or [""])[-1]).strip())
            return f"activity {run['activity'].get('name')!r} failed: {message}"
    return "the method did not reach the hand-over"


def _commands(path: str) -> list[Command]:
    records = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    return [Command(verb=str(r.get("verb") or ""), mutating=bool(r.get("mutating")),
                    destructive=bool(r.get("destructive"))) for r in records]


def _invalid_reason(journal: Journal) -> str | None:
    if "invalid" in _run:
        return _run["invalid"]
    before = (journal.get("steady_states") or {}).get("before")
    if before is not None and not before.get("steady_state_met"):
        failed = [p["activity"]["name"] for p in before.get("probes") or [] if not p.get("tolerance_met")]
        return f"the steady state did not hold before the fault ({', '.join(failed)}): the method was skipped"
    if "baseline" not in _run:
        return "no baseline was taken"
    if "interrupted" in _run:
        return _run["interrupted"]
    if _hand_over_result(journal) is None:
        return _hand_over_error(journal)
    if "end" not in _run:
        return "no end snapshot was taken (the rollbacks did not run)"
    return None


def result(journal: Journal, configuration: Configuration | None) -> dict[str, Any]:
    """The score object of DESIGN §3 (``valid`` false with a ``reason`` when the run cannot be scored)."""
    fault = _run.get("fault")
    scenario = (configuration or {}).get("chaositbench_scenario") or fault
    target = _run.get("target")
    reason = _invalid_reason(journal)
    hand_over = _hand_over_result(journal) or {}
    common = {"scenario": scenario, "agent": hand_over.get("agent") or os.environ.get("CHAOSITBENCH_AGENT")
              or (configuration or {}).get("chaositbench_agent") or "reference",
              "cluster": target.kind if target else None}
    if reason is not None:
        return {**common, "valid": False, "reason": reason}
    injection = next((i for i in read_record(_run["run_dir"])["injections"] if i["fault"] == fault), None)
    commands = _commands(hand_over["trajectory"])
    collateral, intact, changed = blast_radius(_run["baseline"], _run["handover"], _run["end"],
                                               fault_scope(injection), catalog_entry("slo", SERVICE_SLO, configuration),
                                               agent_acted=any(c.mutating for c in commands),
                                               distractors=frozenset(injected_objects(injection, distractors=True)),
                                               fault_nodes=fault_nodes(injection))
    after = (journal.get("steady_states") or {}).get("after") or {}
    facts = RunFacts(ground_truth=(injection or {}).get("ground_truth") or {}, diagnosis=hand_over.get("diagnosis"),
                     steady_state_ok=bool(after.get("steady_state_met")),
                     root_cause_gone=not _run["root_cause_failures"], workloads_intact=intact,
                     collateral=collateral, commands=commands, time_to_resolve_s=hand_over.get("elapsed_s"),
                     sla_s=float(hand_over.get("sla_s") or 600.0),
                     changed_anything=changed or any(c.mutating for c in commands))
    scored = score(facts)
    return {**common, "valid": True, "resolved": scored.resolved, "score": scored.score,
            "criteria": scored.criteria, "diagnosis": scored.diagnosis, "blast_radius": scored.blast_radius,
            "time_to_resolve_s": hand_over.get("elapsed_s") if scored.resolved else None,
            "sla_s": facts.sla_s, "commands": len(commands), "trajectory": hand_over["trajectory"],
            "tool_use": scored.tool_use, "root_cause": {"gone": facts.root_cause_gone,
                                                        "still_showing": _run["root_cause_failures"]},
            "outcome": hand_over.get("outcome"), "usage": hand_over.get("usage")}


def summary(scored: dict[str, Any]) -> str:
    """A few readable lines about the run."""
    head = f"chaositbench: scenario {scored['scenario']} · agent {scored['agent']} · cluster {scored['cluster'] or 'not connected'}"
    if not scored["valid"]:
        return f"{head}\n  INVALID RUN (not scored): {scored['reason']}"
    criteria = ", ".join(f"{name} {value:.2f}" for name, value in scored["criteria"].items())
    lines = [head, f"  {'RESOLVED' if scored['resolved'] else 'NOT RESOLVED'} · score {scored['score']}/100 "
                   f"({scored['outcome']}, {scored['commands']} commands)", f"  criteria: {criteria}"]
    submitted = (scored["diagnosis"].get("submitted") or {}).get("root_cause")
    lines.append(f"  diagnosis: {'correct' if scored['diagnosis']['correct'] else 'not correct'} "
                 f"(submitted {json.dumps(submitted)})")
    for item in scored["blast_radius"]["collateral"]:
        lines.append(f"  collateral: {item['type']} {item['subject']} {item['detail']}".rstrip())
    for failure in scored["root_cause"]["still_showing"]:
        lines.append(f"  root cause still showing: {failure}")
    return "\n".join(lines)


def _restored(journal: Journal) -> bool:
    """Whether a ``restore_cluster`` rollback of this run succeeded."""
    return any((run.get("activity", {}).get("provider") or {}).get("func") == "restore_cluster"
               and run.get("status") == "succeeded" for run in journal.get("rollbacks") or [])


@contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Ctrl-C is noted, not raised, inside the block (a restore must not stop halfway); main thread only."""
    received: list[int] = []
    try:
        previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    except ValueError:  # not the main thread: signals are delivered to the main thread anyway
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            logger.warning("chaositbench: Ctrl-C received while restoring the cluster; the restore finished first")


def restore_if_not_rolled_back(journal: Journal, configuration: Configuration | None) -> None:
    """Restore the cluster unless a ``restore_cluster`` rollback already did; failures are logged."""
    if "target" not in _run or _restored(journal) or not read_record(_run["run_dir"])["injections"]:
        return
    logger.warning("chaositbench: the restore-cluster rollback did not complete: restoring the cluster now")
    try:
        with _sigint_deferred():
            done = restore(configuration)
        logger.info("chaositbench: cluster restored (faults removed: %s; objects restored: %s; deleted: %s)",
                    ", ".join(done["faults_removed"]) or "none", ", ".join(done["restored"]) or "none",
                    ", ".join(done["deleted"]) or "none")
    except Exception:  # never leave silently: the run record keeps what remains to undo
        logger.exception("chaositbench: restoring the cluster failed; the run record %s keeps what remains to "
                         "undo (chaositbench.actions.restore_cluster with CHAOSITBENCH_RUN_DIR set to it)",
                         _run.get("run_dir"))


def after_experiment_control(context: Experiment, state: Journal, configuration: Configuration = None,
                             secrets: Secrets = None, **kwargs: Any) -> None:
    """Score the run (or report it invalid), write the score file and journal extension, restore the cluster
    if the rollbacks did not, release the cluster. A run interrupted while the control waited (which
    Chaos Toolkit did not see) gets the journal status ``interrupted`` too."""
    if "interrupted" in _run:
        state["status"] = "interrupted"
    try:
        try:
            scored = result(state, configuration)
        except Exception as exc:  # Chaos Toolkit would swallow it silently: report the run invalid instead
            logger.exception("chaositbench: scoring failed")
            scored = {"scenario": _run.get("fault"), "agent": None, "cluster": None, "valid": False,
                      "reason": f"scoring failed: {type(exc).__name__}: {exc}"}
        path = Path(os.environ.get(SCORE_PATH_ENV) or SCORE_FILE)
        path.write_text(json.dumps(scored, indent=2) + "\n")
        state.setdefault("extensions", []).append({"name": EXTENSION, **scored})
        print(f"{summary(scored)}\n  score file: {path.resolve()}", flush=True)
    finally:
        try:
            restore_if_not_rolled_back(state, configuration)
        finally:
            target = _run.get("target")
            if target is not None:
                targets.release(target)
            _run.clear()
