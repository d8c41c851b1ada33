"""Exact resume of `runner.py batch`: whatever the CSV's shape (blank lines, newlines inside quotes, CRLF, a
byte-order mark) and wherever a run dies, the resumed output is byte for byte the output of a run that never
stopped. The many crash points use a fast, deterministic stand-in for the model (the model is not under test
here); one test kills the real command with SIGKILL."""

from __future__ import annotations

import csv
import io
import json
import random
import signal
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from sentiment_lib.csv_records import CsvRecords
from sentiment_lib.errors import DataValidationError
from sentiment_lib.inference.batch import run_batch
from sentiment_lib.inference.predictor import Predictions
from tests.helpers import REPO, child_env, run_runner, sst2, wait_until


class Crash(Exception):
    """Stands for the process dying in the middle of a chunk."""


class FakePredictor:
    """``SentimentPredictor.predict`` in miniature: the label and confidence are a hash of the text.

    ``crash_at`` makes the n-th call (1-based) raise, before anything of that chunk is written. With
    ``state_file``, each call keeps a copy of it (None while there is none) in ``states``.
    """

    def __init__(self, crash_at: int | None = None, state_file=None):
        self.calls = 0
        self.crash_at = crash_at
        self.state_file = state_file
        self.states: dict[int, bytes | None] = {}

    def predict(self, texts: list[str]) -> Predictions:
        self.calls += 1
        if self.state_file is not None:
            self.states[self.calls] = self.state_file.read_bytes() if self.state_file.exists() else None
        if self.calls == self.crash_at:
            raise Crash(f"crash at call {self.calls}")
        hashes = np.array([zlib.crc32(t.encode("utf-8")) for t in texts], dtype=np.int64)
        positive = (hashes % 1000) / 999
        labels = ["positive" if p >= 0.5 else "negative" for p in positive]
        return Predictions(labels, np.maximum(positive, 1 - positive), positive)


@dataclass(frozen=True)
class Shape:
    """How a CSV is laid out on disk."""

    line_end: str = "\n"
    bom: bool = False
    blank_lines: bool = False  # empty and white-space-only lines between records, as pandas skips them
    quoted_newlines: bool = False  # reviews with line breaks inside (written quoted)
    final_line_end: bool = True


SHAPES = {
    "plain": Shape(),
    "blank-lines": Shape(blank_lines=True),
    "quoted-newlines": Shape(quoted_newlines=True),
    "crlf": Shape(line_end="\r\n"),
    "bom": Shape(bom=True),
    "crlf-bom-quoted-blank": Shape(line_end="\r\n", bom=True, blank_lines=True, quoted_newlines=True),
    "everything-no-final-newline": Shape(blank_lines=True, quoted_newlines=True, final_line_end=False),
}


def review_texts(rng: random.Random, rows: int, quoted_newlines: bool) -> list[str]:
    """Real SST-2 reviews, some empty, some with commas, quotes, formula signs and (optionally) line breaks."""
    texts = sst2("test")["Review"].tolist()
    out = []
    for i in range(rows):
        text = texts[(i * 7) % len(texts)]
        roll = rng.random()
        if roll < 0.05:
            text = ""
        elif roll < 0.10:
            text = f'she said "{text}", twice'
        elif roll < 0.13:
            text = "=" + text
        elif quoted_newlines and roll < 0.35:
            words = text.split(" ")
            cut = rng.randrange(len(words) + 1)
            text = " ".join(words[:cut]) + rng.choice(["\n", "\r\n", "\n\n", "\n  \n"]) + " ".join(words[cut:])
        out.append(text)
    return out


def write_input(path, shape: Shape, rows: int, seed: int) -> int:
    """A CSV of ``rows`` records laid out as ``shape`` says; returns the number of records."""
    rng = random.Random(seed)
    texts = review_texts(rng, rows, shape.quoted_newlines)
    lines = []
    for row in [["id", "Review", "note"], *([str(i), t, f"row {i}, ok"] for i, t in enumerate(texts))]:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator=shape.line_end).writerow(row)
        lines.append(buffer.getvalue())
        if shape.blank_lines and rng.random() < 0.15:
            lines.append(rng.choice(["", "   ", "\t"]) + shape.line_end)
    text = "".join(lines)
    if not shape.final_line_end:
        text = text.rstrip("\r\n \t")
    path.write_bytes((b"\xef\xbb\xbf" if shape.bom else b"") + text.encode("utf-8"))
    return rows


