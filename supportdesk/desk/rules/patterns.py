"""Regular expressions from rules, run where a catastrophic one cannot hang ingest.

Python's `re` backtracks and holds the GIL while it does, so neither a thread nor a signal
can stop `(a+)+$` against a long line of a's. The patterns therefore run in one long-lived
child interpreter (`python -S`, a few lines of stdlib only, so it starts in milliseconds and
needs no import path); the caller waits a bounded time and, past it, kills the child (a fresh
one starts on the next call) and treats the tests as not matched. All the patterns one
message needs go in one round trip, so the process boundary costs one pipe exchange per
message. Inputs are also cut to MAX_TEXT characters: the time limit is the guarantee, the cut
keeps the pipe small.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
from collections.abc import Sequence

MAX_TEXT = 64 * 1024
TIMEOUT_SECONDS = 0.5

_WORKER = """
import json, re, sys
for line in sys.stdin:
    texts, pairs = json.loads(line)
    found = [re.search(p, texts[i]) is not None for p, i in pairs]
    sys.stdout.write(json.dumps(found) + "\\n")
    sys.stdout.flush()
"""


class PatternGuard:
    """Searches patterns in a child process with a time limit per batch."""

    def __init__(self, timeout: float = TIMEOUT_SECONDS) -> None:
        self.timeout = timeout
        self.timeouts = 0
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._pending = b""

    def _start(self) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, "-S", "-u", "-c", _WORKER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self._process, self._pending = process, b""
        return process

    def search_many(self, pairs: Sequence[tuple[str, str]]) -> list[bool] | None:
        """Whether each pattern is found in its text; None when the batch ran out of time."""
        if not pairs:
            return []
        # Each distinct text crosses the pipe once, however many patterns test it.
        texts: dict[str, int] = {}
        indexed = [(p, texts.setdefault(t[:MAX_TEXT], len(texts))) for p, t in pairs]
        request = json.dumps([list(texts), indexed])
        with self._lock:
            process = self._process or self._start()
            try:
                assert process.stdin is not None
                process.stdin.write(request.encode() + b"\n")
                process.stdin.flush()
                line = self._read_line(process)
            except (OSError, ValueError):
                line = None
            if line is not None:
                return [bool(found) for found in json.loads(line)]
            self.timeouts += 1
            self._kill()
            return None

    def _read_line(self, process: subprocess.Popen[bytes]) -> bytes | None:
        assert process.stdout is not None
        fd = process.stdout.fileno()
        deadline = _monotonic() + self.timeout
        while b"\n" not in self._pending:
            left = deadline - _monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        return line

    def _kill(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait(timeout=5)
            for stream in (self._process.stdin, self._process.stdout):
                if stream is not None:
                    stream.close()
        self._process, self._pending = None, b""

    def close(self) -> None:
        with self._lock:
            self._kill()


def _monotonic() -> float:
    import time

    return time.monotonic()


_guard: PatternGuard | None = None


def guard() -> PatternGuard:
    """The process-wide guard, started on first use (most rule sets need no regex)."""
    global _guard
    if _guard is None:
        _guard = PatternGuard()
    return _guard


def contains(needle: str, text: str) -> bool:
    """Case-insensitive substring test: plain text needs no worker."""
    return needle.casefold() in text.casefold()
