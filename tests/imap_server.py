"""A real, throwaway Dovecot IMAP server for the sync tests, and the pytest fixtures around it.

Why a real server and not a fake: the design promises that sync is tested against what a
mailbox actually does (UIDPLUS, CONDSTORE, IDLE, TLS, UIDVALIDITY changes). Every instance
lives entirely inside its own temp dir, with its own base_dir, state_dir, logs, passwd-file,
Maildir and certificates, listening on free loopback ports, so it never reads /etc/dovecot
and never meets a system Dovecot that may be running on the same machine.

Fixtures (import them into tests/conftest.py):

    dovecot        session-scoped DovecotServer, started on first use, stopped at the end
    imap_account   function-scoped ImapAccount: a fresh user on that server
    fresh_dovecot  function-scoped private DovecotServer, for tests that stop or restart it

If Dovecot is not installed the fixtures fail (never skip) and point at
scripts/ensure_dovecot.sh.

    def test_first_sync(imap_account):
        uid = imap_account.append(raw_bytes)                 # APPEND, returns the UID
        cfg = dict(host=imap_account.host, port=imap_account.tls_port,
                   username=imap_account.username, password=imap_account.password,
                   ca_file=imap_account.ca_file)             # or port=imap_account.starttls_port
        ...
        assert imap_account.fetch_flags()[uid] == set()      # sync left \\Seen alone

Worth knowing: Dovecot counts loopback as a secure channel, so it accepts LOGIN without TLS
on the plain port; a "refuse plaintext" policy has to be tested on the client side. A
UIDVALIDITY change (reset_uidvalidity) ends any session that has the folder selected with
`* BYE IMAP session state is inconsistent, please relogin.`
"""

from __future__ import annotations

import contextlib
import ctypes
import grp
import itertools
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest
from imapclient import IMAPClient

HOST = "127.0.0.1"
# Non-root shells often lack the sbin directories where Debian puts dovecot and doveadm.
_SBIN_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin")
_START_TIMEOUT = 10.0
_STOP_TIMEOUT = 10.0
_APPENDUID = re.compile(rb"\[APPENDUID \d+ ([\d:,]+)\]")
_HINT = "run `bash scripts/ensure_dovecot.sh` (installs dovecot-imapd with apt-get)"


class DovecotMissing(RuntimeError):
    """Dovecot or openssl is not installed; the message says how to fix it."""


class DovecotStartError(RuntimeError):
    """The server did not come up; the message carries the tail of its logs."""


def find_program(name: str) -> str | None:
    """Locate a binary on PATH or in the sbin dirs a non-root PATH tends to miss."""
    search = os.pathsep.join([os.environ.get("PATH", ""), *_SBIN_DIRS])
    return shutil.which(name, path=search)


def require_dovecot() -> tuple[str, str, str]:
    """Return the paths of dovecot, doveadm and openssl, or raise DovecotMissing."""
    found = {name: find_program(name) for name in ("dovecot", "doveadm", "openssl")}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        raise DovecotMissing(
            f"the IMAP tests need a real Dovecot server but {', '.join(missing)} "
            f"is not installed: {_HINT}"
        )
    return found["dovecot"], found["doveadm"], found["openssl"]  # type: ignore[return-value]


def free_port() -> int:
    """Ask the kernel for an unused loopback port (a start retries if another grabs it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _unused_id(taken: Iterable[int], start: int = 5000) -> int:
    """First id from `start` that no account uses, so test mail never belongs to a real user."""
    used = set(taken)
    return next(n for n in itertools.count(start) if n not in used)


def _die_with_parent() -> None:
    """Runs in the child before exec: if the test process dies (even SIGKILL), so does Dovecot.

    Without it a crashed or interrupted test run leaves masters behind that nobody stops.
    Linux delivers the signal when the spawning *thread* ends, so start servers from the
    main thread (pytest fixtures do), not from a short-lived worker thread.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            pr_set_pdeathsig = 1
            libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped) is gone for every purpose that matters here.
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