def reference(tmp_path, source, chunk_rows: int, name: str = "reference.csv", **options) -> bytes:
    """The output of a run that never stopped."""
    out = tmp_path / name
    run_batch(FakePredictor(), source, out, chunk_rows=chunk_rows, progress=False, **options)
    return out.read_bytes()


@pytest.mark.parametrize("shape", list(SHAPES), ids=list(SHAPES))
def test_every_record_is_read_once_whatever_the_layout(tmp_path, shape):
    source = tmp_path / "in.csv"
    rows = write_input(source, SHAPES[shape], 700, seed=3)
    output = reference(tmp_path, source, chunk_rows=64)
    out = pd.read_csv(io.BytesIO(output), dtype=str, keep_default_na=False)
    whole = pd.read_csv(source, dtype=str, keep_default_na=False)  # pandas reading the whole file: the oracle
    assert len(out) == rows == len(whole)
    assert out[["id", "Review", "note"]].equals(whole)
    assert list(out["id"]) == [str(i) for i in range(rows)]
    empty = whole["Review"].str.strip() == ""
    assert (out.loc[empty, "sentiment"] == "no_text").all() and set(out.loc[~empty, "sentiment"]) <= {
        "positive",
        "negative",
    }


def crash_and_resume(tmp_path, source, chunk_rows: int, rng: random.Random, **options) -> tuple[bytes, int]:
    """Run until done, dying at random points: in a chunk, after writing a chunk but before recording it,
    and in the middle of writing one. Returns the output and the number of crashes."""
    out = tmp_path / "out.csv"
    partial, state = tmp_path / "out.csv.partial", tmp_path / "out.csv.partial.json"
    crashes = 0
    while not out.exists():
        predictor = FakePredictor(crash_at=rng.randint(1, 6), state_file=state)
        try:
            run_batch(predictor, source, out, chunk_rows=chunk_rows, progress=False, resume=state.exists(), **options)
            break
        except Crash:
            crashes += 1
        way = rng.choice(["in-chunk", "before-recording", "mid-write"])
        if way == "before-recording" and predictor.calls >= 2:
            # the chunk before the crash was written, but its state never reached the disk
            older = predictor.states[predictor.calls - 1]
            if older is None:
                state.unlink()
            else:
                state.write_bytes(older)
        elif way == "mid-write":
            partial.open("ab").write(b'123,"half a row, then the power went\n')
    return out.read_bytes(), crashes


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("shape", list(SHAPES), ids=list(SHAPES))
def test_crashes_at_random_points_resume_to_the_same_bytes(tmp_path, shape, seed):
    source = tmp_path / "in.csv"
    rows = write_input(source, SHAPES[shape], 300, seed=seed)
    chunk_rows = random.Random(seed).choice([9, 20, 45])
    expected = reference(tmp_path, source, chunk_rows)
    resumed, crashes = crash_and_resume(tmp_path, source, chunk_rows, random.Random(1000 + seed))
    assert crashes >= 1
    assert resumed == expected
    assert len(pd.read_csv(io.BytesIO(resumed), dtype=str, keep_default_na=False)) == rows
    assert not (tmp_path / "out.csv.partial").exists() and not (tmp_path / "out.csv.partial.json").exists()


def test_a_resume_reports_where_it_started(tmp_path):
    source = tmp_path / "in.csv"
    write_input(source, SHAPES["crlf-bom-quoted-blank"], 100, seed=5)
    with pytest.raises(Crash):
        run_batch(FakePredictor(crash_at=3), source, tmp_path / "out.csv", chunk_rows=20, progress=False)
    saved = json.loads((tmp_path / "out.csv.partial.json").read_text())
    assert saved["rows_done"] == 40 and saved["input_offset"] > 0
    summary = run_batch(FakePredictor(), source, tmp_path / "out.csv", chunk_rows=20, progress=False, resume=True)
    assert (summary.rows, summary.resumed_at) == (100, 40)
    assert "resumed after row 40" in summary.describe()


