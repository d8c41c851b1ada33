"""HTML reports: executed notebooks rendered without code cells, and an index linking every cycle.

The index (``templates/report_index.html.j2``) shares its page shell and its cycle table with the status page.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sentiment_lib import rendering
from sentiment_lib.errors import DataValidationError
from sentiment_lib.io import append_csv_records, read_csv_records, read_json, write_json_atomic, write_text_atomic
from sentiment_lib.monitoring import staleness_chart
from sentiment_lib.monitoring.staleness_chart import StalenessChart
from sentiment_lib.workspace import CYCLE_FILE, EVENTS_FILE, HISTORY_FILE, INDEX_FILE, STATUS_FILE, VERDICT_FILE

log = logging.getLogger(__name__)
OFFLINE_TEMPLATE = Path(__file__).parent / "templates" / "offline_report.html.j2"
INDEX_TEMPLATE = "report_index.html.j2"


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


@dataclass(frozen=True)
class ReportLink:
    file: str  # the HTML report's name in its cycle folder
    title: str


@dataclass(frozen=True)
class CycleRow:
    """One loop cycle as the cycle table shows it (``templates/cycle_table.html.j2``): name and start, champion,
    verdict and reasons, actions, alerts, and its HTML reports."""

    name: str
    started: str
    champion: str
    status: str
    reasons: list[str]
    actions: list[str]
    alerts: list[str]
    reports: list[ReportLink]


def _lines(value: Any) -> list[str]:
    return [str(line) for line in value] if isinstance(value, list | tuple) else []


def cycle_row(cycle: dict, reports_dir: Path) -> CycleRow:
    """What the cycle table shows of one ``cycle.json`` (its reports are the HTML files in its folder)."""
    status = cycle.get("status") or ("failed" if cycle.get("failed_step") else "-")
    pages = sorted((reports_dir / cycle["cycle"]).glob("*.html"))
    return CycleRow(
        name=cycle["cycle"],
        started=cycle["started"][:19],
        champion=str(cycle.get("champion") or "-"),
        status=str(status),
        reasons=_lines(cycle.get("reasons")),
        actions=_lines(cycle.get("actions")),
        alerts=_lines(cycle.get("alerts")),
        reports=[ReportLink(page.name, page.stem) for page in pages],
    )


def cycle_rows(reports_dir: str | Path, limit: int | None = None) -> list[CycleRow]:
    """The newest ``limit`` (or every) loop cycle of ``reports_dir`` as rows of the cycle table."""
    return [cycle_row(c, Path(reports_dir)) for c in cycle_summaries(reports_dir)[:limit]]


def history_chart(reports_dir: str | Path) -> StalenessChart | None:
    """The staleness history chart of ``reports_dir``, with its events; None before the first check."""
    history = staleness_chart.read_history(Path(reports_dir) / HISTORY_FILE)
    try:
        events = read_events(reports_dir)
    except DataValidationError:
        events = []  # the chart without its markers beats no chart
    return staleness_chart.build(history, events)


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
    steps = [(name, r) for name, records in _step_records(folders) for r in sorted(records, key=lambda r: r.started)]
    page = rendering.render(
        INDEX_TEMPLATE,
        chart=history_chart(reports_dir),
        cycles=[cycle_row(c, reports_dir) for c in _cycle_summaries(folders)],
        steps=steps,
    )
    return write_text_atomic(reports_dir / INDEX_FILE, page)
