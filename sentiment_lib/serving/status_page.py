"""The operator's page (``GET /`` and ``/status``): the champion, the loop's latest verdict, its history, its cycles.

Everything is read when the page is asked for, from what the loop already wrote under ``reports/`` (the
newest ``verdict.json``, ``staleness_history.csv``, ``events.csv``, each cycle's ``cycle.json``) and from the
model this process serves and its shadow scoring (the challenger's live agreement with the champion). This
module turns those into plain values; ``templates/status_page.html.j2`` (on the shell and cycle table the
report index shares) makes the page, escaping every value, and the staleness chart is the one
:mod:`~sentiment_lib.monitoring.staleness_chart` lays out for every page, as inline SVG.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sentiment_lib import reports
from sentiment_lib.errors import DataValidationError
from sentiment_lib.formatting import percent
from sentiment_lib.labeling import queue
from sentiment_lib.rendering import render as render_template
from sentiment_lib.serving.shadow import ShadowState
from sentiment_lib.tracking import model_card
from sentiment_lib.workspace import Workspace

PAGE_TEMPLATE = "status_page.html.j2"
VERDICT_TEMPLATE = "status_verdict.html.j2"
STALENESS_REPORT = "04_staleness.html"  # the verdict's cycle links to it when it was rendered
REFRESH_SECONDS = 30
CYCLES_SHOWN = 20
NGRAMS_SHOWN = 10  # per side of the drift explanation
QUEUE_ROWS_SHOWN = 10


@dataclass(frozen=True)
class EvaluationRow:
    """One evaluation set of the champion, formatted ("-" for a number its tags lack)."""

    name: str
    accuracy: str
    ece: str
    confident_errors: str
    rows: str


@dataclass(frozen=True)
class Champion:
    version: str
    registered_at: str
    backend: str
    reason: str  # why it was promoted ("" when not recorded)
    evaluations: list[EvaluationRow]
    card: list[str]  # the model card's summary lines (none without a card)


@dataclass(frozen=True)
class VerdictView:
    """The newest ``verdict.json``, read into plain fields the template can trust; no ``status``: no verdict."""

    error: str = ""  # why the newest verdict cannot be read
    cycle: str = ""
    report: str = ""  # the cycle's staleness report, "" when it has none
    status: str = ""
    model_version: str = "-"
    checks: list[dict[str, Any]] = field(default_factory=list)
    drift_reference: str = "the training data"
    acknowledged: dict[str, Any] | None = None
    explanation: dict[str, Any] | None = None


@dataclass(frozen=True)
class ShadowView:
    """Shadow scoring as the page shows it: the challenger's live agreement in this process, formatted."""

    share: str
    challenger: str  # "" while no challenger is shadowed
    champion: str
    reason: str  # why none is, when loading one failed
    scored: int
    agreement: str  # "-" before the first text
    interval: str  # the agreement's 95% Wilson interval
    dropped: int
    failed: int
    queue_length: int
    disagreements: list[dict[str, str]]


def shadow_view(found: ShadowState | None) -> ShadowView | None:
    """``found`` (:meth:`ShadowScorer.state`) for the template; None when shadow scoring is off."""
    if found is None:
        return None
    agreement = found.agreement
    rate, interval = "-", "-"
    if agreement is not None and agreement.texts:
        low, high = agreement.interval
        rate, interval = percent(agreement.rate), f"{percent(low)} to {percent(high)}"
    rows = [
        {
            "text": d["text"],
            "champion": f"{d['champion_sentiment']} ({float(d['champion_confidence']):.3f})",
            "challenger": f"{d['challenger_sentiment']} ({float(d['challenger_confidence']):.3f})",
        }
        for d in found.disagreements
    ]
    return ShadowView(
        share=percent(found.share),
        challenger=found.challenger_version or "",
        champion=found.champion_version or "-",
        reason=found.last_error,
        scored=agreement.texts if agreement else 0,
        agreement=rate,
        interval=interval,
        dropped=found.dropped,
        failed=found.failed,
        queue_length=found.queue_length,
        disagreements=rows,
    )


@dataclass(frozen=True)
class LabelQueueView:
    """The newest labelling queue (``data/to_label/<cycle>.csv``), as the page shows it."""

    file: str
    texts: int
    reasons: str  # "12 disagreement, 3 drift, 85 uncertain"
    rows: list[dict[str, str]]  # the first QUEUE_ROWS_SHOWN
    error: str = ""  # why it cannot be read


def label_queue_view(folder: Path) -> LabelQueueView | None:
    """The newest queue in ``folder``; None when no cycle has written one."""
    try:
        newest = queue.newest_queue(folder)
    except DataValidationError as err:
        return LabelQueueView("", 0, "", [], error=str(err))
    if newest is None:
        return None
    reasons = queue.reason_counts(newest["why"]) if "why" in newest else {}
    counted = ", ".join(f"{n} {why}" for why, n in sorted(reasons.items()))
    columns = ("Review", "why", "champion_sentiment", "champion_confidence")
    rows = [{c: str(row.get(c, "")) for c in columns} for row in newest.head(QUEUE_ROWS_SHOWN).to_dict("records")]
    return LabelQueueView(str(newest["queue"].iloc[0]) if len(newest) else "", len(newest), counted, rows)


def render(workspace: Workspace, model: Any, shadow: ShadowState | None = None) -> str:
    """The whole page; ``model`` is the served :class:`~sentiment_lib.serving.model_holder.LoadedModel` or None,
    ``shadow`` what shadow scoring has done (None: it is off)."""
    reports_dir = workspace.reports
    return render_template(
        PAGE_TEMPLATE,
        refresh=REFRESH_SECONDS,
        now=datetime.now(UTC).isoformat(timespec="seconds")[:19],
        champion=champion(model),
        shadow=shadow_view(shadow),
        label_queue=label_queue_view(workspace.to_label),
        verdict=latest_verdict(reports_dir),
        chart=reports.history_chart(reports_dir),
        cycles=reports.cycle_rows(reports_dir, CYCLES_SHOWN),
    )


