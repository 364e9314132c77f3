"""Mail-in benchmark: supportdesk's IMAP sync and mbox import against mbsync on the same folder.

    .venv/bin/python bench/sync_bench.py     # 10,000 messages, 3 rounds; 100,000 in the mbox
    .venv/bin/python bench/sync_bench.py -n 2000 --runs 1 --mbox-messages 0

Generates N messages (threads with replies, HTML alternatives, attachments, Japanese in
ISO-2022-JP and UTF-8, European charsets, auto-replies, bounces and list mail), starts a
throwaway Dovecot (tests/imap_server.DovecotServer) and APPENDs them to one folder, then, in
`--runs` alternating rounds (after one untimed mbsync pull that warms Dovecot's caches):

  * `supportdesk sync` (the real CLI, in a child process) into a fresh SQLite store: first
    sync messages/s and wall clock;
  * `mbsync` (Debian package isync, its defaults: fsync on) pulling the same folder into a
    fresh Maildir;

then the no-op re-sync and `supportdesk --help` as whole processes, `--noop-runs` times each,
and `supportdesk import` of an mbox of --mbox-messages messages into another fresh store.
Figures are medians over the rounds, with the load average seen; the ratio compares the two
tools' medians from this same run. The machine's other work skews every figure: run it quiet.

Peak RSS is wait4's ru_maxrss, the largest single process (the parse workers included), taken
through a small launcher so the number is the command's own: a child started directly from
this script would inherit this script's high-water mark at exec. The memory of all of a
command's processes together is their summed PSS (shared pages split among the sharers), the
largest of samples every 20 ms. Nothing is asserted: it prints figures; exit status 1 when a
target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
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

# Forks and execs the command, waits, and writes wait4's figures and the wall clock from fork
# to exit to the file named first.
# Started with -S -I so its own high-water mark, which the child's ru_maxrss starts from, is a
# few MB of a bare interpreter.
_LAUNCHER = """
import os, sys, time
out, cmd = sys.argv[1], sys.argv[2:]
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(cmd[0], cmd)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - started
with open(out, "w") as f:
    f.write(f"{os.waitstatus_to_exitcode(status)} {usage.ru_maxrss} "
            f"{usage.ru_utime + usage.ru_stime} {seconds}")
