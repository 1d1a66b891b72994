"""The sufficient statistics: counts and design-weight sums per stratum of the run
estimated and tag, from one aggregation of the evidence."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from erroranalysis.counts import (
    Proportion,
    TagCounts,
    Tally,
    count_tags,
    join_tallies,
    tag_counts,
    tally,
)
from erroranalysis.evidence import Evidence, check_evidence
from erroranalysis.priorities import priority_table

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


# --------------------------------------------------------------------------- tallies


def _split(evidence: Evidence, names: list[str]) -> Evidence:
    """The same evidence with only the tags ``names``."""
    return dataclasses.replace(
        evidence,
        tags=evidence.tags[names],
        kinds={name: evidence.kinds[name] for name in names},
    )


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_evidence(), st.integers(0, 4), st.sampled_from(["marginal_effect", "effort"]))
def test_tallies_counted_apart_and_joined_give_the_same_table(case, cut, by):
    # What another engine does: count some tags elsewhere, the rest here, then join.
    evidence, _ = case
    names = list(evidence.tags.columns)
    cut = min(cut, len(names))
    whole = tally(evidence)
    joined = join_tallies(
        tally(_split(evidence, names[:cut])), tally(_split(evidence, names[cut:]))
    )
    assert joined.names == whole.names and joined.kinds == whole.kinds
    for part in ("tag", "agreement"):
        got, want = getattr(joined.counts, part), getattr(whole.counts, part)
        for name in ("n", "x", "equal"):
            np.testing.assert_array_equal(getattr(got, name), getattr(want, name))
        for name in ("w", "w2", "wx", "w2x"):
            np.testing.assert_allclose(getattr(got, name), getattr(want, name), rtol=1e-12)
    np.testing.assert_array_equal(joined.counts.size, whole.counts.size)
    if evidence.weights is None:  # integer counts only: the two tables are identical
        pd.testing.assert_frame_equal(
            priority_table(joined, by=by, draws=200), priority_table(evidence, by=by, draws=200)
        )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_evidence(), st.sampled_from(["marginal_effect", "effort"]))
def test_tallies_by_kind_joined_in_the_evidence_s_order_are_the_whole_tally(case, by):
    # What the app caches: the dataset and rule tags' counts apart from the reviewed tags'.
    # Each part counts the same rows and columns the whole pass counts, so every sum, the
    # weighted ones included, is the same number, and so is the table.
    evidence, _ = case
    whole = tally(evidence)
    parts = [tally(evidence, kinds=("dataset", "rule")), tally(evidence, kinds=("reviewed",))]
    assert all(kind == "reviewed" for kind in parts[1].kinds)
    assert not any(kind == "reviewed" for kind in parts[0].kinds)
    joined = join_tallies(*parts).select(whole.names)
    assert (joined.names, joined.kinds) == (whole.names, whole.kinds)
    assert (joined.hlp, joined.effort, joined.left_out) == (whole.hlp, whole.effort, whole.left_out)
    for part in ("tag", "agreement"):
        for name in ("n", "x", "w", "w2", "wx", "w2x", "equal"):
            got = getattr(getattr(joined.counts, part), name)
            np.testing.assert_array_equal(got, getattr(getattr(whole.counts, part), name))
    np.testing.assert_array_equal(joined.counts.size, whole.counts.size)
    pd.testing.assert_frame_equal(
        priority_table(joined, by=by, draws=200),
        priority_table(evidence, by=by, draws=200),
        check_exact=True,
    )


def test_a_tally_selects_its_tags_in_any_order():
    whole = tally(evidence(hlp={"clip": 0.9}, effort={"noise": 2.0}))
    swapped = whole.select(["clip", "noise"])
    assert (swapped.names, swapped.kinds) == (("clip", "noise"), ("dataset", "reviewed"))
    assert swapped.counts.tag.wx.tolist() == whole.counts.tag.wx[:, ::-1].tolist()
    alone = whole.select(["noise"])
    assert (alone.hlp, alone.effort) == ({}, {"noise": 2.0})
    assert whole.select([]).names == ()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: tally(evidence()).select(["hum"]), "the tally has no tag 'hum'"),
        (lambda: tally(evidence(), kinds=("reviewed", "guess")), "got 'guess'"),
        (lambda: tally(evidence(), kinds="reviewed"), "got 'reviewed'"),
        (lambda: count_tags(check_evidence(evidence()), columns=[2]), "positions of the 2 tags"),
    ],
)
def test_bad_selections_are_refused_naming_the_problem(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()


def test_a_tally_gives_the_evidence_s_priority_table_exactly():
    table = priority_table(evidence(), draws=500)
    from_counts = priority_table(tally(evidence()), draws=500)
    pd.testing.assert_frame_equal(from_counts, table, check_exact=True)
    assert from_counts.attrs == table.attrs


def _tally(**changes) -> Tally:
    fields = {"names": ("noise", "clip"), "kinds": ("reviewed", "dataset")}
    counts = tally(evidence()).counts
    return Tally(counts=changes.pop("counts", counts), **(fields | changes))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kinds": ("reviewed",)}, "a tally of 2 tags has 1 kinds"),
        ({"names": ("noise", "noise")}, "a tally names a tag twice"),
        ({"kinds": ("reviewed", "guessed")}, "unknown tag kind 'guessed'"),
        (
            {"names": ("noise", "clip", "blur"), "kinds": ("rule",) * 3},
            r"counts.tag.n has shape \(2, 2\), not \(2, 3\)",
        ),
        (
            {
                "counts": TagCounts.unweighted(
                    size=[1, 2, 3], seen=[[1, 1], [2, 2]], tagged=[[0, 1], [1, 0]]
                )
            },
            r"counts.size has shape \(3,\), not \(2,\)",
        ),
    ],
)
def test_a_tally_of_the_wrong_shape_is_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        _tally(**changes)


@pytest.mark.parametrize(
    ("second", "message"),
    [
        ({"names": ("clip",), "kinds": ("dataset",)}, "a tally names a tag twice"),
        ({"hlp": {"clip": 0.5}}, "the tallies disagree on the HLP of 'clip'"),
        ({"effort": {"clip": 2.0}}, "the tallies disagree on the effort of 'clip'"),
        ({"left_out": {"another run": 3}}, "the tallies disagree on the reviews left out"),
    ],
)
def test_tallies_that_disagree_are_not_joined(second, message):
    one = Tally(
        names=("clip",),
        kinds=("dataset",),
        counts=TagCounts.unweighted(size=[3, 5], seen=[[3], [5]], tagged=[[2], [1]]),
        hlp={"clip": 0.9},
        effort={"clip": 1.0},
        left_out={"another run": 2},
    )
    other = (
        dataclasses.replace(one, names=("blur",), **second)
        if "names" not in second
        else dataclasses.replace(one, **second)
    )
    with pytest.raises(ValueError, match=message):
        join_tallies(one, other)
    with pytest.raises(ValueError, match="at least one tally"):
        join_tallies()
