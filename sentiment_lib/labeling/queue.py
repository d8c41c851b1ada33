"""The labelling queue: which served texts are worth a label, written as ``data/to_label/<cycle>.csv``.

Labels cost money, so each cycle asks for at most ``label_budget`` of them, chosen among the texts the API
served since the previous queue. The ``active`` policy fills the budget in this order:

0. **random** (``label_random_share`` of the budget, 20% by default, at least one text unless 0): drawn
   uniformly (seeded) among the candidates before anything else, so that the performance check has labels that
   are a fair sample of the distinct texts served (the other picks are the texts the champion is worst at, on
   which its accuracy reads low; see :func:`sentiment_lib.data.feedback.sampled_at_random`);
1. **disagreement** (up to 40% of the budget): texts the shadow-scored ``@challenger`` labelled otherwise
   than the champion, the most confident disagreements first (one of the two models is confidently wrong,
   and the label says which, for the gate and for training);
2. **drift** (up to 20%): for each n-gram the drift explanation finds most typical of recent traffic, in
   its order, the most uncertain text containing it (so the new kind of text gets labels at all);
3. **uncertain** (the rest): the texts whose calibrated confidence is nearest 0.5.

The ``random`` policy draws the budget uniformly (seeded), the baseline the active one is measured against
(``make replay-labels``). Under both, a text already labelled or already asked for is never asked again,
texts logged cut short (``served_log_max_text_chars``) or without a request id are left out (a label would
not be for the text we have), and near-duplicates (the same words once URLs, @mentions, digits and case are
set aside) count once: the most uncertain of them stands for the others.

A label comes back through ``data/incoming/`` as a CSV with ``request_id`` and ``Sentiment`` (``Review`` may
be left out: ingestion finds the text in the queue; see :mod:`sentiment_lib.data.feedback`).
"""

from __future__ import annotations

import logging
import math
import random
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pandas as pd

from sentiment_lib.data.schema import CHOSEN_AS, TEXT_COLUMN, UNKNOWN_CHOICE
from sentiment_lib.errors import DataValidationError
from sentiment_lib.io import read_csv_strict
from sentiment_lib.monitoring.checks.shadow import sureness
from sentiment_lib.settings.pipeline import LABEL_RANDOM_SHARE

log = logging.getLogger(__name__)

QUEUE_COLUMNS = [
    "request_id",
    TEXT_COLUMN,
    "why",
    "score",
    "served_at",
    "model_version",
    "champion_sentiment",
    "champion_confidence",
    "challenger_version",
    "challenger_sentiment",
    "challenger_confidence",
]
DISPUTE_SHARE = 0.4
DRIFT_SHARE = 0.2
POLICIES = ("active", "random")

_URL = re.compile(r"https?://\S+|www\.\S+")
_MENTION = re.compile(r"@\w+")
_NOT_LETTERS = re.compile(r"[^a-z]+")


@dataclass(frozen=True)
class Candidate:
    """One served text the queue may ask a label for, with what the champion (and a shadowing challenger) said."""

    request_id: str
    text: str
    served_at: str
    model_version: str
    sentiment: str
    confidence: float
    challenger_version: str = ""
    challenger_sentiment: str = ""
    challenger_confidence: float = math.nan

    @property
    def uncertainty(self) -> float:
        """1 at a confidence of 0.5 (a coin toss), 0 at 1.0."""
        return max(0.0, min(1.0, 2.0 * (1.0 - self.confidence)))

    @property
    def disputed(self) -> bool:
        return bool(self.challenger_sentiment) and self.challenger_sentiment != self.sentiment

    @property
    def dispute_strength(self) -> float:
        """How sure two disagreeing models are (0 when they agree)."""
        return sureness(self.confidence, self.challenger_confidence) if self.disputed else 0.0


@dataclass(frozen=True)
class Choice:
    candidate: Candidate
    why: str
    score: float


def near_duplicate_key(text: str) -> str:
    """The words of a text once URLs, @mentions, digits, punctuation and case are set aside."""
    text = _MENTION.sub(" ", _URL.sub(" ", text.lower()))
    return " ".join(_NOT_LETTERS.sub(" ", text).split())


