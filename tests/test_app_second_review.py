"""Blind second reviews in the app: the blind queue on the Review page (nothing of the
earlier reviews on the page), the plan an admin sets, and the Adjudicate page."""

from __future__ import annotations

import pytest
from app_support import (
    DATASET,
    REVIEWER,
    build_project,
    elements,
    no_errors,
    open_page,
    project_file_of,
)
from streamlit.testing.v1 import AppTest

from erroranalysis.store import open_project

NOTE = "ben heard a siren here"
CORRECTED = "zz-corrected-by-ben"


def build_second_reviews(folder):
    """The page tests' project with a plan (every reviewed example drawn, two reviewers)
    and a review by ben of s08 with a tag, a corrected label and a note."""
    db = build_project(folder)
    with open_project(db) as project:
        store = project.dataset(DATASET)
        store.set_review_plan(share=1.0, seed=3, actor="setup")
        store.set_tag("s08", "people noise", actor="ben")
        store.record_review(
            "s08", reviewer="ben", note=NOTE, label_wrong=True, corrected_label=CORRECTED
        )
    return db


project_file = project_file_of(build_second_reviews)


def page_text(at: AppTest) -> str:
    """Everything the page sends to the browser, as text (tables' cells included)."""
    return "\n".join(str(element.proto) for element in elements(at._tree))


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


@pytest.fixture
def blind(app):
    at = open_page(app, "review")
    at.toggle(key="rv_blind").set_value(True).run()
    no_errors(at)
    return at


def test_the_blind_queue_shows_nothing_of_the_earlier_reviews(blind, app, project_file):
    assert blind.session_state["rv_current"] in {"s04", "s08"}
    for example in ("s04", "s08"):
        blind.session_state["rv_current"] = example
        blind.run()
        assert blind.session_state["rv_current"] == example
        text = page_text(blind)
        assert NOTE not in text and CORRECTED not in text
        assert "Earlier reviews" not in text and "check: reviewed]" not in text
        assert not [b for b in blind.button if str(b.key).startswith("rv_tag:")]
        offered = [b for b in blind.button if str(b.key).startswith("rv_blind_tag:")]
        assert {b.label for b in offered} == {"car noise", "people noise"}
        assert {b.proto.type for b in offered} == {"secondary"}  # none is on
    # The open queue shows them, so the test above could fail.
    open_review = open_page(app, "review", dataset=DATASET, example="s08")
    open_review.toggle(key="rv_blind").set_value(False).run()
    text = page_text(open_review)
    assert NOTE in text and CORRECTED in text and "check: reviewed]" in text


def test_a_blind_review_records_the_reviewers_decision_only(blind, project_file):
    example = blind.session_state["rv_current"]
    with open_project(project_file) as project:
        before = project.dataset(DATASET).tag_assignments()
    blind.button(key="rv_blind_tag:car noise").click().run()
    blind.button(key="rv_blind_tag:people noise").click().run()
    blind.button(key="rv_blind_tag:car noise").click().run()  # and off again
    assert blind.button(key="rv_blind_tag:people noise").proto.type == "primary"
    blind.text_area(key=f"rv_blind_note:{example}").input("mine")
    button(blind, "Record my review").click().run()
    no_errors(blind)
    with open_project(project_file) as project:
        store = project.dataset(DATASET)
        assert store.tag_assignments().equals(before)
        mine = store.decisions().iloc[-1]
        assert (mine["example_id"], mine["reviewer"], mine["blind"], mine["tags"]) == (
            example,
            REVIEWER,
            True,
            ("people noise",),
        )
        assert store.reviews().iloc[-1][["note", "queue"]].tolist() == ["mine", "second review"]
    assert blind.session_state["rv_current"] != example  # on to the other one
    button(blind, "Undo").click().run()
    no_errors(blind)
    assert blind.session_state["rv_current"] == example
    with open_project(project_file) as project:
        assert REVIEWER not in set(project.dataset(DATASET).decisions()["reviewer"])


def test_an_admin_sets_the_plan_in_the_sidebar(app, project_file):
    at = open_page(app, "review")
    at.number_input(key="rv_plan_share").set_value(25.0)
    at.selectbox(key="rv_plan_rule").select("majority")
    at.button(key="FormSubmitter:rv_plan_form-Save the plan").click().run()
    no_errors(at)
    with open_project(project_file) as project:
        plan = project.dataset(DATASET).review_plan()
        assert (plan.share, plan.rule, plan.seed, plan.set_by) == (0.25, "majority", 3, REVIEWER)
        # Once a team is formed, only its admins are offered the settings.
        project.grant_role("setup", "admin", actor="setup")
        project.grant_role(REVIEWER, "reviewer", actor="setup")
    at.run()
    assert not [n for n in at.number_input if n.key == "rv_plan_share"]


def test_the_adjudicate_page_decides_a_disagreement(app, project_file):
    with open_project(project_file) as project:
        project.dataset(DATASET).record_review(
            "s04", reviewer="ben", tags=["people noise"], blind=True
        )
    at = open_page(app, "adjudicate")
    no_errors(at)
    table = at.dataframe[0].value
    assert table[
        ["example_id", "tag", "given_by", "not_given_by", "adjudicated"]
    ].values.tolist() == [
        ["s04", "car noise", "setup", "ben", ""],
        ["s04", "people noise", "ben", "setup", ""],
    ]
    assert button(at, "Absent").disabled  # nothing chosen yet
    at.session_state["adj_table"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    (link,) = at.get("page_link")
    assert (link.proto.page, link.proto.query_string) == ("review", "dataset=speech&example=s04")
    button(at, "Absent").click().run()
    no_errors(at)
    assert at.dataframe[0].value["adjudicated"].tolist() == ["absent", ""]
    with open_project(project_file) as project:
        decided = project.dataset(DATASET).adjudications()
        assert decided[["example_id", "tag", "present", "actor"]].values.tolist() == [
            ["s04", "car noise", False, REVIEWER]
        ]
    button(at, "Undo").click().run()
    no_errors(at)
    with open_project(project_file) as project:
        assert project.dataset(DATASET).adjudications().empty
    assert at.dataframe[0].value["adjudicated"].tolist() == ["", ""]
