"""Markup in the data is shown as text and runs nothing, on every page.

The dataset carries script and image-error payloads in its text, its labels, an id, a
metadata column, a dataset tag and a reviewed tag. Each payload would set ``window.__pwned``
or open a dialog if the browser ever treated it as HTML or Markdown.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from e2e_helpers import (
    current_example,
    expect_example,
    no_exception,
    open_page,
    open_tab,
    tag_button,
)
from playwright.sync_api import Page, expect

from erroranalysis.importing import read_dataset
from erroranalysis.store import open_project

pytestmark = pytest.mark.browser

DATASET = "xss"
SCRIPT = "<script>window.__pwned = 'script'; alert('script')</script>"
# No ';' in the payload: it becomes a tag name, and tag names may not hold one.
IMG = "<img src=x onerror=\"window.__pwned = 'img', alert('img')\">"
LINK = "[click me](javascript:window.__pwned='link') **bold** <b>bold</b>"
SVG = "<svg onload=alert('svg')><a href=javascript:alert('a')>x</a></svg>"
ID_PAYLOAD = "x4<img src=x onerror=alert('id')>"
TAG = "<img src=x onerror=alert('tag')>"  # no ';': the import splits dataset tags on it
TEXTS = {"x1": SCRIPT, "x2": IMG, "x3": LINK, ID_PAYLOAD: SVG}


@pytest.fixture(scope="module")
def project_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("xss")
    ids = list(TEXTS)
    frame = pd.DataFrame(
        {
            "id": ids,
            "label": ["yes", IMG, "yes", "no"],
            "prediction": ["no", "yes", SCRIPT, "yes"],  # all errors: all in the queue
            "confidence": [0.4, 0.6, 0.7, 0.5],
            "text": [TEXTS[i] for i in ids],
            "comment": [IMG, SCRIPT, LINK, SVG],  # a metadata column
            "tags": [TAG, "", "", ""],
        }
    )
    csv = folder / "xss.csv"
    frame.to_csv(csv, index=False)
    result = read_dataset(csv)
    db = folder / "xss.db"
    with open_project(db) as project:
        project.dataset(DATASET, create=True).import_result(result, actor="setup")
        project.dataset(DATASET).set_tag("x1", IMG, actor="setup")
        project.dataset(DATASET).record_review("x1", reviewer="setup", queue="error", note=SCRIPT)
    return db


@pytest.fixture
def watched(page: Page) -> Iterator[Page]:
    """The page, with every dialog recorded (and dismissed); after the test, none opened and
    no payload set ``window.__pwned``."""
    dialogs: list[str] = []

    def record(dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    yield page
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert dialogs == []


def no_markup_ran(page: Page) -> None:
    assert page.evaluate("typeof window.__pwned") == "undefined"
    # None of the payloads became an element.
    expect(page.locator("img[src='x']")).to_have_count(0)
    expect(page.locator("main svg[onload], main a[href^='javascript']")).to_have_count(0)
    expect(page.locator("script", has_text="__pwned")).to_have_count(0)
    no_exception(page)


@pytest.mark.parametrize("example", list(TEXTS), ids=["script", "img", "markdown", "id"])
def test_review_shows_the_payload_as_text(app, watched: Page, example: str):
    page = watched
    open_page(page, app.page_url("review", dataset=DATASET, example=example))
    expect_example(page, example)
    assert current_example(page) == example
    shown = page.get_by_test_id("stText").filter(has_text=TEXTS[example])
    expect(shown).to_have_count(1)
    expect(shown).to_have_text(TEXTS[example])
    expect(shown).to_be_visible()
    no_markup_ran(page)


def test_review_shows_labels_and_tags_as_text(app, watched: Page):
    page = watched
    open_page(page, app.page_url("review", dataset=DATASET, example="x1"))
    expect_example(page, "x1")
    # The reviewed tag's button (on) and the dataset tag from the import.
    expect(tag_button(page, IMG).locator("p")).to_have_text(IMG)
    expect(tag_button(page, IMG)).to_have_attribute("kind", "primary")
    expect(page.get_by_test_id("stText").filter(has_text=TAG)).to_have_text(TAG)
    no_markup_ran(page)
    open_page(page, app.page_url("review", dataset=DATASET, example="x2"))
    expect_example(page, "x2")
    expect(page.get_by_test_id("stMetricValue").filter(has_text=IMG)).to_have_count(1)
    no_markup_ran(page)


@pytest.mark.parametrize("path", ["", "tags", "priorities", "audit"])
def test_other_pages_run_nothing(app, watched: Page, path: str):
    page = watched
    open_page(page, app.page_url(path, dataset=DATASET))
    expect(page.get_by_role("combobox").first).to_be_visible()
    no_markup_ran(page)
    # Priorities draws its other sections when their tab is opened: each with the tags too.
    for tab in ("Where the errors are", "Tag overlap") if path == "priorities" else ():
        open_tab(page, tab)
        no_markup_ran(page)
