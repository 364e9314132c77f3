"""What a bounce says: which message failed, to whom, and whether for good.

A standard delivery status notification (RFC 3464) is a multipart/report holding a
message/delivery-status part (one block of fields per recipient: Final-Recipient,
Original-Recipient, Action, Status, Diagnostic-Code) and the original's headers
(message/rfc822-headers, text/rfc822-headers or the whole message/rfc822). Many MTAs (qmail,
older Exim and Postfix setups, Exchange's NDR text) send plain text instead, quoting the
original headers in the body and naming recipients as `<addr>:` lines or in
X-Failed-Recipients. Both are read here, bounded, and never raise.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

MAX_SCAN = 64 * 1024
MAX_RECIPIENTS = 50

_ORIGINAL_TYPES = frozenset(
    {
        "message/rfc822-headers",
        "text/rfc822-headers",
        "message/rfc822",
        "message/global",
        "message/global-headers",
    }
)
_STATUS_TYPES = frozenset({"message/delivery-status", "message/global-delivery-status"})
_MSGID = re.compile(r"<([^<>\s]{1,996})>")
_ADDRESS = re.compile(r"[^\s<>;:,\"'()\[\]]+@[^\s<>;:,\"'()\[\]]+")
_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_BLANK = re.compile(r"\r?\n[ \t]*\r?\n")
_QUOTED_ID = re.compile(r"^[ \t>]*Message-ID:[ \t]*(<[^<>\s]{1,996}>)", re.I | re.M)
_RECIPIENT_LINE = re.compile(r"^[ \t]*<([^<>\s@]+@[^<>\s]+)>:?[ \t]*$", re.M)
_PERMANENT_WORDS = re.compile(r"permanent(?:ly)? (?:error|fail)|given up|user unknown", re.I)


@dataclass(frozen=True)
class Recipient:
    """One recipient a bounce reports on; addresses are lower case, "" when absent."""

    address: str
    original: str = ""
    action: str = ""
    status: str = ""
    diagnostic: str = ""

    @property
    def permanent(self) -> bool:
        """A 5.x.x status, or a failure the report calls final without a status code."""
        if self.status:
            return self.status.startswith("5.")
        return self.action == "failed"


@dataclass(frozen=True)
class DeliveryReport:
    """The original message a bounce is about and the recipients it failed for."""

    message_id: str = ""
    in_reply_to: str = ""
    references: tuple[str, ...] = ()
    recipients: tuple[Recipient, ...] = ()
    standard: bool = False
    """True when it came from a message/delivery-status part, not from guessing at text."""

    @property
    def failed(self) -> tuple[Recipient, ...]:
        return tuple(r for r in self.recipients if r.permanent)


@dataclass
class _Original:
    message_id: str = ""
    in_reply_to: str = ""
    references: list[str] = field(default_factory=list)


def read_report(
    parts: Iterable[tuple[str, bytes]], text: str, headers: Iterable[tuple[str, str]]
) -> DeliveryReport | None:
    """The report in a bounce: `parts` are its (content type, decoded content) attachments,
    `text` its body text and `headers` its own decoded headers. None when nothing is found."""
    recipients: list[Recipient] = []
    original = _Original()
    standard = False
    for ctype, content in parts:
        if ctype in _STATUS_TYPES and not standard:
            recipients = _status_fields(_text(content))
            standard = True
        elif ctype in _ORIGINAL_TYPES and not original.message_id:
            original = _original_headers(_text(content))
    body = text[:MAX_SCAN]
    if not original.message_id:
        quoted = _QUOTED_ID.search(body)
        if quoted is not None:
            original.message_id = quoted.group(1)
    if not recipients:
        recipients = _text_recipients(body, headers)
    if not original.message_id and not recipients:
        return None
    return DeliveryReport(
        message_id=original.message_id,
        in_reply_to=original.in_reply_to,
        references=tuple(original.references),
        recipients=tuple(recipients[:MAX_RECIPIENTS]),
        standard=standard,
    )


def _text(content: bytes) -> str:
    return content[:MAX_SCAN].decode("utf-8", "replace")


def _fields(block: str) -> list[tuple[str, str]]:
    """Header-style `Name: value` lines with continuations joined; names lower case."""
    found: list[tuple[str, str]] = []
    for line in block.splitlines():
        if line[:1] in (" ", "\t") and found:
            name, value = found[-1]
            found[-1] = (name, f"{value} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        if colon and name.strip() and " " not in name.strip():
            found.append((name.strip().lower(), value.strip()))
    return found


def _original_headers(content: str) -> _Original:
    original = _Original()
    head = _BLANK.split(content, 1)[0]
    for name, value in _fields(head):
        if name == "message-id" and not original.message_id:
            match = _MSGID.search(value)
            original.message_id = f"<{match.group(1)}>" if match else ""
        elif name == "in-reply-to" and not original.in_reply_to:
            match = _MSGID.search(value)
            original.in_reply_to = f"<{match.group(1)}>" if match else ""
        elif name == "references" and not original.references:
            ids = [f"<{m.group(1)}>" for m in _MSGID.finditer(value)]
            original.references = ids[:4] + ids[4:][-6:]
    return original


def _address(value: str) -> str:
    """The address in `rfc822; jo@example.com` (the type before `;` is optional)."""
    value = value.rpartition(";")[2] if ";" in value else value
    match = _ADDRESS.search(value)
    return match.group(0).lower().rstrip(".") if match else ""


def _status_fields(content: str) -> list[Recipient]:
    recipients: list[Recipient] = []
    for block in _BLANK.split(content):
        values: dict[str, str] = {}
        for name, value in _fields(block):
            values.setdefault(name, value)
        final = _address(values.get("final-recipient", ""))
        original = _address(values.get("original-recipient", ""))
        if not final and not original:
            continue
        status = _STATUS.search(values.get("status", ""))
        recipients.append(
            Recipient(
                address=final or original,
                original=original,
                action=values.get("action", "").strip().lower()[:20],
                status=status.group(0) if status else "",
                diagnostic=" ".join(values.get("diagnostic-code", "").split())[:300],
            )
        )
        if len(recipients) >= MAX_RECIPIENTS:
            break
    return recipients


def _text_recipients(body: str, headers: Iterable[tuple[str, str]]) -> list[Recipient]:
    """Recipients of a bounce written for people: X-Failed-Recipients, or `<addr>:` lines."""
    named: list[str] = []
    for name, value in headers:
        if name.strip().lower() == "x-failed-recipients":
            named += [m.group(0).lower() for m in _ADDRESS.finditer(value)]
    from_header = bool(named)
    statuses: dict[str, str] = {}
    for match in _RECIPIENT_LINE.finditer(body):
        address = match.group(1).lower()
        after = body[match.end() : match.end() + 600]
        status = _STATUS.search(after.split("\n\n", 1)[0])
        if status is not None:
            statuses.setdefault(address, status.group(0))
        if address not in named:
            named.append(address)
    if not named:
        return []
    fallback = _STATUS.search(body)
    final_words = from_header or _PERMANENT_WORDS.search(body) is not None
    recipients = []
    for address in list(dict.fromkeys(named))[:MAX_RECIPIENTS]:
        code = statuses.get(address) or (fallback.group(0) if fallback else "")
        recipients.append(
            Recipient(address=address, action="failed" if final_words else "", status=code)
        )
    return recipients
