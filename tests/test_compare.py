"""Two runs compared per tag: exact counts and differences, McNemar p-values equal to
statsmodels', Holm's flags, the coverage of both intervals by simulation, bad input."""

from __future__ import annotations

import contextlib
import copy
import io
import json
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests

from erroranalysis.analyses import ANALYSES, load_evidence
from erroranalysis.cli import main
from erroranalysis.compare import (
    ALL_EXAMPLES,
    ALL_KIND,
    BOTH_RIGHT,
    BOTH_WRONG,
    COMPARE_COLUMNS,
    ONLY_A,
    ONLY_B,
    compare_runs,
    default_runs,
    mcnemar_p,
    paired_interval,
)
from erroranalysis.evidence import Evidence
from erroranalysis.importing import read_dataset
from erroranalysis.store import open_project

# Ten examples, their correctness in run A and run B, and two dataset tags:
#   id      e0 e1 e2 e3 e4 e5 e6 e7 e8 e9
#   A        1  1  1  0  0  0  1  1  0  1
#   B        1  0  1  1  1  0  1  0  1  1
#   car      1  1  1  1  0  0  0  0  0  0
#   quiet    0  1  0  0  0  0  0  1  0  0      (both of its examples got worse)
IDS = pd.Index([f"e{i}" for i in range(10)], name="id")
CORRECT_A = np.array([1, 1, 1, 0, 0, 0, 1, 1, 0, 1], dtype=bool)
CORRECT_B = np.array([1, 0, 1, 1, 1, 0, 1, 0, 1, 1], dtype=bool)
TAGS = pd.DataFrame(
    {
        "car": np.arange(10) < 4,
        "quiet": np.isin(np.arange(10), [1, 7]),
    },
    index=IDS,
)


def run(correct, *, run_name, tags=TAGS, dataset="speech", **more) -> Evidence:
    examples = pd.DataFrame({"correct": np.asarray(correct, dtype=bool)}, index=tags.index)
    kinds = more.pop("kinds", dict.fromkeys(tags.columns, "dataset"))
    return Evidence(examples, tags, kinds=kinds, dataset=dataset, run=run_name, **more)


def pair(**more):
    return run(CORRECT_B, run_name="v2", **more), run(CORRECT_A, run_name="v1", **more)


# ---------------------------------------------------------------------- exact values
@pytest.mark.parametrize(
    ("tag", "examples", "a", "b", "only_a", "only_b"),
    [
        # whole: A 6/10 right, B 7/10; only A right: e1, e7; only B right: e3, e4, e8.
        (ALL_EXAMPLES, 10, Fraction(6, 10), Fraction(7, 10), 2, 3),
        ("car", 4, Fraction(3, 4), Fraction(3, 4), 1, 1),
        ("quiet", 2, Fraction(2, 2), Fraction(0, 2), 2, 0),
    ],
)
def test_exact_accuracies_and_differences(tag, examples, a, b, only_a, only_b):
    evidence, baseline = pair()
    row = compare_runs(evidence, baseline=baseline).set_index("tag").loc[tag]
    assert row["examples"] == examples
    assert row["accuracy_a"] == float(a)
    assert row["accuracy_b"] == float(b)
    # Exactly the correctly rounded ratio of integers: a tie is 0, not a rounding error.
    assert row["difference"] == float(b - a)
    assert (row["only_a_correct"], row["only_b_correct"]) == (only_a, only_b)
    assert row["evidence"] == "dataset"
    assert row["difference_low"] <= row["difference"] <= row["difference_high"]


def test_table_shape_order_and_kinds():
    evidence, baseline = pair()
    table = compare_runs(evidence, baseline=baseline)
    assert list(table.columns) == COMPARE_COLUMNS
    # The whole dataset first, then the largest drop first.
    assert table["tag"].tolist() == [ALL_EXAMPLES, "quiet", "car"]
    assert table["kind"].tolist() == [ALL_KIND, "dataset", "dataset"]
    assert table[table["tag"] == "car"]["difference"].item() == 0.0
    assert table.dtypes["regression"] == np.dtype(bool)
    assert table.dtypes["examples"] == np.dtype(np.int64)


