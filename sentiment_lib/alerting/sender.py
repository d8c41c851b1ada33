"""Alerts by email over SMTP (Gmail by default) and by webhook, with a cooldown per key, retries, and an outbox.

Configuration comes from the environment only (:mod:`sentiment_lib.settings.alerting`): ``ALERT_EMAIL_TO`` turns
email on, ``ALERT_WEBHOOK_URL`` the webhook (:mod:`sentiment_lib.alerting.webhook`); with neither, alerts are
written as ``.eml`` files to the outbox folder and logged instead of sent. The SMTP connection is encrypted (STARTTLS by
default, or implicit TLS), and a password is never sent in clear unless ``ALERT_SMTP_ALLOW_PLAIN`` says so.
Sending never raises: each channel's failure is retried with back-off, each attempt bounded by one timeout,
then what was tried goes to the outbox and the failure is logged; one channel failing does not stop another.
"""

from __future__ import annotations

import io
import logging
import re
import smtplib
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from sentiment_lib.alerting.deadline import DeadlineReader, resolve, time_left
from sentiment_lib.alerting.webhook import DELIVERY_ERRORS, WebhookConfig, build_payload, post_once
from sentiment_lib.clock import wall_now
from sentiment_lib.errors import ConfigError
from sentiment_lib.io import read_json, write_bytes_atomic, write_json_atomic
from sentiment_lib.settings.alerting import GMAIL_PORT, IMPLICIT_TLS_PORT, AlertSettings

log = logging.getLogger(__name__)

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
        return cls.from_settings(AlertSettings.from_environment(environ))

    @classmethod
    def from_settings(cls, settings: AlertSettings) -> SmtpConfig | None:
        """Raises ConfigError: as :meth:`from_env`."""
        if not settings.recipients:
            return None
        implicit_tls = settings.smtp_ssl
        # STARTTLS is the default only when SSL is off: SSL=true alone is a complete setting
        starttls = (not implicit_tls) if settings.smtp_starttls is None else settings.smtp_starttls
        default_port = IMPLICIT_TLS_PORT if implicit_tls else GMAIL_PORT
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port or default_port,
            user=settings.smtp_user,
            password=settings.smtp_password,
            sender=settings.email_from or settings.smtp_user or "sentiment-pipeline@localhost",
            recipients=settings.recipients,
            starttls=starttls,
            implicit_tls=implicit_tls,
            ca_file=settings.smtp_ca_file,
            allow_plain=settings.smtp_allow_plain,
            timeout_seconds=settings.smtp_timeout_seconds,
        )


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

    def _get_socket(self, host, port, timeout):
        address = resolve(host, port, self.deadline)  # SMTP_SSL then wraps it with server_hostname=self._host
        return super()._get_socket(address, port, time_left(self.deadline))

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


@dataclass(frozen=True)
class _Channel:
    """One way out for one alert: a single try at delivering it, and how to keep it when every try failed."""

    name: str  # in logs: SMTP, webhook
    target: str  # in logs: where it goes, never a secret
    attempt: Callable[[], object]
    errors: tuple[type[BaseException], ...]  # what a failed attempt raises; anything else is a bug
    keep: Callable[[], Path]  # writes what was tried to the outbox


# what happened to an alert on one channel; kept: failed, in the outbox; lost: failed and could not be kept
_SENT, _KEPT, _LOST = "sent", "kept", "lost"


