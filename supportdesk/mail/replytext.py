"""What a person wrote in a reply, without the message they were answering.

Mail clients put the original below (or, rarely, above) the new text in a handful of
recognisable shapes: lines starting with ">", an attribution line ending in a colon ("On
Mon, … wrote:", "… さんは書きました:", "…からのメッセージ:"), an Outlook header block
("-----Original Message-----", or "From:" with an address followed by "Sent:"/"Date:"),
and a signature after "-- ". Each shape is strict (the colon, the address) because a line
of the customer's own prose ("…my colleague wrote", "感謝のメッセージ") must not cut the
comment short. Everything from the first of those on is dropped. Pure text in, text out;
used for the comment of a rating mail.
"""

from __future__ import annotations

import re

_ATTRIBUTION = re.compile(
    r"^(?:"
    r"on\b.{0,200}\bwrote:"  # Gmail, Apple Mail, Thunderbird
    r"|.{0,200}\b(?:wrote|writes):"
    r"|.{0,200}(?:書きました|からのメッセージ)[:：]"
    r"|\d{4}[/年.-]\s*\d{1,2}[/月.-]\s*\d{1,2}.{0,120}[:：]"  # 2026年12月4日(金) 10:00 名前 <a@b>:
    r")\s*$",
    re.IGNORECASE,
)
_SEPARATOR = re.compile(
    r"^\s*(?:-{2,}\s*(?:original message|forwarded message|元のメッセージ|転送メッセージ)"
    r"\s*-{2,}|_{10,})\s*$",
    re.IGNORECASE,
)
_HEADER = re.compile(r"^\s*(?:from|差出人|送信者)\s*[:：].*@", re.IGNORECASE)
_NEXT_HEADER = re.compile(
    r"^\s*(?:sent|date|to|subject|送信日時|日時|宛先|件名)\s*[:：]", re.IGNORECASE
)


def strip_quoted(text: str, limit: int = 2000) -> str:
    """The new text of a reply: quoted original, attribution and signature removed, blank
    lines at either end trimmed, at most `limit` characters."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for index, line in enumerate(lines):
        stripped = line.strip()
        if line.rstrip() == "--" or line == "-- ":
            break
        if stripped.startswith(">"):
            continue
        if _SEPARATOR.match(line) or _ATTRIBUTION.match(stripped):
            break
        if _HEADER.match(line) and any(_NEXT_HEADER.match(n) for n in lines[index + 1 : index + 4]):
            break
        kept.append(line.rstrip())
    comment = "\n".join(kept).strip("\n").strip()
    if len(comment) > limit:
        comment = comment[: limit - 1].rstrip() + "…"
    return comment
