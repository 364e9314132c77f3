"""Resizing what a scroll view scrolls over without laying out the whole screen."""

from __future__ import annotations

from rich.style import Style
from textual.geometry import Size
from textual.scroll_view import ScrollView


def set_virtual_size(view: ScrollView, size: Size, *, repaint: bool = True) -> None:
    """Set `view`'s scrollable size; lay the screen out again only if its scrollbar comes or goes.

    The ticket list and the thread are sized by the stylesheet, so a new view or a new
    ticket changes only how far they scroll. Assigning `virtual_size` lays out every widget
    on the desk and then paints all of them, which was most of the cost of opening a ticket
    or switching views. This updates the scrollbar the way Textual does after a layout
    (`_scroll_update`); a scrollbar that appears or goes away still lays the screen out,
    through its own reactive. `repaint=False` leaves the view's lines to the caller, which
    knows which of them the new size changes.
    """
    if size == view.virtual_size:
        return
    view.set_reactive(ScrollView.virtual_size, size)
    if view.container_size:
        view._scroll_update(size)
        if repaint:
            view.refresh()
    else:
        view.refresh(layout=True)  # not laid out yet: the first layout sizes the scrollbar


class LineView(ScrollView):
    """A scroll view that draws its lines itself, with its base style looked up once.

    `rich_style` walks every ancestor's styles each time it is read, and a view that draws
    line by line read it once or twice per line: a few milliseconds per repaint. It changes
    only when styles do (theme, focus), which is when Textual calls `notify_style_update`.
    """

    _base_style: Style | None = None

    @property
    def base_style(self) -> Style:
        if self._base_style is None:
            self._base_style = self.rich_style
        return self._base_style

    def notify_style_update(self) -> None:
        self._base_style = None
        super().notify_style_update()
