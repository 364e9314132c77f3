"""Bytes of a declared, undeclared or mislabelled charset to text, without ever failing.

Mail lies about its charset all the time: windows-1252 sent as ISO-8859-1, UTF-8 sent as
US-ASCII, labels Python has never heard of (`unknown-8bit`, `utf8mb4`). Decoding follows the
order in MAIL-NOTES, with the WHATWG label table (the one browsers settled on after decades of
the same lies) applied to the declared label, so a superset codec is tried first.
"""

from __future__ import annotations

import binascii
import codecs
import re
from functools import lru_cache

# Labels that say "I do not know": read as if nothing were declared, and say nothing about it.
_UNDECLARED = frozenset(
    {"", "unknown-8bit", "x-unknown", "unknown", "8bit", "default", "x-user-defined", "none"}
)

# Labels Python does not know, mapped to ones it does.
_LABELS = {
    "utf8mb4": "utf-8",
    "utf8mb3": "utf-8",
    "x-utf-8": "utf-8",
    "unicode-1-1-utf-8": "utf-8",
    "x-sjis": "shift_jis",
    "shift-jis": "shift_jis",
    "windows-31j": "cp932",
    "x-ms-cp932": "cp932",
    "x-euc-jp": "euc_jp",
    "x-gbk": "gbk",
    "x-windows-949": "cp949",
    "windows-949": "cp949",
    "ks_c_5601": "cp949",
    "ks_c_5601-1989": "cp949",
    "windows-874": "cp874",
    "iso-8859-8-i": "iso-8859-8",
    "iso-8859-6-i": "iso-8859-6",
    "iso-2022-jp-ms": "iso2022_jp_ext",
    "cp50220": "iso2022_jp_ext",
    "cp50221": "iso2022_jp_ext",
    "cp50222": "iso2022_jp_ext",
}

# WHATWG: a label names a superset encoding (by Python's canonical codec name).
_SUPERSET = {
    "iso8859-1": "cp1252",
    "ascii": "cp1252",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "euc_kr": "cp949",
    "shift_jis": "cp932",
    "big5": "big5hkscs",
    "iso8859-9": "cp1254",
    "tis-620": "cp874",
}

_ISO2022_JP = ("iso2022_jp", "iso2022_jp_ext", "iso2022_jp_2", "iso2022_jp_2004", "iso2022_jp_3")

# Text codecs that turn data into something other than a reading of it.
_REFUSED = frozenset(
    {"unicode-escape", "raw-unicode-escape", "idna", "punycode", "undefined", "mbcs", "oem"}
)

_ASCII_PROBE = bytes(range(0x20, 0x7F)) + b"\t\r\n"


def resolve(label: str | None) -> tuple[str | None, bool]:
    """The Python codec for a charset label, and whether the label was understood at all.

    `(None, True)` means "nothing declared"; `(None, False)` an unknown label.
    """
    if label is None:
        return None, True
    return _resolve(label.strip().strip("\"'").strip().lower()[:64])


@lru_cache(maxsize=512)
def _resolve(name: str) -> tuple[str | None, bool]:
    if name in _UNDECLARED:
        return None, True
    name = _LABELS.get(name, name)
    for candidate in (name, name[2:] if name.startswith("x-") else None):
        if not candidate:
            continue
        try:
            codec = codecs.lookup(candidate).name
            b"\0\0\0\0".decode(codec)  # refuses bytes-to-bytes codecs such as hex or zlib
        except UnicodeError:
            pass
        except (LookupError, ValueError):
            continue
        if codec in _REFUSED:
            return None, False
        return codec, True
    return None, False


@lru_cache(maxsize=128)
def _ascii_compatible(codec: str) -> bool:
    try:
        return _ASCII_PROBE.decode(codec) == _ASCII_PROBE.decode("ascii")
    except (UnicodeError, LookupError):
        return False


def _try(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeError, LookupError):
        return None


def decode_bytes(data: bytes, declared: str | None) -> tuple[str, str | None]:
    """`data` as text, and a short sentence when the result is a guess (else None).

    Never raises. The declared label is trusted first (as its WHATWG superset, then as
    itself), then UTF-8 (ISO-2022-JP first when its escape sequences show), then the
    declared multibyte codec with replacement characters, then windows-1252.
    """
    codec, known = resolve(declared)
    if data.isascii() and b"\x1b" not in data and (codec is None or _ascii_compatible(codec)):
        return data.decode("ascii"), None

    trusted: list[str] = []
    if codec is not None and codec != "ascii":
        trusted = [_SUPERSET.get(codec, codec), codec]
        if codec.startswith("iso2022_jp"):
            trusted.extend(_ISO2022_JP)
    guesses: list[str] = []
    if b"\x1b$" in data or b"\x1b(" in data:
        guesses.extend(_ISO2022_JP)
    guesses.append("utf-8-sig" if data.startswith(codecs.BOM_UTF8) else "utf-8")

    if codec is not None and _single_byte(codec) and _looks_like_utf8(data):
        # Valid multi-byte UTF-8 almost never occurs in real single-byte text, while mailers
        # that label UTF-8 as ISO-8859-1 are common.
        return data.decode("utf-8"), f"text declared as {_shown(declared)} was UTF-8"
    for candidate in dict.fromkeys(trusted):
        text = _try(data, candidate)
        if text is not None:
            return text, None
    for candidate in dict.fromkeys(guesses):
        text = _try(data, candidate)
        if text is not None:
            return text, _guessed(declared, codec, known, candidate)

    if codec is not None and not _single_byte(codec):
        text = data.decode(_SUPERSET.get(codec, codec), "replace")
        return text, f"text declared as {_shown(declared)} had invalid bytes; they were replaced"
    text = _try(data, "cp1252")
    if text is not None:
        return text, _guessed(declared, codec, known, "windows-1252")
    text = data.decode("cp1252", "replace")
    return text, "undecodable bytes were replaced"


