"""Printing for the CLI: rich tables for people, JSON for scripts, inert text always."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.text import Text

from supportdesk.text import inert, one_line

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def print_json(data: Any) -> None:
    """JSON on stdout, one document, UTF-8, no colour: for scripts."""
    sys.stdout.write(json.dumps(data, default=_default, ensure_ascii=False, indent=2) + "\n")


def cell(value: object, width: int | None = None) -> Text:
    """A table cell from mail-derived text: one line, inert, never parsed as rich markup."""
    return Text(one_line("" if value is None else str(value), width))


def block(value: str) -> Text:
    """A multi-line block of mail-derived text, inert, never parsed as markup."""
    return Text(inert(value))


def error(message: str) -> None:
    err_console.print(Text("error: ", style="bold red") + Text(one_line(message)), soft_wrap=True)


def rule_failures(messages: list[str], shown: int = 20) -> None:
    """Rules that failed during a sync or an import: the mail is in, those changes are not."""
    for message in messages[:shown]:
        err_console.print(
            Text("rule failed: ", style="bold yellow") + Text(one_line(message)), soft_wrap=True
        )
    if len(messages) > shown:
        err_console.print(
            Text(f"... and {len(messages) - shown:,} more rule failures (--json lists them all)")
        )
