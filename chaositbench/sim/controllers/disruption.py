"""The disruption controller: the status of PodDisruptionBudgets, which the eviction API consults.

For each PDB it counts the pods its selector matches in its namespace and
computes, as kube-controller-manager's disruption controller does:

* ``expectedPods`` — the matched pods for an integer ``minAvailable``; otherwise
  the summed scale of the pods' controllers (Deployment through its ReplicaSet,
  ReplicaSet, ReplicationController, StatefulSet);
* ``desiredHealthy`` — ``minAvailable`` (a percentage rounds up), or
  ``expectedPods − maxUnavailable`` (a percentage rounds up), never below 0;
* ``currentHealthy`` — matched pods that are Ready and not being deleted;
* ``disruptionsAllowed`` = max(currentHealthy − desiredHealthy, 0), with the
  ``DisruptionAllowed`` condition (``SufficientPods``/``InsufficientPods``).

A PDB is recomputed whenever it or a pod in its namespace changes; pods
listed in ``disruptedPods`` (evicted through the API, not yet terminating) do
not count as healthy.

:func:`admit_eviction` is the eviction subresource's side, as the API server's
eviction storage does it: a pod that its PDB cannot spare is refused with 429
TooManyRequests; otherwise the budget is decremented and the pod recorded in
``disruptedPods`` at once (so parallel evictions by ``kubectl drain`` cannot
overspend it), and the pod gets ``DisruptionTarget`` (``EvictionByEvictionAPI``).
"""

from __future__ import annotations

import math
from typing import Any, Iterator

from .. import clock
from ..errors import APIError
from ..kinds import preferred
from ..resources import ResourceAPI
from ..selectors import selector_from_object
from ..store import Obj, WatchEvent
from .base import Controller, ObjectKey, key_of
from .ownership import controller_ref
from .podstate import is_ready
from .podutil import set_condition

PDBS = preferred("policy", "PodDisruptionBudget")
PODS = preferred("", "Pod")
SCALABLE = {("apps", "Deployment"), ("apps", "ReplicaSet"), ("", "ReplicationController"), ("apps", "StatefulSet")}


def _scaled(value: Any, total: int) -> int:
    """An IntOrString against ``total``: percentages round up."""
    if isinstance(value, str) and value.endswith("%"):
        return math.ceil(int(value[:-1]) * total / 100)
    return int(value)


