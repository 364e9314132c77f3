"""The rich console behind `output.console` and `output.err_console`, loaded on first print."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

from supportdesk.cli.output import UNBOUNDED, FitTable
from supportdesk.text import UNSAFE, inert, strip_unsafe


class InertConsole(Console):
    """A rich console that cannot pass mail's escapes or markup on to a terminal."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(highlight=False, markup=False, emoji=False, **kwargs)
        # Rich fixes the size from $COLUMNS / $LINES at creation. This console is made on
        # first use, perhaps inside an environment changed for one command (a test's
        # runner); reading them at each print instead, as rich does when they are unset,
        # keeps one command's size from sticking to the next.
        self._width = kwargs.get("width")
        self._height = kwargs.get("height")

    def render_str(self, text: str, **kwargs: Any) -> Text:
        return super().render_str(inert(text), **kwargs)

    def render(
        self, renderable: RenderableType, options: ConsoleOptions | None = None
    ) -> Iterable[Segment]:
        for segment in super().render(renderable, options):
            if segment.control is None and UNSAFE.search(segment.text):
                yield Segment(strip_unsafe(segment.text), segment.style)
            else:
                yield segment

    def print(self, *objects: Any, **kwargs: Any) -> None:
        """Lines are never broken by us (a terminal wraps them, a pipe keeps them whole);
        in a pipe, tables come out at their natural width instead of the default 80."""
        if all(isinstance(o, str | Text) for o in objects):
            kwargs.setdefault("soft_wrap", True)
        elif not self.is_terminal and kwargs.get("width") is None:
            objects = tuple(_Natural(o) if isinstance(o, Table | FitTable) else o for o in objects)
            kwargs.setdefault("crop", False)
        super().print(*objects, **kwargs)


class _Natural:
    """A table laid out as wide as its widest row (for pipes)."""

    def __init__(self, table: Table | FitTable) -> None:
        self.table = table

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        wide = options.update_width(UNBOUNDED)
        width = Measurement.get(console, wide, self.table).maximum
        yield from console.render(self.table, options.update_width(max(1, width)))
