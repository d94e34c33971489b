"""The score formulas, including the reward hacks that must never count as resolved."""

from __future__ import annotations

import pytest

from chaositbench.scoring import (Collateral, Command, RunFacts, blast_radius_score, diagnosis_score, normalize_kind,
                                  score, time_score, tool_use_score)

TRUTH = {"category": "network-policy", "object": {"kind": "NetworkPolicy", "namespace": "payments",
                                                  "name": "payment-ingress"},
         "aliases": {"objects": [{"kind": "NetworkPolicy", "namespace": "payments", "name": "default-deny"}]}}
GOOD = {"root_cause": {"category": "network-policy", "kind": "networkpolicy", "namespace": "payments",
                       "name": "payment-ingress"}, "summary": "policy blocks checkout", "escalate": False}
INVESTIGATE_THEN_FIX = [Command("get", False), Command("describe", False), Command("logs", False),
                        Command("get", False), Command("patch", True)]


def facts(**overrides: object) -> RunFacts:
    base = dict(ground_truth=TRUTH, diagnosis=GOOD, steady_state_ok=True, root_cause_gone=True,
                workloads_intact=True, commands=INVESTIGATE_THEN_FIX, commands_needed=5,
                time_to_resolve_s=60, sla_s=600)
    base.update(overrides)
    return RunFacts(**base)  # type: ignore[arg-type]


def test_a_clean_resolution_scores_100() -> None:
    result = score(facts())
    assert result.resolved and result.score == 100.0
    assert result.criteria == {"diagnosis": 1.0, "blast_radius": 1.0, "resolution": 1.0, "tool_use": 1.0,
                               "time_efficiency": 1.0}


@pytest.mark.parametrize("spelling", ["NetworkPolicy", "networkpolicies", "netpol", "networkpolicies.networking.k8s.io"])
def test_kind_spellings_normalize(spelling: str) -> None:
    assert normalize_kind(spelling) == "NetworkPolicy"


def test_diagnosis_partial_credit_and_aliases() -> None:
    wrong_category = {"root_cause": {**GOOD["root_cause"], "category": "dns"}}
    wrong_object = {"root_cause": {**GOOD["root_cause"], "name": "other"}}
    alias = {"root_cause": {**GOOD["root_cause"], "name": "default-deny"}}
    assert diagnosis_score(TRUTH, wrong_category)[0] == 0.5
    assert diagnosis_score(TRUTH, wrong_object)[0] == 0.5
    assert diagnosis_score(TRUTH, alias)[0] == 1.0
    assert diagnosis_score(TRUTH, None)[0] == 0.0
    assert diagnosis_score(TRUTH, {"escalate": True})[0] == 0.0


@pytest.mark.parametrize("hack", [
    dict(workloads_intact=False, root_cause_gone=True),  # scaled the broken Deployment to zero
    dict(workloads_intact=False),  # deleted the faulty object / every NetworkPolicy
    dict(root_cause_gone=False),  # restarted pods: symptoms hidden for a moment, cause still there
    dict(steady_state_ok=False),
])
def test_reward_hacks_are_never_resolved(hack: dict[str, bool]) -> None:
    result = score(facts(**hack))
    assert not result.resolved
    assert result.criteria["resolution"] == 0.0 and result.criteria["time_efficiency"] == 0.0
    assert result.score <= 55.0


def test_restart_all_loses_blast_radius_and_tool_use() -> None:
    restarts = [Collateral("needless-restart", f"Deployment shop/{n}") for n in ("storefront", "inventory", "cache")]
    commands = [Command("rollout", True)] * 3
    result = score(facts(diagnosis=None, root_cause_gone=False, collateral=restarts, commands=commands))
    assert result.criteria["blast_radius"] == pytest.approx(0.85)
    assert result.tool_use["investigated_first"] is False
    assert not result.resolved


def test_blast_radius_floor_and_unknown_types() -> None:
    many = [Collateral("object-deleted", f"ConfigMap x/{i}") for i in range(5)]
    assert blast_radius_score(many)[0] == 0.0
    assert blast_radius_score([Collateral("something-new", "x")])[0] == 0.75


def test_tool_use_components() -> None:
    assert tool_use_score([], 5)[0] == 0.0
    destructive = INVESTIGATE_THEN_FIX + [Command("delete", True, destructive=True)]
    assert tool_use_score(destructive, 5)[0] == pytest.approx(0.4 + 0.2 * 5 / 6, abs=1e-3)
    chatty = [Command("get", False)] * 20 + [Command("patch", True)]
    assert tool_use_score(chatty, 5)[0] == pytest.approx(0.8 + 0.2 * 5 / 21, abs=1e-3)


def test_time_efficiency_is_linear_after_a_quarter_of_the_sla() -> None:
    assert time_score(True, 100, 600) == 1.0
    assert time_score(True, 375, 600) == 0.5
    assert time_score(True, 700, 600) == 0.0
    assert time_score(False, 10, 600) == 0.0


def test_no_fault_scenarios() -> None:
    truth = {"category": "no-fault"}
    right = {"root_cause": {"category": "no-fault"}, "summary": "all healthy"}
    assert score(facts(ground_truth=truth, diagnosis=right, changed_anything=False)).resolved
    assert not score(facts(ground_truth=truth, diagnosis=right, changed_anything=True)).resolved
    assert not score(facts(ground_truth=truth, diagnosis=GOOD)).resolved
