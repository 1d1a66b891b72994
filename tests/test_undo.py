"""The action log's undo: one action per reviewer of an import, undo of tag management
(rename, merge, delete, definitions, datasets, order) restoring the exact previous state, and renames and
deletes that behave the same for reviewed, dataset and rule tags."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pandas as pd
import pytest
from app_support import DATASET, REVIEWER, no_errors, open_page
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal
from store_support import add_run, numbered_frame

from erroranalysis.cli import main
from erroranalysis.errors import NotPermitted
from erroranalysis.store import Project, StoreError, open_project
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


# ------------------------------------------------------------- undo of tag management
@pytest.fixture
def tagged(tmp_path):
    """Two datasets; ana's tags 'noise' (defined) and 'clipped', a deleted tag 'old'."""
    with tagged_project(tmp_path / "tagged.db") as p:
        yield p


@contextmanager
def tagged_project(path: Path) -> Iterator[Project]:
    with open_project(path) as p:
        add_run(p, "dev", numbered_frame(6))
        add_run(p, "test", numbered_frame(4))
        p.define_tag("noise", actor="lead", description="hum", hlp=0.3, effort=2.0)
        p.dataset("dev").set_tag("1", "noise", actor="ana")
        p.dataset("dev").set_tag("2", "noise", actor="ana")
        p.dataset("test").set_tag("2", "noise", actor="ana")
        p.dataset("dev").set_tag("2", "clipped", actor="ana")
        p.dataset("dev").set_tag("3", "old", actor="ana")
        p.delete_tag("old", actor="lead")
        yield p


def state(project: Project) -> tuple:
    """What an undo must restore: the definitions and every dataset's assignments."""
    definitions = project.tag_definitions().drop(columns=["created_at", "created_by"])
    return (
        definitions.astype(object).where(definitions.notna(), None).to_dict("records"),
        *(current(project, name) for name in project.dataset_names()),
    )


TAG_CHANGES = {
    "define (change)": lambda p: p.define_tag("noise", actor="lead", hlp=0.9, clear=["effort"]),
    "define (new)": lambda p: p.define_tag("fresh", actor="lead", description="new", hlp=0.1),
    "define (deleted name)": lambda p: p.define_tag("old", actor="lead", hlp=0.5),
    "define_tags": lambda p: p.define_tags(
        pd.DataFrame(
            {
                "tag": ["noise", "fresh", "noise"],
                "hlp": [0.5, None, 0.7],
                "effort": [None, 3.0, 1.0],
                "description": ["", "f", "twice"],
            }
        ),
        actor="lead",
    ),
    "rename": lambda p: p.rename_tag("noise", "hum", actor="lead"),
    "rename onto a deleted name": lambda p: p.rename_tag("noise", "old", actor="lead"),
    "merge": lambda p: p.merge_tags("noise", "clipped", actor="lead"),
    "delete": lambda p: p.delete_tag("noise", actor="lead"),
    "scope": lambda p: p.scope_tag("clipped", ["dev"], actor="lead"),
    "order": lambda p: p.order_tags(["noise", "clipped"], actor="lead"),
}


@pytest.mark.parametrize("change", list(TAG_CHANGES), ids=list(TAG_CHANGES))
@pytest.mark.parametrize("dataset", ["dev", "test"])
def test_undo_of_a_tag_action_restores_the_exact_previous_state(tagged, change, dataset):
    before = state(tagged)
    TAG_CHANGES[change](tagged)
    assert state(tagged) != before
    undone = tagged.dataset(dataset).undo(actor="lead")
    assert undone["kind"] == tagged.actions().kind.iloc[1]
    assert state(tagged) == before
    last = tagged.actions().iloc[0]  # a project-wide undo
    assert (last.kind, pd.isna(last.dataset), last.undoes) == ("undo", True, undone["action"])
    for name in ("dev", "test"):
        assert_replays(tagged, name)
    # the rest of lead's actions: the delete of 'old', then the definition of 'noise'
    assert tagged.dataset(dataset).undo(actor="lead")["kind"] == "delete_tag"
    assert ("3", "old") in current(tagged)


