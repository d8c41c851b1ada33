"""The operator's page (``GET /`` and ``/status``): the champion, the loop's latest verdict, its history, its cycles.

Everything is read when the page is asked for, from what the loop already wrote under ``reports/`` (the
newest ``verdict.json``, ``staleness_history.csv``, ``events.csv``, each cycle's ``cycle.json``) and from the
model this process serves. The chart is inline SVG drawn here and the page reloads itself with a meta
refresh: no script, no CDN, so it works offline and in any browser.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from sentiment_lib import reports
from sentiment_lib.errors import DataValidationError
from sentiment_lib.formatting import fixed, percent, points
from sentiment_lib.io import CSV_READ_ERRORS
from sentiment_lib.reports import html_list
from sentiment_lib.tracking import model_card
from sentiment_lib.workspace import HISTORY_FILE, Workspace

REFRESH_SECONDS = 30
CYCLES_SHOWN = 20
# history column -> (legend, colour); thresholds are drawn dashed in the same colour
SERIES = {
    "performance": ("accuracy on new feedback", "#1f77b4"),
    "estimated_performance": ("estimated accuracy (no labels)", "#2ca02c"),
    "drift": ("drift AUC", "#d62728"),
}
EVENT_COLOURS = {"promoted": "#1e8449", "rejected": "#c0392b"}
NGRAMS_SHOWN = 10  # per side of the drift explanation
WIDTH, HEIGHT, MARGIN = 900, 320, 48

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,">
<meta http-equiv="refresh" content="{refresh}">
<title>Sentiment pipeline: status</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; color: #222; }}
table {{ border-collapse: collapse; width: 100%; margin-bottom: 1.5rem; }}
td, th {{ padding: .35rem .6rem; border-bottom: 1px solid #ddd; text-align: left; vertical-align: top; }}
.healthy, .ok {{ color: #1e8449; }} .degraded, .failed {{ color: #c0392b; font-weight: bold; }}
.stale {{ color: #b9770e; font-weight: bold; }} small {{ color: #555; }} ul {{ margin: 0; padding-left: 1.1rem; }}
svg text {{ font-size: 12px; fill: #333; }}
.explanation {{ display: flex; flex-wrap: wrap; align-items: flex-start; gap: 0 2rem; }}
.explanation table {{ width: auto; font-size: .9rem; }} .explanation td, .explanation th {{ padding: .15rem .5rem; }}
td.number {{ text-align: right; }}
</style></head><body>
<h1>Sentiment pipeline: status</h1>
<p><small>As of {now} UTC; this page reloads every {refresh} s.
<a href="reports/index.html">All reports</a> · <a href="metrics">Prometheus metrics</a> ·
<a href="model">model (JSON)</a></small></p>
<section id="champion"><h2>Champion</h2>{champion}</section>
<section id="verdict"><h2>Latest verdict</h2>{verdict}</section>
<section id="history"><h2>Staleness history</h2>{history}</section>
<section id="cycles"><h2>Last cycles</h2>{cycles}</section>
</body></html>
"""


def render(workspace: Workspace, model: Any) -> str:
    """The whole page; ``model`` is the served :class:`~sentiment_lib.serving.model_holder.LoadedModel` or None."""
    reports_dir = workspace.reports
    return _PAGE.format(
        refresh=REFRESH_SECONDS,
        now=datetime.now(UTC).isoformat(timespec="seconds")[:19],
        champion=champion_section(model),
        verdict=verdict_section(reports_dir),
        history=history_section(reports_dir),
        cycles=cycles_section(reports_dir),
    )


def _e(value: Any) -> str:
    return html.escape(str(value))


def _number(tags: dict[str, str], key: str, digits: int) -> str:
    try:
        return f"{float(tags[key]):.{digits}f}"
    except (KeyError, ValueError):
        return "-"


