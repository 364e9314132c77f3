"""Printing for the CLI: the one place where text leaves for a terminal or a pipe.

Everything a command prints goes through here, so mail's hostile text is handled once:

- `console` and `err_console` are `InertConsole`s: strings are never read as rich markup or
  emoji codes (a subject saying "[bold]" prints "[bold]"), strings are made inert before
  layout, and every rendered line is stripped of anything a terminal could act on on its way
  out, whatever renderable produced it. A command cannot forget to filter.
- `echo` prints plain text for people (inert); `write_data` prints a format a program reads
  back (rule TOML) exactly when it goes to a pipe or file, inert on a terminal.
- `print_json` / `json_line` escape every control and bidi character, not only the C0 ones
  JSON must escape, so `--json` on a terminal is as safe as a table.

Widths: in a pipe a table is printed at its natural width and a line is never wrapped, so
`grep` and `cut` see whole rows. On a terminal a `FitTable` keeps the columns that identify a
row whole and narrows the others, in an order each table states.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from supportdesk.i18n import _
from supportdesk.text import UNSAFE, inert, one_line

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult
    from rich.measure import Measurement
    from rich.table import Table
    from rich.text import Text

    from supportdesk.cli.consoles import InertConsole
    from supportdesk.desk.handle import Desk
    from supportdesk.errors import SupportdeskError

UNBOUNDED = 100_000
"""The width a table is laid out in when it goes to a pipe: as wide as its rows."""


class _LazyConsole:
    """An `InertConsole` made on first use: importing rich is a third of `supportdesk --help`,
    and a no-op `sync --json` prints nothing through it.

    Every attribute is the real console's, so the modules that print keep importing `console`
    by name at their top.
    """

    __slots__ = ("_made", "_stderr")
    _made: InertConsole | None
    _stderr: bool

    def __init__(self, *, stderr: bool = False) -> None:
        object.__setattr__(self, "_stderr", stderr)
        object.__setattr__(self, "_made", None)

    def _console(self) -> InertConsole:
        if self._made is None:
            from supportdesk.cli.consoles import InertConsole

            object.__setattr__(self, "_made", InertConsole(stderr=self._stderr))
            assert self._made is not None
        return self._made

    def __getattr__(self, name: str) -> Any:
        return getattr(self._console(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._console(), name, value)

    def __delattr__(self, name: str) -> None:
        delattr(self._console(), name)

    # Rich's Live (progress bars) holds its console as a context manager.
    def __enter__(self) -> InertConsole:
        made = self._console()
        made.__enter__()
        return made

    def __exit__(self, *exc: Any) -> None:
        self._console().__exit__(*exc)


console = cast("InertConsole", _LazyConsole())
err_console = cast("InertConsole", _LazyConsole(stderr=True))


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(_("cannot serialise {name}").format(name=type(value).__name__))


def _escape_unsafe(text: str) -> str:
    """JSON text with DEL, C1 and bidi controls written as \\u escapes (same value, inert).

    json.dumps escapes only what JSON requires (C0); the rest can only occur inside strings,
    where a \\u escape means the same character.
    """
    return UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def json_text(data: Any, *, indent: int | None = 2) -> str:
    """`data` as JSON that is safe to show on a terminal, UTF-8 text kept readable."""
    return _escape_unsafe(json.dumps(data, default=_default, ensure_ascii=False, indent=indent))


def print_json(data: Any) -> None:
    """JSON on stdout, one document, UTF-8, no colour: for scripts."""
    sys.stdout.write(json_text(data) + "\n")


def json_line(data: Any) -> None:
    """One JSON document per line, flushed at once: a stream (`sync --watch --json`)."""
    sys.stdout.write(json_text(data, indent=None) + "\n")
    sys.stdout.flush()


def echo(text: str = "", *, err: bool = False) -> None:
    """A line of plain text for people, inert, never markup, never wrapped by us."""
    stream = sys.stderr if err else sys.stdout
    stream.write(inert(text) + "\n")


def read_data(path: str) -> str:
    """A file a person names (rules, canned replies, SLA policies), or stdin for "-": its
    text, or an error that names the file instead of a traceback."""
    from supportdesk.errors import NotFoundError, ValidationError

    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise NotFoundError(
            _("cannot read {path}: {strerror}").format(path=path, strerror=exc.strerror)
        ) from None
    except UnicodeDecodeError:
        raise ValidationError(_("{path} is not UTF-8 text").format(path=path)) from None


def write_data(text: str) -> None:
    """Text a program reads back (rules as TOML): exact into a pipe or file, inert on a terminal.

    The exact bytes keep export / edit / import round trips true; a person reading it on a
    terminal gets the same inert treatment as every other line.
    """
    sys.stdout.write(inert(text) if console.is_terminal else text)


def write_export(text: str, file: Path | None) -> None:
    """An `export` command's TOML: to `file` when one is named (said on stderr, so stdout
    stays clean), else `write_data`. A file that cannot be written is one line, not a
    traceback."""
    if file is None:
        write_data(text)
        return
    from supportdesk.errors import SupportdeskError

    try:
        file.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise SupportdeskError(
            _("cannot write {file}: {strerror}").format(file=file, strerror=exc.strerror)
        ) from None
    err_console.print(cell(_("exported to {file}").format(file=file)))


def export_from(store: Desk, read: Callable[[Any], str], file: Path | None) -> None:
    """An `export` command: the TOML `read` makes in one read session, by `write_export`."""
    with store.session() as session:
        text = read(session)
    write_export(text, file)


def import_into(
    store: Desk, apply: Callable[[Any, str, str], Any], file: str, as_json: bool
) -> None:
    """An `import` command: `file` (or stdin for -) applied by `apply(session, text, origin)`
    in one write transaction; its summary as JSON, or one line per kind of change. The names
    come from a file a person wrote, so they are shown inert like mail text."""
    text = read_data(file)
    with store.session(write=True) as session:
        summary = apply(session, text, file)
    if as_json:
        print_json(summary.as_dict())
        return
    for label, names in summary.as_dict().items():
        if names:
            console.print(cell(f"{label}: {', '.join(names)}"))


def cell(value: object, width: int | None = None) -> Text:
    """A table cell from mail-derived text: one line, inert, never parsed as rich markup."""
    from rich.text import Text

    return Text(one_line("" if value is None else str(value), width))


def block(value: str) -> Text:
    """A multi-line block of mail-derived text, inert, never parsed as markup."""
    from rich.text import Text

    return Text(inert(value))


def error(message: str) -> None:
    from rich.text import Text

    err_console.print(
        Text(_("error: "), style="bold red") + Text(one_line(message)), soft_wrap=True
    )


def refused(exc: SupportdeskError) -> int:
    """A person's mistake that ends a command: its one line on stderr, and the exit code."""
    error(str(exc))
    return exc.exit_code


