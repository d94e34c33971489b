"""The fault catalog (``actions/*.yaml``): loading and validating entries.

The schema is documented in ``actions/README.md``. Loading never touches a cluster, so a
malformed entry is refused before anything is changed; every error names the file and field.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration

from .taxonomy import CATEGORIES, is_category

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "actions"
DIFFICULTIES = ("easy", "medium", "hard")
PATCH_TYPES = {"strategic": "application/strategic-merge-patch+json",
               "merge": "application/merge-patch+json",
               "json": "application/json-patch+json"}
CHANGE_OPS = ("create", "patch", "delete", "scale", "node")
SYMPTOM_CHECKS = ("pods-not-ready", "container-reason", "node-condition", "event", "slo-violated", "none")
#: the ground-truth category of a scenario where nothing is broken
NO_FAULT = "no-fault"


@dataclass(frozen=True)
class ObjectRef:
    """One object of the cluster (namespace None for cluster-scoped kinds)."""

    kind: str
    namespace: str | None
    name: str

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "namespace": self.namespace, "name": self.name}


@dataclass(frozen=True)
class GroundTruth:
    """What really broke: the root cause an agent's diagnosis is scored against."""

    category: str
    object: ObjectRef | None  # None only for no-fault: nothing is the root cause
    propagation: tuple[str, ...]
    alias_categories: tuple[str, ...]
    alias_objects: tuple[ObjectRef, ...]


@dataclass(frozen=True)
class Fault:
    """One validated catalog entry."""

    id: str
    title: str
    headline: str
    family: str
    difficulty: str
    app: str
    namespaces: tuple[str, ...]
    complaint: str
    sla_seconds: int
    symptom: dict[str, Any]
    ground_truth: GroundTruth
    changes: tuple[dict[str, Any], ...]
    path: Path
    distractors: tuple[dict[str, Any], ...] = ()  # harmless failing objects created next to the fault
    distractor_symptom: dict[str, Any] | None = None  # the check that proves the distractors are visible

    @property
    def no_fault(self) -> bool:
        """Whether nothing is broken: the right answer is to change nothing."""
        return self.ground_truth.category == NO_FAULT


def catalog_dir(configuration: Configuration | None = None) -> Path:
    """The catalog directory: ``chaositbench_actions_dir``, ``CHAOSITBENCH_ACTIONS_DIR`` or ``actions/``."""
    value = (configuration or {}).get("chaositbench_actions_dir") or os.environ.get("CHAOSITBENCH_ACTIONS_DIR")
    return Path(value) if value else DEFAULT_DIR


def fault_ids(directory: Path) -> list[str]:
    """The ids of every entry in the catalog directory, sorted."""
    return sorted(p.stem for p in directory.glob("*.yaml"))


def load_fault(fault: str, configuration: Configuration | None = None) -> Fault:
    """Load and validate catalog entry ``fault`` (ActivityFailed: unknown id or schema error)."""
    directory = catalog_dir(configuration)
    path = directory / f"{fault}.yaml"
    if not fault or "/" in fault or not path.is_file():
        known = ", ".join(fault_ids(directory)) or "none"
        raise ActivityFailed(f"unknown fault {fault!r} in catalog {directory} (known faults: {known})")
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ActivityFailed(f"{path}: not valid YAML: {exc}") from exc
    return _Validator(path).fault(doc, fault)


