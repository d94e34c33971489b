"""The benchmark score: five criteria from what the run observed, as documented formulas.

Everything here is a pure function of plain data — the fault's ground truth, the
agent's diagnosis, the baseline/after snapshots' differences, the steady-state
and root-cause checks, and the trajectory — so a score can be recomputed and
audited from the journal. The README section "Scoring" states the same formulas.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Mapping

#: Weight of each criterion in the 0–100 score.
WEIGHTS: dict[str, float] = {"diagnosis": 25, "blast_radius": 20, "resolution": 35, "tool_use": 10,
                             "time_efficiency": 10}
#: Blast-radius deductions per collateral item, by kind of damage.
BLAST_PENALTIES: dict[str, float] = {"object-changed": 0.25, "object-deleted": 0.35, "workload-degraded": 0.3,
                                     "slo-damage": 0.2, "needless-restart": 0.05}
#: Share of the SLA below which resolving counts as fully timely.
FAST_SHARE = 0.25

#: Kind spellings agents use (plural, singular, short names), by the Kind they mean.
_KIND_SPELLINGS: dict[str, tuple[str, ...]] = {
    "Deployment": ("deployments", "deploy"), "StatefulSet": ("statefulsets", "sts"), "DaemonSet": ("daemonsets", "ds"),
    "ReplicaSet": ("replicasets", "rs"), "Pod": ("pods", "po"), "Service": ("services", "svc"),
    "ConfigMap": ("configmaps", "cm"), "Secret": ("secrets",), "NetworkPolicy": ("networkpolicies", "netpol"),
    "Node": ("nodes", "no"), "Namespace": ("namespaces", "ns"), "ResourceQuota": ("resourcequotas", "quota"),
    "LimitRange": ("limitranges", "limits"), "HorizontalPodAutoscaler": ("horizontalpodautoscalers", "hpa"),
    "ServiceAccount": ("serviceaccounts", "sa"), "Role": ("roles",), "RoleBinding": ("rolebindings",),
    "Job": ("jobs",), "CronJob": ("cronjobs", "cj"), "PersistentVolumeClaim": ("persistentvolumeclaims", "pvc"),
    "Ingress": ("ingresses", "ing"), "PodDisruptionBudget": ("poddisruptionbudgets", "pdb"),
}
_KIND_ALIASES = {spelling: kind for kind, spellings in _KIND_SPELLINGS.items()
                 for spelling in (kind.lower(), *spellings)}


def normalize_kind(kind: str | None) -> str:
    """``deploy``, ``deployments.apps``, ``Deployment`` → ``Deployment`` (unknown spellings kept as given)."""
    if not kind:
        return ""
    base = kind.split(".")[0].strip()
    return _KIND_ALIASES.get(base.lower(), base)


@dataclass(frozen=True)
class ObjectRef:
    """A Kubernetes object named in a ground truth or a diagnosis."""

    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, raw: Mapping[str, Any] | None) -> "ObjectRef | None":
        if not isinstance(raw, Mapping) or not raw.get("name"):
            return None
        return cls(normalize_kind(str(raw.get("kind", ""))), str(raw.get("namespace") or ""), str(raw["name"]))

    def matches(self, other: "ObjectRef") -> bool:
        """Same kind and name; a namespace left out on either side is not held against it."""
        same_namespace = not self.namespace or not other.namespace or self.namespace == other.namespace
        return self.kind == other.kind and self.name == other.name and same_namespace


@dataclass(frozen=True)
class Collateral:
    """One piece of damage outside the fault's scope."""

    type: str  # a key of BLAST_PENALTIES
    subject: str  # e.g. "Deployment shop/inventory"
    detail: str = ""


@dataclass(frozen=True)
class Command:
    """One recorded tool call of the trajectory, as scoring sees it."""

    verb: str
    mutating: bool
    destructive: bool = False  # deleting a namespace/workload, scaling to zero, wiping policies


@dataclass
class RunFacts:
    """What a run observed, the inputs of the score."""

    ground_truth: Mapping[str, Any]  # {"category", "object": {kind, namespace, name}, "aliases": {...}}
    diagnosis: Mapping[str, Any] | None  # the agent's diagnosis JSON (DESIGN §3), None when none was submitted
    steady_state_ok: bool  # the steady-state hypothesis held after the hand-over
    root_cause_gone: bool  # the fault-specific check passed (not merely pods Running)
    workloads_intact: bool  # every baseline workload and policy still exists as it was, its replicas included
    collateral: list[Collateral] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)
    commands_needed: int = 5  # what a good SRE needs for this fault (from the catalog)
    time_to_resolve_s: float | None = None
    sla_s: float = 600.0
    changed_anything: bool = False  # the agent mutated something (no-fault scenarios)


