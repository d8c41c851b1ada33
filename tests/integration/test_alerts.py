"""Email alerts through a real SMTP server on loopback (aiosmtpd), the cooldown, and the outbox fallback."""

from __future__ import annotations

import email
import logging
import secrets
from datetime import UTC, datetime, timedelta

from sentiment_lib.monitoring.alerts import Alert, AlertSender, SmtpConfig
from sentiment_lib.serving.process import free_port


def config(port: int, **changes) -> SmtpConfig:
    env = {
        "ALERT_SMTP_HOST": "127.0.0.1",
        "ALERT_SMTP_PORT": str(port),
        "ALERT_EMAIL_FROM": "pipeline@example.test",
        "ALERT_EMAIL_TO": "ops@example.test, ds@example.test",
        "ALERT_SMTP_STARTTLS": "false",
        **changes,
    }
    return SmtpConfig.from_env(env)


ALERT = Alert("degraded", "Model v3 degraded", "accuracy 0.71 < 0.85 on 400 reviews", key="degraded:3")
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def test_alert_is_delivered_once_per_key_within_the_cooldown(tmp_path, smtp_server):
    inbox, port = smtp_server
    sender = AlertSender(tmp_path / "outbox", tmp_path / "state.json", config(port), cooldown=timedelta(hours=6))
    assert sender.send(ALERT, NOW) == "sent"
    assert sender.send(ALERT, NOW + timedelta(hours=1)) == "suppressed"
    # a restart keeps the record: a new sender with the same state file stays quiet
    again = AlertSender(tmp_path / "outbox", tmp_path / "state.json", config(port), cooldown=timedelta(hours=6))
    assert again.send(ALERT, NOW + timedelta(hours=2)) == "suppressed"
    other_version = Alert("degraded", "Model v4 degraded", "…", key="degraded:4")
    assert again.send(other_version, NOW + timedelta(hours=2)) == "sent"
    assert again.send(ALERT, NOW + timedelta(hours=7)) == "sent"  # the cooldown is over
    assert [m["Subject"] for m in inbox.messages] == [
        "[sentiment-pipeline] Model v3 degraded",
        "[sentiment-pipeline] Model v4 degraded",
        "[sentiment-pipeline] Model v3 degraded",
    ]
    first = inbox.messages[0]
    assert first["To"] == "ops@example.test, ds@example.test"
    assert first["X-Alert-Key"] == "degraded:3"
    assert "accuracy 0.71 < 0.85" in first.get_payload()
    assert not (tmp_path / "outbox").exists()


def test_smtp_failure_is_retried_then_kept_in_the_outbox_without_raising(tmp_path, caplog):
    dead_port = free_port()  # nothing listens there
    password = secrets.token_urlsafe(12)  # made per run: no credential-looking literal in the repository
    settings = config(dead_port, ALERT_SMTP_USER="me", ALERT_SMTP_PASSWORD=password)
    sender = AlertSender(tmp_path / "outbox", tmp_path / "state.json", settings, retries=3, backoff_seconds=0.01)
    with caplog.at_level(logging.WARNING):
        assert sender.send(ALERT, NOW) == "failed"
    assert len([r for r in caplog.records if "SMTP attempt" in r.getMessage()]) == 3
    kept = list((tmp_path / "outbox").glob("*.eml"))
    assert len(kept) == 1 and "Model v3 degraded" in kept[0].read_text()
    assert password not in caplog.text and password not in repr(settings)


def test_without_smtp_alerts_go_to_the_outbox(tmp_path):
    assert SmtpConfig.from_env({}) is None
    sender = AlertSender(tmp_path / "outbox", tmp_path / "state.json", smtp=None)
    assert sender.send(ALERT, NOW) == "outbox"
    message = email.message_from_bytes(next((tmp_path / "outbox").glob("*-degraded.eml")).read_bytes())
    assert message["Subject"] == "[sentiment-pipeline] Model v3 degraded"


def test_gmail_is_the_default_server():
    settings = SmtpConfig.from_env({"ALERT_EMAIL_TO": "me@example.test", "ALERT_SMTP_USER": "me@gmail.com"})
    assert (settings.host, settings.port, settings.starttls, settings.sender) == (
        "smtp.gmail.com",
        587,
        True,
        "me@gmail.com",
    )
