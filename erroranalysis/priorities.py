"""Rank tags by marginal effect: which data to improve next.

For each tag t (the method of *Machine Learning in Production*):

* share(t): fraction of the dataset's examples that carry t;
* accuracy(t): fraction of the examples carrying t that are correct;
* hlp(t): human-level performance on t, set by the team or measured from a
  second person's labels (``human_label``);
* gap(t) = hlp(t) - accuracy(t), negative where the model beats people;
* marginal_effect(t) = max(gap(t), 0) * share(t): how much overall accuracy
  could rise if the model reached HLP on t.

Reviewers look mostly at errors, so a tag seen only on reviewed examples
("reviewed" tags) is estimated from a sample: the errors and the correct
predictions of the run estimated are two strata, and within each the tag's
rate is the reviewed examples' rate, each example weighted by its design
weight (how many examples it stands for: stratum size / reviewed count for a
stratified sample of the same run; any weights for reviews sampled on another
run or with unequal probabilities, see :mod:`erroranalysis.counts`). From
errors alone a tag's accuracy cannot be estimated, so a tag whose needed
stratum has no reviews gets evidence ``"insufficient"`` and no numbers,
never a 0.

Every share, accuracy and marginal effect carries a 95% interval from a
seeded Monte Carlo draw of Jeffreys posteriors (:mod:`erroranalysis.estimation`,
``docs/statistics.md``). The tables that show where tags overlap
(:func:`tag_overlap`, :func:`exclusive_shares`) and which errors carry none
(:func:`untagged_errors`) count the same evidence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction

import numpy as np
import pandas as pd

from .counts import TagCounts, Tally, count_tags, tally
from .estimation import (
    LEVEL,
    Estimates,
    decimal,
    effective_counts,
    estimate,
    proportion_interval,
    ratio,
)
from .evidence import Checked, Evidence, _check_fraction, check_evidence, check_flag
from .vocabulary import (
    NOTE_LEFT_OUT,
    NOTE_MODEL_BEATS_HLP,
    NOTE_NO_EFFORT,
    NOTE_NO_EXAMPLES,
    NOTE_NO_REVIEWED_CORRECT,
    NOTE_NO_REVIEWED_ERRORS,
    NOTE_NOT_SEEN_DATASET,
    NOTE_NOT_SEEN_REVIEWED,
    NOTE_TIED,
    ORDERS,
)

MIN_DRAWS = 100

COLUMNS = [
    "rank",
    "tag",
    "kind",
    "examples",
    "share",
    "share_low",
    "share_high",
    "accuracy",
    "accuracy_low",
    "accuracy_high",
    "hlp",
    "hlp_source",
    "gap",
    "marginal_effect",
    "marginal_effect_low",
    "marginal_effect_high",
    "effort",
    "evidence",
    "note",
    "estimated_examples",
    "hlp_low",
    "hlp_high",
    "gap_low",
    "gap_high",
    "marginal_effect_per_effort",
]

ERROR_SHARE_COLUMNS = [
    "tag",
    "kind",
    "errors",
    "reviewed_errors",
    "share_of_errors",
    "share_of_errors_low",
    "share_of_errors_high",
    "evidence",
]

EXCLUSIVE_COLUMNS = ["tag", "examples", "exclusive", "exclusive_share"]
MEASURES = ("count", "jaccard")


# Rows per block of the co-occurrence product: a float block stays in the CPU cache.
_CHUNK_ROWS = 1 << 17


# --------------------------------------------------------------------------- public API


def _empty_table() -> pd.DataFrame:
    frame = pd.DataFrame({column: pd.Series(dtype=float) for column in COLUMNS})
    for column in ("rank", "examples"):
        frame[column] = frame[column].astype(np.int64)
    for column in ("tag", "kind", "hlp_source", "evidence", "note"):
        frame[column] = frame[column].astype("str")
    return frame


def left_out_summary(left_out: Mapping[str, int]) -> str:
    """How many reviews are kept and shown but left out of the estimates, and why, in one
    sentence ("" when none are): the line above the priority table."""
    reasons = {str(reason): int(n) for reason, n in left_out.items() if int(n) > 0}
    if not reasons:
        return ""
    total = sum(reasons.values())
    return f"{_reviews(total)} shown but left out of the estimates: {_reasons(reasons)}."


def _reviews(n: int) -> str:
    return f"{n:,} review" + ("" if n == 1 else "s")


def _reasons(reasons: Mapping[str, int]) -> str:
    """Each reason after its count, as in "3 opened outside any sample and 1 from a
    filtered queue"; a single reason alone (the total already counts it)."""
    if len(reasons) == 1:
        return next(iter(reasons))
    parts = [f"{n:,} {reason}" for reason, n in reasons.items()]
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _left_out_note(left_out: Mapping[str, int]) -> str:
    reasons = {str(reason): int(n) for reason, n in left_out.items() if int(n) > 0}
    if not reasons:
        return ""
    return NOTE_LEFT_OUT.format(
        reviews=_reviews(sum(reasons.values())),
        reasons=_reasons(reasons),
    )