def candidates_from(served: Iterable[dict], shadow: Iterable[dict], asked: set[str]) -> list[Candidate]:
    """The served records a label may be asked for, one per near-duplicate group (the most uncertain).

    ``shadow`` records (the challenger's answers) are joined by request id when their text is the same;
    texts near-duplicating one in ``asked`` (labelled or queued before), texts logged cut short, records
    without a request id and request ids logged with more than one text (a caller reusing its ids: a label
    could not say which) are left out.
    """
    records = [r for r in served if r.get("request_id") and "text_chars" not in r]
    challenger = {r["request_id"]: r for r in shadow if r.get("request_id")}
    asked_keys = {duplicate_key(text) for text in asked}
    best: dict[str, Candidate] = {}
    for record in _unambiguous(records):
        key = duplicate_key(record["text"])
        if key in asked_keys:
            continue
        found = challenger.get(record["request_id"])
        candidate = _candidate(record, found if found and found.get("text") == record["text"] else None)
        kept = best.get(key)
        if kept is None or candidate.uncertainty > kept.uncertainty:
            best[key] = candidate
    return list(best.values())


def duplicate_key(text: str) -> str:
    """:func:`near_duplicate_key`, or the text itself when it has no words (only a URL, digits, emoji)."""
    return near_duplicate_key(text) or text


def _unambiguous(records: list[dict]) -> list[dict]:
    texts: dict[str, set[str]] = {}
    for record in records:
        texts.setdefault(record["request_id"], set()).add(record["text"])
    return [r for r in records if len(texts[r["request_id"]]) == 1]


def _candidate(record: dict, shadow: dict | None) -> Candidate:
    found = shadow or {}
    return Candidate(
        request_id=str(record["request_id"]),
        text=record["text"],
        served_at=record["time"],
        model_version=str(record["model_version"]),
        sentiment=str(record.get("sentiment", "")),
        confidence=float(record["confidence"]),
        challenger_version=str(found.get("challenger_version", "")),
        challenger_sentiment=str(found.get("challenger_sentiment", "")),
        challenger_confidence=float(found.get("challenger_confidence", math.nan)),
    )


def choose_active(
    candidates: Sequence[Candidate],
    budget: int,
    drift_ngrams: Sequence[str],
    seed: int | str = 0,
    random_share: float = LABEL_RANDOM_SHARE,
) -> list[Choice]:
    """Up to ``budget`` candidates: a random share, then by disagreement, drift coverage and uncertainty (module
    docstring)."""
    chosen: dict[str, Choice] = {}

    def take(choice: Choice) -> None:
        if len(chosen) < budget and choice.candidate.request_id not in chosen:
            chosen[choice.candidate.request_id] = choice

    for choice in choose_random(candidates, math.ceil(budget * random_share), seed):
        take(choice)

    disputed = sorted((c for c in candidates if c.disputed and c.request_id not in chosen),
                      key=lambda c: -c.dispute_strength)  # fmt: skip
    for candidate in disputed[: math.ceil(budget * DISPUTE_SHARE)]:
        take(Choice(candidate, "disagreement", candidate.dispute_strength))
    for choice in _drift_choices(candidates, drift_ngrams, math.ceil(budget * DRIFT_SHARE), set(chosen)):
        take(choice)
    for candidate in sorted(candidates, key=lambda c: -c.uncertainty):
        if len(chosen) >= budget:
            break
        take(Choice(candidate, "uncertain", candidate.uncertainty))
    return list(chosen.values())


def _drift_choices(candidates: Sequence[Candidate], ngrams: Sequence[str], limit: int, taken: set[str]) -> list[Choice]:
    """For each n-gram in turn, the most uncertain candidate containing it (as whole words) not taken yet."""
    by_uncertainty = sorted(candidates, key=lambda c: -c.uncertainty)
    choices: list[Choice] = []
    for ngram in ngrams:
        if len(choices) >= limit:
            break
        pattern = re.compile(rf"(?<!\w){re.escape(ngram.lower())}(?!\w)")
        found = next((c for c in by_uncertainty if c.request_id not in taken and pattern.search(c.text.lower())), None)
        if found is not None:
            taken.add(found.request_id)
            choices.append(Choice(found, f"drift: {ngram}", found.uncertainty))
    return choices


