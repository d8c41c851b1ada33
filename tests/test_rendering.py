"""The pages made from templates: every value from a file or the registry is escaped, the status page and the
report index share one shell and one cycle table, and show the one staleness chart."""

from __future__ import annotations

import re
from types import SimpleNamespace

import jinja2
import pytest

from sentiment_lib import rendering, reports
from sentiment_lib.io import write_json_atomic
from sentiment_lib.monitoring import staleness_chart
from sentiment_lib.serving import status_page
from sentiment_lib.workspace import Workspace

SCRIPT = "<script>alert(1)</script>"
QUOTE = "x' onmouseover='alert(1)"  # breaks out of a single-quoted attribute unless escaped
HISTORY = """time,model_version,status,performance,drift,age,performance_threshold,drift_threshold,age_threshold
2026-11-28T08:00:00+00:00,1,healthy,0.9,0.55,1.0,0.85,0.71,30
2026-11-29T08:00:00+00:00,1,stale,0.8,0.93,2.0,0.85,0.71,30
"""


def model(version: str = "1") -> SimpleNamespace:
    """What the page reads of the served model (serving.model_holder.LoadedModel)."""
    return SimpleNamespace(
        version=version,
        registered_at="2026-11-27T08:00:00+00:00",
        predictor=SimpleNamespace(backend_name="onnx-int8"),
        tags={"test_accuracy": "0.9", "promotion.reason": SCRIPT},
        card=f"# card\n\n- **Trained on**: `{SCRIPT}`, 10 rows.\n",
    )


@pytest.fixture
def workspace(tmp_path):
    """Two loop cycles, a history with events, a step record and a verdict, each carrying markup."""
    ws = Workspace(tmp_path)
    out = ws.reports
    out.mkdir(parents=True)
    (out / "staleness_history.csv").write_text(HISTORY)
    reports.append_event(out, "2026-11-28T12:00:00+00:00", "rejected", "2")
    for n, name in enumerate(("c1", "c2")):
        cycle = {"cycle": name, "started": f"2026-11-2{8 + n}T08:00:00", "champion": SCRIPT, "status": QUOTE}
        reports.write_cycle(out / name, {**cycle, "reasons": [f"review {SCRIPT}"], "actions": [], "alerts": []})
        (out / name / "04_staleness.html").write_text("report")
    reports.record_step(out / "c2", reports.StepRecord("train", "failed", 1.0, "02.ipynb", "02.html", "t", SCRIPT))
    checks = [{"name": "drift", "value": 0.93, "threshold": 0.71, "fired": True, "detail": SCRIPT}]
    explanation = {"typical_of_recent": [{"ngram": SCRIPT, "weight": 1.0}], "label_shift": {"label": SCRIPT}}
    verdict = {"status": QUOTE, "model_version": SCRIPT, "checks": checks, "drift_explanation": explanation}
    write_json_atomic(out / "c2" / "verdict.json", {**verdict, "acknowledged": {"by": SCRIPT, "reason": SCRIPT}})
    return ws


def pages(ws: Workspace, version: str = "1") -> tuple[str, str]:
    return status_page.render(ws, model(version)), reports.write_index(ws.reports).read_text()


def test_markup_from_files_and_the_registry_is_escaped_on_both_pages(workspace):
    status, index = pages(workspace, version=SCRIPT)
    for page in (status, index):
        assert "<script" not in page and "onmouseover='" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "x&#39; onmouseover=&#39;alert(1)" in page
    assert "<strong id='champion-version'>&lt;script&gt;" in status  # the version name
    assert "<code>&lt;script&gt;" in status  # an n-gram of a review text in the drift explanation
    assert "<small>&lt;script&gt;" in index  # a failed step's error


def test_both_pages_share_one_shell_and_one_cycle_table(workspace):
    status, index = pages(workspace)

    def shell(page: str) -> str:  # the head and the stylesheet, without what each page sets itself
        head = re.search(r"<!doctype html>.*?</style></head><body>", page, re.S).group(0)
        return re.sub(r"<title>.*?</title>|<meta http-equiv=.*?>\n", "", head)

    assert shell(status) == shell(index) and "<style>" in shell(status)
    rows = [re.findall(r'<tr class="cycle">.*?</tr>', page, re.S) for page in (status, index)]
    assert len(rows[0]) == len(rows[1]) == 2
    assert rows[0] == [row.replace('href="', 'href="reports/') for row in rows[1]]  # the same rows, linked from /


def test_both_pages_show_the_same_staleness_chart_in_the_same_colours(workspace):
    status, index = pages(workspace)
    charts = [re.search(r"<svg id='history-chart'.*?</svg>", page, re.S).group(0) for page in (status, index)]
    assert charts[0] == charts[1]
    colours = set(
        re.findall(
            r"<polyline class='series' data-series='(\w+)' points='[^']*' fill='none' stroke='(#\w+)'", charts[0]
        )
    )
    assert colours == {(c, staleness_chart.SERIES[c][1]) for c in ("performance", "drift")}
    assert f"stroke='{staleness_chart.EVENT_COLOURS['rejected']}'" in charts[0]
    assert "class='age'" in charts[0]  # the champion's age, on its own axis


def test_templates_are_escaped_by_kind_and_strict_about_missing_values():
    escapes = rendering.environment().autoescape
    assert escapes("status_page.html.j2") and escapes("staleness_chart.svg.j2") and escapes("other.j2")
    assert not escapes("model_card.md.j2")
    with pytest.raises(jinja2.UndefinedError):
        rendering.render("report_index.html.j2", cycles=[], steps=[])  # no chart given
