"""The API's request and response shapes, defined once: the routes validate and answer with them, and
/openapi.json shows them (each route declares its models: :mod:`sentiment_lib.serving.route_spec`).

The request models here are templates: each app builds its own from its limits (:class:`ApiSchemas`), so
the document states the limits the server really enforces. A pydantic error is turned into the API's own
plain message (which field, what is wrong, what the limit is) by :func:`ApiSchemas.check`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError
from pydantic import create_model as _create_model

from sentiment_lib.settings.runtime import Backend

REVIEW_EXAMPLE = "A warm, funny film with a wonderful cast."
CSV_EXAMPLE = "id,Review\n1,A warm and funny film\n2,Never again\n"
PREDICT_EXAMPLE = {"sentiment": "positive", "confidence": 0.97, "model_version": "3"}
EXPLAIN_EXAMPLE = {
    "sentiment": "negative",
    "confidence": 0.93,
    "model_version": "3",
    "tokens": [{"token": "not", "weight": -0.61}, {"token": "good", "weight": 0.12}],
}
BATCH_EXAMPLE = {
    "predictions": [{"sentiment": "positive", "confidence": 0.97}, {"sentiment": "negative", "confidence": 0.91}],
    "model_version": "3",
}
# pydantic error types, in the order they are reported when several apply: a list's own problem first
_LIST_ERRORS = ("missing", "list_type", "too_short", "too_long")


class InvalidRequest(ValueError):
    """A request that does not match its schema; the message says what to fix."""


def _encodable(text: str) -> str:
    text.encode("utf-8")  # a lone surrogate escape such as "\ud800" is not text: UnicodeEncodeError
    return text


def review_type(max_chars: int) -> Any:
    """One review: a string with a non-blank character, at most ``max_chars`` long, valid Unicode."""
    return Annotated[
        str,
        StringConstraints(min_length=1, max_length=max_chars, pattern=r"\S"),
        AfterValidator(_encodable),
        Field(description=f"the text to classify (1 to {max_chars} characters, not blank)", examples=[REVIEW_EXAMPLE]),
    ]


class Prediction(BaseModel):
    sentiment: Literal["positive", "negative"]
    confidence: float = Field(ge=0.5, le=1.0, description="the probability of the label given, calibrated")


class PredictResponse(Prediction):
    model_version: str = Field(description="the registered version that answered")


class TokenWeight(BaseModel):
    token: str = Field(description="a word, @mention, #hashtag or punctuation mark of the review, in order")
    weight: float = Field(
        ge=-1.0, le=1.0, description="P(positive) with the token minus without it: > 0 pushed towards positive"
    )


class ExplainResponse(PredictResponse):
    tokens: list[TokenWeight] = Field(description="each token's weight, found by leaving it out (occlusion)")


class BatchPredictResponse(BaseModel):
    predictions: list[Prediction] = Field(description="one per review, in the order sent")
    model_version: str


class ErrorResponse(BaseModel):
    error: str = Field(description="what is wrong, in plain words")


class HealthResponse(BaseModel):
    """Fields without a value are left out of the answer."""

    status: Literal["ok", "unavailable", "stuck"]
    model_version: str | None = None
    served_log_failures: int | None = Field(default=None, description="served-log writes that failed since start")
    served_log_last_failure: str | None = None
    served_log_skipped_today: int | None = Field(
        default=None, description="texts not logged today: over the byte budget"
    )
    served_log_budget_bytes: int | None = None
    shadow_challenger_version: str | None = Field(
        default=None, description="the @challenger version shadow-scoring live texts, when one is loaded"
    )
    shadow_queue_length: int | None = Field(default=None, description="texts waiting for the challenger")
    shadow_dropped: int | None = Field(default=None, description="sampled texts dropped since start: queue full")
    shadow_failed: int | None = Field(default=None, description="shadow texts the challenger raised on since start")
    shadow_log_failures: int | None = Field(default=None, description="shadow-log writes that failed since start")
    reason: str | None = Field(default=None, description="why the server cannot answer (503 only)")
    request_id: str | None = Field(default=None, description="the request's id, under which the server's log says why")


class ModelResponse(BaseModel):
    model_version: str
    run_id: str
    registered_at: str
    backend: Backend
    encoder_layers: int | None = Field(
        description="the model's transformer layers: 6 for the full model, fewer for a distilled student "
        "(the fast preset); null for a version registered before this was recorded"
    )
    metrics: dict[str, float] = Field(description="the version's evaluation metrics, as tagged in the registry")
    model_card: str | None = Field(description="where the model card is (/model/card), or null without one")


class ReloadResponse(BaseModel):
    reloaded: bool
    model_version: str


STRICT = ConfigDict(strict=True, extra="ignore")


class PredictRequest(BaseModel):
    """The template of one review to classify; :class:`ApiSchemas` builds each app's with its limits."""

    model_config = STRICT
    review: str


