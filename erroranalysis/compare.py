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

The module is longer than most (about 700 lines) for a reason: both estimators fill one
table whose pairing, flags and notes follow one set of rules, kept together here.

The module runs past 600 lines because its two estimators (exact counts for dataset and
rule tags, design-weighted draws for reviewed tags) share one pairing of the runs'
examples into four cells, and each brings its own interval and test.
"""

from __future__ import annotations

import zlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .evidence import Checked, Evidence, _check_draws, _check_fraction, check_evidence
from .slices import holm_adjust
from .vocabulary import NOTE_NOT_SEEN_DATASET, NOTE_NOT_SEEN_REVIEWED

__all__ = ["ALL_EXAMPLES", "ALL_KIND", "COMPARE_COLUMNS", "compare_runs", "default_runs"]

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
# The four cells of joint correctness, coded 2 * correct in A + correct in B.
BOTH_WRONG, ONLY_B, ONLY_A, BOTH_RIGHT = 0, 1, 2, 3
CELL_NAMES = {
    BOTH_WRONG: "wrong in both runs",
    ONLY_B: "wrong in A and correct in B",
    ONLY_A: "correct in A and wrong in B",
    BOTH_RIGHT: "correct in both runs",
}
_CHUNK_ROWS = 1 << 16  # rows per block when counting: the block stays in the CPU cache


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


def _raw_ids(examples: pd.DataFrame) -> pd.Series:
    """The example ids as stored: the ``id`` column, else the index."""
    ids = examples["id"] if "id" in examples.columns else examples.index.to_series()
    return ids.reset_index(drop=True)


def _ids(raw: pd.Series) -> pd.Index:
    return pd.Index(raw.astype(str).to_numpy(), dtype=object)


def _run_name(evidence: Evidence, fallback: str) -> str:
    return repr(evidence.run) if evidence.run else fallback


@dataclass(frozen=True)
class _Pair:
    """The examples of both runs, aligned: row i of the comparison is row ``rows_b[i]`` of
    run B and row ``rows_a[i]`` of run A (slices when both runs list the same ids in the
    same order)."""

    rows_b: np.ndarray | slice
    rows_a: np.ndarray | slice
    size: int
    only_b: int  # examples of run B that run A lacks
    only_a: int


def _align(evidence: Evidence, baseline: Evidence) -> _Pair:
    raw_b, raw_a = _raw_ids(evidence.examples), _raw_ids(baseline.examples)
    # Two runs of one export list the same ids in the same order: compared as stored (a
    # vectorised check), they need no lookup, and no million Python strings.
    if len(raw_b) and raw_b.dtype == raw_a.dtype and raw_b.equals(raw_a):
        whole = slice(0, len(raw_b))
        return _Pair(rows_b=whole, rows_a=whole, size=len(raw_b), only_b=0, only_a=0)
    ids_b, ids_a = _ids(raw_b), _ids(raw_a)
    for ids, which in ((ids_b, "evidence"), (ids_a, "baseline")):
        if not ids.is_unique:
            repeated = sorted(set(ids[ids.duplicated()]))[:5]
            raise ValueError(f"{which} has duplicate example ids: {repeated}")
    found = ids_a.get_indexer(ids_b)
    rows_b = np.flatnonzero(found >= 0)
    if len(rows_b) == 0:
        raise ValueError(
            f"runs {_run_name(baseline, 'A')} and {_run_name(evidence, 'B')} share no examples "
            "(no example id is in both): compare two runs of the same examples"
        )
    size = len(rows_b)
    return _Pair(
        rows_b=rows_b,
        rows_a=found[rows_b],
        size=size,
        only_b=len(ids_b) - size,
        only_a=len(ids_a) - size,
    )


def _observed(checked: Checked) -> tuple[np.ndarray, np.ndarray]:
    """(enters the estimates, design weight) per example: the reviewed examples, with
    their weights where the evidence has them (check_evidence checked them), else 1."""
    if checked.weights is None:
        return checked.reviewed, np.ones(len(checked.reviewed))
    return checked.reviewed, np.nan_to_num(checked.weights, nan=0.0)


# --------------------------------------------------------------------------- counting


@dataclass(frozen=True)
class _Tags:
    """The tags compared: per tag its column in each run's matrix (-1: not there)."""

    names: list[str]
    kinds: list[str]
    exact: np.ndarray  # bool: known on every example (a dataset or rule tag in a run)
    column_b: np.ndarray
    column_a: np.ndarray


