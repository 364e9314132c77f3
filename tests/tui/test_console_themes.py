"""Themes: shipped files load, bad files are named, user files win, the choice persists."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from supportdesk.config import load_settings
from supportdesk.errors import ConfigError
from supportdesk.resources import data_path
from supportdesk.themes import load_theme, load_themes
from supportdesk.tui.app import SupportdeskApp
from supportdesk.tui.commands import commands
from supportdesk.tui.saved import set_theme
from tests.tui.conftest import SIZE, notes, palette, ready, wait_until

SHIPPED = sorted(p.stem for p in data_path("themes").glob("*.toml"))


def test_at_least_four_themes_ship() -> None:
    assert {"dark", "light", "high-contrast"} <= set(SHIPPED) and len(SHIPPED) >= 4


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_theme_loads(name: str, tmp_path: Path) -> None:
    theme = load_theme(data_path("themes") / f"{name}.toml")
    assert theme.name == name
    variables = theme.variables()
    assert {"status-on-hold", "priority-urgent", "sla-overdue"} <= set(variables)


def test_no_problems_with_the_shipped_set(tmp_path: Path) -> None:
    found = load_themes(tmp_path / "none")
    assert sorted(found.themes) == SHIPPED and found.problems == []


def _user_theme(folder: Path, name: str, **changes: str) -> Path:
    text = (data_path("themes") / "dark.toml").read_text(encoding="utf-8")
    text = text.replace('name = "dark"', f'name = "{name}"')
    for old, new in changes.items():
        text = text.replace(old, new)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_an_unknown_key_is_an_error_naming_file_and_key(tmp_path: Path) -> None:
    path = _user_theme(tmp_path, "mine", **{"\n[sla]\n": "\n[sla]\nlate = '#ff0000'\n"})
    with pytest.raises(ConfigError) as caught:
        load_theme(path)
    assert str(path) in str(caught.value) and "sla.late: unknown key" in str(caught.value)


def test_a_bad_colour_is_an_error(tmp_path: Path) -> None:
    path = _user_theme(tmp_path, "mine", **{'urgent = "#ff5f5f"': 'urgent = "red-ish"'})
    with pytest.raises(ConfigError, match=r"priority\.urgent: expected a colour"):
        load_theme(path)


def test_user_theme_overrides_shipped_and_bad_ones_are_skipped(tmp_path: Path) -> None:
    _user_theme(tmp_path, "dark", **{'primary = "#5fafff"': 'primary = "#123456"'})
    _user_theme(tmp_path, "broken", **{"\n[colors]\n": "\n[colors]\nglow = '#ffffff'\n"})
    found = load_themes(tmp_path)
    assert found.themes["dark"].colors.primary == "#123456"
    assert found.origins["dark"] == tmp_path / "dark.toml"
    assert "broken" not in found.themes
    assert len(found.problems) == 1 and "colors.glow: unknown key" in found.problems[0]


def test_set_theme_keeps_the_rest_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('# mine\nagent = "alice"\n\n[bulk]\nconfirm_above = 10\n', encoding="utf-8")
    set_theme(path, "light")
    assert path.read_text(encoding="utf-8") == (
        '# mine\nagent = "alice"\ntheme = "light"\n\n[bulk]\nconfirm_above = 10\n'
    )
    set_theme(path, "solarized-dark")
    settings = load_settings(path)
    assert settings.theme == "solarized-dark" and settings.bulk.confirm_above == 10
    assert path.read_text(encoding="utf-8").count("theme =") == 1


async def test_config_theme_applies_and_palette_switch_persists(
    make_app: Callable[..., SupportdeskApp], config_path: Path, tmp_path: Path
) -> None:
    _user_theme(tmp_path / "themes", "broken", **{"\n[sla]\n": "\n[sla]\nlate = '#ff0000'\n"})
    app = make_app(theme="light", user_themes_dir=tmp_path / "themes")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert app.theme == "light"
        assert any("broken.toml" in n and "sla.late" in n for n in notes(app))
        assert app.get_css_variables()["status-open"].lower() == "#d75f00"
        names = [name for name, _, _ in commands(app, app.desk)]
        assert "theme: high-contrast" in names and "theme: light" not in names
        await palette(pilot, "theme: high-contrast")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.theme == "high-contrast", what="the theme")
        await wait_until(
            pilot, lambda: load_settings(config_path).theme == "high-contrast", what="saving"
        )
        assert load_settings(config_path).bulk.confirm_above == 10


async def test_unknown_theme_in_config_falls_back(make_app: Callable[..., SupportdeskApp]) -> None:
    app = make_app(theme="nope")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert app.theme == "dark"
        assert any("no theme called 'nope'" in n for n in notes(app))
