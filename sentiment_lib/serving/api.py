"""The HTTP API: a Flask app factory with thin routes that validate, call the library, and answer JSON.

Each route declares its request model and every status it answers (``@documented``); requests are validated
with the declared model, answers are built from the response models, and /openapi.json is built from both.

The operator's pages (status, reports, /metrics, /openapi.json, /docs) are in :mod:`sentiment_lib.serving.pages`.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pandas as pd
from flask import Blueprint, Flask, Response, g, jsonify, request
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import HTTPException

from sentiment_lib import __version__
from sentiment_lib.csv_safety import neutralise_formulas
from sentiment_lib.data.schema import TEXT_COLUMN
from sentiment_lib.errors import DataValidationError
from sentiment_lib.inference import explain
from sentiment_lib.serving import access, csv_upload, openapi
from sentiment_lib.serving.api_keys import ApiKeys
from sentiment_lib.serving.metrics import ApiMetrics
from sentiment_lib.serving.model_holder import MicroBatcher, ModelHolder
from sentiment_lib.serving.pages import check_operator_access, pages
from sentiment_lib.serving.route_spec import Answer, Body, declared_request, documented, errors
from sentiment_lib.serving.schemas import (
    BATCH_EXAMPLE,
    CSV_EXAMPLE,
    EXPLAIN_EXAMPLE,
    PREDICT_EXAMPLE,
    REVIEW_EXAMPLE,
    ApiSchemas,
    BatchPredictRequest,
    BatchPredictResponse,
    BatchQuery,
    ErrorResponse,
    ExplainResponse,
    HealthResponse,
    InvalidRequest,
    ModelResponse,
    Prediction,
    PredictRequest,
    PredictResponse,
    ReloadResponse,
)
from sentiment_lib.serving.served_log import SERVED_PREFIX, SHADOW_PREFIX, ServedLog
from sentiment_lib.serving.shadow import ChallengerHolder, ShadowScorer
from sentiment_lib.serving.web import BadRequest, state, token_matches
from sentiment_lib.settings import ServeConfig
from sentiment_lib.settings.serving import parse_trusted_proxies
from sentiment_lib.tracking import runs
from sentiment_lib.workspace import Workspace

routes = Blueprint("sentiment", __name__)
access_log = logging.getLogger("sentiment.access")
log = logging.getLogger(__name__)
# a caller's X-Request-ID is echoed only if it looks like an id: it goes into the logs verbatim
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def create_app(
    config: ServeConfig | dict | None = None, holder: ModelHolder | None = None, workspace: Workspace | None = None
) -> Flask:
    """Build the app. It loads ``@champion`` now (a failure leaves /health at 503) and follows it.

    ``holder`` lets a caller share or pre-load the model; otherwise one is made and watched, and (with a
    ``shadow_share`` above 0) ``@challenger`` is followed and shadow-scored beside it. ``workspace`` defaults to
    ``config.workspace`` with the settings of the environment.
    """
    if isinstance(config, dict):
        config = ServeConfig.from_env(**config)
    config = config or ServeConfig.from_env()
    ws = workspace or Workspace(config.workspace)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]  # the default provider has it
    # Werkzeug answers '//predict' with a redirect to an absolute URL built from the Host header
    app.url_map.merge_slashes = False
    follows_registry = holder is None
    if holder is None:
        runs.configure_client(ws.root)
        holder = ModelHolder(ws.registered_model, config.alias)
        holder.refresh()
        if config.refresh_seconds > 0:
            holder.watch(config.refresh_seconds)
    metrics = ApiMetrics(holder, ws)
    shadow = _shadow_scorer(config, ws, holder, metrics) if follows_registry and config.shadow_share > 0 else None
    app.extensions["sentiment"] = {
        "config": config,
        "holder": holder,
        "owns_holder": follows_registry,
        "metrics": metrics,
        "batcher": MicroBatcher(holder, config.predict_timeout_seconds, on_batch=metrics.batch_size.observe)
        if config.micro_batching
        else None,
        "batch_slots": threading.BoundedSemaphore(config.max_concurrent_batches),
        "served_log": _served_log(ws) if config.log_inputs else None,
        "shadow": shadow,
        "workspace": ws,
        "schemas": ApiSchemas(config.max_review_chars, config.max_batch_items, config.max_batch_chars),
        "trusted_proxies": parse_trusted_proxies(config.trusted_proxies),
        "api_keys": ApiKeys(config.api_keys_file) if config.api_keys_file else None,
        "rate_limiter": access.RateLimiter(config.rate_limit_per_minute, config.rate_limit_burst)
        if config.rate_limit_per_minute
        else None,
    }
    app.register_blueprint(routes)
    app.register_blueprint(pages)
    app.extensions["sentiment"]["openapi"] = openapi.build_document(
        app, app.extensions["sentiment"]["schemas"], __version__
    )
    return app


def close_app(app: Flask) -> None:
    """Stop what :func:`create_app` started: the champion's watcher and shadow scoring (whose worker finishes the
    batch it is scoring, so its shadow lines are written)."""
    found = app.extensions["sentiment"]
    if found["owns_holder"]:  # a holder the caller passed in is the caller's to stop
        found["holder"].stop()
    if found["shadow"] is not None:
        found["shadow"].close()


def openapi_document(config: ServeConfig | None = None) -> dict:
    """The OpenAPI document an app with ``config`` (default: the environment's) serves, built without a model
    or a workspace: the routes' declarations and the limits are all it needs."""
    config = config or ServeConfig.from_env()
    app = Flask(__name__)
    app.register_blueprint(routes)
    app.register_blueprint(pages)
    limits = ApiSchemas(config.max_review_chars, config.max_batch_items, config.max_batch_chars)
    return openapi.build_document(app, limits, __version__)


def _served_log(ws: Workspace, shadow: bool = False) -> ServedLog:
    """The served log, or (``shadow``) the shadow log: the same retention, daily budget and text limit."""
    s = ws.settings
    return ServedLog(
        ws.shadow_log if shadow else ws.served_log,
        s.served_log_retention_days,
        max_bytes_per_day=int(s.served_log_max_mb_per_day * 1024 * 1024),
        max_text_chars=s.served_log_max_text_chars,
        prefix=SHADOW_PREFIX if shadow else SERVED_PREFIX,
    )


def _shadow_scorer(config: ServeConfig, ws: Workspace, holder: ModelHolder, metrics: ApiMetrics) -> ShadowScorer:
    """``@challenger`` followed in the background (never delaying start-up) and the worker that scores with it;
    its texts are logged only when served texts are (``log_inputs``)."""
    challenger = ChallengerHolder(ws.registered_model, holder, ws.root, config.shadow_cpu)
    challenger.start(config.refresh_seconds)
    shadow_log = _served_log(ws, shadow=True) if config.log_inputs else None
    return ShadowScorer(challenger, config.shadow_share, config.shadow_queue_size, shadow_log, metrics)


def _answer(body: BaseModel, status: int = 200) -> tuple[Response, int]:
    """``body`` as JSON; optional fields never given a value are left out, as the API always has."""
    return jsonify(body.model_dump(mode="json", exclude_unset=True)), status


def _error(message: str, status: int) -> tuple[Response, int]:
    return _answer(ErrorResponse(error=message), status)


@routes.app_errorhandler(BadRequest)
def _bad_request(err: BadRequest) -> tuple[Response, int]:
    response, status = _error(str(err), err.status)
    if err.retry_after is not None:
        response.headers["Retry-After"] = str(err.retry_after)
    return response, status


@routes.app_errorhandler(HTTPException)
def _http_error(err: HTTPException) -> tuple[Response, int]:
    if err.code == 413:
        return _error(_too_large_message(), 413)
    return _error(err.description or err.name, err.code or 500)


def _too_large_message() -> str:
    """Which limit a 413 hit: the body's bytes, or (a multipart form within them) its parts or fields."""
    limit = state()["config"].max_body_bytes
    if request.content_length is None or request.content_length > limit:
        return f"Request body is larger than the limit of {limit} bytes (max_body_bytes)"
    return (
        f"The multipart form has too many parts (at most {request.max_form_parts}) or a field over "
        f"{request.max_form_memory_size} bytes outside a file: send the CSV as one file part"
    )


@routes.before_app_request
def _start_request() -> None:
    g.started = time.perf_counter()
    given = request.headers.get("X-Request-ID", "")
    g.request_id = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    g.model_version = None
    g.key_id = None
    g.client = access.client_address(request.remote_addr, request.headers, state()["trusted_proxies"])


@routes.after_app_request
def _finish_request(response: Response) -> Response:
    seconds = time.perf_counter() - g.started
    # the route's pattern, not the path: a scan of random URLs must not create a series per URL
    route = request.url_rule.rule if request.url_rule is not None else "unmatched"
    state()["metrics"].observe_request(route, response.status_code, seconds)
    response.headers["X-Request-ID"] = g.request_id
    if state()["config"].access_log:
        fields = {
            "request_id": g.request_id,
            "method": request.method,
            "route": route,
            "status": response.status_code,
            "latency_ms": round(seconds * 1000, 2),
            "model_version": g.model_version,
        }
        access_log.info("%s %s %d %.1f ms", request.method, route, response.status_code, seconds * 1000,
                        extra={"fields": fields})  # fmt: skip
    return response


def _served(texts: Sequence[str], labels: Sequence[str], confidences: Sequence[float], version: str) -> None:
    """Count what was answered and log it for the drift checks (a failed write is counted, never raised)."""
    g.model_version = version
    metrics, served_log = state()["metrics"], state()["served_log"]
    metrics.observe_predictions(labels, confidences)
    _shadow(texts, labels, confidences, version)
    if served_log is None:
        return
    outcome = served_log.record(texts, labels, confidences, version, key_id=g.key_id, request_id=g.request_id)
    metrics.observe_served_log(outcome)


def _shadow(texts: Sequence[str], labels: Sequence[str], confidences: Sequence[float], version: str) -> None:
    """Offer the texts to the challenger's queue: a non-blocking put, and nothing it does can fail the answer."""
    shadow = state()["shadow"]
    if shadow is None:
        return
    try:
        shadow.offer(texts, labels, confidences, version, g.request_id)
    except Exception:  # a shadow-scoring bug must cost its texts, never the caller's answer
        log.exception("Request %s: shadow scoring skipped", g.request_id)


@contextmanager
def _batch_slot() -> Iterator[None]:
    """One of ``max_concurrent_batches`` slots for a batch's model call; none free in time: 503."""
    slots, wait = state()["batch_slots"], state()["config"].batch_wait_seconds
    if not slots.acquire(timeout=wait):
        raise BadRequest("Too many batch requests at once; retry shortly", 503, retry_after=max(1, round(wait)))
    try:
        yield
    finally:
        slots.release()


def _serving_model():
    model = state()["holder"].current
    if model is None:
        raise BadRequest(_unavailable(), 503, retry_after=5)
    return model


def _unavailable() -> str:
    """What a caller learns when no model is loaded: not why (the loader's error names store paths and
    URIs); that is in the server's log, under the request id given here."""
    log.warning("Request %s: no model to serve: %s", g.request_id, state()["holder"].last_error)
    return f"Model unavailable; the server's log says why (request id {g.request_id})"


def _caller_allowed() -> None:
    """The prediction endpoints: the caller's API key when keys are configured, then its rate limit.

    Raises:
        BadRequest: 401 without a known key, 429 (with Retry-After) over the rate.
    """
    keys = state()["api_keys"]
    if keys is not None:
        g.key_id = keys.identify(_presented_key())
        if g.key_id is None:
            raise BadRequest(
                "An API key is required: send it as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'", 401
            )
        state()["metrics"].key_requests.labels(g.key_id).inc()
    limiter = state()["rate_limiter"]
    if limiter is None:
        return
    who = f"key:{g.key_id}" if g.key_id else f"address:{g.client}"
    wait = limiter.wait_seconds(who)
    if wait:
        state()["metrics"].rate_limited.inc()
        raise BadRequest(f"Rate limit of {limiter.rate * 60:g} requests a minute reached; retry later", 429, wait)


def _presented_key() -> str:
    return request.headers.get("X-API-Key", "") or request.headers.get("Authorization", "").removeprefix("Bearer ")


def _json_body() -> Any:
    if not request.is_json:
        raise BadRequest("Content-Type must be application/json", 415)
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # the JSON parser recurses once per level of nesting
        raise BadRequest("Body is nested too deeply") from None
    if body is None:
        raise BadRequest("Body is not valid JSON")
    if not isinstance(body, dict):
        raise BadRequest("Body must be a JSON object")
    return body


def _validated() -> Any:
    """The JSON body as the request model the route declares, built with this app's limits."""
    schemas = state()["schemas"]
    try:
        return schemas.check(schemas.for_app(declared_request()), _json_body())
    except InvalidRequest as err:
        raise BadRequest(str(err)) from None


def _check_text(value: Any, where: str) -> str:
    try:
        return state()["schemas"].check_review(value, where)
    except InvalidRequest as err:
        raise BadRequest(str(err)) from None


@routes.post("/predict")
@documented(
    "Classify one review",
    request=Body(PredictRequest, example={"review": REVIEW_EXAMPLE}),
    responses={
        200: Answer("the label and its confidence", PredictResponse, PREDICT_EXAMPLE),
        **errors(400, 401, 413, 415, 429, 503),
    },
)
def predict() -> tuple[Response, int]:
    _caller_allowed()
    text = _validated().review
    model = _serving_model()
    batcher = state()["batcher"]
    if batcher is not None:
        try:
            label, confidence, version = batcher.predict(text)
        except TimeoutError as err:
            raise BadRequest(f"The model is busy: {err}; retry shortly", 503, retry_after=1) from None
    else:
        out = model.predictor.predict([text])
        label, confidence, version = out.labels[0], float(out.confidences[0]), model.version
    _served([text], [label], [confidence], version)
    return _answer(PredictResponse(sentiment=label, confidence=round(confidence, 6), model_version=version))


@routes.post("/explain")
@documented(
    "Explain one prediction: each word's weight, found by leaving it out",
    request=Body(PredictRequest, example={"review": "not good"}),
    responses={
        200: Answer(
            "the label, its confidence, and each token's signed weight (not logged as traffic)",
            ExplainResponse,
            EXPLAIN_EXAMPLE,
        ),
        **errors(400, 401, 413, 415, 429, 503),
    },
)
def explain_prediction() -> tuple[Response, int]:
    """Not served traffic: the occluded variants would distort the drift and label-free checks."""
    _caller_allowed()
    text = _validated().review
    model = _serving_model()
    with _batch_slot():  # one batch of (words + 1) texts: as costly as a batch request
        found = explain.explain(model.predictor, text)
    return _answer(ExplainResponse(**found.to_dict(), model_version=model.version))


@routes.post("/batch_predict")
@documented(
    "Classify many reviews: a JSON list, or a CSV with a Review column",
    request=Body(
        BatchPredictRequest,
        example={"reviews": ["Loved it", "Never again"]},
        text_examples={"text/csv": CSV_EXAMPLE},
        file_upload=True,
    ),
    query=BatchQuery,
    responses={
        200: Answer(
            "one prediction per review, in order (a CSV gets its own columns back with sentiment and confidence "
            "added, and the version in X-Model-Version)",
            BatchPredictResponse,
            BATCH_EXAMPLE,
            text=("text/csv",),
        ),
        **errors(400, 401, 413, 415, 429, 503),
    },
)
def batch_predict() -> Response | tuple[Response, int]:
    _caller_allowed()
    if request.is_json:
        return _batch_json()
    if request.files or request.mimetype in {"text/csv", "application/csv"}:
        return _batch_csv()
    raise BadRequest(
        'Send JSON {"reviews": [...]} or a CSV (text/csv body or multipart file) with a Review column', 415
    )


def _check_count(count: int) -> None:
    try:
        state()["schemas"].check_count(count)
    except InvalidRequest as err:
        raise BadRequest(str(err)) from None


def _check_total_chars(texts: list[str]) -> None:
    try:
        state()["schemas"].check_total_chars(texts)
    except InvalidRequest as err:
        raise BadRequest(str(err), 413) from None


def _batch_json() -> tuple[Response, int]:
    texts = _validated().reviews
    _check_total_chars(texts)
    model = _serving_model()
    with _batch_slot():
        out = model.predictor.predict(texts)
    _served(texts, out.labels, out.confidences, model.version)
    predictions = [
        Prediction(sentiment=label, confidence=round(float(conf), 6))
        for label, conf in zip(out.labels, out.confidences, strict=True)
    ]
    return _answer(BatchPredictResponse(predictions=predictions, model_version=model.version))


def _read_csv_upload() -> pd.DataFrame:
    """The uploaded rows, their header checked before the body is parsed, and every text checked."""
    upload = next(iter(request.files.values()), None)
    raw = upload.read() if upload is not None else request.get_data()
    try:
        frame = csv_upload.read_upload(raw, state()["config"].max_csv_columns)
    except DataValidationError as err:
        raise BadRequest(str(err)) from None
    _check_count(len(frame))
    for i, text in enumerate(frame[TEXT_COLUMN]):
        _check_text(text, f"row {i + 2} of the CSV")
    _check_total_chars(frame[TEXT_COLUMN].tolist())
    return frame


def _csv_safe_requested() -> bool:
    """``?csv_safe=true``: cells a spreadsheet would run as formulas get a leading ``'`` (opt-in: it changes data)."""
    given = request.args.get("csv_safe", "false")
    try:  # the query model the route declares, so the document and the check cannot differ
        return BatchQuery.model_validate({"csv_safe": given}).csv_safe
    except ValidationError:
        raise BadRequest(f"csv_safe must be true or false, got {given!r}") from None


def _batch_csv() -> Response:
    model = _serving_model()
    with _batch_slot():  # parsing costs too: it waits its turn with the model calls
        frame = _read_csv_upload()
        out = model.predictor.predict(frame[TEXT_COLUMN].tolist())
    _served(frame[TEXT_COLUMN].tolist(), out.labels, out.confidences, model.version)
    frame["sentiment"] = out.labels
    frame["confidence"] = out.confidences.round(6)
    if _csv_safe_requested():
        frame = neutralise_formulas(frame, header=True)
    response = Response(frame.to_csv(index=False), mimetype="text/csv")
    response.headers["X-Model-Version"] = model.version
    return response


@routes.get("/health")
@documented(
    "Whether the server can answer",
    {
        200: Answer("serving", HealthResponse),
        503: Answer("no model loaded, or a model call stuck", HealthResponse),
    },
)
def health() -> tuple[Response, int]:
    holder, batcher, served_log = state()["holder"], state()["batcher"], state()["served_log"]
    if holder.current is None:
        return _answer(HealthResponse(status="unavailable", reason=_unavailable(), request_id=g.request_id), 503)
    body = {"status": "ok", "model_version": holder.current.version}
    if served_log is not None:
        body.update(served_log.health())
    if state()["shadow"] is not None:
        body.update(state()["shadow"].health())
    stuck, limit = (batcher.stuck_seconds() if batcher else 0.0), state()["config"].stuck_after_seconds
    if stuck > limit:
        reason = f"the micro-batcher's model call has run for {stuck:.0f} s (limit {limit:g} s)"
        if stuck == float("inf"):
            reason = "the micro-batcher's worker thread is gone"
        return _answer(HealthResponse(**{**body, "status": "stuck", "reason": reason}), 503)
    return _answer(HealthResponse(**body))


@routes.get("/model")
@documented(
    "The served version and its evaluation metrics",
    {200: Answer("the version", ModelResponse), **errors(401, 403, 503)},
)
def model_info() -> tuple[Response, int]:
    check_operator_access()
    return _answer(ModelResponse(**_serving_model().describe()))


@routes.get("/model/card")
@documented(
    "The served version's model card",
    {200: Answer("the card, in Markdown", text=("text/markdown",)), **errors(401, 403, 404, 503)},
)
def model_card() -> Response:
    check_operator_access()
    model = _serving_model()
    if not model.card:
        raise BadRequest(f"Version {model.version} has no model card (03_evaluate writes one)", 404)
    return Response(model.card, mimetype="text/markdown")


@routes.post("/admin/reload")
@documented(
    "Load the current champion now (exists only when ADMIN_TOKEN is set)",
    {200: Answer("reloaded, or already current", ReloadResponse), **errors(401, 404, 503)},
    security=("adminToken",),
)
def admin_reload() -> tuple[Response, int]:
    token = state()["config"].admin_token
    if not token:
        return _error("Not found", 404)  # the endpoint does not exist unless ADMIN_TOKEN is set
    if not token_matches(token):
        return _error("Missing or wrong admin token (Authorization: Bearer <ADMIN_TOKEN>)", 401)
    holder = state()["holder"]
    swapped = holder.refresh()
    if holder.current is None:
        return _error(_unavailable(), 503)
    return _answer(ReloadResponse(reloaded=swapped, model_version=holder.current.version))
