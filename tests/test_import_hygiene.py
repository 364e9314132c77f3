"""The domain and the store must not pull in a UI: they run under cron, rules and scripts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CHECK = """
import pkgutil, importlib, sys
import supportdesk.desk, supportdesk.store
for package in (supportdesk.desk, supportdesk.store):
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        if ".migrations" not in info.name:
            importlib.import_module(info.name)
ui = sorted(m for m in sys.modules if m.split(".")[0] in ("textual", "typer", "click"))
print(",".join(ui))
"""


def test_desk_and_store_import_neither_textual_nor_typer() -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_cli_help_does_not_import_textual_or_the_store() -> None:
    code = (
        "import sys, supportdesk.cli.commands;"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('textual', 'sqlmodel', 'alembic'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_layering_contracts_hold() -> None:
    """The import contracts in pyproject.toml ([tool.importlinter]) hold for the whole package."""
    root = Path(__file__).resolve().parent.parent
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--config", str(root / "pyproject.toml"), "--no-cache"],
        capture_output=True,
        text=True,
        cwd=root,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "broken" in result.stdout and " 0 broken" in result.stdout
