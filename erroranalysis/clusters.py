"""Clusters of similar errors, for a reviewer to name a whole group at once (Domino,
Eyuboglu et al., ICLR 2022, in its simplest form).

:func:`error_clusters` clusters a run's errors together with a seeded sample of its
correct examples, on the run's embedding (:mod:`erroranalysis.embeddings`) or on a TF-IDF
embedding of a text column:

* vectors are L2-normalised, so k-means groups by direction (cosine similarity), the way
  embeddings are compared;
* the correct examples in the fit (as many as there are errors, unless
  ``correct_sample`` says otherwise) tell a cluster where the model fails from a region
  that is merely dense: without them every dense region of errors would look alike;
* k is given, or chosen by the silhouette rule (:data:`K_RULE`);
* every example of the run is then assigned to its nearest centre, so a cluster's size,
  errors and error rate are counts over the whole run, not over the sample; the error
  rate carries the tool's usual 95% interval (modified Jeffreys, as for slices), and a
  cluster is ``weak`` when the interval lies wholly above the run's error rate;
* the representatives of a cluster are its errors closest to the centre;
* the 2-D map projects the clustered points on the plane of the centres' two principal
  directions (a linear map like PCA, but of the centres, so that clusters that differ
  are drawn apart; t-SNE and UMAP took too long at 10,000 errors here).

Clusters are numbered 1, 2, … by errors (most first), then error rate; the numbers are
the same for the same run, embedding, options and seed. :func:`name_cluster` tags a
cluster's errors with a reviewed tag, in one logged action; tagging is not reviewing, so
those examples enter the estimates only once someone reviews them, one by one from a
review queue or all at once with :func:`confirm_cluster`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ParamSpec, TypeVar

import numpy as np
import pandas as pd

from .embeddings import Embeddings, tfidf_embeddings
from .estimation import LEVEL, proportion_interval
from .evidence import Evidence, _check_fraction, check_evidence
from .roles import ROLES
from .vocabulary import STRATUM_DIRECT, TAG_PREFIX

if TYPE_CHECKING:
    from .store import DatasetStore

P = ParamSpec("P")
R = TypeVar("R")

__all__ = [
    "CLUSTER_COLUMNS",
    "K_RULE",
    "POINT_COLUMNS",
    "ErrorClusters",
    "confirm_cluster",
    "error_clusters",
    "name_cluster",
]

CLUSTER_COLUMNS = [
    "cluster",
    "examples",
    "errors",
    "error_rate",
    "error_rate_low",
    "error_rate_high",
    "share_of_errors",
    "weak",
    "common_error",
    "common_metadata",
    "representatives",
]
POINT_COLUMNS = ["id", "cluster", "error", "x", "y", "representative"]
K_CHOICES = range(2, 21)
MAX_K = 100
SILHOUETTE_POINTS = 3_000
# Above this many points, MiniBatchKMeans instead of KMeans (the same objective, in batches).
FULL_KMEANS_POINTS = 50_000
FIT_INITS = 2  # k-means++ starts of the final fit; the best of them is kept
K_RULE = (
    "k from 2 to 20, and at most the square root of the number of errors, with the highest "
    f"silhouette (cosine) on a seeded sample of at most {SILHOUETTE_POINTS:,} of the "
    "clustered points; the smaller k on a tie"
)
# The outline of a cluster on the map surrounds this share of its errors nearest its centre,
# so that a few far-off errors do not stretch it over the whole map.
OUTLINE_SHARE = 0.8
REPRESENTATIVE_SEPARATOR = "; "
# A metadata column with more distinct values than this is not profiled (an id, a speaker).
MAX_PROFILE_VALUES = 20


@dataclass(frozen=True, eq=False)
class ErrorClusters:
    """What :func:`error_clusters` found (never mutate).

    ``clusters`` has :data:`CLUSTER_COLUMNS`, one row per cluster in number order;
    ``points`` has :data:`POINT_COLUMNS`, one row per clustered example (every error and
    the sampled correct examples) with its map coordinates and its rank among its cluster's
    representatives (0: not one); ``outlines`` the closed outline of each cluster on the map
    (cluster, x, y, in drawing order); ``centres`` each cluster's centre on the map.
    """

    clusters: pd.DataFrame
    points: pd.DataFrame
    outlines: pd.DataFrame
    centres: pd.DataFrame
    k: int
    k_rule: str
    source: str
    error_rate: float  # the run's
    correct_sampled: int
    correct_total: int
    seed: int

    def members(self, cluster: int) -> list[str]:
        """The ids of the errors in ``cluster`` (what naming it tags); ValueError if none."""
        if cluster not in set(self.clusters["cluster"]):
            numbers = f"1 to {self.k}" if self.k else "none: the run has no errors"
            raise ValueError(f"there is no cluster {cluster!r} (clusters: {numbers})")
        points = self.points
        return points.loc[(points["cluster"] == cluster) & points["error"], "id"].tolist()


def _check_options(
    evidence: Evidence,
    *,
    embeddings: object,
    text_column: object,
    k: object,
    correct_sample: object,
    seed: object,
    level: object,
    representatives: object,
) -> None:
    n = len(evidence.examples)
    if embeddings is not None and text_column is not None:
        raise ValueError("give embeddings or text_column, not both")
    if embeddings is None and text_column is None:
        raise ValueError(
            "no embedding to cluster: import one with the data (an 'embedding' column, "
            "emb_0 … columns, or --embeddings FILE.npy), or pass text_column to embed a text "
            "column by TF-IDF"
        )
    if embeddings is not None:
        if not isinstance(embeddings, Embeddings):
            kind = type(embeddings).__name__
            raise ValueError(f"embeddings must be an Embeddings, got {kind}")
        if len(embeddings) != n:
            raise ValueError(f"embeddings has {len(embeddings)} rows but the run has {n} examples")
    if text_column is not None:
        if not isinstance(text_column, str):
            raise ValueError(f"text_column must be a column name, got {text_column!r}")
        if text_column not in evidence.examples.columns:
            raise ValueError(f"examples has no column {text_column!r} to embed by TF-IDF")
    if k is not None and not (_is_int(k) and 2 <= k <= MAX_K):
        raise ValueError(f"k must be an integer from 2 to {MAX_K}, or None to choose it; got {k!r}")
    if correct_sample is not None and not (_is_int(correct_sample) and correct_sample >= 0):
        raise ValueError(
            f"correct_sample must be a non-negative integer or None, got {correct_sample!r}"
        )
    if not (_is_int(seed) and seed >= 0):
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    _check_fraction(level, "level")
    if not (_is_int(representatives) and representatives >= 1):
        raise ValueError(f"representatives must be a positive integer, got {representatives!r}")


def _is_int(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _one_thread(func: Callable[P, R]) -> Callable[P, R]:
    """``func`` run with native thread pools limited to one thread."""

    @functools.wraps(func)
    def limited(*args: P.args, **kwargs: P.kwargs) -> R:
        import sklearn.cluster  # noqa: F401 -- loaded first: the limit applies to loaded libraries
        from threadpoolctl import threadpool_limits

        # One thread: on a shared machine, k-means' OpenMP threads and BLAS threads contend
        # for the same cores and were 10-30x slower than a single thread, measured here.
        with threadpool_limits(limits=1):
            return func(*args, **kwargs)

    return limited


@_one_thread
def error_clusters(
    evidence: Evidence,
    *,
    embeddings: Embeddings | None = None,
    text_column: str | None = None,
    k: int | None = None,
    correct_sample: int | None = None,
    seed: int = 0,
    level: float = LEVEL,
    representatives: int = 3,
) -> ErrorClusters:
    """Cluster the run's errors with a seeded sample of its correct examples (see the module
    docstring), on ``embeddings`` (one vector per example) or on a TF-IDF embedding of
    ``text_column``.

    ``k`` clusters, or chosen by :data:`K_RULE` (never more than the points clustered);
    ``correct_sample`` correct examples join the fit (default: as many as there are
    errors, at most all of them); ``representatives`` errors per cluster are listed.
    Raises ValueError naming the problem; never modifies its input.
    """
    checked = check_evidence(evidence)
    _check_options(
        evidence,
        embeddings=embeddings,
        text_column=text_column,
        k=k,
        correct_sample=correct_sample,
        seed=seed,
        level=level,
        representatives=representatives,
    )
    examples = evidence.examples
    correct = checked.correct
    errors = np.flatnonzero(~correct)
    correct_at = np.flatnonzero(correct)
    rate = len(errors) / len(correct) if len(correct) else float("nan")
    source = embeddings.source if embeddings is not None else f"TF-IDF of column {text_column!r}"
    if not len(errors):
        return _no_clusters(source, rate, len(correct_at), seed)
    if embeddings is None:
        embeddings = tfidf_embeddings(examples, text_column, seed=seed)

    rng = np.random.default_rng(seed)
    wanted = len(errors) if correct_sample is None else int(correct_sample)
    sampled = np.sort(rng.choice(correct_at, min(wanted, len(correct_at)), replace=False))
    fitted = np.sort(np.concatenate([errors, sampled]))
    points = _unit(embeddings.vectors[fitted])
    if k is None:
        k_used, rule = _choose_k(points, len(errors), rng, seed), K_RULE
    else:
        distinct = len(np.unique(points, axis=0))
        k_used, rule = min(int(k), distinct), f"k = {k} (given)"
        if k_used < k:
            rule += f", reduced to {k_used}: only {distinct} distinct points were clustered"
    centres = _fit(points, k_used, seed)

    # Every example of the run goes to its nearest centre: the counts are the run's own.
    raw = _nearest(embeddings.vectors, centres)
    errors_per = np.bincount(raw[errors], minlength=k_used)
    size_per = np.bincount(raw, minlength=k_used)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate_per = errors_per / size_per
    order = sorted(range(k_used), key=lambda j: (-errors_per[j], -np.nan_to_num(rate_per[j]), j))
    number = np.empty(k_used, dtype=np.int64)
    number[order] = np.arange(1, k_used + 1)

    fitted_cluster = raw[fitted]
    distance = np.linalg.norm(points - centres[fitted_cluster], axis=1)
    is_error = ~correct[fitted]
    rank = _representative_ranks(fitted_cluster, distance, is_error, representatives)
    ids = examples["id"].astype(str).to_numpy() if "id" in examples else examples.index.astype(str)
    ids = np.asarray(ids, dtype=object)
    xy, centre_xy = _plane(points, centres, fitted_cluster, rng)
    frame = pd.DataFrame(
        {
            "id": ids[fitted],
            "cluster": number[fitted_cluster],
            "error": is_error,
            "x": xy[:, 0],
            "y": xy[:, 1],
            "representative": rank,
        }
    )
    low, high = proportion_interval(errors_per[order], size_per[order], level=level)
    table = pd.DataFrame(
        {
            "cluster": np.arange(1, k_used + 1),
            "examples": size_per[order],
            "errors": errors_per[order],
            "error_rate": rate_per[order],
            "error_rate_low": low,
            "error_rate_high": high,
            "share_of_errors": errors_per[order] / len(errors),
            "weak": np.asarray(low) > rate,
            "common_error": _common_errors(examples, errors, number[raw[errors]], k_used),
            "common_metadata": _common_metadata(examples, errors, number[raw[errors]], k_used),
            "representatives": [
                REPRESENTATIVE_SEPARATOR.join(
                    frame.loc[(frame["cluster"] == c) & (frame["representative"] > 0)]
                    .sort_values("representative")["id"]
                    .tolist()
                )
                for c in range(1, k_used + 1)
            ],
        }
    )
    centres_frame = pd.DataFrame(
        {"cluster": number[np.arange(k_used)], "x": centre_xy[:, 0], "y": centre_xy[:, 1]}
    ).sort_values("cluster", ignore_index=True)
    return ErrorClusters(
        clusters=table,
        points=frame,
        outlines=_outlines(frame),
        centres=centres_frame,
        k=k_used,
        k_rule=rule,
        source=source,
        error_rate=rate,
        correct_sampled=len(sampled),
        correct_total=len(correct_at),
        seed=seed,
    )


def _no_clusters(source: str, rate: float, correct_total: int, seed: int) -> ErrorClusters:
    clusters = pd.DataFrame({c: pd.Series(dtype=object) for c in CLUSTER_COLUMNS})
    points = pd.DataFrame({c: pd.Series(dtype=object) for c in POINT_COLUMNS})
    shape = pd.DataFrame({c: pd.Series(dtype=float) for c in ("cluster", "x", "y")})
    return ErrorClusters(
        clusters=clusters,
        points=points,
        outlines=shape,
        centres=shape.copy(),
        k=0,
        k_rule="no errors to cluster",
        source=source,
        error_rate=rate,
        correct_sampled=0,
        correct_total=correct_total,
        seed=seed,
    )


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1)


def _fit(points: np.ndarray, k: int, seed: int) -> np.ndarray:
    from sklearn.cluster import KMeans, MiniBatchKMeans

    if len(points) > FULL_KMEANS_POINTS:
        model = MiniBatchKMeans(k, n_init=FIT_INITS, batch_size=4096, random_state=seed)
    else:
        model = KMeans(k, n_init=FIT_INITS, random_state=seed)
    return model.fit(points).cluster_centers_.astype(np.float32)


def _choose_k(points: np.ndarray, errors: int, rng: np.random.Generator, seed: int) -> int:
    from sklearn.cluster import KMeans

    sample = points[np.sort(rng.choice(len(points), min(len(points), SILHOUETTE_POINTS), False))]
    distinct = len(np.unique(sample.round(6), axis=0))
    # The distances between the sampled points, once for every k tried.
    squared = (sample**2).sum(axis=1)
    distances = np.sqrt(np.maximum(squared[:, None] + squared[None, :] - 2 * sample @ sample.T, 0))
    best, best_score = min(2, len(points)), -np.inf
    for k in K_CHOICES:
        if k >= distinct or k > max(2, math.ceil(math.sqrt(errors))):
            break
        labels = KMeans(k, n_init=1, random_state=seed).fit_predict(sample)
        score = silhouette(distances, labels)
        if score > best_score + 1e-9:
            best, best_score = k, score
    return best


def silhouette(distances: np.ndarray, labels: np.ndarray) -> float:
    """The mean silhouette coefficient of a clustering, from the points' distance matrix (as
    scikit-learn's ``silhouette_score(..., metric="precomputed")``: 0 for a point alone in
    its cluster); -inf with fewer than two clusters."""
    present, labels = np.unique(labels, return_inverse=True)
    if len(present) < 2:
        return -np.inf
    onehot = np.zeros((len(labels), len(present)), dtype=distances.dtype)
    onehot[np.arange(len(labels)), labels] = 1
    sizes = onehot.sum(axis=0)
    sums = distances @ onehot  # each point's total distance to each cluster
    own = sizes[labels]
    inside = sums[np.arange(len(labels)), labels] / np.maximum(own - 1, 1)
    means = sums / sizes
    means[np.arange(len(labels)), labels] = np.inf
    outside = means.min(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        values = (outside - inside) / np.maximum(inside, outside)
    return float(np.where(own > 1, np.nan_to_num(values), 0.0).mean())


def _nearest(vectors: np.ndarray, centres: np.ndarray, chunk: int = 65_536) -> np.ndarray:
    """The nearest centre of each (normalised) vector, in chunks to bound memory."""
    out = np.empty(len(vectors), dtype=np.int64)
    squared = (centres**2).sum(axis=1)
    for start in range(0, len(vectors), chunk):
        block = _unit(vectors[start : start + chunk])
        out[start : start + chunk] = np.argmin(squared - 2 * block @ centres.T, axis=1)
    return out


def _representative_ranks(
    cluster: np.ndarray, distance: np.ndarray, is_error: np.ndarray, top: int
) -> np.ndarray:
    """1, 2, … for each cluster's errors nearest its centre (ties by position), 0 otherwise."""
    rank = np.zeros(len(cluster), dtype=np.int64)
    candidates = np.flatnonzero(is_error)
    order = candidates[np.lexsort((candidates, distance[candidates], cluster[candidates]))]
    seen: dict[int, int] = {}
    for position in order.tolist():
        c = int(cluster[position])
        seen[c] = seen.get(c, 0) + 1
        if seen[c] <= top:
            rank[position] = seen[c]
    return rank


