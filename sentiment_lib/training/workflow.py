"""The training stage as the pipeline runs it: gather the rows, then train, calibrate and register in one call.

02_train calls :func:`load_training_rows` and :func:`train_and_register`; the notebook shows the outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from sentiment_lib.data import augment, capability_augment, dataset, feedback, identity_augment, mix
from sentiment_lib.data.schema import TEXT_COLUMN
from sentiment_lib.serving.served_log import latest_served
from sentiment_lib.settings import Settings
from sentiment_lib.tracking import registry, runs
from sentiment_lib.training.calibration import CalibrationResult, calibrate
from sentiment_lib.training.train import TrainResult, encoder_depth, train_model
from sentiment_lib.workspace import Workspace

# validation reviews that set the int8 model's activation scales (see inference/onnx_export.py)
INT8_CALIBRATION_ROWS = 500


@dataclass
class TrainingRows:
    """The rows one training run learns from and selects its checkpoint on."""

    train: pd.DataFrame
    validation: pd.DataFrame
    feedback_rows: int  # of ``train``, the rows from labelled feedback
    domains: pd.DataFrame | None = None  # per domain of the base split: its weight, rows there and rows drawn
    unlabelled: list[str] = field(default_factory=list)  # served texts a student learns its teacher's answers on

    def summary(self) -> str:
        return (
            f"Training on {len(self.train)} rows ({self.feedback_rows} from feedback), "
            f"validating on {len(self.validation)}"
        )


def load_training_rows(ws: Workspace) -> TrainingRows:
    """The base training split plus every feedback training row (augmented when ``augment`` is on), and the
    validation split plus the feedback validation rows, each capped as the settings say.

    Raises:
        DataValidationError: the splits are missing (run the preprocess step first).
    """
    s = ws.settings
    feedback_train = feedback.read_feedback_part(ws.processed, "train")
    # repeated rather than loss-weighted: the Trainer, the distillation and the averaging need no change
    weighted = pd.concat([feedback_train] * s.feedback_weight, ignore_index=True)
    base = dataset.read_split(ws.processed, "train")
    train = mixed_rows(s, base, weighted, s.max_train_samples)
    if s.augment:
        train = augment.augment_frame(train, s.augment_copies, s.seed)
    if s.augment_capabilities:
        wanted = [name.strip() for name in s.augment_capabilities.split(",") if name.strip()]
        extra = capability_augment.capability_rows(wanted, s.augment_capability_rows, s.seed)
        train = pd.concat([train, extra], ignore_index=True)
    if s.identity_augment_rows:
        extra = identity_augment.identity_rows(base, s.identity_augment_rows, s.seed)
        train = pd.concat([train, extra], ignore_index=True)
    validation = mixed_rows(  # the checkpoint and the temperature are chosen for the same mix the model learns
        s,
        dataset.read_split(ws.processed, "validation"),
        feedback.read_feedback_part(ws.processed, "validation"),
        s.max_eval_samples,
    )
    weights = mix.parse_mix(s.mix)
    unlabelled = student_texts(ws, base, train) if s.layers else []
    return TrainingRows(train, validation, len(feedback_train), mix.mix_table(base, train, weights), unlabelled)


def student_texts(ws: Workspace, base: pd.DataFrame, train: pd.DataFrame) -> list[str]:
    """What a student learns its teacher's answers on besides the training rows, no label used, at most
    ``student_unlabelled_rows``: the newest served texts (what it will be asked), then texts of the training
    split that ``max_train_samples`` left out (a seeded sample)."""
    limit = ws.settings.student_unlabelled_rows
    served = served_texts(ws, limit)
    left_out = base.loc[~base[TEXT_COLUMN].isin(set(train[TEXT_COLUMN])), TEXT_COLUMN]
    room = min(limit - len(served), len(left_out))
    return served + (left_out.sample(room, random_state=ws.settings.seed).tolist() if room > 0 else [])


def served_texts(ws: Workspace, limit: int) -> list[str]:
    """The newest ``limit`` texts the API logged as served, whole ones only (the log cuts very long texts)."""
    return [record["text"] for record in latest_served(ws.served_log, limit, keep=lambda r: "text_chars" not in r)]


def mixed_rows(s: Settings, split: pd.DataFrame, feedback_rows: pd.DataFrame, limit: int) -> pd.DataFrame:
    """``split``'s labels balanced per domain (``balance_labels``), drawn by the mix and capped at ``limit``
    rows, plus ``feedback_rows`` (never balanced or capped away: they are what the loop adapts to)."""
    balanced = mix.balance_labels(split, s.balance_labels, s.seed)
    return feedback.with_feedback(balanced, feedback_rows, limit, s.seed, mix.parse_mix(s.mix))


def run_metrics(result: TrainResult, calibration: CalibrationResult, rows: TrainingRows) -> dict[str, float]:
    """Everything a training run logs besides the Trainer's own metrics."""
    averaged = {} if result.averaged_metric is None else {"averaged_val_accuracy": result.averaged_metric}
    teachers = {f"teacher_{k}_val_accuracy": a for k, a in enumerate(result.teacher_accuracies, 1)}
    return {
        **calibration.metrics(),
        "train_seconds": result.train_seconds,
        "best_val_accuracy": result.best_metric or 0.0,
        **averaged,
        "kept_average": float(result.kept_average),
        **teachers,
        "train_rows": len(rows.train),
        "train_feedback_rows": rows.feedback_rows,
        "unlabelled_rows": len(rows.unlabelled),
    }


