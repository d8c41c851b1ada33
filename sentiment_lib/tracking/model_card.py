"""A model card for each registered version: what it was trained on, how good it is, where not to use it.

Built from what the registry and the tracking store already hold (the version's evaluation and gate tags,
its training run's settings and row counts), written as the version's description in MLflow and as
``MODEL_CARD.md`` in its run's artifacts. ``03_evaluate`` publishes it after the gate has decided, so the
card says how the version came to be served (or why not).
"""

from __future__ import annotations

import re
from typing import Any

import mlflow

from sentiment_lib.monitoring.checks.verdicts import wilson_interval
from sentiment_lib.settings import EVALUATION_SETS

CARD_FILE = "MODEL_CARD.md"
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


def build_card(name: str, version: Any, run: Any | None) -> str:
    """The card of ``version`` (an MLflow ModelVersion) of ``name``, from its tags and its run (or None)."""
    tags = dict(version.tags)
    params = run.data.params if run is not None else {}
    metrics = run.data.metrics if run is not None else {}
    sections = [
        f"# {name}, version {version.version}",
        _summary(tags, params, metrics),
        "## Evaluation\n\n" + _evaluation_table(tags),
        "## Calibration\n\n" + _calibration(tags),
        "## Identity terms\n\n" + _identity(tags),
        "## How it came to be served\n\n" + _gate(tags),
        "## Intended use and limits\n\n" + _limits(params),
    ]
    return "\n\n".join(sections) + "\n"


def _summary(tags: dict[str, str], params: dict[str, str], metrics: dict[str, float]) -> str:
    rows = metrics.get("train_rows")
    feedback = int(metrics.get("train_feedback_rows", 0))
    data = params.get("settings.raw_path", "unknown data")
    size = f"{int(rows):,} rows" if rows is not None else "an unknown number of rows"
    with_feedback = f", {feedback:,} of them labelled feedback" if feedback else ""
    accuracy = _percent(tags.get("test_accuracy"))
    return "\n".join(
        [
            f"- **Trained on**: `{data}`, {size}{with_feedback}.",
            f"- **Preset**: `{params.get('settings.preset', 'unknown')}`, starting from "
            f"`{params.get('settings.model_name_or_path', 'unknown')}`.",
            f"- **Accuracy**: {accuracy} on the held-out split.",
            f"- **Status**: {_status(tags)}.",
        ]
    )


def _status(tags: dict[str, str]) -> str:
    if "promotion.reason" in tags:
        return f"promoted to @champion ({tags['promotion.reason']})"
    if tags.get("gate.promote") == "false":
        return f"rejected by the gate ({tags.get('gate.reason', 'no reason recorded')})"
    return "registered, not promoted"


def _percent(value: str | None) -> str:
    try:
        return f"{100 * float(value):.2f}%"
    except (TypeError, ValueError):
        return "not measured"


def _evaluation_table(tags: dict[str, str]) -> str:
    lines = [
        "| set | rows | accuracy | 95% interval | F1 | ROC AUC | confident errors |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for prefix, label in evaluation_sets(tags):
        if f"{prefix}_accuracy" not in tags:
            continue
        accuracy, n = float(tags[f"{prefix}_accuracy"]), int(float(tags.get(f"{prefix}_n", 0)))
        low, high = wilson_interval(round(accuracy * n), n)
        lines.append(
            f"| {label} | {n:,} | {100 * accuracy:.2f}% | {100 * low:.2f}% to {100 * high:.2f}% "
            f"| {_number(tags, f'{prefix}_f1')} | {_number(tags, f'{prefix}_roc_auc')} "
            f"| {_percent(tags.get(f'{prefix}_confident_errors'))} |"
        )
    note = "\n\nConfident errors: the share of rows answered wrongly at a confidence of 0.9 or more."
    return "\n".join(lines) + note if len(lines) > 2 else "Not evaluated yet."


def _number(tags: dict[str, str], key: str) -> str:
    return f"{float(tags[key]):.3f}" if key in tags else "-"


def _calibration(tags: dict[str, str]) -> str:
    lines = []
    for prefix, label in evaluation_sets(tags):
        if f"{prefix}_ece" in tags:
            before = tags.get(f"{prefix}_ece_before_temperature")
            was = f" (before temperature scaling: {float(before):.3f})" if before else ""
            lines.append(f"- {label}: expected calibration error {float(tags[f'{prefix}_ece']):.3f}{was}")
    return "\n".join(lines) or "Not measured."


def _identity(tags: dict[str, str]) -> str:
    groups = {
        k.removeprefix(IDENTITY_CAPABILITY): float(v) for k, v in tags.items() if k.startswith(IDENTITY_CAPABILITY)
    }
    if not groups:
        return "Not measured."
    lines = [f"- {group.replace('_', ' ')}: {100 * (1 - rate):.1f}% of pairs" for group, rate in sorted(groups.items())]
    return (
        "Share of review pairs whose answer changes when only a person's identity is named (behavioural suite, "
        "lower is better):\n\n" + "\n".join(lines)
    )


def _gate(tags: dict[str, str]) -> str:
    if "gate.reason" not in tags:
        return f"{_status(tags).capitalize()}; no gate comparison (the first version, or a policy without one)."
    return (
        f"Compared with version {tags.get('gate.champion_version', '?')} on {tags.get('gate.n', '?')} rows "
        f"({tags.get('gate.judged_on', 'the gate set')}): accuracy {_percent(tags.get('gate.challenger_accuracy'))} "
        f"against {_percent(tags.get('gate.champion_accuracy'))}, McNemar p = {tags.get('gate.p_value', '?')}. "
        f"Decision: {'promoted' if tags.get('gate.promote') == 'true' else 'rejected'} ({tags['gate.reason']})."
    )


def _limits(params: dict[str, str]) -> str:
    data = params.get("settings.raw_path", "its training data")
    return (
        "- Two classes only, `positive` and `negative`: a neutral or mixed text still gets one of them.\n"
        "- English only: the encoder and the training data are English; answers on other languages mean little.\n"
        f"- Fitted to `{data}` (SST-2 movie-review phrases and customer reviews of clothing, electronics, kitchen "
        "goods, hotels and restaurants in the default setup) and the feedback above: other domains can be less "
        "accurate (see the per-domain rows above); the loop measures that on labelled feedback and retrains.\n"
        "- Not for decisions about individual people without a human reviewing its answers."
    )


def publish(name: str, version: str) -> str:
    """Write the card of ``version`` as its registry description and as ``MODEL_CARD.md`` in its run; return it."""
    client = mlflow.MlflowClient()
    found = client.get_model_version(name, str(version))
    run = client.get_run(found.run_id) if found.run_id else None
    card = build_card(name, found, run)
    client.update_model_version(name, str(version), description=card)
    if run is not None:
        client.log_text(found.run_id, card, CARD_FILE)
    return card


def summary(card: str) -> list[str]:
    """The card's summary bullets (for the status page), without their Markdown emphasis."""
    bullets = [line[2:].replace("**", "").replace("`", "") for line in card.splitlines() if line.startswith("- ")]
    return bullets[:SUMMARY_LINES]