def _tags(checked_b: Checked, checked_a: Checked) -> _Tags:
    """Every tag of either run, run B's first. A tag that is a dataset or rule tag in
    either run is exact, and an example carries it if it does in either run's data."""
    position_b = {tag: j for j, tag in enumerate(checked_b.tag_names)}
    position_a = {tag: j for j, tag in enumerate(checked_a.tag_names)}
    kind_b = dict(zip(checked_b.tag_names, checked_b.kinds, strict=True))
    kind_a = dict(zip(checked_a.tag_names, checked_a.kinds, strict=True))
    names = list(dict.fromkeys([*checked_b.tag_names, *checked_a.tag_names]))
    kinds, exact, column_b, column_a = [], [], [], []
    for tag in names:
        known = [k for k in (kind_b.get(tag), kind_a.get(tag)) if k not in (None, "reviewed")]
        is_exact = bool(known)
        kinds.append(known[0] if known else "reviewed")
        exact.append(is_exact)
        # An exact tag takes only the columns where it is exact; a reviewed one only those
        # where it is reviewed (the same assignments, read for either run).
        for position, kind, out in ((position_b, kind_b, column_b), (position_a, kind_a, column_a)):
            usable = tag in position and ((kind[tag] != "reviewed") == is_exact)
            out.append(position[tag] if usable else -1)
    return _Tags(
        names=names,
        kinds=kinds,
        exact=np.array(exact, dtype=bool),
        column_b=np.array(column_b, dtype=np.int64),
        column_a=np.array(column_a, dtype=np.int64),
    )


def _rows(rows: np.ndarray | slice, part: slice) -> np.ndarray | slice:
    if isinstance(rows, slice):
        return slice(rows.start + part.start, rows.start + part.stop)
    return rows[part]


def _block(
    matrix_b: np.ndarray,
    matrix_a: np.ndarray,
    column_b: np.ndarray,
    column_a: np.ndarray,
    rows_b: np.ndarray | slice,
    rows_a: np.ndarray | slice,
) -> np.ndarray:
    """The tags (columns) of some aligned rows: carried in run B's or in run A's matrix."""
    out = np.zeros((_length(rows_b), len(column_b)), dtype=bool)
    for matrix, columns, rows in ((matrix_b, column_b, rows_b), (matrix_a, column_a, rows_a)):
        present = np.flatnonzero(columns >= 0)
        if len(present) == 0:
            continue
        part = matrix[rows]
        if len(present) == len(columns) and np.array_equal(columns, np.arange(matrix.shape[1])):
            out |= part
        else:
            out[:, present] |= part[:, columns[present]]
    return out


def _length(rows: np.ndarray | slice) -> int:
    return rows.stop - rows.start if isinstance(rows, slice) else len(rows)


def _cell_counts(
    pair: _Pair, codes: np.ndarray, matrix_b, matrix_a, column_b, column_a
) -> np.ndarray:
    """(4, K): examples of each cell carrying each tag, one cache-sized block at a time."""
    out = np.zeros((4, len(column_b)), dtype=np.int64)
    if len(column_b) == 0:
        return out
    for start in range(0, pair.size, _CHUNK_ROWS):
        part = slice(start, min(start + _CHUNK_ROWS, pair.size))
        block = _block(
            matrix_b,
            matrix_a,
            column_b,
            column_a,
            _rows(pair.rows_b, part),
            _rows(pair.rows_a, part),
        )
        block_codes = codes[part]
        rest = np.count_nonzero(block, axis=0)
        for cell in (BOTH_WRONG, ONLY_B, ONLY_A):
            count = np.count_nonzero(block[block_codes == cell], axis=0)
            out[cell] += count
            rest -= count
        out[BOTH_RIGHT] += rest
    return out


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