def test_a_tag_undone_comes_back_with_its_exact_definition(tagged):
    tagged.delete_tag("noise", actor="lead")
    tagged.dataset("dev").undo(actor="lead")
    row = tagged.tag_definitions().set_index("tag").loc["noise"]
    assert (row.description, row.hlp, row.effort, row.rule) == ("hum", 0.3, 2.0, None)
    assert tagged.dataset("test").example_tags("2") == ["noise"]


# Each defect as issue 9 reproduced it: failed on the old main, passes now.
def defect_import_undo(p: Project) -> None:
    p.dataset("dev").record_reviews(BEN_THEN_ANA, tags=BEN_THEN_ANA_TAGS)
    p.dataset("dev").undo(actor="ben")
    assert p.dataset("dev").reviews().reviewer.tolist() == ["ana", "ana", "ana"]


def defect_undo_after_delete(p: Project) -> None:
    p.dataset("dev").set_tag("4", "clipped", actor="ana")
    p.delete_tag("clipped", actor="ana")
    assert p.dataset("dev").undo(actor="ana")["kind"] == "delete_tag"
    assert current(p).count(("4", "clipped")) == 1 and ("2", "clipped") in current(p)


def defect_rename_onto_deleted(p: Project) -> None:
    p.rename_tag("clipped", "old", actor="ana")
    assert ("2", "old") in current(p) and "clipped" not in p.tag_definitions().tag.tolist()


def defect_define_deleted_anew(p: Project) -> None:
    p.define_tag("clipped", actor="ana", hlp=0.5, description="first")
    p.delete_tag("clipped", actor="ana")
    p.define_tag("clipped", actor="ana", new=True, description="again")
    row = p.tag_definitions().set_index("tag").loc["clipped"]
    assert (row.description, pd.isna(row.hlp)) == ("again", True)
    assert ("2", "clipped") not in current(p)


def defect_rename_undoable(p: Project) -> None:
    p.rename_tag("noise", "hum", actor="ana")
    assert p.dataset("dev").undo(actor="ana")["kind"] == "rename_tag"
    assert "noise" in p.tag_definitions().tag.tolist()


@pytest.mark.parametrize(
    "defect",
    [
        defect_import_undo,
        defect_undo_after_delete,
        defect_rename_onto_deleted,
        defect_define_deleted_anew,
        defect_rename_undoable,
    ],
)
def test_the_reproduced_defects_are_gone(tagged, defect):
    defect(tagged)


@pytest.mark.parametrize(
    ("later", "message"),
    [
        (lambda p: p.delete_tag("hum", actor="ben"), "tag 'hum' was deleted since"),
        (lambda p: p.rename_tag("hum", "buzz", actor="ben"), "tag 'hum' was renamed 'buzz'"),
        (lambda p: p.define_tag("noise", actor="ben"), "a tag named 'noise' exists already"),
    ],
    ids=["deleted", "renamed", "old name taken"],
)
def test_an_undo_that_a_later_change_prevents_changes_nothing(tagged, later, message):
    tagged.rename_tag("noise", "hum", actor="lead")
    later(tagged)
    before = (state(tagged), len(tagged.actions(limit=None)))
    with pytest.raises(StoreError, match=message):
        tagged.dataset("dev").undo(actor="lead")
    assert (state(tagged), len(tagged.actions(limit=None))) == before


def test_a_reviewer_undoes_only_their_own_tag_actions(tagged):
    tagged.delete_tag("clipped", actor="lead")
    assert tagged.dataset("dev").undo(actor="ana")["kind"] == "tag"  # ana's last toggle
    assert "clipped" not in tagged.tag_definitions().tag.tolist()


def test_a_definition_that_created_a_tag_now_in_use_is_not_undone(tagged):
    tagged.define_tag("fresh", actor="lead")
    tagged.dataset("dev").set_tag("0", "fresh", actor="ana")
    with pytest.raises(StoreError, match="'fresh', which the definition created, is on 1"):
        tagged.dataset("dev").undo(actor="lead")


