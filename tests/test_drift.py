"""Drift by tag between a labelled dataset and a production sample (erroranalysis.drift).

The projection and the marginal effects are checked against hand computations on small
tables, the test against scipy's Fisher test and the Holm step against statsmodels, the
intervals' coverage of the true production share and of the true projected accuracy by
simulation (1,000 repetitions per scenario, marked slow, and a smaller seeded version in
the default suite), and every bad input against its message.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from scipy.stats import fisher_exact
from statsmodels.stats.multitest import multipletests

from erroranalysis.drift import (
    DRIFT_BY_COLUMNS,
    DRIFT_COLUMNS,
    MAX_VALUES,
    NOTE_NO_HLP,
    NOTE_ONLY_PRODUCTION,
    drift_table,
)
from erroranalysis.estimation import proportion_interval
from erroranalysis.evidence import Evidence
from erroranalysis.priorities import priority_table

Z = 1.959963984540054


def dev_evidence(
    cells: dict[str, tuple[int, int]], *, tags: dict[str, list[bool]] | None = None, **more
) -> Evidence:
    """A labelled dataset: per value of ``site``, (examples, correct ones)."""
    site, correct = [], []
    for value, (size, right) in cells.items():
        site += [value] * size
        correct += [True] * right + [False] * (size - right)
    n = len(site)
    examples = pd.DataFrame(
        {
            "id": [f"d{i}" for i in range(n)],
            "label": ["x"] * n,
            "prediction": ["x" if c else "y" for c in correct],
            "correct": correct,
            "site": site,
        }
    )
    frame = pd.DataFrame(tags or {}, index=examples.index, dtype=bool)
    kinds = more.pop("kinds", dict.fromkeys(frame.columns, "dataset"))
    return Evidence(examples, tags=frame, kinds=kinds, dataset="dev", **more)


def production_evidence(
    cells: dict[str, int], *, tags: dict[str, list[bool]] | None = None, **more
) -> Evidence:
    """A production sample: per value of ``site``, its examples; no labels."""
    site = [value for value, size in cells.items() for _ in range(size)]
    examples = pd.DataFrame(
        {"id": [f"p{i}" for i in range(len(site))], "prediction": ["x"] * len(site), "site": site}
    )
    frame = pd.DataFrame(tags or {}, index=examples.index, dtype=bool)
    kinds = more.pop("kinds", dict.fromkeys(frame.columns, "dataset"))
    return Evidence(examples, tags=frame, kinds=kinds, dataset="prod", **more)


# --------------------------------------------------------------------------- by a column

# dev: a 4 examples (3 right), b 6 (3 right); production: a 8, b 2.
DEV_CELLS = {"a": (4, 3), "b": (6, 3)}
PROD_CELLS = {"a": 8, "b": 2}


def test_projection_by_a_column_equals_the_hand_computation():
    table = drift_table(dev_evidence(DEV_CELLS), against=production_evidence(PROD_CELLS), by="site")
    assert list(table.columns) == DRIFT_BY_COLUMNS
    assert table["value"].tolist() == ["a", "b"]
    assert table["tag"].tolist() == ["site == 'a'", "site == 'b'"]
    assert table["examples_dev"].tolist() == [4, 6]
    assert table["examples_against"].tolist() == [8, 2]
    assert table["share_dev"].tolist() == [0.4, 0.6]
    assert table["share_against"].tolist() == [0.8, 0.2]
    assert table["accuracy_dev"].tolist() == [0.75, 0.5]
    # 0.8 × 0.75 + 0.2 × 0.5 = 0.7, on every row: it is the dataset's.
    assert table["projected_accuracy"].tolist() == pytest.approx([0.7, 0.7], abs=1e-15)
    low, high = table.loc[0, ["projected_accuracy_low", "projected_accuracy_high"]]
    assert low < 0.7 < high
    assert (table["projected_accuracy_low"] == low).all()
    p = fisher_exact([[4, 6], [8, 2]]).pvalue
    assert table["p_value"].tolist() == pytest.approx([p, p], rel=1e-9)
    # Two rows of one binary partition: both tests are the same, Holm doubles the smaller.
    assert table["p_adjusted"].tolist() == pytest.approx([min(2 * p, 1)] * 2, rel=1e-9)
    share_low, share_high = proportion_interval(8, 10)
    assert table.loc[0, "share_against_low"] == share_low
    assert table.loc[0, "share_against_high"] == share_high


def test_a_value_only_production_has_leaves_the_projection_missing():
    table = drift_table(
        dev_evidence(DEV_CELLS), against=production_evidence({"a": 5, "c": 1}), by="site"
    )
    assert table["value"].tolist() == ["a", "b", "c"]
    assert table["examples_dev"].tolist() == [4, 6, 0]
    assert table["note"].tolist() == ["", "", NOTE_ONLY_PRODUCTION]
    assert table["projected_accuracy"].isna().all()


def test_missing_values_are_a_value_of_their_own():
    dev = dev_evidence(DEV_CELLS)
    dev = Evidence(dev.examples.assign(site=dev.examples["site"].where(lambda s: s == "a")))
    prod = production_evidence(PROD_CELLS)
    prod = Evidence(prod.examples.assign(site=prod.examples["site"].where(lambda s: s == "a")))
    table = drift_table(dev, against=prod, by="site")
    assert table["tag"].tolist() == ["site == 'a'", "site (missing)"]
    assert table["examples_against"].tolist() == [8, 2]
    assert table["projected_accuracy"].tolist() == pytest.approx([0.7, 0.7], abs=1e-15)


# --------------------------------------------------------------------------- by tag


def tagged_pair(*, hlp: dict | None = None):
    """dev: 10 examples, 'car' on 4 of them (2 right), 6 others (5 right), 'loud' on 5;
    production: 10 examples, 'car' on 6, 'loud' on 5."""
    dev = dev_evidence(
        {"a": (4, 2), "b": (6, 5)},
        tags={"car": [True] * 4 + [False] * 6, "loud": [True, False] * 5},
        hlp=hlp or {},
    )
    prod = production_evidence(
        {"a": 6, "b": 4}, tags={"car": [True] * 6 + [False] * 4, "loud": [False, True] * 5}
    )
    return dev, prod


def test_projection_per_tag_equals_the_hand_computation():
    dev, prod = tagged_pair(hlp={"car": 0.9, "loud": 0.95})
    table = drift_table(dev, against=prod).set_index("tag")
    assert list(table.reset_index().columns) == DRIFT_COLUMNS
    car = table.loc["car"]
    assert (car["examples_dev"], car["examples_against"]) == (4, 6)
    assert (car["share_dev"], car["share_against"], car["accuracy_dev"]) == (0.4, 0.6, 0.5)
    # Only car's share moves: 0.6 × 2/4 + 0.4 × 5/6 = 0.3 + 1/3.
    assert car["projected_accuracy"] == pytest.approx(0.3 + 1 / 3, abs=1e-15)
    # max(0.9 − 0.5, 0) × share: 0.16 in dev, 0.24 on production's share.
    assert car["marginal_effect_dev"] == pytest.approx(0.16, abs=1e-15)
    assert car["marginal_effect_against"] == pytest.approx(0.24, abs=1e-15)
    assert car["marginal_effect_against_low"] < 0.24 < car["marginal_effect_against_high"]
    assert car["hlp"] == 0.9
    loud = table.loc["loud"]
    assert loud["shift"] == 0.0 and not loud["drifted"]
    assert loud["p_value"] == pytest.approx(1.0, abs=1e-12)
    assert table["p_value"].tolist() == pytest.approx(
        [fisher_exact([[4, 6], [6, 4]]).pvalue, 1.0], rel=1e-9
    )
    holm = multipletests(table["p_value"].to_numpy(), method="holm")[1]
    assert table["p_adjusted"].to_numpy() == pytest.approx(holm, rel=1e-9)


def test_a_clear_drift_is_flagged_and_sorted_first():
    n = 400
    dev = dev_evidence(
        {"a": (n, n - 40)},
        tags={"phone": [i < 40 for i in range(n)], "quiet": [i % 2 == 0 for i in range(n)]},
    )
    prod = production_evidence(
        {"a": n},
        tags={"phone": [i < 160 for i in range(n)], "quiet": [i % 2 == 1 for i in range(n)]},
    )
    table = drift_table(dev, against=prod)
    assert table["tag"].tolist() == ["phone", "quiet"]
    assert table["drifted"].tolist() == [True, False]
    assert table.loc[0, "shift"] == pytest.approx(0.3)
    assert table.loc[0, "note"] == NOTE_NO_HLP  # no HLP set, none measurable


def test_reviewed_tags_and_tags_production_lacks_are_left_out():
    dev, prod = tagged_pair()
    dev = Evidence(
        dev.examples,
        tags=dev.tags.assign(seen=dev.tags["car"]),
        kinds={"car": "dataset", "loud": "dataset", "seen": "reviewed"},
    )
    prod = Evidence(prod.examples, tags=prod.tags[["car"]])
    assert drift_table(dev, against=prod)["tag"].tolist() == ["car"]


def test_rule_tags_are_compared_like_dataset_tags():
    dev, prod = tagged_pair()
    dev = Evidence(dev.examples, tags=dev.tags, kinds={"car": "rule", "loud": "dataset"})
    prod = Evidence(prod.examples, tags=prod.tags, kinds={"car": "rule", "loud": "dataset"})
    table = drift_table(dev, against=prod).set_index("tag")
    assert table.loc["car", "kind"] == "rule"
    assert table.loc["car", "examples_against"] == 6


def test_intervals_do_not_move_when_other_tags_come_and_go():
    dev, prod = tagged_pair(hlp={"car": 0.9})
    both = drift_table(dev, against=prod).set_index("tag")
    alone = drift_table(
        Evidence(dev.examples, tags=dev.tags[["car"]], hlp={"car": 0.9}),
        against=Evidence(prod.examples, tags=prod.tags[["car"]]),
    ).set_index("tag")
    columns = ["projected_accuracy_low", "marginal_effect_against_high"]
    pd.testing.assert_series_equal(both.loc["car", columns], alone.loc["car", columns])


# --------------------------------------------------------------------------- bad input


def rule_broken_on_production():
    dev, prod = tagged_pair()
    dev = Evidence(dev.examples, tags=dev.tags, kinds={"car": "rule", "loud": "dataset"})
    prod = Evidence(
        prod.examples,
        tags=prod.tags[["loud"]],
        rule_problems={"car": "unknown column 'engine_rpm'; columns: id, prediction, site"},
        dataset="prod",
    )
    return dev, prod, {}


def by_unknown_column():
    dev, prod = tagged_pair()
    return dev, prod, {"by": "weather"}


def by_a_column_production_lacks():
    dev, prod = tagged_pair()
    return dev, Evidence(prod.examples.drop(columns="site"), dataset="prod"), {"by": "site"}


def against_a_labelled_dataset():
    dev, _ = tagged_pair()
    return dev, dev, {}


def dev_without_labels():
    _, prod = tagged_pair()
    return prod, prod, {}


def by_too_many_values():
    dev = dev_evidence({f"v{i}": (1, 1) for i in range(MAX_VALUES + 1)})
    return dev, production_evidence({"v0": 3}), {"by": "site"}


BAD = [
    (
        rule_broken_on_production,
        r"rule tag 'car' cannot be evaluated on the production sample \(dataset 'prod'\): "
        "unknown column 'engine_rpm'",
    ),
    (by_unknown_column, "by: dataset 'dev' has no column 'weather'"),
    (by_a_column_production_lacks, "by: dataset 'prod' has no column 'site'"),
    (against_a_labelled_dataset, "against must be a production sample .* has a 'label' column"),
    (dev_without_labels, "dataset 'prod' is a production sample: it has no labels"),
    (by_too_many_values, f"column 'site' has {MAX_VALUES + 1} values, more than {MAX_VALUES}"),
    (lambda: (*tagged_pair(), {"level": 0}), "level must be between 0 and 1"),
    (lambda: (*tagged_pair(), {"draws": 99}), "draws must be an integer of at least 100"),
    (lambda: (*tagged_pair(), {"seed": -2}), "seed must be a non-negative integer"),
    (lambda: (*tagged_pair(), {"by": ["site"]}), "by must be a column name or None"),
    (lambda: (tagged_pair()[0], "prod", {}), "against must be an Evidence, got str"),
    (
        lambda: (
            tagged_pair()[0],
            Evidence(tagged_pair()[1].examples, tags=tagged_pair()[1].tags.astype(int)),
            {},
        ),
        "tag 'car' must have a bool dtype",
    ),
]


@pytest.mark.parametrize(("case", "message"), BAD, ids=lambda v: getattr(v, "__name__", None))
def test_bad_input_names_the_problem(case, message):
    dev, against, options = case()
    with pytest.raises(ValueError, match=message):
        drift_table(dev, against=against, **options)


# --------------------------------------------------------------------------- coverage


@dataclass(frozen=True)
class Scenario:
    """Three cells: their shares in dev and in production, the model's accuracy in each."""

    name: str
    n_dev: int
    n_prod: int
    dev_shares: tuple[float, float, float]
    prod_shares: tuple[float, float, float]
    accuracy: tuple[float, float, float]


