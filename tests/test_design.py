"""Design weights: a table of weights worked out by hand, the issue's reproduction (reviews
made on one run estimate another consistently), hand-picked examples that do not move the
estimates, and files older than samples that keep their numbers exactly."""

from __future__ import annotations

import dataclasses
import json
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal, assert_series_equal
from store_support import add_run

from erroranalysis import analyses
from erroranalysis.design import design_weights
from erroranalysis.evidence import Evidence, check_evidence
from erroranalysis.store import Project, open_project
from erroranalysis.store.common import _frame_to_blob
from erroranalysis.vocabulary import LEFT_OUT_DIRECT, LEFT_OUT_FILTERED, LEFT_OUT_TAGGED

NAN = float("nan")


def target(correct: str = "x..x..x..x") -> pd.DataFrame:
    """e0..e9; 'x' marks an error: errors e0, e3, e6, e9 (4), correct 6."""
    return pd.DataFrame(
        {"id": [f"e{i}" for i in range(len(correct))], "correct": [c == "." for c in correct]}
    )


def reviews(*rows: tuple) -> pd.DataFrame:
    """(example, run, queue, sample) per review."""
    return pd.DataFrame(
        {
            "example_id": [r[0] for r in rows],
            "run": [r[1] for r in rows],
            "queue": [r[2] for r in rows],
            "sample_id": pd.array([r[3] for r in rows], dtype="Int64"),
        }
    )


def sample(id, strategy, size, strata=None, frame=None):
    design = {"frame": frame}
    if strata is not None:
        design["strata"] = [{"name": n, "size": s, "drawn": 0} for n, s in strata.items()]
    return {"id": id, "strategy": strategy, "size": size, "design": design}


def draws(*rows: tuple) -> pd.DataFrame:
    """(id, stratum, probability) per draw."""
    return pd.DataFrame(
        {
            "id": [r[0] for r in rows],
            "stratum": [r[1] for r in rows],
            "probability": [float(r[2]) for r in rows],
            "order": range(len(rows)),
        }
    )


STRATIFIED = sample(1, "stratified", 4, {"error": 4, "correct sample": 6})
STRATIFIED_DRAWS = draws(
    ("e0", "error", 0.5),
    ("e3", "error", 0.5),
    ("e1", "correct sample", 1 / 3),
    ("e2", "correct sample", 1 / 3),
)
ACTIVE = sample(2, "active", 2, {"active": 10})
ACTIVE_DRAWS = draws(("e1", "active", 0.5), ("e4", "active", 0.25))
BANDS = sample(
    3,
    "confidence",
    3,
    {
        "error, confidence band 1 of 2": 2,
        "error, confidence band 2 of 2": 2,
        "correct, confidence band 1 of 2": 6,
    },
)
BANDS_DRAWS = draws(
    ("e0", "error, confidence band 1 of 2", 0.5),
    ("e9", "error, confidence band 2 of 2", 0.5),
    ("e5", "correct, confidence band 1 of 2", 1 / 6),
)
FILTERED = sample(4, "stratified", 1, {"error": 1}, frame={"true_classes": ["a"]})
FILTERED_DRAWS = draws(("e7", "error", 1.0))
NO_STRATA = sample(5, "stratified", 2)  # a design without strata: N_h = n_h / π
NO_STRATA_DRAWS = draws(("e1", "correct sample", 1 / 3), ("e2", "correct sample", 1 / 3))
RUNS = {
    "main": (pd.Index([f"e{i}" for i in range(10)]), target()["correct"].to_numpy()),
    # v2 fixes e0 and e3 and breaks e1: errors e1, e6, e9
    "v2": (pd.Index([f"e{i}" for i in range(10)]), target(".x....x..x")["correct"].to_numpy()),
}

