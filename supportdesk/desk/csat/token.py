"""The signed token in a rating link's subject: `[rate:N.S.T.NONCE.MAC]`.

N is the ticket number, S the score, T the issue time (Unix seconds), NONCE the request's
and MAC the first 16 hex digits of HMAC-SHA256 over all four under the rating key. Changing
any part (the score above all) breaks the MAC. The key is a secret kept outside the store
(keyring or a command, see supportdesk.secrets): anyone with store access could otherwise
rate for customers.

Mail clients wrap subjects in `Re:`/`Fwd:`, encode them as RFC 2047 words and fold long
lines; the parser decodes the words, and `find` looks for the token anywhere in the decoded
subject, with whitespace removed if it was split by folding.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

_TOKEN = re.compile(
    r"\[rate:(\d{1,18})\.(\d{1,2})\.(\d{1,12})\.([0-9a-f]{16})\.([0-9a-f]{16})\]", re.IGNORECASE
)
_SPACE = re.compile(r"\s+")
MIN_KEY_BYTES = 16


@dataclass(frozen=True)
class Token:
    """A token as written: nothing here says it is genuine (see `verify`)."""

    number: int
    score: int
    issued: int
    nonce: str
    mac: str

    @property
    def issued_at(self) -> datetime:
        return datetime.fromtimestamp(self.issued, UTC)

    def text(self) -> str:
        return f"[rate:{self.number}.{self.score}.{self.issued}.{self.nonce}.{self.mac}]"


def new_nonce() -> str:
    return secrets.token_hex(8)


def _mac(key: bytes, number: int, score: int, issued: int, nonce: str) -> str:
    message = f"csat.{number}.{score}.{issued}.{nonce}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:16]


def make(key: bytes, number: int, score: int, issued: datetime, nonce: str) -> Token:
    seconds = int(issued.timestamp())
    return Token(number, score, seconds, nonce, _mac(key, number, score, seconds, nonce))


def find(subject: str) -> Token | None:
    """The token in a subject, genuine or not; None when there is none."""
    match = _TOKEN.search(subject) or _TOKEN.search(_SPACE.sub("", subject))
    if match is None:
        return None
    number, score, issued, nonce, mac = match.groups()
    return Token(int(number), int(score), int(issued), nonce.lower(), mac.lower())


def verify(key: bytes, token: Token) -> bool:
    """Whether the key signed exactly this ticket, score, time and nonce."""
    expected = _mac(key, token.number, token.score, token.issued, token.nonce)
    return hmac.compare_digest(expected, token.mac)
