"""The action log's undo: one action per reviewer of an import, undo of tag management
(rename, merge, delete, definitions) restoring the exact previous state, and renames and
deletes that behave the same for reviewed, dataset and rule tags."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal
from store_support import add_run, numbered_frame

from erroranalysis.store import Project, open_project
from erroranalysis.store import staging as staging_module


@pytest.fixture
def project(tmp_path):
    with open_project(tmp_path / "project.db") as p:
        add_run(p, "dev", numbered_frame(12))
        yield p


def current(project: Project, dataset: str = "dev") -> list[tuple[str, str]]:
    pairs = project.dataset(dataset).tag_assignments()[["example_id", "tag"]]
    return sorted(map(tuple, pairs.values.tolist()))


def assert_replays(project: Project, dataset: str = "dev") -> None:
    frame = project.dataset(dataset).tag_assignments()[["example_id", "tag"]]
    assert_frame_equal(project.dataset(dataset).replay_tags(), frame.reset_index(drop=True))


# ------------------------------------------------------- one action per reviewer of an import
BEN_THEN_ANA = pd.DataFrame({"id": ["0", "1", "2", "3"], "reviewer": ["ben", "ana", "ana", "ana"]})
BEN_THEN_ANA_TAGS = [["noise"], ["noise"], ["clipped"], []]


@pytest.mark.parametrize("stage_rows", [10_000, 1], ids=["one transaction", "staged"])
def test_a_multi_reviewer_import_is_one_action_per_reviewer(project, monkeypatch, stage_rows):
    monkeypatch.setattr(staging_module, "STAGE_ROWS", stage_rows)
    store = project.dataset("dev")
    store.record_reviews(BEN_THEN_ANA, tags=BEN_THEN_ANA_TAGS)
    actions = store.actions()
    imports = actions[actions.kind == "reviews_import"].iloc[::-1]
    assert imports.actor.tolist() == ["ben", "ana"]
    assert [d["reviews"] for d in imports.detail.map(json.loads)] == [1, 3]
    events = store.tag_events()
    by_action = dict(zip(imports.id, imports.actor, strict=True))
    assert [
        (by_action[a], e, t) for a, e, t in events[["action_id", "example_id", "tag"]].values
    ] == [
        ("ben", "0", "noise"),
        ("ana", "1", "noise"),
        ("ana", "2", "clipped"),
    ]
    assert project._conn.execute("SELECT count(*) FROM pending_actions").fetchone()[0] == 0
    # ben's undo takes back ben's review only (the defect: it removed all four)
    assert store.undo(actor="ben")["action"] == imports.id.iloc[0]
    assert store.reviews().example_id.tolist() == ["1", "2", "3"]
    assert current(project) == [("1", "noise"), ("2", "clipped")]
    assert store.undo(actor="ana")["action"] == imports.id.iloc[1]
    assert store.reviews().empty and current(project) == []
    assert_replays(project)


def test_an_import_by_a_named_actor_stays_one_action_of_theirs(project):
    store = project.dataset("dev")
    action = store.record_reviews(BEN_THEN_ANA, tags=BEN_THEN_ANA_TAGS, actor="lead")
    imports = store.actions().query("kind == 'reviews_import'")
    assert imports[["id", "actor"]].values.tolist() == [[action, "lead"]]
    assert store.undo(actor="ben") is None
    assert store.undo(actor="lead")["action"] == action
    assert store.reviews().empty and current(project) == []


def test_a_failed_multi_reviewer_staged_import_leaves_nothing(project, monkeypatch):
    monkeypatch.setattr(staging_module, "STAGE_ROWS", 1)
    original = Project._settle_review_tags

    def failing(self, *args, **kwargs):
        original(self, *args, **kwargs)
        raise RuntimeError("disk full")

    monkeypatch.setattr(Project, "_settle_review_tags", failing)
    before = project.dataset("dev").actions()
    with pytest.raises(RuntimeError, match="disk full"):
        project.dataset("dev").record_reviews(BEN_THEN_ANA, tags=BEN_THEN_ANA_TAGS)
    assert_frame_equal(project.dataset("dev").actions(), before)
    assert project.dataset("dev").reviews(include_retracted=True).empty
    assert current(project) == []
    counts = [
        project._conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        for table in ("pending_actions", "tag_events", "tag_assignments")
    ]
    assert counts == [0, 0, 0]
