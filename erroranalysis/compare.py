"""Two runs of a dataset compared per tag: did the next model fix what it was meant to fix,
and did anything get worse?

:func:`compare_runs` pairs the two runs' examples by id and, for the whole dataset and for
every tag, gives the accuracy in run A (the baseline) and in run B, the difference B − A
with its interval, a paired test and a ``regression`` flag. The examples of each tag fall
into four cells by their joint correctness (both right, only A right, only B right, both
wrong); only the two discordant cells move the difference.

* **Dataset and rule tags** (and the whole dataset) are known on every example, so the
  accuracies and the difference are exact ratios of integer counts; the test is the exact
  McNemar test on the discordant pairs (a two-sided binomial test with p = 1/2), the
  interval Newcombe's hybrid score interval for a difference of paired proportions
  (method 10 of Newcombe, 1998: Wilson intervals of both accuracies joined with their
  correlation). Both treat the tag's examples as a sample of the data the models meet.
* **Reviewed tags** are known only on the examples that enter the estimates
  (``Evidence.weights`` not NaN, each standing for that many examples; ``reviewed`` with
  weight 1 when there are no weights). Their counts are design-weighted and
  post-stratified by the four cells, whose sizes are known exactly: per cell, the Hájek
  rate of the tag, its linearised variance turned into an effective sample size (Kish's
  n* = p(1 − p)/v), a Jeffreys posterior on it; the interval and the two-sided tail
  probability come from seeded Monte Carlo draws of the difference, as the priority
  table's do. A cell the runs have but no review reaches leaves the tag "insufficient".

``tests/test_compare.py`` holds the coverage of both intervals by simulation.

Both are two steps: :func:`~erroranalysis.compare_counts.compare_counts` pairs the runs
and counts them per cell (the contract in :mod:`erroranalysis.compare_counts`), then
:func:`compare_from_counts` computes the table from those counts alone. The linearised
variance of a reviewed tag's rate is taken from the sums Σw·t and Σw²·t, expanded: equal to
summing w²(t − p)² over the reviews up to the last bits of rounding.
"""

from __future__ import annotations

import zlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .compare_counts import (
    BOTH_RIGHT,
    BOTH_WRONG,
    CELL_NAMES,
    ONLY_A,
    ONLY_B,
    CompareCounts,
    compare_counts,
)
from .evidence import Checked, Evidence, _check_draws, _check_fraction, check_evidence
from .slices import holm_adjust
from .vocabulary import NOTE_NOT_SEEN_DATASET, NOTE_NOT_SEEN_REVIEWED

__all__ = [
    "ALL_EXAMPLES",
    "ALL_KIND",
    "BOTH_RIGHT",
    "BOTH_WRONG",
    "COMPARE_COLUMNS",
    "ONLY_A",
    "ONLY_B",
    "compare_from_counts",
    "compare_runs",
    "default_runs",
]

LEVEL = 0.95
ALPHA = 0.05
MIN_DRAWS = 100
ALL_EXAMPLES = "(all examples)"  # the ``tag`` of the whole-dataset row
ALL_KIND = "all"  # its ``kind``: tells it apart from any tag of that name
EXACT_TEST = "McNemar exact"
DESIGN_TEST = "design-weighted draws"
COMPARE_COLUMNS = [
    "tag",
    "kind",
    "examples",
    "accuracy_a",
    "accuracy_b",
    "difference",
    "difference_low",
    "difference_high",
    "p_value",
    "p_adjusted",
    "regression",
    "improved",
    "evidence",
    "test",
    "only_a_correct",
    "only_b_correct",
    "note",
]
# --------------------------------------------------------------------------- checks


def _check_options(level: object, alpha: object, draws: object, seed: object) -> None:
    _check_fraction(level, "level")
    _check_fraction(alpha, "alpha")
    _check_draws(draws, seed, minimum=MIN_DRAWS)


def _check_pair(evidence: Evidence, baseline: Evidence) -> None:
    """Two different runs of one dataset (a name left empty, as in tests, is not compared)."""
    same_dataset = evidence.dataset == baseline.dataset
    if evidence is baseline or (same_dataset and evidence.run and evidence.run == baseline.run):
        name = f" {evidence.run!r}" if evidence.run else ""
        raise ValueError(
            f"evidence and baseline are the same run{name}: compare two different runs"
        )
    if evidence.dataset and baseline.dataset and not same_dataset:
        raise ValueError(
            f"evidence is a run of dataset {evidence.dataset!r} and baseline a run of "
            f"dataset {baseline.dataset!r}: compare two runs of the same dataset"
        )