def test_a_tie_of_equal_fractions_is_exactly_zero():
    # 7/10 against 7/10 with different counts behind them: no -1.1e-16.
    n = 10
    correct_a = np.arange(n) < 7
    correct_b = np.arange(n) >= 3
    tags = pd.DataFrame({"low bandwidth": np.ones(n, dtype=bool)}, index=IDS)
    table = compare_runs(
        run(correct_b, run_name="v2", tags=tags), baseline=run(correct_a, run_name="v1", tags=tags)
    ).set_index("tag")
    assert table.loc["low bandwidth", "difference"] == 0.0
    assert not table.loc["low bandwidth", "regression"]


def test_swapping_the_runs_negates_the_difference():
    evidence, baseline = pair()
    forward = compare_runs(evidence, baseline=baseline).set_index("tag")
    back = compare_runs(baseline, baseline=evidence).set_index("tag").loc[forward.index]
    assert (forward["difference"] == -back["difference"]).all()
    assert np.allclose(forward["difference_low"], -back["difference_high"])
    assert (forward["p_value"] == back["p_value"]).all()


def test_runs_pair_by_id_not_by_position():
    evidence, baseline = pair()
    shuffled = baseline.examples.iloc[::-1]
    reordered = Evidence(
        shuffled,
        baseline.tags.iloc[::-1],
        kinds=baseline.kinds,
        dataset="speech",
        run="v1",
    )
    assert_same = compare_runs(evidence, baseline=reordered)
    pd.testing.assert_frame_equal(assert_same, compare_runs(evidence, baseline=baseline))


def test_only_shared_examples_are_compared():
    evidence, baseline = pair()
    fewer = Evidence(
        baseline.examples.iloc[:6], baseline.tags.iloc[:6], kinds=baseline.kinds, run="v1"
    )
    row = compare_runs(evidence, baseline=fewer).iloc[0]
    assert row["examples"] == 6
    assert row["accuracy_a"] == 3 / 6 and row["accuracy_b"] == 4 / 6
    assert row["note"] == "compared on the 6 examples in both runs; run A has 0 more, run B 4 more"


@pytest.mark.parametrize(
    ("runs", "reviewed", "expected"),
    [
        (["v1", "v2"], [], ("v1", "v2")),
        (["v1", "v2", "v3"], [], ("v2", "v3")),
        (["v1", "v2", "v3"], ["v1"], ("v1", "v3")),
        # The demo imports its reviewed run last: it is still the baseline.
        (["v2", "main"], ["main"], ("main", "v2")),
        (["v1", "v2", "v3"], ["v1", "v2"], ("v2", "v3")),
        (["v1", "v2"], ["elsewhere"], ("v1", "v2")),
    ],
)
def test_default_runs(runs, reviewed, expected):
    assert default_runs(runs, reviewed) == expected


def test_default_runs_needs_two_runs():
    with pytest.raises(ValueError, match="comparing needs two runs, got 1"):
        default_runs(["main"])


# ---------------------------------------------------------------------- McNemar and Holm
@pytest.mark.parametrize(
    "table",
    [
        [[5, 0], [0, 5]],
        [[10, 3], [3, 10]],
        [[40, 1], [9, 50]],
        [[0, 12], [2, 0]],
        [[100, 25], [60, 15]],
        [[3, 0], [7, 1]],
        [[900, 250], [180, 70]],
        [[1, 1], [1, 1]],
    ],
)
def test_mcnemar_p_values_equal_statsmodels_exact_test(table):
    # Rows: correct / wrong in A; columns: correct / wrong in B.
    (right_both, only_a), (only_b, wrong_both) = table
    expected = mcnemar(np.array(table), exact=True).pvalue
    assert mcnemar_p(only_b, only_a) == expected

    n = right_both + only_a + only_b + wrong_both
    ids = pd.Index([f"x{i}" for i in range(n)], name="id")
    cells = np.repeat(
        [BOTH_RIGHT, ONLY_A, ONLY_B, BOTH_WRONG], [right_both, only_a, only_b, wrong_both]
    )
    tags = pd.DataFrame({"all": np.ones(n, dtype=bool)}, index=ids)
    result = compare_runs(
        run(cells % 2 == 1, run_name="B", tags=tags),
        baseline=run(cells >= 2, run_name="A", tags=tags),
    )
    assert result["p_value"].tolist() == [expected, expected]


