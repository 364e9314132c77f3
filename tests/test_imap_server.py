"""The Dovecot fixture itself: if these fail, every sync test's verdict is meaningless.

They pin the properties the sync tests lean on: TLS that verifies only with the test CA,
real authentication, UIDPLUS/CONDSTORE/IDLE, a UIDVALIDITY change that keeps the mail, and
a stop that leaves no process behind. The fixtures (dovecot, imap_account, fresh_dovecot)
come from tests/imap_server.py through conftest.py.
"""

from __future__ import annotations

import socket
import ssl
import time
from datetime import UTC, datetime

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from tests import imap_server
from tests.imap_server import (
    DovecotMissing,
    DovecotServer,
    DovecotStartError,
    ImapAccount,
    _pid_alive,
)


def message(n: int, subject: str = "Printer on fire") -> bytes:
    return (
        f"From: customer{n}@example.org\r\n"
        f"To: support@example.test\r\n"
        f"Subject: {subject} #{n}\r\n"
        f"Message-ID: <m{n}-{time.monotonic_ns()}@example.org>\r\n"
        f"Date: Mon, 03 Mar 2025 10:00:00 +0000\r\n"
        f"\r\n"
        f"Body of message {n}.\r\n"
    ).encode()


def test_plain_port_offers_starttls_and_login_verifies_with_the_ca(
    imap_account: ImapAccount,
) -> None:
    with IMAPClient(imap_account.host, port=imap_account.starttls_port, ssl=False) as client:
        assert client.has_capability("STARTTLS")
        client.starttls(imap_account.ssl_context())
        assert isinstance(client._imap.sock, ssl.SSLSocket)
        client.login(imap_account.username, imap_account.password)
        assert client.select_folder("INBOX")[b"EXISTS"] == 0


def test_imaps_login_verifies_with_the_ca_by_ip_and_by_name(imap_account: ImapAccount) -> None:
    for host in ("127.0.0.1", "localhost"):
        with IMAPClient(
            host, port=imap_account.tls_port, ssl=True, ssl_context=imap_account.ssl_context()
        ) as client:
            client.login(imap_account.username, imap_account.password)
            assert client.noop()


