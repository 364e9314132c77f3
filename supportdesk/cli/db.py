"""`supportdesk db`: schema revisions of the store."""

from __future__ import annotations

import typer

from supportdesk.cli.context import CliContext
from supportdesk.cli.options import JsonOption
from supportdesk.cli.output import console, print_json
from supportdesk.i18n import _

app = typer.Typer(help=_("The store's schema: upgrade it, see its revision."))


@app.command(
    "upgrade",
    help=_("Bring the store's schema up to this version of supportdesk (creates it if empty)."),
)
def upgrade(ctx: typer.Context, as_json: JsonOption = False) -> None:
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
        console.print(_("store already at revision {after}").format(after=after))
    else:
        console.print(
            _("store upgraded from {value} to {after}").format(
                value=before or _("empty"), after=after
            )
        )


@app.command(
    "status", help=_("Show the store's location and schema revision against this version's.")
)
def status(ctx: typer.Context, as_json: JsonOption = False) -> None:
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
        state = _("up to date") if current == head else _("run `supportdesk db upgrade`")
        console.print(
            _("{store}: revision {value} (head {head}): {state}").format(
                store=data["store"], value=current or _("none"), head=head, state=state
            )
        )


@app.command(
    "optimize",
    help=_("Compact the full-text index and refresh statistics (seconds at a million messages)."),
)
def optimize(ctx: typer.Context) -> None:
    from supportdesk.store import search

    cli: CliContext = ctx.obj
    store = cli.store()
    with store.engine.begin() as conn:
        search.optimize(conn)
    console.print(_("search index optimized"))
