"""SMTP settings that keep a password off plain text, headers that cannot be broken by a file name, and an
alert sender that never raises (the real servers, TLS and hanging ones, are in tests/integration/test_alerts.py)."""

from __future__ import annotations

import email
import email.policy
import logging
import secrets
from datetime import UTC, datetime

import pytest

from sentiment_lib.alerting.sender import AlertSender
from sentiment_lib.alerting.smtp import SmtpConfig, build_message
from sentiment_lib.alerting.transport import MAX_SUBJECT_CHARS, Alert
from sentiment_lib.errors import ConfigError
from sentiment_lib.serving.process import free_port

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
ALERT = Alert("degraded", "Model v3 degraded", "accuracy 0.71", key="degraded:3")


def env(**changes: str) -> dict[str, str]:
    return {"ALERT_EMAIL_TO": "ops@example.test", "ALERT_SMTP_HOST": "127.0.0.1", **changes}


def test_a_password_is_refused_over_a_plain_connection_unless_allowed():
    password = secrets.token_urlsafe(12)
    plain = env(ALERT_SMTP_USER="me", ALERT_SMTP_PASSWORD=password, ALERT_SMTP_STARTTLS="false")
    with pytest.raises(ConfigError) as refused:
        SmtpConfig.from_env(plain)
    for name in ("ALERT_SMTP_PASSWORD", "ALERT_SMTP_SSL", "ALERT_SMTP_STARTTLS", "ALERT_SMTP_ALLOW_PLAIN"):
        assert name in str(refused.value)
    assert password not in str(refused.value)
    allowed = SmtpConfig.from_env({**plain, "ALERT_SMTP_ALLOW_PLAIN": "true"})
    assert not allowed.encrypted and allowed.allow_plain
    # no credentials, nothing to protect: a plain relay on loopback needs no extra setting
    assert not SmtpConfig.from_env(env(ALERT_SMTP_STARTTLS="false")).encrypted


def test_implicit_tls_uses_port_465_and_excludes_starttls():
    ssl_only = SmtpConfig.from_env(env(ALERT_SMTP_SSL="true", ALERT_SMTP_USER="me", ALERT_SMTP_PASSWORD="x"))
    assert (ssl_only.implicit_tls, ssl_only.starttls, ssl_only.port) == (True, False, 465)
    assert SmtpConfig.from_env(env(ALERT_SMTP_SSL="true", ALERT_SMTP_PORT="2465")).port == 2465
    default = SmtpConfig.from_env(env())
    assert (default.implicit_tls, default.starttls, default.port) == (False, True, 587)
    with pytest.raises(ConfigError, match="ALERT_SMTP_SSL and ALERT_SMTP_STARTTLS are both true"):
        SmtpConfig.from_env(env(ALERT_SMTP_SSL="true", ALERT_SMTP_STARTTLS="true"))
    with pytest.raises(ConfigError, match="ALERT_SMTP_SSL: Input should be a valid boolean"):
        SmtpConfig.from_env(env(ALERT_SMTP_SSL="sometimes"))
    with pytest.raises(ConfigError, match="ALERT_SMTP_PORT: Input should be a valid integer"):
        SmtpConfig.from_env(env(ALERT_SMTP_PORT="smtp"))


def test_a_ca_file_must_exist(tmp_path):
    with pytest.raises(ConfigError, match="ALERT_SMTP_CA_FILE"):
        SmtpConfig.from_env(env(ALERT_SMTP_CA_FILE=str(tmp_path / "missing.pem")))


def test_the_password_never_shows_in_the_settings():
    password = secrets.token_urlsafe(12)
    settings = SmtpConfig.from_env(env(ALERT_SMTP_SSL="true", ALERT_SMTP_USER="me", ALERT_SMTP_PASSWORD=password))
    assert password not in repr(settings) and "tls=ssl" in repr(settings)


@pytest.mark.parametrize(
    "subject",
    [
        "file a\nb.csv quarantined",
        "file a\r\nSubject: forged",
        "tab\tnul\x00bell\x07 del\x7f nel\x85 line\u2028sep",
        "not utf-8 \udcff name",  # how Python names a file whose name is not UTF-8
    ],
)
def test_any_subject_builds_a_message_on_one_line(subject):
    message = build_message(Alert("quarantine", subject, "body", key=f"k:{subject}"), "a@x.test", ("b@x.test",), NOW)
    shown = email.message_from_bytes(bytes(message), policy=email.policy.default)
    for header in ("Subject", "X-Alert-Key"):
        text = shown[header]
        assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F or c in "\u2028\u2029" for c in text), text
    assert shown["Subject"].startswith("[sentiment-pipeline] ")
    assert len(shown.keys()) == len(set(shown.keys()))  # nothing smuggled in as a second header


def test_a_long_subject_is_cut_with_an_ellipsis():
    message = build_message(Alert("k", "x" * 1000, "body", key="k"), "a@x.test", ("b@x.test",), NOW)
    subject = email.message_from_bytes(bytes(message), policy=email.policy.default)["Subject"]
    cut = subject.removeprefix("[sentiment-pipeline] ")
    assert len(cut) == MAX_SUBJECT_CHARS and cut.endswith("…") and cut.startswith("x" * 100)


def test_send_never_raises_when_the_state_file_cannot_be_written(tmp_path, caplog):
    state = tmp_path / "state.json"
    state.mkdir()  # a folder where the file should be: every write fails
    sender = AlertSender(tmp_path / "outbox", state, smtp=None)
    with caplog.at_level(logging.ERROR):
        assert sender.send(ALERT, NOW) == "failed"
    assert "Model v3 degraded could not be handled" in caplog.text


def test_send_never_raises_when_the_state_file_is_corrupt(tmp_path, caplog):
    state = tmp_path / "state.json"
    state.write_text('{"degraded:3": "2026-')
    with caplog.at_level(logging.ERROR):
        assert AlertSender(tmp_path / "outbox", state, smtp=None).send(ALERT, NOW) == "failed"
    assert "state.json is not valid JSON" in caplog.text


def test_send_never_raises_when_the_outbox_cannot_be_written(tmp_path, caplog):
    blocked = tmp_path / "outbox"
    blocked.write_text("a file where the outbox folder should be")
    dead = SmtpConfig.from_env(env(ALERT_SMTP_PORT=str(free_port()), ALERT_SMTP_STARTTLS="false"))
    for smtp in (None, dead):
        sender = AlertSender(blocked, tmp_path / "state.json", smtp=smtp, retries=1)
        with caplog.at_level(logging.ERROR):
            assert sender.send(ALERT, NOW) == "failed"
    assert caplog.text.count("could not be handled") == 2
