"""Coverage of the priority table's 95% intervals, by simulation.

Each scenario fixes the truth for one tag in the population the model will
meet (error rate q, the tag's rate among errors p_err and among correct
predictions p_cor, HLP). Every repetition draws a dataset of N examples from
it and a review sample (a fixed number of errors and of correct
predictions, or every example for a dataset tag), then estimates the
intervals. Counts are sufficient statistics here (the number of errors is
binomial, and so is the number of tagged examples in a simple random sample
of a stratum), so the simulation draws the counts directly and runs the
estimator on 1,000 repetitions at once;
``test_public_table_equals_the_estimator_on_counts`` ties that estimator to
``priority_table``.

Besides coverage, the mean width must stay within 1.25 times that of a
normal-approximation interval built from the true standard error (delta
method), 2 times where a stratum holds fewer than 5 tagged examples on
average: honest, but no wider than the data warrants.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import pytest

from erroranalysis.counts import Proportion, TagCounts, tag_counts
from erroranalysis.estimation import estimate
from erroranalysis.evidence import Evidence

REPETITIONS = 1000
DRAWS = 1000
MIN_COVERAGE = 0.93
MAX_WIDTH_RATIO = 1.25
MAX_WIDTH_RATIO_FEW = 2.0
Z = 1.959963984540054


@dataclass(frozen=True)
class Truth:
    """One tag's truth in the population: the model errs at rate q, the tag is on a
    fraction p_err of its errors and p_cor of its correct predictions; each kind of
    scenario below defines the ``accuracy`` on the tag its estimate is for."""

    name: str
    n: int  # dataset size
    q: float  # error rate
    p_err: float  # tag rate among errors
    p_cor: float  # tag rate among correct predictions
    hlp: float | None  # set HLP; None: measured from human labels

    @property
    def share(self) -> float:
        return self.q * self.p_err + (1 - self.q) * self.p_cor

    @property
    def true_hlp(self) -> float:
        return self.hlp

    @property
    def marginal_effect(self) -> float:
        return max(self.true_hlp - self.accuracy, 0.0) * self.share


@dataclass(frozen=True)
class Scenario(Truth):
    reviewed_errors: int | None = None  # None: a dataset tag, every example known
    reviewed_correct: int | None = None
    agree_err: float = 1.0  # human agreement rate among the tag's errors
    agree_cor: float = 1.0  # and among its correct predictions
    seed: int = 0

    @property
    def accuracy(self) -> float:
        return (1 - self.q) * self.p_cor / self.share

    @property
    def true_hlp(self) -> float:
        if self.hlp is not None:
            return self.hlp
        mass_err, mass_cor = self.q * self.p_err, (1 - self.q) * self.p_cor
        return (mass_err * self.agree_err + mass_cor * self.agree_cor) / self.share

    def expected_tagged(self) -> float:
        """Expected number of tagged examples seen in the smaller stratum."""
        n_err = self.reviewed_errors or self.n * self.q
        n_cor = self.reviewed_correct or self.n * (1 - self.q)
        return min(n_err * self.p_err, n_cor * self.p_cor)

    def standard_errors(self) -> dict[str, float]:
        """Delta-method standard errors of share, accuracy and marginal effect."""
        q, pe, pc, s, a, h = (
            self.q,
            self.p_err,
            self.p_cor,
            self.share,
            self.accuracy,
            self.true_hlp,
        )
        ae, ac = self.agree_err, self.agree_cor
        n_err = self.reviewed_errors or self.n * q
        n_cor = self.reviewed_correct or self.n * (1 - q)
        # Parameters: q, p_err, p_cor, agreement among tagged errors / correct.
        variances = np.array(
            [
                q * (1 - q) / self.n,
                pe * (1 - pe) / n_err,
                pc * (1 - pc) / n_cor,
                ae * (1 - ae) / (n_err * pe) if self.hlp is None else 0.0,
                ac * (1 - ac) / (n_cor * pc) if self.hlp is None else 0.0,
            ]
        )
        d_share = np.array([pe - pc, q, 1 - q, 0, 0])
        d_accuracy = np.array([-pc * pe / s**2, -a * q / s, (1 - q) * (1 - a) / s, 0, 0])
        if self.hlp is None:
            d_hlp = np.array(
                [
                    (pe * ae - pc * ac - h * (pe - pc)) / s,
                    q * (ae - h) / s,
                    (1 - q) * (ac - h) / s,
                    q * pe / s,
                    (1 - q) * pc / s,
                ]
            )
        else:
            d_hlp = np.zeros(5)
        d_effect = (h - a) * d_share + s * (d_hlp - d_accuracy)
        return {
            "share": float(np.sqrt(variances @ d_share**2)),
            "accuracy": float(np.sqrt(variances @ d_accuracy**2)),
            "marginal_effect": float(np.sqrt(variances @ d_effect**2)),
        }


SCENARIOS = [
    Scenario("common tag", 5000, 0.15, 0.40, 0.20, 0.95, 300, 200, seed=1),
    Scenario("rare tag", 5000, 0.10, 0.05, 0.005, 0.90, 300, 300, seed=2),
    Scenario("concentrated in errors", 5000, 0.10, 0.30, 0.002, 0.90, 300, 200, seed=3),
    Scenario("many errors, few correct reviewed", 5000, 0.20, 0.30, 0.10, 0.95, 500, 20, seed=4),
    Scenario("dataset tag", 2000, 0.10, 0.30, 0.05, 0.97, seed=5),
    Scenario("rare dataset tag", 2000, 0.10, 0.02, 0.002, 0.97, seed=6),
    Scenario("marginal effect at 0 (HLP = accuracy)", 2000, 0.30, 0.50, 0.5 / 7 * 3, 0.70, seed=7),
    Scenario("measured HLP", 5000, 0.15, 0.40, 0.20, None, 300, 200, 0.80, 0.97, seed=8),
]


def simulate(scenario: Scenario) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(scenario.seed)
    errors = rng.binomial(scenario.n, scenario.q, REPETITIONS)
    correct = scenario.n - errors
    if scenario.reviewed_errors is None:
        seen_err, seen_cor = errors, correct
    else:
        seen_err = np.minimum(scenario.reviewed_errors, errors)
        seen_cor = np.minimum(scenario.reviewed_correct, correct)
    tagged_err = rng.binomial(seen_err, scenario.p_err)
    tagged_cor = rng.binomial(seen_cor, scenario.p_cor)
    if scenario.hlp is None:  # every tagged example seen has a human label
        human = np.stack([tagged_err, tagged_cor])
        agree = np.stack(
            [
                rng.binomial(tagged_err, scenario.agree_err),
                rng.binomial(tagged_cor, scenario.agree_cor),
            ]
        )
        hlp_set = np.full(REPETITIONS, np.nan)
    else:
        human = agree = np.zeros((2, REPETITIONS), dtype=np.int64)
        hlp_set = np.full(REPETITIONS, scenario.hlp)
    counts = TagCounts.unweighted(
        size=np.stack([errors, correct]),
        seen=np.stack([seen_err, seen_cor]),
        tagged=np.stack([tagged_err, tagged_cor]),
        human=human,
        agree=agree,
    )
    estimates = estimate(
        counts,
        hlp_set=hlp_set,
        names=[f"repetition {i}" for i in range(REPETITIONS)],
        draws=DRAWS,
        seed=scenario.seed,
    )
    return estimates.intervals


def check_intervals(
    scenario: Truth,
    intervals: dict[str, tuple[np.ndarray, np.ndarray]],
    bounds: dict[str, float],
    min_coverage: float,
) -> str:
    """Assert that each repetition's interval holds the scenario's true share, accuracy
    and marginal effect often enough, and that the mean width stays within its bound;
    return the figures as one line."""
    truth = {
        "share": scenario.share,
        "accuracy": scenario.accuracy,
        "marginal_effect": scenario.marginal_effect,
    }
    report = []
    for name, true_value in truth.items():
        low, high = intervals[name]
        assert not np.isnan(low).any() and not np.isnan(high).any()
        coverage = ((low <= true_value + 1e-12) & (true_value - 1e-12 <= high)).mean()
        width = np.mean(high - low)
        report.append(
            f"{name}: coverage {coverage:.3f}, mean width {width:.4f} (bound {bounds[name]:.4f})"
        )
        assert coverage >= min_coverage, report[-1]
        assert width <= bounds[name], report[-1]
    return f"{scenario.name}: " + "; ".join(report)


@pytest.mark.slow
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_interval_coverage(scenario):
    standard_errors = scenario.standard_errors()
    # The normal approximation holds with enough tagged examples in each
    # stratum; with fewer, the data really do say less (a rate seen 0 or 1
    # times), and intervals may be wider.
    ratio = MAX_WIDTH_RATIO if scenario.expected_tagged() >= 5 else MAX_WIDTH_RATIO_FEW
    bounds = {name: ratio * 2 * Z * se for name, se in standard_errors.items()}
    print(check_intervals(scenario, simulate(scenario), bounds, MIN_COVERAGE))


# --------------------------------------------------------------------------- designs
# Reviews sampled on one run, estimates for another, and unequal weights. Here the
# counts are no longer binomial (a stratum of the run estimated mixes examples of
# different weights), so every repetition draws its examples, its sample and its
# weights, and the sufficient statistics are summed from them exactly as
# erroranalysis.counts does (test_simulated_sums_are_the_counts_of_the_evidence
# checks that on one repetition).

DESIGN_REPETITIONS = 1000
DESIGN_REPETITIONS_FAST = 200
MIN_COVERAGE_FAST = 0.90  # 200 repetitions: a figure is good to about ±3 points
MAX_WIDTH_RATIO_DESIGN = 1.3  # against the ideal: 2 z x the estimator's true spread
CHUNK = 200  # repetitions drawn at once (each is n examples)


@dataclass(frozen=True)
class DesignScenario(Truth):
    """Run v1 errs at rate q; the tag is on a fraction p_err of v1's errors and p_cor of
    its correct predictions. Run v2 fixes a fraction fix_tag of v1's errors that carry the
    tag (fix_other of the others) and breaks a fraction broken of v1's correct ones. The
    reviews are sampled on v1: ``stratified`` (reviewed_errors and reviewed_correct drawn
    at random from v1's strata) or ``poisson`` (each example drawn independently with a
    probability that favours likely carriers of the tag, as the active strategy does,
    expected size ``reviewed_errors + reviewed_correct``). The estimate is for ``target``."""

    design: str  # "stratified" | "confidence" | "poisson"
    target: str  # "v1" | "v2"
    reviewed_errors: int
    reviewed_correct: int
    fix_tag: float = 0.0
    fix_other: float = 0.0
    broken: float = 0.0
    defensive: float = 0.1  # the share of the draw probability spread evenly
    sharpness: float = 1.0  # how well the score singles out the tag's carriers
    bands: tuple[int, ...] = ()  # for "confidence": reviews per band, low confidence first
    seed: int = 0

    @property
    def accuracy(self) -> float:
        if self.target == "v1":
            return (1 - self.q) * self.p_cor / self.share
        fixed = self.q * self.p_err * self.fix_tag
        kept = (1 - self.q) * self.p_cor * (1 - self.broken)
        return (fixed + kept) / self.share


# Shared by every scenario below unless it says otherwise: v2 fixes half of the tag's
# errors (a tenth of the others) and breaks 2% of v1's correct predictions.
_DESIGN = DesignScenario(
    "",
    n=5000,
    q=0.20,
    p_err=0.40,
    p_cor=0.15,
    hlp=0.95,
    design="stratified",
    target="v2",
    reviewed_errors=300,
    reviewed_correct=200,
    fix_tag=0.5,
    fix_other=0.1,
    broken=0.02,
)
DESIGN_SCENARIOS = [
    replace(_DESIGN, name="v2 from a stratified sample of v1 (v2 fixes the tag's errors)", seed=21),
    replace(
        _DESIGN,
        name="v2 from a stratified sample of v1 (few correct reviewed)",
        q=0.15,
        p_err=0.30,
        p_cor=0.10,
        reviewed_errors=400,
        reviewed_correct=60,
        fix_tag=0.3,
        fix_other=0.2,
        broken=0.01,
        seed=22,
    ),
    replace(
        _DESIGN,
        name="v2 from a confidence-stratified sample of v1",
        design="confidence",
        reviewed_errors=0,
        reviewed_correct=0,
        bands=(250, 150, 100),
        seed=26,
    ),
    replace(
        _DESIGN,
        name="v1 from a Poisson sample (weights 7 to 14)",
        q=0.15,
        design="poisson",
        target="v1",
        reviewed_errors=250,
        reviewed_correct=250,
        fix_tag=0.0,
        fix_other=0.0,
        broken=0.0,
        seed=23,
    ),
    replace(
        _DESIGN,
        name="v2 from a sharper Poisson sample of v1 (weights 8 to 27)",
        design="poisson",
        reviewed_errors=150,
        reviewed_correct=150,
        defensive=0.02,
        sharpness=3.0,
        seed=25,
    ),
    replace(
        _DESIGN,
        name="v2 from a Poisson sample of v1 (weights 7 to 14)",
        design="poisson",
        reviewed_errors=250,
        reviewed_correct=250,
        seed=24,
    ),
]


def _draw_examples(scenario: DesignScenario, rng: np.random.Generator, reps: int):
    """(reps, n) arrays: v1 correct, the tag, v2 correct, and each example's inclusion
    probability and whether it was drawn."""
    n = scenario.n
    correct_v1 = rng.random((reps, n)) >= scenario.q
    tag = rng.random((reps, n)) < np.where(correct_v1, scenario.p_cor, scenario.p_err)
    fix = np.where(tag, scenario.fix_tag, scenario.fix_other)
    correct_v2 = np.where(
        correct_v1, rng.random((reps, n)) >= scenario.broken, rng.random((reps, n)) < fix
    )
    if scenario.design in ("stratified", "confidence"):
        if scenario.design == "stratified":
            strata = correct_v1.astype(np.int64)
            planned = (scenario.reviewed_errors, scenario.reviewed_correct)
        else:
            # The model's confidence, lower on its errors; bands cut at 0.6 and 0.85, the
            # low band oversampled (as the confidence-stratified queue does).
            logit = 2.5 * correct_v1 - 0.5 + rng.normal(size=(reps, n))
            confidence = 1 / (1 + np.exp(-logit))
            strata = np.digitize(confidence, (0.6, 0.85))
            planned = scenario.bands
        drawn = np.zeros((reps, n), dtype=bool)
        probability = np.zeros((reps, n))
        keys = rng.random((reps, n))
        for stratum, k_planned in enumerate(planned):
            members = strata == stratum
            size = members.sum(axis=1)
            k = np.minimum(k_planned, size)
            masked = np.where(members, keys, np.inf)
            kth = np.take_along_axis(np.sort(masked, axis=1), (k - 1)[:, None], axis=1)
            drawn |= members & (masked <= kth)
            probability = np.where(members, (k / size)[:, None], probability)
    else:
        # A score like the active strategy's: a noisy guess of the tag from metadata and
        # correctness, s = sqrt(p (1 - p) + (p - mean p)^2), with a defensive share.
        noise = rng.normal(size=(reps, n))
        guess = scenario.sharpness * (1.5 * tag + 1.0 * ~correct_v1 + noise - 1.5)
        p = 1 / (1 + np.exp(-guess))
        score = np.sqrt(p * (1 - p) + (p - p.mean(axis=1, keepdims=True)) ** 2)
        budget = scenario.reviewed_errors + scenario.reviewed_correct
        eps = scenario.defensive
        probability = np.minimum(
            1.0, budget * ((1 - eps) * score / score.sum(axis=1, keepdims=True) + eps / n)
        )
        drawn = rng.random((reps, n)) < probability
    return correct_v1, tag, correct_v2, probability, drawn


def design_counts(correct: np.ndarray, tag: np.ndarray, weights: np.ndarray) -> TagCounts:
    """The sufficient statistics of (reps, n) arrays, one repetition per column: strata by
    ``correct`` (the run estimated), weights NaN where not drawn."""
    drawn = ~np.isnan(weights)
    w = np.nan_to_num(weights)
    sums = {name: [] for name in ("n", "x", "w", "w2", "wx", "w2x", "equal")}
    for stratum in (False, True):
        counted = drawn & (correct == stratum)
        tagged = counted & tag
        sums["n"].append(counted.sum(axis=1))
        sums["x"].append(tagged.sum(axis=1))
        sums["w"].append((w * counted).sum(axis=1))
        sums["w2"].append((w**2 * counted).sum(axis=1))
        sums["wx"].append((w * tagged).sum(axis=1))
        sums["w2x"].append((w**2 * tagged).sum(axis=1))
        low = np.where(counted, w, np.inf).min(axis=1)
        high = np.where(counted, w, -np.inf).max(axis=1)
        sums["equal"].append(low == high)
    zeros = np.zeros((2, len(correct)), dtype=np.int64)
    return TagCounts(
        size=np.stack([(~correct).sum(axis=1), correct.sum(axis=1)]),
        tag=Proportion(**{name: np.stack(values) for name, values in sums.items()}),
        agreement=Proportion.unweighted(zeros, zeros),
    )


def simulate_design(scenario: DesignScenario, repetitions: int):
    """Intervals and point estimates of share, accuracy and marginal effect, per repetition."""
    rng = np.random.default_rng(scenario.seed)
    names = ("share", "accuracy", "marginal_effect")
    lows, highs, points = ({name: [] for name in names} for _ in range(3))
    for start in range(0, repetitions, CHUNK):
        reps = min(CHUNK, repetitions - start)
        correct_v1, tag, correct_v2, probability, drawn = _draw_examples(scenario, rng, reps)
        weights = np.where(drawn, 1 / np.where(drawn, probability, 1.0), np.nan)
        target = correct_v1 if scenario.target == "v1" else correct_v2
        estimates = estimate(
            design_counts(target, tag, weights),
            hlp_set=np.full(reps, scenario.hlp),
            names=[f"repetition {start + i}" for i in range(reps)],
            draws=DRAWS,
            seed=scenario.seed,
        )
        for name in names:
            lows[name].append(estimates.intervals[name][0])
            highs[name].append(estimates.intervals[name][1])
            points[name].append(getattr(estimates, name))
    return {
        name: (
            np.concatenate(lows[name]),
            np.concatenate(highs[name]),
            np.concatenate(points[name]),
        )
        for name in names
    }


def check_design(scenario: DesignScenario, repetitions: int, min_coverage: float) -> str:
    results = simulate_design(scenario, repetitions)
    # The ideal: the width of a normal interval from the estimator's true spread,
    # measured over the repetitions themselves.
    bounds = {
        name: MAX_WIDTH_RATIO_DESIGN * (2 * Z * np.std(point))
        for name, (_, _, point) in results.items()
    }
    intervals = {name: (low, high) for name, (low, high, _) in results.items()}
    return check_intervals(scenario, intervals, bounds, min_coverage)


@pytest.mark.slow
@pytest.mark.parametrize("scenario", DESIGN_SCENARIOS, ids=[s.name for s in DESIGN_SCENARIOS])
def test_design_interval_coverage(scenario):
    print(check_design(scenario, DESIGN_REPETITIONS, MIN_COVERAGE))


@pytest.mark.parametrize("scenario", DESIGN_SCENARIOS, ids=[s.name for s in DESIGN_SCENARIOS])
def test_design_interval_coverage_fast(scenario):
    print(check_design(scenario, DESIGN_REPETITIONS_FAST, MIN_COVERAGE_FAST))


def test_simulated_sums_are_the_counts_of_the_evidence():
    # The simulation sums what erroranalysis.counts sums: one repetition through Evidence.
    scenario = DESIGN_SCENARIOS[3]
    correct_v1, tag, correct_v2, probability, drawn = _draw_examples(
        scenario, np.random.default_rng(0), 1
    )
    weights = np.where(drawn, 1 / np.where(drawn, probability, 1.0), np.nan)
    expected = design_counts(correct_v2, tag, weights)
    index = pd.RangeIndex(scenario.n)
    counts = tag_counts(
        Evidence(
            pd.DataFrame({"correct": correct_v2[0]}, index=index),
            pd.DataFrame({"tag": tag[0]}, index=index),
            kinds={"tag": "reviewed"},
            reviewed=pd.Series(drawn[0], index=index),
            weights=pd.Series(weights[0], index=index),
        )
    )
    assert counts.size.tolist() == expected.size[:, 0].tolist()
    for name in ("n", "x", "equal"):
        assert getattr(counts.tag, name).tolist() == getattr(expected.tag, name).tolist()
    for name in ("w", "w2", "wx", "w2x"):
        np.testing.assert_allclose(getattr(counts.tag, name), getattr(expected.tag, name))
