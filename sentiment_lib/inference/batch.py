"""Streaming batch inference over a CSV: constant memory, crash-safe output, resumable.

Rows are read in chunks and appended to ``<output>.partial``; after each chunk a small state file
records how many input rows and output bytes are done. The finished file is renamed into place, so a
file at ``--output_path`` is always complete. ``resume`` truncates the partial file to the last recorded
size (a chunk half-written during a crash is dropped and redone) and skips the rows already done.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from sentiment_lib.data.schema import TEXT_COLUMN
from sentiment_lib.errors import DataValidationError
from sentiment_lib.inference.predictor import SentimentPredictor
from sentiment_lib.io import iter_csv_chunks, read_json, write_json_atomic

EMPTY_MARKER = "no_text"  # the sentiment written for an empty or missing review
OUTPUT_COLUMNS = ("sentiment", "confidence")


@dataclass
class BatchState:
    input: str
    input_size: int
    input_mtime_ns: int
    text_column: str
    rows_done: int = 0
    empty_rows: int = 0
    output_bytes: int = 0


@dataclass
class BatchSummary:
    output: Path
    rows: int
    empty_rows: int
    seconds: float
    resumed_at: int

    def describe(self) -> str:
        rate = (self.rows - self.resumed_at) / max(self.seconds, 1e-9)
        text = f"wrote {self.rows} rows to {self.output} ({rate:.0f} rows/s)"
        if self.empty_rows:
            text += f"; {self.empty_rows} empty or missing reviews marked sentiment={EMPTY_MARKER!r}"
        if self.resumed_at:
            text += f"; resumed after row {self.resumed_at}"
        return text


def _paths(output: Path) -> tuple[Path, Path]:
    return output.with_name(output.name + ".partial"), output.with_name(output.name + ".partial.json")


def _fresh_state(input_path: Path, text_column: str) -> BatchState:
    stat = input_path.stat()
    return BatchState(str(input_path.resolve()), stat.st_size, stat.st_mtime_ns, text_column)


def _load_state(state_path: Path, expected: BatchState) -> BatchState:
    """The saved state, checked to belong to the same, unchanged input.

    Raises:
        DataValidationError: nothing to resume, or the input changed since.
    """
    if not state_path.is_file():
        raise DataValidationError(f"Nothing to resume: {state_path} does not exist (run without --resume)")
    saved = BatchState(**read_json(state_path, {}))
    same = (saved.input, saved.input_size, saved.input_mtime_ns, saved.text_column) == (
        expected.input,
        expected.input_size,
        expected.input_mtime_ns,
        expected.text_column,
    )
    if not same:
        raise DataValidationError(f"Cannot resume: {expected.input} or --text-column changed since the run began")
    return saved


def _save_state(state_path: Path, state: BatchState) -> None:
    write_json_atomic(state_path, asdict(state))


def _chunks(input_path: Path, text_column: str, chunk_rows: int, skip: int):
    for chunk in iter_csv_chunks(input_path, chunk_rows, skip):
        if text_column not in chunk.columns:
            raise DataValidationError(
                f"{input_path} has no column {text_column!r}; found {list(chunk.columns)} (see --text-column)"
            )
        clash = [c for c in OUTPUT_COLUMNS if c in chunk.columns]
        if clash:
            raise DataValidationError(f"{input_path} already has column(s) {clash}; rename them first")
        yield chunk


def predict_chunk(predictor: SentimentPredictor, chunk: pd.DataFrame, text_column: str) -> tuple[pd.DataFrame, int]:
    """The chunk with ``sentiment`` and ``confidence`` appended; empty reviews get the marker."""
    texts = chunk[text_column]
    present = texts.str.strip() != ""
    sentiment = pd.Series(EMPTY_MARKER, index=chunk.index, dtype=object)
    confidence = pd.Series("", index=chunk.index, dtype=object)
    if present.any():
        out = predictor.predict(texts[present].tolist())
        sentiment[present] = out.labels
        confidence[present] = [f"{c:.6f}" for c in out.confidences]
    return chunk.assign(sentiment=sentiment, confidence=confidence), int((~present).sum())


def run_batch(
    predictor: SentimentPredictor,
    input_path: str | Path,
    output_path: str | Path,
    text_column: str = TEXT_COLUMN,
    chunk_rows: int = 5000,
    resume: bool = False,
    progress: bool = True,
) -> BatchSummary:
    """Predict every row of ``input_path`` into ``output_path`` (see the module docstring).

    Raises:
        DataValidationError: missing input, missing text column, undecodable bytes, output exists,
            or a resume that does not match the input.
    """
    input_path, output_path = Path(input_path), Path(output_path)
    if not input_path.is_file():
        raise DataValidationError(f"Input file not found: {input_path}")
    if output_path.exists():
        raise DataValidationError(f"{output_path} exists: choose another --output_path or remove it")
    partial, state_path = _paths(output_path)
    state = _fresh_state(input_path, text_column)
    if resume:
        state = _load_state(state_path, state)
        with partial.open("r+b") as handle:
            handle.truncate(state.output_bytes)
    elif partial.exists():
        raise DataValidationError(f"{partial} exists from an interrupted run: pass --resume to continue it")
    output_path.parent.mkdir(parents=True, exist_ok=True)
    started, resumed_at = time.perf_counter(), state.rows_done
    bar = tqdm(desc="batch", unit=" rows", initial=state.rows_done, disable=not progress, file=sys.stderr)
    with partial.open("ab") as handle:
        for chunk in _chunks(input_path, text_column, chunk_rows, state.rows_done):
            predicted, empty = predict_chunk(predictor, chunk, text_column)
            handle.write(predicted.to_csv(index=False, header=state.rows_done == 0).encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
            state.rows_done += len(chunk)
            state.empty_rows += empty
            state.output_bytes = handle.tell()
            _save_state(state_path, state)
            bar.update(len(chunk))
    bar.close()
    if state.rows_done == 0:
        partial.unlink()
        state_path.unlink(missing_ok=True)
        raise DataValidationError(f"{input_path} has a header but no rows")
    partial.replace(output_path)
    state_path.unlink()
    return BatchSummary(output_path, state.rows_done, state.empty_rows, time.perf_counter() - started, resumed_at)
