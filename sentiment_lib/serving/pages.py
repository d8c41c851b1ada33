"""The operator's side of the app: the status page, the reports, the API's own description, the metrics.

The status page, ``reports/``, /metrics, /model and /model/card are open to clients on the server's own host
(or, but for /metrics, with ``--public-status``); any other client needs ``ADMIN_TOKEN`` (/metrics also takes
``METRICS_TOKEN``). The API routes are in :mod:`sentiment_lib.serving.api`.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request, send_from_directory

from sentiment_lib.serving import access, docs_page, status_page
from sentiment_lib.serving.metrics import CONTENT_TYPE
from sentiment_lib.serving.route_spec import Answer, documented, errors
from sentiment_lib.serving.web import STATUS_COOKIE, BadRequest, state, token_matches

pages = Blueprint("pages", __name__)


def client_is_local() -> bool:
    """The caller is on this host (its own address, forwarding headers believed only from trusted proxies)."""
    return access.client_is_local(request.remote_addr, request.headers, state()["trusted_proxies"])


def check_operator_access(extra_token: str = "", public_opens: bool = True) -> None:
    """The status page, reports, /model and /model/card (and /metrics) are open to a client on this host or
    with public_status (if ``public_opens``); any other client needs ADMIN_TOKEN (or ``extra_token``, /metrics'
    METRICS_TOKEN).

    Raises:
        BadRequest: 403 without a token configured, 401 with a missing or wrong one.
    """
    config = state()["config"]
    if (public_opens and config.public_status) or client_is_local():
        return
    tokens = [token for token in (config.admin_token, extra_token) if token]
    if not tokens:
        raise BadRequest(
            "This page is open only to clients on the server's own host: set ADMIN_TOKEN (or METRICS_TOKEN for "
            "/metrics) and send it (Authorization: Bearer <token> or ?token=<token>), or start app.py with "
            "--public-status (pages, not /metrics)",
            403,
        )
    if not any(token_matches(token, allow_query=True) for token in tokens):
        raise BadRequest("Missing or wrong admin token (Authorization: Bearer <ADMIN_TOKEN> or ?token=)", 401)


def _remember_token(response: Response) -> Response:
    """After ``?token=`` opened a page, keep it in a cookie for the page's links (this server only)."""
    if request.args.get("token"):
        response.set_cookie(STATUS_COOKIE, request.args["token"], httponly=True, samesite="Strict")
    return response


@pages.get("/")
@pages.get("/status")
@documented("The operator's status page", {200: Answer("the page", text=("text/html",)), **errors(401, 403)})
def status() -> Response:
    check_operator_access()
    shadow = state()["shadow"]
    page = status_page.render(state()["workspace"], state()["holder"].current, shadow.state() if shadow else None)
    return _remember_token(Response(page, mimetype="text/html"))


@pages.get("/reports/<path:name>")
@documented("A file under reports/, read-only", {200: Answer("the file"), **errors(401, 403, 404)})
def report_file(name: str) -> Response:
    """A file under the workspace's ``reports/``, read-only; a path that leaves it, by name or through a
    symbolic link, is a 404."""
    check_operator_access()
    root = state()["workspace"].reports.resolve()
    target = (root / name).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        raise BadRequest(f"No report {name!r}", 404)
    return send_from_directory(root, str(target.relative_to(root)), max_age=0)


@pages.get("/openapi.json")
@documented("This document", {200: Answer("OpenAPI 3.1")})
def openapi_document() -> Response:
    return jsonify(state()["openapi"])


@pages.get("/docs")
@documented("This document as a page", {200: Answer("the page", text=("text/html",))})
def api_docs() -> Response:
    return Response(docs_page.render(state()["openapi"]), mimetype="text/html")


@pages.get("/metrics")
@documented("Prometheus metrics", {200: Answer("text exposition format", text=("text/plain",)), **errors(401, 403)})
def metrics() -> Response:
    check_operator_access(extra_token=state()["config"].metrics_token, public_opens=False)
    return Response(state()["metrics"].exposition(), content_type=CONTENT_TYPE)
