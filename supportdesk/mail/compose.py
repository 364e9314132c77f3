"""Values to RFC 5322 bytes: replies, forwards and automatic mail, ready for SMTP.

Every top-level header is written here by one function that takes only checked values:
addresses are validated (one with a line break, a space, a bracket or a comma is refused),
display names and subjects are made one line (CR, LF and other controls become spaces) before
they are encoded, and the finished header block is verified line by line. So text that came
from a customer's mail (a subject, a name) can never add a header of its own.

The output is 7-bit clean whatever the text: UTF-8 (quoted-printable or base64) by default,
ISO-2022-JP when a mailbox asks for it and the text fits in it (else UTF-8), RFC 2047 words in
headers and RFC 2231 file names, so any SMTP server takes it without 8BITMIME or SMTPUTF8.
Message-ID, In-Reply-To and References are never folded: some clients stop threading when
they are.
"""

from __future__ import annotations

import base64
import email.charset
import email.utils
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.generator import BytesGenerator
from email.header import Header
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.policy import compat32

from supportdesk.errors import ValidationError
from supportdesk.mail.filenames import safe_filename

MAX_REFERENCES = 10
_REFERENCES_HEAD = 4
MAX_SUBJECT = 400
MAX_NAME = 200
_LINE = 78
_HARD_LINE = 998

_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_SPACES = re.compile(r"\s+")
_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}$")
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_MSGID = re.compile(r"^<[!-;=?-~]{1,900}@[!-;=?-~]{1,200}>$")
_HEADER_NAME = re.compile(r"^([!-9;-~]+): ")
_TICKET_TAG = r"\[#{number}\]"
# "Re:", "Fwd:" and the words other languages' clients use, stacked in any order.
_PREFIX = re.compile(
    r"^\s*(?:(?:re|fwd?|aw|wg|sv|vs|antw|tr|rv|res|enc|odp|r|回复|回覆|返信|転送)\s*(?:\[\d+\])?\s*[:：]\s*)+",
    re.IGNORECASE,
)

ALLOWED_HEADERS = frozenset(
    {
        "Date",
        "From",
        "Sender",
        "To",
        "Cc",
        "Reply-To",
        "Subject",
        "Message-ID",
        "In-Reply-To",
        "References",
        "Auto-Submitted",
        "X-Auto-Response-Suppress",
        "Content-Language",
        "MIME-Version",
        "Content-Type",
        "Content-Transfer-Encoding",
    }
)


class ComposeError(ValidationError):
    """A value that cannot go into a mail header or body, named so a person can fix it."""


@dataclass(frozen=True)
class Address:
    """One mailbox: a display name (any text, made one line) and a checked address."""

    name: str
    address: str

    def __str__(self) -> str:
        return f"{self.name} <{self.address}>" if self.name else self.address


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    content: bytes


@dataclass
class Outgoing:
    """Everything one outgoing message says; `build` turns it into bytes."""

    sender: Address
    to: Sequence[Address]
    subject: str
    text: str
    message_id: str
    date: datetime
    cc: Sequence[Address] = ()
    reply_to: Sequence[Address] = ()
    in_reply_to: str = ""
    references: Sequence[str] = ()
    charset: str = "utf-8"
    language: str | None = None
    automatic: bool = False
    attachments: Sequence[Attachment] = field(default_factory=list)
    forwarded: bytes | None = None
    """An original message attached whole, as message/rfc822."""
    forwarded_name: str = "forwarded-message.eml"


# -- checked values


def one_line(text: str, limit: int | None = None) -> str:
    """`text` as one header-safe line: controls (CR and LF included) become spaces."""
    text = _SPACES.sub(" ", _CONTROLS.sub(" ", text)).strip()
    if limit is not None and len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def check_address(text: str) -> str:
    """A bare address fit for a header and an SMTP envelope, or ComposeError.

    Refused, not repaired: a line break, space, bracket, quote or comma in an address is
    either a typo or an attempt to smuggle in a header or a recipient. A non-ASCII domain is
    written in IDNA; a non-ASCII local part needs SMTPUTF8, which we do not send.
    """
    value = text.strip()
    shown = one_line(text, 80)
    if not value or any(c.isspace() or c in '<>,;:"()[]\\' or ord(c) < 32 for c in value):
        raise ComposeError(f"{shown!r} is not a plain email address")
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain:
        raise ComposeError(f"{shown!r} is not an email address (no @domain)")
    if not local.isascii():
        raise ComposeError(f"{shown!r}: addresses with non-ASCII before the @ are not supported")
    if not _LOCAL.match(local) or local.startswith(".") or local.endswith(".") or ".." in local:
        raise ComposeError(f"{shown!r} is not a valid email address")
    try:
        ascii_domain = domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise ComposeError(f"{shown!r}: the domain is not a valid host name") from None
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise ComposeError(f"{shown!r}: the domain is not a valid host name")
    return f"{local}@{ascii_domain}"


