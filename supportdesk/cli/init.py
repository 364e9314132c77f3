"""`supportdesk init`: from nothing to a working desk in one command, safe to run twice."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from supportdesk.cli.output import echo
from supportdesk.errors import NotFoundError
from supportdesk.i18n import _

if TYPE_CHECKING:
    from supportdesk.cli.context import CliContext

DEFAULT_QUEUE = "general"

_AGENT_LINE = re.compile(r"^# agent = .*$", re.MULTILINE)


def register(app: typer.Typer) -> None:
    """Add `init` to the top-level command group."""
    app.command(
        "init", help=_("Write a starter config file and create the store with a default queue.")
    )(init_command)


def init_command(
    ctx: typer.Context,
    agent: Annotated[
        str | None,
        typer.Option(
            "--agent", metavar="HANDLE", help=_("Your agent handle: set in config, added.")
        ),
    ] = None,
    email: Annotated[
        str | None, typer.Option("--email", help=_("Your email address (needed with --agent)."))
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help=_("Your display name (default: the handle)."))
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help=_("Replace an existing config file."))
    ] = False,
) -> None:
    from supportdesk.config import parse_settings, redact_url, resolve_config_path

    cli: CliContext = ctx.obj
    if agent is not None and email is None:
        raise typer.BadParameter(
            _(
                "--agent {agent} needs your email address too, e.g. --email {agent}@example.com"
            ).format(agent=agent),
            param_hint="--email",
        )
    path, _source = resolve_config_path(cli.config_path)
    if path.exists() and not force:
        echo(_("config: {path} exists, left as is (--force replaces it)").format(path=path))
    else:
        text = starter_config(agent)
        parse_settings(text, path)
        _write_atomically(path, text)
        echo(_("config: wrote {path}").format(path=path))

    store = cli.store(create=True)
    echo(_("store: {url}").format(url=redact_url(store.url)))

    from supportdesk.desk import directory

    with store.session(write=True) as session:
        queue = directory.ensure_queue(session, DEFAULT_QUEUE)
        echo(_("queue: {name}").format(name=queue.name))
        if agent is not None and email is not None:
            try:
                existing = directory.get_agent(session, agent)
            except NotFoundError:
                added = directory.add_agent(session, agent, email=email, name=name or "")
                directory.add_queue_member(session, queue, added)
                echo(
                    _("agent: added {handle} <{email}> to {name}").format(
                        handle=added.handle, email=added.email, name=queue.name
                    )
                )
            else:
                echo(_("agent: {handle} already exists, left as is").format(handle=existing.handle))


def starter_config(agent: str | None = None) -> str:
    """The example config, which documents every key, with `agent` filled in when given."""
    from supportdesk.resources import data_path

    text = data_path("config.example.toml").read_text(encoding="utf-8")
    if agent is None:
        return text
    line = f"agent = {json.dumps(agent)}"
    replaced, count = _AGENT_LINE.subn(line, text, count=1)
    return replaced if count else f"{line}\n{text}"


def _write_atomically(path: Path, text: str) -> None:
    # A half-written config would make every later command fail to start.
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
