"""Estimators in two steps, counts then statistics: equal to brute-force oracles computed
from the definitions (tests/oracles.py) on random evidence, exactly, and literal counts ->
numbers."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import oracles
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from erroranalysis.compare import compare_from_counts, compare_runs
from erroranalysis.compare_counts import CompareCounts
from erroranalysis.drift import DriftCounts, drift_from_counts, drift_table
from erroranalysis.evidence import Evidence
from erroranalysis.slice_counts import LabelCounts, SliceCounts, label_counts, slice_counts
from erroranalysis.slices import baselines, baselines_from_counts, slice_table, slices_from_counts
from erroranalysis.vocabulary import NOTE_REVIEWED_TAG_SLICE

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KINDS = ("dataset", "rule", "reviewed")


@st.composite
def evidences(draw, *, weighted: bool = False, prefix: str = "ex") -> Evidence:
    """Random evidence: few or one class, random correctness, tags of every kind (some
    empty), reviews, human labels with gaps, HLPs set for some tags, metadata with NaN."""
    n = draw(st.integers(0, 30))
    classes = draw(st.sampled_from([("a",), ("a", "b"), ("a", "b", "c")]))
    rows = st.lists(st.sampled_from(classes), min_size=n, max_size=n)
    label, prediction = draw(rows), draw(rows)
    flags = st.lists(st.booleans(), min_size=n, max_size=n)
    index = pd.Index([f"{prefix}{i}" for i in range(n)])
    examples = pd.DataFrame(
        {
            "label": label,
            "prediction": prediction,
            # Usually label == prediction; sometimes a correctness of its own.
            "correct": draw(flags) if draw(st.booleans()) else np.equal(label, prediction),
            "region": draw(st.lists(st.sampled_from(["n", "s", None]), min_size=n, max_size=n)),
            "score": draw(
                st.lists(
                    st.one_of(st.floats(0, 10, width=16), st.just(np.nan)),
                    min_size=n,
                    max_size=n,
                )
            ),
        },
        index=index,
    ).astype({"correct": bool, "score": float})
    if draw(st.booleans()):
        humans = draw(st.lists(st.sampled_from([*classes, None]), min_size=n, max_size=n))
        examples["human_label"] = pd.Series(humans, index=index, dtype=object)
    n_tags = draw(st.integers(0, 4))
    names = [f"t{j}" for j in range(n_tags)]
    tags = pd.DataFrame({name: draw(flags) for name in names}, index=index, dtype=bool)
    kinds = {name: draw(st.sampled_from(KINDS)) for name in names}
    reviewed = pd.Series(draw(flags), index=index, dtype=bool, name="reviewed")
    hlp = {name: draw(st.sampled_from([0.5, 0.9])) for name in names if draw(st.booleans())}
    weights = None
    if weighted and draw(st.booleans()):
        values = draw(st.lists(st.sampled_from([1.0, 2.0, 3.5]), min_size=n, max_size=n))
        weights = pd.Series(values, index=index, dtype=float).where(reviewed)
    return Evidence(examples, tags, kinds=kinds, reviewed=reviewed, hlp=hlp, weights=weights)


def _both(new, old, evidence: Evidence, **options) -> tuple:
    """(new table, old table), or (None, None) where the old one refuses the input with a
    ValueError and the new one refuses it with the same message."""
    try:
        expected = old(evidence, **options)
    except ValueError as err:
        with pytest.raises(ValueError, match=re.escape(str(err))):
            new(evidence, **options)
        return None, None
    return new(evidence, **options), expected


# --------------------------------------------------------------------------- slices


@SETTINGS
@given(
    evidences(),
    st.sampled_from(["tags", "region", "score", "label"]),
    st.sampled_from([None, "a"]),
    st.sampled_from(["holm", "bonferroni"]),
    st.sampled_from([2, 3]),
)
def test_slice_table_equals_the_brute_force_one(evidence, by, positive, correction, bins):
    if positive is not None and not len(evidence.examples):
        positive = None
    if positive is not None and not (
        (evidence.examples["label"] == positive).any()
        or (evidence.examples["prediction"] == positive).any()
    ):
        positive = None
    options = {"by": by, "positive": positive, "correction": correction, "bins": bins}
    pd.testing.assert_frame_equal(
        slice_table(evidence, **options),
        oracles.slice_table(evidence, **options),
        check_exact=True,
    )


@SETTINGS
@given(evidences(), st.sampled_from([None, 0.8]))
def test_baselines_equal_the_brute_force_ones(evidence, hlp):
    pd.testing.assert_frame_equal(
        baselines(evidence, hlp=hlp),
        oracles.baselines(evidence, hlp=hlp),
        check_exact=True,
    )


def _slices(cells, *, names=("x", "y"), base=(0, 0), evidence=(None,), hlp=None, bases=None):
    """SliceCounts of classes a, b from cells (slice, label, prediction, correct, human,
    count); one base of the cells' totals unless given."""
    cells = np.array(cells, dtype=np.int64).reshape(-1, 6)
    if bases is None:
        labels = np.bincount(cells[:, 1], weights=cells[:, 5], minlength=2)
        bases = [(int(cells[:, 5].sum()), int(cells[cells[:, 3] == 1, 5].sum()), labels)]
    return SliceCounts(
        classes=np.array(["a", "b"], dtype=object),
        names=tuple(names),
        base=np.array(base, dtype=np.int64),
        cell_slice=cells[:, 0],
        cell_label=cells[:, 1],
        cell_prediction=cells[:, 2],
        cell_correct=cells[:, 3].astype(bool),
        cell_human=cells[:, 4],
        cell_count=cells[:, 5],
        base_examples=np.array([b[0] for b in bases], dtype=np.int64),
        base_correct=np.array([b[1] for b in bases], dtype=np.int64),
        base_labels=np.array([b[2] for b in bases], dtype=np.int64).reshape(len(bases), 2),
        evidence=evidence,
        hlp=hlp or {},
    )


