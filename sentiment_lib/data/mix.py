"""The training mix: how much each source of rows weighs when a training set is drawn from the split.

A mix such as ``sst2:1,reviews:2`` (``sst2=1,reviews=2`` means the same) gives each row a weight by where it
comes from. A key names a source (``sst2``: the movie phrases, ``airline``: the tweets, ``reviews``: every
other domain, the customer reviews) or one domain (``hotels:3``), which wins over its source; rows named by
neither weigh 1. A weight of 2 makes each row count twice (repeated, never sampled away), 0.5 keeps half the
rows, 0 none. With a cap on the rows (``max_train_samples``), every group shrinks by the same factor, so the
mix keeps its proportions.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sentiment_lib.data.dataset import domains_of
from sentiment_lib.data.schema import AIRLINE_DOMAIN, LABEL_COLUMN, SST2_DOMAIN, is_domain_name
from sentiment_lib.errors import ConfigError, DataValidationError

SOURCE_DOMAINS = {"sst2": SST2_DOMAIN, "airline": AIRLINE_DOMAIN}
REVIEWS_SOURCE = "reviews"
SOURCES = (*SOURCE_DOMAINS, REVIEWS_SOURCE)


def parse_mix(text: str) -> dict[str, float]:
    """``"sst2:1,reviews:2"`` (or ``"sst2=1,reviews=2"``) as ``{"sst2": 1.0, "reviews": 2.0}``; an empty text
    weighs every row 1.

    Raises:
        ConfigError: a pair is not ``name:weight``, a name is neither a source nor a domain name, or a weight
            is not a number >= 0.
    """
    weights: dict[str, float] = {}
    for pair in filter(None, (p.strip() for p in text.split(","))):
        # ":" is what a notebook's parameters cell can hold (papermill skips a line with two "=")
        name, sep, value = (part.strip() for part in pair.replace("=", ":", 1).partition(":"))
        if not sep or not is_domain_name(name):
            raise ConfigError(f"mix: bad entry {pair!r}; write source:weight, e.g. sst2:1,reviews:2 or hotels:3")
        try:
            weight = float(value)
        except ValueError:
            raise ConfigError(f"mix: the weight of {name!r} must be a number, got {value!r}") from None
        if not math.isfinite(weight) or weight < 0:
            raise ConfigError(f"mix: the weight of {name!r} must be >= 0, got {value!r}")
        weights[name] = weight
    return weights


def source_of(domain: str) -> str:
    """The source a domain belongs to: ``sst2``, ``airline`` or ``reviews``."""
    return next((source for source, d in SOURCE_DOMAINS.items() if d == domain), REVIEWS_SOURCE)


def group_weights(domains: pd.Series, weights: dict[str, float]) -> dict[str, float]:
    """The weight of each domain present: its own entry, else its source's, else 1.

    Raises:
        DataValidationError: an entry names neither a source nor a domain of the data (a typo would
            otherwise silently weigh nothing).
    """
    present = sorted(set(domains))
    unknown = sorted(set(weights) - set(SOURCES) - set(present))
    if unknown:
        raise DataValidationError(
            f"mix names {unknown}, which the training data does not have; sources: {', '.join(SOURCES)}; "
            f"domains: {', '.join(present)}"
        )
    return {d: weights.get(d, weights.get(source_of(d), 1.0)) for d in present}


def target_counts(sizes: dict[str, int], weights: dict[str, float], limit: int) -> dict[str, int]:
    """Rows to draw from each group: size x weight, all scaled down together to at most ``limit`` (0 = no cap).

    Raises:
        DataValidationError: the weights leave no row at all.
    """
    wanted = {g: sizes[g] * weights[g] for g in sizes}
    total = sum(wanted.values())
    if total <= 0:
        raise DataValidationError(f"The mix {weights} leaves no training row: give some source a weight above 0")
    scale = min(1.0, limit / total) if limit > 0 else 1.0
    return {g: round(count * scale) for g, count in wanted.items()}


def draw(frame: pd.DataFrame, count: int, seed: int) -> pd.DataFrame:
    """``count`` rows of ``frame``: whole copies while it fits, then a seeded sample of the rest."""
    copies, rest = divmod(count, len(frame)) if len(frame) else (0, 0)
    parts = [frame] * copies + [frame.sample(n=rest, random_state=seed)]
    return pd.concat(parts, ignore_index=True)


def mixed_sample(frame: pd.DataFrame, weights: dict[str, float], limit: int, seed: int) -> pd.DataFrame:
    """A seeded draw of ``frame`` that follows the mix ``weights`` and holds at most ``limit`` rows (0 = no cap),
    shuffled.

    Raises:
        DataValidationError: see :func:`group_weights` and :func:`target_counts`.
    """
    domains = domains_of(frame)
    by_domain = group_weights(domains, weights)
    groups = {d: frame[domains == d] for d in by_domain}
    counts = target_counts({d: len(g) for d, g in groups.items()}, by_domain, limit)
    drawn = pd.concat([draw(groups[d], counts[d], seed) for d in sorted(groups)], ignore_index=True)
    order = np.random.default_rng(seed).permutation(len(drawn))
    return drawn.iloc[order].reset_index(drop=True)


def balance_labels(frame: pd.DataFrame, ratio: float, seed: int) -> pd.DataFrame:
    """``frame`` with, in each domain, at most ``ratio`` rows of its majority label per row of its minority
    label (a seeded sample of the majority; 0 keeps every row).

    Customer reviews are mostly praise (89% of the clothing reviews), so a model trained on them as they come
    learns that a text with no clear sentiment is positive, and reads neutral-sounding complaints (a question
    to an airline, a delay stated flatly) as praise.
    """
    if not ratio:
        return frame
    domains, kept = domains_of(frame), []
    for domain in sorted(set(domains)):
        rows = frame[domains == domain]
        counts = rows[LABEL_COLUMN].value_counts()
        most = max(1, round(counts.min() * ratio)) if len(counts) > 1 else len(rows)
        kept += [part.sample(n=min(most, len(part)), random_state=seed) for _, part in rows.groupby(LABEL_COLUMN)]
    return pd.concat(kept).loc[lambda f: f.index.sort_values()]


def mix_table(available: pd.DataFrame, drawn: pd.DataFrame, weights: dict[str, float]) -> pd.DataFrame:
    """Per domain: its source, its weight, the rows the split has and the rows the mix drew."""
    domains = domains_of(available)
    by_domain = group_weights(domains, weights)
    table = pd.DataFrame(
        {
            "source": {d: source_of(d) for d in by_domain},
            "weight": by_domain,
            "rows in split": domains.value_counts(),
            "rows drawn": domains_of(drawn).value_counts(),
        }
    )
    return table.fillna({"rows drawn": 0}).astype({"rows drawn": int}).sort_index()
