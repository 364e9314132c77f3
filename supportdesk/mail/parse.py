"""Raw RFC 822 bytes to a ParsedMessage: never raises, never alters the bytes, never slow.

The stdlib feed parser finds the MIME structure, in its compat32 mode: that mode stores header
values exactly as they came, and every structured reading here (addresses, parameters, message
ids, dates, RFC 2047 words, charsets, transfer encodings) is our own, bounded and linear.
`policy.default` is where the surprises live (LookupError on unknown charsets, IndexError on
Exchange message ids, a header parser quadratic in `;`), and it parses at half the speed.
The parser is told, through a `Message` subclass, where to stop descending (see `_Part`).
"""

from __future__ import annotations

import binascii
import email.parser
import email.utils
import hashlib
import mimetypes
import re
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from email.policy import Compat32, compat32
from functools import lru_cache

from supportdesk.mail import dsn
from supportdesk.mail.charsets import (
    b64decode_lenient,
    decode_bytes,
    decode_words,
    header_text,
)
from supportdesk.mail.filenames import safe_filename
from supportdesk.mail.fingerprint import content_fingerprint
from supportdesk.mail.html_text import MAX_HTML_CHARS, html_to_text
from supportdesk.mail.robots import RobotVerdict, classify
from supportdesk.mail.tnef import SIGNATURE as TNEF_SIGNATURE
from supportdesk.mail.tnef import TnefError, unpack

MAX_HEADER_BYTES = 256 * 1024
MAX_STRUCTURED = 8 * 1024
"""Address headers longer than this are cut before the (stdlib) address parser sees them."""
MAX_HEADER_LINE = 32 * 1024
MAX_HEADERS = 1000
MAX_DELIMITERS = 5000
"""More lines starting with "--" than this and the body is kept whole, not split into parts."""
MAX_PARTS = 500
MAX_DEPTH = 20
MAX_PROBLEMS = 50
MAX_RECOVERIES = 3
MAX_TNEF = 3
"""winmail.dat parts unpacked per message; each may cost up to tnef.MAX_COPIED of copying."""
SYNTHETIC_DOMAIN = "synthesised.supportdesk.invalid"

_REFERENCES_HEAD = 4
_REFERENCES_TAIL = 6
_MAX_MSGID = 998
_MAX_DATE = 256
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_MSG_STREAM = "__substg1.0_".encode("utf-16-le")
"""Every Outlook .msg names its property streams so; other OLE files (Word, Excel) do not."""
_BOM = b"\xef\xbb\xbf"
_TNEF_TYPES = frozenset({"application/ms-tnef", "application/vnd.ms-tnef"})
_MAIL_FIELDS = frozenset(
    {"from", "sender", "reply-to", "to", "cc", "bcc", "subject", "date", "message-id"}
    | {"in-reply-to", "references", "comments", "keywords", "return-path", "received"}
    | {"mime-version", "delivered-to", "envelope-to", "user-agent", "organization"}
    | {"importance", "priority", "precedence", "auto-submitted", "errors-to", "thread-topic"}
    | {"thread-index", "disposition-notification-to", "authentication-results"}
    | {"received-spf", "domainkey-signature", "newsgroups", "followup-to"}
)
"""Header fields that say "this is mail" (RFC 5322, MIME, and what mail systems add)."""
_MAIL_FIELD_PREFIXES = ("content-", "resent-", "list-", "x-", "arc-", "dkim-")
NOT_MAIL_NO_HEADERS = "not a mail message: no mail header at its start"
_HEADER_START = re.compile(rb"(?:From [^\r\n]*\r?\n)?[!-9;-~]+:")
_BLANK_LINE = re.compile(rb"\n\r?\n")
_OBSOLETE_HEADER = re.compile(rb"^([!-9;-~]+)[ \t]+:", re.M)
_HEADER_LINE = re.compile(rb"[!-9;-~]+:|[ \t]|From ")
_MSGID = re.compile(r"<([^<>\s]+)>")
_LOOSE_MSGID = re.compile(r"<([^<>]{1,998})>")
_COMMENT = re.compile(r"\([^()]*\)")
_DATE_COLON = re.compile(r"\s*:\s*")
_BARE_MSGID = re.compile(r"[^<>\s@]+@[^<>\s@]+")
_MEDIA_TYPE = re.compile(r"\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*/\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)")
_DISPOSITION = re.compile(r"\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)")
_PARAM = re.compile(r'[\s;]*(?:([^\s=;"]+)\s*(?:=\s*("(?:[^"\\]|\\.)*"?|[^;"]*))?)?[^;]*', re.S)
_TRANSFER = re.compile(r"[\w-]+(?:[ \t]+[\w-]+)*")
_DELIMITER = re.compile(rb"^--(\S[^\r\n]{0,199}?)[ \t]*\r?\n(?:[!-9;-~]+:|\r?\n)", re.M)
_ADDRESS = re.compile(r"[^@\s]+@[^@\s]+")
_SIMPLE_ADDRESS = re.compile(
    r'(?:\s*"([^"\\,]*)"\s*|([^"<>,()\\:;@]*))<([^<>\s",()\\:;]+)>\s*'
    r'|\s*([^\s<>",()\\:;]+)\s*'
)
_LOOSE_ADDRESS = re.compile(r"[^\s<>,;:\"'()\[\]]+@[^\s<>,;:\"'()\[\]]+")
_SINGLE = {"message-id": "Message-ID", "from": "From", "subject": "Subject", "date": "Date"}
_WANTED = frozenset(
    {"message-id", "in-reply-to", "references", "from", "reply-to", "subject", "date"}
    | {"content-type"}
)
_PART_HEADERS = frozenset(
    {"content-type", "content-disposition", "content-id", "content-transfer-encoding"}
)
_QP = frozenset({"quoted-printable", "quoted_printable", "quotedprintable", "qp"})
_UU = frozenset({"x-uuencode", "uuencode", "uue", "x-uue"})
_IDENTITY = frozenset({"", "7bit", "8bit", "binary", "7-bit", "8-bit"})
_FALLBACK_NAMES = {
    "message/rfc822": "message.eml",
    "message/delivery-status": "delivery-status.txt",
    "text/rfc822-headers": "headers.txt",
    "message/rfc822-headers": "headers.txt",
}


