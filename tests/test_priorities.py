"""Priority table: the error-analysis method's numbers, honest estimates, validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from erroranalysis.counts import TagCounts
from erroranalysis.estimation import estimate, proportion_interval
from erroranalysis.evidence import Evidence
from erroranalysis.priorities import (
    COLUMNS,
    ERROR_SHARE_COLUMNS,
    error_shares,
    exclusive_shares,
    priority_table,
    tag_overlap,
    untagged_errors,
)
from erroranalysis.vocabulary import (
    NOTE_HLP_ERRORS_ONLY,
    NOTE_MODEL_BEATS_HLP,
    NOTE_NO_EFFORT,
    NOTE_NO_HLP,
    NOTE_NO_REVIEWED_CORRECT,
    NOTE_NO_REVIEWED_ERRORS,
    NOTE_NOT_SEEN_DATASET,
    NOTE_TIED,
)

# The table of the error-analysis method: tag -> (accuracy, HLP, share of data).
BOOK = {
    "clean speech": (0.94, 0.95, 0.60),
    "car noise": (0.89, 0.93, 0.04),
    "people noise": (0.87, 0.89, 0.30),
    "low bandwidth": (0.70, 0.70, 0.60),
}
BOOK_HLP = {tag: values[1] for tag, values in BOOK.items()}
N_EXAMPLES, N_ERRORS = 10_000, 2_000


def book_dataset() -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """10,000 examples, 2,000 errors, tags with exactly the method's numbers.

    Each tag takes a run of errors and a run of correct predictions (runs
    start at different offsets, so tags overlap and shares sum to 1.54).
    Reviewed: every error and every second correct prediction; each tag's
    run of correct predictions starts at an even offset and has an even
    length, so the review sample holds exactly half of it.
    """
    n_correct = N_EXAMPLES - N_ERRORS
    correct = np.r_[np.zeros(N_ERRORS, bool), np.ones(n_correct, bool)]
    columns = {}
    for i, (tag, (accuracy, _, share)) in enumerate(BOOK.items()):
        carrying = round(share * N_EXAMPLES)
        right = round(accuracy * carrying)
        mask = np.zeros(N_EXAMPLES, bool)
        mask[(200 * i + np.arange(carrying - right)) % N_ERRORS] = True
        mask[N_ERRORS + (1000 * i + np.arange(right)) % n_correct] = True
        columns[tag] = mask
    examples = pd.DataFrame(
        {"correct": correct, "label": "yes", "prediction": np.where(correct, "yes", "no")},
        index=pd.Index([f"clip-{i:05d}" for i in range(N_EXAMPLES)], name="id"),
    )
    tags = pd.DataFrame(columns, index=examples.index)
    reviewed = pd.Series(~correct | (np.arange(N_EXAMPLES) % 2 == 0), index=examples.index)
    return examples, tags, reviewed


@pytest.fixture(scope="module")
def book():
    return book_dataset()


def book_evidence(book, kind: str, **fields) -> Evidence:
    """The book's dataset with every tag of kind ``kind``; ``fields`` go on to Evidence."""
    examples, tags, reviewed = book
    return Evidence(examples, tags, kinds=dict.fromkeys(BOOK, kind), reviewed=reviewed, **fields)


def by_tag(table: pd.DataFrame) -> pd.DataFrame:
    return table.set_index("tag")


@pytest.mark.parametrize("kind", ["dataset", "rule", "reviewed"])
@pytest.mark.parametrize(
    ("tag", "accuracy", "hlp", "share", "gap", "marginal_effect"),
    [
        ("clean speech", 0.94, 0.95, 0.60, 0.01, 0.006),
        ("car noise", 0.89, 0.93, 0.04, 0.04, 0.0016),
        ("people noise", 0.87, 0.89, 0.30, 0.02, 0.006),
        ("low bandwidth", 0.70, 0.70, 0.60, 0.0, 0.0),
    ],
)
def test_book_table(book, kind, tag, accuracy, hlp, share, gap, marginal_effect):
    table = priority_table(book_evidence(book, kind, hlp=BOOK_HLP))
    row = by_tag(table).loc[tag]
    assert row["accuracy"] == pytest.approx(accuracy, abs=1e-9)
    assert row["hlp"] == pytest.approx(hlp, abs=1e-9)
    assert row["share"] == pytest.approx(share, abs=1e-9)
    assert row["gap"] == pytest.approx(gap, abs=1e-9)
    assert row["marginal_effect"] == pytest.approx(marginal_effect, abs=1e-9)
    assert row["estimated_examples"] == pytest.approx(share * N_EXAMPLES, abs=1e-6)
    assert row["hlp_source"] == "set"
    assert row["evidence"] == ("reviewed" if kind == "reviewed" else "dataset")
    for name in ("share", "accuracy", "marginal_effect"):
        assert row[f"{name}_low"] <= row[name] + 1e-12 <= row[f"{name}_high"] + 2e-12