class _Validator:
    """Schema checks of one file; every error names the file and the field path."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, field: str, problem: str) -> ActivityFailed:
        return ActivityFailed(f"{self.path}: field {field}: {problem}")

    def get(self, doc: Any, field: str, key: str, kind: type | tuple[type, ...], required: bool = True) -> Any:
        if not isinstance(doc, dict):
            raise self.fail(field, "must be a mapping")
        where = f"{field}.{key}" if field else key
        if key not in doc:
            if required:
                raise self.fail(where, "is required")
            return None
        value = doc[key]
        if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
            names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise self.fail(where, f"must be a {names}, not {type(value).__name__}")
        return value

    def ref(self, doc: Any, field: str) -> ObjectRef:
        return ObjectRef(kind=self.get(doc, field, "kind", str), namespace=self.get(doc, field, "namespace", str, False),
                         name=self.get(doc, field, "name", str))

    def fault(self, doc: Any, fault: str) -> Fault:
        if not isinstance(doc, dict):
            raise self.fail("(document)", "must be a mapping")
        if self.get(doc, "", "id", str) != fault:
            raise self.fail("id", f"must equal the file name ({fault!r}), not {doc['id']!r}")
        difficulty = self.get(doc, "", "difficulty", str)
        if difficulty not in DIFFICULTIES:
            raise self.fail("difficulty", f"must be one of {', '.join(DIFFICULTIES)}, not {difficulty!r}")
        namespaces = self.get(doc, "", "namespaces", list)
        if not namespaces or not all(isinstance(n, str) and n for n in namespaces):
            raise self.fail("namespaces", "must be a non-empty list of namespace names")
        sla = self.get(doc, "", "sla_seconds", int)
        if sla <= 0:
            raise self.fail("sla_seconds", "must be greater than 0")
        truth = self.ground_truth(self.get(doc, "", "ground_truth", dict))
        no_fault = truth.category == NO_FAULT
        changes = self.get(doc, "", "changes", list)
        if no_fault and changes:
            raise self.fail("changes", f"must be empty when ground_truth.category is {NO_FAULT} (nothing is "
                                       "broken); put harmless failing objects under distractors")
        if not no_fault and not changes:
            raise self.fail("changes", f"must not be empty (only a {NO_FAULT} entry changes nothing)")
        checked = tuple(self.change(c, f"changes[{i}]", namespaces) for i, c in enumerate(changes))
        distractors = self.get(doc, "", "distractors", list, False) or []
        noise = tuple(self.distractor(d, f"distractors[{i}]", namespaces) for i, d in enumerate(distractors))
        symptom = self.symptom(self.get(doc, "", "symptom", dict), "symptom")
        if symptom["check"] == "none" and not no_fault:
            raise self.fail("symptom.check", f"none is only for a {NO_FAULT} entry: a fault must show")
        shown = self.get(doc, "", "distractor_symptom", dict, False)
        if (shown is None) != (not noise):
            raise self.fail("distractor_symptom", "is required with distractors, and only with them")
        if shown is not None and self.symptom(shown, "distractor_symptom")["check"] == "none":
            raise self.fail("distractor_symptom.check", "must be a check that shows the distractors, not none")
        return Fault(id=fault, title=self.get(doc, "", "title", str), headline=self.get(doc, "", "headline", str),
                     family=self.get(doc, "", "family", str),
                     difficulty=difficulty, app=self.get(doc, "", "app", str), namespaces=tuple(namespaces),
                     complaint=self.get(doc, "", "complaint", str), sla_seconds=sla,
                     symptom=symptom, ground_truth=truth, changes=checked, path=self.path, distractors=noise,
                     distractor_symptom=shown)

    def ground_truth(self, doc: dict[str, Any]) -> GroundTruth:
        category = self.get(doc, "ground_truth", "category", str)
        if not is_category(category):
            raise self.fail("ground_truth.category", f"{category!r} is not in the taxonomy "
                                                     f"({', '.join(CATEGORIES)})")
        propagation = self.get(doc, "ground_truth", "propagation", list)
        if not all(isinstance(step, str) for step in propagation):
            raise self.fail("ground_truth.propagation", "must be a list of strings")
        aliases = self.get(doc, "ground_truth", "aliases", dict, False) or {}
        categories = self.get(aliases, "ground_truth.aliases", "categories", list, False) or []
        for i, alias in enumerate(categories):
            if not is_category(alias):
                raise self.fail(f"ground_truth.aliases.categories[{i}]", f"{alias!r} is not in the taxonomy")
        objects = self.get(aliases, "ground_truth.aliases", "objects", list, False) or []
        if category == NO_FAULT and "object" in doc:
            raise self.fail("ground_truth.object", f"must be left out when the category is {NO_FAULT}")
        root = None if category == NO_FAULT else self.ref(self.get(doc, "ground_truth", "object", dict),
                                                          "ground_truth.object")
        return GroundTruth(category=category, object=root,
                           propagation=tuple(propagation), alias_categories=tuple(categories),
                           alias_objects=tuple(self.ref(o, f"ground_truth.aliases.objects[{i}]")
                                               for i, o in enumerate(objects)))

    def symptom(self, doc: dict[str, Any], field: str) -> dict[str, Any]:
        check = self.get(doc, field, "check", str)
        if check not in SYMPTOM_CHECKS:
            raise self.fail(f"{field}.check", f"must be one of {', '.join(SYMPTOM_CHECKS)}, not {check!r}")
        if check == "none":
            if len(doc) > 1:
                raise self.fail(field, "check none takes no other field")
        elif check == "slo-violated":
            self.get(doc, field, "probe", str)
        elif check == "node-condition":
            self.node_selection(self.get(doc, field, "node", dict), f"{field}.node")
            self.get(doc, field, "type", str)
            self.get(doc, field, "status", str)
        elif check == "event":
            self.get(doc, field, "namespace", str)
            self.get(doc, field, "reason", str)
            self.get(doc, field, "message", str, False)
        else:
            self.get(doc, field, "namespace", str)
            self.get(doc, field, "selector", str)
            if check == "container-reason":
                self.get(doc, field, "reason", str)
        return doc

    def node_selection(self, doc: dict[str, Any], field: str) -> None:
        if ("labels" in doc) == ("pod" in doc):
            raise self.fail(field, "must give exactly one of labels (a label selector string) or pod "
                                   "(namespace and selector of a pod whose node is meant)")
        if "labels" in doc:
            self.get(doc, field, "labels", str)
            self.get(doc, field, "all", bool, False)
        else:
            pod = self.get(doc, field, "pod", dict)
            self.get(pod, f"{field}.pod", "namespace", str)
            self.get(pod, f"{field}.pod", "selector", str)

    def distractor(self, doc: Any, field: str, namespaces: list[str]) -> dict[str, Any]:
        if not isinstance(doc, dict) or list(doc) != ["create"]:
            raise self.fail(field, "must be a mapping with exactly create: a distractor is a harmless object of "
                                   "its own, never a change to the app")
        return self.change(doc, field, namespaces)

    def change(self, doc: Any, field: str, namespaces: list[str]) -> dict[str, Any]:
        if not isinstance(doc, dict) or len(doc) != 1 or next(iter(doc)) not in CHANGE_OPS:
            raise self.fail(field, f"must be a mapping with exactly one of {', '.join(CHANGE_OPS)}")
        op, body = next(iter(doc.items()))
        where = f"{field}.{op}"
        if not isinstance(body, dict):
            raise self.fail(where, "must be a mapping")
        if op == "node":
            self.node_selection(self.get(body, where, "select", dict), f"{where}.select")
            for key, kind in (("conditions", list), ("taints", list), ("labels", dict), ("annotations", dict),
                              ("unschedulable", bool)):
                self.get(body, where, key, kind, False)
            for i, cond in enumerate(body.get("conditions") or []):
                for key in ("type", "status"):
                    self.get(cond, f"{where}.conditions[{i}]", key, str)
            if not any(body.get(k) for k in ("conditions", "taints", "labels", "annotations")) \
                    and "unschedulable" not in body:
                raise self.fail(where, "changes nothing (give conditions, taints, labels, annotations or "
                                       "unschedulable)")
            return doc
        if op == "create":
            manifest = self.get(body, where, "manifest", dict)
            meta = self.get(manifest, f"{where}.manifest", "metadata", dict)
            self.get(manifest, f"{where}.manifest", "apiVersion", str)
            self.get(manifest, f"{where}.manifest", "kind", str)
            self.get(meta, f"{where}.manifest.metadata", "name", str)
            namespace = self.get(meta, f"{where}.manifest.metadata", "namespace", str)
        else:
            self.get(body, where, "apiVersion", str)
            self.get(body, where, "kind", str)
            self.get(body, where, "name", str)
            namespace = self.get(body, where, "namespace", str)
        if namespace not in namespaces:
            raise self.fail(where, f"namespace {namespace!r} is not in the fault's namespaces ({', '.join(namespaces)})")
        if op == "patch":
            patch_type = self.get(body, where, "type", str)
            if patch_type not in PATCH_TYPES:
                raise self.fail(f"{where}.type", f"must be one of {', '.join(PATCH_TYPES)}, not {patch_type!r}")
            self.get(body, where, "patch", list if patch_type == "json" else dict)
        elif op == "scale":
            if self.get(body, where, "replicas", int) < 0:
                raise self.fail(f"{where}.replicas", "must be 0 or more")
        return doc
