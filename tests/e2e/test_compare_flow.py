"""The loop's last step in the browser: import the next model's predictions as a second run
on the Datasets page, open Compare, and read which tag regressed."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from e2e_helpers import drop_file, go_to, grid_texts, no_exception, open_page, wait_idle
from playwright.sync_api import Page, expect

from erroranalysis.demo import SAMPLE_DATA, SPEECH
from erroranalysis.store import open_project

pytestmark = pytest.mark.browser


def next_run() -> bytes:
    """The demo's speech predictions from a model that fails every clip with car noise; the
    file tags those clips "car" (a tags column) and leaves the audio out (an upload finds
    local media only inside a .zip archive)."""
    frame = pd.read_csv(SAMPLE_DATA / "speech" / "speech_dev.csv", dtype=str).drop(columns="audio")
    car = frame["noise"] == "car"
    frame.loc[car, "prediction"] = frame.loc[car, "label"].map(lambda label: f"not {label}")
    frame["tags"] = car.map({True: "car", False: ""})
    return frame.to_csv(index=False).encode()


def test_import_a_second_run_then_compare_shows_the_regression(app, page: Page):
    with open_project(app.db, readonly=True) as project:
        before = [run.name for run in project.dataset(SPEECH).runs()]
    open_page(page, app.page_url(""))
    submit = drop_file(page, "speech_v2.csv", next_run())
    page.get_by_role("textbox", name="Dataset name").fill(SPEECH)
    page.get_by_role("textbox", name="Run name").fill("next")
    submit.click()
    expect(page.get_by_text(re.compile(r"^Imported 400 examples .* run next"))).to_be_visible()
    wait_idle(page)
    with open_project(app.db, readonly=True) as project:
        assert [run.name for run in project.dataset(SPEECH).runs()] == [*before, "next"]

    go_to(page, "Compare")
    # The two latest runs are compared first: the one before, and the one just imported.
    expect(page.get_by_text("Regressed in next:")).to_be_visible()
    expect(page.get_by_test_id("stAlertContentError")).to_contain_text("car")
    table = page.get_by_test_id("stDataFrame").first
    expect(table.get_by_text("(all examples)", exact=True)).to_be_attached()
    tags = grid_texts(table, column=0)
    regressed = grid_texts(table, column=8)
    assert tags[0] == "(all examples)" and "car" in tags
    assert regressed[tags.index("car")] == "true"
    no_exception(page)
