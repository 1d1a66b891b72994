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
("reviewed" tags) is estimated from a stratified sample: the errors and the
correct predictions are two strata, each reviewed example stands for
stratum size / reviewed count examples of its stratum. From errors alone a
tag's accuracy cannot be estimated, so a tag whose needed stratum has no
reviews gets evidence ``"insufficient"`` and no numbers, never a 0.

Every share, accuracy and marginal effect carries a 95% interval from a
seeded Monte Carlo draw of Jeffreys posteriors (see :func:`priority_table`
and ``docs_statistics.md``).
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import betaincinv

KINDS = ("dataset", "reviewed", "rule")
ORDERS = ("marginal_effect", "effort")
LEVEL = 0.95
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

NOTE_NO_EXAMPLES = "no examples yet"
NOTE_NO_REVIEWED_ERRORS = (
    "no reviewed errors yet: review a sample of errors to estimate this tag's share"
)
NOTE_NO_REVIEWED_CORRECT = (
    "no reviewed correct examples yet: review a sample of correct predictions "
    "to estimate this tag's accuracy"
)
NOTE_NOT_SEEN_DATASET = "no example carries this tag"
NOTE_NOT_SEEN_REVIEWED = "no reviewed example carries this tag yet"
NOTE_NO_HLP = "no HLP: set one or add human labels"
NOTE_HLP_ERRORS_ONLY = (
    "no HLP: human labels on this tag cover only its errors; set an HLP "
    "or add human labels to some of its correct predictions"
)
NOTE_HLP_CORRECT_ONLY = (
    "no HLP: human labels on this tag cover only its correct predictions; set an HLP "
    "or add human labels to some of its errors"
)
NOTE_NO_EFFORT = "no effort set: ranked after the tags with an effort"
NOTE_MODEL_BEATS_HLP = "the model beats HLP on this tag"


# --------------------------------------------------------------------------- validation


def _check_bool_series(values: object, name: str, index: pd.Index) -> np.ndarray:
    if not isinstance(values, pd.Series):
        raise ValueError(f"{name} must be a pandas Series, got {type(values).__name__}")
    if not (pd.api.types.is_bool_dtype(values.dtype)):
        raise ValueError(f"{name} must have a bool dtype, got {values.dtype}")
    if values.hasnans:
        raise ValueError(f"{name} has missing values at {list(values.index[values.isna()][:5])}")
    if not values.index.equals(index):
        raise ValueError(f"{name} must have the same index as examples")
    return values.to_numpy(dtype=bool)


def _check_fractions(
    values: Mapping[str, float] | None, name: str, *, positive: bool = False
) -> dict[str, float]:
    """Mapping tag -> finite float; None or NaN mean "not set"."""
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise ValueError(f"{name} must be a mapping tag -> number, got {type(values).__name__}")
    checked: dict[str, float] = {}
    for tag, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
            raise ValueError(f"{name}[{tag!r}] must be a number, got {value!r}")
        value = float(value)
        if np.isnan(value):
            continue
        if positive:
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"{name}[{tag!r}] must be a positive number, got {value!r}")
        elif not 0.0 <= value <= 1.0:
            raise ValueError(f"{name}[{tag!r}] must be between 0 and 1, got {value!r}")
        checked[str(tag)] = value
    return checked


@dataclass(frozen=True)
class _Inputs:
    tag_names: list[str]
    kinds: list[str]
    correct: np.ndarray  # bool, one per example
    reviewed: np.ndarray  # bool, one per example
    matrix: np.ndarray  # bool, examples x tags (read-only: may share the caller's memory)
    human: np.ndarray | None  # int8: 0 no human label, 1 agrees with label, 2 disagrees
    hlp: dict[str, float]
    effort: dict[str, float]


