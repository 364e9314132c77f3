"""A memory probe for the console: `console_bench.py --rss --env PYTHONPATH=bench/memprobe
--env MEMPROBE_OUT=FILE` loads it into the console process (as `sitecustomize`).

Every 2 s it appends one line to FILE: anonymous RSS, SQLite's own memory
(`sqlite3_status64`, now and high-water) and glibc's heap (`mallinfo2`: arenas, in use,
free), which tells a growing cache from free malloc memory. With MEMPROBE_TYPES=1 it also
writes, every 30 s, live Textual nodes by class to FILE.nodes (after `gc.collect()`, so
what is counted is reachable), which is how the footer's kept keys were found.
"""

from __future__ import annotations

import ctypes
import gc
import os
import threading
import time
from collections import Counter
from pathlib import Path


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd",
            "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost",
        )
    ]  # fmt: skip


def _sqlite_memory(library: ctypes.CDLL) -> tuple[float, float]:
    current, highest = ctypes.c_int64(), ctypes.c_int64()
    library.sqlite3_status64(0, ctypes.byref(current), ctypes.byref(highest), 0)  # MEMORY_USED
    return current.value / 2**20, highest.value / 2**20


def _anon_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _nodes(out: str) -> None:
    from textual.message_pump import MessagePump

    gc.collect()
    counts = Counter(
        f"{type(o).__module__}.{type(o).__qualname__}"
        for o in gc.get_objects()
        if isinstance(o, MessagePump)
    )
    with open(out + ".nodes", "a") as file:
        file.write(f"--- {time.time():.0f}\n")
        file.writelines(f"{n:8d} {name}\n" for name, n in counts.most_common(30))


def _watch(out: str) -> None:
    sqlite = ctypes.CDLL("libsqlite3.so.0")
    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = _MallInfo2
    ticks = 0
    while True:
        time.sleep(2)
        ticks += 1
        if os.environ.get("MEMPROBE_TYPES") and ticks % 15 == 0:
            _nodes(out)
        heap = libc.mallinfo2()
        used, highest = _sqlite_memory(sqlite)
        with open(out, "a") as file:
            file.write(
                f"{time.time():.0f} anonMB={_anon_mb():.0f} sqliteMB={used:.1f} "
                f"(hi {highest:.1f}) malloc_arenaMB={heap.arena / 2**20:.0f} "
                f"inuseMB={heap.uordblks / 2**20:.0f} freeMB={heap.fordblks / 2**20:.0f} "
                f"threads={threading.active_count()}\n"
            )


if os.environ.get("MEMPROBE_OUT"):
    threading.Thread(
        target=_watch, args=(os.environ["MEMPROBE_OUT"],), name="memprobe", daemon=True
    ).start()
