"""A busy project never loses a click: while another connection holds the write lock (a long
import), every write of the pages waits briefly, then is kept with a plain message and a
Retry button, and is saved on retry or on the next rerun once the lock is free."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from app_support import DATASET, REVIEWER, no_errors, open_page
from streamlit.testing.v1 import AppTest

from app_pages import _ui
from erroranalysis.store import Project, open_project


class Lock:
    """Another writer: a second connection holding the project's write lock."""

    def __init__(self, path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.held = False

    def take(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")
        self.held = True

    def release(self) -> None:
        if self.held:
            self.conn.execute("ROLLBACK")
            self.held = False


@pytest.fixture
def lock(project_file, monkeypatch) -> Iterator[Lock]:
    # A short wait per attempt keeps the tests quick; automatic retries on every rerun.
    monkeypatch.setattr(_ui, "BUSY_WAIT_S", 0.05)
    monkeypatch.setattr(_ui, "AUTO_RETRY_S", 0.0)
    other = Lock(project_file)
    yield other
    other.release()
    other.conn.close()


def busy_message(at: AppTest) -> list[str]:
    return [w.value for w in at.warning if "The project is busy" in w.value]


def retry(at: AppTest):
    return at.button(key="_busy_retry")


# ---------------------------------------------------------------------- every write path
def _on_review(at: AppTest) -> AppTest:
    return open_page(at, "review", dataset=DATASET, example="s08")


def _toggle(at: AppTest) -> None:
    at.button(key="rv_tag:people noise").click().run()


def _new_tag(at: AppTest) -> None:
    at.text_input(key="rv_new_tag").input("low bandwidth")
    at.button(key="FormSubmitter:rv_new_tag_form-Add tag").click().run()


def _mark(at: AppTest) -> None:
    at.checkbox(key="rv_wrong:s08").check().run()
    at.selectbox(key="rv_corrected:s08").select("up")
    at.text_area(key="rv_note:s08").input("speaker far away")
    next(b for b in at.button if b.label == "Mark reviewed").click().run()


def _undo_setup(at: AppTest) -> None:
    at.button(key="rv_tag:car noise").click().run()  # saved: the lock is not taken yet


def _undo(at: AppTest) -> None:
    next(b for b in at.button if b.label == "Undo").click().run()


def _on_tags(at: AppTest) -> AppTest:
    at = open_page(at, "tags")
    at.selectbox(key="tg_tag").select("car noise").run()
    return at


def _define(at: AppTest) -> None:
    at.number_input(key="tg_hlp:car noise").set_value(0.8)
    at.text_area(key="tg_description:car noise").input("engine hum, road rumble")
    at.button(key="FormSubmitter:tg_edit-Save").click().run()


def _confirmed(at: AppTest, label: str) -> None:
    next(b for b in at.button if b.label == label).click().run()
    at.button(key="tg_confirm").click().run()


def _rename(at: AppTest) -> None:
    at.text_input(key="tg_new_name").input("engine noise").run()
    _confirmed(at, "Rename…")


def _merge(at: AppTest) -> None:
    at.selectbox(key="tg_merge_target").select("people noise").run()
    _confirmed(at, "Merge…")


def _delete(at: AppTest) -> None:
    _confirmed(at, "Delete…")


def _rule(at: AppTest) -> None:
    at.text_input(key="tg_rule").input("noise == 'car'").run()
    at.text_input(key="tg_rule_name").input("car (metadata)")
    at.button(key="FormSubmitter:tg_rule_form-Save rule tag").click().run()


def _definition(project: Project, tag: str) -> dict | None:
    table = project.tag_definitions().set_index("tag")
    return table.loc[tag].to_dict() if tag in table.index else None


def _defined(tag: str, **fields: object) -> Callable[[Project], bool]:
    def check(project: Project) -> bool:
        found = _definition(project, tag)
        return found is not None and all(found[k] == v for k, v in fields.items())

    return check


def _reviewed_s08(project: Project) -> bool:
    reviews = project.dataset(DATASET).reviews()
    mine = reviews[(reviews["example_id"] == "s08") & (reviews["reviewer"] == REVIEWER)]
    return (
        len(mine) == 1
        and mine["note"].iloc[0] == "speaker far away"
        and (mine["corrected_label"].iloc[0] == "up")
    )


@dataclass(frozen=True)
class Write:
    open: Callable[[AppTest], AppTest]
    act: Callable[[AppTest], None]
    saved: Callable[[Project], bool]
    setup: Callable[[AppTest], None] | None = None


WRITES = {
    "tag toggle": Write(
        _on_review, _toggle, lambda p: "people noise" in p.dataset(DATASET).example_tags("s08")
    ),
    "new tag": Write(
        _on_review, _new_tag, lambda p: "low bandwidth" in p.dataset(DATASET).example_tags("s08")
    ),
    "mark reviewed, with label and note": Write(_on_review, _mark, _reviewed_s08),
    "undo": Write(
        _on_review, _undo, lambda p: p.dataset(DATASET).example_tags("s08") == [], setup=_undo_setup
    ),
    "tag definition": Write(_on_tags, _define, _defined("car noise", hlp=0.8)),
    "rename": Write(_on_tags, _rename, _defined("engine noise")),
    "merge": Write(_on_tags, _merge, lambda p: _definition(p, "car noise") is None),
    "delete": Write(_on_tags, _delete, lambda p: _definition(p, "car noise") is None),
    "rule tag": Write(_on_tags, _rule, _defined("car (metadata)", rule="noise == 'car'")),
}


def saved(project_file, write: Write) -> bool:
    with open_project(project_file) as project:
        return bool(write.saved(project))


@pytest.mark.parametrize("how", ["retry", "rerun"])
@pytest.mark.parametrize("name", list(WRITES))
def test_a_busy_project_keeps_the_change_until_it_is_free(app, project_file, lock, name, how):
    write = WRITES[name]
    at = write.open(app)
    if write.setup is not None:
        write.setup(at)
    lock.take()
    write.act(at)
    no_errors(at)
    (message,) = busy_message(at)
    assert "is kept and will be saved when you retry" in message
    assert len(at.session_state[_ui.PENDING_KEY]) == 1
    assert not saved(project_file, write)
    # Still busy: a retry keeps it, and says so again.
    retry(at).click().run()
    no_errors(at)
    assert busy_message(at) and not saved(project_file, write)

    lock.release()
    if how == "retry":
        retry(at).click().run()
    else:
        at.run()  # the next rerun saves it by itself
    no_errors(at)
    assert saved(project_file, write)
    assert busy_message(at) == []
    assert at.session_state[_ui.PENDING_KEY] == []


def test_kept_changes_are_saved_in_the_order_they_were_made(app, project_file, lock):
    at = _on_review(app)
    lock.take()
    at.button(key="rv_tag:people noise").click().run()  # on
    at.button(key="rv_tag:people noise").click().run()  # the button still shows off: on again
    at.button(key="rv_tag:car noise").click().run()
    assert len(at.session_state[_ui.PENDING_KEY]) == 3
    assert "3 changes" in busy_message(at)[0]
    lock.release()
    retry(at).click().run()
    with open_project(project_file) as project:
        assert project.dataset(DATASET).example_tags("s08") == ["car noise", "people noise"]
        events = project.dataset(DATASET).tag_events()
    assert events["tag"].tolist()[-2:] == ["people noise", "car noise"]
    assert at.button(key="rv_tag:people noise").proto.type == "primary"


def test_a_click_waits_about_two_seconds_before_it_is_kept(app, project_file, monkeypatch):
    other = Lock(project_file)
    at = _on_review(app)
    other.take()
    try:
        start = time.monotonic()
        _toggle(at)
        waited = time.monotonic() - start
    finally:
        other.release()
        other.conn.close()
    assert round(_ui.BUSY_ATTEMPTS * _ui.BUSY_WAIT_S, 6) == 2.0
    assert 1.9 < waited < 4.0
    assert busy_message(at)