def champion_section(model: Any) -> str:
    if model is None:
        return "<p class='degraded'>No model is loaded (see <a href='health'>/health</a>).</p>"
    rows = "".join(
        f"<tr><td>{_e(name)}</td><td class='accuracy'>{_accuracy(model.tags, key)}</td>"
        f"<td>{_number(model.tags, f'{key}_ece', 3)}</td><td>{_confident_errors(model.tags, key)}</td>"
        f"<td>{_number(model.tags, f'{key}_n', 0)}</td></tr>"
        for key, name in model_card.evaluation_sets(model.tags)
    )
    reason = model.tags.get("promotion.reason", "")
    card = model_card.summary(model.card)
    card_html = f"{html_list(card)}<p><a href='model/card'>Model card</a></p>" if card else ""
    return (
        f"<p>Version <strong id='champion-version'>{_e(model.version)}</strong>, registered "
        f"{_e(model.registered_at)}, served on {_e(model.predictor.backend_name)}"
        f"{'; promoted: ' + _e(reason) if reason else ''}.</p>"
        "<table><tr><th>evaluation set</th><th>accuracy</th><th>ECE</th>"
        "<th title='wrong at a confidence of 0.9 or more'>confident errors</th><th>rows</th></tr>"
        f"{rows}</table>{card_html}"
    )


def _accuracy(tags: dict[str, str], key: str) -> str:
    value = _number(tags, f"{key}_accuracy", 4)
    return "-" if value == "-" else f"{100 * float(value):.2f}%"


def _confident_errors(tags: dict[str, str], key: str) -> str:
    value = _number(tags, f"{key}_confident_errors", 4)
    return "-" if value == "-" else f"{100 * float(value):.1f}%"


def verdict_section(reports_dir: Path) -> str:
    try:
        latest = reports.latest_verdict(reports_dir)
    except DataValidationError as err:
        return f"<p class='degraded'>The newest verdict cannot be read: {_e(err)}</p>"
    if latest is None:
        return "<p>No staleness check has run yet (<code>runner.py once</code> runs one).</p>"
    path, verdict = latest
    status = _e(verdict["status"])
    checks = "".join(
        f"<tr class='{'fired' if c.get('fired') else 'passed'}'><td>{_e(c.get('name'))}</td>"
        f"<td>{c.get('value', 0):.4g}</td><td>{c.get('threshold', 0):.4g}</td>"
        f"<td>{'fired' if c.get('fired') else 'ok'}</td><td>{_e(c.get('detail', ''))}</td></tr>"
        for c in verdict.get("checks", [])
        if isinstance(c, dict)
    )
    cycle = _e(path.parent.name)
    if (path.parent / "04_staleness.html").is_file():
        cycle = f"<a href='reports/{cycle}/04_staleness.html'>{cycle}</a>"
    return (
        f"<p>Cycle {cycle}: "
        f"<span id='verdict-status' class='{status}'>{status}</span> for version "
        f"{_e(verdict.get('model_version', '-'))}.</p>"
        "<table><tr><th>check</th><th>value</th><th>threshold</th><th>result</th><th>detail</th></tr>"
        f"{checks}</table>{drift_context(verdict)}{explanation_section(verdict.get('drift_explanation'))}"
    )


def drift_context(verdict: Mapping[str, Any]) -> str:
    """What the drift check compared against, and the acknowledgement that keeps it quiet, if one does."""
    reference = verdict.get("drift_reference") or "the training data"
    text = f"<p id='drift-reference'>Drift is measured against {_e(reference)}.</p>"
    ack = verdict.get("acknowledged")
    if isinstance(ack, Mapping):
        text += (
            f"<p id='drift-acknowledged'>This drift was acknowledged by {_e(ack.get('by', '?'))} at "
            f"{_e(ack.get('at', '?'))} (AUC {fixed(ack.get('drift_auc'), '.3f')}): {_e(ack.get('reason', ''))}. "
            "It is reported but does not alert until it grows or changes, or the champion changes "
            "(<code>runner.py rebaseline</code> after a promotion).</p>"
        )
    return text


def explanation_section(explanation: Any) -> str:
    """The drift explanation of a verdict (``DriftExplanation.to_dict``), compactly; "" for none or a malformed one.

    Read from the dict rather than through :mod:`~sentiment_lib.monitoring.drift_explanation`, which would load
    scipy.stats and scikit-learn into every API process for a few numbers.
    """
    if not isinstance(explanation, Mapping):
        return ""
    tables = [
        _ngram_table(explanation.get("typical_of_recent"), "more typical of recent texts"),
        _ngram_table(explanation.get("typical_of_reference"), "more typical of training texts"),
        _descriptor_table(explanation.get("descriptors")),
    ]
    return (
        "<div id='drift-explanation'><h3>What the drift check sees</h3>"
        f"<p><small>{_e(explanation.get('recent_texts', '?'))} recent vs "
        f"{_e(explanation.get('reference_texts', '?'))} training texts. Word n-grams by their weight in the "
        "domain classifier, with the share of texts on each side that contain them.</small></p>"
        f"{_label_shift(explanation.get('label_shift'))}<div class='explanation'>{''.join(tables)}</div></div>"
    )


