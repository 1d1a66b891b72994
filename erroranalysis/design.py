"""Design weights: how many examples of the dataset each reviewed example stands for.

A review enters the estimates through the sample it was drawn in. :func:`design_weights`
gives every example of the run being estimated its weight, built from every sample of the
dataset (see ``docs/statistics.md``):

* A sample r is a probability sample of the whole run it was drawn from. A drawn example
  is *observed* in r once it has been reviewed, in r, in another sample or directly: its
  tags belong to the example, not to the review. Its Horvitz–Thompson weight in r is
  1/π_ir, where
  - for ``stratified`` and ``confidence`` samples (drawn in random order within each
    stratum) π_ir = k_rh / N_rh, with k_rh the observed draws of r in the example's
    stratum h and N_rh the stratum's size in r's run: a random part of a simple random
    sample is one;
  - for ``active`` samples (Poisson draws) π_ir is the inclusion probability recorded
    with the draw.
* Samples combine with fixed shares α_r = size_r / Σ size (Kish's multiple-frame
  estimator, unbiased also when a later sample depends on the reviews of earlier ones):
  w_i = Σ_r α_r · 1[i observed in r] / π_ir. Only samples with an observed draw count.
* Reviews without a sample that did not come from a direct look (files older than
  samples, plain review imports: queue not ``"direct"``) keep their old meaning: one
  ``legacy`` stratified sample per run they were recorded on, strata errors / correct
  examples of that run, π = k_h / N_h, size the number of examples it reviewed.
* Reviews outside any sample (opened by id or link, searched, picked by hand), reviews
  from a queue under filters (a sample of part of the run only) and tags set without a
  review are kept but left out, each counted under its reason
  (:data:`~erroranalysis.vocabulary.LEFT_OUT_DIRECT`, ``LEFT_OUT_FILTERED``,
  ``LEFT_OUT_TAGGED``) -- except in a stratum of the estimated run (its errors, its
  correct examples) whose every example has been reviewed: there each enters with
  weight 1 (a census).

The assumption that makes the weights honest: within each stratum of each sample, the
draws reviewed are a random part of the draws (the reviewers follow the draw's order, or
review it all, and do not skip examples for what they show); the same id is the same
example in every run, so a sample of one run stands for the examples of another. The
weights do not depend on the run estimated; the estimator post-stratifies them by that
run's correctness (:mod:`erroranalysis.estimation`). With one legacy sample on the run
estimated every weight within a stratum is the same, which gives exactly the unweighted
estimates of files older than samples.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .frames import check_frame
from .vocabulary import LEFT_OUT_DIRECT, LEFT_OUT_FILTERED, LEFT_OUT_TAGGED, STRATUM_DIRECT

__all__ = ["LEGACY", "DesignWeights", "design_weights"]

LEGACY = "legacy"  # the strategy of reviews recorded without a sample (see the docstring)
POISSON_STRATEGIES = frozenset({"active"})  # π as recorded with each draw
REVIEW_COLUMNS = ("example_id", "run", "queue")
SAMPLE_COLUMNS = ("id", "strategy", "size", "design")
DRAW_COLUMNS = ("id", "stratum", "probability")


@dataclass(frozen=True)
class DesignWeights:
    """Per example of the run estimated: its design weight (NaN where it does not enter
    the estimates), and reason -> how many of its reviews (tagged examples, for
    ``LEFT_OUT_TAGGED``) are kept but left out. Reasons with no review are not listed."""

    weights: pd.Series
    left_out: dict[str, int] = field(default_factory=dict)
    # Bool per example: it has a review (second reviews aside); None = unknown.
    seen: np.ndarray | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class _Part:
    """One sample's contribution: its size, the observed examples and their 1/π."""

    size: float
    ids: np.ndarray
    inverse: np.ndarray


def _mask(n: int, positions: np.ndarray) -> np.ndarray:
    """A bool mask of ``n`` rows, True at the non-negative ``positions``.

    (Hash lookups through ``get_indexer``: ``isin`` on text is many times slower.)"""
    mask = np.zeros(n, dtype=bool)
    mask[positions[positions >= 0]] = True
    return mask


def _sample_column(reviews: pd.DataFrame) -> np.ndarray:
    """The reviews' sample ids as int64, -1 where a review has none."""
    if "sample_id" not in reviews.columns:
        return np.full(len(reviews), -1, dtype=np.int64)
    return reviews["sample_id"].astype("Int64").to_numpy(dtype=np.int64, na_value=-1)


