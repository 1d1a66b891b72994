"""Blind second reviews: the plan, the random draw, the blind queue, the rules that turn
several reviewers' decisions into an example's tags, and adjudication."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from store_support import add_run, numbered_frame

from erroranalysis import analyses
from erroranalysis.cli import main
from erroranalysis.errors import NotPermitted, StoreError
from erroranalysis.evidence import reviewed_tags
from erroranalysis.sampling import draw_sample
from erroranalysis.second_review import (
    ReviewPlan,
    blind_queue,
    check_plan,
    disagreements,
    selection_keys,
    tags_by_rule,
)
from erroranalysis.store import open_project


@pytest.fixture
def project(tmp_path):
    with open_project(tmp_path / "p.db") as p:
        add_run(p, "dev", numbered_frame(30))
        yield p


# ------------------------------------------------------------------ the plan
@pytest.mark.parametrize(
    ("share", "reviewers", "rule", "seed", "message"),
    [
        (1.5, 2, "any", 0, "share of second reviews must be between 0 and 1, got 1.5"),
        (-0.1, 2, "any", 0, "share of second reviews must be between 0 and 1, got -0.1"),
        ("0.1", 2, "any", 0, "share of second reviews must be a number, got '0.1'"),
        (True, 2, "any", 0, "share of second reviews must be a number, got True"),
        (0.1, 1, "any", 0, r"reviewers must be at least 2 \(the first reviewer and one second\)"),
        (0.1, 2.5, "any", 0, "reviewers must be a whole number of at least 2, got 2.5"),
        (0.1, 2, "most", 0, "rule must be one of any, majority, adjudicated, got 'most'"),
        (0.1, 2, "any", -1, "seed must be a non-negative integer, got -1"),
    ],
)
def test_a_bad_plan_is_refused_naming_what_is_wrong(project, share, reviewers, rule, seed, message):
    with pytest.raises(ValueError, match=message):
        check_plan(share, reviewers=reviewers, rule=rule, seed=seed)
    store = project.dataset("dev")
    with pytest.raises(StoreError, match=message + ".*nothing was changed"):
        store.set_review_plan(share=share, reviewers=reviewers, rule=rule, seed=seed, actor="ana")
    assert store.review_plan() is None
    assert "review_plan" not in set(store.actions()["kind"])


def test_the_latest_plan_is_the_current_one_and_each_is_logged(project):
    store = project.dataset("dev")
    store.set_review_plan(share=0.1, seed=7, actor="ana")
    plan = store.set_review_plan(share=0.25, reviewers=3, rule="majority", seed=9, actor="ben")
    assert (plan.share, plan.seed, plan.reviewers, plan.rule, plan.set_by) == (
        0.25,
        9,
        3,
        "majority",
        "ben",
    )
    assert store.review_plan() == plan
    logged = store.actions()
    logged = logged[logged["kind"] == "review_plan"]
    assert list(logged["actor"]) == ["ben", "ana"]
    fresh = store.set_review_plan(share=0.1, actor="ana")  # a fresh seed, recorded
    assert 0 <= fresh.seed < 2**31 and store.review_plan().seed == fresh.seed


def test_only_an_admin_sets_the_plan_once_the_team_is_formed(project):
    project.grant_role("ana", "admin", actor="ana")
    project.grant_role("ben", "reviewer", actor="ana")
    store = project.dataset("dev")
    with pytest.raises(NotPermitted, match="'ben' may not set the plan of second reviews"):
        store.set_review_plan(share=0.1, seed=1, actor="ben")
    assert store.review_plan() is None
    assert store.set_review_plan(share=0.1, seed=1, actor="ana").set_by == "ana"


# ------------------------------------------------------------------ the draw
@pytest.mark.parametrize(
    ("example_id", "seed", "key"),
    [("0", 7, 0.7934441806715826), ("1", 7, 0.898368808391854), ("s04", 7, 0.5978977563685712)],
)
def test_the_key_is_blake2b_of_the_seed_and_id_the_same_everywhere(example_id, seed, key):
    assert selection_keys([example_id], seed=seed)[0] == key
    digest = hashlib.blake2b(f"{seed}\x00{example_id}".encode(), digest_size=8).digest()
    assert key == int.from_bytes(digest, "big") / 2**64


def test_the_draw_is_reproducible_nested_and_of_the_right_size():
    ids = [str(i) for i in range(10_000)]
    keys = selection_keys(ids, seed=7)
    np.testing.assert_array_equal(keys, selection_keys(ids, seed=7))
    assert not np.array_equal(keys, selection_keys(ids, seed=8))
    assert ((keys >= 0) & (keys < 1)).all()
    # Bernoulli(0.1) over 10,000 ids: 1,000 expected, sd 30; the seeded draw holds 991.
    assert int((keys < 0.1).sum()) == 991
    assert 1000 - 4 * 30 <= int((keys < 0.1).sum()) <= 1000 + 4 * 30
    assert int((keys < 0.05).sum()) == 493
    # A smaller share keeps a subset of a larger one's examples.
    assert set(np.flatnonzero(keys < 0.05)) <= set(np.flatnonzero(keys < 0.1))


def decisions_of(rows: list[tuple[str, str, tuple[str, ...]]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["example_id", "reviewer", "tags"])


# ------------------------------------------------------------------ the queue
def test_the_blind_queue_holds_selected_examples_still_wanting_this_reviewer():
    examples = numbered_frame(12)
    decisions = decisions_of(
        [
            ("0", "ana", ("car",)),
            ("1", "ana", ()),
            ("2", "ana", ("car",)),
            ("2", "ben", ("car",)),  # two reviewers already: done
            ("3", "cat", ("x",)),
            ("4", "ben", ("x",)),  # ben's own: not for ben
            ("5", "ana", ("x",)),
            ("99", "ana", ("x",)),  # not in the run
        ]
    )
    everything = ReviewPlan(share=1.0, seed=3)
    queue = blind_queue(decisions, examples, plan=everything, reviewer="ben")
    keys = dict(
        zip(["0", "1", "3", "5"], selection_keys(["0", "1", "3", "5"], seed=3), strict=True)
    )
    assert list(queue["id"]) == sorted(keys, key=keys.get)  # in the order of their keys
    assert list(queue.columns) == ["position", "id", "queue", "probability", "correct"]
    assert set(queue["queue"]) == {"second review"} and set(queue["probability"]) == {1.0}
    assert list(queue["position"]) == [int(i) for i in queue["id"]]
    # Three reviewers wanted: the example two have reviewed wants one more.
    three = ReviewPlan(share=1.0, seed=3, reviewers=3)
    assert "2" in set(blind_queue(decisions, examples, plan=three, reviewer="cat")["id"])
    # Only the examples whose key is below the share.
    half = ReviewPlan(share=0.5, seed=3)
    expected = sorted((i for i in keys if keys[i] < 0.5), key=keys.get)
    assert list(blind_queue(decisions, examples, plan=half, reviewer="ben")["id"]) == expected
    assert blind_queue(
        decisions, examples, plan=ReviewPlan(share=0.0, seed=3), reviewer="ben"
    ).empty


# ------------------------------------------------------------------ the rules
ASSIGNMENTS = pd.DataFrame(
    {
        "example_id": ["a", "a", "b", "c", "c"],
        "tag": ["car", "wind", "car", "car", "wind"],
    }
)
DECISIONS = decisions_of(
    [
        ("a", "ana", ("car", "wind")),  # a: ana (the shared tags), ben and cat blind
        ("a", "ben", ("car", "rain")),
        ("a", "cat", ("rain",)),
        ("b", "ana", ("car",)),  # b: ana, ben
        ("b", "ben", ()),
        ("c", "ana", ("car", "wind")),  # c: one reviewer, tags kept as they are
        ("b", "ben", ("rain",)),  # ben's latest decision on b replaces his earlier one
    ]
)
ADJUDICATIONS = pd.DataFrame(
    {
        "example_id": ["a", "b", "c"],
        "tag": ["wind", "rain", "wind"],
        "present": [False, True, False],
    }
)


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (
            "any",
            [("a", "car"), ("a", "rain"), ("a", "wind"), ("b", "car"), ("b", "rain")],
        ),
        ("majority", [("a", "car"), ("a", "rain")]),  # b: 1 of 2 each, not more than half
        ("adjudicated", [("a", "car"), ("b", "car"), ("b", "rain")]),
    ],
)
def test_each_rule_on_a_hand_made_table(rule, expected):
    ruled = tags_by_rule(ASSIGNMENTS, DECISIONS, rule=rule, adjudications=ADJUDICATIONS)
    pairs = sorted(zip(ruled["example_id"], ruled["tag"], strict=True))
    assert pairs == sorted([*expected, ("c", "car"), ("c", "wind")])  # c untouched
    assert ASSIGNMENTS["tag"].tolist() == ["car", "wind", "car", "car", "wind"]  # not mutated


def test_without_several_reviewers_the_tags_are_the_examples_own():
    one_each = decisions_of([("a", "ana", ("rain",)), ("b", "ben", ())])
    for rule in ("any", "majority", "adjudicated"):
        assert tags_by_rule(ASSIGNMENTS, one_each, rule=rule) is ASSIGNMENTS
    with pytest.raises(ValueError, match="rule must be one of any, majority, adjudicated"):
        tags_by_rule(ASSIGNMENTS, one_each, rule="all")


def test_disagreements_list_each_split_tag_with_each_reviewers_decision():
    table = disagreements(DECISIONS, adjudications=ADJUDICATIONS)
    assert table.to_dict("records") == [
        {
            "example_id": "a",
            "tag": "car",
            "given_by": ("ana", "ben"),
            "not_given_by": ("cat",),
            "adjudicated": None,
        },
        {
            "example_id": "a",
            "tag": "rain",
            "given_by": ("ben", "cat"),
            "not_given_by": ("ana",),
            "adjudicated": None,
        },
        {
            "example_id": "a",
            "tag": "wind",
            "given_by": ("ana",),
            "not_given_by": ("ben", "cat"),
            "adjudicated": False,
        },
        {
            "example_id": "b",
            "tag": "car",
            "given_by": ("ana",),
            "not_given_by": ("ben",),
            "adjudicated": None,
        },
        {
            "example_id": "b",
            "tag": "rain",
            "given_by": ("ben",),
            "not_given_by": ("ana",),
            "adjudicated": True,
        },
    ]
    assert disagreements(decisions_of([("a", "ana", ("x",)), ("a", "ben", ("x",))])).empty


# ------------------------------------------------------------------ the store
def shared(project) -> list[tuple[str, str]]:
    frame = project.dataset("dev").tag_assignments()
    return list(zip(frame["example_id"], frame["tag"], strict=True))


def queued(store, reviewer: str) -> list[str]:
    """The ids of ``reviewer``'s blind queue over the dataset's run."""
    queue = blind_queue(
        store.decisions(), store.examples(), plan=store.review_plan(), reviewer=reviewer
    )
    return list(queue["id"])


def test_a_blind_review_keeps_its_decision_and_leaves_the_tags_alone(project):
    store = project.dataset("dev")
    project.define_tag("rain", actor="ana")
    store.set_review_plan(share=1.0, seed=5, actor="ana")
    store.record_review("0", reviewer="ana", tags=["car", "wind"])
    store.record_review("3", reviewer="ana", tags=["car"])
    before = store.tag_assignments()
    events = len(store.tag_events())
    assert queued(store, "ben") == sorted(["0", "3"], key=lambda i: selection_keys([i], seed=5)[0])
    store.record_review(
        "0", reviewer="ben", tags=["car", "rain"], blind=True, queue="second review"
    )
    pd.testing.assert_frame_equal(store.tag_assignments(), before)
    assert len(store.tag_events()) == events
    decided = store.decisions()
    assert decided[["example_id", "reviewer", "blind", "tags"]].values.tolist() == [
        ["0", "ana", False, ("car", "wind")],
        ["3", "ana", False, ("car",)],
        ["0", "ben", True, ("car", "rain")],
    ]
    assert queued(store, "ben") == ["3"]
    undone = store.undo(actor="ben")
    assert undone["kind"] == "review"
    assert list(store.decisions()["reviewer"]) == ["ana", "ana"]  # retracted
    pd.testing.assert_frame_equal(store.tag_assignments(), before)
    assert set(queued(store, "ben")) == {"0", "3"}


def test_a_blind_review_names_live_tags_and_gives_them(project):
    store = project.dataset("dev")
    store.record_review("0", reviewer="ana", tags=["car"])
    with pytest.raises(StoreError, match="no tag named 'nope'"):
        store.record_review("0", reviewer="ben", tags=["nope"], blind=True)
    with pytest.raises(StoreError, match="a blind review records its reviewer's own tags"):
        store.record_review("0", reviewer="ben", blind=True)
    assert list(store.decisions()["reviewer"]) == ["ana"]


def test_the_priority_tags_follow_the_plans_rule(project):
    store = project.dataset("dev")
    project.define_tag("rain", actor="ana")
    store.record_review("0", reviewer="ana", tags=["car", "wind"])
    store.record_review("3", reviewer="ana", tags=["car"])
    store.record_review("0", reviewer="ben", tags=["car", "rain"], blind=True)
    untouched = reviewed_tags(project, "dev")  # no plan yet: the shared tags
    pd.testing.assert_frame_equal(untouched, store.tag_assignments())

    def tags_of(example: str) -> list[str]:
        evidence = analyses.load_evidence(project, "dev")
        row = evidence.tags.iloc[int(example)]
        return sorted(t for t in row.index if row[t])

    store.set_review_plan(share=1.0, seed=1, rule="any", actor="ana")
    assert tags_of("0") == ["car", "rain", "wind"] and tags_of("3") == ["car"]
    store.set_review_plan(share=1.0, seed=1, rule="majority", actor="ana")
    assert tags_of("0") == ["car"]  # 2 reviewers: only what both gave
    store.set_review_plan(share=1.0, seed=1, rule="adjudicated", actor="ana")
    assert tags_of("0") == ["car", "wind"]  # no adjudication yet: the first reviewer's
    store.adjudicate("0", "rain", True, actor="cat")
    store.adjudicate("0", "wind", False, actor="cat")
    assert tags_of("0") == ["car", "rain"]
    assert store.adjudications()[["example_id", "tag", "present", "actor"]].values.tolist() == [
        ["0", "rain", True, "cat"],
        ["0", "wind", False, "cat"],
    ]
    assert store.undo(actor="cat")["kind"] == "adjudicate"  # the author undoes the last
    assert tags_of("0") == ["car", "rain", "wind"]
    assert store.undo(actor="ana")["kind"] == "review"  # ana's undo is her own, not cat's
    assert list(store.adjudications()["tag"]) == ["rain"]


def test_an_adjudication_names_a_known_example_and_tag(project):
    store = project.dataset("dev")
    store.set_tag("0", "car", actor="ana")
    with pytest.raises(StoreError, match="no tag named 'nope'"):
        store.adjudicate("0", "nope", True, actor="ana")
    with pytest.raises(StoreError, match="has no example with id 'zz'"):
        store.adjudicate("zz", "car", True, actor="ana")
    with pytest.raises(StoreError, match="present must be True or False, got 1"):
        store.adjudicate("0", "car", 1, actor="ana")
    project.grant_role("ana", "admin", actor="ana")
    project.grant_role("vic", "viewer", actor="ana")
    with pytest.raises(NotPermitted, match="'vic' may not adjudicate a disagreement"):
        store.adjudicate("0", "car", True, actor="vic")
    assert store.adjudications().empty
    assert "adjudicate" not in set(store.actions()["kind"])


# ------------------------------------------------------------------ the command line
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--share", "1.5"], "the share of second reviews must be between 0 and 1, got 1.5"),
        (["--share", "0.1", "--reviewers", "1"], "reviewers must be at least 2"),
        (["--share", "0.1", "--seed", "-3"], "the seed must be a non-negative integer, got -3"),
    ],
)
def test_the_command_refuses_a_bad_plan_and_changes_nothing(tmp_path, capsys, args, message):
    db = tmp_path / "p.db"
    with open_project(db) as project:
        add_run(project, "dev", numbered_frame(6))
    assert main(["second-reviews", "set", "--db", str(db), "--dataset", "dev", *args]) == 1
    assert message in capsys.readouterr().err
    with open_project(db) as project:
        assert project.dataset("dev").review_plan() is None


def test_the_command_sets_and_shows_the_plan(tmp_path, capsys):
    db = tmp_path / "p.db"
    with open_project(db) as project:
        add_run(project, "dev", numbered_frame(6))
    base = ["--db", str(db), "--dataset", "dev"]
    assert main(["second-reviews", "show", *base]) == 0
    assert capsys.readouterr().out == "dataset 'dev' has no plan of second reviews\n"
    set_plan = ["second-reviews", "set", *base, "--share", "0.1", "--rule", "majority"]
    assert main([*set_plan, "--seed", "4", "--actor", "ana"]) == 0
    assert capsys.readouterr().out == (
        "dataset 'dev': 0.1 of reviewed examples get a blind second review, 2 reviewers "
        "each, rule majority, seed 4\n"
    )
    assert main(["second-reviews", "show", *base]) == 0
    assert capsys.readouterr().out.startswith(
        "dataset 'dev': share 0.1, reviewers 2, rule majority, seed 4, set by ana at "
    )


# ------------------------------------------------------------------ the rules, at random
EXAMPLES, REVIEWERS, NAMES = ["a", "b", "c", "d"], ["ana", "ben", "cy"], ["x", "y", "z"]


def by_hand(assignments, decisions, adjudications, rule) -> set[tuple[str, str]]:
    """The rules of the module's docstring, one example at a time."""
    latest: dict[str, dict[str, set[str]]] = {}
    for example, reviewer, tags in decisions:
        latest.setdefault(example, {})[reviewer] = set(tags)
    verdict = {(e, t): p for e, t, p in adjudications}
    out = set()
    for example in EXAMPLES:
        carried = {t for e, t in assignments if e == example}
        given = latest.get(example, {})
        if len(given) < 2:
            tags = carried
        elif rule == "any":
            tags = carried.union(*given.values())
        elif rule == "majority":
            tags = {t for t in NAMES if 2 * sum(t in g for g in given.values()) > len(given)}
        else:
            tags = {t for t in NAMES if verdict.get((example, t), t in carried)}
        out |= {(example, t) for t in tags}
    return out


