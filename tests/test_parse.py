"""The parser's promises: any bytes in, a ParsedMessage out, quickly, with nothing raised.

Every file of the shared corpus is parsed; hypothesis throws random and mutated messages at
it; the rest pin down what real mail needs (charsets, RFC 2231 names, inline images, ids).
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from supportdesk.mail.charsets import decode_bytes, decode_header
from supportdesk.mail.html_text import html_to_text
from supportdesk.mail.parse import ParsedMessage, parse_message

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
SAMPLES = Path(__file__).resolve().parent / "mail_samples"
MIKEL = CORPUS / "mikel-mail" / "spec" / "fixtures" / "emails"
SPAMSCOPE = CORPUS / "spamscope-mail-parser" / "tests" / "mails"
SECONDS_PER_MESSAGE = 2.0
MSGID = re.compile(r"<[^<>\s]+>")
HYPOTHESIS = settings(deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])


def corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(path for path in CORPUS.rglob("*") if path.is_file())


def corpus_file(path: Path) -> bytes:
    if not path.is_file():
        where = "CI" if os.environ.get("CI") == "true" else "this checkout"
        pytest.fail(f"{path} is missing: the shared mail corpus must be present ({where})")
    return path.read_bytes()


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def check(raw: bytes) -> ParsedMessage:
    """Parse within the time bound and check every promise that holds for any input."""
    before = bytes(raw)
    started = time.perf_counter()
    message = parse_message(raw)
    elapsed = time.perf_counter() - started
    assert elapsed < SECONDS_PER_MESSAGE, f"parse took {elapsed:.2f} s"
    assert raw == before
    assert MSGID.fullmatch(message.message_id)
    assert message.size == len(raw)
    assert "\n" not in message.subject and "\r" not in message.subject
    assert message.date is None or message.date.utcoffset() is not None
    assert all(isinstance(problem, str) and problem for problem in message.problems)
    assert not any("could not be parsed (" in problem for problem in message.problems), (
        "an internal error was caught: " + repr(message.problems)
    )
    for attachment in message.attachments:
        assert attachment.size == len(attachment.content)
        assert attachment.sha256 == hashlib.sha256(attachment.content).hexdigest()
        assert attachment.filename and "/" not in attachment.filename
    return message


# --- the corpus --------------------------------------------------------------------------


def test_corpus_is_present() -> None:
    if not corpus_files():
        pytest.fail(
            f"no mail corpus at {CORPUS}: every file in it must parse (CI={os.environ.get('CI')})"
        )


@pytest.mark.parametrize(
    "path",
    corpus_files() or [CORPUS / "missing"],
    ids=lambda path: str(path.relative_to(CORPUS)) if path.is_relative_to(CORPUS) else str(path),
)
def test_every_corpus_file_parses(path: Path) -> None:
    raw = corpus_file(path)
    message = check(raw)
    if b"\nMessage-ID: <" in raw or b"\nMessage-Id: <" in raw:
        assert not message.message_id.endswith("@synthesised.supportdesk.invalid>")


def test_corpus_iso_2022_jp_subject() -> None:
    message = check(corpus_file(MIKEL / "rfc2822" / "example14.eml"))
    assert message.subject == "Re: TEST テストテスト"


def test_corpus_iso_2022_jp_body() -> None:
    message = check(corpus_file(MIKEL / "multi_charset" / "japanese_iso_2022.eml"))
    assert message.text == "すみません。"
    assert message.subject == "まみむめも"


def test_corpus_shift_jis_body() -> None:
    message = check(corpus_file(MIKEL / "multi_charset" / "japanese_shift_jis.eml"))
    assert message.text.startswith("あいうえお")
    assert "今後ともよろしくお願い申し上げます" in message.text
    assert not message.problems


def test_corpus_ks_c_5601_body() -> None:
    message = check(corpus_file(MIKEL / "multi_charset" / "ks_c_5601-1987.eml"))
    assert message.text == "스티해"


def test_corpus_unknown_charset_body() -> None:
    raw = corpus_file(MIKEL / "plain_emails" / "raw_email10.eml")
    assert b"charset=X-UNKNOWN" in raw
    message = check(raw)
    assert message.text.startswith("Test test. Hi. Waving. m")


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("error_emails/bad_date_header.eml", "<HR>"),
        ("error_emails/bad_date_header2.eml", "59:10"),
        ("plain_emails/raw_email_with_bad_date.eml", "paX"),
    ],
)
def test_corpus_broken_dates(name: str, shown: str) -> None:
    message = check(corpus_file(MIKEL / name))
    assert message.date is None
    assert any("Date" in problem and shown in problem for problem in message.problems)


def test_corpus_mismatched_boundary_is_recovered() -> None:
    message = check(corpus_file(SPAMSCOPE / "mail_malformed_3"))
    assert "Problemas para visualizar" in message.text
    assert any("boundary" in problem for problem in message.problems)


def test_corpus_parts_after_closing_boundary_are_recovered() -> None:
    message = check(corpus_file(SPAMSCOPE / "mail_malformed_1"))
    assert [a.filename for a in message.attachments] == ["20160523_916527.jpg_.zip"]


def test_corpus_outlook_msg_is_not_mail() -> None:
    raw = corpus_file(SPAMSCOPE / "mail_outlook_1")
    message = check(raw)
    assert (
        message.message_id == f"<{hashlib.sha256(raw).hexdigest()}@synthesised.supportdesk.invalid>"
    )
    assert message.subject == "" and message.from_ is None and message.text == ""
    assert message.headers == [] and message.attachments == []
    assert any("Outlook" in problem for problem in message.problems)


def test_corpus_bounce_is_recognised() -> None:
    message = check(corpus_file(MIKEL / "multipart_report_emails" / "report_530.eml"))
    assert message.robot.bounce
    assert {a.content_type for a in message.attachments} == {
        "message/delivery-status",
        "text/rfc822-headers",
    }


def test_corpus_forwarded_message_kept_byte_for_byte() -> None:
    raw = corpus_file(MIKEL / "attachment_emails" / "attachment_message_rfc822.eml")
    message = check(raw)
    (forwarded,) = [a for a in message.attachments if a.content_type == "message/rfc822"]
    assert forwarded.content in raw


# --- samples written for these tests -----------------------------------------------------


def test_inline_image_and_rfc2231_filename() -> None:
    message = check(sample("inline_image.eml"))
    image, pdf = message.attachments
    assert (image.content_type, image.content_id, image.is_inline) == (
        "image/png",
        "shot@example.com",
        True,
    )
    assert image.content.startswith(b"\x89PNG")
    assert pdf.filename == "€ rates été.pdf"
    assert not pdf.is_inline and pdf.content == b"%PDF-1.4\n"
    assert 'src="cid:shot@example.com"' in message.html
    assert message.text == "See the screenshot:\n\n[screen]"


def test_addresses_and_threading_headers() -> None:
    message = check(sample("inline_image.eml"))
    assert message.from_ is not None
    assert (message.from_.name, message.from_.address) == ("Ana María", "ana.maria@example.com")
    assert [a.address for a in message.to] == ["support@example.org", "bob@example.net"]
    assert [(a.name, a.address) for a in message.cc] == [("Doe, Jane", "jane@example.net")]
    assert message.subject == "Re: café screenshot"
    assert message.in_reply_to == "<ticket-7@support.example.org>"
    assert message.references == ["<a@x>", "<b@x>", "<ticket-7@support.example.org>"]
    assert message.date == datetime(2024, 4, 2, 8, 15, tzinfo=UTC)
    assert ("Subject", "Re: café screenshot") in message.headers


def test_windows_1252_mislabelled_as_latin_1() -> None:
    message = check(sample("cp1252_as_latin1.eml"))
    assert message.subject == "“Smart” quotes cost €5"
    assert message.text == "He said “it works” and it cost €5 – café."
    assert not message.problems


def test_html_only_message_becomes_text() -> None:
    message = check(sample("html_only.eml"))
    assert message.text == (
        "Order shipped\n\nTrack it here [https://track.example.com/42].\n\n"
        "- Widget\n- Gadget & more"
    )
    assert "<script>" in message.html


def test_exchange_message_id_with_brackets() -> None:
    message = check(sample("exchange_message_id.eml"))
    assert message.message_id == "<[abcDEF123==]@microsoft.com>"
    assert not message.problems


def test_missing_message_id_is_synthesised_stably() -> None:
    raw = sample("no_message_id.eml")
    first, second = check(raw), check(bytes(raw))
    assert first.message_id == second.message_id
    assert (
        first.message_id == f"<{hashlib.sha256(raw).hexdigest()}@synthesised.supportdesk.invalid>"
    )
    assert check(raw + b"\r\n").message_id != first.message_id
    assert any("Message-ID" in problem for problem in first.problems)


def test_missing_boundary_parameter() -> None:
    message = check(sample("missing_boundary.eml"))
    assert message.text == "The text survives."
    assert [(a.filename, a.content) for a in message.attachments] == [
        ("notes.txt", b"attached notes")
    ]
    assert any("no boundary" in problem for problem in message.problems)


def test_samples_copied_from_corpus_parse_alone() -> None:
    assert check(sample("iso2022jp_subject.eml")).subject == "Re: TEST テストテスト"
    assert check(sample("shift_jis_body.eml")).text.startswith("あいうえお")


# --- headers -----------------------------------------------------------------------------


def message_with(headers: bytes, body: bytes = b"Body.\r\n") -> bytes:
    return b"From: a@example.com\r\nMessage-ID: <m@example.com>\r\n" + headers + b"\r\n" + body


def test_references_are_bounded_to_first_four_and_last_six() -> None:
    ids = [f"<r{n}@x>" for n in range(15)]
    message = check(message_with(f"References: {' '.join(ids)}\r\n".encode()))
    assert message.references == ids[:4] + ids[-6:]


def test_first_message_id_wins_and_duplicates_are_noted() -> None:
    raw = message_with(b"Message-ID: <second@example.com>\r\n")
    message = check(raw)
    assert message.message_id == "<m@example.com>"
    assert any("2 Message-ID headers" in problem for problem in message.problems)


def test_unusable_message_id_is_replaced() -> None:
    raw = b"From: a@example.com\r\nMessage-ID: not an id at all\r\n\r\nx"
    message = check(raw)
    assert message.message_id.endswith("@synthesised.supportdesk.invalid>")
    assert any("unusable" in problem for problem in message.problems)


def test_raw_utf8_and_unknown_charset_words_in_headers() -> None:
    raw = message_with("Subject: Caf\u00e9 =?x-unknown?Q?caf=E9?=\r\n".encode())
    message = check(raw)
    assert message.subject == "Café café"


def test_raw_8bit_header_uses_the_body_charset() -> None:
    raw = message_with(
        b"Subject: \xc4\xe3\xba\xc3\r\nContent-Type: text/plain; charset=gb2312\r\n",
        "你好".encode("gb2312"),
    )
    message = check(raw)
    assert message.subject == "你好"
    assert message.text == "你好"


def test_date_is_converted_to_utc() -> None:
    message = check(message_with(b"Date: Mon, 1 Jan 2024 09:30:00 +0930\r\n"))
    assert message.date == datetime(2024, 1, 1, 0, 0, tzinfo=UTC)


def test_auto_reply_verdict_comes_with_the_message() -> None:
    raw = message_with(b"Auto-Submitted: auto-replied\r\nX-Loop: help@example.org\r\n")
    message = parse_message(raw, our_addresses=frozenset({"help@example.org"}))
    assert message.robot.auto_reply
    assert "X-Loop names us" in message.robot.reasons


# --- charsets and HTML -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "declared", "expected"),
    [
        (b"\x93quotes\x94 \x80", "iso-8859-1", "“quotes” €"),
        (b"\x93quotes\x94", "latin-1", "“quotes”"),
        (b"caf\xc3\xa9", "us-ascii", "café"),
        (b"caf\xc3\xa9", "utf8mb4", "café"),
        (b"caf\xc3\xa9", None, "café"),
        (b"caf\xe9", None, "café"),
        (b"caf\xe9", "unknown-8bit", "café"),
        (b"caf\xe9", "x-no-such-charset", "café"),
        (b"\xc4\xe3\xba\xc3", "gb2312", "你好"),
        (b"\x82\xa0\x87\x40", "shift_jis", "あ①"),
        (b"\x1b$B$9$_$^$;$s\x1b(B", "iso-2022-jp", "すみません"),
        (b"\x1b$B$9$_$^$;$s\x1b(B", None, "すみません"),
        (b"\xbd\xba\xc6\xbc", "ks_c_5601-1987", "스티"),
        (b"plain", "hex", "plain"),
    ],
)
def test_decode_bytes(data: bytes, declared: str | None, expected: str) -> None:
    assert decode_bytes(data, declared)[0] == expected


def test_decode_bytes_reports_guesses_and_never_raises() -> None:
    assert decode_bytes(b"caf\xe9", "x-no-such-charset")[1] is not None
    assert decode_bytes(b"caf\xc3\xa9", "utf-8")[1] is None
    text, problem = decode_bytes(b"caf\xe9 \xc3", "utf-8")
    assert text.startswith("caf") and problem is not None
    for declared in ("utf-16", "rot13", "unicode_escape", "idna", "", "\x00", "x" * 500):
        decode_bytes(bytes(range(256)), declared)


def test_encoded_words_split_inside_a_character_are_joined() -> None:
    assert decode_header("=?utf-8?q?caf=C3?= =?utf-8?q?=A9?=")[0] == "café"
    assert decode_header("=?utf-8?B?Y2Fmw6k?=")[0] == "café"


def test_html_to_text() -> None:
    html = (
        "<html><head><title>t</title><style>p{}</style></head><body>"
        "<script>alert(1)</script><p>One&nbsp;&amp;   two</p>"
        '<p>A <a href="https://x.example/?a=1&amp;b=2">link</a> and '
        '<a href="https://same.example">https://same.example</a></p>'
        "<ol><li>first</li><li>second</li></ol><div>x<br>y</div><pre> a\n  b</pre></body></html>"
    )
    assert html_to_text(html) == (
        "One & two\n\nA link [https://x.example/?a=1&b=2] and https://same.example\n\n"
        "1. first\n2. second\n\nx\ny\n\n a\n  b"
    )


@pytest.mark.parametrize(
    "hostile",
    ["<a" * 200_000, "<!--" * 100_000, "<![CDATA[" * 50_000, "<?" * 200_000, "</" * 200_000,
     "<a title='" * 100_000, "<script>" * 100_000, "<" * 500_000, "&" * 500_000],
)  # fmt: skip
def test_html_to_text_is_linear_on_hostile_input(hostile: str) -> None:
    started = time.perf_counter()
    html_to_text(hostile)
    assert time.perf_counter() - started < 1.0


# --- hostile and random input ------------------------------------------------------------


@HYPOTHESIS
@given(st.binary(max_size=4096))
def test_random_bytes(raw: bytes) -> None:
    check(raw)


@HYPOTHESIS
@given(st.binary(max_size=2048))
def test_random_bytes_after_headers(tail: bytes) -> None:
    check(b"From: a@example.com\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" + tail)


def nested(depth: int) -> bytes:
    body = b"Content-Type: text/plain\r\n\r\ndeep\r\n"
    for level in range(depth):
        boundary = b"b%d" % level
        body = (
            b'Content-Type: multipart/mixed; boundary="' + boundary + b'"\r\n\r\n--' + boundary
            + b"\r\n" + body + b"\r\n--" + boundary + b"--\r\n"
        )  # fmt: skip
    return b"From: a@example.com\r\n" + body


def mutate(raw: bytes, data: st.DataObject) -> bytes:
    operations = data.draw(
        st.lists(
            st.sampled_from(
                ["truncate", "flip", "duplicate", "semicolons", "huge-line", "nest", "insert"]
            ),
            min_size=1,
            max_size=3,
        )
    )
    header_end = max(raw.find(b"\r\n\r\n"), 1)
    for operation in operations:
        at = data.draw(st.integers(0, len(raw)))
        if operation == "truncate":
            raw = raw[:at]
        elif operation == "flip" and raw:
            at = min(at, len(raw) - 1)
            raw = raw[:at] + bytes([raw[at] ^ data.draw(st.integers(1, 255))]) + raw[at + 1 :]
        elif operation == "duplicate":
            lines = raw.split(b"\r\n")
            index = data.draw(st.integers(0, max(0, len(lines) - 1)))
            raw = b"\r\n".join([*lines[: index + 1], *lines[index:]])
        elif operation == "semicolons":
            at = data.draw(st.integers(0, header_end))
            raw = raw[:at] + b";" * 100_000 + raw[at:]
        elif operation == "huge-line":
            raw = raw[: min(at, header_end)] + b"X-Huge: " + b"a" * 1_000_000 + b"\r\n" + raw[at:]
        elif operation == "nest":
            raw = nested(data.draw(st.integers(1, 300))) + raw
        else:
            raw = raw[:at] + data.draw(st.binary(max_size=64)) + raw[at:]
    return raw


@HYPOTHESIS
@given(st.sampled_from(sorted(SAMPLES.glob("*.eml"))), st.data())
def test_mutated_real_messages(path: Path, data: st.DataObject) -> None:
    check(mutate(path.read_bytes(), data))


@pytest.mark.parametrize(
    "raw",
    [
        nested(3000),
        message_with(b"Content-Type: multipart/mixed; boundary=b" + b";" * 1_000_000 + b"\r\n"),
        message_with(b"Subject: " + b";" * 1_000_000 + b"\r\n"),
        message_with(b"To: " + b"(" * 5_000 + b"\r\n"),
        message_with(b"X-Big: " + b"a" * 5_000_000 + b"\r\n"),
        message_with(b"X-H: v\r\n" * 200_000),
        message_with(
            b"Content-Type: multipart/mixed; boundary=x\r\n", b"--x\r\n\r\n" * 300_000
        ),
        b"From: a@example.com\r\n" + b"Content-Type: message/rfc822\r\n\r\n" * 5_000,
        message_with(b"Content-Type: text/html\r\n", b"<a<a" * 500_000),
    ],
    ids=[
        "deep-nesting", "semicolons-content-type", "semicolons-subject", "nested-comments",
        "huge-header-line", "many-headers", "many-parts", "nested-rfc822", "hostile-html",
    ],
)  # fmt: skip
def test_hostile_shapes_stay_bounded(raw: bytes) -> None:
    message = check(raw)
    assert message.message_id


def test_parts_past_the_limit_are_skipped() -> None:
    body = b"--x\r\nContent-Type: text/plain\r\n\r\nhi\r\n" * 700 + b"--x--\r\n"
    message = check(message_with(b"Content-Type: multipart/mixed; boundary=x\r\n", body))
    assert message.text.split() == ["hi"] * 500
    assert any("more than 500 MIME parts" in problem for problem in message.problems)


def test_nesting_past_the_limit_becomes_an_attachment() -> None:
    message = check(nested(50))
    assert message.text == ""
    assert [a.content_type for a in message.attachments] == ["multipart/mixed"]
    assert any("deeper than 20" in problem for problem in message.problems)
    assert check(nested(5)).text == "deep"


def test_huge_header_line_keeps_the_headers_after_it() -> None:
    raw = b"X-Big: " + b"a" * 3_000_000 + b"\r\n" + message_with(b"Subject: kept\r\n")
    message = check(raw)
    assert message.subject == "kept" and message.message_id == "<m@example.com>"
    assert any("cut short" in problem for problem in message.problems)


def test_non_bytes_input_is_accepted() -> None:
    raw = bytearray(sample("no_message_id.eml"))
    assert parse_message(raw).subject == "No id"  # type: ignore[arg-type]