def _stratum_sizes(design: Mapping, draws: pd.DataFrame) -> dict[str, float]:
    """N_h per stratum: as the design records it, else (a design without strata) the
    drawn count over the recorded probability, which for a stratified draw is n_h / N_h."""
    sizes = {
        str(s["name"]): float(s["size"])
        for s in design.get("strata", ())
        if isinstance(s, Mapping) and "name" in s and "size" in s
    }
    for stratum, group in draws.groupby("stratum", sort=False):
        if str(stratum) not in sizes:
            sizes[str(stratum)] = float(np.round(len(group) / group["probability"].mean()))
    return sizes


def _sample_part(
    strategy: str, size: float, design: Mapping, draws: pd.DataFrame, observed: pd.Index
) -> _Part | None:
    drawn = draws["id"].astype(str).to_numpy(dtype=object)
    seen = observed.get_indexer(drawn) >= 0
    if not seen.any():
        return None
    ids = drawn[seen]
    if strategy in POISSON_STRATEGIES:
        inverse = 1.0 / draws["probability"].to_numpy(dtype=float)[seen]
        return _Part(size=size, ids=ids, inverse=inverse)
    strata = draws["stratum"].astype(str).to_numpy(dtype=object)[seen]
    sizes = _stratum_sizes(design, draws)
    codes, names = pd.factorize(strata)
    k = np.bincount(codes, minlength=len(names)).astype(float)
    big_n = np.array([sizes[name] for name in names], dtype=float)
    return _Part(size=size, ids=ids, inverse=(big_n / k)[codes])


def _legacy_part(
    ids: np.ndarray,
    run_ids: pd.Index,
    run_correct: np.ndarray,
    sizes: tuple[int, int] | None = None,
) -> _Part | None:
    positions = run_ids.get_indexer(ids)
    known = positions >= 0
    if not known.any():
        return None
    correct = run_correct[positions[known]]
    if sizes is None:
        sizes = (int((~run_correct).sum()), int(run_correct.sum()))
    big_n = np.array(sizes, dtype=float)
    k = np.array([(~correct).sum(), correct.sum()], dtype=float)
    inverse = big_n[correct.astype(np.int64)] / k[correct.astype(np.int64)]  # k > 0 here
    return _Part(size=float(known.sum()), ids=ids[known], inverse=inverse)