def _cells(*values: str) -> str:
    return "".join(f"<td class='number'>{v}</td>" for v in values)


def _ngram_table(ngrams: Any, title: str) -> str:
    if not isinstance(ngrams, list) or not ngrams:
        return ""
    rows = "".join(
        f"<tr><td><code>{_e(n.get('ngram', ''))}</code></td>"
        f"{_cells(fixed(n.get('weight'), '+.2f'), percent(n.get('recent_share')), percent(n.get('reference_share')))}"
        "</tr>"
        for n in ngrams[:NGRAMS_SHOWN]
        if isinstance(n, dict)
    )
    return (
        f"<table class='ngrams'><tr><th>{_e(title)}</th><th>weight</th><th>recent</th><th>training</th></tr>"
        f"{rows}</table>"
    )


def _label_shift(shift: Any) -> str:
    if not isinstance(shift, dict):
        return ""
    return (
        f"<p id='label-shift'>Predicted {_e(shift.get('label', 'positive'))}: "
        f"{percent(shift.get('recent_share'))} of recent vs {percent(shift.get('reference_share'))} of training "
        f"texts ({points(shift.get('difference'))}, p = {fixed(shift.get('p_value'), '.2g')}).</p>"
    )


def _descriptor_table(descriptors: Any) -> str:
    if not isinstance(descriptors, list) or not descriptors:
        return ""
    rows = "".join(
        f"<tr><td>{_e(d.get('description', d.get('name', '')))}</td>{_descriptor_cells(d)}</tr>"
        for d in descriptors
        if isinstance(d, dict)
    )
    return (
        "<table class='descriptors'><tr><th>descriptor</th><th>training</th><th>recent</th><th>change</th></tr>"
        f"{rows}</table>"
    )


def _descriptor_cells(d: dict) -> str:
    before, after, change = d.get("reference"), d.get("recent"), d.get("difference")
    if str(d.get("name", "")).endswith("_share"):  # shares of texts: percentages and points
        return _cells(percent(before), percent(after), points(change))
    return _cells(fixed(before, ".1f"), fixed(after, ".1f"), fixed(change, "+.1f"))


def history_section(reports_dir: Path) -> str:
    history = read_history(reports_dir / HISTORY_FILE)
    if history.empty:
        return "<p>No staleness check has run yet.</p>"
    try:
        events = reports.read_events(reports_dir)
    except DataValidationError:
        events = []  # the chart without its markers beats no chart
    return history_svg(history, events)


def read_history(path: Path) -> pd.DataFrame:
    """The staleness history (empty if there is none or it cannot be read: the page must still render)."""
    if not path.is_file():
        return pd.DataFrame()
    try:
        history = pd.read_csv(path)
    except CSV_READ_ERRORS:
        return pd.DataFrame()
    history["time"] = pd.to_datetime(history.get("time"), utc=True, errors="coerce")
    return history.dropna(subset=["time"]).sort_values("time")


def history_svg(history: pd.DataFrame, events: Sequence[dict]) -> str:
    """An SVG chart of each check's value over time (0 to 1), its threshold dashed, and event markers."""
    start, end = history["time"].min(), history["time"].max()
    span = max((end - start).total_seconds(), 3600.0)  # one point: a one-hour axis, not a decade

    def x(moment: pd.Timestamp) -> float:
        return MARGIN + (WIDTH - 2 * MARGIN) * (moment - start).total_seconds() / span

    def y(value: float) -> float:
        return HEIGHT - MARGIN - (HEIGHT - 2 * MARGIN) * min(max(value, 0.0), 1.0)

    parts = [_axes(start, start + pd.Timedelta(seconds=span), y)]
    for column, (label, colour) in SERIES.items():
        if column in history and history[column].notna().any():
            parts.append(_series(history, column, label, colour, x, y))
    parts += [_event_marker(e, x) for e in events if _in_range(e, start, start + pd.Timedelta(seconds=span))]
    parts.append(_legend(history))
    return (
        f"<svg id='history-chart' role='img' aria-label='staleness history' width='100%' "
        f"viewBox='0 0 {WIDTH} {HEIGHT + 24}' xmlns='http://www.w3.org/2000/svg'>{''.join(parts)}</svg>"
    )


