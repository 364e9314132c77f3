"""Bootstrap a local virtual environment from the lock file, then run one project command.

Why a script and not a Makefile: a fresh clone is promised to need only Python 3.11+ and pip.

    python3 scripts/dev.py demo     open supportdesk on a demo store
    python3 scripts/dev.py test     run the whole test suite on 2 workers (extra args go to
                                    pytest; -n 0 runs it in one process)
    python3 scripts/dev.py bench    run the store benchmark
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("SUPPORTDESK_VENV", ROOT / ".venv"))
LOCK = ROOT / "requirements" / "lock.txt"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")


def _stamp() -> str:
    digest = hashlib.sha256(LOCK.read_bytes())
    digest.update((ROOT / "pyproject.toml").read_bytes())
    return digest.hexdigest()


def ensure_venv() -> None:
    """Create .venv and install the locked dependencies, only when the lock changed."""
    if sys.version_info < (3, 11):  # noqa: UP036 (this script may run on an older python3)
        sys.exit("supportdesk needs Python 3.11 or newer")
    stamp_file = VENV / ".supportdesk-lock"
    if stamp_file.exists() and stamp_file.read_text() == _stamp():
        return
    if not (BIN / "python").exists():
        print(f"creating {VENV}", file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(VENV)
    pip = [str(BIN / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "--require-hashes", "-r", str(LOCK)], check=True)
    subprocess.run([*pip, "--no-deps", "-e", str(ROOT)], check=True)
    stamp_file.write_text(_stamp())


def ensure_dovecot() -> None:
    """The IMAP tests start a real Dovecot: install it on a fresh machine, else do nothing.

    A failed install is reported but the tests still run; the IMAP ones then fail and say why.
    """
    sbin = os.pathsep.join([os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin"])
    if shutil.which("dovecot", path=sbin) is None:
        script = ROOT / "scripts" / "ensure_dovecot.sh"
        if subprocess.call(["bash", str(script)]) != 0:
            print(f"{script.name} failed: the IMAP tests will fail", file=sys.stderr)


PARALLEL = ["-n", "2", "--dist", "worksteal"]
"""Two pytest-xdist workers: most of a test's time is spent waiting (on PostgreSQL, Dovecot,
a subprocess, a console's worker thread), so two keep a two-core machine busy where one left
it mostly idle. Work stealing evens out the slow tests at the end of the run."""


def _parallel(args: list[str]) -> list[str]:
    """PARALLEL unless the caller chose the workers (-n, --numprocesses, -p no:xdist)."""
    chosen = any(
        arg.startswith(("-n", "--numprocesses")) or arg in ("no:xdist", "-pno:xdist")
        for arg in args
    )
    return [] if chosen else PARALLEL


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"demo", "test", "bench", "shell"}:
        print(__doc__, file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    ensure_venv()
    python = str(BIN / "python")
    if command == "demo":
        args = [python, "-m", "supportdesk", "demo", *rest]
    elif command == "test":
        ensure_dovecot()
        args = [python, "-m", "pytest", *_parallel(rest), *rest]
    elif command == "bench":
        args = [python, str(ROOT / "bench" / "store_bench.py"), *rest]
    else:
        args = [python, *rest]
    return subprocess.call(args, cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