def test_tag_actions_of_older_versions_are_passed_over(tagged):
    tagged._conn.execute(
        "INSERT INTO actions (dataset_id, kind, actor, at, detail)"
        " VALUES (NULL, 'delete_tag', 'lead', '2026-01-01', '{\"tag\": \"x\"}')"
    )
    assert tagged.dataset("dev").undo(actor="lead")["kind"] == "delete_tag"
    assert ("3", "old") in current(tagged)


# ------------------------------------------------- dataset, rule and reviewed tags alike
@pytest.fixture
def with_data_tag(tmp_path):
    data = numbered_frame(4).assign(**{"tag:quiet": [True, False, True, False]})
    with open_project(tmp_path / "data.db") as p:
        add_run(p, "dev", data, dataset_tags=["quiet"])
        p.dataset("dev").set_tag("1", "noise", actor="ana")
        p.define_tag("low snr", actor="ana", rule="confidence < 0.5")
        yield p


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p.rename_tag("quiet", "silent", actor="ana"), "cannot be renamed here"),
        (lambda p: p.delete_tag("quiet", actor="ana"), "cannot be deleted here"),
        (lambda p: p.merge_tags("quiet", "noise", actor="ana"), "cannot be merged here"),
        (lambda p: p.merge_tags("noise", "quiet", actor="ana"), "cannot be merged into here"),
        (lambda p: p.merge_tags("noise", "low snr", actor="ana"), "'low snr' is a rule tag"),
    ],
    ids=["rename", "delete", "merge from", "merge into", "merge into a rule tag"],
)
def test_a_data_tag_changes_only_with_its_data(with_data_tag, change, message):
    before = state(with_data_tag)
    with pytest.raises(StoreError, match=message + r".*nothing was changed"):
        change(with_data_tag)
    assert state(with_data_tag) == before


@pytest.mark.parametrize("tag", ["noise", "low snr"])
def test_reviewed_and_rule_tags_rename_and_delete_alike(with_data_tag, tag):
    with_data_tag.rename_tag(tag, "renamed", actor="ana")
    assert "renamed" in with_data_tag.tag_definitions().tag.tolist()
    with_data_tag.delete_tag("renamed", actor="ana")
    assert tag not in with_data_tag.tag_definitions().tag.tolist()
    with_data_tag.define_tag(tag, actor="ana", new=True)  # the name is free again
    with_data_tag.dataset("dev").undo(actor="ana")
    with_data_tag.dataset("dev").undo(actor="ana")
    assert "renamed" in with_data_tag.tag_definitions().tag.tolist()


# ------------------------------------------------------------------ the command line
def test_the_command_line_imports_per_reviewer_and_undoes_a_delete(tmp_path):
    db = tmp_path / "p.db"
    with open_project(db) as p:
        add_run(p, "dev", numbered_frame(6))
    sheet = tmp_path / "reviews.csv"
    sheet.write_text("id,reviewer,tags\n0,ben,noise\n1,ana,noise\n2,ana,clipped\n3,ana,\n")
    assert main(["reviews", "import", str(sheet), "--db", str(db), "--dataset", "dev"]) == 0
    with open_project(db) as p:
        p.delete_tag("noise", actor="ana")
    assert main(["undo", "--db", str(db), "--dataset", "dev", "--reviewer", "ana"]) == 0
    with open_project(db) as p:  # ana's delete is undone
        assert current(p) == [("0", "noise"), ("1", "noise"), ("2", "clipped")]
    for reviewer in ("ana", "ben"):  # then ana's part of the import, then ben's
        assert main(["undo", "--db", str(db), "--dataset", "dev", "--reviewer", reviewer]) == 0
    with open_project(db) as p:
        assert p.dataset("dev").reviews().empty
        assert current(p) == []
        undone = p.actions().query("kind == 'undo'").undoes.tolist()
        kinds = p.actions().set_index("id").kind
        assert kinds[undone].tolist() == ["reviews_import", "reviews_import", "delete_tag"]
        assert p.actions().set_index("id").actor[undone].tolist() == ["ben", "ana", "ana"]