F = Fraction
CASES = {
    # (reviews, samples, draws by sample) -> weight per example (None = NaN), left out
    "legacy on the run estimated: N_h / k_h": (
        reviews(
            ("e0", "main", "error", None),
            ("e3", "main", "error", None),
            ("e1", "main", "correct sample", None),
        ),
        [],
        {},
        {"e0": 2, "e3": 2, "e1": 6},
        {},
    ),
    "legacy on another run: its own strata": (
        # on v2, e0 is correct (1 of 7 correct reviewed), e1 and e6 errors (2 of 3)
        reviews(
            ("e0", "v2", "correct sample", None),
            ("e1", "v2", "error", None),
            ("e6", "v2", "error", None),
        ),
        [],
        {},
        {"e0": 7, "e1": F(3, 2), "e6": F(3, 2)},
        {},
    ),
    "legacy on two runs: shares by size": (
        # main: e0 (1 of 4 errors) stands for 4, size 1; v2: e1, e6 (2 of 3 errors), size 2
        reviews(
            ("e0", "main", "error", None), ("e1", "v2", "error", None), ("e6", "v2", "error", None)
        ),
        [],
        {},
        {"e0": F(1, 3) * 4, "e1": F(2, 3) * F(3, 2), "e6": F(2, 3) * F(3, 2)},
        {},
    ),
    "stratified: k observed of N": (
        reviews(("e0", "main", "", 1), ("e1", "main", "", 1), ("e2", "main", "", 1)),
        [STRATIFIED],
        {1: STRATIFIED_DRAWS},
        {"e0": 4, "e1": 3, "e2": 3},
        {},
    ),
    "a draw reviewed directly is observed in its sample": (
        reviews(("e0", "main", "", 1), ("e3", "main", "direct", None)),
        [STRATIFIED],
        {1: STRATIFIED_DRAWS},
        {"e0": 2, "e3": 2},
        {},
    ),
    "stratified and active: Kish's shares": (
        # stratified (size 4): e0 -> 4/1, e1, e2 -> 6/2; active (size 2): e1 -> 2, e4 -> 4
        reviews(
            ("e0", "main", "", 1),
            ("e1", "main", "", 1),
            ("e2", "main", "", 1),
            ("e4", "main", "", 2),
        ),
        [STRATIFIED, ACTIVE],
        {1: STRATIFIED_DRAWS, 2: ACTIVE_DRAWS},
        {"e0": F(2, 3) * 4, "e1": F(2, 3) * 3 + F(1, 3) * 2, "e2": F(2, 3) * 3, "e4": F(1, 3) * 4},
        {},
    ),
    "a sample nobody reviewed yet takes no share": (
        reviews(("e4", "main", "", 2)),
        [STRATIFIED, ACTIVE],
        {1: STRATIFIED_DRAWS, 2: ACTIVE_DRAWS},
        {"e4": 4},
        {},
    ),
    "confidence bands": (
        reviews(("e0", "main", "", 3), ("e9", "main", "", 3), ("e5", "main", "", 3)),
        [BANDS],
        {3: BANDS_DRAWS},
        {"e0": 2, "e9": 2, "e5": 6},
        {},
    ),
    "a design without strata": (
        reviews(("e1", "main", "", 5)),
        [NO_STRATA],
        {5: NO_STRATA_DRAWS},
        {"e1": 6},
        {},
    ),
    "left out: direct, filtered, tagged": (
        reviews(
            ("e0", "main", "error", None),
            ("e5", "main", "direct", None),
            ("e5", "main", "direct", None),
            ("e7", "main", "", 4),
        ),
        [FILTERED],
        {4: FILTERED_DRAWS},
        {"e0": 4},
        {LEFT_OUT_DIRECT: 2, LEFT_OUT_FILTERED: 1},
    ),
    "census: every error reviewed, by hand": (
        reviews(
            *[(f"e{i}", "main", "direct", None) for i in (0, 3, 6, 9)],
            ("e1", "main", "direct", None),
        ),
        [],
        {},
        {"e0": 1, "e3": 1, "e6": 1, "e9": 1},
        {LEFT_OUT_DIRECT: 1},
    ),
    "census overrides the sample's weights": (
        reviews(
            ("e0", "main", "", 1),
            ("e3", "main", "", 1),
            ("e6", "main", "direct", None),
            ("e9", "main", "direct", None),
            ("e1", "main", "", 1),
        ),
        [STRATIFIED],
        {1: STRATIFIED_DRAWS},
        {"e0": 1, "e3": 1, "e6": 1, "e9": 1, "e1": 6},
        {},
    ),
    "a review of an example the run estimated lacks": (
        reviews(("e0", "main", "error", None), ("x9", "main", "direct", None)),
        [],
        {},
        {"e0": 4},
        {},
    ),
}


