"""The operator's side of the app: the status page, the reports, the API's own description, the metrics.

The status page and ``reports/`` are open on loopback (or with ``--public-status``); on any other address
they need ``ADMIN_TOKEN``. The API routes are in :mod:`sentiment_lib.serving.api`.
"""

from __future__ import annotations

import ipaddress

from flask import Blueprint, Response, jsonify, request, send_from_directory

from sentiment_lib.serving import openapi, status_page
from sentiment_lib.serving.metrics import CONTENT_TYPE
from sentiment_lib.serving.web import STATUS_COOKIE, BadRequest, state, token_matches

pages = Blueprint("pages", __name__)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_status_access() -> None:
    """The status page and reports are open on loopback or with public_status; elsewhere they need ADMIN_TOKEN.

    Raises:
        BadRequest: 403 without a token configured, 401 with a missing or wrong one.
    """
    config = state()["config"]
    if config.public_status or _is_loopback(config.host):
        return
    if not config.admin_token:
        raise BadRequest(
            f"The status page is not public on {config.host}: start app.py with --public-status, or set "
            "ADMIN_TOKEN and send it (Authorization: Bearer <token> or ?token=<token>)",
            403,
        )
    if not token_matches(config.admin_token, allow_query=True):
        raise BadRequest("Missing or wrong admin token (Authorization: Bearer <ADMIN_TOKEN> or ?token=)", 401)


def _remember_token(response: Response) -> Response:
    """After ``?token=`` opened a page, keep it in a cookie for the page's links (this server only)."""
    if request.args.get("token"):
        response.set_cookie(STATUS_COOKIE, request.args["token"], httponly=True, samesite="Strict")
    return response


@pages.get("/")
@pages.get("/status")
def status() -> Response:
    _check_status_access()
    page = status_page.render(state()["workspace"], state()["holder"].current)
    return _remember_token(Response(page, mimetype="text/html"))


@pages.get("/reports/<path:name>")
def report_file(name: str) -> Response:
    """A file under the workspace's ``reports/``, read-only; a path that leaves it is a 404."""
    _check_status_access()
    return send_from_directory(state()["workspace"].reports, name, max_age=0)


@pages.get("/openapi.json")
def openapi_document() -> Response:
    return jsonify(state()["openapi"])


@pages.get("/docs")
def api_docs() -> Response:
    return Response(openapi.docs_page(state()["openapi"]), mimetype="text/html")


@pages.get("/metrics")
def metrics() -> Response:
    return Response(state()["metrics"].exposition(), content_type=CONTENT_TYPE)
