"""config.toml: one strictly validated settings model, and errors a person can act on.

A misspelt key that is silently ignored costs an afternoon, so every table forbids unknown
keys, nothing is coerced from one type to another, and every problem becomes one line that
names the file, the dotted key and what was expected.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
import shlex
import tomllib
import types
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from urllib.parse import unquote, urlsplit, urlunsplit

import annotated_types
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic import ValidationError as PydanticValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from supportdesk.errors import ConfigError, NotFoundError
from supportdesk.i18n import N_, _, ngettext
from supportdesk.paths import default_config_path, default_store_path, demo_store_path

CONFIG_ENV = "SUPPORTDESK_CONFIG"
EXPLICIT_SOURCE = "--config/$SUPPORTDESK_CONFIG"
DEFAULT_SOURCE = "default"
DATABASE_URL_PREFIXES = ("sqlite:///", "postgresql://", "postgresql+psycopg://")

_MAILBOX_NAME = re.compile(r"[a-z0-9_-]+")
_SMTP_COMMAND = "smtp_password_command"
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
# The same shapes the domain layer accepts (supportdesk.desk.directory), checked here so a
# typo is caught by `config check` instead of at the first sync.
_HANDLE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_QUEUE = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")


class _Problem(ValueError):
    """A validator's complaint, already worded for a person.

    `at` extends the key the error is reported under, so a check made on a whole mailbox can
    still point at the one key that is wrong.
    """

    def __init__(self, message: str, *, at: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.at = at


def _non_empty(value: str) -> str:
    if not value.strip():
        raise _Problem(_("expected a non-empty string"))
    return value


def _command(value: str) -> str:
    try:
        words = shlex.split(value)
    except ValueError as exc:
        raise _Problem(_("cannot be split into words: {exc}").format(exc=exc)) from None
    if not words:
        raise _Problem(_("expected a command, got an empty string"))
    return value


NonEmptyStr = Annotated[str, AfterValidator(_non_empty)]
Command = Annotated[str, AfterValidator(_command)]


class _Table(BaseModel):
    # Each setting is documented by the docstring under it (see `setting_docs`). Pydantic's
    # use_attribute_docstrings would read them on every start, walking every loaded module
    # per class: ~40 ms of each `supportdesk sync` run from cron, for text no run shows.
    model_config = ConfigDict(extra="forbid", strict=True)


class BulkSettings(_Table):
    """Safety limits for bulk commands run from a shell."""

    confirm_above: int = Field(default=50, ge=0)
    """Bulk commands ask before touching more tickets than this, unless --yes is given."""


class SyncSettings(_Table):
    """How mail is fetched from IMAP."""

    max_message_bytes: int = Field(default=26_214_400, gt=0)
    """Messages larger than this are recorded but not downloaded, so one huge mail cannot
    stall a sync."""

    batch_size: int = Field(default=500, ge=1, le=1000)
    """Messages fetched per IMAP FETCH; each batch commits together with the sync position.
    Larger batches sync faster (fewer commits); each one holds the write lock well under a
    second, so the console never waits long."""

    poll_seconds: int = Field(default=60, ge=5)
    """Seconds between polls in `sync --watch` for servers without IDLE."""

    idle_refresh_minutes: int = Field(default=9, ge=1, le=29)
    """IDLE is re-issued after this many minutes: servers may drop it after 29 (RFC 2177)."""


class ConsoleSettings(_Table):
    """How the console behaves."""

    selection: Literal["follow", "stay"] = "follow"
    """After a change reorders the list (yours, or another process's): "follow" keeps the
    cursor on the ticket wherever it moved; "stay" keeps the cursor on the same row, which
    then shows another ticket, and the status line says so."""

    idle_seconds: int = Field(default=120, ge=10, le=3600)
    """Handle time stops this many seconds after the agent's last key, click or scroll
    (and at once when the terminal loses focus): reading counts, a console left open does not."""

    desktop_notify: Literal["osc9", "osc777", "bell", "off"] = "osc9"
    """How a new notification reaches the desktop through the terminal, beside the toast:
    "osc9" (iTerm2, WezTerm, Windows Terminal, kitty), "osc777" (VTE terminals such as
    GNOME Terminal, foot), "bell" (the terminal's bell), or "off"."""


class SavedSearch(_Table):
    """A named query, shown beside the queues in the console."""

    name: NonEmptyStr
    """The label shown in the console; unique."""

    query: NonEmptyStr
    """A query in the supportdesk query language, as typed in the search box."""


class Mailbox(_Table):
    """One IMAP account that supportdesk pulls support mail from."""

    name: str
    """Short unique id used on the command line (`sync support`) and in the keyring."""

    address: str
    """The support address people write to; also the default login name."""

    imap_host: str
    """The IMAP server's host name or IP address."""

    imap_port: int = Field(ge=1, le=65535)
    """Defaults to 993 with security = "tls", 143 otherwise."""

    security: Literal["tls", "starttls", "none"] = "tls"
    """Transport security: "tls" (implicit TLS), "starttls", or "none" (loopback hosts only)."""

    username: NonEmptyStr
    """The IMAP login name; defaults to `address`."""

    folders: list[str] = Field(default_factory=lambda: ["INBOX"])
    """Folders to import from."""

    default_queue: str | None = None
    """The queue new tickets from this mailbox land in when no rule routes them."""

    auth: Literal["password", "oauth2"] = "password"
    """How to log in: "password" (keyring or password_command) or "oauth2" (token_command)."""

    password_command: Command | None = None
    """A command printing the password, for machines without a keyring; run without a shell."""

    token_command: Command | None = None
    """A command printing a fresh OAuth2 access token; required when auth = "oauth2"."""

    after_import: Literal["leave", "mark-seen", "move"] = "leave"
    """What to do with a message on the server once imported; "leave" keeps \\Seen untouched."""

    move_to: NonEmptyStr | None = None
    """The folder imported messages are moved to; required when after_import = "move"."""

    ca_file: Path | None = Field(default=None, strict=False)
    """A CA bundle to trust for a self-signed server; certificates are always verified."""

    smtp_host: str | None = None
    """The SMTP server replies from this mailbox are sent through; unset: it sends nothing."""

    smtp_port: int = Field(default=587, ge=1, le=65535)
    """Defaults to 465 with smtp_security = "tls", 587 with "starttls", 25 with "none"."""

    smtp_security: Literal["tls", "starttls", "none"] = "starttls"
    """"tls" (implicit TLS, port 465), "starttls" (port 587), or "none" (loopback hosts only)."""

    smtp_auth: Literal["login", "none"] = "login"
    """"login" with the mailbox's credentials (XOAUTH2 when auth = "oauth2"), or "none" for a
    relay that takes mail without a login."""

    smtp_username: NonEmptyStr
    """The SMTP login name; defaults to `username`."""

    smtp_password_command: Command | None = None
    """A command printing the SMTP password, when it differs from the IMAP one."""

    from_address: str
    """The address replies are sent from; defaults to `address`."""

    from_name: str = ""
    """The display name replies are sent under, e.g. "Example Support"."""

    charset: Literal["utf-8", "iso-2022-jp"] = "utf-8"
    """Charset of outgoing mail: "utf-8", or "iso-2022-jp" for Japanese recipients whose
    clients need it (text it cannot hold is sent as UTF-8 instead)."""

    sent_folder: NonEmptyStr = "Sent"
    """The IMAP folder a copy of each sent reply is appended to."""

    sent_copy: bool = True
    """Append sent replies to sent_folder; false where the provider files sent mail itself
    (Gmail, Microsoft 365), or copies would be doubled."""

    bcc_self: bool = False
    """Also send each reply to this mailbox's own address, so the inbox holds a copy."""

    @model_validator(mode="before")
    @classmethod
    def _defaults_and_no_passwords(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        for key in data:
            if "password" in key.lower() and key not in ("password_command", _SMTP_COMMAND):
                name = data.get("name")
                login = name if isinstance(name, str) and name else "NAME"
                raise _Problem(
                    _(
                        "passwords never go in config: use `supportdesk mailbox "
                        "login {login}` (keyring) or password_command"
                    ).format(login=login),
                    at=(key,),
                )
        data = dict(data)
        data.setdefault("imap_port", 993 if data.get("security", "tls") == "tls" else 143)
        if "username" not in data and isinstance(data.get("address"), str):
            data["username"] = data["address"]
        if "smtp_username" not in data and isinstance(data.get("username"), str):
            data["smtp_username"] = data["username"]
        if "from_address" not in data and isinstance(data.get("address"), str):
            data["from_address"] = data["address"]
        smtp_ports = {"tls": 465, "starttls": 587, "none": 25}
        data.setdefault("smtp_port", smtp_ports.get(data.get("smtp_security", "starttls"), 587))
        return data

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _MAILBOX_NAME.fullmatch(value):
            raise _Problem(
                _("expected lowercase letters, digits, '-' or '_'; got {value!r}").format(
                    value=value
                )
            )
        return value

    @field_validator("address")
    @classmethod
    def _check_address(cls, value: str) -> str:
        if not _EMAIL.fullmatch(value):
            raise _Problem(_("expected an email address; got {value!r}").format(value=value))
        return value

    @field_validator("imap_host", "smtp_host")
    @classmethod
    def _check_host(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value or any(c.isspace() for c in value) or "/" in value:
            raise _Problem(
                _("expected a host name or IP address (not a URL); got {value!r}").format(
                    value=value
                )
            )
        return value

    @field_validator("from_address")
    @classmethod
    def _check_from(cls, value: str) -> str:
        if not _EMAIL.fullmatch(value) or not value.isascii():
            raise _Problem(_("expected an email address; got {value!r}").format(value=value))
        return value

    @field_validator("from_name")
    @classmethod
    def _check_from_name(cls, value: str) -> str:
        if any(c in value for c in "\r\n\0"):
            raise _Problem(_("a display name is one line: no line breaks"))
        return value

    @field_validator("default_queue")
    @classmethod
    def _check_queue(cls, value: str | None) -> str | None:
        if value is not None and not _QUEUE.fullmatch(value):
            raise _Problem(
                _(
                    "expected a queue name (lower-case letters, digits, '.', "
                    "'_', '-'); got {value!r}"
                ).format(value=value)
            )
        return value

    @field_validator("folders")
    @classmethod
    def _check_folders(cls, value: list[str]) -> list[str]:
        if not value:
            raise _Problem(_('expected at least one folder, e.g. ["INBOX"]'))
        seen: set[str] = set()
        for index, folder in enumerate(value):
            if not folder.strip():
                raise _Problem(_("expected a folder name, got an empty string"), at=(index,))
            if folder in seen:
                raise _Problem(
                    _("folder {folder!r} is listed twice").format(folder=folder), at=(index,)
                )
            seen.add(folder)
        return value

    @field_validator("ca_file")
    @classmethod
    def _check_ca_file(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None:
            return None
        path = value.expanduser()
        if not path.is_absolute():
            base = (info.context or {}).get("config_dir")
            path = (Path(base) if base else Path.cwd()) / path
        if not path.is_file():
            raise _Problem(_("no such file: {path}").format(path=path))
        return path

    @model_validator(mode="after")
    def _check_combinations(self) -> Mailbox:
        if self.security == "none" and not is_loopback(self.imap_host):
            raise _Problem(
                _(
                    '"none" sends the login in clear text, so it is only allowed '
                    "for a loopback imap_host (127.0.0.0/8, ::1, localhost); got "
                    "{imap_host!r}"
                ).format(imap_host=self.imap_host),
                at=("security",),
            )
        if self.auth == "oauth2" and self.token_command is None:
            raise _Problem(_('required when auth = "oauth2"'), at=("token_command",))
        if self.auth != "oauth2" and self.token_command is not None:
            raise _Problem(_('only used when auth = "oauth2"'), at=("token_command",))
        if self.auth == "oauth2" and self.password_command is not None:
            raise _Problem(_('not used when auth = "oauth2"'), at=("password_command",))
        if self.after_import == "move" and self.move_to is None:
            raise _Problem(_('required when after_import = "move"'), at=("move_to",))
        if self.after_import != "move" and self.move_to is not None:
            raise _Problem(_('only used when after_import = "move"'), at=("move_to",))
        if (
            self.smtp_host is not None
            and self.smtp_security == "none"
            and not is_loopback(self.smtp_host)
        ):
            raise _Problem(
                _(
                    '"none" sends mail and the login in clear text, so it is '
                    "only allowed for a loopback smtp_host (127.0.0.0/8, ::1, "
                    "localhost); got {smtp_host!r}"
                ).format(smtp_host=self.smtp_host),
                at=("smtp_security",),
            )
        if self.smtp_password_command is not None and self.smtp_auth == "none":
            raise _Problem(_('not used when smtp_auth = "none"'), at=(_SMTP_COMMAND,))
        return self

    @property
    def sends(self) -> bool:
        """Whether replies can go out through this mailbox (it has an SMTP server)."""
        return self.smtp_host is not None


class ComposeSettings(_Table):
    """How replies are written."""

    signature: str | None = None
    """Your signature, added below each reply after "-- "; default: the agent's signature
    in the store (`supportdesk agents`)."""

    quote_original: bool = False
    """Start replies with the message being answered quoted below ("> ")."""


class SendSettings(_Table):
    """How the outbox is sent."""

    max_per_connection: int = Field(default=100, ge=1, le=10000)
    """Messages sent over one SMTP connection before it is renewed (servers cap this)."""

    give_up_hours: int = Field(default=72, ge=1)
    """A reply that still fails temporarily after this long is marked failed for a person."""

    poll_seconds: int = Field(default=5, ge=1, le=3600)
    """How often `sync --watch` looks for queued replies to send."""


class CsatSettings(_Table):
    """Satisfaction ratings by mail (docs/METRICS.md, CSAT)."""

    enabled: bool = False
    """Mail the requester a rating request (five mailto: links) when a ticket is solved."""

    canned: str = "csat-request"
    """The canned reply of the request; its language variants are used per customer. It
    may use {rating.links} or {rating.link_1}…{rating.link_5}. The default one is created
    (English and Japanese) the first time it is needed."""

    canned_by_language: dict[str, str] = Field(default={})
    """Another canned reply for customers writing in a language, e.g. {ja = "csat-ja"}."""

    key_command: Command | None = None
    """A command printing the key that signs rating links; default: the keyring entry made
    by `supportdesk csat key --generate`. Never put the key itself in this file."""

    delay_minutes: int = Field(default=0, ge=0, le=10080)
    """Wait this long after the solve before asking (a ticket reopened meanwhile is not asked)."""

    valid_days: int = Field(default=30, ge=1, le=365)
    """A rating link older than this is ignored (and counted as expired)."""

    repeat_days: int = Field(default=14, ge=0, le=365)
    """A ticket solved again within this many days of its last request is not asked again."""


class NotificationSettings(_Table):
    """Notifications by mail for agents who are away (desk.digest)."""

    digest_minutes: int = Field(default=0, ge=0, le=10080)
    """Mail each agent who is away one digest of their unread notifications at most this
    often, to their own address in the store (`supportdesk agents`); 0: no digest. Sent by
    the `sync --watch` that feeds the store, through the outbox."""

    away_minutes: int = Field(default=10, ge=1, le=1440)
    """An agent none of whose consoles has beaten for this long is away (a console beats
    every few seconds on a team store; on a SQLite store consoles do not, so its agent is
    always away to the digest)."""

    mailbox: str | None = None
    """The mailbox (its name in [[mailboxes]]) the digest is sent from; default: the first
    one with an smtp_host."""


class SlaSettings(_Table):
    """Service levels: when agents hear of a breach ahead (the policies are in the store)."""

    warn_minutes: int = Field(default=30, ge=1, le=10080)
    """An agent is told this many minutes before one of their tickets is due (once per due
    time), by the scheduled run of the time rules."""


class Settings(_Table):
    """Everything config.toml can say. Every key is optional; the defaults make a working desk."""

    database_url: str | None = None
    """sqlite:///PATH or postgresql://…; defaults to a SQLite file in the platform data dir."""

    database_password_command: Command | None = None
    """A command printing the PostgreSQL password of database_url's user (a team store);
    without it, the keyring entry `supportdesk team login` saved (asked only when the server
    wants a password), else libpq's own ways (~/.pgpass, peer or certificate
    authentication). Run without a shell."""

    agent: str | None = None
    """The handle of the agent using this machine: who `me` is in queries and who acts."""

    theme: NonEmptyStr = "dark"
    """A built-in theme name, or the name of a file in the user themes directory."""

    language: Literal["auto", "en", "ja"] = "auto"
    """The language of the console and the CLI: "auto" follows the locale (LANGUAGE, LC_ALL,
    LC_MESSAGES, LANG), "ja" is Japanese, "en" English. JSON, binding ids, query fields and
    exit codes are the same in every language."""

    timezone: str | None = None
    """The time zone dates are shown in, as an IANA name ("Asia/Tokyo"); unset, the
    machine's own. The store keeps UTC, and --json prints UTC, whatever this says."""

    bulk: BulkSettings = Field(default_factory=BulkSettings)
    """Safety limits for bulk commands."""

    sync: SyncSettings = Field(default_factory=SyncSettings)
    """IMAP sync tuning."""

    compose: ComposeSettings = Field(default_factory=ComposeSettings)
    """Writing replies: signature and quoting."""

    send: SendSettings = Field(default_factory=SendSettings)
    """Sending the outbox over SMTP."""

    console: ConsoleSettings = Field(default_factory=ConsoleSettings)
    """Console behaviour."""

    csat: CsatSettings = Field(default_factory=CsatSettings)
    """Satisfaction ratings by mail."""

    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    """The notification digest by mail."""

    sla: SlaSettings = Field(default_factory=SlaSettings)
    """Service level warnings."""

    # Plain mutable defaults (pydantic copies them per instance), not default_factory=dict:
    # pydantic inspects a factory's signature, and a builtin's costs a ~10 ms tokenizer start.
    keymap: dict[str, str] = Field(default={})
    """Binding id -> comma-separated keys, e.g. "ctrl+a,a"; the help screen lists the ids."""

    saved_searches: list[SavedSearch] = Field(default=[])
    """Named queries shown in the console."""

    mailboxes: list[Mailbox] = Field(default=[])
    """IMAP accounts to pull support mail from."""

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str | None) -> str | None:
        if value is not None:
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise _Problem(
                    _("unknown time zone {zone!r}: expected a name like Asia/Tokyo").format(
                        zone=value
                    )
                ) from None
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(DATABASE_URL_PREFIXES):
            expected = ", ".join(DATABASE_URL_PREFIXES)
            raise _Problem(
                _("expected a URL starting with one of {expected}; got {value!r}").format(
                    expected=expected, value=redact_url(value)
                )
            )
        return value

    @field_validator("agent")
    @classmethod
    def _check_agent(cls, value: str | None) -> str | None:
        if value is not None and not _HANDLE.fullmatch(value):
            raise _Problem(
                _(
                    "expected an agent handle (lower-case letters, digits, '.', "
                    "'_', '-'; at most 64); got {value!r}"
                ).format(value=value)
            )
        return value

    @field_validator("keymap")
    @classmethod
    def _check_keymap(cls, value: dict[str, str]) -> dict[str, str]:
        for binding, keys in value.items():
            if not binding.strip():
                raise _Problem(_("a binding id cannot be empty"))
            if not keys.strip() or any(not key.strip() for key in keys.split(",")):
                raise _Problem(
                    _('expected comma-separated keys like "ctrl+a,a"; got {keys!r}').format(
                        keys=keys
                    ),
                    at=(binding,),
                )
        return value

    @field_validator("saved_searches", "mailboxes")
    @classmethod
    def _check_unique_names(
        cls, value: list[SavedSearch] | list[Mailbox]
    ) -> list[SavedSearch] | list[Mailbox]:
        first: dict[str, int] = {}
        named: Sequence[SavedSearch | Mailbox] = value
        for index, item in enumerate(named):
            if item.name in first:
                raise _Problem(
                    _("name {name!r} is already used by entry [{first}]").format(
                        name=item.name, first=first[item.name]
                    ),
                    at=(index, "name"),
                )
            first[item.name] = index
        return value

    @model_validator(mode="after")
    def _check_digest_mailbox(self) -> Settings:
        name = self.notifications.mailbox
        if name is not None and not any(m.name == name and m.sends for m in self.mailboxes):
            sending = ", ".join(m.name for m in self.mailboxes if m.sends) or _("none")
            raise _Problem(
                _("no mailbox {name!r} with an smtp_host (those that send: {known})").format(
                    name=name, known=sending
                ),
                at=("notifications", "mailbox"),
            )
        if self.notifications.digest_minutes and self.digest_mailbox() is None:
            raise _Problem(
                _("the digest is on, but no mailbox has an smtp_host to send it from"),
                at=("notifications", "digest_minutes"),
            )
        return self

    def digest_mailbox(self) -> Mailbox | None:
        """The mailbox the notification digest goes out from (None: no mailbox sends)."""
        name = self.notifications.mailbox
        return next((m for m in self.mailboxes if m.sends and name in (None, m.name)), None)

    def store_url(self) -> str:
        """The store's URL, with the platform default filled in and a leading ~ expanded."""
        if self.database_url is None:
            return f"sqlite:///{default_store_path()}"
        return _expand_sqlite_home(self.database_url)

    def mailbox(self, name: str) -> Mailbox:
        """The mailbox called `name`; a clear error listing the configured ones otherwise."""
        for mailbox in self.mailboxes:
            if mailbox.name == name:
                return mailbox
        known = ", ".join(m.name for m in self.mailboxes) or _("none configured")
        raise NotFoundError(
            _("no mailbox named {name!r} in config (known: {known})").format(name=name, known=known)
        )


DEMO_STORE = "demo"
"""What `--store` calls the store `supportdesk demo` builds."""


def _expand_sqlite_home(url: str) -> str:
    prefix = "sqlite:///"
    rest = url.removeprefix(prefix)
    if url.startswith(prefix) and rest.startswith("~"):
        return f"{prefix}{Path(rest).expanduser()}"
    return url


def store_url_for(value: str) -> str:
    """The store URL for a `--store` value: a database URL, `demo`, or a SQLite file's path.

    Anything that does not start like a URL is a path, so `./demo` still means a file called
    demo; a URL of another kind (mysql://) is refused rather than taken for a file name.
    """
    value = value.strip()
    if not value:
        raise ConfigError(_("--store: expected a path, a database URL or demo; got nothing"))
    if value == DEMO_STORE:
        return f"sqlite:///{demo_store_path()}"
    if value.startswith(DATABASE_URL_PREFIXES):
        return _expand_sqlite_home(value)
    if re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", value):
        expected = ", ".join(DATABASE_URL_PREFIXES)
        raise ConfigError(
            _("--store: {value!r} is not a supported database URL ({expected})").format(
                value=redact_url(value), expected=expected
            )
        )
    return f"sqlite:///{Path(value).expanduser().resolve()}"


def is_loopback(host: str) -> bool:
    """Whether `host` names this machine, where clear-text IMAP cannot be overheard."""
    host = host.strip().strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def redact_url(url: str) -> str:
    """`url` with any password replaced, so database URLs can be printed and logged."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        host = parts.netloc.rpartition("@")[2]
        return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))
    except ValueError:
        return "<unparseable URL>"


def database_account(url: str) -> str | None:
    """The keyring entry holding the password for PostgreSQL `url`, or None when there is
    nothing to look up (SQLite, or a URL that carries its own password)."""
    from supportdesk.secrets import database_account as account

    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if not parts.scheme.startswith("postgresql") or parts.password is not None:
        return None
    import getpass

    user = unquote(parts.username) if parts.username else getpass.getuser()
    return account(user, parts.hostname or "localhost", port, parts.path.lstrip("/"))


def resolve_config_path(path: Path | None = None) -> tuple[Path, str]:
    """The config file to read and where that choice came from.

    The CLI already folds $SUPPORTDESK_CONFIG into `path`; reading it here as well keeps
    library callers (and the console started on its own) consistent with the CLI.
    """
    if path is None and os.environ.get(CONFIG_ENV):
        path = Path(os.environ[CONFIG_ENV])
    if path is not None:
        return path.expanduser(), EXPLICIT_SOURCE
    return default_config_path(), DEFAULT_SOURCE


def load_settings(path: Path | None = None) -> Settings:
    """The validated settings, from an explicit file, else the default file, else defaults.

    An explicitly named file must exist; a missing default file just means "all defaults".
    """
    resolved, source = resolve_config_path(path)
    if not resolved.exists():
        if source == DEFAULT_SOURCE:
            return Settings()
        raise ConfigError(
            _("{resolved}: no such config file (named by {source})").format(
                resolved=resolved, source=source
            )
        )
    try:
        raw = resolved.read_bytes()
    except OSError as exc:
        raise ConfigError(
            _("{resolved}: cannot read: {value}").format(
                resolved=resolved, value=exc.strerror or exc
            )
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            _("{resolved}: not UTF-8 text (byte {start})").format(
                resolved=resolved, start=exc.start
            )
        ) from None
    return parse_settings(text, resolved)


def parse_settings(text: str, path: Path) -> Settings:
    """Settings from TOML `text`; `path` names the file in errors and anchors relative paths."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {_toml_problem(str(exc))}") from None
    try:
        return Settings.model_validate(data, context={"config_dir": path.parent})
    except PydanticValidationError as exc:
        raise ConfigError(validation_line(path, exc, _describe)) from None


def validation_line(
    path: Path, exc: PydanticValidationError, describe: Callable[[ErrorDetails], str]
) -> str:
    """A failed validation as one line: the file, the first problem, and how many more.

    A misspelt key also makes the real key "missing"; the misspelling is the useful half,
    so unknown keys come first.
    """
    errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
    line = f"{path}: {describe(errors[0])}"
    if len(errors) > 1:
        more = len(errors) - 1
        line += ngettext(
            " (and {count} more problem)", " (and {count} more problems)", more
        ).format(count=more)
    return line


def _toml_problem(message: str) -> str:
    match = re.fullmatch(r"(.*) \(at line (\d+), column (\d+)\)", message, re.DOTALL)
    if match:
        reason, line, column = match.groups()
        return _("line {line}, column {column}: invalid TOML: {reason}").format(
            line=line, column=column, reason=reason
        )
    match = re.fullmatch(r"(.*) \(at end of document\)", message, re.DOTALL)
    if match:
        return _("end of file: invalid TOML: {reason}").format(reason=match.group(1))
    return _("invalid TOML: {reason}").format(reason=message)


_EXPECTED_TYPE = {
    "string_type": N_("a string"),
    "int_type": N_("an integer"),
    "bool_type": N_("true or false"),
    "float_type": N_("a number"),
    "list_type": N_("an array"),
    "dict_type": N_("a table"),
    "model_type": N_("a table"),
    "model_attributes_type": N_("a table"),
    "path_type": N_("a path (a string)"),
}


def _describe(error: ErrorDetails) -> str:
    loc: tuple[str | int, ...] = tuple(p for p in error["loc"] if p != "[key]")
    kind = error["type"]
    value = error.get("input")
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, _Problem):
        return f"{_dotted(loc + cause.at)}: {cause.message}"
    if kind == "extra_forbidden":
        return f"{_dotted(loc)}: {_unknown_key(loc)}"
    if kind == "missing":
        return f"{_dotted(loc)}: " + _("required key is missing")
    if kind in _EXPECTED_TYPE:
        expected = _(_EXPECTED_TYPE[kind])
        field = _field_at(loc)
        if field is not None and len(loc) == 1 and kind in ("model_type", "list_type"):
            if _is_model(field.annotation):
                expected = _("a table ([{key}])").format(key=loc[0])
            elif _is_model(_element(field.annotation)):
                expected = _("an array of tables ([[{key}]])").format(key=loc[0])
        return f"{_dotted(loc)}: " + _("expected {expected}; got {value} ({kind})").format(
            expected=expected, value=_show(value), kind=_toml_type(value)
        )
    if kind == "literal_error":
        choices = ", ".join(str(c) for c in _literal_choices(loc))
        return f"{_dotted(loc)}: " + _("expected one of {choices}; got {value}").format(
            choices=choices, value=_show(value)
        )
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return f"{_dotted(loc)}: " + _("expected {expected}; got {value}").format(
            expected=_bounds(loc), value=_show(value)
        )
    return f"{_dotted(loc)}: {error['msg']}"


def _dotted(loc: tuple[str | int, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            key = part if _BARE_KEY.fullmatch(part) else f'"{part}"'
            text += f".{key}" if text else key
    return text or _("(top level)")


def _unknown_key(loc: tuple[str | int, ...]) -> str:
    key = str(loc[-1])
    parent = _model_at(loc[:-1])
    known = list(parent.model_fields) if parent is not None else []
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if close:
        return _("unknown key (did you mean {key!r}?)").format(key=close[0])
    if known:
        return _("unknown key (known keys: {keys})").format(keys=", ".join(known))
    return _("unknown key")


def _strip_optional(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    if get_origin(annotation) is Annotated:
        return _strip_optional(get_args(annotation)[0])
    return annotation


def _is_model(annotation: Any) -> bool:
    annotation = _strip_optional(annotation)
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _element(annotation: Any) -> Any:
    annotation = _strip_optional(annotation)
    args = get_args(annotation)
    if get_origin(annotation) is list and args:
        return _strip_optional(args[0])
    if get_origin(annotation) is dict and len(args) == 2:
        return _strip_optional(args[1])
    return None


def _walk(loc: tuple[str | int, ...]) -> tuple[Any, FieldInfo | None]:
    """The annotation at `loc` in the Settings tree, and the field that holds it."""
    annotation: Any = Settings
    field: FieldInfo | None = None
    for part in loc:
        if _is_model(annotation) and isinstance(part, str):
            model = _strip_optional(annotation)
            field = model.model_fields.get(part)
            if field is None:
                return None, None
            annotation = _strip_optional(field.annotation)
        else:
            annotation = _element(annotation)
            if annotation is None:
                return None, None
    return annotation, field


def _model_at(loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    annotation, __ = _walk(loc)
    return _strip_optional(annotation) if _is_model(annotation) else None


def _field_at(loc: tuple[str | int, ...]) -> FieldInfo | None:
    return _walk(loc)[1]


def _literal_choices(loc: tuple[str | int, ...]) -> list[Any]:
    annotation, __ = _walk(loc)
    return list(get_args(annotation)) if get_origin(annotation) is Literal else []


def _bounds(loc: tuple[str | int, ...]) -> str:
    field = _field_at(loc)
    low: object = None
    high: object = None
    low_strict = high_strict = False
    for item in field.metadata if field is not None else []:
        if isinstance(item, annotated_types.Ge):
            low = item.ge
        elif isinstance(item, annotated_types.Gt):
            low, low_strict = item.gt, True
        elif isinstance(item, annotated_types.Le):
            high = item.le
        elif isinstance(item, annotated_types.Lt):
            high, high_strict = item.lt, True
    if low is not None and high is not None and not (low_strict or high_strict):
        return _("an integer from {low} to {high}").format(low=low, high=high)
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_strict else '>='} {low}")
    if high is not None:
        parts.append(f"{'<' if high_strict else '<='} {high}")
    return _("an integer {bounds}").format(bounds=_(" and ").join(parts))


def _show(value: Any) -> str:
    text = ("true" if value else "false") if isinstance(value, bool) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _toml_type(value: Any) -> str:
    if isinstance(value, bool):
        return _("a boolean")
    if isinstance(value, int):
        return _("an integer")
    if isinstance(value, float):
        return _("a float")
    if isinstance(value, str):
        return _("a string")
    if isinstance(value, list):
        return _("an array")
    if isinstance(value, dict):
        return _("a table")
    return _("a {kind}").format(kind=type(value).__name__)


def setting_docs(model: type[BaseModel]) -> dict[str, str]:
    """Each field of `model` with the docstring written under it (for docs and checks)."""
    import ast
    import inspect
    import textwrap
    from itertools import pairwise

    tree = ast.parse(textwrap.dedent(inspect.getsource(model)))
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    docs: dict[str, str] = {}
    for field, doc in pairwise(body):
        if (
            isinstance(field, ast.AnnAssign)
            and isinstance(field.target, ast.Name)
            and isinstance(doc, ast.Expr)
            and isinstance(doc.value, ast.Constant)
            and isinstance(doc.value.value, str)
        ):
            docs[field.target.id] = inspect.cleandoc(doc.value.value)
    return docs