class DisruptionController(Controller):
    """Keeps every PodDisruptionBudget's status current."""

    name = "disruption"
    watches = (PDBS, PODS)

    def keys_for(self, event: WatchEvent) -> Iterator[ObjectKey]:
        if event.storage_key == PDBS.storage_key:
            if event.type != "DELETED":
                yield key_of(event.obj)
            return
        namespace = event.obj["metadata"].get("namespace", "")
        for pdb in self.cluster.store.list(PDBS.storage_key, namespace):
            yield key_of(pdb)

    def reconcile(self, key: ObjectKey) -> None:
        pdb = self.api.try_get(PDBS, *key)
        if pdb is None:
            return
        spec = pdb.get("spec") or {}
        selector = selector_from_object(spec.get("selector"), null_matches_nothing=True)
        pods = [p for p in self.api.list(PODS, key[0])[0] if selector.matches(p["metadata"].get("labels"))]
        if spec.get("maxUnavailable") is not None:
            expected = self._expected_scale(pods)
            desired = max(expected - _scaled(spec["maxUnavailable"], expected), 0)
        elif isinstance(spec.get("minAvailable"), str):
            expected = self._expected_scale(pods)
            desired = _scaled(spec["minAvailable"], expected)
        else:
            expected, desired = len(pods), int(spec.get("minAvailable") or 0)
        status = pdb.get("status") or {}
        live = {p["metadata"]["name"] for p in pods if not p["metadata"].get("deletionTimestamp")}
        disrupted = {name: at for name, at in (status.get("disruptedPods") or {}).items() if name in live}
        healthy = sum(1 for p in pods if is_ready(p) and p["metadata"]["name"] in live
                      and p["metadata"]["name"] not in disrupted)
        allowed = max(healthy - desired, 0)
        generation = pdb["metadata"].get("generation", 1)
        wanted = {"currentHealthy": healthy, "desiredHealthy": desired, "expectedPods": expected,
                  "disruptionsAllowed": allowed, "observedGeneration": generation}
        ok = "True" if allowed > 0 else "False"
        reason = "SufficientPods" if allowed > 0 else "InsufficientPods"
        current = next((c for c in status.get("conditions") or [] if c.get("type") == "DisruptionAllowed"), {})
        if all(status.get(k) == v for k, v in wanted.items()) and (current.get("status"), current.get("reason")) == (
                ok, reason) and disrupted == (status.get("disruptedPods") or {}):
            return

        def write(stored: Obj) -> None:
            new = stored.setdefault("status", {})
            new.update(wanted)
            if disrupted:
                new["disruptedPods"] = disrupted
            else:
                new.pop("disruptedPods", None)
            conditions = new.setdefault("conditions", [])
            set_condition(conditions, "DisruptionAllowed", ok, reason)
            for cond in conditions:
                if cond.get("type") == "DisruptionAllowed":
                    cond.setdefault("message", "")
                    cond["observedGeneration"] = generation
                    cond.setdefault("lastTransitionTime", clock.rfc3339())
        self.api.patch_object(PDBS, key[0], key[1], write, subresource="status")

    def _expected_scale(self, pods: list[Obj]) -> int:
        """The summed ``spec.replicas`` of the pods' distinct scalable controllers (a Deployment above its RS)."""
        seen: dict[str, int] = {}
        for pod in pods:
            owner = self._top_controller(pod)
            if owner is not None:
                seen[owner["metadata"]["uid"]] = int((owner.get("spec") or {}).get("replicas", 1))
        return sum(seen.values())

    def _top_controller(self, obj: Obj) -> Obj | None:
        ref = controller_ref(obj)
        if ref is None:
            return None
        group = ref.get("apiVersion", "").rpartition("/")[0]
        if (group, ref.get("kind")) not in SCALABLE:
            return None
        owner = self.api.try_get(preferred(group, ref["kind"]), obj["metadata"].get("namespace", ""), ref["name"])
        if owner is None or owner["metadata"]["uid"] != ref.get("uid"):
            return None
        if ref.get("kind") == "ReplicaSet":
            parent = controller_ref(owner)
            if parent is not None and parent.get("kind") == "Deployment":
                return self._top_controller(owner) or owner
        return owner


def admit_eviction(api: ResourceAPI, pod: Obj) -> None:
    """Let the eviction of ``pod`` spend its PDB's budget, or refuse it with 429 (``checkAndDecrement``)."""
    meta = pod["metadata"]
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return
    labels = meta.get("labels") or {}
    budgets = [b for b in api.list(PDBS, meta["namespace"])[0]
               if selector_from_object((b.get("spec") or {}).get("selector"), null_matches_nothing=True).matches(labels)]
    if len(budgets) > 1:
        raise APIError(500, "InternalError",
                       "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.")
    if budgets:
        _spend(api, budgets[0], pod)

    def mark(current: Obj) -> None:
        set_condition(current.setdefault("status", {}).setdefault("conditions", []), "DisruptionTarget", "True",
                      "EvictionByEvictionAPI", "Eviction API: evicting")
    api.patch_object(PODS, meta["namespace"], meta["name"], mark, subresource="status")


def _spend(api: ResourceAPI, pdb: Obj, pod: Obj) -> None:
    status = pdb.get("status") or {}
    name = pdb["metadata"]["name"]
    if not is_ready(pod) and status.get("currentHealthy", 0) >= status.get("desiredHealthy", 0) > 0:
        return  # an unhealthy pod may go while the budget is met (IfHealthyBudget)
    if status.get("observedGeneration", 0) < pdb["metadata"].get("generation", 1):
        raise _too_many(f"The disruption budget {name} is still being processed by the server.")
    if status.get("disruptionsAllowed", 0) < 1:
        raise _too_many(f"The disruption budget {name} needs {status.get('desiredHealthy', 0)} healthy pods and has "
                        f"{status.get('currentHealthy', 0)} currently")

    def decrement(current: Obj) -> None:
        new = current.setdefault("status", {})
        new["disruptionsAllowed"] = new.get("disruptionsAllowed", 0) - 1
        new.setdefault("disruptedPods", {})[pod["metadata"]["name"]] = clock.rfc3339()
    api.patch_object(PDBS, pdb["metadata"]["namespace"], name, decrement, subresource="status")


def _too_many(cause: str) -> APIError:
    return APIError(429, "TooManyRequests", "Cannot evict pod as it would violate the pod's disruption budget.",
                    {"causes": [{"reason": "DisruptionBudget", "message": cause}]})
