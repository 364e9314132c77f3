"""winmail.dat (TNEF): the files and the text Outlook wraps in it, read with tnefparse.

tnefparse reads the format well but trusts the counts inside it: a property count of four
billion makes it loop four billion times, and each object it reads copies the rest of the
data. So the structure is walked here first, in time bounded by its length, with the same
offsets tnefparse will use; tnefparse only sees data whose counts fit, whose copying stays
under MAX_COPIED bytes and whose embedded messages nest at most MAX_DEPTH deep.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

from supportdesk.mail.charsets import decode_bytes

SIGNATURE = b"\x78\x9f\x3e\x22"
MAX_DEPTH = 3
MAX_COPIED = 2 << 30
MAX_ITEMS = 50_000
"""MAPI properties and values in one TNEF; real ones have a few hundred."""
MAX_FILES = 100

_LEVEL_ATTACHMENT = 2
_ATT_MAPI_PROPS = 0x9003
_ATT_RECIPIENTS = 0x9004
_ATT_ATTACHMENT = 0x9005
_MIN_OBJECT = 12
_PR_ATTACH_DATA_OBJ = 0x3701
_PR_ATTACH_MIME_TAG = 0x370E
_IMESSAGE = b"\x07\x03\x02\x00\x00\x00\x00\x00\xc0\x00\x00\x00\x00\x00\x00\x46"
_MULTI_VALUE = 0x1000
_NAMED = 0x8000
_FIXED_SIZES = {0x0002: 2, 0x000B: 2, 0x0003: 4, 0x0004: 4, 0x000A: 4, 0x0048: 16}
_FIXED_SIZES |= dict.fromkeys((0x0005, 0x0006, 0x0007, 0x0014, 0x0040), 8)
_VARIABLE = frozenset({0x0000, 0x000D, 0x001E, 0x001F, 0x0102})
_U16_FORMAT = struct.Struct("<H")
_U32_FORMAT = struct.Struct("<I")


def _u16(data: bytes, offset: int) -> int:
    return int(_U16_FORMAT.unpack_from(data, offset)[0])


def _u32(data: bytes, offset: int) -> int:
    return int(_U32_FORMAT.unpack_from(data, offset)[0])


class TnefError(ValueError):
    """The data is not a TNEF stream this module will decode; the reason is the message."""


@dataclass
class TnefFile:
    """One file from inside a winmail.dat; `content_type` is empty unless Outlook named one."""

    filename: str
    content_type: str
    content: bytes


@dataclass
class Unpacked:
    """What a winmail.dat holds: its files, and the message text (plain, else HTML)."""

    files: list[TnefFile] = field(default_factory=list)
    text: str = ""
    html: str = ""
    damage: str = ""
    """Why what was read may be incomplete (the data is cut short), else empty."""


def unpack(data: bytes) -> Unpacked:
    """The files and text in TNEF `data`. Raises TnefError (only) when it cannot."""
    if not data.startswith(SIGNATURE):
        raise TnefError("it does not start with the TNEF signature")
    budget = _Budget()
    try:
        _check(data, 0, budget)
    except struct.error:
        raise TnefError("it is cut short") from None

    from tnefparse import TNEF  # not imported by mail that has no winmail.dat

    try:
        tnef = TNEF(data, do_checksum=False)
        unpacked = Unpacked(damage="it is cut short" if budget.cut_short else "")
        for attachment in tnef.attachments[:MAX_FILES]:
            content = attachment.data if isinstance(attachment.data, bytes) else b""
            unpacked.files.append(
                TnefFile(
                    filename=_file_name(attachment, tnef.codepage),
                    content_type=_mime_tag(attachment),
                    content=content,
                )
            )
        unpacked.text = _text(tnef.body, tnef.codepage)
        unpacked.html = _text(tnef.htmlbody, tnef.codepage)
    except Exception as exc:  # tnefparse raises whatever its struct reads and decodes raise
        raise TnefError(f"tnefparse: {type(exc).__name__}") from exc
    return unpacked


def _file_name(attachment: Any, codepage: str | None) -> str:
    try:
        name = attachment.long_filename()
    except Exception:  # a title that is not UTF-8: tnefparse decodes it as UTF-8
        name = getattr(attachment, "_name", b"")
    if isinstance(name, bytes):
        name, _ = decode_bytes(name.rstrip(b"\0"), codepage)
    return str(name).strip("\0").strip()


def _mime_tag(attachment: Any) -> str:
    for prop in getattr(attachment, "mapi_attrs", []):
        if prop.name == _PR_ATTACH_MIME_TAG and isinstance(prop.data, str):
            return prop.data.strip().lower()
    return ""


def _text(value: str | bytes | None, codepage: str | None) -> str:
    if not value:
        return ""
    if isinstance(value, bytes):
        value, _ = decode_bytes(value.rstrip(b"\0"), codepage)
    return value.rstrip("\0")


# --- the bounded walk --------------------------------------------------------------------


@dataclass
class _Budget:
    copied: int = 0
    items: int = 0
    cut_short: bool = False

    def spend(self, copied: int = 0, items: int = 0) -> None:
        self.copied += copied
        self.items += items
        if self.copied > MAX_COPIED:
            raise TnefError("it is too large to decode")
        if self.items > MAX_ITEMS:
            raise TnefError(f"it holds more than {MAX_ITEMS} properties")


def _check(data: bytes, depth: int, budget: _Budget) -> None:
    """Walk the objects as tnefparse's TNEF() will, and their MAPI property lists."""
    if depth > MAX_DEPTH:
        raise TnefError(f"embedded messages nest deeper than {MAX_DEPTH}")
    if not data.startswith(SIGNATURE):
        raise TnefError("an embedded message does not start with the TNEF signature")
    offset = 6
    while offset + _MIN_OBJECT < len(data):
        rest = len(data) - offset
        budget.spend(copied=rest)  # TNEFObject(data[offset:]) copies the rest
        level = data[offset]
        name = _u16(data, offset + 1)
        size = _u32(data, offset + 5) + 11
        if size > rest:
            budget.cut_short = True
            size = rest
        body = data[offset + 9 : offset + size - 2]
        if level == _LEVEL_ATTACHMENT:
            if name == _ATT_ATTACHMENT:
                _check_properties(body, 0, depth, budget)
        elif name == _ATT_MAPI_PROPS:
            _check_properties(body, 0, depth, budget)
        elif name == _ATT_RECIPIENTS:
            rows = _u32(body, 0)
            if rows > len(body) // 4:
                raise TnefError("its recipient table counts more rows than it holds")
            at = 4
            for _ in range(rows):
                at = _check_properties(body, at, depth, budget)
        offset += size


