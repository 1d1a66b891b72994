"""The project store: events, current state, undo, reviews, concurrency and migrations."""

from __future__ import annotations

import json
import os
import random
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal
from store_support import add_run

from erroranalysis.sampling import Draw
from erroranalysis.store import (
    SCHEMA_VERSION,
    Project,
    ProjectBusy,
    StoreError,
    open_project,
)
from erroranalysis.store import staging as staging_module
from erroranalysis.store import tags as tags_module
from erroranalysis.store.common import _frame_to_blob, now
from erroranalysis.vocabulary import TAG_SEPARATOR


def frame(ids, correct=None):
    ids = [str(i) for i in ids]
    correct = correct if correct is not None else [i % 3 != 0 for i in range(len(ids))]
    return pd.DataFrame(
        {
            "id": ids,
            "label": ["a"] * len(ids),
            "prediction": ["a" if c else "b" for c in correct],
            "correct": correct,
        }
    )


def add_dataset(project: Project, name="dev", ids=range(10), **options) -> None:
    add_run(project, name, frame(ids), **options)


@pytest.fixture
def project(tmp_path):
    with open_project(tmp_path / "project.db") as p:
        add_dataset(p)
        yield p


def current(project, dataset="dev"):
    return project.dataset(dataset).tag_assignments()[["example_id", "tag"]]


def assert_replays(project, dataset="dev"):
    """Replaying the dataset's tag events gives its current tags."""
    assert_frame_equal(
        project.dataset(dataset).replay_tags(), current(project, dataset).reset_index(drop=True)
    )


def test_new_file_is_wal_at_current_schema(tmp_path):
    with open_project(tmp_path / "p.db") as p:
        assert p.schema_version == SCHEMA_VERSION
        assert p._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert p._conn.execute("PRAGMA busy_timeout").fetchone()[0] > 0


def test_set_tag_logs_an_event_and_changes_state(project):
    before = project.revision()
    action = project.dataset("dev").set_tag("1", "car noise", actor="ana")
    assert action is not None
    assert project.dataset("dev").example_tags("1") == ["car noise"]
    events = project.dataset("dev").tag_events()
    assert events[["example_id", "tag", "op", "actor"]].values.tolist() == [
        ["1", "car noise", "add", "ana"]
    ]
    assert project.revision() > before


def test_setting_the_same_state_logs_nothing(project):
    project.dataset("dev").set_tag("1", "car noise", actor="ana")
    assert project.dataset("dev").set_tag("1", "car noise", actor="ben") is None
    assert project.dataset("dev").set_tag("2", "car noise", False, actor="ben") is None
    assert len(project.dataset("dev").tag_events()) == 1


@pytest.mark.parametrize(
    ("example", "tag", "message"),
    [
        ("nope", "x", "no example with id 'nope'"),
        ("1", "", "tag name is empty"),
        ("1", "a\x00b", "control characters"),
        ("1", "x" * 101, "longer than 100"),
    ],
)
def test_bad_tag_requests_are_refused(project, example, tag, message):
    with pytest.raises(StoreError, match=message):
        project.dataset("dev").set_tag(example, tag, actor="ana")
    assert project.dataset("dev").tag_events().empty


def test_unknown_dataset_names_the_known_ones(project):
    with pytest.raises(StoreError, match="no dataset named 'test'.*datasets: dev"):
        project.dataset("test").set_tag("1", "x", actor="ana")


def test_undo_reverts_the_reviewers_last_action_only(project):
    project.dataset("dev").set_tag("1", "car noise", actor="ana")
    project.dataset("dev").set_tag("2", "car noise", actor="ben")
    project.dataset("dev").set_tag("1", "car noise", False, actor="ana")
    undone = project.dataset("dev").undo(actor="ana")
    assert undone["kind"] == "tag" and undone["detail"]["op"] == "remove"
    assert sorted(current(project).example_id) == ["1", "2"]
    project.dataset("dev").undo(actor="ana")  # then the add
    assert current(project).example_id.tolist() == ["2"]
    assert project.dataset("dev").undo(actor="ana") is None
    # the log only grew: 3 actions and 2 undos of them
    assert project.dataset("dev").tag_events().op.tolist() == [
        "add",
        "add",
        "remove",
        "add",
        "remove",
    ]
    assert_replays(project)


def test_review_sets_tags_exactly_and_records_stratum(project):
    project.dataset("dev").set_tag("3", "old", actor="ana")
    project.dataset("dev").record_review(
        "3",
        reviewer="ben",
        tags=["car noise", "blurry"],
        note="engine hum",
        label_wrong=True,
        corrected_label="c",
        queue="errors",
    )
    assert project.dataset("dev").example_tags("3") == ["blurry", "car noise"]
    review = project.dataset("dev").reviews().iloc[0]
    assert (review.example_id, review.reviewer, review.stratum) == ("3", "ben", "error")
    assert (review.note, review.label_wrong, review.corrected_label) == ("engine hum", True, "c")
    project.dataset("dev").undo(actor="ben")
    assert project.dataset("dev").example_tags("3") == ["old"]
    assert project.dataset("dev").reviews().empty
    assert len(project.dataset("dev").reviews(include_retracted=True)) == 1


def test_reviews_import_is_one_undoable_action(project):
    reviews = pd.DataFrame({"id": ["0", "1", "2"], "reviewer": ["ana", "ana", "ben"]})
    project.dataset("dev").record_reviews(reviews, tags=[["x"], [], ["x", "y"]], actor="lead")
    assert project.dataset("dev").reviews().stratum.tolist() == ["error", "correct", "correct"]
    assert sorted(map(tuple, current(project).values.tolist())) == [
        ("0", "x"),
        ("2", "x"),
        ("2", "y"),
    ]
    project.dataset("dev").undo(actor="lead")
    assert current(project).empty and project.dataset("dev").reviews().empty


def test_reimport_needs_replace_and_keeps_tags_of_surviving_ids(project):
    project.dataset("dev").set_tag("1", "keep", actor="ana")
    project.dataset("dev").set_tag("9", "gone", actor="ana")
    project.dataset("dev").record_review("9", reviewer="ana")
    with pytest.raises(StoreError, match="--replace"):
        add_dataset(project, ids=range(5))
    add_dataset(project, ids=range(5), replace=True)
    assert current(project).values.tolist() == [["1", "keep"]]
    assert project.dataset("dev").reviews().empty
    assert_replays(project)
    assert project.dataset("dev").runs()[0].n_examples == 5


