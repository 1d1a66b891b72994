"""Active sampling against stratified sampling on a planted scenario, by simulation.

The scenario: a tag ("car noise") sits almost only on the examples whose metadata says
``noise == "car"`` (a tenth of the run), where the model is wrong far more often. Every
repetition starts from the same kind of stratified pilot, then adds batches of reviews
drawn either by the ``stratified`` strategy or by ``active`` batches aimed at the tag. After
each batch the design weights (:func:`erroranalysis.design.design_weights`, every sample
combined as the store would) feed the priority table, whose marginal-effect interval for
the tag is measured: its width, and whether it covers the run's true marginal effect.

Checked: the active strategy reaches the width that stratified sampling ends with after
fewer reviews, and its estimate stays unbiased (coverage >= 93% in the slow version).
``python tests/test_active_simulation.py`` prints the table of review counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from estimate_support import run_frame

from erroranalysis.design import design_weights
from erroranalysis.evidence import Evidence
from erroranalysis.priorities import priority_table
from erroranalysis.sampling import Draw, draw_sample

TAG = "car noise"
HLP = 0.8
CAR = 0.1  # the share of examples with car noise in their metadata
ACCURACY = {"car": 0.6, "clean": 0.9}
TAGGED = {"car": 0.9, "clean": 0.01}  # the tag's rate where the metadata says car, and not
PILOT = 60
BATCH = 40
FRACTION = 0.3  # correct examples in every stratified sample


def scenario(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """The run (id, label, prediction, correct, confidence, noise, snr_db) and the tag."""
    # Another stream than the draws' (default_rng(seed)): a sample must not see the data.
    rng = np.random.default_rng([seed, 2026])
    car = rng.random(n) < CAR
    correct = rng.random(n) < np.where(car, ACCURACY["car"], ACCURACY["clean"])
    confidence = np.clip(np.where(correct, 0.8, 0.55) + rng.normal(0, 0.15, n), 0, 1)
    tagged = rng.random(n) < np.where(car, TAGGED["car"], TAGGED["clean"])
    frame = run_frame(
        [f"e{i:05d}" for i in range(n)],
        correct,
        confidence,
        np.where(car, "car", "clean"),
        np.where(car, 8.0, 20.0) + rng.normal(0, 4, n),
        label="yes",
        wrong="no",
    )
    return frame, tagged


def truth(frame: pd.DataFrame, tagged: np.ndarray) -> float:
    """The run's marginal effect of the tag: max(HLP - accuracy, 0) × share."""
    accuracy = frame["correct"].to_numpy()[tagged].mean()
    return max(HLP - accuracy, 0.0) * tagged.mean()


@dataclass
class Review:
    """The samples drawn so far and which examples have been reviewed."""

    frame: pd.DataFrame
    tagged: np.ndarray
    draws: list[Draw]

    def evidence(self) -> Evidence:
        reviews = pd.concat(
            [
                pd.DataFrame(
                    {
                        "example_id": d.examples["id"],
                        "run": "main",
                        "queue": d.examples["stratum"],
                        "sample_id": r,
                    }
                )
                for r, d in enumerate(self.draws)
            ],
            ignore_index=True,
        )
        samples = pd.DataFrame(
            {
                "id": range(len(self.draws)),
                "strategy": [d.strategy for d in self.draws],
                "size": [d.size for d in self.draws],
                "design": [d.design for d in self.draws],
            }
        )
        weights = design_weights(
            self.frame,
            reviews,
            samples=samples,
            draws={r: d.examples for r, d in enumerate(self.draws)},
        ).weights
        index = self.frame.index
        return Evidence(
            self.frame,
            tags=pd.DataFrame({TAG: self.tagged}, index=index),
            kinds={TAG: "reviewed"},
            reviewed=pd.Series(weights.notna().to_numpy(), index=index),
            weights=weights,
            hlp={TAG: HLP},
            run="main",
        )

    def reviewed(self) -> int:
        return len(set().union(*(set(d.examples["id"]) for d in self.draws)))