"""


@dataclass
class Run:
    seconds: float
    peak_rss_mb: float
    tree_pss_mb: float
    cpu_seconds: float
    load: float
    code: int
    stdout: str
    stderr: str


def _tree_pss_kb(root: int) -> int:
    """The memory of `root` and its descendants: their summed PSS (Linux /proc; 0 elsewhere).

    PSS splits each shared page among the processes sharing it, so forked workers are not
    counted three times for the pages they share with their parent (summing RSS would).
    Walks /proc/PID/task/*/children: a sample costs a few small reads, not a scan of /proc.
    """
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                total += next((int(line.split()[1]) for line in f if line.startswith("Pss:")), 0)
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as f:
                    todo += [int(child) for child in f.read().split()]
        except (OSError, ValueError):
            continue
    return total


def measure(cmd: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None) -> Run:
    """Run `cmd` through the launcher: wall clock, peak RSS (own and of its process tree)."""
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        figures = Path(tmp) / "figures"
        out_path, err_path = Path(tmp) / "out", Path(tmp) / "err"
        with out_path.open("wb") as out, err_path.open("wb") as err:
            proc = subprocess.Popen(
                [sys.executable, "-S", "-I", "-c", _LAUNCHER, str(figures), *cmd],
                stdout=out,
                stderr=err,
                cwd=cwd,
                env=env,
            )
            tree = 0
            while proc.poll() is None:
                tree = max(tree, _tree_pss_kb(proc.pid))
                time.sleep(0.02)
        code, maxrss, cpu, seconds = figures.read_text().split()
        return Run(
            float(seconds),
            int(maxrss) / 1024,
            tree / 1024,
            float(cpu),
            max(load, os.getloadavg()[0]),
            int(code),
            out_path.read_bytes().decode(errors="replace"),
            err_path.read_bytes().decode(errors="replace"),
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


TARGET_RATIO = 1.0
TARGET_RSS_MB = 150.0
TARGET_NOOP_SECONDS = 0.3
TARGET_HELP_SECONDS = 0.25
TARGET_IMPORT_RSS_MB = 300.0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "-n", "--messages", type=int, default=10_000, help="messages in the IMAP folder"
    )
    parser.add_argument(
        "--runs", type=int, default=3, help="rounds of first sync and mbsync (medians)"
    )
    parser.add_argument(
        "--noop-runs", type=int, default=7, help="no-op re-syncs and --help runs (medians)"
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
    # Bytecode cached, as an installed package has it: otherwise every run compiles the
    # package from source and the start-up figures measure the compiler.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "supportdesk")], env=env)
    table = _Table()
    notes: list[str] = []
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

        mbsync, note = ensure_mbsync()
        if note:
            notes.append(note)
        mconfig = None
        if mbsync:
            mconfig = write_mbsync_config(
                work / "mbsyncrc", work / "maildir", server, account.address, account.password
            )
            _mbsync_round(mbsync, mconfig, work / "maildir")  # untimed: warms Dovecot

        firsts: list[Run] = []
        mbsyncs: list[tuple[Run, int]] = []
        config = work / "sync.toml"
        for round_ in range(1, args.runs + 1):
            url = new_store(work / f"sync{round_}.db")
            write_sd_config(config, url, server, account.address, account.password, args.batch_size)
            first = measure([*SUPPORTDESK, "--config", str(config), "sync", "--json"], env=env)
            done = _total(first.stdout, "messages")
            if first.code != 0 or done != args.messages:
                print(first.stdout[-2000:], first.stderr[-2000:], file=sys.stderr)
                notes.append(f"first sync exited {first.code} with {done} messages")
            firsts.append(first)
            line = f"round {round_}: supportdesk {first.seconds:.1f} s"
            if mbsync and mconfig:
                mb, pulled = _mbsync_round(mbsync, mconfig, work / "maildir")
                if mb.code != 0 or pulled != args.messages:
                    notes.append(f"mbsync exited {mb.code}: {mb.stderr.strip()[-300:]}")
                mbsyncs.append((mb, pulled))
                line += f", mbsync {mb.seconds:.1f} s"
            print(f"{line} (load {first.load:.1f})", flush=True)

        noops = [
            measure([*SUPPORTDESK, "--config", str(config), "sync", "--json"], env=env)
            for _ in range(args.noop_runs)
        ]
        if any(run.code != 0 or _total(run.stdout, "messages") != 0 for run in noops):
            notes.append("a no-op re-sync failed or found mail")
        helps = [measure([*SUPPORTDESK, "--help"], env=env) for _ in range(args.noop_runs)]
        mb_noops = (
            [measure([mbsync, "-c", str(mconfig), "-q", "bench"]) for _ in range(args.noop_runs)]
            if mbsync and mconfig
            else []
        )

        sd_seconds = _median([r.seconds for r in firsts])
        sd_rate = args.messages / sd_seconds
        table.section(f"first sync of {args.messages:,} messages ({args.runs} rounds, medians)")
        table.add("supportdesk, wall clock", _spread([r.seconds for r in firsts], "s", 1))
        table.add("supportdesk, msg/s", f"{sd_rate:,.0f}")
        table.add("supportdesk, peak RSS (largest process)", _mb(firsts, "peak_rss_mb"))
        table.add("supportdesk, peak memory of all its processes (PSS)", _mb(firsts, "tree_pss_mb"))
        table.add(
            "supportdesk, CPU (all processes)", _spread([r.cpu_seconds for r in firsts], "s", 1)
        )
        ratio = None
        if mbsyncs:
            mb_seconds = _median([mb.seconds for mb, _ in mbsyncs])
            mb_rate = _median([pulled for _, pulled in mbsyncs]) / mb_seconds
            ratio = sd_rate / mb_rate
            mb_runs = [mb for mb, _ in mbsyncs]
            table.add("mbsync, wall clock", _spread([r.seconds for r in mb_runs], "s", 1))
            table.add("mbsync, msg/s", f"{mb_rate:,.0f}")
            table.add("mbsync, peak RSS", _mb(mb_runs, "peak_rss_mb"))
            table.add("mbsync, CPU", _spread([r.cpu_seconds for r in mb_runs], "s", 1))
            table.add(
                f"ratio supportdesk / mbsync msg/s (target >= {TARGET_RATIO:g})", f"{ratio:.2f}"
            )
            paired = [mb.seconds / sd.seconds for sd, (mb, _) in zip(firsts, mbsyncs, strict=True)]
            table.add("  per round", ", ".join(f"{x:.2f}" for x in paired))
        table.add(
            "load average (1 min) during the rounds",
            _spread([r.load for r in firsts + [mb for mb, _ in mbsyncs]], "", 1),
        )

        table.section(f"nothing new, whole process ({args.noop_runs} runs, medians)")
        table.add(
            f"supportdesk sync (target < {TARGET_NOOP_SECONDS:g} s)",
            _spread([r.seconds for r in noops], "s", 3),
        )
        table.add(
            "supportdesk sync, CPU (user + system)", _spread([r.cpu_seconds for r in noops], "s", 3)
        )
        table.add("supportdesk sync, peak RSS", _mb(noops, "peak_rss_mb"))
        if mb_noops:
            table.add("mbsync", _spread([r.seconds for r in mb_noops], "s", 3))
        table.add(
            f"supportdesk --help (target < {TARGET_HELP_SECONDS:g} s)",
            _spread([r.seconds for r in helps], "s", 3),
        )
        table.add("supportdesk --help, CPU", _spread([r.cpu_seconds for r in helps], "s", 3))
        table.add(
            "load average (1 min) during these", _spread([r.load for r in noops + helps], "", 1)
        )

        imp = None
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
            table.section(f"import of a {args.mbox_messages:,}-message mbox (one run)")
            table.add("wall clock", f"{imp.seconds:.1f} s")
            table.add("msg/s", f"{args.mbox_messages / imp.seconds:,.0f}")
            table.add(
                "peak RSS (largest process / all)",
                f"{imp.peak_rss_mb:.0f} / {imp.tree_pss_mb:.0f} MB",
            )
    finally:
        server.stop()
        if args.keep:
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    missed = []
    if ratio is None or ratio < TARGET_RATIO:
        missed.append("ratio")
    if _median([r.peak_rss_mb for r in firsts]) >= TARGET_RSS_MB:
        missed.append("first sync peak RSS")
    if _median([r.seconds for r in noops]) >= TARGET_NOOP_SECONDS:
        missed.append("no-op sync")
    if _median([r.seconds for r in helps]) >= TARGET_HELP_SECONDS:
        missed.append("--help")
    if imp is not None and (imp.code != 0 or imp.peak_rss_mb >= TARGET_IMPORT_RSS_MB):
        missed.append("import")
    if notes and any("exited" in n or "failed" in n for n in notes):
        missed.append("a command failed")

    print()
    print(
        f"sync_bench: {args.messages:,} messages in one IMAP folder, {os.cpu_count()} CPUs; "
        "other work on the machine skews every figure"
    )
    table.print()
    for note in notes:
        print(f"note: {note}")
    print(
        f"targets: ratio >= {TARGET_RATIO:g}, first sync peak RSS < {TARGET_RSS_MB:g} MB, "
        f"no-op sync < {TARGET_NOOP_SECONDS:g} s, --help < {TARGET_HELP_SECONDS:g} s, import "
        f"peak RSS < {TARGET_IMPORT_RSS_MB:g} MB:",
        f"MISSED ({', '.join(missed)})" if missed else "met",
    )
    return 1 if missed else 0


def _mbsync_round(mbsync: str, config: Path, maildir: Path) -> tuple[Run, int]:
    """One mbsync pull into an empty Maildir (and its state): the run and messages pulled."""
    shutil.rmtree(maildir, ignore_errors=True)
    maildir.mkdir()
    run = measure([mbsync, "-c", str(config), "-q", "bench"])
    pulled = sum(
        1
        for sub in ("cur", "new")
        if (maildir / "INBOX" / sub).is_dir()
        for _ in (maildir / "INBOX" / sub).iterdir()
    )
    return run, pulled


class _Table:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str]] = []

    def section(self, title: str) -> None:
        self.rows.append((title, ""))

    def add(self, name: str, value: str) -> None:
        self.rows.append(("  " + name, value))

    def print(self) -> None:
        width = max(len(name) for name, _ in self.rows)
        for name, value in self.rows:
            print(f"{name.ljust(width)}  {value}" if value else f"{name}")


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _spread(values: list[float], unit: str, digits: int) -> str:
    """The median, then every value: '8.3 s (7.9, 8.3, 9.0)'."""
    each = ", ".join(f"{v:.{digits}f}" for v in values)
    return f"{_median(values):.{digits}f}{' ' + unit if unit else ''} ({each})"


def _mb(runs: list[Run], attribute: str) -> str:
    return _spread([getattr(r, attribute) for r in runs], "MB", 0)


def _total(stdout: str, key: str) -> int | None:
    try:
        value = json.loads(stdout)["total"][key]
    except (ValueError, KeyError, TypeError):
        return None
    return int(value)


if __name__ == "__main__":
    sys.exit(main())
