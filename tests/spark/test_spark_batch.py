"""`runner.py batch --engine spark`: on local[2] and on a real standalone cluster (a master and two workers
on loopback), the same rows, labels and confidences as the single-process command, row by row."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from sentiment_lib.errors import ConfigError, DataValidationError
from sentiment_lib.inference import spark_batch
from sentiment_lib.inference.spark_cluster import LocalSparkCluster
from tests.helpers import AIRLINE, run_runner, sst2

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("java") is None, reason="Spark needs Java (make install says what to install)"),
]
TRICKY = [
    'a review "quoted" inside, and a comma',
    "two lines\nin one review",
    '=HYPERLINK("http://x.test","click")',
    "",
    "   ",
    "café, naïve, 😀",
]


def make_input(path: Path, rows: int = 400) -> pd.DataFrame:
    """Reviews and tweets with the cells a CSV reader gets wrong: quotes, newlines, formulas, empty, unicode."""
    texts = sst2("test")["Review"].tolist() + pd.read_csv(AIRLINE)["text"].tolist()
    reviews = [TRICKY[i // 37 % len(TRICKY)] if i % 37 == 0 else texts[(i * 7) % len(texts)] for i in range(rows)]
    frame = pd.DataFrame({"id": [str(i) for i in range(rows)], "Review": reviews, "note": "-1"})
    frame.to_csv(path, index=False)
    return frame


def local_engine_output(tmp_path: Path, workspace: Path, source: Path, *extra: str) -> pd.DataFrame:
    out = tmp_path / "local.csv"
    done = run_runner("batch", "--input_path", str(source), "--output_path", str(out), *extra, workspace=workspace)
    assert done.returncode == 0, done.stderr[-2000:]
    return pd.read_csv(out, dtype=str, keep_default_na=False)


def read_parts(folder: Path, fmt: str) -> pd.DataFrame:
    """A Spark output folder as one frame, parts in order, empty cells as ""."""
    parts = sorted(folder.glob(f"part-*.{fmt}"))
    assert (folder / "_SUCCESS").is_file() and parts
    if fmt == "parquet":
        frames = [pd.read_parquet(p).astype(object).fillna("") for p in parts]
    else:
        frames = [pd.read_csv(p, dtype=str, keep_default_na=False) for p in parts]
    return pd.concat(frames, ignore_index=True)


def run_spark(workspace: Path, source: Path, output: Path, *extra: str, master: str = "local[2]"):
    args = ("batch", "--engine", "spark", "--master", master, "--input_path", str(source))
    return run_runner(*args, "--output_path", str(output), "--no-progress", *extra, workspace=workspace)


def assert_same_rows(spark: pd.DataFrame, local: pd.DataFrame) -> None:
    assert list(spark.columns) == list(local.columns)
    assert spark["id"].tolist() == local["id"].tolist()  # every row, once, in the input's order
    assert spark["sentiment"].tolist() == local["sentiment"].tolist()
    assert spark["confidence"].tolist() == local["confidence"].tolist()
    assert spark["note"].tolist() == local["note"].tolist()


def test_spark_writes_what_the_single_process_command_writes(tmp_path, served_workspace):
    source = tmp_path / "in.csv"
    frame = make_input(source)
    local = local_engine_output(tmp_path, served_workspace, source)
    done = run_spark(served_workspace, source, tmp_path / "spark.csv", "--partitions", "3")
    assert done.returncode == 0, done.stderr[-3000:]
    spark = read_parts(tmp_path / "spark.csv", "csv")
    assert_same_rows(spark, local)
    assert len(list((tmp_path / "spark.csv").glob("part-*.csv"))) == 3
    empty = frame["Review"].str.strip() == ""
    assert (spark.loc[empty, "sentiment"] == "no_text").all() and (spark.loc[empty, "confidence"] == "").all()
    assert spark.loc[~empty, "Review"].tolist() == frame.loc[~empty, "Review"].tolist()
    assert f"wrote {len(frame)} rows to {tmp_path / 'spark.csv'}" in done.stdout
    assert f"{int(empty.sum())} empty or missing reviews marked sentiment='no_text'" in done.stdout


def test_parquet_in_and_out_and_csv_safe_output(tmp_path, served_workspace):
    source = tmp_path / "in.csv"
    frame = make_input(source, rows=120)
    frame.to_parquet(tmp_path / "in.parquet", index=False)
    local = local_engine_output(tmp_path, served_workspace, source, "--csv-safe")
    done = run_spark(served_workspace, tmp_path / "in.parquet", tmp_path / "out")
    assert done.returncode == 0, done.stderr[-3000:]
    spark = read_parts(tmp_path / "out", "parquet")  # no suffix: Parquet, the format that keeps types
    assert spark["sentiment"].tolist() == local["sentiment"].tolist()
    assert spark["Review"].tolist() == frame["Review"].tolist()  # as read: --csv-safe was not asked for

    done = run_spark(served_workspace, tmp_path / "in.parquet", tmp_path / "safe.csv", "--csv-safe")
    assert done.returncode == 0, done.stderr[-3000:]
    safe = read_parts(tmp_path / "safe.csv", "csv")
    assert_same_rows(safe, local)
    assert safe["Review"].tolist() == local["Review"].tolist()
    assert set(safe["note"]) == {"'-1"}


def test_options_only_the_local_engine_has_are_refused_before_spark_starts(tmp_path, served_workspace):
    (tmp_path / "in.csv").write_bytes(b"Review\nhi\n")
    done = run_spark(served_workspace, tmp_path / "in.csv", tmp_path / "out.csv", "--resume")
    assert done.returncode == 2 and "--resume is for --engine local" in done.stderr, done.stderr[-3000:]
    done = run_spark(served_workspace, tmp_path / "in.csv", tmp_path / "out", "--csv-safe")
    assert done.returncode == 2 and "the output here is Parquet" in done.stderr, done.stderr[-3000:]
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "out").exists()


# in this process, one JVM for all: each case costs a Spark session, not a Spark start-up
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"text\nhello\n", r"has no column 'Review'; found \['text'\]"),
        (b"Review,sentiment\nhi,positive\n", r"already has column\(s\) \['sentiment'\]"),
        (b"id,Review\n1,caf\xe9\n", r"is not valid UTF-8 \(or holds U\+FFFD\) in column\(s\) \['Review'\]"),
        (b"id,Review\n1,good,extra\n", r"is not a well-formed CSV: .*Malformed"),
        (b"id,Review\n1,good\n2\n", r"is not a well-formed CSV: .*Malformed"),  # Spark refuses short rows too
    ],
)
def test_bad_input_is_explained(tmp_path, served_workspace, small_model, content, message):
    (tmp_path / "in.csv").write_bytes(content)
    job = spark_batch.SparkJob(str(tmp_path / "in.csv"), str(tmp_path / "out.csv"), master="local[1]", progress=False)
    with pytest.raises(DataValidationError, match=message):
        spark_batch.run_spark_batch(small_model, job)
    assert not (tmp_path / "out.csv").exists()


def test_an_existing_output_is_never_overwritten(tmp_path, served_workspace, small_model):
    make_input(tmp_path / "in.csv", rows=20)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    job = spark_batch.SparkJob(str(tmp_path / "in.csv"), str(tmp_path / "out"), master="local[1]", progress=False)
    with pytest.raises(DataValidationError, match=r"Cannot write .*out: .*already exists"):
        spark_batch.run_spark_batch(small_model, job)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["keep.txt"]


def test_formats_are_guessed_from_the_path_or_refused(tmp_path):
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "part-0.parquet").write_bytes(b"")
    assert spark_batch.guess_format(str(tmp_path / "parts"), None, "csv") == "parquet"
    assert spark_batch.guess_format("s3a://bucket/reviews.CSV", None, "parquet") == "csv"
    assert spark_batch.guess_format("hdfs:///out/scored", None, "parquet") == "parquet"
    with pytest.raises(ConfigError, match="Unknown format 'json'"):
        spark_batch.guess_format("x", "json", "csv")
    with pytest.raises(ConfigError, match="at least 1"):
        spark_batch.run_spark_batch(tmp_path, spark_batch.SparkJob("in.csv", "out", partitions=0))


def test_a_standalone_cluster_of_two_workers_scores_the_same_rows(tmp_path, served_workspace):
    source = tmp_path / "in.csv"
    make_input(source, rows=300)
    local = local_engine_output(tmp_path, served_workspace, source)
    with LocalSparkCluster(tmp_path / "cluster", workers=2) as master:
        done = run_spark(served_workspace, source, tmp_path / "out.csv", master=master)
        assert done.returncode == 0, done.stderr[-3000:]
        # both workers ran executors (each keeps a folder per application it ran)
        assert all(any((tmp_path / "cluster" / f"worker-{n}").glob("app-*")) for n in range(2))
    assert_same_rows(read_parts(tmp_path / "out.csv", "csv"), local)
    assert f"with Spark on {master}" in done.stdout
