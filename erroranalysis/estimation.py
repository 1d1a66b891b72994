"""The statistics behind the priority table: from sufficient statistics to estimates and
95% intervals.

For K tags at once, from their :class:`~erroranalysis.counts.TagCounts` (per stratum of the
run estimated, errors and correct predictions: sizes, counts and design-weight sums), in
named steps: :func:`_point_estimates` (share and accuracy, exactly, post-stratified by the
run's correctness), :func:`_hlp_status` (the HLP set, measured or missing, and the note
saying why), :func:`effective_counts` (the weighted sample as an equally informative
simple random one), :func:`_draws` (seeded Monte Carlo draws of Jeffreys posteriors, one
stream per tag) and :func:`_bounds` (their percentile intervals). :func:`estimate` runs
them and builds the result once. ``docs/statistics.md`` explains the method in plain words.

Design-based estimate: in stratum h the tag rate is the Hájek ratio
p_h = Σw·t / Σw over the examples that enter the estimates, each weighted by its design
weight w (how many examples it stands for; 1 in a census or a simple random sample of the
stratum, where p_h is the plain fraction x_h / n_h). Its uncertainty is that of a simple
random sample of the effective size n*_h (from the linearised variance of the ratio;
Kish's), so the model below runs on (x*_h, n*_h) = (p_h n*_h, n*_h), which are (x_h, n_h)
themselves when the weights are equal.

Model: the error rate q ~ Beta(E + 1/2, C + 1/2) over the run's E errors and C correct
predictions; in stratum h the tag rate p_h ~ Beta(x*_h + 1/2, n*_h - x*_h + 1/2); the
human agreement rate a_h ~ Beta(k*_h + 1/2, m*_h - k*_h + 1/2) from the (effective)
agreements among the tagged examples with a human label. All independent (Jeffreys
priors, modified at the boundaries as in :func:`_proportion_draws`). Then

    share = q p_0 + (1 - q) p_1
    accuracy = (1 - q) p_1 / share
    measured hlp = (q p_0 a_0 + (1 - q) p_1 a_1) / share
    marginal effect = max(hlp - accuracy, 0) * share

Point estimates plug the observed rates in, computed as exact fractions (a set HLP is the
decimal it was written as) and rounded once, so ties are ties; intervals are the
equal-tailed percentiles of the joint draws (for a proportion near 0 or 1, the widest over
its alternative draws).
"""

from __future__ import annotations

import itertools
import zlib
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .counts import Proportion, TagCounts
from .vocabulary import NOTE_HLP_CORRECT_ONLY, NOTE_HLP_ERRORS_ONLY, NOTE_NO_HLP

LEVEL = 0.95
# The quantities that get an interval, in the order _summaries returns their draws.
ESTIMATED = ("share", "accuracy", "hlp", "gap", "marginal_effect")


def ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator``, NaN where the denominator is not positive."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(
            denominator > 0, numerator / np.where(denominator > 0, denominator, 1), np.nan
        )


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
    from scipy.special import betaincinv

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


@dataclass(frozen=True)
class Estimates:
    """Per tag (arrays of length K): point estimates, where the HLP comes from, intervals.

    The float point estimates are the exact ones (``exact_*``, :class:`~fractions.Fraction`
    or None where unknown) rounded once, so equal values are equal floats and a gap of 0 is
    0.0, never -1e-16.
    """

    share: np.ndarray
    accuracy: np.ndarray
    hlp: np.ndarray
    hlp_source: np.ndarray  # "set" | "measured" | "empty"
    hlp_note: np.ndarray  # why the HLP is missing, in the table's words; "" if it is not
    gap: np.ndarray
    marginal_effect: np.ndarray
    intervals: dict[str, tuple[np.ndarray, np.ndarray]]  # name in ESTIMATED -> (low, high)
    sufficient: np.ndarray  # every stratum the estimate needs has a seen example
    exact_gap: np.ndarray  # object: Fraction, or None where unknown
    exact_marginal_effect: np.ndarray  # object: Fraction, or None where unknown


def decimal(value: float) -> Fraction:
    """A number a person set (an HLP of 0.7, an effort) as the decimal they wrote: the
    shortest one that reads back as the float, so 0.7 is 7/10, not 0.69999999999999996."""
    return Fraction(repr(float(value)))