# Slice x: 6 examples (a->a x3 correct, 1 with an agreeing human label; a->b x1; b->b x2
# correct, one with a disagreeing human label). Slice y: 4 examples (b->a x4, wrong).
TWO_SLICES = [
    (0, 0, 0, 1, 0, 2),
    (0, 0, 0, 1, 1, 1),
    (0, 0, 1, 0, 0, 1),
    (0, 1, 1, 1, 0, 1),
    (0, 1, 1, 1, 2, 1),
    (1, 1, 0, 0, 0, 4),
]


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        ("examples", [6, 4]),
        ("share", [0.6, 0.4]),
        ("accuracy", [5 / 6, 0.0]),
        # macro over the classes present: a (precision 1, recall 3/4), b (2/3, 1)
        ("precision", [(1 + 2 / 3) / 2, 0.0]),
        ("recall", [(3 / 4 + 1) / 2, 0.0]),
        # the labels are 4 a and 6 b: always predicting b
        ("baseline_accuracy", [2 / 6, 1.0]),
        ("hlp", [1 / 2, np.nan]),
        ("accuracy_rest", [0.0, 5 / 6]),
    ],
)
def test_slices_from_literal_counts(column, expected):
    table = slices_from_counts(_slices(TWO_SLICES))
    np.testing.assert_allclose(table[column].to_numpy(dtype=float), expected, rtol=1e-15)
    assert table["slice"].tolist() == ["x", "y"]
    assert table["hlp_source"].tolist() == ["measured", "empty"]


def test_slices_from_counts_fisher_test_and_flags():
    table = slices_from_counts(_slices(TWO_SLICES), alpha=0.05)
    # Slice y: 0 of its 4 correct when the run has 5 of 10: C(5,4) / C(10,4) = 5/210.
    assert table["p_value"].tolist() == pytest.approx([1.0, 5 / 210], rel=1e-12)
    assert table["p_adjusted"].tolist() == pytest.approx([1.0, 10 / 210], rel=1e-12)
    assert table["flagged"].tolist() == [False, True]


def test_slices_from_counts_positive_class_and_set_hlp():
    table = slices_from_counts(_slices(TWO_SLICES, hlp={"y": 0.75}), positive="b")
    # Slice x, class b: predicted 3 times, 2 of them b; both labelled b found.
    assert table[["precision", "recall", "f1"]].iloc[0].tolist() == [2 / 3, 1.0, 0.8]
    assert table[["hlp", "hlp_source"]].iloc[1].tolist() == [0.75, "set"]


