"""HTML reports: executed notebooks rendered without code cells, and an index linking every cycle."""

from __future__ import annotations

import html
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter

STATUS_FILE = "status.json"
INDEX_FILE = "index.html"


@dataclass
class StepRecord:
    """How one notebook of a cycle went, for the index page."""

    step: str
    status: str  # "ok" or "failed"
    seconds: float
    notebook: str
    html: str
    started: str = ""  # ISO 8601, UTC
    error: str = ""


def render_html(notebook_path: str | Path) -> Path:
    """Write ``<notebook>.html`` beside the executed notebook: outputs only, plots embedded."""
    notebook_path = Path(notebook_path)
    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nbformat.read(notebook_path, as_version=4))
    out = notebook_path.with_suffix(".html")
    out.write_text(body, encoding="utf-8")
    return out


def record_step(cycle_dir: str | Path, record: StepRecord) -> None:
    """Add (or replace) a step's record in the cycle's ``status.json``."""
    path = Path(cycle_dir) / STATUS_FILE
    records = [r for r in read_records(cycle_dir) if r.step != record.step]
    path.write_text(json.dumps([asdict(r) for r in [*records, record]], indent=2))


def read_records(cycle_dir: str | Path) -> list[StepRecord]:
    path = Path(cycle_dir) / STATUS_FILE
    return [StepRecord(**r) for r in json.loads(path.read_text())] if path.is_file() else []


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sentiment pipeline reports</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #222; }}
table {{ border-collapse: collapse; width: 100%; }} td, th {{ padding: .4rem .6rem; border-bottom: 1px solid #ddd;
text-align: left; }} .ok {{ color: #1e8449; }} .failed {{ color: #c0392b; font-weight: bold; }}
</style></head><body>
<h1>Sentiment pipeline reports</h1>
<p>One row per pipeline step, newest cycle first. Each link opens the executed notebook's report.</p>
<table><tr><th>cycle</th><th>started (UTC)</th><th>step</th><th>status</th><th>time</th><th>report</th></tr>
{rows}
</table></body></html>
"""


def _row(cycle: str, record: StepRecord) -> str:
    error = f"<br><small>{html.escape(record.error)}</small>" if record.error else ""
    link = f'<a href="{html.escape(cycle)}/{html.escape(record.html)}">{html.escape(record.html)}</a>'
    return (
        f"<tr><td>{html.escape(cycle)}</td><td>{html.escape(record.started[:19])}</td><td>{html.escape(record.step)}</td>"
        f'<td class="{record.status}">{record.status}{error}</td><td>{record.seconds:.0f} s</td><td>{link}</td></tr>'
    )


def write_index(reports_dir: str | Path) -> Path:
    """(Re)write ``reports/index.html`` from every cycle folder's ``status.json``."""
    reports_dir = Path(reports_dir)
    cycles = [(d.name, read_records(d)) for d in reports_dir.iterdir() if (d / STATUS_FILE).is_file()]
    # newest cycle first, its steps in the order they ran
    cycles.sort(key=lambda cycle: min(r.started for r in cycle[1]), reverse=True)
    rows = [_row(name, r) for name, records in cycles for r in sorted(records, key=lambda r: r.started)]
    path = reports_dir / INDEX_FILE
    path.write_text(_PAGE.format(rows="\n".join(rows) or "<tr><td colspan=6>No cycle has run yet.</td></tr>"))
    return path