def test_regression_flags_follow_holm_across_tags():
    # 400 examples; four tags of 100 each: one much worse in B, one slightly worse, one better.
    n = 400
    ids = pd.Index([f"x{i}" for i in range(n)], name="id")
    group = np.arange(n) // 100
    position = np.arange(n) % 100
    correct_a = np.ones(n, dtype=bool)
    correct_b = np.ones(n, dtype=bool)
    correct_b[(group == 0) & (position < 30)] = False  # 30 regressions
    correct_b[(group == 1) & (position < 6)] = False  # 6 regressions: p 0.031, Holm 0.16
    correct_a[(group == 2) & (position < 25)] = False  # 25 fixes
    tags = pd.DataFrame({f"group {g}": group == g for g in range(4)}, index=ids)
    table = compare_runs(
        run(correct_b, run_name="B", tags=tags), baseline=run(correct_a, run_name="A", tags=tags)
    ).set_index("tag")
    p = table["p_value"].to_numpy()
    reject, adjusted, *_ = multipletests(p, alpha=0.05, method="holm")
    assert np.allclose(table["p_adjusted"].to_numpy(), adjusted, rtol=1e-12)
    assert table.loc["group 1", "p_value"] < 0.05 < table.loc["group 1", "p_adjusted"]
    assert table["regression"].to_dict() == {
        ALL_EXAMPLES: False,
        "group 0": True,
        "group 1": False,
        "group 2": False,
        "group 3": False,
    }
    assert table.loc["group 2", "improved"] and not table.loc["group 0", "improved"]
    assert "significantly worse in run B" in table.loc["group 0", "note"]
    assert "over 5 tests" in table.loc["group 0", "note"]


# ---------------------------------------------------------------------- reviewed tags
def reviewed_pair(reviewed: np.ndarray, weights: np.ndarray | None = None):
    tags = TAGS.rename(columns={"car": "car noise", "quiet": "quiet speaker"})
    kinds = dict.fromkeys(tags.columns, "reviewed")
    series = None if weights is None else pd.Series(weights, index=IDS)
    shown = pd.Series(reviewed, index=IDS)
    return (
        run(CORRECT_B, run_name="v2", tags=tags, kinds=kinds, reviewed=shown, weights=series),
        run(CORRECT_A, run_name="v1", tags=tags, kinds=kinds, reviewed=shown, weights=series),
    )


def test_a_reviewed_census_gives_the_exact_counts():
    evidence, baseline = reviewed_pair(np.ones(10, dtype=bool))
    table = compare_runs(evidence, baseline=baseline, draws=1000).set_index("tag")
    car = table.loc["car noise"]
    assert car["evidence"] == "reviewed" and car["test"] == "design-weighted draws"
    assert car["accuracy_a"] == pytest.approx(0.75) and car["accuracy_b"] == pytest.approx(0.75)
    assert car["difference"] == pytest.approx(0.0, abs=1e-15)
    assert table.loc["quiet speaker", "difference"] == pytest.approx(-1.0)


def test_reviewed_tags_are_weighted_and_post_stratified():
    # Every example reviewed but e2 (a car example correct in both runs, so the cell of
    # those correct in both has e0, e6, e9 left) and with unequal weights.
    reviewed = np.ones(10, dtype=bool)
    reviewed[2] = False
    weights = np.where(reviewed, [1.0, 1.0, np.nan, 2.0, 1.0, 3.0, 1.0, 1.0, 1.0, 2.0], np.nan)
    evidence, baseline = reviewed_pair(reviewed, weights)
    car = compare_runs(evidence, baseline=baseline, draws=1000).set_index("tag").loc["car noise"]
    # Cells (size; car examples / weights reviewed there): correct in both: e0 e2 e6 e9
    # (size 4; car on e0 weight 1 of 1 + 1 + 2 -> 1/4); only A: e1 e7 (size 2, car on e1:
    # 1/2); only B: e3 e4 e8 (size 3; car on e3, weight 2 of 2 + 1 + 1 -> 1/2); both wrong:
    # e5 (no car). Estimated car examples: 4/4 + 2/2 + 3/2 = 3.5.
    total = 4 * 0.25 + 2 * 0.5 + 3 * 0.5
    assert car["accuracy_a"] == pytest.approx((4 * 0.25 + 2 * 0.5) / total)
    assert car["accuracy_b"] == pytest.approx((4 * 0.25 + 3 * 0.5) / total)
    assert car["difference"] == pytest.approx((3 * 0.5 - 2 * 0.5) / total)
    assert car["examples"] == 3  # reviewed car examples: e0, e1, e3