def test_slices_from_counts_bases_are_adjusted_apart_and_say_their_evidence():
    bases = [(10, 5, [4, 6]), (4, 0, [0, 4])]
    counts = _slices(
        TWO_SLICES, base=(0, 1), evidence=("dataset", NOTE_REVIEWED_TAG_SLICE), bases=bases
    )
    table = slices_from_counts(counts)
    assert table["evidence"].tolist() == ["dataset", NOTE_REVIEWED_TAG_SLICE]
    # y is all of its base: no rest to compare with.
    assert table["share"].tolist() == [0.6, 1.0]
    assert np.isnan(table["p_value"].iloc[1])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"alpha": 2.0}, "alpha must be between 0 and 1"),
        ({"correction": "sidak"}, "correction must be one of"),
        ({"positive": "z"}, "positive class 'z' is neither a label nor a prediction"),
    ],
)
def test_slices_from_counts_rejects_bad_options(options, message):
    with pytest.raises(ValueError, match=message):
        slices_from_counts(_slices(TWO_SLICES), **options)


def test_slices_from_counts_rejects_what_is_not_counts():
    with pytest.raises(ValueError, match="counts must be SliceCounts, got DataFrame"):
        slices_from_counts(pd.DataFrame())


def test_slice_counts_of_a_column_are_the_cells():
    examples = pd.DataFrame(
        {
            "label": ["a", "a", "b", "b"],
            "prediction": ["a", "b", "b", "b"],
            "correct": [True, False, True, True],
            "region": ["n", "n", "s", "n"],
        }
    )
    from erroranalysis.evidence import check_evidence

    evidence = Evidence(examples)
    counts = slice_counts(examples, check_evidence(evidence), by="region", bins=5, max_slices=100)
    assert counts.names == ("n", "s")
    cells = np.c_[
        counts.cell_slice,
        counts.cell_label,
        counts.cell_prediction,
        counts.cell_correct,
        counts.cell_human,
        counts.cell_count,
    ]
    assert cells.tolist() == [
        [0, 0, 0, 1, 0, 1],
        [0, 0, 1, 0, 0, 1],
        [0, 1, 1, 1, 0, 1],
        [1, 1, 1, 1, 0, 1],
    ]
    assert counts.base_labels.tolist() == [[2, 2]]
    assert (counts.base_examples.tolist(), counts.base_correct.tolist()) == ([4], [3])


@pytest.mark.parametrize(
    ("counts", "hlp", "expected"),
    [
        (LabelCounts(np.array(["a", "b"]), np.array([1, 3]), 4, 3, 2, 1), None, [0.75, 0.75, 0.5]),
        (LabelCounts(np.array(["a", "b"]), np.array([2, 2]), 4, 1, 0, 0), 0.9, [0.25, 0.5, 0.9]),
        (LabelCounts(np.array([]), np.array([], np.int64), 0, 0, 0, 0), None, [np.nan] * 3),
    ],
)
def test_baselines_from_literal_counts(counts, hlp, expected):
    table = baselines_from_counts(counts, hlp=hlp)
    np.testing.assert_array_equal(table["accuracy"].to_numpy(), expected)


def test_label_counts_count_the_labels():
    examples = pd.DataFrame(
        {
            "label": ["b", "a", "b"],
            "prediction": ["b", "c", "a"],
            "correct": [True, False, False],
            "human_label": ["b", None, "a"],
        }
    )
    from erroranalysis.evidence import check_evidence

    counts = label_counts(examples, check_evidence(Evidence(examples)))
    assert counts.classes.tolist() == ["a", "b", "c"]
    assert counts.labels.tolist() == [1, 2, 0]
    assert (counts.examples, counts.correct, counts.labelled, counts.agreeing) == (3, 1, 2, 1)


# --------------------------------------------------------------------------- compare

# The design-weighted columns: the linearised variance is summed per review by the oracle
# and expanded from Σw·t and Σw²·t from counts, equal up to rounding.
DRAWN = ["difference_low", "difference_high", "p_value", "p_adjusted"]


def _runs_of(evidence: Evidence, other: Evidence) -> tuple[Evidence, Evidence]:
    """Run B (``evidence``) and run A: ``other``'s correctness and tags on B's ids, some
    left out, others shuffled, so that the pairing by id has work to do."""
    a = other.examples.copy()
    shared = list(evidence.examples.index[: len(a)])
    a.index = pd.Index(shared + [f"extra{i}" for i in range(len(a) - len(shared))])
    tags = other.tags.set_axis(a.index)
    kinds = dict(other.kinds)
    run_a = Evidence(a[::-1], tags[::-1], kinds=kinds, run="A")
    return dataclasses.replace(evidence, run="B"), run_a