def address(name: str, addr: str) -> Address:
    """A checked Address: the address validated, the name made one line."""
    return Address(one_line(name, MAX_NAME), check_address(addr))


def parse_addresses(text: str) -> list[Address]:
    """Addresses as a person types them ("Ann <ann@x.test>, bob@y.test"), each checked.

    A line break anywhere is refused: in a To field it can only be an injection attempt.
    """
    if "\r" in text or "\n" in text:
        raise ComposeError("an address list is one line: no line breaks")
    if not text.strip():
        return []
    found: list[Address] = []
    seen: set[str] = set()
    for name, addr in email.utils.getaddresses([text]):
        if not addr and not name:
            continue
        checked = address(name, addr or name)
        if checked.address.lower() not in seen:
            seen.add(checked.address.lower())
            found.append(checked)
    if not found:
        raise ComposeError(f"no email address in {one_line(text, 80)!r}")
    return found


def format_addresses(addresses: Iterable[Address]) -> str:
    """The inverse of `parse_addresses`, for showing and storing an address list."""
    return ", ".join(email.utils.formataddr((a.name, a.address)) for a in addresses)


def is_message_id(value: str) -> bool:
    return bool(_MSGID.match(value))


# -- subjects, references, quoting


def strip_prefixes(subject: str) -> str:
    """The subject without leading Re:/Fwd:/AW:/返信: prefixes, however many are stacked."""
    return _PREFIX.sub("", subject).strip()


def _tagged(subject: str, number: int, prefix: str) -> str:
    tag = f"[#{number}]"
    rest = one_line(subject)
    while True:
        stripped = strip_prefixes(rest)
        stripped = re.sub(r"^\s*" + _TICKET_TAG.format(number=number) + r"\s*", "", stripped)
        if stripped == rest:
            break
        rest = stripped
    rest = re.sub(r"\s*" + _TICKET_TAG.format(number=number), "", rest).strip()
    return one_line(f"{prefix}{tag} {rest}".rstrip(), MAX_SUBJECT)


def reply_subject(subject: str, number: int) -> str:
    """ "Re: [#N] subject": one Re:, one tag, whatever the original had stacked up."""
    return _tagged(subject, number, "Re: ")


def forward_subject(subject: str, number: int) -> str:
    return _tagged(subject, number, "Fwd: ")


def ticket_subject(subject: str, number: int) -> str:
    """ "[#N] subject", for mail that answers nothing (an acknowledgement's own subject)."""
    return _tagged(subject, number, "")


def bounded_references(references: Iterable[str]) -> list[str]:
    """References to send: valid ids, each once, at most MAX_REFERENCES.

    Past the limit the first few (the thread's root, which threads the whole conversation)
    and the last ones (the direct parents) are kept, as RT does.
    """
    ids = list(dict.fromkeys(r for r in references if is_message_id(r)))
    if len(ids) <= MAX_REFERENCES:
        return ids
    tail = MAX_REFERENCES - _REFERENCES_HEAD
    return ids[:_REFERENCES_HEAD] + ids[-tail:]


def quote(text: str, author: str, when: datetime | None) -> str:
    """The original below an attribution line, each line prefixed with "> "."""
    who = one_line(author) or "you"
    said = f"On {when:%Y-%m-%d %H:%M}, {who} wrote:" if when else f"{who} wrote:"
    lines = text.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n").split("\n")
    return said + "\n" + "\n".join(">" if not line else f"> {line}" for line in lines)