SCENARIOS = [
    Scenario("no drift", 400, 300, (0.6, 0.3, 0.1), (0.6, 0.3, 0.1), (0.95, 0.8, 0.6)),
    Scenario("toward the weak cell", 400, 300, (0.6, 0.3, 0.1), (0.4, 0.3, 0.3), (0.95, 0.8, 0.6)),
    Scenario("small and rare", 150, 100, (0.8, 0.15, 0.05), (0.7, 0.2, 0.1), (0.9, 0.7, 0.5)),
    Scenario("large", 2000, 1000, (0.5, 0.45, 0.05), (0.3, 0.5, 0.2), (0.97, 0.9, 0.75)),
]
MIN_COVERAGE = 0.93
MAX_WIDTH_RATIO = 1.3
SIMULATION_DRAWS = 1000


def simulate(scenario: Scenario, repetitions: int, seed: int) -> dict[str, float]:
    """Coverage and mean width, beside the ideal width, of the production share's interval
    (of every cell) and of the projected accuracy's, over seeded repetitions of drift_table."""
    rng = np.random.default_rng(seed)
    values = np.array(["a", "b", "c"])
    prod_shares = np.array(scenario.prod_shares)
    accuracy = np.array(scenario.accuracy)
    truth = float(prod_shares @ accuracy)
    covered_share = covered_projection = 0
    width_share, width_projection, estimates = [], [], []
    for _ in range(repetitions):
        dev_cells = rng.choice(3, scenario.n_dev, p=scenario.dev_shares)
        right = rng.random(scenario.n_dev) < accuracy[dev_cells]
        prod_cells = rng.choice(3, scenario.n_prod, p=prod_shares)
        dev = Evidence(
            pd.DataFrame(
                {"label": "x", "prediction": "x", "correct": right, "site": values[dev_cells]}
            )
        )
        prod = Evidence(pd.DataFrame({"prediction": "x", "site": values[prod_cells]}))
        seed_of_run = int(rng.integers(2**31))
        table = drift_table(
            dev, against=prod, by="site", draws=SIMULATION_DRAWS, seed=seed_of_run
        ).set_index("value")
        table = table.reindex(values)
        low, high = table["share_against_low"].to_numpy(), table["share_against_high"].to_numpy()
        covered_share += int(np.sum((low <= prod_shares) & (prod_shares <= high)))
        width_share.append(np.nanmean(high - low))
        row = table.dropna(subset=["projected_accuracy"]).iloc[0]
        covered_projection += int(
            row["projected_accuracy_low"] <= truth <= row["projected_accuracy_high"]
        )
        width_projection.append(row["projected_accuracy_high"] - row["projected_accuracy_low"])
        estimates.append(row["projected_accuracy"])
    ideal_share = float(np.mean(2 * Z * np.sqrt(prod_shares * (1 - prod_shares) / scenario.n_prod)))
    # The ideal projection interval: the normal one from the estimator's true standard
    # error (delta method over the independent dev cells and production's multinomial).
    dev_shares = np.array(scenario.dev_shares)
    variance = np.sum(prod_shares**2 * accuracy * (1 - accuracy) / (scenario.n_dev * dev_shares))
    variance += (np.sum(prod_shares * accuracy**2) - truth**2) / scenario.n_prod
    return {
        "share_coverage": covered_share / (3 * repetitions),
        "share_width": float(np.mean(width_share)),
        "share_ideal": ideal_share,
        "projection_coverage": covered_projection / repetitions,
        "projection_width": float(np.mean(width_projection)),
        "projection_ideal": float(2 * Z * np.sqrt(variance)),
        "projection_bias": float(np.mean(estimates) - truth),
    }


