"""Agreement per tag and per reviewer: which decisions count, kappa against scikit-learn and
statsmodels, the degenerate cases, the checks, and reviews imported from several reviewers."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa
from store_support import add_run, numbered_frame

from erroranalysis import analyses
from erroranalysis.agreement import (
    COLUMNS,
    REVIEWER_COLUMNS,
    _bca_levels,
    counted_decisions,
    reviewer_agreement,
    tag_agreement,
)
from erroranalysis.cli import main
from erroranalysis.store import open_project
from erroranalysis.vocabulary import (
    NOTE_AGREEMENT_CONSTANT,
    NOTE_AGREEMENT_NO_OTHERS,
    NOTE_AGREEMENT_NO_PAIRS,
)


def frame(*rows: tuple) -> pd.DataFrame:
    """Decisions from (example_id, reviewer, tags, queue, blind) rows, in review order."""
    return pd.DataFrame(
        {
            "review": pd.array(range(1, len(rows) + 1), dtype="int64"),
            "example_id": [r[0] for r in rows],
            "reviewer": [r[1] for r in rows],
            "at": [f"2026-01-01T00:00:{i:02d}" for i in range(len(rows))],
            "queue": [r[3] if len(r) > 3 else "import" for r in rows],
            "blind": [r[4] if len(r) > 4 else False for r in rows],
            "tags": [tuple(sorted(r[2])) for r in rows],
        }
    )


def imported(decided: dict[str, list[tuple[str, ...]]]) -> pd.DataFrame:
    """Imported decisions: reviewer -> their tags on examples e0, e1, ..."""
    rows = [
        (f"e{i}", reviewer, tags)
        for reviewer, all_tags in decided.items()
        for i, tags in enumerate(all_tags)
    ]
    return frame(*rows)


def row(table: pd.DataFrame, tag: str) -> dict:
    return table.set_index(table.columns[0]).loc[tag].to_dict()


# --------------------------------------------------------------------------- which count
@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        # The first review counts, a later one that saw the tags does not; a blind one does.
        (
            [("a", "ana", ["x"], "error"), ("a", "ben", ["x"], "error")],
            [("a", "ana", ("x",))],
        ),
        (
            [("a", "ana", ["x"], "error"), ("a", "ben", [], "second", True)],
            [("a", "ana", ("x",)), ("a", "ben", ())],
        ),
        # Imports count whoever came first; each reviewer's latest counted decision is theirs.
        (
            [("a", "ana", ["x"]), ("a", "ben", ["y"]), ("a", "ana", ["y"])],
            [("a", "ben", ("y",)), ("a", "ana", ("y",))],
        ),
        # A first reviewer going over their own example again: still first.
        (
            [("a", "ana", ["x"], "error"), ("a", "ana", ["y"], "error")],
            [("a", "ana", ("y",))],
        ),
        # After someone else's review, a non-blind re-review is left out: the earlier stays.
        (
            [("a", "ana", ["x"], "error"), ("a", "ben", [], "s", True), ("a", "ana", [], "error")],
            [("a", "ana", ("x",)), ("a", "ben", ())],
        ),
        # Per example: ben is first on b.
        (
            [("a", "ana", ["x"], "error"), ("b", "ben", ["x"], "error"), ("b", "ana", [], "error")],
            [("a", "ana", ("x",)), ("b", "ben", ("x",))],
        ),
    ],
)
def test_which_decisions_count(rows, expected):
    counted = counted_decisions(frame(*rows))
    assert (
        list(zip(counted["example_id"], counted["reviewer"], counted["tags"], strict=True))
        == expected
    )


# --------------------------------------------------------------------------- hand-made tables
TWO = imported(
    {
        "ana": [("x",), ("x",), (), (), ("x", "y"), ()],
        "ben": [("x",), (), (), ("x",), ("x",), ("y",)],
    }
)
THREE = imported(
    {
        "ana": [("x",), ("x",), (), ()],
        "ben": [("x",), ("x",), ("x",), ()],
        "cy": [("x",), (), (), ()],
    }
)
# e0 by three reviewers, e1 and e2 by two of them, e3 by one (left out).
UNEVEN = frame(
    ("e0", "ana", ["x"]),
    ("e0", "ben", ["x"]),
    ("e0", "cy", []),
    ("e1", "ana", ["x"]),
    ("e1", "cy", ["x"]),
    ("e2", "ben", []),
    ("e2", "cy", []),
    ("e3", "ana", ["x"]),
)


@pytest.mark.parametrize(
    ("decisions", "tag", "expected"),
    [
        # x: agree on e0, e2, e4; ana 3/6 x, ben 3/6 x: p_e = 1/2, kappa = (1/2 - 1/2) / (1/2).
        (TWO, "x", {"examples": 6, "reviewers": 2, "method": "cohen", "po": 4 / 6, "kappa": 1 / 3}),
        # y: ana on e4, ben on e5: po 4/6, p_e = 1/6 * 1/6 + 25/36 = 26/36.
        (TWO, "y", {"examples": 6, "reviewers": 2, "method": "cohen", "po": 4 / 6, "kappa": -0.2}),
        # k = 3, 2, 1, 0 of 3: P_i = 1, 1/3, 1/3, 1; p = 1/2; kappa = (2/3 - 1/2) / (1/2).
        (
            THREE,
            "x",
            {"examples": 4, "reviewers": 3, "method": "fleiss", "po": 2 / 3, "kappa": 1 / 3},
        ),
        # n = 3, 2, 2; k = 2, 2, 0: P_i = 1/3, 1, 1; p = (2/3 + 1 + 0) / 3 = 5/9.
        (
            UNEVEN,
            "x",
            {
                "examples": 3,
                "reviewers": 3,
                "method": "fleiss",
                "po": 7 / 9,
                "kappa": (7 / 9 - (25 + 16) / 81) / (1 - (25 + 16) / 81),
            },
        ),
    ],
)
def test_agreement_per_tag_on_hand_made_decisions(decisions, tag, expected):
    got = row(tag_agreement(decisions, draws=200), tag)
    assert (got["examples"], got["reviewers"], got["method"]) == (
        expected["examples"],
        expected["reviewers"],
        expected["method"],
    )
    assert got["observed_agreement"] == pytest.approx(expected["po"])
    assert got["kappa"] == pytest.approx(expected["kappa"])
    assert got["kappa_low"] <= got["kappa"] <= got["kappa_high"]
    assert got["flagged"] is True and got["note"] is None


@pytest.mark.parametrize(
    ("decisions", "expected"),
    [
        # Nobody shares an example: nothing to compare.
        (
            frame(("a", "ana", ["x"]), ("b", "ben", [])),
            {"examples": 0, "reviewers": 0, "method": None, "note": NOTE_AGREEMENT_NO_PAIRS},
        ),
        # A second look that saw the tags does not count.
        (
            frame(("a", "ana", ["x"], "error"), ("a", "ben", ["x"], "error")),
            {"examples": 0, "reviewers": 0, "method": None, "note": NOTE_AGREEMENT_NO_PAIRS},
        ),
        # Both always give x: chance agreement is certain, kappa undefined.
        (
            frame(
                ("a", "ana", ["x"]), ("a", "ben", ["x"]), ("b", "ana", ["x"]), ("b", "ben", ["x"])
            ),
            {"examples": 2, "reviewers": 2, "method": "cohen", "note": NOTE_AGREEMENT_CONSTANT},
        ),
        (
            frame(("a", "ana", ["x"]), ("a", "ben", ["x"]), ("a", "cy", ["x"])),
            {"examples": 1, "reviewers": 3, "method": "fleiss", "note": NOTE_AGREEMENT_CONSTANT},
        ),
    ],
)
def test_kappa_is_nan_with_a_note_where_it_cannot_be_computed(decisions, expected):
    got = row(tag_agreement(decisions), "x")
    assert {k: got[k] for k in expected} == expected
    assert np.isnan([got["kappa"], got["kappa_low"], got["kappa_high"]]).all()
    assert got["flagged"] is False


def test_no_decisions_is_an_empty_table_with_the_columns():
    empty = frame()
    assert list(tag_agreement(empty).columns) == list(COLUMNS) and tag_agreement(empty).empty
    assert list(reviewer_agreement(empty).columns) == list(REVIEWER_COLUMNS)
    assert reviewer_agreement(empty).empty


def test_tags_named_are_reported_in_that_order_even_if_nobody_gave_them():
    table = tag_agreement(TWO, tags=["y", "never"])
    assert table["tag"].tolist() == ["y", "never"]
    assert row(table, "never")["note"] == NOTE_AGREEMENT_CONSTANT


@pytest.mark.parametrize(
    ("threshold", "flagged"),
    [(0.6, [True, True]), (0.0, [False, True]), (-0.25, [False, False]), (-1, [False, False])],
)
def test_flagged_is_kappa_below_the_threshold(threshold, flagged):
    assert tag_agreement(TWO, threshold=threshold)["flagged"].tolist() == flagged


# --------------------------------------------------------------------------- against oracles
def correlated(rng: np.random.Generator, n: int, raters: int, p: float, agree: float):
    """(n, raters) 0/1 decisions: each rater copies a shared truth with probability agree."""
    truth = rng.random(n) < p
    copies = rng.random((n, raters)) < agree
    return np.where(copies, truth[:, None], rng.random((n, raters)) < p).astype(int)


def as_decisions(matrix: np.ndarray, names: list[str]) -> pd.DataFrame:
    rows = [
        (f"e{i}", names[j], ["t"] if matrix[i, j] else [])
        for j in range(matrix.shape[1])
        for i in range(matrix.shape[0])
    ]
    return frame(*rows)


@pytest.mark.parametrize("seed", range(12))
def test_two_reviewers_kappa_is_scikit_learns(seed):
    rng = np.random.default_rng(seed)
    n, p, agree = int(rng.integers(5, 200)), rng.uniform(0.05, 0.9), rng.uniform(0, 1)
    matrix = correlated(rng, n, 2, p, agree)
    if len(set(matrix.ravel())) == 1:
        matrix[0, 0] = 1 - matrix[0, 0]
    got = row(tag_agreement(as_decisions(matrix, ["ana", "ben"]), draws=100), "t")
    assert got["method"] == "cohen" and got["examples"] == n
    assert got["kappa"] == pytest.approx(cohen_kappa_score(matrix[:, 0], matrix[:, 1]), abs=1e-12)
    assert got["observed_agreement"] == pytest.approx((matrix[:, 0] == matrix[:, 1]).mean())


@pytest.mark.parametrize("seed", range(12))
def test_more_reviewers_kappa_is_statsmodels_fleiss(seed):
    rng = np.random.default_rng(100 + seed)
    raters = int(rng.integers(3, 7))
    n, p, agree = int(rng.integers(5, 200)), rng.uniform(0.05, 0.9), rng.uniform(0, 1)
    matrix = correlated(rng, n, raters, p, agree)
    if len(set(matrix.ravel())) == 1:
        matrix[0, 0] = 1 - matrix[0, 0]
    names = [f"r{j}" for j in range(raters)]
    got = row(tag_agreement(as_decisions(matrix, names), draws=100), "t")
    counts = np.stack([raters - matrix.sum(axis=1), matrix.sum(axis=1)], axis=1)
    assert got["method"] == "fleiss" and got["reviewers"] == raters
    assert got["kappa"] == pytest.approx(fleiss_kappa(counts, method="fleiss"), abs=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_a_reviewers_kappa_is_scikit_learns_on_their_pairs_with_the_others(seed):
    rng = np.random.default_rng(200 + seed)
    matrix = correlated(rng, 60, 3, 0.4, 0.6)
    seen = rng.random((60, 3)) < 0.7  # not everyone decides every example
    rows = [
        (f"e{i}", f"r{j}", ["t"] if matrix[i, j] else [])
        for j in range(3)
        for i in range(60)
        if seen[i, j]
    ]
    table = reviewer_agreement(frame(*rows), draws=100).set_index("reviewer")
    for j in range(3):
        shared = seen[:, j] & (seen.sum(axis=1) >= 2)
        mine, theirs = [], []
        for i in np.flatnonzero(shared):
            for k in np.flatnonzero(seen[i]):
                if k != j:
                    mine.append(matrix[i, j])
                    theirs.append(matrix[i, k])
        got = table.loc[f"r{j}"]
        assert got["examples"] == shared.sum()
        assert got["kappa"] == pytest.approx(cohen_kappa_score(mine, theirs), abs=1e-12)
        assert got["observed_agreement"] == pytest.approx(np.mean(np.equal(mine, theirs)))


def test_per_reviewer_agreement_on_hand_made_decisions():
    decisions = pd.concat([TWO, frame(("z", "cy", ["x"]))], ignore_index=True).assign(
        review=lambda f: pd.array(range(1, len(f) + 1), dtype="int64")
    )
    table = reviewer_agreement(decisions, draws=200).set_index("reviewer")
    assert table.index.tolist() == ["ana", "ben", "cy"]
    # Pairs over x and y on six examples: 12 pairs, 8 agree; each gives a tag 4 times.
    for name in ("ana", "ben"):
        got = table.loc[name]
        assert (got["examples"], got["others"]) == (6, 1)
        assert got["observed_agreement"] == pytest.approx(8 / 12)
        chance = (4 / 12) ** 2 + (8 / 12) ** 2
        assert got["kappa"] == pytest.approx((8 / 12 - chance) / (1 - chance)) == 0.25
    cy = table.loc["cy"]
    assert (cy["examples"], cy["others"], cy["note"]) == (0, 0, NOTE_AGREEMENT_NO_OTHERS)
    assert np.isnan(cy["kappa"]) and cy["flagged"] is np.False_


# --------------------------------------------------------------------------- the interval
def test_the_interval_is_seeded_and_follows_level_and_draws():
    decisions = as_decisions(correlated(np.random.default_rng(1), 80, 2, 0.4, 0.7), ["a", "b"])
    first = tag_agreement(decisions, seed=3)
    pd.testing.assert_frame_equal(first, tag_agreement(decisions, seed=3))
    other = tag_agreement(decisions, seed=4)
    assert first.at[0, "kappa"] == other.at[0, "kappa"]
    assert first.at[0, "kappa_low"] != other.at[0, "kappa_low"]
    narrow = tag_agreement(decisions, level=0.5, seed=3)
    assert first.at[0, "kappa_low"] < narrow.at[0, "kappa_low"] < narrow.at[0, "kappa"]
    assert narrow.at[0, "kappa"] < narrow.at[0, "kappa_high"] < first.at[0, "kappa_high"]


@pytest.mark.parametrize(
    ("kappas", "kappa", "jackknife", "expected"),
    [
        # Resamples centred on the estimate, a symmetric jackknife: the plain percentiles.
        (np.linspace(-1, 1, 2001), 0.0, [-0.1, 0.1], [0.025, 0.975]),
        # One in ten resamples below the estimate: bias z0 = Phi^-1(0.1), no acceleration;
        # Phi(2 z0 -+ 1.96).
        (np.r_[np.zeros(100), np.ones(900)], 0.5, [-0.1, 0.1], [3.0475e-06, 0.27321]),
        # One example pulls kappa down: acceleration a = 0.024 / (6 * 0.12^1.5) = 0.0962;
        # Phi(z / (1 - a z)) for z = -+1.96.
        (np.linspace(-1, 1, 2001), 0.0, [-0.3, 0.1, 0.1, 0.1], [0.049577, 0.99214]),
    ],
)
def test_the_bca_percentiles(kappas, kappa, jackknife, expected):
    counts = np.ones(len(jackknife))
    levels = _bca_levels(kappas, kappa, np.array(jackknife), counts, 0.95)
    assert levels == pytest.approx(expected, rel=1e-3)


def test_a_tags_interval_does_not_depend_on_the_other_tags():
    alone = tag_agreement(TWO, tags=["x"])
    both = tag_agreement(TWO)
    pd.testing.assert_frame_equal(alone, both.iloc[:1])


# --------------------------------------------------------------------------- checks
@pytest.mark.parametrize(
    ("change", "options", "message"),
    [
        (lambda f: f.to_dict(), {}, "decisions must be a pandas DataFrame, got dict"),
        (lambda f: f.drop(columns="blind"), {}, r"decisions has no \['blind'\] columns"),
        (lambda f: f.assign(reviewer=None), {}, r"decisions\['reviewer'\] has missing values"),
        (lambda f: f.assign(blind=1), {}, r"decisions\['blind'\] must have a bool dtype"),
        (lambda f: f.assign(review=1.5), {}, r"decisions\['review'\] must hold integer review"),
        (lambda f: f.assign(review=1), {}, r"decisions\['review'\] lists review 1 twice"),
        (lambda f: f.assign(tags="x"), {}, r"a tuple of tag names per review, got 'x' at 0"),
        (lambda f: f, {"threshold": 2}, "threshold must be a number between -1 and 1, got 2"),
        (lambda f: f, {"threshold": "0.6"}, "threshold must be a number between -1 and 1"),
        (lambda f: f, {"level": 1.0}, "level must be between 0 and 1, got 1.0"),
        (lambda f: f, {"draws": 10}, "draws must be an integer of at least 100, got 10"),
        (lambda f: f, {"seed": -1}, "seed must be a non-negative integer, got -1"),
        (lambda f: f, {"tags": "x"}, "tags must be a list of tag names, got 'x'"),
        (lambda f: f, {"tags": ["x", "x"]}, "tags lists a tag twice"),
    ],
)
@pytest.mark.parametrize("analysis", [tag_agreement, reviewer_agreement])
def test_bad_input_is_a_value_error_naming_it(analysis, change, options, message):
    with pytest.raises(ValueError, match=message):
        analysis(change(TWO.copy()), **options)


def test_the_decisions_are_not_modified():
    before = UNEVEN.copy(deep=True)
    tag_agreement(UNEVEN)
    reviewer_agreement(UNEVEN)
    counted_decisions(UNEVEN)
    pd.testing.assert_frame_equal(UNEVEN, before)


def test_the_analyses_are_named_in_the_analysis_api():
    assert analyses.tag_agreement is tag_agreement
    assert analyses.reviewer_agreement is reviewer_agreement


# --------------------------------------------------------------------------- from the store
SHEET = "id,reviewer,tags\n0,ana,car\n1,ana,car;=cmd\n2,ana,\n3,ana,car\n0,ben,car\n1,ben,\n2,ben,=cmd\n3,ben,car\n4,ana,car\n"


@pytest.fixture
def reviewed(tmp_path) -> Path:
    """A project whose dev examples 0-3 ana and ben reviewed on one sheet, 4 ana alone."""
    path = tmp_path / "p.db"
    with open_project(path) as project:
        add_run(project, "dev", numbered_frame(6))
    sheet = tmp_path / "reviews.csv"
    sheet.write_text(SHEET)
    assert main(["reviews", "import", str(sheet), "--db", str(path), "--dataset", "dev"]) == 0
    return path


def test_the_agreement_command_writes_the_table_as_csv(reviewed, tmp_path, capsys):
    out = tmp_path / "agreement.csv"
    assert main(["agreement", "--db", str(reviewed), "--dataset", "dev", "--out", str(out)]) == 0
    assert "wrote 2 rows" in capsys.readouterr().err
    table = pd.read_csv(out, keep_default_na=False, na_values=[""])
    assert list(table.columns) == list(COLUMNS)
    # car: ana 1 1 0 1, ben 1 0 0 1 (kappa 0.5); =cmd: ana 0 1 0 0, ben 0 0 1 0.
    bounds = {"kappa_low": None, "kappa_high": None, "note": None}
    assert table.to_dict("list") | bounds == {
        "tag": ["'=cmd", "car"],  # formula-safe
        "examples": [4, 4],
        "reviewers": [2, 2],
        "method": ["cohen", "cohen"],
        "observed_agreement": [0.5, 0.75],
        "kappa": [-0.3333, 0.5],  # 4 significant digits, as export writes rates
        "kappa_low": None,
        "kappa_high": None,
        "flagged": [True, True],
        "note": None,
    }
    assert table["note"].isna().all()
    assert (table["kappa_low"] <= table["kappa"]).all()
    assert (table["kappa"] <= table["kappa_high"]).all()


def test_the_agreement_command_by_reviewer_and_with_a_threshold(reviewed, capsys):
    argv = ["agreement", "--db", str(reviewed), "--dataset", "dev"]
    assert main([*argv, "--threshold", "0.2", "--by", "reviewer"]) == 0
    table = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert table[["reviewer", "examples", "others"]].values.tolist() == [
        ["ana", 4, 1],
        ["ben", 4, 1],
    ]
    assert table["kappa"].tolist() == [0.25, 0.25] and not table["flagged"].any()
    assert main([*argv, "--threshold", "0.5"]) == 0
    assert pd.read_csv(io.StringIO(capsys.readouterr().out))["flagged"].tolist() == [True, False]


def test_export_agreement_is_the_same_table(reviewed, tmp_path, capsys):
    out = tmp_path / "export.csv"
    argv = ["--db", str(reviewed), "--dataset", "dev", "--by", "reviewer"]
    assert main(["export", "agreement", *argv, "--out", str(out)]) == 0
    assert main(["agreement", *argv]) == 0
    assert out.read_text("utf-8").splitlines() == capsys.readouterr().out.splitlines()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--threshold", "2"], "error: agreement: threshold must be a number between -1 and 1"),
        (["--dataset", "nope"], "error: no dataset named 'nope'"),
        (["--run", "main"], "unrecognized arguments: --run main"),
    ],
)
def test_the_agreement_command_refuses_bad_arguments(reviewed, capsys, argv, message):
    before = reviewed.read_bytes()
    with contextlib.suppress(SystemExit):
        assert main(["agreement", "--db", str(reviewed), "--dataset", "dev", *argv]) == 1
    assert message in capsys.readouterr().err
    assert reviewed.read_bytes() == before


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--run", "main"], "export agreement is of the whole dataset; it does not take a run"),
        (["--by", "tags"], "agreement is by one of tag, reviewer, got 'tags'"),
        (["--threshold", "-3"], "export agreement: threshold must be a number between -1 and 1"),
    ],
)
def test_export_agreement_refuses_bad_options(reviewed, tmp_path, capsys, argv, message):
    out = tmp_path / "out.csv"
    command = ["export", "agreement", "--db", str(reviewed), "--dataset", "dev", "--out", str(out)]
    assert main([*command, *argv]) == 1
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_a_double_reviewed_sheet_imported_counts(tmp_path):
    with open_project(tmp_path / "p.db") as project:
        add_run(project, "dev", numbered_frame(6))
        store = project.dataset("dev")
        store.record_review("5", reviewer="ana", tags=["x"])  # in the app, nobody else on it
        store.record_reviews(
            pd.DataFrame(
                {"id": [str(i) for i in range(4)] * 2, "reviewer": ["ana"] * 4 + ["ben"] * 4}
            ),
            tags=[["x"], ["x"], [], ["y"], ["x"], [], [], ["y"]],
            exact=True,
        )
        store.record_review("5", reviewer="ben", tags=["x"])  # saw ana's tag: left out
        decisions = store.decisions()
    table = tag_agreement(decisions).set_index("tag")
    assert table["examples"].tolist() == [4, 4]
    assert table["reviewers"].tolist() == [2, 2]
    # x: ana 1 1 0 0, ben 1 0 0 0; y: both on 3 only.
    assert table.at["x", "kappa"] == pytest.approx(cohen_kappa_score([1, 1, 0, 0], [1, 0, 0, 0]))
    assert table.at["y", "kappa"] == pytest.approx(1.0)
    assert table.at["y", "observed_agreement"] == 1.0
    reviewers = reviewer_agreement(decisions).set_index("reviewer")
    assert reviewers["examples"].tolist() == [4, 4]
