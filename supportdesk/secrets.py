"""Mailbox credentials: from the keyring, or from a command for machines without one.

Secrets never touch config.toml, the store or a log line. The commands' output is the secret,
so no error message here ever quotes it, not even the part on stderr: errors name the mailbox
and what went wrong, and the person can run the command by hand to see the rest.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
from typing import TYPE_CHECKING

from supportdesk.errors import SecretError
from supportdesk.i18n import _

if TYPE_CHECKING:
    from supportdesk.config import Mailbox

KEYRING_SERVICE = "supportdesk"
COMMAND_TIMEOUT_SECONDS = 30.0


def keyring_username(mailbox_name: str) -> str:
    """The keyring entry for a mailbox, namespaced so other secrets can join later."""
    return f"mailbox:{mailbox_name}"


def mailbox_password(mailbox: Mailbox) -> str:
    """The IMAP password: from `password_command` when set, else from the keyring."""
    if mailbox.password_command is not None:
        return run_secret_command(
            mailbox.password_command, mailbox=mailbox.name, key="password_command"
        )
    import keyring  # a tenth of a second: only when the keyring is what holds the password

    _require_real_keyring(mailbox.name)
    try:
        password = keyring.get_password(KEYRING_SERVICE, keyring_username(mailbox.name))
    except Exception as exc:
        raise SecretError(
            _(
                "mailbox {name!r}: the keyring failed ({exc}); unlock it, or "
                "set password_command for this mailbox in config.toml"
            ).format(name=mailbox.name, exc=_one_line(exc))
        ) from None
    if not password:
        raise SecretError(
            _(
                "mailbox {name!r}: no password stored; run `supportdesk "
                "mailbox login {name}` (or set password_command)"
            ).format(name=mailbox.name)
        )
    return password


def smtp_password(mailbox: Mailbox) -> str:
    """The SMTP password: `smtp_password_command` when set, else the mailbox's own password."""
    if mailbox.smtp_password_command is not None:
        return run_secret_command(
            mailbox.smtp_password_command, mailbox=mailbox.name, key="smtp_password_command"
        )
    return mailbox_password(mailbox)


def store_mailbox_password(mailbox_name: str, password: str) -> None:
    """Save the password in the keyring, and read it back: some backends drop writes silently."""
    _require_real_keyring(mailbox_name)
    _keep(
        keyring_username(mailbox_name),
        password,
        who=_("mailbox {name!r}").format(name=mailbox_name),
        instead="password_command",
    )


def _keep(username: str, password: str, *, who: str, instead: str) -> None:
    import keyring

    try:
        keyring.set_password(KEYRING_SERVICE, username, password)
        stored = keyring.get_password(KEYRING_SERVICE, username)
    except Exception as exc:
        reason = _one_line(exc).replace(password, "***") if password else _one_line(exc)
        raise SecretError(
            _("{who}: the keyring refused the password ({reason}); set {instead} instead").format(
                who=who, reason=reason, instead=instead
            )
        ) from None
    if stored != password:
        raise SecretError(
            _("{who}: the keyring did not keep the password; set {instead} instead").format(
                who=who, instead=instead
            )
        )


def delete_mailbox_password(mailbox_name: str) -> bool:
    """Forget a stored password; False when there was none."""
    import keyring
    from keyring.errors import PasswordDeleteError

    _require_real_keyring(mailbox_name)
    try:
        keyring.delete_password(KEYRING_SERVICE, keyring_username(mailbox_name))
    except PasswordDeleteError:
        return False
    except Exception as exc:
        raise SecretError(
            _("mailbox {mailbox_name!r}: the keyring failed ({exc})").format(
                mailbox_name=mailbox_name, exc=_one_line(exc)
            )
        ) from None
    return True


def oauth2_token(mailbox: Mailbox) -> str:
    """A fresh OAuth2 access token from the mailbox's `token_command`."""
    if mailbox.token_command is None:
        raise SecretError(
            _('mailbox {name!r}: auth = "oauth2" needs token_command in config.toml').format(
                name=mailbox.name
            )
        )
    return run_secret_command(mailbox.token_command, mailbox=mailbox.name, key="token_command")


def database_account(user: str, host: str, port: int | None, database: str) -> str:
    """The keyring entry of a database login, namespaced like the mailboxes'."""
    return f"database:{user}@{host}:{port or 5432}/{database}"


def database_command_password(command: str) -> str:
    """A team store's password from `database_password_command`."""
    return run_secret_command(command, mailbox="", key="database_password_command")


def database_keyring_password(account: str) -> str | None:
    """A team store's password from the keyring (`supportdesk team login`), None if none is
    kept there. Only asked when the server wants a password (see store.engine)."""
    import keyring
    import keyring.backends.fail

    if isinstance(keyring.get_keyring(), keyring.backends.fail.Keyring):
        return None
    try:
        return keyring.get_password(KEYRING_SERVICE, account) or None
    except Exception as exc:
        raise SecretError(
            _(
                "{account}: the server wants a password and the keyring "
                "failed ({exc}); unlock it, or set database_password_command "
                "in config.toml"
            ).format(account=account, exc=_one_line(exc))
        ) from None


