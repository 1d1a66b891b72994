"""The scaling curve: import and priorities at 100k, 1M and 3M examples (10M with --10m),
each beside its bare reference measured in the same run, in fresh processes.

Every size is a synthetic run of 10 metadata columns and 50 dataset tags
(``synthetic.examples`` + ``synthetic.tag_matrix``) written once as Parquet. Per size and
repeat, interleaved:

- import: ``read_dataset`` + ``import_result`` into a new project, against a bare
  ``pyarrow.parquet.read_table`` + ``write_table`` of the same file;
- priorities: ``load_evidence`` + ``priority_table`` on that project (in memory), and
  ``load_tally(engine="duckdb")`` + ``priority_table`` (the DuckDB engine: the stored run
  counted out-of-core), against the bare DuckDB aggregation of the same counts (per
  correctness, the sum of every tag column) straight from the Parquet file.

Each child loads the same modules, then prints the seconds of the work alone and its peak
RSS; the table reports medians of the repeats.

    python benchmarks/scaling.py [--10m] [--repeat 3] [--markdown]
    python benchmarks/scaling.py --sizes 10000000 --project P.db --kinds duckdb-priorities \
        bare-priorities   # the priorities alone, on a project already imported
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _memory import peak_mb  # noqa: E402

DATA = HERE / "data"
SIZES = (100_000, 1_000_000, 3_000_000)
TAGS = 50


def parquet_of(n: int) -> Path:
    """The synthetic run of ``n`` examples with 50 dataset tags (written once, then reused)."""
    import synthetic

    from erroranalysis.vocabulary import TAG_PREFIX

    path = DATA / f"scaling_{n}.parquet"
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        frame = synthetic.examples(n)
        tags = synthetic.tag_matrix(frame, TAGS)
        tags.columns = [TAG_PREFIX + c for c in tags.columns]
        frame.join(tags).to_parquet(path, index=False)
    return path


def _import(path: Path, db: Path) -> None:
    from _import_once import import_file

    import_file(path, db, "scaling")


def _bare_import(path: Path, db: Path) -> None:
    import pyarrow.parquet as pq

    pq.write_table(pq.read_table(path), db.with_suffix(".bare.parquet"))


def _priorities(path: Path, db: Path) -> None:
    from erroranalysis.evidence import load_evidence
    from erroranalysis.priorities import priority_table
    from erroranalysis.store import open_project

    with open_project(db) as project:
        priority_table(load_evidence(project, "scaling"))


def _duckdb_priorities(path: Path, db: Path) -> None:
    from erroranalysis.engines.duckdb import load_tally
    from erroranalysis.priorities import priority_table
    from erroranalysis.store import open_project

    with open_project(db) as project:
        priority_table(load_tally(project, "scaling", engine="duckdb"))


def _bare_priorities(path: Path, db: Path) -> None:
    import duckdb
    import pyarrow.parquet as pq

    from erroranalysis.vocabulary import TAG_PREFIX

    tags = [c for c in pq.read_schema(path).names if c.startswith(TAG_PREFIX)]
    sums = ", ".join(f'sum("{c}"::INT) AS "{c}"' for c in tags)
    duckdb.sql(
        f"SELECT label = prediction AS correct, count(*) AS n, {sums} "
        f"FROM read_parquet('{path}') GROUP BY ALL"
    ).fetchall()


WORK = {
    "import": _import,
    "bare-import": _bare_import,
    "priorities": _priorities,
    "duckdb-priorities": _duckdb_priorities,
    "bare-priorities": _bare_priorities,
}


def _preload() -> None:
    """Import every module any kind of work uses before the clock starts: the figures are
    the work, and every child starts from the same loaded modules."""
    import _import_once  # noqa: F401
    import duckdb  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    import erroranalysis.engines.duckdb  # noqa: F401
    import erroranalysis.evidence  # noqa: F401
    import erroranalysis.importing  # noqa: F401
    import erroranalysis.priorities  # noqa: F401
    import erroranalysis.store  # noqa: F401


def child(kind: str, path: Path, db: Path) -> dict[str, float]:
    """Run one piece of work in a fresh process: its seconds and its own peak RSS."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(path), str(db)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(
    sizes: tuple[int, ...],
    repeat: int,
    kinds: tuple[str, ...] = tuple(WORK),
    project: Path | None = None,
) -> list[dict[str, object]]:
    """Medians per size of each of ``kinds``; on ``project`` (a project file holding the
    size's run as dataset ``scaling``, left as it is) instead of a fresh import."""
    rows = []
    for n in sizes:
        # Written in a child of its own: the frame and its tags stay out of this process.
        subprocess.run([sys.executable, __file__, "--write", str(n)], check=True)
        path = parquet_of(n)
        with tempfile.TemporaryDirectory(prefix="scaling-") as work:
            db = project or Path(work) / "scaling.db"
            runs: dict[str, list[dict[str, float]]] = {kind: [] for kind in kinds}
            for r in range(repeat):  # interleaved, so load on the machine hits both alike
                for kind in kinds:
                    # Every import is into a file of its own, as none is a replace; the
                    # first is the project the other kinds read.
                    target = db if kind != "import" or r == 0 else Path(work) / f"again-{r}.db"
                    runs[kind].append(child(kind, path, target))
                    if target != db:
                        for suffix in ("", "-wal", "-shm"):
                            Path(f"{target}{suffix}").unlink(missing_ok=True)
        row: dict[str, object] = {"examples": n}
        for kind, results in runs.items():
            row[f"{kind} s"] = statistics.median(r["seconds"] for r in results)
            row[f"{kind} MB"] = statistics.median(r["peak_mb"] for r in results)
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def bench(record: Callable[..., None], *, examples: int = 1_000_000, repeat: int = 3) -> None:
    """For ``make bench``: the DuckDB engine's cold priorities on a stored run of
    ``examples`` (imported once) beside the bare DuckDB counts of the same sums (target:
    at most 2x)."""
    subprocess.run([sys.executable, __file__, "--write", str(examples)], check=True)
    path = parquet_of(examples)
    kinds = ("duckdb-priorities", "bare-priorities")
    with tempfile.TemporaryDirectory(prefix="scaling-") as work:
        db = Path(work) / "scaling.db"
        child("import", path, db)
        (row,) = measure((examples,), repeat, kinds, db)
    ours, bare = row["duckdb-priorities s"], row["bare-priorities s"]
    record(
        f"priorities --engine duckdb, cold ({examples // 1000:,}k)",
        ours,
        "s",
        "<= 2x bare DuckDB",
        ours <= 2 * bare,
        f"bare DuckDB counts {bare:.2f} s; peak {row['duckdb-priorities MB']:,.0f} MB "
        f"(bare {row['bare-priorities MB']:,.0f} MB)",
    )


