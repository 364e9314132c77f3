"""Mailbox credentials: keyring or password command, and errors that never leak the secret."""

from __future__ import annotations

import re
import shlex
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import keyring.backends.fail
import pytest
from keyring.backend import KeyringBackend
from keyring.errors import KeyringLocked, PasswordDeleteError

from supportdesk import secrets
from supportdesk.config import Mailbox
from supportdesk.errors import SecretError

SECRET = "s3cret-Ünïcode pass"


class MemoryKeyring(KeyringBackend):
    """A keyring that lives in a dict, so tests never touch the machine's real one."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.items.pop((service, username), None) is None:
            raise PasswordDeleteError(username)


class LockedKeyring(MemoryKeyring):
    def get_password(self, service: str, username: str) -> str | None:
        raise KeyringLocked("the collection is locked\nby the desktop session")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise KeyringLocked(f"cannot store {password}")


class ForgetfulKeyring(MemoryKeyring):
    def set_password(self, service: str, username: str, password: str) -> None:
        pass


@pytest.fixture(autouse=True)
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def mailbox(**fields: Any) -> Mailbox:
    data = {"name": "support", "address": "support@example.com", "imap_host": "127.0.0.1"}
    return Mailbox.model_validate(data | fields)


def python_command(code: str) -> str:
    """A command line running `code` in this interpreter: portable, and no shell involved."""
    return shlex.join([sys.executable, "-c", code])


# --- keyring ------------------------------------------------------------------------------


def test_password_round_trips_through_the_keyring(memory_keyring: MemoryKeyring) -> None:
    secrets.store_mailbox_password("support", SECRET)
    assert memory_keyring.items == {("supportdesk", "mailbox:support"): SECRET}
    assert secrets.mailbox_password(mailbox()) == SECRET


def test_no_stored_password_says_how_to_log_in() -> None:
    with pytest.raises(SecretError) as caught:
        secrets.mailbox_password(mailbox())
    message = str(caught.value)
    assert "`supportdesk mailbox login support`" in message
    assert "\n" not in message


def test_no_keyring_on_the_machine_points_to_password_command() -> None:
    keyring.set_keyring(keyring.backends.fail.Keyring())
    for attempt in (
        lambda: secrets.mailbox_password(mailbox()),
        lambda: secrets.store_mailbox_password("support", SECRET),
    ):
        with pytest.raises(SecretError) as caught:
            attempt()
        message = str(caught.value)
        assert "password_command" in message
        assert "'support'" in message
        assert "\n" not in message
        assert SECRET not in message


def test_a_failing_keyring_is_one_line_without_the_password() -> None:
    keyring.set_keyring(LockedKeyring())
    with pytest.raises(SecretError) as caught:
        secrets.mailbox_password(mailbox())
    assert str(caught.value) == (
        "mailbox 'support': the keyring failed (KeyringLocked: the collection is locked by the "
        "desktop session); unlock it, or set password_command for this mailbox in config.toml"
    )
    with pytest.raises(SecretError) as caught:
        secrets.store_mailbox_password("support", SECRET)
    assert SECRET not in str(caught.value)
    assert "KeyringLocked: cannot store ***" in str(caught.value)


def test_a_keyring_that_drops_writes_is_caught() -> None:
    keyring.set_keyring(ForgetfulKeyring())
    with pytest.raises(SecretError, match="did not keep the password"):
        secrets.store_mailbox_password("support", SECRET)


def test_delete_password(memory_keyring: MemoryKeyring) -> None:
    secrets.store_mailbox_password("support", SECRET)
    assert secrets.delete_mailbox_password("support") is True
    assert secrets.delete_mailbox_password("support") is False
    assert memory_keyring.items == {}


# --- password_command and token_command ---------------------------------------------------


def test_password_command_output_minus_the_final_newline(memory_keyring: MemoryKeyring) -> None:
    memory_keyring.items[("supportdesk", "mailbox:support")] = "from the keyring"
    box = mailbox(password_command=python_command(f"print({SECRET + ' '!r})"))
    assert secrets.mailbox_password(box) == SECRET + " "


def test_password_command_runs_without_a_shell() -> None:
    box = mailbox(password_command="printf '%s' 'a;b $HOME'")
    assert secrets.mailbox_password(box) == "a;b $HOME"


def test_password_command_gets_no_stdin() -> None:
    code = "import sys; print('eof' if sys.stdin.read() == '' else 'input')"
    assert secrets.mailbox_password(mailbox(password_command=python_command(code))) == "eof"


def _command_error(command: str) -> str:
    with pytest.raises(SecretError) as caught:
        secrets.mailbox_password(mailbox(password_command=command))
    message = str(caught.value)
    assert message.startswith("mailbox 'support': password_command")
    assert "\n" not in message
    return message


def test_failing_password_command_never_shows_its_output() -> None:
    code = f"import sys; print({SECRET!r}); print({SECRET!r}, file=sys.stderr); sys.exit(3)"
    message = _command_error(python_command(code))
    assert "exited with status 3" in message
    assert SECRET not in message


def test_false_is_a_failure() -> None:
    assert "exited with status 1" in _command_error("false")


def test_missing_program() -> None:
    message = _command_error("no-such-program-supportdesk --flag")
    assert "program 'no-such-program-supportdesk' not found" in message


def test_program_that_is_not_executable(tmp_path: Path) -> None:
    script = tmp_path / "secret.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o600)
    assert "cannot run" in _command_error(str(script))


def test_empty_output_is_an_error() -> None:
    assert "printed nothing" in _command_error("true")


def test_timeout_kills_the_command_and_its_children(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(secrets, "COMMAND_TIMEOUT_SECONDS", 0.5)
    pid_file = tmp_path / "child.pid"
    code = (
        "import pathlib, subprocess, sys, time; "
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
        f"pathlib.Path({str(pid_file)!r}).write_text(str(child.pid)); "
        f"print({SECRET!r}, flush=True); time.sleep(60)"
    )
    message = _command_error(python_command(code))
    assert "did not finish within 0.5 s" in message
    assert SECRET not in message
    assert _gone(int(pid_file.read_text()))


def _gone(pid: int) -> bool:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:
            return True
        if re.search(r"^State:\s+Z", status, re.MULTILINE):
            return True
        time.sleep(0.05)
    return False


def test_oauth2_token_from_token_command() -> None:
    box = mailbox(auth="oauth2", token_command=python_command("print('ya29.token')"))
    assert secrets.oauth2_token(box) == "ya29.token"


def test_oauth2_token_failure_is_named_after_token_command() -> None:
    box = mailbox(auth="oauth2", token_command="false")
    with pytest.raises(SecretError, match=r"^mailbox 'support': token_command exited"):
        secrets.oauth2_token(box)


def test_oauth2_token_without_token_command() -> None:
    with pytest.raises(SecretError, match="token_command"):
        secrets.oauth2_token(mailbox())