class BatchPredictRequest(BaseModel):
    """The template of a batch of reviews; :class:`ApiSchemas` builds each app's with its limits."""

    model_config = STRICT
    reviews: list[str]


class BatchQuery(BaseModel):
    """/batch_predict's query parameters."""

    csv_safe: bool = Field(
        False, description="CSV answers only: prefix cells a spreadsheet would run as formulas with '"
    )


class ApiSchemas:
    """The request models for one app's limits, and the check that turns their errors into messages."""

    def __init__(self, max_review_chars: int, max_batch_items: int, max_batch_chars: int = 0):
        self.max_batch_items = max_batch_items
        self.max_batch_chars = max_batch_chars
        review = review_type(max_review_chars)
        self.review = TypeAdapter(review)
        self.predict = _create_model(
            "PredictRequest", __base__=PredictRequest, review=(review, Field(description="the text to classify"))
        )
        reviews = Annotated[list[review], Field(min_length=1, max_length=max_batch_items)]  # type: ignore[valid-type]
        self.batch = _create_model(
            "BatchPredictRequest",
            __base__=BatchPredictRequest,
            reviews=(reviews, Field(description=f"1 to {max_batch_items} texts, answered in order")),
        )
        self._built: dict[type[BaseModel], type[BaseModel]] = {
            PredictRequest: self.predict,
            BatchPredictRequest: self.batch,
        }

    def for_app(self, template: type[BaseModel]) -> type[BaseModel]:
        """This app's version of a request model template (``PredictRequest``, ``BatchPredictRequest``).

        Raises:
            KeyError: ``template`` is not one of them.
        """
        return self._built[template]

    def check(self, model: type[BaseModel], body: dict) -> BaseModel:
        """``body`` as ``model``.

        Raises:
            InvalidRequest: the first problem, in the API's words.
        """
        try:
            return model.model_validate(body)
        except ValidationError as err:
            raise InvalidRequest(_message(_first(err.errors()))) from None

    def check_count(self, count: int) -> None:
        """The number of reviews in a batch sent another way (a CSV), against the same limits.

        Raises:
            InvalidRequest: none, or more than the limit.
        """
        if count == 0:
            raise InvalidRequest(_no_reviews())
        if count > self.max_batch_items:
            raise InvalidRequest(_too_many(count, self.max_batch_items))

    def check_total_chars(self, texts: list[str]) -> None:
        """A batch's characters in all, against ``max_batch_chars`` (0: no limit): the model's work grows with
        rows x characters, and the item and body limits alone let one request cost half a minute of both cores.

        Raises:
            InvalidRequest: over the limit.
        """
        total = sum(len(text) for text in texts)
        if self.max_batch_chars and total > self.max_batch_chars:
            raise InvalidRequest(
                f"The batch holds {total} characters in all; the limit is {self.max_batch_chars} "
                "(max_batch_chars): split it into smaller batches"
            )

    def check_review(self, value: Any, where: str) -> str:
        """One review (for example a CSV row), named ``where`` in the message.

        Raises:
            InvalidRequest: not a string, blank, too long or not valid Unicode.
        """
        try:
            return self.review.validate_python(value, strict=True)
        except ValidationError as err:
            raise InvalidRequest(_message(err.errors()[0], where)) from None


def _first(errors: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    """The error to report: a problem with a list as a whole before one with an item of it."""
    whole = [e for e in errors if e["type"] in _LIST_ERRORS and len(e["loc"]) == 1]
    return (whole or errors)[0]


def _no_reviews() -> str:
    return "No reviews to predict: the list is empty"


def _too_many(count: Any, limit: Any) -> str:
    return f"{count} reviews in one request; the limit is {limit}"


def _where(loc: tuple) -> str:
    field = f'"{loc[0]}"'
    return field + "".join(f"[{part}]" for part in loc[1:])


def _message(error: Mapping[str, Any], where: str | None = None) -> str:
    kind, loc, value, ctx = error["type"], error["loc"], error.get("input"), error.get("ctx", {})
    where = where or _where(loc)
    if kind == "missing":
        return f'Missing field "{loc[0]}"'
    if kind == "list_type":
        return f"Field {_where(loc[:1])} must be a list of strings"
    if kind == "too_short":
        return _no_reviews()
    if kind == "too_long":
        return _too_many(ctx.get("actual_length"), ctx.get("max_length"))
    if kind == "string_type":
        return f"{where} must be a string, got {type(value).__name__}"
    if kind in ("string_too_short", "string_pattern_mismatch"):
        return f"{where} is empty"
    if kind == "string_too_long":
        return f"{where} has {len(str(value))} characters; the limit is {ctx.get('max_length')}"
    if kind == "value_error" or "unicode" in kind:
        return f"{where} is not valid Unicode text"
    return f"{where}: {error['msg']}"
