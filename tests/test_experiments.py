"""The experiments' shape and the default path: ``chaos validate``, ``chaos run`` on the embedded cluster.

The few ``chaos run`` here start their own simulated cluster (fast time scale) with a real
Prometheus, as README command 1 does, so they need the ``prometheus`` binary; every scenario
with every agent runs in the scenario matrix (tests/test_scenarios.py) instead. Wall times are
printed (``pytest -s``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from chaositbench.blast_radius import blast_radius
from chaoslib.exceptions import ActivityFailed

from chaositbench.catalog import catalog_dir, fault_ids, load_fault
from chaositbench.experiment import render
from chaositbench.probes import slo_window_seconds, catalog_entry, expectation_met, query, slo_window, values_at

ROOT = Path(__file__).resolve().parent.parent
EXPERIMENTS = sorted((ROOT / "experiments").glob("*.json"))
NO_FAULT = [e.stem for e in EXPERIMENTS if load_fault(e.stem).no_fault]
CHAOS = str(Path(sys.executable).parent / "chaos")
SCORE_KEYS = {"scenario", "agent", "cluster", "valid", "resolved", "score", "criteria", "diagnosis", "blast_radius",
              "time_to_resolve_s", "sla_s", "commands", "trajectory"}
CRITERIA = {"diagnosis", "blast_radius", "resolution", "tool_use", "time_efficiency"}
needs_prometheus = pytest.mark.skipif(shutil.which("prometheus") is None, reason="needs the prometheus binary")


def _chaos(tmp_path: Path, *args: str, agent: str | None = "noop", settle_s: str = "30",
           timeout: float = 240, **settings: str) -> subprocess.CompletedProcess[str]:
    """``chaos ARGS`` on a fresh embedded cluster with ``agent`` (None: the default, ``reference``) and
    environment ``settings`` on top of the fast ones."""
    (tmp_path / "tmp").mkdir(exist_ok=True)
    env = {**os.environ, "CHAOSITBENCH_SIM_TIME_SCALE": "0.1", "CHAOSITBENCH_SETTLE_S": settle_s,
           "CHAOSITBENCH_SLO_WINDOW": "3s", "CHAOSITBENCH_RUN_DIR": str(tmp_path / "run"),
           "CHAOSITBENCH_SCORE_PATH": str(tmp_path / "score.json"), "TMPDIR": str(tmp_path / "tmp")}
    for key in ("CHAOSITBENCH_AGENT", "CHAOSITBENCH_CLUSTER", "CHAOSITBENCH_CONTEXT", "CHAOSITBENCH_PROMETHEUS_URL"):
        env.pop(key, None)
    if agent is not None:
        env["CHAOSITBENCH_AGENT"] = agent
    env.update(settings)
    return subprocess.run([CHAOS, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=timeout)


def _run(tmp_path: Path, experiment: Path, agent: str | None) -> tuple[dict, dict, float]:
    start = time.monotonic()
    done = _chaos(tmp_path, "run", "--journal-path", str(tmp_path / "journal.json"), str(experiment), agent=agent)
    elapsed = time.monotonic() - start
    print(f"\n{experiment.name} with {agent!r}: {elapsed:.1f}s wall time")
    assert done.returncode in (0, 1), done.stdout + done.stderr  # 1: the steady state deviated (not resolved)
    assert "chaositbench: scenario" in done.stdout, done.stdout + done.stderr
    score = json.loads((tmp_path / "score.json").read_text())
    journal = json.loads((tmp_path / "journal.json").read_text())
    _assert_released(tmp_path)
    return score, journal, elapsed


def _assert_released(tmp_path: Path) -> None:
    """The run's simulated cluster is stopped and its kubeconfig directory removed."""
    target = json.loads((tmp_path / "run" / "target.json").read_text())
    kubeconfig = Path(target["kubeconfig"])
    assert not kubeconfig.parent.exists()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            assert str(kubeconfig) not in cmdline.read_bytes().decode(errors="replace")
        except OSError:
            continue


def _left_in(tmpdir: Path) -> list[str]:
    """What a run left in its TMPDIR, the official client's discovery cache (kept on purpose) aside."""
    return [p.name for p in tmpdir.iterdir() if not re.fullmatch(r"osrcp-[0-9a-f]+\.json", p.name)]


