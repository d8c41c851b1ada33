"""Prometheus metrics for ``GET /metrics``: what the API served and how fast, and the loop's latest judgement.

Counters and histograms are updated as requests are answered. With several worker processes
(``app.py --workers N``) each worker writes its own files under ``PROMETHEUS_MULTIPROC_DIR`` (the parent
sets it) and whichever worker answers a scrape adds them all up (prometheus_client's multi-process mode).
The served model's version and age and the loop's numbers are read when scraped: from the model the
answering process serves, the newest ``reports/<cycle>/verdict.json`` and the loop's heartbeat, never
recomputed; the workspace's free disk space is measured then too. ``deploy/prometheus/rules.yml`` alerts on them.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from sentiment_lib.errors import DataValidationError
from sentiment_lib.loop import heartbeat
from sentiment_lib.monitoring.checks.verdicts import STATUSES
from sentiment_lib.reports import latest_verdict
from sentiment_lib.settings.base import variable_name
from sentiment_lib.settings.runtime import ToolSettings, tools

if TYPE_CHECKING:
    from sentiment_lib.serving.model_holder import ModelHolder
    from sentiment_lib.serving.served_log import LogOutcome
    from sentiment_lib.workspace import Workspace

log = logging.getLogger(__name__)

MULTIPROC_ENV = variable_name(ToolSettings, "prometheus_multiproc_dir")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)
CONFIDENCE_BUCKETS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)
# verdict check name -> the gauge it becomes (value and threshold)
LOOP_GAUGES = {
    "performance": ("feedback_accuracy", "accuracy on the newest labelled feedback"),
    "estimated_performance": ("estimated_accuracy", "accuracy estimated from served confidences, no labels"),
    "drift": ("drift_auc", "AUC of a classifier telling recent texts from training texts"),
    "age": ("champion_age_days", "age of the judged champion in days"),
}


class ApiMetrics:
    """The API's counters and histograms, and the exposition of a scrape."""

    def __init__(self, holder: ModelHolder, workspace: Workspace):
        # workers share counters through this folder; read once, as prometheus_client reads it once per metric
        self.shared_dir = tools().prometheus_multiproc_dir
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "sentiment_requests", "HTTP requests answered", ["route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "sentiment_request_seconds", "Time to answer", ["route"], buckets=LATENCY_BUCKETS, registry=self.registry
        )
        self.batch_size = Histogram(
            "sentiment_microbatch_size", "Texts per micro-batched model call", buckets=BATCH_BUCKETS,
            registry=self.registry,
        )  # fmt: skip
        self.predictions = Counter(
            "sentiment_predictions", "Texts labelled, by label", ["label"], registry=self.registry
        )
        self.confidence = Histogram(
            "sentiment_prediction_confidence", "Confidence of each label given", buckets=CONFIDENCE_BUCKETS,
            registry=self.registry,
        )  # fmt: skip
        self.served_log_errors = Counter(
            "sentiment_served_log_write_errors", "Served-log writes that failed", registry=self.registry
        )
        self.served_log_skipped = Counter(
            "sentiment_served_log_skipped", "Served texts not logged: over the day's byte budget",
            registry=self.registry,
        )  # fmt: skip
        self.served_log_truncated = Counter(
            "sentiment_served_log_truncated", "Served texts logged cut to the per-text limit", registry=self.registry
        )
        self.key_requests = Counter(
            "sentiment_api_key_requests", "Prediction requests by API key id", ["key_id"], registry=self.registry
        )
        self.rate_limited = Counter(
            "sentiment_rate_limited", "Requests refused with 429 over the rate limit", registry=self.registry
        )
        self._shadow_counters()
        self.live = CollectorRegistry()
        self.live.register(ServingState(holder, workspace))

    def _shadow_counters(self) -> None:
        """Shadow scoring (:mod:`~sentiment_lib.serving.shadow`), by the challenger's version: agreements over
        texts scored is its live agreement with the champion."""
        by_version = ["challenger_version"]
        self.shadow_texts = Counter(
            "sentiment_shadow_texts", "Served texts the @challenger scored too (shadow scoring)", by_version,
            registry=self.registry,
        )  # fmt: skip
        self.shadow_agreements = Counter(
            "sentiment_shadow_agreements", "Shadow-scored texts the challenger labelled as the champion did",
            by_version, registry=self.registry,
        )  # fmt: skip
        self.shadow_dropped = Counter(
            "sentiment_shadow_dropped", "Sampled texts not shadow-scored: the queue was full", by_version,
            registry=self.registry,
        )  # fmt: skip
        self.shadow_failed = Counter(
            "sentiment_shadow_failed", "Shadow texts the challenger raised on", by_version, registry=self.registry
        )

    def observe_request(self, route: str, status: int, seconds: float) -> None:
        self.requests.labels(route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def observe_predictions(self, labels: Sequence[str], confidences: Sequence[float]) -> None:
        for label, confidence in zip(labels, confidences, strict=True):
            self.predictions.labels(label).inc()
            self.confidence.observe(float(confidence))

    def observe_served_log(self, outcome: LogOutcome) -> None:
        if outcome.failed:
            self.served_log_errors.inc()
        self.served_log_skipped.inc(outcome.skipped)
        self.served_log_truncated.inc(outcome.truncated)

    def observe_shadow(self, challenger_version: str, scored: int, agreed: int) -> None:
        self.shadow_texts.labels(challenger_version).inc(scored)
        self.shadow_agreements.labels(challenger_version).inc(agreed)

    def observe_shadow_dropped(self, challenger_version: str) -> None:
        self.shadow_dropped.labels(challenger_version).inc()

    def observe_shadow_failed(self, challenger_version: str, texts: int) -> None:
        self.shadow_failed.labels(challenger_version).inc(texts)

    def exposition(self) -> bytes:
        """The text a scrape gets: every worker's counters when several run, and the live gauges."""
        if self.shared_dir:
            merged = CollectorRegistry()
            MultiProcessCollector(merged)
            counters = generate_latest(merged)
        else:
            counters = generate_latest(self.registry)
        return counters + generate_latest(self.live)


class ServingState:
    """Gauges read at scrape time: the served model, the newest verdict of the loop, its heartbeat, the disk."""

    def __init__(self, holder: ModelHolder, workspace: Workspace):
        self.holder, self.ws = holder, workspace

    def collect(self) -> Iterator[Metric]:
        yield from self._model()
        yield from workspace_disk_gauges(self.ws.root)
        yield from heartbeat_gauges(heartbeat.read(self.ws.heartbeat))
        try:
            latest = latest_verdict(self.ws.reports)
        except DataValidationError as err:  # a damaged file must not take the scrape down
            log.warning("No loop gauges in /metrics: %s", err)
            return
        if latest is not None:
            yield from verdict_gauges(latest[1], latest[0].stat().st_mtime)

    def _model(self) -> Iterator[Metric]:
        model = self.holder.current
        yield gauge("sentiment_model_loaded", "1 while a model is loaded and serving", float(model is not None))
        if model is None:
            return
        info = InfoMetricFamily("sentiment_model", "The model version this process serves")
        info.add_metric([], {"version": model.version, "backend": model.predictor.backend_name})
        yield info
        age = time.time() - datetime.fromisoformat(model.registered_at).timestamp()
        yield gauge("sentiment_model_age_seconds", "Seconds since the served version was registered", age)


def verdict_gauges(verdict: dict, written_at: float) -> Iterator[Metric]:
    """The verdict as gauges: one series per status (1 for the current one) and each check's number."""
    status = GaugeMetricFamily("sentiment_loop_verdict", "1 for the latest verdict's status", labels=["status"])
    for name in STATUSES:
        status.add_metric([name], 1.0 if verdict["status"] == name else 0.0)
    yield status
    yield gauge("sentiment_loop_verdict_timestamp_seconds", "When the latest verdict was written", written_at)
    # an acknowledged drift is recorded unfired, so fired=1 on drift means "drifted and nobody has said it is fine"
    fired = GaugeMetricFamily("sentiment_loop_check_fired", "1 if the latest verdict's check fired", labels=["check"])
    for check in verdict.get("checks", []):
        if isinstance(check.get("name"), str):
            fired.add_metric([check["name"]], 1.0 if check.get("fired") else 0.0)
    yield fired
    for check in verdict.get("checks", []):
        if check.get("name") not in LOOP_GAUGES:
            continue
        name, text = LOOP_GAUGES[check["name"]]
        for suffix, key, what in (("", "value", text), ("_threshold", "threshold", f"threshold of the {name} check")):
            yield gauge(f"sentiment_loop_{name}{suffix}", what, float(check[key]))


def heartbeat_gauges(beat: heartbeat.Heartbeat | None) -> Iterator[Metric]:
    """When the loop last finished a cycle and how often it means to (nothing before its first cycle)."""
    if beat is None:
        return
    for name, text, value in (
        ("sentiment_loop_last_cycle_timestamp_seconds", "When the loop last finished a cycle", beat.finished_at),
        ("sentiment_loop_interval_seconds", "Seconds the loop means to wait between cycles", beat.interval_seconds),
        ("sentiment_loop_last_cycle_crashed", "1 if the loop's last cycle raised", float(beat.crashed)),
    ):
        yield gauge(name, text, value)


def workspace_disk_gauges(root: Path) -> Iterator[Metric]:
    """Free and total bytes of the file system holding the workspace (registry, served log, reports)."""
    try:
        stats = os.statvfs(root)
    except OSError as err:
        log.warning("No disk gauges in /metrics: %s", err)
        return
    for name, text, value in (
        ("sentiment_workspace_free_bytes", "Bytes free to this user on the workspace's file system", stats.f_bavail),
        ("sentiment_workspace_size_bytes", "Size of the workspace's file system in bytes", stats.f_blocks),
    ):
        yield gauge(name, text, float(value * stats.f_frsize))


def gauge(name: str, text: str, value: float) -> GaugeMetricFamily:
    """One unlabelled gauge with its value, as a scrape-time collector yields it."""
    family = GaugeMetricFamily(name, text)
    family.add_metric([], value)
    return family
