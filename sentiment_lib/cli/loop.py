"""The loop's commands: ``once``, ``loop``, ``replay`` (plain or through the API), ``ack``, ``rebaseline``."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from sentiment_lib.arg_types import count, minutes
from sentiment_lib.cli.options import add_step_options, workspace_of
from sentiment_lib.clock import SimulatedClock, WallClock, as_text, parse_moment, wall_now
from sentiment_lib.errors import ConfigError
from sentiment_lib.experiments.adaptation_report import day_line
from sentiment_lib.experiments.served_replay import run_served_replay
from sentiment_lib.locking import WorkspaceBusyError
from sentiment_lib.loop.cycle import Cycle
from sentiment_lib.loop.replay import LABEL_POLICIES, Replay
from sentiment_lib.loop.scheduler import StopSignal, run_loop
from sentiment_lib.monitoring.checks import acknowledgements
from sentiment_lib.tracking import runs

if TYPE_CHECKING:
    from sentiment_lib.experiments.adaptation import DayRecord

log = logging.getLogger("runner")


def _print_cycle(summary) -> None:
    print(f"cycle {summary.cycle}: champion v{summary.champion or '-'}, verdict {summary.status or '-'}")
    for line in [*summary.reasons, *summary.actions]:
        print(f"  - {line}")
    for line in summary.alerts:
        print(f"  alert {line}")


def _cycle(args: argparse.Namespace, stop: StopSignal | None = None) -> Cycle:
    command = f"runner.py {args.command}"
    return Cycle(args.workspace, args.preset, dict(args.parameter), stop or (lambda: False), command, args.wait)


def add_once(commands: argparse._SubParsersAction) -> None:
    sub = commands.add_parser("once", help="one cycle: ingest -> staleness -> retrain behind the gate if needed")
    add_step_options(sub, with_cycle_id=False)
    sub.set_defaults(handler=cmd_once)


def cmd_once(args: argparse.Namespace) -> int:
    cycle = _cycle(args)
    summary = cycle.run()
    _print_cycle(summary)
    print(f"Reports: {cycle.ws.index}")
    return 1 if summary.failed_step else 0


def add_loop(commands: argparse._SubParsersAction) -> None:
    sub = commands.add_parser("loop", help="run cycles on a schedule until SIGINT/SIGTERM")
    add_step_options(sub, with_cycle_id=False)
    sub.add_argument("--every", type=minutes, help="minutes between cycles (default: the cycle_minutes setting)")
    sub.add_argument("--max-cycles", type=count, help="stop after this many cycles (default: never)")
    sub.set_defaults(handler=cmd_loop)


def _loop_job(cycle: Cycle) -> Callable[[], None]:
    def job() -> None:
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


def add_replay(commands: argparse._SubParsersAction) -> None:
    sub = commands.add_parser("replay", help="replay a labelled stream into data/incoming/, one batch per cycle")
    add_step_options(sub, with_cycle_id=False)
    sub.add_argument("--source", required=True, help="the airline Tweets.csv, or a CSV with Review,Sentiment")
    sub.add_argument("--per-cycle", type=count, required=True, help="rows dropped into data/incoming/ per cycle")
    sub.add_argument("--cycles", type=count, help="stop after this many cycles (default: until the stream ends)")
    sub.add_argument("--every", type=minutes, default=0.0, help="minutes between cycles (default: 0, back to back)")
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
    sub.add_argument(
        "--label-policy",
        choices=LABEL_POLICIES,
        default="all",
        help="with --serve: label every served text (all, default), or only the labelling queue's choice of "
        "--label-budget texts a day, active (unsure, disputed, drifting) or random",
    )
    sub.add_argument(
        "--label-budget",
        type=count,
        help="with --label-policy active|random: labels a cycle (the label_budget setting)",
    )
    sub.set_defaults(handler=cmd_replay)


def _replay_clock(args: argparse.Namespace, replay: Replay) -> SimulatedClock | WallClock:
    """The loop's clock: the wall clock, or with ``--hours-per-cycle`` a simulated one resuming the replay's.

    Raises:
        ConfigError: ``--hours-per-cycle`` not above 0, or ``--start`` not an ISO 8601 time.
    """
    if args.hours_per_cycle is None:
        return WallClock()
    if args.hours_per_cycle <= 0:
        raise ConfigError(f"--hours-per-cycle must be > 0, got {args.hours_per_cycle}")
    start = replay.clock_start(parse_moment(args.start, "--start"))
    return SimulatedClock(start, timedelta(hours=args.hours_per_cycle))


def _with_label_settings(args: argparse.Namespace) -> argparse.Namespace:
    """``--label-policy active|random`` and ``--label-budget`` as the loop's label_policy and label_budget.

    Raises:
        ConfigError: a budget without a queue policy.
    """
    if args.label_budget is not None and args.label_policy == "all":
        raise ConfigError("--label-budget needs --label-policy active or random (all labels every served text)")
    if args.label_policy == "all":
        return args
    chosen = [("label_policy", args.label_policy)]
    chosen += [("label_budget", str(args.label_budget))] if args.label_budget is not None else []
    return argparse.Namespace(**{**vars(args), "parameter": [*args.parameter, *chosen]})


def cmd_replay(args: argparse.Namespace) -> int:
    stop = StopSignal().install()
    args = _with_label_settings(args)
    cycle = _cycle(args, stop)
    served = bool(args.serve)
    replay = Replay(
        args.source,
        cycle.ws.incoming,
        cycle.ws.replay_state,
        args.per_cycle,
        args.final_holdout,
        served,
        args.label_policy,
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
        print(run_served_replay(cycle, replay, args.serve, clock, stop, cycles, args.every * 60, _print_day))
        return 0
    run_loop(_replay_job(cycle, replay, clock), args.every * 60, stop, max(cycles, 1))
    return 0


def _print_day(record: DayRecord) -> None:
    print(day_line(record))


def _replay_job(cycle: Cycle, replay: Replay, clock: SimulatedClock | WallClock) -> Callable[[], None]:
    """One cycle of a plain replay: the next batch into data/incoming/, then the loop's cycle at the clock's time."""

    def one_cycle() -> None:
        dropped = replay.drop_next()
        log.info("Replay: %s", f"dropped {dropped.name}" if dropped else "the stream is used up")
        try:
            _print_cycle(cycle.run(now=clock.now()))
        except WorkspaceBusyError as err:
            log.warning("%s", err)
            return
        if isinstance(clock, SimulatedClock):
            replay.save_clock(clock.advance())

    return one_cycle


# the unattended commands: they also keep their log on disk (logs/runner.log)
UNATTENDED = (cmd_once, cmd_loop, cmd_replay)


def add_ack(commands: argparse._SubParsersAction) -> None:
    sub = commands.add_parser("ack", help="accept the latest drift of the champion as understood: it stops alerting")
    sub.add_argument("--reason", required=True, help="why the shift is harmless, for the next operator")
    add_step_options(sub, with_cycle_id=False)
    sub.set_defaults(handler=cmd_ack, writes_workspace=True)


def cmd_ack(args: argparse.Namespace) -> int:
    ws = workspace_of(args)
    runs.configure_client(ws.root)
    ack = acknowledgements.acknowledge(ws, args.reason, wall_now())
    ngrams = ", ".join(ack.top_ngrams[:5]) or "none recorded"
    print(f"Drift of version {ack.model_version} (AUC {ack.drift_auc:.3f}; top n-grams: {ngrams}) {ack.describe()}.")
    print(
        f"It alerts again if the AUC exceeds {ack.drift_auc + acknowledgements.ACK_MARGIN:.3f}, the shift changes, "
        "or another version becomes champion."
    )
    return 0


def add_rebaseline(commands: argparse._SubParsersAction) -> None:
    sub = commands.add_parser("rebaseline", help="make the champion's recent served texts the drift reference")
    add_step_options(sub, with_cycle_id=False)
    sub.set_defaults(handler=cmd_rebaseline, writes_workspace=True)


def cmd_rebaseline(args: argparse.Namespace) -> int:
    ws = workspace_of(args)
    runs.configure_client(ws.root)
    reference = acknowledgements.rebaseline(ws, wall_now())
    print(
        f"Drift of version {reference.model_version} is now measured against {reference.describe()} ({reference.path})."
    )
    return 0
