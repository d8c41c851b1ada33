"""Alerts on every configured transport (email, webhook), with a cooldown per key, retries, and an outbox.

Configuration comes from the environment only (:mod:`sentiment_lib.settings.alerting`): ``ALERT_EMAIL_TO`` turns
email on (:mod:`sentiment_lib.alerting.smtp`), ``ALERT_WEBHOOK_URL`` the webhook
(:mod:`sentiment_lib.alerting.webhook`); with neither, alerts are written as ``.eml`` files to the outbox folder
and logged instead of sent. Sending never raises: each transport's failure is retried with back-off, each attempt
bounded by one timeout, then what was tried goes to the outbox and the failure is logged; one transport failing
does not stop another.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sentiment_lib.alerting import outbox
from sentiment_lib.alerting.smtp import DEFAULT_TIMEOUT_SECONDS, EmailTransport, SmtpConfig, unsent_message
from sentiment_lib.alerting.transport import Alert, Prepared, Transport, one_line
from sentiment_lib.alerting.webhook import WebhookConfig, WebhookTransport
from sentiment_lib.io import read_json, write_json_atomic
from sentiment_lib.settings.alerting import AlertSettings
from sentiment_lib.workspace import Workspace

log = logging.getLogger(__name__)

# what happened to an alert on one transport; kept: failed, in the outbox; lost: failed and could not be kept
_SENT, _KEPT, _LOST = "sent", "kept", "lost"


class AlertSender:
    """Sends alerts on every configured transport, at most once per ``key`` within ``cooldown``; the record
    survives restarts.

    Args:
        outbox: folder for alerts that could not be sent (``.eml`` for email, ``.json`` for the webhook).
        state_path: JSON file of when each key was last sent.
        smtp: email settings, or None for no email.
        cooldown: the quiet time after an alert, per key, across all transports.
        retries: attempts per transport before the alert goes to the outbox.
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
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
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

    def transports(self) -> list[Transport]:
        """The configured transports: email first, then the webhook."""
        found: list[Transport] = [EmailTransport(self.smtp, self.timeout_seconds)] if self.smtp else []
        return found + ([WebhookTransport(self.webhook)] if self.webhook else [])

    def send(self, alert: Alert, now: datetime | None = None, deadline: float | None = None) -> str:
        """Deliver ``alert`` on every configured transport (email, webhook), all of it (name lookups, attempts,
        back-off) before ``deadline`` (a ``time.monotonic`` value) if one is given; what a transport could not
        deliver in time is kept in the outbox.

        Returns:
            ``sent`` when every configured transport delivered it; ``failed`` when any transport gave up (what it
            tried is in the outbox, the others delivered as usual) or anything else went wrong, which is
            logged; ``outbox`` when no transport is configured (written there as ``.eml``); ``suppressed`` when
            the same key was handled within the cooldown, on all transports together.

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
        return outbox.keep(self.outbox, unsent_message(alert, now), alert.kind, ".eml")

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
        # each alert written once per transport: the copy kept in the outbox after a failed send is what was tried
        prepared = [(transport, transport.prepare(alert, now)) for transport in self.transports()]
        if not prepared:
            path = self.keep_unsent(alert, now)
            log.warning("ALERT %s (neither SMTP nor a webhook configured, written to %s)", subject, path)
            self._remember(alert.key, now)
            return "outbox"
        outcomes = [self._deliver_by(transport, message, alert.kind, subject) for transport, message in prepared]
        if any(outcome != _LOST for outcome in outcomes):  # an alert that is nowhere at all is tried again next time
            self._remember(alert.key, now)
        return "sent" if all(outcome == _SENT for outcome in outcomes) else "failed"

    def _deliver_by(self, transport: Transport, prepared: Prepared, kind: str, subject: str) -> str:
        """``sent``, ``kept`` or ``lost``; never raises, so one transport's trouble cannot keep the alert from
        the others."""
        try:
            if self._with_retries(transport, prepared):
                log.info("Alert sent by %s to %s: %s", transport.name, transport.target, subject)
                return _SENT
            path = outbox.keep(self.outbox, prepared.kept, kind, prepared.suffix)
            log.error("ALERT %s could not be sent by %s; kept in %s", subject, transport.name, path)
            return _KEPT
        except Exception:  # the boundary of one transport (an outbox that cannot be written, a bug)
            log.exception("ALERT %s could not be handled by %s", subject, transport.name)
            return _LOST

    def _with_retries(self, transport: Transport, prepared: Prepared) -> bool:
        """Try ``retries`` times, each attempt within its transport's timeout, with doubling back-off between."""
        for attempt in range(1, self.retries + 1):
            if self._time_is_up():
                log.warning("%s to %s: no time left for attempt %d/%d", transport.name, transport.target, attempt,
                            self.retries)  # fmt: skip
                return False
            try:
                transport.send(prepared, self._attempt_deadline(transport.timeout_seconds))
                return True
            except transport.errors as err:
                # neither smtplib nor post_once puts a password or the webhook's path in its error text
                log.warning(
                    "%s attempt %d/%d to %s failed: %s", transport.name, attempt, self.retries, transport.target, err
                )
                if attempt < self.retries:
                    time.sleep(max(0.0, min(self.backoff_seconds * 2 ** (attempt - 1), self._time_left())))
        return False


def alert_sender(workspace: Workspace) -> AlertSender:
    """The loop's alert sender: SMTP and the webhook from the environment, cooldowns kept in the workspace's state.

    Raises:
        ConfigError: an ``ALERT_*`` setting is invalid (see :meth:`SmtpConfig.from_env` and
            :meth:`WebhookConfig.from_env`).
    """
    settings = AlertSettings.from_environment()  # read once: both transports' variables
    return AlertSender(
        workspace.outbox,
        workspace.alert_state,
        SmtpConfig.from_settings(settings),
        cooldown=timedelta(hours=workspace.settings.alert_cooldown_hours),
        timeout_seconds=settings.smtp_timeout_seconds,
        webhook=WebhookConfig.from_settings(settings),
    )
