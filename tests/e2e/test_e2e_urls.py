"""Every page has an address of its own: a direct load shows that page, never "Page not found"."""

from __future__ import annotations

import pytest
from e2e_helpers import no_exception, open_page
from playwright.sync_api import Page, expect

from app_pages._ui import PAGES

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
