"""A redraw after another reviewer's tag at 1,000,000 examples with 2,000 reviews (the UI
benchmark's project, benchmarks/data/ui_1000000_v1.db, copied; see run.py).

One reviewer's tag toggle, then the run's evidence and ``priority_table``: built on the
previous revision's evidence (``load_evidence(base=...)``, as the app does) and from
scratch, interleaved, beside a bare pandas ``groupby`` of the same tag counts read from
the store (target: at most 0.3 s, the issue's p50 for the whole Priorities redraw).
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from erroranalysis import analyses
from erroranalysis.store import open_project

PROJECT = Path(__file__).parent / "data" / "ui_1000000_v1.db"


def bench(record: Callable[..., None], *, repeat: int = 7) -> None:
    if not PROJECT.exists():
        print(f"skip incremental evidence: {PROJECT} is made by ui_latency.py", flush=True)
        return
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / PROJECT.name
        shutil.copy(PROJECT, db)
        with open_project(db) as project:
            dataset = project.dataset_names()[0]
            store = project.dataset(dataset)
            frame = store.examples()
            tag = analyses.reviewable_tags(project, dataset)[0]
            ids = frame["id"].astype(str).tolist()
            base = analyses.load_evidence(project, dataset, examples=frame)
            times: dict[str, list[float]] = {"incremental": [], "full": [], "bare": []}
            for r in range(repeat):
                for how, runs in times.items():
                    store.set_tag(ids[r], tag, how != "full", actor="another reviewer")
                    start = time.perf_counter()
                    if how == "bare":
                        store.tag_assignments().groupby("tag")["example_id"].nunique()
                    else:
                        evidence = analyses.load_evidence(
                            project, dataset, examples=frame, base=base if how != "full" else None
                        )
                        analyses.priority_table(evidence)
                        base = evidence
                    runs.append(time.perf_counter() - start)
    ours, full, bare = (statistics.median(times[k]) for k in ("incremental", "full", "bare"))
    record(
        "priorities after another's tag (1M)",
        ours,
        "s",
        "<= 0.3 s",
        ours <= 0.3,
        f"from scratch {full:.3f} s, bare groupby of the tag counts {bare:.4f} s",
    )