def _axes(start: pd.Timestamp, end: pd.Timestamp, y) -> str:
    lines = [
        f"<line x1='{MARGIN}' x2='{WIDTH - MARGIN}' y1='{y(t):.1f}' y2='{y(t):.1f}' stroke='#eee'/>"
        f"<text x='{MARGIN - 6}' y='{y(t) + 4:.1f}' text-anchor='end'>{t:.1f}</text>"
        for t in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    ]
    lines.append(f"<text x='{MARGIN}' y='{HEIGHT - MARGIN + 16}'>{_e(start.strftime('%Y-%m-%d %H:%M'))}</text>")
    lines.append(
        f"<text x='{WIDTH - MARGIN}' y='{HEIGHT - MARGIN + 16}' text-anchor='end'>"
        f"{_e(end.strftime('%Y-%m-%d %H:%M'))}</text>"
    )
    return "".join(lines)


def _series(history: pd.DataFrame, column: str, label: str, colour: str, x, y) -> str:
    rows = history.dropna(subset=[column])
    points = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in zip(rows["time"], rows[column], strict=True))
    dots = "".join(
        f"<circle cx='{x(t):.1f}' cy='{y(v):.1f}' r='3' fill='{colour}'><title>{_e(label)}: {v:.3f}</title></circle>"
        for t, v in zip(rows["time"], rows[column], strict=True)
    )
    out = f"<polyline class='series' data-series='{column}' points='{points}' fill='none' stroke='{colour}'/>{dots}"
    threshold = f"{column}_threshold"
    if threshold in rows and rows[threshold].notna().any():
        limits = rows.dropna(subset=[threshold])
        line = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in zip(limits["time"], limits[threshold], strict=True))
        if len(limits) == 1:  # one point: draw the threshold across the axis
            line = f"{MARGIN},{y(limits[threshold].iloc[0]):.1f} {WIDTH - MARGIN},{y(limits[threshold].iloc[0]):.1f}"
        out += (
            f"<polyline class='threshold' data-series='{column}' points='{line}' fill='none' "
            f"stroke='{colour}' stroke-dasharray='5 4'/>"
        )
    return out


def _in_range(event: dict, start: pd.Timestamp, end: pd.Timestamp) -> bool:
    moment = pd.to_datetime(event.get("time"), utc=True, errors="coerce")
    return moment is not pd.NaT and not pd.isna(moment) and start <= moment <= end


def _event_marker(event: dict, x) -> str:
    moment = pd.to_datetime(event["time"], utc=True)
    name = str(event.get("event", ""))
    colour = next((c for key, c in EVENT_COLOURS.items() if key in name), "#7f7f7f")
    at = x(moment)
    return (
        f"<line class='event' x1='{at:.1f}' x2='{at:.1f}' y1='{MARGIN}' y2='{HEIGHT - MARGIN}' stroke='{colour}' "
        f"stroke-width='2'><title>{_e(name)} (version {_e(event.get('model_version', ''))})</title></line>"
    )


def _legend(history: pd.DataFrame) -> str:
    shown = [(label, colour) for column, (label, colour) in SERIES.items() if column in history]
    items = [*shown, ("retrain or gate decision", "#7f7f7f")]
    return "".join(
        f"<rect x='{MARGIN + 205 * i}' y='{HEIGHT + 6}' width='12' height='3' fill='{colour}'/>"
        f"<text x='{MARGIN + 205 * i + 16}' y='{HEIGHT + 12}'>{_e(label)}</text>"
        for i, (label, colour) in enumerate(items)
    )


def cycles_section(reports_dir: Path) -> str:
    cycles = reports.cycle_summaries(reports_dir)[:CYCLES_SHOWN]
    if not cycles:
        return "<p>No loop cycle has run yet.</p>"
    rows = "".join(reports.cycle_row(c, reports_dir, prefix="reports/") for c in cycles)
    return (
        "<table id='cycle-table'><tr><th>cycle</th><th>champion</th><th>verdict</th><th>what happened</th>"
        f"<th>alerts</th><th>reports</th></tr>{rows}</table>"
    )