def test_an_undo_the_command_line_cannot_do_is_a_clear_error(tmp_path, capsys):
    db = tmp_path / "p.db"
    with open_project(db) as p:
        add_run(p, "dev", numbered_frame(6))
        p.dataset("dev").set_tag("1", "noise", actor="ana")
        p.rename_tag("noise", "hum", actor="ana")
        p.delete_tag("hum", actor="ben")
        before = state(p), len(p.actions(limit=None))
    assert main(["undo", "--db", str(db), "--dataset", "dev", "--reviewer", "ana"]) == 1
    err = capsys.readouterr().err
    assert "tag 'hum' was deleted since by action #4 (deletion of tag 'hum', ben, " in err
    assert err.endswith("; undo that first; nothing was changed\n")
    with open_project(db) as p:
        assert (state(p), len(p.actions(limit=None))) == before


# ------------------------------------------------------------------------- the app
def click(at, label: str):
    next(b for b in at.button if b.label == label).click().run()
    return at


def test_undo_in_review_takes_back_a_delete_made_on_the_tags_page(app, project_file):
    tags = open_page(app, "tags")
    tags.selectbox(key="tg_tag").select("car noise").run()
    click(tags, "Delete…").button(key="tg_confirm").click().run()
    no_errors(tags)
    review = open_page(tags, "review")
    click(review, "Undo")
    no_errors(review)
    assert [t.value for t in review.toast] == [
        "Undid the deletion of tag 'car noise'\\."
    ]  # md() escapes
    with open_project(project_file) as project:
        row = project.tag_definitions().set_index("tag").loc["car noise"]
        assert (row.description, row.hlp) == ("engine hum", 0.95)
        assert project.dataset(DATASET).example_tags("s04") == ["car noise"]
        assert project.actions().iloc[0][["kind", "actor"]].tolist() == ["undo", REVIEWER]


def test_the_tags_page_says_why_a_dataset_tag_is_not_deleted(app, project_file):
    tags = open_page(app, "tags")
    tags.selectbox(key="tg_tag").select("clipped").run()
    click(tags, "Delete…").button(key="tg_confirm").click().run()
    no_errors(tags)
    assert any("comes with the data" in e.value for e in tags.error)
    with open_project(project_file) as project:
        assert "clipped" in project.tag_definitions().tag.tolist()
        assert project.actions().kind.iloc[0] != "delete_tag"


# ------------------------------------------------------------------- undo everything
NAMES = st.sampled_from(["noise", "clipped", "old", "hum"])
OPERATIONS = st.one_of(
    st.tuples(st.just("tag"), st.sampled_from(["0", "1", "2"]), NAMES, st.booleans()),
    st.tuples(st.just("define"), NAMES, st.sampled_from([None, 0.2, 0.8])),
    st.tuples(st.just("rename"), NAMES, NAMES),
    st.tuples(st.just("merge"), NAMES, NAMES),
    st.tuples(st.just("delete"), NAMES),
    st.tuples(st.just("scope"), NAMES, st.sampled_from([None, ["dev"], ["test"], ["dev", "test"]])),
    st.tuples(st.just("order"), st.lists(NAMES, max_size=3)),
)


def operate(p: Project, operation: tuple) -> None:
    kind, *args = operation
    dataset = p.dataset("dev")  # one dataset's undo finds every action (tag actions too)
    act = {
        "tag": lambda example, tag, present: dataset.set_tag(example, tag, present, actor="zoe"),
        "define": lambda tag, hlp: p.define_tag(tag, actor="zoe", hlp=hlp),
        "rename": lambda old, new: p.rename_tag(old, new, actor="zoe"),
        "merge": lambda source, target: p.merge_tags(source, target, actor="zoe"),
        "delete": lambda tag: p.delete_tag(tag, actor="zoe"),
        "scope": lambda tag, datasets: p.scope_tag(tag, datasets, actor="zoe"),
        "order": lambda names: p.order_tags(names, actor="zoe"),
    }[kind]
    with suppress(StoreError):  # a refused change changes nothing
        act(*args)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(OPERATIONS, max_size=12))
