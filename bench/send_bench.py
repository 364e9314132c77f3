"""Send benchmark: the outbox against msmtp, and the time from pressing send to the outbox.

    .venv/bin/python bench/send_bench.py [-n 1000] [--security starttls|none]
        [--tickets 100000] [--messages 200000] [--reuse] [--samples 200] [--skip-latency]

Throughput. `-n` replies are queued in a fresh SQLite store, then delivered by the outbox
(`Sender.drain`: one SMTP connection reused for the batch, three small commits per message
for the at-most-once record) to a local aiosmtpd, run in a process of its own. Then the same
messages (their exact bytes) are sent by `msmtp`, one process per message, as a cron job or
an MTA hand-off would, to the same server. The server has STARTTLS with a throwaway CA and
requires a login, as every real provider does (`--security none`: clear text, no login). msmtp
(Debian package msmtp) is installed with apt-get when missing and we are root. Prints msg/s for
both and the ratio; the goal is at least 5x.

Latency. On a store built by bench/store_bench.py's builder (100,000 tickets by default, kept
under bench/out/ for --reuse), `--samples` replies are queued on random tickets through
`replies.queue_reply` in its own write transaction each, with the collision check on, exactly
as the composer's send does; prints p50 / p95 / max of the whole transaction (goal: p95 under
20 ms).
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from supportdesk.config import parse_settings  # noqa: E402
from supportdesk.desk import directory, replies  # noqa: E402
from supportdesk.desk.events import Change  # noqa: E402
from supportdesk.desk.outbox import Sender  # noqa: E402
from supportdesk.store import Store, open_store  # noqa: E402
from supportdesk.store.models import OutboxItem, Ticket  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
USER = "bench@desk.example"
PASSWORD = "bench-password"
SUPPORT = "support@desk.example"

_SERVER = r"""
import asyncio, ssl, sys
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
port, certs, log, secure = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4] == "1"
user, password = sys.argv[5].encode(), sys.argv[6].encode()
out = open(log, "a", buffering=1)
class Sink:
    async def handle_DATA(self, server, session, envelope):
        out.write("1\n")
        return "250 2.0.0 OK"
def auth(server, session, envelope, mechanism, data):
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (user, password)
    return AuthResult(success=ok, handled=False)
kwargs = {}
if secure:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(f"{certs}/cert.pem", f"{certs}/key.pem")
    kwargs = dict(tls_context=context, require_starttls=True, authenticator=auth,
                  auth_required=True)
controller = Controller(
    Sink(), hostname="127.0.0.1", port=port, server_hostname="localhost", **kwargs
)
controller.start()
print("ready", flush=True)
sys.stdin.read()
controller.stop()
"""


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_certificates(folder: Path) -> None:
    """A throwaway CA and a server certificate for 127.0.0.1 (as tests/imap_server.py does)."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=bench CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
    openssl("req", "-new", *ec, "-keyout", "key.pem", "-out", "server.csr", "-subj",
            "/CN=localhost")  # fmt: skip
    (folder / "server.ext").write_text(
        "basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\n"
        "extendedKeyUsage = serverAuth\nsubjectAltName = IP:127.0.0.1, DNS:localhost\n"
    )
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "cert.pem", "-days", "2",
            "-extfile", "server.ext")  # fmt: skip


def ensure_msmtp() -> str | None:
    found = shutil.which("msmtp")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("msmtp missing: installing Debian package msmtp with apt-get ...", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "msmtp"], capture_output=True, env=env)
    return shutil.which("msmtp")


