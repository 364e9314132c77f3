"""The suite's own mail test data: the files in tests/mail_samples/ and the binary samples built
here (TNEF, Outlook .msg, Office files), all written for supportdesk.

`mail_samples()` is mail, however broken: every one must import byte-exact. `not_mail_samples()`
is what file import must refuse: nothing at its start is a mail header.
"""

from __future__ import annotations

import base64
import hashlib
import re
import struct
import time
from collections.abc import Sequence
from pathlib import Path

from supportdesk.mail.parse import ParsedMessage, parse_message

SAMPLES = Path(__file__).resolve().parent / "mail_samples"

TNEF_SIGNATURE = 0x223E9F78
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


HANG_SECONDS = 30.0
"""CPU seconds past which a parse has hung: a hang guard, not a speed figure (parses take
milliseconds; speed is measured in bench/, and a loaded CI machine must not fail here)."""
MSGID = re.compile(r"<[^<>\s]+>")


def check_parse(raw: bytes) -> ParsedMessage:
    """Parse within the time bound and check every promise that holds for any input."""
    before = bytes(raw)
    started = time.process_time()
    message = parse_message(raw)
    elapsed = time.process_time() - started
    assert elapsed < HANG_SECONDS, f"parse took {elapsed:.2f} s of CPU"
    assert raw == before
    assert MSGID.fullmatch(message.message_id)
    assert message.size == len(raw)
    assert "\n" not in message.subject and "\r" not in message.subject
    assert message.date is None or message.date.utcoffset() is not None
    assert all(isinstance(problem, str) and problem for problem in message.problems)
    assert not any("could not be parsed (" in problem for problem in message.problems), (
        "an internal error was caught: " + repr(message.problems)
    )
    for attachment in message.attachments:
        assert attachment.size == len(attachment.content)
        assert attachment.sha256 == hashlib.sha256(attachment.content).hexdigest()
        assert attachment.filename and "/" not in attachment.filename
    return message


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def sample_files() -> list[Path]:
    return sorted(SAMPLES.glob("*.eml"))


# --- TNEF (winmail.dat) ------------------------------------------------------------------
# The layout, from [MS-OXTNEF]: a signature and a key, then attributes, each
#   level (1 message, 2 attachment) | attribute id (u32: type << 16 | name) | length (u32)
#   | data | checksum (u16: the sum of the data's bytes).
# An attachment starts with attAttachRendData; its name is attAttachTitle (8.3, in the OEM
# codepage) or PR_ATTACH_LONG_FILENAME inside attAttachment's MAPI properties.

ATT_TNEF_VERSION = 0x00089006
ATT_OEM_CODEPAGE = 0x00069007
ATT_MESSAGE_CLASS = 0x00078008
ATT_BODY = 0x0002800C
ATT_MAPI_PROPS = 0x00069003
ATT_ATTACH_REND_DATA = 0x00069002
ATT_ATTACH_TITLE = 0x00018010
ATT_ATTACH_DATA = 0x0006800F
ATT_ATTACHMENT = 0x00069005
PT_UNICODE = 0x001F
PT_STRING8 = 0x001E
PT_BINARY = 0x0102
PR_BODY_HTML = 0x1013
PR_ATTACH_LONG_FILENAME = 0x3707
PR_ATTACH_MIME_TAG = 0x370E


def tnef_attribute(level: int, attribute: int, data: bytes) -> bytes:
    checksum = sum(data) & 0xFFFF
    return struct.pack("<BII", level, attribute, len(data)) + data + struct.pack("<H", checksum)


def mapi_properties(properties: list[tuple[int, int, bytes]]) -> bytes:
    """A MAPI property list of variable-length values: (type, property id, value)."""
    out = struct.pack("<I", len(properties))
    for kind, name, value in properties:
        padded = value + b"\0" * (-len(value) % 4)
        out += struct.pack("<HHII", kind, name, 1, len(value)) + padded
    return out


def build_tnef(
    *,
    body: str = "",
    html: str = "",
    files: Sequence[tuple[str, bytes, str]] = (),
) -> bytes:
    """A winmail.dat as Outlook writes one: text (plain or HTML) and files (name, bytes, MIME
    type or ""). Names longer than 8.3 go in PR_ATTACH_LONG_FILENAME, as Outlook does."""
    out = struct.pack("<IH", TNEF_SIGNATURE, 0x5A31)
    out += tnef_attribute(1, ATT_TNEF_VERSION, struct.pack("<I", 0x00010000))
    out += tnef_attribute(1, ATT_OEM_CODEPAGE, struct.pack("<II", 1252, 0))
    out += tnef_attribute(1, ATT_MESSAGE_CLASS, b"IPM.Microsoft Mail.Note\0")
    if body:
        out += tnef_attribute(1, ATT_BODY, body.encode("cp1252"))
    if html:
        props = mapi_properties([(PT_BINARY, PR_BODY_HTML, html.encode("cp1252"))])
        out += tnef_attribute(1, ATT_MAPI_PROPS, props)
    for name, content, mime in files:
        stem, _, extension = name.rpartition(".")
        short = f"{stem[:6].upper()}~1.{extension[:3].upper()}" if stem else name[:8]
        out += tnef_attribute(2, ATT_ATTACH_REND_DATA, struct.pack("<HiHHI", 1, -1, 0, 0, 0))
        out += tnef_attribute(2, ATT_ATTACH_TITLE, short.encode("cp1252") + b"\0")
        out += tnef_attribute(2, ATT_ATTACH_DATA, content)
        props = [(PT_UNICODE, PR_ATTACH_LONG_FILENAME, (name + "\0").encode("utf-16-le"))]
        if mime:
            props.append((PT_STRING8, PR_ATTACH_MIME_TAG, mime.encode("ascii") + b"\0"))
        out += tnef_attribute(2, ATT_ATTACHMENT, mapi_properties(props))
    return out


