"""A blind second review with sign-in on: ana and ben, signed in through a real OpenID
Connect provider in two browsers at once, review the demo's digits. Ana reviews on the
ordinary queue (her tags, a note, a corrected label); ben, in the blind queue from before
her first review, gets each of her examples as she records it. Ben's page never holds
anything of ana's, whatever he does; every action and review is attributed to its author;
nothing either did is lost, and the examples' tags stay ana's."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from e2e_helpers import (
    App,
    by_key,
    current_example,
    expect_other_example,
    expect_tag,
    key_class,
    nav_button,
    no_exception,
    open_review,
    pages_of,
    sign_in,
    tag_button,
    wait_idle,
    write_note,
)
from playwright.sync_api import Browser, Page, expect

from erroranalysis.demo import DIGITS, build_demo
from erroranalysis.store import open_project

pytestmark = pytest.mark.browser

ANA, BEN = "ana@example.org", "ben@example.org"
# A tag of ana's own making and a digits tag; ben decides with another digits tag.
ANA_ONLY_TAG = "ana-only-tag-xyz"
ANA_TAGS = (ANA_ONLY_TAG, "off centre")
BEN_TAG = "unusual style"
STEPS = 3
# What ana writes on her step-th example: none of it may reach ben's page.
NOTES = [f"ana-note-quokka-{step}" for step in range(STEPS)]
CORRECTED = [f"ana-corrected-label-{step}" for step in range(STEPS)]
NOTHING_WAITS = "No example waits for your blind second review"


@pytest.fixture(scope="module")
def project_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo, with ana's tag on the digits, a team (ana admin, ben reviewer) and a plan
    that sends every reviewed digit to a second reviewer."""
    db = tmp_path_factory.mktemp("signed-blind") / "demo.db"
    build_demo(db)
    with open_project(db) as project:
        project.define_tag(ANA_ONLY_TAG, actor="setup")
        project.scope_tag(ANA_ONLY_TAG, [DIGITS], actor="setup")
        project.grant_role(ANA, "admin", actor=ANA)
        project.grant_role(BEN, "reviewer", actor=ANA)
        project.dataset(DIGITS).set_review_plan(share=1.0, seed=5, actor=ANA)
    return db


@pytest.fixture(scope="module")
def signed_in() -> bool:
    return True


def blind_tag(page: Page, tag: str):
    return by_key(page, f"rv_blind_tag:{tag}").locator("button")


def assert_nothing_of_ana(ben: Page) -> None:
    """Ben's page, the whole DOM (sidebar and hidden parts too): no note or corrected label
    of ana's, no earlier review, no tag button of the ordinary queue, and no blind tag on
    but his own -- ana's own tag, offered on the digits, is there and off."""
    html = ben.content()
    leaked = [text for text in (*NOTES, *CORRECTED) if text in html]
    assert leaked == []
    assert "Earlier reviews of this example" not in html
    expect(ben.locator("[class*='st-key-rv_tag-']")).to_have_count(0)
    if NOTHING_WAITS not in html:
        expect(blind_tag(ben, ANA_ONLY_TAG)).to_have_attribute("kind", "secondary")
    on = ben.locator("[class*='st-key-rv_blind_tag-']:has(button[kind='primary'])")
    mine = key_class(f"rv_blind_tag:{BEN_TAG}")
    assert [c for c in on.evaluate_all("els => els.map(e => e.className)") if mine not in c] == []


def ana_reviews(ana: Page, step: int) -> str:
    """Ana tags the current example, writes a note, corrects its label and records the
    review; the example's id."""
    example = current_example(ana)
    for tag in ANA_TAGS:
        tag_button(ana, tag).click()
        expect_tag(ana, tag, on=True)
    ana.get_by_text("The label is wrong", exact=True).click()
    corrected = ana.get_by_role("combobox", name="Corrected label")
    expect(corrected).to_be_visible()
    wait_idle(ana)
    corrected.click()
    ana.keyboard.type(CORRECTED[step])
    ana.keyboard.press("Enter")
    expect(corrected).to_have_value(CORRECTED[step])
    wait_idle(ana)
    write_note(ana, NOTES[step])
    nav_button(ana, "Mark reviewed").click()
    expect_other_example(ana, example)
    return example


def ben_decides(ben: Page) -> str:
    """Ben, on a blind example, switches his tag on; the example's id."""
    example = current_example(ben)
    assert_nothing_of_ana(ben)
    blind_tag(ben, BEN_TAG).click()
    expect(blind_tag(ben, BEN_TAG)).to_have_attribute("kind", "primary")
    wait_idle(ben)
    assert_nothing_of_ana(ben)
    return example


