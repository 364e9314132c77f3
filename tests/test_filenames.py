"""Attachment names cannot escape a folder, hide, impersonate a device or grow without end."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from supportdesk.mail.filenames import MAX_BYTES, safe_destination, safe_filename


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../x", "x"),
        ("../../etc/passwd", "passwd"),
        ("/etc/passwd", "passwd"),
        ("C:\\Windows\\system32\\evil.dll", "evil.dll"),
        ("\\\\server\\share\\file.txt", "file.txt"),
        ("\\\\server\\share", "share"),
        ("a\x00b.txt", "ab.txt"),
        ("report\x1b[31m.pdf", "report[31m.pdf"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),
        ("  .hidden ", "hidden"),
        ("...", "attachment"),
        ("..", "attachment"),
        ("", "attachment"),
        (None, "attachment"),
        ("\t\n", "attachment"),
        ("CON", "_CON"),
        ("con.txt", "_con.txt"),
        ("Com1.tar.gz", "_Com1.tar.gz"),
        ("lpt9", "_lpt9"),
        ("console.txt", "console.txt"),
        ('a<b>c:d"e|f?g*h.txt', "a_b_c_d_e_f_g_h.txt"),
        ("file.txt:stream", "file.txt_stream"),
        ("trailing. . ", "trailing"),
        ("spaced \t  out.txt", "spaced out.txt"),
        ("日本語の添付ファイル.docx", "日本語の添付ファイル.docx"),
        ("e\u0301te\u0301.pdf", "été.pdf"),
    ],
)
def test_safe_filename(name: str | None, expected: str) -> None:
    assert safe_filename(name) == expected


def test_fallback_is_used_and_sanitised() -> None:
    assert safe_filename("", fallback="message.eml") == "message.eml"
    assert safe_filename(None, fallback="../x.bin") == "x.bin"
    assert safe_filename(None, fallback="..") == "attachment"


@pytest.mark.parametrize(
    "name", ["x" * 500 + ".pdf", "é" * 300 + ".pdf", "📎" * 100 + ".tar.gz", "y" * 1000]
)
def test_long_names_are_cut_keeping_the_extension(name: str) -> None:
    result = safe_filename(name)
    assert len(result.encode("utf-8")) <= MAX_BYTES
    assert result.endswith(name.rpartition(".")[2] if "." in name else "y")
    result.encode("utf-8").decode("utf-8")


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=400), st.none()))
def test_any_name_is_one_short_component(name: str | None) -> None:
    result = safe_filename(name)
    assert result and result not in (".", "..")
    assert "/" not in result and "\\" not in result and "\x00" not in result
    assert not result.startswith(".") and not result.endswith((".", " "))
    assert len(result.encode("utf-8")) <= MAX_BYTES
    assert all(ch.isprintable() or ch == " " for ch in result)
    assert safe_filename(result) == result


@pytest.mark.parametrize(
    "name", ["../../x", "/etc/passwd", "..\\..\\x", "a\x00b", "C:\\x", "\\\\srv\\s\\x", "é" * 300]
)
def test_destination_stays_inside(tmp_path: Path, name: str) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    target = safe_destination(folder, name)
    assert target.parent == folder.resolve()
    assert not target.exists()


def test_destination_numbers_taken_names(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("1")
    (tmp_path / "a (1).txt").write_text("2")
    assert safe_destination(tmp_path, "a.txt").name == "a (2).txt"
    assert safe_destination(tmp_path, "b.txt").name == "b.txt"


def test_destination_never_follows_a_symlink(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    folder = tmp_path / "folder"
    folder.mkdir()
    os.symlink(outside / "victim.txt", folder / "victim.txt")  # dangling: the target is absent
    target = safe_destination(folder, "victim.txt")
    assert target.name == "victim (1).txt" and target.parent == folder.resolve()


def test_destination_long_name_with_counter_stays_short(tmp_path: Path) -> None:
    name = "z" * 300 + ".pdf"
    first = safe_destination(tmp_path, name)
    first.write_bytes(b"")
    second = safe_destination(tmp_path, name)
    assert second != first and second.name.endswith(" (1).pdf")
    assert len(second.name.encode("utf-8")) <= MAX_BYTES
