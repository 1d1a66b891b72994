"""Roles enforced in the package: every public write checks its actor's role first, and a
refused write changes nothing in the file."""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable

import pandas as pd
import pytest
from store_support import add_run, numbered_frame

from erroranalysis.errors import NotPermitted
from erroranalysis.evidence import load_evidence
from erroranalysis.sampling import draw_sample
from erroranalysis.store import DatasetStore, Project, open_project
from erroranalysis.store.team import WRITE_ROLES

ADMIN, REVIEWER, VIEWER, NOBODY = "boss", "rita", "vera", "nobody"
# Writes that are no change of the project's content, so no role is asked for.
NOT_CHECKED = {"migrate": "upgrades the file's schema when it is opened for writing"}


def _reviews(actor: str) -> pd.DataFrame:
    return pd.DataFrame({"id": ["4"], "reviewer": [actor]})


# Each public write, called as ``actor``, with arguments it accepts from an allowed actor.
WRITES: dict[str, Callable[[Project, str], object]] = {
    "set_tag": lambda p, a: p.dataset("dev").set_tag("1", "car", actor=a),
    "tag_examples": lambda p, a: p.dataset("dev").tag_examples(["1", "2"], "car", actor=a),
    "record_reviews": lambda p, a: p.dataset("dev").record_reviews(_reviews(a), tags=[["car"]]),
    "record_sample": lambda p, a: p.dataset("dev").record_sample(
        draw_sample(load_evidence(p, "dev"), size=4, seed=1), actor=a
    ),
    "undo": lambda p, a: p.dataset("dev").undo(actor=a),
    "import_run": lambda p, a: add_run(p, "dev", numbered_frame(12), actor=a, replace=True),
    "relink_media": lambda p, a: p.dataset("dev").relink_media(p.path.parent, actor=a),
    "define_tag": lambda p, a: p.define_tag("car", description="a car passes", actor=a),
    "define_tags": lambda p, a: p.define_tags(
        pd.DataFrame({"tag": ["car"], "hlp": [0.9], "effort": [1.0], "description": ["car"]}),
        actor=a,
    ),
    "rename_tag": lambda p, a: p.rename_tag("car", "vehicle", actor=a),
    "merge_tags": lambda p, a: p.merge_tags("car", "noise", actor=a),
    "delete_tag": lambda p, a: p.delete_tag("car", actor=a),
    "grant_role": lambda p, a: p.grant_role(NOBODY, "viewer", actor=a),
}
# The same writes by other paths to them.
OTHER_PATHS: dict[str, tuple[str, Callable[[Project, str], object]]] = {
    "record_review": (
        "record_reviews",
        lambda p, a: p.dataset("dev").record_review("4", reviewer=a, tags=["car"]),
    ),
    "record_reviews(actor=)": (
        "record_reviews",
        lambda p, a: p.dataset("dev").record_reviews(_reviews(ADMIN), tags=None, actor=a),
    ),
    "import_run(production)": (
        "import_run",
        lambda p, a: add_run(
            p,
            "live",
            numbered_frame(5).drop(columns=["label", "correct"]),
            production=True,
            actor=a,
        ),
    ),
}
CALLS = {**{name: (name, call) for name, call in WRITES.items()}, **OTHER_PATHS}
RANKED = {"reviewer": [VIEWER, NOBODY], "admin": [REVIEWER, VIEWER, NOBODY]}


@pytest.fixture
def team(tmp_path):
    """A project whose team is formed: an admin, a reviewer and a viewer (who tagged an
    example before the team was formed, so has an action to undo)."""
    with open_project(tmp_path / "p.db") as p:
        add_run(p, "dev", numbered_frame(12))
        store = p.dataset("dev")
        for who in (VIEWER, REVIEWER, NOBODY):
            store.set_tag("0", f"by {who}", actor=who)
        store.set_tag("3", "car", actor=ADMIN)
        store.set_tag("3", "noise", actor=ADMIN)
        p.grant_role(ADMIN, "admin", actor=ADMIN)
        p.grant_role(REVIEWER, "reviewer", actor=ADMIN)
        p.grant_role(VIEWER, "viewer", actor=ADMIN)
        yield p


