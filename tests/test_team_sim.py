"""The team simulation (bench/team_sim.py), small: five agents' worth of work must lose nothing.

Two agent processes on their own database roles, a `sync --watch` taking 200 messages from
Dovecot while they work and sending their replies to aiosmtpd, and a bulk reassignment in the
middle, on the machine's PostgreSQL. The figures (conflicts, latency) are the benchmark's;
here only what must hold: nothing lost, nothing doubled, every reply sent exactly once.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from email.message import EmailMessage

import pytest

from bench.team_sim import AgentReport, _verify, simulate
from supportdesk.desk import directory, tickets
from supportdesk.desk.events import Change
from supportdesk.store import Store

pytestmark = pytest.mark.postgres


def test_a_small_team_loses_and_doubles_nothing() -> None:
    result = simulate(agents=2, messages=200, seconds=10, seed=7)
    assert len(result.agents) == 2
    assert all(sum(a.done.values()) > 0 for a in result.agents), [a.done for a in result.agents]
    assert result.lost == 0, result.changes_lost
    assert result.appended == 200
    assert (result.mail_lost, result.duplicate_messages, result.duplicate_tickets) == (0, 0, 0)
    assert result.replies_sent == result.replies_queued
    assert result.replies_sent_twice == 0
    assert result.bulk_events == result.bulk_changed
    assert result.latencies_ms, "no agent saw another's change"
    assert all(not a.errors for a in result.agents), [a.errors for a in result.agents]


@dataclass
class _Sent:
    data: bytes


def _mail(message_id: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "c@example.com"
    msg["Message-ID"] = message_id
    msg.set_content("hi")
    return msg.as_bytes()


def test_the_checks_see_a_lost_change_lost_mail_and_a_double_send(sqlite_store: Store) -> None:
    """The simulation's verdicts can fail: a change a writer was told of but that is not in
    the store, mail never stored, and a reply the SMTP server got twice are all counted."""
    with sqlite_store.session(write=True) as s:
        directory.ensure_queue(s, "general")
        directory.add_agent(s, "alice", email="alice@desk.example")
        number = tickets.create_ticket(
            s,
            subject="x",
            requester_email="c@example.com",
            queue="general",
            change=Change.by("agent:alice"),
        ).number
        tickets.add_note(s, number, "one", Change.by("agent:alice"))
    report = AgentReport("alice", "agent:alice", done=Counter({"note": 2, "status": 1}))
    twice = _mail("<twice@x>")
    result = _verify(
        sqlite_store, [report], [_mail("<never-stored@x>")], [_Sent(twice), _Sent(twice)], 0, ""
    )
    assert result.changes_lost == {"alice:note": 1, "alice:status": 1}
    assert result.lost == 2
    assert result.mail_lost == 1
    assert result.replies_sent_twice == 1
