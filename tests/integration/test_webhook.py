"""Alerts by webhook to a real HTTP server on loopback (ThreadingHTTPServer): Slack-compatible JSON, the cooldown
shared with email, retries, the outbox for a receiver that refuses, hangs or drips, a URL that never shows, and
email and webhook side by side (aiosmtpd) without one failing the other."""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from sentiment_lib.alerting.sender import AlertSender, alert_sender
from sentiment_lib.alerting.smtp import SmtpConfig
from sentiment_lib.alerting.transport import Alert
from sentiment_lib.alerting.webhook import WebhookConfig
from sentiment_lib.errors import ConfigError
from sentiment_lib.serving.process import free_port
from sentiment_lib.settings import settings_for
from sentiment_lib.workspace import Workspace
from tests.helpers import smtp_config

ALERT = Alert("degraded", "Model v3 degraded", "accuracy 0.71 < 0.85 on 400 reviews", key="degraded:3")
PAYLOAD = {
    "text": "Model v3 degraded\naccuracy 0.71 &lt; 0.85 on 400 reviews",  # Slack's escaping
    "kind": "degraded",
    "key": "degraded:3",
    "subject": "Model v3 degraded",
    "body": "accuracy 0.71 < 0.85 on 400 reviews",
}
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
HANG, DRIP, MOVED = "hang", "drip", 302  # answers of the receiver besides a plain status


@dataclass
class Received:
    path: str
    content_type: str
    payload: dict


class Receiver(ThreadingHTTPServer):
    """A webhook receiver on loopback: records each POST and answers from a script whose last answer repeats.

    An answer is a status; ``MOVED`` (302 to a page that takes a GET, as a moved hook might); ``HANG`` (reads
    the request, never replies); ``DRIP`` (a status line, then one header every 0.1 s, never done).
    """

    def __init__(self, answers):
        super().__init__(("127.0.0.1", 0), _Handler)  # port 0: the kernel picks a free one, no race
        self.answers = list(answers)
        self.received: list[Received] = []
        self.gets = 0
        self.release = threading.Event()  # set when the test ends: hanging and dripping handlers return

    @property
    def port(self) -> int:
        return self.server_address[1]

    def next_answer(self):
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append(Received(self.path, self.headers["Content-Type"], json.loads(body)))
        answer = self.server.next_answer()
        try:
            if answer == HANG:
                self.server.release.wait(10)
            elif answer == DRIP:
                self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                while not self.server.release.wait(0.1):
                    self.wfile.write(b"X-Still: dripping\r\n")
            else:
                self.answer(answer, b"ok" if answer < 300 else b"no_service\r\nforged log line")
        except OSError:  # the client gave up, as it should
            pass

    def do_GET(self):
        self.server.gets += 1
        self.answer(200, b"ok")

    def answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        if status == MOVED:
            self.send_header("Location", "/moved")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # to stderr, with the secret path
        pass


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    # urllib honours the environment's proxies, which would not reach a receiver on loopback
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def receiver():
    """Starts a :class:`Receiver` with the given answers (default 200) in a thread; stopped after the test."""
    started: list[Receiver] = []

    def start(*answers) -> Receiver:
        server = Receiver(answers or (200,))
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.release.set()
        server.shutdown()
        server.server_close()


def hook_url(port: int) -> str:
    """A Slack-like URL with a token made per run: finding it in a log or a file means it leaked."""
    return f"http://127.0.0.1:{port}/services/{secrets.token_urlsafe(16)}"


def webhook_sender(folder: Path, url: str, smtp: SmtpConfig | None = None, timeout: str = "5", **options):
    webhook = WebhookConfig.from_env({"ALERT_WEBHOOK_URL": url, "ALERT_WEBHOOK_TIMEOUT_SECONDS": timeout})
    options = {"retries": 3, "backoff_seconds": 0.01, **options}
    return AlertSender(folder / "outbox", folder / "state.json", smtp, webhook=webhook, **options)


def outbox(folder: Path, pattern: str = "*") -> list[Path]:
    return sorted((folder / "outbox").glob(pattern))


def test_the_alert_arrives_as_slack_compatible_json(tmp_path, receiver):
    server = receiver()
    url = hook_url(server.port)
    assert webhook_sender(tmp_path, url).send(ALERT, NOW) == "sent"
    (got,) = server.received
    assert got.path == urlsplit(url).path
    assert got.content_type == "application/json"
    assert got.payload == PAYLOAD
    assert outbox(tmp_path) == []  # delivered: no .eml beside it, though email is not configured


