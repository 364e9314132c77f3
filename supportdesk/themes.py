"""Themes as data: TOML files validated as strictly as config.toml, found in two places.

The shipped themes come with the package; a file in the user themes directory with the same
name replaces a shipped one, so a person can adjust "dark" without renaming it. A theme file
that does not validate never stops the console: it is skipped and described in one line that
names the file and the key, so the person can fix it. This module knows nothing of Textual;
the console turns a `ThemeFile` into a Textual theme (supportdesk.tui.theming).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import ErrorDetails

from supportdesk.config import validation_line
from supportdesk.errors import ConfigError
from supportdesk.paths import user_themes_dir
from supportdesk.resources import data_path

DEFAULT_THEME = "dark"
_HEX = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})")
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


def _colour(value: str) -> str:
    if not _HEX.fullmatch(value):
        raise ValueError(f'expected a colour like "#5fafff"; got {value!r}')
    return value


Colour = Annotated[str, AfterValidator(_colour)]


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)


class BaseColors(_Table):
    """The colours Textual derives every widget's look from."""

    primary: Colour
    secondary: Colour
    accent: Colour
    foreground: Colour
    background: Colour
    surface: Colour
    panel: Colour
    success: Colour
    warning: Colour
    error: Colour


class StatusColors(_Table):
    """One colour per ticket status, for the list's status column."""

    new: Colour
    open: Colour
    pending: Colour
    on_hold: Colour = Field(alias="on-hold")
    solved: Colour
    closed: Colour


class PriorityColors(_Table):
    """One colour per priority."""

    low: Colour
    normal: Colour
    high: Colour
    urgent: Colour


class SlaColors(_Table):
    """Cues for tickets waiting on us too long."""

    overdue: Colour
    due_soon: Colour


class ThemeFile(_Table):
    """One theme file: `name` (defaults to the file name), light or dark, and its colours."""

    name: str
    dark: bool
    colors: BaseColors
    status: StatusColors
    priority: PriorityColors
    sla: SlaColors

    def variables(self) -> dict[str, str]:
        """The app's own colours as CSS variables: $status-open, $priority-urgent, $sla-overdue."""
        out: dict[str, str] = {}
        for table, values in (
            ("status", self.status),
            ("priority", self.priority),
            ("sla", self.sla),
        ):
            for key, value in values.model_dump(by_alias=True).items():
                out[f"{table}-{key.replace('_', '-')}"] = value
        return out


@dataclass
class ThemeSet:
    """Every theme that loaded, by name, and one line per file that did not."""

    themes: dict[str, ThemeFile] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    origins: dict[str, Path] = field(default_factory=dict)


def load_theme(path: Path) -> ThemeFile:
    """One theme file, validated; ConfigError naming the file (and the key) otherwise."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    data.setdefault("name", path.stem)
    try:
        theme = ThemeFile.model_validate(data)
    except PydanticValidationError as exc:
        raise ConfigError(validation_line(path, exc, _describe)) from None
    if not _NAME.fullmatch(theme.name):
        raise ConfigError(f"{path}: name: expected lower-case letters, digits, '-', '_'")
    if theme.name != path.stem:
        # Overriding works by name; a file whose name disagrees would override the wrong one.
        raise ConfigError(f"{path}: name: {theme.name!r} differs from the file name {path.stem!r}")
    return theme


def _describe(error: ErrorDetails) -> str:
    dotted = ".".join(str(part) for part in error["loc"]) or "(top level)"
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"{dotted}: unknown key"
    if kind == "missing":
        return f"{dotted}: required key is missing"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{dotted}: {message}"


def load_themes(user_dir: Path | None = None) -> ThemeSet:
    """The shipped themes, then the user's (which win by name); problems collected, not raised.

    `user_dir` defaults to the platform's user themes directory; a missing one is fine.
    """
    found = ThemeSet()
    folders = [data_path("themes"), user_dir if user_dir is not None else user_themes_dir()]
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            try:
                theme = load_theme(path)
            except ConfigError as exc:
                found.problems.append(str(exc))
                continue
            found.themes[theme.name] = theme
            found.origins[theme.name] = path
    return found
