"""Weak-slice discovery against its targets, each search in a fresh process so that its peak
memory is its own (the whole process: data, evidence and search).

* 1,000,000 examples x 10 categorical columns of 2 to 20 values, level 3: ``discover``
  <= 10 s and <= 3 GB, beside a bare exhaustive numpy search of the same lattice (one
  bincount per combination of up to three columns, every cell scored, no pruning).
* 100,000 examples x 6 columns, level 3: at least 10x faster than the ``sliceline``
  package's ``Slicefinder`` on the same one-hot features, with the bare search beside.

Each time is the search alone: the modules it loads (scipy's tests for ours, the package
for Slicefinder) are loaded before its clock starts.

Run alone with ``python benchmarks/discover.py``, or from ``benchmarks/run.py``.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from _memory import peak_mb

LEVEL = 3
ALPHA = 0.95
TOP = 20
MIN_SUPPORT = 0.01
BIG = (1_000_000, (2, 3, 4, 5, 6, 8, 10, 12, 16, 20))
SMALL = (100_000, (2, 3, 4, 5, 6, 8))


def examples(n: int, cardinalities: tuple[int, ...], *, seed: int = 0) -> pd.DataFrame:
    """Categorical columns c0, c1, ... with skewed (Zipf-like) value frequencies, errors at
    10% with two planted weak slices (levels 2 and 3)."""
    rng = np.random.default_rng(seed)
    columns = {}
    for i, k in enumerate(cardinalities):
        weights = 1 / np.arange(1, k + 1) ** 0.8
        codes = rng.choice(k, n, p=weights / weights.sum())
        columns[f"c{i}"] = pd.Categorical.from_codes(codes, [f"v{j}" for j in range(k)])
    frame = pd.DataFrame(columns)
    p = np.full(n, 0.10)
    p[(frame["c0"] == "v0") & (frame["c3"] == "v1")] = 0.3
    p[(frame["c1"] == "v1") & (frame["c2"] == "v0") & (frame["c4"] == "v2")] = 0.5
    wrong = rng.random(n) < p
    return frame.assign(label="a", prediction=np.where(wrong, "b", "a"), correct=~wrong)


def bare_search(codes: list[np.ndarray], errors: np.ndarray, *, level: int, top: int) -> np.ndarray:
    """The same lattice searched exhaustively: per combination of up to ``level`` columns,
    one bincount of the combined codes; every cell of enough examples scored."""
    n, mean = len(errors), errors.mean()
    min_sup = int(MIN_SUPPORT * n)
    best = np.zeros(0)
    cards = [int(c.max()) + 1 for c in codes]
    for size in range(1, level + 1):
        for combo in itertools.combinations(range(len(codes)), size):
            code = np.zeros(n, dtype=np.int64)
            for column in combo:
                code = code * cards[column] + codes[column]
            total = int(np.prod([cards[c] for c in combo]))
            sizes = np.bincount(code, minlength=total)
            wrong = np.bincount(code[errors], minlength=total)
            ok = sizes >= min_sup
            score = ALPHA * (wrong[ok] / sizes[ok] / mean - 1) - (1 - ALPHA) * (n / sizes[ok] - 1)
            best = np.sort(np.concatenate([best, score]))[-top:]
    return best


def _timed(fn: Callable[[], object]) -> tuple[float, float]:
    """Wall and CPU seconds of ``fn()``: on a machine shared with others the wall time
    also counts the waits for a core."""
    start, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - start, time.process_time() - cpu


def child(kind: str, n: int, cardinalities: tuple[int, ...]) -> dict:
    """One search in this process: prints seconds (the search alone) and peak memory."""
    from erroranalysis.discover import discover_slices, slice_features
    from erroranalysis.evidence import Evidence

    evidence = Evidence(examples(n, cardinalities))
    errors = ~evidence.examples["correct"].to_numpy()
    if kind == "ours":
        # The modules the search loads on first use (its tests), loaded before the clock
        # starts, as Slicefinder's are: the figure is the search.
        import scipy.stats  # noqa: F401

        seconds, cpu = _timed(
            lambda: discover_slices(evidence, max_level=LEVEL, top=TOP, alpha=ALPHA)
        )
    elif kind == "bare":
        codes = [evidence.examples[c].cat.codes.to_numpy() for c in evidence.examples.columns[:-3]]
        seconds, cpu = _timed(lambda: bare_search(codes, errors, level=LEVEL, top=TOP))
    else:
        from sliceline.slicefinder import Slicefinder

        features = slice_features(evidence).astype(str).to_numpy()
        warnings.simplefilter("ignore")  # its advice to install numba
        finder = Slicefinder(alpha=ALPHA, k=TOP, max_l=LEVEL, min_sup=MIN_SUPPORT, verbose=False)
        seconds, cpu = _timed(lambda: finder.fit(features, errors.astype(float)))
    return {"seconds": seconds, "cpu": cpu, "peak_mb": peak_mb()}


def measure(kind: str, n: int, cardinalities: tuple[int, ...]) -> dict:
    """:func:`child` in a fresh process; ``wall`` is the whole process's time (start-up,
    data and evidence included)."""
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, __file__, kind, str(n), ",".join(map(str, cardinalities))],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1]) | {"wall": time.perf_counter() - start}


def bench_discover(record: Callable[..., None]) -> None:
    """Record the figures through ``run.py``'s ``record``."""
    ours, bare = measure("ours", *BIG), measure("bare", *BIG)
    reference = (
        f"CPU {ours['cpu']:.2f} s, whole process {ours['wall']:.1f} s; bare exhaustive numpy "
        f"search {bare['seconds']:.2f} s (CPU {bare['cpu']:.2f} s), {bare['peak_mb']:.0f} MB"
    )
    record(
        "discover, 1M x 10 categorical, level 3",
        ours["seconds"],
        "s",
        "<= 10 s",
        ours["seconds"] <= 10,
        reference,
    )
    record(
        "discover peak memory (whole process)",
        ours["peak_mb"],
        "MB",
        "<= 3072 MB",
        ours["peak_mb"] <= 3072,
        reference,
    )
    ours, bare, theirs = (measure(kind, *SMALL) for kind in ("ours", "bare", "sliceline"))
    ratio = theirs["seconds"] / ours["seconds"]
    record(
        "discover vs sliceline, 100k x 6, level 3",
        ratio,
        "x",
        ">= 10x faster",
        ratio >= 10,
        f"ours {ours['seconds']:.2f} s (CPU {ours['cpu']:.2f}), Slicefinder "
        f"{theirs['seconds']:.2f} s (CPU {theirs['cpu']:.2f}, {theirs['peak_mb']:.0f} MB), "
        f"bare exhaustive numpy {bare['seconds']:.2f} s",
    )


if __name__ == "__main__":
    if len(sys.argv) == 4:
        kind, n, cards = sys.argv[1:4]
        print(json.dumps(child(kind, int(n), tuple(int(c) for c in cards.split(",")))))
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from run import record

        bench_discover(record)
