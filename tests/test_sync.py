"""IMAP sync against a real Dovecot: incremental, crash-safe, never doubling, watchable.

Every test gets a fresh account on the shared throwaway server (tests/imap_server.py) and a
fresh SQLite store, and drives either the real `supportdesk sync` command (in-process, or in a
subprocess where a signal has to reach it) or the engine directly where the test needs to see
which IMAP commands were sent.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from supportdesk.cli import app
from supportdesk.config import load_settings
from supportdesk.desk import directory
from supportdesk.desk.intake.pipeline import Ingestor
from supportdesk.desk.intake.sync import FolderResult, FolderSyncer
from supportdesk.mail import imap
from supportdesk.store import Store, open_store, quick
from supportdesk.store.models import Message, MessageRaw, SyncState, Ticket
from tests.imap_server import ImapAccount, _descendants, _pid_alive

ROOT = Path(__file__).resolve().parent.parent
SUPPORT = "support@desk.example"
# Fixed, so a message rebuilt for a comparison has exactly the bytes that were delivered.
DATE = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
runner = CliRunner(env={"COLUMNS": "200"})


# ---- helpers shared with test_mailbox_cli.py -------------------------------------------------


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(value if not isinstance(value, Path) else str(value))


def write_config(
    path: Path,
    account: ImapAccount,
    store_url: str,
    *,
    sync: dict[str, object] | None = None,
    password: str | None = None,
    **mailbox: object,
) -> Path:
    """A config.toml with one mailbox on the test server: implicit TLS trusting the test CA."""
    box: dict[str, object] = {
        "name": "support",
        "address": SUPPORT,
        "imap_host": account.host,
        "imap_port": account.tls_port,
        "security": "tls",
        "username": account.username,
        "password_command": f"printf %s {password or account.password}",
        "ca_file": account.ca_file,
        "default_queue": "general",
    }
    box.update(mailbox)
    lines = [f"database_url = {toml_value(store_url)}", "[sync]"]
    lines += [f"{k} = {toml_value(v)}" for k, v in (sync or {}).items()]
    lines.append("[[mailboxes]]")
    lines += [f"{k} = {toml_value(v)}" for k, v in box.items() if v is not None]
    path.write_text("\n".join(lines) + "\n")
    return path


def sd(config: Path, *args: str) -> tuple[int, str, str]:
    """Run the real CLI in-process."""
    result = runner.invoke(app, ["--config", str(config), *args])
    return result.exit_code, result.stdout, result.stderr


def sync_json(config: Path, *args: str) -> tuple[int, dict[str, Any]]:
    code, out, err = sd(config, "sync", "--json", *args)
    assert out, err
    return code, json.loads(out)


def mail(
    n: int,
    *,
    subject: str | None = None,
    sender: str | None = None,
    reply_to: int | None = None,
    message_id: str | None = "auto",
    body: str = "",
) -> bytes:
    """A small message; `reply_to` threads it onto message number `reply_to`."""
    who = sender or f"Customer {n} <customer{n}@example.org>"
    headers = [
        f"From: {who}",
        f"To: {SUPPORT}",
        f"Subject: {subject or f'Question {n}'}",
        f"Date: {format_datetime(DATE + timedelta(minutes=n))}",
    ]
    if message_id == "auto":
        headers.append(f"Message-ID: <msg{n}@example.org>")
    elif message_id is not None:
        headers.append(f"Message-ID: {message_id}")
    if reply_to is not None:
        parent = f"<msg{reply_to}@example.org>"
        headers += [f"In-Reply-To: {parent}", f"References: {parent}"]
    text = body or f"Hello, this is message {n}.\r\nThanks"
    return ("\r\n".join(headers) + "\r\n\r\n" + text + "\r\n").encode()


def thread_mail(n: int) -> bytes:
    """Message n of a folder of threads: every third message starts one, two replies follow."""
    root = n - n % 3
    if n == root:
        return mail(n, sender=f"Customer {root} <customer{root}@example.org>")
    return mail(
        n,
        subject=f"Re: Question {root}",
        sender=f"Customer {root} <customer{root}@example.org>",
        reply_to=n - 1,
    )


def snapshot(store: Store) -> dict[str, object]:
    """What must be equal between an interrupted-and-resumed sync and a clean one."""
    with store.session() as s:
        rows = s.execute(select(Message.message_id, Message.ticket_id)).all()
        tickets: dict[int, list[str]] = {}
        for message_id, ticket_id in rows:
            tickets.setdefault(ticket_id, []).append(message_id)
        states = s.execute(select(SyncState.mailbox, SyncState.folder, SyncState.last_uid)).all()
        return {
            "messages": len(rows),
            "distinct": len({m for m, _ in rows}),
            "tickets": s.execute(select(func.count()).select_from(Ticket)).scalar_one(),
            "threads": sorted(sorted(ids) for ids in tickets.values()),
            "positions": sorted(tuple(row) for row in states),
        }


def count_messages(store: Store) -> int:
    with store.session() as s:
        return s.execute(select(func.count()).select_from(Message)).scalar_one()


class Recorder:
    """Wraps an IMAPClient and remembers which methods the sync engine called."""

    def __init__(self, client: IMAPClient) -> None:
        self._client = client
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return attr(*args, **kwargs)

        return call


@pytest.fixture
def config(tmp_path: Path, imap_account: ImapAccount, sqlite_store: Store) -> Path:
    return write_config(tmp_path / "config.toml", imap_account, sqlite_store.url)


def engine_sync(
    config: Path, store: Store, folder: str = "INBOX"
) -> tuple[FolderResult, list[str]]:
    """One folder through the engine, over a recording client."""
    settings = load_settings(config)
    box = settings.mailboxes[0]
    with store.session(write=True) as s:
        directory.ensure_queue(s, "general")
    client = imap.connect(box)
    recorder = Recorder(client)
    try:
        with Ingestor(store, default_queue="general", workers=1) as ingestor:
            syncer = FolderSyncer(store, ingestor, box, settings.sync)
            result = syncer.sync(recorder, folder)  # type: ignore[arg-type]
    finally:
        imap.close(client)
    return result, recorder.calls


# ---- first, incremental and no-op syncs ------------------------------------------------------


def test_first_sync_opens_tickets_threads_replies_and_leaves_flags_alone(
    config: Path, imap_account: ImapAccount, sqlite_store: Store
) -> None:
    imap_account.append(mail(1))
    jo = "Customer 1 <customer1@example.org>"
    imap_account.append(mail(2, subject="Re: Question 1", reply_to=1, sender=jo))
    imap_account.append(mail(3), flags=["\\Seen"])

    code, data = sync_json(config)

    assert code == 0, data
    total = data["total"]
    assert (total["messages"], total["new_tickets"], total["follow_ups"]) == (3, 2, 1)
    with sqlite_store.session() as s:
        by_id = dict(s.execute(select(Message.message_id, Message.ticket_id)).all())
        raw = s.execute(select(MessageRaw.raw)).scalars().all()
        state = s.execute(select(SyncState)).scalar_one()
    assert by_id["<msg2@example.org>"] == by_id["<msg1@example.org>"]
    assert by_id["<msg3@example.org>"] != by_id["<msg1@example.org>"]
    assert mail(1) in raw  # stored byte for byte
    assert (state.mailbox, state.folder, state.last_uid) == ("support", "INBOX", 3)
    # after_import = "leave": BODY.PEEK never set \Seen, and the one already seen stays so.
    assert imap_account.fetch_flags() == {1: set(), 2: set(), 3: {"\\Seen"}}


def test_incremental_then_noop_sync_fetches_nothing(
    config: Path, imap_account: ImapAccount, sqlite_store: Store
) -> None:
    imap_account.append_many(mail(n) for n in range(5))
    first, _ = engine_sync(config, sqlite_store)
    assert (first.new_uids, first.downloaded, first.summary.messages) == (5, 5, 5)

    imap_account.append_many([mail(5), mail(6)])
    second, calls = engine_sync(config, sqlite_store)
    assert (second.new_uids, second.downloaded, second.summary.messages) == (2, 2, 2)
    assert "fetch" in calls

    started = time.perf_counter()
    noop, calls = engine_sync(config, sqlite_store)
    elapsed = time.perf_counter() - started
    assert (noop.new_uids, noop.downloaded) == (0, 0)
    assert "fetch" not in calls
    # Dovecot has CONDSTORE: an unchanged HIGHESTMODSEQ answers without even a SEARCH.
    assert "search" not in calls
    print(f"no-op sync: {noop.seconds * 1000:.1f} ms, {elapsed * 1000:.1f} ms with login")
    assert count_messages(sqlite_store) == 7


_LOADED = """
import sys
from supportdesk.cli import main
try:
    main()