@pytest.mark.parametrize(
    ("ids", "other_run", "kept"),
    [
        (range(10), None, ["1", "9"]),  # the same ids in the same order: none goes
        (reversed(range(10)), None, ["1", "9"]),  # the same set in another order
        (range(5), None, ["1"]),  # 9 is in no run any more
        (range(5), range(8, 10), ["1", "9"]),  # 9 is still in run v2
    ],
    ids=["same", "reordered", "fewer", "kept-by-another-run"],
)
def test_a_replace_keeps_the_tags_of_every_id_some_run_still_holds(project, ids, other_run, kept):
    if other_run is not None:
        add_dataset(project, ids=other_run, run="v2")
    for example in ("1", "9"):
        project.dataset("dev").set_tag(example, "keep", actor="ana")
    add_dataset(project, ids=ids, replace=True)
    assert sorted(current(project)["example_id"]) == kept
    assert_replays(project)


def test_a_replace_on_the_same_ids_does_not_hash_them(project, monkeypatch):
    # The usual replace (a model run again on the same examples) is one pass over the ids.
    def hashed(*args, **kwargs):
        raise AssertionError("the run's ids were indexed")

    project.dataset("dev").set_tag("1", "keep", actor="ana")
    with monkeypatch.context() as patched:
        patched.setattr(Project, "run_index", hashed)
        add_dataset(project, replace=True)
    assert current(project).values.tolist() == [["1", "keep"]]


def test_a_second_run_of_the_same_examples_shares_tags(project):
    project.dataset("dev").set_tag("1", "x", actor="ana")
    add_dataset(project, run="v2")
    assert [r.name for r in project.dataset("dev").runs()] == ["main", "v2"]
    assert project.dataset("dev").run().name == "v2"
    assert project.dataset("dev").example_tags("1") == ["x"]


def test_rename_merge_delete_are_logged_and_replay(project):
    for example in ("1", "2"):
        project.dataset("dev").set_tag(example, "car", actor="ana")
    project.dataset("dev").set_tag("2", "vehicle noise", actor="ana")
    project.dataset("dev").set_tag("3", "blur", actor="ana")
    project.rename_tag("car", "car noise", actor="lead")
    assert project.merge_tags("vehicle noise", "car noise", actor="lead") == 1
    assert project.delete_tag("blur", actor="lead") == 1
    assert sorted(current(project).values.tolist()) == [["1", "car noise"], ["2", "car noise"]]
    assert project.tag_definitions().tag.tolist() == ["car noise"]
    assert_replays(project)
    kinds = project.actions().kind.tolist()
    assert {"rename_tag", "merge_tags", "delete_tag"} <= set(kinds)


@pytest.mark.parametrize(
    ("options", "message"),
    [({"hlp": 1.5}, r"HLP .* \[0, 1\]"), ({"effort": 0}, "effort .* positive")],
)
def test_tag_definitions_are_checked(project, options, message):
    with pytest.raises(StoreError, match=message):
        project.define_tag("x", actor="lead", **options)


def test_define_tag_updates_and_clears(project):
    project.define_tag("car noise", actor="lead", hlp=0.93, effort=2, description="engine hum")
    project.define_tag("car noise", actor="lead", clear=["hlp"])
    row = project.tag_definitions().iloc[0]
    assert (row.tag, row.effort, row.description) == ("car noise", 2.0, "engine hum")
    assert pd.isna(row.hlp)


def test_a_project_stays_on_its_thread(project):
    errors = []

    def write():
        try:
            project.dataset("dev").set_tag("1", "x", actor="ana")
        except Exception as err:  # noqa: BLE001 - the error is the point
            errors.append(err)

    worker = threading.Thread(target=write)
    worker.start()
    worker.join()
    assert errors and isinstance(errors[0], StoreError | sqlite3.ProgrammingError)


def in_thread(work):
    """``work()`` on a thread of its own: what it returned, or the exception it raised."""
    outcome = []

    def run():
        try:
            outcome.append(work())
        except Exception as err:  # noqa: BLE001 - the caller looks at it
            outcome.append(err)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    return outcome[0]


def test_a_lendable_project_moves_to_the_thread_it_is_lent_to(tmp_path):
    with open_project(tmp_path / "lent.db", lendable=True) as lent:
        add_dataset(lent)

        def tag_there():
            assert lent.lend_to_this_thread()
            lent.dataset("dev").set_tag("1", "x", actor="ana")
            return lent.dataset("dev").tag_assignments()["tag"].tolist()

        assert in_thread(tag_there) == ["x"]
        # Lent away, it writes nowhere else until it is lent back.
        with pytest.raises(StoreError, match="bound to the thread"):
            lent.dataset("dev").set_tag("2", "x", actor="ana")
        assert lent.lend_to_this_thread()
        lent.dataset("dev").set_tag("2", "x", actor="ana")
        assert sorted(current(lent)["example_id"]) == ["1", "2"]


def test_a_project_not_opened_lendable_is_never_lent(project):
    with pytest.raises(StoreError, match="not opened lendable"):
        project.lend_to_this_thread()


@pytest.mark.parametrize("change", ["replaced", "moved", "removed"])
def test_a_project_whose_file_changed_is_not_lent(tmp_path, change):
    path = tmp_path / "lent.db"
    with open_project(path, lendable=True) as lent:
        add_dataset(lent)
        if change == "replaced":
            with open_project(tmp_path / "other.db") as other:
                add_dataset(other, "other")
            os.replace(tmp_path / "other.db", path)
        elif change == "moved":
            os.replace(path, tmp_path / "elsewhere.db")
        else:
            path.unlink()
        assert in_thread(lent.lend_to_this_thread) is False
        assert lent.lend_to_this_thread() is False
        assert lent.dataset_names() == ["dev"]  # still the file it opened, for closing


# ---------------------------------------------------------------- concurrency
@pytest.mark.slow
def test_concurrent_processes_lose_no_event(tmp_path):
    path = tmp_path / "shared.db"
    with open_project(path) as p:
        add_dataset(p)
    worker = Path(__file__).with_name("tag_worker.py")
    workers = [
        subprocess.Popen([sys.executable, str(worker), str(path), str(seed), "150"])
        for seed in range(4)
    ]
    assert [w.wait(timeout=120) for w in workers] == [0, 0, 0, 0]
    with open_project(path) as p:
        events = p.dataset("dev").tag_events()
        state = p.dataset("dev").tag_assignments()[["example_id", "tag"]].reset_index(drop=True)
        assert_frame_equal(p.dataset("dev").replay_tags(), state)
        # Every event changed the state it saw: adds and removes alternate per (example, tag).
        for _, group in events.groupby(["example_id", "tag"]):
            ops = group.op.tolist()
            assert ops[0] == "add"
            assert all(a != b for a, b in zip(ops, ops[1:], strict=False))
        # 4 writers × 150 requests; every one that changed something is in the log.
        assert set(events.actor) == {"r0", "r1", "r2", "r3"}
        assert p.revision() == len(events) + 1  # +1 for the import


