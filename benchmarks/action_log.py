"""The Log page's query and an undo from it, on the 1M-example project that run.py's tag
writes left (see run.py): one page of the log (50 actions, with their count), a filtered
page further in, and the undo of a chosen toggle (which reads only the events after it
while no older action has been undone since). Targets: a page in at most 100 ms, an undo
in at most 50 ms (p50 of 20). Run alone with ``python benchmarks/action_log.py DB``.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

PAGE_TARGET_MS = 100.0
UNDO_TARGET_MS = 50.0


def bench(record: Callable[..., None], db: Path, best_of: Callable[..., float]) -> None:
    from erroranalysis.store import open_project

    def _ms(fn: Callable[[], object]) -> float:
        return best_of(fn) * 1000

    with open_project(db) as project:
        dataset = project.dataset_names()[0]
        total = project.log(limit=1).total
        events = project._conn.execute("SELECT count(*) FROM tag_events").fetchone()[0]
        size = f"{total:,} actions, {events:,} tag events"
        first = _ms(lambda: project.log())
        record(
            "log: first page",
            first,
            "ms",
            f"<= {PAGE_TARGET_MS:g} ms",
            first <= PAGE_TARGET_MS,
            size,
        )
        later = _ms(lambda: project.log(kinds=["tag"], dataset=dataset, offset=500))
        record(
            "log: filtered page 11",
            later,
            "ms",
            f"<= {PAGE_TARGET_MS:g} ms",
            later <= PAGE_TARGET_MS,
            size,
        )
        toggles = project.log(kinds=["tag"], limit=20).rows
        times = []
        for action, actor in zip(toggles["id"], toggles["actor"], strict=True):
            start = time.perf_counter()
            project.undo(action=int(action), actor=actor)
            times.append(time.perf_counter() - start)
        undo = statistics.median(times) * 1000
        record(
            "undo of a chosen toggle (p50)",
            undo,
            "ms",
            f"<= {UNDO_TARGET_MS:g} ms",
            undo <= UNDO_TARGET_MS,
            f"{len(times)} toggles, newest first; {size}",
        )


if __name__ == "__main__":

    def show(name: str, value: float, unit: str, target: str, ok: bool, reference: str) -> None:
        print(
            f"{'ok  ' if ok else 'MISS'} {name:<36} {value:>8.2f} {unit} target {target} | {reference}"
        )

    from run import best_of

    bench(show, Path(sys.argv[1]), best_of)
