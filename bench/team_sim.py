"""A team at work on one PostgreSQL store: does anything get lost, doubled or left unseen?

Five agent processes, each logged in as its own database role, work tickets through the
domain layer at a person's pace: open a ticket from the list, then reply, assign, change the
status or write a note, acting on the version they read (as the console does), so a change
that lost a race is refused and reported to its writer. Each also listens for the store's
notices and reads the list and the changed tickets when one arrives, as a console's worker
does. One `supportdesk sync --watch` (the team's feeder, a service role) takes mail from a
Dovecot folder that is filled while the agents work, and sends their replies to an aiosmtpd
server; a team lead reassigns every open ticket of one agent in bulk halfway through.

Printed at the end: changes made, conflicts reported to the losing writer, changes lost
(each change a writer was told succeeded and whose event, note or queued reply is missing:
must be 0), mail lost and duplicate messages or tickets (must be 0), replies sent more than
once (must be 0), and the p50 / p95 from the start of an agent's change to another agent's
console having read it (notice plus read).

    .venv/bin/python bench/team_sim.py [--agents 5] [--messages 5000] [--seconds 60]

Needs the machine's PostgreSQL (127.0.0.1:5432, trust auth, database `test`, or
$SUPPORTDESK_TEST_PG_URL) and Dovecot (scripts/ensure_dovecot.sh installs it). Everything it
makes (a schema, roles, a Dovecot, a temporary directory) is removed at the end.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.sync_bench import MailMaker  # noqa: E402
from tests.imap_server import DovecotServer  # noqa: E402

SUPPORT = "support@desk.example"
PG_BASE_URL = os.environ.get(
    "SUPPORTDESK_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
HANDLES = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi")
# What an agent does with the ticket it opened, and how often.
ACTIONS = (("note", 0.3), ("assign", 0.25), ("status", 0.25), ("reply", 0.2))


def url_as(role: str | None, schema: str) -> str:
    """The server's URL for `schema`, as `role` (trust authentication) or the owner."""
    base = sa.engine.make_url(PG_BASE_URL)
    if role is not None:
        base = base.set(username=role)
    return f"{base.render_as_string(hide_password=False)}?options=-csearch_path%3D{schema}"


@dataclass
class AgentReport:
    """What one agent process did; sent back to the parent when it stops."""

    handle: str
    actor: str
    done: Counter[str] = field(default_factory=Counter)
    conflicts: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    # (ticket id, start, end) of each change it was told succeeded.
    changes: list[tuple[int, float, float]] = field(default_factory=list)
    # (when its console had read what a notice named, the ticket ids or None for "all").
    seen: list[tuple[float, frozenset[int] | None]] = field(default_factory=list)


def _listen(store: Any, report: AgentReport, stop: threading.Event, opened: list[int]) -> None:
    """The console's listening worker: on a notice, read the list page, the sidebar counts
    and, when it was touched, the ticket open on screen (`opened[0]`, a ticket number)."""
    from supportdesk.desk import views
    from supportdesk.desk.live import ChangeFeed

    feed = ChangeFeed(store, poll_seconds=1.0)
    try:
        while not stop.is_set():
            changed = feed.wait(0.5)
            if changed is None or changed.presence_only:
                continue
            with store.session() as session:
                views.list_tickets(session, limit=50)
                views.overview(session, me=report.handle)
                if opened:
                    detail = views.ticket_detail(session, opened[0])
                    del detail
            report.seen.append((time.time(), changed.tickets))
    finally:
        feed.close()


