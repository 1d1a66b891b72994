"""A viewer in the browser (sign-in off: the name box names them): every page they open is
read-only -- write controls off, their shortcuts dead, a note saying why -- and downloads
still work; the project file is unchanged after it all."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from e2e_helpers import go_to, nav_button, no_exception, open_page, set_reviewer, tag_button
from playwright.sync_api import Page, expect

from erroranalysis.demo import SPEECH, build_demo
from erroranalysis.store import open_project

pytestmark = pytest.mark.browser

ADMIN, VIEWER = "e2e admin", "e2e viewer"
TAGS = ("car noise", "people noise")  # tags of the demo taxonomy, on Review's first buttons


@pytest.fixture(scope="module")
def project_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("team") / "team.db"
    build_demo(db)
    with open_project(db) as project:
        project.grant_role(ADMIN, "admin", actor=ADMIN)
        project.grant_role(VIEWER, "viewer", actor=ADMIN)
    return db


def note(page: Page, doing: str, role: str) -> None:
    expect(
        page.get_by_text(
            f"Read-only: {doing} needs the {role} role, and you ({VIEWER}) are a viewer."
        )
    ).to_be_visible()


def test_a_viewer_sees_read_only_pages_and_downloads(app, page: Page):
    with open_project(app.db) as project:
        revision = project.revision()

    open_page(page, app.page_url("review", dataset=SPEECH))
    set_reviewer(page, VIEWER)
    note(page, "reviewing and tagging", "reviewer")
    for label in ("Mark reviewed", "Undo"):
        expect(nav_button(page, label)).to_be_disabled()
    for tag in TAGS:
        expect(tag_button(page, tag)).to_be_disabled()
    expect(page.get_by_role("button", name=re.compile("Add tag"))).to_be_disabled()
    expect(page.get_by_role("textbox", name="Note")).to_be_disabled()
    # A disabled button's shortcut does nothing either (set_reviewer left no field focused).
    for key in ("1", "m", "u"):
        page.keyboard.press(key)
    no_exception(page)

    go_to(page, "Tags")
    note(page, "changing tags", "admin")
    for label in ("Save", "Rename…", "Merge…", "Delete…"):
        expect(page.get_by_role("button", name=label, exact=True)).to_be_disabled()
    with page.expect_download() as caught:
        page.get_by_test_id("stDownloadButton").get_by_role(
            "button", name="Download CSV"
        ).first.click()
    assert caught.value.suggested_filename.endswith(".csv")

    go_to(page, "Datasets")
    note(page, "importing a run", "admin")
    expect(page.get_by_test_id("stFileUploaderDropzoneInput")).to_be_disabled()
    expect(page.get_by_role("heading", name="Team")).to_have_count(0)

    with open_project(app.db) as project:
        assert project.revision() == revision  # nothing the viewer did changed the file
        assert project.actions(limit=None)["actor"].ne(VIEWER).all()
