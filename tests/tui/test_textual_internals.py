"""The Textual internals the console's fast paths use, checked by name.

pyproject allows any Textual from 1.0; these are private and may go in any release. If one
of these fails, the named helper must be changed to the new Textual before anything else.
"""

from __future__ import annotations

import inspect

from textual.content import Content
from textual.scroll_view import ScrollView
from textual.widgets import Input, Static


def test_input_still_has_the_watcher_the_search_bar_extends() -> None:
    assert callable(getattr(Input, "_watch_value", None)), (
        "textual.widgets.Input._watch_value is gone: change SearchInput._watch_value in "
        "supportdesk/tui/widgets/search_bar.py"
    )
    assert list(inspect.signature(Input._watch_value).parameters) == ["self", "value"], (
        "Input._watch_value takes other arguments now: change SearchInput._watch_value"
    )


def test_scroll_views_can_still_be_resized_without_a_layout() -> None:
    for name in ("_scroll_update", "set_reactive"):
        assert callable(getattr(ScrollView, name, None)), (
            f"ScrollView.{name} is gone: change set_virtual_size in "
            "supportdesk/tui/widgets/scrolling.py"
        )


def test_a_widgets_border_subtitle_is_still_kept_in_border_subtitle() -> None:
    widget = Static()
    assert hasattr(widget, "_border_subtitle"), (
        "Widget._border_subtitle is gone: change TicketList._show_subtitle in "
        "supportdesk/tui/widgets/ticket_list.py"
    )
    widget._border_subtitle = Content("12 of 3,405")
    assert str(widget.border_subtitle) == "12 of 3,405", (
        "Widget.border_subtitle no longer reads _border_subtitle: change "
        "TicketList._show_subtitle in supportdesk/tui/widgets/ticket_list.py"
    )


def test_an_option_list_still_caches_renders_by_option_and_maps_options_to_lines() -> None:
    from textual.widgets import OptionList
    from textual.widgets.option_list import Option

    option = Option("All open", id="open")
    assert callable(getattr(option, "_set_prompt", None)), (
        "Option._set_prompt is gone: change Sidebar._restyle in supportdesk/tui/widgets/sidebar.py"
    )
    option._set_prompt("Pending")
    assert str(option.prompt) == "Pending"
    listing = OptionList(option)
    cache = listing._option_render_cache
    assert callable(cache.keys) and callable(cache.discard), (
        "OptionList._option_render_cache is no LRUCache now: change Sidebar._restyle"
    )
    assert isinstance(listing._index_to_line, dict), (
        "OptionList._index_to_line is gone: change Sidebar._restyle and Sidebar._refresh_option"
    )
    assert isinstance(listing._heights, dict), (
        "OptionList._heights is gone: change Sidebar._restyle and Sidebar._refresh_option"
    )
