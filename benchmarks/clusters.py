"""Clusters of similar errors against their target: 10,000 errors with 384-d embeddings
(and 40,000 correct examples beside them) clustered, k chosen, every example counted and
the 2-D map drawn in <= 20 s, beside a bare scikit-learn KMeans of the same points with
the same k in the same run.

Run alone with ``python benchmarks/clusters.py``, or from ``benchmarks/run.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pandas as pd

ERRORS = 10_000
CORRECT = 40_000
DIMENSIONS = 384
GROUPS = 12
TARGET_S = 20.0


def examples(*, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Examples around 12 directions of a 384-d space; the errors concentrate in four."""
    rng = np.random.default_rng(seed)
    n = ERRORS + CORRECT
    centres = rng.normal(size=(GROUPS, DIMENSIONS)).astype(np.float32)
    error = np.zeros(n, dtype=bool)
    error[rng.choice(n, ERRORS, replace=False)] = True
    weak = rng.integers(0, 4, n)
    other = rng.integers(0, GROUPS, n)
    group = np.where(error & (rng.random(n) < 0.8), weak, other)
    vectors = centres[group] + 0.6 * rng.normal(size=(n, DIMENSIONS)).astype(np.float32)
    frame = pd.DataFrame(
        {
            "id": [f"e{i:06d}" for i in range(n)],
            "label": "a",
            "prediction": np.where(error, "b", "a"),
            "correct": ~error,
        }
    )
    return frame, vectors


def bench_clusters(record: Callable[..., None]) -> None:
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    from erroranalysis.clusters import FIT_INITS, _unit, error_clusters
    from erroranalysis.embeddings import Embeddings
    from erroranalysis.evidence import Evidence

    frame, vectors = examples()
    evidence, embeddings = Evidence(frame), Embeddings(vectors, "synthetic")
    start = time.perf_counter()
    result = error_clusters(evidence, embeddings=embeddings)
    ours = time.perf_counter() - start

    # The bare work: k-means alone (the k ours chose) on the same points, normalised, with
    # the same threads; no choice of k, no counts, no map.
    points = _unit(vectors[frame["id"].isin(result.points["id"]).to_numpy()])
    with threadpool_limits(limits=1):
        start = time.perf_counter()
        KMeans(result.k, n_init=FIT_INITS, random_state=0).fit(points)
        bare = time.perf_counter() - start
    record(
        f"clusters, {ERRORS:,} errors x {DIMENSIONS}-d, with the map",
        ours,
        "s",
        f"<= {TARGET_S:g} s",
        ours <= TARGET_S,
        f"bare scikit-learn KMeans (k={result.k}) of the same {len(points):,} points "
        f"{bare:.2f} s ({ours / bare:.1f}x); k chosen by silhouette",
    )


if __name__ == "__main__":

    def _print(name, value, unit, target, ok, reference):
        print(
            f"{'ok  ' if ok else 'MISS'} {name}: {value:.2f} {unit} (target {target}) | {reference}"
        )

    bench_clusters(_print)
