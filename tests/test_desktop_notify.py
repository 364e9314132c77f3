"""What the console writes to the terminal for a desktop notification: mail text inside our
own escape sequence must not end it early, start another one or add a field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from supportdesk.tui.desktop import LIMIT, DesktopNotifier, clean, sequence

HOSTILE = (
    "Refund\x1b]52;c;cm0gLXJmIH4=\x07 now\x1b[2J\x9b31m\x9d0;title\x9c;x\x1b\\"
    "\u202eevil\r\nnext\x00line\x7f"
)
CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def test_clean_keeps_the_words_and_drops_every_sequence_and_control() -> None:
    text = clean(HOSTILE)
    assert not CONTROLS.search(text)
    assert "52;c" not in text and "title" not in text and "2J" not in text
    assert text.startswith("Refund") and "now" in text and "next line" in text
    assert len(clean("x" * 1000)) == LIMIT


def test_osc9_is_one_sequence_with_clean_text() -> None:
    out = sequence("osc9", "#12: assigned to you", HOSTILE)
    assert out.startswith("\x1b]9;#12: assigned to you: Refund") and out.endswith("\x07")
    assert not CONTROLS.search(out[4:-1])


def test_osc777_keeps_its_three_fields() -> None:
    out = sequence("osc777", "#12; title", HOSTILE)
    assert out.startswith("\x1b]777;notify;") and out.endswith("\x07")
    fields = out[len("\x1b]777;") : -1].split(";")
    assert len(fields) == 3 and fields[0] == "notify" and fields[1] == "#12, title"
    assert not CONTROLS.search(out[2:-1])


def test_bell_and_off() -> None:
    assert sequence("bell", "a", HOSTILE) == "\x07"
    assert sequence("off", "a", HOSTILE) == ""
    sent: list[str] = []
    DesktopNotifier("off", sent.append).send("a", "b")
    DesktopNotifier("bell", sent.append).send("a", "b")
    assert sent == ["\x07"]
    with pytest.raises(ValueError, match="desktop_notify must be one of"):
        DesktopNotifier("osc99", sent.append)


def test_the_config_key_is_validated(tmp_path: Path) -> None:
    from supportdesk.config import load_settings
    from supportdesk.errors import ConfigError

    path = tmp_path / "config.toml"
    path.write_text('[console]\ndesktop_notify = "osc777"\n', encoding="utf-8")
    assert load_settings(path).console.desktop_notify == "osc777"
    path.write_text('[console]\ndesktop_notify = "popup"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="desktop_notify"):
        load_settings(path)
