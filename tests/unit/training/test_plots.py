"""The staleness history plot's time axis fits the points it shows."""

from __future__ import annotations

import matplotlib
import pandas as pd

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt

from sentiment_lib.training import plots


def shown_span(history: pd.DataFrame, events=()) -> pd.Timedelta:
    figure = plots.staleness_history(history, events)
    low, high = (mdates.num2date(x) for x in figure.axes[0].get_xlim())
    plt.close(figure)
    return pd.Timestamp(high) - pd.Timestamp(low)


def test_one_check_spans_hours_not_years():
    one = pd.DataFrame({"time": ["2026-11-30T08:00:00+00:00"], "performance": [0.9], "performance_threshold": [0.85]})
    assert pd.Timedelta(hours=1) < shown_span(one) <= pd.Timedelta(hours=3)


def test_a_fortnight_of_checks_spans_about_a_fortnight_and_old_events_do_not_stretch_it():
    times = pd.date_range("2026-11-01", periods=15, freq="D", tz="UTC")
    history = pd.DataFrame({"time": times.astype(str), "drift": [0.5] * 15, "drift_threshold": [0.71] * 15})
    old_event = [{"time": "2020-01-01T00:00:00+00:00", "event": "promoted"}]
    assert pd.Timedelta(days=14) < shown_span(history, old_event) < pd.Timedelta(days=16)
