"""The CLI faces of replies: canned, tickets reply, send, outbox; exit codes and JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update

from supportdesk.store import Store
from supportdesk.store.models import OutboxItem
from tests.replies_helpers import customer_mail, make_desk, receive
from tests.smtp_server import SmtpServer, start_server
from tests.test_sync import sd

CANNED = """[[canned]]
name = "thanks"
title = "Thank you"
body = "Thanks {customer.first_name|there}!"
status = "pending"

[canned.variants.ja]
body = "ありがとうございます。"
"""


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = start_server()
    yield server
    server.stop()


@pytest.fixture
def config(store: Store, smtp: SmtpServer, tmp_path: Path) -> Path:
    with store.session(write=True) as s:
        make_desk(s)
        receive(s, customer_mail(sender="Jo Bloggs <jo@acme.example>"))
    path = tmp_path / "config.toml"
    path.write_text(
        f"""database_url = "{store.url}"
agent = "alice"
[[mailboxes]]
name = "support"
address = "support@desk.example"
imap_host = "127.0.0.1"
imap_port = 1
password_command = "echo unused"
smtp_host = "127.0.0.1"
smtp_port = {smtp.port}
smtp_security = "none"
smtp_auth = "none"
sent_copy = false
"""
    )
    return path


def test_canned_cli_round_trips_and_refuses_bad_files_whole(config: Path, tmp_path: Path) -> None:
    source = tmp_path / "canned.toml"
    source.write_text(CANNED)
    code, out, err = sd(config, "canned", "import", str(source), "--json")
    assert code == 0, err
    assert json.loads(out)["added"] == ["thanks"]
    code, out, _ = sd(config, "canned", "export")
    assert code == 0 and out == CANNED
    code, out, _ = sd(config, "canned", "list", "thank", "--json")
    assert [m["name"] for m in json.loads(out)] == ["thanks"]
    code, out, _ = sd(config, "canned", "show", "thanks")
    assert out == CANNED
    bad = tmp_path / "bad.toml"
    bad.write_text(CANNED + '\n[[canned]]\nname = "Bad Name"\nbody = "x"\n')
    code, _out, err = sd(config, "canned", "import", str(bad))
    assert code == 1
    assert "bad.toml line 11: canned reply 'Bad Name': name:" in err
    code, out, _ = sd(config, "canned", "export")
    assert out == CANNED  # nothing changed
    code, _out, _err = sd(config, "canned", "remove", "thanks")
    assert code == 0
    code, out, _ = sd(config, "canned", "list", "--json")
    assert json.loads(out) == []


def test_reply_send_and_show_from_a_script(config: Path, smtp: SmtpServer, tmp_path: Path) -> None:
    source = tmp_path / "canned.toml"
    source.write_text(CANNED)
    sd(config, "canned", "import", str(source))
    code, _out, err = sd(config, "tickets", "reply", "1", "--canned", "thanks")
    assert code == 1 and "--yes" in err  # a pipe is never asked
    code, out, err = sd(config, "tickets", "reply", "1", "--canned", "thanks", "--yes", "--json")
    assert code == 0, err
    queued = json.loads(out)
    assert queued["status"] == "pending"  # the canned reply's macro
    code, out, _ = sd(config, "outbox", "list", "--json")
    assert [i["id"] for i in json.loads(out)] == [queued["outbox_id"]]
    code, out, err = sd(config, "send", "--json")
    assert code == 0, err
    assert json.loads(out)["sent"] == [queued["outbox_id"]]
    assert "Thanks Jo!" in smtp.recorder.messages[0].data.decode()
    code, out, _ = sd(config, "tickets", "show", "1", "--json")
    detail = json.loads(out)
    assert detail["first_response_at"] is not None
    assert [m["delivery"] for m in detail["messages"]] == [None, "sent"]
    code, out, _ = sd(config, "tickets", "show", "1")
    assert "first response" in out and "(sent)" in out


def test_expect_version_stops_a_reply_when_mail_arrived(
    store: Store, config: Path, tmp_path: Path
) -> None:
    code, out, _ = sd(config, "tickets", "show", "1", "--json")
    version = json.loads(out)["row"]["version"]
    with store.session(write=True) as s:
        receive(s, customer_mail(subject="Re: [#1] Refund please", body="Also, hurry up"))
    body = tmp_path / "body.txt"
    body.write_text("On it.")
    args = ["tickets", "reply", "1", "--body-file", str(body), "--yes"]
    code, out, err = sd(config, *args, "--expect-version", str(version), "--json")
    assert code == 3
    found = json.loads(out)
    assert found["collision"] and "Also, hurry up" in found["arrived"][0]["summary"]
    code, _out, err = sd(config, *args, "--expect-version", str(version))
    assert code == 3 and "nothing was sent" in err
    code, _out, err = sd(config, *args, "--expect-version", str(version), "--force")
    assert code == 0, err


def test_send_exit_codes_and_outbox_retry_cancel(
    store: Store, config: Path, smtp: SmtpServer, tmp_path: Path
) -> None:
    body = tmp_path / "body.txt"
    body.write_text("Hello")
    reply = ["tickets", "reply", "1", "--body-file", str(body), "--yes", "--json"]
    first = json.loads(sd(config, *reply)[1])["outbox_id"]
    smtp.recorder.data_replies.append("550 5.7.1 Rejected by policy")
    code, out, _ = sd(config, "send", "--json")
    assert code == 1 and json.loads(out)["failed"] == [first]
    code, out, _ = sd(config, "outbox", "list")
    assert "550 5.7.1 Rejected by policy" in out
    code, out, _ = sd(config, "outbox", "retry", str(first), "--json")
    assert code == 0 and json.loads(out)["state"] == "queued"
    smtp.recorder.data_replies.append("452 4.3.1 Insufficient storage")
    code, out, _ = sd(config, "send", "--json")
    assert code == 75 and json.loads(out)["deferred"] == [first]
    code, out, _ = sd(config, "outbox", "cancel", str(first), "--json")
    assert code == 0 and json.loads(out)["state"] == "cancelled"
    second = json.loads(sd(config, *reply)[1])["outbox_id"]
    with store.session(write=True) as s:  # as a sender that died after the handover leaves it
        s.execute(update(OutboxItem).where(OutboxItem.id == second).values(state="uncertain"))
    code, _out, err = sd(config, "outbox", "retry", str(second))
    assert code == 1 and "--force" in err
    code, _out, err = sd(config, "outbox", "retry", str(second), "--force")
    assert code == 0, err
    code, out, _ = sd(config, "send", "--json")
    assert code == 0 and json.loads(out)["sent"] == [second]
    assert len(smtp.recorder.messages) == 1
    code, _out, err = sd(config, "outbox", "cancel", "999")
    assert code == 1 and "no outbox item 999" in err