def _floats(values: np.ndarray) -> np.ndarray:
    return np.array([np.nan if v is None else float(v) for v in values], dtype=float)


def _rate(proportion: Proportion, h: int, j: int) -> Fraction | None:
    """The Hájek rate Σw·x / Σw of stratum h and tag j, exactly; None without examples.

    With equal weights it is the ratio of the integer counts (the weights cancel)."""
    n = int(proportion.n[h, j])
    if n == 0:
        return None
    if proportion.equal[h, j]:
        return Fraction(int(proportion.x[h, j]), n)
    return Fraction(float(proportion.wx[h, j])) / Fraction(float(proportion.w[h, j]))


@dataclass(frozen=True)
class _Point:
    sufficient: np.ndarray  # (K,) bool
    mass: np.ndarray  # (2, K) object: N_h / N x rate_h, the share carried by each stratum
    share: np.ndarray  # (K,) object: Fraction or None
    accuracy: np.ndarray  # (K,) object


@dataclass(frozen=True)
class _Hlp:
    value: np.ndarray  # (K,) object: Fraction or None
    source: np.ndarray
    note: np.ndarray
    measurable: np.ndarray  # measured from human labels (and so drawn, not fixed)


def _point_estimates(counts: TagCounts) -> _Point:
    """Share and accuracy, exactly: each stratum's rate weighted by the stratum's share
    of the run (post-stratification by the target run's correctness)."""
    size = counts.sizes
    n_tags = size.shape[1]
    needed = size > 0
    sufficient = (size.sum(axis=0) > 0) & ~(needed & (counts.tag.n == 0)).any(axis=0)
    mass = np.full((2, n_tags), None, dtype=object)
    share = np.full(n_tags, None, dtype=object)
    accuracy = np.full(n_tags, None, dtype=object)
    for j in np.flatnonzero(sufficient):
        total = int(size[:, j].sum())
        for h in (0, 1):
            rate = _rate(counts.tag, h, j) if needed[h, j] else Fraction(0)
            mass[h, j] = Fraction(int(size[h, j]), total) * rate
        share[j] = mass[0, j] + mass[1, j]
        accuracy[j] = mass[1, j] / share[j] if share[j] > 0 else None
    return _Point(sufficient=sufficient, mass=mass, share=share, accuracy=accuracy)


def _hlp_status(counts: TagCounts, point: _Point, hlp_set: np.ndarray) -> _Hlp:
    """The HLP of each tag: set by the team, else measured from human labels where every
    stratum that carries the tag has some, else missing with a note saying what to add."""
    carries = (counts.sizes > 0) & (counts.tag.x > 0)
    labelled = counts.agreement.n > 0
    any_labels = labelled.any(axis=0)
    has_set = ~np.isnan(hlp_set)
    positive = np.array([share is not None and share > 0 for share in point.share], dtype=bool)
    measurable = (
        point.sufficient & ~has_set & positive & any_labels & ~(carries & ~labelled).any(axis=0)
    )
    value = np.full(len(hlp_set), None, dtype=object)
    for j in np.flatnonzero(has_set):
        value[j] = decimal(hlp_set[j])
    for j in np.flatnonzero(measurable):
        agreeing = [
            point.mass[h, j] * _rate(counts.agreement, h, j) if labelled[h, j] else 0
            for h in (0, 1)
        ]
        value[j] = sum(agreeing) / point.share[j]
    source = np.where(has_set, "set", np.where(measurable, "measured", "empty"))

    missing = ~has_set & ~measurable
    partial = point.sufficient & missing & any_labels
    # Where the tag has a share, say what is missing; elsewhere only that nothing is there.
    explained = point.sufficient & positive
    note = np.full(len(value), "", dtype=object)
    note[explained & missing] = NOTE_NO_HLP
    note[explained & partial & carries[1] & ~labelled[1]] = NOTE_HLP_ERRORS_ONLY
    note[explained & partial & carries[0] & ~labelled[0]] = NOTE_HLP_CORRECT_ONLY
    note[~explained & missing & ~any_labels] = NOTE_NO_HLP
    return _Hlp(value=value, source=source, note=note, measurable=measurable)


