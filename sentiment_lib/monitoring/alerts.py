"""Email alerts over SMTP (Gmail by default), with a cooldown per key, retries, and an outbox fallback.

Configuration comes from the environment only (see the README): with ``ALERT_EMAIL_TO`` unset, alerts
are written as ``.eml`` files to the outbox folder and logged instead of sent. The connection is
encrypted (STARTTLS by default, or implicit TLS), and a password is never sent in clear unless
``ALERT_SMTP_ALLOW_PLAIN`` says so. Sending never raises: an SMTP failure is retried with back-off, each
attempt bounded by one timeout, then the alert goes to the outbox and the failure is logged.
"""

from __future__ import annotations

import io
import logging
import os
import re
import smtplib
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from sentiment_lib.config import parse_value
from sentiment_lib.errors import ConfigError
from sentiment_lib.io import read_json, write_bytes_atomic, write_json_atomic
from sentiment_lib.monitoring.deadline import DeadlineReader, time_left

log = logging.getLogger(__name__)

GMAIL_HOST = "smtp.gmail.com"
GMAIL_PORT = 587  # submission with STARTTLS
IMPLICIT_TLS_PORT = 465  # submission over TLS from the first byte (ALERT_SMTP_SSL)
SUBJECT_PREFIX = "[sentiment-pipeline] "
MAX_SUBJECT_CHARS = 200
# C0 and C1 controls (CR, LF, NEL, ...) and the Unicode line and paragraph separators: any of them in a
# header would either make EmailMessage raise or start a new header line
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    user: str
    password: str
    sender: str
    recipients: tuple[str, ...]
    starttls: bool = True
    implicit_tls: bool = False  # ALERT_SMTP_SSL: TLS from the first byte (SMTP_SSL, port 465)
    ca_file: str = ""  # certificates to trust instead of the system's (a private or test server)
    allow_plain: bool = False  # send the password even without TLS
    timeout_seconds: float = 20.0  # each attempt, connect to the last reply (ALERT_SMTP_TIMEOUT_SECONDS)

    def __post_init__(self) -> None:
        """Raises ConfigError: both kinds of TLS, a password over plain text not allowed, or a missing CA file."""
        if self.implicit_tls and self.starttls:
            raise ConfigError(
                "ALERT_SMTP_SSL and ALERT_SMTP_STARTTLS are both true: choose one "
                "(SSL for port 465, STARTTLS for port 587)"
            )
        if (self.user or self.password) and not self.encrypted and not self.allow_plain:
            raise ConfigError(
                "ALERT_SMTP_USER/ALERT_SMTP_PASSWORD are set but neither ALERT_SMTP_SSL nor ALERT_SMTP_STARTTLS "
                "is true: the password would cross the network in clear. Turn one on, or set "
                "ALERT_SMTP_ALLOW_PLAIN=true for a server you trust (for example on loopback)"
            )
        if self.ca_file and not Path(self.ca_file).is_file():
            raise ConfigError(f"ALERT_SMTP_CA_FILE {self.ca_file!r} is not a file")

    @property
    def encrypted(self) -> bool:
        return self.implicit_tls or self.starttls

    def __repr__(self) -> str:  # never print the password
        tls = "ssl" if self.implicit_tls else "starttls" if self.starttls else "plain"
        return f"SmtpConfig(host={self.host!r}, port={self.port}, tls={tls}, user={self.user!r}, to={self.recipients})"

    def tls_context(self) -> ssl.SSLContext:
        """Certificate and host name checked, against ``ca_file`` if set, else the system's certificates."""
        return ssl.create_default_context(cafile=self.ca_file or None)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SmtpConfig | None:
        """The SMTP settings from ``ALERT_*`` variables, or None when no recipient is configured.

        Raises:
            ConfigError: a flag that is not true or false, a port that is not a number, both kinds of
                TLS, a user or password without TLS and without ``ALERT_SMTP_ALLOW_PLAIN=true``, or a
                missing ``ALERT_SMTP_CA_FILE``.
        """
        env = os.environ if environ is None else environ
        recipients = tuple(a.strip() for a in env.get("ALERT_EMAIL_TO", "").split(",") if a.strip())
        if not recipients:
            return None
        user = env.get("ALERT_SMTP_USER", "")
        implicit_tls = _flag(env, "ALERT_SMTP_SSL", False)
        # STARTTLS is the default only when SSL is off: SSL=true alone is a complete setting
        starttls = _flag(env, "ALERT_SMTP_STARTTLS", not implicit_tls)
        default_port = IMPLICIT_TLS_PORT if implicit_tls else GMAIL_PORT
        return cls(
            host=env.get("ALERT_SMTP_HOST", GMAIL_HOST),
            port=parse_value("ALERT_SMTP_PORT", env.get("ALERT_SMTP_PORT", str(default_port)), int),
            user=user,
            password=env.get("ALERT_SMTP_PASSWORD", ""),
            sender=env.get("ALERT_EMAIL_FROM", user or "sentiment-pipeline@localhost"),
            recipients=recipients,
            starttls=starttls,
            implicit_tls=implicit_tls,
            ca_file=env.get("ALERT_SMTP_CA_FILE", ""),
            allow_plain=_flag(env, "ALERT_SMTP_ALLOW_PLAIN", False),
            timeout_seconds=parse_value(
                "ALERT_SMTP_TIMEOUT_SECONDS", env.get("ALERT_SMTP_TIMEOUT_SECONDS", "20"), float
            ),
        )


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    """Raises ConfigError: the value is not true or false."""
    return parse_value(name, env[name], bool) if name in env else default


