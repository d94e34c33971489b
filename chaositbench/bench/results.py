"""The aggregates of a bench (DESIGN §3): per agent, resolution rate, mean score, criteria, pass^k.

Invalid runs (a baseline that was not healthy, a run that crashed or timed out) are counted but
never scored: they are left out of every rate and mean. ``pass^k`` is the chance that ``k``
independent runs of the same scenario all resolve it, estimated per scenario from ``c`` resolved
runs out of ``n`` valid ones as C(c, k) / C(n, k) and averaged over the scenarios with at least
``k`` valid runs.
"""

from __future__ import annotations

from collections import defaultdict
from math import comb
from statistics import fmean
from typing import Any

CRITERIA = ("diagnosis", "blast_radius", "resolution", "tool_use", "time_efficiency")


def pass_hat_k(outcomes: dict[str, list[bool]], k: int) -> float | None:
    """Mean over scenarios of C(c, k) / C(n, k); None when no scenario has ``k`` valid runs."""
    estimates = [comb(sum(runs), k) / comb(len(runs), k) for runs in outcomes.values() if len(runs) >= k]
    return round(fmean(estimates), 4) if estimates else None


def _mean(values: list[float]) -> float | None:
    return round(fmean(values), 4) if values else None


def agent_summary(agent: str, runs: list[dict[str, Any]], repeat: int) -> dict[str, Any]:
    """One agent's line of ``results.json``."""
    valid = [r for r in runs if r.get("valid")]
    outcomes: dict[str, list[bool]] = defaultdict(list)
    for run in valid:
        outcomes[run["scenario"]].append(bool(run.get("resolved")))
    resolved = sum(bool(r.get("resolved")) for r in valid)
    return {
        "agent": agent,
        "runs": len(runs),
        "valid_runs": len(valid),
        "invalid_runs": len(runs) - len(valid),
        "resolved_runs": resolved,
        "resolution_rate": round(resolved / len(valid), 4) if valid else None,
        "mean_score": _mean([float(r["score"]) for r in valid]),
        "criteria": {c: _mean([float(r["criteria"][c]) for r in valid if c in (r.get("criteria") or {})])
                     for c in CRITERIA},
        "pass_k": {str(k): pass_hat_k(outcomes, k) for k in range(1, repeat + 1)},
        "mean_wall_time_s": _mean([float(r["wall_time_s"]) for r in runs if r.get("wall_time_s")]),
    }


def aggregate(agents: list[str], runs: list[dict[str, Any]], repeat: int) -> dict[str, Any]:
    """The whole ``results.json``: ``{"agents": [...], "runs": [...]}`` (agents in the order given)."""
    return {"agents": [agent_summary(a, [r for r in runs if r["agent"] == a], repeat) for a in agents],
            "runs": runs}


def scenario_matrix(results: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """scenario → agent → {resolved, valid, mean_score}, for the per-scenario view of the report."""
    matrix: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    cells: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for run in results["runs"]:
        cells[(run["scenario"], run["agent"])].append(run)
    for (scenario, agent), runs in sorted(cells.items()):
        valid = [r for r in runs if r.get("valid")]
        matrix[scenario][agent] = {"runs": len(runs), "valid": len(valid),
                                   "resolved": sum(bool(r.get("resolved")) for r in valid),
                                   "mean_score": _mean([float(r["score"]) for r in valid])}
    return dict(matrix)
