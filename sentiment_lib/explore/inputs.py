"""What 05_explore looks at: a registered version (by number or alias) and a labelled sample."""

from __future__ import annotations

from typing import Any

import pandas as pd

from sentiment_lib.data import importers
from sentiment_lib.data.dataset import read_split, sample_rows
from sentiment_lib.errors import ModelError
from sentiment_lib.tracking import registry
from sentiment_lib.workspace import Workspace


def load_model(ws: Workspace, spec: str) -> tuple[str, Any]:
    """``("v<version>", predictor)`` for ``spec``: a version number ("3") or an alias ("champion").

    Raises:
        ModelError: no such version or alias (the message lists how to find them).
    """
    spec = str(spec).strip()
    number = spec[1:] if spec[:1] in ("v", "V") and spec[1:].isdigit() else spec  # "v3" means version 3
    if not spec:
        raise ModelError("model must be a version number (3) or an alias (champion, challenger), got nothing")
    version = number if number.isdigit() else str(registry.require_version(ws.registered_model, spec).version)
    loaded = registry.load_served_model(ws.registered_model, version=version)
    return f"v{version}", loaded.predictor


def load_rows(ws: Workspace, data_path: str, max_rows: int) -> pd.DataFrame:
    """The labelled rows of ``data_path`` (SST-2 ``.tsv``, the airline tweets, or a ``Review, Sentiment`` CSV;
    empty: the workspace's test split), a seeded sample of ``max_rows`` of them when there are more (0: all).

    Raises:
        DataValidationError: the file is missing or breaks the data contract.
    """
    rows = importers.read_labelled(ws.path(data_path)) if data_path else read_split(ws.processed, "test")
    return sample_rows(rows, max_rows, ws.settings.seed).reset_index(drop=True) if max_rows else rows
