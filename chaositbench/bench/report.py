"""The bench's console table and its self-contained ``report.html``."""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any

from .results import CRITERIA, scenario_matrix

SHORT = {"diagnosis": "diag", "blast_radius": "blast", "resolution": "resol", "tool_use": "tools",
         "time_efficiency": "time"}


def _fmt(value: float | None, percent: bool = False) -> str:
    if value is None:
        return "—"
    return f"{100 * value:.0f}%" if percent else f"{value:.2f}" if value <= 1 else f"{value:.1f}"


def _rows(results: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    ks = sorted({k for a in results["agents"] for k in a["pass_k"]}, key=int)
    header = ["agent", "valid/runs", "resolved", "mean score", *(SHORT[c] for c in CRITERIA),
              *(f"pass^{k}" for k in ks)]
    rows = [[a["agent"], f"{a['valid_runs']}/{a['runs']}", _fmt(a["resolution_rate"], percent=True),
             _fmt(a["mean_score"]), *(_fmt(a["criteria"][c]) for c in CRITERIA),
             *(_fmt(a["pass_k"].get(k), percent=True) for k in ks)] for a in results["agents"]]
    return header, rows


def table(results: dict[str, Any]) -> str:
    """The per-agent summary as an aligned plain-text table."""
    header, rows = _rows(results)
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()
    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def _link(path: str | None, out: Path, text: str) -> str:
    if not path:
        return ""
    target = os.path.relpath(path, out) if os.path.isabs(path) else path
    return f'<a href="{html.escape(target)}">{html.escape(text)}</a>'


def render_html(results: dict[str, Any], out: Path, title: str = "chaositbench bench") -> str:
    """``report.html``: the summary, the scenario × agent matrix and every run with links to its files."""
    e = html.escape
    header, rows = _rows(results)
    summary = "".join(f"<tr>{''.join(f'<td>{e(c)}</td>' for c in row)}</tr>" for row in rows)
    agents = [a["agent"] for a in results["agents"]]
    matrix = scenario_matrix(results)
    cells = []
    for scenario, by_agent in matrix.items():
        tds = []
        for agent in agents:
            cell = by_agent.get(agent)
            if not cell:
                tds.append("<td></td>")
                continue
            ok = cell["valid"] and cell["resolved"] == cell["valid"]
            tds.append(f'<td class="{"ok" if ok else "ko" if cell["valid"] else "na"}">{cell["resolved"]}/'
                       f'{cell["valid"]} resolved · {_fmt(cell["mean_score"])}</td>')
        cells.append(f"<tr><th>{e(scenario)}</th>{''.join(tds)}</tr>")
    runs = []
    for run in results["runs"]:
        status = ("invalid: " + str(run.get("reason", ""))) if not run.get("valid") else (
            "resolved" if run.get("resolved") else "not resolved")
        links = " ".join(filter(None, [_link(run.get("journal"), out, "journal"),
                                       _link(run.get("trajectory"), out, "trajectory"),
                                       _link(run.get("log"), out, "log")]))
        runs.append(f"<tr><td>{e(run['scenario'])}</td><td>{e(run['agent'])}</td><td>{run.get('repeat', '')}</td>"
                    f"<td>{e(status)}</td><td>{e(_fmt(run.get('score')))}</td>"
                    f"<td>{run.get('wall_time_s', '')}</td><td>{links}</td></tr>")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; }}
table {{ border-collapse: collapse; margin-bottom: 2rem; }}
th, td {{ border: 1px solid #ccc; padding: .3rem .6rem; text-align: left; }}
td.ok {{ background: #e3f6e3; }} td.ko {{ background: #fbe3e3; }} td.na {{ background: #eee; }}
</style></head><body>
<h1>{e(title)}</h1>
<h2>Agents</h2>
<table><tr>{''.join(f'<th>{e(h)}</th>' for h in header)}</tr>{summary}</table>
<h2>Scenarios</h2>
<table><tr><th>scenario</th>{''.join(f'<th>{e(a)}</th>' for a in agents)}</tr>{''.join(cells)}</table>
<h2>Runs</h2>
<table><tr><th>scenario</th><th>agent</th><th>repeat</th><th>outcome</th><th>score</th><th>wall s</th>
<th>files</th></tr>{''.join(runs)}</table>
</body></html>
"""