def _check_runs(
    evidence: Evidence, baseline: object, level: object, alpha: object, draws: object, seed: object
) -> tuple[Checked, Checked]:
    """The checked evidence of run B and run A, after every check of :func:`compare_runs`'
    arguments; ValueError naming the first that fails."""
    checked_b = check_evidence(evidence)
    if not isinstance(baseline, Evidence):
        raise ValueError(f"baseline must be an Evidence, got {type(baseline).__name__}")
    try:
        checked_a = check_evidence(baseline)
    except ValueError as err:
        raise ValueError(f"baseline: {err}") from None
    _check_options(level, alpha, draws, seed)
    _check_pair(evidence, baseline)
    return checked_b, checked_a


# --------------------------------------------------------------------------- statistics


def _wilson(successes: np.ndarray, trials: np.ndarray, z: float) -> tuple[np.ndarray, ...]:
    n = trials.astype(float)
    p = successes / n
    z2 = z * z
    centre = (successes + z2 / 2) / (n + z2)
    half = z * np.sqrt(successes * (n - successes) / n + z2 / 4) / (n + z2)
    return p, centre - half, centre + half


def paired_interval(counts: np.ndarray, *, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """Newcombe's hybrid score interval (1998, method 10) for accuracy B − accuracy A.

    ``counts`` has shape (4, K): examples per cell (:data:`BOTH_WRONG`, :data:`ONLY_B`,
    :data:`ONLY_A`, :data:`BOTH_RIGHT`) for K tables. Returns (low, high), NaN where a
    table is empty. The Wilson intervals of both accuracies are joined with the phi
    coefficient of the paired outcomes (0 when a margin is empty).
    """
    from scipy.special import ndtri

    counts = np.asarray(counts, dtype=float)
    wrong_both, only_b, only_a, right_both = counts
    n = counts.sum(axis=0)
    z = float(ndtri(1 - (1 - level) / 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        p_a, low_a, high_a = _wilson(right_both + only_a, n, z)
        p_b, low_b, high_b = _wilson(right_both + only_b, n, z)
        margins = (
            (right_both + only_a)
            * (only_b + wrong_both)
            * (right_both + only_b)
            * (only_a + wrong_both)
        )
        phi = np.where(
            margins > 0,
            (right_both * wrong_both - only_a * only_b)
            / np.sqrt(np.where(margins > 0, margins, 1)),
            0.0,
        )
        difference = p_b - p_a
        below = np.sqrt(
            (p_b - low_b) ** 2 - 2 * phi * (p_b - low_b) * (high_a - p_a) + (high_a - p_a) ** 2
        )
        above = np.sqrt(
            (high_b - p_b) ** 2 - 2 * phi * (high_b - p_b) * (p_a - low_a) + (p_a - low_a) ** 2
        )
    low = np.where(n > 0, np.maximum(difference - below, -1.0), np.nan)
    high = np.where(n > 0, np.minimum(difference + above, 1.0), np.nan)
    return low, high


def mcnemar_p(only_b: int, only_a: int) -> float:
    """The exact McNemar test's two-sided p-value on the discordant pairs: twice the
    smaller binomial tail (scipy's ``binomtest``, p = 1/2), at most 1; 1 with none."""
    from scipy.stats import binomtest

    discordant = int(only_b) + int(only_a)
    if discordant == 0:
        return 1.0
    tail = binomtest(min(int(only_b), int(only_a)), discordant, 0.5, alternative="less").pvalue
    return float(min(2.0 * tail, 1.0))


def _tag_rng(seed: int, tag: str) -> np.random.Generator:
    # One stream per tag, keyed by its name: a tag's interval does not move when other
    # tags are added, removed or reordered.
    return np.random.default_rng([seed, zlib.crc32(tag.encode("utf-8")), 8])


@dataclass(frozen=True)
class _Weighted:
    """Design-weighted statistics of the reviewed tags, per cell (4, K)."""

    observed: np.ndarray  # reviews per cell (4,)
    tagged: np.ndarray  # reviews carrying the tag (4, K)
    rate: np.ndarray  # Hájek rate of the tag (4, K), NaN where the cell has no review
    effective: np.ndarray  # Kish effective sample size (4, K)


def weighted_rates(counts: CompareCounts) -> _Weighted:
    """Per cell and tag, from the sums over the reviews (:class:`CompareCounts`): the Hájek
    rate p = Σw·t / Σw and the effective sample size n* = p(1 − p) / v of its linearised
    variance v = Σw²(t − p)² / (Σw)² = [Σw²·t (1 − p)² + (Σw² − Σw²·t) p²] / (Σw)², or
    Kish's (Σw)² / Σw² when p is 0 or 1; at most the cell's size. Equal weights give
    n* = n."""
    k = len(counts.names)
    rate = np.full((4, k), np.nan)
    effective = np.zeros((4, k))
    for cell in np.flatnonzero(counts.reviews):
        sw, sw2, n = counts.w[cell], counts.w2[cell], counts.reviews[cell]
        wt, w2t = counts.wt[cell], counts.w2t[cell]
        p = wt / sw
        v = (w2t * (1 - p) ** 2 + (sw2 - w2t) * p**2) / (sw * sw)
        kish = sw * sw / sw2
        with np.errstate(divide="ignore", invalid="ignore"):
            n_star = np.where((p > 0) & (p < 1) & (v > 0), p * (1 - p) / v, kish)
        n_star = np.minimum(n_star * (n - 1) / n, kish)
        rate[cell] = p
        effective[cell] = np.minimum(n_star, counts.cell_size[cell])
    return _Weighted(observed=counts.reviews, tagged=counts.tagged, rate=rate, effective=effective)


def _tail_probability(difference: np.ndarray) -> float:
    """Twice the share of draws on the smaller side of 0, at most 1. Where no draw crosses
    0, the normal tail of the draws' mean and spread, below one draw's share: the draws
    alone would stop at 1 / draws, which Holm's correction over many tags never lets pass."""
    from scipy.special import ndtr

    draws = len(difference)
    smaller = min(np.count_nonzero(difference <= 0), np.count_nonzero(difference >= 0))
    if smaller:
        return min(1.0, 2 * smaller / draws)
    spread = float(np.std(difference))
    tail = 2 * float(ndtr(-abs(float(np.mean(difference))) / spread)) if spread > 0 else 0.0
    return min(tail, 1 / draws)


def _weighted_estimates(
    stats: _Weighted,
    cell_size: np.ndarray,
    names: list[str],
    *,
    level: float,
    draws: int,
    seed: int,
) -> dict[str, np.ndarray]:
    """Accuracies, difference, interval and tail probability of each reviewed tag."""
    k = len(names)
    needed = cell_size > 0
    sufficient = np.full(k, bool((stats.observed[needed] > 0).all()))
    totals = cell_size[:, None] * np.where(needed[:, None], np.nan_to_num(stats.rate), 0.0)
    mass = totals.sum(axis=0)
    sufficient &= mass > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        result = {
            "accuracy_a": (totals[BOTH_RIGHT] + totals[ONLY_A]) / mass,
            "accuracy_b": (totals[BOTH_RIGHT] + totals[ONLY_B]) / mass,
            "difference": (totals[ONLY_B] - totals[ONLY_A]) / mass,
        }
    result = {name: np.where(sufficient, values, np.nan) for name, values in result.items()}
    low, high, p_value = np.full(k, np.nan), np.full(k, np.nan), np.full(k, np.nan)
    tail = (1 - level) / 2
    cells = np.flatnonzero(needed)
    for j in np.flatnonzero(sufficient):
        rng = _tag_rng(seed, names[j])
        drawn = np.zeros((4, draws))
        for cell in cells:
            n_star = stats.effective[cell, j]
            x = stats.rate[cell, j] * n_star
            drawn[cell] = cell_size[cell] * rng.beta(x + 0.5, n_star - x + 0.5, draws)
        difference = (drawn[ONLY_B] - drawn[ONLY_A]) / drawn.sum(axis=0)
        low[j], high[j] = np.quantile(difference, [tail, 1 - tail])
        p_value[j] = _tail_probability(difference)
    return result | {
        "difference_low": low,
        "difference_high": high,
        "p_value": p_value,
        "sufficient": sufficient,
    }


# --------------------------------------------------------------------------- the table


def _exact_rows(counts: np.ndarray, level: float) -> dict[str, np.ndarray]:
    n = counts.sum(axis=0)
    seen = n > 0
    safe = np.where(seen, n, 1)
    # Ratios of integers, each one correctly rounded division: equal counts give exactly
    # equal accuracies and a difference of exactly 0, never a rounding error's sign.
    low, high = paired_interval(counts, level=level)
    p_value = np.array(
        [
            mcnemar_p(b, a) if s else np.nan
            for b, a, s in zip(counts[ONLY_B], counts[ONLY_A], seen, strict=True)
        ],
        dtype=float,
    )
    return {
        "examples": n,
        "accuracy_a": np.where(seen, (counts[BOTH_RIGHT] + counts[ONLY_A]) / safe, np.nan),
        "accuracy_b": np.where(seen, (counts[BOTH_RIGHT] + counts[ONLY_B]) / safe, np.nan),
        "difference": np.where(seen, (counts[ONLY_B] - counts[ONLY_A]) / safe, np.nan),
        "difference_low": low,
        "difference_high": high,
        "p_value": p_value,
        "only_a_correct": counts[ONLY_A],
        "only_b_correct": counts[ONLY_B],
    }


def _insufficient_note(observed: np.ndarray, cell_size: np.ndarray) -> str:
    missing = [CELL_NAMES[c] for c in range(4) if cell_size[c] > 0 and observed[c] == 0]
    return (
        "no reviewed example " + " nor ".join(f"{name}" for name in missing) + ": review a few "
        "of them (a sample of either run's errors and correct predictions) to compare this tag"
    )


COLUMNS_DTYPES: dict[str, object] = dict.fromkeys(COMPARE_COLUMNS, np.float64) | {
    "tag": object,
    "kind": object,
    "evidence": object,
    "test": object,
    "note": object,
    "examples": np.int64,
    "only_a_correct": np.int64,
    "only_b_correct": np.int64,
    "regression": bool,
    "improved": bool,
}


def compare_runs(
    evidence: Evidence,
    *,
    baseline: Evidence,
    level: float = LEVEL,
    alpha: float = ALPHA,
    draws: int = 4000,
    seed: int = 0,
) -> pd.DataFrame:
    """Compare run B (``evidence``) with run A (``baseline``), two runs of one dataset,
    for the whole dataset and per tag, on the examples present in both runs (by id).

    Parameters
    ----------
    baseline
        The Evidence of run A, the run B is compared with.
    level
        Of the difference's interval (0.95: a 95% interval).
    alpha
        The family-wise error rate of the ``regression`` and ``improved`` flags.
    draws, seed
        Monte Carlo draws per reviewed tag, and the seed that makes them reproducible.

    Returns
    -------
    DataFrame with the columns :data:`COMPARE_COLUMNS`: first the whole dataset (``tag``
    :data:`ALL_EXAMPLES`, ``kind`` :data:`ALL_KIND`), then one row per tag of either run,
    the largest drop first. ``accuracy_a`` and ``accuracy_b`` are the accuracies of the
    tag's examples in each run, ``difference`` = accuracy_b − accuracy_a with its interval
    (``difference_low``, ``difference_high``). ``examples`` counts the tag's examples in
    both runs (the reviewed ones carrying it, for a reviewed tag), ``only_a_correct`` and
    ``only_b_correct`` the discordant ones. ``evidence`` is ``"dataset"`` (exact counts:
    dataset and rule tags, the whole dataset; ``test`` "McNemar exact"), ``"reviewed"``
    (design-weighted; ``test`` "design-weighted draws", ``p_value`` the two-sided tail
    probability of the difference's draws, from their normal approximation where no draw
    crosses 0) or ``"insufficient"`` (a cell of joint
    correctness has examples but no review: numbers NaN, ``note`` says which).

    ``p_adjusted`` is ``p_value`` after Holm's step-down correction across every tested
    row of the table (the whole dataset and each tag), so that the flags hold together:
    ``regression`` is True where B is significantly worse than A (``p_adjusted`` <
    ``alpha`` and a negative difference), ``improved`` where it is significantly better.

    Raises ValueError, changing nothing, for a bad evidence or option, two evidences of
    different datasets, the same run twice, or runs that share no example.
    """
    checked_b, checked_a = _check_runs(evidence, baseline, level, alpha, draws, seed)
    counts = compare_counts(evidence, baseline, checked_b, checked_a)
    return compare_from_counts(counts, level=level, alpha=alpha, draws=draws, seed=seed)


def compare_from_counts(
    counts: CompareCounts,
    *,
    level: float = LEVEL,
    alpha: float = ALPHA,
    draws: int = 4000,
    seed: int = 0,
) -> pd.DataFrame:
    """The table of :func:`compare_runs` from its sufficient statistics
    (:class:`~erroranalysis.compare_counts.CompareCounts`), whoever counted them: no
    per-example work. Options as :func:`compare_runs`'; ValueError naming a bad one."""
    if not isinstance(counts, CompareCounts):
        raise ValueError(f"counts must be CompareCounts, got {type(counts).__name__}")
    _check_options(level, alpha, draws, seed)
    level, alpha = float(level), float(alpha)
    cell_size = counts.cell_size
    computed = [c for c in COMPARE_COLUMNS if c not in ("p_adjusted", "regression", "improved")]
    columns: dict[str, list] = {column: [] for column in computed}
    numbers = [c for c in computed if c not in ("tag", "kind", "evidence", "test", "note")]

    def add(names, kinds, values: dict[str, np.ndarray], evidence_kind, test, notes) -> None:
        columns["tag"].extend(names)
        columns["kind"].extend(kinds)
        for name in numbers:
            columns[name].extend(values[name].tolist())
        columns["evidence"].extend(evidence_kind)
        columns["test"].extend(test)
        columns["note"].extend(notes)

    whole = _exact_rows(cell_size[:, None], level)
    note = ""
    if counts.only_a or counts.only_b:
        note = (
            f"compared on the {counts.paired:,} examples in both runs; run A has "
            f"{counts.only_a:,} more, run B {counts.only_b:,} more"
        )
    add([ALL_EXAMPLES], [ALL_KIND], whole, ["dataset"], [EXACT_TEST], [note])

    exact = np.flatnonzero(counts.exact)
    if len(exact):
        rows = _exact_rows(counts.tagged[:, exact], level)
        seen = rows["examples"] > 0
        add(
            [counts.names[j] for j in exact],
            [counts.kinds[j] for j in exact],
            rows,
            ["dataset"] * len(exact),
            [EXACT_TEST] * len(exact),
            ["" if s else NOTE_NOT_SEEN_DATASET for s in seen],
        )

    reviewed = np.flatnonzero(~counts.exact)
    if len(reviewed):
        names = [counts.names[j] for j in reviewed]
        stats = weighted_rates(counts)
        stats = _Weighted(
            observed=stats.observed,
            tagged=stats.tagged[:, reviewed],
            rate=stats.rate[:, reviewed],
            effective=stats.effective[:, reviewed],
        )
        estimates = _weighted_estimates(
            stats, cell_size, names, level=level, draws=int(draws), seed=int(seed)
        )
        sufficient = estimates["sufficient"]
        # Insufficient either because a cell has no review, or because no review carries
        # the tag at all.
        reached = bool((stats.observed[cell_size > 0] > 0).all())
        missing = (
            NOTE_NOT_SEEN_REVIEWED if reached else _insufficient_note(stats.observed, cell_size)
        )
        notes = ["" if s else missing for s in sufficient]
        add(
            names,
            ["reviewed"] * len(reviewed),
            estimates
            | {
                "examples": stats.tagged.sum(axis=0),
                "only_a_correct": stats.tagged[ONLY_A],
                "only_b_correct": stats.tagged[ONLY_B],
            },
            np.where(sufficient, "reviewed", "insufficient").tolist(),
            [DESIGN_TEST] * len(reviewed),
            notes,
        )

    return _finish(pd.DataFrame(columns), alpha)


def _finish(table: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """The flags from Holm-adjusted p-values, the columns' types, the worst drop first."""
    p_adjusted = holm_adjust(table["p_value"].to_numpy(dtype=float))
    significant = np.nan_to_num(p_adjusted, nan=1.0) < alpha
    difference = table["difference"].to_numpy(dtype=float)
    table["p_adjusted"] = p_adjusted
    table["regression"] = significant & (difference < 0)
    table["improved"] = significant & (difference > 0)
    tested = int(np.count_nonzero(~np.isnan(p_adjusted)))
    notes = table["note"].to_numpy(dtype=object)
    for i in np.flatnonzero(significant):
        word = "worse" if difference[i] < 0 else "better"
        flag = (
            f"significantly {word} in run B (Holm-adjusted p {p_adjusted[i]:.2g} < {alpha:g}, "
            f"over {tested} tests)"
        )
        notes[i] = f"{notes[i]}; {flag}" if notes[i] else flag
    table["note"] = notes
    table = table.astype(COLUMNS_DTYPES)[COMPARE_COLUMNS]
    if len(table) <= 1:
        return table
    rest = table.iloc[1:]
    order = np.lexsort((np.arange(len(rest)), np.nan_to_num(rest["difference"], nan=np.inf)))
    return pd.concat([table.iloc[:1], rest.iloc[order]], ignore_index=True)


def default_runs(runs: Sequence[str], reviewed: Collection[str] = ()) -> tuple[str, str]:
    """The pair (A, B) to compare first, from the runs oldest import first and the runs
    with reviews: A is the latest run with reviews (the one the team analysed), else the
    one before the latest; B the latest run other than A. ValueError with fewer than two."""
    if len(runs) < 2:
        raise ValueError(f"comparing needs two runs, got {len(runs)}")
    analysed = [run for run in runs if run in reviewed]
    baseline = analysed[-1] if analysed else runs[-2]
    return baseline, next(run for run in reversed(runs) if run != baseline)