def markdown(rows: list[dict[str, object]]) -> str:
    if any("import s" not in r or "priorities s" not in r for r in rows):
        return "\n".join(json.dumps(r) for r in rows)  # a partial run: its figures as measured
    lines = [
        "| examples | import | bare read + write | ratio | import peak | priorities "
        "| bare DuckDB counts | ratio | priorities peak | DuckDB engine | ratio | its peak |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        engine = r.get("duckdb-priorities s")
        lines.append(
            f"| {r['examples']:,} | {r['import s']:.2f} s | {r['bare-import s']:.2f} s "
            f"| {r['import s'] / r['bare-import s']:.1f}× | {r['import MB']:,.0f} MB "
            f"| {r['priorities s']:.2f} s | {r['bare-priorities s']:.2f} s "
            f"| {r['priorities s'] / r['bare-priorities s']:.1f}× "
            f"| {r['priorities MB']:,.0f} MB "
            + (
                f"| {engine:.2f} s | {engine / r['bare-priorities s']:.1f}× "
                f"| {r['duckdb-priorities MB']:,.0f} MB |"
                if engine is not None
                else "| | | |"
            )
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--10m", dest="ten", action="store_true", help="add 10,000,000")
    parser.add_argument("--repeat", type=int, default=3, help="fresh runs per size (median)")
    parser.add_argument("--child", nargs=3, metavar=("KIND", "PATH", "DB"), help=argparse.SUPPRESS)
    parser.add_argument("--write", type=int, metavar="N", help=argparse.SUPPRESS)
    parser.add_argument("--sizes", type=int, nargs="+", help="these sizes instead")
    parser.add_argument("--kinds", nargs="+", choices=list(WORK), help="only these figures")
    parser.add_argument(
        "--project", type=Path, help="a project holding the run already (with --kinds)"
    )
    args = parser.parse_args()
    if args.write:
        parquet_of(args.write)
        return
    if args.child:
        kind, path, db = args.child
        _preload()
        start = time.perf_counter()
        WORK[kind](Path(path), Path(db))
        seconds = time.perf_counter() - start
        print(json.dumps({"seconds": seconds, "peak_mb": peak_mb()}))
        return
    sizes = tuple(args.sizes or SIZES + ((10_000_000,) if args.ten else ()))
    kinds = tuple(args.kinds or WORK)
    if args.project and (len(sizes) != 1 or {"import", "bare-import"} & set(kinds)):
        parser.error("--project needs one size and --kinds without import")
    print(markdown(measure(sizes, args.repeat, kinds, args.project)))


if __name__ == "__main__":
    main()
