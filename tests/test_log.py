"""The log query: every action, filtered by who, kind, time and dataset, paged, each row
saying in words what the action did and whether (and by which action) it is undone."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

import pandas as pd
import pytest
from store_support import add_run, numbered_frame

from erroranalysis.cli import main
from erroranalysis.exports import export_table
from erroranalysis.store import StoreError, open_project
from erroranalysis.store.log import LOG_COLUMNS, LogPage, describe_action


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    """Eight actions, action N stamped 2026-11-0N 10:00 UTC."""
    path = tmp_path_factory.mktemp("log") / "log.db"
    with open_project(path) as p:
        add_run(p, "dev", numbered_frame(6))  # 1
        add_run(p, "test", numbered_frame(4))  # 2
        p.dataset("dev").set_tag("1", "noise", actor="ana")  # 3
        p.dataset("dev").set_tag("2", "noise", actor="ben")  # 4
        p.define_tag("noise", actor="lead", hlp=0.3)  # 5
        p.dataset("test").record_review("0", reviewer="ana")  # 6
        p.rename_tag("noise", "hum", actor="lead")  # 7
        p.dataset("dev").undo(actor="ana")  # 8: ana's toggle
        with p.write() as conn:
            conn.execute("UPDATE actions SET at = printf('2026-11-%02dT10:00:00.000+00:00', id)")
    with open_project(path, readonly=True) as p:
        yield p


EVERY_ROW = [
    (8, "ana", "undo", "dev", "undo of action #3 (addition of tag 'noise' to example '1')", None),
    (7, "lead", "rename_tag", None, "rename of tag 'noise' to 'hum'", None),
    (6, "ana", "review", "test", "review of example '0'", None),
    (5, "lead", "define_tag", None, "change to the definition of tag 'noise'", None),
    (4, "ben", "tag", "dev", "addition of tag 'noise' to example '2'", None),
    (3, "ana", "tag", "dev", "addition of tag 'noise' to example '1'", 8),
    (2, "import", "import", "test", "import of run 'main' (4 examples from 'test.csv')", None),
    (1, "import", "import", "dev", "import of run 'main' (6 examples from 'dev.csv')", None),
]


def test_each_row_says_what_the_action_did_and_what_undid_it(logged):
    page = logged.log()
    assert list(page.rows.columns) == list(LOG_COLUMNS)
    rows = page.rows
    got = [
        (r.id, r.actor, r.kind, r.dataset, r.what, None if r.undone_by is None else r.undone_by)
        for r in rows.astype(object).where(rows.notna(), None).itertuples()
    ]
    assert got == EVERY_ROW
    assert rows["undone"].tolist() == [False] * 5 + [True] + [False] * 2
    assert rows["undoable"].tolist() == [False, True, True, True, True, False, False, False]
    assert rows["undoes"].iloc[0] == 3 and rows["undoes"].iloc[1:].isna().all()
    assert (page.total, page.first, page.last) == (8, 1, 8)


@pytest.mark.parametrize(
    ("filters", "ids", "total"),
    [
        ({}, [8, 7, 6, 5, 4, 3, 2, 1], 8),
        ({"who": "ana"}, [8, 6, 3], 3),
        ({"who": " ana "}, [8, 6, 3], 3),  # trimmed, as every name is
        ({"who": "zoe"}, [], 0),
        ({"kinds": ["tag"]}, [4, 3], 2),
        ({"kinds": "undo"}, [8], 1),
        ({"kinds": ["import", "review"]}, [6, 2, 1], 3),
        ({"dataset": "test"}, [7, 6, 5, 2], 4),  # the dataset's and the project's own
        ({"since": "2026-11-05"}, [8, 7, 6, 5], 4),
        ({"until": "2026-11-02"}, [2, 1], 2),  # to the end of that day
        ({"since": "2026-11-03", "until": "2026-11-04"}, [4, 3], 2),
        ({"since": "2026-11-04T10:00", "until": "2026-11-04T10:00"}, [4], 1),
        ({"since": "2026-11-04T11:00+01:00", "until": "2026-11-04T10:00Z"}, [4], 1),
        ({"since": date(2026, 11, 7)}, [8, 7], 2),
        ({"until": datetime(2026, 11, 1, 10, 0)}, [1], 1),
        ({"offset": 2, "limit": 3}, [6, 5, 4], 8),
        ({"offset": 6, "limit": 3}, [2, 1], 8),
        ({"offset": 10}, [], 8),
        ({"limit": None}, [8, 7, 6, 5, 4, 3, 2, 1], 8),
        ({"who": "ana", "limit": 1}, [8], 3),
        ({"who": "lead", "kinds": ["rename_tag"], "dataset": "dev"}, [7], 1),
    ],
)
def test_filters_and_pages(logged, filters, ids, total):
    page = logged.log(**filters)
    assert page.rows["id"].tolist() == ids
    assert page.total == total


def test_a_page_counts_its_place_in_the_whole():
    page = LogPage(rows=pd.DataFrame({"id": range(50)}), total=1234, offset=50, limit=50)
    assert (page.first, page.last, page.total) == (51, 100, 1234)  # "actions 51–100 of 1,234"
    empty = LogPage(rows=pd.DataFrame({"id": []}), total=8, offset=10, limit=50)
    assert (empty.first, empty.last) == (0, 0)


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"kinds": ["bogus"]}, r"^unknown action kind 'bogus'; choose among import, relink"),
        ({"kinds": []}, r"^no action kind chosen"),
        ({"since": "yesterday"}, r"^since 'yesterday' is not a date or time"),
        ({"until": "2026-13-01"}, r"^until '2026-13-01' is not a date or time"),
        ({"until": 5}, r"^until must be a date or time, got int"),
        (
            {"since": "2026-11-05", "until": "2026-11-01"},
            r"^since \(2026-11-05\) is after until \(2026-11-01\)",
        ),
        ({"offset": -1}, r"^offset must be 0 or more, got -1"),
        ({"offset": 1.5}, r"^offset must be a whole number, got 1.5"),
        ({"limit": 0}, r"^limit must be 1 or more, got 0"),
        ({"dataset": "nope"}, r"^no dataset named 'nope'"),
        ({"who": ""}, r"reviewer name is empty"),
    ],
)
def test_a_bad_filter_is_named(logged, filters, message):
    with pytest.raises(StoreError, match=message):
        logged.log(**filters)


@pytest.mark.parametrize(
    ("kind", "detail", "what"),
    [
        ("tag", {"example": "s1", "tag": "x", "op": "remove"}, "removal of tag 'x' from example 's1'"),
        ("tag_examples", {"tag": "x", "examples": 1200, "cluster": 3}, "addition of tag 'x' to 1,200 examples (cluster 3)"),
        ("reviews_import", {"run": "main", "reviews": 1}, "import of 1 review (run 'main')"),
        ("confirm_cluster", {"run": "v2", "reviews": 4}, "confirmation of a cluster of 4 reviews (run 'v2')"),
        ("import", {"run": "v2", "source": "a.csv", "examples": 3, "replace": True}, "re-import of run 'v2' (3 examples from 'a.csv')"),
        ("relink", {"media_root": "media"}, "relink of media to 'media'"),
        ("sample", {"run": "main", "strategy": "stratified", "seed": 7, "drawn": 40}, "sample of 40 examples from run 'main' (stratified, seed 7)"),
        ("define_tag", {"tag": "x", "undo": {"tag_id": 1, "before": None}}, "definition of new tag 'x'"),
        ("define_tags", {"tags": ["x", "y"]}, "import of tag definitions (2 tags)"),
        ("merge_tags", {"from": "x", "to": "y"}, "merge of tag 'x' into 'y'"),
        ("delete_tag", {"tag": "x"}, "deletion of tag 'x'"),
        ("role", {"user": "ben", "role": "viewer"}, "role of 'ben' set to viewer"),
        ("role", {"user": "ben", "role": "none"}, "role of 'ben' taken away"),
        ("review_plan", {"share": 0.1, "reviewers": 2, "rule": "any", "seed": 4}, "plan of second reviews: share 0.1, 2 reviewers, rule any, seed 4"),
        ("adjudicate", {"example": "s1", "tag": "x", "present": False}, "adjudication of tag 'x' on example 's1': absent"),
        ("moon_landing", {}, "moon landing"),  # a kind of a newer version
    ],
)  # fmt: skip
def test_describe_action(kind, detail, what):
    assert describe_action(kind, detail) == what


# ------------------------------------------------------------- the export and the command line
def test_the_log_export_takes_the_same_filters_oldest_first(logged):
    table = export_table(logged, None, "log", who="ana", kinds=["tag", "undo"])
    assert table["id"].tolist() == [3, 8]
    assert list(table.columns) == list(LOG_COLUMNS)
    assert export_table(logged, "test", "log", since="2026-11-06")["id"].tolist() == [6, 7]
    with pytest.raises(StoreError, match="unknown action kind 'x'"):
        export_table(logged, None, "log", kinds=["x"])


@pytest.fixture
def project_file(tmp_path):
    path = tmp_path / "p.db"
    with open_project(path) as p:
        add_run(p, "dev", numbered_frame(6))
        p.dataset("dev").set_tag("1", "noise", actor="=cmd")
        p.dataset("dev").set_tag("2", "noise", actor="ana")
    return path


def test_the_log_command_writes_a_formula_safe_page(project_file, tmp_path, capsys):
    out = tmp_path / "log.csv"
    args = ["log", "--db", str(project_file), "--kind", "tag", "--limit", "1", "--offset", "1"]
    assert main([*args, "--out", str(out)]) == 0
    assert "actions 2–2 of 2" in capsys.readouterr().err
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [(r["id"], r["actor"], r["what"]) for r in rows] == [
        ("2", "'=cmd", "addition of tag 'noise' to example '1'")
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "soon"], "error: since 'soon' is not a date or time"),
        (["--kind", "tags"], "error: unknown action kind 'tags'"),
        (["--offset", "-1"], "error: offset must be 0 or more, got -1"),
        (["--dataset", "nope"], "error: no dataset named 'nope'"),
    ],
)
def test_a_bad_log_filter_is_a_message(project_file, tmp_path, capsys, args, message):
    out = tmp_path / "log.csv"
    assert main(["log", "--db", str(project_file), *args, "--out", str(out)]) == 1
    assert capsys.readouterr().err.startswith(message)
    assert not out.exists()


def test_undo_of_a_chosen_action_from_the_command_line(project_file, capsys):
    with open_project(project_file) as p:
        p.grant_role("lead", "admin", actor="lead")
        p.grant_role("ana", "reviewer", actor="lead")
    db = ["--db", str(project_file)]
    assert main(["undo", *db, "--action", "2", "--actor", "ana"]) == 1
    assert "'ana' may not undo another person's action" in capsys.readouterr().err
    assert main(["undo", *db, "--action", "2", "--actor", "lead"]) == 0
    out = capsys.readouterr().out
    assert out == "undid action 2 (addition of tag 'noise' to example '1') as 'lead'\n"
    assert main(["undo", *db, "--dataset", "dev", "--action", "3", "--actor", "ana"]) == 0
    with open_project(project_file) as p:
        assert p.dataset("dev").tag_assignments().empty
        assert p.log(kinds="undo").rows["actor"].tolist() == ["ana", "lead"]
