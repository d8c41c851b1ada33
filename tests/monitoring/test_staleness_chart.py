"""The staleness history chart: its time axis fits the points it shows, every check and event is drawn in its
colour with its threshold, and the SVG it renders is well-formed and escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pandas as pd

from sentiment_lib.monitoring import staleness_chart

SVG = "{http://www.w3.org/2000/svg}"


def shown_span(history: pd.DataFrame, events=()) -> pd.Timedelta:
    chart = staleness_chart.build(history, events)
    return chart.end - chart.start


def test_one_check_spans_hours_not_years():
    one = pd.DataFrame({"time": ["2026-11-30T08:00:00+00:00"], "performance": [0.9], "performance_threshold": [0.85]})
    assert pd.Timedelta(hours=1) < shown_span(one) <= pd.Timedelta(hours=3)


def test_a_fortnight_of_checks_spans_about_a_fortnight_and_old_events_do_not_stretch_it():
    times = pd.date_range("2026-11-01", periods=15, freq="D", tz="UTC")
    history = pd.DataFrame({"time": times.astype(str), "drift": [0.5] * 15, "drift_threshold": [0.71] * 15})
    old_event = [{"time": "2020-01-01T00:00:00+00:00", "event": "promoted"}]
    assert pd.Timedelta(days=14) < shown_span(history, old_event) < pd.Timedelta(days=16)
    assert staleness_chart.build(history, old_event).markers == ()  # outside the axis: not drawn


HISTORY = pd.DataFrame(
    {
        "time": ["2026-11-28T08:00:00+00:00", "2026-11-29T08:00:00+00:00", "not a time"],
        "performance": [0.9, 0.8, 0.7],
        "performance_threshold": [0.85, 0.85, 0.85],
        "drift": [0.55, "damaged", 0.9],
        "drift_threshold": [0.71, 0.71, 0.71],
        "age": [1.0, 2.0, 3.0],
        "age_threshold": [30, 30, 30],
    }
)
EVENTS = [
    {"time": "2026-11-28T12:00:00+00:00", "event": "retrained", "model_version": "2"},
    {"time": "2026-11-28T13:00:00+00:00", "event": "rejected", "model_version": float("nan")},  # as pandas reads ""
    {"time": "never", "event": "promoted", "model_version": "3"},
]


def test_each_check_is_a_line_in_its_colour_with_its_threshold_and_age_has_its_own_panel():
    chart = staleness_chart.build(HISTORY, EVENTS)
    checks, age = chart.panels
    lines = {line.column: line for line in checks.lines}
    assert set(lines) == {"performance", "drift"}  # no estimated accuracy in this history
    assert lines["performance"].colour == staleness_chart.SERIES["performance"][1]
    assert len(lines["performance"].dots) == 2  # the row without a readable time is left out
    assert len(lines["drift"].dots) == 1 and lines["drift"].threshold  # the damaged value too
    assert [line.column for line in age.lines] == ["age"] and age.top > checks.bottom
    assert [(m.colour, m.title) for m in chart.markers] == [
        (staleness_chart.EVENT_COLOURS["retrain"], "retrained (version 2)"),
        (staleness_chart.EVENT_COLOURS["rejected"], "rejected"),
    ]


def test_the_svg_is_well_formed_and_escapes_what_it_quotes():
    events = [{"time": "2026-11-28T12:00:00+00:00", "event": "<script>alert(1)</script>", "model_version": "'2'"}]
    svg = staleness_chart.render_svg(staleness_chart.build(HISTORY, events))
    root = ET.fromstring(svg)  # an SVG document (the notebook shows it as an image)
    assert root.get("id") == "history-chart"
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    series = root.findall(f".//{SVG}polyline[@class='series']")
    assert {(p.get("data-series"), p.get("stroke")) for p in series} == {
        ("performance", "#1f77b4"),
        ("drift", "#d62728"),
    }
    dashed = root.findall(f".//{SVG}polyline[@class='threshold']")
    assert all(p.get("stroke-dasharray") for p in dashed) and len(dashed) == 3  # performance, drift, age


def test_no_readable_check_is_no_chart(tmp_path):
    assert staleness_chart.build(pd.DataFrame()) is None
    assert staleness_chart.build(pd.DataFrame({"time": ["?"], "drift": [0.5]})) is None
    (tmp_path / "history.csv").write_text('time,drift\n"2026-11-28,0.5\n')  # an unclosed quote
    assert staleness_chart.read_history(tmp_path / "history.csv").empty
    assert staleness_chart.read_history(tmp_path / "missing.csv").empty
