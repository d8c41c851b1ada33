"""A model card for each registered version: what it was trained on, how good it is, where not to use it.

Built from what the registry and the tracking store already hold (the version's evaluation and gate tags,
its training run's settings and row counts), written as the version's description in MLflow and as
``MODEL_CARD.md`` in its run's artifacts. ``03_evaluate`` publishes it after the gate has decided, so the
card says how the version came to be served (or why not). This module gathers and formats the facts; the
Markdown template ``templates/model_card.md.j2`` lays them out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import mlflow

from sentiment_lib import rendering
from sentiment_lib.monitoring.checks.verdicts import wilson_interval
from sentiment_lib.settings import EVALUATION_SETS
from sentiment_lib.tracking import registry

CARD_FILE = "MODEL_CARD.md"
CARD_TEMPLATE = "model_card.md.j2"  # Markdown: not HTML-escaped (sentiment_lib/rendering.py says why)
SUMMARY_LINES = 4  # the lines of the card the status page shows
# test_<domain>_accuracy: one domain of the held-out split (training/evaluate.py by_domain); "fp32" is the
# re-score of the first set by the fp32 model, not a domain
_DOMAIN_TAG = re.compile(r"test_([a-z][a-z0-9_]*)_accuracy")
_NOT_DOMAINS = {"fp32"}
IDENTITY_CAPABILITY = "capability_identity_"  # the behavioural suite's identity invariance groups, as tagged


def evaluation_sets(tags: dict[str, str]) -> list[tuple[str, str]]:
    """(tag prefix, name) of every set a version was evaluated on: the held-out split, each of its domains,
    SST-2 test and the airline tweets, in that order."""
    domains = sorted(m.group(1) for m in map(_DOMAIN_TAG.fullmatch, tags) if m and m.group(1) not in _NOT_DOMAINS)
    first, *others = EVALUATION_SETS
    return [first, *((f"test_{d}", f"{d} (held-out split)") for d in domains), *others]


@dataclass(frozen=True)
class EvaluationLine:
    """One evaluation set's row of the card's table, formatted."""

    label: str
    rows: str
    accuracy: str
    interval: str  # Wilson 95%
    f1: str
    roc_auc: str
    confident_errors: str


@dataclass(frozen=True)
class CalibrationLine:
    label: str
    ece: str
    before: str  # before temperature scaling, "" when not measured


def build_card(name: str, version: Any, run: Any | None) -> str:
    """The card of ``version`` (an MLflow ModelVersion) of ``name``, from its tags and its run (or None)."""
    tags = dict(version.tags)
    params = run.data.params if run is not None else {}
    metrics = run.data.metrics if run is not None else {}
    rows = metrics.get("train_rows")
    return rendering.render(
        CARD_TEMPLATE,
        name=name,
        version=version.version,
        data=params.get("settings.raw_path", "unknown data"),
        size=f"{int(rows):,} rows" if rows is not None else "an unknown number of rows",
        feedback=int(metrics.get("train_feedback_rows", 0)),
        preset=params.get("settings.preset", "unknown"),
        base_model=params.get("settings.model_name_or_path", "unknown"),
        layers=tags.get(registry.ENCODER_LAYERS_TAG),
        student=registry.TEACHER_DIR_TAG in tags,
        accuracy=_percent(tags.get("test_accuracy")),
        status=_status(tags),
        evaluations=_evaluations(tags),
        calibration=_calibration(tags),
        identity=_identity(tags),
        gate=_gate(tags),
        limits_data=params.get("settings.raw_path", "its training data"),
    )


def _status(tags: dict[str, str]) -> str:
    if "promotion.reason" in tags:
        return f"promoted to @champion ({tags['promotion.reason']})"
    if "gate.reason" not in tags:
        return "registered, not promoted"
    words = {"rejected": "rejected by the gate", "held": "held in the shadow by the gate", "promoted": "promoted"}
    return f"{words[registry.gate_outcome(tags)]} ({tags['gate.reason']})"


def _percent(value: str | None) -> str:
    if value is None:
        return "not measured"
    try:
        return f"{100 * float(value):.2f}%"
    except ValueError:
        return "not measured"


def _evaluations(tags: dict[str, str]) -> list[EvaluationLine]:
    """A row per set the version was evaluated on, with the Wilson 95% interval of its accuracy."""
    lines = []
    for prefix, label in evaluation_sets(tags):
        if f"{prefix}_accuracy" not in tags:
            continue
        accuracy, n = float(tags[f"{prefix}_accuracy"]), int(float(tags.get(f"{prefix}_n", 0)))
        low, high = wilson_interval(round(accuracy * n), n)
        lines.append(
            EvaluationLine(
                label=label,
                rows=f"{n:,}",
                accuracy=f"{100 * accuracy:.2f}%",
                interval=f"{100 * low:.2f}% to {100 * high:.2f}%",
                f1=_number(tags, f"{prefix}_f1"),
                roc_auc=_number(tags, f"{prefix}_roc_auc"),
                confident_errors=_percent(tags.get(f"{prefix}_confident_errors")),
            )
        )
    return lines


def _number(tags: dict[str, str], key: str) -> str:
    return f"{float(tags[key]):.3f}" if key in tags else "-"


def _calibration(tags: dict[str, str]) -> list[CalibrationLine]:
    lines = []
    for prefix, label in evaluation_sets(tags):
        if f"{prefix}_ece" in tags:
            before = tags.get(f"{prefix}_ece_before_temperature")
            lines.append(
                CalibrationLine(label, f"{float(tags[f'{prefix}_ece']):.3f}", f"{float(before):.3f}" if before else "")
            )
    return lines


def _identity(tags: dict[str, str]) -> list[tuple[str, str]]:
    """(group, share of pairs whose answer changes) per identity group of the behavioural suite."""
    groups = {
        k.removeprefix(IDENTITY_CAPABILITY): float(v) for k, v in tags.items() if k.startswith(IDENTITY_CAPABILITY)
    }
    return [(group.replace("_", " "), f"{100 * (1 - rate):.1f}%") for group, rate in sorted(groups.items())]


def _gate(tags: dict[str, str]) -> dict[str, str] | None:
    """The gate's comparison with the champion of the time (None: the version was not compared)."""
    if "gate.reason" not in tags:
        return None
    return {
        "champion_version": tags.get("gate.champion_version", "?"),
        "n": tags.get("gate.n", "?"),
        "judged_on": tags.get("gate.judged_on", "the gate set"),
        "challenger_accuracy": _percent(tags.get("gate.challenger_accuracy")),
        "champion_accuracy": _percent(tags.get("gate.champion_accuracy")),
        "p_value": tags.get("gate.p_value", "?"),
        "decision": registry.gate_outcome(tags),
        "reason": tags["gate.reason"],
    }


def publish(name: str, version: str) -> str:
    """Write the card of ``version`` as its registry description and as ``MODEL_CARD.md`` in its run; return it."""
    client = mlflow.MlflowClient()
    found = client.get_model_version(name, str(version))
    run = client.get_run(found.run_id) if found.run_id else None
    card = build_card(name, found, run)
    client.update_model_version(name, str(version), description=card)
    if run is not None:
        client.log_text(run.info.run_id, card, CARD_FILE)
    return card


def summary(card: str) -> list[str]:
    """The card's summary bullets (for the status page), without their Markdown emphasis."""
    bullets = [line[2:].replace("**", "").replace("`", "") for line in card.splitlines() if line.startswith("- ")]
    return bullets[:SUMMARY_LINES]
