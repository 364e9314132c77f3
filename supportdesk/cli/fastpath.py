"""A plain `supportdesk sync`, and a plain `supportdesk` or `supportdesk console`, without
building the Typer app.

A sync run from cron every minute mostly finds nothing new, so its cost is the process's
start: Typer, click and rich imports and Typer's per-option pydantic validators were most of
it. The console is opened many times a day and waits for the same start before its first
frame (Typer's import, its command modules and building the app were a tenth of it). This
module recognises the few argument shapes such runs use, unambiguously, and runs the same
`syncing.run` or `console.show` with the same context, error handling and exit codes as the
Typer command. Anything else (another command, `--help`, `--watch`, a repeated or unusual
option, a value that starts with "-") goes to Typer, which parses and reports it as always.
"""

from __future__ import annotations

import errno
import gc
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from supportdesk.cli.context import CliContext

# The root options and their environment variables, as declared in commands.py `root`.
_ROOT_OPTIONS = {"--config": "SUPPORTDESK_CONFIG", "--store": "SUPPORTDESK_STORE"}
_SYNC_OPTIONS = {"--mailbox": "--mailbox", "-m": "--mailbox"}
_SYNC_FLAGS = {"--json"}
_COMPLETION = re.compile(r"_\S+_COMPLETE")
"""click's shell-completion request (`_SUPPORTDESK_COMPLETE=...`): Typer answers those."""


@dataclass(frozen=True)
class SyncArgs:
    config: Path | None
    store: str | None
    mailbox: str | None
    as_json: bool


def parse_sync(argv: list[str]) -> SyncArgs | None:
    """The arguments of a plain `sync` command line, or None when Typer should parse it."""
    if any(_COMPLETION.fullmatch(name) for name in os.environ):
        return None
    root = _options(argv, set(_ROOT_OPTIONS), {}, set(), stop="sync")
    if root is None:
        return None
    given, flags, rest = root
    if rest[:1] != ["sync"]:
        return None
    command = _options(rest[1:], set(_SYNC_OPTIONS), _SYNC_OPTIONS, _SYNC_FLAGS, stop=None)
    if command is None:
        return None
    options, flags, rest = command
    if rest:
        return None
    config, store = _root_values(given)
    return SyncArgs(
        config=config,
        store=store,
        mailbox=options.get("--mailbox"),
        as_json="--json" in flags,
    )


@dataclass(frozen=True)
class ConsoleArgs:
    config: Path | None
    store: str | None


def parse_console(argv: list[str]) -> ConsoleArgs | None:
    """The arguments of `supportdesk [--config C] [--store S] [console]`, or None when Typer
    should parse the command line."""
    if any(_COMPLETION.fullmatch(name) for name in os.environ):
        return None
    root = _options(argv, set(_ROOT_OPTIONS), {}, set(), stop="console")
    if root is None:
        return None
    given, __, rest = root
    if rest not in ([], ["console"]):
        return None
    config, store = _root_values(given)
    return ConsoleArgs(config=config, store=store)


def _root_values(given: dict[str, str]) -> tuple[Path | None, str | None]:
    """--config and --store as Typer reads them: the option, else its environment variable."""
    values = {name: given.get(name) or _env(env) for name, env in _ROOT_OPTIONS.items()}
    config = values["--config"]
    return (None if config is None else Path(config)), values["--store"]


def _env(name: str) -> str | None:
    # click reads an empty variable as unset
    return os.environ.get(name) or None