@pytest.mark.parametrize(
    ("kind", "tag", "examples_seen"),
    [
        ("dataset", "clean speech", 6000),
        ("dataset", "car noise", 400),
        ("reviewed", "clean speech", 360 + 5640 // 2),
        ("reviewed", "car noise", 44 + 356 // 2),
        ("reviewed", "people noise", 390 + 2610 // 2),
        ("reviewed", "low bandwidth", 1800 + 4200 // 2),
    ],
)
def test_examples_counts_what_was_seen(book, kind, tag, examples_seen):
    table = priority_table(book_evidence(book, kind, hlp=BOOK_HLP))
    assert by_tag(table).loc[tag, "examples"] == examples_seen


def test_book_shares_sum_above_one_and_low_bandwidth_ranks_last(book):
    table = priority_table(book_evidence(book, "dataset", hlp=BOOK_HLP))
    assert table["share"].sum() == pytest.approx(1.54)
    assert list(table.columns[: len(COLUMNS)]) == COLUMNS
    assert list(table["rank"]) == [1, 2, 3, 4]
    assert table["tag"].iloc[-1] == "low bandwidth"
    assert table["tag"].iloc[2] == "car noise"


def test_mixed_kinds_count_reviewed_tags_on_reviewed_examples_only(book):
    examples, tags, reviewed = book
    kinds = {"clean speech": "dataset", "car noise": "reviewed", "people noise": "rule"}
    kinds["low bandwidth"] = "reviewed"
    table = by_tag(
        priority_table(Evidence(examples, tags, kinds=kinds, reviewed=reviewed, hlp=BOOK_HLP))
    )
    assert table.loc["clean speech", "examples"] == 6000
    assert table.loc["car noise", "examples"] == 44 + 178
    assert table.loc["people noise", "evidence"] == "dataset"
    assert table.loc["low bandwidth", "evidence"] == "reviewed"
    for tag, (accuracy, _, share) in BOOK.items():
        assert table.loc[tag, "accuracy"] == pytest.approx(accuracy, abs=1e-9)
        assert table.loc[tag, "share"] == pytest.approx(share, abs=1e-9)


def test_reviewed_tag_values_outside_the_review_are_ignored(book):
    examples, tags, reviewed = book
    kinds = dict.fromkeys(BOOK, "reviewed")
    scrambled = tags.copy()
    scrambled.loc[~reviewed, :] = True
    nullable = tags.astype("boolean")
    nullable.loc[~reviewed, :] = pd.NA
    expected = priority_table(
        Evidence(examples, tags, kinds=kinds, reviewed=reviewed, hlp=BOOK_HLP)
    )
    for other in (scrambled, nullable):
        result = priority_table(
            Evidence(examples, other, kinds=kinds, reviewed=reviewed, hlp=BOOK_HLP)
        )
        pd.testing.assert_frame_equal(result, expected)


def small(correct, tag, reviewed=None, **columns):
    index = pd.RangeIndex(len(correct))
    examples = pd.DataFrame({"correct": np.array(correct, bool), **columns}, index=index)
    tags = pd.DataFrame({"noise": np.array(tag, bool)}, index=index)
    reviewed = pd.Series(
        np.ones(len(correct), bool) if reviewed is None else np.array(reviewed, bool), index=index
    )
    return examples, tags, reviewed


def noise_row(dataset, kind: str = "dataset", **fields) -> pd.Series:
    """The priority table's row for the one tag of a ``small`` dataset, noise, of kind
    ``kind``; ``fields`` go on to Evidence."""
    examples, tags, reviewed = dataset
    return priority_table(
        Evidence(examples, tags, kinds={"noise": kind}, reviewed=reviewed, **fields)
    ).iloc[0]


def labelled(prediction, human, *, tag=None, reviewed=None):
    """A ``small`` dataset whose label is always "a" (so correct where ``prediction`` is "a"),
    with the human labels ``human`` (None: none) and the tag on ``tag`` (default: all)."""
    n = len(prediction)
    return small(
        [p == "a" for p in prediction],
        [1] * n if tag is None else tag,
        reviewed,
        label=["a"] * n,
        prediction=prediction,
        human_label=pd.array(human, dtype=object),
    )


@pytest.mark.parametrize(
    ("correct", "tag", "reviewed", "note"),
    [
        # Only errors reviewed: the accuracy cannot be estimated.
        ([0, 0, 0, 1, 1, 1], [1, 1, 0, 1, 0, 0], [1, 1, 1, 0, 0, 0], NOTE_NO_REVIEWED_CORRECT),
        # Only correct predictions reviewed: the share cannot be estimated.
        ([0, 0, 0, 1, 1, 1], [1, 1, 0, 1, 0, 0], [0, 0, 0, 1, 1, 1], NOTE_NO_REVIEWED_ERRORS),
    ],
)
def test_missing_stratum_is_insufficient_never_zero(correct, tag, reviewed, note):
    examples, tags, reviewed = small(correct, tag, reviewed)
    table = priority_table(
        Evidence(examples, tags, kinds={"noise": "reviewed"}, reviewed=reviewed, hlp={"noise": 0.9})
    )
    row = table.iloc[0]
    assert row["evidence"] == "insufficient"
    assert note in row["note"]
    for name in ("share", "accuracy", "gap", "marginal_effect"):
        assert np.isnan(row[name])
    for name in ("share", "accuracy", "marginal_effect"):
        assert np.isnan(row[f"{name}_low"]) and np.isnan(row[f"{name}_high"])


def test_insufficient_tags_rank_after_the_rest(book):
    examples, tags, reviewed = book
    errors_only = pd.Series(~examples["correct"].to_numpy(), index=examples.index)
    kinds = {"clean speech": "reviewed", "car noise": "dataset"}
    kinds |= {"people noise": "dataset", "low bandwidth": "dataset"}
    table = priority_table(
        Evidence(examples, tags, kinds=kinds, reviewed=errors_only, hlp=BOOK_HLP)
    )
    assert table["tag"].iloc[-1] == "clean speech"
    assert table["evidence"].iloc[-1] == "insufficient"
    assert table["rank"].iloc[-1] == 4


def test_dataset_tag_with_every_example_reviewed_or_not_is_the_same(book):
    examples, tags, reviewed = book
    kinds = dict.fromkeys(BOOK, "dataset")
    a = priority_table(Evidence(examples, tags, kinds=kinds, reviewed=reviewed, hlp=BOOK_HLP))
    b = priority_table(Evidence(examples, tags, kinds=kinds, hlp=BOOK_HLP))
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize(
    ("human_label", "hlp", "source"),
    [
        # 4 tagged examples, all with human labels, 3 agree -> 0.75.
        (["a", "a", "a", "b", None, None], 0.75, "measured"),
        # No human label at all on the tag.
        ([None, None, None, None, "a", "a"], np.nan, "empty"),
    ],
)
def test_measured_hlp(human_label, hlp, source):
    row = noise_row(labelled(["b", "a", "a", "a", "a", "b"], human_label, tag=[1, 1, 1, 1, 0, 0]))
    assert row["hlp_source"] == source
    if source == "measured":
        assert row["hlp"] == pytest.approx(hlp)
        assert row["gap"] == pytest.approx(0.75 - 0.75)
        assert row["hlp_low"] <= hlp <= row["hlp_high"]
    else:
        assert np.isnan(row["hlp"]) and np.isnan(row["marginal_effect"])
        assert NOTE_NO_HLP in row["note"]


def test_measured_hlp_is_weighted_by_stratum():
    # Errors: 2 tagged, both reviewed, human agrees on 1 (0.5).
    # Correct: 8 tagged, 2 reviewed (both human-labelled, both agree: 1.0).
    # Stratum weights: errors 2 of the tag's 2 + 8 = 10 examples -> 0.2.
    reviewed = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    human = ["a", "x", "a", "a", None, None, None, None, None, None]
    row = noise_row(labelled(["b", "b"] + ["a"] * 8, human, reviewed=reviewed), "reviewed")
    assert row["hlp_source"] == "measured"
    assert row["hlp"] == pytest.approx(0.2 * 0.5 + 0.8 * 1.0)
    assert row["accuracy"] == pytest.approx(0.8)


def test_human_labels_only_on_errors_cannot_measure_hlp():
    row = noise_row(labelled(["b", "b", "a", "a"], ["a", "b", None, None]))
    assert row["hlp_source"] == "empty"
    assert np.isnan(row["hlp"])
    assert NOTE_HLP_ERRORS_ONLY in row["note"]


def test_set_hlp_wins_over_human_labels():
    row = noise_row(labelled(["b", "a", "a", "a"], ["a", "a", "b", "b"]), hlp={"noise": 0.9})
    assert (row["hlp_source"], row["hlp"]) == ("set", 0.9)


def course_dataset(n: int, errors: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The course's table on ``n`` examples of which ``errors`` are errors: each tag a run
    of errors and a run of correct predictions, starting a quarter further each time."""
    correct = np.arange(n) >= errors
    columns = {}
    for i, (tag, (accuracy, _, share)) in enumerate(BOOK.items()):
        carrying = round(share * n)
        right = round(accuracy * carrying)
        mask = np.zeros(n, bool)
        mask[(errors // 4 * i + np.arange(carrying - right)) % errors] = True
        mask[errors + ((n - errors) // 4 * i + np.arange(right)) % (n - errors)] = True
        columns[tag] = mask
    examples = pd.DataFrame({"correct": correct})
    return examples, pd.DataFrame(columns, index=examples.index)


@pytest.mark.parametrize("kind", ["dataset", "rule", "reviewed"])
def test_course_table_ties_are_exact_and_break_as_documented(kind):
    # With 2,850 errors among 10,000 examples, floating point made low bandwidth's gap
    # -1.1e-16 ("the model beats HLP") and put clean speech (0.6 points) ahead of people
    # noise (0.6 points) against the tie-break: the larger upper bound first.
    examples, tags = course_dataset(10_000, 2_850)
    everyone = pd.Series(True, index=examples.index)
    kinds = dict.fromkeys(BOOK, kind)
    table = priority_table(
        Evidence(examples, tags, kinds=kinds, reviewed=everyone, hlp=BOOK_HLP)
    ).set_index("tag")
    low_bandwidth = table.loc["low bandwidth"]
    assert (low_bandwidth["accuracy"], low_bandwidth["gap"]) == (0.7, 0.0)
    assert low_bandwidth["marginal_effect"] == 0.0
    assert NOTE_MODEL_BEATS_HLP not in low_bandwidth["note"]
    clean, people = table.loc["clean speech"], table.loc["people noise"]
    assert clean["marginal_effect"] == people["marginal_effect"] == 0.006
    assert (clean["gap"], people["gap"]) == (0.01, 0.02)
    first = (
        "people noise"
        if people["marginal_effect_high"] > clean["marginal_effect_high"]
        else "clean speech"
    )
    assert list(table.index[:2]) == [first, ({"people noise", "clean speech"} - {first}).pop()]
    assert NOTE_TIED.format(tags="clean speech") in people["note"]
    assert NOTE_TIED.format(tags="people noise") in clean["note"]
    assert not table.loc[["car noise", "low bandwidth"], "note"].str.contains("same").any()


def test_ties_per_effort_are_exact():
    # Clean speech 0.006 / 3 and car noise 0.0016 / 0.8 are both 0.002 per unit of effort:
    # tied, so the larger upper bound of the marginal effect (clean speech's) ranks first.
    examples, tags = course_dataset(10_000, 2_000)
    effort = {"clean speech": 3.0, "people noise": 1.0, "car noise": 0.8}
    table = priority_table(
        Evidence(examples, tags, kinds=dict.fromkeys(BOOK, "dataset"), hlp=BOOK_HLP, effort=effort),
        by="effort",
    ).set_index("tag")
    per_effort = table["marginal_effect_per_effort"]
    assert per_effort["clean speech"] == per_effort["car noise"] == 0.002
    assert per_effort["people noise"] == 0.006
    assert list(table.index) == ["people noise", "clean speech", "car noise", "low bandwidth"]
    assert NOTE_TIED.format(tags="car noise") in table.loc["clean speech", "note"]


def test_tag_nobody_carries_has_zero_share_and_zero_marginal_effect():
    row = noise_row(small([0, 1, 1, 1], [0, 0, 0, 0]), hlp={"noise": 0.9})
    assert row["share"] == 0.0 and row["share_low"] == 0.0 and row["share_high"] > 0
    assert np.isnan(row["accuracy"])
    assert row["marginal_effect"] == 0.0
    assert row["note"] == NOTE_NOT_SEEN_DATASET


@pytest.mark.parametrize(
    ("effort", "order", "has_note"),
    [
        # ME: clean 0.006, people 0.006, car 0.0016, low bandwidth 0.
        (
            {"clean speech": 6.0, "car noise": 0.4, "people noise": 2.0, "low bandwidth": 1.0},
            ["car noise", "people noise", "clean speech", "low bandwidth"],
            [],
        ),
        (
            {"car noise": 4.0, "people noise": 1.0},
            ["people noise", "car noise", "clean speech", "low bandwidth"],
            ["clean speech", "low bandwidth"],
        ),
    ],
)
def test_rank_by_effort(book, effort, order, has_note):
    table = priority_table(
        book_evidence(book, "dataset", hlp=BOOK_HLP, effort=effort),
        by="effort",
    )
    assert list(table["tag"]) == order
    noted = [
        tag for tag, note in zip(table["tag"], table["note"], strict=True) if NOTE_NO_EFFORT in note
    ]
    assert noted == has_note
    row = by_tag(table).loc["people noise"]
    assert row["marginal_effect_per_effort"] == pytest.approx(0.006 / effort["people noise"])


def test_no_hlp_ranks_last_with_a_note(book):
    hlp = dict(BOOK_HLP)
    del hlp["clean speech"]
    table = priority_table(book_evidence(book, "dataset", hlp=hlp))
    last = table.iloc[-1]
    assert last["tag"] == "clean speech"
    assert last["hlp_source"] == "empty"
    assert last["note"] == NOTE_NO_HLP
    assert np.isnan(last["marginal_effect"]) and np.isnan(last["marginal_effect_high"])


def test_model_beating_people_has_negative_gap_and_zero_marginal_effect():
    row = noise_row(small([1, 1, 1, 0], [1, 1, 1, 1]), hlp={"noise": 0.5})
    assert row["gap"] == pytest.approx(-0.25)
    assert row["marginal_effect"] == 0.0
    assert "beats HLP" in row["note"]


def test_deterministic_and_independent_of_other_tags(book):
    examples, tags, reviewed = book
    kinds = dict.fromkeys(BOOK, "reviewed")
    first = priority_table(Evidence(examples, tags, kinds=kinds, reviewed=reviewed, hlp=BOOK_HLP))
    again = priority_table(Evidence(examples, tags, kinds=kinds, reviewed=reviewed, hlp=BOOK_HLP))
    pd.testing.assert_frame_equal(first, again)
    alone = priority_table(
        Evidence(examples, tags[["car noise"]], kinds=kinds, reviewed=reviewed, hlp=BOOK_HLP)
    )
    pd.testing.assert_series_equal(
        by_tag(alone).loc["car noise"].drop("rank"),
        by_tag(first).loc["car noise"].drop("rank"),
    )
    other_seed = priority_table(
        Evidence(examples, tags, kinds=kinds, reviewed=reviewed, hlp=BOOK_HLP), seed=1
    )
    assert not np.allclose(other_seed["share_low"], first["share_low"])


def test_inputs_are_not_modified(book):
    examples, tags, reviewed = book
    copies = examples.copy(), tags.copy(), reviewed.copy()
    kinds = dict.fromkeys(BOOK, "reviewed")
    hlp = dict(BOOK_HLP)
    priority_table(Evidence(examples, tags, kinds=kinds, reviewed=reviewed, hlp=hlp))
    error_shares(Evidence(examples, tags, kinds=kinds, reviewed=reviewed))
    tag_overlap(Evidence(examples, tags, kinds=kinds, reviewed=reviewed))
    pd.testing.assert_frame_equal(examples, copies[0])
    pd.testing.assert_frame_equal(tags, copies[1])
    pd.testing.assert_series_equal(reviewed, copies[2])
    assert hlp == BOOK_HLP and kinds == dict.fromkeys(BOOK, "reviewed")


def test_dataset_tag_interval_is_as_narrow_as_a_binomial_one(book):
    # The dataset is a sample of what the model will meet: the share's
    # interval is about the Jeffreys interval of tagged / all examples.
    table = by_tag(priority_table(book_evidence(book, "dataset")))
    for tag, (_, _, share) in BOOK.items():
        low, high = proportion_interval(round(share * N_EXAMPLES), N_EXAMPLES)
        width = table.loc[tag, "share_high"] - table.loc[tag, "share_low"]
        assert width == pytest.approx(high - low, rel=0.1)


def test_public_table_equals_the_estimator_on_counts():
    # The coverage simulation runs the estimator on counts; this ties it to
    # the public function on examples.
    rng = np.random.default_rng(5)
    n = 400
    correct = rng.random(n) < 0.8
    carries = rng.random(n) < np.where(correct, 0.1, 0.4)
    reviewed = ~correct | (rng.random(n) < 0.25)
    examples, tags, reviewed_series = small(correct, carries, reviewed)
    table = priority_table(
        Evidence(
            examples,
            tags,
            kinds={"noise": "reviewed"},
            reviewed=reviewed_series,
            hlp={"noise": 0.95},
        ),
        draws=1000,
        seed=3,
    ).iloc[0]
    seen = np.array([[np.sum(reviewed & ~correct)], [np.sum(reviewed & correct)]])
    tagged = np.array(
        [[np.sum(reviewed & ~correct & carries)], [np.sum(reviewed & correct & carries)]]
    )
    estimates = estimate(
        TagCounts.unweighted(
            size=np.array([np.sum(~correct), np.sum(correct)]), seen=seen, tagged=tagged
        ),
        hlp_set=np.array([0.95]),
        names=["noise"],
        draws=1000,
        seed=3,
    )
    for name in ("share", "accuracy", "marginal_effect"):
        assert table[name] == getattr(estimates, name)[0]
        assert table[f"{name}_low"] == estimates.intervals[name][0][0]
        assert table[f"{name}_high"] == estimates.intervals[name][1][0]


def test_empty_tags_frame_gives_empty_table(book):
    examples, _, reviewed = book
    table = priority_table(
        Evidence(examples, pd.DataFrame(index=examples.index), kinds={}, reviewed=reviewed)
    )
    assert list(table.columns) == COLUMNS and table.empty


@pytest.mark.parametrize(
    ("successes", "trials", "low", "high"),
    [
        (0, 10, 0.0, 0.30849710781876083),
        (1, 10, 0.0, 0.3813147710666164),
        (5, 10, 0.22352867025270523, 0.7764713297472947),
        (9, 10, 0.6186852289333836, 1.0),
        (10, 10, 0.6915028921812392, 1.0),
        (3, 100, 0.008520283107403583, 0.07788756942640256),
    ],
)
def test_proportion_interval(successes, trials, low, high):
    assert proportion_interval(successes, trials) == pytest.approx((low, high), abs=1e-12)


def test_proportion_interval_without_trials_is_nan():
    low, high = proportion_interval(0, 0)
    assert np.isnan(low) and np.isnan(high)


@pytest.mark.parametrize(
    ("kind", "tag", "errors", "denominator", "share"),
    [
        ("dataset", "low bandwidth", 1800, 2000, 0.9),
        ("dataset", "people noise", 390, 2000, 0.195),
        ("reviewed", "clean speech", 360, 2000, 0.18),
        ("reviewed", "car noise", 44, 2000, 0.022),
    ],
)
def test_error_shares(book, kind, tag, errors, denominator, share):
    table = error_shares(book_evidence(book, kind))
    assert list(table.columns) == ERROR_SHARE_COLUMNS
    assert list(table["tag"]) == ["low bandwidth", "people noise", "clean speech", "car noise"]
    row = by_tag(table).loc[tag]
    assert (row["errors"], row["reviewed_errors"]) == (errors, denominator)
    assert row["share_of_errors"] == pytest.approx(share)
    low, high = proportion_interval(errors, denominator)
    assert (row["share_of_errors_low"], row["share_of_errors_high"]) == pytest.approx((low, high))


def test_error_shares_without_reviewed_errors_is_insufficient():
    examples, tags, reviewed = small([0, 1, 1, 0], [1, 0, 1, 0], [0, 1, 1, 0])
    row = error_shares(
        Evidence(examples, tags, kinds={"noise": "reviewed"}, reviewed=reviewed)
    ).iloc[0]
    assert row["evidence"] == "insufficient"
    assert np.isnan(row["share_of_errors"]) and np.isnan(row["share_of_errors_low"])


def test_untagged_errors():
    examples, _, reviewed = small([0, 0, 0, 0, 1, 0], [0] * 6, [1, 1, 1, 0, 1, 1])
    tags = pd.DataFrame(
        {
            "a": [True, False, False, False, False, False],
            "b": [False, True, False, False, False, False],
        },
        index=examples.index,
    )
    result = untagged_errors(
        Evidence(examples, tags, kinds={"a": "dataset", "b": "reviewed"}, reviewed=reviewed)
    )
    assert list(result.index) == [2, 5]
    pd.testing.assert_frame_equal(result, examples.loc[[2, 5]])


OVERLAP_TAGS = pd.DataFrame(
    {
        "car": [1, 1, 1, 0, 0, 0],
        "people": [1, 0, 0, 1, 1, 0],
        "bandwidth": [1, 1, 0, 0, 1, 1],
    },
    dtype=bool,
)


@pytest.mark.parametrize(
    ("measure", "expected"),
    [
        ("count", [[3, 1, 2], [1, 3, 2], [2, 2, 4]]),
        ("jaccard", [[1, 1 / 5, 2 / 5], [1 / 5, 1, 2 / 5], [2 / 5, 2 / 5, 1]]),
    ],
)
def test_tag_overlap(measure, expected):
    examples = pd.DataFrame({"correct": [True, False] * 3})
    result = tag_overlap(
        Evidence(examples, OVERLAP_TAGS, kinds=dict.fromkeys(OVERLAP_TAGS, "dataset")),
        measure=measure,
    )
    names = list(OVERLAP_TAGS.columns)
    expected_frame = pd.DataFrame(
        expected, index=pd.Index(names, name="tag"), columns=pd.Index(names)
    )
    pd.testing.assert_frame_equal(result, expected_frame, check_dtype=False)


def test_tag_overlap_uses_reviewed_examples_for_reviewed_tags():
    examples = pd.DataFrame({"correct": [True, False] * 3})
    reviewed = pd.Series([True, True, True, True, False, False])
    kinds = {"car": "dataset", "people": "dataset", "bandwidth": "reviewed"}
    result = tag_overlap(Evidence(examples, OVERLAP_TAGS, kinds=kinds, reviewed=reviewed))
    assert result.loc["car", "people"] == 1  # both dataset tags: all examples
    assert result.loc["people", "bandwidth"] == 1  # only row 0 of the reviewed rows
    assert result.loc["bandwidth", "bandwidth"] == 2
    errors = tag_overlap(
        Evidence(examples, OVERLAP_TAGS, kinds=kinds, reviewed=reviewed), errors_only=True
    )
    assert errors.loc["car", "car"] == 1


def test_exclusive_shares():
    examples = pd.DataFrame({"correct": [True, False] * 3})
    result = exclusive_shares(
        Evidence(examples, OVERLAP_TAGS, kinds=dict.fromkeys(OVERLAP_TAGS, "dataset"))
    )
    expected = pd.DataFrame(
        {
            "tag": ["car", "people", "bandwidth"],
            "examples": [3, 3, 4],
            "exclusive": [1, 1, 1],
            "exclusive_share": [1 / 3, 1 / 3, 1 / 4],
        }
    )
    pd.testing.assert_frame_equal(result, expected)
