"""A busy project never loses a click, in the browser: while another process holds the
project's write lock (as a long import does), a tag click shows a plain message and no
traceback; once the lock is free, Retry saves the tag."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from app_support import DATASET, build_project
from e2e_helpers import (
    by_key,
    expect_example,
    expect_tag,
    no_exception,
    open_page,
    set_reviewer,
    tag_button,
)
from playwright.sync_api import Page, expect

from erroranalysis.store import open_project

pytestmark = pytest.mark.browser

EXAMPLE, TAG = "s08", "people noise"
# Another process that takes the write lock and keeps it until told to let go.
LOCKER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
print("released", flush=True)
"""


@pytest.fixture(scope="module")
def project_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_project(tmp_path_factory.mktemp("busy"))


class Locker:
    def __init__(self, db: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", LOCKER, str(db)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout.readline().strip() == "locked"

    def release(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.write("\n")
            self.process.stdin.flush()
            assert self.process.stdout.readline().strip() == "released"
            self.process.wait(timeout=10)


@pytest.fixture
def locker(app) -> Iterator[Callable[[], Locker]]:
    started: list[Locker] = []

    def start() -> Locker:
        started.append(Locker(app.db))
        return started[-1]

    yield start
    for one in started:
        one.release()


def tags_in_file(db: Path) -> list[str]:
    with open_project(db, readonly=True) as project:
        return project.dataset(DATASET).example_tags(EXAMPLE)


def busy_message(page: Page):
    return page.get_by_test_id("stAlert").filter(has_text="The project is busy")


def test_a_tag_clicked_while_the_project_is_busy_is_saved_on_retry(app, page: Page, locker):
    open_page(page, app.page_url("review", dataset=DATASET, example=EXAMPLE))
    expect_example(page, EXAMPLE)
    set_reviewer(page, "e2e-busy")
    expect_tag(page, TAG, False)

    lock = locker()
    tag_button(page, TAG).click()
    expect(busy_message(page)).to_be_visible(timeout=20_000)
    expect(busy_message(page)).to_contain_text("is kept and will be saved when you retry")
    no_exception(page)
    expect_tag(page, TAG, False)
    assert tags_in_file(app.db) == []  # reading works while the lock is held

    lock.release()
    by_key(page, "_busy_retry").get_by_role("button").click()
    expect(busy_message(page)).to_have_count(0)
    expect_tag(page, TAG, True)
    no_exception(page)
    assert tags_in_file(app.db) == [TAG]