def test_a_file_name_can_neither_notify_the_channel_nor_break_the_subject(tmp_path, receiver):
    server = receiver()
    name = "<!channel> a&b\n.csv"  # a file name from data/incoming
    alert = Alert("quarantine", f"Incoming file {name} quarantined", f"Moved {name}", key=f"quarantine:{name}")
    assert webhook_sender(tmp_path, hook_url(server.port)).send(alert, NOW) == "sent"
    (got,) = server.received
    assert got.payload["text"] == (
        "Incoming file &lt;!channel&gt; a&amp;b .csv quarantined\nMoved &lt;!channel&gt; a&amp;b\n.csv"
    )
    assert got.payload["subject"] == "Incoming file <!channel> a&b .csv quarantined"
    assert (got.payload["key"], got.payload["body"]) == (alert.key, alert.body)  # exact, for other receivers


def test_the_cooldown_holds_for_the_webhook_across_restarts(tmp_path, receiver):
    server = receiver()
    url = hook_url(server.port)
    sender = webhook_sender(tmp_path, url)
    assert sender.send(ALERT, NOW) == "sent"
    assert sender.send(ALERT, NOW + timedelta(hours=1)) == "suppressed"
    assert webhook_sender(tmp_path, url).send(ALERT, NOW + timedelta(hours=2)) == "suppressed"  # a restart
    assert webhook_sender(tmp_path, url).send(ALERT, NOW + timedelta(hours=7)) == "sent"  # the cooldown is over
    assert [r.payload["key"] for r in server.received] == ["degraded:3", "degraded:3"]


def test_a_receiver_failing_twice_gets_the_alert_on_the_third_attempt(tmp_path, receiver, caplog):
    server = receiver(500, 500, 200)
    with caplog.at_level(logging.WARNING):
        assert webhook_sender(tmp_path, hook_url(server.port), backoff_seconds=0.05).send(ALERT, NOW) == "sent"
    assert [r.payload for r in server.received] == [PAYLOAD] * 3
    attempts = [r.getMessage() for r in caplog.records if "webhook attempt" in r.getMessage()]
    assert len(attempts) == 2 and all("HTTP 500" in line and "no_service" in line for line in attempts)
    assert "forged log line" in attempts[0] and "\n" not in attempts[0]  # the receiver's answer, on one line
    assert outbox(tmp_path) == []


@pytest.mark.parametrize("failure", ["status 500", "redirect", "connection refused"])
def test_a_receiver_that_refuses_leaves_the_payload_in_the_outbox(tmp_path, receiver, caplog, failure):
    if failure == "connection refused":
        server, port = None, free_port()  # nothing listens there
    else:
        server = receiver(500 if failure == "status 500" else MOVED)
        port = server.port
    url = hook_url(port)
    sender = webhook_sender(tmp_path, url)
    with caplog.at_level(logging.DEBUG):
        assert sender.send(ALERT, NOW) == "failed"
    if server:
        assert len(server.received) == 3 and server.gets == 0  # a moved hook is not fed a GET without the alert
    (kept,) = outbox(tmp_path)
    assert kept.suffix == ".json" and json.loads(kept.read_text()) == PAYLOAD
    assert len([r for r in caplog.records if "webhook attempt" in r.getMessage()]) == 3
    assert f"could not be sent by webhook; kept in {kept}" in caplog.text
    assert f"http://127.0.0.1:{port}" in caplog.text  # where it went, by scheme and host
    secret = urlsplit(url).path
    assert secret not in caplog.text and secret not in kept.read_text() and secret not in repr(sender.webhook)


def test_a_receiver_that_never_answers_is_cut_by_the_timeout(tmp_path, receiver):
    server = receiver(HANG)
    sender = webhook_sender(tmp_path, hook_url(server.port), timeout="0.5", retries=2, backoff_seconds=0.05)
    started = time.monotonic()
    assert sender.send(ALERT, NOW) == "failed"
    elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 1.0 + 0.05 + 1.0  # attempts x timeout + back-off, with slack for a loaded machine
    assert len(server.received) == 2
    assert [p.suffix for p in outbox(tmp_path)] == [".json"]


def test_a_receiver_that_drips_its_headers_is_cut_at_the_timeout(tmp_path, receiver):
    """Every read is quick, the whole is not: a timeout per read would wait for 100 headers (10 s)."""
    server = receiver(DRIP)
    sender = webhook_sender(tmp_path, hook_url(server.port), timeout="0.5", retries=1)
    started = time.monotonic()
    assert sender.send(ALERT, NOW) == "failed"
    assert time.monotonic() - started < 1.5
    assert [p.suffix for p in outbox(tmp_path)] == [".json"]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://hooks.example.test/services/SECRET", "must start with https:// or http:// \\(scheme: 'ftp'\\)"),
        ("file:///services/SECRET", "must start with https:// or http://"),
        ("hooks.example.test/services/SECRET", "must start with https:// or http:// \\(scheme: none\\)"),
        ("https:///services/SECRET", "has no host"),
        ("https://hooks..example.test/services/SECRET", "host that is not a valid name"),
        ("https://me:SECRET@hooks.example.test/services/x", "must not hold a user or password"),
        ("https://hooks.example.test:SECRET/services/x", "port that is not a number"),
        ("https://hooks.example.test/services/SECRET PATH", "printable ASCII without spaces"),
    ],
)
def test_a_bad_url_is_a_config_error_that_does_not_quote_it(url, message):
    with pytest.raises(ConfigError, match=f"ALERT_WEBHOOK_URL .*{message}") as refused:
        WebhookConfig.from_env({"ALERT_WEBHOOK_URL": url})
    assert "SECRET" not in str(refused.value)