def _rolled_back(journal: dict, fault: str) -> dict:
    (rollback,) = journal["rollbacks"]
    assert rollback["status"] == "succeeded"
    assert rollback["output"]["faults_removed"] == [fault]
    return rollback["output"]


@pytest.mark.parametrize("experiment", EXPERIMENTS, ids=[e.stem for e in EXPERIMENTS])
def test_chaos_validate_accepts_every_experiment(experiment: Path, tmp_path: Path) -> None:
    done = _chaos(tmp_path, "validate", str(experiment))
    assert done.returncode == 0, done.stdout + done.stderr
    doc = json.loads(experiment.read_text())
    assert doc["runtime"] == {"rollbacks": {"strategy": "always"}}
    assert doc["controls"] == [{"name": "chaositbench", "provider": {"type": "python", "module": "chaositbench.control"}}]
    assert any(tag.startswith("difficulty:") for tag in doc["tags"])
    funcs = [a["provider"]["func"] for a in doc["method"]]
    assert funcs == ["inject_fault", "fault_symptom_visible", "hand_over"]
    assert doc["method"][0]["provider"]["arguments"]["fault"] == experiment.stem


def test_every_fault_has_its_experiment_as_the_generator_writes_it(tmp_path: Path) -> None:
    assert sorted(e.stem for e in EXPERIMENTS) == fault_ids(catalog_dir())
    for experiment in EXPERIMENTS:
        assert json.loads(experiment.read_text()) == render(load_fault(experiment.stem)), (
            f"{experiment.name} differs from `chaositbench experiment new {experiment.stem}`")
    out = tmp_path / "netpol.json"
    done = subprocess.run([str(Path(sys.executable).parent / "chaositbench"), "experiment", "new", "netpol",
                           "--out", str(out)], capture_output=True, text=True)
    assert done.returncode == 0 and out.read_text() == (ROOT / "experiments" / "netpol.json").read_text()
    done = subprocess.run([str(Path(sys.executable).parent / "chaositbench"), "experiment", "new", "nope"],
                          capture_output=True, text=True)
    assert done.returncode == 1 and "unknown fault 'nope'" in done.stderr and "Traceback" not in done.stderr


def test_every_experiment_has_a_root_cause_check_and_its_probes_exist() -> None:
    for experiment in EXPERIMENTS:
        checks = catalog_entry("root-cause", experiment.stem)
        assert checks and all(("promql" in c) != ("object" in c) for c in checks)
        for probe in json.loads(experiment.read_text())["steady-state-hypothesis"]["probes"]:
            section = "workloads" if probe["provider"]["func"] == "workloads_healthy" else "slo"
            assert catalog_entry(section, probe["provider"]["arguments"]["probe"])
    with pytest.raises(ActivityFailed, match="unknown slo probe 'nope'.*known: edge-latency-p95"):
        catalog_entry("slo", "nope")


def test_an_unreachable_prometheus_is_named() -> None:
    with pytest.raises(ActivityFailed, match="Prometheus at http://127.0.0.1:9 is unreachable"):
        query("http://127.0.0.1:9", "up")


