"""Clusters in the browser, on the speech demo: the map and the table of clusters, the
representatives with their audio, and naming the weak cluster, whose tag then shows in
Priorities."""

from __future__ import annotations

import pytest
from e2e_helpers import (
    enter_text,
    grid_texts,
    no_exception,
    open_page,
    priority_row,
    set_reviewer,
    wait_idle,
)
from playwright.sync_api import Page, expect

from erroranalysis.analyses import error_clusters, load_evidence
from erroranalysis.demo import SPEECH
from erroranalysis.store import open_project

pytestmark = pytest.mark.browser

REVIEWER = "e2e reviewer"
TAG = "e2e telephone audio"


def test_name_the_weak_cluster_and_see_its_tag_in_priorities(app, page: Page):
    with open_project(app.db) as project:
        store = project.dataset(SPEECH)
        found = error_clusters(load_evidence(project, SPEECH), embeddings=store.embeddings())
    members = sorted(found.members(1))

    open_page(page, app.page_url("clusters", dataset=SPEECH))
    set_reviewer(page, REVIEWER)
    expect(page.get_by_role("heading", name="Clusters", exact=True)).to_be_visible()
    expect(page.get_by_test_id("stPlotlyChart")).to_be_visible()
    grid = page.get_by_test_id("stDataFrame").first
    assert grid_texts(grid, column=2)[0] == str(found.clusters.loc[0, "errors"])
    expect(page.get_by_test_id("stAudio").first).to_be_attached()
    enter_text(page, "Tag", TAG)
    page.get_by_role("button", name="Name this cluster").click()
    wait_idle(page)
    no_exception(page)

    with open_project(app.db) as project:
        assigned = project.dataset(SPEECH).tag_assignments()
        actions = project.dataset(SPEECH).actions()
    assert sorted(assigned.loc[assigned["tag"] == TAG, "example_id"]) == members
    assert actions.iloc[0]["kind"] == "tag_examples" and actions.iloc[0]["actor"] == REVIEWER

    grid, row = priority_row(page, app.page_url("priorities"), TAG)
    assert grid_texts(grid, column=2)[row] == "reviewed"