@dataclass
class Address:
    """One mailbox: the display name decoded, the address lower-cased."""

    name: str
    address: str


@dataclass
class ParsedAttachment:
    """One attachment or inline image; `content_id` is without its angle brackets."""

    filename: str
    content_type: str
    size: int
    sha256: str
    content: bytes
    content_id: str
    is_inline: bool


@dataclass
class ParsedMessage:
    """What supportdesk reads from one message; the raw bytes are stored beside it."""

    message_id: str
    in_reply_to: str = ""
    references: list[str] = field(default_factory=list)
    from_: Address | None = None
    reply_to: list[Address] = field(default_factory=list)
    to: list[Address] = field(default_factory=list)
    cc: list[Address] = field(default_factory=list)
    subject: str = ""
    date: datetime | None = None
    text: str = ""
    html: str = ""
    attachments: list[ParsedAttachment] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)
    robot: RobotVerdict = field(default_factory=RobotVerdict)
    problems: list[str] = field(default_factory=list)
    size: int = 0
    not_mail: str = ""
    """Why these bytes are not a mail message at all, else empty: nothing at their start is
    a mail header (a README, a TNEF or Word file, an empty file). Sync stores such a message
    anyway (the server says it is mail); file import refuses it with this reason."""
    fingerprint: str = ""
    """Equal for copies of one message however they travelled (see mail.fingerprint)."""
    delivery_report: dsn.DeliveryReport | None = None
    """For bounces: the original message and the failed recipients (see mail.dsn)."""


