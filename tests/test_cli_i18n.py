"""The command line in Japanese: help, tables, errors and config problems follow the language,
while what scripts read (JSON, exit codes) is the same byte for byte in every language.

Each run is a real `python -m supportdesk` process, since the language is chosen before
Typer builds its help (at import) and an in-process runner has imported it already.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from supportdesk.demo.builder import build_demo
from supportdesk.store import Store, open_store
from tests.test_cli import config  # noqa: F401  (the seeded store on SQLite and PostgreSQL)

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2025, 3, 14, 15, 9, tzinfo=UTC)
JAPANESE = re.compile("[\u3040-\u30ff\u4e00-\u9fff]")


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str


def cli(*args: str, language: str, env: dict[str, str] | None = None) -> Run:
    """`supportdesk ARGS` as its own process, with LANGUAGE set to `language`."""
    environ = {k: v for k, v in os.environ.items() if k not in ("SUPPORTDESK_CONFIG", "LC_ALL")}
    environ.update({"LANGUAGE": language, "COLUMNS": "200", **(env or {})})
    proc = subprocess.run(
        [sys.executable, "-m", "supportdesk", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=environ,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def _cells(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("demo-i18n") / "demo.db"
    store: Store = open_store(f"sqlite:///{path}", create=True)
    build_demo(store, tickets=40, now=NOW)
    store.dispose()
    yield path


@pytest.fixture
def no_config(tmp_path: Path) -> dict[str, str]:
    """An environment whose default config file does not exist (so the locale decides)."""
    return {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "XDG_DATA_HOME": str(tmp_path / "data")}


def test_help_follows_the_locale(no_config: dict[str, str]) -> None:
    ja = cli("--help", language="ja", env=no_config)
    en = cli("--help", language="en", env=no_config)
    assert ja.code == en.code == 0
    assert "キーボード中心のターミナル型ヘルプデスク。" in ja.stdout
    assert "チケット: クエリでの一覧表示と、スレッド付きの 1 件表示。" in ja.stdout
    assert "A keyboard-first terminal help desk." in en.stdout
    assert not JAPANESE.search(en.stdout)
    # Command and option names stay as they are.
    for name in ("tickets", "queues", "--config", "--store"):
        assert name in ja.stdout

    # A command's summary in the list ends at its first 。 and fits the terminal's cells.
    narrow = cli("--help", language="ja", env={**no_config, "COLUMNS": "80"})
    listed = narrow.stdout.split("コマンド:\n", 1)[1].splitlines()
    assert any(
        re.fullmatch(r"  sync +IMAP から新着メールをチケットに取り込みます。", line)
        for line in listed
    )
    assert all(_cells(line) <= 80 for line in listed), listed

    ja = cli("tickets", "list", "--help", language="ja", env=no_config)
    assert ja.code == 0
    assert "スクリプト向けに JSON で出力します。" in ja.stdout and "--json" in ja.stdout
    # Typer's own section headings and notes follow too.
    assert "オプション:" in ja.stdout and "引数:" in ja.stdout
    assert ja.stdout.startswith("使い方: ") and "このヘルプを表示して終了します。" in ja.stdout
    en = cli("tickets", "list", "--help", language="en", env=no_config)
    assert "Options:" in en.stdout and "Arguments:" in en.stdout
    assert en.stdout.startswith("Usage: ") and "Show this message and exit." in en.stdout


def test_the_config_language_wins_over_the_locale(tmp_path: Path) -> None:
    japanese = tmp_path / "ja.toml"
    japanese.write_text('language = "ja"\n', encoding="utf-8")
    english = tmp_path / "en.toml"
    english.write_text('language = "en"\n', encoding="utf-8")

    run = cli("--config", str(japanese), "--help", language="en")
    assert "キーボード中心" in run.stdout
    run = cli("--help", language="en", env={"SUPPORTDESK_CONFIG": str(japanese)})
    assert "キーボード中心" in run.stdout
    run = cli(f"--config={english}", "queues", "--help", language="ja")
    assert run.code == 0 and not JAPANESE.search(run.stdout)
    # An unusable file leaves the choice to the locale; the command then reports the file.
    broken = tmp_path / "broken.toml"
    broken.write_text('language = "ja\n', encoding="utf-8")
    run = cli("--config", str(broken), "queues", "list", language="ja")
    assert run.code == 1
    assert str(broken) in run.stderr and "TOML" in run.stderr and "エラー: " in run.stderr


def test_tickets_list_on_the_demo_store_in_japanese(demo_store: Path) -> None:
    ja = cli("--store", str(demo_store), "tickets", "list", "--limit", "5", language="ja")
    en = cli("--store", str(demo_store), "tickets", "list", "--limit", "5", language="en")
    assert ja.code == en.code == 0
    header = ja.stdout.splitlines()[0]
    for word in ("状態", "優先", "キュー", "件名", "依頼者", "担当者", "更新"):
        assert word in header, header
    assert "件を表示" in ja.stdout
    assert "status" in en.stdout.splitlines()[0] and "showing 5 of" in en.stdout
    # The rows are the same tickets, with the same numbers and subjects.
    numbers = re.compile(r"^\s*(\d+)\s", re.MULTILINE)
    rows = ["40", "39", "38", "37", "36"]
    assert numbers.findall("\n".join(ja.stdout.splitlines()[:-1])) == rows
    assert numbers.findall("\n".join(en.stdout.splitlines()[:-1])) == rows
    assert ja.stdout.splitlines()[-1] == "40 のうち 5 件を表示"

    ja = cli("--store", str(demo_store), "queues", "list", language="ja")
    assert ja.code == 0 and "キュー" in ja.stdout and "未割り当て" in ja.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("tickets", "list", "--json"),
        ("tickets", "list", "status:open", "--json"),
        ("tickets", "show", "1", "--json"),
        ("queues", "list", "--json"),
        ("agents", "list", "--json"),
        ("history", "--json"),
        ("config", "show", "--json"),
        ("config", "check", "--json"),
        ("tickets", "assign", "bob", "queue:tech", "--dry-run", "--json"),
    ],
)
def test_json_and_exit_codes_are_the_same_in_every_language(
    config: Path,  # noqa: F811
    args: tuple[str, ...],
) -> None:
    ja = cli("--config", str(config), *args, language="ja")
    en = cli("--config", str(config), *args, language="en")
    assert en.code == 0, en.stderr
    assert (ja.code, ja.stdout) == (en.code, en.stdout)
    assert not JAPANESE.search(ja.stdout)


def test_json_on_the_demo_store_is_the_same_in_every_language(demo_store: Path) -> None:
    for args in (("tickets", "list", "--limit", "50", "--json"), ("queues", "list", "--json")):
        ja = cli("--store", str(demo_store), *args, language="ja")
        en = cli("--store", str(demo_store), *args, language="en")
        assert en.code == 0 and ja.stdout.encode() == en.stdout.encode()


def test_with_json_even_the_messages_are_the_same_in_every_language(
    tmp_path: Path,
    config: Path,  # noqa: F811
) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[sync]\nbatch_size = 0\n", encoding="utf-8")
    runs = [
        ("--config", str(broken), "config", "check", "--json"),
        ("--config", str(config), "tickets", "status", "bogus", "1", "--json"),
        ("--config", str(config), "tickets", "tag", "ok,bad tag!", "1", "--json"),
    ]
    for args in runs:
        ja = cli(*args, language="ja")
        en = cli(*args, language="en")
        assert en.code != 0, en
        assert (ja.code, ja.stdout, ja.stderr) == (en.code, en.stdout, en.stderr)
        assert not JAPANESE.search(ja.stdout + ja.stderr)
    assert '"error": ' in cli(*runs[0], language="ja").stdout


def test_a_config_error_in_japanese_names_the_same_key_and_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[sync]\nbatch_size = 0\n", encoding="utf-8")
    ja = cli("--config", str(path), "config", "check", language="ja")
    en = cli("--config", str(path), "config", "check", language="en")
    assert ja.code == en.code == 1
    assert (
        en.stderr.strip()
        == f"error: {path}: sync.batch_size: expected an integer from 1 to 1000; got 0"
    )
    assert (
        ja.stderr.strip()
        == f"エラー: {path}: sync.batch_size: 1 から 1000 の整数を指定してください。指定値: 0"
    )

    path.write_text("[sync]\nbatch_sise = 5\n", encoding="utf-8")
    ja = cli("--config", str(path), "tickets", "list", language="ja")
    en = cli("--config", str(path), "tickets", "list", language="en")
    assert ja.code == en.code != 0
    assert "sync.batch_sise" in ja.stderr and "'batch_size'" in ja.stderr and str(path) in ja.stderr
    assert "不明なキー" in ja.stderr and "unknown key" in en.stderr


def test_domain_errors_in_japanese_keep_their_exit_codes(config: Path) -> None:  # noqa: F811
    cases = [
        (("tickets", "show", "99"), "エラー: チケット #99 はありません"),
        (("tickets", "status", "bogus", "1"), "不明なステータス 'bogus'"),
        (("notes", "edit", "424242", "x"), "社内メモ 424242 はありません"),
    ]
    for args, japanese in cases:
        ja = cli("--config", str(config), *args, language="ja")
        en = cli("--config", str(config), *args, language="en")
        assert ja.code == en.code != 0, (args, ja.stderr, en.stderr)
        assert japanese in ja.stderr, ja.stderr
        assert ja.stdout == en.stdout == ""
        assert len(ja.stderr.strip().splitlines()) == 1
        assert "Traceback" not in ja.stderr


def test_the_outbox_explains_itself_in_japanese_but_scripts_read_english() -> None:
    from supportdesk import i18n
    from supportdesk.desk.outbox import ItemView

    item = ItemView(
        id=1,
        ticket_number=7,
        state="queued",
        kind="reply",
        mailbox="support",
        recipients=["jo@acme.example"],
        subject="Refund",
        attempts=2,
        last_error="",
        created_at=NOW,
        next_attempt_at=NOW,
        sent_at=None,
        message_id="<a@b>",
        message_row_id=None,
        copied=False,
    )
    before = i18n.current_language()
    try:
        i18n.set_language("ja")
        assert item.explanation == "送信待ち (15:09 以降に再試行)"
        assert item.as_dict()["explanation"] == "waiting to be sent (retry after 15:09)"
    finally:
        i18n.set_language(before)
    assert item.explanation == "waiting to be sent (retry after 15:09)"
