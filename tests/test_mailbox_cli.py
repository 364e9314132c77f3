"""`supportdesk mailbox list|test|login` against the real Dovecot: one clear line per failure."""

from __future__ import annotations

import getpass
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest

from supportdesk.store import Store
from tests.imap_server import ImapAccount, free_port, require_dovecot
from tests.test_secrets import MemoryKeyring
from tests.test_sync import count_messages, mail, sd, write_config


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def other_ca(tmp_path: Path) -> Path:
    """A CA that did not sign the test server's certificate."""
    openssl = require_dovecot()[2]
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", "other.key", "-out", "other.pem", "-days", "2",
         "-subj", "/CN=someone else's CA"],
        cwd=tmp_path, check=True, capture_output=True,
    )  # fmt: skip
    return tmp_path / "other.pem"


def test_list_shows_mailboxes_and_never_a_secret(
    tmp_path: Path, imap_account: ImapAccount, sqlite_store: Store
) -> None:
    config = write_config(tmp_path / "c.toml", imap_account, sqlite_store.url)
    code, out, _ = sd(config, "mailbox", "list")
    assert code == 0
    assert "support" in out and f"{imap_account.host}:{imap_account.tls_port}" in out
    assert imap_account.password not in out
    code, out, _ = sd(config, "mailbox", "list", "--json")
    [box] = json.loads(out)
    assert box["credential"] == "password_command" and box["after_import"] == "leave"
    assert imap_account.password not in out


def test_test_shows_capabilities_folders_and_counts(
    tmp_path: Path, imap_account: ImapAccount, sqlite_store: Store
) -> None:
    imap_account.append_many([mail(1), mail(2)])
    config = write_config(tmp_path / "c.toml", imap_account, sqlite_store.url)
    code, out, err = sd(config, "mailbox", "test", "support")
    assert code == 0, err
    assert "IDLE" in out and "CONDSTORE" in out and "Sent" in out
    code, out, _ = sd(config, "mailbox", "test", "support", "--json")
    data = json.loads(out)
    assert data["ok"] and "INBOX" in data["folders"]
    assert [(c["name"], c["messages"], c["unseen"]) for c in data["counts"]] == [("INBOX", 2, 2)]
    assert imap_account.password not in out


@pytest.mark.parametrize(
    ("kind", "exit_code", "expected"),
    [
        ("lookup", 1, "name lookup of IMAP server 'mail.nonexistent.invalid' failed"),
        ("refused", 75, "refused the connection"),
        ("wrong_ca", 1, "TLS certificate verification failed"),
        ("password", 1, "the server refused the login"),
        ("folder", 1, "folder 'Tickets' does not exist on the server"),
    ],
)
def test_each_failure_is_one_clear_line(
    kind: str,
    exit_code: int,
    expected: str,
    tmp_path: Path,
    imap_account: ImapAccount,
    sqlite_store: Store,
    other_ca: Path,
) -> None:
    changes: dict[str, object] = {
        "lookup": {"imap_host": "mail.nonexistent.invalid"},
        "refused": {"imap_port": free_port()},
        "wrong_ca": {"ca_file": other_ca},
        "password": {"password": "not-the-password"},
        "folder": {"folders": ["INBOX", "Tickets"]},
    }[kind]  # type: ignore[assignment]
    config = write_config(tmp_path / "c.toml", imap_account, sqlite_store.url, **changes)
    code, out, err = sd(config, "mailbox", "test", "support")
    assert code == exit_code
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: mailbox 'support'"), err
    assert expected in lines[0]
    assert "Traceback" not in err and imap_account.password not in out + err


def test_unknown_mailbox_is_a_usage_error(
    tmp_path: Path, imap_account: ImapAccount, sqlite_store: Store
) -> None:
    config = write_config(tmp_path / "c.toml", imap_account, sqlite_store.url)
    for command in ("test", "login"):
        code, _out, err = sd(config, "mailbox", command, "nosuch")
        assert code == 2 and "no mailbox named 'nosuch' in config (known: support)" in err


