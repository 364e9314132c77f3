"""`supportdesk import`: every source kind, exact bytes, idempotency, queues, exit codes."""

from __future__ import annotations

import io
import json
import os
import socket
import sqlite3
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from supportdesk.cli import app
from supportdesk.desk import directory
from supportdesk.desk.intake.files import import_sources
from supportdesk.desk.intake.parsing import POOL_THRESHOLD, ParsePool
from supportdesk.desk.intake.pipeline import Ingestor, Summary
from supportdesk.mail.parse import NOT_MAIL_NO_HEADERS as NOT_MAIL_HEADERS
from supportdesk.mail.sources import (
    FolderSource,
    MaildirSource,
    MboxSource,
    MboxStyle,
    open_source,
    split_mbox,
)
from supportdesk.store import Store
from supportdesk.store.models import Attachment, Customer, Message, MessageRaw, Queue, Ticket
from tests.samples import NOT_MAIL_REASONS, mail_samples, not_mail_samples, sample

runner = CliRunner(env={"COLUMNS": "200"})

SUMMARY_KEYS = {
    "queue",
    "mailbox",
    "sources_read",
    "sources",
    "messages",
    "new_tickets",
    "follow_ups",
    "reopened",
    "robots",
    "quarantined",
    "duplicates",
    "ratings",
    "ratings_ignored",
    "digest_replies",
    "oversize",
    "errors",
    "rule_failures",
    "rule_failure_messages",
}


def mail(n: int, body: str = "Hello.\n", *, message_id: bool = True, crlf: bool = False) -> bytes:
    lines = [
        f"From: Customer {n} <customer{n}@example.com>",
        "To: support@desk.example",
        f"Subject: Question {n}",
        "Date: Mon, 01 Jan 2024 10:00:00 +0000",
    ]
    if message_id:
        lines.append(f"Message-ID: <q{n}@example.com>")
    text = "\n".join(lines) + "\n\n" + body
    return text.replace("\n", "\r\n").encode() if crlf else text.encode()


def write_mbox(path: Path, messages: list[bytes]) -> None:
    """An mbox as writers make it: envelope line, the message, a blank line."""
    with path.open("wb") as out:
        for index, raw in enumerate(messages):
            out.write(f"From customer{index}@example.com Mon Jan  1 10:00:0{index} 2024\n".encode())
            out.write(raw if raw.endswith(b"\n") else raw + b"\n")
            out.write(b"\n")


def stored(store: Store) -> list[bytes]:
    with store.session() as session:
        rows = session.execute(
            sa.select(MessageRaw.raw)
            .join(Message, Message.id == MessageRaw.message_id)  # type: ignore[arg-type]
            .order_by(Message.id)
        ).all()
    return [bytes(row.raw) for row in rows]


def ticket_queues(store: Store) -> list[str]:
    with store.session() as session:
        rows = session.execute(
            sa.select(Queue.name)
            .join(Ticket, Ticket.queue_id == Queue.id)  # type: ignore[arg-type]
            .order_by(Ticket.number)
        ).all()
    return [row.name for row in rows]


@pytest.fixture
def queues(store: Store) -> Store:
    with store.session(write=True) as session:
        for name in ("general", "billing", "tech"):
            directory.ensure_queue(session, name)
    return store


@pytest.fixture
def sqlite_queues(sqlite_store: Store) -> Store:
    with sqlite_store.session(write=True) as session:
        for name in ("general", "billing", "tech"):
            directory.ensure_queue(session, name)
    return sqlite_store


def write_config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'database_url = "{url}"\n\n'
        "[[mailboxes]]\n"
        'name = "support"\n'
        'address = "support@desk.example"\n'
        'imap_host = "imap.desk.example"\n'
        'default_queue = "billing"\n'
    )
    return path


