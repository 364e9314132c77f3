"""At most once, provably: the sender is SIGKILLed before, during and after DATA.

The sender runs as a real `supportdesk send` process; aiosmtpd stops at the chosen moment
until the test has killed it. Whatever happens, the customer gets the reply once, or the
item is held as uncertain for a person: never two deliveries.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection

from supportdesk.desk import outbox
from supportdesk.desk.events import Change
from supportdesk.desk.outbox import Sender
from supportdesk.errors import ValidationError
from supportdesk.store import Store
from tests.imap_server import ImapAccount
from tests.smtp_server import Received, SmtpServer, start_server
from tests.test_send import config_text, queue_one, settings_for, state


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = start_server()
    yield server
    server.stop()


def _sender(
    store: Store, account: ImapAccount, smtp: SmtpServer, tmp: Path
) -> subprocess.Popen[bytes]:
    config = tmp / "config.toml"
    config.write_text(config_text(account, smtp.port, database_url=store.url))
    return subprocess.Popen(
        [sys.executable, "-m", "supportdesk", "--config", str(config), "send"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _kill_when_reached(process: subprocess.Popen[bytes], smtp: SmtpServer) -> None:
    reached = smtp.recorder.reached.wait(60)
    if not reached:
        process.kill()
        _out, err = process.communicate()
        pytest.fail(f"the sender never reached the pause: {err.decode(errors='replace')}")
    process.kill()
    process.wait()
    smtp.recorder.pause_in_rcpt = smtp.recorder.pause_in_data = False
    smtp.recorder.release.set()


def test_killed_before_data_sends_again_exactly_once(
    store: Store, imap_account: ImapAccount, smtp: SmtpServer, tmp_path: Path
) -> None:
    settings = settings_for(imap_account, smtp.port)
    item_id = queue_one(store, settings)
    smtp.recorder.pause_in_rcpt = True
    _kill_when_reached(_sender(store, imap_account, smtp, tmp_path), smtp)
    item = state(store, item_id)
    assert item.state == "sending" and item.handed_over_at is None
    report = Sender(store, settings).drain()
    assert report.requeued == [item_id] and report.sent == [item_id]
    assert len(smtp.recorder.messages) == 1


def test_killed_during_data_is_held_as_uncertain_never_resent(
    store: Store, imap_account: ImapAccount, smtp: SmtpServer, tmp_path: Path
) -> None:
    settings = settings_for(imap_account, smtp.port)
    item_id = queue_one(store, settings)
    smtp.recorder.pause_in_data = True  # the server has the whole message, not yet answered
    _kill_when_reached(_sender(store, imap_account, smtp, tmp_path), smtp)
    assert state(store, item_id).handed_over_at is not None
    report = Sender(store, settings).drain()
    assert report.uncertain == [item_id] and report.sent == [] and report.exit_code == 1
    assert Sender(store, settings).drain().sent == []
    assert len(smtp.recorder.messages) == 1
    with store.session() as s:
        (view,) = outbox.list_items(s)
    assert view.state == "uncertain" and "retry --force" in view.explanation
    with pytest.raises(ValidationError, match="uncertain"), store.session(write=True) as s:
        outbox.retry(s, item_id, Change.by("agent:alice"))
    assert len(smtp.recorder.messages) == 1


def test_killed_during_data_is_marked_sent_when_found_in_sent(
    store: Store, imap_account: ImapAccount, smtp: SmtpServer, tmp_path: Path
) -> None:
    settings = settings_for(imap_account, smtp.port, extra="sent_copy = false")

    def provider_files_it(received: Received) -> None:  # as Gmail and Microsoft 365 do
        imap_account.append(received.data, "Sent")

    smtp.recorder.on_data = provider_files_it
    item_id = queue_one(store, settings)
    smtp.recorder.pause_in_data = True
    _kill_when_reached(_sender(store, imap_account, smtp, tmp_path), smtp)
    report = Sender(store, settings).drain()
    assert report.found == [item_id] and report.exit_code == 0
    assert state(store, item_id).state == "sent"
    assert len(smtp.recorder.messages) == 1


@contextlib.contextmanager
def _store_locked(store: Store) -> Iterator[Connection]:
    """Hold the write lock (SQLite) or the outbox rows (PostgreSQL) until the block ends."""
    conn = store.engine.connect()
    conn.info["writer"] = True
    transaction = conn.begin()
    try:
        if store.dialect == "postgresql":
            conn.exec_driver_sql("SELECT id FROM outbox FOR UPDATE")
        yield conn
    finally:
        transaction.rollback()
        conn.info["writer"] = False
        conn.close()


def test_killed_after_data_before_recording_it_is_never_sent_twice(
    store: Store, imap_account: ImapAccount, smtp: SmtpServer, tmp_path: Path
) -> None:
    settings = settings_for(imap_account, smtp.port)
    item_id = queue_one(store, settings)
    locks: list[contextlib.ExitStack] = []

    def lock_the_store(_received: Received) -> None:
        stack = contextlib.ExitStack()
        stack.enter_context(_store_locked(store))
        locks.append(stack)
        smtp.recorder.reached.set()

    smtp.recorder.on_data = lock_the_store  # 250 goes out; recording it then has to wait
    process = _sender(store, imap_account, smtp, tmp_path)
    try:
        assert smtp.recorder.reached.wait(60)
        time.sleep(1.0)  # let the 250 reach the sender, which now waits for the store
        process.kill()
        process.wait()
    finally:
        for stack in locks:
            stack.close()
    item = state(store, item_id)
    assert item.state == "sending" and item.handed_over_at is not None
    report = Sender(store, settings).drain()
    assert report.uncertain == [item_id] and report.sent == []
    assert len(smtp.recorder.messages) == 1


def test_a_claim_taken_over_is_never_sent_by_its_first_owner(
    store: Store, imap_account: ImapAccount, smtp: SmtpServer
) -> None:
    import threading

    from sqlalchemy import update

    from supportdesk.store.models import OutboxItem

    settings = settings_for(imap_account, smtp.port)
    item_id = queue_one(store, settings)
    smtp.recorder.pause_in_rcpt = True
    reports = []
    sender = threading.Thread(target=lambda: reports.append(Sender(store, settings).drain()))
    sender.start()
    assert smtp.recorder.reached.wait(60)
    with store.session(write=True) as s:  # another machine decided the claim was abandoned
        s.execute(
            update(OutboxItem)
            .where(OutboxItem.id == item_id)
            .values(claimed_by="elsewhere:1:feedface")
        )
    smtp.recorder.pause_in_rcpt = False
    smtp.recorder.release.set()
    sender.join(60)
    assert smtp.recorder.messages == []
    assert any("no longer this sender's" in e for e in reports[0].errors)
    item = state(store, item_id)
    assert item.claimed_by == "elsewhere:1:feedface" and item.handed_over_at is None