def rule_failures(messages: list[str], shown: int = 20) -> None:
    """Rules that failed during a sync or an import: the mail is in, those changes are not."""
    from rich.text import Text

    for message in messages[:shown]:
        err_console.print(
            Text(_("rule failed: "), style="bold yellow") + Text(one_line(message)), soft_wrap=True
        )
    if len(messages) > shown:
        err_console.print(
            Text(
                _("... and {value:,} more rule failures (--json lists them all)").format(
                    value=len(messages) - shown
                )
            )
        )


def _fitted(text: Text, width: int) -> Text:
    """`text` cut to `width` cells with …, never inside a character: rich's own ellipsis
    splits a half-width kana from its voicing mark (ﾊﾟ becomes ﾊ)."""
    if text.cell_len <= width:
        return text
    from supportdesk.text import cut

    fitted = text[: len(cut(text.plain, max(0, width - 1)))]
    fitted.append("…")
    return fitted


@dataclass(frozen=True)
class Col:
    """A FitTable column. `give` says how readily it narrows on a small terminal: 0 never
    (the columns that identify a row), higher numbers first. It never goes below `least`."""

    header: str
    justify: Literal["left", "right"] = "left"
    give: int = 0
    least: int = 8


class FitTable:
    """A table of one-line cells that fits its width by narrowing the columns that matter least.

    Rich's own shrinking takes from every column alike, so at 80 columns a ticket list kept
    a ten-cell subject and history lost its ticket numbers. Here each column says how readily
    it gives way; the rest stay whole. In a pipe the console lays it out at its natural width.
    """

    def __init__(self, columns: Sequence[Col], *, title: str | None = None) -> None:
        self.columns = list(columns)
        self.title = title
        self.rows: list[list[Text]] = []

    def add_row(self, *cells: object) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(
                _("{count} cells for {count2} columns").format(
                    count=len(cells), count2=len(self.columns)
                )
            )
        from rich.text import Text

        self.rows.append([c if isinstance(c, Text) else cell(c) for c in cells])

    def _natural(self) -> list[int]:
        from rich.cells import cell_len

        widths = [cell_len(c.header) for c in self.columns]
        for row in self.rows:
            widths = [max(w, t.cell_len) for w, t in zip(widths, row, strict=True)]
        return widths

    def _table(self, widths: Sequence[int] | None) -> Table:
        from rich import box
        from rich.table import Table

        table = Table(
            box=box.SIMPLE_HEAD,
            show_edge=False,
            pad_edge=False,
            collapse_padding=True,
        )
        for index, column in enumerate(self.columns):
            table.add_column(
                column.header,
                justify=column.justify,
                no_wrap=True,
                overflow="ellipsis",
                width=None if widths is None else widths[index],
            )
        for row in self.rows:
            table.add_row(*row if widths is None else map(_fitted, row, widths))
        return table

    def _chrome(self, console: Console, options: ConsoleOptions) -> int:
        """Cells of padding and rules between columns, asked of rich rather than assumed."""
        from rich.measure import Measurement

        probe = self._table([1] * len(self.columns))
        probe.rows.clear()
        measured = Measurement.get(console, options.update_width(UNBOUNDED), probe).maximum
        return measured - len(self.columns)

    def fit(self, available: int) -> list[int]:
        """Column widths for `available` content cells (padding excluded)."""
        natural = self._natural()
        widths = list(natural)
        excess = sum(widths) - available
        for level in sorted({c.give for c in self.columns if c.give > 0}, reverse=True):
            if excess <= 0:
                break
            members = [i for i, c in enumerate(self.columns) if c.give == level]
            while excess > 0:
                room = [i for i in members if widths[i] > min(self.columns[i].least, natural[i])]
                if not room:
                    break
                widest = max(room, key=lambda i: widths[i])
                widths[widest] -= 1
                excess -= 1
        return widths

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        from rich.cells import cell_len
        from rich.measure import Measurement

        total = sum(self._natural()) + self._chrome(console, options)
        total = max(total, cell_len(self.title or ""))
        return Measurement(min(total, options.max_width), total)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        # The title is a line of its own, left-aligned: rich centres a title and wraps it to
        # the table's width, which broke it in two above narrow tables.
        if self.title:
            from rich.text import Text

            yield Text(self.title, style="bold", no_wrap=True, overflow="ellipsis")
        available = options.max_width - self._chrome(console, options)
        yield self._table(self.fit(available))