def _plane(
    points: np.ndarray, centres: np.ndarray, cluster: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates of the points and the centres on the plane of the centres' principal
    directions (weighted by cluster size); where the centres span less than a plane, the
    points' own principal direction beside them fills in."""
    weight = np.sqrt(np.bincount(cluster, minlength=len(centres)).astype(np.float64))
    mean = points.mean(axis=0, dtype=np.float64)
    spread = (centres - mean) * weight[:, None]
    _, values, rows = np.linalg.svd(spread, full_matrices=False)
    keep = values > 1e-9 * max(values[0], 1e-30) if len(values) else np.zeros(0, dtype=bool)
    directions = rows[keep][:2]
    if len(directions) < 2:
        sample = points[rng.choice(len(points), min(len(points), 5_000), replace=False)] - mean
        if len(directions):
            sample = sample - (sample @ directions.T) @ directions
        _, values, rest = np.linalg.svd(sample, full_matrices=False)
        extra = rest[values > 1e-9][: 2 - len(directions)]
        directions = np.vstack([directions, extra]) if len(directions) else extra
    while len(directions) < 2:  # every point the same: a line, or a dot
        directions = np.vstack([directions, np.zeros((1, points.shape[1]))])
    directions = directions.astype(np.float64)
    # A fixed orientation: the point of largest coordinate along each axis lies on its
    # positive side, so the same clustering is drawn the same way.
    coords = (points - mean) @ directions.T
    for axis in range(2):
        if coords[np.argmax(np.abs(coords[:, axis])), axis] < 0:
            directions[axis] *= -1
            coords[:, axis] *= -1
    return coords, (centres - mean) @ directions.T


def _outlines(points: pd.DataFrame) -> pd.DataFrame:
    """The convex hull, on the map, of each cluster's errors nearest its centre on the map
    (:data:`OUTLINE_SHARE` of them), closed (the first vertex again at the end)."""
    from scipy.spatial import ConvexHull, QhullError

    rows = []
    errors = points[points["error"]]
    for cluster, group in errors.groupby("cluster", sort=True):
        xy = group[["x", "y"]].to_numpy(dtype=float)
        middle = np.median(xy, axis=0)
        far = np.linalg.norm(xy - middle, axis=1)
        kept = xy[far <= np.quantile(far, OUTLINE_SHARE)] if len(xy) > 4 else xy
        try:
            vertices = kept[ConvexHull(kept).vertices]
        except (QhullError, ValueError):  # fewer than 3 points, or all on one line
            vertices = kept[[np.argmin(kept[:, 0]), np.argmax(kept[:, 0])]]
        vertices = np.vstack([vertices, vertices[:1]])
        rows.append(pd.DataFrame({"cluster": cluster, "x": vertices[:, 0], "y": vertices[:, 1]}))
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in ("cluster", "x", "y")})
    return pd.concat(rows, ignore_index=True)


