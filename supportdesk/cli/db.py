"""`supportdesk db`: schema revisions of the store."""

from __future__ import annotations

import typer

from supportdesk.cli.context import CliContext
from supportdesk.cli.options import JsonOption
from supportdesk.cli.output import console, print_json

app = typer.Typer(help="The store's schema: upgrade it, see its revision.")


@app.command("upgrade")
def upgrade(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Bring the store's schema up to this version of supportdesk (creates it if empty)."""
    from supportdesk.store import make_engine, migrate

    cli: CliContext = ctx.obj
    url = cli.store_url()
    engine = make_engine(url)
    try:
        before, after = migrate.upgrade(engine)
    finally:
        engine.dispose()
    if as_json:
        print_json(
            {"store": engine.url.render_as_string(hide_password=True), "from": before, "to": after}
        )
    elif before == after:
        console.print(f"store already at revision {after}")
    else:
        console.print(f"store upgraded from {before or 'empty'} to {after}")


@app.command("status")
def status(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Show the store's location and schema revision against this version's."""
    from supportdesk.store import make_engine, migrate

    cli: CliContext = ctx.obj
    engine = make_engine(cli.store_url())
    try:
        current = migrate.current_revision(engine)
    finally:
        engine.dispose()
    head = migrate.head_revision()
    data = {
        "store": engine.url.render_as_string(hide_password=True),
        "revision": current,
        "head": head,
        "up_to_date": current == head,
    }
    if as_json:
        print_json(data)
    else:
        state = "up to date" if current == head else "run `supportdesk db upgrade`"
        console.print(f"{data['store']}: revision {current or 'none'} (head {head}): {state}")


@app.command("optimize")
def optimize(ctx: typer.Context) -> None:
    """Compact the full-text index and refresh statistics (seconds at a million messages)."""
    from supportdesk.store import search

    cli: CliContext = ctx.obj
    store = cli.store()
    with store.engine.begin() as conn:
        search.optimize(conn)
    console.print("search index optimized")
