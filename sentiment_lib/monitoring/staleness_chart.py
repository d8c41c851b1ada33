"""The staleness history chart, the same on every page: each check's value over time, thresholds, events, age.

:func:`build` lays the chart out (coordinates, colours, labels) from the staleness history
(``reports/staleness_history.csv``) and the loop's events (``reports/events.csv``); the template
``staleness_chart.svg.j2`` draws that as inline SVG: no script, nothing from the network. The status page,
the report index and the staleness notebook's report all show this one chart, so their colours agree.

Light on purpose (pandas, no matplotlib): the API's status page draws it too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sentiment_lib import rendering
from sentiment_lib.io import CSV_READ_ERRORS

TEMPLATE = "staleness_chart.svg.j2"
# history column -> (legend, colour); each threshold is drawn dashed in its check's colour
SERIES = {
    "performance": ("accuracy on new feedback", "#1f77b4"),
    "estimated_performance": ("estimated accuracy (no labels)", "#2ca02c"),
    "drift": ("drift AUC", "#d62728"),
}
AGE = ("age", "champion age (days)", "#9467bd")
# an event whose name holds the key (retrain, retrained, promoted, rejected) is drawn in its colour
EVENT_COLOURS = {"retrain": "#7f7f7f", "promoted": "#1e8449", "rejected": "#c0392b"}
OTHER_EVENT = "#7f7f7f"
WIDTH, MARGIN = 900, 48
CHECKS_HEIGHT, AGE_HEIGHT, PANEL_GAP, TOP = 240, 90, 36, 22
LEGEND_COLUMNS, LEGEND_STEP, LEGEND_ROW = 4, 205, 18
TIME_FORMAT = "%Y-%m-%d %H:%M"


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    title: str


@dataclass(frozen=True)
class Line:
    """One history column as a polyline with a dot per check, and its threshold ("" when it has none)."""

    column: str
    label: str
    colour: str
    points: str
    dots: tuple[Dot, ...]
    threshold: str


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class Panel:
    """A band of the chart with its own value axis: the checks (0 to 1) or the champion's age in days."""

    title: str
    kind: str  # the lines' CSS class: "series" (0 to 1) or "age"
    top: float
    bottom: float
    ticks: tuple[Tick, ...]
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class Marker:
    """A retrain, promotion or rejection: a vertical line across every panel."""

    x: float
    colour: str
    title: str


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str
    anchor: str = "start"


@dataclass(frozen=True)
class LegendItem:
    x: float
    y: float
    label: str
    colour: str


@dataclass(frozen=True)
class StalenessChart:
    """Everything the template draws, in SVG user units (``width`` x ``height``)."""

    width: int
    height: float
    left: float
    right: float
    start: pd.Timestamp  # the time axis, padded around the checks
    end: pd.Timestamp
    panels: tuple[Panel, ...]
    markers: tuple[Marker, ...]
    marker_top: float
    marker_bottom: float
    time_labels: tuple[Label, ...]
    legend: tuple[LegendItem, ...]


def read_history(path: str | Path) -> pd.DataFrame:
    """The staleness history CSV (empty if there is none or it cannot be read: a page must still render)."""
    path = Path(path)
    if not path.is_file():
        return pd.DataFrame()
    try:
        return pd.read_csv(path)
    except CSV_READ_ERRORS:
        return pd.DataFrame()


def build(history: pd.DataFrame, events: Sequence[dict] = ()) -> StalenessChart | None:
    """The chart of ``history`` (one row per staleness check: ``time``, each check's value and
    ``<check>_threshold``) with a marker per event (dicts with ``time``, ``event``, ``model_version``) that
    falls in its time range; None when the history has no row with a readable time."""
    history = _checks(history)
    if history.empty:
        return None
    start, end = time_axis(history["time"])
    left, right = MARGIN, WIDTH - MARGIN

    def x(moment: pd.Timestamp) -> float:
        return left + (right - left) * (moment - start) / (end - start)

    panels = _panels(history, x)
    bottom = panels[-1].bottom
    lines = [line for panel in panels for line in panel.lines]
    markers = tuple(_marker(e, x) for e in events if _in_range(e, start, end))
    legend = _legend(lines, bool(markers), bottom + 40)
    height = (legend[-1].y if legend else bottom + 24) + 10
    return StalenessChart(
        WIDTH, height, left, right, start, end, panels, markers, panels[0].top, bottom,
        _time_labels(history["time"], x, bottom + 16), legend,
    )  # fmt: skip


def render_svg(chart: StalenessChart) -> str:
    """``chart`` as an SVG document (the notebook report shows it; pages include the template directly)."""
    return rendering.render(TEMPLATE, chart=chart)


def time_axis(times: pd.Series) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The checks' time range with a margin (at least an hour each side, so one point is not a decade wide)."""
    start, end = times.min(), times.max()
    pad = max((end - start) * 0.05, pd.Timedelta(hours=1))
    return start - pad, end + pad


def _checks(history: pd.DataFrame) -> pd.DataFrame:
    """The rows with a readable time, oldest first, times in UTC and values as numbers (NaN when unreadable)."""
    if "time" not in history:
        return pd.DataFrame()
    history = history.assign(time=pd.to_datetime(history["time"], utc=True, errors="coerce"))
    history = history.dropna(subset=["time"]).sort_values("time")
    numbers = [c for c in history.columns if c not in ("time", "model_version", "status")]
    return history.assign(**{c: pd.to_numeric(history[c], errors="coerce") for c in numbers})


