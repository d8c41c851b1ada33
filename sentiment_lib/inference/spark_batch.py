"""Batch inference on Spark: the registered model over a DataFrame, on whatever cluster the user runs.

The driver downloads the model once and ships only what the int8 predictor reads (tokenizer, calibration,
ONNX model; a few MB, not the weights) to every executor with ``SparkContext.addFile``. Rows go to Python
workers as Arrow batches through ``pyspark.ml.functions.predict_batch_udf``, which builds the predictor
once per Python worker and keeps it for every batch after. Labels come from
:func:`sentiment_lib.inference.batch.label_texts`, the single-process command's own function, so the two
engines write the same ``sentiment`` and ``confidence`` cells and the same ``no_text`` rule.

A CSV input is read whole-record (quoted newlines allowed, so it is not split on read) and spread over
``partitions`` by ranges of its row order, so the output keeps the input's order. Spark's output
committer writes the folder of parts: a failed job leaves no half-written result behind.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sentiment_lib.csv_safety import ESCAPE, FORMULA_PREFIXES, neutralise_cell
from sentiment_lib.data.schema import TEXT_COLUMN
from sentiment_lib.errors import ConfigError, DataValidationError
from sentiment_lib.inference import model_files
from sentiment_lib.inference.batch import EMPTY_MARKER, OUTPUT_COLUMNS, BatchSummary, label_texts

FORMATS = ("csv", "parquet")
DEFAULT_MASTER = "local[*]"
ROWS_PER_CALL = 1024  # rows handed to the predictor at once: it sorts them by length, so more pad less
_ORDER = "__sentiment_row_order"
_BUNDLE = "sentiment-int8-model.zip"  # unpacked on every executor under this name


@dataclass
class SparkJob:
    """One Spark batch run; ``*_format`` None means: guessed from the path."""

    input_path: str
    output_path: str
    text_column: str = TEXT_COLUMN
    master: str = DEFAULT_MASTER
    input_format: str | None = None
    output_format: str | None = None
    partitions: int | None = None  # default: the cluster's default parallelism
    threads_per_task: int = 1  # Spark runs one task per core; more threads per task only oversubscribe
    batch_size: int = 32
    csv_safe: bool = False
    conf: Mapping[str, str] = field(default_factory=dict)
    progress: bool = True


def guess_format(path: str, given: str | None, default: str) -> str:
    """``given``, else ``parquet`` or ``csv`` by the path's suffix (a folder of parts: by its files), else ``default``.

    Raises:
        ConfigError: a format other than csv or parquet.
    """
    if given is not None:
        if given not in FORMATS:
            raise ConfigError(f"Unknown format {given!r}; choose one of {', '.join(FORMATS)}")
        return given
    suffix = Path(path.rstrip("/")).suffix.lower().lstrip(".")
    if suffix in FORMATS:
        return suffix
    local = Path(path)
    if local.is_dir():
        for fmt in FORMATS:
            if any(local.glob(f"*.{fmt}")):
                return fmt
    return default


def pack_model(model_dir: Path, scratch: Path) -> Path:
    """A zip of what the int8 predictor reads, for ``addArchive`` (``addFile`` takes no folder on a cluster)."""
    folder = model_files.copy_int8_inference_files(model_dir, scratch / "model")
    return Path(shutil.make_archive(str(scratch / Path(_BUNDLE).stem), "zip", folder))


def make_predict_fn(bundle: str, threads: int, batch_size: int) -> Callable[[], Callable]:
    """The factory ``predict_batch_udf`` calls once per Python worker: it loads the shipped predictor."""

    def load() -> Callable[[np.ndarray], dict[str, np.ndarray]]:
        from pyspark import SparkFiles

        from sentiment_lib.inference.predictor import SentimentPredictor

        predictor = SentimentPredictor.from_directory(
            SparkFiles.get(bundle), backend="onnx-int8", batch_size=batch_size, threads=threads
        )

        def predict(texts: np.ndarray) -> dict[str, np.ndarray]:
            sentiment, confidence = label_texts(predictor, pd.Series(texts, dtype=object))
            return {"sentiment": sentiment.to_numpy(dtype=object), "confidence": confidence.to_numpy(dtype=object)}

        return predict

    return load


@contextmanager
def spark_session(job: SparkJob) -> Iterator[Any]:
    """A session on ``job.master`` whose Python workers run this interpreter; stopped on the way out."""
    from pyspark.sql import SparkSession

    # the workers must import sentiment_lib and its pinned libraries: the same interpreter, unless told
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder.master(job.master).appName("sentiment-batch")
    builder = builder.config("spark.ui.showConsoleProgress", str(job.progress).lower())
    for key, value in job.conf.items():
        builder = builder.config(key, value)
    with warnings.catch_warnings():
        # pyspark 4.3 warns on pandas 3 for features this module does not use (checked row by row in tests)
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
        session = builder.getOrCreate()
        session.sparkContext.setLogLevel("WARN")
        try:
            yield session
        finally:
            session.stop()


def read_input(spark: Any, job: SparkJob) -> Any:
    """The input as a DataFrame of strings.

    Raises:
        DataValidationError: the input does not exist, or has no text column or already an output column.
    """
    from pyspark.errors import AnalysisException

    fmt = guess_format(job.input_path, job.input_format, "csv")
    reader = spark.read.format(fmt)
    if fmt == "csv":
        # RFC 4180 as the single-process command reads it: a header, "" inside quotes, newlines in quotes;
        # a malformed record stops the job instead of being dropped or nulled
        reader = reader.options(header=True, multiLine=True, escape='"', mode="FAILFAST", encoding="UTF-8")
    try:
        frame = reader.load(job.input_path)
    except AnalysisException as err:
        raise DataValidationError(f"Cannot read {job.input_path} as {fmt}: {_first_line(err)}") from None
    columns = frame.columns
    if job.text_column not in columns:
        raise DataValidationError(f"{job.input_path} has no column {job.text_column!r}; found {columns}")
    clash = [c for c in OUTPUT_COLUMNS if c in columns]
    if clash:
        raise DataValidationError(f"{job.input_path} already has column(s) {clash}; rename them first")
    return frame


def check_decodable(frame: Any, source: str) -> None:
    """Spark reads bytes that are not UTF-8 as U+FFFD without a word; the local engine refuses them, and so
    does this one (a pass over the input, small beside inference).

    Raises:
        DataValidationError: a cell holds U+FFFD; the message names its column.
    """
    from pyspark.sql import functions as F

    flags = [F.max(F.col(f"`{c}`").contains("\ufffd").cast("int")).alias(c) for c in frame.columns]
    found = frame.agg(*flags).first()
    bad = [c for c in frame.columns if found[c]]
    if bad:
        raise DataValidationError(
            f"{source} is not valid UTF-8 (or holds U+FFFD) in column(s) {bad}. Re-save it as UTF-8."
        )


def in_order_partitions(frame: Any, partitions: int) -> Any:
    """``frame`` spread over ``partitions`` by ranges of its row order, each sorted: parts keep the input order."""
    from pyspark.sql import functions as F

    numbered = frame.withColumn(_ORDER, F.monotonically_increasing_id())
    return numbered.repartitionByRange(partitions, _ORDER).sortWithinPartitions(_ORDER)


def neutralise_formula_columns(frame: Any) -> Any:
    """The Spark form of :func:`sentiment_lib.csv_safety.neutralise_formulas`, header included."""
    from pyspark.sql import functions as F

    def cell(name: str) -> Any:
        value = F.col(f"`{name}`")
        formula = F.substring(value, 1, 1).isin(*FORMULA_PREFIXES)
        return F.when(formula, F.concat(F.lit(ESCAPE), value)).otherwise(value).alias(str(neutralise_cell(name)))

    return frame.select(*[cell(name) for name in frame.columns])


def label_frame(frame: Any, job: SparkJob, bundle: str) -> Any:
    """``frame`` with ``sentiment`` and ``confidence`` appended, in its order."""
    from pyspark.ml.functions import predict_batch_udf
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType, StructField, StructType

    returns = StructType([StructField(name, StringType()) for name in OUTPUT_COLUMNS])
    udf = predict_batch_udf(
        make_predict_fn(bundle, job.threads_per_task, job.batch_size), return_type=returns, batch_size=ROWS_PER_CALL
    )
    partitions = job.partitions or frame.sparkSession.sparkContext.defaultParallelism
    ordered = in_order_partitions(frame, partitions)
    labelled = ordered.withColumn("__labels", udf(F.col(f"`{job.text_column}`").cast("string")))
    outputs = [F.col(f"__labels.{name}").alias(name) for name in OUTPUT_COLUMNS]
    return labelled.select(*[F.col(f"`{c}`") for c in frame.columns], *outputs)


def write_output(frame: Any, job: SparkJob) -> str:
    """Write ``frame`` as a folder of parts; return the format.

    Raises:
        DataValidationError: the output exists already (it is never overwritten).
    """
    from pyspark.errors import AnalysisException

    fmt = guess_format(job.output_path, job.output_format, "parquet")
    if fmt == "csv" and job.csv_safe:
        frame = neutralise_formula_columns(frame)
    writer = frame.write.format(fmt).mode("errorifexists")
    if fmt == "csv":
        writer = writer.options(header=True, escape='"', encoding="UTF-8")
    try:
        writer.save(job.output_path)
    except AnalysisException as err:
        raise DataValidationError(f"Cannot write {job.output_path}: {_first_line(err)}") from None
    return fmt


def count_rows(spark: Any, path: str, fmt: str) -> tuple[int, int]:
    """Rows written, and those marked ``no_text``, read back from the output."""
    from pyspark.sql import functions as F

    reader = spark.read.format(fmt)
    if fmt == "csv":
        reader = reader.options(header=True, multiLine=True, escape='"')
    written = reader.load(path)
    counts = written.agg(F.count(F.lit(1)), F.sum((F.col("sentiment") == EMPTY_MARKER).cast("long"))).first()
    return int(counts[0]), int(counts[1] or 0)


def run_spark_batch(model_dir: Path, job: SparkJob) -> BatchSummary:
    """Predict every row of ``job.input_path`` into the folder ``job.output_path`` on ``job.master``.

    Raises:
        ConfigError: a bad format, partition count or thread count.
        DataValidationError: the input cannot be read or lacks the text column, a malformed CSV record,
            or the output exists.
    """
    if job.partitions is not None and job.partitions < 1:
        raise ConfigError(f"--partitions must be at least 1, got {job.partitions}")
    if job.csv_safe and guess_format(job.output_path, job.output_format, "parquet") != "csv":
        raise ConfigError("--csv-safe protects CSV files opened in a spreadsheet; the output here is Parquet")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sentiment-spark-") as scratch, spark_session(job) as spark:
        spark.sparkContext.addArchive(str(pack_model(model_dir, Path(scratch))))
        frame = read_input(spark, job)
        with _spark_job_errors(job):
            check_decodable(frame, job.input_path)
            fmt = write_output(label_frame(frame, job, _BUNDLE), job)
            rows, empty = count_rows(spark, job.output_path, fmt)
    return BatchSummary(Path(job.output_path), rows, empty, time.perf_counter() - started, resumed_at=0)


@contextmanager
def _spark_job_errors(job: SparkJob) -> Iterator[None]:
    """Turn a job that failed on the input's content into a DataValidationError naming it."""
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import PySparkException

    try:
        yield
    except (Py4JJavaError, PySparkException) as err:
        text = str(err)
        if "Malformed" in text or "MALFORMED" in text:
            raise DataValidationError(f"{job.input_path} is not a well-formed CSV: {_malformed_detail(text)}") from None
        raise


def _malformed_detail(text: str) -> str:
    for line in text.splitlines():
        if "Malformed" in line or "MALFORMED" in line:
            return line.strip()[:300]
    return _first_line(text)


def _first_line(err: object) -> str:
    return str(err).strip().splitlines()[0][:300] if str(err).strip() else type(err).__name__