def _notes(
    source: Tally,
    counts: TagCounts,
    estimates: Estimates,
    effort: np.ndarray,
    by: str,
    left_out: str,
    ties: dict[int, list[int]],
) -> list[str]:
    notes = []
    size = counts.size
    for j, kind in enumerate(source.kinds):
        parts = []
        seen = counts.tag.n[:, j]
        if size.sum() == 0:
            parts.append(NOTE_NO_EXAMPLES)
        if size[0] > 0 and seen[0] == 0:
            parts.append(NOTE_NO_REVIEWED_ERRORS)
        if size[1] > 0 and seen[1] == 0:
            parts.append(NOTE_NO_REVIEWED_CORRECT)
        if estimates.sufficient[j] and counts.tag.x[:, j].sum() == 0:
            parts.append(NOTE_NOT_SEEN_REVIEWED if kind == "reviewed" else NOTE_NOT_SEEN_DATASET)
        if estimates.hlp_note[j]:
            parts.append(estimates.hlp_note[j])
        if by == "effort" and not np.isnan(estimates.marginal_effect[j]) and np.isnan(effort[j]):
            parts.append(NOTE_NO_EFFORT)
        gap = estimates.exact_gap[j]
        if gap is not None and gap < 0:
            parts.append(NOTE_MODEL_BEATS_HLP)
        if j in ties:
            parts.append(NOTE_TIED.format(tags=_names([source.names[k] for k in ties[j]])))
        if kind == "reviewed" and left_out:
            parts.append(left_out)
        notes.append("; ".join(parts))
    return notes


def _names(names: list[str], shown: int = 3) -> str:
    if len(names) <= shown:
        return ", ".join(names)
    return ", ".join(names[:shown]) + f" and {len(names) - shown:,} more"


def _evidence_column(kinds: Sequence[str], insufficient: np.ndarray) -> np.ndarray:
    """``"dataset"`` (dataset and rule tags), ``"reviewed"`` or ``"insufficient"``."""
    kinds = np.array(kinds, dtype=object)
    return np.where(
        insufficient, "insufficient", np.where(kinds == "reviewed", "reviewed", "dataset")
    ).astype(object)


def _ranking_keys(
    estimates: Estimates, effort: np.ndarray, by: str
) -> tuple[list[int], list[Fraction]]:
    """Per tag: its group (0 ranked by the key, 1 for by="effort" a marginal effect but no
    effort, 2 no marginal effect) and its exact key (marginal effect, or per effort)."""
    groups, keys = [], []
    for effect, cost in zip(estimates.exact_marginal_effect, effort, strict=True):
        if effect is None:
            groups.append(2)
            keys.append(Fraction(0))
        elif by == "effort" and not np.isnan(cost):
            groups.append(0)
            keys.append(effect / decimal(cost))
        else:
            groups.append(1 if by == "effort" else 0)
            keys.append(effect)
    return groups, keys