def _has(history: pd.DataFrame, column: str) -> bool:
    return column in history and history[column].notna().any()


def _panels(history: pd.DataFrame, x: Callable) -> tuple[Panel, ...]:
    """The checks panel (0 to 1), then the age panel (days) when the history has ages."""
    top = TOP
    checks = _scale(top, top + CHECKS_HEIGHT, 0.0, 1.0)
    lines = [_line(history, c, label, colour, x, checks, ".3f") for c, (label, colour) in SERIES.items()]
    ticks = tuple(Tick(checks(t), f"{t:.1f}") for t in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0))
    panels = [Panel("checks (0 to 1)", "series", top, top + CHECKS_HEIGHT, ticks, tuple(li for li in lines if li))]
    column, label, colour = AGE
    if _has(history, column):
        top = top + CHECKS_HEIGHT + PANEL_GAP
        ceiling = _age_ceiling(history)
        age = _scale(top, top + AGE_HEIGHT, 0.0, ceiling)
        ticks = tuple(Tick(age(t), f"{t:.0f}") for t in (0.0, ceiling / 2, ceiling))
        line = _line(history, column, label, colour, x, age)
        panels.append(Panel(label, "age", top, top + AGE_HEIGHT, ticks, (line,) if line else ()))
    return tuple(panels)


def _age_ceiling(history: pd.DataFrame) -> float:
    """The top of the age axis: the oldest age or the limit, whichever is higher, with headroom."""
    highest = history["age"].max()
    if _has(history, "age_threshold"):
        highest = max(highest, history["age_threshold"].max())
    return float(max(math.ceil(highest * 1.1 / 10) * 10, 10))  # round tens: ticks at 0, 5, 10 or 0, 20, 40


def _scale(top: float, bottom: float, low: float, high: float) -> Callable[[float], float]:
    """Value -> y within a panel; values outside [low, high] are drawn at its edge."""

    def y(value: float) -> float:
        share = (min(max(value, low), high) - low) / (high - low)
        return bottom - (bottom - top) * share

    return y


def _line(history: pd.DataFrame, column: str, label: str, colour: str, x, y, digits: str = ".1f") -> Line | None:
    if not _has(history, column):
        return None
    rows = history.dropna(subset=[column])
    pairs = list(zip(rows["time"], rows[column], strict=True))
    dots = tuple(Dot(x(t), y(v), f"{label} at {t.strftime(TIME_FORMAT)}: {v:{digits}}") for t, v in pairs)
    points = " ".join(f"{d.x:.1f},{d.y:.1f}" for d in dots)
    return Line(column, label, colour, points, dots, _threshold(rows, f"{column}_threshold", x, y))


def _threshold(rows: pd.DataFrame, column: str, x, y) -> str:
    """The threshold's polyline points; with one check, drawn across the whole axis."""
    if not _has(rows, column):
        return ""
    limits = rows.dropna(subset=[column])
    if len(limits) == 1:
        level = y(limits[column].iloc[0])
        return f"{MARGIN:.1f},{level:.1f} {WIDTH - MARGIN:.1f},{level:.1f}"
    return " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in zip(limits["time"], limits[column], strict=True))


def _event_time(event: dict) -> pd.Timestamp | None:
    moment = pd.to_datetime(event.get("time"), utc=True, errors="coerce")
    return None if pd.isna(moment) else moment


def _in_range(event: dict, start: pd.Timestamp, end: pd.Timestamp) -> bool:
    moment = _event_time(event)
    return moment is not None and start <= moment <= end


def event_colour(name: str) -> str:
    return next((colour for key, colour in EVENT_COLOURS.items() if key in name), OTHER_EVENT)


def _text(value: Any) -> str:
    """A CSV cell as text ("" for a missing one, which pandas reads as NaN)."""
    return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def _marker(event: dict, x: Callable) -> Marker:
    name, version = _text(event.get("event")), _text(event.get("model_version"))
    return Marker(x(_event_time(event)), event_colour(name), f"{name} (version {version})" if version else name)


def _time_labels(times: pd.Series, x: Callable, y: float) -> tuple[Label, ...]:
    """The first and last check's time under the axis (the last only, when they would overlap)."""
    first, last = times.iloc[0], times.iloc[-1]
    labels = [Label(x(last), y, last.strftime(TIME_FORMAT), "middle")]
    if x(last) - x(first) > 160:
        labels.insert(0, Label(x(first), y, first.strftime(TIME_FORMAT), "middle"))
    return tuple(labels)


def _legend(lines: Sequence[Line], with_events: bool, y: float) -> tuple[LegendItem, ...]:
    """A key per line, then per kind of event when there are markers, in rows of four."""
    items = [(line.label, line.colour) for line in lines]
    if with_events:
        items += list(EVENT_COLOURS.items())
    return tuple(
        LegendItem(MARGIN + LEGEND_STEP * (i % LEGEND_COLUMNS), y + LEGEND_ROW * (i // LEGEND_COLUMNS), label, colour)
        for i, (label, colour) in enumerate(items)
    )
