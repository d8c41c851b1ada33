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
    (tmp_path / reports.HISTORY_FILE).write_text("time,drift,drift_threshold\n2026-11-29T10:00:00+00:00,0.6,0.71\n")
    page = reports.write_index(tmp_path).read_text()
    assert page.index(">c2<") < page.index(">c1<")
    assert '<span class="degraded">degraded</span>' in page and "accuracy 0.61 &lt; 0.85" in page
    assert "retrained on 400 labelled feedback rows" in page and "Model v3 degraded: performance (outbox)" in page
    assert "<svg id='history-chart'" in page and "data-series='drift'" in page  # the chart, inline


def test_a_damaged_cycle_folder_is_skipped_by_the_index_not_fatal(tmp_path):
    good, torn_status, torn_cycle, odd = (tmp_path / name for name in ("good", "torn-status", "torn-cycle", "odd"))
    reports.record_step(good, reports.StepRecord("train", "ok", 2.0, "02.ipynb", "02.html", "2026-01-01T10:00"))
    reports.write_cycle(good, {"cycle": "good", "started": "2026-01-01T10:00"})
    torn_status.mkdir()
    (torn_status / "status.json").write_text('[{"step": "train", "sta')  # cut short by a crash
    torn_cycle.mkdir()
    (torn_cycle / "cycle.json").write_text('{"cycle": "torn-cycle", "star')
    odd.mkdir()
    (odd / "cycle.json").write_text('["valid JSON", "but not a cycle"]')
    (odd / "status.json").write_text('{"not": "a list of steps"}')
    page = reports.write_index(tmp_path).read_text()
    assert 'href="good/02.html"' in page and "torn-cycle" not in page and "torn-status" not in page
    # the next step of a damaged cycle starts its status afresh instead of failing
    reports.record_step(torn_status, reports.StepRecord("evaluate", "ok", 1.0, "03.ipynb", "03.html", "t"))
    assert [r.step for r in reports.read_records(torn_status)] == ["evaluate"]


def test_a_torn_event_line_is_skipped_and_the_next_event_stays_whole(tmp_path):
    reports.append_event(tmp_path, "2026-01-01T00:00:00", "retrain", "1")
    with (tmp_path / "events.csv").open("a") as handle:
        handle.write("2026-01-02T00:00:00,promo")  # a crash mid-append
    assert [e["event"] for e in reports.read_events(tmp_path)] == ["retrain"]
    reports.append_event(tmp_path, "2026-01-03T00:00:00", "promoted", "2")
    assert [(e["event"], e["model_version"]) for e in reports.read_events(tmp_path)] == [
        ("retrain", "1"),
        ("promoted", "2"),
    ]