# ---------------------------------------------------------------- migrations
def test_migration_from_version_1_keeps_data(tmp_path):
    path = tmp_path / "old.db"
    old = Project(path, migrate=False)
    old.migrate(to=1)
    assert old.schema_version == 1
    # What version 1 wrote: a dataset, a run, a tag, one tag event and a review.
    blob = pd.DataFrame({"id": ["1"], "label": ["a"], "prediction": ["b"], "correct": [False]})
    with old.write() as conn:
        conn.execute("INSERT INTO datasets VALUES (1, 'dev', '2026-01-01', 'ana')")
        conn.execute(
            "INSERT INTO runs VALUES (1, 1, 'main', 'dev.csv', 'csv', NULL, 1, 1, '[]', '[]',"
            " '2026-01-01', 'ana', ?)",
            (_frame_to_blob(blob),),
        )
        for statement in (
            "INSERT INTO tags VALUES (1, 'car noise', '', 0.9, NULL, '2026-01-01', 'ana')",
            "INSERT INTO actions VALUES (1, 1, 'tag', 'ana', '2026-01-01', NULL, '{}')",
            "INSERT INTO tag_events VALUES (1, 1, 1, '1', 1, 'add', 'ana', '2026-01-01')",
            "INSERT INTO tag_assignments VALUES (1, '1', 1, 'ana', '2026-01-01')",
            "INSERT INTO reviews VALUES (1, 1, 1, 1, '1', 'ana', '2026-01-01', 'error', NULL)",
        ):
            conn.execute(statement)
    old.close()
    with open_project(path) as p:
        assert p.schema_version == SCHEMA_VERSION
        assert p.dataset("dev").example_tags("1") == ["car noise"]
        assert p.tag_definitions().hlp.tolist() == [0.9]
        assert p.dataset("dev").reviews().note.tolist() == [""]
        p.dataset("dev").record_review("1", reviewer="ben", note="new in v2")
        assert p.dataset("dev").reviews().note.tolist() == ["", "new in v2"]
        p.delete_tag("car noise", actor="ben")
        assert_replays(p)


def test_a_newer_file_is_refused(tmp_path):
    path = tmp_path / "future.db"
    with open_project(path) as p:
        p._conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="upgrade"):
        open_project(path)


# ---------------------------------------------------------------- round trip
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["0", "1", "2"]),
            st.text(
                st.characters(
                    exclude_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"),
                    exclude_characters=TAG_SEPARATOR,  # no tag name holds it
                ),
                min_size=1,
                max_size=20,
            ).filter(lambda s: s.strip()),
            st.booleans(),
        ),
        max_size=25,
    )
)
def test_what_you_tag_you_read_back(project, operations):
    expected: set[tuple[str, str]] = {tuple(r) for r in current(project).values.tolist()}
    for example, tag, present in operations:
        project.dataset("dev").set_tag(example, tag, present, actor="ana")
        (expected.add if present else expected.discard)((example, tag.strip()))
    assert {tuple(r) for r in current(project).values.tolist()} == expected
    assert {tuple(r) for r in project.dataset("dev").replay_tags().values.tolist()} == expected


# ---------------------------------------------------------------- one transaction each
def definitions(*rows):
    return pd.DataFrame(rows, columns=["tag", "hlp", "effort", "description"])


def begins(project, write) -> int:
    """How many write transactions ``write(project)`` takes."""
    statements = []
    project._conn.set_trace_callback(statements.append)
    try:
        write(project)
    finally:
        project._conn.set_trace_callback(None)
    return sum(s.strip().upper() == "BEGIN IMMEDIATE" for s in statements)


WRITES = {
    "set_tag": lambda p: p.dataset("dev").set_tag("1", "x", actor="ana"),
    "define_tag": lambda p: p.define_tag("x", actor="ana", hlp=0.5),
    "define_tags": lambda p: p.define_tags(
        definitions(*[(f"t{i}", 0.5, 1.0, "") for i in range(50)]), actor="ana"
    ),
    "rename_tag": lambda p: p.rename_tag("seed", "seeded", actor="ana"),
    "merge_tags": lambda p: p.merge_tags("seed", "other", actor="ana"),
    "delete_tag": lambda p: p.delete_tag("seed", actor="ana"),
    "record_review": lambda p: p.dataset("dev").record_review("4", reviewer="ana", tags=["x"]),
    "record_reviews": lambda p: p.dataset("dev").record_reviews(
        pd.DataFrame({"id": ["1", "2"], "reviewer": ["a", "b"]}), tags=[["x"], ["y"]]
    ),
    "undo": lambda p: p.dataset("dev").undo(actor="ana"),
    "import_run": lambda p: add_dataset(p, ids=range(8), replace=True),
    "import_run new": lambda p: add_dataset(p, name="test"),
}


@pytest.mark.parametrize("write", WRITES.values(), ids=WRITES.keys())
def test_every_public_write_is_one_transaction(project, write):
    for example in ("1", "9"):
        project.dataset("dev").set_tag(example, "seed", actor="ana")
    project.dataset("dev").set_tag("9", "other", actor="ana")
    assert begins(project, write) == 1
    assert_replays(project)


def test_a_bad_row_of_definitions_applies_nothing(project):
    table = definitions(("a", 0.5, 1.0, ""), ("b", 0.6, 1.0, ""), ("c", 1.5, 1.0, ""))
    with pytest.raises(StoreError, match=r"HLP of 'c' must be in \[0, 1\]"):
        project.define_tags(table, actor="lead")
    assert project.tag_definitions().empty
    assert project.actions().kind.tolist() == ["import"]