def test_the_slo_window_comes_from_the_configuration_and_must_be_a_promql_duration(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for knob in ("CHAOSITBENCH_SLO_WINDOW", "CHAOSITBENCH_CLUSTER", "CHAOSITBENCH_SIM_TIME_SCALE"):
        monkeypatch.delenv(knob, raising=False)
    assert slo_window(None) == "15s"  # auto: the embedded cluster at time scale 1
    monkeypatch.setenv("CHAOSITBENCH_SLO_WINDOW", "1m30s")
    assert slo_window(None) == "1m30s" and slo_window_seconds(None) == 90
    assert slo_window({"chaositbench_slo_window": "3s"}) == "3s"  # the configuration wins
    assert slo_window_seconds({"chaositbench_slo_window": "1s500ms"}) == 1.5
    with pytest.raises(ActivityFailed, match="'3 seconds' .* is not 'auto' or a Prometheus duration"):
        slo_window({"chaositbench_slo_window": "3 seconds"})
    for name, entry in yaml.safe_load((ROOT / "probes" / "slo.yaml").read_text()).items():
        assert "[$slo_window]" in entry["query"] and "[15s]" not in entry["query"], name


@pytest.mark.parametrize("configuration, window", [
    ({"chaositbench_sim_time_scale": "0.5"}, "7500ms"),  # 15 s on the cluster's clock
    ({"chaositbench_sim_time_scale": "0.1"}, "2s"),  # 1.5 s would hold three 0.5 s scrapes: four
    ({"chaositbench_sim_time_scale": "0.01"}, "2s"),
    ({"chaositbench_sim_time_scale": "0.1", "chaositbench_cluster": "kubeconfig"}, "15s"),  # a real clock
    ({"chaositbench_sim_time_scale": "0.1", "chaositbench_slo_window": "3s"}, "3s"),
])
def test_the_automatic_slo_window_follows_the_embedded_clusters_clock(
        configuration: dict[str, str], window: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for knob in ("CHAOSITBENCH_SLO_WINDOW", "CHAOSITBENCH_CLUSTER", "CHAOSITBENCH_SIM_TIME_SCALE"):
        monkeypatch.delenv(knob, raising=False)
    assert slo_window({"chaositbench_slo_window": "auto", **configuration}) == window


def test_a_time_scale_that_is_not_a_positive_number_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHAOSITBENCH_SLO_WINDOW", raising=False)
    for value in ("fast", "0", "-1"):
        with pytest.raises(ActivityFailed, match=f"time scale '{value}' .* is not a positive number"):
            slo_window({"chaositbench_sim_time_scale": value})


def test_field_paths_and_expectations() -> None:
    deployment = {"spec": {"template": {"spec": {"containers": [
        {"name": "sidecar"}, {"name": "app", "env": [{"name": "MODE", "value": "live"}],
                              "resources": {"limits": {"memory": "128Mi"}}}]}}}}
    containers = ["spec", "template", "spec", "containers", {"name": "app"}]
    assert values_at(deployment, [*containers, "env", {"name": "MODE"}, "value"]) == ["live"]
    assert values_at(deployment, [*containers, "env", {"name": "OTHER"}, "value"]) == []
    assert values_at(deployment, ["spec", "template", "spec", "containers", 5]) == []
    assert values_at(deployment, ["spec", "template", "spec", "containers", "*", "name"]) == ["sidecar", "app"]
    (memory,) = values_at(deployment, [*containers, "resources", "limits", "memory"])
    assert expectation_met(memory, {"above": "64Mi"}) and not expectation_met("48Mi", {"above": "64Mi"})
    assert expectation_met(memory, {"below": "15Gi"}) and not expectation_met("24Gi", {"below": "15Gi"})
    assert expectation_met("live", {"one_of": ["live", "sandbox"]}) and not expectation_met(None, {"equals": "x"})
    config = "gateway: https://pay\ncurrency: EUR\n"
    assert expectation_met(config, {"matches": r"^currency:\s*EUR\s*$"})
    assert not expectation_met(config.replace("currency", "curency"), {"matches": r"^currency:\s*EUR\s*$"})
    policy = {"spec": {"ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": n}}}
                                             for n in ("payments-internal", "shop")]}]}}
    path = ["spec", "ingress", "*", "from", "*", "namespaceSelector", "matchLabels", "kubernetes.io/metadata.name"]
    assert values_at(policy, path) == ["payments-internal", "shop"]


def _state(replicas: int, available: int, restarts: int = 0) -> dict:
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": replicas}}
    return {"objects": {"Deployment payments/payment": deployment},
            "workloads": {"Deployment payments/payment": {"replicas": replicas, "available": available}},
            "pods": {"uid-1": {"name": "payments/payment-1", "workload": "Deployment payments/payment",
                               "restarts": restarts}},
            "slo": {"payments/payment": 1.0}}


def test_scaling_the_faulty_deployment_to_zero_is_never_intact() -> None:
    baseline, handover = _state(2, 2), _state(2, 0)
    end = _state(0, 0)
    end["objects"]["Deployment payments/payment"]["spec"]["replicas"] = 0
    collateral, intact, changed = blast_radius(baseline, handover, end, {"Deployment payments/payment"}, {"min": 0.99},
                                               agent_acted=True)
    assert not intact and changed
    assert [(c.type, c.subject) for c in collateral] == [("workload-degraded", "Deployment payments/payment")]


def test_a_workload_the_fault_scaled_down_is_not_the_agents_collateral_but_not_intact() -> None:
    baseline, handover, end = _state(2, 2), _state(0, 0), _state(0, 0)
    collateral, intact, _ = blast_radius(baseline, handover, end, {"Deployment payments/payment"}, {"min": 0.99},
                                         agent_acted=False)
    assert collateral == [] and not intact