@pytest.mark.parametrize("block_bytes", [1, 2, 3, 7, 64])
def test_records_do_not_depend_on_where_the_blocks_are_cut(tmp_path, block_bytes):
    data = b'\xef\xbb\xbfa,b\r\n"x\r\ny",1\r\n\r\n"q""uote",2\rz,"3\n"\n"a"b"c,4\n  \n"end","no newline"'
    whole = CsvRecords(io.BytesIO(data), "in.csv")
    cut = CsvRecords(io.BytesIO(data), "in.csv", block_bytes=block_bytes)
    records = list(iter(whole.next, None))
    assert list(iter(cut.next, None)) == records
    assert b"".join(records) == data[3:]  # every byte but the byte-order mark, once
    assert records[1] == b'"x\r\ny",1\r\n' and records[4] == b'z,"3\n"\n'


UNDECODABLE = b'id,Review\n1,"multi\nline"\n\n2,fine\n3,caf\xe9\n'
UNDECODABLE_AT = UNDECODABLE.index(0xE9)
MALFORMED = {
    "unclosed-quote": (
        b'Review\n"one\ntwo"\nfine\n"never closed\n\n',
        1,
        r"quoted field opened in the record at line 5 is never closed",
    ),
    "bad-bytes-in-a-later-chunk": (
        UNDECODABLE,
        1,
        rf"undecodable byte 0xe9 at line 6 \(byte offset {UNDECODABLE_AT}\)",
    ),
    # an extra field would otherwise turn the first column into pandas' index without a word
    "extra-field-alone": (
        b"id,Review\n1,good\n\n2,good,extra\n",
        1,
        r"record at line 4 has more fields than the header",
    ),
    "extra-field-after-a-quoted-newline": (b'id,Review\n1,"a\nb"\n2,good,extra\n', 5, r"well-formed CSV: .*line 4"),
}