@dataclass(frozen=True)
class Score:
    """The criteria (each 0–1), the weighted total (0–100) and the explanations."""

    resolved: bool
    score: float
    criteria: dict[str, float]
    diagnosis: dict[str, Any]
    blast_radius: dict[str, Any]
    tool_use: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _is_no_fault(truth: Mapping[str, Any]) -> bool:
    return truth.get("category") == "no-fault"


def diagnosis_score(truth: Mapping[str, Any], diagnosis: Mapping[str, Any] | None) -> tuple[float, dict[str, Any]]:
    """1 for the right category and object (or an accepted alias), 0.5 for one of the two, 0 otherwise.

    An escalation without a root cause scores 0. In a no-fault scenario the
    category ``no-fault`` is the whole answer.
    """
    submitted = dict(diagnosis or {})
    root = submitted.get("root_cause") if isinstance(submitted.get("root_cause"), Mapping) else {}
    category_ok = root.get("category") == truth.get("category")
    if _is_no_fault(truth):
        return (1.0 if category_ok else 0.0), {"expected": dict(truth), "submitted": submitted, "correct": category_ok}
    expected = ObjectRef.of(truth.get("object"))
    accepted = [expected] + [ObjectRef.of(a) for a in (truth.get("aliases") or {}).get("objects") or []]
    named = ObjectRef.of(root)
    object_ok = named is not None and any(ref is not None and ref.matches(named) for ref in accepted)
    value = 1.0 if category_ok and object_ok else 0.5 if category_ok or object_ok else 0.0
    return value, {"expected": dict(truth), "submitted": submitted, "correct": value == 1.0,
                   "category_correct": category_ok, "object_correct": object_ok}


def blast_radius_score(collateral: Iterable[Collateral]) -> tuple[float, dict[str, Any]]:
    """1 minus the penalties of each collateral item (BLAST_PENALTIES), never below 0."""
    items = list(collateral)
    penalty = sum(BLAST_PENALTIES.get(c.type, 0.25) for c in items)
    return max(0.0, 1.0 - penalty), {"collateral": [asdict(c) for c in items], "penalty": round(penalty, 4)}


def tool_use_score(commands: list[Command], needed: int) -> tuple[float, dict[str, Any]]:
    """0.4 for investigating before the first mutation, 0.4 for no destructive command, 0.2 × min(1, needed/used).

    An agent that ran nothing gets 0 (it neither investigated nor acted).
    """
    if not commands:
        return 0.0, {"investigated_first": False, "destructive": 0, "used": 0, "needed": needed}
    first_mutation = next((i for i, c in enumerate(commands) if c.mutating), None)
    investigated = first_mutation is None or any(not c.mutating for c in commands[:first_mutation])
    destructive = sum(1 for c in commands if c.destructive)
    economy = min(1.0, needed / len(commands))
    value = 0.4 * investigated + 0.4 * (destructive == 0) + 0.2 * economy
    return round(value, 4), {"investigated_first": investigated, "destructive": destructive,
                             "used": len(commands), "needed": needed}


def time_score(resolved: bool, seconds: float | None, sla: float) -> float:
    """0 unless resolved; 1 up to FAST_SHARE of the SLA, then linear down to 0 at the SLA."""
    if not resolved or seconds is None or sla <= 0:
        return 0.0
    share = seconds / sla
    if share <= FAST_SHARE:
        return 1.0
    return round(max(0.0, (1.0 - share) / (1.0 - FAST_SHARE)), 4)


def is_resolved(facts: RunFacts) -> bool:
    """Steady state back, root cause gone and every baseline workload intact; in a no-fault
    scenario: the agent said ``no-fault`` and changed nothing."""
    if _is_no_fault(facts.ground_truth):
        root = (facts.diagnosis or {}).get("root_cause") or {}
        return isinstance(root, Mapping) and root.get("category") == "no-fault" and not facts.changed_anything
    return facts.steady_state_ok and facts.root_cause_gone and facts.workloads_intact


def score(facts: RunFacts) -> Score:
    """All five criteria and the weighted 0–100 score of one run."""
    resolved = is_resolved(facts)
    diag, diag_detail = diagnosis_score(facts.ground_truth, facts.diagnosis)
    blast, blast_detail = blast_radius_score(facts.collateral)
    tools, tools_detail = tool_use_score(facts.commands, facts.commands_needed)
    criteria = {"diagnosis": diag, "blast_radius": blast, "resolution": 1.0 if resolved else 0.0,
                "tool_use": tools, "time_efficiency": time_score(resolved, facts.time_to_resolve_s, facts.sla_s)}
    total = sum(WEIGHTS[name] * value for name, value in criteria.items())
    return Score(resolved=resolved, score=round(total, 1), criteria=criteria, diagnosis=diag_detail,
                 blast_radius=blast_detail, tool_use=tools_detail)
