"""Helpers shared by the benchmark scripts: the SST-2 test set, the champion's files, the machine, a table
printer, the memory of a process and its children."""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from sentiment_lib.data import importers

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"


def sst2_test() -> tuple[list[str], list[str]]:
    """The SST-2 test sentences and their labels (``positive``/``negative``)."""
    frame = importers.import_sst2(SHARED / "sst2", splits=("test",)).frame
    return frame["Review"].tolist(), frame["Sentiment"].tolist()


def champion_dir(workspace: Path) -> Path:
    """The Hugging Face folder of the registered model's ``@champion`` in the workspace's registry."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentiment_lib.settings import CHAMPION
    from sentiment_lib.tracking import registry, runs
    from sentiment_lib.workspace import Workspace

    runs.configure_client(workspace)
    name = Workspace(workspace).registered_model
    return Path(registry.load_served_model(name, alias=CHAMPION).model_dir)


def machine_summary() -> str:
    """The CPU (model, vector extensions), its cores and the threads a predictor uses here: what the numbers
    of a benchmark depend on."""
    from sentiment_lib.inference.cpu import cpu_summary, usable_cores
    from sentiment_lib.inference.predictor import default_threads

    usable = usable_cores()
    return f"{cpu_summary()}; {os.cpu_count()} cores ({usable} usable), {default_threads()} threads"


def print_table(title: str, header: list[str], rows: list[list]) -> None:
    cells = [header] + [[f"{v:,.2f}" if isinstance(v, float) else str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n{title}\n")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(cells[0], widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells[1:]:
        print("| " + " | ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) + " |")


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants (``app.py --workers N`` runs N children)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        todo.extend(children.get(pid, []))
    return pids


def rss_mb(root: int) -> float:
    """VmRSS of ``root`` and its descendants, in MB."""
    total = 0
    for pid in process_tree(root):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


@contextlib.contextmanager
def checkout(ref: str) -> Iterator[Path]:
    """This repository at ``ref`` in a temporary git worktree (removed afterwards): the code a change is
    measured against in the same run, on the same machine, with the same virtual environment."""
    folder = Path(tempfile.mkdtemp(prefix="bench-baseline-")) / "checkout"
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(folder), ref], check=True,
                   capture_output=True)  # fmt: skip
    try:
        yield folder
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(folder)], capture_output=True)