class AlertSender:
    """Sends alerts on every configured channel, at most once per ``key`` within ``cooldown``; the record
    survives restarts.

    Args:
        outbox: folder for alerts that could not be sent (``.eml`` for email, ``.json`` for the webhook).
        state_path: JSON file of when each key was last sent.
        smtp: email settings, or None for no email.
        cooldown: the quiet time after an alert, per key, across all channels.
        retries: attempts per channel before the alert goes to the outbox.
        backoff_seconds: the wait after the first failed attempt; it doubles after each.
        timeout_seconds: each SMTP attempt, connect to the last reply (the webhook's is in ``webhook``).
        webhook: webhook settings, or None for no webhook.
    """

    def __init__(
        self,
        outbox: str | Path,
        state_path: str | Path,
        smtp: SmtpConfig | None = None,
        cooldown: timedelta = timedelta(hours=6),
        retries: int = 3,
        backoff_seconds: float = 2.0,
        timeout_seconds: float = 20.0,
        webhook: WebhookConfig | None = None,
    ):
        self.outbox = Path(outbox)
        self.state_path = Path(state_path)
        self.smtp = smtp
        self.cooldown = cooldown
        self.retries = retries
        self.backoff_seconds = backoff_seconds
        self.timeout_seconds = timeout_seconds
        self.webhook = webhook
        self._deadline: float | None = None  # of the delivery under way (the caller's time budget), if any

    def _sent_at(self) -> dict[str, str]:
        return read_json(self.state_path, {})

    def _remember(self, key: str, now: datetime) -> None:
        write_json_atomic(self.state_path, {**self._sent_at(), key: now.isoformat()})

    def in_cooldown(self, key: str, now: datetime) -> bool:
        """Sent within the cooldown before ``now``; a record dated after ``now`` (written by a replay on a
        simulated clock running ahead) does not silence the real clock's alerts."""
        last = self._sent_at().get(key)
        return last is not None and timedelta(0) <= now - datetime.fromisoformat(last) < self.cooldown

    def send(self, alert: Alert, now: datetime | None = None, deadline: float | None = None) -> str:
        """Deliver ``alert`` on every configured channel (email, webhook), all of it (name lookups, attempts,
        back-off) before ``deadline`` (a ``time.monotonic`` value) if one is given; what a channel could not
        deliver in time is kept in the outbox.

        Returns:
            ``sent`` when every configured channel delivered it; ``failed`` when any channel gave up (what it
            tried is in the outbox, the others delivered as usual) or anything else went wrong, which is
            logged; ``outbox`` when no channel is configured (written there as ``.eml``); ``suppressed`` when
            the same key was handled within the cooldown, on all channels together.

        Never raises: an alert is sent from the loop's error paths, which must go on whatever happens here.
        """
        now = now or datetime.now(UTC)
        self._deadline = deadline
        try:
            return self._deliver(alert, now)
        except Exception:  # the boundary of alerting: log every failure, never pass it to the caller
            log.exception("ALERT %s could not be handled", one_line(alert.subject))
            return "failed"
        finally:
            self._deadline = None

    def keep_unsent(self, alert: Alert, now: datetime) -> Path:
        """Write ``alert`` to the outbox without trying to send it (the caller's time for alerts is spent)."""
        message = build_message(alert, "sentiment-pipeline@localhost", ("operator@localhost",), now)
        return self._to_outbox(bytes(message), alert.kind, ".eml")

    def _attempt_deadline(self, seconds: float) -> float:
        """One attempt's deadline: ``seconds`` from now, or the delivery's own deadline if sooner."""
        own = time.monotonic() + seconds
        return own if self._deadline is None else min(own, self._deadline)

    def _time_left(self) -> float:
        return float("inf") if self._deadline is None else self._deadline - time.monotonic()

    def _time_is_up(self) -> bool:
        return self._deadline is not None and time.monotonic() >= self._deadline

    def _deliver(self, alert: Alert, now: datetime) -> str:
        if self.in_cooldown(alert.key, now):
            log.info("Alert %r suppressed: same key within the %s cooldown", alert.key, self.cooldown)
            return "suppressed"
        subject = one_line(alert.subject)  # a newline in a log line would forge a second one
        channels = self._channels(alert, now)
        if not channels:
            message = build_message(alert, "sentiment-pipeline@localhost", ("operator@localhost",), now)
            path = self._to_outbox(bytes(message), alert.kind, ".eml")
            log.warning("ALERT %s (neither SMTP nor a webhook configured, written to %s)", subject, path)
            self._remember(alert.key, now)
            return "outbox"
        outcomes = [self._deliver_by(channel, subject) for channel in channels]
        if any(outcome != _LOST for outcome in outcomes):  # an alert that is nowhere at all is tried again next time
            self._remember(alert.key, now)
        return "sent" if all(outcome == _SENT for outcome in outcomes) else "failed"

    def _channels(self, alert: Alert, now: datetime) -> list[_Channel]:
        channels = [self._email(alert, now)] if self.smtp else []
        return channels + ([self._webhook(alert, now)] if self.webhook else [])

    def _email(self, alert: Alert, now: datetime) -> _Channel:
        smtp = self.smtp
        # built once: the copy kept in the outbox after a failed send is the message that was tried
        message = build_message(alert, smtp.sender, smtp.recipients, now)
        return _Channel(
            "SMTP",
            f"{smtp.host}:{smtp.port}",
            attempt=lambda: self._send_once(message),
            errors=(OSError, smtplib.SMTPException),
            keep=lambda: self._to_outbox(bytes(message), alert.kind, ".eml"),
        )

    def _webhook(self, alert: Alert, now: datetime) -> _Channel:
        webhook = self.webhook
        subject, body = one_line(alert.subject), printable(alert.body)
        payload = build_payload(printable(alert.kind), printable(alert.key), subject, body)
        return _Channel(
            "webhook",
            webhook.target,
            attempt=lambda: post_once(webhook, payload, self._attempt_deadline(webhook.timeout_seconds)),
            errors=DELIVERY_ERRORS,
            keep=lambda: self._to_outbox(payload, alert.kind, ".json"),  # the body, never the URL
        )

    def _deliver_by(self, channel: _Channel, subject: str) -> str:
        """``sent``, ``kept`` or ``lost``; never raises, so one channel's trouble cannot keep the alert from
        the others."""
        try:
            if self._with_retries(channel):
                log.info("Alert sent by %s to %s: %s", channel.name, channel.target, subject)
                return _SENT
            path = channel.keep()
            log.error("ALERT %s could not be sent by %s; kept in %s", subject, channel.name, path)
            return _KEPT
        except Exception:  # the boundary of one channel (an outbox that cannot be written, a bug)
            log.exception("ALERT %s could not be handled by %s", subject, channel.name)
            return _LOST

    def _to_outbox(self, data: bytes, kind: str, suffix: str) -> Path:
        """Keep ``data`` in the outbox under a name that sorts in the order alerts were written.

        Named by the wall clock, not the alert's ``now``: a cycle dates all its alerts with one (possibly simulated)
        moment, and two alerts of one kind must never share a file name.
        """
        safe_kind = re.sub(r"[^A-Za-z0-9_.-]+", "_", kind)  # part of a file name
        stamp = wall_now().strftime("%Y%m%dT%H%M%S%f")
        path, number = self.outbox / f"{stamp}-{safe_kind}{suffix}", 1
        while path.exists():
            path, number = self.outbox / f"{stamp}-{safe_kind}-{number}{suffix}", number + 1
        return write_bytes_atomic(path, data)

    def _with_retries(self, channel: _Channel) -> bool:
        """Try ``retries`` times, each attempt within its channel's timeout, with doubling back-off between."""
        for attempt in range(1, self.retries + 1):
            if self._time_is_up():
                log.warning("%s to %s: no time left for attempt %d/%d", channel.name, channel.target, attempt,
                            self.retries)  # fmt: skip
                return False
            try:
                channel.attempt()
                return True
            except channel.errors as err:
                # neither smtplib nor post_once puts a password or the webhook's path in its error text
                log.warning(
                    "%s attempt %d/%d to %s failed: %s", channel.name, attempt, self.retries, channel.target, err
                )
                if attempt < self.retries:
                    time.sleep(max(0.0, min(self.backoff_seconds * 2 ** (attempt - 1), self._time_left())))
        return False

    def _send_once(self, message: EmailMessage) -> None:
        """One connection: TLS, login, the message.

        Raises:
            OSError, smtplib.SMTPException: any failure, including the deadline passing.
        """
        smtp = self.smtp
        client = _connect(smtp, self._attempt_deadline(self.timeout_seconds))
        try:
            if smtp.starttls:
                client.starttls(context=smtp.tls_context())
            if smtp.user:
                client.login(smtp.user, smtp.password)
            client.send_message(message)
        finally:
            _close_quietly(client)
