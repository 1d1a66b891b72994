"""Two reviewers tag the same dataset at the same time, in two browser sessions: every tag of
both ends up in the project file, and each sees the other's tags."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_helpers import (
    current_example,
    expect_example,
    expect_other_example,
    expect_tag,
    nav_button,
    no_exception,
    open_page,
    pages_of,
    set_reviewer,
    tag_button,
)
from playwright.sync_api import Browser, Page

from erroranalysis.demo import SPEECH, build_demo
from erroranalysis.store import open_project

pytestmark = pytest.mark.browser

# Each reviewer toggles a different tag on the same examples (both sessions get the same
# queue: same seed, same filters), so every write of one lands next to a write of the other.
REVIEWERS = {"e2e-kim": "car noise", "e2e-lee": "low bandwidth"}
STEPS = 5


@pytest.fixture(scope="module")
def project_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("concurrent") / "demo.db"
    build_demo(db)
    return db


@pytest.fixture
def sessions(browser: Browser, browser_context_args: dict) -> Iterator[dict[str, Page]]:
    with pages_of(browser, browser_context_args, REVIEWERS) as pages:
        yield pages


def test_two_sessions_tagging_at_once_keep_every_tag(app, sessions: dict[str, Page]):
    for name, page in sessions.items():
        open_page(page, app.page_url("review", dataset=SPEECH))
        set_reviewer(page, name)
    starts = {current_example(page) for page in sessions.values()}
    assert len(starts) == 1, f"the two sessions start on different examples: {starts}"

    tagged: list[str] = []
    for _ in range(STEPS):
        example = current_example(sessions["e2e-kim"])
        assert current_example(sessions["e2e-lee"]) == example
        # Both clicks are sent before either rerun is awaited: the two script runs, and their
        # writes to the project file, overlap on the server.
        for name, page in sessions.items():
            tag_button(page, REVIEWERS[name]).dispatch_event("click")
        for name, page in sessions.items():
            expect_tag(page, REVIEWERS[name], on=True)
        tagged.append(example)
        for page in sessions.values():
            nav_button(page, "Next").click()
        for page in sessions.values():
            expect_other_example(page, example)

    with open_project(app.db) as project:
        for example in tagged:
            assert set(REVIEWERS.values()) <= set(project.dataset(SPEECH).example_tags(example)), (
                example
            )
        events = project.dataset(SPEECH).tag_events()
        for name, tag in REVIEWERS.items():
            mine = events[events["actor"] == name]
            assert sorted(mine["example_id"]) == sorted(tagged)
            assert set(mine["tag"]) == {tag}
            assert set(mine["op"]) == {"add"}

    # Each session sees the other reviewer's tags on the examples both tagged.
    for page in sessions.values():
        for example in (tagged[0], tagged[-1]):
            open_page(page, app.page_url("review", dataset=SPEECH, example=example))
            expect_example(page, example)
            for tag in REVIEWERS.values():
                expect_tag(page, tag, on=True)
        no_exception(page)
