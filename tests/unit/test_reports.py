from __future__ import annotations

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
    assert "No cycle has run yet" in reports.write_index(tmp_path).read_text()
