"""Mail-in benchmark: supportdesk's IMAP sync and mbox import against mbsync on the same folder.

    .venv/bin/python bench/sync_bench.py     # 10,000 messages; 100,000 in the mbox
    .venv/bin/python bench/sync_bench.py -n 2000 --mbox-messages 20000

Generates N messages (threads with replies, HTML alternatives, attachments, Japanese in
ISO-2022-JP and UTF-8, European charsets, auto-replies, bounces and list mail), starts a
throwaway Dovecot (tests/imap_server.DovecotServer) and APPENDs them to one folder, then times:

  * `supportdesk sync` (the real CLI, in a child process) into a fresh SQLite store: first sync
    messages/s and wall clock, then a no-op re-sync (seconds per folder);
  * `supportdesk import` of an mbox of --mbox-messages messages into another fresh store;
  * `mbsync` (Debian package isync) pulling the same folder into a Maildir;

and the peak RSS of each command (wait4's ru_maxrss: the child and every process it waited
for, so parse workers are included). Prints a table and the supportdesk/mbsync ratio.
Nothing is asserted: it prints figures. Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from base64 import encodebytes
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.header import Header
from email.utils import format_datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.imap_server import DovecotServer  # noqa: E402

SUPPORT = "support@desk.example"
SUPPORTDESK = [sys.executable, "-m", "supportdesk"]
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

# ---- generating mail -----------------------------------------------------------------------

_JA_SUBJECTS = ["請求書について", "ログインできません", "返金のお願い", "配送状況の確認"]
_JA_BODY = "お世話になっております。\n注文番号の件でご連絡いたしました。\n至急ご確認ください。\n"
_EU = [
    (
        "iso-8859-1",
        "Bonjour, ma commande est arrivée abîmée. Merci de répondre.\n",
        "Commande abîmée",
    ),
    ("iso-8859-2", "Dzień dobry, proszę o zwrot. Zażółć gęślą jaźń.\n", "Zwrot pieniędzy"),
    ("windows-1252", "Grüße aus Köln – die Rechnung „falsch“ berechnet.\n", "Rechnung fehlerhaft"),
    ("koi8-r", "Здравствуйте, не могу войти в систему.\n", "Не могу войти"),
]
_EN_WORDS = [
    *("refund", "invoice", "password", "login", "shipping", "order", "account", "billing"),
    *("delivery", "broken", "error", "please", "help", "urgent", "thanks", "update"),
    *("question", "cancel", "subscription", "renew", "license"),
]


@dataclass
class _Thread:
    root: str
    subject: str
    sender: str
    name: str
    last: str
    refs: list[str]


class MailMaker:
    """Deterministic, varied mail, built as bytes by hand (the stdlib builder is too slow)."""

    def __init__(self, seed: int, prefix: str) -> None:
        self.rng = random.Random(seed)
        self.prefix = prefix
        self.threads: list[_Thread] = []
        self.n = 0
        self.blob = bytes(self.rng.randrange(256) for _ in range(64 * 1024))

    def _id(self) -> str:
        self.n += 1
        return f"<{self.prefix}.{self.n}.{self.rng.randrange(10**9)}@mail{self.n % 97}.example>"

    def make(self) -> bytes:
        rng = self.rng
        when = START + timedelta(seconds=self.n * 37)
        kind = rng.random()
        message_id = self._id()
        headers: list[tuple[str, str]] = []
        if kind < 0.04:  # out of office
            thread = rng.choice(self.threads) if self.threads else None
            sender, name = "away@corp.example", "Away Robot"
            subject = f"Automatic reply: {thread.subject if thread else 'hello'}"
            headers += [("Auto-Submitted", "auto-replied"), ("X-Autoreply", "yes")]
            if thread:
                headers.append(("In-Reply-To", thread.last))
            body, charset, html = "I am out of the office until Monday.\n", "us-ascii", False
        elif kind < 0.06:  # bounce
            sender, name = "mailer-daemon@mx.example", "Mail Delivery System"
            subject = "Undelivered Mail Returned to Sender"
            headers.append(("Auto-Submitted", "auto-generated"))
            body = "This is the mail system. The message could not be delivered.\n"
            charset, html = "us-ascii", False
        elif kind < 0.08:  # list mail
            sender, name = "news@lists.example", "Newsletter"
            subject = f"Weekly digest {self.n}"
            headers += [("List-Id", "<weekly.lists.example>"), ("Precedence", "list")]
            body, charset, html = (
                "This week: " + " ".join(rng.sample(_EN_WORDS, 8)) + "\n",
                "utf-8",
                True,
            )
        elif kind < 0.5 and self.threads:  # a reply in a thread
            thread = rng.choice(self.threads[-300:])
            sender, name = thread.sender, thread.name
            subject = f"Re: {thread.subject}"
            headers += [("In-Reply-To", thread.last), ("References", " ".join(thread.refs[-5:]))]
            body, charset = self._body(rng)
            html = rng.random() < 0.3
            thread.last = message_id
            thread.refs.append(message_id)
        else:  # a new ticket
            who = rng.randrange(5000)
            sender, name = f"customer{who}@c{who % 300}.example", f"Customer {who}"
            body, charset = self._body(rng)
            subject = self._subject(rng, charset)
            html = rng.random() < 0.3
            self.threads.append(
                _Thread(message_id, subject, sender, name, message_id, [message_id])
            )
        return self._render(
            message_id, when, sender, name, subject, headers, body, charset, html, rng
        )

    def _body(self, rng: random.Random) -> tuple[str, str]:
        pick = rng.random()
        if pick < 0.1:
            return _JA_BODY * rng.randint(1, 4), "iso-2022-jp"
        if pick < 0.15:
            return _JA_BODY * rng.randint(1, 4), "utf-8"
        if pick < 0.3:
            charset, text, _subject = rng.choice(_EU)
            return text * rng.randint(1, 5), charset
        words = rng.choices(_EN_WORDS, k=rng.randint(20, 300))
        lines = [" ".join(words[i : i + 12]) for i in range(0, len(words), 12)]
        return "Hello,\n" + "\n".join(lines) + "\nRegards\n", "us-ascii"

    def _subject(self, rng: random.Random, charset: str) -> str:
        if charset in ("iso-2022-jp", "utf-8") and rng.random() < 0.8:
            return rng.choice(_JA_SUBJECTS)
        for eu_charset, _text, subject in _EU:
            if eu_charset == charset:
                return subject
        return " ".join(rng.sample(_EN_WORDS, 4)).capitalize()

    def _render(
        self,
        message_id: str,
        when: datetime,
        sender: str,
        name: str,
        subject: str,
        extra: list[tuple[str, str]],
        body: str,
        charset: str,
        html: bool,
        rng: random.Random,
    ) -> bytes:
        encoded_subject = subject
        if not subject.isascii():
            try:
                encoded_subject = Header(subject, charset).encode()
            except (UnicodeError, LookupError):
                encoded_subject = Header(subject, "utf-8").encode()
        lines = [
            f"Return-Path: <{sender}>",
            f"From: {name} <{sender}>",
            f"To: Support <{SUPPORT}>",
            f"Subject: {encoded_subject}",
            f"Date: {format_datetime(when)}",
            f"Message-ID: {message_id}",
            "MIME-Version: 1.0",
        ]
        if rng.random() < 0.1:
            lines.append(f"Cc: colleague{rng.randrange(50)}@{sender.split('@')[1]}")
        lines += [f"{k}: {v}" for k, v in extra]
        text_part = _text_part(body, charset)
        parts = [text_part]
        if html:
            escaped = body.replace("&", "&amp;").replace("<", "&lt;").replace("\n", "<br>\n")
            html_body = f"<html><body><p>{escaped}</p><p><b>Thanks</b></p></body></html>\n"
            parts = [_multipart("alternative", [text_part, _text_part(html_body, charset, "html")])]
        if rng.random() < 0.08:
            size = rng.choice((2_000, 8_000, 30_000))
            start = rng.randrange(len(self.blob) - size)
            filename = rng.choice(("invoice.pdf", "screenshot.png", "log.txt", "請求書.pdf"))
            parts.append(_attachment(filename, self.blob[start : start + size]))
        if len(parts) == 1:
            head, content = parts[0]
        else:
            head, content = _multipart("mixed", parts)
        text = "\r\n".join(lines + head) + "\r\n\r\n"
        return text.encode("ascii") + content


def _text_part(body: str, charset: str, subtype: str = "plain") -> tuple[list[str], bytes]:
    data = body.replace("\n", "\r\n").encode(charset, errors="replace")
    if charset in ("us-ascii", "iso-2022-jp"):
        return [
            f'Content-Type: text/{subtype}; charset="{charset}"',
            "Content-Transfer-Encoding: 7bit",
        ], data
    encoded = encodebytes(data).replace(b"\n", b"\r\n")
    return [
        f'Content-Type: text/{subtype}; charset="{charset}"',
        "Content-Transfer-Encoding: base64",
    ], encoded


def _attachment(filename: str, content: bytes) -> tuple[list[str], bytes]:
    if filename.isascii():
        params = f'filename="{filename}"'
    else:
        params = "filename*=utf-8''" + "".join(f"%{b:02X}" for b in filename.encode())
    return [
        "Content-Type: application/octet-stream",
        f"Content-Disposition: attachment; {params}",
        "Content-Transfer-Encoding: base64",
    ], encodebytes(content).replace(b"\n", b"\r\n")


def _multipart(subtype: str, parts: list[tuple[list[str], bytes]]) -> tuple[list[str], bytes]:
    boundary = f"=_sd_{subtype}_{len(parts)}_{id(parts) % 99991}"
    out = [b"This is a multi-part message in MIME format.\r\n"]
    for head, content in parts:
        out.append(f"--{boundary}\r\n".encode() + "\r\n".join(head).encode() + b"\r\n\r\n")
        out.append(content if content.endswith(b"\r\n") else content + b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return [f'Content-Type: multipart/{subtype}; boundary="{boundary}"'], b"".join(out)


def write_mbox(path: Path, count: int, seed: int) -> int:
    """An mbox of `count` generated messages (LF line ends, From_ lines quoted); its size."""
    maker = MailMaker(seed, "mbox")
    with path.open("wb") as out:
        for _ in range(count):
            raw = maker.make().replace(b"\r\n", b"\n")
            lines = raw.split(b"\n")
            quoted = [b">" + line if line.startswith(b"From ") else line for line in lines]
            out.write(b"From bench@example Mon Jan  5 09:00:00 2026\n")
            out.write(b"\n".join(quoted).rstrip(b"\n") + b"\n\n")
    return path.stat().st_size


# ---- running and measuring -----------------------------------------------------------------


@dataclass
class Run:
    seconds: float
    peak_rss_mb: float
    code: int
    stdout: str
    stderr: str


def measure(cmd: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None) -> Run:
    """Run `cmd`, timing it, and read its peak RSS (children included) from wait4."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=cwd, env=env)
        _pid, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Run(
            seconds,
            usage.ru_maxrss / 1024,
            proc.returncode,
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace"),
        )


