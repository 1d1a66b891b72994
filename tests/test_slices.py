"""Slice metrics: equal to scikit-learn on the same subsets, flags, corrections, warnings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import fisher_exact
from sklearn.dummy import DummyClassifier
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

from erroranalysis.evidence import Evidence
from erroranalysis.slices import (
    BASELINE_COLUMNS,
    SLICE_COLUMNS,
    _confusion,
    baselines,
    bonferroni_adjust,
    confusion,
    holm_adjust,
    metric_warnings,
    slice_table,
)
from erroranalysis.vocabulary import NOTE_REVIEWED_TAG_SLICE


def random_examples(
    n: int = 600, seed: int = 0, classes=("cat", "dog", "fox", "owl")
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    classes = np.array(classes)
    label = classes[rng.integers(0, len(classes), n)]
    noise = classes[rng.integers(0, len(classes), n)]
    prediction = np.where(rng.random(n) < 0.7, label, noise)
    return pd.DataFrame(
        {
            "label": label,
            "prediction": prediction,
            "correct": label == prediction,
            "region": np.array(["north", "south", "east", "west", "centre"])[rng.integers(0, 5, n)],
            "duration": rng.exponential(3.0, n),
        },
        index=pd.Index([f"ex{i}" for i in range(n)]),
    )


def random_tags(examples: pd.DataFrame, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = len(examples)
    return pd.DataFrame(
        {
            "car noise": rng.random(n) < 0.2,
            "people noise": rng.random(n) < 0.5,
            "=odd": rng.random(n) < 0.05,
            "nobody": np.zeros(n, bool),
        },
        index=examples.index,
    )


def subsets(evidence: Evidence, by: str) -> dict[str, np.ndarray]:
    if by == "tags":
        return {column: evidence.tags[column].to_numpy() for column in evidence.tags.columns}
    values = evidence.examples[by]
    return {value: (values == value).to_numpy() for value in values.unique()}


@pytest.mark.parametrize("positive", [None, "dog", "owl"])
@pytest.mark.parametrize("by", ["region", "tags"])
def test_metrics_equal_scikit_learn_on_each_subset(by, positive):
    examples = random_examples()
    evidence = Evidence(examples, random_tags(examples))
    table = slice_table(evidence, by=by, positive=positive).set_index("slice")
    assert list(table.reset_index().columns) == SLICE_COLUMNS + (
        ["evidence"] if by == "tags" else []
    )
    for name, mask in subsets(evidence, by).items():
        row = table.loc[name]
        y_true = examples["label"].to_numpy()[mask]
        y_pred = examples["prediction"].to_numpy()[mask]
        assert row["examples"] == mask.sum()
        if not mask.any():
            assert np.isnan(row["accuracy"]) and np.isnan(row["precision"])
            continue
        assert row["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred), abs=1e-12)
        if positive is None:
            expected = precision_recall_fscore_support(
                y_true, y_pred, average="macro", zero_division=0
            )
        else:
            expected = precision_recall_fscore_support(
                y_true == positive, y_pred == positive, average="binary", zero_division=0
            )
        assert (row["precision"], row["recall"], row["f1"]) == pytest.approx(
            expected[:3], abs=1e-12
        )


def test_binary_positive_class_matches_pos_label():
    examples = random_examples(classes=("no", "yes"))
    evidence = Evidence(examples)
    table = slice_table(evidence, by="region", positive="yes").set_index("slice")
    for name, mask in subsets(evidence, "region").items():
        expected = precision_recall_fscore_support(
            examples["label"][mask],
            examples["prediction"][mask],
            pos_label="yes",
            average="binary",
            zero_division=0,
        )
        assert tuple(table.loc[name, ["precision", "recall", "f1"]]) == pytest.approx(expected[:3])


def test_p_values_are_one_sided_fisher_tests_and_holm_adjusted():
    examples = random_examples()
    table = slice_table(Evidence(examples), by="region")
    correct = examples["correct"].to_numpy()
    for name, p_value in zip(table["slice"], table["p_value"], strict=True):
        mask = (examples["region"] == name).to_numpy()
        contingency = [
            [np.sum(correct & mask), np.sum(~correct & mask)],
            [np.sum(correct & ~mask), np.sum(~correct & ~mask)],
        ]
        expected = fisher_exact(contingency, alternative="less").pvalue
        assert p_value == pytest.approx(expected, rel=1e-9)
    np.testing.assert_allclose(table["p_adjusted"], holm_adjust(table["p_value"]))


def flagged_dataset() -> pd.DataFrame:
    # North: 60% accuracy over 200 examples; the four other regions: 90%.
    regions = ["north", "south", "east", "west", "centre"]
    rows = []
    for region in regions:
        right = 120 if region == "north" else 180
        rows += [(region, "a", "a")] * right + [(region, "a", "b")] * (200 - right)
    frame = pd.DataFrame(rows, columns=["region", "label", "prediction"])
    return frame.assign(correct=frame["label"] == frame["prediction"])


@pytest.mark.parametrize("correction", ["holm", "bonferroni"])
def test_slice_much_worse_than_the_rest_is_flagged(correction):
    table = slice_table(Evidence(flagged_dataset()), by="region", correction=correction)
    table = table.set_index("slice")
    assert table.index[table["flagged"]].tolist() == ["north"]
    assert table.loc["north", "accuracy"] == pytest.approx(0.6)
    assert table.loc["north", "accuracy_rest"] == pytest.approx(0.9)
    assert table.loc["north", "p_adjusted"] < 1e-10


def test_slice_better_than_the_rest_is_never_flagged():
    # Invert: north is now right 40% of the time, the other regions 10%.
    examples = flagged_dataset()
    examples["correct"] = ~examples["correct"]
    table = slice_table(Evidence(examples), by="region").set_index("slice")
    assert not table.loc["north", "flagged"]
    assert table.loc["north", "p_value"] == pytest.approx(1.0)
    assert table["flagged"].sum() == 4


@pytest.mark.parametrize(
    ("p_values", "holm", "bonferroni"),
    [
        ([0.01, 0.04, 0.03, 0.005], [0.03, 0.06, 0.06, 0.02], [0.04, 0.16, 0.12, 0.02]),
        ([0.5, np.nan, 0.01], [0.5, np.nan, 0.02], [1.0, np.nan, 0.02]),
        ([0.2, 0.2], [0.4, 0.4], [0.4, 0.4]),
        ([0.9, 0.8, 0.7], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0]),
        ([0.9, 0.3, 0.2], [0.9, 0.6, 0.6], [1.0, 0.9, 0.6]),
        ([], [], []),
    ],
)
def test_multiple_comparison_corrections(p_values, holm, bonferroni):
    np.testing.assert_allclose(holm_adjust(p_values), holm)
    np.testing.assert_allclose(bonferroni_adjust(p_values), bonferroni)


def test_holm_flags_what_a_single_test_would_not_after_correction():
    # Holm: the smallest p-value is compared with alpha / m.
    assert holm_adjust([0.02, 0.5, 0.5])[0] == pytest.approx(0.06)


@pytest.mark.parametrize(
    ("bins", "labels"),
    [
        (4, ["[0, 24.8]", "(24.8, 49.5]", "(49.5, 74.2]", "(74.2, 99]"]),
        (2, ["[0, 49.5]", "(49.5, 99]"]),
    ],
)
def test_numeric_columns_are_cut_into_quantile_bins(bins, labels):
    examples = pd.DataFrame(
        {"label": "a", "prediction": "a", "correct": True, "x": np.arange(100.0)}
    )
    table = slice_table(Evidence(examples), by="x", bins=bins)
    assert table["slice"].tolist() == labels
    assert table["examples"].sum() == 100


def test_missing_values_form_their_own_slice():
    examples = pd.DataFrame(
        {
            "label": ["a"] * 4,
            "prediction": ["a", "b", "a", "a"],
            "correct": [True, False, True, True],
            "speaker": ["ann", None, "bob", None],
        }
    )
    table = slice_table(Evidence(examples), by="speaker").set_index("slice")
    assert table.index.tolist() == ["ann", "bob", "(missing)"]
    assert table.loc["(missing)", "examples"] == 2
    assert table.loc["(missing)", "accuracy"] == 0.5


def test_column_with_few_numbers_is_categorical():
    examples = pd.DataFrame(
        {"label": "a", "prediction": "a", "correct": True, "rating": [1, 2, 2, 3, 3, 3]}
    )
    table = slice_table(Evidence(examples), by="rating", bins=5)
    assert table["slice"].tolist() == ["1", "2", "3"]
    assert table["examples"].tolist() == [1, 2, 3]


def test_date_columns_are_binned_with_readable_labels():
    examples = pd.DataFrame(
        {
            "label": "a",
            "prediction": "a",
            "correct": True,
            "recorded": pd.date_range("2024-01-01", periods=40, freq="D"),
        }
    )
    table = slice_table(Evidence(examples), by="recorded", bins=2)
    assert table["slice"].tolist() == [
        "[2024-01-01 00:00:00, 2024-01-20 12:00:00]",
        "(2024-01-20 12:00:00, 2024-02-09 00:00:00]",
    ]
    assert table["examples"].tolist() == [20, 20]


def test_column_with_too_many_values_is_refused():
    examples = random_examples(n=300)
    evidence = Evidence(examples.assign(clip=examples.index))
    with pytest.raises(ValueError, match="has 300 values, more than max_slices=100"):
        slice_table(evidence, by="clip")
    assert len(slice_table(evidence, by="clip", max_slices=300)) == 300


def test_many_classes_match_scikit_learn():
    # 3,000 classes: 9 million (label, prediction) pairs, counted sparsely.
    rng = np.random.default_rng(4)
    n = 5000
    label = rng.integers(0, 3000, n).astype(str)
    prediction = np.where(rng.random(n) < 0.5, label, rng.integers(0, 3000, n).astype(str))
    examples = pd.DataFrame(
        {"label": label, "prediction": prediction, "group": rng.integers(0, 3, n)}
    ).assign(correct=lambda f: f["label"] == f["prediction"])
    tags = pd.DataFrame({"odd": examples["group"] == 1}, index=examples.index)
    for by in ("group", "tags"):
        table = slice_table(Evidence(examples, tags), by=by)
        first = (examples["group"] == 0) if by == "group" else tags["odd"]
        expected = precision_recall_fscore_support(
            label[first], prediction[first], average="macro", zero_division=0
        )
        assert tuple(table.loc[0, ["precision", "recall", "f1"]]) == pytest.approx(expected[:3])


def test_baseline_and_hlp_columns():
    examples = pd.DataFrame(
        {
            "label": ["a", "a", "a", "b", "b", "a"],
            "prediction": ["a", "b", "a", "b", "a", "a"],
            "human_label": pd.array(["a", "a", None, "a", None, None], dtype=object),
        }
    ).assign(correct=lambda f: f["label"] == f["prediction"])
    groups = pd.DataFrame({"x": [True] * 3 + [False] * 3, "y": [False] * 3 + [True] * 3})
    table = slice_table(Evidence(examples, groups, hlp={"y": 0.9}), by="tags")
    table = table.set_index("slice")
    # The most frequent label overall is "a": 3 of 3 in x, 1 of 3 in y.
    assert table.loc["x", "baseline_accuracy"] == 1.0
    assert table.loc["y", "baseline_accuracy"] == pytest.approx(1 / 3)
    assert (table.loc["x", "hlp"], table.loc["x", "hlp_source"]) == (1.0, "measured")
    assert (table.loc["y", "hlp"], table.loc["y", "hlp_source"]) == (0.9, "set")


def test_baselines():
    examples = pd.DataFrame(
        {
            "label": ["a", "a", "a", "b"],
            "prediction": ["a", "a", "b", "b"],
            "human_label": pd.array(["a", "b", None, "b"], dtype=object),
        }
    ).assign(correct=lambda f: f["label"] == f["prediction"])
    table = baselines(Evidence(examples))
    assert list(table.columns) == BASELINE_COLUMNS
    assert table["baseline"].tolist() == ["model", "most frequent class", "HLP"]
    assert table["accuracy"].tolist() == pytest.approx([0.75, 0.75, 2 / 3])
    assert table["note"].iloc[1] == "always predicting 'a'"
    assert baselines(Evidence(examples), hlp=0.97)["accuracy"].iloc[2] == 0.97


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["b", "a", "c", "10", "9"]), min_size=1, max_size=30))
def test_the_most_frequent_class_is_the_one_scikit_learn_picks(labels):
    examples = pd.DataFrame({"label": labels, "prediction": labels[::-1]})
    examples["correct"] = examples["label"] == examples["prediction"]
    dummy = DummyClassifier(strategy="most_frequent").fit(np.zeros((len(labels), 1)), labels)
    picked = str(dummy.predict(np.zeros((1, 1)))[0])
    row = baselines(Evidence(examples)).set_index("baseline").loc["most frequent class"]
    assert row["note"] == f"always predicting {picked!r}"
    assert row["accuracy"] == pytest.approx(labels.count(picked) / len(labels))


@pytest.mark.parametrize("use_mask", [False, True])
def test_confusion_equals_scikit_learn(use_mask):
    examples = random_examples()
    north = pd.DataFrame({"north": examples["region"] == "north"})
    result = confusion(Evidence(examples, north), tag="north" if use_mask else None)
    subset = examples[north["north"]] if use_mask else examples
    classes = ["cat", "dog", "fox", "owl"]
    expected = confusion_matrix(subset["label"], subset["prediction"], labels=classes)
    np.testing.assert_array_equal(result.to_numpy(), expected)
    assert result.index.tolist() == classes and result.columns.tolist() == classes
    assert (result.index.name, result.columns.name) == ("label", "prediction")


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["b", "a", "10", "9"]), st.sampled_from(["a", "9", "c"])),
        min_size=1,
        max_size=30,
    )
)
def test_confusion_axes_are_every_value_of_the_run_as_text(pairs):
    examples = pd.DataFrame(pairs, columns=["label", "prediction"])
    examples["correct"] = examples["label"] == examples["prediction"]
    every = set(examples["label"].astype(str)) | set(examples["prediction"].astype(str))
    result = confusion(Evidence(examples))
    assert result.index.tolist() == result.columns.tolist() == sorted(every)


def test_confusion_with_chosen_labels():
    examples = random_examples()
    result = _confusion(examples, None, ["owl", "cat", "zebra"])
    expected = confusion_matrix(
        examples["label"], examples["prediction"], labels=["owl", "cat", "zebra"]
    )
    np.testing.assert_array_equal(result.to_numpy(), expected)


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        (["a"] * 90 + ["b"] * 10, ["makes up 90.0%", "Label 'b' is rare (10 examples, 10.0%)"]),
        (["a"] * 50 + ["b"] * 50, []),
        (["a"] * 500 + ["b"] * 480 + ["c"] * 20, ["Label 'c' is rare (20 examples, 2.0%)"]),
        (["a"] * 10, []),
    ],
)
def test_metric_warnings(labels, expected):
    examples = pd.DataFrame({"label": labels, "prediction": labels, "correct": True})
    messages = metric_warnings(Evidence(examples))
    assert len(messages) == len(expected)
    for message, fragment in zip(messages, expected, strict=True):
        assert fragment in message


def test_positive_class_the_reviewed_examples_lack_scores_zero_on_reviewed_tags():
    # Reviewers saw only cats; owl is a class of the run all the same.
    examples = pd.DataFrame(
        {
            "label": ["cat", "cat", "cat", "owl", "owl", "owl"],
            "prediction": ["cat", "dog", "cat", "owl", "cat", "owl"],
        }
    ).assign(correct=lambda f: f["label"] == f["prediction"])
    tags = pd.DataFrame({"muffled": [True, True, False, False, False, False]})
    reviewed = pd.Series([True, True, True, False, False, False])
    evidence = Evidence(examples, tags, kinds={"muffled": "reviewed"}, reviewed=reviewed)
    row = slice_table(evidence, by="tags", positive="owl").iloc[0]
    assert (row["slice"], row["examples"], row["evidence"]) == (
        "muffled",
        2,
        NOTE_REVIEWED_TAG_SLICE,
    )
    assert (row["precision"], row["recall"], row["f1"]) == (0.0, 0.0, 0.0)


def test_input_is_not_modified():
    examples = random_examples()
    tags = random_tags(examples)
    copies = examples.copy(), tags.copy()
    evidence = Evidence(examples, tags)
    slice_table(evidence, by="tags")
    slice_table(evidence, by="duration")
    pd.testing.assert_frame_equal(examples, copies[0])
    pd.testing.assert_frame_equal(tags, copies[1])