def agent_main(url: str, handle: str, others: list[str], seed: int, until: float, out: Any) -> None:
    """One agent: open a ticket, act on it, pause as a person would, until `until`."""
    from supportdesk.desk import replies, team, tickets, views
    from supportdesk.desk.events import Change
    from supportdesk.desk.replies import Identity, MailSetup
    from supportdesk.desk.statuses import TRANSITIONS
    from supportdesk.errors import ConflictError, NotFoundError, ValidationError
    from supportdesk.store import open_store

    rng = random.Random(seed)
    store = open_store(url)
    actor = team.session_actor(store) or f"agent:{handle}"
    report = AgentReport(handle, actor)
    setup = MailSetup(
        identities=(
            Identity(mailbox="support", address=SUPPORT, name="Desk", aliases=frozenset({SUPPORT})),
        ),
        signature=handle,
    )
    stop = threading.Event()
    opened: list[int] = []
    listener = threading.Thread(target=_listen, args=(store, report, stop, opened), daemon=True)
    listener.start()
    names = [a for a, _ in ACTIONS]
    weights = [w for _, w in ACTIONS]
    try:
        while time.time() < until:
            time.sleep(rng.uniform(0.2, 0.9))
            with store.session() as session:
                rows = [r for r in views.list_tickets(session, limit=50) if r.status != "closed"]
            if not rows:
                continue
            row = rng.choice(rows)
            opened[:] = [row.number]
            action = rng.choices(names, weights)[0]
            start = time.time()
            try:
                with store.session(write=True) as session:
                    ticket = tickets.get_ticket(session, row.number)
                    ticket_id = ticket.id
                    if action == "note":
                        mention = f" @{rng.choice(others)}" if rng.random() < 0.3 else ""
                        tickets.add_note(session, row.number, f"checked{mention}", Change.by(actor))
                    elif action == "assign":
                        choices = [h for h in (handle, *others) if h != row.assignee]
                        tickets.assign(
                            session,
                            row.number,
                            rng.choice(choices),
                            Change.by(actor),
                            expected_version=row.version,
                        )
                    elif action == "status":
                        allowed = sorted(TRANSITIONS[row.status] - {"closed", "on-hold"})
                        if not allowed:
                            report.refused[action] += 1
                            continue
                        tickets.set_status(
                            session,
                            row.number,
                            rng.choice(allowed),
                            Change.by(actor),
                            expected_version=row.version,
                        )
                    else:
                        draft = replies.open_draft(session, row.number, actor, setup)
                        replies.save_draft(session, draft.id, actor, body=f"Thanks, {handle}.")
                        replies.send_draft(session, draft.id, actor, setup)
            except ConflictError:
                report.conflicts[action] += 1
                continue
            except (ValidationError, NotFoundError) as exc:
                report.refused[action] += 1
                if len(report.errors) < 5:
                    report.errors.append(f"{action}: {exc}")
                continue
            report.done[action] += 1
            report.changes.append((ticket_id, start, time.time()))
    finally:
        time.sleep(1.5)  # let the last notices arrive before the listener stops
        stop.set()
        listener.join(timeout=5)
        store.dispose()
        out.put(report)


@dataclass
class SimResult:
    agents: list[AgentReport]
    appended: int
    stored: int
    mail_lost: int
    duplicate_messages: int
    duplicate_tickets: int
    changes_lost: dict[str, int]
    bulk_changed: int
    bulk_events: int
    replies_queued: int
    replies_sent: int
    replies_sent_twice: int
    latencies_ms: list[float]
    seconds: float
    load: tuple[float, float, float]

    @property
    def changes(self) -> int:
        return sum(sum(a.done.values()) for a in self.agents) + self.bulk_changed

    @property
    def conflicts(self) -> int:
        return sum(sum(a.conflicts.values()) for a in self.agents)

    @property
    def lost(self) -> int:
        return sum(self.changes_lost.values()) + self.bulk_changed - self.bulk_events

    def lines(self) -> list[str]:
        p50 = statistics.median(self.latencies_ms) if self.latencies_ms else float("nan")
        p95 = _p95(self.latencies_ms)
        done = Counter[str]()
        for a in self.agents:
            done.update(a.done)
        refused = sum(sum(a.refused.values()) for a in self.agents)
        return [
            f"agents {len(self.agents)}, {self.seconds:.0f} s of work, load "
            + " ".join(f"{x:.1f}" for x in self.load),
            f"changes made: {self.changes} ("
            + ", ".join(f"{k} {v}" for k, v in sorted(done.items()))
            + f", bulk reassign {self.bulk_changed})",
            f"conflicts reported to the losing writer: {self.conflicts}; refused as not "
            f"allowed (e.g. a closed ticket): {refused}",
            f"changes lost: {self.lost} (must be 0)",
            f"mail: {self.appended} delivered to IMAP, {self.stored} stored, {self.mail_lost} lost "
            f"(must be 0); duplicate messages {self.duplicate_messages}, duplicate tickets "
            f"{self.duplicate_tickets} (must be 0)",
            f"replies: {self.replies_queued} queued, {self.replies_sent} received by SMTP, "
            f"{self.replies_sent_twice} sent more than once (must be 0)",
            f"notice to another agent's screen: p50 {p50:.0f} ms, p95 {p95:.0f} ms over "
            f"{len(self.latencies_ms)} (change, agent) pairs",
        ]


