"""The labelling commands: ``label push`` (the queue into Label Studio) and ``label pull`` (its labels back)."""

from __future__ import annotations

import argparse
import logging

from sentiment_lib.cli.options import add_wait, add_workspace, workspace_of
from sentiment_lib.labeling import label_studio
from sentiment_lib.locking import workspace_lock

ACTIONS = ("push", "pull")


def add_label(commands: argparse._SubParsersAction) -> None:
    sub = commands.add_parser(
        "label",
        help="push the labelling queue (data/to_label/) to Label Studio, or pull its labels into data/incoming/",
    )
    sub.add_argument(
        "action",
        choices=ACTIONS,
        help="push: import the queue's new texts as tasks; pull: write the finished labels for the next ingestion",
    )
    add_workspace(sub)
    add_wait(sub)
    sub.set_defaults(handler=cmd_label)


def cmd_label(args: argparse.Namespace) -> int:
    if not args.verbose:  # the SDK's HTTP client logs every request at INFO: a screenful for one push
        logging.getLogger("httpx").setLevel(logging.WARNING)
    return cmd_push(args) if args.action == "push" else cmd_pull(args)


def cmd_push(args: argparse.Namespace) -> int:
    """Reads the workspace and writes only to Label Studio: no lock (a running cycle need not finish first)."""
    result = label_studio.push(workspace_of(args))
    state = "created" if result.project_created else "updated"
    print(
        f"Label Studio project {result.project_id} {state}: {result.tasks_added} task(s) added from "
        f"{result.queue_files} queue file(s), {result.already_there} already there"
    )
    return 0


def cmd_pull(args: argparse.Namespace) -> int:
    """Writes data/incoming/ and state/, like ``ingest``: under the workspace's lock."""
    ws = workspace_of(args)
    with workspace_lock(ws, "runner.py label pull", wait=args.wait):
        result = label_studio.pull(ws)
    where = f" into {result.file}" if result.file else ""
    print(
        f"Label Studio project {result.project_id}: {result.rows} new label(s){where}; "
        f"{result.skipped} task(s) skipped by their annotator, {result.unfinished} not annotated yet"
    )
    for problem in result.problems:
        print(f"not pulled: {problem}")
    return 0