def review_at_once(app: App, people: dict[str, Page]) -> list[str]:
    """Both sign in and open Review; ben goes blind, then decides each example ana
    reviews, in turn, while she goes on; the examples ana reviewed, in order."""
    ana, ben = people[ANA], people[BEN]
    for who, page in people.items():
        sign_in(page, app, who)
        open_review(page, app, DIGITS)
    # Ben goes blind before ana's first review: nothing waits for him yet.
    by_key(ben, "rv_blind").locator("label").click()
    expect(ben.get_by_text(NOTHING_WAITS)).to_be_visible()
    wait_idle(ben)
    assert_nothing_of_ana(ben)

    reviewed = [ana_reviews(ana, 0)]
    # A rerun that changes nothing in blind mode (skipping reviewed examples is the
    # ordinary queue's): ben's page now draws what waits for him.
    ben.get_by_test_id("stSidebar").get_by_text("Skip reviewed examples").click()
    expect(ben.get_by_text(NOTHING_WAITS)).to_have_count(0)
    wait_idle(ben)
    decided = [ben_decides(ben)]
    for step in range(1, STEPS):
        # Ana records her next review while ben has her last one open, undecided.
        reviewed.append(ana_reviews(ana, step))
        nav_button(ben, "Record my review").click()
        expect_other_example(ben, decided[-1])
        assert_nothing_of_ana(ben)
        decided.append(ben_decides(ben))
    nav_button(ben, "Record my review").click()
    expect(ben.get_by_text(NOTHING_WAITS)).to_be_visible()
    wait_idle(ben)
    assert_nothing_of_ana(ben)
    assert decided == reviewed  # each of ana's examples, as she recorded it
    for page in people.values():
        no_exception(page)
    return reviewed


def test_two_signed_in_people_review_blind_apart(app, browser: Browser, browser_context_args: dict):
    with open_project(app.db) as project:
        before = int(project.actions(limit=1)["id"].iloc[0])
    with pages_of(browser, browser_context_args, (ANA, BEN)) as people:
        reviewed = review_at_once(app, people)

    with open_project(app.db) as project:
        store = project.dataset(DIGITS)
        actions = project.actions(limit=None)
        new = actions[actions["id"] > before]
        assert set(new["actor"]) == {ANA, BEN}
        kinds = {who: sorted(new[new["actor"] == who]["kind"]) for who in (ANA, BEN)}
        assert kinds[BEN] == ["review"] * STEPS
        assert kinds[ANA] == sorted(["tag"] * 2 * STEPS + ["review"] * STEPS + ["sample"])

        events = store.tag_events()
        events = events[events["action_id"] > before]
        assert set(events["actor"]) == {ANA}
        assert sorted(events[["example_id", "tag", "op"]].values.tolist()) == sorted(
            [e, t, "add"] for e in reviewed for t in ANA_TAGS
        )
        # The examples' own tags are ana's alone.
        assert sorted(store.tag_assignments()[["example_id", "tag"]].values.tolist()) == sorted(
            [e, t] for e in reviewed for t in ANA_TAGS
        )

        reviews = store.reviews().set_index(["reviewer", "example_id"]).sort_index()
        assert len(reviews) == 2 * STEPS
        for step, example in enumerate(reviewed):
            hers, his = reviews.loc[(ANA, example)], reviews.loc[(BEN, example)]
            assert (hers["note"], bool(hers["label_wrong"]), hers["corrected_label"]) == (
                NOTES[step],
                True,
                CORRECTED[step],
            )
            assert (his["note"], bool(his["label_wrong"])) == ("", False)
            assert pd.isna(his["corrected_label"])

        decisions = store.decisions().set_index("reviewer")
        assert sorted(decisions.loc[[ANA]]["example_id"]) == sorted(reviewed)
        assert sorted(decisions.loc[[BEN]]["example_id"]) == sorted(reviewed)
        assert set(decisions.loc[[ANA]]["tags"]) == {tuple(sorted(ANA_TAGS))}
        assert not decisions.loc[[ANA]]["blind"].any()
        assert set(decisions.loc[[BEN]]["tags"]) == {(BEN_TAG,)}
        assert decisions.loc[[BEN]]["blind"].all()
        assert set(decisions.loc[[BEN]]["queue"]) == {"second review"}
