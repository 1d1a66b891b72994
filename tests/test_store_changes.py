"""The project's change stamps (``Project.changes``): each kind of content moves exactly
when a write changes one of its tables, in the write's own transaction, so a cache of the
reviews stays valid while tags toggle."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest
from store_support import add_run, numbered_frame

from erroranalysis.store import Project, open_project
from erroranalysis.store import staging as staging_module
from erroranalysis.store.project import CHANGE_TABLES, Changes

KINDS = tuple(CHANGE_TABLES)
DATASET = "dev"


@pytest.fixture
def project(tmp_path):
    """Ten examples, 'car noise' on 1 and 2, 'mislabel' defined, example 3 reviewed."""
    with open_project(tmp_path / "p.db") as project:
        add_run(project, DATASET, numbered_frame(10), actor="setup")
        project.define_tag("car noise", actor="setup", hlp=0.9)
        project.define_tag("mislabel", actor="setup")
        dev = project.dataset(DATASET)
        dev.set_tag("1", "car noise", actor="ana")
        dev.set_tag("2", "car noise", actor="ana")
        dev.record_review("3", reviewer="ana")
        yield project


def _tables(project: Project) -> dict[str, list[tuple]]:
    names = [
        r[0]
        for r in project._conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    return {n: sorted(map(repr, project._conn.execute(f"SELECT * FROM {n}"))) for n in names}


def _kinds_of_changed_tables(before: dict, after: dict) -> set[str]:
    changed = {t for t in after if before.get(t) != after[t]}
    return {k for k, tables in CHANGE_TABLES.items() if changed & set(tables)}


def _moved(before: Changes, after: Changes) -> set[str]:
    return {k for k in KINDS if getattr(before, k) != getattr(after, k)}


def _rerun(frame: pd.DataFrame) -> Callable[[Project], object]:
    return lambda p: add_run(p, DATASET, frame, actor="ana", replace=True)


def _undo_last(p: Project) -> object:
    return p.dataset(DATASET).undo(actor="ana")


def _undo(write: Callable[[Project], object]) -> tuple[Callable[[Project], object], ...]:
    """(setup, write): ``write`` made first, then its undo is the write measured."""
    return write, _undo_last


WRITES: list[tuple] = [  # (what, write or (setup, write), the kinds it changes)
    (
        "tag added",
        lambda p: p.dataset(DATASET).set_tag("4", "car noise", actor="ana"),
        {"tag_assignments"},
    ),
    (
        "tag removed",
        lambda p: p.dataset(DATASET).set_tag("1", "car noise", False, actor="ana"),
        {"tag_assignments"},
    ),
    (
        "tag added, made new",
        lambda p: p.dataset(DATASET).set_tag("4", "wind", actor="ana"),
        {"tag_assignments", "taxonomy"},
    ),
    ("review", lambda p: p.dataset(DATASET).record_review("4", reviewer="ana"), {"reviews"}),
    (
        "review with tags",
        lambda p: p.dataset(DATASET).record_review("4", reviewer="ana", tags=["mislabel"]),
        {"reviews", "tag_assignments"},
    ),
    (
        "review with tags it had",
        lambda p: p.dataset(DATASET).record_review("1", reviewer="ben", tags=["car noise"]),
        {"reviews"},
    ),
    (
        "reviews imported with tags",
        lambda p: p.dataset(DATASET).record_reviews(
            pd.DataFrame({"id": ["5", "6"], "reviewer": ["ben", "ben"]}),
            tags=[["mislabel"], []],
        ),
        {"reviews", "tag_assignments"},
    ),
    (
        "tags of many examples",
        lambda p: p.dataset(DATASET).tag_examples(["5", "6"], "mislabel", actor="ana"),
        {"tag_assignments"},
    ),
    ("definition", lambda p: p.define_tag("car noise", actor="ana", hlp=0.8), {"taxonomy"}),
    ("new definition", lambda p: p.define_tag("wind", actor="ana"), {"taxonomy"}),
    ("rename", lambda p: p.rename_tag("car noise", "engine", actor="ana"), {"taxonomy"}),
    (
        "merge",
        lambda p: p.merge_tags("car noise", "mislabel", actor="ana"),
        {"taxonomy", "tag_assignments"},
    ),
    (
        "delete, carried",
        lambda p: p.delete_tag("car noise", actor="ana"),
        {"taxonomy", "tag_assignments"},
    ),
    ("delete, carried by none", lambda p: p.delete_tag("mislabel", actor="ana"), {"taxonomy"}),
    ("order", lambda p: p.order_tags(["mislabel", "car noise"], actor="ana"), {"taxonomy"}),
    ("scope", lambda p: p.scope_tag("mislabel", [DATASET], actor="ana"), {"taxonomy"}),
    ("role", lambda p: p.grant_role("ana", "admin", actor="ana"), {"roles"}),
    (
        "plan of second reviews",
        lambda p: p.dataset(DATASET).set_review_plan(share=0.5, actor="ana"),
        {"review_plans"},
    ),
    (
        "adjudication",
        lambda p: p.dataset(DATASET).adjudicate("3", "car noise", True, actor="ana"),
        {"adjudications"},
    ),
    ("another run", lambda p: add_run(p, "other", numbered_frame(4), actor="ana"), {"runs"}),
    ("run imported again, same ids", _rerun(numbered_frame(10)), {"runs"}),
    (
        "run imported again, ids 1-3 gone",
        _rerun(numbered_frame(10).iloc[4:]),
        {"runs", "tag_assignments", "reviews"},
    ),
    # An undo is the write measured: the setup makes the action it takes back.
    (
        "undo of a tag added",
        _undo(lambda p: p.dataset(DATASET).set_tag("4", "car noise", actor="ana")),
        {"tag_assignments"},
    ),
    (
        "undo of a tag that made its tag",
        _undo(lambda p: p.dataset(DATASET).set_tag("4", "wind", actor="ana")),
        {"tag_assignments", "taxonomy"},
    ),
    (
        "undo of a review",
        _undo(lambda p: p.dataset(DATASET).record_review("4", reviewer="ana")),
        {"reviews"},
    ),
    (
        "undo of a review with tags",
        _undo(lambda p: p.dataset(DATASET).record_review("4", reviewer="ana", tags=["mislabel"])),
        {"reviews", "tag_assignments"},
    ),
    (
        "undo of a rename",
        _undo(lambda p: p.rename_tag("car noise", "engine", actor="ana")),
        {"taxonomy"},
    ),
    (
        "undo of a delete",
        _undo(lambda p: p.delete_tag("car noise", actor="ana")),
        {"taxonomy", "tag_assignments"},
    ),
]


@pytest.mark.parametrize(
    ("write", "expected"), [(w, e) for _, w, e in WRITES], ids=[n for n, _, _ in WRITES]
)
def test_each_kind_moves_exactly_when_its_tables_change(project, write, expected):
    if isinstance(write, tuple):
        setup, write = write
        setup(project)
    _check_moves(project, write, expected)


def _check_moves(project: Project, write: Callable[[Project], object], expected: set[str]):
    """``write`` moves the stamps of ``expected`` to the new revision, and only those, and
    ``expected`` are exactly the kinds whose tables it changed."""
    before, tables = project.changes(), _tables(project)
    write(project)
    after = project.changes()
    assert _moved(before, after) == expected
    assert _kinds_of_changed_tables(tables, _tables(project)) == expected
    assert after.revision == before.revision + 1
    assert {getattr(after, k) for k in expected} == {after.revision}


def test_a_staged_review_import_moves_reviews_and_tags_once_it_counts(project, monkeypatch):
    monkeypatch.setattr(staging_module, "STAGE_ROWS", 2)
    reviews = pd.DataFrame({"id": ["4", "5", "6", "7"], "reviewer": ["ben"] * 4})
    _check_moves(
        project,
        lambda p: p.dataset(DATASET).record_reviews(
            reviews, tags=[["mislabel"], [], ["wind"], ["car noise"]]
        ),
        {"reviews", "tag_assignments", "taxonomy"},
    )


@pytest.mark.parametrize(
    "write",
    [
        lambda p: p.dataset(DATASET).set_tag("1", "car noise", actor="ben"),  # it has it
        lambda p: p.dataset(DATASET).set_tag("4", "car noise", False, actor="ben"),
        _undo_last,  # ana's review of 3: undone, then nothing of hers is left
    ],
    ids=["tag it has", "tag it lacks", "undo"],
)
def test_a_write_that_changes_nothing_moves_nothing(project, write):
    if write is _undo_last:
        for _ in range(3):
            _undo_last(project)
    before = project.changes()
    write(project)
    assert project.changes() == before


def test_a_refused_write_moves_nothing(project):
    before = project.changes()
    with pytest.raises(Exception, match="no example with id"):
        project.dataset(DATASET).set_tag("nope", "car noise", actor="ana")
    assert project.changes() == before


def test_another_connection_sees_the_changes(project):
    with open_project(project.path, readonly=True) as reader:
        assert reader.changes() == project.changes()
        project.dataset(DATASET).set_tag("4", "car noise", actor="ben")
        assert reader.changes() == project.changes()
        assert reader.changes().reviews < reader.changes().tag_assignments


def test_a_change_without_stamps_moves_every_kind(project):
    """A write of an older version moves only the revision: every kind counts as changed
    then, and the next write here moves every kind too."""
    project._conn.execute("UPDATE meta SET value = value + 1 WHERE key = 'revision'")
    revision = project.revision()
    assert project.changes() == Changes(revision, *(revision for _ in KINDS))
    project.dataset(DATASET).set_tag("4", "car noise", actor="ana")
    assert project.changes() == Changes(revision + 1, *(revision + 1 for _ in KINDS))
    project.dataset(DATASET).record_review("4", reviewer="ana")
    after = project.changes()
    assert (after.reviews, after.tag_assignments) == (revision + 2, revision + 1)


def test_a_new_project_starts_every_kind_at_its_revision(tmp_path):
    with open_project(tmp_path / "new.db") as project:
        assert project.changes() == Changes(0, *(0 for _ in KINDS))


def test_every_kind_is_a_field_of_changes():
    assert Changes._fields == ("revision", *CHANGE_TABLES)
