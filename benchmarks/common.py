"""Helpers shared by the benchmark scripts: the SST-2 test set, the champion's files, a table printer."""

from __future__ import annotations

import os
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
    from sentiment_lib.config import CHAMPION
    from sentiment_lib.tracking import registry, runs
    from sentiment_lib.workspace import Workspace

    runs.configure_client(workspace)
    name = Workspace(workspace).registered_model
    return Path(registry.load_served_model(name, alias=CHAMPION).model_dir)


def print_table(title: str, header: list[str], rows: list[list]) -> None:
    cells = [header] + [[f"{v:,.2f}" if isinstance(v, float) else str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n{title}\n")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(cells[0], widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells[1:]:
        print("| " + " | ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) + " |")
