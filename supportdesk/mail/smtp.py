"""Sending over SMTP: one verified connection per batch, and the exact moment of the handover.

`SmtpSession.deliver` speaks MAIL, RCPT and DATA itself (not smtplib's sendmail) because the
outbox needs to act at one precise point: after the server said 354 and before the first byte
of the message goes out. The caller's `on_handover` runs there (the outbox commits "handed
over" to the store). Before it, a failure means the server cannot have the message, so it may
be sent again; after it, a lost connection means nobody knows (HandoverLost), and the message
is never resent blindly.

Every server answer is classified: 2xx done, 4xx temporary (retry later), 5xx permanent (a
person must act), with the server's own words kept for them. Certificates are always
verified (`ca_file` adds a private CA); clear text only to a loopback host.
"""

from __future__ import annotations

import contextlib
import re
import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from supportdesk import secrets
from supportdesk.config import Mailbox, is_loopback
from supportdesk.errors import SupportdeskError

CONNECT_TIMEOUT = 30.0
COMMAND_TIMEOUT = 120.0
"""RFC 5321 suggests minutes for the answer to the final dot; a dead link shows within it."""


class SmtpError(SupportdeskError):
    """An SMTP failure in one line; `temporary` ones are worth retrying later.

    `connection` is True when the session is unusable afterwards (reconnect first).
    """

    def __init__(
        self,
        message: str,
        *,
        temporary: bool,
        code: int | None = None,
        connection: bool = False,
    ) -> None:
        super().__init__(message)
        self.temporary = temporary
        self.code = code
        self.connection = connection


class HandoverLost(SmtpError):
    """The message was (maybe) handed over but the server's answer never came."""

    def __init__(self, message: str) -> None:
        super().__init__(message, temporary=False, connection=True)


@dataclass(frozen=True)
class Accepted:
    code: int
    words: str


