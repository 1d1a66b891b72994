"""The comparison of two runs and a review sample at 1,000,000 examples (see run.py).

* ``compare`` of two runs with 50 dataset tags, against a bare pandas computation of the
  same per-tag counts in the same run: the 2 × 2 table of joint correctness per tag,
  ``tags.groupby([correct_a, correct_b]).sum()``, from which both accuracies and the
  difference follow (target: at most 3 times it). Once with both runs listing the ids in
  the same order (an export of the same dataset), once with run B's rows shuffled, so
  the examples are paired by id (the bare figure then includes the same alignment).
* drawing a review sample of 1,000 with ``sampling.draw_sample``, for each strategy
  (target: at most 1 s); the active strategy fits its model on 2,000 reviewed examples.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import synthetic

SAMPLE_SIZE = 1_000
REVIEWED = 2_000


def two_runs(n: int = 1_000_000, *, seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run A (the synthetic predictions) and run B: a next model that fixes 30% of A's
    errors and breaks 2% of its correct predictions, on the same examples."""
    a = synthetic.examples(n)
    a["correct"] = (a["label"] == a["prediction"]).to_numpy()
    rng = np.random.default_rng(seed)
    flip = np.where(a["correct"], rng.random(n) < 0.02, rng.random(n) < 0.30)
    b = a.copy()
    b["correct"] = a["correct"].to_numpy() ^ flip
    b["prediction"] = np.where(b["correct"], a["label"], "other")
    return a, b


def bench_compare(record: Callable[..., None], best_of: Callable[..., float]) -> None:
    from erroranalysis.analyses import Evidence, compare_runs

    a, b = two_runs()
    tags = synthetic.tag_matrix(a)
    kinds = dict.fromkeys(tags.columns, "dataset")
    run_a = Evidence(a, tags, kinds=kinds, dataset="synthetic", run="A")
    run_b = Evidence(b, tags, kinds=kinds, dataset="synthetic", run="B")

    def ours():
        return compare_runs(run_b, baseline=run_a)

    def bare():
        return tags.groupby([a["correct"], b["correct"]]).sum()

    ours()
    t_ours, t_bare = best_of(ours), best_of(bare)
    record(
        "compare two runs, 1M examples x 50 tags",
        t_ours * 1000,
        "ms",
        "<= 3x bare",
        t_ours <= 3 * t_bare,
        f"bare pandas groupby of the paired counts {t_bare * 1000:.0f} ms ({t_ours / t_bare:.1f}x)",
    )

    order = np.random.default_rng(4).permutation(len(b))
    shuffled_b = b.iloc[order].reset_index(drop=True)
    shuffled_tags = tags.iloc[order].reset_index(drop=True)
    run_shuffled = Evidence(shuffled_b, shuffled_tags, kinds=kinds, dataset="synthetic", run="B")

    def ours_by_id():
        return compare_runs(run_shuffled, baseline=run_a)

    def bare_by_id():
        rows = pd.Index(a["id"]).get_indexer(shuffled_b["id"])
        correct_a = a["correct"].to_numpy()[rows]
        return shuffled_tags.groupby([correct_a, shuffled_b["correct"].to_numpy()]).sum()

    ours_by_id()
    t_ours, t_bare = best_of(ours_by_id), best_of(bare_by_id)
    record(
        "compare two runs paired by id (B shuffled)",
        t_ours * 1000,
        "ms",
        "<= 3x bare",
        t_ours <= 3 * t_bare,
        f"bare pandas get_indexer + groupby {t_bare * 1000:.0f} ms ({t_ours / t_bare:.1f}x)",
    )


