"""runner.py takes a parameter by its settings name: it writes where the parameter says and refuses a misspelt one
(the commands of tests/test_workspace.py's one source of truth, in their own process)."""

from __future__ import annotations

import pandas as pd

from tests.helpers import run_runner


def test_runner_ingest_writes_where_the_parameter_says(tmp_path):
    incoming = tmp_path / "data" / "incoming"
    incoming.mkdir(parents=True)
    pd.DataFrame({"Review": ["late again", "lovely crew"], "Sentiment": ["negative", "positive"]}).to_csv(
        incoming / "day1.csv", index=False
    )
    done = run_runner("ingest", "-p", "feedback_path", "elsewhere/feedback.csv", workspace=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    store = pd.read_csv(tmp_path / "elsewhere" / "feedback.csv")
    assert sorted(store["Review"]) == ["late again", "lovely crew"]
    assert not (tmp_path / "data" / "feedback").exists()
    assert (tmp_path / "data" / "archive" / "day1.csv").is_file()


def test_a_misspelt_parameter_is_refused_not_ignored(tmp_path):
    done = run_runner("ingest", "-p", "feedback_pth", "x.csv", workspace=tmp_path, timeout=120)
    assert done.returncode == 2 and "Unknown parameter(s) ['feedback_pth']" in done.stderr
