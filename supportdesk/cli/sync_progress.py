"""The sync's progress bars on a terminal: one rich bar per folder (rich loaded only here)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from supportdesk.i18n import _


class _Rate(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(
            _("{speed:,.0f} msg/s").format(speed=speed) if speed else "",
            style="progress.data.speed",
        )


class RichProgress:
    """The sync engine's Progress, drawn as one rich bar per folder."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: TaskID | None = None

    def begin(self, label: str, total: int) -> None:
        self.task = self.progress.add_task(label, total=total)

    def advance(self, count: int) -> None:
        if self.task is not None:
            self.progress.advance(self.task, count)

    def end(self) -> None:
        if self.task is not None:
            self.progress.stop_task(self.task)
            self.task = None


@contextlib.contextmanager
def progress(console: Console) -> Iterator[RichProgress]:
    with Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        _Rate(),
        TimeRemainingColumn(),
        console=console,
    ) as bars:
        yield RichProgress(bars)