def _check_properties(data: bytes, offset: int, depth: int, budget: _Budget) -> int:
    """The offset after one MAPI property list at `offset`, walked as tnefparse's decode_mapi."""
    count = _u32(data, offset)
    offset += 4
    if count > (len(data) - offset) // 8 + 1:
        raise TnefError("a property list counts more properties than it holds")
    budget.spend(items=count)
    try:
        for _ in range(count):
            if offset >= len(data):
                break
            kind = _u16(data, offset)
            name = _u16(data, offset + 2)
            offset += 4
            if name >= _NAMED:
                offset += 16
                if _u32(data, offset) == 0:
                    offset += 8
                else:
                    length = _u32(data, offset + 4)
                    offset += 8 + length + (-length % 4)
            values = None
            if kind & _MULTI_VALUE:
                kind ^= _MULTI_VALUE
                values = _u32(data, offset)
                offset += 4
                if values > (len(data) - offset) // 2 + 1:
                    raise TnefError("a property counts more values than it holds")
                budget.spend(items=values)
            for _ in range(values or 1):
                if kind in _FIXED_SIZES:
                    offset += _FIXED_SIZES[kind]
                elif kind in _VARIABLE:
                    offset = _check_variable(data, offset, name, values, depth, budget)
                else:
                    return offset  # decode_mapi stops at an unknown type
            if (values or 1) % 2 and kind in (0x0002, 0x000B):
                offset += 2
    except struct.error:
        pass  # decode_mapi stops where its reads run out of data
    return offset


def _check_variable(
    data: bytes, offset: int, name: int, multi: int | None, depth: int, budget: _Budget
) -> int:
    count = 1
    if not multi:
        count = _u32(data, offset)
        offset += 4
        if count > (len(data) - offset) // 4 + 1:
            raise TnefError("a property counts more values than it holds")
        budget.spend(items=count)
    for index in range(count):
        length = _u32(data, offset)
        offset += 4
        item = data[offset : offset + length + (-length % 4)]
        if name == _PR_ATTACH_DATA_OBJ and item.startswith(_IMESSAGE):
            if count > 1 or index:
                raise TnefError("an embedded message is split over several values")
            _check(item.rstrip(b"\0")[len(_IMESSAGE) :], depth + 1, budget)
        offset += length + (-length % 4)
    return offset
