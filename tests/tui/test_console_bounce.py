"""The customer panel says when mail to the requester bounced, and why, inert."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import update

from supportdesk.desk import tickets
from supportdesk.desk.events import Change
from supportdesk.store import Store
from supportdesk.store.models import Customer, utcnow
from supportdesk.tui.app import SupportdeskApp
from tests.tui.conftest import SIZE, ready, screen_text, wait_until


async def test_the_customer_panel_shows_a_bounced_address(
    make_app: Callable[..., SupportdeskApp], demo_store: Store
) -> None:
    with demo_store.session(write=True) as session:
        ticket = tickets.create_ticket(
            session,
            subject="Where is my parcel",
            requester_email="gone@bounce.example",
            queue="billing",
            change=Change.by("mail:gone@bounce.example"),
        )
        number = ticket.number
        session.execute(
            update(Customer)
            .where(Customer.email == "gone@bounce.example")  # type: ignore[arg-type]
            .values(
                bounced_at=utcnow() - timedelta(days=2),
                bounce_reason="5.1.1 smtp; 550 user unknown \x1b[31mRED",
            )
        )
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert app.desk.current.number == number  # type: ignore[union-attr]
        await wait_until(pilot, lambda: "mail bounced" in screen_text(app), what="the panel")
        text = screen_text(app)
        assert "mail bounced 2 days ago" in text and "5.1.1 smtp; 550 user" in text
        assert "\x1b" not in text
