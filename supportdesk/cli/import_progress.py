"""The columns of `supportdesk import`'s progress bar (rich loaded only here)."""

from __future__ import annotations

from rich.progress import ProgressColumn, Task
from rich.text import Text

from supportdesk.i18n import _


class MessagesColumn(ProgressColumn):
    """Messages done, out of how many when every source could count them beforehand."""

    def __init__(self, total: int | None) -> None:
        super().__init__()
        self.total = total

    def render(self, task: Task) -> Text:
        done = task.fields.get("messages", 0)
        text = f"{done:,}/{self.total:,}" if self.total is not None else f"{done:,}"
        return Text(_("{text} messages").format(text=text), style="progress.download")


class RateColumn(ProgressColumn):
    """Messages per second; rich's own speed column would show bytes for an mbox."""

    def render(self, task: Task) -> Text:
        elapsed = task.elapsed or 0.0
        done = task.fields.get("messages", 0)
        rate = f"{done / elapsed:,.0f}" if elapsed > 0 and done else "-"
        return Text(_("{rate} msg/s").format(rate=rate), style="progress.data.speed")
