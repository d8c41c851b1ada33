"""Replay a labelled stream (the airline tweets, or any canonical CSV) into the loop, a batch per cycle.

Rows go out in time order (``tweet_created`` / ``timestamp``). Without serving, each batch is dropped into
``data/incoming/`` with its labels. With serving (``runner.py replay --serve URL``), each batch's texts go
through the running API first, answered by the champion of the moment, and their labels arrive one cycle
later, as labels do in production. A final slice of the stream (``--final-holdout``) is never replayed:
it measures at the end what the loop learnt on tweets no model saw.

With a label policy other than ``all`` (``--label-policy active|random``), a served replay no longer labels
every text: the loop's labelling queue (``data/to_label/``) asks for ``label_budget`` texts a cycle, and the
replay answers each queue the next cycle, from the stream's labels, as a CSV of request ids and labels in
``data/incoming/`` (the path a human annotator's labels take).

What a stopped replay needs to continue (how far it labelled and served, its simulated clock, the champion
it started with) is kept in ``state/replay.json`` per source.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd

from sentiment_lib.clock import as_text, parse_moment
from sentiment_lib.data import importers
from sentiment_lib.data.schema import LABEL_COLUMN, TEXT_COLUMN, normalize_text
from sentiment_lib.errors import DataValidationError
from sentiment_lib.io import read_json, write_csv_atomic, write_json_atomic
from sentiment_lib.labeling.queue import read_queues

LABEL_POLICIES = ("all", "active", "random")


def load_stream(source: str | Path) -> pd.DataFrame:
    """The source's labelled rows in time order: the airline tweets CSV, or a CSV with Review, Sentiment
    (sorted by its ``timestamp`` column when it has one).

    Raises:
        DataValidationError: the file is missing or breaks the data contract.
    """
    rows = importers.read_labelled(source)
    if "timestamp" in rows:
        rows = rows.sort_values("timestamp", kind="stable")
    return rows.reset_index(drop=True)


def _checked_policy(policy: str, served: bool) -> str:
    """Raises DataValidationError: an unknown policy, or a queue policy without serving."""
    if policy not in LABEL_POLICIES:
        raise DataValidationError(f"--label-policy must be one of {', '.join(LABEL_POLICIES)}, got {policy!r}")
    if policy != "all" and not served:
        raise DataValidationError(f"--label-policy {policy} needs --serve: the queue chooses among served texts")
    return policy


class Replay:
    """Hands out the stream ``per_cycle`` rows at a time, remembering where it is in ``state_path``.

    ``final_holdout`` rows at the end of the stream are kept out of the replay (see :attr:`holdout`);
    ``served`` says the batches go through the API (:meth:`next_to_serve`) rather than straight to incoming.
    """

    def __init__(
        self,
        source: str | Path,
        incoming: str | Path,
        state_path: str | Path,
        per_cycle: int,
        final_holdout: int = 0,
        served: bool = False,
        label_policy: str = "all",
    ):
        if per_cycle <= 0:
            raise DataValidationError(f"--per-cycle must be > 0, got {per_cycle}")
        self.source = Path(source).resolve()
        self.incoming = Path(incoming)
        self.state_path = Path(state_path)
        self.per_cycle = per_cycle
        self.label_policy = _checked_policy(label_policy, served)
        stream = load_stream(self.source)
        if not 0 <= final_holdout < len(stream):
            raise DataValidationError(
                f"--final-holdout must be between 0 and {len(stream) - 1} (the stream has {len(stream)} rows), "
                f"got {final_holdout}"
            )
        cut = len(stream) - final_holdout
        self.stream, self.holdout = stream.iloc[:cut], stream.iloc[cut:].reset_index(drop=True)
        policy = f", --label-policy {label_policy}" if label_policy != "all" else ""
        self._keep_to_one_kind(f"--final-holdout {final_holdout}" + (", --serve" if served else "") + policy)

    def _keep_to_one_kind(self, kind: str) -> None:
        """Refuse to continue a replay of this source started with other options: its position would
        then mean other rows, and a served replay's records would mix two experiments.

        Raises:
            DataValidationError: this workspace replayed the source with other options.
        """
        started = self._get("#kind", "")
        if started and started != kind and self.served:
            raise DataValidationError(
                f"this workspace already replayed {self.served} rows of {self.source.name} with {started}; "
                f"a replay with {kind} would not continue it. Use the same options, or a fresh workspace "
                "(make clean, or --workspace DIR)"
            )
        if started != kind:
            self._set(kind=kind)

    def _get(self, suffix: str, default):
        return read_json(self.state_path, {}).get(str(self.source) + suffix, default)

    def _set(self, **values) -> None:
        changes = {str(self.source) + ("" if k == "position" else f"#{k}"): v for k, v in values.items()}
        write_json_atomic(self.state_path, {**read_json(self.state_path, {}), **changes})

    @property
    def position(self) -> int:
        """Rows whose labels have been dropped into ``incoming``."""
        return int(self._get("", 0))

    @property
    def served(self) -> int:
        """Rows whose texts have been sent through the API (never fewer than :attr:`position`)."""
        return max(int(self._get("#served", 0)), self.position)

    @property
    def remaining(self) -> int:
        return len(self.stream) - self.served

    def clock_start(self, default: datetime) -> datetime:
        """Where a simulated clock resumes: the time saved by the last cycle, else ``default``."""
        saved = self._get("#clock", "")
        return parse_moment(saved, "the replay's saved clock") if saved else default

    def save_clock(self, moment: datetime) -> None:
        self._set(clock=as_text(moment))

    def first_champion(self, current: str) -> str:
        """The champion the replay started with (recorded the first time it is asked)."""
        return self._first("first_champion", current)

    def newest_before(self, current: str) -> str:
        """The newest version registered when the replay started (recorded the first time it is asked)."""
        return self._first("newest_before", current)

    def _first(self, key: str, current: str) -> str:
        recorded = self._get(f"#{key}", "")
        if not recorded:
            self._set(**{key: current})
        return recorded or current

    def drop_next(self) -> Path | None:
        """Write the next batch, labels and all, as ``incoming/replay-<first>-<last>.csv``; None when the
        stream is used up."""
        start = self.served
        dropped = self._drop(start, start + self.per_cycle)
        if dropped is not None:
            end = start + min(self.per_cycle, len(self.stream) - start)  # a last batch may be short
            self._set(position=end, served=end)
        return dropped

    def next_to_serve(self) -> pd.DataFrame:
        """The next batch to send through the API (empty when the stream is used up); see :meth:`mark_served`."""
        return self.stream.iloc[self.served : self.served + self.per_cycle]

    def mark_served(self, rows: int) -> None:
        self._set(served=self.served + rows)

    def drop_labels_of_served(self) -> Path | None:
        """Drop the labels of every row served but not yet labelled (the previous cycle's); None if none."""
        start, end = self.position, self.served
        dropped = self._drop(start, end)
        self._set(position=end)
        return dropped

    def _drop(self, start: int, end: int) -> Path | None:
        batch = self.stream.iloc[start:end]
        if batch.empty:
            return None
        name = f"replay-{start:06d}-{start + len(batch) - 1:06d}.csv"
        # the temporary file's name does not end in .csv: ingestion never sees half a file
        write_csv_atomic(batch, self.incoming / name)
        return self.incoming / name

    def answer_queues(self, queue_dir: str | Path) -> int:
        """Label every queue not answered yet from the stream, as ``incoming/labels-<queue>.csv`` (request id,
        label, annotator ``replay``); return the labels given. The served rows count as done whether asked
        about or not. A queued text the replay did not serve (another caller's) is left unanswered.
        """
        answered = set(self._get("#answered", []))
        queues = read_queues(queue_dir)
        labels_by_text = self._served_labels()
        given = 0
        for name, asked in queues.groupby("queue", sort=True):
            if name in answered:
                continue
            labels = asked[TEXT_COLUMN].map(lambda text: labels_by_text.get(normalize_text(text)))
            known = asked.assign(**{LABEL_COLUMN: labels})[labels.notna()]
            if len(known):
                rows = known[["request_id", LABEL_COLUMN]].assign(annotator="replay")
                write_csv_atomic(rows, self.incoming / f"labels-{name}")
            given += len(known)
            answered.add(str(name))
            self._set(answered=sorted(answered))
        self._set(position=self.served)
        return given

    def _served_labels(self) -> dict[str, str]:
        served = self.stream.iloc[: self.served]
        return dict(zip(served[TEXT_COLUMN].map(normalize_text), served[LABEL_COLUMN], strict=True))