def with_signature(body: str, signature: str | None) -> str:
    """`body` ending with the "-- " separator and the signature, added only once."""
    body = body.rstrip()
    signature = (signature or "").strip("\n")
    if not signature.strip():
        return body + "\n"
    block = f"-- \n{signature.rstrip()}"
    if body.endswith(block):
        return body + "\n"
    return f"{body}\n\n{block}\n"


# -- bytes


def _encodable(text: str, charset: str) -> bool:
    try:
        text.encode(charset)
    except UnicodeEncodeError:
        return False
    return True


def _words(name: str, text: str, charset: str) -> str:
    """Unstructured header text: ASCII folded at spaces, anything else as RFC 2047 words."""
    if text.isascii():
        return _fold_ascii(len(name) + 2, text.split(" "), " ")
    cs = charset if _encodable(text, charset) else "utf-8"
    return Header(text, cs, header_name=name).encode(linesep="\r\n", maxlinelen=76)


def _fold_ascii(used: int, words: list[str], joiner: str) -> str:
    lines: list[str] = []
    line = ""
    for word in words:
        candidate = f"{line}{joiner}{word}" if line else word
        if line and used + len(candidate) > _LINE:
            lines.append(line + joiner.rstrip())
            line, used = word, 1
        else:
            line = candidate
    lines.append(line)
    return "\r\n ".join(lines)


def _addresses(name: str, addresses: Sequence[Address], charset: str) -> str:
    parts = []
    for a in addresses:
        display = one_line(a.name, MAX_NAME)
        if display and not display.isascii():
            cs = charset if _encodable(display, charset) else "utf-8"
            parts.append(email.utils.formataddr((display, check_address(a.address)), cs))
        else:
            parts.append(email.utils.formataddr((display, check_address(a.address))))
    return _fold_ascii(len(name) + 2, parts, ", ")


def _msgid(value: str) -> str:
    if not is_message_id(value):
        raise ComposeError(f"{one_line(value, 80)!r} is not a Message-ID")
    return value


def verify_header_block(block: str) -> None:
    """Raise unless every line is an allowed header or a continuation of one.

    The last guard: whatever went before, a value that smuggled in a line of its own (a
    `Bcc:` in a subject, say) fails here rather than leaving the building.
    """
    for line in block.split("\r\n"):
        if not line:
            continue
        if len(line) > _HARD_LINE or not line.isascii():
            raise ComposeError("a header line is too long or not ASCII")
        if any((ord(c) < 32 and c != "\t") or ord(c) == 127 for c in line):
            raise ComposeError("a header line holds a control character")
        if line[0] in " \t":
            continue
        match = _HEADER_NAME.match(line)
        if match is None or match.group(1) not in ALLOWED_HEADERS:
            raise ComposeError(f"unexpected header line {line[:40]!r}")


def _text_part(text: str, charset: str) -> Message:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.endswith("\n"):
        text += "\n"
    long_lines = any(len(line) > 900 for line in text.split("\n"))
    if text.isascii() and not long_lines:
        cs = email.charset.Charset("us-ascii")
    elif charset == "iso-2022-jp" and _encodable(text, "iso-2022-jp"):
        cs = email.charset.Charset("iso-2022-jp")
        encoded_lines = text.encode("iso-2022-jp").split(b"\n")
        if any(len(line) > 900 for line in encoded_lines):
            cs.body_encoding = email.charset.BASE64
    else:
        cs = email.charset.Charset("utf-8")
        mostly_latin = sum(not c.isascii() for c in text) * 5 < len(text)
        cs.body_encoding = email.charset.QP if mostly_latin else email.charset.BASE64
    part = MIMENonMultipart("text", "plain", charset=str(cs))
    part.set_payload(text, cs)
    if "Content-Transfer-Encoding" not in part:
        part["Content-Transfer-Encoding"] = "7bit"
    return part


def _crlf(data: bytes) -> bytes:
    return re.sub(rb"\r?\n|\r", b"\r\n", data)


def _seven_bit(data: bytes) -> bool:
    return all(b < 128 for b in data) and all(
        len(line) <= _HARD_LINE for line in data.split(b"\r\n")
    )


def _disposition(part: Message, filename: str) -> None:
    name = safe_filename(filename)
    value: str | tuple[str, str, str] = name if name.isascii() else ("utf-8", "", name)
    part.add_header("Content-Disposition", "attachment", filename=value)


