"""What every way out for alerts shares: the alert, the :class:`Transport` interface, and text fit for a header.

Email (:mod:`sentiment_lib.alerting.smtp`) and the webhook (:mod:`sentiment_lib.alerting.webhook`) implement
:class:`Transport`; :class:`~sentiment_lib.alerting.sender.AlertSender` retries them, keeps what failed in the
outbox and applies the cooldown, the same for both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

MAX_SUBJECT_CHARS = 200
# C0 and C1 controls (CR, LF, NEL, ...) and the Unicode line and paragraph separators: any of them in a
# header would either make EmailMessage raise or start a new header line
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


@dataclass(frozen=True)
class Alert:
    """One alert. ``key`` identifies the problem (for example ``degraded:v3``) for the cooldown."""

    kind: str
    subject: str
    body: str
    key: str


@dataclass(frozen=True)
class Prepared:
    """An alert as one transport sends it, built once: every attempt sends, and the outbox keeps, the same."""

    message: Any  # what the transport sends: an EmailMessage, the webhook's JSON body
    kept: bytes  # what the outbox keeps if every attempt failed (never a secret)
    suffix: str  # of the outbox file: .eml, .json


class Transport(Protocol):
    """One way out for alerts: how an alert is written on it, and one attempt at delivering that."""

    # read-only members (properties, so a class constant or a dataclass field satisfies them alike)
    @property
    def name(self) -> str:
        """In logs: SMTP, webhook."""
        ...

    @property
    def target(self) -> str:
        """In logs: where it goes, never a secret."""
        ...

    @property
    def timeout_seconds(self) -> float:
        """Each attempt, name lookup to the last reply."""
        ...

    @property
    def errors(self) -> tuple[type[BaseException], ...]:
        """What a failed attempt raises; anything else is a bug."""
        ...

    def prepare(self, alert: Alert, now: datetime) -> Prepared:
        """``alert`` as this transport sends it, dated ``now``; does not raise for any alert."""
        ...

    def send(self, prepared: Prepared, deadline: float) -> None:
        """One attempt at delivering ``prepared``, all of it before ``deadline`` (a ``time.monotonic`` value).

        Raises:
            One of :attr:`errors`: the attempt failed (the deadline passing among the reasons).
        """
        ...


def printable(text: str) -> str:
    """``text`` that can always be encoded: lone surrogates (from a file name that is not UTF-8) escaped."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def one_line(text: str, limit: int = MAX_SUBJECT_CHARS) -> str:
    """``text`` fit for a header: control characters (a file name may hold a newline) become one space, and
    beyond ``limit`` characters it is cut with an ellipsis."""
    text = _CONTROL_CHARS.sub(" ", printable(str(text))).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