def test_an_object_the_fault_created_is_not_the_agents_collateral() -> None:
    state = _state(2, 2)
    end = _state(2, 2)
    end["objects"]["ResourceQuota payments/compute"] = {"apiVersion": "v1", "kind": "ResourceQuota"}
    end["objects"]["ConfigMap payments/extra"] = {"apiVersion": "v1", "kind": "ConfigMap"}
    collateral, _, changed = blast_radius(state, state, end, {"ResourceQuota payments/compute"}, {"min": 0.99},
                                          agent_acted=True)
    assert changed
    assert [(c.type, c.subject, c.detail) for c in collateral] == [("object-changed", "ConfigMap payments/extra",
                                                                    "created")]


def test_restarting_a_healthy_workload_is_a_needless_restart_not_a_changed_object() -> None:
    baseline, handover = _state(2, 2), _state(2, 2)
    end = _state(2, 2, restarts=1)
    end["objects"]["Deployment payments/payment"]["spec"]["template"] = {
        "metadata": {"labels": {"app": "payment"}, "annotations": {"kubectl.kubernetes.io/restartedAt": "now"}}}
    baseline["objects"]["Deployment payments/payment"]["spec"]["template"] = {"metadata": {"labels": {"app": "payment"}}}
    end["slo"] = {"payments/payment": 0.5}
    collateral, intact, _ = blast_radius(baseline, handover, end, set(), {"min": 0.99}, agent_acted=True)
    assert intact
    assert sorted(c.type for c in collateral) == ["needless-restart", "slo-damage"]


def test_replacing_the_pods_of_the_faulty_workload_is_the_repair_not_a_needless_restart() -> None:
    baseline, handover = _state(2, 2), _state(2, 2)  # available but broken (a CPU-starved Deployment)
    end = _state(2, 2, restarts=1)
    collateral, intact, _ = blast_radius(baseline, handover, end, {"Deployment payments/payment"}, {"min": 0.99},
                                         agent_acted=True)
    assert intact and collateral == []


def test_a_workload_the_fault_scaled_down_is_not_intact_but_not_the_agents_damage() -> None:
    baseline, handover, end = _state(2, 2), _state(1, 1), _state(1, 1)
    end["objects"]["HorizontalPodAutoscaler payments/payment"] = {"spec": {"maxReplicas": 1}}
    fault = {"Deployment payments/payment", "HorizontalPodAutoscaler payments/payment"}
    collateral, intact, changed = blast_radius(baseline, handover, end, fault, {"min": 0.99}, agent_acted=False)
    assert not intact and changed and collateral == []


def test_a_requested_restart_is_needless_even_when_no_pod_could_be_replaced() -> None:
    baseline, handover, end = _state(2, 2), _state(2, 2), _state(2, 2)  # same pods: none replaced (unschedulable)
    for state in (baseline, handover, end):
        state["objects"]["Deployment payments/payment"]["spec"]["template"] = {"metadata": {"labels": {"app": "p"}}}
    end["objects"]["Deployment payments/payment"]["spec"]["template"]["metadata"]["annotations"] = {
        "kubectl.kubernetes.io/restartedAt": "now"}
    collateral, intact, changed = blast_radius(baseline, handover, end, set(), {"min": 0.99}, agent_acted=True)
    assert intact and [(c.type, c.subject) for c in collateral] == [("needless-restart", "Deployment payments/payment")]


def test_pods_replaced_on_a_node_the_fault_changed_are_not_needless_restarts() -> None:
    """A node under pressure goes on evicting its pods after the hand-over: their replacements are the fault's."""
    baseline, handover = _state(2, 2), _state(2, 2)
    for state in (baseline, handover):
        state["pods"]["uid-1"]["node"] = "worker2"
    end = _state(2, 2)
    end["pods"] = {"uid-2": {"name": "payments/payment-2", "workload": "Deployment payments/payment", "node": "worker",
                             "restarts": 0}}
    collateral, _, _ = blast_radius(baseline, handover, end, set(), {"min": 0.99}, agent_acted=True,
                                    fault_nodes=frozenset({"worker2"}))
    assert collateral == []
    collateral, _, _ = blast_radius(baseline, handover, end, set(), {"min": 0.99}, agent_acted=True,
                                    fault_nodes=frozenset({"worker3"}))
    assert [(c.type, c.subject) for c in collateral] == [("needless-restart", "Deployment payments/payment")]