def _common_errors(
    examples: pd.DataFrame, errors: np.ndarray, number: np.ndarray, k: int
) -> list[str]:
    """Per cluster, its most frequent confusion "label → prediction (count)" ('' without
    label and prediction columns); ties go to the confusion first in text order."""
    if "label" not in examples or "prediction" not in examples:
        return [""] * k
    pairs = pd.DataFrame(
        {
            "cluster": number,
            "label": examples["label"].astype(str).to_numpy()[errors],
            "prediction": examples["prediction"].astype(str).to_numpy()[errors],
        }
    )
    counts = pairs.groupby(["cluster", "label", "prediction"]).size().rename("n").reset_index()
    top = counts.sort_values(["cluster", "n", "label", "prediction"], ascending=[1, 0, 1, 1])
    top = top.drop_duplicates("cluster").set_index("cluster")
    return [
        f"{top.at[c, 'label']} → {top.at[c, 'prediction']} ({top.at[c, 'n']})"
        if c in top.index
        else ""
        for c in range(1, k + 1)
    ]


def _common_metadata(
    examples: pd.DataFrame, errors: np.ndarray, number: np.ndarray, k: int
) -> list[str]:
    """Per cluster, the metadata value most over-represented among its errors against the
    whole run (its share of the cluster's errors minus its share of the run), as
    "noise = car (12 of 13 errors; 9% of the run)"; '' where no value is over-represented.
    Columns of at most :data:`MAX_PROFILE_VALUES` distinct values are read, roles and tags
    are not; ties go to the column first in the frame."""
    skip = {*ROLES, "correct", "id"}
    best = np.zeros(k)
    out = [""] * k
    cluster = number - 1
    per_cluster = np.bincount(cluster, minlength=k)
    for column in examples.columns:
        if column in skip or str(column).startswith(TAG_PREFIX):
            continue
        codes, values = pd.factorize(examples[column], sort=True)
        if not 0 < len(values) <= MAX_PROFILE_VALUES:
            continue
        known = codes >= 0
        run_share = np.bincount(codes[known], minlength=len(values)) / len(codes)
        error_codes = codes[errors]
        seen = error_codes >= 0
        counts = np.zeros((k, len(values)))
        np.add.at(counts, (cluster[seen], error_codes[seen]), 1)
        lift = counts / np.maximum(per_cluster, 1)[:, None] - run_share[None, :]
        top = lift.argmax(axis=1)
        for c in range(k):
            j = top[c]
            if lift[c, j] > best[c] + 1e-12:
                best[c] = lift[c, j]
                out[c] = (
                    f"{column} = {values[j]} ({int(counts[c, j])} of {per_cluster[c]} errors; "
                    f"{run_share[j]:.0%} of the run)"
                )
    return out


