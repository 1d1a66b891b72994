"""The team's part of the project file: each reviewer's decisions and the roles."""

from __future__ import annotations

import pandas as pd
import pytest
from store_support import add_run, numbered_frame

from erroranalysis.errors import NotPermitted, StoreError
from erroranalysis.store import SCHEMA_VERSION, Project, open_project, staging


@pytest.fixture
def project(tmp_path):
    with open_project(tmp_path / "p.db") as p:
        add_run(p, "dev", numbered_frame(30))
        yield p


def decided(project: Project) -> list[tuple[str, str, tuple[str, ...]]]:
    frame = project.dataset("dev").decisions()
    return list(zip(frame["example_id"], frame["reviewer"], frame["tags"], strict=True))


@pytest.mark.parametrize("stage_rows", [10_000, 2])
def test_every_review_keeps_what_its_reviewer_decided(project, monkeypatch, stage_rows):
    monkeypatch.setattr(staging, "STAGE_ROWS", stage_rows)
    store = project.dataset("dev")
    store.set_tag("0", "car", actor="ana")
    store.record_review("0", reviewer="ana")  # in the app: the tags it leaves the example with
    store.record_review("1", reviewer="ben", tags=["x", "car"])
    # An import keeps each row's own tags, whatever the example carries after it.
    store.record_reviews(
        pd.DataFrame({"id": ["2", "2", "3"], "reviewer": ["ana", "ben", "ana"]}),
        tags=[["car"], ["new"], []],
        exact=True,
    )
    store.record_reviews(pd.DataFrame({"id": ["4"], "reviewer": ["ana"]}), tags=None)
    assert decided(project) == [
        ("0", "ana", ("car",)),
        ("1", "ben", ("car", "x")),
        ("2", "ana", ("car",)),
        ("2", "ben", ("new",)),
        ("3", "ana", ()),
    ]  # an import without tags records no decision
    assert store.example_tags("2") == ["new"]
    project.rename_tag("car", "vehicle", actor="ana")
    project.delete_tag("x", actor="ana")
    store.undo(actor="ben")  # ben's import part: his review of 2 goes
    assert decided(project) == [
        ("0", "ana", ("vehicle",)),
        ("1", "ben", ("vehicle",)),
        ("2", "ana", ("vehicle",)),
        ("3", "ana", ()),
    ]


def test_a_schema_5_file_migrates_keeping_its_reviews_without_decisions(tmp_path):
    path = tmp_path / "old.db"
    old = Project(path, migrate=False)
    old.migrate(to=5)
    add_run(old, "dev", numbered_frame(6))
    old.dataset("dev").record_review("1", reviewer="ana", tags=["car"])
    reviews = old.dataset("dev").reviews()
    old.close()
    with open_project(path, readonly=True) as project:
        assert project.schema_version == 5
        assert project.dataset("dev").decisions().empty
        assert project.roles().empty and project.role_of("ana") is None
        assert not project.has_team()  # a file from before roles: none to check
    with open_project(path) as project:  # migrated through schema 6 to the current one
        assert project.schema_version == SCHEMA_VERSION
        pd.testing.assert_frame_equal(project.dataset("dev").reviews(), reviews)
        assert project.dataset("dev").decisions().empty  # not kept before schema 6


def test_roles_once_granted_are_checked(project):
    project.require("anyone", "admin", "delete a tag")  # no team yet: everyone may
    with pytest.raises(StoreError, match="first role granted .* makes its first admin"):
        project.grant_role("ana", "viewer", actor="ana")
    assert not project.has_team()  # the refused grant formed none
    project.grant_role("ana", "admin", actor="ana")
    assert project.has_team()
    project.grant_role("ben", "viewer", actor="ana")
    with pytest.raises(NotPermitted, match="'ben' may not tag an example: .* 'ben' is a viewer"):
        project.require("ben", "reviewer", "tag an example")
    with pytest.raises(NotPermitted, match="'eve' has no role in this project"):
        project.require("eve", "viewer", "read")
    with pytest.raises(NotPermitted, match="'ben' may not grant roles"):
        project.grant_role("ben", "admin", actor="ben")
    with pytest.raises(StoreError, match="'ana' is the project's only admin"):
        project.grant_role("ana", "reviewer", actor="ana")
    with pytest.raises(StoreError, match="unknown role 'boss'"):
        project.grant_role("ben", "boss", actor="ana")
    project.grant_role("ben", "none", actor="ana")
    assert project.roles()[["user", "role", "granted_by"]].values.tolist() == [
        ["ana", "admin", "ana"]
    ]
    assert project.role_of("ben") is None
    assert project.actions(limit=3)["kind"].tolist() == ["role", "role", "role"]
