"""Alerts POSTed as Slack-compatible JSON to a webhook: its settings, one delivery attempt, and the transport.

``ALERT_WEBHOOK_URL`` (from the environment or the git-ignored ``.env``) turns the channel on; the cooldown,
retries and outbox it shares with email are in :mod:`sentiment_lib.alerting.sender`. The URL is a secret
(Slack puts the token in its path), so only its scheme and host are ever shown: in logs, in ``repr``, in errors.
"""

from __future__ import annotations

import functools
import http.client
import json
import math
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar
from urllib.parse import urlsplit

from sentiment_lib.alerting.deadline import WithinDeadline, time_left
from sentiment_lib.alerting.transport import Alert, Prepared, one_line, printable
from sentiment_lib.errors import ConfigError
from sentiment_lib.settings.alerting import AlertSettings

DEFAULT_TIMEOUT_SECONDS: float = AlertSettings.model_fields["webhook_timeout_seconds"].default
# what one attempt raises when the receiver cannot be reached or refuses (HTTPError and URLError are OSErrors)
DELIVERY_ERRORS = (OSError, http.client.HTTPException)
_ANSWER_CHARS = 200  # of a refusal's body, in the log: Slack says why there (invalid_token, no_service, ...)


@dataclass(frozen=True)
class WebhookConfig:
    url: str
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS  # each attempt, connect to the last byte

    def __post_init__(self) -> None:
        """Raises ConfigError: not an http(s) URL with a host, or a timeout that is not a positive number."""
        _check_url(self.url)
        if not (math.isfinite(self.timeout_seconds) and self.timeout_seconds > 0):
            raise ConfigError(f"ALERT_WEBHOOK_TIMEOUT_SECONDS must be a positive number, got {self.timeout_seconds}")

    @property
    def target(self) -> str:
        """The URL's scheme and host (and port, if given): what may be shown of it."""
        parts = urlsplit(self.url)
        name = parts.hostname or ""  # never empty: the URL was checked on creation
        host = f"[{name}]" if ":" in name else name  # an IPv6 address
        return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")

    def __repr__(self) -> str:  # the path and query hold the token
        return f"WebhookConfig(target={self.target!r}, timeout_seconds={self.timeout_seconds})"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WebhookConfig | None:
        """The webhook settings from ``ALERT_WEBHOOK_*`` variables, or None when ``ALERT_WEBHOOK_URL`` is unset.

        Raises:
            ConfigError: a URL that is not http(s) with a host, or a timeout that is not a positive number.
        """
        return cls.from_settings(AlertSettings.from_environment(environ))

    @classmethod
    def from_settings(cls, settings: AlertSettings) -> WebhookConfig | None:
        """Raises ConfigError: as :meth:`from_env`."""
        url = settings.webhook_url.strip()
        return cls(url, settings.webhook_timeout_seconds) if url else None


def _check_url(url: str) -> None:
    """Raises ConfigError: ``url`` is not an http(s) URL that urllib can send as it is.

    The messages never quote the URL: its path is the secret.
    """
    if not all("!" <= c <= "~" for c in url):
        # http.client would refuse it later with an error that quotes the path
        raise ConfigError("ALERT_WEBHOOK_URL must be printable ASCII without spaces (percent-encode the rest)")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        shown = f"{parts.scheme!r}" if parts.scheme else "none"
        raise ConfigError(f"ALERT_WEBHOOK_URL must start with https:// or http:// (scheme: {shown})")
    if not parts.hostname:
        raise ConfigError("ALERT_WEBHOOK_URL has no host")
    try:
        parts.hostname.encode("idna")  # what the connection does first: "hooks..slack.com" fails only then
    except UnicodeError:
        raise ConfigError("ALERT_WEBHOOK_URL has a host that is not a valid name") from None
    if parts.username is not None or parts.password is not None:
        # urllib does not log in with them: it would take them for part of the host and quote them in errors
        raise ConfigError("ALERT_WEBHOOK_URL must not hold a user or password before the host")
    try:
        parts.port  # noqa: B018 (urlsplit checks the port only when it is read)
    except ValueError:
        raise ConfigError("ALERT_WEBHOOK_URL has a port that is not a number from 0 to 65535") from None


