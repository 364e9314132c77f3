"""A real terminal for benchmarks: a program in a tmux pane, its screen read as tmux holds it.

Headless timings (`App.run_test`) leave out what a person waits for in a terminal: the
interpreter's start and imports, the driver writing escape sequences, the terminal taking
them in. Here the program runs in a tmux pane of a fixed size on a private tmux server, and
one control-mode client (`tmux -C`) stays attached to send keys and read the screen with
`capture-pane`, every POLL_SECONDS while a condition is waited for.

The client is attached with `-f no-output`. With tmux's `%output` notifications on, each
write of the program came back as lines with every escape and UTF-8 byte spelled out in
octal, and the reply to `capture-pane` queued behind them: a view's frame of 30 kB was on
tmux's screen ~5 ms after the program wrote it, but read 45-60 ms later (measured with the
console's own trace of its writes), more than the key itself took.
"""

from __future__ import annotations

import itertools
import os
import queue
import shlex
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

Screen = list[str]
_SERVERS = itertools.count()
POLL_SECONDS = 0.002
"""How often the screen is read while a condition is waited for: the figures' resolution."""


class TerminalTimeout(Exception):
    """The screen never showed what was waited for."""


class TmuxTerminal:
    """One program in one tmux pane; `wait` times what shows on its screen."""

    def __init__(self, size: tuple[int, int], name: str = "console-bench") -> None:
        self.width, self.height = size
        self.socket = f"{name}-{os.getpid()}-{next(_SERVERS)}"  # a tmux server each
        self._replies: queue.Queue[list[str]] = queue.Queue()
        self._client: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self.last_screen: Screen = []
        self.program: int | None = None
        """The program's process id, once started."""

    def _tmux(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", *args],
            check=True,
            capture_output=True,
            text=True,
        )

    def start(
        self, argv: Sequence[str], *, env: dict[str, str] | None = None, unset: Sequence[str] = ()
    ) -> float:
        """Run `argv` in a new pane; returns the moment (time.time()) just before its exec.

        The moment is written by the pane's own shell right before `exec`, so it is the
        process start as the program's own clock would see it, whatever tmux cost to start.
        `env` adds to the environment and `unset` takes names out of it.
        """
        stamp = Path(f"/tmp/{self.socket}.start")
        stamp.unlink(missing_ok=True)
        exports = " ".join(
            [*(f"-u {shlex.quote(name)}" for name in unset)]
            + [f"{k}={shlex.quote(v)}" for k, v in (env or {}).items()]
        )
        command = (
            f'printf %s "$EPOCHREALTIME" > {shlex.quote(str(stamp))}; '
            f"exec env {exports} {shlex.join(argv)}"
        )
        self._tmux(
            "new-session", "-d", "-s", "bench", "-x", str(self.width), "-y", str(self.height),
            "bash --norc --noprofile -c " + shlex.quote(command),
        )  # fmt: skip
        self._tmux("set-option", "-g", "remain-on-exit", "on")
        self._client = subprocess.Popen(
            [
                "tmux",
                "-L",
                self.socket,
                "-f",
                "/dev/null",
                "-C",
                "attach",
                "-f",
                "no-output",
                "-t",
                "bench",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )  # buffered: unbuffered, the reader took each byte of the screen in a system call
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._replies.get(timeout=10)  # the attach's own (empty) reply comes first
        self.program = self.pid
        deadline = time.monotonic() + 10
        while not stamp.exists() or not stamp.read_text():
            if time.monotonic() > deadline:
                raise TerminalTimeout("the pane's shell never started")
            time.sleep(0.001)
        return float(stamp.read_text().replace(",", "."))

    def _read(self) -> None:
        assert self._client is not None and self._client.stdout is not None
        block: list[str] | None = None
        for raw in self._client.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if block is not None:
                if line.startswith(("%end ", "%error ")):
                    self._replies.put(block)
                    block = None
                else:
                    block.append(line)
            elif line.startswith("%begin "):
                block = []

    def _command(self, command: str) -> list[str]:
        assert self._client is not None and self._client.stdin is not None
        self._client.stdin.write((command + "\n").encode())
        self._client.stdin.flush()
        return self._replies.get(timeout=10)

    @property
    def pid(self) -> int:
        return int(self._command("display-message -p -t bench '#{pane_pid}'")[0])

    def screen(self) -> Screen:
        self.last_screen = self._command("capture-pane -p -t bench")
        return self.last_screen

    def keys(self, *keys: str, literal: bool = False) -> float:
        """Send keys (tmux names: j, G, Enter, Escape, ']'); returns when they were sent."""
        flag = " -l" if literal else ""
        quoted = " ".join(shlex.quote(k) for k in keys)
        sent = time.perf_counter()
        self._command(f"send-keys -t bench{flag} {quoted}")
        return sent

    def wait(self, condition: Callable[[Screen], bool], timeout: float = 60.0) -> float:
        """Block until the screen meets `condition`; returns that moment (perf_counter).

        The screen is read every POLL_SECONDS, so the moment is at most that late.
        """
        deadline = time.perf_counter() + timeout
        while True:
            screen = self.screen()
            seen = time.perf_counter()
            if condition(screen):
                return seen
            if seen > deadline:
                raise TerminalTimeout("the screen never showed it:\n" + "\n".join(screen))
            left = POLL_SECONDS - (time.perf_counter() - seen)
            if left > 0:
                time.sleep(left)

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, check=False)
        if self._client is not None:
            if self._client.stdin is not None:
                self._client.stdin.close()
            self._client.wait(timeout=10)
        Path(f"/tmp/{self.socket}.start").unlink(missing_ok=True)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time process `pid` has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kb(pid: int) -> tuple[int, int]:
    """(current, peak) resident set size of process `pid` in KiB, from /proc."""
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields["VmRSS"], fields["VmHWM"]


def rss_parts_kb(pid: int) -> tuple[int, int]:
    """(anonymous, file-backed) resident memory of process `pid` in KiB: the heap (Python
    objects, SQLite's page caches, malloc's arenas) against mapped libraries and files."""
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("RssAnon", "RssFile"):
            fields[key] = int(value.split()[0])
    return fields["RssAnon"], fields["RssFile"]
