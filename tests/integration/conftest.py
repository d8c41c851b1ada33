"""A real SMTP server on loopback (aiosmtpd) that keeps every message it receives."""

from __future__ import annotations

import email

import pytest
from aiosmtpd.controller import Controller

from sentiment_lib.serve_demo import free_port


class Inbox:
    """aiosmtpd handler keeping every message it receives."""

    def __init__(self):
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 Message accepted"

    def kinds(self) -> list[str]:
        return [m["X-Alert-Kind"] for m in self.messages]


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()
