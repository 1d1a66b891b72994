"""Roles enforced in the package: every public write checks its actor's role first, and a
refused write changes nothing in the file."""

from __future__ import annotations

import inspect
import json
import re
import sqlite3
from collections.abc import Callable

import pandas as pd
import pytest
from store_support import add_run, numbered_frame

from erroranalysis.cli import main
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
    "write_sql_rows": lambda p, a: p.dataset("dev").write_sql_rows(actor=a),
    "define_tag": lambda p, a: p.define_tag("car", description="a car passes", actor=a),
    "define_tags": lambda p, a: p.define_tags(
        pd.DataFrame({"tag": ["car"], "hlp": [0.9], "effort": [1.0], "description": ["car"]}),
        actor=a,
    ),
    "rename_tag": lambda p, a: p.rename_tag("car", "vehicle", actor=a),
    "merge_tags": lambda p, a: p.merge_tags("car", "noise", actor=a),
    "delete_tag": lambda p, a: p.delete_tag("car", actor=a),
    "scope_tag": lambda p, a: p.scope_tag("car", ["dev"], actor=a),
    "order_tags": lambda p, a: p.order_tags(["noise", "car"], actor=a),
    "grant_role": lambda p, a: p.grant_role(NOBODY, "viewer", actor=a),
    "set_review_plan": lambda p, a: p.dataset("dev").set_review_plan(share=0.1, seed=1, actor=a),
    "adjudicate": lambda p, a: p.dataset("dev").adjudicate("3", "car", False, actor=a),
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
# Writes allowed here that leave the revision where it was.
SAME_REVISION = {
    "undo": "rita has nothing to undo",
    "write_sql_rows": "the rows repeat what the run holds (and this run has them already)",
}
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
            # _relink writes without asking (for bundle's own copy): its callers ask.
            if re.search(r"\.write\(\)|\._relink\(", source):
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
    assert team.revision() > revision or call in SAME_REVISION


# The first grant forms the team, and must make an admin (see test_team).
@pytest.mark.parametrize("call", [c for c in CALLS if c != "grant_role"])
def test_without_a_team_everyone_may_write(tmp_path, call):
    with open_project(tmp_path / "p.db") as p:
        add_run(p, "dev", numbered_frame(12))
        p.dataset("dev").set_tag("3", "car", actor=NOBODY)
        p.dataset("dev").set_tag("3", "noise", actor=NOBODY)
        revision = p.revision()
        CALLS[call][1](p, NOBODY)
        assert p.revision() > revision or call == "write_sql_rows"


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


# ---------------------------------------------------------------------- the command line
CSV = "id,label,prediction,noise\n1,yes,yes,car\n2,no,yes,clean\n3,no,no,car\n"


def file_dump(path) -> str:
    """Everything the project file holds, as SQL text (WAL content included)."""
    with sqlite3.connect(path) as conn:
        return "\n".join(conn.iterdump())


@pytest.fixture
def cli_team(tmp_path, capsys):
    """A project made and staffed through the command line: boss (admin), rita (reviewer),
    vera (viewer)."""
    (tmp_path / "d.csv").write_text(CSV)
    (tmp_path / "tags.csv").write_text("tag,hlp\ncar noise,0.9\n")
    db = str(tmp_path / "p.db")
    assert main(["import", str(tmp_path / "d.csv"), "--db", db, "--dataset", "dev"]) == 0
    for user, role in ((ADMIN, "admin"), (REVIEWER, "reviewer"), (VIEWER, "viewer")):
        assert main(["roles", "set", user, role, "--db", db, "--actor", ADMIN]) == 0
    capsys.readouterr()
    return tmp_path


def test_roles_set_and_list(cli_team, capsys):
    db = str(cli_team / "p.db")
    assert main(["roles", "set", VIEWER, "reviewer", "--db", db, "--actor", ADMIN]) == 0
    assert main(["roles", "set", REVIEWER, "none", "--db", db, "--actor", ADMIN]) == 0
    assert main(["roles", "set", ADMIN, "admin", "--db", db, "--actor", ADMIN]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"'{VIEWER}' is a reviewer of {db} (granted by '{ADMIN}')",
        f"'{REVIEWER}' has no role in {db} (granted by '{ADMIN}')",
        f"'{ADMIN}' is an admin of {db} (granted by '{ADMIN}')",
    ]
    assert main(["roles", "list", "--db", db, "--out", str(cli_team / "roles.csv")]) == 0
    listed = pd.read_csv(cli_team / "roles.csv", dtype=str)
    assert listed.columns.tolist() == ["user", "role", "granted_by", "granted_at"]
    assert listed[["user", "role", "granted_by"]].values.tolist() == [
        [ADMIN, "admin", ADMIN],
        [VIEWER, "reviewer", ADMIN],
    ]
    with open_project(db) as p:
        roles = p.actions(limit=None).query("kind == 'role'")
    assert [json.loads(d) for d in roles["detail"]][:3] == [
        {"user": ADMIN, "role": "admin", "via": "cli"},
        {"user": REVIEWER, "role": "none", "via": "cli"},
        {"user": VIEWER, "role": "reviewer", "via": "cli"},
    ]


