"""Email alerts through a real SMTP server on loopback (aiosmtpd), the cooldown, and the outbox fallback;
TLS (implicit and STARTTLS) with a certificate made per run, and servers that hang or never finish."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import logging
import secrets
import socket
import ssl
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sentiment_lib.alerting.sender import AlertSender
from sentiment_lib.alerting.smtp import SmtpConfig
from sentiment_lib.alerting.transport import Alert
from sentiment_lib.serving.process import free_port
from tests.helpers import Inbox, smtp_config

ALERT = Alert("degraded", "Model v3 degraded", "accuracy 0.71 < 0.85 on 400 reviews", key="degraded:3")
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def test_alert_is_delivered_once_per_key_within_the_cooldown(tmp_path, smtp_server):
    inbox, port = smtp_server
    sender = AlertSender(tmp_path / "outbox", tmp_path / "state.json", smtp_config(port), cooldown=timedelta(hours=6))
    assert sender.send(ALERT, NOW) == "sent"
    assert sender.send(ALERT, NOW + timedelta(hours=1)) == "suppressed"
    # a restart keeps the record: a new sender with the same state file stays quiet
    again = AlertSender(tmp_path / "outbox", tmp_path / "state.json", smtp_config(port), cooldown=timedelta(hours=6))
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
    settings = smtp_config(dead_port, ALERT_SMTP_USER="me", ALERT_SMTP_PASSWORD=password, ALERT_SMTP_ALLOW_PLAIN="true")
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


# --- TLS: a self-signed certificate for 127.0.0.1, made per run; the client trusts it through ALERT_SMTP_CA_FILE


def self_signed_certificate(folder) -> tuple[str, str]:
    """A certificate for 127.0.0.1 and its key, as PEM files in ``folder``; the certificate is its own CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    public = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, True, False, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_path), str(key_path)


class Authenticator:
    """Accepts one user and password, and keeps whether each login came over TLS."""

    def __init__(self, user: str, password: str):
        self.expected = LoginPassword(user.encode(), password.encode())
        self.logins: list[bool] = []

    def __call__(self, server, session, envelope, mechanism, auth_data):
        self.logins.append(server.transport.get_extra_info("sslcontext") is not None)
        return AuthResult(success=auth_data == self.expected)


@pytest.fixture
def certificate(tmp_path):
    return self_signed_certificate(tmp_path)


def start_login_server(certificate, context_option: str, **options):
    """aiosmtpd on loopback with this run's certificate, taking one login; yields what a test checks."""
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox, password = Inbox(), secrets.token_urlsafe(12)
    authenticator = Authenticator("alerts", password)
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=authenticator,
        auth_required=True,
        **{context_option: context},
        **options,
    )
    controller.start()
    try:
        yield inbox, controller.port, password, authenticator
    finally:
        controller.stop()


@pytest.fixture
def tls_server(certificate):
    """TLS from the first byte (implicit TLS, as on port 465)."""
    # the whole connection is TLS, which aiosmtpd's auth_require_tls (made for STARTTLS) does not see
    yield from start_login_server(certificate, "ssl_context", auth_require_tls=False)


@pytest.fixture
def starttls_server(certificate):
    """Plain TCP that offers STARTTLS and takes a login only after it."""
    yield from start_login_server(certificate, "tls_context", require_starttls=True)


# aiosmtpd warns about a login without STARTTLS; on this server the whole connection is TLS
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_implicit_tls_delivers_with_a_login_and_checks_the_certificate(tmp_path, tls_server, certificate):
    inbox, port, password, authenticator = tls_server
    tls = {"ALERT_SMTP_SSL": "true", "ALERT_SMTP_USER": "alerts", "ALERT_SMTP_PASSWORD": password}
    settings = smtp_config(port, ALERT_SMTP_STARTTLS="false", ALERT_SMTP_CA_FILE=certificate[0], **tls)
    sender = AlertSender(tmp_path / "outbox", tmp_path / "state.json", settings, retries=1)
    assert sender.send(ALERT, NOW) == "sent"
    assert [m["Subject"] for m in inbox.messages] == ["[sentiment-pipeline] Model v3 degraded"]
    assert authenticator.logins == [True]

    # without the CA file the system's trust store is used, which does not know this certificate
    untrusted = AlertSender(tmp_path / "outbox2", tmp_path / "state2.json", smtp_config(port, **tls), retries=1)
    assert untrusted.send(ALERT, NOW) == "failed"
    assert len(inbox.messages) == 1 and len(list((tmp_path / "outbox2").glob("*.eml"))) == 1


