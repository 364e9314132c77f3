"""`supportdesk config`: where the config file is, whether it is valid, what is in effect."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import typer

from supportdesk.cli.options import JsonOption
from supportdesk.cli.output import echo, error, print_json
from supportdesk.errors import ConfigError
from supportdesk.i18n import _

if TYPE_CHECKING:
    from supportdesk.cli.context import CliContext
    from supportdesk.config import Settings

app = typer.Typer(
    help=_("Find, check and show the config file (config.toml)."), no_args_is_help=True
)


def _cli(ctx: typer.Context) -> CliContext:
    return ctx.obj


@app.command("path", help=_("Print which config file is used, and whether it exists yet."))
def path_command(ctx: typer.Context, as_json: JsonOption = False) -> None:
    from supportdesk.config import resolve_config_path

    path, source = resolve_config_path(_cli(ctx).config_path)
    exists = path.is_file()
    if as_json:
        print_json({"path": str(path), "source": source, "exists": exists})
        return
    echo(str(path))
    echo(_("  from: {source}").format(source=source))
    echo(_("  exists: yes") if exists else _("  exists: no (`supportdesk init` creates it)"))


@app.command(
    "check",
    help=_(
        "Validate the config file as the console would; exit 1 "
        "naming each key that is wrong.\n\nBeyond the file's own rules "
        "this checks what only the installation knows: that the "
        "theme exists and loads, and that every [keymap] id names a "
        "binding."
    ),
)
def check_command(ctx: typer.Context, as_json: JsonOption = False) -> None:
    from supportdesk.appearance import check_appearance
    from supportdesk.config import load_settings, resolve_config_path

    config_path = _cli(ctx).config_path
    path, source = resolve_config_path(config_path)
    try:
        settings = load_settings(config_path)
    except ConfigError as exc:
        problems = [str(exc)]
    else:
        checked = check_appearance(settings.theme, settings.keymap)
        problems = [f"{path}: {problem}" for problem in checked.problems]
    exists = path.is_file()
    if as_json:
        print_json(
            {
                "ok": not problems,
                "path": str(path),
                "source": source,
                "exists": exists,
                "error": problems[0] if problems else None,
                "problems": problems,
            }
        )
    elif not problems:
        echo(
            _("ok: {path}").format(path=path)
            if exists
            else _("ok: {path} (no file: all defaults)").format(path=path)
        )
    for problem in [] if as_json else problems:
        error(problem)
    if problems:
        raise typer.Exit(1)


@app.command(
    "show",
    help=_("Print the settings in effect, defaults filled in (database passwords are masked)."),
)
def show_command(ctx: typer.Context, as_json: JsonOption = False) -> None:
    from supportdesk.config import resolve_config_path

    cli = _cli(ctx)
    path, source = resolve_config_path(cli.config_path)
    data = effective_settings(cli.settings, cli.store_url())
    if as_json:
        print_json(
            {
                "config": {"path": str(path), "source": source, "exists": path.is_file()},
                "settings": data,
            }
        )
        return
    origin = (
        _("from {path}").format(path=path)
        if path.is_file()
        else _("all defaults, no file at {path}").format(path=path)
    )
    echo(_("# effective settings ({origin})").format(origin=origin))
    echo(render_toml(data).rstrip("\n"))


def effective_settings(settings: Settings, store_url: str | None = None) -> dict[str, Any]:
    """Settings as plain data with computed defaults in place and nothing secret in them.

    `store_url` is the store actually in force (--store wins over the file's database_url).
    """
    from supportdesk.config import redact_url

    data = settings.model_dump(mode="json")
    data["database_url"] = redact_url(store_url or settings.store_url())
    return data


def render_toml(data: dict[str, Any]) -> str:
    """TOML text for settings data: unset keys become comments, since TOML has no null."""
    lines: list[str] = []
    _render_table(data, (), lines)
    return "\n".join(lines) + "\n"


def _render_table(data: dict[str, Any], prefix: tuple[str, ...], lines: list[str]) -> None:
    tables = {k: v for k, v in data.items() if isinstance(v, dict)}
    arrays = {k: v for k, v in data.items() if _is_array_of_tables(v)}
    for key, value in data.items():
        if key in tables or key in arrays:
            continue
        if value is None:
            lines.append(f"# {_key(key)} is not set")
        else:
            lines.append(f"{_key(key)} = {_value(value)}")
    for key, value in tables.items():
        lines.extend(["", f"[{'.'.join(_key(k) for k in (*prefix, key))}]"])
        _render_table(value, (*prefix, key), lines)
    for key, items in arrays.items():
        for item in items:
            lines.extend(["", f"[[{'.'.join(_key(k) for k in (*prefix, key))}]]"])
            _render_table(item, (*prefix, key), lines)


def _is_array_of_tables(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _key(key: str) -> str:
    bare = key and all(c.isascii() and (c.isalnum() or c in "_-") for c in key)
    return key if bare else json.dumps(key, ensure_ascii=False)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)
