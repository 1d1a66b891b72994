"""kill -9 at random moments during every writing command: all or nothing, the file intact,
the log replaying to the state, and every acknowledged write kept.

Each command runs as the real CLI (``python -m erroranalysis ...``) in its own process and
is killed with SIGKILL either at a random moment of its run, or a random moment after it
was seen holding the project's write lock. The lock is SQLite's own: in WAL mode a writer
holds a POSIX lock on byte 120 of the ``-shm`` file, which another process can query
(``F_GETLK``) without taking it. A share of the kills must land while the lock is held,
so the test knows it interrupted writes, not just start-ups.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal
from store_support import add_run

from benchmarks._lock_watch import holder
from erroranalysis.store import check_project_file, open_project

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
KILLS = 20


def write_lock_holder(db: Path) -> int | None:
    """The pid holding the project's write lock, or None (asked as the lock-wait benchmark
    asks: ``F_GETLK`` on the ``-shm``, which takes nothing)."""
    return holder(f"{db}-shm")


@dataclass(frozen=True)
class Outcome:
    killed: bool  # False: the command finished before the kill
    in_write: bool  # the command held the write lock when it was killed
    returncode: int
    stdout: str


@dataclass
class Timing:
    """One uninterrupted run: when the command was first and last seen holding the write
    lock (its writing span), and when it ended."""

    first_lock: float
    last_lock: float
    end: float


def cli(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "erroranalysis", *map(str, args)]


def start(command: list[str], out: Path) -> tuple[subprocess.Popen, float]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with open(out, "w") as stdout:
        proc = subprocess.Popen(command, stdout=stdout, stderr=subprocess.STDOUT, cwd=REPO, env=env)
    return proc, time.perf_counter()


def calibrate(command: list[str], db: Path, out: Path) -> Timing:
    proc, began = start(command, out)
    seen = []
    while proc.poll() is None:
        if write_lock_holder(db) == proc.pid:
            seen.append(time.perf_counter() - began)
        time.sleep(0.0005)
    end = time.perf_counter() - began
    assert proc.returncode == 0, out.read_text()
    assert seen, "the command was never seen holding the write lock"
    return Timing(first_lock=seen[0], last_lock=seen[-1], end=end)


def run_and_kill(
    command: list[str], db: Path, out: Path, timing: Timing, rng: random.Random, *, after_lock: bool
) -> Outcome:
    """Start the command and SIGKILL it: at a random moment of its run, or (``after_lock``)
    at a random moment of its writing span, counted from when it is first seen holding
    the write lock."""
    proc, began = start(command, out)
    if after_lock:
        while proc.poll() is None and write_lock_holder(db) != proc.pid:
            time.sleep(0.0002)
        deadline = time.perf_counter() + rng.uniform(0, timing.last_lock - timing.first_lock)
    else:
        deadline = began + rng.uniform(0, timing.end)
    while proc.poll() is None and time.perf_counter() < deadline:
        time.sleep(0.0005)
    in_write = False
    if proc.poll() is None:
        in_write = write_lock_holder(db) == proc.pid
        proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed = proc.returncode == -signal.SIGKILL
    return Outcome(killed, in_write and killed, proc.returncode, out.read_text())


def integrity_ok(db: Path) -> None:
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        conn.close()


def replays(project, dataset: str = "dev") -> None:
    state = project.dataset(dataset).tag_assignments()[["example_id", "tag"]].reset_index(drop=True)
    assert_frame_equal(project.dataset(dataset).replay_tags(), state)


def raw_count(project, table: str, where: str = "1") -> int:
    return project._conn.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchone()[0]


def kill_loop(
    work: Path,
    seed: int,
    command: list[str],
    reset: Callable[[], None],
    check: Callable[[Outcome], str],
    *,
    min_in_write: int = 3,
) -> dict[str, int]:
    """Calibrate, then kill the command until KILLS kills landed; ``check`` inspects the
    project after each run and says which of "nothing" or "all" happened. At least
    ``min_in_write`` kills must land while the command holds the write lock."""
    db = work / "p.db"
    out = work / "out.txt"
    reset()
    timing = calibrate(command, db, out)
    assert check(Outcome(False, False, 0, out.read_text())) == "all"
    rng = random.Random(seed)
    tally = {"kills": 0, "in_write": 0, "nothing": 0, "all": 0, "finished": 0}
    for attempt in range(KILLS * 3):
        if tally["kills"] >= KILLS:
            break
        reset()
        outcome = run_and_kill(command, db, out, timing, rng, after_lock=attempt % 4 != 0)
        effect = check(outcome)
        if not outcome.killed:
            assert outcome.returncode == 0, outcome.stdout
            assert effect == "all"
            tally["finished"] += 1
            continue
        tally["kills"] += 1
        tally["in_write"] += outcome.in_write
        tally[effect] += 1
    assert tally["kills"] >= KILLS, tally
    # Kills that hit the command while it held the write lock: writes really were cut.
    assert tally["in_write"] >= min_in_write, tally
    return tally


# ---------------------------------------------------------------- data
def write_examples(path: Path, ids: range) -> Path:
    pd.DataFrame(
        {
            "id": [str(i) for i in ids],
            "label": ["yes" if i % 2 else "no" for i in ids],
            "prediction": ["yes" if i % 3 else "no" for i in ids],
            "snr_db": [i % 40 for i in ids],
        }
    ).to_csv(path, index=False)
    return path


def base_project(path: Path, ids: range) -> None:
    frame = pd.DataFrame(
        {
            "id": [str(i) for i in ids],
            "label": ["yes"] * len(ids),
            "prediction": ["yes" if i % 3 else "no" for i in ids],
            "correct": [bool(i % 3) for i in ids],
        }
    )
    with open_project(path) as p:
        add_run(p, "dev", frame)


def copier(baseline: Path, db: Path) -> Callable[[], None]:
    def reset() -> None:
        for suffix in ("-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(baseline, db)

    return reset


@pytest.fixture
def work(tmp_path) -> Path:
    (tmp_path / "data").mkdir()
    return tmp_path


# ---------------------------------------------------------------- the commands
def test_kill_import_into_a_new_file(work):
    n = 40_000
    data = write_examples(work / "data" / "dev.csv", range(n))
    db = work / "p.db"

    def reset() -> None:
        for leftover in work.iterdir():
            if leftover.name != "data":
                leftover.unlink()

    def check(outcome: Outcome) -> str:
        if db.exists():  # a complete project, never a half one
            assert check_project_file(db) is not None
            integrity_ok(db)
        with open_project(db) as p:  # opens it, or makes it if the kill came first
            names = p.dataset_names()
            if names:
                assert names == ["dev"] and p.dataset("dev").run().n_examples == n
                assert len(p.dataset("dev").examples()) == n
        leftovers = {f.name for f in work.iterdir()} - {"data", "out.txt"}
        assert leftovers <= {"p.db", "p.db-wal", "p.db-shm"}, leftovers  # no draft left
        return "all" if names else "nothing"

    # Its one write transaction holds the lock for about a millisecond (the Parquet
    # encoding happens before it), so few kills can land inside it.
    command = cli("import", data, "--db", db, "--dataset", "dev")
    print(kill_loop(work, 1, command, reset, check, min_in_write=1))


def test_kill_import_replace(work):
    # 10,000 ids go: their tags are removed and their reviews retracted in the transaction
    old, new, gone = range(20_000), range(10_000, 30_500), 10_000
    baseline = work / "data" / "baseline.db"
    base_project(baseline, old)
    with open_project(baseline) as p:
        reviews = pd.DataFrame({"id": [str(i) for i in range(gone)], "reviewer": "ana"})
        p.dataset("dev").record_reviews(reviews, tags=[["t"]] * gone, actor="ana")
    data = write_examples(work / "data" / "new.csv", new)
    db = work / "p.db"

    def check(outcome: Outcome) -> str:
        integrity_ok(db)
        with open_project(db) as p:
            replays(p)
            n = p.dataset("dev").run().n_examples
            tagged, reviewed = (
                len(p.dataset("dev").tag_assignments()),
                len(p.dataset("dev").reviews()),
            )
        if n == len(old):
            assert (tagged, reviewed) == (gone, gone)
            return "nothing"
        assert (n, tagged, reviewed) == (len(new), 0, 0)
        return "all"

    command = cli("import", data, "--db", db, "--dataset", "dev", "--replace")
    print(kill_loop(work, 2, command, copier(baseline, db), check))


def test_kill_reviews_import(work):
    n = 25_000  # staged: reviews and tag events in several short transactions
    baseline = work / "data" / "baseline.db"
    base_project(baseline, range(30_000))
    data = work / "data" / "reviews.csv"
    pd.DataFrame(
        {
            "id": [str(i) for i in range(n)],
            "reviewer": [f"r{i % 3}" for i in range(n)],
            "tags": ["car noise;blurry" if i % 2 else "" for i in range(n)],
        }
    ).to_csv(data, index=False)
    db = work / "p.db"

    def check(outcome: Outcome) -> str:
        integrity_ok(db)
        with open_project(db, readonly=True) as reader:  # what readers see, before cleanup
            seen = (
                len(reader.dataset("dev").reviews()),
                len(reader.dataset("dev").tag_assignments()),
                len(reader.dataset("dev").tag_events()),
            )
        assert seen in ((0, 0, 0), (n, n, n)), seen  # 12,500 examples x 2 tags
        with open_project(db) as p:  # the next writer removes a killed import's rows
            replays(p)
            assert raw_count(p, "pending_actions") == 0
            assert raw_count(p, "reviews") == seen[0]
            assert raw_count(p, "tag_events") == seen[2]
            tags = set(p.tag_definitions().tag)
        assert tags == ({"car noise", "blurry"} if seen[0] else set())
        return "all" if seen[0] else "nothing"

    command = cli("reviews", "import", data, "--db", db, "--dataset", "dev", "--actor", "lead")
    print(kill_loop(work, 3, command, copier(baseline, db), check))


def test_kill_tags_import(work):
    n = 400
    baseline = work / "data" / "baseline.db"
    base_project(baseline, range(100))
    data = work / "data" / "tags.csv"
    pd.DataFrame(
        {
            "tag": [f"tag {i:03d}" for i in range(n)],
            "hlp": [round(0.5 + i / 1000, 3) for i in range(n)],
            "effort": [1 + i % 5 for i in range(n)],
            "description": [f"the {i}th kind of error" for i in range(n)],
        }
    ).to_csv(data, index=False)
    db = work / "p.db"

    def check(outcome: Outcome) -> str:
        integrity_ok(db)
        with open_project(db) as p:
            defined = len(p.tag_definitions())
            logged = raw_count(p, "actions", "kind = 'define_tags'")
        assert (defined, logged) in ((0, 0), (n, 1)), (defined, logged)
        return "all" if defined else "nothing"

    command = cli("tags", "import", data, "--db", db)
    print(kill_loop(work, 4, command, copier(baseline, db), check))


def test_kill_undo(work):
    n = 25_000
    baseline = work / "data" / "baseline.db"
    base_project(baseline, range(n))
    with open_project(baseline) as p:
        reviews = pd.DataFrame({"id": [str(i) for i in range(n)], "reviewer": "ana"})
        p.dataset("dev").record_reviews(reviews, tags=[["car noise"]] * n, actor="lead")
    db = work / "p.db"

    def check(outcome: Outcome) -> str:
        integrity_ok(db)
        with open_project(db) as p:
            replays(p)
            state = (
                len(p.dataset("dev").reviews()),
                len(p.dataset("dev").tag_assignments()),
                raw_count(p, "actions", "kind = 'undo'"),
            )
        assert state in ((n, n, 0), (0, 0, 1)), state
        return "all" if state[2] else "nothing"

    command = cli("undo", "--db", db, "--dataset", "dev", "--reviewer", "lead")
    print(kill_loop(work, 5, command, copier(baseline, db), check))


STREAM = """
import random, sys
from erroranalysis.store import open_project
path, seed = sys.argv[1], int(sys.argv[2])
rng = random.Random(seed)
with open_project(path) as p:
    state = set(p.dataset("dev").tag_assignments()[["example_id", "tag"]].itertuples(index=False, name=None))
    print("ready", flush=True)
    while True:
        pair = (str(rng.randrange(50)), rng.choice("abc"))
        present = pair not in state  # always a change, so every write is logged
        p.dataset("dev").set_tag(*pair, present, actor="stream")
        state ^= {pair}
        print(*pair, "add" if present else "remove", flush=True)  # acknowledged
