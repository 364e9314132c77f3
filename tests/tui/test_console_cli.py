"""How the CLI opens the console: Textual stays out of other commands; no terminal, no console."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from supportdesk.cli import app


def test_console_command_has_help() -> None:
    result = CliRunner().invoke(app, ["console", "--help"])
    assert result.exit_code == 0
    assert "Open the agent console" in result.output


def test_without_a_terminal_the_overview_is_printed(demo_template: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'database_url = "sqlite:///{demo_template}"\nagent = "alice"\n')
    runner = CliRunner(env={"SUPPORTDESK_CONFIG": str(config), "COLUMNS": "200"})
    for args in ([], ["console"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        assert "billing" in result.output and "Views" in result.output


def test_other_commands_do_not_import_textual() -> None:
    code = (
        "import sys; from supportdesk.cli import app;"
        "print(any(m.split('.')[0] == 'textual' for m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False"
