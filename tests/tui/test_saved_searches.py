"""Appending a saved search to the agent's config file: careful, atomic, nothing else touched."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from supportdesk.config import load_settings
from supportdesk.errors import ConfigError, ValidationError
from supportdesk.tui.saved import append_saved_search, toml_string

CONFIG = """# supportdesk config
agent = "alice"   # me

[[mailboxes]]
name = "support"
address = "support@example.com"
imap_host = "imap.example.com"
"""


def test_appends_and_keeps_everything_else(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    saved = append_saved_search(path, "Mine", "assignee:me status:active")
    assert [(s.name, s.query) for s in saved] == [("Mine", "assignee:me status:active")]
    text = path.read_text(encoding="utf-8")
    assert text.startswith(CONFIG)
    settings = load_settings(path)
    assert settings.mailboxes[0].name == "support"  # the entry did not land in [[mailboxes]]
    assert settings.saved_searches[0].query == "assignee:me status:active"
    append_saved_search(path, "Second", "tag:vip")
    assert [s.name for s in load_settings(path).saved_searches] == ["Mine", "Second"]


def test_creates_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "new" / "config.toml"
    append_saved_search(path, "Urgent", "priority:urgent")
    assert load_settings(path).saved_searches[0].name == "Urgent"


def test_refuses_a_taken_or_empty_name(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    append_saved_search(path, "A", "tag:a")
    before = path.read_bytes()
    with pytest.raises(ValidationError, match="exists already"):
        append_saved_search(path, "A", "tag:b")
    with pytest.raises(ValidationError, match="needs a name"):
        append_saved_search(path, "  ", "tag:b")
    assert path.read_bytes() == before


def test_leaves_a_file_alone_when_the_result_would_not_load(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('saved_searches = [{ name = "x", query = "tag:x" }]\n', encoding="utf-8")
    before = path.read_bytes()
    with pytest.raises(ConfigError, match="would no longer load"):
        append_saved_search(path, "y", "tag:y")
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["config.toml"]  # no temporary left behind


@pytest.mark.parametrize(
    "value", ['say "hi"', "back\\slash", "tab\there", "bell\x07", "del\x7f", "日本語 😀"]
)
def test_toml_strings_round_trip(value: str) -> None:
    assert tomllib.loads(f"v = {toml_string(value)}")["v"] == value
