"""Data files shipped with supportdesk: built-in themes and the example config.

They live at the top of the repository (so people find them when browsing the source) and the
wheel copies them into `supportdesk/_data/` (see pyproject.toml). Code asks here instead of
guessing, so it works the same from a wheel, an editable install or a plain checkout.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def data_path(name: str) -> Path:
    """The path of the shipped data file or directory `name`, e.g. "themes".

    Raises FileNotFoundError when it is in neither place: that is a packaging bug, not
    something the person running supportdesk can fix, so it is not a SupportdeskError.
    """
    candidates = (_PACKAGE_DIR / "_data" / name, _PACKAGE_DIR.parent / name)
    for candidate in candidates:
        if candidate.exists():
            return candidate
    searched = ", ".join(str(c) for c in candidates)
    raise FileNotFoundError(f"supportdesk data file {name!r} is missing (looked in {searched})")
