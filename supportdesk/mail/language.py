"""Which language a customer writes in, from their mail: what a canned reply's variant follows.

In order of trust: the Content-Language header (rare, but meant for exactly this), a charset
only one language uses (ISO-2022-JP, Shift_JIS, EUC-JP, EUC-KR, GB2312/GBK/Big5), then the
script of the text itself (kana means Japanese; Hangul Korean; Han without kana Chinese;
Cyrillic Russian; Greek; Arabic; Hebrew; Thai). Latin script says nothing about which Latin
language, so it gives None and the caller's default applies.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_CHARSETS = {
    "iso-2022-jp": "ja",
    "shift_jis": "ja",
    "shift-jis": "ja",
    "sjis": "ja",
    "cp932": "ja",
    "windows-31j": "ja",
    "euc-jp": "ja",
    "euc-kr": "ko",
    "ks_c_5601-1987": "ko",
    "gb2312": "zh",
    "gbk": "zh",
    "gb18030": "zh",
    "big5": "zh",
}
_SCRIPTS = (
    ("ja", re.compile(r"[\u3040-\u30ff]")),
    ("ko", re.compile(r"[\uac00-\ud7af]")),
    ("zh", re.compile(r"[\u4e00-\u9fff]")),
    ("ru", re.compile(r"[\u0400-\u04ff]")),
    ("el", re.compile(r"[\u0370-\u03ff]")),
    ("ar", re.compile(r"[\u0600-\u06ff]")),
    ("he", re.compile(r"[\u0590-\u05ff]")),
    ("th", re.compile(r"[\u0e00-\u0e7f]")),
)
_CHARSET_PARAM = re.compile(r"charset\s*=\s*\"?([A-Za-z0-9_.:-]+)", re.IGNORECASE)
_SAMPLE = 4000


def primary_tag(value: str) -> str | None:
    """ "ja" from "ja-JP, en;q=0.5"; None for nothing usable."""
    first = value.split(",")[0].split(";")[0].strip().lower()
    tag = first.split("-")[0]
    return tag if re.fullmatch(r"[a-z]{2,3}", tag) else None


def detect_language(headers: Iterable[tuple[str, str]], text: str, subject: str = "") -> str | None:
    """The customer's language code ("ja", "en"…) as far as their mail tells, else None."""
    content_types: list[str] = []
    for name, value in headers:
        lowered = name.lower()
        if lowered == "content-language":
            tag = primary_tag(value)
            if tag:
                return tag
        elif lowered == "content-type":
            content_types.append(value)
    for value in content_types:
        match = _CHARSET_PARAM.search(value)
        if match and match.group(1).lower() in _CHARSETS:
            return _CHARSETS[match.group(1).lower()]
    sample = f"{subject}\n{text[:_SAMPLE]}"
    counts = {code: len(pattern.findall(sample)) for code, pattern in _SCRIPTS}
    if counts["ja"] >= 2:
        return "ja"
    letters = sum(c.isalpha() for c in sample)
    best = max(counts, key=lambda code: counts[code])
    if counts[best] and counts[best] * 5 >= letters:
        return best
    if letters and sum(c.isascii() for c in sample if c.isalpha()) * 2 > letters:
        return "en" if _looks_english(sample) else None
    return None


_ENGLISH = re.compile(
    r"\b(?:the|and|you|your|please|thanks|thank|hello|hi|is|are|not|with|for|this|that|have)\b",
    re.IGNORECASE,
)


def _looks_english(sample: str) -> bool:
    words = re.findall(r"[A-Za-z]+", sample)
    return bool(words) and len(_ENGLISH.findall(sample)) * 12 >= len(words)
