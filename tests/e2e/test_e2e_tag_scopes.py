"""Tags scoped to datasets in the browser, on the demo: Review on the digits shows the digits'
tags, keyed 1–3, and no speech tag; the speech set keeps its own."""

from __future__ import annotations

import pytest
from e2e_helpers import open_page, set_reviewer, tag_button, tag_shortcut
from playwright.sync_api import Browser, expect

from erroranalysis.demo import DIGITS, SPEECH

pytestmark = pytest.mark.browser

DIGIT_TAGS = ["like another digit", "off centre", "unusual style"]


def test_each_dataset_shows_its_own_tags_with_their_keys(
    app, browser: Browser, browser_context_args: dict
):
    context = browser.new_context(**browser_context_args)
    page = context.new_page()
    try:
        open_page(page, app.page_url("review", dataset=DIGITS))
        set_reviewer(page, "e2e reviewer")
        for key, tag in enumerate(DIGIT_TAGS, start=1):
            expect(tag_button(page, tag)).to_be_visible()
            assert tag_shortcut(page, tag) == str(key)
        for tag in ("car noise", "people noise", "telephone audio"):
            expect(tag_button(page, tag)).to_have_count(0)
        open_page(page, app.page_url("review", dataset=SPEECH))
        expect(tag_button(page, "car noise")).to_be_visible()
        assert tag_shortcut(page, "car noise") == "1"
        expect(tag_button(page, DIGIT_TAGS[0])).to_have_count(0)
    finally:
        context.close()
