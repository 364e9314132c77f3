"""One feeder per team store: two `sync --watch` processes, one leads, the other takes over
when the leader is killed (real processes, real Dovecot, the machine's PostgreSQL)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from supportdesk.desk import team
from supportdesk.store.models import Event
from tests.conftest import PgSchemas
from tests.imap_server import ImapAccount
from tests.samples import HANG_SECONDS
from tests.team_helpers import TeamStore, team_store, url_as
from tests.test_sync import ROOT, count_messages, mail, write_config

pytestmark = pytest.mark.postgres


class Feeder:
    """A `sync --watch --json` process and the events it printed."""

    def __init__(self, config: Path) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "supportdesk",
                "--config",
                str(config),
                "sync",
                "--watch",
                "--json",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.events: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                self.events.append(json.loads(line).get("event", ""))
            except ValueError:
                self.events.append(line)

    def said(self, event: str) -> bool:
        return event in self.events

    def end(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + HANG_SECONDS
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"no {what} within {HANG_SECONDS:g} s")


@pytest.fixture
def crew(pg_schemas: PgSchemas) -> Iterator[TeamStore]:
    with team_store(pg_schemas) as made:
        yield made


def test_the_standby_takes_over_when_the_leader_is_killed(
    tmp_path: Path, imap_account: ImapAccount, crew: TeamStore
) -> None:
    """Both feeders log in as the team's sync role, with only the privileges it grants."""
    sync = team.add_service(crew.owner, "sync", role=crew.role("sync"))
    store = crew.owner
    config = write_config(tmp_path / "config.toml", imap_account, url_as(sync.role, crew.schema))
    first = Feeder(config)
    feeders = [first]
    try:
        _until(lambda: first.said("lead") and first.said("sync"), "leader")
        second = Feeder(config)
        feeders.append(second)
        _until(lambda: second.said("standby"), "standby")
        assert not second.said("sync")  # a standby does not even catch up

        imap_account.append(mail(1))
        _until(lambda: count_messages(store) == 1, "mail through the leader")
        first.proc.kill()  # dies without a word: its connection, and so its lock, go
        first.proc.wait(10)
        _until(lambda: second.said("lead"), "takeover")
        imap_account.append(mail(2))
        _until(lambda: count_messages(store) == 2, "mail through the new leader")
        assert second.events.count("lead") == 1

        second.proc.send_signal(signal.SIGTERM)
        assert second.proc.wait(HANG_SECONDS) == 0
    finally:
        for feeder in feeders:
            feeder.end()
    assert count_messages(store) == 2  # each message once
    with store.session() as s:
        roles = set(s.exec(select(Event.role)).all())
    assert roles == {sync.role}
