"""A real SMTP server for the sending tests: aiosmtpd on a loopback port, in a thread.

The handler records every message it accepts and can be told, per test, to answer DATA with
scripted codes (451, 550), to require a login, or to stop at a chosen moment (in RCPT, or
inside DATA once the whole message has arrived) until the test releases it: that is how a
sender is killed "before", "during" and "after" DATA.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.imap_server import HOST, free_port

USER = "smtp-user@desk.example"
PASSWORD = "s3cret-smtp"
PAUSE_LIMIT = 60.0


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes


@dataclass
class Recorder:
    """The aiosmtpd handler: what arrived, and what to answer."""

    messages: list[Received] = field(default_factory=list)
    data_replies: deque[str] = field(default_factory=deque)
    pause_in_rcpt: bool = False
    pause_in_data: bool = False
    on_data: Callable[[Received], None] | None = None
    reached: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    async def _pause(self) -> None:
        self.reached.set()
        await asyncio.get_running_loop().run_in_executor(None, self.release.wait, PAUSE_LIMIT)

    async def handle_RCPT(
        self, server: object, session: object, envelope: object, address: str, options: object
    ) -> str:
        if self.pause_in_rcpt:
            await self._pause()
        envelope.rcpt_tos.append(address)  # type: ignore[attr-defined]
        return "250 OK"

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        if self.data_replies and self.data_replies[0].startswith("5"):
            return self.data_replies.popleft()
        if self.data_replies and self.data_replies[0].startswith("4"):
            return self.data_replies.popleft()
        received = Received(
            envelope.mail_from,  # type: ignore[attr-defined]
            list(envelope.rcpt_tos),  # type: ignore[attr-defined]
            envelope.original_content or envelope.content,  # type: ignore[attr-defined]
        )
        self.messages.append(received)
        if self.on_data is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.on_data, received)
        if self.pause_in_data:
            await self._pause()
        return "250 2.0.0 Message accepted"


def _authenticate(
    server: object, session: object, envelope: object, mechanism: str, data: object
) -> AuthResult:
    if isinstance(data, LoginPassword):
        ok = data.login.decode() == USER and data.password.decode() == PASSWORD
        return AuthResult(success=ok, handled=False)
    return AuthResult(success=False, handled=False)


@dataclass
class SmtpServer:
    recorder: Recorder
    controller: Controller
    port: int

    def stop(self) -> None:
        self.recorder.release.set()
        self.controller.stop()


def start_server(
    *,
    tls: Path | None = None,
    implicit_tls: bool = False,
    require_auth: bool = False,
    port: int | None = None,
) -> SmtpServer:
    """Start aiosmtpd; `tls` is a dir holding cert.pem and key.pem (STARTTLS, or implicit)."""
    recorder = Recorder()
    kwargs: dict[str, object] = {}
    context = None
    if tls is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(tls / "cert.pem", tls / "key.pem")
    if context is not None and implicit_tls:
        kwargs["ssl_context"] = context
    elif context is not None:
        kwargs["tls_context"] = context
        kwargs["require_starttls"] = True
    if require_auth:
        kwargs["authenticator"] = _authenticate
        kwargs["auth_required"] = True
        kwargs["auth_require_tls"] = tls is not None
    chosen = port or free_port()
    controller = Controller(
        recorder, hostname=HOST, port=chosen, server_hostname="localhost", **kwargs
    )
    controller.start()
    return SmtpServer(recorder, controller, chosen)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = start_server()
    yield server
    server.stop()
