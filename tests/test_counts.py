"""The sufficient statistics: counts and design-weight sums per stratum of the run
estimated and tag, from one aggregation of the evidence."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from erroranalysis.counts import Proportion, TagCounts, count_tags, tag_counts
from erroranalysis.evidence import Evidence, check_evidence

NAN = np.nan

# Eight examples: three errors, five correct predictions; "noise" is a reviewed tag,
# "clip" a dataset tag; two correct predictions are not reviewed (weight NaN).
CORRECT = [0, 0, 0, 1, 1, 1, 1, 1]
NOISE = [1, 0, 1, 1, 0, 0, 1, 0]
CLIP = [1, 1, 0, 0, 0, 0, 0, 1]
REVIEWED = [1, 1, 1, 1, 1, 0, 1, 0]
WEIGHTS = [2.0, 2.0, 4.0, 1.0, 3.0, NAN, 2.0, NAN]
HUMAN = ["a", None, "b", "a", None, None, "a", "b"]


def evidence(weights=WEIGHTS, reviewed=REVIEWED, **changes) -> Evidence:
    index = pd.Index([f"e{i}" for i in range(len(CORRECT))], name="id")
    examples = pd.DataFrame(
        {
            "correct": np.array(CORRECT, bool),
            "label": "a",
            "human_label": pd.array(HUMAN, dtype=object),
        },
        index=index,
    )
    tags = pd.DataFrame({"noise": np.array(NOISE, bool), "clip": np.array(CLIP, bool)}, index)
    fields = {
        "kinds": {"noise": "reviewed", "clip": "dataset"},
        "reviewed": pd.Series(np.array(reviewed, bool), index=index),
        "weights": weights
        if weights is None or isinstance(weights, pd.Series)
        else pd.Series(weights, index=index, dtype=float),
    }
    return Evidence(examples, tags, **(fields | changes))


# (field, tag, errors, correct): the sums by hand from the table above.
EXPECTED = [
    ("n", "noise", 3, 3),
    ("x", "noise", 2, 2),
    ("w", "noise", 8.0, 6.0),
    ("w2", "noise", 24.0, 14.0),
    ("wx", "noise", 6.0, 3.0),
    ("w2x", "noise", 20.0, 5.0),
    ("equal", "noise", False, False),
    # The dataset tag is counted over every example, with weight 1.
    ("n", "clip", 3, 5),
    ("x", "clip", 2, 1),
    ("w", "clip", 3.0, 5.0),
    ("w2", "clip", 3.0, 5.0),
    ("wx", "clip", 2.0, 1.0),
    ("w2x", "clip", 2.0, 1.0),
    ("equal", "clip", True, True),
]
# Agreement: over the tagged examples with a human label (e0 agrees, e2 does not; e3 and
# e6 agree; e7 carries clip, is correct and disagrees).
EXPECTED_AGREEMENT = [
    ("n", "noise", 2, 2),
    ("x", "noise", 1, 2),
    ("w", "noise", 6.0, 3.0),
    ("w2", "noise", 20.0, 5.0),
    ("wx", "noise", 2.0, 3.0),
    ("w2x", "noise", 4.0, 5.0),
    ("n", "clip", 1, 1),
    ("x", "clip", 1, 0),
    ("w", "clip", 1.0, 1.0),
    ("wx", "clip", 1.0, 0.0),
]
COLUMN = {"noise": 0, "clip": 1}


@pytest.mark.parametrize(("name", "tag", "errors", "correct"), EXPECTED)
def test_tag_sums(name, tag, errors, correct):
    counts = tag_counts(evidence())
    assert counts.size.tolist() == [3, 5]
    assert getattr(counts.tag, name)[:, COLUMN[tag]].tolist() == [errors, correct]


@pytest.mark.parametrize(("name", "tag", "errors", "correct"), EXPECTED_AGREEMENT)
def test_agreement_sums(name, tag, errors, correct):
    counts = tag_counts(evidence())
    assert getattr(counts.agreement, name)[:, COLUMN[tag]].tolist() == [errors, correct]


def test_without_weights_every_weight_is_one():
    counts = tag_counts(evidence(weights=None))
    for proportion in (counts.tag, counts.agreement):
        expected = Proportion.unweighted(proportion.n, proportion.x)
        for name in ("w", "w2", "wx", "w2x", "equal"):
            assert np.array_equal(getattr(proportion, name), getattr(expected, name)), name
    assert counts.tag.n[:, 0].tolist() == [3, 3]


def test_equal_weights_within_a_stratum_are_marked_equal():
    weights = [1.5, 1.5, 1.5, 5 / 3, 5 / 3, NAN, 5 / 3, NAN]
    counts = tag_counts(evidence(weights=weights))
    assert counts.tag.equal[:, 0].tolist() == [True, True]
    assert counts.tag.w[:, 0] == pytest.approx([4.5, 5.0])


def matrix_evidence(
    columns: dict, matrix: np.ndarray, kinds: list[str], reviewed: np.ndarray, weights=None
) -> Evidence:
    """Examples from ``columns`` and one tag t0, t1, ... per column of the boolean
    ``matrix``, of the kinds ``kinds``; ``weights`` NaN where not reviewed, or None."""
    index = pd.RangeIndex(len(reviewed))
    names = [f"t{j}" for j in range(matrix.shape[1])]
    return Evidence(
        pd.DataFrame(columns, index=index),
        pd.DataFrame(matrix, index=index, columns=names),
        kinds=dict(zip(names, kinds, strict=True)),
        reviewed=pd.Series(reviewed, index=index),
        weights=None if weights is None else pd.Series(weights, index=index),
    )


@pytest.mark.parametrize(
    ("reviewed_share", "weighted", "dataset_tag"),
    [(0.6, True, 3), (0.6, False, 3), (0.1, False, 3), (0.1, True, None), (0.6, False, None)],
)
def test_one_pass_equals_a_loop_over_examples(reviewed_share, weighted, dataset_tag):
    # The vectorised sums against the definition, on a random evidence with many tags and
    # more rows than one block, through each way of counting (few or many reviewed, with
    # or without weights, with or without a dataset tag).
    rng = np.random.default_rng(11)
    n, k = 9000, 7
    correct = rng.random(n) < 0.7
    matrix = rng.random((n, k)) < rng.uniform(0.05, 0.6, k)
    reviewed = rng.random(n) < reviewed_share
    weights = np.where(reviewed, rng.uniform(0.5, 20, n), np.nan) if weighted else None
    human = np.where(rng.random(n) < 0.5, np.where(rng.random(n) < 0.8, "a", "b"), None)
    ev = matrix_evidence(
        {"correct": correct, "label": "a", "human_label": human},
        matrix,
        ["dataset" if j == dataset_tag else "reviewed" for j in range(k)],
        reviewed,
        weights,
    )
    counts = count_tags(check_evidence(ev))
    known = human != None  # noqa: E711 (elementwise)
    agrees = human == "a"
    for j in range(k):
        rows = np.ones(n, bool) if j == dataset_tag else reviewed
        w = np.ones(n) if j == dataset_tag or weights is None else np.nan_to_num(weights)
        for h, in_stratum in enumerate((~correct, correct)):
            counted = rows & in_stratum
            tagged = counted & matrix[:, j]
            assert counts.tag.n[h, j] == counted.sum()
            assert counts.tag.x[h, j] == tagged.sum()
            assert counts.tag.w[h, j] == pytest.approx(w[counted].sum())
            assert counts.tag.w2x[h, j] == pytest.approx((w[tagged] ** 2).sum())
            labelled = tagged & known
            assert counts.agreement.n[h, j] == labelled.sum()
            assert counts.agreement.wx[h, j] == pytest.approx(w[labelled & agrees].sum())
            assert counts.agreement.w2[h, j] == pytest.approx((w[labelled] ** 2).sum())


def test_unweighted_counts_from_integers():
    counts = TagCounts.unweighted(size=[10, 20], seen=[[4], [5]], tagged=[[1], [2]])
    assert counts.sizes.tolist() == [[10], [20]]
    assert counts.tag.wx.tolist() == [[1.0], [2.0]]
    assert counts.agreement.n.tolist() == [[0], [0]]


def test_bad_weights_are_refused_by_the_one_evidence_check():
    weights = pd.Series([2.0, -1.0, 4.0, 1.0, 3.0, NAN, 2.0, NAN], index=evidence().examples.index)
    with pytest.raises(ValueError, match="weights must be positive numbers"):
        tag_counts(evidence(weights=weights))


@st.composite
def small_evidence(draw) -> tuple[Evidence, pd.DataFrame]:
    """A small evidence of any shape (kinds mixed, some reviewed, weights or none, human
    labels or none) and its examples as one frame, for the brute-force count."""
    n = draw(st.integers(1, 40))
    k = draw(st.integers(1, 4))
    bools = st.lists(st.booleans(), min_size=n, max_size=n)
    correct = np.array(draw(bools))
    reviewed = np.array(draw(bools))
    matrix = np.array([draw(bools) for _ in range(k)]).T
    kinds = [draw(st.sampled_from(["dataset", "rule", "reviewed"])) for _ in range(k)]
    weighted = draw(st.booleans())
    weights = [draw(st.floats(0.1, 50)) for _ in range(n)] if weighted else None
    humans = draw(
        st.one_of(st.none(), st.lists(st.sampled_from(["a", "b", None]), min_size=n, max_size=n))
    )
    index = pd.RangeIndex(n)
    columns = {"correct": correct, "label": "a"}
    if humans is not None:
        columns["human_label"] = pd.array(humans, dtype=object)
    evidence = matrix_evidence(
        columns,
        matrix,
        kinds,
        reviewed,
        None if weights is None else np.where(reviewed, weights, np.nan),
    )
    return evidence, pd.DataFrame(columns | {"reviewed": reviewed}, index=index)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_evidence())
def test_counts_equal_a_groupby_of_the_examples(case):
    # The one vectorised pass against the plainest frame computation, any evidence.
    evidence, frame = case
    counts = tag_counts(evidence)
    weight = evidence.weights.fillna(0.0) if evidence.weights is not None else 1.0
    frame = frame.assign(
        w=np.where(frame["reviewed"], weight, 0.0) if evidence.weights is not None else 1.0
    )
    human = frame["human_label"] if "human_label" in frame else pd.Series(None, index=frame.index)
    for j, tag in enumerate(evidence.tags.columns):
        known = frame["reviewed"] if evidence.kinds[tag] == "reviewed" else True
        rows = frame.assign(
            t=evidence.tags[tag], known=known, labelled=human.notna(), agrees=human == "a"
        )
        rows = rows[rows["known"]]
        if evidence.kinds[tag] != "reviewed":
            rows = rows.assign(w=1.0)
        for h, group in rows.groupby("correct"):
            h = int(h)
            tagged = group[group["t"]]
            labelled = tagged[tagged["labelled"]]
            assert counts.tag.n[h, j] == len(group)
            assert counts.tag.x[h, j] == len(tagged)
            assert counts.tag.w[h, j] == pytest.approx(group["w"].sum())
            assert counts.tag.w2x[h, j] == pytest.approx((tagged["w"] ** 2).sum())
            assert counts.agreement.n[h, j] == len(labelled)
            assert counts.agreement.x[h, j] == labelled["agrees"].sum()
            assert counts.agreement.wx[h, j] == pytest.approx(
                labelled.loc[labelled["agrees"], "w"].sum()
            )
            assert counts.tag.equal[h, j] == (group["w"].nunique() <= 1)
