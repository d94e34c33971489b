"""Root-cause checks of the probe faults accept a correct fix other than the reference agent's."""

from __future__ import annotations

from pathlib import Path

from test_experiments import ROOT, _rolled_back, _run, needs_prometheus

DIAGNOSIS = ('{"root_cause": {"category": "probe", "kind": "Deployment", "namespace": "payments", "name": "payment"}, '
             '"summary": "the liveness probe kills payment before it listens"}')


@needs_prometheus
def test_liveness_aggressive_fixed_by_a_start_up_delay_alone_is_resolved(tmp_path: Path) -> None:
    script = tmp_path / "agent.sh"
    script.write_text(
        "#!/bin/sh\nset -e\nkubectl get deployment payment -n payments -o yaml\n"
        "kubectl patch deployment payment -n payments --type=json -p '[{\"op\":\"replace\",\"path\":"
        "\"/spec/template/spec/containers/0/livenessProbe/initialDelaySeconds\",\"value\":10}]'\n"
        f"cat > \"$CHAOSITBENCH_DIAGNOSIS\" <<'EOF'\n{DIAGNOSIS}\nEOF\n")
    script.chmod(0o755)
    score, journal, _ = _run(tmp_path, ROOT / "experiments" / "liveness-aggressive.json", f"command:{script}")
    assert score["resolved"] is True and score["root_cause"]["gone"] is True, score
    assert score["diagnosis"]["correct"] is True and score["blast_radius"]["collateral"] == []
    _rolled_back(journal, "liveness-aggressive")
