"""The console's looks and keys as config.toml asks for them, checked in one place.

`config check` and the console both call `check_appearance`, so a theme that does not exist,
a theme file that does not load or a `[keymap]` id no binding has is reported the same way,
with the same "did you mean", whether the person runs the check or opens the console. The
check needs neither Textual nor a terminal: theme files are data (supportdesk.themes) and the
binding ids are data (supportdesk.keymap).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from supportdesk.keymap import binding_ids, keymap_problems
from supportdesk.themes import DEFAULT_THEME, ThemeSet, load_themes


@dataclass
class Appearance:
    """What the console should use, and one line per thing in the config it cannot honour."""

    themes: ThemeSet
    theme: str
    """The theme to show: the one asked for, or the default when that one is missing."""
    keymap: dict[str, str] = field(default_factory=dict)
    """The remappings whose ids exist; the others are in `problems`."""
    problems: list[str] = field(default_factory=list)


def check_appearance(
    theme: str, keymap: Mapping[str, str], *, user_themes_dir: Path | None = None
) -> Appearance:
    """Load the themes and check `theme` and `keymap` against what exists."""
    found = load_themes(user_themes_dir)
    problems = [f"theme file skipped: {problem}" for problem in found.problems]
    use = theme
    if theme not in found.themes:
        names = list(found.themes)
        close = difflib.get_close_matches(theme, names, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        fallback = DEFAULT_THEME if DEFAULT_THEME in found.themes else "textual-dark"
        problems.append(
            f"theme: no theme called {theme!r}{hint}; known: {', '.join(names)}; "
            f"the console uses {fallback!r}"
        )
        use = fallback
    problems += keymap_problems(keymap)
    known = set(binding_ids())
    valid = {k: v for k, v in keymap.items() if k in known}
    return Appearance(themes=found, theme=use, keymap=valid, problems=problems)
