"""The behavioural suite run on a registered version and on the champion it would replace, for 03_evaluate
and the promotion gate."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from sentiment_lib.behaviour.suite import CapabilityResult, Case, as_metrics, build_suite, results_table, run_suite
from sentiment_lib.settings import CHAMPION
from sentiment_lib.tracking import registry
from sentiment_lib.workspace import Workspace


def positive_probabilities(predictor: Any):
    """The suite's view of a predictor: texts in, P(positive) out."""
    return lambda texts: predictor.predict(texts).positive_probabilities


def results_by_version(
    version: str, predictor: Any, suite: Sequence[Case], champion: registry.Champion | None = None
) -> dict[str, list[CapabilityResult]]:
    """Pass rates of ``version`` (answering with ``predictor``) and of the ``champion`` it challenges, if any."""
    results = {version: run_suite(suite, positive_probabilities(predictor))}
    if champion is not None:
        results[champion.version] = run_suite(suite, positive_probabilities(champion.predictor))
    return results


def run_on_versions(
    ws: Workspace, version: str, predictor: Any, champion: registry.Champion | None = None
) -> dict[str, list[CapabilityResult]]:
    """:func:`results_by_version` on the suite the settings ask for (``behaviour_cases``); {} when that is 0."""
    cases = ws.settings.behaviour_cases
    suite = build_suite(cases, ws.settings.seed) if cases else []
    return results_by_version(version, predictor, suite, champion) if suite else {}


def metrics(results: dict[str, list[CapabilityResult]], evaluated: str) -> dict[str, float]:
    """The evaluated version's pass rates as metrics, and the champion's beside them (``champion_`` prefix)."""
    found = {}
    for version, version_results in results.items():
        prefix = "" if version == evaluated else "champion_"
        found.update({prefix + name: rate for name, rate in as_metrics(version_results).items()})
    return found


def comparison_table(results: dict[str, list[CapabilityResult]], evaluated: str) -> pd.DataFrame:
    """Pass rates per capability, the evaluated version first, then the champion (columns named for people),
    and one case the evaluated version failed (INV and DIR: the original, then the changed texts); empty when
    nothing was tested."""
    if not results:
        return pd.DataFrame()
    names = {v: f"v{v} ({'evaluated' if v == evaluated else CHAMPION})" for v in results}
    table = results_table({names[v]: r for v, r in results.items()})
    failed = {r.capability: " -> ".join(r.failures[0]) if r.failures else "" for r in results[evaluated]}
    return table.assign(**{f"a failure of v{evaluated}": pd.Series(failed)})
