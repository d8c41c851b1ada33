"""Command line of the sentiment pipeline: import data, run the notebooks, rebuild the reports.

``python runner.py`` and the installed ``sentiment`` command both run :func:`main`. Run ``--help`` for the
list of commands and ``COMMAND --help`` for one.
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from dotenv import load_dotenv

from sentiment_lib import logs, notebooks, reports
from sentiment_lib.clock import SimulatedClock, WallClock, as_text, parse_moment, wall_now
from sentiment_lib.data import feedback, importers
from sentiment_lib.errors import ConfigError, DataValidationError, SentimentError, StepFailedError
from sentiment_lib.inference import batch, explain, spark_batch
from sentiment_lib.locking import WorkspaceBusyError, workspace_lock
from sentiment_lib.monitoring import acknowledgements, adaptation
from sentiment_lib.monitoring.adaptation import ServedReplay
from sentiment_lib.monitoring.cycle import Cycle
from sentiment_lib.monitoring.replay import Replay
from sentiment_lib.monitoring.scheduler import StopSignal, run_loop
from sentiment_lib.serving import main as server
from sentiment_lib.serving import process
from sentiment_lib.serving.client import ApiClient
from sentiment_lib.settings import CHAMPION, PRESETS, settings_for
from sentiment_lib.tracking import registry, runs
from sentiment_lib.tracking import server as tracking
from sentiment_lib.workspace import ENV_FILE, Workspace, default_root

log = logging.getLogger("runner")


def _add_step_options(parser: argparse.ArgumentParser, with_cycle_id: bool = True) -> None:
    parser.add_argument("--preset", choices=sorted(PRESETS), help="settings preset (default: quick)")
    parser.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="override a setting or notebook parameter; repeatable (see `runner.py params STEP`)",
    )
    if with_cycle_id:
        parser.add_argument("--cycle", help="cycle id, the folder under reports/ (default: a UTC timestamp)")
    _add_workspace_option(parser)
    _add_wait_option(parser)


def _add_workspace_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workspace",
        default=default_root(),
        help="folder holding data/, reports/, mlflow.db (default: $SENTIMENT_WORKSPACE, else the current folder)",
    )


def _add_wait_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--wait",
        action="store_true",
        help="if another command is writing the workspace, wait for it (default: exit with a message)",
    )


def _add_loop_parsers(commands: argparse._SubParsersAction) -> None:
    sub = commands.add_parser("once", help="one cycle: ingest -> staleness -> retrain behind the gate if needed")
    _add_step_options(sub, with_cycle_id=False)
    sub.set_defaults(handler=cmd_once)
    sub = commands.add_parser("loop", help="run cycles on a schedule until SIGINT/SIGTERM")
    _add_step_options(sub, with_cycle_id=False)
    sub.add_argument("--every", type=float, help="minutes between cycles (default: the cycle_minutes setting)")
    sub.add_argument("--max-cycles", type=int, help="stop after this many cycles (default: never)")
    sub.set_defaults(handler=cmd_loop)
    sub = commands.add_parser("replay", help="replay a labelled stream into data/incoming/, one batch per cycle")
    _add_step_options(sub, with_cycle_id=False)
    sub.add_argument("--source", required=True, help="the airline Tweets.csv, or a CSV with Review,Sentiment")
    sub.add_argument("--per-cycle", type=int, required=True, help="rows dropped into data/incoming/ per cycle")
    sub.add_argument("--cycles", type=int, help="stop after this many cycles (default: until the stream ends)")
    sub.add_argument("--every", type=float, default=0.0, help="minutes between cycles (default: 0, back to back)")
    sub.add_argument(
        "--hours-per-cycle",
        type=float,
        help="simulate the clock: each cycle is this many hours later for the loop (ages, cooldowns, guardrails, "
        "feedback arrival), whatever the wall clock says (default: the wall clock)",
    )
    sub.add_argument("--start", default="", help="the simulated clock's start, ISO 8601 (default: now)")
    sub.add_argument(
        "--serve",
        metavar="URL",
        help="send each cycle's texts through the API at URL first (e.g. http://127.0.0.1:5000); their labels "
        "arrive in the next cycle, and a table compares the estimate with the realised accuracy",
    )
    sub.add_argument(
        "--final-holdout",
        type=int,
        default=0,
        help="keep the stream's last N rows out of the replay; with --serve, score the first and last champion on them",
    )
    sub.set_defaults(handler=cmd_replay)


def _add_import_parser(commands: argparse._SubParsersAction) -> None:
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
    parser.set_defaults(mode="fail", handler=cmd_import)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument(
        "--log-format", choices=logs.FORMATS, default="text", help="text (default) or json: one object per line"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_import_parser(commands)
    for step, notebook in notebooks.STEPS.items():
        sub = commands.add_parser(step, help=f"run notebooks/{notebook} with papermill")
        _add_step_options(sub)
        sub.set_defaults(handler=cmd_steps, steps=[step], writes_workspace=True)
    sub = commands.add_parser("pipeline", help="preprocess -> train -> evaluate in one cycle")
    _add_step_options(sub)
    sub.set_defaults(handler=cmd_steps, steps=list(notebooks.TRAINING_STEPS), writes_workspace=True)
    _add_loop_parsers(commands)
    sub = commands.add_parser("ack", help="accept the latest drift of the champion as understood: it stops alerting")
    sub.add_argument("--reason", required=True, help="why the shift is harmless, for the next operator")
    _add_step_options(sub, with_cycle_id=False)
    sub.set_defaults(handler=cmd_ack, writes_workspace=True)
    sub = commands.add_parser("rebaseline", help="make the champion's recent served texts the drift reference")
    _add_step_options(sub, with_cycle_id=False)
    sub.set_defaults(handler=cmd_rebaseline, writes_workspace=True)
    sub = commands.add_parser("ingest", help="move data/incoming/*.csv into the feedback store (bad files quarantined)")
    _add_step_options(sub, with_cycle_id=False)
    sub.set_defaults(handler=cmd_ingest, writes_workspace=True)
    sub = commands.add_parser("batch", help="predict a CSV file with the champion model (streaming, resumable)")
    sub.add_argument("--input_path", "--input-path", required=True, help="CSV with a review column")
    sub.add_argument(
        "--output_path", "--output-path", required=True, help="CSV to write: input + sentiment, confidence"
    )
    sub.add_argument("--text-column", default="Review", help="column holding the text (default: Review)")
    sub.add_argument("--batch-size", type=int, default=32, help="texts per model call (default: 32)")
    sub.add_argument(
        "--chunk-rows",
        type=int,
        default=batch.DEFAULT_CHUNK_ROWS,
        help=f"rows read and written at a time (default: {batch.DEFAULT_CHUNK_ROWS})",
    )
    sub.add_argument("--resume", action="store_true", help="continue an interrupted run of the same input")
    sub.add_argument(
        "--csv-safe",
        action="store_true",
        help="prefix ' to cells starting with =, +, -, @, tab or CR, so spreadsheets show them as text",
    )
    sub.add_argument("--model", help="registered NAME@ALIAS or NAME/VERSION (default: the registered model @champion)")
    sub.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_workspace_option(sub)
    _add_spark_options(sub)
    sub.set_defaults(handler=cmd_batch)
    sub = commands.add_parser("explain", help="show which words made the champion (or --model) answer as it did")
    sub.add_argument("text", help="the review to explain")
    sub.add_argument("--model", help="registered NAME@ALIAS or NAME/VERSION (default: the registered model @champion)")
    _add_workspace_option(sub)
    sub.set_defaults(handler=cmd_explain)
    sub = commands.add_parser("serve", help="serve the API in the foreground (what app.py does), or --background")
    server.add_arguments(sub)
    sub.add_argument(
        "--background",
        action="store_true",
        help="start it detached on 127.0.0.1:PORT (pid in logs/app.pid, log in logs/app.log) and show a working "
        "curl call (make demo)",
    )
    sub.set_defaults(handler=cmd_serve)
    sub = commands.add_parser("promote", help="make VERSION @champion by hand (a rollback), with the reason recorded")
    sub.add_argument("version", help="the registered version, e.g. 3 (see the status page or the MLflow UI)")
    sub.add_argument("--reason", required=True, help="why, kept on the version (and on the one it replaces)")
    _add_step_options(sub, with_cycle_id=False)
    sub.set_defaults(handler=cmd_promote, writes_workspace=True)
    sub = commands.add_parser("tracking-server", help="run a shared MLflow tracking server in the foreground")
    sub.add_argument("--folder", default=tracking.DEFAULT_FOLDER, help="holds its SQLite store and artifacts")
    sub.add_argument("--backend-store-uri", help="a database URL instead, e.g. postgresql://user@host/mlflow")
    sub.add_argument("--host", default=tracking.DEFAULT_HOST, help="address to bind (default: 127.0.0.1 only)")
    sub.add_argument("--port", type=int, default=tracking.DEFAULT_PORT)
    sub.add_argument("--workers", type=int, default=2, help="server processes (default: 2)")
    sub.set_defaults(handler=cmd_tracking_server)
    sub = commands.add_parser("params", help="list the parameters a step's notebook declares")
    sub.add_argument("step", choices=list(notebooks.STEPS))
    sub.set_defaults(handler=cmd_params)
    sub = commands.add_parser("report", help="rebuild reports/index.html from the cycle folders")
    _add_workspace_option(sub)
    _add_wait_option(sub)
    sub.set_defaults(handler=cmd_report, writes_workspace=True)
    sub = commands.add_parser("api-key", help="make an API key for app.py (SENTIMENT_SERVE_API_KEYS_FILE)")
    sub.add_argument("action", choices=["add"])
    sub.add_argument("key_id", help="a name for the key, shown in the served log and /metrics (not secret)")
    sub.add_argument("--file", required=True, help="the keys file app.py reads (created owner-only)")
    sub.set_defaults(handler=cmd_api_key)
    return parser


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
    spark.add_argument("--partitions", type=int, help="parts to score in parallel (default: the cluster's cores)")
    spark.add_argument(
        "--conf", action="append", type=_key_value, default=[], metavar="KEY=VALUE", help="a Spark setting (repeatable)"
    )


def cmd_import(args: argparse.Namespace) -> int:
    if args.format == "sst2":
        result = importers.import_sst2(args.source, tuple(s.strip() for s in args.splits.split(",")))
    elif args.format == "airline":
        result = importers.import_airline(args.source)
    elif args.format == "reviews":
        names = [name.strip() for name in (args.files or "").split(",") if name.strip()]
        result = importers.import_reviews(args.source, names or None)
    else:
        if not args.text_column or not args.label_column:
            raise SentimentError("import-data table needs --text-column and --label-column")
        label_map = importers.parse_label_map(args.label_map) if args.label_map else None
        result = importers.import_table(
            args.source, args.text_column, args.label_column, label_map, args.timestamp_column, args.domain
        )
    output = args.output or Workspace(default_root()).raw_data
    for note in importers.write_canonical(result, output, args.mode):
        print(note)
    return 0


def cmd_steps(args: argparse.Namespace) -> int:
    overrides = dict(args.parameter)
    started = time.time()
    outputs = notebooks.run_steps(args.steps, args.preset, overrides, args.workspace, args.cycle)
    ws = _workspace(args)
    print(f"\nExecuted notebooks: {', '.join(str(p) for p in outputs)}")
    print(f"Reports: {ws.index}")
    print(f"MLflow store: {runs.describe_store(ws.root)}")
    print(f"  open it with: {runs.ui_command(ws.root)}")
    wandb_run = runs.latest_wandb_run(ws.root, since=started)
    if wandb_run:
        print(f"wandb offline run: {wandb_run}  (upload later with `wandb sync {wandb_run}`)")
    return 0


def _workspace(args: argparse.Namespace) -> Workspace:
    """The workspace a command works on, with the settings its preset and ``-p`` overrides give.

    Raises:
        ConfigError: a ``-p`` name that is neither a setting nor a notebook parameter (a typo must not be ignored).
    """
    overrides = notebooks.check_overrides(dict(getattr(args, "parameter", [])))
    return Workspace(args.workspace, settings_for(getattr(args, "preset", None), overrides))


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


def cmd_explain(args: argparse.Namespace) -> int:
    if not args.text.strip():
        raise DataValidationError("the text to explain is empty")
    ws = _workspace(args)
    predictor = _load_predictor(args.model, ws, batch_size=64)
    print(f"{args.model or f'{ws.registered_model}@{CHAMPION}'}: {args.text}")
    print(explain.as_text(explain.explain(predictor, args.text)))
    return 0


def cmd_batch(args: argparse.Namespace) -> int:
    if args.engine == "spark":
        return cmd_spark_batch(args)
    predictor = _load_predictor(args.model, _workspace(args), args.batch_size)
    summary = batch.run_batch(
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
    ws = _workspace(args)
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


def cmd_tracking_server(args: argparse.Namespace) -> int:
    command = tracking.server_command(args.folder, args.backend_store_uri, args.host, args.port, args.workers)
    Path(args.folder).mkdir(parents=True, exist_ok=True)
    url = f"http://{args.host}:{args.port}"
    print(f"MLflow tracking server on {url} (store: {args.backend_store_uri or tracking.default_backend(args.folder)})")
    print(f"Point the runner, app.py and Spark at it with: export MLFLOW_TRACKING_URI={url}")
    return subprocess.run(command).returncode


def cmd_ingest(args: argparse.Namespace) -> int:
    ws = _workspace(args)
    report = feedback.ingest_workspace(ws)
    added, skipped = report.rows_added, report.duplicates_skipped
    print(f"ingested {len(report.files)} file(s): {added} new rows, {skipped} duplicates skipped")
    for name, reason in report.quarantined.items():
        print(f"quarantined {name}: {reason}")
    return 0


def _print_cycle(summary) -> None:
    print(f"cycle {summary.cycle}: champion v{summary.champion or '-'}, verdict {summary.status or '-'}")
    for line in [*summary.reasons, *summary.actions]:
        print(f"  - {line}")
    for line in summary.alerts:
        print(f"  alert {line}")


def _cycle(args: argparse.Namespace, stop: StopSignal | None = None) -> Cycle:
    command = f"runner.py {args.command}"
    return Cycle(args.workspace, args.preset, dict(args.parameter), stop or (lambda: False), command, args.wait)


def cmd_once(args: argparse.Namespace) -> int:
    cycle = _cycle(args)
    summary = cycle.run()
    _print_cycle(summary)
    print(f"Reports: {cycle.ws.index}")
    return 1 if summary.failed_step else 0


def _loop_job(cycle: Cycle, before: Callable[[], None] | None = None) -> Callable[[], None]:
    def job() -> None:
        if before is not None:
            before()
        try:
            _print_cycle(cycle.run())
        except WorkspaceBusyError as err:
            log.warning("%s", err)

    return job


def cmd_loop(args: argparse.Namespace) -> int:
    stop = StopSignal().install()
    cycle = _cycle(args, stop)
    minutes = args.every if args.every is not None else cycle.settings.cycle_minutes
    log.info("Loop: a cycle every %s minutes; logs in %s; stop with Ctrl-C or SIGTERM", minutes, cycle.ws.runner_log)
    run_loop(_loop_job(cycle), minutes * 60, stop, args.max_cycles, heartbeat_file=cycle.ws.heartbeat)
    return 0


def _replay_clock(args: argparse.Namespace, replay: Replay) -> SimulatedClock | WallClock:
    if args.hours_per_cycle is None:
        return WallClock()
    if args.hours_per_cycle <= 0:
        raise ConfigError(f"--hours-per-cycle must be > 0, got {args.hours_per_cycle}")
    start = replay.clock_start(parse_moment(args.start, "--start"))
    return SimulatedClock(start, timedelta(hours=args.hours_per_cycle))


def cmd_replay(args: argparse.Namespace) -> int:
    stop = StopSignal().install()
    cycle = _cycle(args, stop)
    replay = Replay(
        args.source, cycle.ws.incoming, cycle.ws.replay_state, args.per_cycle, args.final_holdout, bool(args.serve)
    )
    clock = _replay_clock(args, replay)
    cycles = args.cycles or -(-replay.remaining // args.per_cycle)
    log.info(
        "Replay of %s: %d rows left, %d per cycle, %d cycle(s)%s",
        args.source,
        replay.remaining,
        args.per_cycle,
        cycles,
        f", the loop's clock from {as_text(clock.now())} by {args.hours_per_cycle} h a cycle"
        if isinstance(clock, SimulatedClock)
        else "",
    )
    if args.serve:
        return _served_replay(args, cycle, replay, clock, stop, cycles)

    def drop() -> None:
        dropped = replay.drop_next()
        log.info("Replay: %s", f"dropped {dropped.name}" if dropped else "the stream is used up")

    def one_cycle() -> None:
        drop()
        try:
            _print_cycle(cycle.run(now=clock.now()))
        except WorkspaceBusyError as err:
            log.warning("%s", err)
            return
        if isinstance(clock, SimulatedClock):
            replay.save_clock(clock.advance())

    run_loop(one_cycle, args.every * 60, stop, max(cycles, 1))
    return 0


def _served_replay(
    args: argparse.Namespace,
    cycle: Cycle,
    replay: Replay,
    clock: SimulatedClock | WallClock,
    stop: StopSignal,
    cycles: int,
) -> int:
    served = ServedReplay(cycle, replay, ApiClient(args.serve), clock)
    first = served.first_champion()
    served.client.health()  # no API at all: say so now rather than once per cycle

    def one_day() -> None:
        try:
            record = served.run_one()
        except WorkspaceBusyError as err:
            log.warning("%s; the day is replayed at the next cycle", err)
            return
        if record is None:
            log.info("Replay: the stream is used up")
            return
        print(
            f"day {record.cycle} ({record.day[:10]}): v{record.champion} {record.accuracy:.3f} on "
            f"{record.served} new texts, estimate {record.estimate:.3f} ({record.estimate_low:.3f}-"
            f"{record.estimate_high:.3f}), {record.verdict}, drift AUC {record.drift_auc:.3f}"
            + (f"; {record.retrain}" if record.retrain else "")
        )

    run_loop(one_day, args.every * 60, stop, max(cycles, 1))
    text = adaptation.day_table(served.records)
    adaptation.write_summary(cycle.ws, text)  # kept even if scoring the final slice fails
    if args.final_holdout:
        scores, p_value = adaptation.final_scores(cycle, [first, served.champion()], replay.holdout)
        text += "\n\n" + adaptation.summary_text(served.records, scores, p_value, len(replay.holdout))
    adaptation.write_summary(cycle.ws, text)
    print(text)
    return 0


def cmd_ack(args: argparse.Namespace) -> int:
    ws = _workspace(args)
    runs.configure_client(ws.root)
    ack = acknowledgements.acknowledge(ws, args.reason, wall_now())
    ngrams = ", ".join(ack.top_ngrams[:5]) or "none recorded"
    print(f"Drift of version {ack.model_version} (AUC {ack.drift_auc:.3f}; top n-grams: {ngrams}) {ack.describe()}.")
    print(
        f"It alerts again if the AUC exceeds {ack.drift_auc + acknowledgements.ACK_MARGIN:.3f}, the shift changes, "
        "or another version becomes champion."
    )
    return 0


def cmd_rebaseline(args: argparse.Namespace) -> int:
    ws = _workspace(args)
    runs.configure_client(ws.root)
    reference = acknowledgements.rebaseline(ws, wall_now())
    print(
        f"Drift of version {reference.model_version} is now measured against {reference.describe()} ({reference.path})."
    )
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    if args.background:
        print(process.start_in_background(_workspace(args), args.port))
        return 0
    server.check_arguments(build_parser(), args)
    return server.serve(args)


def cmd_promote(args: argparse.Namespace) -> int:
    if not args.reason.strip():
        raise ConfigError("--reason must say why (it is kept for the next operator)")
    ws = _workspace(args)
    runs.configure_client(ws.root)
    previous = registry.promote_by_hand(ws.registered_model, args.version, args.reason.strip())
    reports.append_event(ws.reports, as_text(wall_now()), "promoted", args.version)
    replaced = f"version {previous.version}" if previous is not None else "no champion"
    print(f"Version {args.version} of {ws.registered_model} is now @{CHAMPION} (was {replaced}): {args.reason}")
    print("A running API switches to it at its next refresh (SENTIMENT_SERVE_REFRESH_SECONDS, 10 s by default).")
    return 0


def cmd_params(args: argparse.Namespace) -> int:
    for name, info in notebooks.declared_parameters(args.step).items():
        print(f"{name:28} {info['inferred_type_name']:6} {info['default']:34} {info['help']}")
    return 0


def cmd_api_key(args: argparse.Namespace) -> int:
    from sentiment_lib.serving import api_keys

    key = api_keys.add_key(args.file, args.key_id)
    # the key alone on stdout, for a script to capture; what it is on stderr
    print(f"Key {args.key_id!r} added to {args.file} (its digest only); it is not shown again:", file=sys.stderr)
    print(key)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    print(reports.write_index(_workspace(args).reports))
    return 0


def _run_command(args: argparse.Namespace) -> int:
    """Run the command; one that writes the workspace holds its lock (a loop cycle takes it itself)."""
    if not getattr(args, "writes_workspace", False):
        return args.handler(args)
    # the lock lives in the fixed layout (state/): the command itself checks its -p overrides, with its message
    with workspace_lock(Workspace(args.workspace), f"runner.py {args.command}", wait=args.wait):
        return args.handler(args)


def _configure_logging(args: argparse.Namespace) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if args.handler in (cmd_once, cmd_loop, cmd_replay):
        # the unattended commands also keep their log on disk
        handlers.append(logs.rotating_file(_workspace(args).runner_log))
    logs.configure(args.log_format, logging.DEBUG if args.verbose else logging.INFO, handlers)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Secrets (wandb key, SMTP password) may live in a git-ignored .env; real env vars win over it.
    load_dotenv(Path(getattr(args, "workspace", ".")) / ENV_FILE, override=False)
    try:
        _configure_logging(args)
        return _run_command(args)
    except StepFailedError as err:
        log.error("%s", err)
        log.error("The executed notebook is kept for inspection: %s", err.executed_notebook)
        return 1
    except SentimentError as err:
        log.error("%s", err)
        return 2
    except OSError as err:  # a full disk, a file-size limit, a folder without permission: say which, plainly
        log.error("%s failed on the file system: %s", args.command, err)
        return 2
