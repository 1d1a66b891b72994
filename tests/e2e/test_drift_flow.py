"""Drift in the browser: upload the demo's production-like speech sample as a production
sample on the Datasets page, open Drift, compare by noise and read the projected accuracy."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from e2e_helpers import drop_file, go_to, grid_texts, no_exception, open_page, wait_idle
from playwright.sync_api import Page, expect

from erroranalysis.demo import SAMPLE_DATA
from erroranalysis.store import open_project

pytestmark = pytest.mark.browser

PRODUCTION = SAMPLE_DATA / "speech_production" / "speech_production.csv"


def production_upload() -> bytes:
    """The sample without its audio column (an upload finds local media only in a .zip)."""
    frame = pd.read_csv(PRODUCTION, dtype=str).drop(columns="audio")
    return frame.to_csv(index=False).encode()


def test_upload_a_production_sample_then_drift_projects_its_accuracy(app, page: Page):
    open_page(page, app.page_url(""))
    submit = drop_file(page, "week1.csv", production_upload())
    page.get_by_test_id("stCheckbox").filter(has_text="Production sample").click()
    wait_idle(page)
    toggle = page.get_by_role("switch", name="Production sample: predictions without labels")
    expect(toggle).to_be_checked()
    # Without labels the label role is unmapped: the form was drawn again for this file.
    expect(page.get_by_role("combobox", name="label", exact=True)).to_have_value("(none)")
    page.get_by_role("textbox", name="Dataset name").fill("week1")
    submit.click()
    expect(
        page.get_by_text(re.compile(r"^Imported 120 examples \(a production sample"))
    ).to_be_visible()
    wait_idle(page)
    with open_project(app.db, readonly=True) as project:
        assert project.dataset("week1").production

    go_to(page, "Drift")
    page.get_by_test_id("stSelectbox").filter(has_text="Labelled dataset").click()
    page.get_by_role("option", name="speech-commands").click()
    wait_idle(page)
    page.get_by_test_id("stSelectbox").filter(has_text="Compare by").click()
    page.get_by_role("option", name="column: noise").click()
    wait_idle(page)
    no_exception(page)
    table = page.get_by_test_id("stDataFrame").first
    expect(table.get_by_text("low_bandwidth", exact=True)).to_be_attached()
    assert "noise == 'low_bandwidth'" in grid_texts(table, column=0)
    projected = page.get_by_test_id("stMetric").filter(has_text="Projected accuracy")
    expect(projected).to_contain_text("82.0%")
    no_exception(page)
