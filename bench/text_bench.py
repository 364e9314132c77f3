"""What Japanese dates and line breaks cost: start-up imports, first calls, a long thread.

    .venv/bin/python bench/text_bench.py
    .venv/bin/python bench/text_bench.py --runs 9 --messages 400

Each import is timed in a fresh interpreter (`--runs` times, p50 and max), so nothing is
cached between runs:

  * `supportdesk.dates` with an English age and stamp (no Babel: the fast path);
  * the same with a Japanese age, stamp and phrase (imports Babel, loads the ja locale);
  * `import babel.dates` alone, and BudouX's import plus its Japanese model.

Then, in this process: wrapping a thread of `--messages` Japanese messages (a few
paragraphs each) at 100 cells cold (every line parsed by BudouX), again at 80 cells
(phrases cached: only the fill), the same thread wrapped by rich alone, for comparison, and
the split the console makes: `linebreak.warm` in the worker that reads the ticket, then
the layout on the UI thread. Prints the 1-minute load average beside the figures: on a
shared machine the wall clock follows the load. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SNIPPETS = {
    "dates, English (fast path)": (
        "from datetime import datetime, timedelta, UTC\n"
        "from supportdesk import dates\n"
        "now = datetime.now(UTC)\n"
        "dates.age(now - timedelta(hours=3), now); dates.stamp(now)\n"
    ),
    "dates, Japanese (Babel)": (
        "from datetime import datetime, timedelta, UTC\n"
        "from supportdesk import dates, i18n\n"
        "i18n.set_language('ja')\n"
        "now = datetime.now(UTC)\n"
        "dates.age(now - timedelta(hours=3), now); dates.stamp(now)\n"
        "dates.ago(now - timedelta(days=1, hours=2), now)\n"
    ),
    "import babel.dates": "import babel.dates\n",
    "BudouX and its model": "import budoux\nbudoux.load_default_japanese_parser()\n",
    "baseline (supportdesk.i18n)": "import supportdesk.i18n\n",
}

PARAGRAPH = (
    "お世話になっております。先日注文した電気ケトルが届いたのですが、箱を開けたところ"
    "本体にひびが入っていました。返金または交換をお願いできますでしょうか。"
    "注文番号は SD-{n} です。お手数をおかけしますが、よろしくお願いいたします。"
)


def time_snippet(code: str, runs: int) -> tuple[float, float]:
    env = os.environ | {"LANGUAGE": "en", "PYTHONPATH": str(ROOT)}
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=ROOT)
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), max(seconds)


def thread_figures(messages: int) -> None:
    from rich.console import Console
    from rich.text import Text

    from supportdesk.linebreak import wrap

    console = Console(width=200)
    texts = [
        Text("\n".join(PARAGRAPH.format(n=i * 10 + j) for j in range(4))) for i in range(messages)
    ]
    lines = sum(len(t.plain.split("\n")) for t in texts)

    def lay_out(width: int, ours: bool = True) -> tuple[float, int]:
        start = time.perf_counter()
        count = 0
        for text in texts:
            count += len(wrap(text, console, width) if ours else text.wrap(console, width))
        return time.perf_counter() - start, count

    from supportdesk import linebreak

    linebreak.phrase_starts.cache_clear()
    first, wrapped = lay_out(100)
    again, _ = lay_out(80)
    plain, _ = lay_out(100, ours=False)
    linebreak.phrase_starts.cache_clear()
    start = time.perf_counter()
    linebreak.warm(t.plain for t in texts)
    warming = time.perf_counter() - start
    warmed, _ = lay_out(100)
    print(f"thread of {messages} messages ({lines} Japanese lines, {wrapped} wrapped at 100):")
    print(f"  cold layout (BudouX parses every line)    {first * 1000:8.1f} ms")
    print(f"  resize to 80 cells (phrases cached)       {again * 1000:8.1f} ms")
    print(f"  rich's own wrap, for comparison            {plain * 1000:8.1f} ms")
    print(f"  warm() in the detail worker (off UI)      {warming * 1000:8.1f} ms")
    print(f"  layout after warm() (the UI thread's part) {warmed * 1000:8.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--messages", type=int, default=200)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} cores")
    baseline = None
    for name, code in SNIPPETS.items():
        p50, worst = time_snippet(code, args.runs)
        print(f"{name:32s} p50 {p50 * 1000:7.1f} ms  max {worst * 1000:7.1f} ms")
        if name.startswith("baseline"):
            baseline = p50
    if baseline is not None:
        print(f"(each process includes the interpreter; baseline {baseline * 1000:.1f} ms)")
    thread_figures(args.messages)
    print(f"load average {os.getloadavg()[0]:.2f} (1 min)")


if __name__ == "__main__":
    main()
