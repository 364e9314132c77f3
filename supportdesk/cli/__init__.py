"""The `supportdesk` command line: thin Typer commands over the domain layer.

The Typer app lives in `commands.py` and is built only when a command needs it: `main`
answers a plain `supportdesk sync` (cron's no-op run) and a plain `supportdesk [console]`
(the console's start) through `fastpath` first, and importing this package stays cheap.
`from supportdesk.cli import app` still gives the app.
"""

from __future__ import annotations

import gc
import sys
from typing import TYPE_CHECKING, Any

from supportdesk.i18n import _

if TYPE_CHECKING:
    from supportdesk.cli.commands import app as app


def main() -> None:
    """Entry point of the `supportdesk` script and `python -m supportdesk`."""
    from supportdesk.cli.fastpath import (
        choose_language,
        parse_console,
        parse_sync,
        run_console,
        run_sync,
    )

    try:
        # Typer's help is built when the command modules are imported: the language must
        # be set before that, and before the fast path prints anything.
        choose_language(sys.argv[1:])
        fast = parse_sync(sys.argv[1:])
        if fast is not None:
            sys.exit(run_sync(fast))
        console = parse_console(sys.argv[1:])
        if console is not None:
            sys.exit(run_console(console))
        from supportdesk.cli.commands import app

        app()
    except KeyboardInterrupt:
        sys.exit(130)
    finally:
        # The process ends here: spare it the last garbage collection over every object
        # the imports made, which was a quarter of a no-op `supportdesk sync` run from cron.
        gc.freeze()


def __getattr__(name: str) -> Any:
    if name == "app":
        from supportdesk.cli.commands import app

        return app
    raise AttributeError(
        _("module {name!r} has no attribute {name2!r}").format(name=__name__, name2=name)
    )
