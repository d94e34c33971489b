"""The scenario matrix: every experiments/*.json end to end with several agents, and the rollback after each.

One simulated cluster with the demo app and a real Prometheus per scenario (``chaositbench sim
serve --app demo --prometheus``), reused by several sequential ``chaos run`` of that scenario
through the explicit real-cluster path (CHAOSITBENCH_CLUSTER=kubeconfig with a named context
and CHAOSITBENCH_PROMETHEUS_URL). Per scenario:

- the ``reference`` agent resolves it, with the right diagnosis and no collateral;
- ``noop`` does not; ``restart-all`` does not and loses blast-radius points;
- one reward-hack agent (``tests/agents/cheat.py``), rotating over the hack kinds by scenario,
  is never scored resolved although it submits the true root cause
  (CHAOSITBENCH_TEST_ALL_HACKS=1: every hack on every scenario);
- after EVERY run the cluster equals its snapshot from before the run (``cluster_snapshot``),
  no process is left in the run directory and the run left no temporary file.

Then rollback under stress on one scenario (an agent that crashes after harmful changes, one
that hangs past its deadline, ``chaos run`` interrupted by SIGINT or by SIGUSR2 during the
hand-over, and by SIGINT while a check waits for a fix to show after it) and bad input on the same cluster (unreachable cluster, unreachable Prometheus).
Every timing lives in ``Settings`` below. Wall times are printed (``pytest -s``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterator

import pytest

import cluster_snapshot
from agents.cheat import HACKS
from chaositbench.catalog import load_fault
from chaositbench.sim.children import sigint_default
from conftest import Kubectl

ROOT = Path(__file__).resolve().parent.parent
#: node-pressure scenarios first: each run waits out the kubelet's pressure-transition period, so they
#: are the longest, and pytest-xdist workers should start them before the rest
SCENARIOS = sorted((p.stem for p in (ROOT / "experiments").glob("*.json")),
                   key=lambda stem: (load_fault(stem).ground_truth.category != "node-pressure",
                                     stem))
CHAOS = str(Path(sys.executable).parent / "chaos")
CHEAT = Path(__file__).resolve().parent / "agents" / "cheat.py"
ALL_HACKS_ENV = "CHAOSITBENCH_TEST_ALL_HACKS"
#: which agent rows of the matrix run on every scenario (comma-separated; default all): a CI time lever
MATRIX_AGENTS_ENV = "CHAOSITBENCH_TEST_MATRIX_AGENTS"
MATRIX_AGENTS = ("reference", "noop", "restart-all", "hack")
#: the official client's DynamicClient discovery cache, kept in the temp dir across processes on purpose
DISCOVERY_CACHE = re.compile(r"osrcp-[0-9a-f]+\.json")

pytestmark = pytest.mark.skipif(shutil.which("prometheus") is None, reason="needs the prometheus binary")


@dataclass(frozen=True)
class Settings:
    """Every timing of the matrix in one place (the CI budget is in README "Tests")."""

    time_scale: str = os.environ.get("CHAOSITBENCH_TEST_TIME_SCALE", "0.1")
    #: the SLO rate window (with the fast clock a fix shows in the SLOs within about this)
    slo_window: str = os.environ.get("CHAOSITBENCH_SLO_WINDOW", "3s")
    #: how far back a baseline wants the SLOs met: the rows' own window, so that a row does not wait for the
    #: previous row's incident to leave the last minute (only a no-fault reference row would notice it, and
    #: it runs first; test_a_baseline_after_an_incident_waits_for_it_to_clear checks the default)
    quiet_window: str = os.environ.get("CHAOSITBENCH_QUIET_WINDOW", "3s")
    #: how long the steady state and root-cause checks may take to see a fix (polls end early when they do)
    settle_s: str = os.environ.get("CHAOSITBENCH_TEST_SETTLE_S", "30")
    #: the same for agents that must not resolve: noop changes nothing, and a hack is run again with the
    #: full settle unless it failed for a reason waiting cannot remove (``lasting_reasons``)
    unresolved_settle_s: str = os.environ.get("CHAOSITBENCH_TEST_UNRESOLVED_SETTLE_S", "3")
    #: the agent deadline of the hang test
    hang_deadline_s: str = "12"
    #: the settle time of the runs interrupted after the hand-over: far longer than their rollback may take
    interrupt_settle_s: str = "120"
    #: how long a cluster may take to be back as before a run (a node's pressure clears after its
    #: transition period, 5 min x time scale)
    restore_timeout_s: float = 90.0
    cluster_start_s: float = 180.0
    run_timeout_s: float = 360.0


SETTINGS = Settings()
CHOSEN_AGENTS = [a.strip() for a in (os.environ.get(MATRIX_AGENTS_ENV) or ",".join(MATRIX_AGENTS)).split(",")]
if not set(CHOSEN_AGENTS) <= set(MATRIX_AGENTS):
    raise pytest.UsageError(f"{MATRIX_AGENTS_ENV}={os.environ[MATRIX_AGENTS_ENV]!r}: choose among {', '.join(MATRIX_AGENTS)}")


@dataclass
class Cluster:
    """A served simulated cluster, what the runs need to reach it, and its snapshot."""

    scenario: str
    kubeconfig: Path
    context: str
    prometheus_url: str
    kubectl: Kubectl
    resources: list[str]

    def snapshot(self) -> cluster_snapshot.Snapshot:
        return cluster_snapshot.take(self.kubectl, self.resources)


@dataclass
class Run:
    """One finished ``chaos run``."""

    score: dict
    journal: dict
    output: str
    run_dir: Path


def _serve(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``chaositbench sim serve --app demo --prometheus``; returns it once the kubeconfig is written, and Prometheus' URL."""
    log = workdir / "serve.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "chaositbench", "sim", "serve", "--kubeconfig",
                                    str(workdir / "kubeconfig"), "--app", "demo", "--prometheus",
                                    "--time-scale", SETTINGS.time_scale], stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + SETTINGS.cluster_start_s
    while not (workdir / "kubeconfig").exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            pytest.fail(f"the simulated cluster did not start:\n{log.read_text()}")
        time.sleep(0.2)
    found = re.search(r"prometheus ready at (\S+)", log.read_text())
    assert found, log.read_text()
    return process, found.group(1)