def test_roles_set_refuses_an_unknown_role(cli_team, capsys):
    db = str(cli_team / "p.db")
    before = file_dump(db)
    with pytest.raises(SystemExit):
        main(["roles", "set", VIEWER, "owner", "--db", db, "--actor", ADMIN])
    assert "invalid choice: 'owner'" in capsys.readouterr().err
    assert file_dump(db) == before


def _reviews_by(folder, who: str) -> str:
    (folder / "r.csv").write_text(f"id,reviewer,tags\n2,{who},car noise\n")
    return str(folder / "r.csv")


# Each command that writes, as vera (a viewer) or rita (a reviewer) where it needs an admin:
# (words after the command's --db, the refusal's words).
REFUSED = {
    "import": (
        lambda f: ["import", str(f / "d.csv"), "--dataset", "dev", "--replace", "--actor", VIEWER],
        f"'{VIEWER}' may not import runs",
    ),
    "import by a reviewer": (
        lambda f: ["import", str(f / "d.csv"), "--dataset", "v2", "--actor", REVIEWER],
        f"'{REVIEWER}' may not import runs: that needs the admin role, and '{REVIEWER}' is a "
        "reviewer",
    ),
    "reviews import --actor": (
        lambda f: [
            "reviews",
            "import",
            _reviews_by(f, REVIEWER),
            "--dataset",
            "dev",
            "--actor",
            VIEWER,
        ],
        f"'{VIEWER}' may not record reviews",
    ),
    "reviews import of a viewer's reviews": (
        lambda f: ["reviews", "import", _reviews_by(f, VIEWER), "--dataset", "dev"],
        f"'{VIEWER}' may not record reviews: that needs the reviewer role, and '{VIEWER}' is a "
        "viewer",
    ),
    "sample": (
        lambda f: [
            "sample",
            "--dataset",
            "dev",
            "--size",
            "2",
            "--out",
            str(f / "s.csv"),
            "--actor",
            VIEWER,
        ],
        f"'{VIEWER}' may not draw a review sample",
    ),
    "tags import": (
        lambda f: ["tags", "import", str(f / "tags.csv"), "--actor", REVIEWER],
        f"'{REVIEWER}' may not define tags",
    ),
    "undo": (
        lambda f: ["undo", "--dataset", "dev", "--actor", VIEWER],
        f"'{VIEWER}' may not undo their actions",
    ),
    "undo --reviewer": (
        lambda f: ["undo", "--dataset", "dev", "--reviewer", NOBODY],
        f"'{NOBODY}' may not undo their actions: that needs the reviewer role, and '{NOBODY}' "
        "has no role in this project",
    ),
    "media relink": (
        lambda f: ["media", "relink", "--dataset", "dev", "--root", str(f), "--actor", REVIEWER],
        f"'{REVIEWER}' may not relink media",
    ),
    "roles set": (
        lambda f: ["roles", "set", VIEWER, "admin", "--actor", VIEWER],
        f"'{VIEWER}' may not grant roles",
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_refused_command_exits_1_and_changes_nothing(cli_team, capsys, case):
    build, message = REFUSED[case]
    db = cli_team / "p.db"
    words = build(cli_team)
    before = file_dump(db)
    assert main([*words, "--db", str(db)]) == 1
    captured = capsys.readouterr()
    assert captured.err.startswith(f"error: {message}"), captured.err
    assert "nothing was changed" in captured.err and captured.out == ""
    assert file_dump(db) == before
    assert not (cli_team / "s.csv").exists()  # a refused sample writes no sheet


def test_the_command_line_acts_as_its_named_actor_and_says_so(cli_team, capsys):
    db = str(cli_team / "p.db")
    words = ["reviews", "import", _reviews_by(cli_team, REVIEWER), "--db", db, "--dataset", "dev"]
    assert main(words) == 0
    assert main(["undo", "--db", db, "--dataset", "dev", "--reviewer", REVIEWER]) == 0
    assert main(["tags", "import", str(cli_team / "tags.csv"), "--db", db, "--actor", ADMIN]) == 0
    with open_project(db) as p:
        actions = p.actions(limit=None)
    assert [
        (kind, actor, json.loads(detail)["via"])
        for kind, actor, detail in actions[["kind", "actor", "detail"]].values[:3]
    ] == [
        ("define_tags", ADMIN, "cli"),
        ("undo", REVIEWER, "cli"),
        ("reviews_import", REVIEWER, "cli"),
    ]
