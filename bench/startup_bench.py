"""Start-up of the commands a shell or cron runs most, as whole processes.

    .venv/bin/python bench/startup_bench.py --store bench/out/store-copy.sqlite
    .venv/bin/python bench/startup_bench.py --runs 9 --no-sync

Times, `--runs` times each, in turn:

  * `supportdesk --help`;
  * `supportdesk sync --json` that finds nothing new, against a throwaway Dovecot with a few
    messages already synced: through the fast path (cli/fastpath.py, as run from cron) and,
    for comparison, the same command with the fast path switched off (Typer parses it);
  * `supportdesk --store STORE tickets list` (and `--json`) when `--store` is given: give it
    a copy of the 100,000-ticket bench store (opening a store may write to it).

Prints wall clock p50 / max and CPU (user + system) p50 / max per command, with the 1-minute
load average seen: on a shared 2-core machine the wall clock follows the load, the CPU time
much less. Nothing is asserted; exit status 1 when a target's p50 is missed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from tests.imap_server import DovecotServer  # noqa: E402

TARGET_NOOP_SECONDS = 0.3
TARGET_HELP_SECONDS = 0.25

# The real entry point; "typer" as the first argument switches the sync fast path off.
_ENTRY = """
import sys
import supportdesk.cli.fastpath as fastpath
if sys.argv.pop(1) == "typer":
    fastpath.parse_sync = lambda argv: None
from supportdesk.cli import main
main()
"""


def timed(args: list[str], runs: int, env: dict[str, str], *, typer: bool = False) -> list[str]:
    """`supportdesk ARGS` `runs` times: a line of figures."""
    cmd = [sys.executable, "-c", _ENTRY, "typer" if typer else "fast", *args]
    walls: list[float] = []
    cpus: list[float] = []
    loads: list[float] = []
    codes: set[int] = set()
    for _ in range(runs):
        loads.append(os.getloadavg()[0])
        started = time.perf_counter()
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        _, status, usage = os.wait4(proc.pid, 0)
        walls.append(time.perf_counter() - started)
        cpus.append(usage.ru_utime + usage.ru_stime)
        codes.add(os.waitstatus_to_exitcode(status))
        if proc.stderr is not None:
            proc.stderr.close()
    return [
        f"{statistics.median(walls):.3f}",
        f"{max(walls):.3f}",
        f"{statistics.median(cpus):.3f}",
        f"{max(cpus):.3f}",
        f"{min(loads):.1f}-{max(loads):.1f}",
        ",".join(map(str, sorted(codes))),
    ]


def synced_config(work: Path, server: DovecotServer) -> Path:
    """A config whose one mailbox holds 50 messages, synced once: later syncs find nothing."""
    from sync_bench import MailMaker, new_store, write_sd_config

    account = server.new_account()
    maker = MailMaker(7, "startup")
    account.append_many([maker.make() for _ in range(50)])
    url = new_store(work / "sync.db")
    config = write_sd_config(
        work / "sync.toml", url, server, account.address, account.password, None
    )
    subprocess.run(
        [sys.executable, "-m", "supportdesk", "--config", str(config), "sync", "--json"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return config


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=15, help="runs of each command")
    parser.add_argument("--store", type=Path, help="a store for `tickets list` (give a copy)")
    parser.add_argument("--no-sync", action="store_true", help="skip the no-op sync")
    args = parser.parse_args()

    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "COLUMNS": "120"}
    # Bytecode cached, as an installed package has it, not compiled on every run.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "supportdesk")], env=env)
    rows: list[tuple[str, list[str]]] = []
    missed: list[str] = []

    def add(label: str, line: list[str], target: float | None = None) -> None:
        rows.append((label + (f" (target < {target:g} s)" if target else ""), line))
        if target is not None and float(line[0]) >= target:
            missed.append(label)

    add("supportdesk --help", timed(["--help"], args.runs, env), TARGET_HELP_SECONDS)
    work = Path(tempfile.mkdtemp(prefix="sd-startup-"))
    try:
        if not args.no_sync:
            with DovecotServer() as server:
                config = synced_config(work, server)
                sync = ["--config", str(config), "sync", "--json"]
                add("sync --json, nothing new", timed(sync, args.runs, env), TARGET_NOOP_SECONDS)
                add("  the same through Typer", timed(sync, args.runs, env, typer=True))
                plain = ["--config", str(config), "sync"]
                add("sync (a table), nothing new", timed(plain, args.runs, env))
        if args.store is not None:
            empty = work / "empty.toml"
            empty.write_text("")
            listing = ["--config", str(empty), "--store", str(args.store), "tickets", "list"]
            add("tickets list (first 50 and the count)", timed(listing, args.runs, env))
            add("tickets list --json", timed([*listing, "--json"], args.runs, env))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    header = ["wall p50", "max", "CPU p50", "max", "load", "exit"]
    width = max(len(label) for label, _ in rows)
    print(f"{'':{width}}  " + "  ".join(f"{h:>9}" for h in header))
    for label, line in rows:
        print(f"{label:{width}}  " + "  ".join(f"{v:>9}" for v in line))
    print(f"({args.runs} runs each; seconds)")
    if missed:
        print("missed: " + ", ".join(missed))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
