"""The Spark engine at 1,000,000 examples (see run.py): ``import --engine spark`` then
``priorities``, beside a bare Spark aggregation of the same counts, in the same run.

On the scaling curve's 1M-row Parquet file (10 metadata columns, 50 dataset tags) and two
rule tags, in one local SparkSession (started once, its start-up reported apart), per
repeat, interleaved:

- ours: :func:`erroranalysis.engines.spark.import_spark` into a new project (checks,
  the census of 52 tags, the stratified draw of 1,000 examples, their rows read by the
  importer, the project written) and the priority table from the census
  (:func:`erroranalysis.census.census_tally`);
- bare: ``groupBy(label = prediction).agg(count, sum of every tag column)`` collected.

Then the priority table is checked to equal the in-memory import's, with the same draw
recorded in both. Medians of the repeats.

    python benchmarks/spark.py [--repeat 3] [--examples 1000000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

RULES = {"low snr": "snr_db < 10", "car noise": 'noise == "car"'}
QUEUE = 1_000


def _session():
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master("local[2]")
        .appName("erroranalysis-bench")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.memory", "2g")
        .getOrCreate()
    )


def _project(db: Path):
    from erroranalysis.store import open_project

    project = open_project(db)
    for tag, rule in RULES.items():
        project.define_tag(tag, rule=rule, actor="bench")
    return project


def ours(spark, path: Path, db: Path):
    from erroranalysis.census import census_tally
    from erroranalysis.engines.spark import import_spark
    from erroranalysis.priorities import priority_table

    with _project(db) as project:
        import_spark(project, "bench", str(path), size=QUEUE, spark=spark, actor="bench")
        return priority_table(census_tally(project, "bench"))


def bare(spark, path: Path) -> list:
    from pyspark.sql import functions as F

    from erroranalysis.vocabulary import TAG_PREFIX

    frame = spark.read.parquet(str(path))
    tags = [c for c in frame.columns if c.startswith(TAG_PREFIX)]
    sums = [F.sum(F.col(f"`{c}`").cast("int")).alias(c) for c in tags]
    correct = (F.col("label") == F.col("prediction")).alias("correct")
    return frame.groupBy(correct).agg(F.count(F.lit(1)).alias("n"), *sums).collect()


def in_memory(path: Path, db: Path, counted: Path):
    """The in-memory import's priority table, the Spark draw recorded in it too."""
    from erroranalysis.evidence import load_evidence
    from erroranalysis.importing import read_dataset
    from erroranalysis.priorities import priority_table
    from erroranalysis.sampling import Draw
    from erroranalysis.store import open_project

    with open_project(counted) as project:
        store = project.dataset("bench")
        row = store.samples().iloc[0]
        draw = Draw(
            run=row["run"],
            strategy=row["strategy"],
            seed=int(row["seed"]),
            size=int(row["size"]),
            examples=store.sample_draws(int(row["id"])),
            design=row["design"],
        )
    with _project(db) as project:
        store = project.dataset("bench", create=True)
        store.import_result(read_dataset(path), actor="bench")
        store.record_sample(draw, actor="bench")
        return priority_table(load_evidence(project, "bench"))


def measure(path: Path, repeat: int) -> dict[str, object]:
    import pandas as pd

    start = time.perf_counter()
    spark = _session()
    bare(spark, path)  # the first job loads Spark's classes: not the work of either side
    warm = time.perf_counter() - start
    times: dict[str, list[float]] = {"ours": [], "bare": []}
    with tempfile.TemporaryDirectory(prefix="spark-bench-") as work:
        table = None
        for i in range(repeat):  # interleaved, so load on the machine hits both alike
            db = Path(work) / f"spark-{i}.db"
            start = time.perf_counter()
            table = ours(spark, path, db)
            times["ours"].append(time.perf_counter() - start)
            start = time.perf_counter()
            bare(spark, path)
            times["bare"].append(time.perf_counter() - start)
        spark.stop()
        memory = in_memory(path, Path(work) / "memory.db", Path(work) / "spark-0.db")
    try:
        pd.testing.assert_frame_equal(table, memory)
        equal = True
    except AssertionError:
        equal = False
    return {
        "start": warm,
        "ours": statistics.median(times["ours"]),
        "bare": statistics.median(times["bare"]),
        "equal": equal,
        "tags": len(table),
    }


def bench(record: Callable[..., None], *, examples: int = 1_000_000, repeat: int = 3) -> None:
    from scaling import parquet_of

    result = measure(parquet_of(examples), repeat)
    reference = (
        f"bare Spark groupBy + sum {result['bare']:.2f} s (session start and first job "
        f"{result['start']:.0f} s apart); table equals in-memory: {result['equal']}"
    )
    record(
        f"import --engine spark + priorities ({examples // 1000:,}k)",
        result["ours"],
        "s",
        "equal to in-memory",
        bool(result["equal"]),
        reference,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--examples", type=int, default=1_000_000)
    args = parser.parse_args()

    def show(name, value, unit, target, ok, reference):
        print(f"{'ok  ' if ok else 'MISS'} {name}: {value:.2f} {unit} | {reference}")

    bench(show, examples=args.examples, repeat=args.repeat)


if __name__ == "__main__":
    main()