"""


def test_kill_a_stream_of_tag_writes(work):
    db = work / "p.db"
    base_project(db, range(50))
    out = work / "out.txt"
    rng = random.Random(6)
    # Each write holds the lock for well under a millisecond: half the rounds kill the
    # moment the lock is seen, the others at a random moment of 0.4 s of writing.
    timings = [Timing(first_lock=0.0, last_lock=span, end=span) for span in (0.0, 0.4)]
    tally = {"kills": 0, "in_write": 0, "acknowledged": 0}
    for round_ in range(KILLS):
        with open_project(db) as p:
            logged_before = len(p.dataset("dev").tag_events())
        command = [sys.executable, "-c", STREAM, str(db), str(round_)]
        outcome = run_and_kill(command, db, out, timings[round_ % 2], rng, after_lock=True)
        assert outcome.killed, outcome.stdout
        acks = [line.split() for line in outcome.stdout.splitlines()[1:] if line.strip()]
        # The last line may be cut by the kill: only whole lines are acknowledgements.
        if acks and not outcome.stdout.endswith("\n"):
            acks = acks[:-1]
        integrity_ok(db)
        with open_project(db) as p:
            replays(p)
            events = p.dataset("dev").tag_events().iloc[logged_before:]
        logged = events[["example_id", "tag", "op"]].values.tolist()
        # Every acknowledged write is there, in order; at most one more committed unseen.
        assert logged[: len(acks)] == acks
        assert len(logged) in (len(acks), len(acks) + 1)
        tally["kills"] += 1
        tally["in_write"] += outcome.in_write
        tally["acknowledged"] += len(acks)
    assert tally["in_write"] >= 3, tally
    assert tally["acknowledged"] > KILLS, tally
    print(tally)
