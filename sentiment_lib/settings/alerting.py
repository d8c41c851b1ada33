"""Where alerts go: ``ALERT_*`` variables for email (SMTP, Gmail by default) and the webhook.

``ALERT_EMAIL_TO`` turns email on and ``ALERT_WEBHOOK_URL`` the webhook; with neither, alerts are written to the
outbox folder. The transports (:mod:`sentiment_lib.alerting.smtp`, :mod:`sentiment_lib.alerting.webhook`)
build their connection settings from this model and check them (TLS, the URL's form).
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from sentiment_lib.settings.base import EnvSettings

GMAIL_HOST = "smtp.gmail.com"
GMAIL_PORT = 587  # submission with STARTTLS
IMPLICIT_TLS_PORT = 465  # submission over TLS from the first byte (ALERT_SMTP_SSL)


class AlertSettings(EnvSettings):
    """Email and webhook delivery of the loop's alerts."""

    model_config = SettingsConfigDict(env_prefix="ALERT_")
    title: ClassVar[str] = "Alert settings"

    email_to: str = Field("", description="recipients (comma-separated); empty: no email")
    email_from: str = Field("", description="the sender; empty: ALERT_SMTP_USER, else sentiment-pipeline@localhost")
    smtp_host: str = Field(GMAIL_HOST, description="the SMTP server")
    smtp_port: int | None = Field(
        None, ge=1, le=65535, description=f"its port; unset: {GMAIL_PORT} (STARTTLS) or {IMPLICIT_TLS_PORT} (SSL)"
    )
    smtp_user: str = Field("", description="the login; empty: none")
    smtp_password: str = Field("", repr=False, description="the login's password (a Gmail app password)")
    smtp_ssl: bool = Field(False, description="TLS from the first byte (port 465)")
    smtp_starttls: bool | None = Field(None, description="upgrade to TLS after connecting; unset: on unless SSL")
    smtp_ca_file: str = Field("", description="certificates to trust instead of the system's")
    smtp_allow_plain: bool = Field(False, description="send the password without TLS (a server you trust)")
    smtp_timeout_seconds: float = Field(20.0, gt=0, description="each attempt, connect to the last reply")
    webhook_url: str = Field("", repr=False, description="a Slack-compatible webhook (a secret); empty: none")
    webhook_timeout_seconds: float = Field(10.0, gt=0, allow_inf_nan=False, description="each webhook attempt")

    @property
    def recipients(self) -> tuple[str, ...]:
        return tuple(a.strip() for a in self.email_to.split(",") if a.strip())