def _p95(values: list[float]) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def _latencies(agents: list[AgentReport]) -> list[float]:
    """For each change and each other agent: from the change's start to that agent's read."""
    took: list[float] = []
    for writer in agents:
        for reader in agents:
            if reader is writer:
                continue
            seen = sorted(reader.seen, key=lambda s: s[0])
            for ticket_id, start, _end in writer.changes:
                for at, ids in seen:
                    if at >= start and (ids is None or ticket_id in ids):
                        took.append((at - start) * 1000)
                        break
    return took


def _write_config(
    path: Path, url: str, server: DovecotServer, user: str, password: str, smtp_port: int
) -> None:
    path.write_text(
        "\n".join(
            [
                f'database_url = "{url}"',
                "[send]",
                "poll_seconds = 1",
                "[[mailboxes]]",
                'name = "support"',
                f'address = "{SUPPORT}"',
                f'imap_host = "{server.host}"',
                f"imap_port = {server.starttls_port}",
                'security = "none"',
                f'username = "{user}"',
                f'password_command = "printf %s {password}"',
                'default_queue = "general"',
                'smtp_host = "127.0.0.1"',
                f"smtp_port = {smtp_port}",
                'smtp_security = "none"',
                'smtp_auth = "none"',
                "",
            ]
        )
    )


