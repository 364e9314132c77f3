"""Attachment names from strangers made safe to show and to write to disk.

A name in a MIME header is chosen by the sender: `../../.bashrc`, `C:\\Windows\\x.dll`,
`invoice\u202efdp.exe` (a right-to-left override that shows as `invoiceexe.pdf`), `CON`,
or four kilobytes of text. What comes out is one plain name component, on every platform.
"""

from __future__ import annotations

import os
import re
import unicodedata
import uuid
from pathlib import Path

MAX_BYTES = 200
_MAX_INPUT = 4096
_MAX_EXTENSION = 16
_DROPPED = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
_FORBIDDEN = re.compile(r'[<>:"|?*]')
_RESERVED = frozenset(
    {"con", "prn", "aux", "nul", "conin$", "conout$"}
    | {f"{device}{n}" for device in ("com", "lpt") for n in "0123456789¹²³"}
)


def _split_extension(name: str) -> tuple[str, str]:
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or len(ext) > _MAX_EXTENSION or not ext.isalnum():
        return name, ""
    return stem, "." + ext


def _truncate(text: str, limit: int) -> str:
    return text.encode("utf-8")[:limit].decode("utf-8", "ignore")


def _clean(name: str) -> str:
    name = unicodedata.normalize("NFC", name[:_MAX_INPUT])
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(
        " " if char.isspace() else char
        for char in name
        if unicodedata.category(char) not in _DROPPED or char.isspace()
    )
    name = " ".join(_FORBIDDEN.sub("_", name).split())
    name = name.strip(". ")
    if not name:
        return ""
    if name.split(".", 1)[0].rstrip(" ").lower() in _RESERVED:
        name = "_" + name
    if len(name.encode("utf-8")) > MAX_BYTES:
        stem, ext = _split_extension(name)
        stem = _truncate(stem, MAX_BYTES - len(ext.encode("utf-8"))).rstrip(". ")
        name = (stem or "attachment") + ext
    return name


def safe_filename(name: str | None, *, fallback: str = "attachment") -> str:
    """One harmless file name component for `name`, never empty.

    Directories are stripped (either slash, drive letters, UNC prefixes), control and
    invisible formatting characters dropped, characters Windows forbids replaced by `_`,
    leading dots removed (no hidden files), reserved device names prefixed with `_`, and the
    result kept within 200 bytes of UTF-8 with its extension intact.
    """
    return (_clean(name) if name else "") or _clean(fallback) or "attachment"


def safe_destination(folder: Path, name: str) -> Path:
    """A path for `name` directly inside `folder` that does not exist yet.

    Taken names (including dangling symlinks) get " (1)", " (2)"… before the extension. The
    check cannot be atomic: open the result with mode "xb" so a file that appeared since
    fails loudly instead of being overwritten.
    """
    base = Path(folder).resolve()
    filename = safe_filename(name)
    stem, ext = _split_extension(filename)
    for attempt in range(10_001):
        if attempt == 0:
            candidate = base / filename
        else:
            suffix = f" ({attempt if attempt < 10_000 else uuid.uuid4().hex[:12]}){ext}"
            room = MAX_BYTES - len(suffix.encode("utf-8"))
            candidate = base / (_truncate(stem, room).rstrip(". ") + suffix)
        if os.path.lexists(candidate):
            continue
        if candidate.resolve().parent != base:
            raise ValueError(f"{name!r} does not stay inside {base}")
        return candidate
    raise FileExistsError(f"no free name for {filename!r} in {base}")