def run(config: Path, *args: str, input: bytes | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--config", str(config), "import", *args], input=input)
    return result.exit_code, result.stdout, result.stderr


def run_json(config: Path, *args: str, input: bytes | None = None) -> tuple[int, dict]:  # type: ignore[type-arg]
    code, out, err = run(config, *args, "--json", input=input)
    assert out, err
    return code, json.loads(out)


# The suite's own samples ----------------------------------------------------------------


def write_samples(folder: Path, samples: dict[str, bytes]) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, raw in samples.items():
        path = folder / name.replace("/", "-")
        path.write_bytes(raw)
        paths[name] = path
    return paths


def test_every_mail_sample_imports_byte_exact(queues: Store, tmp_path: Path) -> None:
    """Malformed mail of every kind is still mail: imported whole, nothing refused."""
    samples = mail_samples()
    paths = write_samples(tmp_path / "samples", samples)
    config = write_config(tmp_path, queues.url)

    code, data = run_json(config, *map(str, paths.values()))
    assert code == 0, data["errors"]
    assert data["errors"] == [] and data["messages"] == len(samples)
    kept = stored(queues)
    assert [name for name, raw in samples.items() if kept.count(raw) != 1] == []
    assert len(kept) == len(samples)

    code, data = run_json(config, *map(str, paths.values()))
    assert code == 0 and (data["messages"], data["duplicates"]) == (0, len(samples))


def test_files_that_are_not_mail_are_refused_and_the_rest_imported(
    queues: Store, tmp_path: Path
) -> None:
    refused = not_mail_samples()
    paths = write_samples(tmp_path / "junk", refused)
    good = tmp_path / "good.eml"
    good.write_bytes(mail(1))
    config = write_config(tmp_path, queues.url)

    code, data = run_json(config, str(good), *map(str, paths.values()))
    assert code == 1
    assert data["messages"] == 1 and stored(queues) == [mail(1)]
    assert len(data["errors"]) == len(refused)
    for name, path in paths.items():
        (line,) = [e for e in data["errors"] if e.startswith(f"{path}: ")]
        assert line.startswith(f"{path}: not imported: not a mail message: ")
        assert NOT_MAIL_REASONS.get(name, "no mail header") in line
        assert "\n" not in line

    code, out, err = run(config, str(paths["README.md"]))
    assert code == 1 and "errors" in out
    assert err.strip() == f"error: {paths['README.md']}: not imported: " + NOT_MAIL_HEADERS
    assert "Traceback" not in err


def test_standard_input_that_is_not_mail_is_refused(sqlite_queues: Store, tmp_path: Path) -> None:
    config = write_config(tmp_path, sqlite_queues.url)
    code, _, err = run(config, "-", input=b"just some text\n\nnothing else\n")
    assert code == 1
    assert err.strip() == "error: <stdin>: not imported: " + NOT_MAIL_HEADERS
    assert stored(sqlite_queues) == []


def test_a_message_without_headers_inside_an_mbox_is_refused(
    sqlite_queues: Store, tmp_path: Path
) -> None:
    mbox = tmp_path / "inbox.mbox"
    write_mbox(mbox, [mail(1), b"no headers here\n", mail(3)])
    code, data = run_json(write_config(tmp_path, sqlite_queues.url), str(mbox))
    assert code == 1
    assert stored(sqlite_queues) == [mail(1), mail(3)]
    (error,) = data["errors"]
    assert error.startswith(f"{mbox}#2 (byte ") and error.endswith(NOT_MAIL_HEADERS)


def test_byte_order_mark_is_skipped_for_reading_and_kept_in_the_bytes(
    queues: Store, tmp_path: Path
) -> None:
    raw = sample("bom_headers.eml")
    eml = tmp_path / "bom.eml"
    eml.write_bytes(raw)
    code, data = run_json(write_config(tmp_path, queues.url), str(eml))
    assert code == 0, data["errors"]
    assert stored(queues) == [raw]
    with queues.session() as session:
        row = session.execute(sa.select(Message)).scalar_one()
        requester = session.execute(
            sa.select(Customer.email).join(Ticket, Ticket.requester_id == Customer.id)  # type: ignore[arg-type]
        ).scalar_one()
    assert row.subject == "Saved with a byte order mark"
    assert row.from_address == requester == "notepad@example.com"
    assert row.body_text == "An editor put a BOM before the headers."
    assert "byte order mark" in row.parse_problems


def test_winmail_dat_is_stored_with_what_it_holds(queues: Store, tmp_path: Path) -> None:
    samples = mail_samples()
    paths = write_samples(tmp_path / "tnef", {
        name: samples[name]
        for name in ("generated/winmail_only.eml", "generated/winmail_not_tnef.eml")
    })  # fmt: skip
    code, data = run_json(write_config(tmp_path, queues.url), *map(str, paths.values()))
    assert code == 0, data["errors"]
    with queues.session() as session:
        rows = session.execute(
            sa.select(Message.message_id, Message.body_text, Message.parse_problems)
        ).all()
        files = session.execute(
            sa.select(Message.message_id, Attachment.filename, Attachment.content_type)
            .join(Message, Message.id == Attachment.message_id)  # type: ignore[arg-type]
            .order_by(Attachment.id)
        ).all()
    by_id = {row.message_id: row for row in rows}
    assert by_id["<winmail-only@example.com>"].body_text.startswith("Hello,\nthe report")
    assert [(f.filename, f.content_type) for f in files if "only" in f.message_id] == [
        ("winmail.dat", "application/ms-tnef"),
        ("Quarterly report – März.xlsx", "application/octet-stream"),
        ("photo.png", "image/png"),
    ]
    assert [f.filename for f in files if "not-tnef" in f.message_id] == ["winmail.dat"]
    assert "could not be decoded" in by_id["<winmail-not-tnef@example.com>"].parse_problems


# Source kinds -------------------------------------------------------------------------------


def test_mbox_is_split_on_envelopes_only_and_kept_byte_exact(queues: Store, tmp_path: Path) -> None:
    first = mail(1)
    quoted = mail(2, "Hi,\n\n>From the start it failed.\nFrom here on, nothing works.\n")
    no_id = mail(3, "No Message-ID here.\n", message_id=False)
    crlf = mail(4, "Windows line ends.\r\n", crlf=True)
    mbox = tmp_path / "inbox.mbox"
    write_mbox(mbox, [first, quoted, no_id, crlf])
    config = write_config(tmp_path, queues.url)

    code, data = run_json(config, str(mbox))
    assert code == 0, data["errors"]
    assert data["sources"] == [
        {
            "path": str(mbox),
            "kind": "mbox",
            "messages": 4,
            "style": "mboxo/mboxrd",
            "separators": FROM_LINES | {"dated": 4},
        }
    ]
    assert data["messages"] == 4 and data["new_tickets"] == 4
    assert stored(queues) == [first, quoted, no_id, crlf]

    code, data = run_json(config, str(mbox))
    assert code == 0
    assert data["messages"] == 0 and data["duplicates"] == 4  # the synthesised id too
    assert len(stored(queues)) == 4


FROM_LINES = {"dated": 0, "undated": 0, "content_length": 0, "content_length_ignored": 0}


def split(data: bytes, chunk_size: int = 1 << 20) -> tuple[list[bytes], MboxStyle]:
    """The messages of `data`, after checking every chunk size splits it the same way."""
    style = MboxStyle()
    parts = list(split_mbox(io.BytesIO(data), chunk_size, style))
    assert sum(consumed for _, _, consumed in parts) == len(data)
    for size in (1, 2, 3, 7, 64):
        again = [(offset, raw) for offset, raw, _ in split_mbox(io.BytesIO(data), size)]
        assert again == [(offset, raw) for offset, raw, _ in parts], size
    return [raw for _, raw, _ in parts], style


def test_envelope_lines_without_a_date_separate_messages(
    sqlite_queues: Store, tmp_path: Path
) -> None:
    # issue 9: `From 123@xxx` and `From -` lines (no date) were not separators.
    mbox = tmp_path / "two.mbox"
    mbox.write_bytes(
        b"From 123@xxx\nSubject: one\nMessage-ID: <m1@x>\n\n1\n\n"
        b"From 456@xxx\nSubject: two\nMessage-ID: <m2@x>\n\n2\n\n"
        b"From -\nSubject: three\nMessage-ID: <m3@x>\n\n3\n\n"
        b"From - Mon Jan  1 10:00:00 2024\nSubject: four\nMessage-ID: <m4@x>\n\n4\n"
    )
    code, data = run_json(write_config(tmp_path, sqlite_queues.url), str(mbox))
    assert code == 0, data["errors"]
    assert data["messages"] == 4 and data["new_tickets"] == 4
    (source,) = data["sources"]
    assert source["style"] == "mboxo/mboxrd"
    assert source["separators"] == FROM_LINES | {"dated": 1, "undated": 3}
    assert stored(sqlite_queues) == [
        b"Subject: one\nMessage-ID: <m1@x>\n\n1\n",
        b"Subject: two\nMessage-ID: <m2@x>\n\n2\n",
        b"Subject: three\nMessage-ID: <m3@x>\n\n3\n",
        b"Subject: four\nMessage-ID: <m4@x>\n\n4\n",
    ]
    code, out, _ = run(write_config(tmp_path, sqlite_queues.url), str(mbox))
    assert f"{mbox}: mboxo/mboxrd, 4 From_ lines (3 without a date)" in out


def test_a_from_line_in_a_body_is_no_separator_unless_headers_follow() -> None:
    data = (
        b"From a@example.com Mon Jan  1 10:00:00 2024\nSubject: one\n\n"
        b"From here on, unquoted.\nSecond line.\n\n"
        b"From 9 to 5\n\nmid-line From x\n\n"
        b"From b@example.com\nSubject: two\n\nbody\n"
    )
    messages, style = split(data)
    assert messages == [
        b"Subject: one\n\nFrom here on, unquoted.\nSecond line.\n\nFrom 9 to 5\n\n"
        b"mid-line From x\n",
        b"Subject: two\n\nbody\n",
    ]
    assert (style.dated, style.undated) == (1, 1)


def test_a_dated_envelope_needs_no_blank_line_before_it() -> None:
    data = (
        b"From a@example.com Mon Jan  1 10:00:00 2024\nSubject: one\n\nno blank line after\n"
        b"From b@example.com Mon Jan  1 10:00:01 2024\nSubject: two\n\n2\n"
        b"From c@example.com\nSubject: not three: no date, no blank line\n"
    )
    messages, _ = split(data)
    assert messages == [
        b"Subject: one\n\nno blank line after\n",
        b"Subject: two\n\n2\nFrom c@example.com\nSubject: not three: no date, no blank line\n",
    ]


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"], ids=["lf", "crlf"])
def test_content_length_is_honoured_where_it_fits(newline: bytes) -> None:
    def lines(*items: bytes) -> bytes:
        return b"".join(item + newline for item in items)

    body = lines(b"Unquoted, as mboxcl2 leaves it:", b"", b"From x@example.com", b"X-Looks: so")
    first = lines(b"Subject: one", b"Content-Length: %d" % len(body), b"") + body
    second = lines(b"Subject: two", b"Content-Length: %d" % len(b"2" + newline), b"", b"2")
    data = (
        lines(b"From a@example.com Mon Jan  1 10:00:00 2024") + first + newline
        + lines(b"From b@example.com Mon Jan  1 10:00:01 2024") + second
    )  # fmt: skip
    messages, style = split(data)
    assert messages == [first, second]
    assert style.name == "mboxcl2"
    assert (style.content_length, style.content_length_ignored) == (2, 0)


def test_a_content_length_that_does_not_fit_is_ignored() -> None:
    data = (
        b"From a@example.com Mon Jan  1 10:00:00 2024\nSubject: one\nContent-Length: 3\n\n"
        b"longer than three\n\n"
        b"From b@example.com Mon Jan  1 10:00:01 2024\nSubject: two\nContent-Length: 99999\n\n"
        b"2\n\n"
        b"From c@example.com Mon Jan  1 10:00:02 2024\nSubject: three\nContent-Length: 2\n\n3\n"
    )
    messages, style = split(data)
    assert [raw.split(b"\n")[0] for raw in messages] == [
        b"Subject: one",
        b"Subject: two",
        b"Subject: three",
    ]
    assert style.name == "mixed"
    assert (style.content_length, style.content_length_ignored) == (1, 2)


def test_a_wrong_content_length_is_checked_without_reading_ahead(tmp_path: Path) -> None:
    """A bogus length near the start of a big mbox must not pull the file into memory."""
    mbox = tmp_path / "big.mbox"
    with mbox.open("wb") as out:
        out.write(
            b"From a@example.com Mon Jan  1 10:00:00 2024\nSubject: liar\n"
            b"Content-Length: 900000000\n\nshort\n\n"
        )
        for n in range(3000):
            out.write(b"From b@example.com Mon Jan  1 10:00:00 2024\n" + mail(n) + b"\n")

    class Counting(io.BufferedReader):
        furthest = 0

        def read(self, size: int | None = -1) -> bytes:
            data = super().read(size)
            Counting.furthest = max(Counting.furthest, self.tell())
            return data

    with Counting(io.FileIO(mbox)) as stream:  # type: ignore[arg-type]
        messages = split_mbox(stream, 4096)  # type: ignore[arg-type]
        _, first, _ = next(messages)
        assert first.startswith(b"Subject: liar\n")
        assert Counting.furthest < 64 * 1024
        assert [raw for _, raw, _ in messages] == [mail(n) for n in range(3000)]


def test_mbox_with_a_byte_order_mark(sqlite_queues: Store, tmp_path: Path) -> None:
    mbox = tmp_path / "bom.mbox"
    mbox.write_bytes(b"\xef\xbb\xbf" + b"From a@example.com Mon Jan  1 10:00:00 2024\n" + mail(1))
    source = open_source(str(mbox))
    assert isinstance(source, MboxSource)
    assert [item.raw for item in source] == [mail(1)]  # type: ignore[union-attr]
    code, data = run_json(write_config(tmp_path, sqlite_queues.url), str(mbox))
    assert code == 0 and data["messages"] == 1


def test_mbox_splitting_does_not_depend_on_chunk_boundaries() -> None:
    messages = [mail(n, "From 9 to 5.\n>From x\n" * n) for n in range(1, 8)]
    data = io.BytesIO()
    for n, raw in enumerate(messages):
        data.write(f"From MAILER-DAEMON Fri Jul  8 12:08:3{n} 2011\n".encode() + raw + b"\n")
    whole = data.getvalue()
    expected = [(offset, raw) for offset, raw, _ in split_mbox(io.BytesIO(whole))]
    assert [raw for _, raw in expected] == messages
    for chunk in (1, 2, 5, 6, 7, 64):
        parts = list(split_mbox(io.BytesIO(whole), chunk))
        assert [(offset, raw) for offset, raw, _ in parts] == expected
        assert sum(consumed for _, _, consumed in parts) == len(whole)
        assert all(whole[offset:].startswith(b"From MAILER-DAEMON") for offset, _ in expected)


def test_mbox_reader_streams(tmp_path: Path) -> None:
    mbox = tmp_path / "big.mbox"
    write_mbox(mbox, [mail(n) for n in range(50)])
    source = open_source(str(mbox))
    assert isinstance(source, MboxSource)
    items = list(MboxSource(mbox, chunk_size=97))
    assert [item.raw for item in items] == [mail(n) for n in range(50)]  # type: ignore[union-attr]
    second = mbox.read_bytes().index(b"From customer1@")
    assert items[1].label == f"{mbox}#2 (byte {second})"


def test_maildir_reads_new_and_cur_but_not_tmp(queues: Store, tmp_path: Path) -> None:
    box = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (box / sub).mkdir(parents=True)
    (box / "cur" / "1700000000.1.host:2,S").write_bytes(mail(1))
    (box / "new" / "1700000001.2.host").write_bytes(mail(2))
    (box / "tmp" / "1700000002.3.host").write_bytes(mail(3, "half-delivered"))
    (box / "cur" / ".hidden").write_bytes(b"not mail")
    assert isinstance(open_source(str(box)), MaildirSource)
    config = write_config(tmp_path, queues.url)

    code, data = run_json(config, str(box))
    assert code == 0, data["errors"]
    assert data["sources"] == [
        {"path": str(box), "kind": "maildir", "messages": 2, "style": None, "separators": None}
    ]
    assert stored(queues) == [mail(1), mail(2)]
    code, data = run_json(config, str(box))
    assert (data["messages"], data["duplicates"]) == (0, 2)


def test_maildir_follows_a_message_renamed_while_reading(tmp_path: Path) -> None:
    box = tmp_path / "Maildir"
    for sub in ("cur", "new"):
        (box / sub).mkdir(parents=True)
    (box / "new" / "1700000001.2.host").write_bytes(mail(2))
    source = MaildirSource(box)
    reading = iter(source)
    (box / "new" / "1700000001.2.host").rename(box / "cur" / "1700000001.2.host:2,S")
    assert [item.raw for item in reading] == [mail(2)]  # type: ignore[union-attr]


def test_folder_of_eml_is_searched_recursively(queues: Store, tmp_path: Path) -> None:
    folder = tmp_path / "export"
    (folder / "2024" / "01").mkdir(parents=True)
    (folder / "a.eml").write_bytes(mail(1))
    (folder / "2024" / "01" / "b.EML").write_bytes(mail(2))
    (folder / "notes.txt").write_text("not mail")
    inner = folder / "archive"
    for sub in ("cur", "new", "tmp"):
        (inner / sub).mkdir(parents=True)
    (inner / "cur" / "1700000000.1.host:2,S").write_bytes(mail(3))
    source = open_source(str(folder))
    assert isinstance(source, FolderSource)
    assert source.plan().messages == 3
    config = write_config(tmp_path, queues.url)

    code, data = run_json(config, str(folder))
    assert code == 0, data["errors"]
    assert data["sources"][0]["kind"] == "folder" and data["sources"][0]["messages"] == 3
    assert sorted(stored(queues)) == sorted([mail(1), mail(2), mail(3)])


def test_single_eml_with_envelope_line_is_one_message_kept_whole(
    sqlite_queues: Store, tmp_path: Path
) -> None:
    raw = b"From someone@example.com Mon Jan  1 10:00:00 2024\n" + mail(1)
    eml = tmp_path / "saved.eml"
    eml.write_bytes(raw)
    config = write_config(tmp_path, sqlite_queues.url)
    code, data = run_json(config, str(eml))
    assert code == 0 and data["sources"][0]["kind"] == "file"
    assert stored(sqlite_queues) == [raw]


def test_stdin_takes_one_message(queues: Store, tmp_path: Path) -> None:
    config = write_config(tmp_path, queues.url)
    raw = mail(7, "Piped in by the MTA.\n", message_id=False)
    code, data = run_json(config, "-", input=raw)
    assert code == 0, data["errors"]
    assert set(data) == SUMMARY_KEYS
    assert data["sources"] == [
        {"path": "<stdin>", "kind": "stdin", "messages": 1, "style": None, "separators": None}
    ]
    assert (data["sources_read"], data["messages"], data["new_tickets"]) == (1, 1, 1)
    assert stored(queues) == [raw]

    code, data = run_json(config, "-", input=raw)
    assert code == 0 and (data["messages"], data["duplicates"]) == (0, 1)


def test_empty_stdin_is_an_error(sqlite_queues: Store, tmp_path: Path) -> None:
    config = write_config(tmp_path, sqlite_queues.url)
    code, _, err = run(config, "-", input=b"")
    assert code == 1 and "standard input is empty" in err


def test_summary_table_for_people(sqlite_queues: Store, tmp_path: Path) -> None:
    eml = tmp_path / "a.eml"
    eml.write_bytes(mail(1))
    code, out, _ = run(write_config(tmp_path, sqlite_queues.url), str(eml))
    assert code == 0
    assert "new tickets" in out and "duplicates" in out and "sources read" in out


# Queues and mailboxes -------------------------------------------------------------------------


def test_queue_choice(sqlite_queues: Store, tmp_path: Path) -> None:
    config = write_config(tmp_path, sqlite_queues.url)
    for n in (1, 2, 3):
        (tmp_path / f"{n}.eml").write_bytes(mail(n))
    assert run(config, str(tmp_path / "1.eml"))[0] == 0
    assert run(config, str(tmp_path / "2.eml"), "--mailbox", "support")[0] == 0
    code, data = run_json(
        config, str(tmp_path / "3.eml"), "--mailbox", "support", "--queue", "tech"
    )
    assert code == 0 and (data["queue"], data["mailbox"]) == ("tech", "support")
    assert ticket_queues(sqlite_queues) == ["general", "billing", "tech"]


def test_unknown_queue_is_a_clear_error(sqlite_store: Store, tmp_path: Path) -> None:
    eml = tmp_path / "a.eml"
    eml.write_bytes(mail(1))
    code, out, err = run(write_config(tmp_path, sqlite_store.url), str(eml))
    assert code == 1 and out == ""
    assert "'general'" in err and "supportdesk queues add general" in err
    assert "Traceback" not in err
    code, _, err = run(write_config(tmp_path, sqlite_store.url), str(eml), "--queue", "nope")
    assert code == 1 and "supportdesk queues add nope" in err
    assert stored(sqlite_store) == []


def test_unknown_mailbox_is_a_clear_error(sqlite_queues: Store, tmp_path: Path) -> None:
    code, _, err = run(write_config(tmp_path, sqlite_queues.url), "-", "--mailbox", "sales")
    assert code == 1 and "no mailbox named 'sales'" in err and "support" in err


# Errors and exit codes ------------------------------------------------------------------------


def test_unreadable_paths_are_reported_and_the_rest_imported(
    sqlite_queues: Store, tmp_path: Path
) -> None:
    good = tmp_path / "good.eml"
    good.write_bytes(mail(1))
    locked = tmp_path / "locked.eml"
    locked.write_bytes(mail(2))
    locked.chmod(0)
    missing = tmp_path / "missing.mbox"
    config = write_config(tmp_path, sqlite_queues.url)
    try:
        code, data = run_json(config, str(missing), str(good), str(locked))
    finally:
        locked.chmod(0o644)
    assert code == 1
    assert any(str(missing) in e and "no such file" in e for e in data["errors"])
    if os.geteuid() != 0:  # root reads it anyway
        assert any(str(locked) in e and "ermission" in e for e in data["errors"])
    assert mail(1) in stored(sqlite_queues)


def test_usage_errors_exit_2(sqlite_queues: Store, tmp_path: Path) -> None:
    config = write_config(tmp_path, sqlite_queues.url)
    assert run(config, "-", "-", input=mail(1))[0] == 2
    assert run(config)[0] == 2
    assert run(config, "-", "--bogus")[0] == 2


def test_one_bad_message_does_not_sink_its_batch(
    sqlite_queues: Store, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import supportdesk.desk.intake.pipeline as pipeline

    real = pipeline.ingest

    def picky(session, parsed, raw, **kwargs):  # type: ignore[no-untyped-def]
        if b"POISON" in raw:
            raise RuntimeError("simulated bug")
        return real(session, parsed, raw, **kwargs)

    monkeypatch.setattr(pipeline, "ingest", picky)
    mbox = tmp_path / "inbox.mbox"
    write_mbox(mbox, [mail(1), mail(2, "POISON\n"), mail(3)])
    summary = Summary()
    with Ingestor(sqlite_queues, default_queue="general", workers=1) as ingestor:
        reports = import_sources(ingestor, [open_source(str(mbox))], summary)
    assert reports[0].messages == 3
    assert summary.messages == 2
    assert len(summary.errors) == 1 and "#2 (byte" in summary.errors[0]
    assert "simulated bug" in summary.errors[0]
    assert stored(sqlite_queues) == [mail(1), mail(3)]


def test_batches_and_progress(sqlite_queues: Store, tmp_path: Path) -> None:
    mbox = tmp_path / "inbox.mbox"
    write_mbox(mbox, [mail(n) for n in range(25)])
    seen: list[tuple[int, int]] = []
    summary = Summary()
    with Ingestor(sqlite_queues, default_queue="general", workers=2) as ingestor:
        import_sources(
            ingestor,
            [open_source(str(mbox))],
            summary,
            batch_messages=10,
            progress=lambda messages, size: seen.append((messages, size)),
        )
    assert [messages for messages, _ in seen] == [10, 10, 5]
    assert sum(size for _, size in seen) == mbox.stat().st_size
    assert summary.messages == 25


def test_parse_workers_started_from_a_thread_outlive_that_thread() -> None:
    """Workers die with their parent, but the kernel's death signal follows the forking
    thread: a pool started by a watcher's passing thread must still parse after it ended."""
    pool = ParsePool(workers=2)
    starter = threading.Thread(target=pool.start, args=(POOL_THRESHOLD,))
    starter.start()
    starter.join()
    try:
        groups = list(pool.parse([mail(n) for n in range(POOL_THRESHOLD)]).groups())
    finally:
        pool.close()
    assert [m.subject for group in groups for m in group] == [
        f"Question {n}" for n in range(POOL_THRESHOLD)
    ]


def test_stdin_exits_75_while_the_store_is_locked(
    sqlite_queues: Store, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Another process holds the write lock; the CLI gives up after 50 ms instead of 10 s.
    monkeypatch.setattr("supportdesk.store.engine.BUSY_TIMEOUT_MS", 50)
    config = write_config(tmp_path, sqlite_queues.url)
    eml = tmp_path / "a.eml"
    eml.write_bytes(mail(2))
    holder = sqlite3.connect(str(sa.engine.make_url(sqlite_queues.url).database))
    holder.isolation_level = None
    holder.execute("BEGIN IMMEDIATE")
    try:
        code, out, err = run(config, "-", input=mail(1))
        assert code == 75, (out, err)
        assert "database is locked" in err and "try again later" in err

        code, data = run_json(config, str(eml))  # not stdin: no MTA to retry, so 1
        assert code == 1 and any("database is locked" in e for e in data["errors"])
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    assert run(config, "-", input=mail(1))[0] == 0  # what the MTA's retry does
    assert stored(sqlite_queues) == [mail(1)]


def test_stdin_exits_75_when_postgresql_refuses(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = write_config(tmp_path, f"postgresql+psycopg://postgres@127.0.0.1:{port}/test")
    code, _, err = run(config, "-", input=mail(1))
    assert code == 75, err
    assert "try again later" in err


def test_file_names_that_are_not_utf8_still_print(sqlite_queues: Store, tmp_path: Path) -> None:
    folder = tmp_path / "odd"
    folder.mkdir()
    with open(os.path.join(os.fsencode(folder), b"caf\xe9.eml"), "wb") as out:
        out.write(mail(1))
    (item,) = list(open_source(str(folder)))
    assert item.label.encode("utf-8").endswith("caf\ufffd.eml".encode())
    code, data = run_json(write_config(tmp_path, sqlite_queues.url), str(folder))
    assert code == 0 and data["messages"] == 1


def test_an_unavailable_store_stops_the_import_and_keeps_what_was_committed(
    sqlite_queues: Store, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    mbox = tmp_path / "inbox.mbox"
    write_mbox(mbox, [mail(n) for n in range(5)])
    calls = 0
    real = Ingestor.ingest_batch

    def flaky(self: Ingestor, items, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls == 2:
            raise sa.exc.OperationalError("BEGIN", {}, sqlite3.OperationalError("locked"))
        return real(self, items, **kwargs)

    monkeypatch.setattr(Ingestor, "ingest_batch", flaky)
    reports: list = []  # type: ignore[type-arg]
    summary = Summary()
    with (
        Ingestor(sqlite_queues, default_queue="general", workers=1) as ingestor,
        pytest.raises(sa.exc.OperationalError),
    ):
        import_sources(
            ingestor, [open_source(str(mbox))], summary, batch_messages=2, reports=reports
        )
    assert calls == 2  # not retried message by message: every one would fail the same way
    assert reports[0].messages == 4 and summary.messages == 2
    assert stored(sqlite_queues) == [mail(0), mail(1)]
