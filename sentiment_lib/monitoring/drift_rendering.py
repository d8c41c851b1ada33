"""The drift explanation as a person reads it: plain-text lines for the alert emails, titled tables for the
staleness notebook.

The explanation itself (what is measured, and its ``verdict.json`` form) is
:mod:`sentiment_lib.monitoring.checks.drift_explanation`; this module only shows it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from sentiment_lib.formatting import fixed, percent, points
from sentiment_lib.monitoring.checks.drift_explanation import POSITIVE, DriftExplanation


def explanation_lines(explanation: DriftExplanation | Mapping[str, Any] | None) -> list[str]:
    """The explanation as plain-text lines for an email; [] when there is none (drift was not tested).

    Takes the object or its :meth:`DriftExplanation.to_dict` form, as read back from ``verdict.json``.
    """
    if isinstance(explanation, DriftExplanation):
        explanation = explanation.to_dict()
    if not isinstance(explanation, Mapping):
        return []
    lines = [
        f"What the drift check sees ({explanation.get('recent_texts', '?')} recent vs "
        f"{explanation.get('reference_texts', '?')} training texts):"
    ]
    for key, side in (("typical_of_recent", "recent"), ("typical_of_reference", "training")):
        if ngrams := explanation.get(key):
            lines.append(f"Word n-grams most typical of {side} texts (weight; share of recent / training texts):")
            lines += [
                f"- {n['ngram']!r}: {fixed(n['weight'], '+.2f')} ({percent(n['recent_share'])} / "
                f"{percent(n['reference_share'])})"
                for n in ngrams
            ]
    if shift := explanation.get("label_shift"):
        lines.append(
            f"Predicted {shift['label']}: {percent(shift['recent_share'])} of recent vs "
            f"{percent(shift['reference_share'])} of training texts ({points(shift['difference'])}, "
            f"p = {fixed(shift['p_value'], '.2g')})"
        )
    if descriptors := explanation.get("descriptors"):
        lines.append("Descriptors (training -> recent):")
        lines += [f"- {d['description']}: {_descriptor_change(d)}" for d in descriptors]
    return lines


def _descriptor_change(d: Mapping[str, Any]) -> str:
    if d["name"].endswith("_share"):
        return f"{percent(d['reference'])} -> {percent(d['recent'])} ({points(d['difference'])})"
    return f"{fixed(d['reference'])} -> {fixed(d['recent'])} ({fixed(d['difference'], '+.1f')})"


def explanation_tables(explanation: DriftExplanation | None) -> dict[str, pd.DataFrame]:
    """The explanation as titled tables for the staleness notebook ({} when drift was not tested).

    Shares are fractions of texts (0-1); "training" and "recent" name the two sides in every table.
    """
    if explanation is None:
        return {}
    tables = {
        f"Word n-grams most typical of {side} texts (share of texts containing each)": pd.DataFrame(
            [(n.ngram, n.weight, n.recent_share, n.reference_share) for n in ngrams],
            columns=["ngram", "weight", "recent", "training"],
        ).set_index("ngram")
        for side, ngrams in (("recent", explanation.typical_of_recent), ("training", explanation.typical_of_reference))
    }
    if (shift := explanation.label_shift) is not None:
        tables[f"Share of {POSITIVE} predictions (Fisher exact p = {shift.p_value:.2g})"] = pd.DataFrame(
            {"training": [shift.reference_positive_share], "recent": [shift.recent_positive_share]},
            index=[POSITIVE],
        ).assign(difference=shift.difference)
    tables["Descriptors"] = pd.DataFrame(
        [(d.description, d.reference, d.recent, d.difference) for d in explanation.descriptors],
        columns=["descriptor", "training", "recent", "difference"],
    ).set_index("descriptor")
    return {title: table.round(3) for title, table in tables.items()}