def test_definitions_that_fail_inside_the_transaction_apply_nothing(project, monkeypatch):
    monkeypatch.setattr(tags_module, "MAX_TAGS", 3)
    project.define_tag("a", actor="lead", hlp=0.1)
    revision = project.revision()
    table = definitions(
        ("a", 0.9, 1.0, "changed"), ("b", 0.5, 1.0, ""), ("c", 0.5, 1.0, ""), ("d", 0.5, 1.0, "")
    )
    with pytest.raises(StoreError, match="already has 3 tags"):
        project.define_tags(table, actor="lead")  # fails on row 4, after 3 applied rows
    assert project.tag_definitions()[["tag", "hlp", "description"]].values.tolist() == [
        ["a", 0.1, ""]
    ]
    assert project.revision() == revision
    assert project.actions().kind.tolist().count("define_tag") == 1


def test_merge_moves_each_example_once(project):
    for example in ("1", "2"):
        project.dataset("dev").set_tag(example, "car", actor="ana")
    project.dataset("dev").set_tag("2", "vehicle", actor="ana")
    assert project.merge_tags("car", "vehicle", actor="lead") == 2
    merge = project.dataset("dev").tag_events().iloc[3:]
    assert sorted(zip(merge.example_id, merge.tag, merge.op, strict=True)) == [
        ("1", "car", "remove"),
        ("1", "vehicle", "add"),
        ("2", "car", "remove"),
    ]
    assert current(project).values.tolist() == [["1", "vehicle"], ["2", "vehicle"]]


# ---------------------------------------------------------------- the project's tag limit
@pytest.fixture
def full_project(project, monkeypatch):
    """A project at a tag limit of 4, with 4 tags (one of them deleted and re-creatable)."""
    monkeypatch.setattr(tags_module, "MAX_TAGS", 4)
    project.define_tags(definitions(*[(t, 0.5, 1.0, "") for t in "abcd"]), actor="lead")
    return project


@pytest.mark.parametrize(
    "arrival",
    [
        lambda p: p.dataset("dev").set_tag("1", "new", actor="ana"),
        lambda p: p.define_tag("new", actor="ana"),
        lambda p: p.dataset("dev").record_review("1", reviewer="ana", tags=["a", "new"]),
        lambda p: p.dataset("dev").record_reviews(
            pd.DataFrame({"id": ["1"], "reviewer": ["ana"]}), tags=[["new"]]
        ),
        lambda p: add_run(p, "other", frame(range(3)), source="o.csv", dataset_tags=["new"]),
    ],
    ids=["set_tag", "define_tag", "record_review", "record_reviews", "import dataset tag"],
)
def test_the_tag_limit_holds_however_a_tag_arrives(full_project, arrival):
    before = (full_project.revision(), len(full_project.actions()))
    with pytest.raises(StoreError, match="already has 4 tags, the most it can hold; tag 'new'"):
        arrival(full_project)
    assert full_project.tag_definitions().tag.tolist() == list("abcd")
    assert (full_project.revision(), len(full_project.actions())) == before
    full_project.dataset("dev").set_tag("1", "a", actor="ana")  # existing tags still work


def test_a_deleted_tag_frees_its_place_and_counts_when_it_comes_back(full_project):
    full_project.delete_tag("d", actor="lead")
    full_project.dataset("dev").set_tag("1", "e", actor="ana")
    with pytest.raises(StoreError, match="tag 'd' was not created"):
        full_project.dataset("dev").set_tag("1", "d", actor="ana")


def test_the_tag_count_is_read_once_per_transaction(project):
    statements = []
    project._conn.set_trace_callback(statements.append)
    project.define_tags(definitions(*[(f"t{i}", 0.5, 1.0, "") for i in range(200)]), actor="x")
    project._conn.set_trace_callback(None)
    assert sum("count(*) FROM tags" in s for s in statements) == 1


# ---------------------------------------------------------------- staged review imports
def many_reviews(n: int, *, tagged_every: int = 3):
    reviews = pd.DataFrame(
        {
            "id": [str(i) for i in range(n)],
            "reviewer": [f"r{i % 3}" for i in range(n)],
            "note": ["n" if i % 5 == 0 else None for i in range(n)],
        }
    )
    tags = [[f"t{i % 4}", "common"] if i % tagged_every == 0 else [] for i in range(n)]
    return reviews, tags


def after_each_stage(monkeypatch, hook) -> None:
    """Run ``hook(project, stage)`` after every staging transaction of a review import, as
    another reviewer acting in between them would."""
    original = Project._staged_write

    def staged_write(self, stage, write):
        original(self, stage, write)
        hook(self, stage)

    monkeypatch.setattr(Project, "_staged_write", staged_write)


@pytest.fixture
def big_project(tmp_path):
    with open_project(tmp_path / "big.db") as p:
        add_dataset(p, ids=range(500))
        yield p


def test_a_staged_import_equals_a_direct_one(big_project, tmp_path, monkeypatch):
    reviews, tags = many_reviews(500)
    big_project.dataset("dev").set_tag("0", "common", actor="ana")  # already there: no event
    with open_project(tmp_path / "direct.db") as direct:
        add_dataset(direct, ids=range(500))
        direct.dataset("dev").set_tag("0", "common", actor="ana")
        direct.dataset("dev").record_reviews(reviews, tags=tags, actor="lead")
        expected = (
            direct.dataset("dev").reviews(),
            current(direct),
            len(direct.dataset("dev").tag_events()),
        )
    # 500 reviews in 8 staging transactions, 334 tag pairs (2 on 167 examples) in 6
    monkeypatch.setattr(staging_module, "STAGE_ROWS", 64)
    statements = []
    big_project._conn.set_trace_callback(statements.append)
    action = big_project.dataset("dev").record_reviews(reviews, tags=tags, actor="lead")
    big_project._conn.set_trace_callback(None)
    assert sum(s == "BEGIN IMMEDIATE" for s in statements) == 1 + 8 + 6 + 1
    cols = ["example_id", "reviewer", "stratum", "note", "queue"]
    assert_frame_equal(big_project.dataset("dev").reviews()[cols], expected[0][cols])
    assert_frame_equal(current(big_project), expected[1])
    assert len(big_project.dataset("dev").tag_events()) == expected[2]
    assert_replays(big_project)
    assert big_project._conn.execute("SELECT count(*) FROM pending_actions").fetchone()[0] == 0
    assert big_project.dataset("dev").undo(actor="lead")["action"] == action
    assert big_project.dataset("dev").reviews().empty
    assert current(big_project).values.tolist() == [["0", "common"]]


