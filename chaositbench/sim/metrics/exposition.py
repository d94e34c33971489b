"""The Prometheus text exposition format, version 0.0.4.

A :class:`Family` is one metric name with its HELP, TYPE and samples;
:func:`render` writes families as Prometheus scrapes them. Label values are
escaped (backslash, double quote, newline), HELP text too (backslash, newline).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


def escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


@dataclass
class Family:
    """One metric family: ``name`` with its help, type and samples (suffix, labels, value)."""

    name: str
    help: str
    type: str
    samples: list[tuple[str, dict[str, str], float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"unknown metric type {self.type!r}")

    def add(self, labels: dict[str, str], value: float, suffix: str = "") -> "Family":
        self.samples.append((suffix, labels, value))
        return self

    def histogram(self, labels: dict[str, str], buckets: Iterable[float], counts: list[float], total: float,
                  count: float) -> "Family":
        """Add one histogram series: cumulative ``counts`` per upper bound (then +Inf), ``_sum`` and ``_count``."""
        for bound, cumulative in zip(buckets, counts):
            self.add({**labels, "le": format_value(bound)}, cumulative, "_bucket")
        self.add({**labels, "le": "+Inf"}, count, "_bucket")
        self.add(labels, total, "_sum")
        self.add(labels, count, "_count")
        return self


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{escape_label(str(v))}"' for k, v in labels.items()) + "}"


def render(families: Iterable[Family]) -> str:
    """The exposition text of ``families`` (families without samples still declare HELP and TYPE)."""
    lines: list[str] = []
    for family in families:
        lines.append(f"# HELP {family.name} {escape_help(family.help)}")
        lines.append(f"# TYPE {family.name} {family.type}")
        for suffix, labels, value in family.samples:
            lines.append(f"{family.name}{suffix}{_labels(labels)} {format_value(value)}")
    return "\n".join(lines) + "\n"