@pytest.mark.parametrize("data, chunk_rows, message", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_record_is_an_error_naming_its_line(tmp_path, data, chunk_rows, message):
    source = tmp_path / "in.csv"
    source.write_bytes(data)
    with pytest.raises(DataValidationError, match=message):
        run_batch(FakePredictor(), source, tmp_path / "out.csv", chunk_rows=chunk_rows, progress=False)


def test_a_state_file_of_the_old_format_is_refused_with_what_to_do(tmp_path):
    source = tmp_path / "in.csv"
    write_input(source, SHAPES["plain"], 50, seed=1)
    stat = source.stat()
    (tmp_path / "out.csv.partial").write_bytes(b"id,Review,note,sentiment,confidence\n")
    old = {
        "input": str(source.resolve()),
        "input_size": stat.st_size,
        "input_mtime_ns": stat.st_mtime_ns,
        "text_column": "Review",
        "rows_done": 10,
        "empty_rows": 0,
        "output_bytes": 36,
    }
    (tmp_path / "out.csv.partial.json").write_text(json.dumps(old))
    with pytest.raises(DataValidationError, match=r"older version.*run again without --resume"):
        run_batch(FakePredictor(), source, tmp_path / "out.csv", progress=False, resume=True)


def test_a_crash_before_the_first_chunk_was_recorded_starts_again(tmp_path):
    source = tmp_path / "in.csv"
    write_input(source, SHAPES["plain"], 30, seed=2)
    (tmp_path / "out.csv.partial").write_bytes(b"id,Review,note,sentiment,confidence\n0,half")
    run_batch(FakePredictor(), source, tmp_path / "out.csv", chunk_rows=8, progress=False)
    assert (tmp_path / "out.csv").read_bytes() == reference(tmp_path, source, chunk_rows=8)


def test_csv_safe_output_is_neutralised_and_resumes_only_with_the_same_setting(tmp_path):
    source = tmp_path / "in.csv"
    source.write_text('id,Review,note\n1,=1+1,+cmd\n2,fine,-5\n3,@SUM(A1),"\tx"\n4,ok,plain\n')
    with pytest.raises(Crash):
        run_batch(FakePredictor(crash_at=2), source, tmp_path / "out.csv", chunk_rows=2, progress=False, csv_safe=True)
    assert json.loads((tmp_path / "out.csv.partial.json").read_text())["csv_safe"] is True
    with pytest.raises(DataValidationError, match="the run began with --csv-safe"):
        run_batch(FakePredictor(), source, tmp_path / "out.csv", chunk_rows=2, progress=False, resume=True)
    run_batch(FakePredictor(), source, tmp_path / "out.csv", chunk_rows=2, progress=False, resume=True, csv_safe=True)
    out = pd.read_csv(tmp_path / "out.csv", dtype=str, keep_default_na=False)
    assert list(out["Review"]) == ["'=1+1", "fine", "'@SUM(A1)", "ok"]
    assert list(out["note"]) == ["'+cmd", "'-5", "'\tx", "plain"]
    # the model saw the text as written, not the escaped copy
    plain = pd.read_csv(io.BytesIO(reference(tmp_path, source, chunk_rows=2)), dtype=str, keep_default_na=False)
    assert list(out["sentiment"]) == list(plain["sentiment"])
    assert (tmp_path / "out.csv").read_bytes() == reference(tmp_path, source, 2, name="safe.csv", csv_safe=True)


def test_a_formula_in_the_header_is_neutralised_too(tmp_path):
    source = tmp_path / "in.csv"
    source.write_text("=HYPERLINK(1),Review\n1,good\n")
    run_batch(FakePredictor(), source, tmp_path / "out.csv", progress=False, csv_safe=True)
    assert (tmp_path / "out.csv").read_text().splitlines()[0] == "'=HYPERLINK(1),Review,sentiment,confidence"


# --- the real command, killed with SIGKILL at random moments


def wait_for_progress(process: subprocess.Popen, state, after: int, timeout: float = 180) -> None:
    """Until the state file records more input than ``after`` bytes, or the process ends."""

    def progressed() -> bool:
        try:
            return json.loads(state.read_text())["input_offset"] > after
        except (FileNotFoundError, json.JSONDecodeError, KeyError):
            return False  # not written yet, or caught mid-write

    message = f"the batch command neither recorded input past byte {after} nor ended"
    try:
        wait_until(lambda: process.poll() is not None or progressed(), timeout, 0.02, message)
    except AssertionError:
        process.kill()  # it would run on after the test
        raise


@pytest.mark.slow
def test_the_command_killed_at_random_moments_resumes_to_the_same_file(tmp_path, served_workspace):
    source = tmp_path / "in.csv"
    rows = write_input(source, SHAPES["crlf-bom-quoted-blank"], 600, seed=11)
    common = ["--input_path", str(source), "--chunk-rows", "30", "--no-progress"]
    done = run_runner("batch", *common, "--output_path", str(tmp_path / "ref.csv"), workspace=served_workspace)
    assert done.returncode == 0, done.stderr[-2000:]

    rng = random.Random(20261129)
    out, state = tmp_path / "out.csv", tmp_path / "out.csv.partial.json"
    command = [sys.executable, str(REPO / "runner.py"), "batch", *common, "--output_path", str(out)]
    killed_mid_run = 0
    for _ in range(3):
        resume = ["--resume"] if state.exists() else []
        before = json.loads(state.read_text())["input_offset"] if state.exists() else 0
        process = subprocess.Popen(
            [*command, *resume, "--workspace", str(served_workspace)],
            env=child_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_progress(process, state, before)
        time.sleep(rng.uniform(0, 0.4))  # anywhere: predicting, writing a chunk, saving the state
        killed_mid_run += process.poll() is None
        process.send_signal(signal.SIGKILL)  # a crash: no clean-up code runs
        process.wait()
        if out.exists():
            break
    assert killed_mid_run >= 1
    if not out.exists():
        resumed = run_runner("batch", *common, "--output_path", str(out), "--resume", workspace=served_workspace)
        assert resumed.returncode == 0, resumed.stderr[-2000:]
        assert "resumed after row" in resumed.stdout
    assert out.read_bytes() == (tmp_path / "ref.csv").read_bytes()
    assert len(pd.read_csv(out, dtype=str, keep_default_na=False)) == rows
