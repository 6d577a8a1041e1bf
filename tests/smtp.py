"""A real SMTP server on the loopback interface (aiosmtpd) that keeps what it receives.

Used by the notification tests: the app sends through ``smtplib`` to this server, and the
tests read the messages it received (sender, recipients, headers and body).
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

__all__ = ["Received", "SmtpSink", "free_port"]


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Received:
    """One message as the server received it."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def body(self) -> str:
        """Return the plain-text body."""
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""


@dataclass
class SmtpSink:
    """An aiosmtpd server on 127.0.0.1; ``received`` holds every message, in order.

    ``refuse`` makes it answer DATA with a temporary failure (451); ``logins`` maps a
    user to a password and makes it require AUTH (allowed without TLS on loopback).
    """

    port: int = field(default_factory=free_port)
    logins: dict[str, str] | None = None
    refuse: bool = False
    received: list[Received] = field(default_factory=list)
    _controller: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's name)
        if self.refuse:
            return "451 Requested action aborted: try again later"
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self._lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def _authenticate(self, server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
        from aiosmtpd.smtp import AuthResult, LoginPassword

        ok = (
            isinstance(auth_data, LoginPassword)
            and self.logins is not None
            and self.logins.get(auth_data.login.decode()) == auth_data.password.decode()
        )
        # not handled: aiosmtpd then answers a refusal with 535, as a real server does (handled,
        # it answered nothing and the client waited for its timeout)
        return AuthResult(success=ok, handled=False)

    def start(self) -> SmtpSink:
        """Start listening (returns when the server answers)."""
        from aiosmtpd.controller import Controller

        options: dict[str, Any] = {}
        if self.logins is not None:
            options = {
                "authenticator": self._authenticate,
                "auth_required": True,
                "auth_require_tls": False,
            }
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, **options)
        self._controller.start()
        return self

    def stop(self) -> None:
        """Stop listening (a client then finds the port closed)."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def to(self, address: str) -> list[Received]:
        """Return the messages sent to this address."""
        return [r for r in self.received if address in r.rcpt_tos]

    def env(self) -> dict[str, str]:
        """Return the app's settings that send through this server."""
        return {
            "SAFER_SPACES_SMTP_HOST": "127.0.0.1",
            "SAFER_SPACES_SMTP_PORT": str(self.port),
            "SAFER_SPACES_SMTP_TLS": "none",
            "SAFER_SPACES_SMTP_FROM": "safer-spaces@test.example",
            "SAFER_SPACES_BASE_URL": "https://safer-spaces.test.example",
        }