def test_a_staged_import_that_fails_leaves_nothing(big_project, monkeypatch):
    monkeypatch.setattr(staging_module, "STAGE_ROWS", 50)
    reviews, tags = many_reviews(500)
    original = Project._staged_write
    calls = []

    def failing(self, stage, write):
        calls.append(stage)
        if len(calls) == 14:  # 10 transactions of reviews, then the tags'
            raise KeyboardInterrupt  # the user pressed Ctrl-C mid-import
        original(self, stage, write)

    monkeypatch.setattr(Project, "_staged_write", failing)
    before = big_project.revision()
    with pytest.raises(KeyboardInterrupt):
        big_project.dataset("dev").record_reviews(reviews, tags=tags, actor="lead")
    counts = [
        big_project._conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
        for t in ("reviews", "pending_actions", "tag_events")
    ]
    assert counts == [0, 0, 0]
    assert big_project.actions().kind.tolist() == ["import"]
    assert big_project.revision() == before


def stage_by_hand(project, pid: int, *, rows: int = 30, touched: str | None = None) -> int:
    """What a review import killed mid-way leaves: a pending action, reviews, tag events
    and tag assignments marked pending."""
    stamp = now()
    with project.write() as conn:
        conn.execute(
            "INSERT INTO actions (dataset_id, kind, actor, at) VALUES (1, 'reviews_import', 'x', ?)",
            (stamp,),
        )
        action = conn.execute("SELECT max(id) FROM actions").fetchone()[0]
        conn.execute(
            "INSERT INTO pending_actions VALUES (?, ?, ?, ?, ?)",
            (action, pid, socket.gethostname(), stamp, touched or stamp),
        )
        conn.executemany(
            "INSERT INTO reviews (action_id, dataset_id, run_id, example_id, reviewer, at,"
            " stratum) VALUES (?, 1, 1, ?, 'x', ?, 'error')",
            [(action, str(i), stamp) for i in range(rows)],
        )
        tag = project._tag_id(conn, "staged", "x", stamp, create=True)
        conn.executemany(
            "INSERT INTO tag_events (action_id, dataset_id, example_id, tag_id, op, actor, at)"
            " VALUES (?, 1, ?, ?, 'add', 'x', ?)",
            [(action, str(i), tag, stamp) for i in range(rows)],
        )
        conn.executemany(
            "INSERT INTO tag_assignments VALUES (1, ?, ?, 'x', ?, ?)",
            [(str(i), tag, stamp, action) for i in range(rows)],
        )
    return action


def dead_pid() -> int:
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(child.stdout)


@pytest.mark.parametrize(
    ("pid", "touched", "removed"),
    [
        (dead_pid, None, True),
        (os.getpid, None, False),  # alive: still being written
        (os.getpid, "2020-01-01T00:00:00.000+00:00", True),  # silent for years
    ],
    ids=["dead process", "live process", "silent process"],
)
def test_an_abandoned_stage_is_invisible_and_removed_by_the_next_writer(
    big_project, pid, touched, removed
):
    action = stage_by_hand(big_project, pid(), touched=touched)
    assert big_project.dataset("dev").reviews().empty
    assert action not in big_project.actions().id.tolist()
    assert big_project.dataset("dev").undo(actor="x") is None
    assert current(big_project).empty and big_project.dataset("dev").tag_events().empty
    assert big_project.dataset("dev").example_tags("3") == []
    with open_project(big_project.path, readonly=True) as reader:
        assert reader.dataset("dev").reviews().empty and current(reader).empty
    with open_project(big_project.path) as writer:
        raw = [
            writer._conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("reviews", "tag_events", "tag_assignments", "pending_actions")
        ]
        assert raw == ([0, 0, 0, 0] if removed else [30, 30, 30, 1])
        assert writer.dataset("dev").reviews().empty and current(writer).empty
        writer.dataset("dev").set_tag("3", "staged", actor="ben")  # takes the staged row's place
        assert writer.dataset("dev").example_tags("3") == ["staged"]
        assert_replays(writer)


def test_a_run_reimported_while_reviews_are_staged_records_nothing(big_project, monkeypatch):
    monkeypatch.setattr(staging_module, "STAGE_ROWS", 100)
    reviews, tags = many_reviews(500)

    def reimport_midway(self, stage):
        if not hasattr(reimport_midway, "done"):
            reimport_midway.done = True
            with open_project(self.path) as other:
                add_dataset(other, ids=range(500), replace=True)

    after_each_stage(monkeypatch, reimport_midway)
    with pytest.raises(StoreError, match="was re-imported while the reviews were being recorded"):
        big_project.dataset("dev").record_reviews(reviews, tags=tags, actor="lead")
    assert big_project._conn.execute("SELECT count(*) FROM reviews").fetchone()[0] == 0
    assert current(big_project).empty


def test_exact_reviews_end_with_the_last_row_of_each_example(project):
    project.dataset("dev").set_tag("1", "old", actor="ana")
    reviews = pd.DataFrame({"id": ["1", "2", "1"], "reviewer": ["ana", "ben", "cy"]})
    project.dataset("dev").record_reviews(
        reviews, tags=[["a"], ["b"], ["c"]], exact=True, actor="lead"
    )
    assert current(project).values.tolist() == [["1", "c"], ["2", "b"]]
    assert set(project.dataset("dev").tag_assignments().actor) == {"ben", "cy"}
    assert_replays(project)
    assert len(project.dataset("dev").reviews()) == 3


@pytest.mark.slow
def test_a_reviewer_is_not_locked_out_by_a_long_reviews_import(tmp_path):
    path = tmp_path / "shared.db"
    n = 200_000
    with open_project(path) as p:
        add_dataset(p, ids=range(n))
        p.dataset("dev").set_tag("0", "warm", actor="w")
    waits: list[float] = []
    stop = threading.Event()

    def reviewer():
        with open_project(path, timeout=30) as mine:
            mine.dataset("dev").example_ids()  # warm the id index, as a running app has
            i = 0
            while not stop.is_set():
                start = time.perf_counter()
                mine.dataset("dev").set_tag(str(i % n), "seen", bool(i % 2 == 0), actor="rev")
                waits.append(time.perf_counter() - start)
                i += 1
                time.sleep(0.02)

    worker = threading.Thread(target=reviewer)
    reviews, tags = many_reviews(n, tagged_every=2)
    with open_project(path) as importer:
        worker.start()
        time.sleep(0.3)
        importer.dataset("dev").record_reviews(reviews, tags=tags, actor="lead")
        stop.set()
        worker.join()
        assert len(importer.dataset("dev").reviews()) == n
    assert len(waits) > 20
    print("WAITS", len(waits), sorted(waits)[-5:])
    assert max(waits) < 1.5, sorted(waits)[-5:]


