"""PodDisruptionBudget status and the eviction API's budget spending, as kube-controller-manager and the API server do."""

from __future__ import annotations

from typing import Any

import pytest

from chaositbench.sim.controllers.deployment import DeploymentController
from chaositbench.sim.controllers.disruption import DisruptionController, admit_eviction
from chaositbench.sim.controllers.replicaset import ReplicaSetController
from chaositbench.sim.errors import APIError
from chaositbench.sim.kinds import preferred

from controller_harness import PODS, Harness, container, run

PDBS = preferred("policy", "PodDisruptionBudget")
DEPLOYMENTS = preferred("apps", "Deployment")


def pdb(h: Harness, **spec: Any) -> dict[str, Any]:
    return h.create(PDBS, {"metadata": {"name": "budget"}, "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec}})


def status(h: Harness) -> dict[str, Any]:
    return h.get(PDBS, "budget")["status"]


def test_status_counts_healthy_pods_against_min_available_and_max_unavailable_of_the_deployment_scale() -> None:
    async def body() -> None:
        async with Harness(DisruptionController, DeploymentController, ReplicaSetController) as h:
            h.create(DEPLOYMENTS, {"metadata": {"name": "web"}, "spec": {
                "replicas": 4, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [container()]}}}})
            pods = await h.wait_for(lambda: (lambda p: p if len(p) == 4 else None)(h.items(PODS)), what="4 pods")
            for pod in pods[:3]:
                h.set_pod_state(pod)
            pdb(h, maxUnavailable="30%")  # of the Deployment's 4 replicas: 2 (rounded up) may be missing
            await h.wait_for(lambda: (h.get(PDBS, "budget").get("status") or {}).get("currentHealthy") == 3,
                             what="status")
            got = status(h)
            assert {k: got[k] for k in ("expectedPods", "desiredHealthy", "currentHealthy", "disruptionsAllowed",
                                        "observedGeneration")} == {"expectedPods": 4, "desiredHealthy": 2,
                                                                   "currentHealthy": 3, "disruptionsAllowed": 1,
                                                                   "observedGeneration": 1}
            allowed = next(c for c in got["conditions"] if c["type"] == "DisruptionAllowed")
            assert (allowed["status"], allowed["reason"]) == ("True", "SufficientPods")

            h.change(PDBS, "budget", lambda b: b["spec"].update(minAvailable=3, maxUnavailable=None))
            await h.wait_for(lambda: status(h)["observedGeneration"] == 2, what="new generation observed")
            got = status(h)
            assert (got["expectedPods"], got["desiredHealthy"], got["disruptionsAllowed"]) == (4, 3, 0)
            assert next(c for c in got["conditions"] if c["type"] == "DisruptionAllowed")["reason"] == "InsufficientPods"
    run(body)


def test_evictions_spend_the_budget_at_once_and_are_refused_when_it_is_spent() -> None:
    async def body() -> None:
        async with Harness(DisruptionController) as h:
            for i in range(3):
                h.set_pod_state(h.create(PODS, {"metadata": {"name": f"web-{i}", "labels": {"app": "web"}},
                                                "spec": {"containers": [container()]}}))
            pdb(h, minAvailable=2)
            await h.wait_for(lambda: (h.get(PDBS, "budget").get("status") or {}).get("disruptionsAllowed") == 1,
                             what="one disruption allowed")
            admit_eviction(h.api, h.get(PODS, "web-0"))
            assert status(h)["disruptionsAllowed"] == 0 and "web-0" in status(h)["disruptedPods"]
            target = next(c for c in h.get(PODS, "web-0")["status"]["conditions"] if c["type"] == "DisruptionTarget")
            assert (target["reason"], target["message"]) == ("EvictionByEvictionAPI", "Eviction API: evicting")
            with pytest.raises(APIError) as refused:  # a second eviction before the first pod is even gone
                admit_eviction(h.api, h.get(PODS, "web-1"))
            assert refused.value.code == 429
            assert refused.value.message == "Cannot evict pod as it would violate the pod's disruption budget."
            h.api.delete(PODS, "default", "web-0")
            await h.wait_for(lambda: "disruptedPods" not in status(h), what="disrupted pod forgotten")
            assert (status(h)["currentHealthy"], status(h)["disruptionsAllowed"]) == (2, 0)
    run(body)
