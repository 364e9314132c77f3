"""Connecting to a mailbox's IMAP server, and saying in one line why it did not work.

A sync that fails at 3 a.m. from cron is read later by someone who did not see it happen, so
every failure becomes one sentence naming the mailbox and the kind of failure (name lookup,
refused, timeout, TLS verification, authentication, missing folder), and carries whether it is
worth retrying: a sync exits 75 (EX_TEMPFAIL) for those, so schedulers try again later.

Certificates are always verified; `ca_file` adds trust for a private CA, it never turns
checking off. Clear text is refused except on loopback, where nobody can listen in.
"""

from __future__ import annotations

import contextlib
import errno
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from imapclient import IMAPClient, SocketTimeout
from imapclient.exceptions import (
    CapabilityError,
    IMAPClientAbortError,
    IMAPClientError,
    LoginError,
)

from supportdesk import secrets
from supportdesk.config import Mailbox, is_loopback
from supportdesk.errors import SupportdeskError

CONNECT_TIMEOUT = 15.0
READ_TIMEOUT = 120.0
"""Long enough for a 16 MB batch on a slow link; a dead connection is noticed within it."""

EX_TEMPFAIL = 75

Kind = Literal["lookup", "refused", "timeout", "network", "tls", "auth", "folder", "server", "busy"]


class ImapError(SupportdeskError):
    """One IMAP failure, worded for a person; `temporary` ones are worth retrying later."""

    def __init__(self, message: str, *, kind: Kind, temporary: bool = False) -> None:
        super().__init__(message)
        self.kind = kind
        self.temporary = temporary
        self.exit_code = EX_TEMPFAIL if temporary else 1

    @property
    def connection_lost(self) -> bool:
        """Whether the client this came from is unusable and a new one is needed."""
        return self.kind not in ("folder", "server", "busy")


@dataclass(frozen=True)
class FolderInfo:
    """What EXAMINE/SELECT says about a folder: all a sync needs to decide what to fetch."""

    name: str
    uidvalidity: int
    uidnext: int | None
    exists: int
    highestmodseq: int | None


def connect(
    mailbox: Mailbox, *, password: str | None = None, timeout: float = READ_TIMEOUT
) -> IMAPClient:
    """A logged-in client for `mailbox`, with CONDSTORE enabled where the server has it.

    `password` overrides the stored one (for `mailbox login`, which checks before saving).
    """
    secret = password
    try:
        try:
            client = _open(mailbox, timeout)
        except TimeoutError:
            raise ImapError(
                f"mailbox {mailbox.name!r}: {mailbox.imap_host}:{mailbox.imap_port} did not "
                f"answer within {CONNECT_TIMEOUT:g} s; is the server up, and does security = "
                f'"{mailbox.security}" match what that port speaks?',
                kind="timeout",
                temporary=True,
            ) from None
        try:
            secret = _login(client, mailbox, password)
            if client.has_capability("CONDSTORE") and client.has_capability("ENABLE"):
                client.enable("CONDSTORE")
        except BaseException:
            close(client)
            raise
    except (OSError, IMAPClientError) as exc:
        raise translate(exc, mailbox, secret=secret) from None
    return client


def close(client: IMAPClient, *, polite: bool = True) -> None:
    """Log out, or just drop the socket: LOGOUT on a dead link would wait out the read timeout."""
    if polite:
        try:
            client.logout()
            return
        except Exception:
            pass
    with contextlib.suppress(Exception):
        client.shutdown()


@contextlib.contextmanager
def session(mailbox: Mailbox, *, password: str | None = None) -> Iterator[IMAPClient]:
    """`connect` as a context manager: IMAP failures inside come out as ImapError."""
    client = connect(mailbox, password=password)
    try:
        with errors_as_imap(mailbox):
            yield client
    finally:
        close(client)


@contextlib.contextmanager
def errors_as_imap(mailbox: Mailbox) -> Iterator[None]:
    """Turn socket and protocol exceptions raised inside into one-line ImapErrors."""
    try:
        yield
    except (OSError, IMAPClientError) as exc:
        raise translate(exc, mailbox) from None