finally:
    heavy = ("sqlalchemy", "sqlmodel", "alembic", "keyring", "supportdesk.desk.ingest")
    print(",".join(m for m in heavy if m in sys.modules), file=sys.stderr)
"""


def sync_process(config: Path) -> tuple[int, dict[str, Any], list[str]]:
    """`supportdesk sync --json` in its own process: exit code, report, heavy modules loaded."""
    proc = subprocess.run(
        [sys.executable, "-c", _LOADED, "--config", str(config), "sync", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    loaded = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ""
    return proc.returncode, json.loads(proc.stdout), [m for m in loaded.split(",") if m]


def test_noop_sync_never_loads_the_store_machinery_and_new_mail_still_lands(
    config: Path, imap_account: ImapAccount, sqlite_store: Store
) -> None:
    """A cron sync that finds nothing reads its positions with sqlite3 alone; one that finds
    mail opens the store the normal way, in the same run, and commits as always."""
    imap_account.append_many([mail(1), mail(2, reply_to=1)])
    code, data, loaded = sync_process(config)
    assert code == 0 and data["total"]["messages"] == 2
    assert "sqlalchemy" in loaded  # the first sync has mail to write

    code, data, loaded = sync_process(config)
    assert code == 0 and data["total"]["messages"] == 0
    assert data["folders"][0]["error"] is None
    assert loaded == []

    imap_account.set_flags(imap_account.uids()[:1], ["\\Flagged"])  # a new HIGHESTMODSEQ
    code, data, loaded = sync_process(config)
    assert code == 0 and data["total"]["messages"] == 0
    assert "sqlalchemy" in loaded  # the new HIGHESTMODSEQ is written
    assert sync_process(config)[2] == []

    imap_account.append(mail(3, reply_to=2))
    code, data, loaded = sync_process(config)
    assert code == 0, data
    assert (data["total"]["messages"], data["total"]["follow_ups"]) == (1, 1)
    assert "supportdesk.desk.ingest" in loaded
    got = snapshot(sqlite_store)
    assert got["messages"] == 3 and got["tickets"] == 1
    assert got["positions"] == [("support", "INBOX", 3)]


def test_a_store_at_another_revision_is_refused_before_any_mail_is_fetched(
    config: Path, imap_account: ImapAccount, sqlite_store: Store
) -> None:
    """The quick read of positions only vouches for a store at this code's revision; any
    other goes through the normal open, which refuses a newer one (and upgrades an older)."""
    imap_account.append(mail(1))
    assert sync_process(config)[0] == 0
    with sqlite_store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    imap_account.append(mail(2))
    code, out, err = sd(config, "sync", "--json")
    assert code == 1
    assert "newer supportdesk" in err and out == ""
    assert count_messages(sqlite_store) == 1


def test_quick_positions_answer_only_for_a_plain_sqlite_store_at_head(
    tmp_path: Path, sqlite_store: Store
) -> None:
    url = sqlite_store.url
    with sqlite_store.session(write=True) as s:
        s.add(SyncState(mailbox="support", folder="INBOX", uidvalidity=7, last_uid=42))
    assert quick.sync_positions(url, "support") == {"INBOX": quick.Position(7, 42, None)}
    assert quick.sync_positions(url, "other") == {}
    assert quick.sync_positions(f"sqlite:///{tmp_path / 'missing.db'}", "support") is None
    assert not (tmp_path / "missing.db").exists()
    assert quick.sync_positions("postgresql://localhost/test", "support") is None
    with sqlite_store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0000'")
    assert quick.sync_positions(url, "support") is None


def test_mail_arriving_after_a_sync_is_found_without_condstore_help(
    config: Path, imap_account: ImapAccount, sqlite_store: Store
) -> None:
    """A flag change bumps HIGHESTMODSEQ without new mail: SEARCH runs, nothing is fetched."""
    uid = imap_account.append(mail(1))
    engine_sync(config, sqlite_store)
    imap_account.set_flags([uid], ["\\Flagged"])
    result, calls = engine_sync(config, sqlite_store)
    assert "search" in calls and "fetch" not in calls and result.new_uids == 0


def test_uidvalidity_change_rematches_by_message_id_and_doubles_nothing(
    config: Path, imap_account: ImapAccount, sqlite_store: Store
) -> None:
    imap_account.append_many([mail(1), mail(2, reply_to=1), mail(3)])
    imap_account.append(mail(4, message_id=None))  # no Message-ID: matched by content hash
    code, _ = sync_json(config)
    assert code == 0
    before = snapshot(sqlite_store)

    old, new = imap_account.reset_uidvalidity()
    imap_account.append(mail(5))
    result, _ = engine_sync(config, sqlite_store)

    assert result.uidvalidity_changed
    assert result.known == 3  # found by Message-ID, not downloaded again
    assert result.downloaded == 2  # the one without a Message-ID, and the new one
    assert (result.summary.messages, result.summary.duplicates) == (1, 1)
    after = snapshot(sqlite_store)
    assert after["messages"] == after["distinct"] == before["messages"] + 1  # type: ignore[operator]
    assert after["tickets"] == before["tickets"] + 1  # type: ignore[operator]
    with sqlite_store.session() as s:
        state = s.execute(select(SyncState)).scalar_one()
    assert (state.uidvalidity, state.last_uid) == (new, max(imap_account.uids()))
    assert new != old
    again, calls = engine_sync(config, sqlite_store)
    assert not again.uidvalidity_changed and "fetch" not in calls


def test_uidvalidity_rematch_keeps_a_message_reusing_a_known_message_id(
    config: Path, imap_account: ImapAccount, sqlite_store: Store
) -> None:
    """A reused Message-ID with other content, found after a reset, is stored, not skipped."""
    imap_account.append_many([mail(1), mail(2)])
    assert sync_json(config)[0] == 0
    imap_account.reset_uidvalidity()
    imap_account.append(mail(1, body="Another message that reuses the first one's id."))
    result, _ = engine_sync(config, sqlite_store)

    assert result.uidvalidity_changed
    assert result.known == 2 and result.downloaded == 1
    with sqlite_store.session() as s:
        bodies = (
            s.execute(select(Message.body_text).where(Message.message_id == "<msg1@example.org>"))
            .scalars()
            .all()
        )
    assert len(bodies) == 2
    assert any("reuses the first one" in body for body in bodies)


# ---- crash safety ------------------------------------------------------------------------------


def _sqlite_path(url: str) -> str:
    return url.removeprefix("sqlite:///")


def _count_rows(path: str) -> int:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.2) as conn:
            return int(conn.execute("SELECT count(*) FROM messages").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def test_sigkill_in_the_middle_then_resume_equals_an_uninterrupted_sync(
    tmp_path: Path,
    imap_account: ImapAccount,
    sqlite_store: Store,
    sqlite_template: Path,
) -> None:
    total = 300
    imap_account.append_many(thread_mail(n) for n in range(total))
    config = write_config(
        tmp_path / "config.toml", imap_account, sqlite_store.url, sync={"batch_size": 10}
    )
    path = _sqlite_path(sqlite_store.url)
    sqlite_store.dispose()

    killed_at = 0
    children: list[int] = []
    for _attempt in range(3):
        proc = subprocess.Popen(
            [sys.executable, "-m", "supportdesk", "--config", str(config), "sync", "--json"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:
            killed_at = _count_rows(path)
            if killed_at >= 40:
                children = _descendants(proc.pid)
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.002)
        proc.wait(10)
        if proc.returncode == -signal.SIGKILL and killed_at < total:
            break
    assert proc.returncode == -signal.SIGKILL, "the sync finished before it could be killed"
    partial = _count_rows(path)
    assert 0 < partial < total
    # The parse workers die with the sync instead of waiting forever on a queue nobody feeds.
    if (os.cpu_count() or 1) > 1:
        assert children, "the sync had no parse workers when it was killed"
    deadline = time.monotonic() + 10
    while any(_pid_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not [pid for pid in children if _pid_alive(pid)], "orphaned parse workers"

    code, _out, err = sd(config, "sync")
    assert code == 0, err
    resumed = open_store(sqlite_store.url)
    clean_path = tmp_path / "clean.db"
    clean_path.write_bytes(sqlite_template.read_bytes())
    clean_config = write_config(tmp_path / "clean.toml", imap_account, f"sqlite:///{clean_path}")
    code, _out, err = sd(clean_config, "sync")
    assert code == 0, err
    clean = open_store(f"sqlite:///{clean_path}")
    try:
        got, want = snapshot(resumed), snapshot(clean)
        assert got == want
        assert got["messages"] == got["distinct"] == total
        assert got["tickets"] == total // 3
        assert got["positions"] == [("support", "INBOX", total)]
    finally:
        resumed.dispose()
        clean.dispose()


def test_two_syncs_of_one_folder_at_once_double_nothing(
    tmp_path: Path, imap_account: ImapAccount, sqlite_store: Store
) -> None:
    """Cron and a watcher may overlap: the position check makes the slower one step back."""
    imap_account.append_many(thread_mail(n) for n in range(60))
    config = write_config(
        tmp_path / "c.toml", imap_account, sqlite_store.url, sync={"batch_size": 5}
    )
    settings = load_settings(config)
    box = settings.mailboxes[0]
    with sqlite_store.session(write=True) as s:
        directory.ensure_queue(s, "general")
    outcomes: list[str] = []

    def run() -> None:
        client = imap.connect(box)
        try:
            with Ingestor(sqlite_store, default_queue="general", workers=1) as ingestor:
                FolderSyncer(sqlite_store, ingestor, box, settings.sync).sync(client, "INBOX")
            outcomes.append("done")
        except imap.ImapError as exc:
            assert exc.temporary and "another sync" in str(exc)
            outcomes.append("stepped back")
        finally:
            imap.close(client)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert "done" in outcomes
    engine_sync(config, sqlite_store)
    got = snapshot(sqlite_store)
    assert got["messages"] == got["distinct"] == 60 and got["tickets"] == 20
    assert got["positions"] == [("support", "INBOX", 60)]


# ---- what happens on the server after import ---------------------------------------------------


def test_move_after_import_empties_the_inbox_into_the_archive(
    tmp_path: Path, imap_account: ImapAccount, sqlite_store: Store
) -> None:
    imap_account.create_folder("Archive")
    imap_account.append_many([mail(1), mail(2)])
    leave = write_config(tmp_path / "leave.toml", imap_account, sqlite_store.url)
    assert sd(leave, "sync")[0] == 0
    # As if a sync had crashed between committing and moving: the position says 2, the
    # messages are still here. Switching to `move` must move them without importing again.
    imap_account.append(mail(3))
    move = write_config(
        tmp_path / "move.toml",
        imap_account,
        sqlite_store.url,
        after_import="move",
        move_to="Archive",
    )
    code, data = sync_json(move)
    assert code == 0, data
    assert data["total"]["messages"] == 1
    assert imap_account.uids("INBOX") == []
    assert len(imap_account.uids("Archive")) == 3
    assert count_messages(sqlite_store) == 3
    code, data = sync_json(move)
    assert code == 0 and data["total"]["messages"] == 0


def test_mark_seen_flags_imported_mail_and_leave_touches_nothing(
    tmp_path: Path, imap_account: ImapAccount, sqlite_store: Store
) -> None:
    imap_account.append(mail(1))
    imap_account.append(mail(2), flags=["\\Flagged"])
    config = write_config(
        tmp_path / "config.toml", imap_account, sqlite_store.url, after_import="mark-seen"
    )
    assert sd(config, "sync")[0] == 0
    assert imap_account.fetch_flags() == {1: {"\\Seen"}, 2: {"\\Seen", "\\Flagged"}}


def test_oversize_message_is_kept_as_headers_and_a_note(
    tmp_path: Path, imap_account: ImapAccount, sqlite_store: Store
) -> None:
    big = mail(1, subject="Huge attachment", body="x" * 60_000)
    imap_account.append_many([big, mail(2)])
    config = write_config(
        tmp_path / "config.toml",
        imap_account,
        sqlite_store.url,
        sync={"max_message_bytes": 20_000},
    )
    code, data = sync_json(config)
    assert code == 0, data
    assert (data["total"]["oversize"], data["total"]["messages"]) == (1, 2)
    with sqlite_store.session() as s:
        row = s.execute(
            select(Message).where(Message.message_id == "<msg1@example.org>")
        ).scalar_one()
        raw = s.execute(select(MessageRaw.raw).where(MessageRaw.message_id == row.id)).scalar_one()
    assert row.subject == "Huge attachment"
    assert "only its headers were downloaded" in row.body_text
    assert len(raw) < 2_000 and b"xxxx" not in raw


# ---- failures ---------------------------------------------------------------------------------


def test_missing_folder_fails_alone_and_the_others_still_sync(
    tmp_path: Path, imap_account: ImapAccount, sqlite_store: Store
) -> None:
    imap_account.append(mail(1))
    config = write_config(
        tmp_path / "config.toml", imap_account, sqlite_store.url, folders=["Nope", "INBOX"]
    )
    code, _out, err = sd(config, "sync")
    assert code == 1
    assert "folder 'Nope' does not exist on the server" in err
    assert count_messages(sqlite_store) == 1


def test_wrong_password_is_one_line_exit_1_and_never_shows_the_password(
    tmp_path: Path, imap_account: ImapAccount, sqlite_store: Store
) -> None:
    config = write_config(
        tmp_path / "config.toml", imap_account, sqlite_store.url, password="Wr0ngSecret"
    )
    code, out, err = sd(config, "sync")
    assert code == 1
    assert "refused the login" in err and err.count("\n") == 1
    assert "Wr0ngSecret" not in out + err and imap_account.password not in out + err


def test_tls_needs_the_ca_configured(
    tmp_path: Path, imap_account: ImapAccount, sqlite_store: Store
) -> None:
    imap_account.append(mail(1))
    without = write_config(tmp_path / "a.toml", imap_account, sqlite_store.url, ca_file=None)
    code, _out, err = sd(without, "sync")
    assert code == 1
    assert "TLS certificate verification failed" in err and "set ca_file" in err
    starttls = write_config(
        tmp_path / "b.toml",
        imap_account,
        sqlite_store.url,
        security="starttls",
        imap_port=imap_account.starttls_port,
    )
    code, _out, err = sd(starttls, "sync")
    assert code == 0, err
    assert count_messages(sqlite_store) == 1


def test_unreachable_server_exits_75_and_unknown_mailbox_exits_2(
    tmp_path: Path, imap_account: ImapAccount, sqlite_store: Store
) -> None:
    from tests.imap_server import free_port

    config = write_config(
        tmp_path / "config.toml", imap_account, sqlite_store.url, imap_port=free_port()
    )
    code, data = sync_json(config)
    assert code == 75 and data["exit_code"] == 75
    assert "refused the connection" in data["folders"][0]["error"]
    code, _out, err = sd(config, "sync", "--mailbox", "nosuch")
    assert code == 2 and "no mailbox named 'nosuch'" in err


# ---- watch mode ---------------------------------------------------------------------------------


def _lines(stream: Any, into: list[str]) -> None:
    for line in stream:
        into.append(line)


@pytest.fixture
def watcher(config: Path) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "supportdesk", "--config", str(config), "sync", "--watch", "--json"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: list[str] = []
    reader = threading.Thread(target=_lines, args=(proc.stdout, lines), daemon=True)
    reader.start()
    try:
        yield proc, lines
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def _wait_for(predicate: Any, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s")


def test_watch_mode_delivers_new_mail_within_seconds_and_stops_on_sigint(
    watcher: tuple[subprocess.Popen[str], list[str]],
    imap_account: ImapAccount,
    sqlite_store: Store,
) -> None:
    proc, lines = watcher
    _wait_for(lambda: any('"event": "sync"' in line for line in lines), 15)
    time.sleep(0.5)  # let the watcher thread reach IDLE
    imap_account.append(mail(1))
    took = _wait_for(lambda: count_messages(sqlite_store) == 1, 5)
    print(f"new mail reached the store {took:.2f} s after APPEND")
    _wait_for(lambda: any('"event": "folder"' in line for line in lines), 5)

    proc.send_signal(signal.SIGINT)
    assert proc.wait(10) == 0, proc.stderr.read() if proc.stderr else ""


def test_watch_mode_reconnects_after_the_connection_is_cut(
    watcher: tuple[subprocess.Popen[str], list[str]],
    imap_account: ImapAccount,
    sqlite_store: Store,
) -> None:
    proc, lines = watcher
    _wait_for(lambda: any('"event": "sync"' in line for line in lines), 15)
    time.sleep(0.5)
    imap_account.kick()
    imap_account.append(mail(1))
    _wait_for(lambda: count_messages(sqlite_store) == 1, 10)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0


def test_watcher_polls_where_the_server_has_no_idle(
    config: Path,
    imap_account: ImapAccount,
    sqlite_store: Store,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from supportdesk.desk.intake.watch import Target, Watcher

    real = IMAPClient.has_capability
    monkeypatch.setattr(
        IMAPClient, "has_capability", lambda self, cap: cap != "IDLE" and real(self, cap)
    )
    settings = load_settings(config)
    fast = settings.sync.model_copy(update={"poll_seconds": 1})  # config allows 5 at least
    results: list[FolderResult] = []
    errors: list[Exception] = []
    watcher = Watcher(
        sqlite_store,
        fast,
        [Target(settings.mailboxes[0], "INBOX", "general")],
        our_addresses=frozenset(),
        on_result=results.append,
        on_error=lambda _target, exc, _delay: errors.append(exc),
    )
    stop = threading.Event()
    thread = threading.Thread(target=watcher.run, args=(stop,))
    thread.start()
    try:
        _wait_for(lambda: len(results) >= 1, 10)
        imap_account.append(mail(1))
        _wait_for(lambda: count_messages(sqlite_store) == 1, 5)
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive() and errors == []


# ---- what a server holds is mail ---------------------------------------------------------


def test_sync_stores_a_message_that_file_import_would_refuse(
    config: Path, imap_account: ImapAccount, sqlite_store: Store
) -> None:
    # Import refuses input with no mail header (a README given by mistake); a message on
    # the server is mail by the server's word, so sync keeps it, problems recorded.
    headerless = b"Just a line of text, no headers at all.\r\n"
    imap_account.append_many([mail(1), headerless])
    code, data = sync_json(config)
    assert code == 0, data
    assert data["total"]["messages"] == 2 and data["total"]["errors"] == []
    with sqlite_store.session() as s:
        raws = s.execute(select(MessageRaw.raw)).scalars().all()
        problems = s.execute(select(Message.parse_problems)).scalars().all()
    assert sorted(raws) == sorted([mail(1), headerless])
    assert any("No mail headers found" in problem for problem in problems)


def test_the_watch_runs_time_rules_and_reports_them(
    config: Path, imap_account: ImapAccount, sqlite_store: Store
) -> None:
    """`sync --watch` is all a desk runs beside the console: time rules included."""
    from supportdesk.desk import tickets
    from supportdesk.desk.events import Change
    from supportdesk.desk.intake.watch import Target, Watcher
    from supportdesk.desk.rules import storage
    from supportdesk.desk.rules.engine import Fired

    with sqlite_store.session(write=True) as s:
        directory.ensure_queue(s, "general")
        storage.add_rules(
            s,
            '[[rules]]\nname = "solve pending"\ntrigger = "time"\n'
            'when = { query = "status:pending" }\nactions = [{ status = "solved" }]\n',
        )
        number = tickets.create_ticket(
            s,
            subject="waiting",
            requester_email="jo@example.com",
            requester_name="Jo",
            queue="general",
            change=Change.by("agent:test"),
        ).number
        tickets.set_status(s, number, "pending", Change.by("agent:test"))
    settings = load_settings(config)
    fired: list[Fired] = []
    errors: list[Exception] = []
    watcher = Watcher(
        sqlite_store,
        settings.sync,
        [Target(settings.mailboxes[0], "INBOX", "general")],
        our_addresses=frozenset(),
        on_result=lambda _result: None,
        on_error=lambda _target, exc, _delay: errors.append(exc),
        on_rules=fired.extend,
        on_rules_error=errors.append,
        rules_seconds=0.2,
    )
    stop = threading.Event()
    thread = threading.Thread(target=watcher.run, args=(stop,))
    thread.start()
    try:
        _wait_for(lambda: bool(fired), 20)
    finally:
        stop.set()
        thread.join(20)
    assert not thread.is_alive() and errors == []
    assert [(f.rule, f.ticket, f.error) for f in fired] == [("solve pending", number, None)]
    with sqlite_store.session() as s:
        assert tickets.get_ticket(s, number).status == "solved"