def test_a_cell_without_reviews_leaves_the_tag_insufficient():
    reviewed = np.ones(10, dtype=bool)
    reviewed[[1, 7]] = False  # every example correct in A and wrong in B
    evidence, baseline = reviewed_pair(reviewed)
    row = compare_runs(evidence, baseline=baseline).set_index("tag").loc["car noise"]
    assert row["evidence"] == "insufficient"
    assert np.isnan(row["difference"]) and np.isnan(row["p_value"]) and not row["regression"]
    assert row["note"].startswith("no reviewed example correct in A and wrong in B")


def test_reviewed_tag_seen_nowhere_says_so():
    tags = pd.DataFrame({"never": np.zeros(10, dtype=bool)}, index=IDS)
    kinds = {"never": "reviewed"}
    shown = pd.Series(True, index=IDS)
    row = compare_runs(
        run(CORRECT_B, run_name="v2", tags=tags, kinds=kinds, reviewed=shown),
        baseline=run(CORRECT_A, run_name="v1", tags=tags, kinds=kinds, reviewed=shown),
    ).iloc[1]
    assert row["evidence"] == "insufficient"
    assert row["note"] == "no reviewed example carries this tag yet"


def test_a_clear_reviewed_regression_is_flagged_among_many_tags():
    # 150 reviewed tags on a census of 200 examples; one tag's 60 examples all go wrong in
    # B. The draws never cross 0, and Holm over 151 rows still lets its p-value pass.
    n = 200
    ids = pd.Index([f"r{i}" for i in range(n)], name="id")
    rng = np.random.default_rng(0)
    tags = pd.DataFrame(rng.random((n, 150)) < 0.2, index=ids).rename(columns=lambda j: f"t{j}")
    broken = np.arange(n) < 60
    tags["t0"] = broken
    correct_a = np.ones(n, dtype=bool)
    correct_b = ~broken
    kinds = dict.fromkeys(tags.columns, "reviewed")
    shown = pd.Series(True, index=ids)
    table = compare_runs(
        run(correct_b, run_name="B", tags=tags, kinds=kinds, reviewed=shown),
        baseline=run(correct_a, run_name="A", tags=tags, kinds=kinds, reviewed=shown),
        draws=1000,
    ).set_index("tag")
    assert table.loc["t0", "p_value"] < 1 / 1000
    assert table.loc["t0", "regression"]
    assert table.loc["t0", "difference"] == pytest.approx(-1.0)


# ---------------------------------------------------------------------- coverage
Z95 = 1.959963984540054
EXACT_SCENARIOS = [
    # examples, P(only B right), P(only A right), P(both right)
    (30, 0.10, 0.05, 0.75),
    (100, 0.05, 0.05, 0.85),
    (100, 0.02, 0.10, 0.80),
    (500, 0.03, 0.01, 0.90),
    (2000, 0.01, 0.005, 0.95),
    (50, 0.20, 0.20, 0.30),
    (20, 0.05, 0.05, 0.85),
    (1000, 0.001, 0.002, 0.90),
]


def exact_coverage(scenario, repetitions: int, seed: int = 1) -> tuple[float, float, float]:
    """(coverage, mean width, ideal width: 2 z sd of the difference) of the paired interval
    over ``repetitions`` seeded samples of the tag's examples."""
    n, only_b, only_a, right = scenario
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(n, [1 - only_b - only_a - right, only_b, only_a, right], repetitions)
    low, high = paired_interval(counts.T)
    truth = only_b - only_a
    ideal = 2 * Z95 * np.sqrt((only_b + only_a - truth**2) / n)
    return float(np.mean((low <= truth) & (truth <= high))), float(np.mean(high - low)), ideal


@pytest.mark.slow
@pytest.mark.parametrize("scenario", EXACT_SCENARIOS, ids=lambda s: "n={}-{}-{}".format(*s))
def test_paired_interval_covers_the_difference(scenario):
    coverage, width, ideal = exact_coverage(scenario, 5000)
    assert coverage >= 0.93, (coverage, width, ideal)
    assert width <= 1.5 * ideal, (coverage, width, ideal)


def test_paired_interval_covers_the_difference_fast():
    for scenario in EXACT_SCENARIOS[:4]:
        coverage, width, ideal = exact_coverage(scenario, 600)
        assert coverage >= 0.92, (scenario, coverage)
        assert width <= 1.3 * ideal, (scenario, width, ideal)