def _gap_and_effect(point: _Point, hlp: _Hlp) -> tuple[np.ndarray, np.ndarray]:
    """gap = HLP - accuracy and marginal effect = max(gap, 0) x share, exactly."""
    gap = np.full(len(point.share), None, dtype=object)
    effect = np.full(len(point.share), None, dtype=object)
    values = zip(point.share, point.accuracy, hlp.value, strict=True)
    for j, (share, accuracy, value) in enumerate(values):
        if value is None or share is None:
            continue
        if accuracy is not None:
            gap[j] = value - accuracy
        # With no example carrying the tag the share is 0, and so is the
        # marginal effect whatever the (undefined) gap.
        effect[j] = Fraction(0) if share == 0 else max(gap[j], Fraction(0)) * share
    return gap, effect


def effective_counts(
    proportion: Proportion, *, cap: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(x*, n*), shape (2, K): the counts of a simple random sample as informative as the
    weighted one, for the Jeffreys machinery in place of (x, n).

    With equal weights they are the integer counts themselves. Otherwise, from the Hájek
    rate p = Σw·x / Σw and its linearised variance
    v = [Σw²·x (1 - p)² + (Σw² - Σw²·x) p²] / (Σw)², the effective size is
    n* = p (1 - p) / v (Kish's (Σw)² / Σw² where p is 0 or 1), at most ``cap`` (the
    stratum's size N_h), and x* = p n*. n* may exceed the n examples observed: a design
    that oversampled the informative examples (the active strategy) buys that precision.
    """
    n = proportion.n.astype(float)
    x = proportion.x.astype(float)
    if proportion.equal.all():
        return x, n
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(proportion.w > 0, proportion.wx / proportion.w, 0.0)
        variance = (
            proportion.w2x * (1 - p) ** 2 + (proportion.w2 - proportion.w2x) * p**2
        ) / proportion.w**2
        kish = proportion.w**2 / proportion.w2
        size = np.where((p > 0) & (p < 1), p * (1 - p) / variance, kish)
    size = np.nan_to_num(size, nan=0.0, posinf=0.0)
    if cap is not None:
        size = np.minimum(size, cap)
    size = np.where(n > 0, size, 0.0)
    return np.where(proportion.equal, x, p * size), np.where(proportion.equal, n, size)


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


def _draws(
    size: np.ndarray,
    tag: tuple[np.ndarray, np.ndarray],
    agreement: tuple[np.ndarray, np.ndarray],
    measurable: np.ndarray,
    rows: np.ndarray,
    names: list[str],
    draws: int,
    seed: int,
    boundary_fix: bool,
) -> tuple[np.ndarray, list[tuple[int, np.ndarray]]]:
    """Draws of (q, p_0, p_1, a_0, a_1) for the tags at ``rows``, each from its own stream.

    ``size`` (2, K) are the strata's sizes, ``tag`` and ``agreement`` the effective counts
    (x*, n*) of the tag and agreement rates (:func:`effective_counts`). Returns the first
    combination of every tag's draws, shape (5, len(rows), draws), and the extra
    combinations that boundary cases bring (see :func:`_proportion_draws`) as
    (position in ``rows``, (5, draws) block). The agreement rates are NaN for a tag whose
    HLP is not measured.
    """
    total, needed = size.sum(axis=0), size > 0
    first = np.empty((5, len(rows), draws))
    extra: list[tuple[int, np.ndarray]] = []
    for i, j in enumerate(rows):
        rng = _tag_rng(seed, names[j])
        alternatives = [_proportion_draws(rng, size[0, j], total[j], draws, boundary_fix)]
        # A stratum the dataset lacks (no errors at all, say) still has some
        # weight in the draws of q; its tag rate is then unknown, and drawn
        # from the prior (n = 0 seen).
        for h in (0, 1):
            seen = tag[1][h, j] * needed[h, j]
            alternatives.append(_proportion_draws(rng, tag[0][h, j], seen, draws, boundary_fix))
        for h in (0, 1):
            alternatives.append(
                _proportion_draws(rng, agreement[0][h, j], agreement[1][h, j], draws, boundary_fix)
                if measurable[j]
                else [None]
            )
        combinations = itertools.product(*alternatives)
        for k, value in enumerate(next(combinations)):
            first[k, i] = np.nan if value is None else value
        for combination in combinations:
            block = np.array([np.full(draws, np.nan) if v is None else v for v in combination])
            extra.append((i, block))
    return first, extra


def _summaries(block: np.ndarray, fixed_hlp: np.ndarray) -> tuple[np.ndarray, ...]:
    """The draws of each quantity in ESTIMATED from a (5, m, draws) block of parameter
    draws; ``fixed_hlp`` (m,) is used where the HLP is not drawn."""
    q, p0, p1, a0, a1 = block
    mass0 = q * p0
    mass1 = (1 - q) * p1
    share = mass0 + mass1
    with np.errstate(divide="ignore", invalid="ignore"):
        accuracy = mass1 / share
        measured = (mass0 * a0 + mass1 * a1) / share
    hlp = np.where(np.isnan(a0), fixed_hlp[:, None], measured)
    gap = hlp - accuracy
    effect = np.where(share > 0, np.maximum(gap, 0.0) * share, 0.0)
    effect = np.where(np.isnan(hlp), np.nan, effect)
    return share, accuracy, hlp, gap, effect


def _percentiles(values: np.ndarray, tail: float) -> np.ndarray:
    """(2, m): the equal-tailed percentiles of each row of draws, NaN draws left out."""
    if not np.isnan(values).any():
        return np.quantile(values, [tail, 1 - tail], axis=-1)
    return np.array(
        [
            np.quantile(v[~np.isnan(v)], [tail, 1 - tail])
            if (~np.isnan(v)).any()
            else [np.nan, np.nan]
            for v in values
        ]
    ).T


def _bounds(
    first: np.ndarray,
    extra: list[tuple[int, np.ndarray]],
    fixed_hlp: np.ndarray,
    level: float,
) -> dict[str, np.ndarray]:
    """Name in ESTIMATED -> (2, m) interval bounds: per tag the widest over its
    combinations of draws."""
    tail = (1 - level) / 2
    bounds = {
        name: _percentiles(values, tail)
        for name, values in zip(ESTIMATED, _summaries(first, fixed_hlp), strict=True)
    }
    for i, block in extra:
        summaries = _summaries(block[:, None, :], fixed_hlp[i : i + 1])
        for name, values in zip(ESTIMATED, summaries, strict=True):
            (low,), (high,) = _percentiles(values, tail)
            bounds[name][0, i] = np.fmin(bounds[name][0, i], low)
            bounds[name][1, i] = np.fmax(bounds[name][1, i], high)
    return bounds


def estimate(
    counts: TagCounts,
    *,
    hlp_set: np.ndarray,
    names: list[str],
    draws: int,
    seed: int,
    level: float = LEVEL,
    boundary_fix: bool = True,
) -> Estimates:
    """Point estimates and percentile intervals for K tags at once (see the module).

    ``counts`` are the tags' sufficient statistics (:class:`~erroranalysis.counts.TagCounts`);
    ``hlp_set`` (K,) with NaN where no HLP is set; ``names`` key each tag's random stream.
    Tags without sufficient evidence get NaN estimates and intervals.
    """
    size = counts.sizes.astype(float)
    point = _point_estimates(counts)
    hlp = _hlp_status(counts, point, hlp_set)
    gap, effect = _gap_and_effect(point, hlp)
    hlp_values = _floats(hlp.value)

    n_tags = size.shape[1]
    intervals = {name: (np.full(n_tags, np.nan), np.full(n_tags, np.nan)) for name in ESTIMATED}
    rows = np.flatnonzero(point.sufficient)
    if len(rows):
        first, extra = _draws(
            size,
            effective_counts(counts.tag, cap=size),
            effective_counts(counts.agreement, cap=size),
            hlp.measurable,
            rows,
            names,
            draws,
            seed,
            boundary_fix,
        )
        for name, (low, high) in _bounds(first, extra, hlp_values[rows], level).items():
            intervals[name][0][rows] = low
            intervals[name][1][rows] = high
    return Estimates(
        share=_floats(point.share),
        accuracy=_floats(point.accuracy),
        hlp=hlp_values,
        hlp_source=hlp.source,
        hlp_note=hlp.note,
        gap=_floats(gap),
        marginal_effect=_floats(effect),
        intervals=intervals,
        sufficient=point.sufficient,
        exact_gap=gap,
        exact_marginal_effect=effect,
    )