def bench_sample(record: Callable[..., None], best_of: Callable[..., float]) -> None:
    from erroranalysis.analyses import Evidence
    from erroranalysis.sampling import draw_sample
    from erroranalysis.vocabulary import STRATEGIES

    a, _ = two_runs()
    rng = np.random.default_rng(5)
    reviewed = np.zeros(len(a), dtype=bool)
    reviewed[rng.choice(len(a), REVIEWED, replace=False)] = True
    carries = reviewed & (rng.random(len(a)) < np.where(a["correct"], 0.05, 0.3))
    tags = pd.DataFrame({"car noise": carries}, index=a.index)
    evidence = Evidence(
        a,
        tags,
        kinds={"car noise": "reviewed"},
        reviewed=pd.Series(reviewed, index=a.index),
        hlp={"car noise": 0.95},
        dataset="synthetic",
        run="A",
    )

    def bare():
        return rng.choice(len(a), SAMPLE_SIZE, replace=False)

    t_bare = best_of(bare)
    for strategy in STRATEGIES:
        seconds = best_of(lambda s=strategy: draw_sample(evidence, size=SAMPLE_SIZE, strategy=s))
        record(
            f"draw a sample of 1,000 ({strategy}), 1M examples",
            seconds,
            "s",
            "<= 1 s",
            seconds <= 1.0,
            f"bare numpy choice of 1,000 ids {t_bare * 1000:.1f} ms",
        )


def bench(record: Callable[..., None], best_of: Callable[..., float]) -> None:
    """Every benchmark of this file, recorded with run.py's ``record``."""
    bench_compare(record, best_of)
    bench_sample(record, best_of)


# ---------------------------------------------------------------------- in the browser
def add_next_run(db, dataset: str, *, run: str = "next", seed: int = 6) -> None:
    """Import a next model's run of ``dataset`` into ``db`` unless it has two runs already:
    the latest run's examples with 30% of its errors fixed and 2% of its correct
    predictions broken."""
    from erroranalysis.store import open_project

    with open_project(db) as project:
        store = project.dataset(dataset)
        if len(store.runs()) > 1:
            return
        info = store.run()
        frame = store.examples(info.name)
        rng = np.random.default_rng(seed)
        correct = frame["correct"].to_numpy()
        flip = np.where(correct, rng.random(len(frame)) < 0.02, rng.random(len(frame)) < 0.3)
        frame["correct"] = correct ^ flip
        frame["prediction"] = np.where(frame["correct"], frame["label"], "other")
        store.import_run(
            frame,
            run=run,
            source=f"{run}.parquet",
            format="parquet",
            media_root=None,
            metadata_columns=list(info.metadata_columns),
            dataset_tags=list(info.dataset_tags),
            actor="bench",
        )


# For page_drawn: the Compare page's chart (a Plotly figure) is drawn.
COMPARE_CHART = """
const chart = main.querySelector("[data-testid='stPlotlyChart'] .main-svg");
if (!chart || chart.getBoundingClientRect().height < 10) return false;
"""


def time_compare_page(browser, db, dataset: str, folder, repeat: int):
    """From the Tags page, click Compare in the navigation ``repeat`` times: until its chart
    and table are drawn and the script is done (the first visit, which computes the
    comparison, is timed apart). Returns (ui_latency's Timing of the later visits, the
    first visit's milliseconds until drawn)."""
    from urllib.parse import urlencode

    from _server import serving
    from ui_latency import APP, TIMEOUT_MS, Timing, click_and_wait, page_drawn, wait_idle

    add_next_run(db, dataset)
    with serving(APP, db, folder / f"{dataset}-compare.log") as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/tags?{urlencode({'dataset': dataset})}")
        page.wait_for_selector("h1:has-text('Tags')", timeout=TIMEOUT_MS)
        wait_idle(page)
        nav = page.get_by_test_id("stSidebarNav")
        to_compare, to_tags = (nav.get_by_role("link", name=n) for n in ("Compare", "Tags"))
        timing, first = Timing([], []), None
        for _ in range(repeat + 1):
            shown, idle = click_and_wait(page, to_compare, page_drawn("Compare", COMPARE_CHART))
            if first is None:  # the first visit computes the comparison
                first = shown
            else:
                timing.add(shown, idle)
            to_tags.click()
            page.wait_for_selector("h1:has-text('Tags')", timeout=TIMEOUT_MS)
            wait_idle(page)
        page.close()
    return timing, first
