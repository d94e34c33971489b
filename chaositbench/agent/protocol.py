"""What an agent receives (the incident) and what it submits (the diagnosis), DESIGN §3.

Incident file (``CHAOSITBENCH_INCIDENT``)::

    {"complaint": "payments returns 502 since 10:42", "sla_s": 300,
     "deadline": "2026-11-25T14:30:00.000Z", "namespaces": ["payments", "db"],
     "prometheus_url": "http://127.0.0.1:9090"}

Diagnosis file (``CHAOSITBENCH_DIAGNOSIS``)::

    {"root_cause": {"category": "network-policy", "kind": "NetworkPolicy",
                    "namespace": "db", "name": "deny-all"},
     "summary": "...", "escalate": false}

``root_cause`` may be null only when ``escalate`` is true; ``kind``/``namespace``/``name`` may
be null (e.g. for the category ``no-fault``). Whether the category belongs to the fault
taxonomy is for the scoring to judge, not the schema.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

CATEGORY = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
ROOT_CAUSE_FIELDS = ("category", "kind", "namespace", "name")


class InvalidDiagnosis(ValueError):
    """A diagnosis that does not follow the schema."""


@dataclass(frozen=True)
class Incident:
    """The incident as handed to the agent."""

    complaint: str
    sla_s: float
    deadline: str
    namespaces: list[str]
    prometheus_url: str

    def write(self, path: str | Path) -> Path:
        target = Path(path)
        target.write_text(json.dumps(asdict(self), indent=2) + "\n")
        return target

    @classmethod
    def read(cls, path: str | Path) -> "Incident":
        data = json.loads(Path(path).read_text())
        return cls(complaint=data["complaint"], sla_s=float(data["sla_s"]), deadline=data["deadline"],
                   namespaces=list(data["namespaces"]), prometheus_url=data.get("prometheus_url", ""))


@dataclass(frozen=True)
class Diagnosis:
    """A submitted diagnosis."""

    root_cause: dict[str, str | None] | None
    summary: str = ""
    escalate: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"root_cause": self.root_cause, "summary": self.summary, "escalate": self.escalate}


def validate_diagnosis(data: Any) -> Diagnosis:
    """Check ``data`` (parsed JSON) against the diagnosis schema; raises InvalidDiagnosis naming the fault."""
    if not isinstance(data, dict):
        raise InvalidDiagnosis("the diagnosis must be a JSON object")
    unknown = set(data) - {"root_cause", "summary", "escalate"}
    if unknown:
        raise InvalidDiagnosis(f"unknown fields: {', '.join(sorted(unknown))}")
    escalate = data.get("escalate", False)
    if not isinstance(escalate, bool):
        raise InvalidDiagnosis("escalate must be true or false")
    summary = data.get("summary", "")
    if not isinstance(summary, str):
        raise InvalidDiagnosis("summary must be a string")
    root = data.get("root_cause")
    if root is None:
        if not escalate:
            raise InvalidDiagnosis("root_cause is required unless escalate is true")
        return Diagnosis(None, summary, escalate)
    if not isinstance(root, dict):
        raise InvalidDiagnosis("root_cause must be an object")
    unknown = set(root) - set(ROOT_CAUSE_FIELDS)
    if unknown:
        raise InvalidDiagnosis(f"unknown root_cause fields: {', '.join(sorted(unknown))}")
    category = root.get("category")
    if not isinstance(category, str) or not CATEGORY.match(category):
        raise InvalidDiagnosis("root_cause.category must be a lower-case, dash-separated taxonomy value")
    for key in ROOT_CAUSE_FIELDS[1:]:
        if root.get(key) is not None and not (isinstance(root[key], str) and root[key]):
            raise InvalidDiagnosis(f"root_cause.{key} must be a non-empty string or null")
    return Diagnosis({key: root.get(key) for key in ROOT_CAUSE_FIELDS}, summary, escalate)


def read_diagnosis(path: str | Path) -> Diagnosis | None:
    """The diagnosis written at ``path``, or None if none was written; raises InvalidDiagnosis."""
    target = Path(path)
    if not target.exists():
        return None
    try:
        data = json.loads(target.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidDiagnosis(f"not JSON: {exc}") from exc
    return validate_diagnosis(data)
