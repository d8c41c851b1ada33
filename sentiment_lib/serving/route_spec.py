"""What each route declares it takes and answers: the ``@documented`` decorator that /openapi.json is built from.

A route states its summary, its request body (a request model of :mod:`sentiment_lib.serving.schemas`), its
query parameters, and every status it can answer, each with a description and, for JSON, a response model.
The API validates requests with the declared model (:func:`declared_request`), the routes build their JSON
answers from the response models, and :mod:`sentiment_lib.serving.openapi` turns the declarations into the
document; tests/integration/serving/test_openapi.py provokes every declared status and checks each answer's shape.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import current_app, request
from pydantic import BaseModel

from sentiment_lib.serving.schemas import ErrorResponse

View = TypeVar("View", bound=Callable[..., Any])
_ATTRIBUTE = "route_spec"  # where the declaration is kept on the view function

ERRORS = {
    400: "the body does not match the request schema; the message says which field and why",
    401: "a missing or wrong token or API key (Authorization: Bearer <token or key>, or X-API-Key)",
    403: "open only to clients on the server's own host, or with ADMIN_TOKEN (see Security in the docs: serving.md)",
    404: "no such file, card, or endpoint",
    413: "over a size limit (body bytes, batch characters or form parts); the message says which",
    415: "the wrong Content-Type",
    429: "over the rate limit of this API key or address (Retry-After says when to retry)",
    503: "no model is loaded, or the model is busy (Retry-After says when to retry)",
}


@dataclass(frozen=True)
class Answer:
    """One status a route answers: what it means, and its body (a JSON model and/or text media types)."""

    description: str
    model: type[BaseModel] | None = None
    example: Any = None  # of the JSON body
    text: tuple[str, ...] = ()  # media types answered as plain text: text/csv, text/html, ...


@dataclass(frozen=True)
class Body:
    """A request body: JSON of ``model`` (a template: each app builds it with its own limits), or other media."""

    model: type[BaseModel]
    example: Any
    text_examples: dict[str, str] = field(default_factory=dict)  # other media types sent as text: their example
    file_upload: bool = False  # also taken as a multipart/form-data file part


@dataclass(frozen=True)
class RouteSpec:
    """Everything a route declares about itself."""

    summary: str
    responses: dict[int, Answer]
    request: Body | None = None
    query: type[BaseModel] | None = None  # one field per query parameter
    security: tuple[str, ...] = ()  # names of the document's security schemes


def documented(
    summary: str,
    responses: dict[int, Answer],
    request: Body | None = None,
    query: type[BaseModel] | None = None,
    security: tuple[str, ...] = (),
) -> Callable[[View], View]:
    """Declare what the decorated view takes and answers; the view itself is returned unchanged."""
    spec = RouteSpec(summary, dict(sorted(responses.items())), request, query, security)

    def record(view: View) -> View:
        setattr(view, _ATTRIBUTE, spec)
        return view

    return record


def spec_of(view: Callable[..., Any] | None) -> RouteSpec | None:
    """What ``view`` declares, or None for a view that declares nothing (left out of the document)."""
    return getattr(view, _ATTRIBUTE, None)


def declared_request() -> type[BaseModel]:
    """The request model the view answering this request declares (a template; see ``ApiSchemas.for_app``).

    Raises:
        LookupError: the view declares no request body (a programming error).
    """
    spec = spec_of(current_app.view_functions.get(request.endpoint or ""))
    if spec is None or spec.request is None:
        raise LookupError(f"The view of {request.endpoint!r} declares no request body")
    return spec.request.model


def errors(*statuses: int) -> dict[int, Answer]:
    """The error statuses a route answers with ``{"error": "..."}``, described the same everywhere."""
    return {status: Answer(ERRORS[status], ErrorResponse) for status in statuses}
