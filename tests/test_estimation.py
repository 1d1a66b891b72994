"""The design-weighted estimator: Hájek rates, effective sizes, equal weights change
nothing, reviews of one run estimate another, and what is left out is said."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from test_priorities import BOOK, BOOK_HLP, N_ERRORS, N_EXAMPLES, book_dataset, book_evidence

from erroranalysis.counts import Proportion, TagCounts, tag_counts
from erroranalysis.estimation import decimal, effective_counts, estimate
from erroranalysis.evidence import Evidence
from erroranalysis.priorities import error_shares, left_out_summary, priority_table
from erroranalysis.vocabulary import LEFT_OUT_DIRECT, LEFT_OUT_FILTERED, NOTE_LEFT_OUT


def proportion(x, n, w, w2, wx, w2x, equal=False) -> Proportion:
    def column(value, dtype=float):
        return np.array([[value]], dtype=dtype)

    return Proportion(
        n=column(n, np.int64),
        x=column(x, np.int64),
        w=column(w),
        w2=column(w2),
        wx=column(wx),
        w2x=column(w2x),
        equal=column(equal, bool),
    )


@pytest.mark.parametrize(
    ("weighted", "successes", "trials"),
    [
        # Equal weights: the integer counts themselves, whatever the weight.
        (proportion(2, 5, 12.5, 31.25, 5.0, 12.5, equal=True), 2, 5),
        # Weights 1, 3, 2 (tagged: 1 and 2): p = 3/6, v = (5 / 4 + 9 / 4) / 36, n* = 18/7.
        (proportion(2, 3, 6.0, 14.0, 3.0, 5.0), 9 / 7, 18 / 7),
        # Weights 2, 2, 4 (tagged: 2 and 4): p = 6/8, v = (20/16 + 4 * 9/16) / 64, n* = 24/7,
        # more than the 3 examples seen (the heavy example carries the tag).
        (proportion(2, 3, 8.0, 24.0, 6.0, 20.0), 18 / 7, 24 / 7),
        # Nothing tagged: Kish's size (Σw)² / Σw² = 16 / 10.
        (proportion(0, 2, 4.0, 10.0, 0.0, 0.0), 0.0, 1.6),
        # Everything tagged: the same.
        (proportion(2, 2, 4.0, 10.0, 4.0, 10.0), 1.6, 1.6),
        # Nobody seen.
        (proportion(0, 0, 0.0, 0.0, 0.0, 0.0), 0.0, 0.0),
    ],
)
def test_effective_counts(weighted, successes, trials):
    x, n = effective_counts(weighted)
    assert x[0, 0] == pytest.approx(successes, abs=1e-12)
    assert n[0, 0] == pytest.approx(trials, abs=1e-12)


def test_effective_size_is_at_most_the_stratum():
    # One tagged example of weight 1, one untagged of weight 99: n* = 100² / (2 x 99), about
    # 50.5 from two examples; the stratum holds 10.
    weighted = proportion(1, 2, 100.0, 9802.0, 1.0, 1.0)
    assert effective_counts(weighted)[1][0, 0] == pytest.approx(100**2 / (2 * 99))
    x, n = effective_counts(weighted, cap=np.array([[10]]))
    assert (x[0, 0], n[0, 0]) == pytest.approx((0.1, 10.0))


@pytest.mark.parametrize(
    ("value", "exact"), [(0.7, Fraction(7, 10)), (0.95, Fraction(19, 20)), (2.0, Fraction(2))]
)
def test_a_set_number_is_the_decimal_it_was_written_as(value, exact):
    assert decimal(value) == exact


def test_weighted_point_estimates_are_hajek_ratios():
    # Errors: weights 2, 2, 4 with the tag on 2 and 4: rate 6/8. Correct: weights 1, 3, 2
    # with the tag on 1 and 2: rate 3/6. The run: 10 errors, 30 correct predictions.
    counts = TagCounts(
        size=np.array([10, 30]),
        tag=Proportion(
            n=np.array([[3], [3]]),
            x=np.array([[2], [2]]),
            w=np.array([[8.0], [6.0]]),
            w2=np.array([[24.0], [14.0]]),
            wx=np.array([[6.0], [3.0]]),
            w2x=np.array([[20.0], [5.0]]),
            equal=np.array([[False], [False]]),
        ),
        agreement=Proportion.unweighted(np.zeros((2, 1)), np.zeros((2, 1))),
    )
    result = estimate(counts, hlp_set=np.array([0.9]), names=["noise"], draws=1000, seed=0)
    share = Fraction(1, 4) * Fraction(3, 4) + Fraction(3, 4) * Fraction(1, 2)
    accuracy = Fraction(3, 4) * Fraction(1, 2) / share
    assert result.share[0] == float(share)
    assert result.accuracy[0] == float(accuracy)
    assert result.exact_gap[0] == Fraction(9, 10) - accuracy
    assert result.marginal_effect[0] == float((Fraction(9, 10) - accuracy) * share)
    low, high = result.intervals["share"]
    assert low[0] < float(share) < high[0]


def stratum_weights(examples: pd.DataFrame, reviewed: pd.Series) -> pd.Series:
    """Each reviewed example's weight in a stratified sample of its run: N_h / n_h."""
    stratum = examples["correct"]
    size = stratum.map(stratum.value_counts())
    seen = stratum.map(stratum[reviewed].value_counts())
    return (size / seen).where(reviewed).astype(float)