def name_cluster(
    store: DatasetStore, clusters: ErrorClusters, cluster: int, tag: str, *, actor: str
) -> int | None:
    """Tag the errors of ``cluster`` with the reviewed tag ``tag`` (created if new), in one
    logged action (:meth:`DatasetStore.tag_examples`); returns its id, or None when they all
    carried it already. Their reviews are still to do: tagged examples enter the estimates
    once reviewed on the Review page, where they show with the tag set."""
    members = clusters.members(cluster)
    if not members:
        raise ValueError(f"cluster {cluster} has no errors to tag")
    detail = {"cluster": int(cluster), "k": clusters.k, "seed": clusters.seed}
    return store.tag_examples(
        members, tag, actor=actor, detail=detail | {"source": clusters.source}
    )


def confirm_cluster(
    store: DatasetStore,
    clusters: ErrorClusters,
    cluster: int,
    *,
    reviewer: str,
    run: str | None = None,
) -> int | None:
    """Mark the errors of ``cluster`` reviewed by ``reviewer`` with the tags they carry,
    in one undoable action (kind ``confirm_cluster``): for a reviewer who has listened to
    or looked at the group as a whole. Returns the action's id, or None when every one of
    them has a review already.

    These reviews were drawn in no sample, so the estimates leave them out (counted as
    opened by hand) unless every error of the run is reviewed, when the errors are a
    census; confirming one by one from a review queue keeps them in its sample."""
    members = clusters.members(cluster)
    if not members:
        raise ValueError(f"cluster {cluster} has no errors to confirm")
    seen = set(store.reviews()["example_id"].astype(str))
    todo = [example for example in members if example not in seen]
    if not todo:
        return None
    reviews = pd.DataFrame({"id": todo, "reviewer": reviewer})
    return store.record_reviews(
        reviews,
        tags=[[] for _ in todo],  # adds nothing: the review keeps the tags they carry
        run=run,
        queue=STRATUM_DIRECT,
        kind="confirm_cluster",
        actor=reviewer,
    )
