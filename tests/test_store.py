"""The project store: events, current state, undo, reviews, concurrency and migrations."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal

from erroranalysis.store import (
    SCHEMA_VERSION,
    Project,
    StoreError,
    _frame_to_blob,
    open_project,
)


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
    project.import_run(
        name, frame(ids), source="dev.csv", format="csv", media_root=None,
        metadata_columns=[], dataset_tags=[], **options,
    )  # fmt: skip


@pytest.fixture
def project(tmp_path):
    with open_project(tmp_path / "project.db") as p:
        add_dataset(p)
        yield p


def current(project, dataset="dev"):
    return project.tag_assignments(dataset)[["example_id", "tag"]]


def test_new_file_is_wal_at_current_schema(tmp_path):
    with open_project(tmp_path / "p.db") as p:
        assert p.schema_version == SCHEMA_VERSION
        assert p.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert p.db.execute("PRAGMA busy_timeout").fetchone()[0] > 0


def test_set_tag_logs_an_event_and_changes_state(project):
    before = project.revision()
    action = project.set_tag("dev", "1", "car noise", actor="ana")
    assert action is not None
    assert project.example_tags("dev", "1") == ["car noise"]
    events = project.tag_events("dev")
    assert events[["example_id", "tag", "op", "actor"]].values.tolist() == [
        ["1", "car noise", "add", "ana"]
    ]
    assert project.revision() > before


def test_setting_the_same_state_logs_nothing(project):
    project.set_tag("dev", "1", "car noise", actor="ana")
    assert project.set_tag("dev", "1", "car noise", actor="ben") is None
    assert project.set_tag("dev", "2", "car noise", False, actor="ben") is None
    assert len(project.tag_events("dev")) == 1


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
        project.set_tag("dev", example, tag, actor="ana")
    assert project.tag_events("dev").empty


def test_unknown_dataset_names_the_known_ones(project):
    with pytest.raises(StoreError, match="no dataset named 'test'.*datasets: dev"):
        project.set_tag("test", "1", "x", actor="ana")


def test_undo_reverts_the_reviewers_last_action_only(project):
    project.set_tag("dev", "1", "car noise", actor="ana")
    project.set_tag("dev", "2", "car noise", actor="ben")
    project.set_tag("dev", "1", "car noise", False, actor="ana")
    undone = project.undo("dev", actor="ana")
    assert undone["kind"] == "tag" and undone["detail"]["op"] == "remove"
    assert sorted(current(project).example_id) == ["1", "2"]
    project.undo("dev", actor="ana")  # then the add
    assert current(project).example_id.tolist() == ["2"]
    assert project.undo("dev", actor="ana") is None
    # the log only grew: 3 actions and 2 undos of them
    assert project.tag_events("dev").op.tolist() == ["add", "add", "remove", "add", "remove"]
    assert_frame_equal(project.replay_tags("dev"), current(project).reset_index(drop=True))


def test_review_sets_tags_exactly_and_records_stratum(project):
    project.set_tag("dev", "3", "old", actor="ana")
    project.record_review(
        "dev", "3", reviewer="ben", tags=["car noise", "blurry"], note="engine hum",
        label_wrong=True, corrected_label="c", queue="errors",
    )  # fmt: skip
    assert project.example_tags("dev", "3") == ["blurry", "car noise"]
    review = project.reviews("dev").iloc[0]
    assert (review.example_id, review.reviewer, review.stratum) == ("3", "ben", "error")
    assert (review.note, review.label_wrong, review.corrected_label) == ("engine hum", True, "c")
    project.undo("dev", actor="ben")
    assert project.example_tags("dev", "3") == ["old"]
    assert project.reviews("dev").empty
    assert len(project.reviews("dev", include_retracted=True)) == 1


def test_reviews_import_is_one_undoable_action(project):
    reviews = pd.DataFrame({"id": ["0", "1", "2"], "reviewer": ["ana", "ana", "ben"]})
    project.record_reviews("dev", reviews, tags=[["x"], [], ["x", "y"]], actor="lead")
    assert project.reviews("dev").stratum.tolist() == ["error", "correct", "correct"]
    assert sorted(map(tuple, current(project).values.tolist())) == [
        ("0", "x"),
        ("2", "x"),
        ("2", "y"),
    ]
    project.undo("dev", actor="lead")
    assert current(project).empty and project.reviews("dev").empty


def test_reimport_needs_replace_and_keeps_tags_of_surviving_ids(project):
    project.set_tag("dev", "1", "keep", actor="ana")
    project.set_tag("dev", "9", "gone", actor="ana")
    project.record_review("dev", "9", reviewer="ana")
    with pytest.raises(StoreError, match="--replace"):
        add_dataset(project, ids=range(5))
    add_dataset(project, ids=range(5), replace=True)
    assert current(project).values.tolist() == [["1", "keep"]]
    assert project.reviews("dev").empty
    assert_frame_equal(project.replay_tags("dev"), current(project).reset_index(drop=True))
    assert project.runs("dev")[0].n_examples == 5


def test_a_second_run_of_the_same_examples_shares_tags(project):
    project.set_tag("dev", "1", "x", actor="ana")
    add_dataset(project, run="v2")
    assert [r.name for r in project.runs("dev")] == ["main", "v2"]
    assert project.run("dev").name == "v2"
    assert project.example_tags("dev", "1") == ["x"]


def test_rename_merge_delete_are_logged_and_replay(project):
    for example in ("1", "2"):
        project.set_tag("dev", example, "car", actor="ana")
    project.set_tag("dev", "2", "vehicle noise", actor="ana")
    project.set_tag("dev", "3", "blur", actor="ana")
    project.rename_tag("car", "car noise", actor="lead")
    assert project.merge_tags("vehicle noise", "car noise", actor="lead") == 1
    assert project.delete_tag("blur", actor="lead") == 1
    assert sorted(current(project).values.tolist()) == [["1", "car noise"], ["2", "car noise"]]
    assert project.tag_definitions().tag.tolist() == ["car noise"]
    assert_frame_equal(project.replay_tags("dev"), current(project).reset_index(drop=True))
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
            project.set_tag("dev", "1", "x", actor="ana")
        except Exception as err:  # noqa: BLE001 - the error is the point
            errors.append(err)

    worker = threading.Thread(target=write)
    worker.start()
    worker.join()
    assert errors and isinstance(errors[0], StoreError | sqlite3.ProgrammingError)


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
        events = p.tag_events("dev")
        state = p.tag_assignments("dev")[["example_id", "tag"]].reset_index(drop=True)
        assert_frame_equal(p.replay_tags("dev"), state)
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
        assert p.example_tags("dev", "1") == ["car noise"]
        assert p.tag_definitions().hlp.tolist() == [0.9]
        assert p.reviews("dev").note.tolist() == [""]
        p.record_review("dev", "1", reviewer="ben", note="new in v2")
        assert p.reviews("dev").note.tolist() == ["", "new in v2"]
        p.delete_tag("car noise", actor="ben")
        assert_frame_equal(p.replay_tags("dev"), current(p).reset_index(drop=True))


def test_a_newer_file_is_refused(tmp_path):
    path = tmp_path / "future.db"
    with open_project(path) as p:
        p.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
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
                st.characters(exclude_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")),
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
        project.set_tag("dev", example, tag, present, actor="ana")
        (expected.add if present else expected.discard)((example, tag.strip()))
    assert {tuple(r) for r in current(project).values.tolist()} == expected
    assert {tuple(r) for r in project.replay_tags("dev").values.tolist()} == expected
