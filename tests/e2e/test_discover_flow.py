"""Discover in the browser, on the speech demo: adopt the top discovered slice as a rule tag,
then find that tag ranked on the Priorities page."""

from __future__ import annotations

import re

import pytest
from e2e_helpers import grid_texts, no_exception, open_page, priority_row, set_reviewer, wait_idle
from playwright.sync_api import Page, expect

from erroranalysis.analyses import discover_slices, load_evidence
from erroranalysis.demo import SPEECH
from erroranalysis.rules import evaluate_rule
from erroranalysis.store import open_project

pytestmark = pytest.mark.browser

REVIEWER = "e2e reviewer"
TAG = "e2e discovered slice"


def test_adopt_a_discovered_slice_and_see_it_in_priorities(app, page: Page):
    with open_project(app.db) as project:
        top = discover_slices(load_evidence(project, SPEECH)).iloc[0]
        assert TAG not in project.tag_definitions()["tag"].tolist()

    open_page(page, app.page_url("discover", dataset=SPEECH))
    set_reviewer(page, REVIEWER)
    expect(page.get_by_role("heading", name="Discover")).to_be_visible()
    grid = page.get_by_test_id("stDataFrame").first
    expect(grid.get_by_text(top["slice"], exact=True)).to_be_attached()
    name = page.get_by_role("textbox", name="Tag name")
    name.fill(TAG)
    name.press("Enter")
    wait_idle(page)
    adopt = page.get_by_role("button", name="Adopt as rule tag")
    expect(adopt).to_be_enabled()  # the name has reached the server
    adopt.click()
    wait_idle(page)
    no_exception(page)
    expect(page.get_by_text(re.compile(r"Adopted .* as a rule tag"))).to_be_visible()

    with open_project(app.db) as project:
        definitions = project.tag_definitions().set_index("tag")
        examples = project.dataset(SPEECH).examples()
    assert definitions.loc[TAG, "rule"] == top["rule"]
    assert definitions.loc[TAG, "created_by"] == REVIEWER
    held = int(evaluate_rule(top["rule"], examples).sum())
    assert held == top["examples"]

    grid, row = priority_row(page, app.page_url("priorities"), TAG)
    assert grid_texts(grid, column=2)[row] == "rule"
    assert grid_texts(grid, column=3)[row] == str(held)
