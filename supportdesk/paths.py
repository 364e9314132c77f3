"""Where supportdesk keeps its files on this machine.

platformdirs picks the platform's convention; an explicitly set XDG variable wins on every
platform, because terminal users on macOS often keep their dotfiles under ~/.config and expect
tools to follow them there. Nothing here creates a directory: whoever writes a file does that.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "supportdesk"


def _xdg(variable: str) -> Path | None:
    value = os.environ.get(variable, "")
    # The XDG spec says relative values are invalid and must be ignored.
    return Path(value) / APP_NAME if value and os.path.isabs(value) else None


def config_dir() -> Path:
    """The directory holding config.toml and user themes."""
    return _xdg("XDG_CONFIG_HOME") or Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def data_dir() -> Path:
    """The directory holding the local SQLite stores."""
    return _xdg("XDG_DATA_HOME") or Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_config_path() -> Path:
    """The config file used when neither --config nor $SUPPORTDESK_CONFIG names one."""
    return config_dir() / "config.toml"


def default_store_path() -> Path:
    """The SQLite store used when config.toml sets no `database_url`."""
    return data_dir() / "supportdesk.db"


def demo_store_path() -> Path:
    """A separate store for `supportdesk demo`, so demo tickets never mix with real ones."""
    return data_dir() / "demo.db"


def user_themes_dir() -> Path:
    """User theme files; a theme here overrides a built-in theme of the same name."""
    return config_dir() / "themes"