def _looks_like_utf8(data: bytes) -> bool:
    """Valid UTF-8 holding at least one multi-byte sequence."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return not data.isascii()


def _shown(declared: str | None) -> str:
    return repr(declared[:40]) if declared else "no charset"


def _guessed(declared: str | None, codec: str | None, known: bool, used: str) -> str | None:
    if not known:
        return f"unknown charset {_shown(declared)}; read as {used}"
    if codec is not None:
        return f"text declared as {_shown(declared)} was not valid; read as {used}"
    if used.startswith(("utf-8", "iso2022")):
        return None
    return f"8-bit text without a charset was not UTF-8; read as {used}"


@lru_cache(maxsize=128)
def _single_byte(codec: str) -> bool:
    """True where windows-1252 is a fair second guess: one byte is always one character."""
    if codec.startswith("utf"):
        return False
    try:
        return _ascii_compatible(codec) and len(bytes(range(256)).decode(codec, "replace")) == 256
    except LookupError:
        return False


# --- headers -----------------------------------------------------------------------------

_FOLD = re.compile(r"\r?\n(?=[ \t])")
_BREAK = re.compile(r"[\r\n]+")
_WORD = re.compile(r"=\?([^?\s]{1,80})\?([bBqQ])\?([^?]*)\?=")
_NOT_B64 = re.compile(rb"[^A-Za-z0-9+/]")


def header_text(value: str, fallback: str | None = None) -> tuple[str, str | None]:
    """A raw header value (as the stdlib stores it) unfolded, with raw 8-bit bytes decoded.

    Raw 8-bit headers are UTF-8 (RFC 6532) or else, from older clients, usually in the
    charset of the body: pass that as `fallback`. RFC 2047 words are left alone: address
    parsing must see the structure first, because a decoded name may contain commas.
    """
    if "\n" in value or "\r" in value:
        value = _BREAK.sub(" ", _FOLD.sub("", value))
    if value.isascii():
        if "\x1b" in value:
            return decode_bytes(value.encode("ascii"), None)
        return value, None
    data = value.encode("ascii", "surrogateescape")
    text = _try(data, "utf-8")
    if text is not None:
        return text, None
    return decode_bytes(data, fallback)


def decode_words(value: str) -> tuple[str, str | None]:
    """RFC 2047 encoded words decoded; adjacent words of one charset are joined as bytes first.

    Joining before decoding matters: senders split multibyte characters (and ISO-2022-JP
    escape sequences) across words. Lenient on purpose: words without surrounding spaces,
    spaces inside words, broken base64 padding.
    """
    if "=?" not in value:
        return value, None
    out: list[str] = []
    problem: str | None = None
    pending = bytearray()
    pending_charset = ""
    end = 0

    def flush() -> None:
        nonlocal pending_charset, problem
        if pending:
            text, trouble = decode_bytes(bytes(pending), pending_charset or None)
            out.append(text)
            problem = problem or trouble
            pending.clear()
        pending_charset = ""

    for match in _WORD.finditer(value):
        gap = value[end : match.start()]
        if gap and not (pending and gap.isspace()):
            flush()
            out.append(gap)
        charset = match.group(1).split("*", 1)[0].lower()
        if pending and charset != pending_charset:
            flush()
        pending.extend(_word_bytes(match.group(2), match.group(3)))
        pending_charset = charset
        end = match.end()
    flush()
    out.append(value[end:])
    return "".join(out), problem


def _word_bytes(encoding: str, text: str) -> bytes:
    data = text.encode("utf-8", "surrogateescape")
    if encoding in "qQ":
        return binascii.a2b_qp(data, header=True)
    return b64decode_lenient(data)


def b64decode_lenient(data: bytes) -> bytes:
    """Base64 that survives junk characters, missing padding and a dangling character."""
    try:
        return binascii.a2b_base64(data)
    except binascii.Error:
        pass
    data = _NOT_B64.sub(b"", data)
    data = data[: len(data) - len(data) % 4] if len(data) % 4 == 1 else data
    try:
        return binascii.a2b_base64(data + b"=" * (-len(data) % 4))
    except binascii.Error:
        return b""


def decode_header(value: str, fallback: str | None = None) -> tuple[str, str | None]:
    """A raw header value fully decoded for people and rules: unfolded, 8-bit, RFC 2047."""
    text, problem = header_text(value, fallback)
    decoded, trouble = decode_words(text)
    return decoded, problem or trouble
