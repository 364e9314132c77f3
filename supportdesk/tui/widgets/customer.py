"""Who is asking: the requester, their organisation, who else is copied, their other tickets."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.widgets import Static

from supportdesk.dates import age, ago
from supportdesk.desk.views import TicketDetail
from supportdesk.i18n import _
from supportdesk.text import one_line
from supportdesk.tui.format import fit, status_label


class CustomerPanel(Static):
    """A summary of the requester of the selected ticket.

    Its size is set by the stylesheet, never by its text, so a new ticket repaints the
    panel without laying out the whole screen again (that cost tens of ms per ticket opened).
    """

    def show(self, detail: TicketDetail | None, now: datetime | None = None) -> None:
        if detail is None:
            self.update(Text(""), layout=False)
            return
        row = detail.row
        now = now or datetime.now().astimezone()
        text = Text()
        text.append(_("Requester") + "\n", style="bold")
        if row.requester_name:
            text.append(one_line(row.requester_name, 40) + "\n")
        text.append(one_line(row.requester_email, 40) + "\n", style="dim")
        if detail.requester_bounced_at is not None:
            text.append(
                _("mail bounced {ago}").format(ago=ago(detail.requester_bounced_at, now)) + "\n",
                "red",
            )
            if detail.requester_bounce_reason:
                text.append(one_line(detail.requester_bounce_reason, 40) + "\n", style="dim")
        if detail.rating is not None:
            score = detail.rating.score
            text.append("\n" + _("Satisfaction") + "\n", style="bold")
            text.append("★" * score + "☆" * (5 - score), style="bold" if score >= 4 else "")
            text.append(f" {score}/5  {age(detail.rating.received_at, now)}\n", style="dim")
            if detail.rating.comment:
                text.append(one_line(detail.rating.comment, 120) + "\n", style="italic")
        text.append("\n" + _("Organisation") + "\n", style="bold")
        text.append(
            (one_line(detail.requester_organisation, 40) if detail.requester_organisation else "—")
            + "\n"
        )
        if detail.ccs:
            text.append("\n" + _("Copied") + "\n", style="bold")
            for address in detail.ccs[:8]:
                text.append(one_line(address, 40) + "\n", style="dim")
        text.append("\n" + _("Other tickets") + "\n", style="bold")
        if not detail.other_tickets:
            text.append(_("none") + "\n", style="dim")
        for other in detail.other_tickets:
            text.append(f"#{other.number} ", style="bold")
            text.append(f"{status_label(other.status)} {age(other.updated_at, now)}\n", style="dim")
            text.append(" " + fit(other.subject or _("(no subject)"), 26).rstrip() + "\n")
        self.update(text, layout=False)
