"""HTML reports: executed notebooks rendered without code cells, and an index linking every cycle."""

from __future__ import annotations

import html
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from sentiment_lib.errors import DataValidationError
from sentiment_lib.io import append_csv_records, read_csv_records, read_json, write_json_atomic, write_text_atomic
from sentiment_lib.workspace import CYCLE_FILE, EVENTS_FILE, HISTORY_PLOT, INDEX_FILE, STATUS_FILE, VERDICT_FILE

log = logging.getLogger(__name__)
OFFLINE_TEMPLATE = Path(__file__).parent / "templates" / "offline_report.html.j2"


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
    import nbformat  # here: the API reads reports (its status page) but never renders one
    from nbconvert import HTMLExporter

    notebook_path = Path(notebook_path)
    exporter = HTMLExporter(
        template_file=str(OFFLINE_TEMPLATE),  # no scripts from a CDN: a report must open offline
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    body, _ = exporter.from_notebook_node(nbformat.read(notebook_path, as_version=4))
    return write_text_atomic(notebook_path.with_suffix(".html"), body)


def record_step(cycle_dir: str | Path, record: StepRecord) -> None:
    """Add (or replace) a step's record in the cycle's ``status.json`` (a damaged one is started afresh)."""
    records = [r for r in _readable(read_records, Path(cycle_dir)) or [] if r.step != record.step]
    write_json_atomic(Path(cycle_dir) / STATUS_FILE, [asdict(r) for r in [*records, record]])


def read_records(cycle_dir: str | Path) -> list[StepRecord]:
    return [StepRecord(**r) for r in read_json(Path(cycle_dir) / STATUS_FILE, [])]


_EVENT_COLUMNS = ("time", "event", "model_version")


def append_event(reports_dir: str | Path, time: str, event: str, version: str) -> None:
    """Record a retrain, promotion or rejection for the staleness plot (``reports/events.csv``)."""
    header = (",".join(_EVENT_COLUMNS) + "\n").encode()
    append_csv_records(Path(reports_dir) / EVENTS_FILE, f"{time},{event},{version}\n".encode(), header)


def read_events(reports_dir: str | Path) -> list[dict[str, str]]:
    """The events :func:`append_event` recorded, oldest first (empty before the first retrain)."""
    path = Path(reports_dir) / EVENTS_FILE
    if not path.is_file() or path.stat().st_size == 0:
        return []
    frame, _ = read_csv_records(path, f"The event log {path}")
    return frame.to_dict("records")


def read_cycle(cycle_dir: str | Path) -> dict | None:
    return read_json(Path(cycle_dir) / CYCLE_FILE, None)


def write_cycle(cycle_dir: str | Path, summary: dict) -> Path:
    """What a loop cycle saw and did (``<cycle>/cycle.json``), for the index page."""
    return write_json_atomic(Path(cycle_dir) / CYCLE_FILE, summary)


def latest_verdict(reports_dir: str | Path) -> tuple[Path, dict] | None:
    """The newest cycle's ``verdict.json`` (cycle folders are named by their start time) and its content.

    Raises:
        DataValidationError: that file is not valid JSON, or not a verdict.
    """
    paths = sorted(Path(reports_dir).glob(f"*/{VERDICT_FILE}"), key=lambda p: p.parent.name)
    if not paths:
        return None
    verdict = read_json(paths[-1], None)
    if not isinstance(verdict, dict) or not isinstance(verdict.get("status"), str):
        raise DataValidationError(f"{paths[-1]} is not a verdict (no status)")
    return paths[-1], verdict


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>Sentiment pipeline reports</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; color: #222; }}
table {{ border-collapse: collapse; width: 100%; margin-bottom: 2rem; }}
td, th {{ padding: .4rem .6rem; border-bottom: 1px solid #ddd; text-align: left; vertical-align: top; }}
.ok, .healthy {{ color: #1e8449; }} .failed, .degraded {{ color: #c0392b; font-weight: bold; }}
.stale {{ color: #b9770e; font-weight: bold; }} ul {{ margin: 0; padding-left: 1.1rem; }} small {{ color: #555; }}
</style></head><body>
<h1>Sentiment pipeline reports</h1>
{history}
<h2>Cycles of the loop</h2>
<p>One row per <code>runner.py once</code>/<code>loop</code>/<code>replay</code> cycle, newest first: the champion
it judged, the verdict with its reasons, what the cycle did and which alerts went out.</p>
<table><tr><th>cycle</th><th>champion</th><th>verdict</th><th>what happened</th><th>alerts</th><th>reports</th></tr>
{cycles}
</table>
<h2>Notebook steps</h2>
<p>One row per pipeline step, newest cycle first. Each link opens the executed notebook's report.</p>
<table><tr><th>cycle</th><th>started (UTC)</th><th>step</th><th>status</th><th>time</th><th>report</th></tr>
{rows}
</table></body></html>
"""


def html_list(lines: list[str]) -> str:
    """``lines`` as an HTML bullet list, escaped (empty for none)."""
    return "<ul>" + "".join(f"<li>{html.escape(str(line))}</li>" for line in lines) + "</ul>" if lines else ""


def cycle_row(cycle: dict, reports_dir: Path, prefix: str = "") -> str:
    """One loop cycle as a table row: name and start, champion, verdict and reasons, actions, alerts, and a
    link to each of its HTML reports (``prefix`` + ``<cycle>/<step>.html``: the index page and the status
    page sit at different places relative to ``reports/``)."""
    status = cycle.get("status") or ("failed" if cycle.get("failed_step") else "-")
    verdict = f'<span class="{html.escape(status)}">{html.escape(status)}</span>{html_list(cycle.get("reasons", []))}'
    name = html.escape(cycle["cycle"])
    links = " ".join(
        f'<a href="{html.escape(prefix)}{name}/{html.escape(page.name)}">{html.escape(page.stem)}</a>'
        for page in sorted((reports_dir / cycle["cycle"]).glob("*.html"))
    )
    return (
        f'<tr class="cycle"><td>{name}<br><small>{html.escape(cycle["started"][:19])}</small></td>'
        f"<td>{html.escape(cycle.get('champion') or '-')}</td><td>{verdict}</td>"
        f"<td>{html_list(cycle.get('actions', []))}</td><td>{html_list(cycle.get('alerts', []))}</td>"
        f"<td>{links or '-'}</td></tr>"
    )


def _row(cycle: str, record: StepRecord) -> str:
    error = f"<br><small>{html.escape(record.error)}</small>" if record.error else ""
    link = f'<a href="{html.escape(cycle)}/{html.escape(record.html)}">{html.escape(record.html)}</a>'
    return (
        f"<tr><td>{html.escape(cycle)}</td><td>{html.escape(record.started[:19])}</td><td>{html.escape(record.step)}</td>"
        f'<td class="{record.status}">{record.status}{error}</td><td>{record.seconds:.0f} s</td><td>{link}</td></tr>'
    )


def _history(reports_dir: Path) -> str:
    if not (reports_dir / HISTORY_PLOT).is_file():
        return ""
    return (
        "<h2>Staleness history</h2><p>Accuracy on recent feedback, drift, estimated accuracy and model age at "
        "each staleness check, with their thresholds; vertical lines mark retrains and gate decisions.</p>"
        f'<img src="{HISTORY_PLOT}" alt="staleness history" style="max-width: 100%">'
    )


def _readable(read, folder: Path):
    """``read(folder)``, or None (logged) when the folder's file is damaged: one broken cycle folder, for
    example a file cut short by a full disk, must not take the index of every other cycle down."""
    try:
        return read(folder)
    except (DataValidationError, KeyError, TypeError, AttributeError) as err:
        log.warning("Skipped the damaged report folder %s in the index: %s", folder, err)
        return None


def cycle_summaries(reports_dir: str | Path) -> list[dict]:
    """Every loop cycle's ``cycle.json``, newest first; damaged ones are skipped (and logged)."""
    reports_dir = Path(reports_dir)
    return _cycle_summaries([d for d in reports_dir.iterdir() if d.is_dir()] if reports_dir.is_dir() else [])


def _cycle_summaries(folders: list[Path]) -> list[dict]:
    cycles = [c for c in (_readable(read_cycle, d) for d in folders) if isinstance(c, dict) and _is_cycle(c)]
    return sorted(cycles, key=lambda c: c["started"], reverse=True)


def _is_cycle(cycle: dict) -> bool:
    return isinstance(cycle.get("cycle"), str) and isinstance(cycle.get("started"), str)


def _step_records(folders: list[Path]) -> list[tuple[str, list[StepRecord]]]:
    """Each cycle's step records, newest cycle first."""
    steps = [(d.name, _readable(read_records, d)) for d in folders if (d / STATUS_FILE).is_file()]
    steps = [(name, records) for name, records in steps if records]
    steps.sort(key=lambda cycle: min(r.started for r in cycle[1]), reverse=True)
    return steps


def write_index(reports_dir: str | Path) -> Path:
    """(Re)write ``reports/index.html``: the staleness history, every loop cycle, every notebook step.

    A damaged cycle folder is skipped (and logged), never fatal.
    """
    reports_dir = Path(reports_dir)
    reports_dir.mkdir(parents=True, exist_ok=True)
    folders = [d for d in reports_dir.iterdir() if d.is_dir()]
    cycles = _cycle_summaries(folders)
    steps = _step_records(folders)
    rows = [_row(name, r) for name, records in steps for r in sorted(records, key=lambda r: r.started)]
    path = reports_dir / INDEX_FILE
    page = _PAGE.format(
        history=_history(reports_dir),
        cycles="\n".join(cycle_row(c, reports_dir) for c in cycles)
        or "<tr><td colspan=6>No loop cycle has run yet.</td></tr>",
        rows="\n".join(rows) or "<tr><td colspan=6>No step has run yet.</td></tr>",
    )
    return write_text_atomic(path, page)