def _words(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return " ".join(text.split())[:500]


def tls_context(mailbox: Mailbox) -> ssl.SSLContext:
    cafile = str(mailbox.ca_file) if mailbox.ca_file is not None else None
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class SmtpSession:
    """One logged-in SMTP connection for a mailbox; use as a context manager."""

    def __init__(self, mailbox: Mailbox, *, timeout: float = COMMAND_TIMEOUT) -> None:
        if mailbox.smtp_host is None:
            raise SmtpError(
                f"mailbox {mailbox.name!r} has no smtp_host: it cannot send", temporary=False
            )
        self.mailbox = mailbox
        self.where = f"{mailbox.smtp_host}:{mailbox.smtp_port}"
        self.name = f"mailbox {mailbox.name!r}"
        self.delivered = 0
        self._secret: str | None = None
        try:
            self.client = self._open(timeout)
        except SmtpError:
            raise
        except (OSError, smtplib.SMTPException) as exc:
            raise self._translate(exc) from None

    def __enter__(self) -> SmtpSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open(self, timeout: float) -> smtplib.SMTP:
        m = self.mailbox
        host = m.smtp_host or ""
        if m.smtp_security == "none" and not is_loopback(host):
            raise SmtpError(
                f'{self.name}: smtp_security = "none" is only allowed for a loopback host',
                temporary=False,
            )
        client: smtplib.SMTP
        if m.smtp_security == "tls":
            client = smtplib.SMTP_SSL(
                host, m.smtp_port, timeout=CONNECT_TIMEOUT, context=tls_context(m)
            )
        else:
            client = smtplib.SMTP(host, m.smtp_port, timeout=CONNECT_TIMEOUT)
        try:
            client.ehlo()
            if m.smtp_security == "starttls":
                if not client.has_extn("starttls"):
                    raise SmtpError(
                        f"{self.name}: {self.where} does not offer STARTTLS; use "
                        'smtp_security = "tls" with its TLS port (usually 465)',
                        temporary=False,
                    )
                client.starttls(context=tls_context(m))
                client.ehlo()
            if client.sock is not None:
                client.sock.settimeout(timeout)
            if m.smtp_auth == "login":
                self._login(client)
        except BaseException:
            _drop(client)
            raise
        return client

    def _login(self, client: smtplib.SMTP) -> None:
        m = self.mailbox
        if not client.has_extn("auth"):
            raise SmtpError(
                f"{self.name}: {self.where} offers no login (AUTH); if it relays without one, "
                'set smtp_auth = "none"',
                temporary=False,
            )
        if m.auth == "oauth2" and m.smtp_password_command is None:
            token = self._secret = secrets.oauth2_token(m)
            user = m.smtp_username
            client.auth(
                "XOAUTH2",
                lambda _challenge=None: f"user={user}\x01auth=Bearer {token}\x01\x01",
                initial_response_ok=True,
            )
            return
        password = self._secret = secrets.smtp_password(m)
        client.login(m.smtp_username, password)

    def deliver(
        self,
        envelope_from: str,
        recipients: Sequence[str],
        raw: bytes,
        on_handover: Callable[[], None],
    ) -> Accepted:
        """Send one message; returns the server's 250, or raises.

        SmtpError before `on_handover` ran (the server cannot have the message); after it,
        SmtpError for an answer that refused it, or HandoverLost when no answer came.
        """
        client = self.client
        try:
            code, reply = client.mail(envelope_from)
            if code != 250:
                self._reset()
                raise self._refused("MAIL FROM", code, reply)
            for rcpt in recipients:
                code, reply = client.rcpt(rcpt)
                if code not in (250, 251):
                    self._reset()
                    raise self._refused(f"RCPT TO {rcpt}", code, reply)
            client.putcmd("data")
            code, reply = client.getreply()
            if code != 354:
                self._reset()
                raise self._refused("DATA", code, reply)
        except SmtpError:
            raise
        except (OSError, smtplib.SMTPException) as exc:
            error = self._translate(exc)
            error.connection = True
            raise error from None
        try:
            on_handover()
        except BaseException:
            _drop(client)  # a DATA never finished is discarded by the server
            raise
        try:
            client.send(_dot_stuffed(raw))
            code, reply = client.getreply()
        except (OSError, smtplib.SMTPException) as exc:
            raise HandoverLost(
                f"{self.name}: the connection to {self.where} was lost after the message was "
                f"handed over and before the server answered ({_words(str(exc))})"
            ) from None
        if code != 250:
            raise self._refused("the message", code, reply)
        self.delivered += 1
        return Accepted(code, _words(reply))

    def _reset(self) -> None:
        with contextlib.suppress(OSError, smtplib.SMTPException):
            self.client.rset()

    def _refused(self, step: str, code: int, reply: bytes) -> SmtpError:
        words = _words(reply)
        if code == -1 or code == 421:
            return SmtpError(
                f"{self.name}: {self.where} closed the connection at {step}: {code} {words}",
                temporary=True,
                code=code,
                connection=True,
            )
        temporary = 400 <= code < 500
        kind = "temporarily refused" if temporary else "refused"
        return SmtpError(
            f"{self.name}: {self.where} {kind} {step}: {code} {words}",
            temporary=temporary,
            code=code,
        )

    def _translate(self, exc: BaseException) -> SmtpError:
        detail = _words(str(exc))
        if self._secret:
            detail = detail.replace(self._secret, "***")
        name, where = self.name, self.where
        if isinstance(exc, socket.gaierror):
            return SmtpError(
                f"{name}: name lookup of SMTP server {self.mailbox.smtp_host!r} failed "
                f"({detail}); check smtp_host",
                temporary=exc.errno == socket.EAI_AGAIN,
                connection=True,
            )
        if isinstance(exc, ConnectionRefusedError):
            return SmtpError(
                f"{name}: {where} refused the connection; is the server up and smtp_port right?",
                temporary=True,
                connection=True,
            )
        if isinstance(exc, ssl.SSLCertVerificationError):
            hint = (
                "is ca_file the CA that signed the server's certificate?"
                if self.mailbox.ca_file
                else "if the server uses a private CA, set ca_file to it"
            )
            return SmtpError(
                f"{name}: TLS certificate verification failed for {where} "
                f"({exc.verify_message or detail}); {hint}",
                temporary=False,
                connection=True,
            )
        if isinstance(exc, ssl.SSLError):
            return SmtpError(
                f"{name}: TLS handshake with {where} failed ({detail}); does smtp_security = "
                f'"{self.mailbox.smtp_security}" match what port {self.mailbox.smtp_port} speaks?',
                temporary=False,
                connection=True,
            )
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            temporary = 400 <= exc.smtp_code < 500
            return SmtpError(
                f"{name}: {where} refused the login of {self.mailbox.smtp_username!r} "
                f"({exc.smtp_code} {_words(exc.smtp_error)}); check the password "
                "(smtp_password_command, or `supportdesk mailbox login`)",
                temporary=temporary,
                code=exc.smtp_code,
                connection=True,
            )
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            return SmtpError(f"{name}: {where}: {detail}", temporary=False, connection=True)
        if isinstance(exc, smtplib.SMTPResponseException):
            return SmtpError(
                f"{name}: {where} said {exc.smtp_code} {_words(exc.smtp_error)}",
                temporary=400 <= exc.smtp_code < 500,
                code=exc.smtp_code,
                connection=True,
            )
        if isinstance(exc, TimeoutError | socket.timeout):
            return SmtpError(
                f"{name}: {where} did not answer in time", temporary=True, connection=True
            )
        return SmtpError(
            f"{name}: connection to {where} failed ({detail})", temporary=True, connection=True
        )

    def close(self) -> None:
        try:
            self.client.quit()
        except (OSError, smtplib.SMTPException):
            _drop(self.client)


@dataclass
class SmtpProbe:
    """What `mailbox test` shows of a mailbox's SMTP side: reachable, TLS, login, limits."""

    server: str
    security: str
    logged_in: bool
    seconds: float
    extensions: list[str] = field(default_factory=list)
    size_limit: int | None = None


def probe(mailbox: Mailbox) -> SmtpProbe:
    """Connect, verify TLS and log in as the sender would, then quit; nothing is sent.

    A new user's SMTP mistakes (port, security, password) show here, not as a reply that
    sits in the outbox.
    """
    started = time.monotonic()
    with SmtpSession(mailbox, timeout=CONNECT_TIMEOUT) as smtp:
        features = smtp.client.esmtp_features
        size = features.get("size", "").strip()
        result = SmtpProbe(
            server=smtp.where,
            security=mailbox.smtp_security,
            logged_in=mailbox.smtp_auth == "login",
            seconds=0.0,
            extensions=sorted(name.upper() for name in features),
            size_limit=int(size) if size.isdigit() and int(size) > 0 else None,
        )
    result.seconds = time.monotonic() - started
    return result


def _drop(client: smtplib.SMTP) -> None:
    with contextlib.suppress(OSError):
        client.close()


_LEADING_DOT = re.compile(rb"(?m)^\.")


def _dot_stuffed(raw: bytes) -> bytes:
    data = re.sub(rb"\r?\n", b"\r\n", raw)
    data = _LEADING_DOT.sub(b"..", data)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"
