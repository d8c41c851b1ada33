from __future__ import annotations

import json

from sentiment_lib import reports


def test_index_lists_newest_cycle_first_with_failures_marked(tmp_path):
    older, newer = tmp_path / "zz-old", tmp_path / "aa-new"
    for folder in (older, newer):
        folder.mkdir()
    reports.record_step(older, reports.StepRecord("preprocess", "ok", 3.0, "01.ipynb", "01.html", "2026-01-01T10:00"))
    reports.record_step(
        newer, reports.StepRecord("train", "failed", 9.0, "02.ipynb", "02.html", "2026-02-01T10:05", "boom <x>")
    )
    reports.record_step(newer, reports.StepRecord("preprocess", "ok", 4.0, "01.ipynb", "01.html", "2026-02-01T10:00"))
    page = reports.write_index(tmp_path).read_text()
    order = [
        page.index(f'href="{c}/{h}"') for c, h in [("aa-new", "01.html"), ("aa-new", "02.html"), ("zz-old", "01.html")]
    ]
    assert order == sorted(order)
    assert '<td class="failed">failed<br><small>boom &lt;x&gt;</small>' in page


def test_record_step_replaces_a_rerun_step(tmp_path):
    reports.record_step(tmp_path, reports.StepRecord("train", "failed", 1.0, "a", "b", "t1", "err"))
    reports.record_step(tmp_path, reports.StepRecord("train", "ok", 2.0, "a", "b", "t2"))
    assert [(r.step, r.status) for r in reports.read_records(tmp_path)] == [("train", "ok")]


def test_empty_reports_folder(tmp_path):
    page = reports.write_index(tmp_path).read_text()
    assert "No loop cycle has run yet" in page and "No step has run yet" in page


def test_index_shows_loop_cycles_newest_first_with_verdict_actions_and_alerts(tmp_path):
    for name, started, status in [("c1", "2026-11-29T10:00:00", "healthy"), ("c2", "2026-11-29T11:00:00", "degraded")]:
        (tmp_path / name).mkdir()
        summary = {
            "cycle": name,
            "started": started,
            "champion": "3",
            "status": status,
            "reasons": ["accuracy 0.61 < 0.85"] if status == "degraded" else [],
            "actions": ["retrained on 400 labelled feedback rows"] if status == "degraded" else [],
            "alerts": ["degraded: Model v3 degraded: performance (outbox)"] if status == "degraded" else [],
        }
        (tmp_path / name / reports.CYCLE_FILE).write_text(json.dumps(summary))
    (tmp_path / reports.HISTORY_PLOT).write_bytes(b"png")
    page = reports.write_index(tmp_path).read_text()
    assert page.index(">c2<") < page.index(">c1<")
    assert '<span class="degraded">degraded</span>' in page and "accuracy 0.61 &lt; 0.85" in page
    assert "retrained on 400 labelled feedback rows" in page and "Model v3 degraded: performance (outbox)" in page
    assert f'<img src="{reports.HISTORY_PLOT}"' in page
