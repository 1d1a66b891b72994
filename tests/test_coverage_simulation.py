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

from dataclasses import dataclass

import numpy as np
import pytest

from erroranalysis.counts import TagCounts
from erroranalysis.estimation import estimate

REPETITIONS = 1000
DRAWS = 1000
MIN_COVERAGE = 0.92
MAX_WIDTH_RATIO = 1.25
MAX_WIDTH_RATIO_FEW = 2.0
Z = 1.959963984540054


@dataclass(frozen=True)
class Scenario:
    name: str
    n: int  # dataset size
    q: float  # error rate
    p_err: float  # tag rate among errors
    p_cor: float  # tag rate among correct predictions
    hlp: float | None  # set HLP; None: measured from human labels
    reviewed_errors: int | None = None  # None: a dataset tag, every example known
    reviewed_correct: int | None = None
    agree_err: float = 1.0  # human agreement rate among the tag's errors
    agree_cor: float = 1.0  # and among its correct predictions
    seed: int = 0

    @property
    def share(self) -> float:
        return self.q * self.p_err + (1 - self.q) * self.p_cor

    @property
    def accuracy(self) -> float:
        return (1 - self.q) * self.p_cor / self.share

    @property
    def true_hlp(self) -> float:
        if self.hlp is not None:
            return self.hlp
        mass_err, mass_cor = self.q * self.p_err, (1 - self.q) * self.p_cor
        return (mass_err * self.agree_err + mass_cor * self.agree_cor) / self.share

    @property
    def marginal_effect(self) -> float:
        return max(self.true_hlp - self.accuracy, 0.0) * self.share

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


@pytest.mark.slow
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_interval_coverage(scenario):
    intervals = simulate(scenario)
    truth = {
        "share": scenario.share,
        "accuracy": scenario.accuracy,
        "marginal_effect": scenario.marginal_effect,
    }
    standard_errors = scenario.standard_errors()
    # The normal approximation holds with enough tagged examples in each
    # stratum; with fewer, the data really do say less (a rate seen 0 or 1
    # times), and intervals may be wider.
    ratio = MAX_WIDTH_RATIO if scenario.expected_tagged() >= 5 else MAX_WIDTH_RATIO_FEW
    report = []
    for name, true_value in truth.items():
        low, high = intervals[name]
        assert not np.isnan(low).any() and not np.isnan(high).any()
        covered = (low <= true_value + 1e-12) & (true_value - 1e-12 <= high)
        coverage = covered.mean()
        width = np.mean(high - low)
        bound = ratio * 2 * Z * standard_errors[name]
        report.append(
            f"{name}: coverage {coverage:.3f}, mean width {width:.4f} (bound {bound:.4f})"
        )
        assert coverage >= MIN_COVERAGE, report[-1]
        assert width <= bound, report[-1]
    print(f"{scenario.name}: " + "; ".join(report))