WINMAIL_FILES = [
    ("Quarterly report – März.xlsx", b"PK\x03\x04 not really a spreadsheet\x00\x00", ""),
    ("photo.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"),
]
WINMAIL_TEXT = "Hello,\r\nthe report is attached. Grüße, Renée"


def winmail_mail(tnef: bytes, *, text: str | None = None, message_id: str = "winmail") -> bytes:
    """Mail from Outlook with a winmail.dat part (and a text part unless `text` is None)."""
    parts = []
    if text is not None:
        parts.append(
            b"--tnef\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
            + text.encode("ascii")
            + b"\r\n"
        )
    encoded = base64.encodebytes(tnef).replace(b"\n", b"\r\n")
    parts.append(
        b'--tnef\r\nContent-Type: application/ms-tnef; name="winmail.dat"\r\n'
        b'Content-Disposition: attachment; filename="winmail.dat"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + encoded
    )
    return (
        b"From: Renee Outlook <renee@example.com>\r\n"
        b"To: support@example.org\r\n"
        b"Subject: Report attached\r\n"
        b"Date: Thu, 30 Jan 2025 09:00:00 +0000\r\n"
        b"Message-ID: <" + message_id.encode() + b"@example.com>\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="tnef"\r\n\r\n'
        + b"".join(parts)
        + b"--tnef--\r\n"
    )


# --- OLE compound files (Outlook .msg, Word) -----------------------------------------------


def ole_file(streams: list[str], payload: bytes) -> bytes:
    """The start of a compound file: its header sector and one directory sector naming
    `streams` (as [MS-CFB] lays them out), then `payload`. Enough for anything that looks
    at the signature and the stream names, which is all a mail importer should do."""
    header = OLE_MAGIC + b"\0" * 16 + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
    header = header.ljust(512, b"\0")
    directory = b""
    for index, name in enumerate(["Root Entry", *streams]):
        encoded = (name + "\0").encode("utf-16-le")
        entry = encoded.ljust(64, b"\0") + struct.pack(
            "<HBB", len(encoded), 5 if not index else 2, 1
        )
        directory += entry.ljust(128, b"\xff" if index else b"\0")
    directory = directory.ljust(512 * ((len(directory) + 511) // 512), b"\0")
    return header + directory + payload


def outlook_msg() -> bytes:
    subject = "Saved from Outlook".encode("utf-16-le")
    return ole_file(
        ["__substg1.0_0037001F", "__substg1.0_1000001F", "__properties_version1.0"], subject
    )


def word_document() -> bytes:
    return ole_file(["WordDocument", "\x05SummaryInformation", "1Table"], b"\0" * 64)


# --- the sets ----------------------------------------------------------------------------


def mail_samples() -> dict[str, bytes]:
    """Every sample that is mail: the files, mail with a good and a broken winmail.dat, and an
    Outlook .msg (mail in Outlook's own format: kept whole, though nothing in it is read)."""
    found = {path.name: path.read_bytes() for path in sample_files()}
    tnef = build_tnef(body=WINMAIL_TEXT, files=WINMAIL_FILES)
    found["generated/winmail.eml"] = winmail_mail(tnef, text="See the attachment.")
    found["generated/winmail_only.eml"] = winmail_mail(tnef, message_id="winmail-only")
    found["generated/winmail_cut_short.eml"] = winmail_mail(
        tnef[: len(tnef) - 40], text="Cut short.", message_id="winmail-cut-short"
    )
    found["generated/winmail_not_tnef.eml"] = winmail_mail(
        b"This is not TNEF at all.\r\n", text="Wrong type.", message_id="winmail-not-tnef"
    )
    found["generated/outlook.msg"] = outlook_msg()
    return found


def not_mail_samples() -> dict[str, bytes]:
    """Files that are not mail at all, each with the words its refusal must contain."""
    return {
        "README.md": b"# Project notes\n\nFrom here on, nothing is mail.\nSubject: none\n",
        "LICENSE": b"MIT License\n\nCopyright (c) 2025 Somebody\n\nPermission is hereby...\n",
        "front-matter.txt": b"Title: Release notes\nAuthor: Sam\n\nNot a message.\n",
        "winmail.dat": build_tnef(body="Orphaned", files=WINMAIL_FILES[:1]),
        "empty.eml": b"",
        "blank.eml": b"\r\n\r\n   \r\n",
        "report.doc": word_document(),
        "image.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01",
    }


NOT_MAIL_REASONS = {
    "winmail.dat": "TNEF",
    "empty.eml": "empty",
    "blank.eml": "empty",
    "report.doc": "Office",
}
"""The words the refusal of these names gives; the others say "no mail header"."""