def _check_inputs(
    examples: pd.DataFrame,
    tags: pd.DataFrame,
    *,
    kinds: Mapping[str, str],
    reviewed: pd.Series | None,
    hlp: Mapping[str, float] | None = None,
    effort: Mapping[str, float] | None = None,
) -> _Inputs:
    """Validate the shared inputs (types first, then values) and return them as arrays.

    Raises ValueError naming the exact problem. Never modifies its arguments.
    """
    if not isinstance(examples, pd.DataFrame):
        raise ValueError(f"examples must be a pandas DataFrame, got {type(examples).__name__}")
    if not isinstance(tags, pd.DataFrame):
        raise ValueError(f"tags must be a pandas DataFrame, got {type(tags).__name__}")
    if "correct" not in examples.columns:
        raise ValueError("examples has no 'correct' column")
    correct = _check_bool_series(examples["correct"], "examples['correct']", examples.index)
    if not tags.columns.is_unique:
        duplicated = sorted({str(c) for c in tags.columns[tags.columns.duplicated()]})
        raise ValueError(f"tags has duplicate columns: {duplicated}")
    for column in tags.columns:
        if not isinstance(column, str):
            raise ValueError(f"tag names must be strings, got {column!r}")
    for column, dtype in tags.dtypes.items():
        if not pd.api.types.is_bool_dtype(dtype):
            raise ValueError(f"tag {column!r} must have a bool dtype, got {dtype}")
    if not tags.index.equals(examples.index):
        raise ValueError("tags must have the same index as examples")
    if not isinstance(kinds, Mapping):
        raise ValueError(f"kinds must be a mapping tag -> kind, got {type(kinds).__name__}")
    tag_names = list(tags.columns)
    tag_kinds = []
    for tag in tag_names:
        if tag not in kinds:
            raise ValueError(f"kinds has no kind for tag {tag!r}")
        if kinds[tag] not in KINDS:
            raise ValueError(f"kind of tag {tag!r} must be one of {KINDS}, got {kinds[tag]!r}")
        tag_kinds.append(kinds[tag])
    if reviewed is None:
        reviewed_values = np.zeros(len(examples), dtype=bool)
    else:
        reviewed_values = _check_bool_series(reviewed, "reviewed", examples.index)

    human = None
    if "human_label" in examples.columns:
        if "label" not in examples.columns:
            raise ValueError("examples has a 'human_label' column but no 'label' column")
        human_label = examples["human_label"]
        has_human = human_label.notna().to_numpy()
        human = np.zeros(len(examples), dtype=np.int8)
        if has_human.any():
            agree = (
                human_label.astype(object).to_numpy()[has_human]
                == examples["label"].astype(object).to_numpy()[has_human]
            )
            human[np.flatnonzero(has_human)] = np.where(agree, 1, 2)

    # Missing values (nullable bool) are allowed only where a tag is unknown:
    # on the examples nobody reviewed, for a reviewed tag. Counting skips
    # those examples, so they may hold anything.
    for tag, kind in zip(tag_names, tag_kinds, strict=True):
        column = tags[tag]
        if isinstance(column.dtype, pd.api.extensions.ExtensionDtype) and column.hasnans:
            missing = column.isna().to_numpy()
            if kind != "reviewed" or (missing & reviewed_values).any():
                raise ValueError(f"tag {tag!r} has missing values where it is known")
    if tag_names and all(dtype == np.dtype(bool) for dtype in tags.dtypes):
        matrix = tags.to_numpy()  # no copy when the frame holds one bool block
    elif tag_names:
        matrix = tags.to_numpy(dtype=bool, na_value=False)
    else:
        matrix = np.zeros((len(examples), 0), dtype=bool)

    return _Inputs(
        tag_names=tag_names,
        kinds=tag_kinds,
        correct=correct,
        reviewed=reviewed_values,
        matrix=matrix,
        human=human,
        hlp=_check_fractions(hlp, "hlp"),
        effort=_check_fractions(effort, "effort", positive=True),
    )


# --------------------------------------------------------------------------- counting

_CHUNK_ROWS = 1 << 14


def _group_counts(matrix: np.ndarray, codes: np.ndarray, groups: int) -> np.ndarray:
    """Count true cells per (group, column): ``out[g, j] = sum(matrix[codes == g, j])``.

    Rows with a negative code are skipped. Works in row chunks that stay in
    the CPU cache: one pass over the bool matrix, no float copy of it.
    """
    out = np.zeros((groups, matrix.shape[1]), dtype=np.int64)
    if matrix.shape[1] == 0 or len(codes) == 0:
        return out
    present = np.flatnonzero(np.bincount(codes[codes >= 0], minlength=groups))
    if len(present) == 0:
        return out
    skipped = bool((codes < 0).any())
    counted = present if skipped else present[:-1]
    for start in range(0, len(codes), _CHUNK_ROWS):
        block = matrix[start : start + _CHUNK_ROWS]
        block_codes = codes[start : start + _CHUNK_ROWS]
        rest = None if skipped else np.count_nonzero(block, axis=0)
        for group in counted:
            count = np.count_nonzero(block[block_codes == group], axis=0)
            out[group] += count
            if rest is not None:
                rest -= count
        if rest is not None:
            out[present[-1]] += rest
    return out


