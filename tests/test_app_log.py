"""The Log page: every action, filtered, paged through all of it, an Undo beside each
action the reader may take back, and the filtered log as a formula-safe download."""

from __future__ import annotations

from datetime import date

import pytest
from app_support import (
    DATASET,
    REVIEWER,
    downloads,
    no_errors,
    open_page,
    rows_of_csv,
    unsafe_cells,
)

from erroranalysis.store import open_project

# build_project logs: 1 the import, 2-3 two definitions, 4 a tag on s04, 5 its review.
SETUP = [5, 4, 3, 2, 1]


def shown_ids(at) -> list[int]:
    return [int(t.value[1:]) for t in at.text if t.value.startswith("#")]


def undo_keys(at) -> list[str]:
    return [b.key for b in at.button if b.key and b.key.startswith("lg_undo_")]


def counted(at) -> str:
    return next(c.value for c in at.caption if c.value.startswith(("Actions", "No action")))


@pytest.fixture
def log(app):
    at = open_page(app, "log")
    no_errors(at)
    return at


def test_the_log_lists_every_action_with_an_undo_for_those_that_can_be(log):
    assert shown_ids(log) == SETUP
    assert counted(log) == "Actions 1–5 of 5"
    texts = [t.value for t in log.text]
    assert "addition of tag 'car noise' to example 's04'" in texts
    assert "review of example 's04'" in texts
    # No role is granted: anyone may undo anything that can be undone (not the import).
    assert undo_keys(log) == ["lg_undo_5", "lg_undo_4", "lg_undo_3", "lg_undo_2"]


@pytest.mark.parametrize(
    ("filters", "ids"),
    [
        ({"lg_who": "setup"}, SETUP),
        ({"lg_who": "nobody"}, []),
        ({"lg_kinds": ["tag", "review"]}, [5, 4]),
        ({"lg_kinds": ["define_tag"], "lg_dataset": DATASET}, [3, 2]),
        ({"lg_since": date(2020, 1, 1), "lg_until": date(2020, 1, 2)}, []),
    ],
)
def test_filters(log, filters, ids):
    for key, value in filters.items():
        widget = {"lg_who": log.text_input, "lg_kinds": log.multiselect}.get(key)
        widget = widget or {"lg_dataset": log.selectbox}.get(key) or log.date_input
        widget(key=key).set_value(value)
    log.run()
    no_errors(log)
    assert shown_ids(log) == ids
    assert counted(log) == (
        f"Actions 1–{len(ids)} of {len(ids)}" if ids else "No action matches these filters."
    )


def test_a_bad_filter_is_a_message(log):
    log.date_input(key="lg_since").set_value(date(2026, 5, 2))
    log.date_input(key="lg_until").set_value(date(2026, 5, 1)).run()
    assert [e.value for e in log.error] == [
        r"since \(2026\-05\-02\) is after until \(2026\-05\-01\); nothing was read"
    ]


def test_pages_through_all_of_it(project_file, app):
    with open_project(project_file) as project:
        for i in range(120):
            project.dataset(DATASET).set_tag(f"s{i % 40:02d}", f"t{i % 3}", actor="cy")
        total = project.log().total
    assert total == 125
    at = open_page(app, "log")
    assert counted(at) == f"Actions 1–50 of {total}"
    at.number_input(key="lg_page").set_value(3).run()
    no_errors(at)
    assert counted(at) == f"Actions 101–{total} of {total}"
    assert shown_ids(at)[-1] == 1  # the first action of all, on the last page
    at.selectbox(key="lg_size").set_value(200).run()
    assert counted(at) == f"Actions 1–{total} of {total}"  # page 3 of 1 is page 1


def test_undo_from_the_log(project_file, log):
    with open_project(project_file) as project:
        action = project.dataset(DATASET).set_tag("s08", "car noise", actor=REVIEWER)
    log.run()
    log.button(key=f"lg_undo_{action}").click().run()
    no_errors(log)
    assert [t.value for t in log.toast] == [
        "Undid the addition of tag 'car noise' to example 's08'\\."
    ]
    assert f"lg_undo_{action}" not in undo_keys(log)
    assert f"undone by #{action + 1}" in [c.value for c in log.caption]
    with open_project(project_file) as project:
        assert project.dataset(DATASET).example_tags("s08") == []
        assert project.log(limit=1).rows.iloc[0][["kind", "actor"]].tolist() == ["undo", REVIEWER]


@pytest.mark.parametrize(
    ("who", "buttons"),
    [("lead", [6, 5, 4, 3, 2]), (REVIEWER, [6]), ("vic", [])],
    ids=["admin: anyone's", "reviewer: their own", "viewer: none"],
)
def test_undo_buttons_follow_the_role(project_file, app, who, buttons):
    with open_project(project_file) as project:
        project.dataset(DATASET).set_tag("s08", "car noise", actor=REVIEWER)  # 6
        project.grant_role("lead", "admin", actor="lead")
        project.grant_role(REVIEWER, "reviewer", actor="lead")
        project.grant_role("vic", "viewer", actor="lead")
    app.session_state["reviewer"] = who
    at = open_page(app.run(), "log")
    no_errors(at)
    assert undo_keys(at) == [f"lg_undo_{i}" for i in buttons]


def test_the_download_is_the_filtered_log_and_formula_safe(project_file, app, made):
    with open_project(project_file) as project:
        project.dataset(DATASET).set_tag("s08", "=cmd", actor="=cmd")
    at = open_page(app, "log")
    at.text_input(key="lg_who").input("=cmd").run()
    files = downloads(at, made)
    name, text = files["log:csv"]
    assert name == "log.csv"
    header, *rows = rows_of_csv(text)
    assert header[:6] == ["id", "at", "actor", "kind", "dataset", "what"]
    assert [(r[2], r[3], r[5]) for r in rows] == [
        ("'=cmd", "tag", "addition of tag '=cmd' to example 's08'")
    ]
    assert unsafe_cells(text) == []
    assert "log:xlsx" in [b.key for b in at.get("download_button")]
