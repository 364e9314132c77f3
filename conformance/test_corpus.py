"""Every file of the external corpus: parsed with the parser's promises, and imported.

Mail (however broken) must import byte-exact on SQLite and PostgreSQL without a crash; the
files beside it that are not mail (licence texts, a .gitattributes, an empty fixture) must be
refused with one line each and leave nothing behind. A few files pin down what their trouble
must yield, as the suite's own samples do for theirs.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from conformance.conftest import CORPUS
from supportdesk.mail.parse import ParsedMessage
from supportdesk.store import Store
from tests.samples import check_parse
from tests.test_import import run, run_json, stored, write_config

MIKEL = CORPUS / "mikel-mail" / "spec" / "fixtures" / "emails"
SPAMSCOPE = CORPUS / "spamscope-mail-parser" / "tests" / "mails"
NOT_MAIL = {"MIT-LICENSE", "LICENSE.txt", "NOTICE.txt", ".gitattributes", "sample_output_multipart"}
"""Files in the corpus that are not mail: its licences, git settings, an empty fixture."""


def corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(path for path in CORPUS.rglob("*") if path.is_file())


def mail_files() -> list[Path]:
    return [path for path in corpus_files() if path.name not in NOT_MAIL]


def read(path: Path) -> bytes:
    if not path.is_file():
        pytest.fail(f"{path} is missing: the mail corpus must be present at {CORPUS}")
    return path.read_bytes()


def parsed(path: Path) -> ParsedMessage:
    return check_parse(read(path))


def ids(path: Path) -> str:
    return str(path.relative_to(CORPUS)) if path.is_relative_to(CORPUS) else str(path)


def test_corpus_is_present() -> None:
    files = corpus_files()
    if not files:
        pytest.fail(f"no mail corpus at {CORPUS} (set SUPPORTDESK_CORPUS to where it is)")
    names = {path.name for path in files}
    assert "mail_outlook_1" in names and "example14.eml" in names
    assert names >= NOT_MAIL


# --- parsing -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", mail_files() or [CORPUS / "missing"], ids=ids)
def test_every_mail_file_parses_as_mail(path: Path) -> None:
    raw = read(path)
    message = check_parse(raw)
    assert message.not_mail == ""
    if b"\nMessage-ID: <" in raw or b"\nMessage-Id: <" in raw:
        assert not message.message_id.endswith("@synthesised.supportdesk.invalid>")


@pytest.mark.parametrize(
    "path", [p for p in corpus_files() if p.name in NOT_MAIL] or [CORPUS / "missing"], ids=ids
)
def test_files_that_are_not_mail_are_told_apart(path: Path) -> None:
    assert parsed(path).not_mail.startswith("not a mail message: ")


def test_iso_2022_jp_subject() -> None:
    assert parsed(MIKEL / "rfc2822" / "example14.eml").subject == "Re: TEST テストテスト"


def test_iso_2022_jp_body() -> None:
    message = parsed(MIKEL / "multi_charset" / "japanese_iso_2022.eml")
    assert (message.subject, message.text) == ("まみむめも", "すみません。")


def test_shift_jis_body() -> None:
    message = parsed(MIKEL / "multi_charset" / "japanese_shift_jis.eml")
    assert message.text.startswith("あいうえお")
    assert "今後ともよろしくお願い申し上げます" in message.text
    assert not message.problems


def test_ks_c_5601_body() -> None:
    assert parsed(MIKEL / "multi_charset" / "ks_c_5601-1987.eml").text == "스티해"


def test_unknown_charset_body() -> None:
    raw = read(MIKEL / "plain_emails" / "raw_email10.eml")
    assert b"charset=X-UNKNOWN" in raw
    assert check_parse(raw).text.startswith("Test test. Hi. Waving. m")


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("error_emails/bad_date_header.eml", "<HR>"),
        ("error_emails/bad_date_header2.eml", "59:10"),
        ("plain_emails/raw_email_with_bad_date.eml", "paX"),
    ],
)
def test_broken_dates(name: str, shown: str) -> None:
    message = parsed(MIKEL / name)
    assert message.date is None
    assert any("Date" in problem and shown in problem for problem in message.problems)


def test_utf8_headers() -> None:
    message = parsed(MIKEL / "rfc6532" / "utf8_headers.eml")
    assert message.subject == "Säying Hello"


def test_mismatched_boundary_is_recovered() -> None:
    message = parsed(SPAMSCOPE / "mail_malformed_3")
    assert "Problemas para visualizar" in message.text
    assert any("boundary" in problem for problem in message.problems)


def test_parts_after_closing_boundary_are_recovered() -> None:
    message = parsed(SPAMSCOPE / "mail_malformed_1")
    assert [a.filename for a in message.attachments] == ["20160523_916527.jpg_.zip"]


def test_outlook_msg_is_kept_unread() -> None:
    raw = read(SPAMSCOPE / "mail_outlook_1")
    message = check_parse(raw)
    synthesised = f"<{hashlib.sha256(raw).hexdigest()}@synthesised.supportdesk.invalid>"
    assert message.message_id == synthesised
    assert message.subject == "" and message.from_ is None and message.text == ""
    assert message.headers == [] and message.attachments == []
    assert any("Outlook" in problem for problem in message.problems)
    assert message.not_mail == ""


def test_bounce_is_recognised() -> None:
    message = parsed(MIKEL / "multipart_report_emails" / "report_530.eml")
    assert message.robot.bounce
    assert {a.content_type for a in message.attachments} == {
        "message/delivery-status",
        "text/rfc822-headers",
    }


def test_forwarded_message_kept_byte_for_byte() -> None:
    raw = read(MIKEL / "attachment_emails" / "attachment_message_rfc822.eml")
    (forwarded,) = [a for a in check_parse(raw).attachments if a.content_type == "message/rfc822"]
    assert forwarded.content in raw


# --- importing ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", mail_files() or [CORPUS / "missing"], ids=ids)
def test_every_mail_file_imports_byte_exact(path: Path, queues: Store, tmp_path: Path) -> None:
    # A fresh store per file: several corpus files share a Message-ID, and the second of
    # those would (rightly) be a duplicate whose bytes are not stored again.
    raw = read(path)
    code, data = run_json(write_config(tmp_path, queues.url), str(path))
    assert code == 0, data["errors"]
    assert data["messages"] == 1 and data["errors"] == []
    assert stored(queues) == [raw]


def test_files_that_are_not_mail_are_refused(queues: Store, tmp_path: Path) -> None:
    paths = [path for path in corpus_files() if path.name in NOT_MAIL]
    if len(paths) != len(NOT_MAIL):
        pytest.fail(f"the corpus at {CORPUS} lacks some of {sorted(NOT_MAIL)}")
    code, data = run_json(write_config(tmp_path, queues.url), *map(str, paths))
    assert code == 1 and data["messages"] == 0
    assert sorted(data["errors"]) == sorted(
        f"{path}: not imported: not a mail message: "
        + ("it is empty" if not path.read_bytes().strip() else "no mail header at its start")
        for path in paths
    )
    assert stored(queues) == []
    code, out, err = run(write_config(tmp_path, queues.url), str(paths[0]))
    assert code == 1 and "Traceback" not in out + err
