"""A real SMTP server on loopback for tests (aiosmtpd), which can be told to fail."""

from __future__ import annotations

import threading
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller

from tests.conftest import free_port


class Mailbox:
    """Collects what the server accepted; refuses the first ``fail_first`` messages."""

    def __init__(self, fail_first: int = 0):
        self.messages = []
        self.fail_first = fail_first
        self.refused = 0
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self._lock:
            if self.refused < self.fail_first:
                self.refused += 1
                return "451 4.3.0 Temporary failure, try again later"
            self.messages.append(
                (envelope.rcpt_tos, message_from_bytes(envelope.content, policy=policy.default))
            )
        return "250 OK"

    def to(self, address: str):
        return [message for rcpts, message in self.messages if address in rcpts]


class SMTPServer:
    def __init__(self, fail_first: int = 0, port: int | None = None):
        self.mailbox = Mailbox(fail_first)
        self.port = port or free_port()
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()

    @property
    def settings(self) -> dict:
        return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": self.port}
