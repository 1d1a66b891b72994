"""The core flow on the demo project: tag three examples on the Review page (by mouse and by
keyboard), reload, find the tags again, see them ranked on Priorities, download the CSV."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from e2e_helpers import (
    by_key,
    current_example,
    expect_example,
    expect_other_example,
    expect_tag,
    grid_texts,
    nav_button,
    open_page,
    priority_row,
    set_reviewer,
    tag_button,
    tag_shortcut,
    wait_idle,
)
from playwright.sync_api import Browser, Page, expect

from erroranalysis.demo import SPEECH
from erroranalysis.store import open_project

pytestmark = pytest.mark.browser

REVIEWER = "e2e reviewer"
NEW_TAG = "e2e focus"  # created on the page, so only this test's examples carry it
MOUSE_TAG = "car noise"  # a tag of the demo taxonomy, toggled with the mouse
KEY_TAG = "people noise"  # one toggled with its keyboard shortcut


@dataclass
class Tagged:
    """What the tagging session did: the page it used and the tags it added per example."""

    page: Page
    added: dict[str, set[str]]
    reviewed: str


@pytest.fixture(scope="module")
def tagged(app, browser: Browser, browser_context_args: dict) -> Iterator[Tagged]:
    """Tag three examples of the speech demo: the first with the mouse, the second and third
    with the keyboard (tag shortcuts, → for Next, M to mark the third reviewed)."""
    context = browser.new_context(**browser_context_args)
    page = context.new_page()
    open_page(page, app.page_url("review", dataset=SPEECH))
    set_reviewer(page, REVIEWER)
    added: dict[str, set[str]] = {}

    # First example, mouse only: a new tag through the inline form, a known tag by its button.
    first = current_example(page)
    with open_project(app.db) as project:
        assert NEW_TAG not in project.tag_definitions()["tag"].tolist()
    page.get_by_role("textbox", name="New tag").fill(NEW_TAG)
    page.get_by_role("button", name=re.compile("Add tag")).click()
    expect_tag(page, NEW_TAG, on=True)
    tag_button(page, MOUSE_TAG).click()
    expect_tag(page, MOUSE_TAG, on=True)
    added[first] = {NEW_TAG, MOUSE_TAG}
    nav_button(page, "Next").click()
    second = expect_other_example(page, first)

    # Second example, keyboard only: the tag's shortcut, then → for Next.
    expect_tag(page, NEW_TAG, on=False)
    page.locator("body").press(tag_shortcut(page, NEW_TAG))
    expect_tag(page, NEW_TAG, on=True)
    added[second] = {NEW_TAG}
    page.keyboard.press("ArrowRight")
    third = expect_other_example(page, second)

    # Third example: two shortcuts, then M marks it reviewed and moves on.
    for tag in (NEW_TAG, KEY_TAG):
        expect_tag(page, tag, on=False)
        page.keyboard.press(tag_shortcut(page, tag))
        expect_tag(page, tag, on=True)
    added[third] = {NEW_TAG, KEY_TAG}
    page.keyboard.press("m")
    expect_other_example(page, third)

    assert len(added) == 3, f"the queue showed an example twice: {list(added)}"
    yield Tagged(page=page, added=added, reviewed=third)
    context.close()


def test_tags_by_mouse_and_keyboard_are_in_the_project_file(tagged, app):
    with open_project(app.db) as project:
        for example, tags in tagged.added.items():
            assert tags <= set(project.dataset(SPEECH).example_tags(example)), example
        assert set(project.tag_definitions()["tag"]) >= {NEW_TAG}
        events = project.dataset(SPEECH).tag_events()
        mine = events[events["actor"] == REVIEWER]
        assert sorted(zip(mine["example_id"], mine["tag"], mine["op"], strict=True)) == sorted(
            (example, tag, "add") for example, tags in tagged.added.items() for tag in tags
        )
        reviews = project.dataset(SPEECH).reviews()
        by_me = reviews[reviews["reviewer"] == REVIEWER]
        assert by_me["example_id"].tolist() == [tagged.reviewed]


def test_tags_are_still_shown_after_a_reload(tagged, app):
    page = tagged.page
    page.reload()
    wait_idle(page)
    # A reload starts a new session; the name and the deep link are kept in the address.
    expect(page.get_by_role("textbox", name="Your name")).to_have_value(REVIEWER)
    expect(page.get_by_text("Enter your name in the sidebar")).to_have_count(0)
    for example, tags in tagged.added.items():  # links without the name ask for it again
        open_page(page, app.page_url("review", dataset=SPEECH, example=example))
        expect_example(page, example)
        for tag in tags:
            expect_tag(page, tag, on=True)
    expect(by_key(page, "rv_tag:" + NEW_TAG).locator("button")).to_be_disabled()


def test_priorities_ranks_the_new_tag(tagged, app, page):
    grid, row = priority_row(page, app.page_url("priorities"), NEW_TAG)
    counts = grid_texts(grid, column=3)
    # Only the example marked reviewed (drawn in the queue's sample) enters the estimates;
    # the two tagged without a review are kept and shown, but left out.
    assert counts[row] == "1"


def test_priorities_csv_download(tagged, app, page):
    open_page(page, app.page_url("priorities"))
    with page.expect_download() as info:
        # Every table has its own download; the ranking's is keyed by the table's name.
        by_key(page, "priorities:csv").get_by_role(
            "button", name=re.compile("Download CSV")
        ).click()
    download = info.value
    assert download.suggested_filename.endswith("-priorities.csv")
    table = pd.read_csv(io.BytesIO(Path(download.path()).read_bytes()))
    columns = list(table.columns)
    assert columns[:2] == ["rank", "tag"]
    assert {"examples", "share", "accuracy", "hlp", "gap", "marginal_effect"} <= set(columns)
    assert {"marginal_effect_low", "marginal_effect_high"} <= set(columns)
    assert table["rank"].tolist() == list(range(1, len(table) + 1))
    rows = table.set_index("tag")
    assert {NEW_TAG, MOUSE_TAG, KEY_TAG} <= set(rows.index)
    assert rows.at[NEW_TAG, "examples"] == 1  # the reviewed one, as on the page
    assert table["marginal_effect"].is_monotonic_decreasing