def alternates(events) -> bool:
    """Every logged event changed the state: per (example, tag), add and remove alternate."""
    return all(
        group.op.iloc[0] == "add"
        and all(a != b for a, b in zip(group.op, group.op[1:], strict=False))
        for _, group in events.groupby(["example_id", "tag"])
    )


@pytest.mark.parametrize("exact", [False, True])
def test_tags_changed_by_others_while_an_import_is_staged(big_project, monkeypatch, exact):
    """Pairs another reviewer changes during staging are decided again when the import
    completes: the import wins where it says a tag is present (it completed last), the
    log replays to the state, and every event is still a real change."""
    monkeypatch.setattr(staging_module, "STAGE_ROWS", 50)
    reviews, tags = many_reviews(300)  # examples 0, 3, 6, ... get "common" and t0..t3
    big_project.dataset("dev").set_tag("9", "common", actor="ana")  # there before: no event needed

    def others_meanwhile(self, stage):
        staged = self._conn.execute(
            "SELECT count(*) FROM tag_events WHERE action_id = ? AND example_id IN ('0', '3')"
            " AND tag_id = (SELECT id FROM tags WHERE name = 'common')",
            (stage.action,),
        ).fetchone()[0]
        if staged == 2 and not hasattr(others_meanwhile, "done"):
            others_meanwhile.done = True
            with open_project(self.path) as other:
                # Staged tags, events and reviews do not count for anyone yet.
                assert current(other).values.tolist() == [["9", "common"]]
                assert other.dataset("dev").example_tags("0") == []
                assert (
                    len(other.dataset("dev").tag_events()) == 1
                    and other.dataset("dev").reviews().empty
                )
                other.dataset("dev").set_tag("0", "common", actor="ben")  # added and removed again
                other.dataset("dev").set_tag("0", "common", False, actor="ben")
                other.dataset("dev").set_tag("3", "common", actor="ben")  # added: already as wanted
                other.dataset("dev").set_tag("9", "common", False, actor="ben")  # removed under it
                other.dataset("dev").set_tag("6", "extra", actor="ben")  # exact: goes again
                other.dataset("dev").set_tag("400", "extra", actor="ben")  # not in the import

    after_each_stage(monkeypatch, others_meanwhile)
    big_project.dataset("dev").record_reviews(reviews, tags=tags, exact=exact, actor="lead")
    assert others_meanwhile.done
    state = {tuple(r) for r in current(big_project).values.tolist()}
    wanted = {(str(i), t) for i in range(0, 300, 3) for t in ("common", f"t{i % 4}")}
    assert wanted <= state
    assert ("400", "extra") in state
    assert (("6", "extra") in state) is not exact
    assert ("9", "common") in state  # example 9 is in the import: present again
    events = big_project.dataset("dev").tag_events()
    assert alternates(events)
    assert_replays(big_project)
    common_0 = events[(events.example_id == "0") & (events.tag == "common")]
    assert common_0[["op", "actor"]].values.tolist() == [
        ["add", "ben"],
        ["remove", "ben"],
        ["add", "r0"],
    ]
    common_3 = events[(events.example_id == "3") & (events.tag == "common")]
    assert common_3[["op", "actor"]].values.tolist() == [["add", "ben"]]
    undone = big_project.dataset("dev").undo(actor="lead")
    assert undone["kind"] == "reviews_import"
    assert alternates(big_project.dataset("dev").tag_events())
    assert_replays(big_project)


def test_a_discarded_stage_keeps_what_others_took_over(big_project, monkeypatch):
    monkeypatch.setattr(staging_module, "STAGE_ROWS", 50)
    reviews, tags = many_reviews(300)

    def fail_after_tags(self, stage):
        staged = self._conn.execute(
            "SELECT count(*) FROM tag_assignments WHERE pending = ?", (stage.action,)
        ).fetchone()[0]
        if staged > 50:
            with open_project(self.path) as other:  # a reviewer adds a staged pair
                other.dataset("dev").set_tag("0", "common", actor="ben")
            raise KeyboardInterrupt

    after_each_stage(monkeypatch, fail_after_tags)
    with pytest.raises(KeyboardInterrupt):
        big_project.dataset("dev").record_reviews(reviews, tags=tags, actor="lead")
    assert current(big_project).values.tolist() == [["0", "common"]]
    assert big_project.dataset("dev").tag_assignments().actor.tolist() == ["ben"]
    raw = [
        big_project._conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
        for t in ("reviews", "tag_events", "tag_assignments", "pending_actions")
    ]
    assert raw == [0, 1, 1, 0]
    assert_replays(big_project)


def test_one_staged_import_per_dataset_at_a_time(big_project, monkeypatch):
    monkeypatch.setattr(staging_module, "STAGE_ROWS", 50)
    add_dataset(big_project, name="other", ids=range(300))
    reviews, tags = many_reviews(300)
    seen = []

    def second_import(self, stage):
        if seen:
            return
        seen.append(stage)
        with open_project(self.path) as other:
            with pytest.raises(ProjectBusy, match="another review import into dataset 'dev'"):
                other.dataset("dev").record_reviews(reviews, tags=tags, actor="ben")
            other.dataset("other").record_reviews(
                reviews, tags=tags, actor="ben"
            )  # another dataset
            other.dataset("dev").record_review("5", reviewer="ben", tags=["t1"])  # a single review

    after_each_stage(monkeypatch, second_import)
    big_project.dataset("dev").record_reviews(reviews, tags=tags, actor="lead")
    assert (
        len(big_project.dataset("dev").reviews()) == 301
        and len(big_project.dataset("other").reviews()) == 300
    )
    for dataset in ("dev", "other"):
        assert_replays(big_project, dataset)


