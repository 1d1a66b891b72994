"""Tags scoped to datasets and the shortcut order: what each dataset offers and counts,
refusals that change nothing, and undo."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from contextlib import closing

import pandas as pd
import pytest
from store_support import add_run, numbered_frame

from erroranalysis import analyses
from erroranalysis.cli import main
from erroranalysis.errors import NotPermitted
from erroranalysis.store import Project, StoreError, open_project, staging
from erroranalysis.store.log import describe_action


@pytest.fixture
def project(tmp_path):
    data = numbered_frame(6).assign(**{"tag:loud": [True, False] * 3})
    with open_project(tmp_path / "p.db") as p:
        add_run(p, "speech", data, dataset_tags=["loud"])
        add_run(p, "digits", numbered_frame(6))
        for name in ("hum", "car", "blur", "any"):
            p.define_tag(name, actor="lead")
        p.define_tag("sure", actor="lead", rule="confidence > 0.9")
        p.dataset("speech").set_tag("0", "hum", actor="ana")
        p.dataset("digits").set_tag("1", "blur", actor="ana")
        yield p


def scope(project: Project) -> dict[str, tuple[str, ...]]:
    definitions = project.tag_definitions()
    return dict(zip(definitions["tag"], definitions["datasets"], strict=True))


def positions(project: Project) -> dict[str, object]:
    definitions = project.tag_definitions()
    return {t: (None if pd.isna(p) else int(p)) for t, p in definitions[["tag", "position"]].values}


def everything(project: Project) -> tuple:
    """The scopes, positions, log and reviews: what a refused change must leave as it was."""
    return (
        scope(project),
        positions(project),
        project.actions(limit=None),
        project.tag_events(),
        project.dataset("speech").reviews(),
    )


def test_without_scopes_or_order_every_dataset_offers_every_hand_set_tag_by_name(project):
    assert project.tags_for("speech") == ["any", "blur", "car", "hum"]
    assert project.tags_for("digits") == ["any", "blur", "car", "hum"]
    assert project.tags_for(None) == analyses.reviewable_tags(project)
    assert scope(project) == dict.fromkeys(["any", "blur", "car", "hum", "loud", "sure"], ())
    assert set(positions(project).values()) == {None}


@pytest.mark.parametrize(
    ("scopes", "speech", "digits"),
    [
        ({"hum": ["speech"], "car": ["speech"]}, ["any", "blur", "car", "hum"], ["any", "blur"]),
        ({"blur": ["digits"]}, ["any", "car", "hum"], ["any", "blur", "car", "hum"]),
        (
            {"any": ["digits", "speech"]},
            ["any", "blur", "car", "hum"],
            ["any", "blur", "car", "hum"],
        ),
        (
            {"car": ["speech"], "sure": ["digits"]},
            ["any", "blur", "car", "hum"],
            ["any", "blur", "hum"],
        ),
    ],
)
def test_a_dataset_offers_the_tags_of_the_project_and_its_own(project, scopes, speech, digits):
    for name, datasets in scopes.items():
        project.scope_tag(name, datasets, actor="lead")
    assert project.tags_for("speech") == speech
    assert project.tags_for("digits") == digits
    assert {t: s for t, s in scope(project).items() if s} == {
        t: tuple(sorted(d)) for t, d in scopes.items()
    }


@pytest.mark.parametrize(
    ("orders", "expected"),
    [
        ([["hum", "car"]], ["hum", "car", "any", "blur"]),
        ([["blur"], ["car"]], ["car", "blur", "any", "hum"]),
        ([["hum", "car"], ["any"]], ["any", "hum", "car", "blur"]),
        ([["hum", "car"], []], ["hum", "car", "any", "blur"]),
        ([["sure", "car"]], ["car", "any", "blur", "hum"]),
    ],
)
def test_the_shortcut_order_puts_the_named_tags_first_and_keeps_the_others_places(
    project, orders, expected
):
    for names in orders:
        project.order_tags(names, actor="lead")
    assert project.tags_for("digits") == expected


def test_tag_definitions_show_each_tags_datasets_and_position(project):
    project.scope_tag("hum", ["speech"], actor="lead")
    project.scope_tag("any", ["speech", "digits", "speech"], actor="lead")
    project.order_tags(["car", "hum"], actor="lead")
    assert scope(project) == {
        "any": ("digits", "speech"),
        "blur": (),
        "car": (),
        "hum": ("speech",),
        "loud": (),
        "sure": (),
    }
    assert positions(project) == {
        "any": None,
        "blur": None,
        "car": 1,
        "hum": 2,
        "loud": None,
        "sure": None,
    }
    project.scope_tag("hum", None, actor="lead")
    assert scope(project)["hum"] == ()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p.scope_tag("nope", ["speech"], actor="lead"), "no tag named 'nope'"),
        (lambda p: p.scope_tag("car", ["speech", "nope"], actor="lead"), "no dataset named 'nope'"),
        (lambda p: p.scope_tag("car", [], actor="lead"), "no datasets given for tag 'car'"),
        (lambda p: p.scope_tag("loud", ["speech"], actor="lead"), "comes with the data"),
        (
            lambda p: p.scope_tag("hum", ["digits"], actor="lead"),
            "tag 'hum' is on 1 examples of dataset 'speech', which its datasets would leave out",
        ),
        (lambda p: p.order_tags(["car", "nope"], actor="lead"), "no tag named 'nope'"),
        (
            lambda p: p.order_tags(["car", "hum", "car"], actor="lead"),
            "tag 'car' is named twice",
        ),
        (lambda p: p.order_tags(["car", "bad;name"], actor="lead"), "tag name contains ';'"),
        (
            lambda p: p.dataset("speech").set_tag("2", "blur", actor="ana"),
            r"tag 'blur' belongs to dataset\(s\) digits, not to 'speech'",
        ),
        (
            lambda p: p.dataset("speech").tag_examples(["2", "3"], "blur", actor="ana"),
            r"tag 'blur' belongs to dataset\(s\) digits, not to 'speech'",
        ),
        (
            lambda p: p.dataset("speech").record_reviews(
                pd.DataFrame({"id": ["2"], "reviewer": ["ana"]}), tags=[["hum", "blur"]]
            ),
            r"tag 'blur' belongs to dataset\(s\) digits",
        ),
        (
            lambda p: p.merge_tags("hum", "blur", actor="lead"),
            "'hum' is on 1 examples of dataset 'speech', to which 'blur' does not belong",
        ),
    ],
)
def test_bad_scopes_orders_and_out_of_scope_tagging_change_nothing(project, change, message):
    project.scope_tag("blur", ["digits"], actor="lead")
    project.order_tags(["any"], actor="lead")
    before = everything(project)
    with pytest.raises(StoreError, match=message):
        change(project)
    after = everything(project)
    assert before[:2] == after[:2]
    for old, new in zip(before[2:], after[2:], strict=True):
        pd.testing.assert_frame_equal(old, new)


def test_a_tag_of_other_datasets_can_still_be_taken_off(project):
    project.scope_tag("blur", ["digits"], actor="lead")
    assert project.dataset("speech").set_tag("0", "blur", False, actor="ana") is None
    assert project.dataset("digits").set_tag("1", "blur", False, actor="ana") is not None


def test_an_unchanged_scope_or_order_logs_nothing(project):
    project.scope_tag("car", ["speech"], actor="lead")
    project.order_tags(["car", "hum"], actor="lead")
    count = len(project.actions(limit=None))
    project.scope_tag("car", ["speech"], actor="lead")
    project.order_tags(["car"], actor="lead")
    project.order_tags(["car", "hum"], actor="lead")
    assert len(project.actions(limit=None)) == count


def test_scope_and_order_are_undone_like_the_other_tag_actions(project):
    project.order_tags(["hum", "car"], actor="lead")
    project.scope_tag("car", ["speech"], actor="lead")
    project.scope_tag("car", ["digits", "speech"], actor="lead")
    project.order_tags(["blur"], actor="lead")
    store = project.dataset("digits")
    steps = []
    for _ in range(4):
        undone = store.undo(actor="lead")
        steps.append((undone["kind"], scope(project)["car"], project.tags_for("digits")))
    assert steps == [
        ("order_tags", ("digits", "speech"), ["hum", "car", "any", "blur"]),
        ("scope_tag", ("speech",), ["hum", "any", "blur"]),
        ("scope_tag", (), ["hum", "car", "any", "blur"]),
        ("order_tags", (), ["any", "blur", "car", "hum"]),
    ]
    assert store.undo(actor="lead")["kind"] == "define_tag"  # the taxonomy's own, before


def test_undoing_a_scope_that_would_hide_tags_added_since_changes_nothing(project):
    project.scope_tag("car", ["speech"], actor="lead")
    project.scope_tag("car", None, actor="lead")
    project.dataset("digits").set_tag("2", "car", actor="ana")
    project.dataset("digits").set_tag("2", "car", actor="lead")  # already there: nothing logged
    with pytest.raises(StoreError, match="'car' is on 1 examples of dataset 'digits'"):
        project.dataset("digits").undo(actor="lead")
    assert scope(project)["car"] == ()


def test_a_deleted_name_made_anew_belongs_to_the_whole_project_in_no_set_place(project):
    project.scope_tag("car", ["speech"], actor="lead")
    project.order_tags(["car"], actor="lead")
    project.delete_tag("car", actor="lead")
    project.dataset("digits").set_tag("3", "car", actor="ana")
    assert scope(project)["car"] == () and positions(project)["car"] is None
    assert project.tags_for("digits") == ["any", "blur", "car", "hum"]


@pytest.mark.parametrize("stage_rows", [10_000, 1], ids=["one transaction", "staged"])
def test_an_import_that_makes_a_deleted_name_anew_gives_it_to_the_whole_project(
    project, monkeypatch, stage_rows
):
    monkeypatch.setattr(staging, "STAGE_ROWS", stage_rows)
    project.scope_tag("car", ["speech"], actor="lead")
    project.order_tags(["car"], actor="lead")
    project.delete_tag("car", actor="lead")
    reviews = pd.DataFrame({"id": ["2", "3"], "reviewer": ["ana", "ana"]})
    project.dataset("digits").record_reviews(reviews, tags=[["car"], ["car"]])
    assert scope(project)["car"] == () and positions(project)["car"] is None
    assert project.dataset("digits").example_tags("3") == ["car"]
    assert "car" in analyses.load_evidence(project, "digits").tags.columns


def test_scoping_and_ordering_are_for_admins_once_a_team_is_formed(project):
    project.grant_role("lead", "admin", actor="lead")
    project.grant_role("ana", "reviewer", actor="lead")
    with pytest.raises(NotPermitted, match="'ana' may not choose the datasets of tags"):
        project.scope_tag("car", ["speech"], actor="ana")
    with pytest.raises(NotPermitted, match="'ana' may not set the order of tags"):
        project.order_tags(["car"], actor="ana")
    project.scope_tag("car", ["speech"], actor="lead")
    assert scope(project)["car"] == ("speech",)


def test_the_analyses_of_a_dataset_leave_out_the_tags_of_other_datasets(project):
    unscoped = analyses.tag_overview(analyses.load_evidence(project, "digits"))
    project.scope_tag("hum", ["speech"], actor="lead")
    project.scope_tag("sure", ["speech"], actor="lead")
    digits = analyses.load_evidence(project, "digits")
    assert sorted(digits.tags.columns) == ["blur"]
    assert analyses.tag_overview(digits)["tag"].tolist() == ["any", "blur", "car"]
    assert unscoped["tag"].tolist() == ["any", "blur", "car", "hum", "sure"]
    assert "sure" not in digits.rule_problems
    speech = analyses.load_evidence(project, "speech")
    assert sorted(speech.tags.columns) == ["hum", "loud"]
    assert list(speech.rule_problems) == ["sure"]  # a rule on a column these runs lack
    assert "hum" in analyses.priority_table(speech)["tag"].tolist()
    assert "hum" not in analyses.priority_table(digits)["tag"].tolist()


@pytest.mark.parametrize(
    ("kind", "detail", "what"),
    [
        (
            "scope_tag",
            {"tag": "hum", "datasets": ["speech"]},
            "tag 'hum' given to dataset 'speech'",
        ),
        (
            "scope_tag",
            {"tag": "any", "datasets": ["digits", "speech"]},
            "tag 'any' given to datasets 'digits', 'speech'",
        ),
        ("scope_tag", {"tag": "hum", "datasets": None}, "tag 'hum' given to the whole project"),
        ("order_tags", {"tags": ["hum", "car"]}, "shortcut order of the tags set to 'hum', 'car'"),
        ("order_tags", {"tags": []}, "shortcut order of the tags set to names only"),
    ],
)
def test_the_log_says_what_a_scope_or_order_did(kind, detail, what):
    assert describe_action(kind, detail) == what


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            [("scope", "car", ["speech"]), ("scope", "car", ["digits"])],
            r"the datasets of tag 'car' were changed again since by action #\d+ \(tag 'car' "
            "given to dataset 'digits'",
        ),
        (
            [("order", ["car"]), ("order", ["hum"])],
            r"the order of the tags was changed again since by action #\d+ \(shortcut order",
        ),
    ],
)
def test_an_earlier_scope_or_order_is_not_undone_over_a_later_one(project, changes, message):
    ids = []
    for kind, *args in changes:
        if kind == "scope":
            project.scope_tag(*args, actor="lead")
        else:
            project.order_tags(*args, actor="lead")
        ids.append(int(project.actions().id.iloc[0]))
    before = everything(project)
    with pytest.raises(StoreError, match=message):
        project.undo(action=ids[0], actor="lead")
    assert before[:2] == everything(project)[:2]
    project.undo(action=ids[1], actor="lead")
    project.undo(action=ids[0], actor="lead")
    assert scope(project)["car"] == () and set(positions(project).values()) == {None}


def test_the_demo_offers_each_dataset_its_own_tags(tmp_path):
    from erroranalysis.demo import DIGITS, PRODUCTION, SPEECH, build_demo

    build_demo(tmp_path / "demo.db")
    with open_project(tmp_path / "demo.db", readonly=True) as project:
        speech = project.tags_for(SPEECH)
        assert project.tags_for(DIGITS) == ["like another digit", "off centre", "unusual style"]
        assert speech == [
            "car noise",
            "clean speech",
            "low bandwidth",
            "mislabel",
            "people noise",
            "quiet speaker",
            "telephone audio",
        ]
        assert project.tags_for(PRODUCTION) == speech


# ------------------------------------------------------------------- the command line
@pytest.fixture
def project_file(project):
    return str(project.path)


@pytest.mark.parametrize(
    ("argv", "out", "datasets", "order"),
    [
        (
            ["scope", "car", "--dataset", "speech", "--dataset", "digits"],
            "tag 'car' belongs to 'speech', 'digits'",
            ("digits", "speech"),
            ["any", "blur", "car", "hum"],
        ),
        (
            ["scope", "car", "--dataset", "speech", "--actor", "lead"],
            "tag 'car' belongs to 'speech'",
            ("speech",),
            ["any", "blur", "hum"],
        ),
        (
            ["scope", "car", "--project"],
            "tag 'car' belongs to the whole project",
            (),
            ["any", "blur", "car", "hum"],
        ),
        (
            ["order", "hum", "car"],
            "shortcut order in {db}: 1 'hum', 2 'car'",
            ("digits",),
            ["hum", "car", "any", "blur"],
        ),
        (
            ["order", "car", "hum", "--dataset", "speech"],
            "shortcut order in speech: 1 'hum', 2 'any', 3 'blur'",
            ("digits",),
            ["car", "hum", "any", "blur"],
        ),
    ],
)
def test_tags_scope_and_order(project, project_file, capsys, argv, out, datasets, order):
    project.scope_tag("car", ["digits"], actor="lead")
    project.close()
    assert main(["tags", *argv, "--db", project_file]) == 0
    assert capsys.readouterr().out.startswith(out.format(db=project_file))
    with open_project(project_file) as p:
        assert scope(p)["car"] == datasets
        assert p.tags_for("digits") == order
        assert json.loads(p.actions().detail.iloc[0])["via"] == "cli"


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["scope", "car"], 2, "one of the arguments --dataset --project is required"),
        (["scope", "car", "--dataset", "speech", "--project"], 2, "not allowed with argument"),
        (["scope", "car", "--dataset", "nope"], 1, "no dataset named 'nope'"),
        (["scope", "car", "--dataset", ""], 1, "--dataset: dataset name is empty"),
        (["scope", "nope", "--project"], 1, "no tag named 'nope'"),
        (["scope", "hum", "--dataset", "digits"], 1, "'hum' is on 1 examples of dataset 'speech'"),
        (["order"], 2, "the following arguments are required: NAME"),
        (["order", "car", "car"], 1, "tag 'car' is named twice"),
        (["order", "car", "nope"], 1, "no tag named 'nope'"),
        (["order", "car", "--dataset", "nope"], 1, "no dataset named 'nope'"),
        (["order", "car", "--actor", "ana"], 1, "'ana' may not set the order of tags"),
        (["scope", "car", "--project", "--actor", "ana"], 1, "'ana' may not choose the datasets"),
    ],
)
def test_bad_tags_scope_and_order_change_nothing(
    project, project_file, capsys, argv, code, message
):
    project.grant_role("lead", "admin", actor="lead")
    project.grant_role("ana", "reviewer", actor="lead")
    project.close()
    before = dump(project_file)
    actor = [] if "--actor" in argv else ["--actor", "lead"]
    try:
        exited = main(["tags", *argv, "--db", project_file, *actor])
    except SystemExit as stop:  # argparse's own refusals
        exited = stop.code
    assert exited == code
    assert message in capsys.readouterr().err
    assert dump(project_file) == before


def dump(path: str) -> list[str]:
    """Everything the project file holds, as SQL statements."""
    with closing(sqlite3.connect(path)) as conn:
        return list(conn.iterdump())


def test_tags_list_shows_each_tags_datasets_and_position(project, project_file, capsys):
    project.scope_tag("hum", ["speech", "digits"], actor="lead")
    project.order_tags(["car"], actor="lead")
    project.close()
    assert main(["tags", "list", "--db", project_file]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["tag"], r["datasets"], r["position"]) for r in rows] == [
        ("any", "", ""),
        ("blur", "", ""),
        ("car", "", "1"),
        ("hum", "digits | speech", ""),
        ("loud", "", ""),
        ("sure", "", ""),
    ]
