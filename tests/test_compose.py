"""Building outgoing mail (pure): subjects, references, charsets and header safety."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from supportdesk.mail import compose
from supportdesk.mail.compose import ComposeError
from supportdesk.mail.parse import parse_message

WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _outgoing(**changes: object) -> compose.Outgoing:
    values: dict[str, object] = {
        "sender": compose.address("Desk", "support@desk.example"),
        "to": [compose.address("Jo", "jo@acme.example")],
        "subject": "Re: [#7] Hello",
        "text": "Hi\n",
        "message_id": "<sd.7.0011223344556677.aabbccddeeff@desk.example>",
        "date": WHEN,
    }
    values.update(changes)
    return compose.Outgoing(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("original", "expected"),
    [
        ("Refund", "Re: [#7] Refund"),
        ("Re: Refund", "Re: [#7] Refund"),
        ("RE: Re: AW: [#7] Refund", "Re: [#7] Refund"),
        ("Re: [#7] Re: [#7] Refund", "Re: [#7] Refund"),
        ("返信: Re: お問い合わせ", "Re: [#7] お問い合わせ"),
        ("[#12] other desk's ticket", "Re: [#7] [#12] other desk's ticket"),
        ("", "Re: [#7]"),
    ],
)
def test_reply_subject_has_one_re_and_one_tag(original: str, expected: str) -> None:
    assert compose.reply_subject(original, 7) == expected


def test_forward_subject() -> None:
    assert compose.forward_subject("Re: [#7] Refund", 7) == "Fwd: [#7] Refund"


def test_references_are_bounded_keeping_the_first_and_the_last() -> None:
    ids = [f"<m{i}@x.example>" for i in range(30)]
    kept = compose.bounded_references([*ids, "not an id", ids[3]])
    assert len(kept) == compose.MAX_REFERENCES
    assert kept[0] == ids[0] and kept[-1] == ids[-1]
    assert kept[:4] == ids[:4] and kept[4:] == ids[-6:]


@pytest.mark.parametrize("charset", ["utf-8", "iso-2022-jp"])
def test_japanese_round_trips(charset: str) -> None:
    subject = "Re: [#7] 返金についてのお問い合わせ、長い件名がきちんと折り返されること"
    text = "山田様\n\nお問い合わせありがとうございます。\n返金を手配しました。\n"
    raw = compose.build(
        _outgoing(
            subject=subject,
            text=text,
            to=[compose.address("山田 太郎", "taro@example.jp")],
            charset=charset,
            language="ja",
        )
    )
    assert raw.isascii()
    assert all(len(line) <= 78 for line in raw.split(b"\r\n\r\n")[0].split(b"\r\n"))
    assert f'charset="{charset}"'.encode() in raw.lower()
    parsed = parse_message(raw)
    assert parsed.subject == subject
    assert parsed.text.rstrip("\n") == text.rstrip("\n")
    assert parsed.to[0].name == "山田 太郎"
    assert parsed.problems == []


def test_iso_2022_jp_falls_back_to_utf8_for_text_it_cannot_hold() -> None:
    raw = compose.build(_outgoing(text="絵文字 😀\n", charset="iso-2022-jp"))
    assert b'charset="utf-8"' in raw
    assert parse_message(raw).text.rstrip() == "絵文字 😀"


def test_automatic_mail_says_so() -> None:
    raw = compose.build(_outgoing(automatic=True))
    parsed = parse_message(raw)
    assert parsed.robot.auto_reply
    assert ("Auto-Submitted", "auto-replied") in parsed.headers


@pytest.mark.parametrize(
    "bad",
    [
        "jo@acme.example\r\nBcc: x@evil.example",
        "jo@acme.example\nBcc: x@evil.example",
        "jo@acme.example, x@evil.example",
        "<jo@acme.example>",
        "jo @acme.example",
        "no-at-sign",
        "ü@acme.example",
        "jo@-bad-.example",
    ],
)
def test_bad_addresses_are_refused(bad: str) -> None:
    with pytest.raises(ComposeError):
        compose.check_address(bad)


def test_names_and_subjects_with_line_breaks_cannot_add_a_header() -> None:
    raw = compose.build(
        _outgoing(
            subject="Hi\r\nBcc: x@evil.example\r\n\r\nbody",
            to=[compose.Address("Jo\r\nBcc: y@evil.example", "jo@acme.example")],
        )
    )
    parsed = parse_message(raw)
    assert "bcc" not in [name.lower() for name, _ in parsed.headers]
    assert parsed.subject == "Hi Bcc: x@evil.example body"
    with pytest.raises(ComposeError):
        compose.build(_outgoing(to=[compose.Address("Jo", "jo@acme.example\r\nBcc: z@e.example")]))
    with pytest.raises(ComposeError):
        compose.verify_header_block("Subject: x\r\nBcc: y@evil.example\r\n")


def test_idn_domains_are_written_in_ascii() -> None:
    assert compose.check_address("info@bücher.example") == "info@xn--bcher-kva.example"