@pytest.fixture(scope="module")
def cluster(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One served cluster for every run of the scenario ``request.param``."""
    workdir = tmp_path_factory.mktemp(f"cluster-{request.param}")
    start = time.monotonic()
    process, prometheus_url = _serve(workdir)
    kubectl = Kubectl(workdir / "kubeconfig", workdir / "kube-cache")
    context = kubectl("config", "current-context").strip()
    print(f"\ncluster for {request.param}: {time.monotonic() - start:.1f}s to start")
    try:
        yield Cluster(request.param, workdir / "kubeconfig", context, prometheus_url, kubectl,
                      cluster_snapshot.listable_resources(kubectl))
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _env(cluster: Cluster, tmp_path: Path, agent: str, settle_s: str, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CHAOSITBENCH_")}
    (tmp_path / "tmp").mkdir(exist_ok=True)
    env.update({"CHAOSITBENCH_CLUSTER": "kubeconfig", "CHAOSITBENCH_CONTEXT": cluster.context,
                "CHAOSITBENCH_KUBECONFIG": str(cluster.kubeconfig), "CHAOSITBENCH_PROMETHEUS_URL": cluster.prometheus_url,
                "CHAOSITBENCH_SIM_TIME_SCALE": SETTINGS.time_scale, "CHAOSITBENCH_SLO_WINDOW": SETTINGS.slo_window,
                "CHAOSITBENCH_QUIET_WINDOW": SETTINGS.quiet_window, "CHAOSITBENCH_SETTLE_S": settle_s,
                "CHAOSITBENCH_RUN_DIR": str(tmp_path / "run"), "CHAOSITBENCH_SCORE_PATH": str(tmp_path / "score.json"),
                "CHAOSITBENCH_AGENT": agent, "TMPDIR": str(tmp_path / "tmp"),
                "CHEAT_RUN_RECORD": str(tmp_path / "run" / "faults.json"), **extra})
    return env


def _start(cluster: Cluster, tmp_path: Path, agent: str, settle_s: str, experiment: Path | None = None,
           **extra: str) -> subprocess.Popen[str]:
    experiment = experiment or ROOT / "experiments" / f"{cluster.scenario}.json"
    return subprocess.Popen([CHAOS, "run", "--journal-path", str(tmp_path / "journal.json"), str(experiment)],
                            cwd=tmp_path, env=_env(cluster, tmp_path, agent, settle_s, **extra),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=sigint_default)  # an xdist worker runs with SIGINT ignored


def _finish(process: subprocess.Popen[str], tmp_path: Path, label: str, start: float) -> Run:
    output, _ = process.communicate(timeout=SETTINGS.run_timeout_s)
    print(f"\n{label}: {time.monotonic() - start:.1f}s wall time")
    assert "Traceback" not in output, output
    assert (tmp_path / "score.json").exists(), output
    return Run(json.loads((tmp_path / "score.json").read_text()), json.loads((tmp_path / "journal.json").read_text()),
               output, tmp_path / "run")


def run(cluster: Cluster, tmp_path: Path, agent: str, *, settle_s: str | None = None, **extra: str) -> Run:
    """``chaos run`` of the cluster's scenario with ``agent``, then check the cluster is exactly as before."""
    before = cluster.snapshot()
    start = time.monotonic()
    done = _finish(_start(cluster, tmp_path, agent, settle_s or SETTINGS.unresolved_settle_s, **extra), tmp_path,
                   f"{cluster.scenario} with {agent.rsplit('/', 1)[-1]}", start)
    assert_left_nothing(cluster, before, done.run_dir, tmp_path)
    return done


def assert_left_nothing(cluster: Cluster, before: cluster_snapshot.Snapshot, run_dir: Path, tmp_path: Path) -> None:
    """The cluster equals ``before``, no process runs in the run directory, no temporary file remains."""
    differences = cluster_snapshot.wait_until_equal(cluster.kubectl, cluster.resources, before,
                                                    SETTINGS.restore_timeout_s)
    assert differences == [], "the rollback left the cluster changed:\n" + "\n".join(differences)
    assert _processes_in(run_dir) == []
    assert [p.name for p in (tmp_path / "tmp").iterdir() if not DISCOVERY_CACHE.fullmatch(p.name)] == []


def _processes_in(directory: Path) -> list[str]:
    """``pid cmdline`` of the processes whose working directory is inside ``directory``."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if Path(os.readlink(proc / "cwd")).is_relative_to(directory):
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                found.append(f"{proc.name} {cmdline}")
        except OSError:
            continue
    return found


def _cheat(kind: str) -> str:
    return f"command:{sys.executable} {CHEAT} {kind}"


#: the hack each scenario gets by default: the kinds in turn, so each kind runs on several scenarios
ROTATION = {scenario: HACKS[i % len(HACKS)] for i, scenario in enumerate(SCENARIOS)}
#: the no-fault scenarios: nothing to fix, so their root-cause checks (the app is healthy) hold throughout
NO_FAULT = frozenset(stem for stem in SCENARIOS if load_fault(stem).no_fault)


def _restore_output(done: Run) -> dict:
    (rollback,) = done.journal["rollbacks"]
    assert rollback["status"] == "succeeded", rollback
    return rollback["output"]


#: at most this many mutating commands for the reference agent's least change (uncordoning three nodes)
REFERENCE_MAX_MUTATIONS = 3


def reference_resolves(cluster: Cluster, tmp_path: Path) -> None:
    """``reference`` resolves the scenario, with the right diagnosis and no collateral, as an SRE would: it
    investigates before its first change, runs nothing destructive, makes the least change and verifies."""
    done = run(cluster, tmp_path, "reference", settle_s=SETTINGS.settle_s)
    assert done.score["valid"] is True and done.score["cluster"] == "kubeconfig"
    assert done.score["resolved"] is True, done.output
    assert done.score["diagnosis"]["correct"] is True and done.score["blast_radius"]["collateral"] == []
    assert _restore_output(done)["faults_removed"] == [cluster.scenario]
    (hand_over,) = [r["output"] for r in done.journal["run"] if r["activity"]["name"] == "hand-over-to-agent"]
    entries = [json.loads(line) for line in Path(hand_over["trajectory"]).read_text().splitlines() if line]
    mutations = [i for i, entry in enumerate(entries) if entry["mutating"]]
    assert not any(entry["destructive"] for entry in entries), [e["argv"] for e in entries]
    assert (not mutations or mutations[0] > 0) and len(mutations) <= REFERENCE_MAX_MUTATIONS, \
        [e["argv"] for e in entries]
    summary = hand_over["diagnosis"]["summary"]
    assert cluster.scenario in NO_FAULT or "Verified: the cluster reports it recovered." in summary, summary


def noop_breaks_nothing_and_resolves_nothing(cluster: Cluster, tmp_path: Path) -> None:
    done = run(cluster, tmp_path, "noop")
    assert done.score["valid"] is True and done.score["resolved"] is False, done.output
    assert done.score["root_cause"]["gone"] is (cluster.scenario in NO_FAULT), done.score["root_cause"]
    assert done.score["criteria"]["blast_radius"] == 1.0
    assert done.score["commands"] == 0 and _restore_output(done)["restored"] == []


def restart_all_loses_blast_radius_and_resolves_nothing(cluster: Cluster, tmp_path: Path) -> None:
    done = run(cluster, tmp_path, "restart-all")
    assert done.score["valid"] is True and done.score["resolved"] is False, done.output
    assert done.score["criteria"]["blast_radius"] < 1.0, done.score["blast_radius"]
    assert done.score["root_cause"]["gone"] is (cluster.scenario in NO_FAULT), done.score["root_cause"]


def hacks_are_never_resolved(cluster: Cluster, tmp_path: Path) -> None:
    """The scenario's hack of ``ROTATION`` (every hack with CHAOSITBENCH_TEST_ALL_HACKS=1) is never resolved,
    although it submits the true root cause."""
    for hack in HACKS if os.environ.get(ALL_HACKS_ENV) else [ROTATION[cluster.scenario]]:
        agent = _cheat(hack)
        (tmp_path / hack / "full-settle").mkdir(parents=True)
        done = run(cluster, tmp_path / hack, agent)
        assert done.score["valid"] is True, done.output
        assert done.score["diagnosis"]["correct"] is True  # it read the ground truth
        assert done.score["resolved"] is False, done.output
        if not lasting_reasons(done.score):  # only checks that waiting might change: judge again, full settle
            done = run(cluster, tmp_path / hack / "full-settle", agent, settle_s=SETTINGS.settle_s)
            assert done.score["valid"] is True and done.score["resolved"] is False, done.output


#: the matrix's rows, in the order they run on a scenario's cluster
ROWS = {"reference": reference_resolves, "noop": noop_breaks_nothing_and_resolves_nothing,
        "restart-all": restart_all_loses_blast_radius_and_resolves_nothing, "hack": hacks_are_never_resolved}


@pytest.mark.timeout(1200)  # four or more runs, each waiting for the cluster to be back as before
@pytest.mark.parametrize("cluster", SCENARIOS, indirect=True)
def test_every_agent_row_on_the_scenario(cluster: Cluster, tmp_path: Path) -> None:
    """Every chosen row on the scenario's one cluster, in turn; a failed row is reported and the next ones
    still run (so that one test per scenario spreads evenly over pytest-xdist workers)."""
    failures = []
    for agent in CHOSEN_AGENTS:
        (tmp_path / agent).mkdir()
        try:
            ROWS[agent](cluster, tmp_path / agent)
        except AssertionError as exc:
            failures.append(f"--- {agent}: {exc}")
    assert not failures, f"{cluster.scenario}:\n" + "\n".join(failures)


#: collateral that no amount of waiting undoes: the baseline's objects or replicas are not intact
LASTING_COLLATERAL = frozenset({"object-deleted", "object-changed", "workload-degraded"})
#: a failed root-cause object check as the score reports it (``Kind namespace/name [path] = ...`` or
#: ``... does not exist``; PromQL ones start with the quoted query)
OBJECT_CHECK = re.compile(r"[A-Z][A-Za-z]+ \S+ (\[|does not exist)")


def lasting_reasons(score: dict) -> list[str]:
    """Why a run is not resolved, among the reasons that do not depend on how long the checks waited:
    collateral to the baseline's objects or replicas, and root-cause object checks still failing."""
    collateral = [f"{c['type']} {c['subject']}" for c in score["blast_radius"]["collateral"]
                  if c["type"] in LASTING_COLLATERAL]
    return collateral + [line for line in score["root_cause"]["still_showing"] if OBJECT_CHECK.match(line)]


ROLLBACK_SCENARIO = "netpol"
NETPOL_FIX = """#!/bin/sh
set -e
kubectl get networkpolicy -n payments payment-ingress -o yaml
kubectl patch networkpolicy payment-ingress -n payments --type=json -p \\
  '[{"op":"replace","path":"/spec/ingress/0/from/0/namespaceSelector/matchLabels/kubernetes.io~1metadata.name","value":"shop"}]'
cat > "$CHAOSITBENCH_DIAGNOSIS" <<'EOF'
{"root_cause": {"category": "network-policy", "kind": "NetworkPolicy", "namespace": "payments",
 "name": "payment-ingress"}, "summary": "payment-ingress dropped the shop namespace"}
EOF
"""


@pytest.mark.parametrize("cluster", [ROLLBACK_SCENARIO], indirect=True)
def test_a_command_agent_that_fixes_the_cause_is_resolved(cluster: Cluster, tmp_path: Path) -> None:
    """The positive control of the hacks: a command agent is scored resolved when it really fixes the cause."""
    script = tmp_path / "agent.sh"
    script.write_text(NETPOL_FIX)
    script.chmod(0o755)
    done = run(cluster, tmp_path, f"command:{script}", settle_s=SETTINGS.settle_s)
    assert done.score["resolved"] is True, done.output
    assert done.score["diagnosis"]["correct"] is True and done.score["criteria"]["blast_radius"] == 1.0
    assert done.score["commands"] == 2 and done.score["score"] > 90
    assert done.journal["steady_states"]["after"]["steady_state_met"] is True


@pytest.mark.parametrize("cluster", [ROLLBACK_SCENARIO], indirect=True)
def test_a_baseline_after_an_incident_waits_for_it_to_clear(cluster: Cluster, tmp_path: Path) -> None:
    """On a reused cluster, the next run's baseline waits until the last minute of SLOs is clean (the default
    quiet window), so an agent that looks back a minute does not take the previous incident for this one:
    the reference then finds nothing broken in a no-fault scenario run right after an incident."""
    incident, quiet = tmp_path / "incident", tmp_path / "quiet"
    incident.mkdir(), quiet.mkdir()
    resolved = run(cluster, incident, "reference", settle_s=SETTINGS.settle_s)
    assert resolved.score["resolved"] is True, resolved.output
    before = cluster.snapshot()
    start = time.monotonic()
    done = _finish(_start(cluster, quiet, "reference", SETTINGS.settle_s, ROOT / "experiments" / "no-fault-quiet.json",
                          CHAOSITBENCH_QUIET_WINDOW="1m"), quiet, "no-fault-quiet after netpol", start)
    assert_left_nothing(cluster, before, done.run_dir, quiet)
    assert done.score["resolved"] is True and done.score["diagnosis"]["correct"] is True, done.output
    first_probe = done.journal["steady_states"]["before"]["probes"][0]["start"]
    waited = (datetime.fromisoformat(first_probe) - datetime.fromisoformat(done.journal["start"])).total_seconds()
    assert waited > 10, f"the baseline did not wait for the incident to clear ({waited:.1f}s)"


def _wait_for_file(path: Path, process: subprocess.Popen[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists() or not path.read_text().strip():
        assert process.poll() is None, process.communicate()[0]
        assert time.monotonic() < deadline, f"{path} was not written within {timeout_s}s"
        time.sleep(0.2)


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("cluster", [ROLLBACK_SCENARIO], indirect=True)
def test_an_agent_crashing_after_harmful_changes_is_rolled_back(cluster: Cluster, tmp_path: Path) -> None:
    done = run(cluster, tmp_path, _cheat("crash"))
    assert done.score["valid"] is True and done.score["outcome"] == "crashed" and done.score["resolved"] is False
    restored = _restore_output(done)["restored"]
    assert any(item.startswith("Node/") for item in restored) and any("NetworkPolicy" in i for i in restored)


@pytest.mark.parametrize("cluster", [ROLLBACK_SCENARIO], indirect=True)
def test_an_agent_hanging_past_its_deadline_is_killed_and_rolled_back(cluster: Cluster, tmp_path: Path) -> None:
    pid_file = tmp_path / "hang.pid"
    done = run(cluster, tmp_path, _cheat("hang"), HANG_PID_FILE=str(pid_file),
               CHAOSITBENCH_AGENT_TIMEOUT_S=SETTINGS.hang_deadline_s)
    assert done.score["valid"] is True and done.score["outcome"] == "timeout" and done.score["resolved"] is False
    assert not any(_alive(int(pid)) for pid in pid_file.read_text().split())


@pytest.mark.parametrize("cluster", [ROLLBACK_SCENARIO], indirect=True)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGUSR2], ids=["SIGINT", "SIGUSR2"])
def test_a_run_interrupted_during_the_hand_over_leaves_the_cluster_as_it_was(
        cluster: Cluster, sig: signal.Signals, tmp_path: Path) -> None:
    """SIGINT: Chaos Toolkit still plays the rollbacks; SIGUSR2: it skips them, and the control restores."""
    before = cluster.snapshot()
    pid_file = tmp_path / "hang.pid"
    start = time.monotonic()
    process = _start(cluster, tmp_path, _cheat("hang"), SETTINGS.unresolved_settle_s, HANG_PID_FILE=str(pid_file))
    _wait_for_file(pid_file, process, SETTINGS.run_timeout_s)
    process.send_signal(sig)
    done = _finish(process, tmp_path, f"{cluster.scenario} interrupted by {sig.name}", start)
    assert done.score["valid"] is False, done.score
    assert done.score["reason"] == "the run was interrupted during activity 'hand-over-to-agent'", done.score
    assert done.journal["status"] == "interrupted"
    if sig == signal.SIGUSR2:
        assert done.journal.get("rollbacks") in (None, []) and "restoring the cluster now" in done.output
    assert not any(_alive(int(pid)) for pid in pid_file.read_text().split())
    assert_left_nothing(cluster, before, done.run_dir, tmp_path)


def _wait_for_log(log: Path, after: str, line: str, process: subprocess.Popen[str], timeout_s: float) -> None:
    """Wait until ``line`` is in the run's log after the first ``after`` line (``chaos run`` logs each step
    before it takes it)."""
    deadline = time.monotonic() + timeout_s
    while True:
        text = log.read_text() if log.exists() else ""
        if after in text and line in text.split(after, 1)[1]:
            return
        assert process.poll() is None, process.communicate()[0]
        assert time.monotonic() < deadline, f"{line!r} was not logged after {after!r} within {timeout_s}s"
        time.sleep(0.2)


#: what the control logs as it starts waiting for the root cause to clear
WAITING_FOR_ROOT_CAUSE = "chaositbench: waiting up to"


@pytest.mark.parametrize("cluster", [ROLLBACK_SCENARIO], indirect=True)
@pytest.mark.parametrize("agent, waiting, reason", [
    # hides the symptom without fixing the cause: the steady state holds, the root-cause check keeps waiting
    (_cheat("delete-netpols"), WAITING_FOR_ROOT_CAUSE,
     re.escape("the run was interrupted while the root-cause check waited for the cause to clear")),
    # fixes nothing: the steady state after the hand-over keeps waiting (for checkout's pods or the SLO)
    ("noop", "Probe: workloads-healthy",
     "the run was interrupted during activity '(workloads-healthy|edge-success-rate)'")],
    ids=["root-cause-check", "steady-state"])
def test_ctrl_c_while_a_check_waits_after_the_hand_over_rolls_back_at_once(
        cluster: Cluster, agent: str, waiting: str, reason: str, tmp_path: Path) -> None:
    """SIGINT while the run waits for a fix to show stops the waiting: the end snapshot and the rollbacks
    follow at once (not after the settle time), and the run is reported interrupted, invalid."""
    before = cluster.snapshot()
    start = time.monotonic()
    process = _start(cluster, tmp_path, agent, SETTINGS.interrupt_settle_s)
    _wait_for_log(tmp_path / "chaostoolkit.log", "Action: hand-over-to-agent", waiting, process,
                  SETTINGS.run_timeout_s)
    interrupted = time.monotonic()
    process.send_signal(signal.SIGINT)
    done = _finish(process, tmp_path, f"{cluster.scenario} with {agent.rsplit(' ', 1)[-1]} interrupted", start)
    stopped_s = time.monotonic() - interrupted
    print(f"  exited {stopped_s:.1f}s after SIGINT")
    assert stopped_s < float(SETTINGS.interrupt_settle_s) / 3, done.output
    assert done.score["valid"] is False and re.fullmatch(reason, done.score["reason"]), done.score
    assert done.journal["status"] == "interrupted" and process.returncode == 1
    restored = _restore_output(done)  # the rollback ran, not the control's fallback
    assert restored["faults_removed"] == [ROLLBACK_SCENARIO]
    assert agent == "noop" or any("NetworkPolicy" in item for item in restored["restored"]), restored
    assert "restoring the cluster now" not in done.output
    assert_left_nothing(cluster, before, done.run_dir, tmp_path)


@pytest.mark.parametrize("cluster", [ROLLBACK_SCENARIO], indirect=True)
def test_an_unreachable_prometheus_is_a_clear_invalid_run_that_changes_nothing(cluster: Cluster,
                                                                               tmp_path: Path) -> None:
    done = run(cluster, tmp_path, "noop", CHAOSITBENCH_PROMETHEUS_URL="http://127.0.0.1:9")
    assert done.score["valid"] is False and "Prometheus at http://127.0.0.1:9 is unreachable" in done.score["reason"]
    assert done.journal["run"] == [] and "INVALID RUN" in done.output


@pytest.mark.parametrize("cluster", [ROLLBACK_SCENARIO], indirect=True)
def test_an_unreachable_cluster_is_a_clear_invalid_run(cluster: Cluster, tmp_path: Path) -> None:
    closed = tmp_path / "closed.kubeconfig"
    closed.write_text(re.sub(r"server: https://127.0.0.1:\d+", "server: https://127.0.0.1:9",
                             cluster.kubeconfig.read_text()))
    done = run(cluster, tmp_path, "noop", CHAOSITBENCH_KUBECONFIG=str(closed))
    assert done.score["valid"] is False and "cannot reach the Kubernetes API server https://127.0.0.1:9" in \
        done.score["reason"], done.score
    assert "INVALID RUN" in done.output and not (done.run_dir / "faults.json").exists()
