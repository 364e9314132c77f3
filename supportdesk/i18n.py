"""One message catalogue for every string a person reads, in English and Japanese.

English text is the message id, so an untranslated string still reads well and a grep for
what is on screen finds the code. The catalogue is gettext's: `supportdesk/locale/ja/
LC_MESSAGES/supportdesk.po`, compiled to the `.mo` beside it by `python scripts/i18n.py
compile` (a test fails when the two disagree), and read with the standard library, so
starting a command costs one small file read and no Babel import.

Binding ids, JSON keys, query field names and exit codes never go through here: scripts
must not break when an agent's locale changes.

Usage: `_("Assigned {count} tickets").format(count=n)`. Text fixed at import time (binding
descriptions, column headers in module constants) is marked with `N_` and translated where
it is shown, so switching the language in a running console changes it too.
"""

from __future__ import annotations

import gettext
import os
from pathlib import Path
from typing import Final, Literal

Language = Literal["en", "ja"]
LanguageSetting = Literal["auto", "en", "ja"]
LANGUAGES: Final[tuple[Language, ...]] = ("en", "ja")
LANGUAGE_NAMES: Final[dict[Language, str]] = {"en": "English", "ja": "日本語"}
DOMAIN: Final = "supportdesk"
LOCALE_DIR: Final = Path(__file__).resolve().parent / "locale"

_catalogues: dict[Language, gettext.NullTranslations] = {}
_current: gettext.NullTranslations = gettext.NullTranslations()
_language: Language = "en"
_listeners: list[object] = []


def locale_language(environ: os._Environ[str] | dict[str, str] | None = None) -> Language:
    """The language the locale asks for, read the way gettext reads it (LANGUAGE first)."""
    env = os.environ if environ is None else environ
    for variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(variable, "")
        if not value:
            continue
        for part in value.split(":"):
            code = part.split(".")[0].split("@")[0].split("_")[0].lower()
            if code == "ja":
                return "ja"
            if code in ("en", "c", "posix"):
                return "en"
        # The first variable that is set decides, as in gettext.
        return "en"
    return "en"


def resolve(setting: str) -> Language:
    """`auto` becomes the locale's language; anything else must be a language we ship."""
    if setting == "auto":
        return locale_language()
    if setting in LANGUAGES:
        return setting
    raise ValueError(f"unknown language {setting!r}: expected auto, en or ja")


def _catalogue(language: Language) -> gettext.NullTranslations:
    found = _catalogues.get(language)
    if found is None:
        if language == "en":
            found = gettext.NullTranslations()
        else:
            found = gettext.translation(DOMAIN, LOCALE_DIR, languages=[language])
        _catalogues[language] = found
    return found


def set_language(setting: str) -> Language:
    """Switch every later `_()` to `setting` (auto, en or ja) and return the language chosen."""
    global _current, _language
    language = resolve(setting)
    _current = _catalogue(language)
    _language = language
    return language


def current_language() -> Language:
    return _language


def _(message: str) -> str:
    """`message` in the current language (itself in English or when it has no translation)."""
    return _current.gettext(message)


def N_(message: str) -> str:
    """Mark `message` for the catalogue without translating it yet (see the module docstring)."""
    return message


def ngettext(singular: str, plural: str, count: int) -> str:
    """The form of a message for `count` (Japanese has one form; English two)."""
    return _current.ngettext(singular, plural, count)


def pgettext(context: str, message: str) -> str:
    """`message` translated in `context`, for one English word that needs two translations."""
    return _current.pgettext(context, message)


set_language("auto")