def _descendants(root: int) -> list[int]:
    """Every process under `root`, read from /proc (Dovecot's workers are its children)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@dataclass(frozen=True)
class FolderStatus:
    """STATUS of one folder, as a sync engine compares it between runs."""

    messages: int
    uidnext: int
    uidvalidity: int
    unseen: int
    highestmodseq: int


@dataclass
class DovecotServer:
    """One Dovecot instance on loopback, configured and owned entirely by the test process.

    Runs in the foreground (`dovecot -F`) as a child of the test process so its pid is known
    without trusting a pid file and it cannot outlive a killed test run.
    """

    root: Path = field(default_factory=lambda: DovecotServer._make_root())
    starttls_port: int = 0
    tls_port: int = 0
    host: str = HOST
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _users: dict[str, str] = field(default_factory=dict, init=False, repr=False)
    _seq: Iterator[int] = field(default_factory=itertools.count, init=False, repr=False)

    def __post_init__(self) -> None:
        self.dovecot_bin, self.doveadm_bin, self.openssl_bin = require_dovecot()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            # Dovecot refuses to run mail processes as root; an id no account uses keeps
            # the throwaway mail from belonging to anybody real.
            self.mail_uid = _unused_id(p.pw_uid for p in pwd.getpwall())
            self.mail_gid = _unused_id(g.gr_gid for g in grp.getgrall())
        else:
            self.mail_uid, self.mail_gid = os.getuid(), os.getgid()
        self.config_file = self.root / "dovecot.conf"
        self.passwd_dir = self.root / "passwd.d"
        self.ssl_dir = self.root / "ssl"
        self.ca_file = self.ssl_dir / "ca.pem"
        self.mail_root = self.root / "mail"
        self.log_file = self.root / "log" / "dovecot.log"
        self.info_log_file = self.root / "log" / "dovecot-info.log"
        self.stderr_file = self.root / "log" / "stderr.log"
        try:
            self._prepare_dirs()
            self._make_certificates()
        except BaseException:
            shutil.rmtree(self.root, ignore_errors=True)
            raise

    # ---- set-up -------------------------------------------------------------------------

    @staticmethod
    def _make_root() -> Path:
        # Short and under a world-traversable dir: UNIX socket paths in base_dir must stay
        # below ~108 bytes, and dovenull / dovecot / the mail uid must be able to reach it
        # (pytest's own tmp dirs are mode 0700 to root).
        base = tempfile.gettempdir()
        if len(base) > 40 or not _traversable(Path(base)):
            base = "/tmp"
        root = Path(tempfile.mkdtemp(prefix="sd-dovecot-", dir=base))
        root.chmod(0o755)
        return root

    def _prepare_dirs(self) -> None:
        for sub in ("run", "state", "log", "ssl", "passwd.d"):
            (self.root / sub).mkdir(exist_ok=True)
        self.ssl_dir.chmod(0o700)
        self.mail_root.mkdir(exist_ok=True)
        self.mail_root.chmod(0o700)
        if self.as_root:
            os.chown(self.mail_root, self.mail_uid, self.mail_gid)

    def _openssl(self, *args: str) -> None:
        result = subprocess.run(
            [self.openssl_bin, *args], cwd=self.ssl_dir, capture_output=True, text=True
        )
        if result.returncode:
            raise DovecotStartError(f"openssl {args[0]} failed: {result.stderr.strip()}")

    def _make_certificates(self) -> None:
        """A private CA and a server certificate it signed, valid for 127.0.0.1 and localhost.

        A CA (rather than one self-signed leaf) lets tests do what a user does: point
        `ca_file` at the CA and expect the server to verify, or leave it out and expect a
        refusal. EC keys keep this to a few milliseconds.
        """
        ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
        self._openssl(
            "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "30",
            "-subj", "/O=supportdesk tests/CN=supportdesk test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        )  # fmt: skip
        self._openssl(
            "req", "-new", *ec, "-keyout", "key.pem", "-out", "server.csr",
            "-subj", "/O=supportdesk tests/CN=localhost",
        )  # fmt: skip
        (self.ssl_dir / "server.ext").write_text(
            "basicConstraints = critical, CA:FALSE\n"
            "keyUsage = critical, digitalSignature\n"
            "extendedKeyUsage = serverAuth\n"
            "subjectAltName = IP:127.0.0.1, DNS:localhost\n"
            "subjectKeyIdentifier = hash\n"
            "authorityKeyIdentifier = keyid:always\n"
        )
        self._openssl(
            "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "cert.pem", "-days", "30", "-extfile", "server.ext",
        )  # fmt: skip
        # Tests read the CA as whatever user they run as; the keys stay private.
        self.ca_file.chmod(0o644)

    def _write_user(self, user: str, password: str) -> None:
        """One passwd-file per user, written atomically.

        Why not one file: Dovecot stats a passwd-file at most once per second, so a user
        added to a shared file just after another login is unknown for up to a second. A
        file that auth has never looked at (the path has the user in it) is read at once.
        """
        path = self.passwd_dir / user
        tmp = path.with_name(f".{user}.tmp")
        tmp.write_text(f"{user}:{{PLAIN}}{password}::::::\n")
        tmp.chmod(0o644)  # read by the auth process, which runs as the `dovecot` user
        tmp.replace(path)

    def _render_config(self) -> str:
        root = self.root
        if self.as_root:
            users = ""
            no_chroot = ""
        else:
            # An unprivileged master can neither switch users nor chroot: run everything
            # as the invoking user.
            me = pwd.getpwuid(os.getuid()).pw_name
            group = grp.getgrgid(os.getgid()).gr_name
            users = (
                f"default_login_user = {me}\ndefault_internal_user = {me}\n"
                f"default_internal_group = {group}\n"
            )
            no_chroot = "service anvil {\n  chroot =\n}\n"
        login_chroot = "" if self.as_root else "  chroot =\n"
        dh = Path("/usr/share/dovecot/dh.pem")
        dh_line = f"ssl_dh = <{dh}\n" if dh.exists() else ""
        uid, gid = self.mail_uid, self.mail_gid
        return f"""\