def weighted_rates(
    codes: np.ndarray, weights: np.ndarray, tags: np.ndarray, cell_size: np.ndarray
) -> _Weighted:
    """Per cell and tag, from the reviews (``codes`` their cell, ``weights`` their design
    weights, ``tags`` (n, K) bool): the Hájek rate p = Σw·t / Σw and the effective sample
    size n* = p(1 − p) / v of its linearised variance v = Σw²(t − p)² / (Σw)², or Kish's
    (Σw)² / Σw² when p is 0 or 1; at most the cell's size. Equal weights give n* = n."""
    k = tags.shape[1]
    observed = np.bincount(codes, minlength=4)
    tagged = np.zeros((4, k), dtype=np.int64)
    rate = np.full((4, k), np.nan)
    effective = np.zeros((4, k))
    values = tags.astype(float)
    for cell in range(4):
        here = codes == cell
        if not here.any():
            continue
        w, t = weights[here], values[here]
        sw, sw2 = w.sum(), (w * w).sum()
        p = (w @ t) / sw
        v = ((w * w) @ ((t - p) ** 2)) / (sw * sw)
        kish = sw * sw / sw2
        with np.errstate(divide="ignore", invalid="ignore"):
            n_star = np.where((p > 0) & (p < 1) & (v > 0), p * (1 - p) / v, kish)
        n_star = np.minimum(n_star * (here.sum() - 1) / here.sum(), kish)
        tagged[cell] = np.count_nonzero(tags[here], axis=0)
        rate[cell] = p
        effective[cell] = np.minimum(n_star, cell_size[cell])
    return _Weighted(observed=observed, tagged=tagged, rate=rate, effective=effective)


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
    checked_b = check_evidence(evidence)
    if not isinstance(baseline, Evidence):
        raise ValueError(f"baseline must be an Evidence, got {type(baseline).__name__}")
    try:
        checked_a = check_evidence(baseline)
    except ValueError as err:
        raise ValueError(f"baseline: {err}") from None
    _check_options(level, alpha, draws, seed)
    level, alpha = float(level), float(alpha)
    _check_pair(evidence, baseline)
    observed_b, weights_b = _observed(checked_b)
    pair = _align(evidence, baseline)

    codes = 2 * checked_a.correct[pair.rows_a].astype(np.int64) + checked_b.correct[pair.rows_b]
    cell_size = np.bincount(codes, minlength=4)
    tags = _tags(checked_b, checked_a)
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
    if pair.only_a or pair.only_b:
        note = (
            f"compared on the {pair.size:,} examples in both runs; run A has {pair.only_a:,} "
            f"more, run B {pair.only_b:,} more"
        )
    add([ALL_EXAMPLES], [ALL_KIND], whole, ["dataset"], [EXACT_TEST], [note])

    exact = np.flatnonzero(tags.exact)
    if len(exact):
        counts = _cell_counts(
            pair,
            codes,
            checked_b.matrix,
            checked_a.matrix,
            tags.column_b[exact],
            tags.column_a[exact],
        )
        rows = _exact_rows(counts, level)
        seen = rows["examples"] > 0
        add(
            [tags.names[j] for j in exact],
            [tags.kinds[j] for j in exact],
            rows,
            ["dataset"] * len(exact),
            [EXACT_TEST] * len(exact),
            ["" if s else NOTE_NOT_SEEN_DATASET for s in seen],
        )

    reviewed = np.flatnonzero(~tags.exact)
    if len(reviewed):
        observed = np.flatnonzero(observed_b[pair.rows_b])
        rows_b = _rows_at(pair.rows_b, observed)
        rows_a = _rows_at(pair.rows_a, observed)
        values = _block(
            checked_b.matrix,
            checked_a.matrix,
            tags.column_b[reviewed],
            tags.column_a[reviewed],
            rows_b,
            rows_a,
        )
        names = [tags.names[j] for j in reviewed]
        stats = weighted_rates(codes[observed], weights_b[rows_b], values, cell_size)
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


def _rows_at(rows: np.ndarray | slice, positions: np.ndarray) -> np.ndarray:
    return rows.start + positions if isinstance(rows, slice) else rows[positions]


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
