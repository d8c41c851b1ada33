"""Alerts by email over SMTP (Gmail by default): the settings, the message, one delivery attempt, the transport.

Configuration comes from the environment only (:mod:`sentiment_lib.settings.alerting`); ``ALERT_EMAIL_TO`` turns
email on. The connection is encrypted (STARTTLS by default, or implicit TLS), and a password is never sent in
clear unless ``ALERT_SMTP_ALLOW_PLAIN`` says so. Each attempt, name lookup to the last reply, is bounded by one
deadline (:mod:`sentiment_lib.alerting.deadline`).
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import ClassVar

from sentiment_lib.alerting.deadline import WithinDeadline
from sentiment_lib.alerting.transport import Alert, Prepared, one_line, printable
from sentiment_lib.errors import ConfigError
from sentiment_lib.settings.alerting import GMAIL_PORT, IMPLICIT_TLS_PORT, AlertSettings

SUBJECT_PREFIX = "[sentiment-pipeline] "
DEFAULT_TIMEOUT_SECONDS: float = AlertSettings.model_fields["smtp_timeout_seconds"].default
# the addresses of an alert kept in the outbox without an SMTP configuration to take them from
UNSENT_FROM, UNSENT_TO = "sentiment-pipeline@localhost", ("operator@localhost",)


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
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS  # each attempt, connect to the last reply

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


def unsent_message(alert: Alert, now: datetime) -> bytes:
    """The alert as the ``.eml`` file the outbox keeps when no transport sends it."""
    return bytes(build_message(alert, UNSENT_FROM, UNSENT_TO, now))


class _BoundedSMTP(WithinDeadline, smtplib.SMTP):
    pass


class _BoundedSMTPSSL(WithinDeadline, smtplib.SMTP_SSL):
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
class EmailTransport:
    """Email as a :class:`~sentiment_lib.alerting.transport.Transport`.

    ``timeout_seconds`` is the sender's per-attempt timeout, which the loop takes from ``smtp``.
    """

    smtp: SmtpConfig
    timeout_seconds: float
    name: ClassVar[str] = "SMTP"
    errors: ClassVar[tuple[type[BaseException], ...]] = (OSError, smtplib.SMTPException)

    @property
    def target(self) -> str:
        return f"{self.smtp.host}:{self.smtp.port}"

    def prepare(self, alert: Alert, now: datetime) -> Prepared:
        message = build_message(alert, self.smtp.sender, self.smtp.recipients, now)
        return Prepared(message, bytes(message), ".eml")

    def send(self, prepared: Prepared, deadline: float) -> None:
        """One connection: TLS, login, the message.

        Raises:
            OSError, smtplib.SMTPException: any failure, including the deadline passing.
        """
        smtp = self.smtp
        client = _connect(smtp, deadline)
        try:
            if smtp.starttls:
                client.starttls(context=smtp.tls_context())
            if smtp.user:
                client.login(smtp.user, smtp.password)
            client.send_message(prepared.message)
        finally:
            _close_quietly(client)