@pytest.mark.parametrize(("case"), CASES.values(), ids=CASES.keys())
def test_weights_by_hand(case):
    given, samples, sample_draws, expected, left_out = case
    tagged = ["e8"]  # tagged without a review in every case
    frame = target()
    result = design_weights(
        frame, given, samples=pd.DataFrame(samples), draws=sample_draws, runs=RUNS, tagged=tagged
    )
    want = pd.Series(
        [float(expected[i]) if i in expected else NAN for i in frame["id"]],
        index=frame.index,
        name="weight",
    )
    assert_series_equal(result.weights, want, rtol=1e-15, atol=0)
    assert result.left_out == {LEFT_OUT_TAGGED: 1} | left_out


def test_weights_serve_any_run():
    # The weights of examples shared by two runs do not depend on the run estimated.
    given = reviews(
        ("e0", "main", "error", None), ("e1", "main", "correct sample", None), ("e4", "main", "", 2)
    )
    options = dict(samples=pd.DataFrame([ACTIVE]), draws={2: ACTIVE_DRAWS}, runs=RUNS)
    on_main = design_weights(target(), given, **options).weights
    on_v2 = design_weights(target(".x....x..x"), given, **options).weights
    assert_series_equal(on_main, on_v2)


def test_bad_frames_are_refused_and_inputs_kept():
    given = reviews(("e0", "main", "error", None))
    before = given.copy()
    with pytest.raises(ValueError, match=r"reviews has no \['queue'\] columns"):
        design_weights(target(), given.drop(columns="queue"))
    with pytest.raises(ValueError, match="examples must be a pandas DataFrame"):
        design_weights([1, 2], given)
    with pytest.raises(ValueError, match=r"the draws of sample 1 has no \['probability'\]"):
        design_weights(
            target(),
            reviews(("e0", "main", "", 1)),
            samples=pd.DataFrame([STRATIFIED]),
            draws={1: STRATIFIED_DRAWS.drop(columns="probability")},
        )
    design_weights(target(), given, runs=RUNS)
    assert_frame_equal(given, before)


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        (pd.Series([2.0, NAN]), None),
        (pd.Series([2, 1]), "weights must have a float dtype"),
        (pd.Series([0.0, NAN]), "weights must be positive numbers where given"),
        (pd.Series([np.inf, NAN]), "weights must be positive numbers where given"),
        (pd.Series([2.0, 1.0]), "weights must be given exactly on the reviewed examples"),
        (pd.Series([2.0, NAN], index=[5, 6]), "weights must have the same index as examples"),
        ([2.0, NAN], "weights must be a pandas Series or None, got list"),
    ],
)
def test_evidence_weights_are_checked(weights, message):
    examples = pd.DataFrame({"correct": [False, True]})
    evidence = Evidence(examples, reviewed=pd.Series([True, False]), weights=weights)
    if message is None:
        assert check_evidence(evidence).weights.tolist()[0] == 2.0
    else:
        with pytest.raises(ValueError, match=message):
            check_evidence(evidence)


def test_left_out_is_checked():
    examples = pd.DataFrame({"correct": [False, True]})
    with pytest.raises(ValueError, match=r"left_out\['x'\] must be a count of reviews"):
        check_evidence(Evidence(examples, left_out={"x": -1}))


def test_weights_alone_say_which_examples_are_reviewed():
    evidence = Evidence(pd.DataFrame({"correct": [False, True]}), weights=pd.Series([2.0, NAN]))
    assert evidence.reviewed.tolist() == [True, False]


# ---------------------------------------------------------------------- from the project
def import_frame(project, correct, *, run="main", noise=()):
    n = len(correct)
    frame = pd.DataFrame(
        {
            "id": [f"e{i:03d}" for i in range(n)],
            "label": ["a"] * n,
            "prediction": ["a" if c else "b" for c in correct],
            "correct": list(correct),
        }
    )
    add_run(project, "dev", frame, run=run, source=f"{run}.csv", actor="setup")
    return frame