@pytest.mark.parametrize("exact", [False, True])
@pytest.mark.parametrize("seed", range(6))
def test_random_writes_during_a_staged_import_end_as_a_model_says(
    tmp_path, monkeypatch, seed, exact
):
    """Other reviewers toggle tags, review examples, delete and merge tags at random moments
    of a staged import. The end state is the model's: their changes in order, then the
    import (it completed last); the log replays to it and every event is a real change."""
    rng = random.Random(seed)
    monkeypatch.setattr(staging_module, "STAGE_ROWS", 40)
    names = ["a", "b", "c", "d"]
    n = 120
    with open_project(tmp_path / "p.db") as project:
        add_dataset(project, ids=range(n + 30))
        model: set[tuple[str, str]] = set()
        for _ in range(40):  # what was there before
            pair = (str(rng.randrange(n + 30)), rng.choice(names))
            project.dataset("dev").set_tag(*pair, actor="ana")
            model.add(pair)
        reviewed = [str(rng.randrange(n + 30)) for _ in range(n)]
        tag_lists = [rng.sample(names, rng.randrange(3)) for _ in range(n)]
        reviews = pd.DataFrame({"id": reviewed, "reviewer": "lead"})

        def meanwhile(self, stage):
            with open_project(self.path) as other:
                for _ in range(rng.randrange(4)):
                    roll, example = rng.random(), str(rng.randrange(n + 30))
                    tag = rng.choice([*names, "e"])
                    if roll < 0.6:
                        present = rng.random() < 0.5
                        other.dataset("dev").set_tag(example, tag, present, actor="ben")
                        (model.add if present else model.discard)((example, tag))
                    elif roll < 0.8:
                        wanted = set(rng.sample(names, rng.randrange(3)))
                        other.dataset("dev").record_review(example, reviewer="ben", tags=wanted)
                        model.difference_update({p for p in model if p[0] == example})
                        model.update((example, t) for t in wanted)
                    elif roll < 0.9 and tag in set(other.tag_definitions().tag):
                        other.delete_tag(tag, actor="ben")
                        model.difference_update({p for p in model if p[1] == tag})
                    else:
                        live = set(other.tag_definitions().tag)
                        src, dst = rng.sample(names, 2)
                        if {src, dst} <= live:
                            other.merge_tags(src, dst, actor="ben")
                            moved = {p[0] for p in model if p[1] == src}
                            model.difference_update({p for p in model if p[1] == src})
                            model.update((e, dst) for e in moved)

        after_each_stage(monkeypatch, meanwhile)
        project.dataset("dev").record_reviews(reviews, tags=tag_lists, exact=exact, actor="lead")
        final: dict[str, set[str]] = {}
        for example, tags in zip(reviewed, tag_lists, strict=True):
            final[example] = set(tags) if exact else final.get(example, set()) | set(tags)
        for example, tags in final.items():
            if exact:
                model.difference_update({p for p in model if p[0] == example})
            model.update((example, t) for t in tags)
        assert {tuple(r) for r in current(project).values.tolist()} == model
        events = project.dataset("dev").tag_events()
        assert alternates(events)
        assert_replays(project)
        assert {t for _, t in model} <= set(project.tag_definitions().tag)
        assert project._conn.execute("SELECT count(*) FROM pending_actions").fetchone()[0] == 0


# ---------------------------------------------------------------------- samples
def drawn(ids=("0", "1", "2"), *, run="main", strategy="stratified", probability=None, **fields):
    ids = list(ids)
    examples = pd.DataFrame(
        {
            "id": ids,
            "stratum": ["error" if int(i) % 3 == 0 else "correct" for i in ids],
            "probability": probability if probability is not None else [0.5] * len(ids),
            "order": range(len(ids)),
        }
    )
    values = {"seed": 7, "size": len(ids), "design": {"frame": None}} | fields
    return Draw(run=run, strategy=strategy, examples=examples, **values)


def test_a_sample_is_recorded_in_one_logged_action(project):
    before = project.revision()
    sample = project.dataset("dev").record_sample(drawn(["3", "0", "4"]), actor="ana")
    samples = project.dataset("dev").samples()
    assert samples[["id", "run", "strategy", "seed", "size", "created_by"]].values.tolist() == [
        [sample, "main", "stratified", 7, 3, "ana"]
    ]
    assert samples["design"].tolist() == [{"frame": None}]
    draws = project.dataset("dev").sample_draws(sample)
    assert draws.columns.tolist() == ["id", "stratum", "probability", "order"]
    assert draws["id"].tolist() == ["3", "0", "4"] and draws["order"].tolist() == [0, 1, 2]
    action = project.dataset("dev").actions().iloc[0]
    assert action.kind == "sample" and json.loads(action.detail)["sample"] == sample
    assert project.revision() == before + 1


def bad_draw(**change):
    base = drawn()
    examples = change.pop("examples", None)
    return Draw(**{**base.__dict__, "examples": base.examples.assign(**(examples or {})), **change})