def run_once(
    n: int, seed: int, strategy: str, batches: int
) -> list[tuple[int, float, float, float]]:
    """(reviews, marginal effect, low, high) after the pilot and after every batch."""
    frame, tagged = scenario(n, seed)
    plain = Evidence(frame, run="main")
    pilot = draw_sample(plain, size=PILOT, seed=seed, correct_fraction=FRACTION)
    state = Review(frame, tagged, [pilot])
    steps = []
    for batch in range(batches + 1):
        evidence = state.evidence()
        row = priority_table(evidence, draws=1000, seed=seed).set_index("tag").loc[TAG]
        steps.append(
            (
                state.reviewed(),
                float(row["marginal_effect"]),
                float(row["marginal_effect_low"]),
                float(row["marginal_effect_high"]),
            )
        )
        if batch == batches:
            break
        options = {"seed": seed * 1000 + batch + 1, "size": BATCH}
        if strategy == "active":
            draw = draw_sample(evidence, strategy="active", tag=TAG, **options)
        else:
            draw = draw_sample(plain, correct_fraction=FRACTION, **options)
        state.draws.append(draw)
    return steps


def simulate(n: int, repetitions: int, batches: int) -> dict[str, np.ndarray]:
    """strategy -> array (repetitions, steps, 5): reviews, estimate, low, high, truth."""
    out = {}
    for strategy in ("stratified", "active"):
        runs = []
        for rep in range(repetitions):
            frame, tagged = scenario(n, rep)
            steps = run_once(n, rep, strategy, batches)
            runs.append([(*step, truth(frame, tagged)) for step in steps])
        out[strategy] = np.array(runs)
    return out


def reviews_for_width(result: np.ndarray, width: float) -> float:
    """Mean reviews at which the mean interval width first reaches ``width``
    (interpolated between batches); inf when it never does."""
    reviews = result[:, :, 0].mean(axis=0)
    widths = (result[:, :, 3] - result[:, :, 2]).mean(axis=0)
    below = np.flatnonzero(widths <= width * (1 + 1e-9))  # the mean of the same numbers
    if not len(below):
        return float("inf")
    k = int(below[0])
    if k == 0:
        return float(reviews[0])
    share = (widths[k - 1] - width) / (widths[k - 1] - widths[k])
    return float(reviews[k - 1] + share * (reviews[k] - reviews[k - 1]))


def summary(result: dict[str, np.ndarray]) -> pd.DataFrame:
    """Per strategy: reviews needed for the width stratified sampling ends with, the final
    mean width beside the ideal one (± 1.96 standard deviations of the estimate over the
    repetitions), the coverage and the mean error of the final estimate."""
    target = float((result["stratified"][:, -1, 3] - result["stratified"][:, -1, 2]).mean())
    rows = []
    for strategy, values in result.items():
        final = values[:, -1]
        covered = (final[:, 2] <= final[:, 4]) & (final[:, 4] <= final[:, 3])
        rows.append(
            {
                "strategy": strategy,
                "target_width": target,
                "reviews_for_target": reviews_for_width(values, target),
                "reviews": float(final[:, 0].mean()),
                "final_width": float((final[:, 3] - final[:, 2]).mean()),
                # What a 95% interval would span if it knew the estimate's spread.
                "ideal_width": float(2 * 1.96 * final[:, 1].std(ddof=1)),
                "coverage": float(covered.mean()),
                "bias": float((final[:, 1] - final[:, 4]).mean()),
                "bias_se": float((final[:, 1] - final[:, 4]).std(ddof=1) / np.sqrt(len(final))),
            }
        )
    return pd.DataFrame(rows).set_index("strategy")


def check(table: pd.DataFrame, *, coverage: float) -> None:
    active, stratified = table.loc["active"], table.loc["stratified"]
    assert active["reviews_for_target"] < stratified["reviews_for_target"] < np.inf, table
    assert active["final_width"] < stratified["final_width"], table
    for strategy in table.index:
        row = table.loc[strategy]
        assert row["coverage"] >= coverage, table
        assert abs(row["bias"]) < 4 * row["bias_se"] + 1e-9, table


def test_active_reaches_the_width_with_fewer_reviews():
    table = summary(simulate(n=4000, repetitions=30, batches=4))
    check(table, coverage=0.7)  # 30 repetitions: coverage is the slow version's to judge


@pytest.mark.slow
def test_active_reaches_the_width_with_fewer_reviews_and_covers():
    table = summary(simulate(n=4000, repetitions=1000, batches=4))
    print(table.round(4).to_string())  # the review counts per strategy (pytest -s)
    check(table, coverage=0.93)


if __name__ == "__main__":
    print(summary(simulate(n=4000, repetitions=1000, batches=4)).round(4).to_string())
