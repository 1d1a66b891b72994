"""`make bench`: every speed target at 1,000,000 examples, beside the bare pandas/SQLite
figure of the same work measured in the same run. Prints a table and writes
benchmarks/out/results.json. Not a test: the figures go in the release notes."""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import action_log  # noqa: E402
import clusters  # noqa: E402
import cold_start  # noqa: E402
import compare  # noqa: E402
import discover  # noqa: E402
import drift  # noqa: E402
import exports  # noqa: E402
import incremental  # noqa: E402
import lock_wait  # noqa: E402
import page_warm  # noqa: E402
import scaling  # noqa: E402
import second_reviews  # noqa: E402
import spark  # noqa: E402
import synthetic  # noqa: E402
import workbook  # noqa: E402

OUT = HERE / "out"
RESULTS: list[dict] = []


def record(name: str, value: float, unit: str, target: str, ok: bool, reference: str) -> None:
    RESULTS.append(
        {
            "benchmark": name,
            "value": round(value, 4),
            "unit": unit,
            "target": target,
            "met": ok,
            "reference": reference,
        }
    )
    mark = "ok  " if ok else "MISS"
    print(
        f"{mark} {name:<44} {value:>10.3f} {unit:<3} target {target:<22} | {reference}", flush=True
    )


def best_of(fn: Callable[[], object], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def child(kind: str, path: Path, db: Path) -> dict:
    out = subprocess.run(
        [sys.executable, str(HERE / "_import_once.py"), kind, str(path), str(db)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_import(data: dict[str, Path], work: Path) -> Path:
    db = work / "bench.db"
    for fmt, limit in (("csv", 4.0), ("parquet", 3.0)):
        # Three fresh imports (the first into the project the later benchmarks use, the
        # others into files of their own, so none is a replace), each after a bare read.
        bares, runs = [], []
        for repeat in range(3):
            bares.append(child(f"bare-{fmt}", data[fmt], db))
            target = db if repeat == 0 else work / f"import-{fmt}-{repeat}.db"
            runs.append(child("import", data[fmt], target))
        bare = {key: statistics.median(b[key] for b in bares) for key in ("seconds", "peak_mb")}
        ours = {key: statistics.median(r[key] for r in runs) for key in ("seconds", "peak_mb")}
        each = ", ".join(f"{r['seconds']:.2f}" for r in runs)
        reference = (
            f"bare pandas read_{fmt} {bare['seconds']:.2f} s, {bare['peak_mb']:.0f} MB; "
            f"median of 3, ours {each} s"
        )
        record(
            f"import {fmt} (1M rows, 10 metadata columns)",
            ours["seconds"],
            "s",
            f"<= {limit:g} s",
            ours["seconds"] <= limit,
            reference,
        )
        record(
            f"import {fmt} peak memory",
            ours["peak_mb"],
            "MB",
            "<= 1536 MB",
            ours["peak_mb"] <= 1536,
            reference,
        )
    record_file_size(db)
    return db


def record_file_size(db: Path) -> None:
    """The project file after the imports, beside the Parquet frames it holds: the rest is
    mostly the runs' examples as SQL rows (run_examples), which the views read."""
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        (frames,) = conn.execute("SELECT sum(length(frame)) FROM runs").fetchone()
        pages, page_size = (
            conn.execute(f"PRAGMA {p}").fetchone()[0] for p in ("page_count", "page_size")
        )
    finally:
        conn.close()
    size_mb = pages * page_size / 2**20
    record(
        "project file after two 1M-row imports",
        size_mb,
        "MB",
        "<= 160 MB",
        size_mb <= 160,
        f"their Parquet frames alone {frames / 2**20:.0f} MB",
    )


def bench_tag_writes(db: Path, work: Path, n: int = 2000) -> None:
    from erroranalysis.store import open_project

    rng = random.Random(0)
    with open_project(db) as project:
        dataset = project.dataset_names()[0]
        ids = project.dataset(dataset).example_ids()
        project.dataset(dataset).set_tag(ids[0], "warm-up", actor="bench")
        times = []
        for i in range(n):
            example = ids[rng.randrange(len(ids))]
            start = time.perf_counter()
            project.dataset(dataset).set_tag(example, f"tag {i % 7}", i % 3 != 2, actor="bench")
            times.append(time.perf_counter() - start)
    bare = lock_wait.bare_commits(work, n)
    p99 = float(np.percentile(times, 99)) * 1000
    reference = (
        f"bare SQLite insert+commit p99 {np.percentile(bare, 99) * 1000:.2f} ms; "
        f"ours p50 {np.percentile(times, 50) * 1000:.2f} ms"
    )
    record("one tag write, committed (p99)", p99, "ms", "<= 5 ms", p99 <= 5, reference)


def bench_lock_wait(db: Path, work: Path) -> None:
    """A reviewer's tag (another process) during a 1M-row reviews import."""
    from erroranalysis.store import open_project

    with open_project(db, readonly=True) as project:
        dataset = project.dataset_names()[0]
    figures = lock_wait.measure(db, dataset, work)
    record(
        "tag during a 1M-row reviews import (max)",
        figures["wait_max"],
        "s",
        f"<= {lock_wait.TARGET:g} s",
        figures["wait_max"] <= lock_wait.TARGET,
        lock_wait.describe(figures),
    )
    RESULTS[-1]["figures"] = figures


def bench_engine() -> None:
    from erroranalysis.analyses import Evidence, priority_table, slice_table

    frame = synthetic.examples()
    frame["correct"] = frame["label"] == frame["prediction"]
    tags = synthetic.tag_matrix(frame)
    kinds = dict.fromkeys(tags.columns, "dataset")
    hlp = dict.fromkeys(tags.columns, 0.95)
    reviewed = pd.Series(True, index=frame.index)
    evidence = Evidence(frame, tags, kinds=kinds, reviewed=reviewed, hlp=hlp)

    def ours():
        return priority_table(evidence)

    def bare():
        # The same counts: examples and correct examples per tag.
        return tags.groupby(frame["correct"]).sum()

    ours()
    t_ours, t_bare = best_of(ours), best_of(bare)
    record(
        "priority table, 1M examples x 50 tags",
        t_ours * 1000,
        "ms",
        "<= 300 ms, <= 3x bare",
        t_ours <= 0.3 and t_ours <= 3 * t_bare,
        f"bare pandas groupby {t_bare * 1000:.0f} ms ({t_ours / t_bare:.1f}x)",
    )

    def slices():
        return slice_table(evidence, by="site")

    def bare_slices():
        return frame.groupby("site")["correct"].agg(["size", "mean"])

    slices()
    t_ours, t_bare = best_of(slices), best_of(bare_slices)
    record(
        "slices by a 20-value column, 1M examples",
        t_ours * 1000,
        "ms",
        "<= 500 ms",
        t_ours <= 0.5,
        f"bare pandas groupby {t_bare * 1000:.0f} ms",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skip-ui", action="store_true", help="skip the browser latency run")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    print("generating the synthetic 1,000,000-row dataset (cached in benchmarks/data)", flush=True)
    data = synthetic.write(HERE / "data")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        db = bench_import(data, work)
        bench_tag_writes(db, work)
        action_log.bench(record, db, best_of)
        bench_lock_wait(db, work)
    bench_engine()
    discover.bench_discover(record)
    clusters.bench_clusters(record)
    incremental.bench(record)
    compare.bench(record, best_of)
    drift.bench(record, best_of)
    second_reviews.bench(record, best_of)
    workbook.bench(record, best_of)
    exports.bench(record)
    spark.bench(record)
    scaling.bench(record)
    cold_start.bench(record, ui=not args.skip_ui)
    ui = HERE / "ui_latency.py"
    if not args.skip_ui and ui.exists():
        subprocess.run([sys.executable, str(ui), "--results", str(OUT / "ui.json")], check=True)
        RESULTS.extend(json.loads((OUT / "ui.json").read_text()))
    if not args.skip_ui:
        page_warm.bench(record)
    (OUT / "results.json").write_text(json.dumps(RESULTS, indent=2))
    print(f"wrote {OUT / 'results.json'}")


if __name__ == "__main__":
    main()
