"""Email alerts over SMTP (Gmail by default), with a cooldown per key, retries, and an outbox fallback.

Configuration comes from the environment only (see the README): with ``ALERT_EMAIL_TO`` unset, alerts
are written as ``.eml`` files to the outbox folder and logged instead of sent. Sending never raises: an
SMTP failure is retried with back-off, then the alert goes to the outbox and the failure is logged.
"""

from __future__ import annotations

import logging
import os
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
from sentiment_lib.io import read_json, write_bytes_atomic, write_json_atomic

log = logging.getLogger(__name__)

GMAIL_HOST = "smtp.gmail.com"
GMAIL_PORT = 587


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    user: str
    password: str
    sender: str
    recipients: tuple[str, ...]
    starttls: bool = True

    def __repr__(self) -> str:  # never print the password
        return f"SmtpConfig(host={self.host!r}, port={self.port}, user={self.user!r}, to={self.recipients})"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SmtpConfig | None:
        """The SMTP settings from ``ALERT_*`` variables, or None when no recipient is configured.

        Raises:
            ConfigError: ``ALERT_SMTP_STARTTLS`` is not true or false.
        """
        env = os.environ if environ is None else environ
        recipients = tuple(a.strip() for a in env.get("ALERT_EMAIL_TO", "").split(",") if a.strip())
        if not recipients:
            return None
        user = env.get("ALERT_SMTP_USER", "")
        return cls(
            host=env.get("ALERT_SMTP_HOST", GMAIL_HOST),
            port=int(env.get("ALERT_SMTP_PORT", GMAIL_PORT)),
            user=user,
            password=env.get("ALERT_SMTP_PASSWORD", ""),
            sender=env.get("ALERT_EMAIL_FROM", user or "sentiment-pipeline@localhost"),
            recipients=recipients,
            starttls=parse_value("ALERT_SMTP_STARTTLS", env.get("ALERT_SMTP_STARTTLS", "true"), bool),
        )


@dataclass(frozen=True)
class Alert:
    """One alert. ``key`` identifies the problem (for example ``degraded:v3``) for the cooldown."""

    kind: str
    subject: str
    body: str
    key: str


def build_message(alert: Alert, sender: str, recipients: tuple[str, ...], now: datetime) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = f"[sentiment-pipeline] {alert.subject}"
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain="sentiment-pipeline")
    message["X-Alert-Kind"] = alert.kind
    message["X-Alert-Key"] = alert.key
    message.set_content(alert.body)
    return message


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
        """Deliver ``alert``; return ``sent``, ``outbox``, ``failed`` (SMTP gave up, kept in the outbox) or
        ``suppressed`` (same key within the cooldown). Never raises."""
        now = now or datetime.now(UTC)
        if self.in_cooldown(alert.key, now):
            log.info("Alert %r suppressed: same key within the %s cooldown", alert.key, self.cooldown)
            return "suppressed"
        sender = self.smtp.sender if self.smtp else "sentiment-pipeline@localhost"
        recipients = self.smtp.recipients if self.smtp else ("operator@localhost",)
        # built once: the copy kept in the outbox after a failed send is the message that was tried
        message = build_message(alert, sender, recipients, now)
        if self.smtp is None:
            path = self._to_outbox(message, alert.kind, now)
            log.warning("ALERT %s (no SMTP configured, written to %s)", alert.subject, path)
            status = "outbox"
        else:
            status = "sent" if self._send_smtp(message, alert.subject) else "failed"
            if status == "failed":
                path = self._to_outbox(message, alert.kind, now)
                log.error("ALERT %s could not be sent by SMTP; kept in %s", alert.subject, path)
        self._remember(alert.key, now)
        return status

    def _to_outbox(self, message: EmailMessage, kind: str, now: datetime) -> Path:
        return write_bytes_atomic(self.outbox / f"{now.strftime('%Y%m%dT%H%M%S%f')}-{kind}.eml", bytes(message))

    def _send_smtp(self, message: EmailMessage, subject: str) -> bool:
        smtp = self.smtp
        for attempt in range(1, self.retries + 1):
            try:
                with smtplib.SMTP(smtp.host, smtp.port, timeout=self.timeout_seconds) as client:
                    if smtp.starttls:
                        client.starttls(context=ssl.create_default_context())
                    if smtp.user:
                        client.login(smtp.user, smtp.password)
                    client.send_message(message)
                log.info("Alert sent to %s: %s", ", ".join(smtp.recipients), subject)
                return True
            except (OSError, smtplib.SMTPException) as err:
                # the error text never contains the password; smtplib does not echo credentials
                log.warning("SMTP attempt %d/%d to %s:%d failed: %s", attempt, self.retries, smtp.host, smtp.port, err)
                if attempt < self.retries:
                    time.sleep(self.backoff_seconds * 2 ** (attempt - 1))
        return False
