"""Label and field selectors, parsed and matched as the API server does."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from .errors import bad_request

_KEY = r"[A-Za-z0-9][-A-Za-z0-9_./]*"
_TOKEN = re.compile(
    r"\s*(?:(?P<not>!)\s*(?P<nkey>%s)|(?P<key>%s)\s*(?:(?P<op>==|=|!=)\s*(?P<val>[-A-Za-z0-9_.]*)"
    r"|\s+(?P<setop>in|notin)\s*\((?P<set>[^)]*)\))?)\s*(?:,|$)" % (_KEY, _KEY)
)


@dataclass(frozen=True)
class Requirement:
    """One label requirement: ``key op values``."""

    key: str
    op: str  # In, NotIn, Exists, DoesNotExist
    values: frozenset[str] = frozenset()

    def matches(self, labels: dict[str, str]) -> bool:
        if self.op == "Exists":
            return self.key in labels
        if self.op == "DoesNotExist":
            return self.key not in labels
        if self.op == "In":
            return self.key in labels and labels[self.key] in self.values
        if self.op == "NotIn":
            return self.key not in labels or labels[self.key] not in self.values
        if self.op in ("Gt", "Lt"):  # node affinity only
            try:
                have, want = int(labels[self.key]), int(next(iter(self.values)))
            except (KeyError, ValueError, StopIteration):
                return False
            return have > want if self.op == "Gt" else have < want
        return False


@dataclass(frozen=True)
class LabelSelector:
    """A conjunction of requirements; the empty selector matches everything."""

    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False  # a null selector in some APIs selects nothing

    def matches(self, labels: dict[str, str] | None) -> bool:
        if self.nothing:
            return False
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements and not self.nothing


def parse_label_selector(text: str | None) -> LabelSelector:
    """Parse the ``labelSelector`` query syntax (``a=b,c!=d,e in (x,y),!f``)."""
    if not text or not text.strip():
        return LabelSelector()
    reqs: list[Requirement] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise bad_request(f'unable to parse requirement: found \'{text[pos:pos + 1]}\', expected: identifier')
        pos = m.end()
        if m.group("nkey"):
            reqs.append(Requirement(m.group("nkey"), "DoesNotExist"))
        elif m.group("op"):
            op = "NotIn" if m.group("op") == "!=" else "In"
            reqs.append(Requirement(m.group("key"), op, frozenset([m.group("val")])))
        elif m.group("setop"):
            values = frozenset(v.strip() for v in m.group("set").split(",") if v.strip())
            reqs.append(Requirement(m.group("key"), "In" if m.group("setop") == "in" else "NotIn", values))
        else:
            reqs.append(Requirement(m.group("key"), "Exists"))
    return LabelSelector(tuple(reqs))


def selector_from_object(sel: dict[str, Any] | None, *, null_matches_nothing: bool = False) -> LabelSelector:
    """Build a selector from a ``metav1.LabelSelector`` (matchLabels, matchExpressions)."""
    if sel is None:
        return LabelSelector(nothing=null_matches_nothing)
    reqs = [Requirement(k, "In", frozenset([v])) for k, v in (sel.get("matchLabels") or {}).items()]
    for expr in sel.get("matchExpressions") or []:
        reqs.append(Requirement(expr.get("key", ""), expr.get("operator", ""), frozenset(expr.get("values") or [])))
    return LabelSelector(tuple(reqs))


def selector_from_map(labels: dict[str, str] | None) -> LabelSelector:
    """A Service/ReplicationController style ``selector`` map; empty selects nothing."""
    if not labels:
        return LabelSelector(nothing=True)
    return LabelSelector(tuple(Requirement(k, "In", frozenset([v])) for k, v in labels.items()))


def selector_to_string(sel: dict[str, Any] | None) -> str:
    """Render a ``metav1.LabelSelector`` in query syntax (for Scale status and printing)."""
    if not sel:
        return ""
    parts = [f"{k}={v}" for k, v in sorted((sel.get("matchLabels") or {}).items())]
    for expr in sel.get("matchExpressions") or []:
        op, key, values = expr.get("operator"), expr.get("key"), ",".join(sorted(expr.get("values") or []))
        parts.append({"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})",
                      "Exists": key, "DoesNotExist": f"!{key}"}.get(op, key))
    return ",".join(parts)


# --- field selectors ---------------------------------------------------------

_COMMON_FIELDS = ("metadata.name", "metadata.namespace")
_EVENT_FIELDS = ("involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
                 "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
                 "reason", "reportingComponent", "source", "type")
#: Fields each kind supports in ``fieldSelector`` besides metadata.name/namespace.
SUPPORTED_FIELDS: dict[str, tuple[str, ...]] = {
    "/pods": ("spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
              "spec.hostNetwork", "status.phase", "status.podIP", "status.podIPs", "status.nominatedNodeName"),
    "/events": _EVENT_FIELDS,
    "/secrets": ("type",),
    "/nodes": ("spec.unschedulable",),
    "/namespaces": ("status.phase",),
    "/replicationcontrollers": ("status.replicas",),
    "apps/replicasets": ("status.replicas",),
    "batch/jobs": ("status.successful",),
    "certificates.k8s.io/certificatesigningrequests": ("spec.signerName",),
}


def _field_value(obj: dict[str, Any], path: str) -> str:
    if path == "source":
        return (obj.get("source") or {}).get("component", "")
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return "false" if path in ("spec.unschedulable", "spec.hostNetwork") else ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    if isinstance(cur, list):  # status.podIPs
        return ",".join(str(i.get("ip", i)) if isinstance(i, dict) else str(i) for i in cur)
    return str(cur)


def parse_field_selector(text: str | None, storage_key: str) -> Callable[[dict[str, Any]], bool]:
    """Parse ``fieldSelector`` for a kind; unsupported fields are a 400 as in reality."""
    if not text or not text.strip():
        return lambda obj: True
    allowed = _COMMON_FIELDS + SUPPORTED_FIELDS.get(storage_key, ())
    terms: list[tuple[str, bool, str]] = []
    for raw in text.split(","):
        raw = raw.strip()
        if not raw:
            continue
        m = re.fullmatch(r"([^=!]+?)\s*(==|=|!=)\s*(.*)", raw)
        if not m:
            raise bad_request(f'invalid selector: \'{raw}\'; can\'t understand \'{raw}\'')
        field, op, value = m.group(1), m.group(2), m.group(3)
        if field not in allowed:
            raise bad_request(f"field label not supported: {field}")
        terms.append((field, op != "!=", value))

    def match(obj: dict[str, Any]) -> bool:
        return all((_field_value(obj, f) == v) == eq for f, eq, v in terms)

    return match


def field_selector_names(text: str | None) -> str | None:
    """The name fixed by ``metadata.name=X`` in a field selector, if any (fast path)."""
    if not text:
        return None
    for raw in text.split(","):
        m = re.fullmatch(r"\s*metadata\.name\s*(?:==|=)\s*(\S+)\s*", raw)
        if m:
            return m.group(1)
    return None