@dataclass
class TrainingOutcome:
    """What one training run produced: the model's training numbers, its calibration and its registry entry."""

    result: TrainResult
    calibration: CalibrationResult
    version: Any  # the registered MLflow ModelVersion (alias @challenger)
    run_id: str
    rows: TrainingRows

    def metrics(self) -> dict[str, float]:
        return run_metrics(self.result, self.calibration, self.rows)

    def summary(self) -> str:
        result, cal = self.result, self.calibration
        lines = [f"Trained {result.global_step} steps in {result.train_seconds:.0f} s (teachers included)"]
        lines += [f"Teacher {k}: validation accuracy {a:.4f}" for k, a in enumerate(result.teacher_accuracies, 1)]
        lines.append(f"Best validation accuracy {result.best_metric or 0.0:.4f}")
        if result.averaged_metric is not None:
            kept = "kept" if result.kept_average else "discarded for the best checkpoint"
            lines.append(f"Averaged weights: validation accuracy {result.averaged_metric:.4f}, {kept}")
        lines.append(
            f"Temperature {cal.temperature:.3f}: validation ECE {cal.ece_before:.4f} -> {cal.ece_after:.4f}, "
            f"NLL {cal.nll_before:.4f} -> {cal.nll_after:.4f}"
        )
        if result.resumed_from:
            lines.append(f"Resumed from {result.resumed_from}")
        lines.append(
            f"Registered {self.version.name} version {self.version.version} (run {self.run_id}) as @challenger"
        )
        return "\n".join(lines)


def train_and_register(
    ws: Workspace, rows: TrainingRows, run_name: str, trained_at: datetime | None = None
) -> TrainingOutcome:
    """Fine-tune (with teachers if configured), fit the temperature, log everything to one tracked run, and
    register the model as a new version with alias ``@challenger``, tagged with ``trained_at`` (the loop's
    clock when its data was gathered; default now).

    Raises:
        ModelError: the pretrained model does not load, or registration fails.
    """
    s = ws.settings
    with runs.tracked_run(s, run_name=run_name, job_type="train") as run:
        run_id = run.info.run_id
        result = train_model(s, rows.train, rows.validation, ws.model_dir(run_id), run_name, rows.unlabelled)
        calibrated = calibrate(result.model_dir, rows.validation)
        texts = dataset.sample_rows(rows.validation, INT8_CALIBRATION_ROWS, s.seed)[TEXT_COLUMN].tolist()
        runs.log_metrics_everywhere(run_metrics(result, calibrated, rows))
        tags = architecture_tags(result)  # read before registering: the local folder is removed then
        version = registry.log_and_register(result.model_dir, ws.registered_model, texts, trained_at=trained_at)
        registry.tag_version(ws.registered_model, version.version, tags)
    return TrainingOutcome(result, calibrated, version, run_id, rows)


def architecture_tags(result: TrainResult) -> dict[str, str]:
    """The version's encoder depth and, for a student, where its full-depth teacher is kept."""
    tags = {registry.ENCODER_LAYERS_TAG: str(encoder_depth(str(result.model_dir)))}
    if result.teacher_dir is not None:
        tags[registry.TEACHER_DIR_TAG] = str(result.teacher_dir.resolve())
    return tags


def record_evaluation(
    ws: Workspace, version: Any, metrics: dict[str, float], figures: dict[str, Any], run_name: str
) -> None:
    """Log an evaluation's metrics and figures to the version's own training run (and wandb), and tag the
    version with its metrics so the registry shows them (the gate and the API read ``test_accuracy``)."""
    with runs.tracked_run(ws.settings, run_name=run_name, job_type="evaluate", run_id=version.run_id):
        runs.log_metrics_everywhere(metrics)
        for name, figure in figures.items():
            runs.log_figure(figure, f"plots/{name}.png")
    registry.tag_version(ws.registered_model, version.version, {k: round(v, 4) for k, v in metrics.items()})