def slack_escape(text: str) -> str:
    """``text`` as Slack shows it literally: ``<``, ``>`` and ``&`` start its links and mentions, so a file name
    like ``<!channel>.csv`` in an alert would notify a whole channel."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def build_payload(kind: str, key: str, subject: str, body: str) -> bytes:
    """The alert as the JSON body of the POST.

    ``text`` is what a Slack incoming webhook shows (subject, newline, body); Slack ignores the other fields,
    which give other receivers the alert unescaped.
    """
    payload = {
        "text": slack_escape(f"{subject}\n{body}"),
        "kind": kind,
        "key": key,
        "subject": subject,
        "body": body,
    }
    return json.dumps(payload).encode("ascii")  # \u escapes: no receiver can misread the encoding


def post_once(config: WebhookConfig, payload: bytes, deadline: float | None = None) -> int:
    """One POST of ``payload`` to the webhook, name lookup to the last byte within ``config.timeout_seconds``
    (or before ``deadline``, a ``time.monotonic`` value, if given).

    Redirects are not followed (urllib would turn the POST into a GET without its body).

    Returns:
        The receiver's status, always 2xx.

    Raises:
        OSError: no connection, a certificate that does not check out, the deadline passed, or a status that
            is not 2xx (the message has the status and the start of the receiver's answer, never the URL).
        http.client.HTTPException: an answer that is not HTTP.
    """
    deadline = deadline if deadline is not None else time.monotonic() + config.timeout_seconds
    request = urllib.request.Request(
        config.url,
        data=payload,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "sentiment-pipeline"},
    )
    try:
        with _opener(deadline).open(request, timeout=time_left(deadline)) as response:
            return response.status
    except urllib.error.HTTPError as err:
        raise OSError(_refusal(err)) from None


@dataclass(frozen=True)
class WebhookTransport:
    """The webhook as a :class:`~sentiment_lib.alerting.transport.Transport`."""

    config: WebhookConfig
    name: ClassVar[str] = "webhook"
    errors: ClassVar[tuple[type[BaseException], ...]] = DELIVERY_ERRORS

    @property
    def target(self) -> str:
        return self.config.target

    @property
    def timeout_seconds(self) -> float:
        return self.config.timeout_seconds

    def prepare(self, alert: Alert, now: datetime) -> Prepared:
        """The JSON body; the outbox keeps that body, never the URL."""
        payload = build_payload(
            printable(alert.kind), printable(alert.key), one_line(alert.subject), printable(alert.body)
        )
        return Prepared(payload, payload, ".json")

    def send(self, prepared: Prepared, deadline: float) -> None:
        """Raises: OSError or http.client.HTTPException, as :func:`post_once`."""
        post_once(self.config, prepared.message, deadline)


def _refusal(err: urllib.error.HTTPError) -> str:
    """The status and the start of the receiver's answer, on one line (a newline would forge a log line)."""
    try:
        with err:
            text = err.read(_ANSWER_CHARS).decode("utf-8", "replace")
    except (OSError, ValueError, http.client.HTTPException):  # not readable in time, or no body at all
        text = ""
    answer = "".join(c if c.isprintable() else " " for c in text).strip()
    return f"HTTP {err.code} {err.reason}" + (f": {answer}" if answer else "")


def _opener(deadline: float) -> urllib.request.OpenerDirector:
    """urllib with the environment's proxies, connections bounded by ``deadline``, and no redirects."""
    return urllib.request.build_opener(
        _DeadlineHTTPHandler(deadline), _DeadlineHTTPSHandler(deadline), _RefuseRedirects()
    )


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises HTTPError with the 3xx status


class _DeadlineHTTPConnection(WithinDeadline, http.client.HTTPConnection):
    pass


class _DeadlineHTTPSConnection(WithinDeadline, http.client.HTTPSConnection):
    pass


class _DeadlineHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, deadline: float):
        super().__init__()
        self.deadline = deadline

    def http_open(self, req):
        return self.do_open(functools.partial(_DeadlineHTTPConnection, deadline=self.deadline), req)


class _DeadlineHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, deadline: float):
        # the certificate and host name are checked against the system's certificates
        super().__init__(context=ssl.create_default_context())
        self.deadline = deadline

    def https_open(self, req):
        connection = functools.partial(_DeadlineHTTPSConnection, deadline=self.deadline)
        return self.do_open(connection, req, context=self._context)
