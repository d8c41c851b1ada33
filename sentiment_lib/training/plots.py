"""Figures for the training notebooks' reports. Each function returns a matplotlib Figure and shows nothing.

The staleness history chart is monitoring's: :mod:`sentiment_lib.monitoring.staleness_chart`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from sklearn.metrics import confusion_matrix, roc_curve

from sentiment_lib.data.schema import LABEL_COLUMN, LABELS, TEXT_COLUMN
from sentiment_lib.training.evaluate import Evaluation, reliability_table


def class_balance(frame: pd.DataFrame) -> Figure:
    fig, ax = plt.subplots(figsize=(5, 3))
    counts = frame[LABEL_COLUMN].value_counts().reindex(list(LABELS), fill_value=0)
    ax.bar(counts.index, counts.values, color=["#c0392b", "#27ae60"])
    ax.set(title="Class balance", ylabel="reviews")
    fig.tight_layout()
    return fig


def review_lengths(frame: pd.DataFrame) -> Figure:
    fig, ax = plt.subplots(figsize=(6, 3))
    words = frame[TEXT_COLUMN].str.split().str.len()
    ax.hist(words, bins=50, color="#34495e")
    ax.set(title=f"Review length (median {int(words.median())} words)", xlabel="words", ylabel="reviews")
    fig.tight_layout()
    return fig


def split_sizes(splits: dict[str, pd.DataFrame]) -> Figure:
    table = pd.DataFrame({name: part[LABEL_COLUMN].value_counts() for name, part in splits.items()}).T
    fig, ax = plt.subplots(figsize=(6, 3))
    table.reindex(columns=list(LABELS)).plot.bar(stacked=True, ax=ax, color=["#c0392b", "#27ae60"], rot=0)
    ax.set(title="Rows per split", ylabel="reviews")
    fig.tight_layout()
    return fig


def training_curves(log_history: Sequence[dict[str, Any]]) -> Figure:
    """Training loss and validation loss/accuracy against the optimisation step."""
    history = pd.DataFrame(log_history)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.5))
    if "loss" in history:
        train = history.dropna(subset=["loss"])
        left.plot(train["step"], train["loss"], label="training loss")
    if "eval_loss" in history:
        evals = history.dropna(subset=["eval_loss"])
        left.plot(evals["step"], evals["eval_loss"], marker="o", label="validation loss")
        right.plot(evals["step"], evals["eval_accuracy"], marker="o", color="#27ae60")
    left.set(title="Loss", xlabel="step")
    left.legend()
    right.set(title="Validation accuracy", xlabel="step")
    fig.tight_layout()
    return fig


def confusion(evaluation: Evaluation) -> Figure:
    matrix = confusion_matrix(evaluation.y_true, evaluation.y_pred, labels=[0, 1])
    fig, ax = plt.subplots(figsize=(4, 3.5))
    sns.heatmap(matrix, annot=True, fmt="d", cmap="Blues", xticklabels=LABELS, yticklabels=LABELS, ax=ax)
    ax.set(title=f"Confusion matrix: {evaluation.name}", xlabel="predicted", ylabel="true")
    fig.tight_layout()
    return fig


def roc(evaluations: Sequence[Evaluation]) -> Figure:
    fig, ax = plt.subplots(figsize=(4.5, 4))
    # a set with one class only (a day of complaints) has no ROC curve
    for ev in [ev for ev in evaluations if len(set(ev.y_true)) == 2]:
        fpr, tpr, _ = roc_curve(ev.y_true, ev.predictions.positive_probabilities)
        ax.plot(fpr, tpr, label=f"{ev.name} (AUC {ev.metrics['roc_auc']:.3f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey")
    ax.set(title="ROC", xlabel="false positive rate", ylabel="true positive rate")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def reliability(evaluations: Sequence[Evaluation]) -> Figure:
    """Reliability diagram: accuracy per confidence bin against the diagonal of perfect calibration."""
    fig, ax = plt.subplots(figsize=(4.5, 4))
    for ev in evaluations:
        correct = ev.y_pred == ev.y_true
        table = reliability_table(ev.predictions.confidences, correct)
        ax.plot(
            table["confidence"],
            table["accuracy"],
            marker="o",
            label=f"{ev.name} (ECE {ev.metrics['ece']:.3f})",
        )
    ax.plot([0.5, 1], [0.5, 1], linestyle="--", color="grey", label="perfect calibration")
    ax.set(title="Reliability", xlabel="mean confidence", ylabel="accuracy", xlim=(0.5, 1), ylim=(0, 1))
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig
