"""The console and the CLI agree: the same config problems, the same tags, the same bindings."""

from __future__ import annotations

import inspect
import pkgutil
from collections.abc import Callable
from importlib import import_module
from pathlib import Path

from textual.binding import Binding
from textual.dom import DOMNode
from textual.widgets import Input

import supportdesk.tui
from supportdesk.appearance import check_appearance
from supportdesk.desk import tickets
from supportdesk.desk.events import Change
from supportdesk.keymap import GROUPS, binding_ids
from supportdesk.store import Store
from supportdesk.tui.app import SupportdeskApp
from supportdesk.tui.screens.modals import AskScreen
from tests.tui.conftest import SIZE, notes, open_ticket, ready, wait_until
from tests.tui.test_console_actions import detail, first


def test_every_console_binding_comes_from_the_textual_free_table() -> None:
    """config check trusts supportdesk.keymap; a binding declared elsewhere would escape it."""
    table = {
        (spec.id, spec.keys, spec.action, spec.description, spec.show)
        for group in GROUPS.values()
        for spec in group
    }
    seen: set[str] = set()
    for info in pkgutil.walk_packages(supportdesk.tui.__path__, "supportdesk.tui."):
        module = import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if not issubclass(cls, DOMNode) or not cls.__module__.startswith("supportdesk."):
                continue
            for item in cls.__dict__.get("BINDINGS", []):
                assert isinstance(item, Binding) and item.id, f"{cls.__name__}: {item!r}"
                key = (item.id, item.key, item.action, item.description, item.show)
                assert key in table, f"{cls.__name__} binds {key} outside supportdesk.keymap"
                seen.add(item.id)
    assert seen == set(binding_ids())


async def test_console_reports_what_config_check_reports(
    make_app: Callable[..., SupportdeskApp], tmp_path: Path
) -> None:
    keymap = {"nav.nxt": "ctrl+n", "ticket.assign_me": "ctrl+t"}
    app = make_app(theme="drak", keymap=keymap)
    # make_app gives the app this (empty) user themes dir; the check must look at the same.
    checked = check_appearance("drak", keymap, user_themes_dir=tmp_path / "no-user-themes")
    expected = checked.problems
    assert len(expected) == 2 and "did you mean 'nav.next'" in expected[1]
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert app.theme == "dark"
        shown = notes(app)
        for problem in expected:
            assert problem in shown


async def test_tag_box_takes_any_script_and_refuses_only_the_bad_tag(
    make_app: Callable[..., SupportdeskApp], demo_store: Store
) -> None:
    number = first(demo_store, "status:active")
    with demo_store.session(write=True) as session:
        tickets.add_tags(session, number, ["old-tag"], Change.by("agent:bob"))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await open_ticket(pilot, number)
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, AskScreen), what="the tag box")
        app.screen.query_one(Input).value = "要確認 ＶＩＰ bad! -old-tag"
        await pilot.press("enter")
        await wait_until(
            pilot,
            lambda: (
                {"要確認", "vip"} <= set(detail(demo_store, number).tags)
                and "old-tag" not in detail(demo_store, number).tags
            ),
            what="the good tags to apply",
        )
        warning = next(n for n in notes(app) if "'bad!'" in n)
        assert "the other tags were applied" in warning