class Server:
    def __init__(self, folder: Path, secure: bool) -> None:
        self.port = free_port()
        self.log = folder / "received.log"
        self.log.write_text("")
        self.process = subprocess.Popen(
            [sys.executable, "-c", _SERVER, str(self.port), str(folder), str(self.log),
             "1" if secure else "0", USER, PASSWORD],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != "ready":
            raise SystemExit("the aiosmtpd server did not start")

    def received(self) -> int:
        return len(self.log.read_text().splitlines())

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(10)


def config(folder: Path, store_url: str, port: int, secure: bool) -> str:
    password = folder / "password"
    password.write_text(PASSWORD)
    smtp = (
        f'smtp_security = "starttls"\nca_file = "{folder / "ca.pem"}"\n'
        f'smtp_username = "{USER}"\nsmtp_password_command = "cat {password}"\n'
        if secure
        else 'smtp_security = "none"\nsmtp_auth = "none"\n'
    )
    return f"""database_url = "{store_url}"
[[mailboxes]]
name = "support"
address = "{SUPPORT}"
imap_host = "127.0.0.1"
password_command = "echo unused"
smtp_host = "127.0.0.1"
smtp_port = {port}
sent_copy = false
{smtp}"""


def queue_replies(store: Store, setup: replies.MailSetup, count: int) -> None:
    with store.session(write=True) as s:
        directory.ensure_queue(s, "general")
        directory.add_agent(s, "alice", email="alice@desk.example", name="Alice")
        from supportdesk.desk import tickets

        for i in range(count):
            ticket = tickets.create_ticket(
                s,
                subject=f"Question {i}",
                requester_email=f"customer{i}@example.org",
                requester_name=f"Customer {i}",
                queue="general",
                change=Change.by("bench"),
            )
            spec = replies.ReplySpec(
                kind="reply",
                body=f"Hello Customer {i},\n\nthe answer is {i}.\n",
                to=f"Customer {i} <customer{i}@example.org>",
            )
            replies.queue_reply(s, ticket.number, spec, setup, Change.by("agent:alice"))


def throughput(count: int, secure: bool) -> None:
    folder = Path(tempfile.mkdtemp(prefix="sd-send-bench-"))
    try:
        if secure:
            make_certificates(folder)
        server = Server(folder, secure)
        try:
            store = open_store(f"sqlite:///{folder / 'store.db'}", create=True)
            settings = parse_settings(
                config(folder, store.url, server.port, secure), folder / "config.toml"
            )
            queue_replies(store, replies.MailSetup.from_settings(settings), count)
            with store.session() as s:
                messages = [
                    (item.recipients, bytes(item.raw))
                    for item in s.scalars(select(OutboxItem).order_by(OutboxItem.id))
                ]
            start = time.perf_counter()
            report = Sender(store, settings).drain()
            ours = time.perf_counter() - start
            store.dispose()
            if len(report.sent) != count or server.received() != count:
                raise SystemExit(
                    f"outbox: sent {len(report.sent)}, server got {server.received()}: "
                    + "; ".join(report.errors[:3])
                )
            print(
                f"outbox (one connection, {settings.send.max_per_connection} per connection): "
                f"{count} messages in {ours:.2f} s = {count / ours:,.0f} msg/s"
            )
            msmtp = ensure_msmtp()
            if msmtp is None:
                print("msmtp: not installed (Debian package msmtp); no comparison")
                return
            rc = folder / "msmtprc"
            tls = (
                f"tls on\ntls_starttls on\ntls_trust_file {folder / 'ca.pem'}\n"
                f"auth on\nuser {USER}\npassword {PASSWORD}\n"
                if secure
                else "tls off\nauth off\n"
            )
            rc.write_text(
                f"account bench\nhost 127.0.0.1\nport {server.port}\nfrom {SUPPORT}\n{tls}"
                "account default : bench\n"
            )
            rc.chmod(0o600)
            before = server.received()
            start = time.perf_counter()
            for recipients, raw in messages:
                subprocess.run(
                    [msmtp, "-C", str(rc), "-f", SUPPORT, *recipients.split("\n")],
                    input=raw,
                    check=True,
                )
            theirs = time.perf_counter() - start
            got = server.received() - before
            if got != count:
                raise SystemExit(f"msmtp: server got {got} of {count}")
            print(
                f"msmtp (one process per message):  {count} messages in {theirs:.2f} s = "
                f"{count / theirs:,.0f} msg/s"
            )
            print(f"ratio: {theirs / ours:.1f}x (goal: at least 5x)")
        finally:
            server.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def latency(tickets: int, messages: int, samples: int, reuse: bool) -> None:
    import store_bench  # bench/store_bench.py: the same builder as the store benchmark

    path = OUT / f"send-store-{tickets}-{messages}.sqlite"
    target = store_bench.sqlite_target(path)
    if reuse and path.exists():
        store = open_store(target.url)
        print(f"reusing {path}")
    else:
        OUT.mkdir(exist_ok=True)
        store = store_bench.build(target, tickets, messages, seed=1)
    setup = replies.MailSetup(identities=(replies.Identity("support", SUPPORT, "Support"),))
    try:
        with store.session() as s:
            active = list(
                s.execute(
                    select(Ticket.number).where(Ticket.status.in_(["new", "open", "on-hold"]))
                ).scalars()
            )
            agent = s.scalars(select(directory.Agent)).first()  # type: ignore[attr-defined]
            actor = f"agent:{agent.handle}" if agent else "agent:bench"
        rng = random.Random(7)
        wall: list[float] = []
        cpu: list[float] = []
        with store.session(write=True) as s:
            before = int(s.execute(select(func.count()).select_from(OutboxItem)).scalar_one())
        for number in rng.sample(active, min(samples, len(active))):
            with store.session() as s:
                version = s.execute(
                    select(Ticket.version).where(Ticket.number == number)
                ).scalar_one()
            spec = replies.ReplySpec(
                kind="reply",
                body="Thanks, this is sorted now.",
                to="customer@example.org",
                base_version=version,
                status_after="pending",
            )
            started, cpu_started = time.perf_counter(), time.process_time()
            with store.session(write=True) as s:
                replies.queue_reply(s, number, spec, setup, Change.by(actor))
            wall.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - cpu_started) * 1000)
        with store.session(write=True) as s:
            after = int(s.execute(select(func.count()).select_from(OutboxItem)).scalar_one())
        print(
            f"press send -> in the outbox, {len(wall)} replies (with a status change) on a "
            f"{tickets:,}-ticket store: wall p50 {_pct(wall, 50):.1f} ms, p95 "
            f"{_pct(wall, 95):.1f} ms, max {max(wall):.1f} ms; CPU p50 {_pct(cpu, 50):.1f} ms, "
            f"p95 {_pct(cpu, 95):.1f} ms (goal: p95 under 20 ms); rows written: {after - before}"
        )
        print(
            "(the replies stay in that store's outbox; --reuse measures on top of them, "
            "delete bench/out/send-store-* for a fresh one)"
        )
    finally:
        store.dispose()


def _pct(values: list[float], pct: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(len(ordered) * pct / 100) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--count", type=int, default=1000)
    parser.add_argument("--security", choices=["starttls", "none"], default="starttls")
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if not args.skip_throughput:
        throughput(args.count, args.security == "starttls")
    if not args.skip_latency:
        latency(args.tickets, args.messages, args.samples, args.reuse)
    return 0


if __name__ == "__main__":
    sys.exit(main())
