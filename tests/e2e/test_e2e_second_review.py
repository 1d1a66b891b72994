"""A blind second review in two browser sessions: ana reviews and tags two examples with
notes; ben, in a browser context of his own, reviews them again in the blind queue. Ben's
page never holds ana's tags or notes, his decision is recorded as blind, and the
examples' tags stay ana's."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from e2e_helpers import (
    by_key,
    current_example,
    expect_other_example,
    expect_tag,
    nav_button,
    no_exception,
    open_page,
    set_reviewer,
    tag_button,
    wait_idle,
    write_note,
)
from playwright.sync_api import Browser, Page, expect
from store_support import add_run

from erroranalysis.store import open_project

pytestmark = pytest.mark.browser

DATASET = "calls"
TAGS = ("car noise", "people noise", "far field")
# What ana writes: none of it may reach ben's page.
NOTES = {0: "ana-note-siren-4711", 1: "ana-note-echo-0815"}
ANA_TAG = "car noise"
BEN_TAG = "far field"


@pytest.fixture(scope="module")
def project_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("blind") / "blind.db"
    n = 12
    frame = pd.DataFrame(
        {
            "id": [f"c{i:02d}" for i in range(n)],
            "label": ["yes"] * n,
            "prediction": ["no" if i % 2 == 0 else "yes" for i in range(n)],
            "correct": [i % 2 == 1 for i in range(n)],
            "text": [f"call number {i}" for i in range(n)],
        }
    )
    with open_project(db) as project:
        add_run(project, DATASET, frame, source="calls.csv", actor="setup")
        for tag in TAGS:
            project.define_tag(tag, actor="setup")
        project.dataset(DATASET).set_review_plan(share=1.0, seed=11, actor="setup")
    return db


@pytest.fixture
def sessions(browser: Browser, browser_context_args: dict) -> Iterator[dict[str, Page]]:
    contexts = {name: browser.new_context(**browser_context_args) for name in ("ana", "ben")}
    yield {name: context.new_page() for name, context in contexts.items()}
    for context in contexts.values():
        context.close()


def assert_nothing_of_ana(page: Page) -> None:
    """Ben's page, the whole DOM (sidebar and hidden parts too): no note of ana's, no open
    tag button, no blind tag switched on by anyone but ben."""
    html = page.content()
    for note in NOTES.values():
        assert note not in html
    expect(page.locator("[class*='st-key-rv_tag-']")).to_have_count(0)
    expect(page.locator("[class*='st-key-rv_blind_tag-'] button[kind='primary']")).to_have_count(0)


def test_a_blind_second_review_never_shows_the_first(app, sessions: dict[str, Page]):
    ana, ben = sessions["ana"], sessions["ben"]
    open_page(ana, app.page_url("review", dataset=DATASET))
    set_reviewer(ana, "e2e-ana")
    reviewed = []
    for step in range(2):
        example = current_example(ana)
        tag_button(ana, ANA_TAG).click()
        expect_tag(ana, ANA_TAG, on=True)
        write_note(ana, NOTES[step])
        nav_button(ana, "Mark reviewed").click()
        expect_other_example(ana, example)
        reviewed.append(example)
    with open_project(app.db) as project:
        store = project.dataset(DATASET)
        assert set(store.reviews()["note"]) == set(NOTES.values())
        shared = store.tag_assignments()[["example_id", "tag"]].values.tolist()
    assert shared == [[e, ANA_TAG] for e in sorted(reviewed)]

    open_page(ben, app.page_url("review", dataset=DATASET))
    set_reviewer(ben, "e2e-ben")
    by_key(ben, "rv_blind").locator("label").click()
    expect(ben.get_by_text(re.compile("Blind second review"))).to_be_visible()
    wait_idle(ben)
    decided = []
    for _ in reviewed:
        example = current_example(ben)
        assert example in reviewed and example not in decided
        assert_nothing_of_ana(ben)
        blind_tag = by_key(ben, f"rv_blind_tag:{BEN_TAG}").locator("button")
        blind_tag.click()
        expect(blind_tag).to_have_attribute("kind", "primary")
        wait_idle(ben)
        assert NOTES[0] not in ben.content() and NOTES[1] not in ben.content()
        nav_button(ben, "Record my review").click()
        decided.append(example)
        if len(decided) < len(reviewed):
            expect_other_example(ben, example)
    expect(ben.get_by_text("No example waits for your blind second review")).to_be_visible()
    wait_idle(ben)
    assert_nothing_of_ana(ben)
    no_exception(ben)

    with open_project(app.db) as project:
        store = project.dataset(DATASET)
        decisions = store.decisions()
        bens = decisions[decisions["reviewer"] == "e2e-ben"]
        assert sorted(bens["example_id"]) == sorted(reviewed)
        assert bens["blind"].all() and set(bens["tags"]) == {(BEN_TAG,)}
        assert set(bens["queue"]) == {"second review"}
        # The examples' own tags are still ana's alone.
        assert store.tag_assignments()[["example_id", "tag"]].values.tolist() == shared