# A finite population of 3,000 examples in four cells of joint correctness, four reviewed
# tags with different rates per cell (both wrong, only B right, only A right, both right).
CELL_SIZES = {BOTH_WRONG: 300, ONLY_B: 250, ONLY_A: 150, BOTH_RIGHT: 2300}
TAG_RATES = {
    "fixed": [0.3, 0.5, 0.05, 0.05],
    "regressed": [0.2, 0.05, 0.5, 0.05],
    "same": [0.2, 0.2, 0.2, 0.1],
    "rare": [0.05, 0.04, 0.04, 0.01],
}


def population(seed: int = 0):
    rng = np.random.default_rng(seed)
    code = np.concatenate([np.full(n, cell) for cell, n in CELL_SIZES.items()])
    rng.shuffle(code)
    ids = pd.Index([f"p{i}" for i in range(len(code))], name="id")
    tags = pd.DataFrame(
        {tag: rng.random(len(code)) < np.array(rates)[code] for tag, rates in TAG_RATES.items()},
        index=ids,
    )
    correct_a, correct_b = code >= 2, code % 2 == 1
    truth = {
        tag: (tags[tag][correct_b].sum() - tags[tag][correct_a].sum()) / tags[tag].sum()
        for tag in TAG_RATES
    }
    return correct_a, correct_b, tags, truth


def stratified(rng, strata: np.ndarray, sizes: dict) -> np.ndarray:
    """Inclusion probabilities of one stratified simple random sample (0: not drawn)."""
    probability = np.zeros(len(strata))
    for stratum, size in sizes.items():
        members = np.flatnonzero(strata == stratum)
        probability[rng.choice(members, size, replace=False)] = size / len(members)
    return probability


def design_weights(design: str, rng, correct_a, correct_b) -> np.ndarray:
    """Weights as the design prescribes: w_i = Σ_r α_r [drawn in r] / π_ir, α_r = size
    share (Kish's multiple-sample estimator); NaN where not drawn."""
    if design == "sampled on A":
        samples = [stratified(rng, correct_a, {False: 150, True: 150})]
    elif design == "sampled on A, then on B":
        samples = [
            stratified(rng, correct_a, {False: 100, True: 100}),
            stratified(rng, correct_b, {False: 100, True: 100}),
        ]
    else:  # every error of A, and 250 of its correct predictions
        samples = [stratified(rng, correct_a, {False: int((~correct_a).sum()), True: 250})]
    weights = np.zeros(len(correct_a))
    for probability in samples:
        drawn = probability > 0
        weights[drawn] += (1 / len(samples)) / probability[drawn]
    return np.where(weights > 0, weights, np.nan)


DESIGNS = ["sampled on A", "sampled on A, then on B", "errors of A in full"]


def weighted_coverage(design: str, repetitions: int, draws: int) -> dict[str, tuple]:
    """Per tag: (coverage, mean width, sd of the estimate × 2 z) over seeded samples."""
    correct_a, correct_b, tags, truth = population()
    kinds = dict.fromkeys(tags.columns, "reviewed")
    rng = np.random.default_rng(7)
    hits = dict.fromkeys(TAG_RATES, 0)
    widths: dict[str, list] = {tag: [] for tag in TAG_RATES}
    estimates: dict[str, list] = {tag: [] for tag in TAG_RATES}
    for repetition in range(repetitions):
        weights = pd.Series(design_weights(design, rng, correct_a, correct_b), index=tags.index)
        reviewed = weights.notna()
        runs = [
            Evidence(
                pd.DataFrame({"correct": correct}, index=tags.index),
                tags,
                kinds=kinds,
                reviewed=reviewed,
                weights=weights,
                dataset="sim",
                run=name,
            )
            for correct, name in ((correct_b, "B"), (correct_a, "A"))
        ]
        table = compare_runs(runs[0], baseline=runs[1], draws=draws, seed=repetition)
        table = table.set_index("tag")
        for tag in TAG_RATES:
            low, high = table.loc[tag, ["difference_low", "difference_high"]]
            hits[tag] += bool(low <= truth[tag] <= high)
            widths[tag].append(high - low)
            estimates[tag].append(table.loc[tag, "difference"])
    return {
        tag: (
            hits[tag] / repetitions,
            float(np.mean(widths[tag])),
            2 * Z95 * float(np.std(estimates[tag])),
        )
        for tag in TAG_RATES
    }


