"""Keep the message catalogue in step with the code, with Babel.

    python scripts/i18n.py extract   # write supportdesk/locale/supportdesk.pot from the source
    python scripts/i18n.py update    # extract, then merge new ids into ja/.../supportdesk.po
    python scripts/i18n.py compile   # write the .mo the program reads from the .po
    python scripts/i18n.py check     # exit 1 if an id lacks a translation or the .mo is stale

Translations are written by hand in the .po; `update` keeps them and marks ids that left the
code as obsolete (dropped on the next update).
"""

from __future__ import annotations

import io
import sys
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "supportdesk"
LOCALE = PACKAGE / "locale"
POT = LOCALE / "supportdesk.pot"
LANGUAGES = ("ja",)
STABLE_DATE = datetime(2026, 12, 1, tzinfo=UTC)
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2)}


def po_path(language: str) -> Path:
    return LOCALE / language / "LC_MESSAGES" / "supportdesk.po"


def mo_path(language: str) -> Path:
    return po_path(language).with_suffix(".mo")


def extract() -> Catalog:
    """Every marked message in the package, with where it is used."""
    catalog = Catalog(project="supportdesk", charset="utf-8", fuzzy=False)
    method_map = [("**.py", "python")]
    for filename, lineno, message, comments, context in extract_from_dir(
        str(PACKAGE), method_map=method_map, keywords=KEYWORDS, comment_tags=("i18n:",)
    ):
        catalog.add(
            message,
            None,
            [(f"supportdesk/{filename}", lineno)],
            auto_comments=comments,
            context=context,
        )
    return catalog


def _write(catalog: Catalog, path: Path) -> None:
    # Fixed dates and no line numbers: the files change only when a message does, so two
    # branches that each add strings merge without conflicts in the header or references.
    catalog.creation_date = STABLE_DATE
    catalog.revision_date = STABLE_DATE
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=100, omit_header=False, sort_output=True, include_lineno=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())


def load(language: str) -> Catalog:
    path = po_path(language)
    if not path.exists():
        return Catalog(locale=language, project="supportdesk", fuzzy=False)
    with path.open("rb") as handle:
        return read_po(handle, locale=language)


def compiled(language: str) -> bytes:
    buffer = io.BytesIO()
    write_mo(buffer, load(language), use_fuzzy=False)
    return buffer.getvalue()


def update() -> None:
    template = extract()
    _write(template, POT)
    for language in LANGUAGES:
        catalog = load(language)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        _write(catalog, po_path(language))


def compile_all() -> None:
    for language in LANGUAGES:
        mo_path(language).write_bytes(compiled(language))


def problems() -> list[str]:
    """What `check` (and tests/test_i18n.py) complain about, one line each."""
    found: list[str] = []
    template = extract()
    for language in LANGUAGES:
        catalog = load(language)
        for message in template:
            if not message.id:
                continue
            entry = catalog.get(message.id, context=message.context)
            where = ", ".join(f"{f}:{n}" for f, n in message.locations[:2])
            if entry is None:
                found.append(f"{language}: not in the catalogue: {message.id!r} ({where})")
            elif (
                entry.fuzzy
                or not entry.string
                or (isinstance(entry.string, tuple) and not all(entry.string))
            ):
                found.append(f"{language}: no translation: {message.id!r} ({where})")
        mo = mo_path(language)
        if not mo.exists() or mo.read_bytes() != compiled(language):
            found.append(f"{language}: {mo.name} is stale: run scripts/i18n.py compile")
    return found


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    if command == "extract":
        _write(extract(), POT)
    elif command == "update":
        update()
    elif command == "compile":
        compile_all()
    elif command == "check":
        issues = problems()
        for line in issues:
            print(line)
        return 1 if issues else 0
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