def row(table, tag="noise"):
    return table.set_index("tag").loc[tag]


@pytest.fixture
def issue_project(tmp_path):
    """The issue's reproduction: 1,000 examples, 100 errors on main. Reviewed on main: 50
    errors (30 of them with noise) and 20 correct (3 with noise). v2 fixes 30 of the
    reviewed errors (every noisy one) and nothing else."""
    correct = [i >= 100 for i in range(1000)]
    reviewed = [*range(50), *range(100, 120)]
    with open_project(tmp_path / "p.db") as project:
        import_frame(project, correct)
        project.define_tag("noise", actor="lead", hlp=0.9)
        table = pd.DataFrame({"id": [f"e{i:03d}" for i in reviewed], "reviewer": "ana"})
        tags = [["noise"] if (i < 30 or 100 <= i < 103) else [] for i in reviewed]
        project.dataset("dev").record_reviews(table, tags=tags, run="main")
        import_frame(project, [c or i < 30 for i, c in enumerate(correct)], run="v2")
        yield project


def test_reviews_of_one_run_estimate_another_consistently(issue_project):
    main = row(analyses.priority_table(analyses.load_evidence(issue_project, "dev", run="main")))
    evidence = analyses.load_evidence(issue_project, "dev", run="v2")
    v2 = row(analyses.priority_table(evidence))
    # The share of examples carrying a tag describes the examples, not the model: the
    # same reviews give v2 the share they give main, to within post-stratification...
    assert main.share == pytest.approx(0.1 * 30 / 50 + 0.9 * 3 / 20)
    assert abs(v2.share - main.share) < 0.01
    assert v2.share_low < main.share < v2.share_high
    assert main.share_low < v2.share < main.share_high
    # ...where taking them for a random sample of v2's strata (the meaning before
    # samples) tripled it: 33 of the 50 reviewed examples v2 gets right are noisy.
    unweighted = dataclasses.replace(evidence, weights=None)
    assert row(analyses.priority_table(unweighted)).share > 3 * main.share
    # v2 got every noisy reviewed error right: its accuracy on noise is higher.
    assert v2.accuracy > main.accuracy


def test_weights_of_the_issue_project(issue_project):
    evidence = analyses.load_evidence(issue_project, "dev", run="v2")
    weights = evidence.weights.set_axis(evidence.examples["id"])
    # one legacy sample on main: each reviewed error stands for 100/50, each correct for 900/20
    assert weights.loc[["e000", "e049", "e100", "e119"]].tolist() == [2.0, 2.0, 45.0, 45.0]
    assert weights.notna().sum() == 70 and evidence.left_out == {}


@pytest.fixture
def reviewed_project(tmp_path):
    """100 examples, 40 errors: 20 errors and 10 correct reviewed from the queue."""
    correct = [i >= 40 for i in range(100)]
    with open_project(tmp_path / "p.db") as project:
        import_frame(project, correct)
        project.define_tag("noise", actor="lead", hlp=0.9)
        for i in [*range(20), *range(40, 50)]:
            tags = ["noise"] if i % 4 == 0 else []
            queue = "error" if i < 40 else "correct sample"
            project.dataset("dev").record_review(
                f"e{i:03d}", reviewer="ana", tags=tags, queue=queue
            )
        yield project


ESTIMATES = ["share", "share_low", "share_high", "accuracy", "accuracy_low", "accuracy_high"]


@pytest.mark.parametrize("how", ["tagged without a review", "reviewed by hand"])
def test_hand_picked_correct_examples_do_not_move_the_estimate(reviewed_project, how):
    before = row(analyses.priority_table(analyses.load_evidence(reviewed_project, "dev")))
    for i in range(90, 100):  # ten correct examples, picked because they are noisy
        if how == "tagged without a review":
            reviewed_project.dataset("dev").set_tag(f"e{i:03d}", "noise", actor="ben")
        else:
            reviewed_project.dataset("dev").record_review(
                f"e{i:03d}", reviewer="ben", tags=["noise"], queue="direct"
            )
    evidence = analyses.load_evidence(reviewed_project, "dev")
    after = row(analyses.priority_table(evidence))
    assert_series_equal(after[ESTIMATES], before[ESTIMATES])
    reason = LEFT_OUT_TAGGED if how == "tagged without a review" else LEFT_OUT_DIRECT
    assert evidence.left_out == {reason: 10}
    assert "10" in after.note


