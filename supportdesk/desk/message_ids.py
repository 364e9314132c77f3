"""Our own Message-IDs carry the ticket number and a short HMAC, so replies thread back safely.

A reply's In-Reply-To or References naming one of these ids lands on that ticket even when the
original outgoing message is not in the store; a forged id (wrong HMAC) threads nowhere.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from sqlmodel import Session, col, select

from supportdesk.store.models import StoreMeta

_OURS = re.compile(r"^<sd\.(\d{1,18})\.([0-9a-f]{16})\.([0-9a-f]{12})@([^>\s]+)>$")


_KEY = select(col(StoreMeta.value)).where(col(StoreMeta.key) == "threading_key")


def threading_key(session: Session) -> bytes:
    # Core: read on every reply queued, and an ORM load cost ten times the query.
    value = session.connection().execute(_KEY).scalar_one_or_none()
    if value is not None:
        return bytes.fromhex(value)
    meta = session.get(StoreMeta, "threading_key")
    if meta is None:  # a store made before the key existed
        meta = StoreMeta(key="threading_key", value=secrets.token_hex(32))
        session.add(meta)
        session.flush()
    return bytes.fromhex(meta.value)


def _tag(key: bytes, number: int, nonce: str) -> str:
    return hmac.new(key, f"{number}.{nonce}".encode(), hashlib.sha256).hexdigest()[:12]


def make_message_id(key: bytes, number: int, domain: str) -> str:
    nonce = secrets.token_hex(8)
    return f"<sd.{number}.{nonce}.{_tag(key, number, nonce)}@{domain}>"


def ticket_number_from(key: bytes, message_id: str) -> int | None:
    """The ticket number inside one of our ids, or None if it is not ours or is forged."""
    match = _OURS.match(message_id.strip())
    if match is None:
        return None
    number, nonce, tag, _domain = match.groups()
    if not hmac.compare_digest(tag, _tag(key, int(number), nonce)):
        return None
    return int(number)
