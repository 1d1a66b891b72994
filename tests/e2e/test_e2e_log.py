"""Undo of a rename from the Log page, in the browser: rename a tag on the Tags page, undo
that action on the Log page, and the old name is back in the Tags table and on Review's
buttons, the new one gone from both."""

from __future__ import annotations

import pytest
from e2e_helpers import by_key, enter_text, go_to, open_page, set_reviewer, tag_button, wait_idle
from playwright.sync_api import Page, expect

from erroranalysis.demo import SPEECH
from erroranalysis.store import open_project

pytestmark = pytest.mark.browser

LEAD = "e2e lead"
OLD, NEW = "car noise", "engine rumble"


def tags_table(page: Page):
    return page.get_by_test_id("stDataFrame").first


def test_undo_of_a_rename_from_the_log_page(app, page: Page):
    open_page(page, app.page_url("tags", dataset=SPEECH))
    set_reviewer(page, LEAD)
    by_key(page, "tg_tag").click()
    page.get_by_role("option", name=OLD, exact=True).click()
    wait_idle(page)
    enter_text(page, "Rename to", NEW)
    page.get_by_role("button", name="Rename…").click()
    wait_idle(page)
    by_key(page, "tg_confirm").locator("button").click()
    expect(tags_table(page).get_by_text(NEW, exact=True)).to_be_attached()
    expect(tags_table(page).get_by_text(OLD, exact=True)).to_have_count(0)
    with open_project(app.db) as project:
        rename = project.log(kinds="rename_tag", limit=1).rows.iloc[0]
        assert (rename.actor, rename.what) == (LEAD, f"rename of tag {OLD!r} to {NEW!r}")

    go_to(page, "Log")
    row = page.get_by_text(f"rename of tag {OLD!r} to {NEW!r}", exact=True)
    expect(row).to_be_visible()
    by_key(page, f"lg_undo_{rename.id}").locator("button").click()
    expect(page.get_by_text(f"undone by #{rename.id + 1}", exact=True)).to_be_visible()
    wait_idle(page)

    go_to(page, "Tags")
    expect(tags_table(page).get_by_text(OLD, exact=True)).to_be_attached()
    expect(tags_table(page).get_by_text(NEW, exact=True)).to_have_count(0)
    open_page(page, app.page_url("review", dataset=SPEECH))
    expect(tag_button(page, OLD)).to_be_visible()
    expect(tag_button(page, NEW)).to_have_count(0)
    with open_project(app.db) as project:
        assert OLD in project.tag_definitions()["tag"].tolist()
        undo = project.log(limit=1).rows.iloc[0]
        assert (undo.kind, undo.actor, undo.undoes) == ("undo", LEAD, rename.id)
