"""The data commands: ``import-data`` (another format into the training CSV) and ``ingest`` (feedback)."""

from __future__ import annotations

import argparse

from sentiment_lib.cli.options import add_step_options, add_workspace, workspace_of
from sentiment_lib.data import feedback, importers
from sentiment_lib.errors import SentimentError
from sentiment_lib.labeling import queue
from sentiment_lib.workspace import Workspace


def add_import_data(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "import-data", help="convert SST-2, airline tweets, customer reviews or any CSV/TSV to the training CSV"
    )
    parser.add_argument("format", choices=["sst2", "airline", "reviews", "table"])
    parser.add_argument(
        "--source", required=True, help="SST-2 folder, Tweets.csv, a reviews folder (or one of its CSVs), or a CSV/TSV"
    )
    parser.add_argument("--files", help="reviews: the folder's CSV files to read, comma-separated (default: all)")
    parser.add_argument("--domain", help="table: the domain of every row, one lower-case word (e.g. pets)")
    parser.add_argument("--output", help="canonical CSV to write (default: the workspace's raw_path, data/raw/...)")
    parser.add_argument("--splits", default="train,dev", help="sst2: which TSV files to read (default: train,dev)")
    parser.add_argument("--text-column", help="table: the column holding the text")
    parser.add_argument("--label-column", help="table: the column holding the label")
    parser.add_argument("--label-map", help="table: e.g. '1=positive,0=negative' (default: labels as they are)")
    parser.add_argument("--timestamp-column", help="table: a column to keep as the timestamp")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--append", action="store_const", dest="mode", const="append", help="add to an existing file")
    mode.add_argument("--overwrite", action="store_const", dest="mode", const="overwrite", help="replace it")
    add_workspace(parser)
    parser.set_defaults(mode="fail", handler=cmd_import)


def cmd_import(args: argparse.Namespace) -> int:
    result = _read_source(args)
    output = args.output or Workspace(args.workspace).raw_data
    for note in importers.write_canonical(result, output, args.mode):
        print(note)
    return 0


def _read_source(args: argparse.Namespace) -> importers.ImportResult:
    """The rows of ``--source`` in the canonical columns, read as its format says.

    Raises:
        SentimentError: ``table`` without its columns, or a source that breaks the data contract.
    """
    if args.format == "sst2":
        return importers.import_sst2(args.source, tuple(s.strip() for s in args.splits.split(",")))
    if args.format == "airline":
        return importers.import_airline(args.source)
    if args.format == "reviews":
        names = [name.strip() for name in (args.files or "").split(",") if name.strip()]
        return importers.import_reviews(args.source, names or None)
    if not args.text_column or not args.label_column:
        raise SentimentError("import-data table needs --text-column and --label-column")
    label_map = importers.parse_label_map(args.label_map) if args.label_map else None
    return importers.import_table(
        args.source, args.text_column, args.label_column, label_map, args.timestamp_column, args.domain
    )


def add_ingest(commands: argparse._SubParsersAction) -> None:
    sub = commands.add_parser("ingest", help="move data/incoming/*.csv into the feedback store (bad files quarantined)")
    add_step_options(sub, with_cycle_id=False)
    sub.set_defaults(handler=cmd_ingest, writes_workspace=True)


def cmd_ingest(args: argparse.Namespace) -> int:
    ws = workspace_of(args)
    report = feedback.ingest_workspace(ws, find_texts=queue.text_finder(ws.to_label))
    added, skipped = report.rows_added, report.duplicates_skipped
    print(f"ingested {len(report.files)} file(s): {added} new rows, {skipped} duplicates skipped")
    for name, reason in report.quarantined.items():
        print(f"quarantined {name}: {reason}")
    return 0
