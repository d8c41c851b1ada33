"""Judge the serving champion with the evidence the workspace holds, for 04_staleness.

Gathers what :func:`sentiment_lib.monitoring.checks.staleness.assess` needs (the champion and its baseline, labelled
feedback that arrived after it was trained, less the labelling queue's picks for being hard (see
:func:`sentiment_lib.data.feedback.sampled_at_random`), what the API served with it, the training texts as the drift
reference), and records the outcome (verdict file, history, the champion's monitoring run).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import mlflow
import numpy as np

from sentiment_lib.data import dataset, feedback
from sentiment_lib.data.schema import TEXT_COLUMN
from sentiment_lib.inference.predictor import SentimentPredictor
from sentiment_lib.monitoring.checks import acknowledgements, staleness
from sentiment_lib.serving.served_log import latest_served_by
from sentiment_lib.settings import CHAMPION
from sentiment_lib.tracking import registry, runs
from sentiment_lib.workspace import Workspace

MONITORING_STEP = "monitoring"  # the pipeline.step tag of a champion's monitoring run


@dataclass
class Champion:
    """The version behind ``@champion``, loaded, with what it is judged against."""

    version: str
    predictor: SentimentPredictor
    baseline: float  # its test accuracy at evaluation
    trained_at: datetime  # on the loop's clock: feedback that arrived later is new to it
    registered_at: datetime  # on the wall clock, as the API's served log is


def load_champion(ws: Workspace) -> Champion:
    """Raises ModelError: no champion yet, or it was never evaluated."""
    found = registry.require_version(ws.registered_model, CHAMPION)
    predictor = registry.load_served_model(ws.registered_model, version=str(found.version)).predictor
    baseline = registry.baseline_accuracy(found)
    return Champion(str(found.version), predictor, baseline, registry.trained_at(found), registry.registered_at(found))


def assess_champion(ws: Workspace, champion: Champion, now: datetime) -> staleness.Assessment:
    """Run every staleness check that has data (see :func:`staleness.assess`)."""
    s = ws.settings
    reference, reference_name = acknowledgements.reference_texts(ws, champion.version)
    if reference is None:
        # the training data as a whole: the base split and the feedback trained on
        train = dataset.read_split(ws.processed, "train")
        extra = feedback.read_feedback_part(ws.processed, "train")
        reference = feedback.with_feedback(train, extra, 0, s.seed)[TEXT_COLUMN].tolist()
    # what the app served with this champion: its inputs for drift, its confidences for the label-free estimate
    served = _recently_served(ws, champion)
    return staleness.assess(
        champion.predictor,
        model_version=champion.version,
        baseline=champion.baseline,
        trained_at=champion.trained_at,
        now=now,
        feedback=feedback.sampled_at_random(
            feedback.arrived_after(feedback.read_store(ws.feedback_store), champion.trained_at)
        ),
        served_texts=[r["text"] for r in served],
        served_confidences=np.array([r["confidence"] for r in served]),
        reference_texts=reference,
        settings=s,
        reference_name=reference_name,
        acknowledged=acknowledgements.acknowledgement_for(ws, champion.version),
    )


def _recently_served(ws: Workspace, champion: Champion) -> list[dict]:
    """The latest texts the app served with this champion (``drift_sample`` for drift, ``staleness_window``
    for the estimate): only the days since it was registered are read, and only that many records are kept."""
    limit = max(ws.settings.drift_sample, ws.settings.staleness_window)
    return latest_served_by(ws.served_log, champion.version, champion.registered_at, limit)


def log_assessment(ws: Workspace, assessment: staleness.Assessment, cycle: str) -> dict[str, Any]:
    """Log the checks' numbers to the champion's monitoring run, one step per cycle; return the metrics logged.

    One run per champion version (``monitoring-v<N>``) rather than one per check, so the MLflow UI charts
    accuracy on feedback, drift AUC and the estimate over time (wandb groups its runs by the same id).
    """
    metrics = {}
    for check in assessment.verdict.checks:
        metrics[f"staleness_{check.name}"] = check.value
        metrics.update({f"staleness_{name}": value for name, value in check.interval_numbers().items()})
    run_id, step = monitoring_run(ws, assessment.model_version)
    name = f"monitoring-v{assessment.model_version}"
    with runs.tracked_run(ws.settings, run_name=name, job_type=MONITORING_STEP, run_id=run_id):
        mlflow.set_tags(
            {
                "model_version": assessment.model_version,
                "verdict": assessment.verdict.status,
                "monitoring.checks": str(step + 1),
                "monitoring.last_cycle": cycle,
            }
        )
        runs.log_metrics_everywhere(metrics, step=step)
    return metrics


def monitoring_run(ws: Workspace, version: str) -> tuple[str | None, int]:
    """The monitoring run of ``version`` and the step its next check gets: (None, 0) before its first check."""
    experiment = mlflow.get_experiment_by_name(ws.experiment)
    if experiment is None:
        return None, 0
    found = mlflow.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.`pipeline.step` = '{MONITORING_STEP}' and tags.model_version = '{version}'",
        order_by=["attributes.start_time ASC"],
        max_results=1,
        output_format="list",
    )
    if not found:
        return None, 0
    return found[0].info.run_id, int(found[0].data.tags.get("monitoring.checks", "0"))