def test_login_checks_the_password_then_keeps_it_in_the_keyring(
    tmp_path: Path,
    imap_account: ImapAccount,
    sqlite_store: Store,
    memory_keyring: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = write_config(
        tmp_path / "c.toml", imap_account, sqlite_store.url, password_command=None
    )
    code, _out, err = sd(config, "sync")
    assert code == 1 and "supportdesk mailbox login support" in err

    monkeypatch.setattr(getpass, "getpass", lambda prompt="": "typo-password")
    code, out, err = sd(config, "mailbox", "login", "support")
    assert code == 1 and "refused the login" in err and "nothing stored" in err
    assert memory_keyring.items == {}
    assert "typo-password" not in out + err

    monkeypatch.setattr(getpass, "getpass", lambda prompt="": imap_account.password)
    code, out, err = sd(config, "mailbox", "login", "support")
    assert code == 0, err
    assert memory_keyring.items == {("supportdesk", "mailbox:support"): imap_account.password}
    assert imap_account.password not in out + err

    imap_account.append(mail(1))
    code, out, err = sd(config, "sync")
    assert code == 0, err
    assert count_messages(sqlite_store) == 1


def test_login_refuses_mailboxes_that_do_not_use_the_keyring(
    tmp_path: Path, imap_account: ImapAccount, sqlite_store: Store
) -> None:
    config = write_config(tmp_path / "c.toml", imap_account, sqlite_store.url)
    code, _out, err = sd(config, "mailbox", "login", "support")
    assert code == 2 and "password_command" in err


def test_oauth2_runs_the_token_command_again_once_before_giving_up(
    tmp_path: Path, imap_account: ImapAccount, sqlite_store: Store
) -> None:
    runs = tmp_path / "runs"
    config = write_config(
        tmp_path / "c.toml",
        imap_account,
        sqlite_store.url,
        password_command=None,
        auth="oauth2",
        token_command=f"sh -c 'echo run >> {runs}; printf %s token-abc'",
    )
    code, out, err = sd(config, "mailbox", "test", "support")
    assert code == 1
    assert "the server refused the login" in err and "check token_command" in err
    assert runs.read_text().count("run") == 2
    assert "token-abc" not in out + err


def test_test_checks_smtp_login_and_the_sent_folder(
    tmp_path: Path, imap_account: ImapAccount, sqlite_store: Store
) -> None:
    """The sending side is checked too: a wrong SMTP password or port is one clear line."""
    from tests.smtp_server import PASSWORD, USER, start_server

    server = start_server(require_auth=True)
    try:
        secret = tmp_path / "smtp-password"
        secret.write_text(PASSWORD)
        smtp = {
            "smtp_host": "127.0.0.1",
            "smtp_port": server.port,
            "smtp_security": "none",
            "smtp_username": USER,
            "smtp_password_command": f"cat {secret}",
        }
        config = write_config(tmp_path / "c.toml", imap_account, sqlite_store.url, **smtp)
        code, out, err = sd(config, "mailbox", "test", "support")
        assert code == 0, err
        assert f"smtp: logged in to 127.0.0.1:{server.port} (none)" in out
        code, out, _ = sd(config, "mailbox", "test", "support", "--json")
        data = json.loads(out)
        assert data["ok"] and data["smtp"]["logged_in"] and "AUTH" in data["smtp"]["extensions"]
        assert PASSWORD not in out
        assert server.recorder.messages == []

        secret.write_text("not-the-password")
        code, out, err = sd(config, "mailbox", "test", "support")
        assert code == 1
        [line] = err.strip().splitlines()
        assert line.startswith("error: mailbox 'support'") and "refused the login" in line
        assert "Traceback" not in err and "not-the-password" not in out + err

        secret.write_text(PASSWORD)
        moved = {**smtp, "smtp_port": free_port(), "sent_folder": "Outgoing"}
        config = write_config(tmp_path / "c.toml", imap_account, sqlite_store.url, **moved)
        code, out, err = sd(config, "mailbox", "test", "support", "--json")
        assert code == 1 and not json.loads(out)["ok"]
        lines = err.strip().splitlines()
        assert len(lines) == 2, err
        assert "sent_folder 'Outgoing' does not exist" in lines[0]
        assert "refused the connection" in lines[1]
    finally:
        server.stop()
