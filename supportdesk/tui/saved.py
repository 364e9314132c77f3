"""Writing to the agent's config file: a saved search appended, the chosen theme or language set.

The file is the agent's own, with their comments and layout, so it is never re-serialised:
the new entry is appended as text, the whole result is validated exactly as the app would
load it, and only then does it replace the file, atomically (a temporary file beside it,
flushed to disk, then renamed over it). A file that would not load afterwards is left alone.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from supportdesk.config import SavedSearch, parse_settings
from supportdesk.errors import ConfigError, ValidationError
from supportdesk.i18n import _


def toml_string(value: str) -> str:
    """`value` as a TOML basic string; escapes every control character TOML forbids raw."""
    out = ['"']
    for char in value:
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def append_saved_search(path: Path, name: str, query: str) -> list[SavedSearch]:
    """Add a saved search to the config at `path` (created if missing); the new list.

    Raises ValidationError for an empty or taken name and ConfigError when the file cannot
    take the entry (it would no longer load, or cannot be written).
    """
    name = name.strip()
    query = query.strip()
    if not name:
        raise ValidationError(_("a saved search needs a name"))
    if not query:
        raise ValidationError(_("there is no search to save: type a query first"))
    try:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(_("{path}: cannot read: {error}").format(path=path, error=exc)) from None
    before = parse_settings(text, path)
    if any(s.name == name for s in before.saved_searches):
        raise ValidationError(
            _("a saved search called {name} exists already").format(name=repr(name))
        )
    entry = f"[[saved_searches]]\nname = {toml_string(name)}\nquery = {toml_string(query)}\n"
    separator = (
        "" if not text or text.endswith("\n\n") else ("\n" if text.endswith("\n") else "\n\n")
    )
    new_text = text + separator + entry
    try:
        after = parse_settings(new_text, path)
    except ConfigError as exc:
        raise ConfigError(
            _("not saved, the config would no longer load: {error}").format(error=exc)
        ) from None
    _replace(path, new_text)
    return after.saved_searches


_TABLE_HEADER = re.compile(r"\s*\[")


def set_theme(path: Path, name: str) -> None:
    """Make `theme = "name"` the config's theme (see set_top_level)."""
    set_top_level(path, "theme", name)


TOP_LEVEL_KEYS = ("theme", "language")
"""The top-level settings the console writes back (the agent chose them from the palette)."""


def set_top_level(path: Path, key: str, value: str) -> None:
    """Make `key = "value"` the config's setting (file created if missing), touching nothing
    else; `key` is one of TOP_LEVEL_KEYS.

    An existing top-level `key =` line is replaced; otherwise the line goes at the end of
    the top-level keys, before the first table, since a key after a table header would belong
    to that table. Raises ConfigError when the file cannot be read, or written, or would not
    load afterwards.
    """
    assert key in TOP_LEVEL_KEYS, key
    try:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(_("{path}: cannot read: {error}").format(path=path, error=exc)) from None
    parse_settings(text, path)
    lines = text.splitlines(keepends=True)
    line = f"{key} = {toml_string(value)}\n"
    end = next((i for i, text in enumerate(lines) if _TABLE_HEADER.match(text)), len(lines))
    pattern = re.compile(rf"\s*{key}\s*=")
    found = next((i for i in range(end) if pattern.match(lines[i])), None)
    if found is not None:
        lines[found] = line
    else:
        at = end
        while at > 0 and not lines[at - 1].strip() and end < len(lines):
            at -= 1  # keep the blank lines that separate the top from the first table
        if at > 0 and not lines[at - 1].endswith("\n"):
            lines[at - 1] += "\n"
        lines.insert(at, line)
    new_text = "".join(lines)
    try:
        after = parse_settings(new_text, path)
    except ConfigError as exc:
        raise ConfigError(
            _("not saved, the config would no longer load: {error}").format(error=exc)
        ) from None
    if getattr(after, key) != value:
        raise ConfigError(
            _("{path}: could not set {key}: the file sets it in a way not understood").format(
                path=path, key=key
            )
        )
    _replace(path, new_text)


def _replace(path: Path, text: str) -> None:
    path = path.resolve()  # a symlinked config keeps its link; the file it points to changes
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise ConfigError(
            _("{path}: cannot write: {error}").format(path=path, error=exc.strerror or exc)
        ) from None