def test_undoing_everything_restores_the_start(tmp_path, operations):
    path = tmp_path / f"{uuid.uuid4().hex}.db"  # a fresh project for each example
    with tagged_project(path) as tagged:
        start = state(tagged)
        for operation in operations:
            operate(tagged, operation)
        while tagged.dataset("dev").undo(actor="zoe") is not None:
            pass
        assert state(tagged) == start
        for name in ("dev", "test"):
            assert_replays(tagged, name)


# ------------------------------------------------------------- undo of a chosen action
def two_reviewer_import(p: Project) -> None:
    reviews = pd.DataFrame({"id": ["4", "5"], "reviewer": ["ben", "cy"]})
    p.dataset("dev").record_reviews(reviews, tags=[["noise"], ["noise"]])


def cy_alone(p: Project) -> None:
    reviews = pd.DataFrame({"id": ["5"], "reviewer": ["cy"]})
    p.dataset("dev").record_reviews(reviews, tags=[["noise"]])


# Each case: the action to undo (the last it logs; of an import, ben's part), what happens
# after it, and what of it stays when it is undone.
UNDO_BY_ID = {
    "toggle, then changed back and forth": (
        lambda p: p.dataset("dev").set_tag("4", "noise", actor="ana"),
        lambda p: (
            p.dataset("dev").set_tag("4", "noise", False, actor="ben"),
            p.dataset("dev").set_tag("4", "noise", actor="ben"),
        ),
        None,
    ),
    "toggle, then removed by another": (
        lambda p: p.dataset("dev").set_tag("4", "clipped", actor="ana"),
        lambda p: p.dataset("dev").set_tag("4", "clipped", False, actor="ben"),
        None,
    ),
    "review with tags": (
        lambda p: p.dataset("dev").record_review("4", reviewer="ben", tags=["noise"]),
        lambda p: p.dataset("dev").set_tag("5", "noise", actor="ana"),
        None,
    ),
    "import part": (
        two_reviewer_import,
        lambda p: p.dataset("dev").set_tag("4", "noise", False, actor="ana"),
        cy_alone,  # cy's part of the import stays
    ),
    "rename, then tagged by the new name": (
        lambda p: p.rename_tag("noise", "hum", actor="lead"),
        lambda p: p.dataset("dev").set_tag("5", "clipped", actor="ana"),
        None,
    ),
    "merge, then the target taken off": (
        lambda p: p.merge_tags("noise", "clipped", actor="lead"),
        lambda p: p.dataset("dev").set_tag("1", "clipped", False, actor="ben"),
        None,
    ),
    "delete, then another tag changed": (
        lambda p: p.delete_tag("clipped", actor="lead"),
        lambda p: p.dataset("dev").set_tag("5", "noise", actor="ana"),
        None,
    ),
    "definition, then another tag defined": (
        lambda p: p.define_tag("noise", actor="lead", hlp=0.9),
        lambda p: p.define_tag("clipped", actor="ben", hlp=0.1),
        None,
    ),
}


@pytest.mark.parametrize("case", list(UNDO_BY_ID), ids=list(UNDO_BY_ID))
def test_undo_of_a_chosen_action_is_as_if_it_never_happened(tmp_path, case):
    act, later, kept = UNDO_BY_ID[case]
    with tagged_project(tmp_path / "never.db") as p:  # what follows, without the action
        if kept is not None:
            kept(p)
        with suppress(StoreError):
            later(p)
        never = state(p)
    with tagged_project(tmp_path / "undone.db") as p:
        act(p)
        action = int(p.actions(limit=1).id.iloc[0])
        if case == "import part":
            action -= 1  # ben's part, logged before cy's
        later(p)
        undone = p.undo(action=action, actor="lead")
        assert undone["action"] == action
        assert state(p) == never
        for name in ("dev", "test"):
            assert_replays(p, name)
        log = p.log(kinds="undo", limit=1).rows.iloc[0]
        assert (log.undoes, log.actor) == (action, "lead")


