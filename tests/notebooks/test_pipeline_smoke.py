"""The pipeline end to end, as a user runs it: runner.py -> papermill -> notebooks -> MLflow, wandb, reports.

The module's workspace is trained once (cycle c1). Tests that add to it (a failed step, feedback and a staleness
check, a second version) leave what the others read unchanged: version 1 stays the champion, because the second
version is one the gate must reject. So the tests pass in any order.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from sentiment_lib.behaviour.suite import CAPABILITIES
from sentiment_lib.data import importers
from sentiment_lib.settings import Settings
from sentiment_lib.tracking import runs as tracking
from tests.helpers import (
    AIRLINE,
    NAME,
    register_version,
    run_runner,
    save_untrained_model,
    write_airline_sample,
    write_sst2_sample,
)

pytestmark = pytest.mark.slow
MODEL = NAME


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    ws = tmp_path_factory.mktemp("workspace")
    cut = write_sst2_sample(ws)
    tweets = write_airline_sample(ws)
    done = run_runner(
        "pipeline",
        *("--preset", "smoke", "--cycle", "c1"),
        *("-p", "sst2_test_path", str(cut), "-p", "airline_test_path", str(tweets)),
        workspace=ws,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (ws / "c1-runner-stderr.txt").write_text(done.stderr)
    # the runs of cycle c1, before any other test adds its own
    (ws / "c1-wandb-runs.txt").write_text("\n".join(str(p) for p in sorted((ws / "wandb").glob("offline-run-*"))))
    tracking.configure_client(ws)
    return ws


def training_run(ws):
    version = MlflowClient().get_model_version_by_alias(MODEL, "champion")
    return version, MlflowClient().get_run(version.run_id)


def test_split_written(workspace):
    sizes = {
        name: len(pd.read_csv(workspace / "data" / "processed" / f"{name}.csv"))
        for name in ("train", "validation", "test")
    }
    assert sizes == {"train": 640, "validation": 80, "test": 80}


def test_first_version_is_registered_as_champion(workspace):
    version, _ = training_run(workspace)
    assert str(version.version) == "1"
    assert version.tags["promotion.reason"] == "first version"
    assert float(version.tags["sst2_test_accuracy"]) > 0


def test_training_progress_reaches_the_runners_console(workspace):
    console = (workspace / "c1-runner-stderr.txt").read_text()
    steps = [line for line in console.splitlines() if "runner.progress: training: step" in line]
    assert steps and "training: step 1/" in steps[0] and "elapsed, about" in steps[0]
    total = steps[0].split("step 1/", 1)[1].split(" ", 1)[0]
    assert f"step {total}/{total} (100%)" in steps[-1] and "about 0m00s left" in steps[-1]
    assert "[progress]" not in console  # relayed without their tag


def test_first_version_has_a_model_card(workspace):
    version, run = training_run(workspace)
    card = version.description
    assert card.startswith(f"# {MODEL}, version 1")
    assert "- **Preset**: `smoke`" in card and f"{int(run.data.metrics['train_rows']):,} rows" in card
    accuracy = float(version.tags["sst2_test_accuracy"])
    assert f"| SST-2 test | {int(float(version.tags['sst2_test_n'])):,} | {100 * accuracy:.2f}% |" in card
    assert "promoted to @champion (first version)" in card and "English only" in card
    local = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="MODEL_CARD.md")
    assert Path(local).read_text() == card


def test_run_has_settings_metrics_and_plots(workspace):
    _, run = training_run(workspace)
    assert run.data.params["settings.preset"] == "smoke"
    assert run.data.params["settings.max_train_samples"] == "320"
    for key in (
        "test_accuracy",
        "test_f1",
        "test_roc_auc",
        "test_ece",
        "sst2_test_accuracy",
        "sst2_test_ece_before_temperature",
        "airline_accuracy",
        "best_val_accuracy",
    ):
        assert key in run.data.metrics, key
    # temperature scaling was fitted on validation and can only lower the validation NLL
    metrics = run.data.metrics
    assert 0.05 <= metrics["temperature"] <= 20 and metrics["val_nll_after"] <= metrics["val_nll_before"] + 1e-6
    assert "val_ece_before" in metrics and "val_ece_after" in metrics
    local = mlflow.artifacts.download_artifacts(f"runs:/{run.info.run_id}/model/artifacts")
    assert list(Path(local).rglob("calibration.json"))
    # 320 real SST-2 phrases and a few seconds of training already beat chance clearly
    assert run.data.metrics["sst2_test_accuracy"] > 0.6
    plots = {a.path for a in MlflowClient().list_artifacts(run.info.run_id, "plots")}
    assert {
        "plots/training_curves.png",
        "plots/roc.png",
        "plots/reliability.png",
        "plots/confusion_sst2_test.png",
    } <= plots


def test_training_loss_falls(workspace):
    _, run = training_run(workspace)
    losses = [m.value for m in sorted(MlflowClient().get_metric_history(run.info.run_id, "loss"), key=lambda m: m.step)]
    assert len(losses) >= 8
    assert sum(losses[-3:]) / 3 < 0.8 * sum(losses[:3]) / 3


def test_champion_loads_as_pyfunc_and_predicts_a_frame(workspace):
    model = mlflow.pyfunc.load_model(f"models:/{MODEL}@champion")
    out = model.predict(pd.DataFrame({"Review": ["a masterpiece , moving and funny", "a dreary , witless mess"]}))
    assert list(out.columns) == ["sentiment", "confidence"]
    assert set(out["sentiment"]) <= {"positive", "negative"}
    assert ((out["confidence"] >= 0.5) & (out["confidence"] <= 1)).all()


def test_wandb_offline_runs_written(workspace):
    runs = [Path(p) for p in (workspace / "c1-wandb-runs.txt").read_text().split()]
    assert len(runs) == 2  # train and evaluate
    assert all(list(run.glob("*.wandb")) for run in runs)


def test_html_reports_embed_plots_without_code(workspace):
    cycle = workspace / "reports" / "c1"
    for name, plots in [("01_preprocess", 3), ("02_train", 1), ("03_evaluate", 4)]:
        html = (cycle / f"{name}.html").read_text()
        assert len(re.findall(r'src="data:image/png;base64,', html)) >= plots, name
        assert "resolve_settings(" not in html  # input cells are left out
    index = (workspace / "reports" / "index.html").read_text()
    for name in ("01_preprocess", "02_train", "03_evaluate"):
        assert f'href="c1/{name}.html"' in index


def registered_state():
    return sorted(
        (v.version, tuple(sorted(v.aliases))) for v in MlflowClient().search_model_versions(f"name='{MODEL}'")
    )


def test_failing_step_exits_nonzero_names_the_cell_and_changes_nothing(workspace):
    before = registered_state()
    done = run_runner(
        "train",
        "--preset",
        "smoke",
        "--cycle",
        "broken",
        "-p",
        "processed_dir",
        "nowhere",
        workspace=workspace,
    )
    assert done.returncode == 1
    assert re.search(
        r"Step 'train' failed in .*02_train\.ipynb: cell \d+ \(execution count \d+\) raised DataValidationError",
        done.stderr,
    )
    assert (workspace / "reports" / "broken" / "02_train.ipynb").is_file()
    assert "failed" in (workspace / "reports" / "index.html").read_text()
    assert registered_state() == before


def test_unknown_parameter_stops_before_running(workspace):
    done = run_runner("train", "--preset", "smoke", "--cycle", "typo", "-p", "learnin_rate", "0.1", workspace=workspace)
    assert done.returncode == 2
    assert "Unknown parameter(s) ['learnin_rate'] for train" in done.stderr
    assert not (workspace / "reports" / "typo").exists()


def test_staleness_step_detects_airline_tweets_as_drift(workspace):
    tweets = pd.read_csv(AIRLINE)
    tweets = tweets[tweets["airline_sentiment"] != "neutral"].head(150)
    incoming = workspace / "data" / "incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"Review": tweets["text"], "Sentiment": tweets["airline_sentiment"]}).to_csv(
        incoming / "tweets.csv", index=False
    )
    (incoming / "broken.csv").write_text("Review,Sentiment\nfine,neutral\n")
    ingested = run_runner("ingest", workspace=workspace)
    assert ingested.returncode == 0, ingested.stderr[-2000:]
    assert "quarantined broken.csv" in ingested.stdout
    assert (workspace / "data" / "quarantine" / "broken.csv.reason.txt").is_file()

    done = run_runner("staleness", "--preset", "smoke", "--cycle", "s1", workspace=workspace)
    assert done.returncode == 0, done.stderr[-3000:]
    verdict = json.loads((workspace / "reports" / "s1" / "verdict.json").read_text())
    checks = {c["name"]: c for c in verdict["checks"]}
    assert verdict["status"] in {"stale", "degraded"}
    assert checks["drift"]["fired"] and checks["drift"]["value"] > 0.9
    assert (
        checks["performance"]["detail"].startswith("accuracy")
        and "on 150 recent labelled reviews" in checks["performance"]["detail"]
    )
    assert not checks["age"]["fired"]
    explanation = verdict["drift_explanation"]  # what changed: the airlines' handles, no movie reviews
    mentions = [n["ngram"] for n in explanation["typical_of_recent"] if n["ngram"].startswith("@")]
    assert mentions and 0 <= explanation["label_shift"]["recent_share"] <= 1
    descriptors = {d["name"]: d for d in explanation["descriptors"]}
    assert descriptors["mention_share"]["recent"] > 0.9 and descriptors["mention_share"]["reference"] < 0.1
    html = (workspace / "reports" / "s1" / "04_staleness.html").read_text()
    assert 'src="data:image/svg+xml;base64,' in html  # the staleness chart of the status page and the index
    assert "Word n-grams most typical of recent texts" in html and mentions[0] in html
    assert len(pd.read_csv(workspace / "reports" / "staleness_history.csv")) == 1


def test_a_second_version_worse_than_the_champion_is_rejected_by_the_gate(workspace, tmp_path):
    # an untrained classification head is a coin flip, far below the champion on the 80 test rows, so the gate
    # must reject it for its loss on the base test split (registered directly: training it proves nothing here)
    tracking.configure(workspace, Settings().experiment_name)
    register_version(save_untrained_model(tmp_path / "untrained"), promote=False)
    evaluated = run_runner(
        "evaluate", "--preset", "smoke", "--cycle", "g1", "-p", "sst2_test_path", "none", workspace=workspace
    )
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    client = MlflowClient()
    challenger = client.get_model_version_by_alias(MODEL, "challenger")
    assert str(challenger.version) != "1"
    tags = challenger.tags
    assert tags["gate.champion_version"] == "1" and tags["gate.n"] == "80"
    assert tags["gate.promote"] == "false"
    assert float(tags["gate.base_regression"]) > 0.02
    assert "less accurate on the base test split" in tags["gate.reason"]
    assert str(client.get_model_version_by_alias(MODEL, "champion").version) == "1"
    assert f"challenged_by.{challenger.version}" in client.get_model_version(MODEL, "1").tags
    report = (workspace / "reports" / "g1" / "03_evaluate.html").read_text()
    assert "rejected; @champion stays version 1" in report
    # the behavioural suite ran on both versions: pass rates logged, compared capability by capability
    assert {f"gate.capability_drop.{name}" for name in CAPABILITIES} <= set(tags)
    logged = client.get_run(challenger.run_id).data.metrics  # the evaluation logs to the version's run
    for name in CAPABILITIES:
        evaluated, champion = logged[f"capability_{name}"], logged[f"champion_capability_{name}"]
        assert 0 <= evaluated <= 1 and 0 <= champion <= 1
        assert float(tags[f"gate.capability_drop.{name}"]) == pytest.approx(champion - evaluated, abs=1e-4)
    assert "Behavioural tests" in report and "v1 (champion)" in report
    assert f"v{challenger.version} (evaluated)" in report


def test_explore_renders_mistakes_slices_and_a_comparison_of_two_versions(workspace):
    # after the gate test: version 1 (trained) and the untrained challenger, on 200 real airline tweets
    tweets = workspace / "explore" / "tweets.csv"
    tweets.parent.mkdir(exist_ok=True)
    every = pd.read_csv(AIRLINE)
    every[every["airline_sentiment"] != "neutral"].sample(200, random_state=2).to_csv(tweets, index=False)
    done = run_runner(
        "explore",
        *("--preset", "smoke", "--cycle", "e1"),
        *("-p", "model", "champion", "-p", "compare_with", "challenger", "-p", "data_path", str(tweets)),
        workspace=workspace,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    challenger = MlflowClient().get_model_version_by_alias(MODEL, "challenger").version
    html = (workspace / "reports" / "e1" / "05_explore.html").read_text()
    rows = len(importers.read_labelled(tweets))  # 200 less any duplicate texts
    assert f"{rows} labelled rows" in html and f"models: v1, v{challenger}" in html
    assert "The most confident mistakes" in html and "@mention" in html and "overconfidence" in html
    assert f"only v{challenger} right" in html and "McNemar" in html and f"accuracy v{challenger}" in html
    assert html.count("background: rgba(") >= 5  # the top mistakes, word by word
    unknown = run_runner("explore", "--preset", "smoke", "-p", "model", "nightly", workspace=workspace)
    assert unknown.returncode != 0 and "has alias @nightly" in unknown.stderr
