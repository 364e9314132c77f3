"""Tickets matching a query: the one way the CLI, the console, bulk changes and the rules ask.

Parsing, compiling and running a query used to be written out at every caller, each
choosing its own "now", its own page-versus-whole-set shape and its own order, so the
list a person saw and the set a bulk change touched could drift apart. A `Matching` holds
one parsed query with the moment and agent it is read for, compiles it at most once per
shape, and answers every question the faces ask of it within one session.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy import ColumnElement, case, func, select
from sqlmodel import Session, col

from supportdesk.desk import views
from supportdesk.desk.query.compile import DEFAULT_SORT, CompiledQuery, compile_query, order_by
from supportdesk.desk.query.counts import Count
from supportdesk.desk.query.parser import Query, SortKey, parse, parse_selection
from supportdesk.desk.views import TicketRow
from supportdesk.store import search
from supportdesk.store.models import Ticket, utcnow

# How many tickets a quick count tests when the exact count would be slow (a common word
# over a large set): an estimate from a systematic sample of the filtered tickets, every
# k-th id, so old and new tickets weigh alike. 1,000 keeps it within a page's time at
# 100,000 tickets / 1,000,000 messages and its error near 3% of the tickets tested.
COUNT_SAMPLE = 1_000
# PostgreSQL tests each sampled ticket's documents one by one (~10 us a message): fewer of
# them keep it near a page's time, at about 2.5% of error.
POSTGRES_COUNT_SAMPLE = 400
# A search for words alone is estimated from its newest matching messages instead
# (`search.newest_matches`), which costs the same however common the words: the sample above
# would first list every match (~0.12 us each on SQLite, 70 ms for a word in 570,000 messages).


class Matching:
    """The tickets `query` matches, read through `session` as agent `me` at moment `now`.

    `now` anchors relative ages (`updated:<7d`): pages read seconds apart agree when they
    share it. `narrow` is a further condition the caller's command adds (the tickets of one
    agent, say); it is the domain's, never a face's.
    """

    def __init__(
        self,
        session: Session,
        query: str | Query,
        *,
        me: str | None,
        now: datetime | None = None,
        narrow: ColumnElement[bool] | None = None,
    ) -> None:
        self.session = session
        self.query = parse(query) if isinstance(query, str) else query
        self.me = me
        self.now = utcnow() if now is None else now
        self.narrow = narrow
        self._compiled: dict[tuple[bool, bool, bool], CompiledQuery] = {}

    @classmethod
    def selection(
        cls,
        session: Session,
        text: str,
        *,
        me: str | None,
        now: datetime | None = None,
        narrow: ColumnElement[bool] | None = None,
    ) -> Matching:
        """The tickets a change to many applies to: an empty query is refused, `all` is said.

        See `parse_selection`; with `narrow`, an empty query means all of the narrowed set.
        """
        query = parse_selection(text, narrowed=narrow is not None)
        return cls(session, query, me=me, now=now, narrow=narrow)

    def compiled(
        self, *, whole_set: bool = False, reverse: bool = False, per_ticket: bool = False
    ) -> CompiledQuery:
        """The condition and order, shaped for a first page or (`whole_set`) for all of them.

        `reverse` turns the order around: reading the far end of a long list backwards from
        its end is as cheap as reading its start, where a large OFFSET walks every row first.
        `per_ticket` tests tickets one by one against the words (a sample's shape).
        Raises QueryError when the query cannot run here (an unknown queue or agent).
        """
        key = (whole_set, reverse, per_ticket)
        hit = self._compiled.get(key)
        if hit is not None:
            return hit
        compiled = compile_query(
            self.query,
            self.session.connection(),
            me=self.me,
            now=self.now,
            whole_set=whole_set,
            per_ticket=per_ticket,
            narrow=self.narrow,
        )
        if reverse:
            keys = self.query.sort or DEFAULT_SORT
            reversed_order = order_by([SortKey(k.key, descending=not k.descending) for k in keys])
            compiled = replace(compiled, order_by=reversed_order)
        self._compiled[key] = compiled
        return compiled

    def where(self, *, whole_set: bool = True) -> ColumnElement[bool]:
        """The condition alone, for a caller that folds it into a statement of its own."""
        return self.compiled(whole_set=whole_set).where

    def check(self) -> None:
        """Raise QueryError if the query cannot run against this store."""
        self.compiled()

    def count(self) -> int:
        """The exact number of matches: what a change to many states before it changes them."""
        return views.count_tickets(self.session, self.where())

    def quick_count(self, *, sample: int | None = None) -> Count:
        """How many match, within about a page's time: exact when that is cheap, else about.

        Exact when the query has no text, only rare words, or a small filtered set. A search
        for words alone is estimated from the tickets of its newest few thousand matching
        messages, scaled by the share they span: of all ticket ids on SQLite, whose index is
        keyed by ticket, of all message ids on PostgreSQL; on SQLite it is exact instead when
        those matches fall in so few tickets that the share says little (a mail loop; see
        `search.newest_matches`). Otherwise the filtered tickets
        are counted exactly (ticket columns only) and every k-th of them, about `sample` in
        all, is tested against the words; the share that matches scales the filtered count.
        Neither estimate exceeds what the filters allow. Nothing that changes
        tickets reads this: see `count`.
        """
        if sample is not None:
            size = sample
        elif self.session.get_bind().dialect.name == "sqlite":
            size = COUNT_SAMPLE
        else:
            size = POSTGRES_COUNT_SAMPLE
        words = [t.text for t in self.query.text_terms]
        only_words = bool(words) and self.narrow is None and len(words) == len(self.query.terms)
        if only_words and not any(t.negated for t in self.query.text_terms):
            tickets, share = search.newest_matches(self.session.connection(), words)
            if share >= 1.0:  # they were all of the matches
                return Count.exactly(tickets)
            # The highest ticket id bounds how many tickets there are, read from the end of
            # the key: counting them costs 10 ms on PostgreSQL at 100,000.
            most = self.session.execute(select(func.max(col(Ticket.id)))).scalar_one() or 0
            return Count.about(min(most, tickets / share))
        whole = self.compiled(whole_set=True)
        if whole.count_is_cheap:
            return Count.exactly(self.count())
        filtered = views.count_tickets(self.session, whole.filters)
        if filtered <= size:
            return Count.exactly(self.count())
        step = -(-filtered // size)
        tested = self.compiled(per_ticket=True)
        every_kth = col(Ticket.id) % step == 0
        sampled, hits = self.session.execute(
            select(func.count(), func.coalesce(func.sum(case((tested.where, 1), else_=0)), 0))
            .select_from(Ticket)
            .where(whole.filters, every_kth)
        ).one()
        if not sampled:
            return Count.exactly(self.count())
        return Count.about(min(filtered, hits * filtered / sampled))

    def ids(self, *, limit: int | None = None) -> list[int]:
        """Ticket ids of every match (or the first `limit`), in the query's order."""
        whole = self.compiled(whole_set=True)
        stmt = select(col(Ticket.id)).where(whole.where).order_by(*whole.order_by).limit(limit)
        return list(self.session.execute(stmt).scalars())

    def numbers(self, *, limit: int | None = None) -> list[int]:
        """Ticket numbers of every match (or the first `limit`): what scripts pipe on."""
        whole = self.compiled(whole_set=True)
        return views.ticket_numbers(self.session, whole.where, whole.order_by, limit=limit)

    def rows(self, *, limit: int = 50) -> list[TicketRow]:
        """The first page: the condition shaped to stop after `limit` rows."""
        first = self.compiled()
        return views.list_tickets(self.session, first.where, first.order_by, limit=limit)

    def page(self, offset: int, limit: int, *, total: int | None = None) -> list[TicketRow]:
        """Rows offset..offset+limit, read from whichever end of `total` rows is nearer."""
        if total is not None and offset > total // 2:
            end = min(total, offset + limit)
            back = self.compiled(reverse=True)
            rows = views.list_tickets(
                self.session, back.where, back.order_by, limit=end - offset, offset=total - end
            )
            return rows[::-1]
        front = self.compiled()
        return views.list_tickets(
            self.session, front.where, front.order_by, limit=limit, offset=offset
        )

    def position(self, number: int) -> int | None:
        """How many matches come before ticket `number` (None: it does not match)."""
        whole = self.compiled(whole_set=True)
        return views.ticket_position(self.session, number, whole.where, whole.order_by)

    def shown_and_rows(self, *, limit: int = 50) -> tuple[Count, list[TicketRow]]:
        """The first page and a quick count of all (see `quick_count`): what a person reads."""
        rows = self.rows(limit=limit)
        return (self.quick_count() if len(rows) == limit else Count.exactly(len(rows))), rows

    def total_and_rows(self, *, limit: int = 50) -> tuple[int, list[TicketRow]]:
        """The first page and how many match in all, counting only when the page is full."""
        rows = self.rows(limit=limit)
        return (self.count() if len(rows) == limit else len(rows)), rows
