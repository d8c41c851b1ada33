"""The challenger's live agreement with the champion, read from the shadow log the API writes.

Each line of the shadow log (``Workspace.shadow_log``, :func:`~sentiment_lib.serving.served_log.read_shadow`) is
one served text with the champion's answer and the ``@challenger``'s. Agreement is the share of texts both
labelled alike, with its 95% Wilson interval, per pair of versions; the disagreements worth reading first are
those both were sure of. The gate (:mod:`sentiment_lib.tracking.gate`) and ``04_staleness`` read it here.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from sentiment_lib.formatting import percent
from sentiment_lib.monitoring.checks.verdicts import wilson_interval
from sentiment_lib.serving.served_log import read_shadow

WINDOW_DAYS = 7  # the days of shadow log 04_staleness reads
DISAGREEMENTS_SHOWN = 5


@dataclass(frozen=True)
class Agreement:
    """How often one challenger answered as one champion did on the same live texts."""

    champion_version: str
    challenger_version: str
    texts: int
    agreed: int

    @property
    def rate(self) -> float | None:
        """The share of texts labelled alike (None without texts)."""
        return self.agreed / self.texts if self.texts else None

    @property
    def interval(self) -> tuple[float, float]:
        """The 95% Wilson interval of :attr:`rate` ((0, 1) without texts)."""
        return wilson_interval(self.agreed, self.texts)

    def describe(self) -> str:
        """``"97.0% (95% interval 94.1% to 98.5%) of 400 texts"``."""
        if not self.texts:
            return "no shadow-scored texts"
        low, high = self.interval
        return f"{percent(self.rate)} (95% interval {percent(low)} to {percent(high)}) of {self.texts} texts"


@dataclass
class ShadowSummary:
    """The shadow log over a window: agreement per pair of versions, and the most confident disagreements."""

    since: datetime | None
    agreements: list[Agreement] = field(default_factory=list)
    disagreements: list[dict] = field(default_factory=list)  # shadow records, the surest first

    def tables(self) -> dict[str, pd.DataFrame]:
        """Titled tables for the staleness notebook ({} when nothing was shadow-scored)."""
        if not self.agreements:
            return {}
        found = {"Live agreement of each challenger with the champion": agreement_table(self.agreements)}
        if self.disagreements:
            found["The most confident disagreements"] = disagreement_table(self.disagreements)
        return found

    def headline(self) -> str:
        window = f"since {self.since:%Y-%m-%d %H:%M} UTC" if self.since else "in the whole shadow log"
        if not self.agreements:
            return f"No text was shadow-scored {window}."
        return f"Shadow-scored texts {window}: " + "; ".join(
            f"challenger {a.challenger_version} vs champion {a.champion_version}: {a.describe()}"
            for a in self.agreements
        )


def sureness(champion_confidence: float, challenger_confidence: float) -> float:
    """How sure two disagreeing answers are: the lesser confidence (a disagreement both are sure of says one
    model is confidently wrong, the first one worth reading or labelling)."""
    return min(float(champion_confidence), float(challenger_confidence))


def agrees(record: dict) -> bool:
    return record["champion_sentiment"] == record["challenger_sentiment"]


@dataclass
class PairTally:
    """One challenger beside one champion: texts, agreements, and the ``limit`` disagreements both answers were
    surest of (only those are held in memory)."""

    champion_version: str
    challenger_version: str
    limit: int = DISAGREEMENTS_SHOWN
    texts: int = 0
    agreed: int = 0
    # a min-heap of (sureness, -order, record): the least sure goes first; on a tie, the earlier text stays
    _surest: list[tuple[float, int, dict]] = field(default_factory=list)

    def add(self, record: dict, order: int) -> bool:
        """Count one shadow record (``order``: its place in the stream); True if both answers agree."""
        self.texts += 1
        if agrees(record):
            self.agreed += 1
            return True
        if self.limit:
            entry = (sureness(record["champion_confidence"], record["challenger_confidence"]), -order, record)
            (heapq.heappush if len(self._surest) < self.limit else heapq.heappushpop)(self._surest, entry)
        return False

    @property
    def agreement(self) -> Agreement:
        return Agreement(self.champion_version, self.challenger_version, self.texts, self.agreed)

    def disagreements(self) -> list[dict]:
        """The disagreements kept, the surest first."""
        return [entry[2] for entry in _surest_first(self._surest)]


@dataclass
class ShadowTally:
    """:class:`PairTally` per (champion, challenger) pair, in order of first appearance."""

    limit: int = DISAGREEMENTS_SHOWN
    pairs: dict[tuple[str, str], PairTally] = field(default_factory=dict)
    _order: Iterator[int] = field(default_factory=itertools.count)

    def add(self, record: dict) -> bool:
        """Count one shadow record; True if both answers agree."""
        key = (str(record["champion_version"]), str(record["challenger_version"]))
        if key not in self.pairs:
            self.pairs[key] = PairTally(*key, limit=self.limit)
        return self.pairs[key].add(record, next(self._order))

    def pair(self, champion_version: str, challenger_version: str) -> PairTally:
        return self.pairs.get((champion_version, challenger_version)) or PairTally(
            champion_version, challenger_version, self.limit
        )

    def agreements(self) -> list[Agreement]:
        return [tally.agreement for tally in self.pairs.values()]

    def disagreements(self) -> list[dict]:
        """The ``limit`` disagreements both answers were surest of, over every pair, the surest first."""
        entries = _surest_first(entry for tally in self.pairs.values() for entry in tally._surest)
        return [entry[2] for entry in entries[: self.limit]]


def _surest_first(entries: Iterable[tuple[float, int, dict]]) -> list[tuple[float, int, dict]]:
    return sorted(entries, key=lambda e: (-e[0], -e[1]))


def summarise_records(records: Iterable[dict], since: datetime | None = None, limit: int = DISAGREEMENTS_SHOWN
                      ) -> ShadowSummary:  # fmt: skip
    """Agreement per (champion, challenger) pair in order of first appearance, and the ``limit`` disagreements
    both answers were surest of."""
    tally = ShadowTally(limit)
    for record in records:
        tally.add(record)
    return ShadowSummary(since, tally.agreements(), tally.disagreements())


def summarise(folder: str | Path, window_days: float | None = WINDOW_DAYS, now: datetime | None = None,
              limit: int = DISAGREEMENTS_SHOWN) -> ShadowSummary:  # fmt: skip
    """The shadow log in ``folder`` over the last ``window_days`` (None: all of it) before ``now`` (default: the
    wall clock, which the API stamps its lines with)."""
    since = None if window_days is None else (now or datetime.now(UTC)) - timedelta(days=window_days)
    return summarise_records(read_shadow(folder, since=since), since, limit)


def agreement_between(folder: str | Path, champion_version: str, challenger_version: str,
                      since: datetime | None = None) -> Agreement:  # fmt: skip
    """The live agreement of ``challenger_version`` with ``champion_version`` over the whole shadow log (or from
    ``since`` on)."""
    tally = ShadowTally(limit=0)
    for record in read_shadow(folder, since=since):
        tally.add(record)
    return tally.pair(champion_version, challenger_version).agreement


def agreement_table(agreements: list[Agreement]) -> pd.DataFrame:
    rows = []
    for a in agreements:
        low, high = a.interval
        rows.append({"champion": a.champion_version, "challenger": a.challenger_version, "texts": a.texts,
                     "agreed": a.agreed, "agreement": percent(a.rate), "95% interval": f"{percent(low)} to "
                     f"{percent(high)}"})  # fmt: skip
    return pd.DataFrame(rows)


def disagreement_table(records: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "text": r["text"],
            "champion": f"{r['champion_sentiment']} ({float(r['champion_confidence']):.3f}), v{r['champion_version']}",
            "challenger": f"{r['challenger_sentiment']} ({float(r['challenger_confidence']):.3f}), "
            f"v{r['challenger_version']}",
        }
        for r in records
    )