def _order(
    groups: list[int], keys: list[Fraction], upper: np.ndarray
) -> tuple[np.ndarray, dict[int, list[int]]]:
    """Tags with a ranking value first (highest first), then, for by="effort", tags with a
    marginal effect but no effort, then the rest. Exact ties go to the larger upper bound,
    then to the input order. Also, per tag with a positive key tied with others, those."""
    upper = np.nan_to_num(upper, nan=-1.0)
    order = sorted(range(len(keys)), key=lambda j: (groups[j], -keys[j], -upper[j], j))
    tied: dict[tuple[int, Fraction], list[int]] = {}
    for j in order:
        if groups[j] < 2 and keys[j] > 0:
            tied.setdefault((groups[j], keys[j]), []).append(j)
    ties = {
        j: [k for k in members if k != j]
        for members in tied.values()
        if len(members) > 1
        for j in members
    }
    return np.array(order, dtype=np.int64), ties


def priority_table(
    evidence: Evidence | Tally,
    *,
    by: str = "marginal_effect",
    draws: int = 4000,
    seed: int = 0,
) -> pd.DataFrame:
    """Rank the evidence's tags by marginal effect (or marginal effect per unit of effort).

    ``evidence`` is a run's :class:`~erroranalysis.evidence.Evidence`, or its counts as a
    :class:`~erroranalysis.counts.Tally` from any engine: the same table follows.

    Reads ``correct`` of the examples (and ``human_label`` and ``label`` where there is
    a ``human_label`` column: a second person's label, NA where none), the tags and
    their kinds (dataset and rule tags are known for every example, reviewed tags only
    where ``reviewed``), and the HLP and effort set per tag; a missing HLP is measured
    from ``human_label`` where possible.

    Parameters
    ----------
    by
        ``"marginal_effect"`` or ``"effort"`` (marginal effect per unit of
        effort; tags without an effort rank after those with one): :data:`ORDERS`.
    draws, seed
        Monte Carlo draws per tag for the intervals, and the seed that makes
        them reproducible.

    Returns
    -------
    DataFrame, one row per tag, best first, with the columns :data:`COLUMNS`.
    ``examples`` counts the examples *seen* carrying the tag (all examples
    for dataset and rule tags, reviewed ones for reviewed tags);
    ``estimated_examples`` = share x dataset size. Fractions are in [0, 1];
    unknown values are NaN. ``evidence`` is ``"dataset"`` (dataset and rule
    tags), ``"reviewed"`` or ``"insufficient"`` (a stratum the estimate
    needs, errors or correct predictions, has no reviewed example: share,
    accuracy, gap and marginal effect are then NaN, never 0). ``hlp_source``
    is ``"set"``, ``"measured"`` or ``"empty"``. Tags whose marginal effect
    is unknown rank last; ``note`` says why in plain words, and on reviewed
    tags how many reviews were left out of the estimates and why
    (``evidence.left_out``, also in ``table.attrs["left_out"]`` for
    :func:`left_out_summary`). Exactly equal marginal effects (or marginal
    effects per effort) rank by the larger upper bound, then in the
    evidence's order, and the note names the tags tied.

    Estimates: per stratum of the run (errors, correct predictions), the
    reviewed examples' rate of the tag, each weighted by its design weight
    (``evidence.weights``; 1 where None), weighted by the stratum's size;
    point estimates are exact (ratios of integers for dataset and rule tags)
    and rounded once. Intervals are 95% percentile intervals of seeded Monte
    Carlo draws from Jeffreys posteriors on the effective counts, see
    :mod:`erroranalysis.estimation` and ``docs/statistics.md``.
    """
    if not isinstance(by, str) or by not in ORDERS:
        raise ValueError(f"by must be one of {ORDERS}, got {by!r}")
    if isinstance(draws, bool) or not isinstance(draws, int | np.integer) or draws < MIN_DRAWS:
        raise ValueError(f"draws must be an integer of at least {MIN_DRAWS}, got {draws!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    source = evidence if isinstance(evidence, Tally) else tally(evidence)
    if not source.names:
        return _empty_table()
    counts = source.counts
    names = list(source.names)
    effort = np.array([source.effort.get(tag, np.nan) for tag in names])
    estimates = estimate(
        counts,
        hlp_set=np.array([source.hlp.get(tag, np.nan) for tag in names]),
        names=names,
        draws=int(draws),
        seed=int(seed),
    )
    intervals = estimates.intervals
    groups, keys = _ranking_keys(estimates, effort, by)
    order, ties = _order(groups, keys, intervals["marginal_effect"][1])
    per_effort = [
        np.nan if effect is None or np.isnan(cost) else float(effect / decimal(cost))
        for effect, cost in zip(estimates.exact_marginal_effect, effort, strict=True)
    ]
    table = pd.DataFrame(
        {
            "rank": 0,
            "tag": list(names),
            "kind": np.array(source.kinds, dtype=object),
            "examples": counts.tag.x.sum(axis=0),
            "share": estimates.share,
            "share_low": intervals["share"][0],
            "share_high": intervals["share"][1],
            "accuracy": estimates.accuracy,
            "accuracy_low": intervals["accuracy"][0],
            "accuracy_high": intervals["accuracy"][1],
            "hlp": estimates.hlp,
            "hlp_source": estimates.hlp_source.astype(object),
            "gap": estimates.gap,
            "marginal_effect": estimates.marginal_effect,
            "marginal_effect_low": intervals["marginal_effect"][0],
            "marginal_effect_high": intervals["marginal_effect"][1],
            "effort": effort,
            "evidence": _evidence_column(source.kinds, ~estimates.sufficient),
            "note": _notes(
                source, counts, estimates, effort, by, _left_out_note(source.left_out), ties
            ),
            "estimated_examples": estimates.share * counts.size.sum(),
            "hlp_low": intervals["hlp"][0],
            "hlp_high": intervals["hlp"][1],
            "gap_low": intervals["gap"][0],
            "gap_high": intervals["gap"][1],
            "marginal_effect_per_effort": np.array(per_effort, dtype=float),
        }
    )
    table = table.iloc[order].reset_index(drop=True)
    table["rank"] = np.arange(1, len(table) + 1, dtype=np.int64)
    table.attrs["left_out"] = {str(k): int(v) for k, v in source.left_out.items()}
    return table


def error_shares(evidence: Evidence, *, level: float = LEVEL) -> pd.DataFrame:
    """Share of errors carrying each tag: the spreadsheet view of error analysis.

    For dataset and rule tags the share is among all errors; for reviewed
    tags among the reviewed errors, with a modified Jeffreys interval at ``level``
    (:func:`~erroranalysis.estimation.proportion_interval`; the errors are treated as a
    sample of the errors the model will make). Columns :data:`ERROR_SHARE_COLUMNS`,
    sorted by share of errors, highest first. Shares sum to more than 1 where tags
    overlap. ``evidence`` is ``"insufficient"`` (and the share NaN) for a
    reviewed tag when no error has been reviewed.
    """
    _check_fraction(level, "level")
    inputs = check_evidence(evidence)
    if not inputs.tag_names:
        return pd.DataFrame({column: [] for column in ERROR_SHARE_COLUMNS})
    counts = count_tags(inputs)
    errors = counts.tag.x[0]
    denominator = counts.tag.n[0]
    # The Hájek rate among the errors, its interval from the effective counts: with equal
    # weights, the plain fraction and its Jeffreys interval.
    successes, trials = (values[0] for values in effective_counts(counts.tag, cap=counts.sizes))
    low, high = proportion_interval(successes, trials, level=level)
    share = np.where(
        counts.tag.equal[0],
        ratio(errors.astype(float), denominator),
        ratio(counts.tag.wx[0], np.where(denominator > 0, counts.tag.w[0], 0.0)),
    )
    table = pd.DataFrame(
        {
            "tag": list(inputs.tag_names),
            "kind": np.array(inputs.kinds, dtype=object),
            "errors": errors,
            "reviewed_errors": denominator,
            "share_of_errors": share,
            "share_of_errors_low": low,
            "share_of_errors_high": high,
            "evidence": _evidence_column(inputs.kinds, denominator == 0),
        }
    )
    return table.sort_values(
        "share_of_errors", ascending=False, na_position="last", kind="stable"
    ).reset_index(drop=True)


def untagged_errors(evidence: Evidence) -> pd.DataFrame:
    """The reviewed errors that carry no tag yet (rows of the examples, index kept).

    Their number over the number of reviewed errors says how much of the
    error analysis is still unexplained;
    :func:`~erroranalysis.estimation.proportion_interval` gives its interval.
    """
    inputs = check_evidence(evidence)
    carries_any = inputs.matrix.any(axis=1)
    mask = inputs.reviewed & ~inputs.correct & ~carries_any
    return evidence.examples.loc[mask].copy()


def _overlap_rows(inputs: Checked, errors_only: bool) -> np.ndarray:
    """The examples considered for overlaps: all of them, or the errors."""
    if errors_only:
        return ~inputs.correct
    return np.ones(len(inputs.correct), dtype=bool)


def tag_overlap(
    evidence: Evidence, *, measure: str = "count", errors_only: bool = False
) -> pd.DataFrame:
    """Co-occurrence of tags: a square frame indexed by tag on both axes.

    ``measure="count"``: how many examples carry both tags (the diagonal: how
    many carry the tag); ``"jaccard"``: that count over the number carrying
    either. A pair is counted where both tags are known: everywhere for two
    dataset/rule tags, on the reviewed examples when one of them is a
    reviewed tag. ``errors_only`` restricts to errors. Large overlaps mean
    that adding the marginal effects of those tags double-counts.
    """
    if not isinstance(measure, str) or measure not in MEASURES:
        raise ValueError(f"measure must be 'count' or 'jaccard', got {measure!r}")
    errors_only = check_flag(errors_only, "errors_only")
    inputs = check_evidence(evidence)
    names = inputs.tag_names
    is_reviewed = np.array([kind == "reviewed" for kind in inputs.kinds], dtype=bool)
    everywhere = _overlap_rows(inputs, errors_only)
    reviewed_rows = everywhere & inputs.reviewed
    both = np.zeros((len(names), len(names)), dtype=np.int64)
    single = np.zeros((len(names), len(names)), dtype=np.int64)  # count of row tag, per pair
    for rows, pair_mask in (
        (everywhere, ~is_reviewed[:, None] & ~is_reviewed[None, :]),
        (reviewed_rows, is_reviewed[:, None] | is_reviewed[None, :]),
    ):
        if not pair_mask.any():
            continue
        co = _cooccurrence(inputs.matrix[rows])
        both = np.where(pair_mask, co, both)
        single = np.where(pair_mask, np.diag(co)[:, None], single)
    if measure == "count":
        values = both.astype(np.int64)
    else:
        union = single + single.T - both
        values = ratio(both.astype(float), union.astype(float))
    return pd.DataFrame(values, index=pd.Index(names, name="tag"), columns=pd.Index(names))


def _cooccurrence(matrix: np.ndarray) -> np.ndarray:
    """matrix.T @ matrix for a bool matrix, exactly, without a float copy of all of it."""
    k = matrix.shape[1]
    out = np.zeros((k, k), dtype=np.int64)
    dtype = np.float32  # exact: every partial sum is an integer below 2**24
    for start in range(0, matrix.shape[0], _CHUNK_ROWS):
        block = matrix[start : start + _CHUNK_ROWS].astype(dtype)
        out += np.rint(block.T @ block).astype(np.int64)
    return out


def exclusive_shares(evidence: Evidence, *, errors_only: bool = False) -> pd.DataFrame:
    """Per tag: examples carrying it, how many carry no other tag, and that fraction.

    Counted on the examples where every tag is known (the reviewed ones
    when there is any reviewed tag), the errors among them if ``errors_only``.
    A low exclusive share means most of the tag's examples also carry other
    tags, so their marginal effects overlap. Columns :data:`EXCLUSIVE_COLUMNS`.
    """
    errors_only = check_flag(errors_only, "errors_only")
    inputs = check_evidence(evidence)
    rows = _overlap_rows(inputs, errors_only)
    if any(kind == "reviewed" for kind in inputs.kinds):
        rows = rows & inputs.reviewed
    matrix = inputs.matrix[rows]
    carrying = np.count_nonzero(matrix, axis=0)
    alone = matrix & (np.count_nonzero(matrix, axis=1) == 1)[:, None]
    exclusive = np.count_nonzero(alone, axis=0)
    return pd.DataFrame(
        {
            "tag": list(inputs.tag_names),
            "examples": carrying.astype(np.int64),
            "exclusive": exclusive.astype(np.int64),
            "exclusive_share": ratio(exclusive.astype(float), carrying.astype(float)),
        },
        columns=EXCLUSIVE_COLUMNS,
    )