# Generated by tests/imap_server.py for one test run; nothing here comes from /etc/dovecot.
instance_name = sd-test-{root.name}
base_dir = {root}/run
state_dir = {root}/state
log_path = {self.log_file}
info_log_path = {self.info_log_file}
debug_log_path = {self.info_log_file}
login_greeting = supportdesk test IMAP ready.
{users}
protocols = imap
listen = {self.host}
shutdown_clients = yes

ssl = yes
ssl_cert = <{self.ssl_dir}/cert.pem
ssl_key = <{self.ssl_dir}/key.pem
ssl_min_protocol = TLSv1.2
{dh_line}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_username_format = %Lu
# A refused login then answers within Dovecot's 0.5 s check interval instead of after 2 s.
auth_failure_delay = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%Lu {self.passwd_dir}/%Lu
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={self.mail_root}/%Ld/%Ln
}}

mail_location = maildir:~/Maildir
mail_uid = {uid}
mail_gid = {gid}
first_valid_uid = {uid}
last_valid_uid = {uid}
first_valid_gid = {gid}
last_valid_gid = {gid}
# Throwaway data: durability buys nothing and costs test time.
mail_fsync = never
# IDLE learns about new mail through inotify; the poll is only a fallback, kept short.
mailbox_idle_check_interval = 1 secs
mail_plugins =

namespace inbox {{
  inbox = yes
  separator = /
  mailbox Drafts {{
    special_use = \\Drafts
    auto = subscribe
  }}
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
  mailbox Trash {{
    special_use = \\Trash
    auto = subscribe
  }}
  mailbox Junk {{
    special_use = \\Junk
    auto = subscribe
  }}
}}

