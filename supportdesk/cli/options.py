"""Option types every command group shares, declared once so `--json` reads the same everywhere."""

from __future__ import annotations

from typing import Annotated

import typer

from supportdesk.i18n import _

JsonOption = Annotated[bool, typer.Option("--json", help=_("Print JSON for scripts."))]
