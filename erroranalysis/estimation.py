"""The statistics behind the priority table: from counts to estimates and 95% intervals.

For K tags at once, from the counts of each stratum (errors, correct predictions), in
named steps: :func:`_point_estimates` (share and accuracy, weighted by stratum),
:func:`_hlp_status` (the HLP set, measured or missing, and the note saying why),
:func:`_draws` (seeded Monte Carlo draws of Jeffreys posteriors, one stream per tag) and
:func:`_bounds` (their percentile intervals). :func:`estimate` runs them and builds the
result once. ``docs/statistics.md`` explains the method in plain words.

Model: the error rate q ~ Beta(E + 1/2, C + 1/2) over the dataset's E errors and C correct
predictions; in stratum h the tag rate p_h ~ Beta(x_h + 1/2, n_h - x_h + 1/2) from x_h
tagged among n_h seen examples; the human agreement rate a_h ~ Beta(k_h + 1/2,
m_h - k_h + 1/2) from k_h agreements among m_h tagged examples with a human label. All
independent (Jeffreys priors, modified at the boundaries as in :func:`_proportion_draws`).
Then

    share = q p_0 + (1 - q) p_1
    accuracy = (1 - q) p_1 / share
    measured hlp = (q p_0 a_0 + (1 - q) p_1 a_1) / share
    marginal effect = max(hlp - accuracy, 0) * share

Point estimates plug the observed fractions in; intervals are the equal-tailed percentiles
of the joint draws (for a proportion near 0 or 1, the widest over its alternative draws).
"""

from __future__ import annotations

import itertools
import zlib
from dataclasses import dataclass

import numpy as np
from scipy.special import betaincinv

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
    """Per tag (arrays of length K): point estimates, where the HLP comes from, intervals."""

    share: np.ndarray
    accuracy: np.ndarray
    hlp: np.ndarray
    hlp_source: np.ndarray  # "set" | "measured" | "empty"
    hlp_note: np.ndarray  # why the HLP is missing, in the table's words; "" if it is not
    gap: np.ndarray
    marginal_effect: np.ndarray
    intervals: dict[str, tuple[np.ndarray, np.ndarray]]  # name in ESTIMATED -> (low, high)
    sufficient: np.ndarray  # every stratum the estimate needs has a seen example


@dataclass(frozen=True)
class _Strata:
    """The counts as floats, shape (2, K): index 0 = errors, 1 = correct predictions."""

    size: np.ndarray  # examples per stratum in the dataset
    seen: np.ndarray  # of those, where the tag is known
    tagged: np.ndarray  # of those, carrying the tag
    human: np.ndarray  # of those, with a human label
    agree: np.ndarray  # of those, where the human label equals the label

    @property
    def total(self) -> np.ndarray:
        return self.size.sum(axis=0)

    @property
    def needed(self) -> np.ndarray:
        """The strata the dataset has, whose tag rate the estimate needs."""
        return self.size > 0


@dataclass(frozen=True)
class _Point:
    sufficient: np.ndarray
    mass: np.ndarray  # (2, K) share of the dataset carrying the tag, per stratum
    share: np.ndarray
    accuracy: np.ndarray


@dataclass(frozen=True)
class _Hlp:
    value: np.ndarray
    source: np.ndarray
    note: np.ndarray
    measurable: np.ndarray  # measured from human labels (and so drawn, not fixed)


def _point_estimates(strata: _Strata) -> _Point:
    """Share and accuracy, each stratum weighted by its size over its seen examples."""
    needed = strata.needed
    sufficient = (strata.total > 0) & ~(needed & (strata.seen == 0)).any(axis=0)
    q = ratio(strata.size[0], strata.total)
    rate = np.where(needed, ratio(strata.tagged, strata.seen), 0.0)  # 0 where none exist
    mass = np.stack([q * rate[0], (1 - q) * rate[1]])
    share = np.where(sufficient, mass.sum(axis=0), np.nan)
    accuracy = np.where(sufficient, ratio(mass[1], share), np.nan)
    return _Point(sufficient=sufficient, mass=mass, share=share, accuracy=accuracy)