@dataclass(frozen=True)
class _Counts:
    """Per-tag counts; index 0 of the first axis = errors, 1 = correct predictions."""

    stratum_size: np.ndarray  # (2,) examples per stratum in the dataset
    seen: np.ndarray  # (2, K) examples per stratum where the tag is known
    tagged: np.ndarray  # (2, K) of those, carrying the tag
    human: np.ndarray  # (2, K) of those, carrying the tag and with a human label
    agree: np.ndarray  # (2, K) of those, where the human label equals the label


def _count(inputs: _Inputs) -> _Counts:
    stratum = inputs.correct.astype(np.int64)
    n_tags = len(inputs.tag_names)
    stratum_size = np.bincount(stratum, minlength=2)
    reviewed_size = np.bincount(stratum[inputs.reviewed], minlength=2)
    if inputs.human is None:
        codes, groups = stratum, 2
    else:
        codes, groups = stratum + 2 * inputs.human.astype(np.int64), 6
    is_reviewed_kind = np.array([kind == "reviewed" for kind in inputs.kinds], dtype=bool)
    by_group = np.zeros((groups, n_tags), dtype=np.int64)
    # Dataset and rule tags are counted over every example, reviewed tags
    # over the reviewed ones only (code -1 skips a row). Selecting columns
    # copies the matrix, so the common all-one-kind case avoids it.
    reviewed_codes = np.where(inputs.reviewed, codes, -1)
    if not is_reviewed_kind.any():
        by_group = _group_counts(inputs.matrix, codes, groups)
    elif is_reviewed_kind.all():
        by_group = _group_counts(inputs.matrix, reviewed_codes, groups)
    else:
        everywhere = np.flatnonzero(~is_reviewed_kind)
        only_reviewed = np.flatnonzero(is_reviewed_kind)
        by_group[:, everywhere] = _group_counts(inputs.matrix[:, everywhere], codes, groups)
        by_group[:, only_reviewed] = _group_counts(
            inputs.matrix[inputs.reviewed][:, only_reviewed], codes[inputs.reviewed], groups
        )
    by_group = by_group.reshape(groups // 2, 2, n_tags)  # (human status, stratum, tag)
    seen = np.where(is_reviewed_kind, reviewed_size[:, None], stratum_size[:, None])
    zeros = np.zeros((2, n_tags), dtype=np.int64)
    return _Counts(
        stratum_size=stratum_size,
        seen=seen,
        tagged=by_group.sum(axis=0),
        human=by_group[1:].sum(axis=0) if groups == 6 else zeros,
        agree=by_group[1] if groups == 6 else zeros,
    )


# --------------------------------------------------------------------------- estimation


def proportion_interval(
    successes: np.ndarray | int, trials: np.ndarray | int, *, level: float = LEVEL
) -> tuple[np.ndarray, np.ndarray] | tuple[float, float]:
    """Modified Jeffreys interval for a binomial proportion.

    Equal-tailed quantiles of the Jeffreys posterior Beta(x + 1/2, n - x + 1/2),
    with the boundary modification of Brown, Cai & DasGupta (2001, section
    4.1.2): for x = 0 the interval is the Clopper-Pearson one, [0, 1 - (a/2)^(1/n)],
    for x = 1 the lower end is 0 (and symmetrically for x = n and n - 1).
    Returns (low, high): floats for scalar counts, else arrays; NaN where
    there are no trials.
    """
    x = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    tail = (1 - level) / 2
    empty = n <= 0
    safe_n = np.where(empty, 1.0, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        low = betaincinv(x + 0.5, safe_n - x + 0.5, tail)
        high = betaincinv(x + 0.5, safe_n - x + 0.5, 1 - tail)
        low = np.where(x == safe_n, tail ** (1 / safe_n), np.where(x <= 1, 0.0, low))
        high = np.where(x == 0, 1 - tail ** (1 / safe_n), np.where(x >= safe_n - 1, 1.0, high))
    low, high = np.where(empty, np.nan, low), np.where(empty, np.nan, high)
    if low.ndim == 0:
        return float(low), float(high)
    return low, high


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(
            denominator > 0, numerator / np.where(denominator > 0, denominator, 1), np.nan
        )


def _tag_rng(seed: int, tag: str) -> np.random.Generator:
    # One stream per tag, keyed by its name: a tag's intervals do not move
    # when other tags are added, removed or reordered.
    return np.random.default_rng([seed, zlib.crc32(tag.encode("utf-8"))])


def _proportion_draws(
    rng: np.random.Generator, successes: float, trials: float, draws: int, boundary_fix: bool
) -> list[np.ndarray]:
    """Posterior draws of a binomial proportion: one array, more near a boundary.

    The first array draws from the Jeffreys posterior Beta(x + 1/2, n - x + 1/2),
    or from Beta(1, n) for x = 0 and Beta(n, 1) for x = n (the Clopper-Pearson
    ends, as in the modified Jeffreys interval). For x <= 1 a second array
    holds the value 0, for x >= n - 1 the value 1: the data cannot rule those
    out, and an interval computed from both arrays reaches them.
    """
    x, n = float(successes), float(trials)
    if n <= 0:
        return [rng.beta(0.5, 0.5, draws)]
    if not boundary_fix:
        return [rng.beta(x + 0.5, n - x + 0.5, draws)]
    if x == 0:
        main = rng.beta(1.0, n, draws)
    elif x == n:
        main = rng.beta(n, 1.0, draws)
    else:
        main = rng.beta(x + 0.5, n - x + 0.5, draws)
    alternatives = [main]
    if x <= 1:
        alternatives.append(np.zeros(draws))
    if x >= n - 1:
        alternatives.append(np.ones(draws))
    return alternatives


@dataclass
class _Estimates:
    share: np.ndarray
    accuracy: np.ndarray
    hlp: np.ndarray
    hlp_source: np.ndarray  # "set" | "measured" | "empty"
    gap: np.ndarray
    marginal_effect: np.ndarray
    intervals: dict[str, tuple[np.ndarray, np.ndarray]]
    sufficient: np.ndarray
    hlp_problem: np.ndarray  # "" | "errors only" | "correct only" | "none"


_ESTIMATED = ("share", "accuracy", "hlp", "gap", "marginal_effect")


def _estimate(
    *,
    stratum_size: np.ndarray,
    seen: np.ndarray,
    tagged: np.ndarray,
    human: np.ndarray,
    agree: np.ndarray,
    hlp_set: np.ndarray,
    names: list[str],
    draws: int,
    seed: int,
    level: float = LEVEL,
    boundary_fix: bool = True,
) -> _Estimates:
    """Point estimates and percentile intervals for K tags at once.

    ``stratum_size`` has shape (2,) or (2, K) (errors, correct); the other
    counts (2, K); ``hlp_set`` (K,) with NaN where no HLP is set.

    Model: the error rate q ~ Beta(E + 1/2, C + 1/2) over the dataset's E errors
    and C correct predictions; in stratum h the tag rate p_h ~ Beta(x_h + 1/2,
    n_h - x_h + 1/2) from x_h tagged among n_h seen examples; the human
    agreement rate a_h ~ Beta(k_h + 1/2, m_h - k_h + 1/2) from k_h agreements
    among m_h tagged examples with a human label. All independent (Jeffreys
    priors, modified at the boundaries as in :func:`_proportion_draws`). Then

        share = q p_0 + (1 - q) p_1
        accuracy = (1 - q) p_1 / share
        measured hlp = (q p_0 a_0 + (1 - q) p_1 a_1) / share
        marginal effect = max(hlp - accuracy, 0) * share

    Point estimates plug the observed fractions in; intervals are the
    equal-tailed percentiles of ``draws`` joint draws (for a proportion near
    0 or 1, the widest over its alternative draws).
    """
    size = np.broadcast_to(np.asarray(stratum_size, dtype=float).reshape(2, -1), seen.shape)
    seen = seen.astype(float)
    tagged = tagged.astype(float)
    human = human.astype(float)
    agree = agree.astype(float)
    n_tags = seen.shape[1]
    total = size.sum(axis=0)

    needed = size > 0
    sufficient = (total > 0) & ~(needed & (seen == 0)).any(axis=0)
    q = _ratio(size[0], total)
    rate = np.where(needed, _ratio(tagged, seen), 0.0)  # p_h; 0 where the stratum is empty
    mass = np.stack([q * rate[0], (1 - q) * rate[1]])  # share of the dataset per stratum
    share = np.where(sufficient, mass.sum(axis=0), np.nan)
    accuracy = np.where(sufficient, _ratio(mass[1], share), np.nan)

    carries = needed & (tagged > 0)
    labelled = human > 0
    has_set = ~np.isnan(hlp_set)
    measurable = (
        sufficient
        & ~has_set
        & (share > 0)
        & labelled.any(axis=0)
        & ~(carries & ~labelled).any(axis=0)
    )
    measured = _ratio((mass * np.where(labelled, _ratio(agree, human), 0.0)).sum(axis=0), share)
    hlp = np.where(has_set, hlp_set, np.where(measurable, measured, np.nan))
    hlp_source = np.where(has_set, "set", np.where(measurable, "measured", "empty"))
    hlp_problem = np.full(n_tags, "", dtype=object)
    partial = sufficient & ~has_set & ~measurable & labelled.any(axis=0)
    hlp_problem[partial & carries[1] & ~labelled[1]] = "errors only"
    hlp_problem[partial & carries[0] & ~labelled[0]] = "correct only"
    hlp_problem[~has_set & ~measurable & (hlp_problem == "")] = "none"

    gap = hlp - accuracy
    # With no example carrying the tag the share is 0, and so is the
    # marginal effect whatever the (undefined) gap.
    marginal_effect = np.where(
        share == 0, np.where(np.isnan(hlp), np.nan, 0.0), gap.clip(0) * share
    )

    intervals = {name: (np.full(n_tags, np.nan), np.full(n_tags, np.nan)) for name in _ESTIMATED}
    rows = np.flatnonzero(sufficient)
    if len(rows) == 0:
        return _Estimates(
            share,
            accuracy,
            hlp,
            hlp_source,
            gap,
            marginal_effect,
            intervals,
            sufficient,
            hlp_problem,
        )
    # Draw per tag (its own stream); the first combination of draws of every
    # tag is summarised in one vectorised pass, the extra combinations that
    # boundary cases bring (see _proportion_draws) one by one.
    first = np.empty((5, len(rows), draws))
    extra: list[tuple[int, tuple[np.ndarray | None, ...]]] = []
    for i, j in enumerate(rows):
        rng = _tag_rng(seed, names[j])
        alternatives = [_proportion_draws(rng, size[0, j], total[j], draws, boundary_fix)]
        # A stratum the dataset lacks (no errors at all, say) still has some
        # weight in the draws of q; its tag rate is then unknown, and drawn
        # from the prior (n = 0 seen).
        for h in (0, 1):
            alternatives.append(
                _proportion_draws(rng, tagged[h, j], seen[h, j] * needed[h, j], draws, boundary_fix)
            )
        for h in (0, 1):
            alternatives.append(
                _proportion_draws(rng, agree[h, j], human[h, j], draws, boundary_fix)
                if measurable[j]
                else [None]
            )
        combinations = itertools.product(*alternatives)
        for k, value in enumerate(next(combinations)):
            first[k, i] = np.nan if value is None else value
        extra.extend((i, combination) for combination in combinations)

    tail = (1 - level) / 2
    bounds = {name: np.full((2, len(rows)), np.nan) for name in _ESTIMATED}

    def summarise(block: np.ndarray, at: np.ndarray | int) -> None:
        q_d, p0, p1, a0, a1 = block
        mass0 = q_d * p0
        mass1 = (1 - q_d) * p1
        share_d = mass0 + mass1
        with np.errstate(divide="ignore", invalid="ignore"):
            accuracy_d = mass1 / share_d
            measured_d = (mass0 * a0 + mass1 * a1) / share_d
        fixed = hlp[rows[at]]
        hlp_d = np.where(np.isnan(a0), np.asarray(fixed)[..., None], measured_d)
        gap_d = hlp_d - accuracy_d
        me_d = np.where(share_d > 0, np.maximum(gap_d, 0.0) * share_d, 0.0)
        me_d = np.where(np.isnan(hlp_d), np.nan, me_d)
        for name, values in zip(_ESTIMATED, (share_d, accuracy_d, hlp_d, gap_d, me_d), strict=True):
            if np.isnan(values).any():
                values = np.atleast_2d(values)
                found = np.array(
                    [
                        np.quantile(v[~np.isnan(v)], [tail, 1 - tail])
                        if (~np.isnan(v)).any()
                        else [np.nan, np.nan]
                        for v in values
                    ]
                ).T
            else:
                found = np.quantile(values, [tail, 1 - tail], axis=-1)
            low, high = found.reshape(2, -1)
            current = bounds[name][:, at].reshape(2, -1)
            bounds[name][0, at] = np.fmin(current[0], low).squeeze()
            bounds[name][1, at] = np.fmax(current[1], high).squeeze()

    summarise(first, np.arange(len(rows)))
    for i, combination in extra:
        block = np.array([np.full(draws, np.nan) if v is None else v for v in combination])
        summarise(block, i)
    for name in _ESTIMATED:
        intervals[name][0][rows] = bounds[name][0]
        intervals[name][1][rows] = bounds[name][1]
    return _Estimates(
        share=share,
        accuracy=accuracy,
        hlp=hlp,
        hlp_source=hlp_source,
        gap=gap,
        marginal_effect=marginal_effect,
        intervals=intervals,
        sufficient=sufficient,
        hlp_problem=hlp_problem,
    )


# --------------------------------------------------------------------------- public API


def _empty_table() -> pd.DataFrame:
    frame = pd.DataFrame({column: pd.Series(dtype=float) for column in COLUMNS})
    for column in ("rank", "examples"):
        frame[column] = frame[column].astype(np.int64)
    for column in ("tag", "kind", "hlp_source", "evidence", "note"):
        frame[column] = frame[column].astype("str")
    return frame


def _notes(
    inputs: _Inputs, counts: _Counts, estimates: _Estimates, effort: np.ndarray, by: str
) -> list[str]:
    notes = []
    for j, kind in enumerate(inputs.kinds):
        parts = []
        size, seen = counts.stratum_size, counts.seen[:, j]
        if size.sum() == 0:
            parts.append(NOTE_NO_EXAMPLES)
        if size[0] > 0 and seen[0] == 0:
            parts.append(NOTE_NO_REVIEWED_ERRORS)
        if size[1] > 0 and seen[1] == 0:
            parts.append(NOTE_NO_REVIEWED_CORRECT)
        if estimates.sufficient[j] and counts.tagged[:, j].sum() == 0:
            parts.append(NOTE_NOT_SEEN_REVIEWED if kind == "reviewed" else NOTE_NOT_SEEN_DATASET)
        if estimates.sufficient[j] and estimates.share[j] > 0:
            problem = estimates.hlp_problem[j]
            if problem == "errors only":
                parts.append(NOTE_HLP_ERRORS_ONLY)
            elif problem == "correct only":
                parts.append(NOTE_HLP_CORRECT_ONLY)
            elif problem == "none":
                parts.append(NOTE_NO_HLP)
        elif np.isnan(estimates.hlp[j]) and counts.human[:, j].sum() == 0:
            parts.append(NOTE_NO_HLP)
        if by == "effort" and not np.isnan(estimates.marginal_effect[j]) and np.isnan(effort[j]):
            parts.append(NOTE_NO_EFFORT)
        if estimates.gap[j] < 0:
            parts.append(NOTE_MODEL_BEATS_HLP)
        notes.append("; ".join(parts))
    return notes


def priority_table(
    examples: pd.DataFrame,
    tags: pd.DataFrame,
    *,
    kinds: Mapping[str, str],
    reviewed: pd.Series | None,
    hlp: Mapping[str, float] | None = None,
    effort: Mapping[str, float] | None = None,
    by: str = "marginal_effect",
    draws: int = 4000,
    seed: int = 0,
) -> pd.DataFrame:
    """Rank tags by marginal effect (or marginal effect per unit of effort).

    Parameters
    ----------
    examples
        One row per example with a bool ``correct`` column; optionally
        ``human_label`` (a second person's label, NA where none) and ``label``.
    tags
        Bool frame, same index as ``examples``, one column per tag.
    kinds
        Tag -> ``"dataset"``, ``"rule"`` (known for every example) or
        ``"reviewed"`` (known only where ``reviewed`` is True; other values
        are ignored and may be missing).
    reviewed
        Bool Series aligned with ``examples``: which examples someone
        reviewed. None means nobody did.
    hlp, effort
        Tag -> human-level performance in [0, 1] / positive effort. Tags left
        out (or None/NaN) have none set; a missing HLP is measured from
        ``human_label`` where possible.
    by
        ``"marginal_effect"`` or ``"effort"`` (marginal effect per unit of
        effort; tags without an effort rank after those with one).
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
    is unknown rank last; ``note`` says why in plain words.

    Estimates: each stratum (errors, correct predictions) is weighted by its
    size over its number of seen examples; intervals are 95% percentile
    intervals of seeded Monte Carlo draws from Jeffreys posteriors, see
    :func:`_estimate` and ``docs_statistics.md``.
    """
    if by not in ORDERS:
        raise ValueError(f"by must be one of {ORDERS}, got {by!r}")
    if isinstance(draws, bool) or not isinstance(draws, int | np.integer) or draws < MIN_DRAWS:
        raise ValueError(f"draws must be an integer of at least {MIN_DRAWS}, got {draws!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    inputs = _check_inputs(examples, tags, kinds=kinds, reviewed=reviewed, hlp=hlp, effort=effort)
    if not inputs.tag_names:
        return _empty_table()
    counts = _count(inputs)
    names = inputs.tag_names
    hlp_set = np.array([inputs.hlp.get(tag, np.nan) for tag in names])
    effort_values = np.array([inputs.effort.get(tag, np.nan) for tag in names])
    estimates = _estimate(
        stratum_size=counts.stratum_size,
        seen=counts.seen,
        tagged=counts.tagged,
        human=counts.human,
        agree=counts.agree,
        hlp_set=hlp_set,
        names=names,
        draws=int(draws),
        seed=int(seed),
    )
    kinds_out = np.array(inputs.kinds, dtype=object)
    evidence = np.where(
        ~estimates.sufficient,
        "insufficient",
        np.where(kinds_out == "reviewed", "reviewed", "dataset"),
    )
    per_effort = _ratio(estimates.marginal_effect, np.nan_to_num(effort_values, nan=0.0))
    intervals = estimates.intervals
    table = pd.DataFrame(
        {
            "rank": 0,
            "tag": list(names),
            "kind": kinds_out,
            "examples": counts.tagged.sum(axis=0),
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
            "effort": effort_values,
            "evidence": evidence.astype(object),
            "note": _notes(inputs, counts, estimates, effort_values, by),
            "estimated_examples": estimates.share * counts.stratum_size.sum(),
            "hlp_low": intervals["hlp"][0],
            "hlp_high": intervals["hlp"][1],
            "gap_low": intervals["gap"][0],
            "gap_high": intervals["gap"][1],
            "marginal_effect_per_effort": per_effort,
        }
    )
    # Order: tags with a ranking value first (highest first), then, for
    # by="effort", tags with a marginal effect but no effort, then the rest.
    # Ties go to the larger upper bound, then to the input order.
    known = ~np.isnan(estimates.marginal_effect)
    if by == "effort":
        key = np.where(np.isnan(per_effort), estimates.marginal_effect, per_effort)
        group = np.where(~known, 2, np.where(np.isnan(per_effort), 1, 0))
    else:
        key = estimates.marginal_effect
        group = np.where(known, 0, 2)
    upper = np.nan_to_num(intervals["marginal_effect"][1], nan=-1.0)
    order = np.lexsort((np.arange(len(names)), -upper, -np.nan_to_num(key, nan=0.0), group))
    table = table.iloc[order].reset_index(drop=True)
    table["rank"] = np.arange(1, len(table) + 1, dtype=np.int64)
    return table


def error_shares(
    examples: pd.DataFrame,
    tags: pd.DataFrame,
    *,
    kinds: Mapping[str, str],
    reviewed: pd.Series | None,
    level: float = LEVEL,
) -> pd.DataFrame:
    """Share of errors carrying each tag: the spreadsheet view of error analysis.

    For dataset and rule tags the share is among all errors; for reviewed
    tags among the reviewed errors, with a 95% modified Jeffreys interval
    (:func:`proportion_interval`; the errors are treated as a sample of the
    errors the model will make). Columns :data:`ERROR_SHARE_COLUMNS`, sorted
    by share of errors, highest first. Shares sum to more than 1 where tags
    overlap. ``evidence`` is ``"insufficient"`` (and the share NaN) for a
    reviewed tag when no error has been reviewed.
    """
    inputs = _check_inputs(examples, tags, kinds=kinds, reviewed=reviewed)
    if not inputs.tag_names:
        return pd.DataFrame({column: [] for column in ERROR_SHARE_COLUMNS})
    counts = _count(inputs)
    errors = counts.tagged[0]
    denominator = counts.seen[0]
    low, high = proportion_interval(errors, denominator, level=level)
    kinds_out = np.array(inputs.kinds, dtype=object)
    evidence = np.where(
        denominator == 0,
        "insufficient",
        np.where(kinds_out == "reviewed", "reviewed", "dataset"),
    )
    table = pd.DataFrame(
        {
            "tag": list(inputs.tag_names),
            "kind": kinds_out,
            "errors": errors,
            "reviewed_errors": denominator,
            "share_of_errors": _ratio(errors.astype(float), denominator),
            "share_of_errors_low": low,
            "share_of_errors_high": high,
            "evidence": evidence.astype(object),
        }
    )
    return table.sort_values(
        "share_of_errors", ascending=False, na_position="last", kind="stable"
    ).reset_index(drop=True)


def untagged_errors(
    examples: pd.DataFrame,
    tags: pd.DataFrame,
    *,
    kinds: Mapping[str, str],
    reviewed: pd.Series | None,
) -> pd.DataFrame:
    """The reviewed errors that carry no tag yet (rows of ``examples``, index kept).

    Their number over the number of reviewed errors says how much of the
    error analysis is still unexplained; :func:`proportion_interval` gives
    its interval.
    """
    inputs = _check_inputs(examples, tags, kinds=kinds, reviewed=reviewed)
    carries_any = inputs.matrix.any(axis=1) if inputs.tag_names else np.zeros(len(examples), bool)
    mask = inputs.reviewed & ~inputs.correct & ~carries_any
    return examples.loc[mask].copy()


def _overlap_rows(inputs: _Inputs, errors_only: bool) -> np.ndarray:
    """The examples considered for overlaps: all of them, or the errors."""
    if errors_only:
        return ~inputs.correct
    return np.ones(len(inputs.correct), dtype=bool)


def tag_overlap(
    examples: pd.DataFrame,
    tags: pd.DataFrame,
    *,
    kinds: Mapping[str, str],
    reviewed: pd.Series | None,
    measure: str = "count",
    errors_only: bool = False,
) -> pd.DataFrame:
    """Co-occurrence of tags: a square frame indexed by tag on both axes.

    ``measure="count"``: how many examples carry both tags (the diagonal: how
    many carry the tag); ``"jaccard"``: that count over the number carrying
    either. A pair is counted where both tags are known: everywhere for two
    dataset/rule tags, on the reviewed examples when one of them is a
    reviewed tag. ``errors_only`` restricts to errors. Large overlaps mean
    that adding the marginal effects of those tags double-counts.
    """
    if measure not in ("count", "jaccard"):
        raise ValueError(f"measure must be 'count' or 'jaccard', got {measure!r}")
    inputs = _check_inputs(examples, tags, kinds=kinds, reviewed=reviewed)
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
        matrix = inputs.matrix[rows]
        co = _cooccurrence(matrix)
        both = np.where(pair_mask, co, both)
        diagonal = np.diag(co)
        single = np.where(pair_mask, diagonal[:, None], single)
    if measure == "count":
        values = both.astype(np.int64)
    else:
        union = single + single.T - both
        values = _ratio(both.astype(float), union.astype(float))
    index = pd.Index(names, name="tag")
    return pd.DataFrame(values, index=index, columns=pd.Index(names))


def _cooccurrence(matrix: np.ndarray) -> np.ndarray:
    """matrix.T @ matrix for a bool matrix, exactly, without a float copy of all of it."""
    k = matrix.shape[1]
    out = np.zeros((k, k), dtype=np.int64)
    dtype = np.float32  # exact: every partial sum is an integer below 2**24
    for start in range(0, matrix.shape[0], _CHUNK_ROWS * 8):
        block = matrix[start : start + _CHUNK_ROWS * 8].astype(dtype)
        out += np.rint(block.T @ block).astype(np.int64)
    return out


def exclusive_shares(
    examples: pd.DataFrame,
    tags: pd.DataFrame,
    *,
    kinds: Mapping[str, str],
    reviewed: pd.Series | None,
    errors_only: bool = False,
) -> pd.DataFrame:
    """Per tag: examples carrying it, how many carry no other tag, and that fraction.

    Counted on the examples where every tag is known (the reviewed ones
    when there is any reviewed tag). A low exclusive share means most of the
    tag's examples also carry other tags, so their marginal effects overlap.
    Columns: tag, examples, exclusive, exclusive_share.
    """
    inputs = _check_inputs(examples, tags, kinds=kinds, reviewed=reviewed)
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
            "exclusive_share": _ratio(exclusive.astype(float), carrying.astype(float)),
        }
    )
