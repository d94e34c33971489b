"""Experiments from the fault catalog: one plain Chaos Toolkit experiment per fault.

Every file of ``experiments/`` is what :func:`render` makes of the fault of the same name, so an
SRE team that adds a fault to ``actions/`` gets its experiment with
``chaositbench experiment new <fault>`` (and a test keeps the two in step). The experiment
declares the scoring control, the demo app's steady state (workloads and edge SLOs), the method
(inject the fault, wait for its symptom, hand over to the agent) and the exact rollback.
"""

from __future__ import annotations

from typing import Any

from .catalog import Fault
from .probes import AUTO_SLO_WINDOW, QUIET_WINDOW

#: the experiment's configuration: each key read from its environment variable, with a default
CONFIGURATION: dict[str, tuple[str, str]] = {
    "chaositbench_cluster": ("CHAOSITBENCH_CLUSTER", "sim"),
    "chaositbench_sim_time_scale": ("CHAOSITBENCH_SIM_TIME_SCALE", "1.0"),
    "chaositbench_agent": ("CHAOSITBENCH_AGENT", "reference"),
    "chaositbench_settle_s": ("CHAOSITBENCH_SETTLE_S", "60"),
    "chaositbench_slo_window": ("CHAOSITBENCH_SLO_WINDOW", AUTO_SLO_WINDOW),
    "chaositbench_quiet_window": ("CHAOSITBENCH_QUIET_WINDOW", QUIET_WINDOW),
}
#: the steady state: (probe name, function of chaositbench.probes, catalog entry)
STEADY_STATE = (("workloads-healthy", "workloads_healthy", "demo-app"),
                ("edge-success-rate", "slo_holds", "edge-success-rate"),
                ("edge-latency-p95", "slo_holds", "edge-latency-p95"))
SYMPTOM_TIMEOUT_S = 120


def _python(module: str, func: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
    provider: dict[str, Any] = {"type": "python", "module": module, "func": func}
    if arguments is not None:
        provider["arguments"] = arguments
    return provider


def fault_of(experiment: dict[str, Any]) -> str | None:
    """The fault an experiment injects: the ``fault`` argument of the first ``inject_fault`` of its method."""
    for activity in experiment.get("method") or []:
        provider = activity.get("provider") or {}
        if provider.get("func") == "inject_fault":
            return (provider.get("arguments") or {}).get("fault")
    return None


def render(fault: Fault) -> dict[str, Any]:
    """The Chaos Toolkit experiment of ``fault`` (a JSON-ready mapping)."""
    return {
        "version": "1.0.0",
        "title": f"chaositbench {fault.id}: {fault.headline}",
        "description": f"{fault.title}. The agent gets the user's complaint and must "
                       + ("find out that nothing is broken and change nothing" if fault.no_fault else
                          "find the root cause, fix it without collateral damage")
                       + f" and submit a diagnosis within the SLA ({fault.sla_seconds} s).",
        "tags": ["chaositbench", "kubernetes", f"family:{fault.family}", f"difficulty:{fault.difficulty}"],
        "configuration": {key: {"type": "env", "key": env, "default": default}
                          for key, (env, default) in CONFIGURATION.items()},
        "controls": [{"name": "chaositbench", "provider": {"type": "python", "module": "chaositbench.control"}}],
        "steady-state-hypothesis": {
            "title": "The shop's workloads are all available and its edge meets its SLOs",
            "probes": [{"type": "probe", "name": name, "tolerance": True,
                        "provider": _python("chaositbench.probes", func,
                                            {"probe": entry, "timeout_s": "${chaositbench_settle_s}"})}
                       for name, func, entry in STEADY_STATE],
        },
        "method": [
            {"type": "action", "name": f"inject-{fault.id}",
             "provider": _python("chaositbench.actions", "inject_fault", {"fault": fault.id})},
            {"type": "probe", "name": "symptom-visible", "tolerance": True,
             "provider": _python("chaositbench.fault_probes", "fault_symptom_visible",
                                 {"fault": fault.id, "timeout_s": SYMPTOM_TIMEOUT_S})},
            {"type": "action", "name": "hand-over-to-agent",
             "provider": _python("chaositbench.agent.actions", "hand_over")},
        ],
        "rollbacks": [{"type": "action", "name": "restore-cluster",
                       "provider": _python("chaositbench.actions", "restore_cluster")}],
        "runtime": {"rollbacks": {"strategy": "always"}},
    }