def design_weights(
    examples: pd.DataFrame,
    reviews: pd.DataFrame,
    *,
    samples: pd.DataFrame | None = None,
    draws: Mapping[int, pd.DataFrame] | None = None,
    runs: Mapping[str, tuple[pd.Index, np.ndarray]] | None = None,
    tagged: Iterable[str] = (),
    ids: pd.Index | None = None,
    stratum_sizes: tuple[int, int] | None = None,
    run_sizes: Mapping[str, tuple[int, int]] | None = None,
) -> DesignWeights:
    """The design weight of every example of ``examples`` (the run estimated: ``id``,
    ``correct``), from the dataset's ``reviews`` (``example_id``, ``run``, ``queue``,
    ``sample_id``: :meth:`DatasetStore.reviews`), its ``samples``
    (:meth:`DatasetStore.samples`) with their ``draws`` (sample id -> ``id``,
    ``stratum``, ``probability``), each run's ``(ids, correct)`` for legacy reviews
    (:meth:`Project.run_index`, by run name) and the ids ``tagged`` with a reviewed tag.
    ``ids``, when given, is ``examples["id"]`` as an Index already built (hashing a
    million ids takes a good part of a second, so a caller that has one passes it).
    ``stratum_sizes`` (errors, correct predictions) are the run's when ``examples`` holds
    only the examples drawn from it (a run counted elsewhere): a stratum is then a census
    only when its reviews cover that many examples. ``run_sizes`` (run name -> errors,
    correct predictions) are those of the runs of ``runs`` counted elsewhere, whose ids
    there are only their drawn examples.

    See the module docstring for the rules and the assumption behind them. Raises
    ValueError for a frame that lacks a column it needs. Never modifies its inputs.
    """
    examples = check_frame(examples, "examples", ("id", "correct"))
    reviews = check_frame(reviews, "reviews", REVIEW_COLUMNS)
    if samples is None or (isinstance(samples, pd.DataFrame) and samples.empty):
        samples = pd.DataFrame(columns=list(SAMPLE_COLUMNS))
    samples = check_frame(samples, "samples", SAMPLE_COLUMNS)
    draws = draws or {}
    runs = runs or {}
    if ids is None or len(ids) != len(examples):
        ids = pd.Index(examples["id"].astype(str), dtype=object)
    correct = examples["correct"].to_numpy(dtype=bool)
    reviewed_ids = reviews["example_id"].astype(str).to_numpy(dtype=object)
    observed = pd.Index(pd.unique(reviewed_ids), dtype=object)
    sample_of = _sample_column(reviews)

    parts: list[_Part] = []
    filtered: set[int] = set()
    for sample in samples.itertuples(index=False):
        design = sample.design if isinstance(sample.design, Mapping) else {}
        if design.get("frame") is not None:
            filtered.add(int(sample.id))
            continue
        drawn = draws.get(int(sample.id))
        if drawn is None or drawn.empty:
            continue
        check_frame(drawn, f"the draws of sample {sample.id}", DRAW_COLUMNS)
        part = _sample_part(str(sample.strategy), float(sample.size), design, drawn, observed)
        if part is not None:
            parts.append(part)
    legacy = (sample_of < 0) & (reviews["queue"].astype(str).to_numpy() != STRATUM_DIRECT)
    run_names = reviews["run"].to_numpy(dtype=object)
    for run in pd.unique(run_names[legacy]):
        if run is None or pd.isna(run) or run not in runs:
            continue
        mine = pd.unique(reviewed_ids[legacy & (run_names == run)])
        sizes = (run_sizes or {}).get(run)
        part = _legacy_part(np.asarray(mine, dtype=object), *runs[run], sizes=sizes)
        if part is not None:
            parts.append(part)

    total = sum(part.size for part in parts)
    values = np.zeros(len(ids), dtype=float)
    enters = np.zeros(len(ids), dtype=bool)
    for part in parts:
        positions = ids.get_indexer(part.ids)
        here = positions >= 0
        # The ids of one part are distinct, so a plain fancy-index add is exact.
        values[positions[here]] += part.size / total * part.inverse[here]
        enters[positions[here]] = True
    where = ids.get_indexer(reviewed_ids)  # each review's example in the run estimated
    seen = _mask(len(ids), where)
    for stratum in (False, True):
        members = correct == stratum
        whole = stratum_sizes is None or members.sum() == stratum_sizes[int(stratum)]
        if members.any() and whole and seen[members].all():
            values[members] = 1.0
            enters[members] = True
    values[~enters] = np.nan

    left_out: dict[str, int] = {}
    out = (where >= 0) & ~enters[np.maximum(where, 0)]
    from_filtered = np.isin(sample_of, list(filtered)) if filtered else np.zeros_like(out)
    for reason, mask in (
        (LEFT_OUT_DIRECT, out & ~from_filtered),
        (LEFT_OUT_FILTERED, out & from_filtered),
    ):
        if mask.any():
            left_out[reason] = int(mask.sum())
    weights = pd.Series(values, index=examples.index, name="weight")
    return retagged(DesignWeights(weights=weights, left_out=left_out, seen=seen), tagged, ids=ids)


def retagged(design: DesignWeights, tagged: Iterable[str], *, ids: pd.Index) -> DesignWeights:
    """``design`` (from :func:`design_weights` on the run whose ids are ``ids``) with the
    ids ``tagged`` with a reviewed tag instead of those it was computed with: the weights
    do not depend on them, only how many tagged examples have no review
    (``LEFT_OUT_TAGGED``). Never modifies ``design``."""
    if design.seen is None or len(design.seen) != len(ids):
        raise ValueError("retagged needs a design from design_weights on the same run")
    left_out = {k: v for k, v in design.left_out.items() if k != LEFT_OUT_TAGGED}
    tagged = pd.unique(np.asarray(list(tagged), dtype=object))
    tags_only = _mask(len(ids), ids.get_indexer(tagged)) & ~design.seen
    if tags_only.any():
        left_out[LEFT_OUT_TAGGED] = int(tags_only.sum())
    return DesignWeights(weights=design.weights, left_out=left_out, seen=design.seen)