def _attachment_part(attachment: Attachment) -> Message:
    maintype, _, subtype = attachment.content_type.partition("/")
    if not re.fullmatch(r"[A-Za-z0-9.+-]+", maintype or "") or not re.fullmatch(
        r"[A-Za-z0-9.+-]+", subtype or ""
    ):
        maintype, subtype = "application", "octet-stream"
    part = MIMEBase(maintype, subtype)
    part.set_payload(_base64_lines(attachment.content))
    part["Content-Transfer-Encoding"] = "base64"
    _disposition(part, attachment.filename)
    return part


def _base64_lines(data: bytes) -> str:
    encoded = base64.b64encode(data).decode("ascii")
    return "\r\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))


def _forwarded_part(raw: bytes, filename: str) -> Message:
    """The original, byte for byte when it is 7-bit; base64 otherwise (RFC 2046 wants 7bit
    or 8bit for message/rfc822, but 8-bit would need 8BITMIME, and clients read both)."""
    part = MIMEBase("message", "rfc822")
    data = _crlf(raw)
    if _seven_bit(data):
        part.set_payload(data.decode("ascii"))
        part["Content-Transfer-Encoding"] = "7bit"
    else:
        part.set_payload(_base64_lines(data) + "\r\n")
        part["Content-Transfer-Encoding"] = "base64"
    _disposition(part, filename)
    return part


def build(o: Outgoing) -> bytes:
    """The message as bytes with CRLF line ends, 7-bit clean, ready for SMTP DATA."""
    if not o.to and not o.cc:
        raise ComposeError("a message needs at least one recipient")
    if o.date.tzinfo is None:
        raise ComposeError("the Date of a message must be timezone-aware")
    charset = o.charset.lower()
    if charset not in ("utf-8", "iso-2022-jp"):
        raise ComposeError(f"charset {o.charset!r}: use utf-8 or iso-2022-jp")
    text_charset = charset
    if charset == "iso-2022-jp" and not _encodable(o.text, charset):
        text_charset = "utf-8"  # emoji or characters outside JIS X 0208: UTF-8 holds them
    headers: list[tuple[str, str]] = [
        ("Date", email.utils.format_datetime(o.date)),
        ("From", _addresses("From", [o.sender], charset)),
    ]
    if o.to:
        headers.append(("To", _addresses("To", o.to, charset)))
    if o.cc:
        headers.append(("Cc", _addresses("Cc", o.cc, charset)))
    if o.reply_to:
        headers.append(("Reply-To", _addresses("Reply-To", o.reply_to, charset)))
    headers.append(("Subject", _words("Subject", one_line(o.subject, MAX_SUBJECT), charset)))
    headers.append(("Message-ID", _msgid(o.message_id)))
    if o.in_reply_to:
        headers.append(("In-Reply-To", _msgid(o.in_reply_to)))
    references = bounded_references(o.references)
    if references:
        headers.append(("References", " ".join(references)))
    if o.automatic:
        headers.append(("Auto-Submitted", "auto-replied"))
        headers.append(("X-Auto-Response-Suppress", "All"))
    if o.language and re.fullmatch(r"[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8})*", o.language):
        headers.append(("Content-Language", o.language))
    block = "".join(f"{name}: {value}\r\n" for name, value in headers)
    verify_header_block(block)

    text = _text_part(o.text, text_charset)
    root: Message
    if o.attachments or o.forwarded is not None:
        root = MIMEMultipart("mixed")
        root.attach(text)
        if o.forwarded is not None:
            root.attach(_forwarded_part(o.forwarded, o.forwarded_name))
        for attachment in o.attachments:
            root.attach(_attachment_part(attachment))
        for part in root.get_payload():
            if isinstance(part, Message):
                del part["MIME-Version"]
    else:
        root = text
    if "MIME-Version" not in root:
        root["MIME-Version"] = "1.0"
    buffer = io.BytesIO()
    policy = compat32.clone(linesep="\r\n", max_line_length=_LINE)
    BytesGenerator(buffer, mangle_from_=False, policy=policy).flatten(root)
    body = buffer.getvalue()
    mime_headers, _, _ = body.partition(b"\r\n\r\n")
    verify_header_block(mime_headers.decode("ascii") + "\r\n")
    return block.encode("ascii") + body