def test_undos_in_any_order_leave_the_same_tags(tmp_path):
    def steps(p: Project) -> list[int]:
        dev = p.dataset("dev")
        return [
            dev.set_tag("4", "noise", actor="ana"),
            dev.set_tag("4", "noise", False, actor="ben"),
            dev.set_tag("4", "noise", actor="cy"),
        ]

    results = []
    for order in ([0, 1, 2], [2, 1, 0], [1, 0, 2], [0, 2, 1]):
        with tagged_project(tmp_path / f"{''.join(map(str, order))}.db") as p:
            actions = steps(p)
            for i in order[:2]:
                p.undo(action=actions[i], actor="lead")
            left = order[2]
            results.append((left, current(p)))
            assert_replays(p)
    # With one toggle left, ("4", "noise") is there exactly when that one added it.
    assert [(left, ("4", "noise") in tags) for left, tags in results] == [
        (2, True),
        (0, True),
        (2, True),
        (1, False),
    ]


@pytest.mark.parametrize(
    ("act", "later", "message"),
    [
        (
            lambda p: p.rename_tag("noise", "hum", actor="lead"),
            lambda p: p.rename_tag("hum", "buzz", actor="ben"),
            r"tag 'hum' was renamed 'buzz' since by action #\d+ \(rename of tag 'hum' to 'buzz', "
            r"ben, .*\); undo that first; nothing was changed",
        ),
        (
            lambda p: p.delete_tag("clipped", actor="lead"),
            lambda p: p.rename_tag("noise", "clipped", actor="ben"),
            r"a tag named 'clipped' exists already by action #\d+ \(rename of tag 'noise' to "
            r"'clipped', ben, .*\); undo that first; nothing was changed",
        ),
        (
            lambda p: p.define_tag("noise", actor="lead", hlp=0.9),
            lambda p: p.define_tag("noise", actor="ben", hlp=0.5),
            r"the definition of tag 'noise' was changed again since by action #\d+ \(change to "
            r"the definition of tag 'noise', ben, .*\); undo that first",
        ),
        (
            lambda p: p.merge_tags("noise", "clipped", actor="lead"),
            lambda p: p.dataset("dev").set_tag("5", "noise", actor="ben"),
            r"tag 'noise' was made again since by action #\d+ \(addition of tag 'noise' to "
            r"example '5', ben, .*\); undo that first",
        ),
    ],
    ids=["renamed again", "old name taken", "defined again", "merged name made again"],
)
def test_an_undo_a_later_action_depends_on_names_it_and_changes_nothing(
    tagged, act, later, message
):
    act(tagged)
    action = int(tagged.actions(limit=1).id.iloc[0])
    later(tagged)
    before = (state(tagged), len(tagged.actions(limit=None)))
    with pytest.raises(StoreError, match=message):
        tagged.undo(action=action, actor="lead")
    assert (state(tagged), len(tagged.actions(limit=None))) == before


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (1, r"^action #1 \(import of run 'main' .*\) cannot be undone"),
        (99, r"^there is no action #99 in tagged\.db"),
        (0, r"^action must be 1 or more, got 0"),
    ],
)
def test_an_action_that_cannot_be_undone_is_named(tagged, action, message):
    with pytest.raises(StoreError, match=message):
        tagged.undo(action=action, actor="lead")


def test_an_action_is_undone_once(tagged):
    action = int(tagged.dataset("dev").set_tag("5", "noise", actor="ana"))
    undo = tagged.undo(action=action, actor="ana")
    assert undo["what"] == "addition of tag 'noise' to example '5'"
    undo_id = int(tagged.actions(limit=1).id.iloc[0])
    with pytest.raises(StoreError, match=rf"was undone already, by action #{undo_id}"):
        tagged.undo(action=action, actor="ana")
    with pytest.raises(StoreError, match=rf"^action #{undo_id} \(undo of action .*cannot be"):
        tagged.undo(action=undo_id, actor="ana")


