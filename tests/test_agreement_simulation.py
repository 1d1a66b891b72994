"""Coverage of the agreement table's 95% kappa intervals, by simulation.

Reviewers of known agreement, from a latent-class model: each example truly carries the
tag with probability ``prevalence``; each reviewer, on their own, gives the tag to an
example that carries it with probability ``sensitivity`` and to one that does not with
probability 1 - ``specificity``. The true kappa of that population is known exactly
(:meth:`Scenario.kappa`): two reviewers agree with probability
p_o = pi (se^2 + (1 - se)^2) + (1 - pi)(sp^2 + (1 - sp)^2), each gives the tag with
probability a = pi se + (1 - pi)(1 - sp), so p_e = a^2 + (1 - a)^2; Cohen's and Fleiss'
kappa estimate the same (p_o - p_e) / (1 - p_e).

Every repetition draws the reviewers' decisions on ``examples`` examples and runs
:func:`tag_agreement` as the app and the command line do (2,000 bootstrap resamples).
Beside coverage, the mean width is compared with an ideal one: the distance between the
2.5th and 97.5th percentiles of the estimates over the repetitions, the narrowest
interval that covers 95% of the time by construction.

    .venv/bin/python -m pytest -q -m slow tests/test_agreement_simulation.py -s

prints the figures (README, "Agreement").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from erroranalysis.agreement import tag_agreement

REPETITIONS = 1000
MIN_COVERAGE = 0.93
MAX_WIDTH_RATIO = 1.25


@dataclass(frozen=True)
class Scenario:
    name: str
    examples: int
    reviewers: int
    prevalence: float
    sensitivity: float
    specificity: float
    seed: int
    # Each example gets every reviewer (False), or two or all of them at random (True).
    uneven: bool = False

    def kappa(self) -> float:
        pi, se, sp = self.prevalence, self.sensitivity, self.specificity
        observed = pi * (se**2 + (1 - se) ** 2) + (1 - pi) * (sp**2 + (1 - sp) ** 2)
        a = pi * se + (1 - pi) * (1 - sp)
        chance = a**2 + (1 - a) ** 2
        return (observed - chance) / (1 - chance)

    def decisions(self, rng: np.random.Generator) -> pd.DataFrame:
        n, r = self.examples, self.reviewers
        truth = rng.random(n) < self.prevalence
        rate = np.where(truth, self.sensitivity, 1 - self.specificity)
        given = rng.random((n, r)) < rate[:, None]
        seen = np.ones((n, r), dtype=bool)
        if self.uneven:  # two reviewers on about half of the examples, all on the rest
            seen[:, 2:] = rng.random((n, r - 2)) < 0.5
        example, reviewer = np.nonzero(seen.T)[::-1]
        return pd.DataFrame(
            {
                "review": np.arange(len(example), dtype=np.int64),
                "example_id": example.astype(str),
                "reviewer": [f"r{j}" for j in reviewer],
                "queue": "import",
                "blind": False,
                "tags": [("t",) if g else () for g in given[example, reviewer]],
            }
        )


SCENARIOS = [
    Scenario("two reviewers, substantial", 100, 2, 0.3, 0.9, 0.9, seed=1),
    Scenario("two reviewers, rare tag", 200, 2, 0.1, 0.85, 0.95, seed=2),
    Scenario("two reviewers, few examples", 60, 2, 0.5, 0.9, 0.85, seed=3),
    Scenario("two reviewers, weak", 150, 2, 0.3, 0.75, 0.8, seed=4),
    Scenario("three reviewers (Fleiss)", 80, 3, 0.3, 0.85, 0.9, seed=5),
    Scenario("two or three per example", 100, 3, 0.4, 0.85, 0.85, seed=6, uneven=True),
]


def simulate(scenario: Scenario, repetitions: int) -> dict[str, float]:
    rng = np.random.default_rng(scenario.seed)
    truth = scenario.kappa()
    rows = [
        tag_agreement(scenario.decisions(rng), tags=["t"], seed=i).iloc[0]
        for i in range(repetitions)
    ]
    table = pd.DataFrame(rows)
    estimates = table["kappa"].to_numpy()
    low, high = table["kappa_low"].to_numpy(), table["kappa_high"].to_numpy()
    ideal = np.subtract(*np.nanquantile(estimates, [0.975, 0.025]))
    return {
        "kappa": truth,
        "coverage": float(np.mean((low <= truth) & (truth <= high))),
        "width": float(np.nanmean(high - low)),
        "ideal_width": float(ideal),
        "undefined": int(np.isnan(estimates).sum()),
        "method": table["method"].iloc[0],
    }


def test_latent_class_kappa_is_what_the_table_estimates_on_a_large_sample():
    scenario = Scenario("large", 20_000, 2, 0.3, 0.9, 0.9, seed=0)
    got = tag_agreement(scenario.decisions(np.random.default_rng(0)), draws=100).iloc[0]
    assert got["kappa"] == pytest.approx(scenario.kappa(), abs=0.02)
    three = Scenario("large", 5_000, 3, 0.3, 0.9, 0.9, seed=0)
    got = tag_agreement(three.decisions(np.random.default_rng(0)), draws=100).iloc[0]
    assert got["method"] == "fleiss"
    assert got["kappa"] == pytest.approx(three.kappa(), abs=0.02)


def test_a_few_repetitions_run_end_to_end():
    figures = simulate(SCENARIOS[0], 20)
    assert figures["undefined"] == 0 and 0.5 <= figures["coverage"] <= 1.0


@pytest.mark.slow
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_kappa_intervals_cover_the_true_kappa(scenario):
    figures = simulate(scenario, REPETITIONS)
    print(
        f"\n{scenario.name}: true kappa {figures['kappa']:.3f} ({figures['method']}), "
        f"coverage {figures['coverage']:.3f} over {REPETITIONS} repetitions, mean width "
        f"{figures['width']:.3f}, ideal {figures['ideal_width']:.3f}"
    )
    assert figures["undefined"] == 0
    assert figures["coverage"] >= MIN_COVERAGE
    assert figures["width"] <= MAX_WIDTH_RATIO * figures["ideal_width"]
