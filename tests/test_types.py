"""The type checker and the linter run with the suite, so a type error or a lint finding fails
the build rather than waiting for someone to run them by hand.

mypy reads its configuration from pyproject.toml ([tool.mypy]) and keeps its incremental cache
in .mypy_cache beside it: a warm run takes about three seconds, a cold one (a fresh
checkout) 20 to 60 on a busy two-core machine.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINTED = ["supportdesk", "tests", "bench", "scripts", "conformance"]


def _run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    executable = Path(sys.executable).with_name(tool)
    return subprocess.run(
        [str(executable), *args], capture_output=True, text=True, cwd=ROOT, check=False
    )


def test_mypy_is_clean() -> None:
    """Every module type-checks, and every `type: ignore` names its error code and is needed."""
    result = _run("mypy", "--config-file", str(ROOT / "pyproject.toml"))
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert result.stdout.startswith("Success: no issues found"), result.stdout[-2000:]


def test_mypy_configuration_keeps_its_promises() -> None:
    """The settings the clean run above stands on: the whole package, and no silent ignores."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    assert config["files"] == ["supportdesk"]
    assert config["warn_unused_ignores"] is True
    assert config["check_untyped_defs"] is True
    assert "ignore-without-code" in config["enable_error_code"]
    assert not config.get("ignore_missing_imports", False)
    assert not config.get("ignore_errors", False)


def test_ruff_check_is_clean() -> None:
    result = _run("ruff", "check", "--no-cache", *LINTED)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


def test_ruff_format_is_clean() -> None:
    result = _run("ruff", "format", "--check", "--no-cache", *LINTED)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