@dataclass(frozen=True)
class Alert:
    """One alert. ``key`` identifies the problem (for example ``degraded:v3``) for the cooldown."""

    kind: str
    subject: str
    body: str
    key: str


def printable(text: str) -> str:
    """``text`` that can always be encoded: lone surrogates (from a file name that is not UTF-8) escaped."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def one_line(text: str, limit: int = MAX_SUBJECT_CHARS) -> str:
    """``text`` fit for a header: control characters (a file name may hold a newline) become one space, and
    beyond ``limit`` characters it is cut with an ellipsis."""
    text = _CONTROL_CHARS.sub(" ", printable(str(text))).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def build_message(alert: Alert, sender: str, recipients: tuple[str, ...], now: datetime) -> EmailMessage:
    """The alert as an email; subject, kind and key are made single-line, so building it does not raise."""
    message = EmailMessage()
    message["Subject"] = SUBJECT_PREFIX + one_line(alert.subject)
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain="sentiment-pipeline")
    message["X-Alert-Kind"] = one_line(alert.kind)
    message["X-Alert-Key"] = one_line(alert.key)
    message.set_content(printable(alert.body))
    return message


class _Deadline:
    """Mixin for smtplib clients: one deadline for the whole conversation, not one timeout per socket call.

    smtplib applies its timeout to each read and write, so a server that answers slowly, or drips a reply a
    line at a time, could hold one attempt open for many timeouts; here each call gets only the time left.
    """

    def __init__(self, host: str, port: int, *, deadline: float, **kwargs):
        self.deadline = deadline
        super().__init__(host, port, timeout=time_left(deadline), **kwargs)

    def send(self, s) -> None:
        if self.sock:
            self.sock.settimeout(time_left(self.deadline))
        super().send(s)

    def getreply(self):
        if self.file is None and self.sock:  # smtplib resets file after STARTTLS wraps the socket
            self.file = io.BufferedReader(DeadlineReader(self.sock, self.deadline))
        return super().getreply()


class _BoundedSMTP(_Deadline, smtplib.SMTP):
    pass


class _BoundedSMTPSSL(_Deadline, smtplib.SMTP_SSL):
    pass


def _connect(smtp: SmtpConfig, deadline: float) -> smtplib.SMTP:
    """A connected client, TLS from the first byte if ``implicit_tls``.

    Raises:
        OSError, smtplib.SMTPException: cannot connect, bad certificate, no greeting before the deadline.
    """
    if smtp.implicit_tls:
        return _BoundedSMTPSSL(smtp.host, smtp.port, deadline=deadline, context=smtp.tls_context())
    return _BoundedSMTP(smtp.host, smtp.port, deadline=deadline)


def _close_quietly(client: smtplib.SMTP) -> None:
    """Say QUIT if the server still listens; the message is delivered (or failed) already either way."""
    try:
        client.quit()
    except (OSError, smtplib.SMTPException):
        client.close()


class AlertSender:
    """Sends alerts, at most once per ``key`` within ``cooldown``; the record survives restarts."""

    def __init__(
        self,
        outbox: str | Path,
        state_path: str | Path,
        smtp: SmtpConfig | None = None,
        cooldown: timedelta = timedelta(hours=6),
        retries: int = 3,
        backoff_seconds: float = 2.0,
        timeout_seconds: float = 20.0,
    ):
        self.outbox = Path(outbox)
        self.state_path = Path(state_path)
        self.smtp = smtp
        self.cooldown = cooldown
        self.retries = retries
        self.backoff_seconds = backoff_seconds
        self.timeout_seconds = timeout_seconds

    def _sent_at(self) -> dict[str, str]:
        return read_json(self.state_path, {})

    def _remember(self, key: str, now: datetime) -> None:
        write_json_atomic(self.state_path, {**self._sent_at(), key: now.isoformat()})

    def in_cooldown(self, key: str, now: datetime) -> bool:
        last = self._sent_at().get(key)
        return last is not None and now - datetime.fromisoformat(last) < self.cooldown

    def send(self, alert: Alert, now: datetime | None = None) -> str:
        """Deliver ``alert``; return ``sent``, ``outbox``, ``failed`` (SMTP gave up, kept in the outbox; or
        anything else went wrong, which is logged) or ``suppressed`` (same key within the cooldown).

        Never raises: an alert is sent from the loop's error paths, which must go on whatever happens here.
        """
        now = now or datetime.now(UTC)
        try:
            return self._deliver(alert, now)
        except Exception:  # the boundary of alerting: log every failure, never pass it to the caller
            log.exception("ALERT %s could not be handled", one_line(alert.subject))
            return "failed"

    def _deliver(self, alert: Alert, now: datetime) -> str:
        if self.in_cooldown(alert.key, now):
            log.info("Alert %r suppressed: same key within the %s cooldown", alert.key, self.cooldown)
            return "suppressed"
        sender = self.smtp.sender if self.smtp else "sentiment-pipeline@localhost"
        recipients = self.smtp.recipients if self.smtp else ("operator@localhost",)
        # built once: the copy kept in the outbox after a failed send is the message that was tried
        message = build_message(alert, sender, recipients, now)
        subject = one_line(alert.subject)  # a newline in a log line would forge a second one
        if self.smtp is None:
            path = self._to_outbox(message, alert.kind, now)
            log.warning("ALERT %s (no SMTP configured, written to %s)", subject, path)
            status = "outbox"
        else:
            status = "sent" if self._send_smtp(message, subject) else "failed"
            if status == "failed":
                path = self._to_outbox(message, alert.kind, now)
                log.error("ALERT %s could not be sent by SMTP; kept in %s", subject, path)
        self._remember(alert.key, now)
        return status

    def _to_outbox(self, message: EmailMessage, kind: str, now: datetime) -> Path:
        safe_kind = re.sub(r"[^A-Za-z0-9_.-]+", "_", kind)  # part of a file name
        return write_bytes_atomic(self.outbox / f"{now.strftime('%Y%m%dT%H%M%S%f')}-{safe_kind}.eml", bytes(message))

    def _send_smtp(self, message: EmailMessage, subject: str) -> bool:
        """Try ``retries`` times, each attempt within ``timeout_seconds``, with doubling back-off between."""
        smtp = self.smtp
        for attempt in range(1, self.retries + 1):
            try:
                self._send_once(message)
                log.info("Alert sent to %s: %s", ", ".join(smtp.recipients), subject)
                return True
            except (OSError, smtplib.SMTPException) as err:
                # the error text never contains the password; smtplib does not echo credentials
                log.warning("SMTP attempt %d/%d to %s:%d failed: %s", attempt, self.retries, smtp.host, smtp.port, err)
                if attempt < self.retries:
                    time.sleep(self.backoff_seconds * 2 ** (attempt - 1))
        return False

    def _send_once(self, message: EmailMessage) -> None:
        """One connection: TLS, login, the message.

        Raises:
            OSError, smtplib.SMTPException: any failure, including the deadline passing.
        """
        smtp = self.smtp
        client = _connect(smtp, time.monotonic() + self.timeout_seconds)
        try:
            if smtp.starttls:
                client.starttls(context=smtp.tls_context())
            if smtp.user:
                client.login(smtp.user, smtp.password)
            client.send_message(message)
        finally:
            _close_quietly(client)