def choose_random(candidates: Sequence[Candidate], budget: int, seed: int | str) -> list[Choice]:
    """``budget`` candidates drawn uniformly (all of them when there are fewer), in serving order."""
    drawn = sorted(random.Random(seed).sample(range(len(candidates)), min(budget, len(candidates))))
    return [Choice(candidates[i], "random", 0.0) for i in drawn]


def choose(
    candidates: Sequence[Candidate],
    budget: int,
    policy: str,
    drift_ngrams: Sequence[str],
    seed: int | str,
    random_share: float,
) -> list[Choice]:
    """The queue's texts under ``policy`` (``active`` or ``random``; ``random_share``: the active policy's).

    Raises:
        ValueError: an unknown policy.
    """
    if policy == "active":
        return choose_active(candidates, budget, drift_ngrams, seed, random_share)
    if policy == "random":
        return choose_random(candidates, budget, seed)
    raise ValueError(f"unknown label policy {policy!r}; known: {', '.join(POLICIES)}")


def as_frame(choices: Sequence[Choice]) -> pd.DataFrame:
    """The queue file's rows, in :data:`QUEUE_COLUMNS` order."""
    rows = [_row(choice) for choice in choices]
    return pd.DataFrame(rows, columns=QUEUE_COLUMNS)


def _row(choice: Choice) -> dict:
    c = choice.candidate
    return {
        "request_id": c.request_id,
        TEXT_COLUMN: c.text,
        "why": choice.why,
        "score": round(choice.score, 4),
        "served_at": c.served_at,
        "model_version": c.model_version,
        "champion_sentiment": c.sentiment,
        "champion_confidence": round(c.confidence, 4),
        "challenger_version": c.challenger_version,
        "challenger_sentiment": c.challenger_sentiment,
        "challenger_confidence": "" if math.isnan(c.challenger_confidence) else round(c.challenger_confidence, 4),
    }


def read_queues(folder: str | Path) -> pd.DataFrame:
    """Every queue file in ``folder`` (oldest first), with a ``queue`` column naming its file; empty when none.

    Raises:
        DataValidationError: a queue file is not a readable CSV with ``request_id`` and ``Review`` columns.
    """
    frames = [_queue_file(path) for path in sorted(Path(folder).glob("*.csv"))]
    frames = [frame for frame in frames if not frame.empty]
    if not frames:
        return pd.DataFrame(columns=[*QUEUE_COLUMNS, "queue"])
    return pd.concat(frames, ignore_index=True).fillna("")


@dataclass(frozen=True)
class QueuedIds:
    """What the queues (:func:`read_queues`) say of each request id, from one grouping of their rows."""

    texts: dict[str, str]  # the queued text of each id queued with one text
    why: dict[str, str]  # why it was asked ("random", "uncertain", "drift: wifi", ...; the first queue's)
    # ids queued with different texts (a caller that reused an id on another day): a label naming one of those
    # cannot say which text it is for
    ambiguous: set[str]


def queued_ids(queues: pd.DataFrame) -> QueuedIds:
    """The texts, reasons and ambiguous ids of ``queues``."""
    if queues.empty:
        return QueuedIds({}, {}, set())
    reasons = queues["why"] if "why" in queues.columns else ""
    found = (
        queues.assign(why=reasons)
        .groupby("request_id")
        .agg(text=(TEXT_COLUMN, "first"), texts=(TEXT_COLUMN, "nunique"), why=("why", "first"))
    )
    ambiguous = {str(i) for i in found.index[found["texts"] > 1]}
    texts = {str(i): str(t) for i, t in found["text"].items() if str(i) not in ambiguous}
    return QueuedIds(texts, {str(i): str(w) for i, w in found["why"].items()}, ambiguous)