def simulate(
    *, agents: int = 5, messages: int = 5000, seconds: float = 60.0, seed: int = 1
) -> SimResult:
    from supportdesk.desk import bulk_commands, directory, team
    from supportdesk.store import open_store
    from tests.smtp_server import start_server

    if not 1 <= agents <= len(HANDLES) - 1:
        raise ValueError(f"--agents must be 1..{len(HANDLES) - 1}")
    admin = sa.create_engine(PG_BASE_URL, isolation_level="AUTOCOMMIT")
    tag = uuid.uuid4().hex[:8]
    schema = f"sdsim_{tag}"
    prefix = f"sdsim{tag}_"
    roles: list[str] = [f"{prefix}team"]
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    work = Path(tempfile.mkdtemp(prefix="team-sim-"))
    server = DovecotServer()
    smtp = start_server()
    watch: subprocess.Popen[bytes] | None = None
    try:
        owner = open_store(url_as(None, schema), create=True)
        team.init(owner, roles[0])
        with owner.session(write=True) as s:
            directory.ensure_queue(s, "general")
        sync = team.add_service(owner, "sync", role=f"{prefix}sync")
        roles.append(sync.role)
        handles = list(HANDLES[: agents + 1])
        lead_handle, agent_handles = handles[0], handles[1:]
        for handle in handles:
            added = team.add_agent(
                owner, handle, email=f"{handle}@desk.example", role=f"{prefix}{handle}"
            )
            roles.append(added.role)

        server.start()
        account = server.new_account()
        maker = MailMaker(seed, f"sim{tag}")
        mail = [maker.make() for _ in range(messages)]
        # A first tenth, so the agents have tickets to work from the start.
        first = max(1, messages // 10)
        server.append_many(account.address, "INBOX", mail[:first])
        config = work / "config.toml"
        _write_config(
            config, url_as(sync.role, schema), server, account.address, account.password, smtp.port
        )
        env = {**os.environ, "SUPPORTDESK_CONFIG": str(config)}
        watch = subprocess.Popen(
            [sys.executable, "-m", "supportdesk", "--config", str(config), "sync", "--watch"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(work / "watch.log", "wb"),  # noqa: SIM115
        )
        _wait_for(owner, lambda n: n >= first, timeout=120)

        context = mp.get_context("spawn")
        out = context.Queue()
        start = time.time()
        until = start + seconds
        processes = [
            context.Process(
                target=agent_main,
                args=(
                    url_as(f"{prefix}{h}", schema),
                    h,
                    [o for o in agent_handles if o != h],
                    seed * 100 + i,
                    until,
                    out,
                ),
            )
            for i, h in enumerate(agent_handles)
        ]
        for p in processes:
            p.start()

        # The rest of the mail arrives while they work, in small deliveries.
        rest = mail[first:]
        chunk = max(1, len(rest) // max(1, int(seconds * 0.7)))
        bulk_changed = 0
        bulk_batch = ""
        lead = open_store(url_as(f"{prefix}{lead_handle}", schema))
        lead_actor = team.session_actor(lead) or f"agent:{lead_handle}"
        bulk_done = False
        while rest or time.time() < until:
            if rest:
                server.append_many(account.address, "INBOX", rest[:chunk])
                rest = rest[chunk:]
            if not bulk_done and time.time() >= start + seconds / 2:
                who = agent_handles[0]
                outcome = bulk_commands.run(
                    lead,
                    bulk_commands.prepare("assign", agent=agent_handles[-1]),
                    bulk_commands.Selection(f"assignee:{who} -status:closed,solved"),
                    actor=lead_actor,
                )
                bulk_changed, bulk_batch = outcome.result.changed, outcome.result.batch_id
                bulk_done = True
            if not rest:
                time.sleep(max(0.0, min(1.0, until - time.time())))
            else:
                time.sleep(1.0)
        reports = [out.get(timeout=120) for _ in processes]
        for p in processes:
            p.join(timeout=30)
        lead.dispose()
        _wait_for(owner, lambda n: n >= messages, timeout=300)
        _wait_for_outbox(owner, timeout=120)
        watch.send_signal(signal.SIGINT)
        watch.wait(timeout=60)
        watch = None
        result = _verify(owner, reports, mail, smtp.recorder.messages, bulk_changed, bulk_batch)
        result.seconds = seconds
        result.load = os.getloadavg()
        owner.dispose()
        return result
    finally:
        if watch is not None:
            watch.kill()
            watch.wait()
        smtp.stop()
        server.stop()
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            for role in reversed(roles):
                if conn.execute(
                    sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}
                ).first():
                    conn.exec_driver_sql(f'DROP OWNED BY "{role}" CASCADE')
                    conn.exec_driver_sql(f'DROP ROLE "{role}"')
        admin.dispose()


def _count(store: Any, sql: str, **params: Any) -> int:
    with store.session() as session:
        return int(session.execute(sa.text(sql), params).scalar() or 0)


def _wait_for(store: Any, done: Any, timeout: float) -> None:
    deadline = time.time() + timeout
    while not done(_count(store, "SELECT count(*) FROM messages WHERE direction = 'in'")):
        if time.time() > deadline:
            raise TimeoutError("the sync did not take in the mail in time")
        time.sleep(0.5)


def _wait_for_outbox(store: Any, timeout: float) -> None:
    deadline = time.time() + timeout
    while _count(store, "SELECT count(*) FROM outbox WHERE state IN ('queued', 'sending')"):
        if time.time() > deadline:
            return  # reported below as queued but not sent
        time.sleep(0.5)


def _verify(
    owner: Any,
    reports: list[AgentReport],
    mail: list[bytes],
    received: list[Any],
    bulk_changed: int,
    bulk_batch: str,
) -> SimResult:
    import email
    from email.policy import compat32

    ids = []
    for raw in mail:
        parsed = email.message_from_bytes(raw, policy=compat32)
        ids.append(str(parsed["Message-ID"]).strip())
    with owner.session() as session:
        stored_ids = [
            r[0]
            for r in session.execute(
                sa.text("SELECT message_id FROM messages WHERE direction = 'in'")
            )
        ]
        ghosts = {r[0] for r in session.execute(sa.text("SELECT message_id FROM message_ghosts"))}
        duplicate_tickets = int(
            session.execute(
                sa.text(
                    "SELECT count(*) FROM (SELECT message_id FROM messages m WHERE m.id = "
                    "(SELECT min(id) FROM messages WHERE ticket_id = m.ticket_id) "
                    "GROUP BY message_id HAVING count(*) > 1) d"
                )
            ).scalar()
            or 0
        )
        lost: dict[str, int] = {}
        for report in reports:
            events = dict(
                session.execute(
                    sa.text("SELECT action, count(*) FROM events WHERE actor = :a GROUP BY action"),
                    {"a": report.actor},
                ).all()
            )
            notes = session.execute(
                sa.text("SELECT count(*) FROM notes WHERE author = :a"), {"a": report.actor}
            ).scalar()
            queued = session.execute(
                sa.text(
                    "SELECT count(*) FROM messages m JOIN agents a ON a.id = m.author_agent_id "
                    "WHERE m.direction = 'out' AND a.handle = :h"
                ),
                {"h": report.handle},
            ).scalar()
            found = {
                "note": int(notes or 0),
                "assign": int(events.get("assign", 0)) + int(events.get("unassign", 0)),
                "status": int(events.get("status", 0)),
                "reply": int(queued or 0),
            }
            for action, count in report.done.items():
                missing = count - found.get(action, 0)
                if missing > 0:
                    lost[f"{report.handle}:{action}"] = missing
        bulk_events = int(
            session.execute(
                sa.text("SELECT count(*) FROM events WHERE batch_id = :b AND action = 'assign'"),
                {"b": bulk_batch},
            ).scalar()
            or 0
        )
        replies_queued = int(session.execute(sa.text("SELECT count(*) FROM outbox")).scalar() or 0)
    stored = Counter(stored_ids)
    present = set(stored) | ghosts
    sent = Counter()
    for item in received:
        parsed = email.message_from_bytes(item.data, policy=compat32)
        sent[str(parsed["Message-ID"]).strip()] += 1
    return SimResult(
        agents=reports,
        appended=len(ids),
        stored=len(stored_ids),
        mail_lost=sum(1 for i in ids if i not in present),
        duplicate_messages=sum(n - 1 for n in stored.values() if n > 1),
        duplicate_tickets=duplicate_tickets,
        changes_lost=lost,
        bulk_changed=bulk_changed,
        bulk_events=bulk_events,
        replies_queued=replies_queued,
        replies_sent=sum(sent.values()),
        replies_sent_twice=sum(1 for n in sent.values() if n > 1),
        latencies_ms=_latencies(reports),
        seconds=0.0,
        load=(0.0, 0.0, 0.0),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=5)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    result = simulate(
        agents=args.agents, messages=args.messages, seconds=args.seconds, seed=args.seed
    )
    for line in result.lines():
        print(line)
    for report in result.agents:
        if report.errors:
            print(f"{report.handle}: first refusals: {report.errors[:3]}")
    bad = result.lost or result.mail_lost or result.duplicate_messages
    bad = bad or result.duplicate_tickets or result.replies_sent_twice
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