def check(result: dict[str, float], scenario: Scenario) -> None:
    print(scenario.name, {k: round(v, 4) for k, v in result.items()})
    assert result["share_coverage"] >= MIN_COVERAGE, result
    assert result["projection_coverage"] >= MIN_COVERAGE, result
    assert result["share_width"] <= MAX_WIDTH_RATIO * result["share_ideal"], result
    assert result["projection_width"] <= MAX_WIDTH_RATIO * result["projection_ideal"], result


def test_intervals_cover_the_truth_in_a_quick_simulation():
    scenario = SCENARIOS[1]
    check(simulate(scenario, repetitions=200, seed=11), scenario)


@pytest.mark.slow
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_intervals_cover_the_truth(scenario):
    check(simulate(scenario, repetitions=1000, seed=7), scenario)


def test_a_measured_hlp_is_the_priority_tables():
    dev, prod = tagged_pair()
    # A second person's label on every example: it agrees on 3 of car's 4 examples.
    human = ["x", "x", "x", "z", *["x"] * 6]
    dev = Evidence(dev.examples.assign(human_label=human), tags=dev.tags, dataset="dev")
    table = drift_table(dev, against=prod).set_index("tag")
    ranked = priority_table(dev, draws=200).set_index("tag")
    assert table.loc["car", "hlp"] == ranked.loc["car", "hlp"] == 0.75
    assert table.loc["car", "marginal_effect_dev"] == pytest.approx(0.25 * 0.4, abs=1e-15)