def test_starttls_logs_in_only_after_encrypting(tmp_path, starttls_server, certificate):
    inbox, port, password, authenticator = starttls_server
    settings = smtp_config(
        port,
        ALERT_SMTP_STARTTLS="true",
        ALERT_SMTP_USER="alerts",
        ALERT_SMTP_PASSWORD=password,
        ALERT_SMTP_CA_FILE=certificate[0],
    )
    sender = AlertSender(tmp_path / "outbox", tmp_path / "state.json", settings, retries=1)
    assert sender.send(ALERT, NOW) == "sent"
    assert len(inbox.messages) == 1 and authenticator.logins == [True]


def test_a_subject_with_a_newline_is_sent_on_one_line(tmp_path, smtp_server):
    inbox, port = smtp_server
    name = "feedback\r\nBcc: everyone@example.test\n.csv"  # a file name from data/incoming can hold newlines
    alert = Alert("quarantine", f"Incoming file {name} quarantined", "body", key=f"quarantine:{name}")
    sender = AlertSender(tmp_path / "outbox", tmp_path / "state.json", smtp_config(port))
    assert sender.send(alert, NOW) == "sent"
    (received,) = inbox.messages
    # parsed again with the modern policy, which unfolds long headers: what a mail client shows
    shown = email.message_from_bytes(received.as_bytes(), policy=email.policy.default)
    assert shown["Subject"] == "[sentiment-pipeline] Incoming file feedback Bcc: everyone@example.test .csv quarantined"
    assert shown["X-Alert-Key"] == "quarantine:feedback Bcc: everyone@example.test .csv"
    assert shown["Bcc"] is None  # no header was smuggled in


def silent_server() -> socket.socket:
    """A TCP listener that accepts connections (the kernel does) and never says a word."""
    return socket.create_server(("127.0.0.1", 0))


def test_a_server_that_never_answers_costs_at_most_the_timeouts(tmp_path):
    with silent_server() as server:
        port = server.getsockname()[1]
        sender = AlertSender(
            tmp_path / "outbox",
            tmp_path / "state.json",
            smtp_config(port),
            retries=2,
            backoff_seconds=0.1,
            timeout_seconds=1,
        )
        started = time.monotonic()
        assert sender.send(ALERT, NOW) == "failed"
        elapsed = time.monotonic() - started
    assert 2 <= elapsed < 2 * 1 + 0.1 + 1.5  # retries x timeout + back-off, with slack for a slow machine
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1


def test_a_server_that_drips_its_greeting_is_cut_off_at_the_timeout(tmp_path):
    """A reply that never ends, one line every 0.2 s: every single read is quick, the whole is bounded."""
    stop = threading.Event()

    def drip(server: socket.socket) -> None:
        server.settimeout(5)
        with server.accept()[0] as connection:
            while not stop.is_set():
                connection.sendall(b"220-still greeting\r\n")
                time.sleep(0.2)

    with socket.create_server(("127.0.0.1", 0)) as server:
        worker = threading.Thread(target=drip, args=(server,), daemon=True)
        worker.start()
        sender = AlertSender(
            tmp_path / "outbox",
            tmp_path / "state.json",
            smtp_config(server.getsockname()[1]),
            retries=1,
            timeout_seconds=1,
        )
        started = time.monotonic()
        status = sender.send(ALERT, NOW)
        elapsed = time.monotonic() - started
        stop.set()
        worker.join(timeout=5)
    assert status == "failed" and elapsed < 2.5
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1


def test_a_delivery_deadline_bounds_attempts_and_back_off_together(tmp_path):
    """A cycle's alert budget: however many retries and however long each may take, the delivery stops at the
    deadline and keeps the message in the outbox."""
    with silent_server() as server:
        sender = AlertSender(
            tmp_path / "outbox",
            tmp_path / "state.json",
            smtp_config(server.getsockname()[1]),
            retries=3,
            backoff_seconds=2,
            timeout_seconds=5,  # unbounded: 3 x 5 s + 2 s + 4 s of back-off
        )
        started = time.monotonic()
        assert sender.send(ALERT, NOW, deadline=started + 1.5) == "failed"
        elapsed = time.monotonic() - started
    assert 1.4 <= elapsed < 2.5
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1


def test_a_name_lookup_counts_against_the_deadline(tmp_path, monkeypatch):
    """getaddrinfo takes no timeout: a resolver that does not answer is cut off at the attempt's deadline."""
    from sentiment_lib.alerting import deadline

    real = socket.getaddrinfo

    def slow_resolver(host, *args, **kwargs):
        if host == "mail.slow.test":
            time.sleep(30)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", slow_resolver)
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=r"looking up mail\.slow\.test"):
        deadline.connect("mail.slow.test", 25, started + 1.0)
    assert time.monotonic() - started < 1.5
    with socket.create_server(("127.0.0.1", 0)) as server:  # a name that resolves still connects
        deadline.connect("localhost", server.getsockname()[1], time.monotonic() + 5).close()