def new_store(path: Path) -> str:
    from supportdesk.desk import directory
    from supportdesk.store import open_store

    url = f"sqlite:///{path}"
    store = open_store(url, create=True)
    with store.session(write=True) as session:
        directory.ensure_queue(session, "general")
    store.dispose()
    return url


def write_sd_config(
    path: Path, url: str, server: DovecotServer, user: str, password: str, batch: int | None
) -> Path:
    lines = [f'database_url = "{url}"']
    if batch:
        lines += ["[sync]", f"batch_size = {batch}"]
    lines += [
        "[[mailboxes]]",
        'name = "support"',
        f'address = "{SUPPORT}"',
        f'imap_host = "{server.host}"',
        f"imap_port = {server.starttls_port}",
        'security = "none"',
        f'username = "{user}"',
        f'password_command = "printf %s {password}"',
        'default_queue = "general"',
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_mbsync_config(
    path: Path, maildir: Path, server: DovecotServer, user: str, password: str
) -> Path:
    path.write_text(
        f"""IMAPAccount bench
Host {server.host}
Port {server.starttls_port}
User {user}
Pass {password}
SSLType None
AuthMechs LOGIN

IMAPStore bench-far
Account bench

MaildirStore bench-near
Path {maildir}/
Inbox {maildir}/INBOX

Channel bench
Far :bench-far:
Near :bench-near:
Patterns INBOX
Create Near
Sync Pull
SyncState *
"""
    )
    return path


def ensure_mbsync() -> tuple[str | None, str]:
    found = shutil.which("mbsync")
    if found:
        return found, ""
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("mbsync missing: installing Debian package isync with apt-get ...", flush=True)
        result = subprocess.run(
            ["apt-get", "install", "-y", "isync"], capture_output=True, text=True
        )
        if result.returncode == 0 and shutil.which("mbsync"):
            return shutil.which("mbsync"), "installed isync with apt-get"
    return None, "mbsync not found (install the Debian package isync)"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "-n", "--messages", type=int, default=10_000, help="messages in the IMAP folder"
    )
    parser.add_argument(
        "--mbox-messages", type=int, default=100_000, help="messages in the mbox (0: skip)"
    )
    parser.add_argument(
        "--batch-size", type=int, default=None, help="[sync] batch_size (default: the config's)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="sd-syncbench-"))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    rows: list[tuple[str, str]] = []
    notes: list[str] = []
    failed = False
    server = DovecotServer()
    try:
        server.start()
        account = server.new_account()

        started = time.perf_counter()
        maker = MailMaker(args.seed, "imap")
        raws = [maker.make() for _ in range(args.messages)]
        total_bytes = sum(len(r) for r in raws)
        generated = time.perf_counter() - started
        started = time.perf_counter()
        for start in range(0, len(raws), 500):
            account.append_many(raws[start : start + 500])
        appended = time.perf_counter() - started
        print(
            f"generated {len(raws):,} messages ({total_bytes / 1e6:.1f} MB) in {generated:.1f} s; "
            f"appended to Dovecot in {appended:.1f} s",
            flush=True,
        )
        del raws

        # supportdesk: first sync, then a no-op one
        url = new_store(work / "sync.db")
        config = write_sd_config(
            work / "sync.toml", url, server, account.address, account.password, args.batch_size
        )
        first = measure([*SUPPORTDESK, "--config", str(config), "sync", "--json"], env=env)
        if first.code != 0:
            print(first.stdout[-2000:], first.stderr[-2000:], file=sys.stderr)
            notes.append(f"first sync exited {first.code}")
            failed = True
        noop = measure([*SUPPORTDESK, "--config", str(config), "sync", "--json"], env=env)
        folder_seconds = _folder_seconds(noop.stdout)
        sd_rate = args.messages / first.seconds
        first_folder = _folder_seconds(first.stdout)
        rows += [
            ("supportdesk first sync, wall clock", f"{first.seconds:.1f} s"),
            ("supportdesk first sync, msg/s (wall clock)", f"{sd_rate:,.0f}"),
            (
                "supportdesk first sync, msg/s (folder time)",
                f"{args.messages / first_folder:,.0f}" if first_folder else "-",
            ),
            ("supportdesk first sync, peak RSS", f"{first.peak_rss_mb:.0f} MB"),
            ("supportdesk no-op re-sync, wall clock", f"{noop.seconds:.2f} s"),
            (
                "supportdesk no-op re-sync, per folder",
                f"{folder_seconds:.3f} s" if folder_seconds is not None else "-",
            ),
        ]
        if folder_seconds is None or folder_seconds >= 0.5:
            failed = True
        if first.peak_rss_mb >= 300:
            failed = True

        # mbsync on the same folder
        mbsync, note = ensure_mbsync()
        if note:
            notes.append(note)
        ratio = None
        if mbsync:
            maildir = work / "maildir"
            maildir.mkdir()
            mconfig = write_mbsync_config(
                work / "mbsyncrc", maildir, server, account.address, account.password
            )
            mb = measure([mbsync, "-c", str(mconfig), "-q", "bench"])
            if mb.code != 0:
                notes.append(f"mbsync exited {mb.code}: {mb.stderr.strip()[-300:]}")
            pulled = sum(1 for _ in (maildir / "INBOX" / "cur").iterdir()) + sum(
                1 for _ in (maildir / "INBOX" / "new").iterdir()
            )
            mb_rate = pulled / mb.seconds if mb.seconds else 0
            ratio = sd_rate / mb_rate if mb_rate else None
            rows += [
                ("mbsync first sync, wall clock", f"{mb.seconds:.1f} s ({pulled:,} messages)"),
                ("mbsync first sync, msg/s", f"{mb_rate:,.0f}"),
                ("mbsync peak RSS", f"{mb.peak_rss_mb:.0f} MB"),
                ("ratio supportdesk / mbsync (target >= 0.5)", f"{ratio:.2f}" if ratio else "-"),
            ]
            if ratio is None or ratio < 0.5:
                failed = True

        # mbox import
        if args.mbox_messages:
            mbox = work / "big.mbox"
            started = time.perf_counter()
            size = write_mbox(mbox, args.mbox_messages, args.seed + 1)
            print(
                f"wrote an mbox of {args.mbox_messages:,} messages ({size / 1e6:.0f} MB) "
                f"in {time.perf_counter() - started:.1f} s",
                flush=True,
            )
            iurl = new_store(work / "import.db")
            iconfig = write_sd_config(
                work / "import.toml", iurl, server, account.address, account.password, None
            )
            imp = measure(
                [*SUPPORTDESK, "--config", str(iconfig), "import", str(mbox), "--json"], env=env
            )
            if imp.code != 0:
                print(imp.stdout[-2000:], imp.stderr[-2000:], file=sys.stderr)
                notes.append(f"import exited {imp.code}")
                failed = True
            rows += [
                (
                    f"supportdesk import of {args.mbox_messages:,}-message mbox, wall clock",
                    f"{imp.seconds:.1f} s",
                ),
                ("supportdesk import, msg/s", f"{args.mbox_messages / imp.seconds:,.0f}"),
                ("supportdesk import, peak RSS", f"{imp.peak_rss_mb:.0f} MB"),
            ]
            if imp.peak_rss_mb >= 300:
                failed = True
    finally:
        server.stop()
        if args.keep:
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    print()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"sync_bench: {args.messages:,} messages in one IMAP folder, {os.cpu_count()} CPUs, "
        f"load average {load} (other work on the machine skews every figure)"
    )
    width = max(len(name) for name, _ in rows)
    print(f"{'measure'.ljust(width)}  value")
    print(f"{'-' * width}  {'-' * 24}")
    for name, value in rows:
        print(f"{name.ljust(width)}  {value}")
    for note in notes:
        print(f"note: {note}")
    print(
        "targets: ratio >= 0.5, no-op re-sync < 0.5 s per folder, peak RSS < 300 MB:",
        "MISSED" if failed else "met",
    )
    return 1 if failed else 0


def _folder_seconds(stdout: str) -> float | None:
    import json

    try:
        data = json.loads(stdout)
    except ValueError:
        return None
    folders = data.get("folders") or []
    if not folders:
        return None
    return sum(f.get("seconds", 0.0) for f in folders) / len(folders)


if __name__ == "__main__":
    sys.exit(main())
