"""The one time representation every layer uses: aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Aware UTC now, the one time representation the store uses."""
    return datetime.now(UTC)