@pytest.mark.parametrize("timeout", ["0", "-1", "soon", "nan", "inf"])
def test_a_bad_timeout_is_a_config_error(timeout):
    env = {"ALERT_WEBHOOK_URL": "https://hooks.example.test/x", "ALERT_WEBHOOK_TIMEOUT_SECONDS": timeout}
    with pytest.raises(ConfigError, match="ALERT_WEBHOOK_TIMEOUT_SECONDS"):
        WebhookConfig.from_env(env)


def test_webhook_settings_from_the_environment():
    assert WebhookConfig.from_env({}) is None and WebhookConfig.from_env({"ALERT_WEBHOOK_URL": "  "}) is None
    token = secrets.token_urlsafe(16)
    settings = WebhookConfig.from_env({"ALERT_WEBHOOK_URL": f" HTTPS://hooks.example.test/services/{token}\n"})
    assert (settings.target, settings.timeout_seconds) == ("https://hooks.example.test", 10.0)
    assert token not in repr(settings) and token not in str(settings)


def test_email_and_webhook_each_receive_the_alert_once(tmp_path, smtp_server, receiver):
    inbox, port = smtp_server
    server = receiver()
    sender = webhook_sender(tmp_path, hook_url(server.port), smtp=smtp_config(port))
    assert sender.send(ALERT, NOW) == "sent"
    assert sender.send(ALERT, NOW + timedelta(hours=1)) == "suppressed"  # on both channels
    assert [m["Subject"] for m in inbox.messages] == ["[sentiment-pipeline] Model v3 degraded"]
    assert [r.payload for r in server.received] == [PAYLOAD]
    assert outbox(tmp_path) == []


def test_a_failing_webhook_does_not_stop_the_email_nor_the_other_way_round(tmp_path, smtp_server, receiver):
    inbox, port = smtp_server
    refusing, accepting = receiver(500), receiver()
    refused = webhook_sender(tmp_path / "a", hook_url(refusing.port), smtp=smtp_config(port))
    assert refused.send(ALERT, NOW) == "failed"
    assert len(inbox.messages) == 1  # the email went all the same
    assert [p.suffix for p in outbox(tmp_path / "a")] == [".json"]  # and only the webhook's payload waits

    no_email = webhook_sender(tmp_path / "b", hook_url(accepting.port), smtp=smtp_config(free_port()))
    assert no_email.send(ALERT, NOW) == "failed"
    assert [r.payload for r in accepting.received] == [PAYLOAD]
    assert [p.suffix for p in outbox(tmp_path / "b")] == [".eml"]


def test_a_webhook_that_cannot_even_keep_its_alert_does_not_stop_the_email(tmp_path, smtp_server, receiver, caplog):
    inbox, port = smtp_server
    (tmp_path / "outbox").write_text("a file where the outbox folder should be")
    sender = webhook_sender(tmp_path, hook_url(receiver(500).port), smtp=smtp_config(port), retries=1)
    with caplog.at_level(logging.ERROR):
        assert sender.send(ALERT, NOW) == "failed"
    assert "Model v3 degraded could not be handled by webhook" in caplog.text
    assert len(inbox.messages) == 1
    assert sender.send(ALERT, NOW + timedelta(hours=1)) == "suppressed"  # the email went: the cooldown started


def test_the_loop_sends_to_the_webhook_in_the_environment(tmp_path, receiver, monkeypatch):
    server = receiver()
    monkeypatch.delenv("ALERT_EMAIL_TO", raising=False)
    monkeypatch.setenv("ALERT_WEBHOOK_URL", hook_url(server.port))
    monkeypatch.setenv("ALERT_WEBHOOK_TIMEOUT_SECONDS", "3")
    sender = alert_sender(Workspace(tmp_path, settings_for("smoke", {})))
    assert sender.smtp is None and sender.webhook.timeout_seconds == 3
    assert sender.send(ALERT, NOW) == "sent"
    assert [r.payload for r in server.received] == [PAYLOAD]
    monkeypatch.setenv("ALERT_WEBHOOK_URL", "smtp://hooks.example.test/x")
    with pytest.raises(ConfigError, match="ALERT_WEBHOOK_URL"):
        alert_sender(Workspace(tmp_path, settings_for("smoke", {})))