def why_asked(rows: pd.DataFrame, queued: QueuedIds) -> pd.Series:
    """Each label's ``chosen_as``: the queue's reason for its request id; "" for an id no queue holds (a label
    nobody asked for); "unknown" for an id queued with several texts or given with a text other than the one
    queued (the label is not for the text the queue chose)."""
    ids = rows["request_id"].fillna("").astype(str)
    given = rows[TEXT_COLUMN].fillna("").astype(str).str.strip()
    texts = ids.map(queued.texts).fillna("").astype(str).str.strip()
    other_text = (given != "") & (texts != "") & (given != texts)
    result = ids.map(queued.why).fillna("").astype(str)
    return result.mask(ids.isin(queued.ambiguous) | other_text, UNKNOWN_CHOICE)


def reason_counts(whys: Iterable[str]) -> dict[str, int]:
    """How many texts each reason chose ("drift: wifi" counts as "drift")."""
    counts: dict[str, int] = {}
    for why in whys:
        reason = str(why).split(":")[0]
        counts[reason] = counts.get(reason, 0) + 1
    return counts


def newest_queue(folder: str | Path) -> pd.DataFrame | None:
    """The newest queue file's rows (with its ``queue`` column), or None when there is none.

    Raises:
        DataValidationError: it is not a readable CSV with ``request_id`` and ``Review`` columns.
    """
    files = sorted(Path(folder).glob("*.csv"))
    return _queue_file(files[-1]) if files else None


def _queue_file(path: Path) -> pd.DataFrame:
    frame = read_csv_strict(path)
    missing = [column for column in ("request_id", TEXT_COLUMN) if column not in frame.columns]
    if missing:
        raise DataValidationError(f"{path} is missing column(s) {missing}; found {list(frame.columns)}")
    return frame.assign(queue=path.name)


def text_finder(queue_dir: str | Path) -> Callable[[pd.DataFrame, str], pd.DataFrame]:
    """What ingestion (:func:`sentiment_lib.data.feedback.ingest_incoming`) calls to fill in the text of a label
    given by request id: :func:`with_queued_texts` over the queues in ``queue_dir``."""
    return partial(with_queued_texts, queue_dir=queue_dir)


def with_queued_texts(rows: pd.DataFrame, source: str, queue_dir: str | Path) -> pd.DataFrame:
    """``rows`` with each empty or missing Review taken from the labelling queue by ``request_id``.

    Raises:
        DataValidationError: a row has neither a Review nor a request id that a queue holds.
    """
    rows = rows.copy()
    if TEXT_COLUMN not in rows.columns:
        rows[TEXT_COLUMN] = ""
    missing = rows[TEXT_COLUMN].fillna("").astype(str).str.strip() == ""
    try:
        queues = read_queues(queue_dir)
    except (DataValidationError, OSError) as err:
        if missing.any():
            raise
        # every text is given: the labels stand, only why they were asked is lost (a queue file opened and
        # saved by a spreadsheet, say)
        log.warning("%s: why its labels were asked cannot be told, a queue file is unreadable: %s", source, err)
        return rows.assign(**{CHOSEN_AS: UNKNOWN_CHOICE})
    queued = queued_ids(queues)
    rows[CHOSEN_AS] = why_asked(rows, queued)
    if not missing.any():
        return rows
    named = rows.loc[missing, "request_id"]
    unclear = named[named.isin(queued.ambiguous)]
    if len(unclear):
        shown = ", ".join(repr(i) for i in unclear.head(5))
        raise DataValidationError(
            f"{source}: {len(unclear)} row(s) name a request_id queued with different texts ({shown}); give their "
            "Review, or label them in the queue file they came from"
        )
    texts = named.map(queued.texts)
    unknown = named[texts.isna()]
    if len(unknown):
        shown = ", ".join(repr(i) for i in unknown.head(5))
        raise DataValidationError(
            f"{source}: {len(unknown)} row(s) have no Review and a request_id no labelling queue in {queue_dir} "
            f"holds ({shown}); give the Review, or the request_id of a queued text"
        )
    rows.loc[missing, TEXT_COLUMN] = texts
    return rows
