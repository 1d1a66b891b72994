"""Every page has an address of its own: a direct load shows that page, never "Page not found"."""

from __future__ import annotations

import re

import pytest
from e2e_helpers import go_to, no_exception, open_page, set_reviewer, wait_idle
from playwright.sync_api import Page, expect

from app_pages._ui import PAGES
from erroranalysis.demo import SPEECH

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("name", list(PAGES))
def test_a_direct_load_of_each_page_shows_it(app, page: Page, name: str):
    open_page(page, app.page_url(name))
    title, _ = PAGES[name]
    expect(page.get_by_role("heading", level=1).first).to_have_text(title)
    assert page.url.split("?")[0].rstrip("/").endswith(f"/{name}")
    no_exception(page)


def test_the_root_address_opens_datasets_at_its_own_address(app, page: Page):
    open_page(page, app.page_url(""))
    expect(page.get_by_role("heading", level=1).first).to_have_text("Datasets")
    expect(page).to_have_url(f"{app.url}/datasets")


def test_the_reviewer_s_name_stays_in_the_address_across_reloads_and_pages(app, page: Page):
    name_box = page.get_by_role("textbox", name="Your name")
    open_page(page, app.page_url("review", dataset=SPEECH))
    expect(page.get_by_test_id("stSidebar").get_by_text("Sign-in is off")).to_be_visible()
    set_reviewer(page, "e2e-uma")
    expect(page).to_have_url(re.compile(r"/review\?.*reviewer=e2e-uma"))
    page.reload()
    wait_idle(page)
    expect(name_box).to_have_value("e2e-uma")
    go_to(page, "Tags")
    expect(page).to_have_url(re.compile(r"/tags\?reviewer=e2e-uma$"))
    page.reload()
    wait_idle(page)
    expect(name_box).to_have_value("e2e-uma")
    no_exception(page)