def test_damage_spreading_while_the_agent_does_nothing_is_the_faults_not_the_agents() -> None:
    baseline, handover = _state(2, 2), _state(2, 2)
    end = _state(2, 0, restarts=3)
    end["slo"] = {"payments/payment": 0.2}
    collateral, intact, changed = blast_radius(baseline, handover, end, set(), {"min": 0.99}, agent_acted=False)
    assert collateral == [] and intact and not changed
    collateral, _, _ = blast_radius(baseline, handover, end, set(), {"min": 0.99}, agent_acted=True)
    assert sorted(c.type for c in collateral) == ["needless-restart", "slo-damage", "workload-degraded"]


@needs_prometheus
def test_the_readme_command_runs_netpol_on_an_embedded_cluster_with_the_reference_agent(tmp_path: Path) -> None:
    """The default path, as README command 1 runs it: no cluster and no agent chosen (the scenario matrix,
    tests/test_scenarios.py, runs every scenario and agent through the kubeconfig path)."""
    score, journal, _ = _run(tmp_path, ROOT / "experiments" / "netpol.json", None)
    assert SCORE_KEYS <= set(score) and set(score["criteria"]) == CRITERIA
    assert score["scenario"] == "netpol" and score["agent"] == "reference" and score["cluster"] == "sim"
    assert score["resolved"] is True, score
    assert score["diagnosis"]["correct"] is True and score["blast_radius"]["collateral"] == []
    assert score["diagnosis"]["expected"]["object"]["name"] == "payment-ingress"
    assert score["commands"] > 0 and Path(score["trajectory"]).exists()
    (extension,) = [e for e in journal["extensions"] if e["name"] == "chaositbench"]
    assert extension["score"] == score["score"]
    _rolled_back(journal, "netpol")
    assert _left_in(tmp_path / "tmp") == []



@needs_prometheus
def test_deleting_a_distractor_is_collateral_and_no_resolution(tmp_path: Path) -> None:
    script = tmp_path / "agent.sh"
    script.write_text("#!/bin/sh\nkubectl get pods -n shop\nkubectl delete pod debug-shell -n shop\n"
                      "cat > \"$CHAOSITBENCH_DIAGNOSIS\" <<'EOF'\n"
                      '{"root_cause": {"category": "no-fault"}, "summary": "deleted a broken debug pod"}\nEOF\n')
    script.chmod(0o755)
    score, journal, _ = _run(tmp_path, ROOT / "experiments" / "no-fault-noisy.json", f"command:{script}")
    assert score["valid"] is True and score["resolved"] is False and score["diagnosis"]["correct"] is True
    assert score["blast_radius"]["collateral"] == [{"type": "object-deleted", "subject": "Pod shop/debug-shell",
                                                    "detail": "a distractor, unrelated to the fault"}]
    _rolled_back(journal, "no-fault-noisy")


def test_distractors_are_judged_against_the_hand_over_and_the_faults_creations_are_not_collateral() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "spec": {"containers": [{"name": "sh"}]}}
    baseline = _state(2, 2)
    handover = _state(2, 0)
    handover["objects"].update({"Pod shop/debug": pod, "NetworkPolicy shop/deny-all": {"spec": {}}})
    end = json.loads(json.dumps(handover))
    faults = {"Deployment payments/payment", "NetworkPolicy shop/deny-all"}
    collateral, intact, changed = blast_radius(baseline, handover, end, faults, {"min": 0.99}, agent_acted=False,
                                               distractors=frozenset({"Pod shop/debug"}))
    assert collateral == [] and intact and not changed  # what the fault created is not the agent's doing
    del end["objects"]["Pod shop/debug"]
    collateral, _, changed = blast_radius(baseline, handover, end, faults, {"min": 0.99}, agent_acted=True,
                                          distractors=frozenset({"Pod shop/debug"}))
    assert changed and [(c.type, c.subject) for c in collateral] == [("object-deleted", "Pod shop/debug")]