def verdict_section(reports_dir: Path) -> str:
    """The "Latest verdict" section alone (the page includes the same template)."""
    return render_template(VERDICT_TEMPLATE, verdict=latest_verdict(reports_dir))


def champion(model: Any) -> Champion | None:
    """What the page shows of the served model (None when none is loaded)."""
    if model is None:
        return None
    tags = model.tags
    return Champion(
        version=str(model.version),
        registered_at=str(model.registered_at),
        backend=str(model.predictor.backend_name),
        reason=tags.get("promotion.reason", ""),
        evaluations=[evaluation_row(tags, key, name) for key, name in model_card.evaluation_sets(tags)],
        card=model_card.summary(model.card),
    )


def evaluation_row(tags: dict[str, str], key: str, name: str) -> EvaluationRow:
    return EvaluationRow(
        name=name,
        accuracy=_percent(tags, f"{key}_accuracy", 2),
        ece=_number(tags, f"{key}_ece", 3),
        confident_errors=_percent(tags, f"{key}_confident_errors", 1),
        rows=_number(tags, f"{key}_n", 0),
    )


def _number(tags: dict[str, str], key: str, digits: int) -> str:
    try:
        return f"{float(tags[key]):.{digits}f}"
    except (KeyError, ValueError):
        return "-"


def _percent(tags: dict[str, str], key: str, digits: int) -> str:
    value = _number(tags, key, 4)  # rounded to four places first, as the tags are shown elsewhere
    return "-" if value == "-" else f"{100 * float(value):.{digits}f}%"


def latest_verdict(reports_dir: Path) -> VerdictView:
    """The newest verdict of ``reports_dir`` (an empty view before the first, one with ``error`` when damaged)."""
    try:
        latest = reports.latest_verdict(reports_dir)
    except DataValidationError as err:
        return VerdictView(error=str(err))
    if latest is None:
        return VerdictView()
    path, verdict = latest
    return VerdictView(
        cycle=path.parent.name,
        report=STALENESS_REPORT if (path.parent / STALENESS_REPORT).is_file() else "",
        status=verdict["status"],
        model_version=str(verdict.get("model_version", "-")),
        checks=[_check(c) for c in verdict.get("checks", []) if isinstance(c, dict)],
        drift_reference=str(verdict.get("drift_reference") or "the training data"),
        acknowledged=_acknowledgement(verdict.get("acknowledged")),
        explanation=explanation(verdict.get("drift_explanation")),
    )


def _check(check: dict) -> dict[str, Any]:
    return {
        "name": check.get("name"),
        "value": check.get("value", 0),
        "threshold": check.get("threshold", 0),
        "fired": bool(check.get("fired")),
        "detail": check.get("detail", ""),
    }


def _acknowledgement(ack: Any) -> dict[str, Any] | None:
    """Who acknowledged the drift the verdict reports but does not alert on, if anyone did."""
    if not isinstance(ack, Mapping):
        return None
    return {
        "by": ack.get("by", "?"),
        "at": ack.get("at", "?"),
        "drift_auc": ack.get("drift_auc"),
        "reason": ack.get("reason", ""),
    }


def explanation(found: Any) -> dict[str, Any] | None:
    """A verdict's drift explanation (``DriftExplanation.to_dict``) for the page; None for none or a malformed one.

    Read from the dict rather than through :mod:`~sentiment_lib.monitoring.checks.drift_explanation`, which would load
    scipy.stats and scikit-learn into every API process for a few numbers.
    """
    if not isinstance(found, Mapping):
        return None
    sides = [
        ("typical_of_recent", "more typical of recent texts"),
        ("typical_of_reference", "more typical of training texts"),
    ]
    return {
        "recent_texts": found.get("recent_texts", "?"),
        "reference_texts": found.get("reference_texts", "?"),
        "label_shift": _label_shift(found.get("label_shift")),
        "ngram_tables": [_ngram_table(found.get(key), title) for key, title in sides if _listed(found.get(key))],
        "descriptors": [_descriptor(d) for d in found.get("descriptors") or [] if isinstance(d, dict)]
        if _listed(found.get("descriptors"))
        else [],
    }


def _listed(value: Any) -> bool:
    return isinstance(value, list) and bool(value)


def _ngram_table(ngrams: Any, title: str) -> dict[str, Any]:
    """``ngrams`` as the verdict file has it: a list (the caller checked) of objects, each shown if a dict."""
    keys = ("ngram", "weight", "recent_share", "reference_share")
    rows = [
        {k: n.get(k, "" if k == "ngram" else None) for k in keys} for n in ngrams[:NGRAMS_SHOWN] if isinstance(n, dict)
    ]
    return {"title": title, "rows": rows}


def _label_shift(shift: Any) -> dict[str, Any] | None:
    if not isinstance(shift, dict):
        return None
    keys = ("recent_share", "reference_share", "difference", "p_value")
    return {"label": shift.get("label", "positive"), **{k: shift.get(k) for k in keys}}


def _descriptor(d: dict) -> dict[str, Any]:
    return {
        "description": d.get("description", d.get("name", "")),
        "share": str(d.get("name", "")).endswith("_share"),  # shares of texts: percentages and points
        "reference": d.get("reference"),
        "recent": d.get("recent"),
        "difference": d.get("difference"),
    }
