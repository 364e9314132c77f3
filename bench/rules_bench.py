"""Rule evaluation cost per incoming message with 50 rules (issue 5 item 4: under 2 ms).

Builds a small SQLite store (or uses --url), stores 50 rules of the kinds a team writes
(query conditions, sender and subject tests, header and body regexes, groups; a catch-all
last), ingests messages once without rules, then times `engine.run_rules` on each message
the way the ingest hook calls it. Three figures: the common case (only the catch-all fires,
one tag), evaluation alone (rules loaded and tested, no rule matching), and a hostile case:
one of the 50 rules has the catastrophic pattern `^(a+)+$` and every message body is a long
run of "a" ending in "b" (with a backtracking engine each message costs seconds, or a
timeout; RE2 answers in linear time). The target is for evaluation; the other two are
printed for information. Prints p50 / p95 / mean in milliseconds; exits 1 when the
evaluation p50 misses the target.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from supportdesk.desk import directory, ingest
from supportdesk.desk.events import Change
from supportdesk.desk.rules import engine, storage
from supportdesk.desk.rules.conditions import MessageFacts
from supportdesk.mail.parse import parse_message
from supportdesk.store import open_store

TARGET_MS = 2.0
NOW = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)


def rule(index: int) -> str:
    """Rule `index` of 50: a rotation through the condition kinds, mostly not matching."""
    kind = index % 7
    when = [
        f'{{ subject = {{ contains = "invoice {index}" }} }}',
        f'{{ from = {{ contains = "@customer{index}.example" }} }}',
        f'{{ all = [{{ query = "status:new tag:t{index}" }}, {{ robot = false }}] }}',
        f'{{ header = {{ name = "X-Campaign", matches = "^c{index}-[0-9]+$" }} }}',
        f'{{ body = {{ matches = "order\\\\s+#?{index:04d}\\\\b" }} }}',
        f'{{ any = [{{ subject = {{ matches = "(?i)urgent.*{index}" }} }}, '
        f'{{ to = {{ contains = "sales{index}@" }} }}] }}',
        f'{{ query = "from:@vendor{index}.example" }}',
    ][kind]
    return (
        f'[[rules]]\nname = "rule {index:02d}"\ntrigger = "new_ticket"\nwhen = {when}\n'
        f'actions = [{{ add_tags = ["r{index}"] }}, {{ stop = true }}]\n'
    )


CATCH_ALL = (
    '[[rules]]\nname = "catch-all"\ntrigger = "new_ticket"\nactions = [{ add_tags = ["triage"] }]\n'
)


EVIL = (
    '[[rules]]\nname = "evil"\ntrigger = "new_ticket"\n'
    'when = { body = { matches = "^(a+)+$" } }\nactions = [{ add_tags = ["evil"] }]\n'
)
HOSTILE_RUN = 5000


def message(i: int, body: str | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Person {i} <p{i}@somewhere{i % 97}.example>"
    msg["To"] = "support@desk.example"
    msg["Subject"] = f"Question number {i} about my account"
    msg["Message-ID"] = f"<bench-{i}@somewhere.example>"
    msg["X-Campaign"] = "newsletter"
    text = ("Hello, I have a question about my account and billing.\n" * 30) + f"#{i}"
    msg.set_content(body if body is not None else text)
    return msg.as_bytes()


def timed(store, raws, numbers, rules_text: str) -> list[float]:  # type: ignore[no-untyped-def]
    with store.session(write=True) as s:
        storage.import_rules(s, rules_text)
    parsed = [parse_message(raw) for raw in raws]
    samples: list[float] = []
    with store.session(write=True) as s:
        for number, p in zip(numbers, parsed, strict=True):
            facts = MessageFacts.from_parsed(p)
            start = time.perf_counter()
            engine.run_rules(
                s, "new_ticket", number, message=facts, now=NOW, change=Change.by("bench", at=NOW)
            )
            samples.append((time.perf_counter() - start) * 1000)
        s.rollback()
    return samples


def report(label: str, samples: list[float]) -> float:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    mean = statistics.fmean(ordered)
    print(f"{label:<48} p50 {p50:6.3f} ms   p95 {p95:6.3f} ms   mean {mean:6.3f} ms")
    return p50


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="store URL (default: a fresh SQLite file in a temp dir)")
    parser.add_argument("--messages", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        store = open_store(url, create=True)
        raws = [message(i) for i in range(args.messages)]
        with store.session(write=True) as s:
            directory.ensure_queue(s, "general")
            numbers = []
            for raw in raws:
                result = ingest.ingest(s, parse_message(raw), raw, default_queue="general")
                numbers.append(result.ticket_number)
        fifty = "\n".join(rule(i) for i in range(49)) + "\n" + CATCH_ALL
        print(f"{args.messages} messages, 50 rules ({store.dialect})")
        none = "\n".join(rule(i) for i in range(50))
        p50 = report("50 rules, none matches (evaluation only)", timed(store, raws, numbers, none))
        report(
            "49 rules miss, catch-all tags (with its action)", timed(store, raws, numbers, fifty)
        )
        hostile = [message(i, "a" * HOSTILE_RUN + "b") for i in range(len(raws))]
        evil = "\n".join(rule(i) for i in range(49)) + "\n" + EVIL
        report(
            f"49 rules + ^(a+)+$ on {HOSTILE_RUN} a's then b",
            timed(store, hostile, numbers, evil),
        )
        store.dispose()
    verdict = "meets" if p50 < TARGET_MS else "MISSES"
    print(f"target: evaluation under {TARGET_MS} ms per message (p50): {verdict}")
    return 0 if p50 < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