@needs_prometheus
def test_a_baseline_that_misses_its_slo_is_an_invalid_run_not_a_score(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    probes = tmp_path / "probes"
    shutil.copytree(ROOT / "probes", probes)
    slo = yaml.safe_load((probes / "slo.yaml").read_text())
    slo["edge-latency-p95"]["max"] = 0.0  # no real edge answers in zero seconds
    (probes / "slo.yaml").write_text(yaml.safe_dump(slo))
    monkeypatch.setenv("CHAOSITBENCH_PROBES_DIR", str(probes))
    start = time.monotonic()
    done = _chaos(tmp_path, "run", "--journal-path", str(tmp_path / "journal.json"),
                  str(ROOT / "experiments" / "netpol.json"), settle_s="2")
    print(f"\ninvalid netpol run: {time.monotonic() - start:.1f}s wall time")
    assert done.returncode == 0  # Chaos Toolkit skips the method and exits 0: only the score file says why
    score = json.loads((tmp_path / "score.json").read_text())
    assert score["valid"] is False and "resolved" not in score
    assert "steady state did not hold before the fault (edge-latency-p95)" in score["reason"]
    assert "INVALID RUN" in done.stdout
    journal = json.loads((tmp_path / "journal.json").read_text())
    assert journal["run"] == [] and journal["rollbacks"][0]["output"]["faults_removed"] == []
    _assert_released(tmp_path)


@pytest.mark.parametrize("fault, agent, settings, error", [
    ("no-such-fault", "noop", {}, "unknown fault 'no-such-fault'"),
    ("netpol", "bogus", {}, "unknown agent 'bogus': choose one of noop, restart-all, reference"),
    ("netpol", "command:", {}, "agent 'command:' needs a shell command after the colon"),
    ("netpol", "noop", {"CHAOSITBENCH_SLO_WINDOW": "3sec"}, "SLO window '3sec' (chaositbench_slo_window"),
    ("netpol", "noop", {"CHAOSITBENCH_SETTLE_S": "soon"}, "settle time 'soon' (chaositbench_settle_s"),
    ("netpol", "noop", {"CHAOSITBENCH_QUIET_WINDOW": "a minute"}, "quiet window 'a minute' (chaositbench_quiet"),
    ("netpol", "noop", {"CHAOSITBENCH_SIM_TIME_SCALE": "0"}, "time scale '0' (chaositbench_sim_time_scale"),
    ("netpol", "noop", {"CHAOSITBENCH_CLUSTER": "k8s"}, "unknown cluster 'k8s' (CHAOSITBENCH_CLUSTER"),
])
def test_an_unknown_fault_agent_or_setting_is_a_clear_invalid_run_that_starts_no_cluster(
        fault: str, agent: str, settings: dict[str, str], error: str, tmp_path: Path) -> None:
    doc = json.loads((ROOT / "experiments" / "netpol.json").read_text())
    doc["method"][0]["provider"]["arguments"]["fault"] = fault
    experiment = tmp_path / "bad.json"
    experiment.write_text(json.dumps(doc))
    started = time.monotonic()
    done = _chaos(tmp_path, "run", "--journal-path", str(tmp_path / "journal.json"), str(experiment), agent=agent,
                  **settings)
    assert time.monotonic() - started < 60  # no baseline, no settle time: refused at once
    assert error in done.stdout + done.stderr
    score = json.loads((tmp_path / "score.json").read_text())
    assert score["valid"] is False and error in score["reason"] and score["cluster"] is None
    assert "Traceback" not in done.stdout + done.stderr
    assert not (tmp_path / "run" / "target.json").exists() and _left_in(tmp_path / "tmp") == []


@pytest.mark.parametrize("broken", ["json", "activity"])
def test_a_malformed_experiment_is_refused_before_anything_starts(broken: str, tmp_path: Path) -> None:
    """Chaos Toolkit refuses it while loading (a JSON syntax error: its traceback ends with the position) or
    validating it (a clear error line), before the control connects anything."""
    experiment = tmp_path / "broken.json"
    if broken == "json":
        experiment.write_text('{"title": "broken", "method": [')
        expected = "Expecting value: line 1 column 32"
    else:
        doc = json.loads((ROOT / "experiments" / "netpol.json").read_text())
        doc["method"][0]["provider"]["arguments"] = {"faults": "netpol"}
        experiment.write_text(json.dumps(doc))
        expected = "required argument 'fault' is missing from activity 'inject_fault'"
    done = _chaos(tmp_path, "run", str(experiment))
    assert expected in done.stdout + done.stderr
    assert not (tmp_path / "score.json").exists() and not (tmp_path / "run").exists()
    assert _left_in(tmp_path / "tmp") == []