# No deadline: on a loaded machine one example may take longer than hypothesis's 200 ms.
@settings(deadline=None)
@given(
    assignments=st.sets(st.tuples(st.sampled_from(EXAMPLES), st.sampled_from(NAMES))),
    decisions=st.lists(
        st.tuples(
            st.sampled_from(EXAMPLES),
            st.sampled_from(REVIEWERS),
            st.sets(st.sampled_from(NAMES)).map(lambda s: tuple(sorted(s))),
        ),
        max_size=12,
    ),
    adjudications=st.dictionaries(
        st.tuples(st.sampled_from(EXAMPLES), st.sampled_from(NAMES)), st.booleans()
    ),
    rule=st.sampled_from(["any", "majority", "adjudicated"]),
)
def test_each_rule_does_what_the_docs_say(assignments, decisions, adjudications, rule):
    assigned = pd.DataFrame(sorted(assignments), columns=["example_id", "tag"], dtype=object)
    decided = decisions_of(decisions)
    verdicts = [(e, t, p) for (e, t), p in adjudications.items()]
    adjudicated = pd.DataFrame(verdicts, columns=["example_id", "tag", "present"])
    ruled = tags_by_rule(assigned, decided, rule=rule, adjudications=adjudicated)
    pairs = list(zip(ruled["example_id"], ruled["tag"], strict=True))
    assert len(pairs) == len(set(pairs))
    assert set(pairs) == by_hand(assignments, decisions, verdicts, rule)


def test_a_blind_review_leaves_the_design_weights_as_they_were(project):
    store = project.dataset("dev")
    store.set_review_plan(share=1.0, seed=2, actor="ana")
    draw = draw_sample(analyses.load_evidence(project, "dev"), size=8, seed=1)
    sample = store.record_sample(draw, actor="ana")
    drawn = draw.examples.iloc[:3]
    for example, stratum in zip(drawn["id"], drawn["stratum"], strict=True):
        store.record_review(example, reviewer="ana", tags=["car"], queue=stratum, sample=sample)
    before = analyses.load_evidence(project, "dev")
    # Outside any sample, and not a direct look: it would count as an old-style review.
    store.record_review(
        drawn["id"].iloc[1], reviewer="ben", tags=["car"], blind=True, queue="second review"
    )
    after = analyses.load_evidence(project, "dev")
    pd.testing.assert_series_equal(after.weights, before.weights)
    assert after.left_out == before.left_out
    assert int(after.reviewed.sum()) == 3