def store_database_password(account: str, password: str) -> None:
    """Save a database password in the keyring (`supportdesk team login`), read back too."""
    _require_real_keyring(account, what="database login")
    _keep(account, password, who=account, instead="database_password_command")


CSAT_KEY_ACCOUNT = "csat:key"


def csat_key(command: str | None) -> str:
    """The key that signs rating links: from `csat.key_command` when set, else the keyring
    entry `supportdesk csat key --generate` saved."""
    if command is not None:
        return run_secret_command(command, mailbox="", key="csat.key_command")
    import keyring
    import keyring.backends.fail

    if isinstance(keyring.get_keyring(), keyring.backends.fail.Keyring):
        raise SecretError(_("no keyring on this machine; set csat.key_command in config.toml"))
    try:
        value = keyring.get_password(KEYRING_SERVICE, CSAT_KEY_ACCOUNT)
    except Exception as exc:
        raise SecretError(
            _(
                "the keyring failed ({reason}) reading the rating key; unlock it, or set "
                "csat.key_command in config.toml"
            ).format(reason=_one_line(exc))
        ) from None
    if not value:
        raise SecretError(
            _(
                "no rating key stored; run `supportdesk csat key --generate` "
                "(or set csat.key_command)"
            )
        )
    return value


def csat_key_stored() -> bool:
    """Whether the keyring holds a rating key (replacing it breaks every link sent)."""
    import keyring
    import keyring.backends.fail

    if isinstance(keyring.get_keyring(), keyring.backends.fail.Keyring):
        return False
    try:
        return bool(keyring.get_password(KEYRING_SERVICE, CSAT_KEY_ACCOUNT))
    except Exception as exc:
        raise SecretError(
            _("the keyring failed ({reason}) reading the rating key; unlock it").format(
                reason=_one_line(exc)
            )
        ) from None


def store_csat_key(value: str) -> None:
    """Save the rating key in the keyring, read back."""
    _require_real_keyring(CSAT_KEY_ACCOUNT, what="rating key")
    _keep(CSAT_KEY_ACCOUNT, value, who=CSAT_KEY_ACCOUNT, instead="csat.key_command")


def run_secret_command(command: str, *, mailbox: str, key: str) -> str:
    """Run a password or token command; what it prints, minus the final newline, is the secret.

    No shell (the string is split like a shell would, but nothing is interpreted), no stdin (a
    prompt would hang a sync), a time limit, and its own process group so a timeout also
    stops whatever it started.
    """
    where = _("mailbox {name!r}: {key}").format(name=mailbox, key=key) if mailbox else key
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise SecretError(
            _("{where} cannot be split into words: {exc}").format(where=where, exc=exc)
        ) from None
    if not argv:
        raise SecretError(_("{where} is empty").format(where=where))
    try:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=hasattr(os, "killpg"),
        )
    except FileNotFoundError:
        raise SecretError(
            _("{where}: program {argv!r} not found").format(where=where, argv=argv[0])
        ) from None
    except OSError as exc:
        raise SecretError(
            _("{where}: cannot run {argv!r}: {value}").format(
                where=where, argv=argv[0], value=exc.strerror or exc
            )
        ) from None
    with process:
        try:
            stdout, _stderr = process.communicate(timeout=COMMAND_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            raise SecretError(
                _(
                    "{where} did not finish within {command_timeout_seconds:g} s "
                    "(is it waiting for input?)"
                ).format(where=where, command_timeout_seconds=COMMAND_TIMEOUT_SECONDS)
            ) from None
    if process.returncode != 0:
        if process.returncode < 0:
            status = _("was killed by signal {signal}").format(signal=-process.returncode)
        else:
            status = _("exited with status {status}").format(status=process.returncode)
        raise SecretError(
            _("{where} {status}; run it by hand to see why (its output is not shown)").format(
                where=where, status=status
            )
        )
    try:
        text = stdout.decode("utf-8")
    except UnicodeDecodeError:
        raise SecretError(
            _("{where} printed something that is not UTF-8 text").format(where=where)
        ) from None
    secret = text.removesuffix("\n").removesuffix("\r")
    if not secret:
        raise SecretError(_("{where} printed nothing").format(where=where))
    return secret


def _require_real_keyring(name: str, *, what: str = "mailbox") -> None:
    import keyring
    import keyring.backends.fail

    # The fail backend is what keyring picks on servers and CI runners without a keyring
    # daemon; its own error text talks about installing packages, which is not the fix here.
    if isinstance(keyring.get_keyring(), keyring.backends.fail.Keyring):
        if what == "mailbox":
            raise SecretError(
                _(
                    "mailbox {name!r}: no keyring on this machine; set "
                    "password_command for this mailbox in config.toml"
                ).format(name=name)
            )
        if what == "rating key":
            raise SecretError(_("no keyring on this machine; set csat.key_command in config.toml"))
        raise SecretError(
            _(
                "{name}: no keyring on this machine; set database_password_command in config.toml"
            ).format(name=name)
        )


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    if hasattr(os, "killpg"):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            process.kill()
    else:
        process.kill()
    process.wait()


def _one_line(exc: Exception) -> str:
    detail = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