def _options(
    argv: list[str],
    names: set[str],
    aliases: dict[str, str],
    flag_names: set[str],
    *,
    stop: str | None,
) -> tuple[dict[str, str], set[str], list[str]] | None:
    """Options with one value each (`--name value`, `--name=value`) and flags, up to `stop`.

    None for anything it is not sure about: an unknown option, one given twice, an empty
    value or one that starts with "-".
    """
    values: dict[str, str] = {}
    flags: set[str] = set()
    index = 0
    while index < len(argv):
        word = argv[index]
        if word == stop:
            break
        if word in flag_names:
            if word in flags:
                return None
            flags.add(word)
            index += 1
            continue
        name, equals, value = word.partition("=")
        if name not in names or (equals and not name.startswith("--")):
            return None
        if not equals:
            if index + 1 >= len(argv):
                return None
            value = argv[index + 1]
            index += 1
        index += 1
        name = aliases.get(name, name)
        if name in values or not value or value.startswith("-"):
            return None
        values[name] = value
    return values, flags, argv[index:]


def choose_language(argv: list[str]) -> str:
    """Set the language from the config file's `language` (else the locale) and return it.

    Read with tomllib alone: `supportdesk --help` must not pay for pydantic and the settings
    model. The file is the one the CLI would load (--config, $SUPPORTDESK_CONFIG, the
    default); a file that is missing, unreadable or invalid leaves the choice to the locale,
    and the command itself reports the problem when it loads the settings.

    With --json everything is English: what a script reads must be the same in every
    language, the messages inside it (an error, a refused tag) and beside it included.
    """
    from supportdesk import i18n

    if "--json" in (argv[: argv.index("--")] if "--" in argv else argv):
        return i18n.set_language("en")
    setting = "auto"
    path = _config_option(argv) or _env("SUPPORTDESK_CONFIG")
    try:
        if path is None:
            from supportdesk.paths import default_config_path

            config = default_config_path()
        else:
            config = Path(path).expanduser()
        if config.is_file():
            import tomllib

            value = tomllib.loads(config.read_text(encoding="utf-8")).get("language", "auto")
            if isinstance(value, str) and value in ("auto", *i18n.LANGUAGES):
                setting = value
    except (OSError, UnicodeDecodeError, ValueError):
        pass
    return i18n.set_language(setting)


def _config_option(argv: list[str]) -> str | None:
    """The value of the root `--config` option, read as click would (before the command)."""
    for index, word in enumerate(argv):
        if word == "--":
            return None
        if word == "--config" and index + 1 < len(argv):
            return argv[index + 1]
        if word.startswith("--config="):
            return word.removeprefix("--config=")
        if not word.startswith("-") and (index == 0 or argv[index - 1] not in _ROOT_OPTIONS):
            return None  # the command's name: options after it are the command's
    return None


def run_sync(args: SyncArgs) -> int:
    """What `supportdesk [--config C] [--store S] sync [...]` exits with, run as Typer would."""
    from supportdesk.cli import syncing

    return _as_typer(
        args.config,
        args.store,
        lambda cli: syncing.run(cli, mailbox=args.mailbox, watch=False, as_json=args.as_json),
    )


def _as_typer(config: Path | None, store: str | None, command: Callable[[CliContext], int]) -> int:
    """`command`'s exit code with the errors handled as the Typer app handles them: a refusal
    is one line on stderr and exit 1; a reader that went away (`| head`) exits 1 quietly, as
    click does."""
    from supportdesk.cli.context import CliContext
    from supportdesk.cli.output import refused
    from supportdesk.errors import SupportdeskError

    cli = CliContext(config_path=config, store_option=store)
    try:
        return command(cli)
    except SupportdeskError as exc:
        return refused(exc)
    except OSError as exc:
        if exc.errno != errno.EPIPE:
            raise
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    finally:
        cli.close()


def run_console(args: ConsoleArgs) -> int:
    """What `supportdesk [--config C] [--store S] [console]` exits with, run as Typer would.

    The garbage collector is off until the console's first page is on screen (the desk
    starts it again; `console.open_console` freezes what the imports made first): the objects
    the imports and the first frame make were otherwise traversed over and over, some 150 ms
    of the start. Without a terminal (the overview) it stays off: that process is short.
    """
    gc.disable()
    from supportdesk.cli.console import show

    return _as_typer(args.config, args.store, show)
