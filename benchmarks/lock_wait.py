"""A reviewer's tag during a 1,000,000-row ``reviews import``: how long does it wait?

    python benchmarks/lock_wait.py [--reviews N]

Starts ``erroranalysis reviews import`` of N reviews (1.15 tags each, as in the demo's
reviews) in one process and, from this one, toggles a tag with ``Project.set_tag`` every
50 ms until the import ends, timing each call from issue to commit. A third process
watches the import's hold on the write lock (see ``_lock_watch.py``), so the figures say
how many tags were issued while the import held it. The reference is a bare SQLite
``BEGIN IMMEDIATE; INSERT; COMMIT`` on an idle file, measured in the same run.

Used by ``benchmarks/run.py`` on its 1M-row project; alone, it builds its own.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

import synthetic  # noqa: E402

from erroranalysis.store import open_project  # noqa: E402

TAGS = [f"cause {i:02d}" for i in range(12)]
CLICK_EVERY = 0.05  # seconds between two of the reviewer's tag toggles
TARGET = 2.0  # seconds: a tag saved within this during the import


def write_reviews(path: Path, ids: pd.Index, *, seed: int = 0) -> int:
    """A reviews CSV over ``ids``: one tag on each row and a second on 15% of them."""
    rng = np.random.default_rng(seed)
    n = len(ids)
    first = np.array(TAGS)[rng.integers(0, len(TAGS), n)]
    second = np.array(TAGS)[rng.integers(0, len(TAGS), n)]
    two = (rng.random(n) < 0.15) & (first != second)
    tags = np.where(two, np.char.add(np.char.add(first, ";"), second), first)
    pd.DataFrame(
        {
            "id": ids,
            "reviewer": np.char.add("reviewer ", (np.arange(n) % 7).astype(str)),
            "tags": tags,
        }
    ).to_csv(path, index=False)
    return int(n + two.sum())


def bare_commits(work: Path, n: int = 300) -> list[float]:
    """Seconds per BEGIN IMMEDIATE; INSERT; COMMIT on an idle WAL file."""
    conn = sqlite3.connect(work / "idle.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("CREATE TABLE IF NOT EXISTS events (example TEXT, tag TEXT, op TEXT, at TEXT)")
    times = []
    for i in range(n):
        start = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO events VALUES (?, ?, 'add', 'now')", (str(i), "t"))
        conn.execute("COMMIT")
        times.append(time.perf_counter() - start)
    conn.close()
    return times


def measure(db: Path, dataset: str, work: Path, *, reviews: int | None = None) -> dict:
    """Run the import and the reviewer's tags side by side; return the figures."""
    with open_project(db) as project:
        ids = project.dataset(dataset).example_ids()
    if reviews is not None:
        ids = ids[:reviews]
    csv = work / "reviews.csv"
    pairs = write_reviews(csv, ids)
    rng = random.Random(0)
    waits: list[tuple[float, float]] = []  # (issued, seconds to commit), monotonic clock
    with open_project(db) as reviewer:
        reviewer.dataset(dataset).example_ids()  # warm, as a running app is
        reviewer.dataset(dataset).set_tag(ids[0], "bench click", actor="reviewer")
        command = [
            sys.executable,
            "-m",
            "erroranalysis",
            "reviews",
            "import",
            str(csv),
            "--db",
            str(db),
            "--dataset",
            dataset,
            "--actor",
            "bench",
        ]
        began = time.monotonic()
        importer = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        watcher = subprocess.Popen(
            [sys.executable, str(HERE / "_lock_watch.py"), str(db), str(importer.pid)],
            stdout=subprocess.PIPE,
            text=True,
        )
        on = True
        while importer.poll() is None:
            example = ids[rng.randrange(len(ids))]
            issued = time.monotonic()
            reviewer.dataset(dataset).set_tag(example, "bench click", on, actor="reviewer")
            waits.append((issued, time.monotonic() - issued))
            on = not on
            time.sleep(CLICK_EVERY)
        ended = time.monotonic()
    assert importer.returncode == 0, "the reviews import failed"
    lock = json.loads(watcher.communicate()[0].strip().splitlines()[-1])
    during = [w for t, w in waits if t <= ended]
    held = [w for t, w in waits if any(start <= t <= end for start, end in lock["intervals"])]
    bare = bare_commits(work)
    return {
        "reviews": len(ids),
        "tag_pairs": pairs,
        "import_seconds": ended - began,
        "tags_issued": len(during),
        "tags_issued_while_locked": len(held),
        "wait_max": max(during),
        "wait_p50": float(np.median(during)),
        "wait_max_while_locked": max(held, default=0.0),
        "lock_max_hold": lock["max_hold"],
        "lock_total_hold": lock["total_hold"],
        "lock_holds": lock["holds"],
        "bare_p50": float(np.median(bare)),
        "bare_max": max(bare),
    }


def describe(figures: dict) -> str:
    return (
        f"p50 {figures['wait_p50'] * 1000:.1f} ms over {figures['tags_issued']} tags "
        f"({figures['tags_issued_while_locked']} issued while the import held the lock); "
        f"import of {figures['reviews']:,} reviews / {figures['tag_pairs']:,} tags took "
        f"{figures['import_seconds']:.1f} s, holding the lock {figures['lock_holds']} times, "
        f"longest {figures['lock_max_hold']:.2f} s, {figures['lock_total_hold']:.1f} s in all; "
        f"bare SQLite BEGIN IMMEDIATE+INSERT+COMMIT on an idle file p50 "
        f"{figures['bare_p50'] * 1000:.2f} ms, max {figures['bare_max'] * 1000:.2f} ms"
    )


def build_project(db: Path, n: int) -> str:
    frame = synthetic.examples(n)
    frame["correct"] = frame["label"] == frame["prediction"]
    metadata = [c for c in frame.columns if c not in ("id", "label", "prediction", "correct")]
    with open_project(db) as project:
        project.dataset("synthetic", create=True).import_run(
            frame,
            source="synthetic.csv",
            format="csv",
            media_root=None,
            metadata_columns=metadata,
            dataset_tags=[],
        )
    return "synthetic"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reviews", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        db = work / "lock.db"
        dataset = build_project(db, args.reviews)
        figures = measure(db, dataset, work)
    ok = figures["wait_max"] <= TARGET
    print(
        f"{'ok  ' if ok else 'MISS'} tag during a reviews import (max wait) "
        f"{figures['wait_max']:.3f} s, target <= {TARGET:g} s | {describe(figures)}"
    )
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
