"""A served workspace with a few loop cycles behind it, as the status page and the browser tests need.

Built as a copy of the session's ``served_workspace`` (its registry rows and reports are the copy's own; the
model files are read where they are), so the cycles written here never reach another test.
"""

from __future__ import annotations

import base64
import io
import shutil
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import mlflow
import nbformat

from sentiment_lib import reports
from sentiment_lib.io import write_json_atomic
from sentiment_lib.tracking import runs
from tests.helpers import NAME

CHAMPION_TAGS = {
    "test_accuracy": 0.9001,
    "test_ece": 0.014,
    "sst2_test_accuracy": 0.8913,
    "airline_accuracy": 0.9121,
    "test_kitchen_accuracy": 0.9377,
    "test_kitchen_confident_errors": 0.0116,
}
CYCLES = ("20261128-080000", "20261129-080000", "20261130-080000")
COLUMNS = "age,performance,drift,estimated_performance"
HISTORY = f"""time,model_version,status,{COLUMNS},{",".join(c + "_threshold" for c in COLUMNS.split(","))}
2026-11-28T08:00:00+00:00,1,healthy,1.0,0.9,0.55,0.89,30,0.85,0.71,0.85
2026-11-29T08:00:00+00:00,1,stale,2.0,0.8,0.93,0.86,30,0.85,0.71,0.85
2026-11-30T08:00:00+00:00,1,stale,3.0,0.82,0.91,0.87,30,0.85,0.71,0.85
"""


def make_status_workspace(served_workspace: Path, target: Path) -> Path:
    """A copy of ``served_workspace`` with three cycles, a history, events, reports and an index page."""
    shutil.copytree(served_workspace, target)
    # a client of the copy's own store: pointing the process-wide MLflow URI at the copy and back would
    # leave MLFLOW_TRACKING_URI exported behind runs.configure_client's back, and later tests would take
    # it for the user's and register into the wrong store
    uri = runs.tracking_uri(target)
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    for key, value in CHAMPION_TAGS.items():
        client.set_model_version_tag(NAME, "1", key, str(value))
    out = target / "reports"
    (out / "staleness_history.csv").parent.mkdir(parents=True, exist_ok=True)
    (out / "staleness_history.csv").write_text(HISTORY)
    reports.append_event(out, "2026-11-29T09:00:00+00:00", "retrained", "2")
    reports.append_event(out, "2026-11-29T09:30:00+00:00", "rejected", "2")
    for n, cycle in enumerate(CYCLES):
        status = "healthy" if n == 0 else "stale"
        reasons = [] if n == 0 else [f"drift AUC 0.9{n} above 0.71"]
        reports.write_cycle(out / cycle, _cycle(cycle, status, reasons, n))
        write_json_atomic(out / cycle / "verdict.json", _verdict(status, reasons, n))
        _notebook_report(out / cycle / "04_staleness.ipynb", cycle)
    reports.write_index(out)
    return target


def _cycle(cycle: str, status: str, reasons: list[str], n: int) -> dict:
    return {
        "cycle": cycle,
        "started": f"2026-11-{28 + n}T08:00:00+00:00",
        "champion": "1",
        "status": status,
        "reasons": reasons,
        "actions": ["retrained: version 2 rejected by the gate"] if n == 1 else ["nothing to do"],
        "alerts": ["stale: mailed ops@example.org"] if n else [],
    }


# what staleness.write_verdict writes for 300 airline tweets against 300 SST-2 training sentences (shortened)
EXPLANATION = {
    "recent_texts": 300,
    "reference_texts": 300,
    "typical_of_recent": [
        {"ngram": "@united", "weight": 1.881, "recent_share": 0.21, "reference_share": 0.0},
        {"ngram": "flight", "weight": 1.251, "recent_share": 0.2333, "reference_share": 0.0},
        {"ngram": "<b>bold</b>", "weight": 0.5, "recent_share": 0.01, "reference_share": 0.0},  # must be escaped
    ],
    "typical_of_reference": [{"ngram": "film", "weight": -0.679, "recent_share": 0.0, "reference_share": 0.0467}],
    "label_shift": {
        "label": "positive",
        "reference_share": 0.5,
        "recent_share": 0.1667,
        "difference": -0.3333,
        "p_value": 2.9e-18,
        "test": "Fisher exact, two-sided",
    },
    "descriptors": [
        {
            "name": "mean_words",
            "description": "mean length in words",
            "reference": 8.8933,
            "recent": 17.0767,
            "difference": 8.1833,
        },
        {
            "name": "mention_share",
            "description": "share of texts with an @mention",
            "reference": 0.0,
            "recent": 0.99,
            "difference": 0.99,
        },
    ],
}


def _verdict(status: str, reasons: list[str], n: int) -> dict:
    drift = [0.55, 0.92, 0.93][n]
    return {
        "status": status,
        "model_version": "1",
        "reasons": reasons,
        "checks": [
            {"name": "performance", "value": 0.82, "threshold": 0.85, "fired": False, "detail": "accuracy 0.82"},
            {"name": "drift", "value": drift, "threshold": 0.71, "fired": drift > 0.71, "detail": f"AUC {drift}"},
        ],
        "drift_explanation": EXPLANATION if n == len(CYCLES) - 1 else None,  # the newest only: the page shows it
    }


def _notebook_report(path: Path, cycle: str) -> None:
    """A small executed-looking notebook with a plot, rendered by the project's own nbconvert step."""
    figure, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1, 2], [0.9, 0.8, 0.82])
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    image = nbformat.v4.new_output("display_data", data={"image/png": base64.b64encode(buffer.getvalue()).decode()})
    cell = nbformat.v4.new_code_cell("plot()", outputs=[image])
    text = nbformat.v4.new_markdown_cell(f"# Staleness check of cycle {cycle}")
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nbformat.v4.new_notebook(cells=[text, cell]), path)
    reports.render_html(path)