def tls_context(mailbox: Mailbox) -> ssl.SSLContext:
    """Verifying context; with `ca_file`, that CA is what the server's certificate must chain to."""
    cafile = str(mailbox.ca_file) if mailbox.ca_file is not None else None
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _open(mailbox: Mailbox, timeout: float) -> IMAPClient:
    host, port = mailbox.imap_host, mailbox.imap_port
    timeouts = SocketTimeout(connect=min(CONNECT_TIMEOUT, timeout), read=timeout)
    if mailbox.security == "tls":
        client = IMAPClient(
            host, port, ssl=True, ssl_context=tls_context(mailbox), timeout=timeouts
        )
    else:
        if mailbox.security == "none" and not is_loopback(host):
            raise ImapError(
                f'mailbox {mailbox.name!r}: security = "none" is only allowed for a loopback '
                f"host, not {host!r}",
                kind="tls",
            )
        client = IMAPClient(host, port, ssl=False, timeout=timeouts)
        if mailbox.security == "starttls":
            try:
                client.starttls(tls_context(mailbox))
            except CapabilityError:
                close(client)
                raise ImapError(
                    f"mailbox {mailbox.name!r}: {host}:{port} does not offer STARTTLS; "
                    'use security = "tls" with its TLS port (usually 993)',
                    kind="tls",
                ) from None
            except BaseException:
                close(client)
                raise
    client.normalise_times = False
    return client


def _login(client: IMAPClient, mailbox: Mailbox, password: str | None) -> str:
    """Log in and return the secret used, so error text can be scrubbed of it."""
    if mailbox.auth == "oauth2":
        token = secrets.oauth2_token(mailbox)
        try:
            client.oauth2_login(mailbox.username, token)
        except LoginError:
            # Tokens expire; a token command usually refreshes on its next run.
            token = secrets.oauth2_token(mailbox)
            client.oauth2_login(mailbox.username, token)
        return token
    secret = password if password is not None else secrets.mailbox_password(mailbox)
    client.login(mailbox.username, secret)
    return secret


def translate(exc: BaseException, mailbox: Mailbox, *, secret: str | None = None) -> ImapError:
    """One line for the person reading a cron mail: which mailbox, what kind, what to try."""
    if isinstance(exc, ImapError):
        return exc
    name = f"mailbox {mailbox.name!r}"
    where = f"{mailbox.imap_host}:{mailbox.imap_port}"
    detail = _detail(exc, secret)
    if isinstance(exc, socket.gaierror):
        retry = exc.errno in (socket.EAI_AGAIN, getattr(socket, "EAI_NODATA", -5))
        return ImapError(
            f"{name}: name lookup of IMAP server {mailbox.imap_host!r} failed ({detail}); "
            "check imap_host",
            kind="lookup",
            temporary=retry,
        )
    if isinstance(exc, ConnectionRefusedError):
        return ImapError(
            f"{name}: {where} refused the connection; is the server up and imap_port right?",
            kind="refused",
            temporary=True,
        )
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = exc.verify_message or detail
        hint = (
            "is ca_file the CA that signed the server's certificate?"
            if mailbox.ca_file
            else "if the server uses a private CA, set ca_file to it"
        )
        return ImapError(
            f"{name}: TLS certificate verification failed for {where} ({reason}); {hint}",
            kind="tls",
        )
    if isinstance(exc, ssl.SSLError):
        return ImapError(
            f"{name}: TLS handshake with {where} failed ({detail}); does security = "
            f'"{mailbox.security}" match what port {mailbox.imap_port} speaks?',
            kind="tls",
        )
    if isinstance(exc, TimeoutError):
        return ImapError(
            f"{name}: {where} did not answer in time; the server or the network is slow or down",
            kind="timeout",
            temporary=True,
        )
    if isinstance(exc, LoginError):
        return ImapError(
            f"{name}: the server refused the login of {mailbox.username!r} ({detail}); "
            + (
                "check token_command"
                if mailbox.auth == "oauth2"
                else f"run `supportdesk mailbox login {mailbox.name}` to store the right password"
            ),
            kind="auth",
        )
    if isinstance(exc, IMAPClientAbortError):
        return ImapError(
            f"{name}: {where} closed the connection ({detail})", kind="network", temporary=True
        )
    if isinstance(exc, IMAPClientError):
        return ImapError(f"{name}: the IMAP server said: {detail}", kind="server")
    if isinstance(exc, OSError):
        unreachable = exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN)
        what = "cannot be reached" if unreachable else "connection failed"
        return ImapError(f"{name}: {where} {what} ({detail})", kind="network", temporary=True)
    return ImapError(f"{name}: {detail}", kind="server")