@SETTINGS
@given(evidences(weighted=True), evidences(), st.sampled_from([0.9, 0.95]))
def test_compare_runs_equals_the_brute_force_one(evidence, other, level):
    run_b, run_a = _runs_of(evidence, other)
    options = {"baseline": run_a, "level": level, "draws": 200, "seed": 1}
    table, expected = _both(compare_runs, oracles.compare_runs, run_b, **options)
    if table is None:
        return
    exact = [c for c in table.columns if c not in DRAWN]
    reviewed = (table["evidence"] == "reviewed").to_numpy()
    pd.testing.assert_frame_equal(table[exact], expected[exact], check_exact=True)
    pd.testing.assert_frame_equal(
        table.loc[~reviewed, DRAWN], expected.loc[~reviewed, DRAWN], check_exact=True
    )
    pd.testing.assert_frame_equal(
        table.loc[reviewed, DRAWN], expected.loc[reviewed, DRAWN], rtol=1e-9
    )


def _compare(tagged, *, cell_size, exact=None, reviews=None, w=None, wt=None, w2t=None):
    """CompareCounts of tags t0, t1... from literal per-cell arrays (unweighted unless
    given)."""
    tagged = np.array(tagged, dtype=np.int64).reshape(4, -1)
    k = tagged.shape[1]
    reviews = np.zeros(4, np.int64) if reviews is None else np.array(reviews, np.int64)
    w = reviews.astype(float) if w is None else np.array(w, dtype=float)
    return CompareCounts(
        names=tuple(f"t{j}" for j in range(k)),
        kinds=tuple("dataset" if e else "reviewed" for e in (exact or [True] * k)),
        exact=np.array(exact or [True] * k, dtype=bool),
        cell_size=np.array(cell_size, dtype=np.int64),
        paired=int(np.sum(cell_size)),
        only_a=0,
        only_b=0,
        tagged=tagged,
        reviews=reviews,
        w=w,
        w2=w.copy(),
        wt=tagged.astype(float) if wt is None else np.array(wt, dtype=float),
        w2t=tagged.astype(float) if w2t is None else np.array(w2t, dtype=float),
    )


@pytest.mark.parametrize(
    ("tagged", "expected"),
    [
        # cells: both wrong, only B right, only A right, both right
        ([1, 2, 0, 3], {"examples": 6, "accuracy_a": 0.5, "accuracy_b": 5 / 6,
                        "difference": 2 / 6, "only_a_correct": 0, "only_b_correct": 2,
                        "p_value": 0.5}),
        ([0, 0, 4, 0], {"examples": 4, "accuracy_a": 1.0, "accuracy_b": 0.0,
                        "difference": -1.0, "only_a_correct": 4, "only_b_correct": 0,
                        "p_value": 0.125}),
    ],
)  # fmt: skip
def test_compare_from_literal_counts_of_a_dataset_tag(tagged, expected):
    counts = _compare(np.array(tagged)[:, None], cell_size=[1, 2, 4, 3])
    table = compare_from_counts(counts, draws=200).set_index("tag")
    row = table.loc["t0"]
    assert {name: row[name] for name in expected} == expected
    assert (row["evidence"], row["test"]) == ("dataset", "McNemar exact")
    # The whole dataset: 2 only B right, 4 only A right of 10.
    whole = table.loc["(all examples)"]
    assert (whole["examples"], whole["difference"]) == (10, -2 / 10)


def test_compare_from_literal_counts_of_a_reviewed_tag():
    # Reviews of weight 1 in each cell: 2, 2, 2, 2; the tag on 1, 2, 0, 1 of them.
    counts = _compare(
        [[1], [2], [0], [1]], cell_size=[10, 10, 10, 10], exact=[False], reviews=[2, 2, 2, 2]
    )
    row = compare_from_counts(counts, draws=400).set_index("tag").loc["t0"]
    # Rates 1/2, 1, 0, 1/2 on cells of 10: 5 + 10 + 0 + 5 = 20 tagged; A right on 0 + 5.
    assert (row["accuracy_a"], row["accuracy_b"], row["difference"]) == (0.25, 0.75, 0.5)
    assert (row["examples"], row["only_a_correct"], row["only_b_correct"]) == (4, 0, 2)
    assert row["evidence"] == "reviewed"
    assert row["difference_low"] < 0.5 < row["difference_high"]


