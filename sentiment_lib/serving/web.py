"""What every blueprint of the app shares: its state, the error a route raises, and the admin-token check."""

from __future__ import annotations

import hmac
from typing import Any

from flask import current_app, request

STATUS_COOKIE = "sentiment_status_token"


class BadRequest(Exception):
    """A request the API refuses, with the status and message to answer (and when to retry, for a 503)."""

    def __init__(self, message: str, status: int = 400, retry_after: int | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


def state() -> dict[str, Any]:
    """The app's config, model holder, metrics, workspace and schemas (built by ``create_app``)."""
    return current_app.extensions["sentiment"]


def token_matches(token: str, allow_query: bool = False) -> bool:
    """The request carries ``token`` as a bearer token (or, for pages a browser opens, as ``?token=`` or the
    cookie a page answered to ``?token=`` sets, so that its links open too)."""
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not given and allow_query:
        given = request.args.get("token", "") or request.cookies.get(STATUS_COOKIE, "")
    return hmac.compare_digest(given.encode(), token.encode())