def _hlp_status(strata: _Strata, point: _Point, hlp_set: np.ndarray) -> _Hlp:
    """The HLP of each tag: set by the team, else measured from human labels where every
    stratum that carries the tag has some, else missing with a note saying what to add."""
    carries = strata.needed & (strata.tagged > 0)
    labelled = strata.human > 0
    any_labels = labelled.any(axis=0)
    has_set = ~np.isnan(hlp_set)
    measurable = (
        point.sufficient
        & ~has_set
        & (point.share > 0)
        & any_labels
        & ~(carries & ~labelled).any(axis=0)
    )
    agreement = np.where(labelled, ratio(strata.agree, strata.human), 0.0)
    measured = ratio((point.mass * agreement).sum(axis=0), point.share)
    value = np.where(has_set, hlp_set, np.where(measurable, measured, np.nan))
    source = np.where(has_set, "set", np.where(measurable, "measured", "empty"))

    missing = ~has_set & ~measurable
    partial = point.sufficient & missing & any_labels
    # Where the tag has a share, say what is missing; elsewhere only that nothing is there.
    explained = point.sufficient & (point.share > 0)
    note = np.full(len(value), "", dtype=object)
    note[explained & missing] = NOTE_NO_HLP
    note[explained & partial & carries[1] & ~labelled[1]] = NOTE_HLP_ERRORS_ONLY
    note[explained & partial & carries[0] & ~labelled[0]] = NOTE_HLP_CORRECT_ONLY
    note[~explained & missing & ~any_labels] = NOTE_NO_HLP
    return _Hlp(value=value, source=source, note=note, measurable=measurable)


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
    strata: _Strata,
    measurable: np.ndarray,
    rows: np.ndarray,
    names: list[str],
    draws: int,
    seed: int,
    boundary_fix: bool,
) -> tuple[np.ndarray, list[tuple[int, np.ndarray]]]:
    """Draws of (q, p_0, p_1, a_0, a_1) for the tags at ``rows``, each from its own stream.

    Returns the first combination of every tag's draws, shape (5, len(rows), draws), and
    the extra combinations that boundary cases bring (see :func:`_proportion_draws`) as
    (position in ``rows``, (5, draws) block). The agreement rates are NaN for a tag whose
    HLP is not measured.
    """
    size, total, needed = strata.size, strata.total, strata.needed
    first = np.empty((5, len(rows), draws))
    extra: list[tuple[int, np.ndarray]] = []
    for i, j in enumerate(rows):
        rng = _tag_rng(seed, names[j])
        alternatives = [_proportion_draws(rng, size[0, j], total[j], draws, boundary_fix)]
        # A stratum the dataset lacks (no errors at all, say) still has some
        # weight in the draws of q; its tag rate is then unknown, and drawn
        # from the prior (n = 0 seen).
        for h in (0, 1):
            seen = strata.seen[h, j] * needed[h, j]
            alternatives.append(
                _proportion_draws(rng, strata.tagged[h, j], seen, draws, boundary_fix)
            )
        for h in (0, 1):
            alternatives.append(
                _proportion_draws(rng, strata.agree[h, j], strata.human[h, j], draws, boundary_fix)
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
) -> Estimates:
    """Point estimates and percentile intervals for K tags at once (see the module).

    ``stratum_size`` has shape (2,) or (2, K) (errors, correct); the other counts (2, K);
    ``hlp_set`` (K,) with NaN where no HLP is set; ``names`` key each tag's random stream.
    Tags without sufficient evidence get NaN estimates and intervals.
    """
    size = np.broadcast_to(np.asarray(stratum_size, dtype=float).reshape(2, -1), seen.shape)
    strata = _Strata(
        size=size,
        seen=seen.astype(float),
        tagged=tagged.astype(float),
        human=human.astype(float),
        agree=agree.astype(float),
    )
    point = _point_estimates(strata)
    hlp = _hlp_status(strata, point, hlp_set)
    gap = hlp.value - point.accuracy
    # With no example carrying the tag the share is 0, and so is the
    # marginal effect whatever the (undefined) gap.
    marginal_effect = np.where(
        point.share == 0, np.where(np.isnan(hlp.value), np.nan, 0.0), gap.clip(0) * point.share
    )

    n_tags = seen.shape[1]
    intervals = {name: (np.full(n_tags, np.nan), np.full(n_tags, np.nan)) for name in ESTIMATED}
    rows = np.flatnonzero(point.sufficient)
    if len(rows):
        first, extra = _draws(strata, hlp.measurable, rows, names, draws, seed, boundary_fix)
        for name, (low, high) in _bounds(first, extra, hlp.value[rows], level).items():
            intervals[name][0][rows] = low
            intervals[name][1][rows] = high
    return Estimates(
        share=point.share,
        accuracy=point.accuracy,
        hlp=hlp.value,
        hlp_source=hlp.source,
        hlp_note=hlp.note,
        gap=gap,
        marginal_effect=marginal_effect,
        intervals=intervals,
        sufficient=point.sufficient,
    )
