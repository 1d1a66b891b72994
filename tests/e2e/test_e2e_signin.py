"""Sign-in end to end: the app served with ``--secrets`` on a real OpenID Connect provider
(oidc-provider-mock, on a local port), driven in Chromium.

Nobody signed in sees only the sign-in page, at any address; whoever signs in acts under
the identity the provider gives; two people signed in at once, in two browsers, each keep
every change under their own name; a signed-in viewer gets read-only pages, whatever name
the address carries.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from e2e_helpers import (
    current_example,
    expect_other_example,
    expect_sign_in_page,
    expect_tag,
    nav_button,
    no_exception,
    open_review,
    pages_of,
    sign_in,
    tag_button,
    wait_idle,
)
from playwright.sync_api import Browser, Page, expect

from app_pages._ui import PAGES
from erroranalysis.demo import SPEECH
from erroranalysis.store import open_project

pytestmark = pytest.mark.browser

ANA, BEN = "ana@example.org", "ben@example.org"
# Each person toggles a different tag on the same examples (same seed, same queue).
TAGS = {ANA: "car noise", BEN: "low bandwidth"}
STEPS = 3
# What any page of the project shows: dataset names, tag names, page names, the name box.
PROJECT_TEXT = (SPEECH, "digits", "car noise", "low bandwidth", "Priorities", "Your name")


@pytest.fixture(scope="module")
def signed_in() -> bool:
    return True


@pytest.fixture
def people(browser: Browser, browser_context_args: dict) -> Iterator[dict[str, Page]]:
    with pages_of(browser, browser_context_args, TAGS) as pages:
        yield pages


@pytest.mark.parametrize("path", ["", *PAGES, "no-such-page"])
def test_nobody_signed_in_sees_only_the_sign_in_page(app, page: Page, path: str):
    page.goto(app.page_url(path, dataset=SPEECH, reviewer=ANA))
    expect_sign_in_page(page)
    expect(page.get_by_test_id("stSidebar")).to_have_count(0)
    expect(page.get_by_test_id("stSidebarNav")).to_have_count(0)
    html = page.content()
    assert [text for text in PROJECT_TEXT if text in html] == []


def test_who_signs_in_acts_under_the_provider_s_identity(app, page: Page):
    sign_in(page, app, ANA)
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_role("textbox", name="Your name")).to_have_count(0)
    expect(sidebar.get_by_role("button", name="Sign out")).to_be_visible()
    open_review(page, app, SPEECH)
    example = current_example(page)
    tag_button(page, TAGS[ANA]).click()
    expect_tag(page, TAGS[ANA], on=True)
    nav_button(page, "Mark reviewed").click()
    expect_other_example(page, example)

    with open_project(app.db) as project:
        events = project.dataset(SPEECH).tag_events()
        last = events.iloc[-1]
        assert (last["example_id"], last["tag"], last["op"], last["actor"]) == (
            example,
            TAGS[ANA],
            "add",
            ANA,
        )
        reviews = project.dataset(SPEECH).reviews()
        assert reviews[reviews["example_id"] == example]["reviewer"].tolist() == [ANA]
        assert project.actions(limit=2)["actor"].tolist() == [ANA, ANA]

    # Signing out ends the session at the provider too, and comes back to the sign-in page;
    # so does the next visit.
    page.get_by_test_id("stSidebar").get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="End session").click()
    expect_sign_in_page(page)
    page.goto(app.page_url("review", dataset=SPEECH))
    expect_sign_in_page(page)
    assert TAGS[ANA] not in page.content()


def test_two_people_signed_in_at_once_keep_every_change_under_their_own_name(
    app, people: dict[str, Page]
):
    for who, page in people.items():
        sign_in(page, app, who)
        open_review(page, app, SPEECH)
    starts = {current_example(page) for page in people.values()}
    assert len(starts) == 1, f"the two sessions start on different examples: {starts}"
    with open_project(app.db) as project:
        before = int(project.actions(limit=1)["id"].iloc[0])

    reviewed: list[str] = []
    for _ in range(STEPS):
        example = current_example(people[ANA])
        assert current_example(people[BEN]) == example
        # Both clicks are sent before either rerun is awaited: the two writes overlap.
        for who, page in people.items():
            tag_button(page, TAGS[who]).dispatch_event("click")
        for who, page in people.items():
            expect_tag(page, TAGS[who], on=True)
        for page in people.values():
            nav_button(page, "Mark reviewed").dispatch_event("click")
        for page in people.values():
            expect_other_example(page, example)
        reviewed.append(example)

    with open_project(app.db) as project:
        dataset = project.dataset(SPEECH)
        events = dataset.tag_events()
        events = events[events["action_id"] > before]
        actions = project.actions(limit=None)
        new = actions[actions["id"] > before]
        reviews = dataset.reviews()
        reviews = reviews[reviews["example_id"].isin(reviewed)]
        for who, tag in TAGS.items():
            mine = events[events["actor"] == who]
            assert sorted(mine["example_id"]) == sorted(reviewed), who
            assert set(mine["tag"]) == {tag} and set(mine["op"]) == {"add"}, who
            theirs = reviews[reviews["reviewer"] == who]
            assert sorted(theirs["example_id"]) == sorted(reviewed), who
            # A tag and a review per step, each an action of their own.
            assert (new["actor"] == who).sum() == 2 * STEPS, who
        assert set(new["actor"]) == set(TAGS)
        for example in reviewed:
            assert set(TAGS.values()) <= set(dataset.example_tags(example)), example


# Last in the module: once it grants roles, every later change would be checked.
def test_a_signed_in_viewer_reads_only_and_borrows_no_name(app, page: Page):
    viewer = "vic@example.org"
    with open_project(app.db) as project:
        project.grant_role(ANA, "admin", actor=ANA)
        project.grant_role(viewer, "viewer", actor=ANA)
        revision = project.revision()
    sign_in(page, app, viewer)
    # An admin's name in the address is not who acts: the provider's identity is.
    page.goto(app.page_url("review", dataset=SPEECH, reviewer=ANA))
    expect(page.get_by_role("heading", name="Review")).to_be_visible()
    wait_idle(page)
    read_only = re.compile(
        r"Read-only: reviewing and tagging needs the reviewer role, and you "
        r"\(vic\W?@example\.org\) are a viewer\."
    )
    expect(page.get_by_text(read_only)).to_be_visible()
    for tag in TAGS.values():
        expect(tag_button(page, tag)).to_be_disabled()
    expect(nav_button(page, "Mark reviewed")).to_be_disabled()
    no_exception(page)
    with open_project(app.db) as project:
        assert project.revision() == revision