service imap-login {{
{login_chroot}  inet_listener imap {{
    address = {self.host}
    port = {self.starttls_port}
  }}
  inet_listener imaps {{
    address = {self.host}
    port = {self.tls_port}
    ssl = yes
  }}
}}
{no_chroot}
protocol imap {{
  # CONDSTORE, QRESYNC, IDLE, UIDPLUS and MOVE are built into Dovecot 2.3's imap.
  mail_max_userip_connections = 100
}}
"""

    # ---- life cycle ---------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """The master's pid while it runs."""
        return self._proc.pid if self._proc and self._proc.poll() is None else None

    def process_ids(self) -> list[int]:
        """Master and every worker it spawned, for checking that stop() left nothing."""
        if self.pid is None:
            return []
        return [self.pid, *_descendants(self.pid)]

    def start(self, timeout: float = _START_TIMEOUT) -> DovecotServer:
        """Start and wait until IMAP answers; keeps ports and mail across a restart."""
        if self.pid is not None:
            return self
        keep_ports = bool(self.starttls_port and self.tls_port)
        attempts = 1 if keep_ports else 3
        for attempt in range(attempts):
            if not keep_ports:
                self.starttls_port, self.tls_port = free_port(), free_port()
            try:
                self._start_once(timeout)
                return self
            except DovecotStartError as exc:
                # Another process may have taken a port between probing and binding.
                if "Address already in use" not in str(exc) or attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    def _start_once(self, timeout: float) -> None:
        self.config_file.write_text(self._render_config())
        for log in (self.log_file, self.info_log_file):
            log.write_text("")
        with self.stderr_file.open("wb") as err:
            self._proc = subprocess.Popen(
                [self.dovecot_bin, "-F", "-c", str(self.config_file)],
                stdin=subprocess.DEVNULL,
                stdout=err,
                stderr=err,
                preexec_fn=_die_with_parent,  # safe: the test process is single-threaded here
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            )
        deadline = time.monotonic() + timeout
        self._disable_auth_penalty(deadline)
        while True:
            if self._proc.poll() is not None:
                raise DovecotStartError(
                    f"dovecot exited with status {self._proc.returncode}\n{self.log_tail()}"
                )
            if self._greets() and self._accepts(self.tls_port):
                return
            if time.monotonic() > deadline:
                self._kill_all()
                raise DovecotStartError(
                    f"dovecot did not accept connections on {self.host}:{self.starttls_port} "
                    f"within {timeout:.0f} s\n{self.log_tail()}"
                )
            time.sleep(0.02)

    def _disable_auth_penalty(self, deadline: float) -> None:
        """Remove the socket through which auth asks anvil for per-IP failure penalties.

        Dovecot 2.3 slows every login from an IP that recently failed one, by up to 15 s
        for up to ~30 s, and no setting turns that off (auth_failure_delay = 0 does not,
        nor does login_trusted_networks). Every test connects from 127.0.0.1, so one
        wrong-password test would stall the logins of the tests after it. The auth process
        connects to this socket when it starts, which is on the first login; if the socket
        is missing (ENOENT) it silently runs without penalties. The master creates all its
        sockets before it forks anything, so unlinking it now, before any connection, wins.
        """
        socket_path = self.root / "run" / "anvil-auth-penalty"
        give_up = min(deadline, time.monotonic() + 2.0)
        while time.monotonic() < give_up and self._proc and self._proc.poll() is None:
            if socket_path.exists():
                socket_path.unlink()
                return
            time.sleep(0.002)

    def _greets(self) -> bool:
        """True once an imap-login process answers with its greeting, not just the socket."""
        try:
            with socket.create_connection((self.host, self.starttls_port), timeout=1) as sock:
                return sock.recv(100).startswith(b"* OK")
        except OSError:
            return False

    def _accepts(self, port: int) -> bool:
        try:
            with socket.create_connection((self.host, port), timeout=1):
                return True
        except OSError:
            return False

    def log_tail(self, lines: int = 30) -> str:
        """The end of every log this instance writes, for error messages."""
        parts = []
        for path in (self.stderr_file, self.log_file, self.info_log_file):
            text = _tail(path, lines)
            if text:
                parts.append(f"--- {path.name} ---\n{text}")
        return "\n".join(parts) or "(dovecot wrote no log)"

    def stop(self, cleanup: bool = True, timeout: float = _STOP_TIMEOUT) -> None:
        """Stop the master and wait until it and all its workers are gone.

        SIGTERM is what `doveadm stop` sends, but signalling only the master costs ~1 s
        (`doveadm stop` ~3 s) while it waits on its workers. Signalling them all at once
        usually takes ~0.1 s, yet now and then the master lingers for seconds, so whatever
        is left after a short grace gets SIGKILL: the data is thrown away anyway. Waiting
        for every worker, not only the master, matters: a surviving imap-login keeps the port.
        """
        if self._proc is not None and self._proc.poll() is None:
            pids = self.process_ids()
            for sig, wait in ((signal.SIGTERM, 0.5), (signal.SIGKILL, timeout)):
                for pid in pids:
                    if _pid_alive(pid):
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(pid, sig)
                deadline = time.monotonic() + wait
                while any(_pid_alive(p) for p in pids) and time.monotonic() < deadline:
                    time.sleep(0.01)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout)
        if cleanup:
            shutil.rmtree(self.root, ignore_errors=True)

    def _kill_all(self) -> None:
        if self._proc is None:
            return
        for pid in self.process_ids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(5)

    def restart(self) -> None:
        """Stop and start on the same ports with the same mail: for reconnect tests."""
        self.stop(cleanup=False)
        self.start()

    def __enter__(self) -> DovecotServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- users --------------------------------------------------------------------------

    def add_user(self, address: str, password: str) -> None:
        """Add (or re-password) a login; usable at once, also while the server runs."""
        user = address.lower()
        if (
            any(c in user + password for c in ":/\n\r\t")
            or user.count("@") != 1
            or user.startswith(".")
        ):
            raise ValueError(f"unusable test account {address!r}")
        known = user in self._users
        self._users[user] = password
        self._write_user(user, password)
        if known and self.pid is not None:
            # Auth may have read this user's file within the last second and will not look
            # again until the second is over: wait until the new password works.
            self._wait_for_password(user, password)

    def _wait_for_password(self, user: str, password: str, timeout: float = 3.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            client = IMAPClient(self.host, port=self.starttls_port, ssl=False, timeout=10)
            try:
                client.login(user, password)
                client.logout()
                return
            except IMAPClient.Error:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
            finally:
                with contextlib.suppress(Exception):
                    client.shutdown()

    def new_account(self) -> ImapAccount:
        """A user no other test has touched, so tests need no cleanup between them."""
        address = f"user{next(self._seq)}-{secrets.token_hex(3)}@example.test"
        password = secrets.token_urlsafe(12)
        self.add_user(address, password)
        return ImapAccount(self, address, password)

    def doveadm(self, *args: str) -> str:
        """Run doveadm against this instance only (never the system config)."""
        result = subprocess.run(
            [self.doveadm_bin, "-c", str(self.config_file), *args],
            capture_output=True,
            text=True,
        )
        if result.returncode:
            raise RuntimeError(f"doveadm {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout

    def kick(self, user: str) -> None:
        """Drop every IMAP connection of `user`, as a server restart or network cut would."""
        self.doveadm("kick", user)

    # ---- mailbox access (as the user, over plain IMAP on loopback) ----------------------

    @contextlib.contextmanager
    def connect(self, user: str) -> Iterator[IMAPClient]:
        """A logged-in client for arranging or inspecting a mailbox from a test."""
        client = IMAPClient(self.host, port=self.starttls_port, ssl=False, timeout=10)
        try:
            client.login(user, self._users[user.lower()])
            yield client
        finally:
            with contextlib.suppress(Exception):
                client.logout()

    def append(
        self,
        user: str,
        folder: str,
        raw: bytes,
        flags: Sequence[str] = (),
        date: datetime | None = None,
    ) -> int:
        """APPEND one message and return the UID the server gave it (from APPENDUID)."""
        with self.connect(user) as client:
            response = client.append(folder, raw, flags=tuple(flags), msg_time=date)
        return _appended_uids(response)[0]

    def append_many(
        self,
        user: str,
        folder: str,
        messages: Iterable[bytes],
        flags: Sequence[str] = (),
        date: datetime | None = None,
    ) -> list[int]:
        """Store many messages in one MULTIAPPEND (~6x faster than one APPEND each).

        Returns their UIDs in order, for setting up big folders (a sync to interrupt).
        """
        items: list[dict[str, object]] = []
        for raw in messages:
            item: dict[str, object] = {"msg": raw, "flags": tuple(flags)}
            if date is not None:
                item["date"] = date
            items.append(item)
        if not items:
            return []
        with self.connect(user) as client:
            _typ, data = client.multiappend(folder, items)
        uids = _appended_uids(data[-1])
        if len(uids) != len(items):
            raise AssertionError(f"{len(items)} messages appended but APPENDUID says {uids}")
        return uids

    def create_folder(self, user: str, name: str) -> None:
        with self.connect(user) as client:
            client.create_folder(name)
            client.subscribe_folder(name)

    def delete_folder(self, user: str, name: str) -> None:
        with self.connect(user) as client:
            client.delete_folder(name)

    def list_folders(self, user: str) -> list[str]:
        with self.connect(user) as client:
            return sorted(name for _flags, _sep, name in client.list_folders())

    def folder_status(self, user: str, folder: str) -> FolderStatus:
        with self.connect(user) as client:
            status = client.folder_status(
                folder, [b"MESSAGES", b"UIDNEXT", b"UIDVALIDITY", b"UNSEEN", b"HIGHESTMODSEQ"]
            )
        return FolderStatus(
            messages=status[b"MESSAGES"],
            uidnext=status[b"UIDNEXT"],
            uidvalidity=status[b"UIDVALIDITY"],
            unseen=status[b"UNSEEN"],
            highestmodseq=status[b"HIGHESTMODSEQ"],
        )

    def uids(self, user: str, folder: str) -> list[int]:
        with self.connect(user) as client:
            client.select_folder(folder, readonly=True)
            return sorted(client.search("ALL"))

    def fetch_flags(self, user: str, folder: str) -> dict[int, set[str]]:
        """Flags per UID: how tests check that a sync left \\Seen alone."""
        with self.connect(user) as client:
            client.select_folder(folder, readonly=True)
            uids = client.search("ALL")
            data = client.fetch(uids, ["FLAGS"]) if uids else {}
        # \\Recent says which session saw a message first, not what the message is: drop it.
        return {
            uid: {f.decode() for f in item[b"FLAGS"]} - {"\\Recent"} for uid, item in data.items()
        }

    def fetch_messages(self, user: str, folder: str) -> dict[int, bytes]:
        """Raw bytes per UID, read with BODY.PEEK so inspecting changes no flag."""
        with self.connect(user) as client:
            client.select_folder(folder, readonly=True)
            uids = client.search("ALL")
            data = client.fetch(uids, ["BODY.PEEK[]"]) if uids else {}
        return {uid: item[b"BODY[]"] for uid, item in data.items()}

    def set_flags(self, user: str, folder: str, uids: Sequence[int], flags: Sequence[str]) -> None:
        """Replace the flags of `uids`, as another mail client reading the mail would."""
        with self.connect(user) as client:
            client.select_folder(folder)
            client.set_flags(list(uids), list(flags))

    def delete_messages(self, user: str, folder: str, uids: Sequence[int]) -> None:
        """Expunge exactly `uids` (UID EXPUNGE), leaving other \\Deleted mail alone."""
        with self.connect(user) as client:
            client.select_folder(folder)
            client.add_flags(list(uids), [b"\\Deleted"])
            client.uid_expunge(list(uids))

    def move_messages(self, user: str, folder: str, uids: Sequence[int], dest: str) -> None:
        """MOVE mail elsewhere, as another client or a server-side filter would."""
        with self.connect(user) as client:
            client.select_folder(folder)
            client.move(list(uids), dest)

    def reset_uidvalidity(self, user: str, folder: str) -> tuple[int, int]:
        """Give `folder` a new UIDVALIDITY and new UIDs, keeping every message.

        This is what a server rebuild or a restored backup looks like to a client. The new
        UIDs are all above the old UIDNEXT, so a client that ignored UIDVALIDITY would
        visibly import everything twice instead of passing by accident. Flags and
        INTERNALDATE survive (COPY keeps them). Works for INBOX, which cannot be deleted.
        Returns (old, new) UIDVALIDITY.
        """
        old = self.folder_status(user, folder).uidvalidity
        parking = f"sd-reset-{secrets.token_hex(4)}"
        with self.connect(user) as client:
            client.create_folder(parking)
            client.select_folder(folder)
            uids = client.search("ALL")
            if uids:
                client.copy(uids, parking)
                client.add_flags(uids, [b"\\Deleted"])
                client.uid_expunge(uids)
            client.close_folder()
        new = old + 1 if old < 0xFFFFFFFF else 1
        self.doveadm("mailbox", "update", "--uid-validity", str(new), "-u", user, folder)
        with self.connect(user) as client:
            client.select_folder(parking)
            uids = client.search("ALL")
            if uids:
                client.copy(uids, folder)
            client.close_folder()
            client.delete_folder(parking)
        return old, new


def _appended_uids(response: bytes) -> list[int]:
    """UIDs from an APPENDUID response code: `[APPENDUID 123 7]` or `[APPENDUID 123 7:9,12]`."""
    match = _APPENDUID.search(response)
    if match is None:
        raise AssertionError(f"no APPENDUID in {response!r} (the server lacks UIDPLUS?)")
    uids: list[int] = []
    for part in match.group(1).split(b","):
        first, _, last = part.partition(b":")
        uids.extend(range(int(first), int(last or first) + 1))
    return uids


def _traversable(path: Path) -> bool:
    """Whether unprivileged users can reach `path` (every ancestor has its x bit for others)."""
    for part in [path, *path.parents]:
        try:
            if not part.stat().st_mode & 0o001:
                return False
        except OSError:
            return False
    return True


@dataclass
class ImapAccount:
    """One test's mailbox: what a sync needs to connect, and helpers bound to this user.

    `port` is the STARTTLS/plain port (also `starttls_port`); `tls_port` is implicit TLS.
    `ca_file` verifies the server certificate (issued for 127.0.0.1 and localhost).
    """

    server: DovecotServer
    address: str
    password: str

    @property
    def username(self) -> str:
        return self.address

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.starttls_port

    @property
    def starttls_port(self) -> int:
        return self.server.starttls_port

    @property
    def tls_port(self) -> int:
        return self.server.tls_port

    @property
    def ca_file(self) -> Path:
        return self.server.ca_file

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts exactly the test CA."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    def connect(self) -> contextlib.AbstractContextManager[IMAPClient]:
        return self.server.connect(self.address)

    def append(
        self,
        raw: bytes,
        folder: str = "INBOX",
        flags: Sequence[str] = (),
        date: datetime | None = None,
    ) -> int:
        return self.server.append(self.address, folder, raw, flags=flags, date=date)

    def append_many(self, messages: Iterable[bytes], folder: str = "INBOX") -> list[int]:
        return self.server.append_many(self.address, folder, messages)

    def create_folder(self, name: str) -> None:
        self.server.create_folder(self.address, name)

    def folder_status(self, folder: str = "INBOX") -> FolderStatus:
        return self.server.folder_status(self.address, folder)

    def uids(self, folder: str = "INBOX") -> list[int]:
        return self.server.uids(self.address, folder)

    def fetch_flags(self, folder: str = "INBOX") -> dict[int, set[str]]:
        return self.server.fetch_flags(self.address, folder)

    def fetch_messages(self, folder: str = "INBOX") -> dict[int, bytes]:
        return self.server.fetch_messages(self.address, folder)

    def delete_messages(self, uids: Sequence[int], folder: str = "INBOX") -> None:
        self.server.delete_messages(self.address, folder, uids)

    def set_flags(self, uids: Sequence[int], flags: Sequence[str], folder: str = "INBOX") -> None:
        self.server.set_flags(self.address, folder, uids, flags)

    def move_messages(self, uids: Sequence[int], dest: str, folder: str = "INBOX") -> None:
        self.server.move_messages(self.address, folder, uids, dest)

    def list_folders(self) -> list[str]:
        return self.server.list_folders(self.address)

    def reset_uidvalidity(self, folder: str = "INBOX") -> tuple[int, int]:
        return self.server.reset_uidvalidity(self.address, folder)

    def kick(self) -> None:
        self.server.kick(self.address)


def _start_or_fail() -> DovecotServer:
    """Start a server or fail the test with the reason; a missing Dovecot never skips."""
    try:
        server = DovecotServer()
    except (DovecotMissing, DovecotStartError) as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        return server.start()
    except DovecotStartError as exc:
        server.stop()
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def dovecot() -> Iterator[DovecotServer]:
    """One Dovecot for the whole run, started the first time a test asks for it."""
    server = _start_or_fail()
    yield server
    server.stop()


@pytest.fixture
def imap_account(dovecot: DovecotServer) -> ImapAccount:
    """A fresh user on the shared server: tests share the process, never a mailbox."""
    return dovecot.new_account()


@pytest.fixture
def fresh_dovecot() -> Iterator[DovecotServer]:
    """A private server for tests that stop, restart or otherwise break it."""
    server = _start_or_fail()
    yield server
    server.stop()