def _detail(exc: BaseException, secret: str | None) -> str:
    text = str(exc)
    if text.startswith(("b'", 'b"')) and text.endswith(("'", '"')):
        text = text[2:-1]
    text = " ".join(text.split()) or type(exc).__name__
    if secret:
        text = text.replace(secret, "***")
    return text[:300]


def open_folder(client: IMAPClient, mailbox: Mailbox, folder: str, *, readonly: bool) -> FolderInfo:
    """EXAMINE (or SELECT, when we will change flags) `folder`; a missing one is named as such."""
    try:
        response = client.select_folder(folder, readonly=readonly)
    except IMAPClientAbortError:
        raise
    except IMAPClientError:
        if not client.folder_exists(folder):
            raise missing_folder(client, mailbox, folder) from None
        raise
    return FolderInfo(
        name=folder,
        uidvalidity=int(response[b"UIDVALIDITY"]),
        uidnext=_int_or_none(response.get(b"UIDNEXT")),
        exists=int(response.get(b"EXISTS", 0)),
        highestmodseq=_int_or_none(response.get(b"HIGHESTMODSEQ")),
    )


def missing_folder(client: IMAPClient, mailbox: Mailbox, folder: str) -> ImapError:
    names = folder_names(client)
    shown = ", ".join(names[:15]) + (", …" if len(names) > 15 else "")
    return ImapError(
        f"mailbox {mailbox.name!r}: folder {folder!r} does not exist on the server "
        f"(it has: {shown or 'no folders'})",
        kind="folder",
    )


def folder_names(client: IMAPClient) -> list[str]:
    return sorted(str(name) for _flags, _sep, name in client.list_folders())


def _int_or_none(value: Any) -> int | None:
    """`value` is whatever IMAPClient's untyped response held: bytes, an int or nothing."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class FolderCounts:
    name: str
    messages: int
    unseen: int
    uidnext: int | None
    uidvalidity: int


@dataclass
class Probe:
    """What `mailbox test` shows: the server as this mailbox sees it."""

    mailbox: str
    server: str
    security: str
    seconds: float
    capabilities: list[str] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)
    counts: list[FolderCounts] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def probe(mailbox: Mailbox) -> Probe:
    """Connect, log in, list folders and count the configured ones; nothing is changed."""
    started = time.monotonic()
    with session(mailbox) as client:
        result = Probe(
            mailbox=mailbox.name,
            server=f"{mailbox.imap_host}:{mailbox.imap_port}",
            security=mailbox.security,
            seconds=0.0,
            capabilities=sorted(c.decode("ascii", "replace") for c in client.capabilities()),
            folders=folder_names(client),
        )
        wanted = list(mailbox.folders)
        if mailbox.move_to is not None:
            wanted.append(mailbox.move_to)
        known = set(result.folders)
        for folder in wanted:
            if folder not in known and not (folder.upper() == "INBOX" and "INBOX" in known):
                result.missing.append(folder)
                continue
            status = client.folder_status(
                folder, [b"MESSAGES", b"UNSEEN", b"UIDNEXT", b"UIDVALIDITY"]
            )
            result.counts.append(
                FolderCounts(
                    name=folder,
                    messages=int(status[b"MESSAGES"]),
                    unseen=int(status[b"UNSEEN"]),
                    uidnext=_int_or_none(status.get(b"UIDNEXT")),
                    uidvalidity=int(status[b"UIDVALIDITY"]),
                )
            )
    result.seconds = time.monotonic() - started
    return result
