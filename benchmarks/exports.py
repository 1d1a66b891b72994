"""``export examples`` at 1,000,000 examples (see run.py): the synthetic predictions with 50
dataset tags and 20,000 reviews (a fifth of them with a note and a corrected label) in a
project file.

Ours is the export's work on the run's evidence and reviews: ``examples_sheet`` (the
sheet with its 50 ``tag:NAME`` columns, the joined ``tags``, reviewers and notes) then
``write_export`` (CSV: formula-safe text; Parquet), as the app does from its cached
evidence. Bare is pandas writing the finished sheet, the same columns: ``sheet.to_csv``
and ``sheet.to_parquet``. Targets: at most 3 times bare for CSV, 2 times for Parquet. The
reference also gives the whole ``export`` command's figure, reading the run from the
project file included (``load_evidence`` and the reviews). Each figure is the median of 3
repeats, ours and bare interleaved, so that both meet the same state of the machine.

    python benchmarks/exports.py            # alone, prints the two rows
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import synthetic

REVIEWS = 20_000
REPEATS = 3
TARGETS = {"csv": 3.0, "parquet": 2.0}


def build(db: Path, n: int = 1_000_000) -> None:
    """The project file: one dataset, its run with 50 dataset tags, and the reviews."""
    from erroranalysis.store import open_project

    frame = synthetic.examples(n)
    tags = synthetic.tag_matrix(frame)
    frame = pd.concat([frame, tags.add_prefix("tag:")], axis=1)
    frame["correct"] = (frame["label"] == frame["prediction"]).to_numpy()
    metadata = [c for c in synthetic.examples(1).columns if c not in ("id", "label", "prediction")]
    rng = np.random.default_rng(7)
    reviewed = rng.choice(n, REVIEWS, replace=False)
    flagged = rng.random(REVIEWS) < 0.2
    reviews = pd.DataFrame(
        {
            "id": frame["id"].to_numpy()[reviewed],
            "reviewer": rng.choice(["ana", "ben", "chen"], REVIEWS),
            "note": np.where(flagged, "=label looks wrong", ""),
            "label_wrong": flagged,
            "corrected_label": np.where(flagged, "class_0", None),
        }
    )
    with open_project(db) as project:
        store = project.dataset("synthetic", create=True)
        store.import_run(
            frame,
            source="synthetic.parquet",
            format="parquet",
            media_root=None,
            metadata_columns=[c for c in metadata if c != "confidence"],
            dataset_tags=list(tags.columns),
            actor="bench",
        )
        store.record_reviews(reviews, tags=None, actor="bench")


def measure(db: Path, work: Path) -> dict[str, dict[str, float]]:
    """Median seconds per format of reading the run's evidence and reviews (``read``),
    building the sheet and writing it (``ours``), and bare pandas writing the same sheet
    (``bare``); ours and bare interleaved. ``read`` + ``ours`` is what
    ``export_table(project, D, "examples")`` and ``write_export`` do together."""
    from erroranalysis.analyses import load_evidence
    from erroranalysis.exports import examples_sheet, write_export
    from erroranalysis.store import open_project

    times: dict[str, dict[str, list[float]]] = {
        fmt: {"read": [], "ours": [], "bare": []} for fmt in TARGETS
    }
    with open_project(db, readonly=True) as project:
        store = project.dataset("synthetic")
        sheet = examples_sheet(load_evidence(project, "synthetic"), store.reviews())  # warm
        bare: dict[str, Callable[[Path], None]] = {
            "csv": lambda path: sheet.to_csv(path, index=False),
            "parquet": lambda path: sheet.to_parquet(path, index=False),
        }
        for _ in range(REPEATS):
            for fmt in TARGETS:
                start = time.perf_counter()
                evidence, reviews = load_evidence(project, "synthetic"), store.reviews()
                built = time.perf_counter()
                table = examples_sheet(evidence, reviews)
                write_export(table, work / f"ours.{fmt}", format=fmt, kind="examples")
                done = time.perf_counter()
                times[fmt]["read"].append(built - start)
                times[fmt]["ours"].append(done - built)
                del table, evidence
                start = time.perf_counter()
                bare[fmt](work / f"bare.{fmt}")
                times[fmt]["bare"].append(time.perf_counter() - start)
    return {
        fmt: {side: statistics.median(values) for side, values in sides.items()}
        for fmt, sides in times.items()
    }


def bench(record: Callable[..., None]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        build(work / "exports.db")
        figures = measure(work / "exports.db", work)
    for fmt, limit in TARGETS.items():
        read, ours, bare = (figures[fmt][side] for side in ("read", "ours", "bare"))
        record(
            f"export examples to {fmt}, 1M x 50 tags",
            ours,
            "s",
            f"<= {limit:g}x bare",
            ours <= limit * bare,
            f"bare pandas to_{fmt} {bare:.2f} s ({ours / bare:.1f}x); with reading the run "
            f"from the project {read + ours:.2f} s ({(read + ours) / bare:.1f}x); "
            f"median of {REPEATS}",
        )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

    def show(name: str, value: float, unit: str, target: str, ok: bool, reference: str) -> None:
        print(f"{'ok  ' if ok else 'MISS'} {name:<40} {value:>8.2f} {unit} {target} | {reference}")

    bench(show)
