"""Handing freed heap memory back to the system after the console's big reads.

glibc's malloc keeps memory that threads free inside its arenas (one per thread, up to eight
per core) for the next allocation, and returns it to the system only from the top of the
main heap. The console's workers run on short-lived threads, each count of a broad search
fills and empties SQLite's page cache and a few thousand Python objects, and the freed
pieces end up scattered over several arenas: on the 1,000,000-message store 30-55 MB of the
console's resident memory was free malloc memory after a few rounds of searches and scrolls
(bench/README.md). `malloc_trim(0)` gives back every whole free page of every arena (0.1 to
15 ms, by how much was freed), so it runs on a worker thread after a big read and at most
once per TRIM_EVERY seconds.

Elsewhere than glibc (musl, macOS) there is nothing to call and nothing happens.
"""

from __future__ import annotations

import ctypes
import threading
import time
from collections.abc import Callable

TRIM_EVERY = 2.0
"""Seconds between two trims at most: a burst of searches trims once."""

_lock = threading.Lock()
_last = -TRIM_EVERY
_trim: Callable[[int], int] | None = None
_loaded = False


def _malloc_trim() -> Callable[[int], int] | None:
    global _trim, _loaded
    if not _loaded:
        _loaded = True
        try:
            # The process's own symbols: libc is loaded, and find_library would run ldconfig.
            function = ctypes.CDLL(None).malloc_trim
        except (OSError, AttributeError):
            function = None
        if function is not None:
            function.argtypes = [ctypes.c_size_t]
            function.restype = ctypes.c_int
        _trim = function
    return _trim


def release_heap(*, now: float | None = None) -> bool:
    """Give free heap pages back to the system unless that was done under TRIM_EVERY
    seconds ago; whether a trim ran. Meant for worker threads, never the UI thread."""
    global _last
    moment = time.monotonic() if now is None else now
    with _lock:
        if moment - _last < TRIM_EVERY:
            return False
        _last = moment
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