@pytest.mark.parametrize("kind", ["reviewed", "dataset"])
def test_equal_weights_give_the_unweighted_table_exactly(kind):
    examples, tags, reviewed = book_dataset()
    fields = {"kinds": dict.fromkeys(BOOK, kind), "reviewed": reviewed, "hlp": BOOK_HLP}
    plain = priority_table(Evidence(examples, tags, **fields))
    weights = stratum_weights(examples, reviewed)
    assert weights.dropna().nunique() == 2  # 1 for the errors, 2 for the correct ones
    weighted = priority_table(Evidence(examples, tags, weights=weights, **fields))
    pd.testing.assert_frame_equal(weighted, plain)
    pd.testing.assert_frame_equal(
        error_shares(Evidence(examples, tags, weights=weights, **fields)),
        error_shares(Evidence(examples, tags, **fields)),
    )


def two_runs(seed: int = 3):
    """Run v1 of 2,000 examples (300 errors), a stratified review on v1 (150 errors, 100
    correct predictions), and run v2 that fixes 60% of the errors carrying "noise". The tag
    belongs to the examples, so its true share is the same in both runs."""
    rng = np.random.default_rng(seed)
    n = 2000
    correct_v1 = np.arange(n) >= 300
    noise = rng.random(n) < np.where(correct_v1, 0.1, 0.5)
    reviewed = np.zeros(n, bool)
    reviewed[rng.choice(300, 150, replace=False)] = True
    reviewed[300 + rng.choice(n - 300, 100, replace=False)] = True
    fixed = ~correct_v1 & noise & (rng.random(n) < 0.6)
    correct_v2 = correct_v1 | fixed
    index = pd.RangeIndex(n)
    weights = pd.Series(np.where(reviewed, np.where(correct_v1, 1700 / 100, 300 / 150), np.nan))
    return (
        pd.DataFrame({"correct": correct_v1}, index=index),
        pd.DataFrame({"correct": correct_v2}, index=index),
        pd.DataFrame({"noise": noise}, index=index),
        pd.Series(reviewed, index=index),
        weights,
        noise.mean(),
    )


def test_reviews_of_one_run_estimate_another():
    v1, v2, tags, reviewed, weights, true_share = two_runs()
    fields = {"kinds": {"noise": "reviewed"}, "reviewed": reviewed, "hlp": {"noise": 0.95}}
    on_v1 = priority_table(Evidence(v1, tags, weights=weights, **fields)).iloc[0]
    on_v2 = priority_table(Evidence(v2, tags, weights=weights, **fields)).iloc[0]
    # Read as a random sample of v2's own strata (what the tool did before designs), the
    # same reviews give a share far off, with an interval that misses the truth.
    naive = priority_table(Evidence(v2, tags, **fields)).iloc[0]
    assert not naive["share_low"] <= true_share <= naive["share_high"]
    for row in (on_v1, on_v2):
        assert row["share_low"] <= true_share <= row["share_high"]
    assert abs(on_v2["share"] - on_v1["share"]) < 0.02
    # v2's accuracy on the tag is higher: the fixed errors count as correct now.
    assert on_v2["accuracy"] > on_v1["accuracy"] + 0.1
    counts = tag_counts(Evidence(v2, tags, weights=weights, **fields))
    assert counts.tag.equal[:, 0].tolist() == [True, False]  # v2's correct mix two weights


LEFT_OUT = {LEFT_OUT_DIRECT: 3, LEFT_OUT_FILTERED: 1}


def test_left_out_reviews_are_said_on_reviewed_tags_and_above_the_table():
    examples, tags, reviewed = book_dataset()
    kinds = dict.fromkeys(BOOK, "reviewed") | {"car noise": "dataset"}
    table = priority_table(
        Evidence(examples, tags, kinds=kinds, reviewed=reviewed, hlp=BOOK_HLP, left_out=LEFT_OUT)
    ).set_index("tag")
    reasons = f"3 {LEFT_OUT_DIRECT} and 1 {LEFT_OUT_FILTERED}"
    note = NOTE_LEFT_OUT.format(reviews="4 reviews", reasons=reasons)
    for tag in ("clean speech", "people noise", "low bandwidth"):
        assert note in table.loc[tag, "note"]
    assert note not in table.loc["car noise", "note"]
    assert left_out_summary(LEFT_OUT) == (
        f"4 reviews shown but left out of the estimates: {reasons}."
    )


@pytest.mark.parametrize(
    ("left_out", "summary"),
    [
        ({}, ""),
        ({"outside any sample": 0}, ""),
        ({"outside any sample": 1}, "1 review shown but left out of the estimates: outside"),
        ({"outside any sample": 1200}, "1,200 reviews shown but left out"),
        (
            {"a": 1, "b": 2, "c": 3},
            "6 reviews shown but left out of the estimates: 1 a, 2 b and 3 c.",
        ),
    ],
)
def test_left_out_summary(left_out, summary):
    assert left_out_summary(left_out).startswith(summary)
    assert bool(left_out_summary(left_out)) == bool(summary)


def test_weighted_error_shares_are_hajek_rates():
    book = examples, tags, reviewed = book_dataset()
    rng = np.random.default_rng(0)
    weights = pd.Series(np.where(reviewed, rng.uniform(1, 3, N_EXAMPLES), np.nan))
    weights.index = examples.index
    shares = error_shares(book_evidence(book, "reviewed", weights=weights)).set_index("tag")
    errors = ~examples["correct"].to_numpy()
    for tag in BOOK:
        carries = tags[tag].to_numpy()
        expected = weights[errors & carries].sum() / weights[errors].sum()
        assert shares.loc[tag, "share_of_errors"] == pytest.approx(expected, rel=1e-12)
        assert shares.loc[tag, "reviewed_errors"] == N_ERRORS
        low, high = shares.loc[tag, ["share_of_errors_low", "share_of_errors_high"]]
        assert low < expected < high