@pytest.mark.slow
@pytest.mark.parametrize("design", DESIGNS)
def test_design_weighted_interval_covers_the_difference(design):
    for tag, (coverage, width, ideal) in weighted_coverage(design, 1000, 2000).items():
        assert coverage >= 0.93, (design, tag, coverage, width, ideal)


def test_design_weighted_interval_covers_the_difference_fast():
    for tag, (coverage, _, _) in weighted_coverage(DESIGNS[1], 120, 1000).items():
        assert coverage >= 0.87, (tag, coverage)


# ---------------------------------------------------------------------- bad input
def test_bad_pairs_are_refused():
    evidence, baseline = pair()
    with pytest.raises(ValueError, match="the same run 'v2': compare two different runs"):
        compare_runs(evidence, baseline=evidence)
    with pytest.raises(ValueError, match="the same run 'v1'"):
        compare_runs(baseline, baseline=run(CORRECT_B, run_name="v1"))
    other = run(CORRECT_A, run_name="v1", dataset="digits")
    with pytest.raises(ValueError, match="dataset 'speech' and baseline a run of dataset 'digits'"):
        compare_runs(evidence, baseline=other)
    elsewhere = TAGS.set_axis(pd.Index([f"z{i}" for i in range(10)], name="id"))
    disjoint = run(CORRECT_A, run_name="v1", tags=elsewhere)
    with pytest.raises(ValueError, match="runs 'v1' and 'v2' share no examples"):
        compare_runs(evidence, baseline=disjoint)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"baseline": "v1"}, "baseline must be an Evidence, got str"),
        ({"level": 1.0}, "level must be between 0 and 1"),
        ({"alpha": "5%"}, "alpha must be between 0 and 1"),
        ({"draws": 10}, "draws must be an integer of at least 100"),
        ({"seed": -2}, "seed must be a non-negative integer"),
    ],
)
def test_bad_options_are_refused(options, message):
    evidence, baseline = pair()
    with pytest.raises(ValueError, match=message):
        compare_runs(evidence, **({"baseline": baseline} | options))


def test_bad_baseline_and_weights_are_refused():
    evidence, baseline = pair()
    broken = Evidence(baseline.examples.astype(int), baseline.tags, run="v1")
    with pytest.raises(ValueError, match=r"baseline: examples\['correct'\] must have a bool"):
        compare_runs(evidence, baseline=broken)
    shown = pd.Series(True, index=IDS)
    for weights, message in [
        (pd.Series(-1.0, index=IDS), "weights must be positive numbers"),
        (pd.Series(1.0, index=IDS[::-1]), "weights must have the same index as examples"),
        (pd.Series("1", index=IDS), "weights must have a float dtype"),
    ]:
        weighted = run(CORRECT_B, run_name="v2", weights=weights, reviewed=shown)
        with pytest.raises(ValueError, match=message):
            compare_runs(weighted, baseline=baseline)
    duplicated = Evidence(
        pd.DataFrame({"id": ["e0", "e0", "e1"], "correct": [True, False, True]}), run="v1"
    )
    with pytest.raises(ValueError, match=r"baseline has duplicate example ids: \['e0'\]"):
        compare_runs(evidence, baseline=duplicated)


def test_neither_evidence_is_modified():
    evidence, baseline = reviewed_pair(np.ones(10, dtype=bool))
    before = copy.deepcopy((evidence, baseline))
    compare_runs(evidence, baseline=baseline, draws=200)
    for now, then in zip((evidence, baseline), before, strict=True):
        pd.testing.assert_frame_equal(now.examples, then.examples)
        pd.testing.assert_frame_equal(now.tags, then.tags)
        pd.testing.assert_series_equal(now.reviewed, then.reviewed)