def test_certificate_is_refused_without_the_ca(imap_account: ImapAccount) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        IMAPClient(imap_account.host, port=imap_account.tls_port, ssl=True, timeout=5)
    with (
        IMAPClient(imap_account.host, port=imap_account.starttls_port, ssl=False) as client,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        client.starttls(ssl.create_default_context())


def test_wrong_password_and_unknown_user_are_refused(imap_account: ImapAccount) -> None:
    for user, password in (
        (imap_account.username, imap_account.password + "x"),
        ("nobody-here@example.test", imap_account.password),
    ):
        with (
            IMAPClient(imap_account.host, port=imap_account.port, ssl=False) as client,
            pytest.raises(LoginError),
        ):
            client.login(user, password)
    # No per-IP penalty can slow the next test's logins: auth started without the anvil
    # socket it would ask (see DovecotServer._disable_auth_penalty), and no delay is set.
    server = imap_account.server
    assert not (server.root / "run" / "anvil-auth-penalty").exists()
    assert "auth_failure_delay = 0" in server.config_file.read_text()


def test_user_added_while_running_can_log_in(dovecot: DovecotServer) -> None:
    dovecot.add_user("Late.Comer@Example.TEST", "s3cret pass")
    with IMAPClient(dovecot.host, port=dovecot.starttls_port, ssl=False) as client:
        client.login("late.comer@example.test", "s3cret pass")
    dovecot.add_user("late.comer@example.test", "changed")
    with IMAPClient(dovecot.host, port=dovecot.starttls_port, ssl=False) as client:
        with pytest.raises(LoginError):
            client.login("late.comer@example.test", "s3cret pass")
        client.login("late.comer@example.test", "changed")


def test_accounts_are_separate_mailboxes(dovecot: DovecotServer) -> None:
    first, second = dovecot.new_account(), dovecot.new_account()
    assert first.address != second.address
    first.append(message(1))
    assert second.folder_status().messages == 0


def test_capabilities_the_sync_relies_on(imap_account: ImapAccount) -> None:
    with imap_account.connect() as client:
        for capability in ("CONDSTORE", "QRESYNC", "IDLE", "UIDPLUS", "MOVE", "SPECIAL-USE"):
            assert client.has_capability(capability), capability


def test_append_gives_increasing_uids_and_keeps_flags_and_date(
    imap_account: ImapAccount,
) -> None:
    when = datetime(2024, 5, 17, 8, 30, tzinfo=UTC)
    uids = [imap_account.append(message(n)) for n in range(3)]
    uids.append(imap_account.append(message(3), flags=["\\Seen", "$Label1"], date=when))
    uids += imap_account.append_many([message(4), message(5)])
    assert uids == sorted(uids) and len(set(uids)) == 6
    status = imap_account.folder_status()
    assert (status.messages, status.uidnext, status.unseen) == (6, uids[-1] + 1, 5)
    assert status.highestmodseq > 0
    assert imap_account.fetch_flags()[uids[3]] == {"\\Seen", "$Label1"}
    assert imap_account.fetch_flags()[uids[0]] == set()
    with imap_account.connect() as client:
        client.normalise_times = False
        client.select_folder("INBOX", readonly=True)
        item = client.fetch([uids[3]], ["INTERNALDATE"])[uids[3]]
    assert item[b"INTERNALDATE"].astimezone(UTC) == when


def test_folders_delete_and_move(imap_account: ImapAccount) -> None:
    imap_account.create_folder("Support/Billing")
    assert "Support/Billing" in imap_account.server.list_folders(imap_account.address)
    uids = imap_account.append_many([message(n) for n in range(4)], folder="Support/Billing")
    imap_account.delete_messages([uids[1]], folder="Support/Billing")
    assert imap_account.uids("Support/Billing") == [uids[0], uids[2], uids[3]]
    imap_account.server.move_messages(imap_account.address, "Support/Billing", [uids[0]], "Trash")
    assert len(imap_account.fetch_messages("Trash")) == 1
    assert imap_account.uids("Support/Billing") == [uids[2], uids[3]]


def test_fetching_for_inspection_does_not_mark_mail_seen(imap_account: ImapAccount) -> None:
    uid = imap_account.append(message(1))
    assert imap_account.fetch_messages()[uid].startswith(b"From: customer1@")
    assert imap_account.fetch_flags()[uid] == set()


@pytest.mark.parametrize("folder", ["INBOX", "Archive/2024"])
def test_reset_uidvalidity_changes_it_and_keeps_every_message(
    imap_account: ImapAccount, folder: str
) -> None:
    if folder != "INBOX":
        imap_account.create_folder(folder)
    uids = imap_account.append_many([message(n) for n in range(5)], folder=folder)
    imap_account.server.set_flags(imap_account.address, folder, [uids[0]], ["\\Seen"])
    imap_account.delete_messages([uids[2]], folder=folder)
    before = imap_account.folder_status(folder)
    bodies_before = imap_account.fetch_messages(folder)

    old, new = imap_account.reset_uidvalidity(folder)

    after = imap_account.folder_status(folder)
    assert (old, new) == (before.uidvalidity, after.uidvalidity)
    assert after.uidvalidity != before.uidvalidity
    assert after.messages == before.messages == 4
    bodies_after = imap_account.fetch_messages(folder)
    assert sorted(bodies_after.values()) == sorted(bodies_before.values())
    # New UIDs, all above the old range: ignoring UIDVALIDITY would show as duplicates.
    assert min(bodies_after) >= before.uidnext
    seen = [uid for uid, flags in imap_account.fetch_flags(folder).items() if "\\Seen" in flags]
    assert [bodies_after[uid] for uid in seen] == [bodies_before[uids[0]]]
    assert imap_account.server.list_folders(imap_account.address).count(folder) == 1
    assert not [f for f in imap_account.server.list_folders(imap_account.address) if "reset" in f]


def test_reset_uidvalidity_of_an_empty_folder(imap_account: ImapAccount) -> None:
    old, new = imap_account.reset_uidvalidity()
    assert old != new == imap_account.folder_status().uidvalidity


def test_idle_reports_new_mail_promptly(imap_account: ImapAccount) -> None:
    with imap_account.connect() as client:
        client.select_folder("INBOX")
        client.idle()
        try:
            imap_account.append(message(1))
            responses = client.idle_check(timeout=5)
        finally:
            client.idle_done()
    assert (1, b"EXISTS") in responses


def test_kick_drops_open_sessions(imap_account: ImapAccount) -> None:
    with imap_account.connect() as client:
        client.select_folder("INBOX")
        imap_account.kick()
        with pytest.raises((OSError, IMAPClient.AbortError, IMAPClient.Error)):
            for _ in range(50):
                client.noop()
                time.sleep(0.02)


def test_stop_leaves_no_process_and_no_files(fresh_dovecot: DovecotServer) -> None:
    account = fresh_dovecot.new_account()
    with account.connect() as client:  # an imap worker exists while stopping
        client.select_folder("INBOX")
        # Alive when looked at: a short-lived helper (an auth worker) may end between the
        # listing and the look, which is not what this test is about.
        pids = [pid for pid in fresh_dovecot.process_ids() if _pid_alive(pid)]
        assert len(pids) > 1 and fresh_dovecot.pid in pids
        root = fresh_dovecot.root
        fresh_dovecot.stop()
    assert not [pid for pid in pids if _pid_alive(pid)]
    assert fresh_dovecot.pid is None
    assert not root.exists()
    with pytest.raises(OSError):
        socket.create_connection((fresh_dovecot.host, fresh_dovecot.starttls_port), timeout=1)


def test_restart_keeps_ports_users_and_mail(fresh_dovecot: DovecotServer) -> None:
    account = fresh_dovecot.new_account()
    uid = account.append(message(1))
    ports, pid = (fresh_dovecot.starttls_port, fresh_dovecot.tls_port), fresh_dovecot.pid
    fresh_dovecot.restart()
    assert (fresh_dovecot.starttls_port, fresh_dovecot.tls_port) == ports
    assert fresh_dovecot.pid not in (None, pid)
    assert account.uids() == [uid]


def test_a_taken_port_fails_start_with_the_log() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        server = DovecotServer(
            starttls_port=busy.getsockname()[1], tls_port=imap_server.free_port()
        )
        try:
            with pytest.raises(DovecotStartError, match="Address already in use"):
                server.start(timeout=5)
            assert server.pid is None
        finally:
            server.stop()


def test_missing_dovecot_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(imap_server, "_SBIN_DIRS", ())
    with pytest.raises(DovecotMissing, match=r"scripts/ensure_dovecot\.sh"):
        imap_server.require_dovecot()