class _Problems:
    """Problems in order, each once, and a bounded count of them (hostile mail has many)."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.more = 0

    def add(self, problem: str | None) -> None:
        if not problem or problem in self.items:
            return
        if len(self.items) < MAX_PROBLEMS:
            self.items.append(problem)
        else:
            self.more += 1

    def result(self) -> list[str]:
        if self.more:
            return [*self.items, f"…and {self.more} more problems."]
        return list(self.items)


class _Part(Message):
    """A stdlib message part that keeps the feed parser's work bounded.

    The feed parser asks each part for its content type and boundary to decide whether to
    descend. Answering "opaque" for message/* (so a forwarded or bounced message stays an
    attachment, byte for byte) and for multiparts deeper than MAX_DEPTH bounds the nesting,
    and the parser's recursion with it; refusing children past MAX_PARTS bounds the width.
    Boundaries come from our linear parameter parser, not the stdlib's quadratic one.
    """

    # The stdlib's storage, read directly; typeshed leaves these private attributes out.
    _headers: list[tuple[str, str]]
    _payload: str | list[Message] | None

    def __init__(self, policy: Compat32 = compat32) -> None:
        super().__init__(policy)
        self.sd_root: _Part = self
        self.sd_depth = 0
        self.sd_opaque = False
        self.sd_parts = 0
        self.sd_dropped = 0
        self.sd_too_deep = False

    def attach(self, payload: Message) -> None:  # type: ignore[override]
        """Counted and bounded; the parser is the only caller."""
        if not isinstance(payload, _Part):
            super().attach(payload)
            return
        root = self.sd_root
        payload.sd_root = root
        payload.sd_depth = self.sd_depth + 1
        payload.sd_opaque = payload.sd_depth >= MAX_DEPTH
        root.sd_parts += 1
        if root.sd_parts > MAX_PARTS:
            root.sd_dropped += 1
            return
        super().attach(payload)

    def header(self, name: str) -> str | None:
        """The first raw value of header `name` (lower case), as stored."""
        for key, value in self._headers:  # raw_items() would copy the list on every call
            if key.lower() == name:
                return value
        return None

    def media_type(self) -> str:
        """The content type this part declares, lower case, RFC 2045 defaults applied."""
        value = self.header("content-type")
        if value is None:
            return self.get_default_type()
        match = _MEDIA_TYPE.match(value)
        if match is None:
            return "text/plain"
        return f"{match.group(1)}/{match.group(2)}".lower()

    def get_content_type(self) -> str:
        """What the feed parser sees: message/* and too-deep multiparts are opaque."""
        ctype = self.media_type()
        if ctype.startswith("message/"):
            return "application/octet-stream"
        if self.sd_opaque and ctype.startswith("multipart/"):
            self.sd_root.sd_too_deep = True
            return "application/octet-stream"
        return ctype

    def get_boundary(self, failobj: str | None = None) -> str | None:  # type: ignore[override]
        """The boundary parameter, read in linear time."""
        value = self.header("content-type")
        if value is None:
            return failobj
        text, _ = header_text(value)
        return _params(text).get("boundary", "").rstrip() or failobj

    def body_bytes(self) -> bytes:
        """The body exactly as it came (the parser keeps it as surrogate-escaped text)."""
        payload = self._payload
        if isinstance(payload, str):
            return payload.encode("ascii", "surrogateescape")
        return b""


_PARSER = email.parser.BytesParser(_Part, policy=compat32)


def parse_message(
    raw: bytes,
    *,
    max_header_bytes: int = MAX_HEADER_BYTES,
    our_addresses: frozenset[str] = frozenset(),
) -> ParsedMessage:
    """Read one message. Never raises: whatever goes wrong becomes a sentence in `problems`.

    `raw` is never modified; store it as it is. `our_addresses` are our own mailbox
    addresses, for the robot verdict's X-Loop rule.
    """
    if not isinstance(raw, bytes):
        raw = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else bytes(raw)
    problems = _Problems()
    try:
        message = _parse(raw, max_header_bytes, our_addresses, problems)
    except Exception as exc:  # the promise is "never raises"; say what happened instead
        problems.add(f"The message could not be parsed ({type(exc).__name__}); it was kept as-is.")
        message = _unparsed(raw, problems)
    return _threading_facts(message, raw)


def _threading_facts(message: ParsedMessage, raw: bytes) -> ParsedMessage:
    """What ingest needs to tell copies from reused ids and to place bounces."""
    try:
        message.fingerprint = content_fingerprint(raw)
        if message.robot.bounce:
            parts = ((a.content_type, a.content) for a in message.attachments)
            message.delivery_report = dsn.read_report(parts, message.text, message.headers)
    except Exception as exc:
        message.problems.append(f"The bounce report could not be read ({type(exc).__name__}).")
    return message


def synthesised_message_id(raw: bytes) -> str:
    """A stable Message-ID for bytes that lack a usable one: re-imports stay idempotent."""
    return f"<{hashlib.sha256(raw).hexdigest()}@{SYNTHETIC_DOMAIN}>"


def _unparsed(raw: bytes, problems: _Problems) -> ParsedMessage:
    return ParsedMessage(
        message_id=synthesised_message_id(raw), problems=problems.result(), size=len(raw)
    )


def _parse_bytes(data: bytes, *, headers_only: bool = False) -> _Part:
    root = _PARSER.parsebytes(data, headersonly=headers_only)
    if not isinstance(root, _Part):
        raise TypeError(f"the stdlib parser returned {type(root).__name__}")
    return root


def _parse(
    raw: bytes, max_header_bytes: int, our_addresses: frozenset[str], problems: _Problems
) -> ParsedMessage:
    data = _prepare(raw, max_header_bytes, problems)
    if data is None:
        message = _unparsed(raw, problems)
        message.not_mail = _not_mail(raw)
        return message
    whole = data.count(b"\n--") > MAX_DELIMITERS
    root = _parse_bytes(data, headers_only=whole)
    if any(type(defect).__name__ == "MissingHeaderBodySeparatorDefect" for defect in root.defects):
        repaired = _repair_header_block(data, max_header_bytes)
        if repaired is not None:
            problems.add("A stray line among the headers was read as part of the header above.")
            root = _parse_bytes(repaired, headers_only=whole)
    if whole:
        root.sd_opaque = True
        problems.add(f"The body has over {MAX_DELIMITERS} MIME delimiter lines; it was kept whole.")

    headers: list[tuple[str, str]] = []
    first: dict[str, str] = {}
    counts = dict.fromkeys(_SINGLE, 0)
    to_values: list[str] = []
    cc_values: list[str] = []
    items = list(root.raw_items())
    if len(items) > MAX_HEADERS:
        problems.add(f"The message has {len(items)} headers; the first {MAX_HEADERS} were read.")
        items = items[:MAX_HEADERS]
    hint = _charset_hint(root)
    for name, value in items:
        text, trouble = header_text(value, hint)
        headers.append((name, text if "=?" not in text else decode_words(text)[0]))
        key = name.lower()
        if key in counts:
            counts[key] += 1
        if key in _WANTED:
            if key not in first:
                first[key] = text
                if key in ("subject", "from"):
                    problems.add(_about(f"{_SINGLE[key]} header", trouble))
        elif key == "to":
            to_values.append(text)
        elif key == "cc":
            cc_values.append(text)
    for key, count in counts.items():
        if count > 1:
            problems.add(f"The message has {count} {_SINGLE[key]} headers; the first was used.")

    from_list = _addresses("From", first.get("from"), problems)
    if "from" in first and not from_list:
        problems.add("The From header holds no readable address.")
    subject, trouble = decode_words(first.get("subject", ""))
    problems.add(_about("Subject header", trouble))
    text, html, attachments = _walk(root, problems)
    message = ParsedMessage(
        message_id=_message_id(first.get("message-id"), raw, problems),
        in_reply_to=next(_msgids(first.get("in-reply-to", "")), ""),
        references=_references(first.get("references", "")),
        from_=from_list[0] if from_list else None,
        reply_to=_addresses("Reply-To", first.get("reply-to"), problems),
        to=_addresses("To", ", ".join(to_values) or None, problems),
        cc=_addresses("Cc", ", ".join(cc_values) or None, problems),
        subject=" ".join(subject.split()),
        date=_date(first.get("date"), problems),
        text=text,
        html=html,
        attachments=attachments,
        headers=headers,
        size=len(raw),
    )
    if not any(_is_mail_field(name) for name, _ in items):
        message.not_mail = NOT_MAIL_NO_HEADERS
        problems.add("No mail header field was found: this may not be a mail message.")
    message.robot = classify(
        headers,
        message.from_.address if message.from_ else "",
        first.get("content-type", ""),
        our_addresses=our_addresses,
    )
    message.problems = problems.result()
    return message


def _is_mail_field(name: str) -> bool:
    name = name.lower()
    return name in _MAIL_FIELDS or name.startswith(_MAIL_FIELD_PREFIXES)


def _not_mail(raw: bytes) -> str:
    """Why `raw`, which the parser could not read at all, is not mail; empty for a .msg."""
    if raw.startswith(_OLE_MAGIC):
        if _MSG_STREAM in raw:
            return ""  # mail in Outlook's own format: kept whole for a reader that knows it
        return "not a mail message: an Office (OLE) file, such as a Word or Excel document"
    if raw.startswith(TNEF_SIGNATURE):
        return "not a mail message: a TNEF (winmail.dat) file; import the mail it came with"
    if not raw.strip():
        return "not a mail message: it is empty"
    return NOT_MAIL_NO_HEADERS


def _about(where: str, trouble: str | None) -> str | None:
    return f"{where}: {trouble}." if trouble else None


def _charset_hint(root: _Part) -> str | None:
    """The body's declared charset: older clients wrote raw 8-bit headers in it too."""
    value = root.header("content-type")
    if value is None or (value.isascii() and "charset" not in value.lower()):
        return None
    text, _ = header_text(value)
    match = _MEDIA_TYPE.match(text)
    return _params(text[match.end() :] if match else text).get("charset")


def _prepare(raw: bytes, max_header_bytes: int, problems: _Problems) -> bytes | None:
    """The bytes to hand the stdlib parser, or None when this is not a mail message at all."""
    if raw.startswith(_OLE_MAGIC):
        if _MSG_STREAM in raw:
            problems.add("This is an Outlook .msg file, not an RFC 822 message; nothing was read.")
        else:
            problems.add("This is an Office (OLE) file, not a mail message; nothing was read.")
        return None
    data = raw
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
        problems.add("A UTF-8 byte order mark before the headers was skipped.")
    if not _HEADER_START.match(data):
        data = data.lstrip(b" \t\r\n")
        if len(data) < len(raw) and _HEADER_START.match(data):
            problems.add("Blank lines before the headers were skipped.")
        elif _OBSOLETE_HEADER.match(data):
            blank = _BLANK_LINE.search(data, 0, max_header_bytes)
            end = blank.start() if blank else min(len(data), max_header_bytes)
            data = _OBSOLETE_HEADER.sub(rb"\1:", data[:end]) + data[end:]
            problems.add("Spaces before the colons of header names were removed.")
        else:
            problems.add("No mail headers found: this is not an RFC 822 message.")
            return None
    if _BLANK_LINE.search(data, 0, max_header_bytes) is None and len(data) > max_header_bytes:
        data = _bounded_headers(data, max_header_bytes, problems)
    return data


def _bounded_headers(data: bytes, max_header_bytes: int, problems: _Problems) -> bytes:
    """`data` with over-long header lines cut and headers past the size budget dropped.

    Only reached when no blank line ends the headers within `max_header_bytes`; each kept
    line is short or cut short, so the loop runs at most `max_header_bytes` / 2 times.
    """
    kept: list[bytes] = []
    size = 0
    pos = 0
    cut = dropped = False
    while pos < len(data):
        newline = data.find(b"\n", pos)
        end = len(data) if newline < 0 else newline + 1
        if not _HEADER_LINE.match(data, pos, end) or end - pos <= 2:
            break  # a blank line or the first body line: the body starts here
        line = data[pos:end] if end - pos <= MAX_HEADER_LINE else data[pos : pos + MAX_HEADER_LINE]
        if len(line) < end - pos:
            line, cut = line + b"\r\n", True
        if size + len(line) > max_header_bytes:
            dropped = True
            blank = _BLANK_LINE.search(data, pos)
            pos = blank.start() + 1 if blank else len(data)
            break
        kept.append(line)
        size += len(line)
        pos = end
    if cut:
        problems.add(f"Header lines longer than {MAX_HEADER_LINE} bytes were cut short.")
    if dropped:
        problems.add(
            f"The headers exceed {max_header_bytes} bytes; the ones past that were skipped."
        )
    return b"".join(kept) + data[pos:]


def _repair_header_block(data: bytes, max_header_bytes: int) -> bytes | None:
    """`data` with one stray line inside the headers turned into a continuation line.

    Only when header lines follow it up to the blank line: then the stray line is a broken
    fold, and without the repair every header after it would be read as body.
    """
    blank = _BLANK_LINE.search(data, 0, max_header_bytes)
    if blank is None:
        return None
    lines = data[: blank.start() + 1].splitlines(keepends=True)
    stray = [index for index, line in enumerate(lines) if not _HEADER_LINE.match(line)]
    if len(stray) != 1 or stray[0] == 0 or stray[0] == len(lines) - 1:
        return None
    index = stray[0]
    lines[index] = b" " + lines[index]
    return b"".join(lines) + data[blank.start() + 1 :]


# --- header fields -----------------------------------------------------------------------


def _msgids(value: str) -> Iterator[str]:
    return (f"<{match.group(1)}>" for match in _MSGID.finditer(value))


def _message_id(value: str | None, raw: bytes, problems: _Problems) -> str:
    if value is None or not value.strip():
        problems.add("The message has no Message-ID; one was made from its bytes.")
        return synthesised_message_id(raw)
    found = next(_msgids(value), None)
    if found is None and _BARE_MSGID.fullmatch(value.strip()):
        found = f"<{value.strip()}>"
    if found is None and (loose := _LOOSE_MSGID.search(value)):
        squeezed = "".join(_COMMENT.sub("", loose.group(1)).split())
        found = f"<{squeezed}>" if squeezed else None
    if found is None or len(found) > _MAX_MSGID:
        problems.add(f"The Message-ID {value[:80]!r} is unusable; one was made from its bytes.")
        return synthesised_message_id(raw)
    return found


def _references(value: str) -> list[str]:
    """Message ids in order, each once, the first 4 and last 6 when there are more than 10."""
    ids = list(dict.fromkeys(_msgids(value)))
    if len(ids) > _REFERENCES_HEAD + _REFERENCES_TAIL:
        return ids[:_REFERENCES_HEAD] + ids[-_REFERENCES_TAIL:]
    return ids


def _addresses(header: str, value: str | None, problems: _Problems) -> list[Address]:
    if not value:
        return []
    if len(value) > MAX_STRUCTURED:
        problems.add(f"The {header} header is longer than {MAX_STRUCTURED} characters; cut there.")
        value = value[:MAX_STRUCTURED]
    pairs = _simple_addresses(value)
    if pairs is None:
        try:
            pairs = email.utils.getaddresses([value])
        except Exception:
            problems.add(f"The {header} header could not be parsed; addresses were picked out.")
            pairs = [("", match) for match in _LOOSE_ADDRESS.findall(value)]
    found: list[Address] = []
    malformed = False
    for name, address in pairs:
        address = "".join(address.split()).lower()
        if not _ADDRESS.fullmatch(address):
            malformed = malformed or "@" in address
            continue
        name, _ = decode_words(name)
        found.append(Address(name=" ".join(name.split()), address=address))
    if malformed:
        loose = [Address("", match.lower()) for match in _LOOSE_ADDRESS.findall(value)]
        if len(loose) > len(found):
            problems.add(f"The {header} header is malformed; addresses were picked out of it.")
            return loose
    return found


def _simple_addresses(value: str) -> list[tuple[str, str]] | None:
    """The common shapes (`a@b`, `Name <a@b>`, `"Name" <a@b>`) without the stdlib's
    character-by-character parser; None for anything else (comments, groups, escapes)."""
    pairs: list[tuple[str, str]] = []
    for item in value.split(","):
        match = _SIMPLE_ADDRESS.fullmatch(item)
        if match is None:
            if item.strip():
                return None
            continue
        quoted, plain, bracketed, bare = match.groups()
        pairs.append((quoted if quoted is not None else (plain or "").strip(), bracketed or bare))
    return pairs


def _date(value: str | None, problems: _Problems) -> datetime | None:
    if value is None:
        problems.add("The message has no Date header.")
        return None
    value = " ".join(value.split())[:_MAX_DATE]
    if "(" in value:
        value = " ".join(_DATE_COLON.sub(":", _COMMENT.sub("", value)).split())
    try:
        parsed = email.utils.parsedate_to_datetime(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        parsed = parsed.astimezone(UTC)
    except Exception:
        problems.add(f"The Date header {value[:80]!r} could not be read.")
        return None
    if not 1900 <= parsed.year <= 2200:
        problems.add(f"The Date header {value[:80]!r} is implausible; it was ignored.")
        return None
    return parsed


# --- MIME parameters ---------------------------------------------------------------------


def _unquote(value: str) -> str:
    value = value.strip()
    if not value.startswith('"'):
        return value
    inner = value[1:-1] if len(value) > 1 and value.endswith('"') else value[1:]
    return inner.replace("\\\\", "\\").replace('\\"', '"')


def _params(text: str) -> dict[str, str]:
    """MIME parameters (lower-case names) with RFC 2231 continuations and charsets joined.

    Linear in the length of `text`, unlike `email.message._parseparam`.
    """
    found: dict[str, str] = {}
    sections: dict[str, dict[int, tuple[bool, str]]] = {}
    pos, end = 0, len(text)
    while pos < end:
        match = _PARAM.match(text, pos)
        if match is None or match.end() == pos:
            break
        pos = match.end()
        name, value = match.group(1), match.group(2)
        if not name or value is None:
            continue
        name = name.lower()
        value = _unquote(value)
        base, star, rest = name.partition("*")
        if not star:
            found.setdefault(name, value)
            continue
        index_text = rest.rstrip("*")
        if index_text and not (
            index_text.isascii() and index_text.isdigit() and len(index_text) <= 3
        ):
            continue
        parts = sections.setdefault(base, {})
        if len(parts) < 100:
            parts.setdefault(int(index_text or 0), (rest.endswith("*") or not rest, value))
    for base, parts in sections.items():
        found[base] = _join_sections(parts)
    return found


def _join_sections(parts: dict[int, tuple[bool, str]]) -> str:
    charset: str | None = None
    data = bytearray()
    for position, index in enumerate(sorted(parts)):
        encoded, value = parts[index]
        if encoded:
            if position == 0 and value.count("'") >= 2:
                charset, _, value = value.split("'", 2)
            data += urllib.parse.unquote_to_bytes(value)
        else:
            data += value.encode("utf-8", "surrogateescape")
    text, _ = decode_bytes(bytes(data), charset or None)
    return text


# --- bodies and attachments --------------------------------------------------------------


@dataclass
class _PartInfo:
    ctype: str
    charset: str | None
    disposition: str
    filename: str
    content_id: str
    transfer_encoding: str


def _part_info(part: _Part) -> _PartInfo:
    values: dict[str, str] = {}
    for key, value in part.raw_items():
        key = key.lower()
        if key in _PART_HEADERS:
            values.setdefault(key, value)
    ctype = part.media_type()
    type_params: dict[str, str] = {}
    if "content-type" in values:
        text, _ = header_text(values["content-type"])
        match = _MEDIA_TYPE.match(text)
        type_params = _params(text[match.end() :] if match else text)
    disposition = ""
    disposition_params: dict[str, str] = {}
    if "content-disposition" in values:
        text, _ = header_text(values["content-disposition"])
        match = _DISPOSITION.match(text)
        if match:
            disposition = match.group(1).lower()
        disposition_params = _params(text[match.end() :] if match else text)
    filename = disposition_params.get("filename") or type_params.get("name") or ""
    if "=?" in filename:
        filename, _ = decode_words(filename)
    content_id, _ = header_text(values.get("content-id", ""))
    encoding = _TRANSFER.search(values.get("content-transfer-encoding", "").lower())
    return _PartInfo(
        ctype=ctype,
        charset=type_params.get("charset"),
        disposition=disposition,
        filename=filename,
        content_id=content_id.strip().strip("<>").strip()[:_MAX_MSGID],
        transfer_encoding="-".join(encoding.group().split()) if encoding else "",
    )


def _decode_transfer(part: _Part, encoding: str, problems: _Problems) -> bytes:
    data = part.body_bytes()
    if encoding in _IDENTITY:
        return data
    if encoding in ("base64", "base-64"):
        return b64decode_lenient(data)
    if encoding in _QP:
        return binascii.a2b_qp(data)
    if encoding in _UU:
        return _uudecode(data)
    problems.add(f"Unknown transfer encoding {encoding[:40]!r}; that part was kept as it came.")
    return data


def _uudecode(data: bytes) -> bytes:
    out = bytearray()
    inside = False
    for line in data.splitlines():
        if not inside:
            inside = line.startswith(b"begin ")
            continue
        if line.rstrip() == b"end":
            break
        if not line:
            continue
        try:
            out += binascii.a2b_uu(line)
        except binascii.Error:
            count = (line[0] - 32) & 63  # the length character: bytes encoded on this line
            try:
                out += binascii.a2b_uu(line[: 1 + (count + 2) // 3 * 4])
            except binascii.Error:
                continue
    return bytes(out) if inside else data


@lru_cache(maxsize=256)
def _fallback_name(ctype: str) -> str:
    if ctype in _FALLBACK_NAMES:
        return _FALLBACK_NAMES[ctype]
    extension = _mime_table().guess_extension(ctype) or ".bin"
    return "attachment" + extension


@lru_cache(maxsize=1)
def _mime_table() -> mimetypes.MimeTypes:
    """Python's built-in table only, so a name is the same on every machine."""
    return mimetypes.MimeTypes()


def _find_delimiter(body: bytes) -> re.Match[bytes] | None:
    """The first line that looks like a MIME delimiter: `--x` then a header or a blank line."""
    for attempt, match in enumerate(_DELIMITER.finditer(body)):
        if not match.group(1).endswith(b"--"):
            return match
        if attempt >= 4:
            break
    return None


def _reparse(body: bytes, boundary: bytes) -> _Part | None:
    """`body` read as a multipart/mixed with `boundary`; None when that yields no parts."""
    quoted = boundary.replace(b"\\", b"\\\\").replace(b'"', b'\\"')
    header = b'Content-Type: multipart/mixed; boundary="' + quoted + b'"\r\n\r\n'
    recovered = _PARSER.parsebytes(header + body)
    if isinstance(recovered, _Part) and recovered.is_multipart():
        return recovered
    return None


def _epilogue_parts(part: _Part) -> _Part | None:
    """Parts a sender put after the closing boundary (seen when nested parts share one)."""
    boundary = part.get_boundary()
    epilogue = part.epilogue or ""
    if not boundary:
        return None
    start = epilogue.find("--" + boundary)
    if start < 0:
        return None
    body = epilogue[start:].encode("ascii", "surrogateescape")
    return _reparse(body, boundary.encode("ascii", "surrogateescape"))


def _walk(root: _Part, problems: _Problems) -> tuple[str, str, list[ParsedAttachment]]:
    plain: list[str] = []
    htmls: list[str] = []
    attachments: list[ParsedAttachment] = []
    tnef_texts: list[str] = []
    stack: list[Message] = [root]
    recoveries = 0
    while stack:
        part = stack.pop()
        if not isinstance(part, _Part):
            continue
        for defect in part.defects:
            problems.add(_defect_sentence(defect))
        if part.sd_root is part and part.sd_too_deep:
            problems.add(f"MIME parts nest deeper than {MAX_DEPTH}; deeper ones are attachments.")
        if part.sd_root is part and part.sd_dropped:
            problems.add(f"There are more than {MAX_PARTS} MIME parts; the rest were skipped.")
        if part.is_multipart():
            recovered = None
            if part.epilogue and recoveries < MAX_RECOVERIES:
                recovered = _epilogue_parts(part)
            if recovered is not None:
                recoveries += 1
                problems.add("Parts after a multipart's closing boundary were recovered.")
                stack.append(recovered)
            stack.extend(reversed(part.get_payload()))  # type: ignore[arg-type]
            continue
        info = _part_info(part)
        if info.ctype.startswith("multipart/") and not part.sd_opaque:
            body = part.body_bytes()
            found = _find_delimiter(body) if recoveries < MAX_RECOVERIES else None
            recovered = _reparse(body[found.start() :], found.group(1)) if found else None
            if recovered is not None:
                recoveries += 1
                problems.add("A multipart's boundary did not match its body; parts were recovered.")
                stack.append(recovered)
                continue
            info.ctype = "text/plain"
        content = _decode_transfer(part, info.transfer_encoding, problems)
        is_body = not info.filename and info.disposition != "attachment"
        if is_body and info.ctype in ("text/plain", "text/html"):
            text, trouble = decode_bytes(content, info.charset)
            problems.add(_about("Body text", trouble))
            text = text.replace("\r\n", "\n").replace("\r", "\n")
            (plain if info.ctype == "text/plain" else htmls).append(text)
            continue
        attachments.append(
            _attachment(
                safe_filename(info.filename, fallback=_fallback_name(info.ctype)),
                info.ctype,
                content,
                content_id=info.content_id,
                is_inline=info.disposition == "inline"
                or (not info.disposition and bool(info.content_id)),
            )
        )
        if info.ctype in _TNEF_TYPES or info.filename.lower() == "winmail.dat":
            if len(tnef_texts) < MAX_TNEF:
                tnef_texts.append(_unpack_tnef(content, attachments, problems))
            else:
                problems.add(f"Only the first {MAX_TNEF} winmail.dat (TNEF) parts were unpacked.")
    text = "\n\n".join(chunk.rstrip() for chunk in plain if chunk.strip())
    html = "\n".join(htmls)
    if not text and not html.strip():
        text = "\n\n".join(chunk for chunk in tnef_texts if chunk)
    if not text and html.strip():
        if len(html) > MAX_HTML_CHARS:
            problems.add(f"The HTML is longer than {MAX_HTML_CHARS} characters; text was cut.")
        text = html_to_text(html)
    return text, html, attachments


def _attachment(
    filename: str, ctype: str, content: bytes, *, content_id: str = "", is_inline: bool = False
) -> ParsedAttachment:
    return ParsedAttachment(
        filename=filename,
        content_type=ctype,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        content=content,
        content_id=content_id,
        is_inline=is_inline,
    )


def _unpack_tnef(content: bytes, attachments: list[ParsedAttachment], problems: _Problems) -> str:
    """Add the files inside a winmail.dat (kept itself too) to `attachments`; its text.

    Outlook sends a message's text both as a text part and inside the winmail.dat: the
    caller uses this text only when the message has none of its own.
    """
    try:
        unpacked = unpack(content)
    except TnefError as exc:
        problems.add(f"A winmail.dat (TNEF) could not be decoded ({exc}); it is kept as it is.")
        return ""
    if not (unpacked.files or unpacked.text.strip() or unpacked.html.strip()):
        problems.add("A winmail.dat (TNEF) held nothing that could be read; it is kept as it is.")
    elif unpacked.damage:
        problems.add(
            f"A winmail.dat (TNEF) is damaged ({unpacked.damage}); what could be read was "
            "unpacked, and it is kept as it is."
        )
    for found in unpacked.files:
        guessed = _mime_table().guess_type(found.filename, strict=False)[0]
        ctype = found.content_type or guessed or "application/octet-stream"
        name = safe_filename(found.filename, fallback=_fallback_name(ctype))
        attachments.append(_attachment(name, ctype, found.content))
    if unpacked.text.strip():
        return unpacked.text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if unpacked.html.strip():
        return html_to_text(unpacked.html[:MAX_HTML_CHARS])
    return ""


_DEFECTS = {
    "MissingHeaderBodySeparatorDefect": "A line in the headers was not a header; the rest was "
    "read as body.",
    "StartBoundaryNotFoundDefect": "A multipart's first boundary was never found.",
    "CloseBoundaryNotFoundDefect": "A multipart ends without its closing boundary.",
    "NoBoundaryInMultipartDefect": "A multipart declares no boundary.",
    "FirstHeaderLineIsContinuationDefect": "The first header line was a continuation line.",
    "MisplacedEnvelopeHeaderDefect": "An mbox 'From ' line appeared among the headers.",
    "InvalidMultipartContentTransferEncodingDefect": "A multipart declares a transfer encoding "
    "other than 7bit, 8bit or binary.",
    "InvalidHeaderDefect": "A header line had no name.",
}


def _defect_sentence(defect: Exception) -> str | None:
    name = type(defect).__name__
    if name == "MultipartInvariantViolationDefect":
        return None  # always accompanies a boundary defect, which says more
    return _DEFECTS.get(name, f"MIME defect: {name}.")
