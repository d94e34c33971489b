"""The blast-radius activities (``take_snapshot``, ``collateral_since``) on the demo app, through the real kubectl."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from chaoslib.exceptions import ActivityFailed

from chaositbench import actions
from chaositbench.blast_radius import collateral_since, take_snapshot
from conftest import Kubectl


def test_collateral_since_a_snapshot_leaves_the_faults_own_changes_out(demo: Path, configuration: dict[str, Any],
                                                                        tmp_path: Path) -> None:
    taken = take_snapshot("before", configuration)
    saved = json.loads(Path(taken["path"]).read_text())
    assert taken["objects"] == len(saved["objects"]) > 0 and "Deployment shop/inventory" in saved["workloads"]
    actions.inject_fault("netpol", configuration)  # patches NetworkPolicy payments/payment-ingress
    assert collateral_since("before", configuration) == {"collateral": [], "intact": True}

    kubectl = Kubectl(demo, tmp_path / "kube-cache")
    kubectl("scale", "deployment/inventory", "-n", "shop", "--replicas=0")
    kubectl("create", "configmap", "stray", "-n", "shop", "--from-literal=a=b")
    found = collateral_since("before", configuration)
    assert found["intact"] is False
    assert {"type": "object-changed", "subject": "Deployment shop/inventory", "detail": ""} in found["collateral"]
    assert {"type": "object-changed", "subject": "ConfigMap shop/stray", "detail": "created"} in found["collateral"]
    assert any(c["type"] == "workload-degraded" and c["subject"] == "Deployment shop/inventory"
               for c in found["collateral"])
    assert not any("payment-ingress" in c["subject"] for c in found["collateral"])


def test_collateral_since_a_snapshot_never_taken_is_a_clear_failure(configuration: dict[str, Any]) -> None:
    with pytest.raises(ActivityFailed, match="no snapshot 'nope' in this run .*take it first with take_snapshot"):
        collateral_since("nope", configuration)