@pytest.mark.parametrize(
    ("draw", "message"),
    [
        (bad_draw(strategy="lowest first"), "unknown sampling strategy 'lowest first'"),
        (bad_draw(run="v9"), "has no run 'v9'"),
        (bad_draw(size=0), "size must be at least 1"),
        (bad_draw(seed=1.5), "seed must be a whole number"),
        (bad_draw(design={"edges": {1, 2}}), "design is not JSON"),
        (bad_draw(examples={"id": ["0", "1", "99"]}), "run 'main' has no example with id '99'"),
        (bad_draw(examples={"id": ["0", "1", "1"]}), "example '1' is drawn twice"),
        (bad_draw(examples={"id": ["0", 1, "2"]}), "drawn ids must be text, got 1"),
        (bad_draw(examples={"stratum": ["error", "", "x"]}), "strata must be non-empty text"),
        (bad_draw(examples={"probability": [0.5, 0.0, 1.0]}), "probability of '1' is 0.0"),
        (bad_draw(examples={"probability": [0.5, 1.5, 1.0]}), r"must be a number in \(0, 1\]"),
        (bad_draw(examples={"probability": [0.5, float("nan"), 1]}), "probability of '1' is nan"),
        (bad_draw(examples={"probability": ["a", "b", "c"]}), "probabilities must be numbers"),
        (bad_draw(examples={"order": [0, 0, 1]}), "order repeats 0"),
        (bad_draw(examples={"order": [0.5, 1, 2]}), "order must be whole numbers"),
        (drawn([], size=3), "draws no example"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_a_bad_draw_records_nothing(project, draw, message):
    revision, actions = project.revision(), len(project.dataset("dev").actions())
    with pytest.raises(StoreError, match=message):
        project.dataset("dev").record_sample(draw, actor="ana")
    assert project.dataset("dev").samples().empty
    assert (project.revision(), len(project.dataset("dev").actions())) == (revision, actions)


def test_reviews_carry_their_sample(project):
    sample = project.dataset("dev").record_sample(drawn(["0", "1", "2"]), actor="ana")
    project.dataset("dev").record_review("0", reviewer="ana", sample=sample)
    project.dataset("dev").record_review("5", reviewer="ana", queue="direct")
    reviews = pd.DataFrame({"id": ["1", "2"], "reviewer": ["ben", "ben"], "sample_id": sample})
    project.dataset("dev").record_reviews(reviews, tags=[["x"], []], actor="ben")
    found = project.dataset("dev").reviews()
    assert found["sample_id"].dtype == "Int64"
    assert found["sample_id"].tolist() == [sample, pd.NA, sample, sample]
    assert found["example_id"].tolist() == ["0", "5", "1", "2"]


def test_a_staged_import_carries_its_sample(project, monkeypatch):
    monkeypatch.setattr(staging_module, "STAGE_ROWS", 2)
    ids = [str(i) for i in range(7)]
    sample = project.dataset("dev").record_sample(drawn(ids), actor="ana")
    reviews = pd.DataFrame({"id": ids, "reviewer": "ben", "sample_id": [sample] * 6 + [None]})
    project.dataset("dev").record_reviews(reviews, tags=[["x"]] * 7, actor="ben")
    assert project.dataset("dev").reviews()["sample_id"].tolist() == [sample] * 6 + [pd.NA]


def test_reviews_of_a_sample_are_of_its_run(project):
    add_run(project, "dev", frame(range(10)), run="v2", source="v2.csv")
    sample = project.dataset("dev").record_sample(drawn(["0"], run="main"), actor="ana")
    reviews = pd.DataFrame({"id": ["0"], "reviewer": ["ben"], "sample_id": [sample]})
    project.dataset("dev").record_reviews(reviews, tags=None)  # the latest run is v2
    assert project.dataset("dev").reviews()["run"].tolist() == ["main"]
    with pytest.raises(StoreError, match="drawn from run 'main', not 'v2'"):
        project.dataset("dev").record_reviews(reviews, tags=None, run="v2")


def bad_reviews(project):
    """Reviews naming samples wrongly: each case is (reviews, message)."""
    add_dataset(project, "other", ids=range(5))
    mine = project.dataset("dev").record_sample(drawn(["0", "1"]), actor="ana")
    theirs = project.dataset("other").record_sample(drawn(["0"]), actor="ana")
    return [
        (["0", "1"], [mine, 999], "row 2: dataset 'dev' has no sample 999"),
        (["0"], [theirs], rf"row 1: sample {theirs} is a sample of dataset 'other', not of 'dev'"),
        (
            ["0", "5", "1"],
            [mine, mine, None],
            rf"row 2: example '5' was not drawn in sample {mine}",
        ),
        (["0"], ["first"], "row 1: sample_id must be a whole number, got 'first'"),
    ]


def test_reviews_naming_a_wrong_sample_record_nothing(project):
    for ids, samples, message in bad_reviews(project):
        revision = project.revision()
        reviews = pd.DataFrame(
            {"id": ids, "reviewer": "ben", "sample_id": pd.Series(samples, dtype=object)}
        )
        with pytest.raises(StoreError, match=message):
            project.dataset("dev").record_reviews(reviews, tags=[["x"]] * len(ids))
        assert project.dataset("dev").reviews().empty and current(project).empty
        assert project.revision() == revision
    with pytest.raises(StoreError, match="has no sample 99"):
        project.dataset("dev").record_review("0", reviewer="ben", sample=99)
    with pytest.raises(StoreError, match="dataset 'dev' has no sample 99"):
        project.dataset("dev").sample_draws(99)
    theirs = project.dataset("other").samples()["id"].iloc[0]
    with pytest.raises(StoreError, match="is a sample of dataset 'other', not of 'dev'"):
        project.dataset("dev").sample_draws(theirs)


def test_a_schema_3_file_reads_its_reviews_without_samples(tmp_path):
    path = tmp_path / "old.db"
    old = Project(path, migrate=False)
    old.migrate(to=3)
    with old.write() as conn:  # as version 3 wrote them: a run and one review
        conn.execute("INSERT INTO datasets VALUES (1, 'dev', '2026-01-01', 'ana')")
        conn.execute(
            "INSERT INTO runs VALUES (1, 1, 'main', 'dev.csv', 'csv', NULL, 10, 4, '[]', '[]',"
            " '2026-01-01', 'ana', ?)",
            (_frame_to_blob(frame(range(10))),),
        )
        conn.execute("INSERT INTO actions VALUES (1, 1, 'review', 'ana', '2026-01-01', NULL, '{}')")
        conn.execute(
            "INSERT INTO reviews (action_id, dataset_id, run_id, example_id, reviewer, at, stratum,"
            " queue) VALUES (1, 1, 1, '0', 'ana', '2026-01-01', 'error', 'error')"
        )
    old.close()
    with open_project(path, readonly=True) as p:
        assert p.schema_version == 3
        reviews = p.dataset("dev").reviews()
        assert reviews["example_id"].tolist() == ["0"]
        assert reviews["sample_id"].isna().all() and reviews["sample_id"].dtype == "Int64"
        assert p.dataset("dev").samples().empty
        columns = ["id", "run", "strategy", "seed", "size", "created_at", "created_by", "design"]
        assert list(p.dataset("dev").samples().columns) == columns
        with pytest.raises(StoreError, match="has no sample 1"):
            p.dataset("dev").sample_draws(1)
    with open_project(path) as p:  # migrated: the old review keeps no sample
        assert p.schema_version == SCHEMA_VERSION
        assert p.dataset("dev").reviews()["sample_id"].isna().all()


def test_a_new_tag_refuses_a_name_taken_meanwhile(project):
    project.define_tag("car noise", actor="ana", hlp=0.9)
    before = project.tag_definitions()
    with pytest.raises(StoreError, match="a tag named 'car noise' exists already; nothing"):
        project.define_tag("car noise", actor="ben", rule="snr_db < 3", new=True)
    assert_frame_equal(project.tag_definitions(), before)
    project.delete_tag("car noise", actor="ana")
    project.define_tag("car noise", actor="ben", rule="snr_db < 3", new=True)  # free again
    assert project.tag_definitions().set_index("tag").loc["car noise", "rule"] == "snr_db < 3"


@pytest.mark.parametrize("chunk", [1, 7, 1 << 22])
def test_copy_frame_writes_the_run_as_its_examples_read(project, tmp_path, chunk):
    path = tmp_path / "run.parquet"
    project.dataset("dev").copy_frame(None, path, chunk=chunk)
    assert_frame_equal(pd.read_parquet(path), project.dataset("dev").examples())


def test_copy_frame_of_an_unknown_run_names_it_and_writes_nothing(project, tmp_path):
    path = tmp_path / "run.parquet"
    with pytest.raises(StoreError, match="dataset 'dev' has no run 'nope'"):
        project.dataset("dev").copy_frame("nope", path)
    assert not path.exists()