def schema_3_project(path, correct, reviewed):
    """A project as schema 3 wrote it: one run 'main'; ``reviewed`` = (position, queue,
    tags) per review."""
    old = Project(path, migrate=False)
    old.migrate(to=3)
    ids = [f"e{i:03d}" for i in range(len(correct))]
    frame = pd.DataFrame(
        {
            "id": ids,
            "label": "a",
            "prediction": ["a" if c else "b" for c in correct],
            "correct": correct,
        }
    )
    stamp = "2026-01-01T00:00:00.000+00:00"
    with old.write() as conn:
        conn.execute("INSERT INTO datasets VALUES (1, 'dev', ?, 'ana')", (stamp,))
        conn.execute(
            "INSERT INTO runs VALUES (1, 1, 'main', 'dev.csv', 'csv', NULL, ?, ?, '[]', '[]', ?,"
            " 'ana', ?)",
            (len(frame), int((~frame["correct"]).sum()), stamp, _frame_to_blob(frame)),
        )
        conn.execute(
            "INSERT INTO tags (id, name, hlp, created_at, created_by) VALUES (1, 'noise', 0.9, ?, 'ana')",
            (stamp,),
        )
        for action, (position, queue, tags) in enumerate(reviewed, start=1):
            example = ids[position]
            conn.execute(
                "INSERT INTO actions (id, dataset_id, kind, actor, at, detail) VALUES (?, 1, 'review', 'ana', ?, ?)",
                (action, stamp, json.dumps({"run": "main"})),
            )
            conn.execute(
                "INSERT INTO reviews (action_id, dataset_id, run_id, example_id, reviewer, at, stratum, queue)"
                " VALUES (?, 1, 1, ?, 'ana', ?, ?, ?)",
                (action, example, stamp, "correct" if correct[position] else "error", queue),
            )
            if tags:
                conn.execute(
                    "INSERT INTO tag_events (action_id, dataset_id, example_id, tag_id, op, actor, at)"
                    " VALUES (?, 1, ?, 1, 'add', 'ana', ?)",
                    (action, example, stamp),
                )
                conn.execute(
                    "INSERT INTO tag_assignments (dataset_id, example_id, tag_id, actor, at) VALUES (1, ?, 1, 'ana', ?)",
                    (example, stamp),
                )
    old.close()
    return frame


def test_older_files_keep_their_numbers_exactly(tmp_path):
    path = tmp_path / "old.db"
    correct = [i >= 40 for i in range(100)]
    queues = {"error", "correct sample", "import", ""}
    reviewed = [
        (i, sorted(queues)[i % 4], ["noise"] if i % 3 == 0 else [])
        for i in [*range(25), *range(40, 52)]
    ]
    frame = schema_3_project(path, correct, reviewed)
    # Their meaning before samples: reviewed examples stand for their stratum, equally.
    was = np.zeros(len(frame), dtype=bool)
    was[[p for p, _, _ in reviewed]] = True
    with open_project(path, readonly=True) as project:
        assert project.schema_version == 3
        evidence = analyses.load_evidence(project, "dev")
        old = Evidence(
            evidence.examples,
            evidence.tags,
            kinds=evidence.kinds,
            reviewed=pd.Series(was, index=frame.index),
            hlp=evidence.hlp,
            definitions=evidence.definitions,
        )
        today = analyses.priority_table(old)
        assert evidence.reviewed.tolist() == was.tolist() and evidence.left_out == {}
        assert_frame_equal(analyses.priority_table(evidence), today)
    with open_project(path) as project:  # migrated to samples: the same numbers
        assert project.schema_version > 3
        assert_frame_equal(analyses.priority_table(analyses.load_evidence(project, "dev")), today)