def dump(project: Project) -> dict[str, list[tuple]]:
    """Every row of every table of the file."""
    conn = project._conn
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {t: sorted(conn.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr) for t in tables}


def test_every_public_write_checks_its_role():
    """Every public method of the store that takes the write lock asks for the role of
    WRITE_ROLES under its own name, and each is exercised by the tables below."""
    writes = set()
    for cls in (Project, DatasetStore):
        for name, method in inspect.getmembers(cls, inspect.isfunction):
            if name.startswith("_") or name in NOT_CHECKED:
                continue
            source = inspect.getsource(method)
            if re.search(r"\.write\(\)", source):
                writes.add(name)
                assert re.search(rf'permit\((actor|each), "{name}"\)', source), name
    assert writes == set(WRITE_ROLES) == set(WRITES)


@pytest.mark.parametrize(
    ("call", "actor"),
    [
        (call, actor)
        for call, (write, _) in CALLS.items()
        for actor in RANKED[WRITE_ROLES[write][0]]
    ],
)
def test_a_refused_write_raises_and_changes_nothing(team, call, actor):
    write, do = CALLS[call]
    role, doing = WRITE_ROLES[write]
    before, revision = dump(team), team.revision()
    with pytest.raises(
        NotPermitted, match=rf"^'{actor}' may not {doing}: that needs the {role} role"
    ):
        do(team, actor)
    assert team.revision() == revision
    assert dump(team) == before


@pytest.mark.parametrize("call", list(CALLS))
def test_the_role_a_write_needs_is_enough(team, call):
    write, do = CALLS[call]
    actor = {"reviewer": REVIEWER, "admin": ADMIN}[WRITE_ROLES[write][0]]
    revision = team.revision()
    do(team, actor)
    assert team.revision() > revision or call == "undo"  # rita has nothing to undo


# The first grant forms the team, and must make an admin (see test_team).
@pytest.mark.parametrize("call", [c for c in CALLS if c != "grant_role"])
def test_without_a_team_everyone_may_write(tmp_path, call):
    with open_project(tmp_path / "p.db") as p:
        add_run(p, "dev", numbered_frame(12))
        p.dataset("dev").set_tag("3", "car", actor=NOBODY)
        p.dataset("dev").set_tag("3", "noise", actor=NOBODY)
        revision = p.revision()
        CALLS[call][1](p, NOBODY)
        assert p.revision() > revision


def test_a_multi_reviewer_import_needs_every_reviewer_to_review(team):
    reviews = pd.DataFrame({"id": ["4", "5"], "reviewer": [REVIEWER, VIEWER]})
    before = dump(team)
    with pytest.raises(NotPermitted, match=f"^'{VIEWER}' may not record reviews"):
        team.dataset("dev").record_reviews(reviews, tags=None)
    assert dump(team) == before
    team.dataset("dev").record_reviews(reviews, tags=None, actor=REVIEWER)  # one action of rita
    assert team.dataset("dev").actions(limit=1)["actor"].tolist() == [REVIEWER]


def test_a_project_opened_via_the_command_line_says_so_in_every_action(tmp_path):
    with open_project(tmp_path / "p.db", via="cli") as p:
        add_run(p, "dev", numbered_frame(6))
        p.dataset("dev").set_tag("1", "car", actor="ana")
        p.grant_role("ana", "admin", actor="ana")
    with open_project(tmp_path / "p.db") as p:
        p.dataset("dev").set_tag("2", "car", actor="ana")
        actions = p.actions(limit=None)
    assert [
        (kind, json.loads(detail).get("via"))
        for kind, detail in zip(actions["kind"], actions["detail"], strict=True)
    ] == [
        ("tag", None),
        ("role", "cli"),
        ("tag", "cli"),
        ("import", "cli"),
    ]
