"""The runs of a bench: every experiment × agent × repeat, each with its own output directory."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from chaoslib.exceptions import ActivityFailed

from ..agent.controller import agent_argv


class PlanError(ValueError):
    """The bench cannot be planned (no experiments, an unreadable experiment, a bad argument)."""


@dataclass(frozen=True)
class Run:
    """One ``chaos run`` of ``experiment`` with ``agent``: repeat number ``repeat`` (1-based)."""

    experiment: Path
    scenario: str
    agent: str
    repeat: int
    directory: Path

    @property
    def score_path(self) -> Path:
        return self.directory / "score.json"

    @property
    def journal_path(self) -> Path:
        return self.directory / "journal.json"

    @property
    def log_path(self) -> Path:
        return self.directory / "chaos.log"

    @property
    def label(self) -> str:
        return f"{self.scenario} × {self.agent} #{self.repeat}"


def _slug(agent: str) -> str:
    """A directory name for an agent (``command:./a.sh --x`` → ``command-a.sh-x``)."""
    return re.sub(r"[^A-Za-z0-9._]+", "-", agent).strip("-") or "agent"


def experiments_in(directory: Path, only: list[str] | None = None) -> list[Path]:
    """The experiments of ``directory`` (``*.json``, sorted), restricted to the scenario ids ``only``."""
    if not directory.is_dir():
        raise PlanError(f"experiments directory {directory} does not exist")
    found = sorted(directory.glob("*.json"))
    if only:
        unknown = sorted(set(only) - {p.stem for p in found})
        if unknown:
            raise PlanError(f"unknown scenario(s) {', '.join(unknown)} in {directory} "
                            f"(known: {', '.join(p.stem for p in found) or 'none'})")
        found = [p for p in found if p.stem in only]
    if not found:
        raise PlanError(f"no experiments (*.json) in {directory}")
    for path in found:
        try:
            json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise PlanError(f"{path}: not a readable JSON experiment: {exc}") from exc
    return found


def plan(experiments: list[Path], agents: list[str], repeat: int, out: Path) -> list[Run]:
    """Every run, scenario-major (so that early results cover every agent), each in ``out/runs/...``."""
    if repeat < 1:
        raise PlanError(f"--repeat must be 1 or more, not {repeat}")
    if not agents:
        raise PlanError("give at least one --agent")
    if len(set(agents)) != len(agents):
        raise PlanError("the same --agent is given twice")
    for agent in agents:
        try:
            agent_argv(agent)
        except ActivityFailed as exc:
            raise PlanError(str(exc)) from None
    slugs = [_slug(a) for a in agents]
    if len(set(slugs)) != len(slugs):
        raise PlanError(f"agents {', '.join(agents)} would share an output directory; name them differently")
    return [Run(experiment, experiment.stem, agent, k, out / "runs" / experiment.stem / slug / str(k))
            for experiment in experiments for k in range(1, repeat + 1) for agent, slug in zip(agents, slugs)]
