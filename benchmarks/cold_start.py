"""Start-up of a small command, in fresh processes (see run.py).

* ``erroranalysis tags list --db SMALL`` on a project of 1,000 examples against a bare
  ``python -c "import pandas"``: the two run in turn, ``REPEAT`` times each, and the
  medians are compared (target: at most 1.3 times the bare figure). Interleaving keeps a
  busy machine from favouring either side. The processes may write bytecode (as an
  installed package has it), whatever PYTHONDONTWRITEBYTECODE says here.

Run alone: ``python benchmarks/cold_start.py``.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

REPEAT = 7
CLI_RATIO = 1.3
BARE_IMPORT = (sys.executable, "-c", "import pandas")
ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def seconds(command: Sequence[str]) -> float:
    """Wall time of one fresh process running ``command`` (which must succeed)."""
    start = time.perf_counter()
    subprocess.run(command, check=True, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def interleaved(
    ours: Sequence[str], bare: Sequence[str], *, repeat: int = REPEAT
) -> tuple[float, float]:
    """Median wall times of ``ours`` and ``bare``, run in turn ``repeat`` times each."""
    seconds(ours), seconds(bare)  # warm the file cache and the bytecode
    times: dict[str, list[float]] = {"ours": [], "bare": []}
    for _ in range(repeat):
        times["ours"].append(seconds(ours))
        times["bare"].append(seconds(bare))
    return statistics.median(times["ours"]), statistics.median(times["bare"])


def small_project(folder: Path, n: int = 1000) -> Path:
    """A project of ``n`` examples with two tags, imported by the command line."""
    rows = (
        f"e{i},{'yes' if i % 2 else 'no'},{'yes' if i % 3 else 'no'},"
        f"{'car' if i % 4 else 'clean'},{i % 5 == 0},{i % 7 == 0}"
        for i in range(n)
    )
    data = folder / "small.csv"
    data.write_text("id,label,prediction,noise,tag:faint,tag:clipped\n" + "\n".join(rows) + "\n")
    db = folder / "small.db"
    command = (sys.executable, "-m", "erroranalysis", "import", str(data), "--db", str(db))
    subprocess.run((*command, "--dataset", "small"), check=True, env=ENV, capture_output=True)
    return db


def bench_cli(record: Callable[..., None]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = small_project(Path(tmp))
        command = (sys.executable, "-m", "erroranalysis", "tags", "list", "--db", str(db))
        ours, bare = interleaved(command, BARE_IMPORT)
    record(
        "CLI start: tags list, small project (p50)",
        ours,
        "s",
        f"<= {CLI_RATIO:g}x bare",
        ours <= CLI_RATIO * bare,
        f"bare python -c 'import pandas' {bare:.2f} s ({ours / bare:.2f}x), {REPEAT} runs each",
    )


def bench(record: Callable[..., None]) -> None:
    bench_cli(record)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run import record

    bench(record)
