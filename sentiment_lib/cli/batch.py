"""The offline scoring commands: ``batch`` (a CSV of any size, here or on Spark) and ``explain`` (one text)."""

from __future__ import annotations

import argparse
import tempfile

from sentiment_lib.arg_types import count
from sentiment_lib.cli.options import add_workspace, workspace_of
from sentiment_lib.errors import DataValidationError, SentimentError
from sentiment_lib.inference import explain, spark_batch
from sentiment_lib.inference.batch import DEFAULT_CHUNK_ROWS, run_batch
from sentiment_lib.settings import CHAMPION
from sentiment_lib.tracking import registry, runs
from sentiment_lib.workspace import Workspace

MODEL_HELP = "registered NAME@ALIAS or NAME/VERSION (default: the registered model @champion)"


def _model_reference(spec: str | None, ws: Workspace) -> tuple[str, str | None, str | None]:
    """``(name, alias, version)`` from ``--model`` (default: the workspace's model @champion)."""
    spec = spec or f"{ws.registered_model}@{CHAMPION}"
    name, sep, alias = spec.partition("@")
    if sep:
        return name, alias or None, None
    name, _, version = spec.partition("/")
    if not version:
        raise SentimentError(f"--model must be NAME@ALIAS or NAME/VERSION, got {spec!r}")
    return name, None, version


def _load_predictor(spec: str | None, ws: Workspace, batch_size: int):
    name, alias, version = _model_reference(spec, ws)
    runs.configure_client(ws.root)
    predictor = registry.load_served_model(name, alias=alias, version=version).predictor
    predictor.batch_size = batch_size
    return predictor


def add_batch(commands: argparse._SubParsersAction) -> None:
    sub = commands.add_parser("batch", help="predict a CSV file with the champion model (streaming, resumable)")
    sub.add_argument("--input_path", "--input-path", required=True, help="CSV with a review column")
    sub.add_argument(
        "--output_path", "--output-path", required=True, help="CSV to write: input + sentiment, confidence"
    )
    sub.add_argument("--text-column", default="Review", help="column holding the text (default: Review)")
    sub.add_argument("--batch-size", type=count, default=32, help="texts per model call (default: 32)")
    sub.add_argument(
        "--chunk-rows",
        type=count,
        default=DEFAULT_CHUNK_ROWS,
        help=f"rows read and written at a time (default: {DEFAULT_CHUNK_ROWS})",
    )
    sub.add_argument("--resume", action="store_true", help="continue an interrupted run of the same input")
    sub.add_argument(
        "--csv-safe",
        action="store_true",
        help="prefix ' to cells starting with =, +, -, @, tab or CR, so spreadsheets show them as text",
    )
    sub.add_argument("--model", help=MODEL_HELP)
    sub.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_workspace(sub)
    _add_spark_options(sub)
    sub.set_defaults(handler=cmd_batch)


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def _add_spark_options(sub: argparse.ArgumentParser) -> None:
    spark = sub.add_argument_group("Spark engine (--engine spark)")
    spark.add_argument(
        "--engine", choices=("local", "spark"), default="local", help="local: this process (default); spark: a cluster"
    )
    spark.add_argument("--master", default=spark_batch.DEFAULT_MASTER, help="Spark master URL (default: local[*])")
    spark.add_argument("--input-format", choices=spark_batch.FORMATS, help="default: from the input's suffix, else csv")
    spark.add_argument(
        "--output-format", choices=spark_batch.FORMATS, help="default: csv for a path ending .csv, else parquet"
    )
    spark.add_argument("--partitions", type=count, help="parts to score in parallel (default: the cluster's cores)")
    spark.add_argument(
        "--conf", action="append", type=_key_value, default=[], metavar="KEY=VALUE", help="a Spark setting (repeatable)"
    )


def cmd_batch(args: argparse.Namespace) -> int:
    if args.engine == "spark":
        return cmd_spark_batch(args)
    predictor = _load_predictor(args.model, workspace_of(args), args.batch_size)
    summary = run_batch(
        predictor,
        args.input_path,
        args.output_path,
        text_column=args.text_column,
        chunk_rows=args.chunk_rows,
        resume=args.resume,
        csv_safe=args.csv_safe,
        progress=not args.no_progress,
    )
    print(summary.describe())
    return 0


def cmd_spark_batch(args: argparse.Namespace) -> int:
    if args.resume:
        raise SentimentError("--resume is for --engine local; Spark reruns failed tasks itself and commits whole")
    ws = workspace_of(args)
    runs.configure_client(ws.root)
    uri = registry.resolve_uri(*_model_reference(args.model, ws))
    job = spark_batch.SparkJob(
        input_path=args.input_path,
        output_path=args.output_path,
        text_column=args.text_column,
        master=args.master,
        input_format=args.input_format,
        output_format=args.output_format,
        partitions=args.partitions,
        batch_size=args.batch_size,
        csv_safe=args.csv_safe,
        conf=dict(args.conf),
        progress=not args.no_progress,
    )
    with tempfile.TemporaryDirectory(prefix="sentiment-model-") as scratch:
        model_dir = registry.download_model_files(uri, scratch)
        summary = spark_batch.run_spark_batch(model_dir, job)
    print(f"{summary.describe()} with Spark on {args.master} ({uri})")
    return 0


def add_explain(commands: argparse._SubParsersAction) -> None:
    sub = commands.add_parser("explain", help="show which words made the champion (or --model) answer as it did")
    sub.add_argument("text", help="the review to explain")
    sub.add_argument("--model", help=MODEL_HELP)
    add_workspace(sub)
    sub.set_defaults(handler=cmd_explain)


def cmd_explain(args: argparse.Namespace) -> int:
    if not args.text.strip():
        raise DataValidationError("the text to explain is empty")
    ws = workspace_of(args)
    predictor = _load_predictor(args.model, ws, batch_size=64)
    print(f"{args.model or f'{ws.registered_model}@{CHAMPION}'}: {args.text}")
    print(explain.as_text(explain.explain(predictor, args.text)))
    return 0