# ---------------------------------------------------------------------- the project
def test_two_imported_runs_compare_through_the_registry(tmp_path):
    frame = pd.DataFrame(
        {
            "id": [f"s{i}" for i in range(40)],
            "label": ["yes"] * 40,
            "prediction": ["yes" if i % 4 else "no" for i in range(40)],
            "tag:car": [i < 20 for i in range(40)],
        }
    )
    fixed = frame.assign(prediction=["no" if i in (1, 2, 3, 5) else "yes" for i in range(40)])
    with open_project(tmp_path / "p.db") as project:
        for name, data in (("v1", frame), ("v2", fixed)):
            path = tmp_path / f"{name}.csv"
            data.to_csv(path, index=False)
            project.dataset("speech", create=True).import_result(
                read_dataset(path), run=name, actor="t"
            )
        a = load_evidence(project, "speech", run="v1")
        b = load_evidence(project, "speech", run="v2")
    table = ANALYSES["compare_runs"](b, baseline=a).set_index("tag")
    # car: s0..s19, errors in v1 at s0 s4 s8 s12 s16, in v2 at s1 s2 s3 s5.
    assert table.loc["car", "accuracy_a"] == 15 / 20 and table.loc["car", "accuracy_b"] == 16 / 20
    assert table.loc[ALL_EXAMPLES, "accuracy_a"] == 30 / 40
    assert table.loc[ALL_EXAMPLES, "accuracy_b"] == 36 / 40


# ---------------------------------------------------------------------- the command line
def two_run_project(tmp_path, *, disjoint: bool = False):
    """A project with runs v1 and v2 of dataset "speech": v2 fixes two errors of the
    "=car" tag (a formula-like name) and breaks every "quiet" example."""
    n = 40
    ids = [f"s{i:02d}" for i in range(n)]
    car = [i < 20 for i in range(n)]
    quiet = [i >= 30 for i in range(n)]
    wrong_v1 = [i % 4 == 0 for i in range(n)]
    wrong_v2 = [
        (w and i not in (0, 4)) or q for i, (w, q) in enumerate(zip(wrong_v1, quiet, strict=True))
    ]
    db = tmp_path / "project.db"
    with open_project(db) as project:
        for name, wrong in (("v1", wrong_v1), ("v2", wrong_v2)):
            frame = pd.DataFrame(
                {
                    "id": [f"{'x' if disjoint and name == 'v2' else ''}{i}" for i in ids],
                    "label": ["yes"] * n,
                    "prediction": ["no" if w else "yes" for w in wrong],
                    "tag:=car": car,
                    "tag:quiet": quiet,
                }
            )
            path = tmp_path / f"{name}.csv"
            frame.to_csv(path, index=False)
            project.dataset("speech", create=True).import_result(
                read_dataset(path), run=name, actor="t"
            )
    return db


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def test_cli_compare_writes_a_safe_csv_and_json(tmp_path):
    db = two_run_project(tmp_path)
    code, out, _ = cli("compare", "--db", str(db), "--dataset", "speech", "--runs", "v1", "v2")
    assert code == 0
    table = pd.read_csv(io.StringIO(out), keep_default_na=False).set_index("tag")
    assert list(table.reset_index().columns) == COMPARE_COLUMNS
    # The formula-like tag is neutralised with a leading quote; numbers stay numbers.
    assert "'=car" in table.index and "=car" not in table.index
    assert table.loc["quiet", "accuracy_a"] == 0.8 and table.loc["quiet", "accuracy_b"] == 0.0
    assert table.loc["quiet", "regression"]
    assert table.loc["'=car", "difference"] == 2 / 20
    out_file = tmp_path / "compare.json"
    args = ["--dataset", "speech", "--runs", "v1", "v2", "--format", "json"]
    code, _, err = cli("compare", "--db", str(db), *args, "--out", str(out_file))
    assert code == 0 and "wrote 3 rows" in err
    rows = {row["tag"]: row for row in json.loads(out_file.read_text())}
    assert rows["=car"]["only_b_correct"] == 2 and rows["quiet"]["regression"] is True


@pytest.mark.parametrize(
    ("runs", "disjoint", "message"),
    [
        (("v1", "v1"), False, "--runs: 'v1' twice; name two different runs"),
        (("v1", "v3"), False, "dataset 'speech' has no run 'v3'"),
        (("v1", "v2"), True, "compare: runs 'v1' and 'v2' share no examples"),
    ],
)
def test_cli_compare_refuses_bad_runs_and_changes_nothing(tmp_path, runs, disjoint, message):
    db = two_run_project(tmp_path, disjoint=disjoint)
    before = db.read_bytes()
    code, out, err = cli("compare", "--db", str(db), "--dataset", "speech", "--runs", *runs)
    assert code == 1 and out == ""
    assert message in err and err.count("\n") == 1
    assert db.read_bytes() == before