def test_a_dataset_undoes_by_id_only_its_own_and_the_projects_actions(tagged):
    action = int(tagged.dataset("test").set_tag("0", "noise", actor="ana"))
    with pytest.raises(StoreError, match=rf"^action #{action} is not of dataset 'dev'"):
        tagged.dataset("dev").undo(action=action, actor="ana")
    assert tagged.dataset("test").undo(action=action, actor="ana")["action"] == action
    tagged.rename_tag("noise", "hum", actor="lead")
    rename = int(tagged.actions(limit=1).id.iloc[0])
    assert tagged.dataset("dev").undo(action=rename, actor="lead")["kind"] == "rename_tag"


@pytest.mark.parametrize(
    ("team", "actor", "whose", "refused"),
    [
        (False, "ben", "ana", None),  # no team: anyone
        (True, "ana", "ana", None),  # a reviewer, their own
        (True, "ana", "ben", r"^'ana' may not undo another person's action: that needs the admin"),
        (True, "lead", "ana", None),  # an admin, anyone's
        (True, "vic", "vic", r"^'vic' may not undo their actions: that needs the reviewer role"),
        (True, "zed", "ana", r"^'zed' may not undo their actions: .*'zed' has no role"),
    ],
)
def test_who_may_undo_a_chosen_action(tagged, team, actor, whose, refused):
    action = int(tagged.dataset("dev").set_tag("5", "noise", actor=whose))
    if team:
        tagged.grant_role("lead", "admin", actor="lead")
        for user, role in (("ana", "reviewer"), ("ben", "reviewer"), ("vic", "viewer")):
            tagged.grant_role(user, role, actor="lead")
    if refused is None:
        assert tagged.undo(action=action, actor=actor)["action"] == action
        assert "5" not in [e for e, t in current(tagged) if t == "noise"]
    else:
        before = state(tagged)
        with pytest.raises(NotPermitted, match=refused):
            tagged.undo(action=action, actor=actor)
        assert state(tagged) == before


def live_replay(p: Project, dataset: str = "dev") -> list[tuple[str, str]]:
    """Each (example, tag) as the events of the live actions set it, in log order: those
    neither undone nor undos themselves."""
    actions = p.actions(limit=None)
    dead = set(actions["undoes"].dropna().astype(int)) | set(
        actions.loc[actions.kind == "undo", "id"]
    )
    state: dict[tuple[str, str], bool] = {}
    for event in p.dataset(dataset).tag_events().itertuples():
        if event.action_id not in dead:
            state[(event.example_id, event.tag)] = event.op == "add"
    return sorted(pair for pair, present in state.items() if present)


TOGGLES = st.lists(
    st.tuples(
        st.sampled_from(["ana", "ben", "cy"]),
        st.sampled_from(["0", "1"]),
        st.sampled_from(["noise", "clipped"]),
        st.booleans(),
    ),
    min_size=1,
    max_size=10,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(TOGGLES, st.randoms(use_true_random=False))
def test_undos_by_id_in_any_order_leave_what_the_live_actions_say(tmp_path, toggles, rng):
    with tagged_project(tmp_path / f"{uuid.uuid4().hex}.db") as p:
        actions = []
        for actor, example, tag, present in toggles:
            action = p.dataset("dev").set_tag(example, tag, present, actor=actor)
            if action is not None:
                actions.append(action)
        rng.shuffle(actions)
        for action in actions[: rng.randint(0, len(actions))]:
            p.undo(action=action, actor="lead")
            assert current(p) == live_replay(p)
        assert_replays(p)


def test_a_tag_a_toggle_created_stays_when_a_later_tag_action_kept_it(tagged):
    toggle = tagged.dataset("dev").set_tag("0", "fresh", actor="ana")  # makes 'fresh'
    tagged.rename_tag("fresh", "renamed", actor="lead")
    tagged.undo(action=toggle, actor="ana")
    assert "renamed" in tagged.tag_definitions()["tag"].tolist()  # the rename still stands
    assert ("0", "renamed") not in current(tagged)
    assert tagged.undo(action=toggle + 1, actor="lead")["kind"] == "rename_tag"