def test_compare_from_counts_says_which_cell_lacks_reviews():
    counts = _compare(
        [[1], [0], [0], [1]], cell_size=[10, 10, 0, 10], exact=[False], reviews=[2, 0, 0, 2]
    )
    row = compare_from_counts(counts, draws=200).set_index("tag").loc["t0"]
    assert row["evidence"] == "insufficient"
    assert row["note"].startswith("no reviewed example wrong in A and correct in B: review")
    assert np.isnan(row["difference"])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"level": 1.5}, "level must be between 0 and 1"),
        ({"draws": 10}, "draws must be an integer of at least 100"),
    ],
)
def test_compare_from_counts_rejects_bad_options(options, message):
    with pytest.raises(ValueError, match=message):
        compare_from_counts(_compare([[1], [0], [0], [1]], cell_size=[1, 0, 0, 1]), **options)
    with pytest.raises(ValueError, match="counts must be CompareCounts, got dict"):
        compare_from_counts({})


# --------------------------------------------------------------------------- drift


def _production(other: Evidence) -> Evidence:
    """A production sample: ``other``'s examples without labels, its tags as they are."""
    examples = other.examples.drop(columns=["label", "correct", "human_label"], errors="ignore")
    return Evidence(examples, other.tags, kinds=dict(other.kinds), dataset="prod")


@SETTINGS
@given(
    evidences(),
    evidences(prefix="p"),
    st.sampled_from([None, "region", "prediction", "score"]),
    st.sampled_from([0.9, 0.95]),
)
def test_drift_table_equals_the_brute_force_one(evidence, other, by, level):
    options = {"against": _production(other), "by": by, "level": level, "draws": 100}
    table, expected = _both(drift_table, oracles.drift_table, evidence, **options)
    if table is not None:
        pd.testing.assert_frame_equal(table, expected, check_exact=True)


def _drift(dev, correct, against, *, by=None, hlp=None, totals=(10, 6, 20)):
    return DriftCounts(
        by=by,
        names=tuple(f"t{j}" for j in range(len(dev))) if by is None else tuple(range(len(dev))),
        kinds=("dataset",) * len(dev) if by is None else (),
        dev=np.array(dev, dtype=np.int64),
        correct=np.array(correct, dtype=np.int64),
        against=np.array(against, dtype=np.int64),
        dev_examples=totals[0],
        dev_correct=totals[1],
        against_examples=totals[2],
        hlp=np.full(len(dev), np.nan) if hlp is None else np.array(hlp, dtype=float),
    )


@pytest.mark.parametrize(
    ("dev", "correct", "against", "hlp", "expected"),
    [
        # 4 of 10 dev examples (1 correct), 10 of 20 in production; the rest: 5 of 6 right.
        ([4], [1], [10], [0.75], {"share_dev": 0.4, "share_against": 0.5, "shift": 0.1,
         "accuracy_dev": 0.25, "projected_accuracy": 0.5 * 0.25 + 0.5 * 5 / 6,
         "marginal_effect_dev": 0.5 * 0.4, "marginal_effect_against": 0.5 * 0.5}),
        ([0], [0], [3], [np.nan], {"share_dev": 0.0, "share_against": 0.15,
         "accuracy_dev": np.nan, "projected_accuracy": np.nan,
         "note": "in production only: dev has no accuracy for it, so no projection"}),
    ],
)  # fmt: skip
def test_drift_from_literal_counts_of_a_tag(dev, correct, against, hlp, expected):
    row = drift_from_counts(_drift(dev, correct, against, hlp=hlp), draws=200).iloc[0]
    assert {name: row[name] for name in expected} == pytest.approx(expected, nan_ok=True)


def test_drift_from_literal_counts_of_a_column():
    # Values 0 and 1: dev 6 (5 right) and 4 (1 right); production 5 and 15.
    table = drift_from_counts(_drift([6, 4], [5, 1], [5, 15], by="x"), draws=200)
    assert table["tag"].tolist() == ["x == 0", "x == 1"]
    assert table["examples_against"].tolist() == [5, 15]
    assert table["projected_accuracy"].tolist() == pytest.approx([0.25 * 5 / 6 + 0.75 / 4] * 2)
    # The Fisher test of 6/10 against 5/20 and Holm over the two rows.
    assert table["p_adjusted"].tolist() == pytest.approx([2 * table["p_value"].iloc[0]] * 2)


def test_drift_from_counts_rejects_bad_options():
    with pytest.raises(ValueError, match="draws must be an integer of at least 100"):
        drift_from_counts(_drift([4], [1], [10]), draws=5)
    with pytest.raises(ValueError, match="counts must be DriftCounts, got tuple"):
        drift_from_counts(())
