"""The outcome of a served replay (:mod:`sentiment_lib.experiments.adaptation`) as Markdown tables: one row per
simulated day, then the estimate's quality and the first champion against the last; kept in
``reports/replay/adaptation.md``."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np

from sentiment_lib.experiments.adaptation import DayRecord, FinalScore, estimate_quality
from sentiment_lib.io import write_json_atomic, write_text_atomic


def _number(value: float, digits: int = 3) -> str:
    return "-" if value is None or np.isnan(value) else f"{value:.{digits}f}"


def day_table(records: list[DayRecord]) -> str:
    """The per-cycle table, in Markdown."""
    lines = [
        "| cycle | day | served by | accuracy on the day's texts | estimate (95% interval) | verdict "
        "| drift AUC: top n-grams | labels given | retrain and gate |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in records:
        estimate = f"{_number(r.estimate)} ({_number(r.estimate_low)}-{_number(r.estimate_high)})"
        lines.append(
            f"| {r.cycle} | {r.day[:10]} | v{r.champion} | {_number(r.accuracy)} ({r.served}) | {estimate} | "
            f"{r.verdict} | {_number(r.drift_auc)}: {', '.join(r.drift_ngrams) or '-'} | {r.labels} | "
            f"{r.retrain or '-'} |"
        )
    return "\n".join(lines)


def _score_row(score: FinalScore, role: str) -> str:
    return f"| v{score.version} ({role}) | {score.holdout_accuracy:.4f} | {score.sst2_accuracy:.4f} |"


def summary_text(records: list[DayRecord], scores: list[FinalScore], p_value: float, holdout_rows: int) -> str:
    """The estimate's quality and the before/after comparison, in Markdown (``scores``: the first champion's, the
    last champion's and, when the newest version trained is not the champion, its own)."""
    quality = estimate_quality(records)
    first, last = scores[0], scores[1]
    newest = [_score_row(scores[2], "newest trained, not promoted")] if len(scores) > 2 else []
    return "\n".join(
        [
            f"Label-free estimate over {quality['days']} days: mean absolute error "
            f"{100 * quality['mae']:.1f} points, interval held the realised accuracy on "
            f"{100 * quality['coverage']:.0f}% of days. Labels given: {sum(r.labels for r in records)}.",
            "",
            "| model | final slice of the stream (unseen tweets) | SST-2 test |",
            "| --- | --- | --- |",
            _score_row(first, "champion when the replay started"),
            _score_row(last, "champion at the end"),
            *newest,
            f"| change | {100 * (last.holdout_accuracy - first.holdout_accuracy):+.2f} points "
            f"(McNemar p = {p_value:.3g}, {holdout_rows} tweets) | "
            f"{100 * (last.sst2_accuracy - first.sst2_accuracy):+.2f} points |",
        ]
    )


def write_final_scores(
    ws: Any, records: list[DayRecord], scores: list[FinalScore], p_value: float, holdout_rows: int
) -> None:
    """The before/after numbers as ``reports/replay/final.json``, for scripts that compare replays; ``newest`` is
    the newest version trained (the last champion when it is that one, the first when none was trained)."""
    first, last = scores[0], scores[1]
    write_json_atomic(
        ws.reports / "replay" / "final.json",
        {
            "days": len(records),
            "labels": sum(r.labels for r in records),
            "first": asdict(first),
            "last": asdict(last),
            "newest": asdict(scores[2] if len(scores) > 2 else last),
            "p_value": p_value,
            "holdout_rows": holdout_rows,
        },
    )


def write_summary(ws: Any, text: str) -> None:
    write_text_atomic(ws.reports / "replay" / "adaptation.md", text + "\n")


def day_line(record: DayRecord) -> str:
    """One simulated day in one line: who answered, how well, what the loop estimated and did."""
    return (
        f"day {record.cycle} ({record.day[:10]}): v{record.champion} {record.accuracy:.3f} on "
        f"{record.served} new texts, estimate {record.estimate:.3f} ({record.estimate_low:.3f}-"
        f"{record.estimate_high:.3f}), {record.verdict}, drift AUC {record.drift_auc:.3f}, {record.labels} labels"
        + (f"; {record.retrain}" if record.retrain else "")
    )
