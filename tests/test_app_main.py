"""The app's entry point, and how text from data is shown."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from app_support import APP, DATASET, REVIEWER, no_errors, open_page
from store_support import add_run
from streamlit.testing.v1 import AppTest
from test_project_files import (
    a_folder,
    missing_folder,
    newer_version,
    other_application,
    random_bytes,
    text_file,
    truncated_mid_page,
)

from app_pages import _ui
from app_pages._ui import md
from erroranalysis.store import open_project


# ---------------------------------------------------------------------- the entry point
def test_app_starts_on_the_datasets_page(app):
    no_errors(app)
    assert app.title[0].value == "Datasets"
    assert app.sidebar.selectbox(key="dataset").value == DATASET


def test_first_start_builds_the_demo(tmp_path, monkeypatch):
    db = tmp_path / "new.db"
    monkeypatch.setenv("ERRORANALYSIS_DB", str(db))
    at = AppTest.from_file(APP, default_timeout=120).run()
    no_errors(at)
    with open_project(db) as project:
        assert project.dataset_names() == ["speech-commands", "digits", "speech-production"]
    assert at.sidebar.selectbox(key="dataset").value == "speech-commands"


def test_an_empty_project_points_to_the_import(tmp_path, monkeypatch):
    db = tmp_path / "empty.db"
    open_project(db).close()
    monkeypatch.setenv("ERRORANALYSIS_DB", str(db))
    at = AppTest.from_file(APP, default_timeout=60).run()
    no_errors(at)
    for page in ("review", "tags", "priorities", "audit"):
        open_page(at, page)
        no_errors(at)
        assert "No dataset yet" in at.info[0].value


def test_reviewer_name_is_kept_across_pages(app):
    app.sidebar.text_input(key="reviewer").input("ben").run()
    open_page(app, "tags")
    assert app.sidebar.text_input(key="reviewer").value == "ben"


# ---------------------------------------------------------------------- each run's reads
SHOWN = ["id", "label", "prediction", "correct"]  # a run's least columns


def test_each_run_borrows_the_connection_the_last_run_gave_back(app, monkeypatch):
    opened = []
    real = _ui.open_project
    monkeypatch.setattr(_ui, "open_project", lambda *a, **k: opened.append(k) or real(*a, **k))
    lent = [p for p in _ui._idle if str(p.path) == _ui.db_path()]
    assert len(lent) == 1 and lent[0].lendable  # given back by the fixture's runs
    for page in ("review", "tags", "datasets"):
        open_page(app, page)
        no_errors(app)
    assert opened == []  # no run opened the file again
    assert [p for p in _ui._idle if str(p.path) == _ui.db_path()] == lent


def test_a_replaced_project_file_is_opened_again(app, project_file, tmp_path):
    with open_project(tmp_path / "other.db") as other:
        other.dataset("elsewhere", create=True)
    os.replace(tmp_path / "other.db", project_file)
    open_page(app, "datasets")
    no_errors(app)
    assert "No dataset yet" in app.sidebar.caption[0].value


def test_the_idle_connections_are_bounded(tmp_path, monkeypatch):
    for i in range(_ui.IDLE_CONNECTIONS + 2):
        db = tmp_path / f"p{i}.db"
        open_project(db).close()
        monkeypatch.setenv("ERRORANALYSIS_DB", str(db))
        no_errors(AppTest.from_file(APP, default_timeout=60).run())
    assert len(_ui._idle) == _ui.IDLE_CONNECTIONS
    assert str(_ui._idle[-1].path) == str(db)  # the newest kept, the oldest closed


def test_the_secrets_are_looked_for_once_per_run(app, monkeypatch):
    from streamlit.runtime.secrets import Secrets

    calls = []
    real = Secrets.load_if_toml_exists
    monkeypatch.setattr(Secrets, "load_if_toml_exists", lambda self: calls.append(1) or real(self))
    for page in ("review", "priorities"):
        open_page(app, page)
        no_errors(app)
    assert len(calls) == 2


def test_a_change_saved_in_a_run_is_read_again(project_file):
    _ui.new_run()
    before = [r.name for r in _ui.all_runs()]
    with open_project(project_file) as other:  # another session imports a run
        add_run(other, DATASET, other.dataset(DATASET).examples()[SHOWN], run="next")
    assert [r.name for r in _ui.all_runs()] == before  # read once in the run
    _ui._save(lambda: None, attempts=1)  # a change saved in it
    assert [r.name for r in _ui.all_runs()] == [*before, "next"]
    assert [r.name for r in _ui.dataset_runs(DATASET)] == [*before, "next"]
    _ui.forget_project()


# ---------------------------------------------------------------------- text from data
@pytest.mark.parametrize(
    "text",
    [
        "![x](http://example.invalid/a.png)",
        "[click](javascript:alert(1))",
        "**bold** _it_ `code` ~~s~~ $x^2$ :red[red] :material/home:",
        "<b>html</b> &lt;",
        "www.example.invalid and someone@example.invalid",
        "# heading\n- list",
        "car noise",
    ],
)
def test_md_makes_text_from_data_inert(text):
    shown = md(text)
    # Every Markdown control character is escaped...
    assert re.search(r"(?<!\\)[\[\]()*_`<>!#~$:&|-]", shown) is None
    # ...nothing is left that GitHub-flavoured Markdown links by itself...
    plain = shown.replace("\\", "")
    assert "p://" not in plain and "www." not in plain and re.search(r"\w@", plain) is None
    # ...and what the reader sees is the text itself.
    assert plain.replace("\u200b", "") == text.replace("\n", " ")


def test_labels_from_data_are_escaped_on_the_page(project_file):
    with open_project(project_file) as project:
        project.dataset(DATASET).set_tag("s00", "![t](http://example.invalid/t.png)", actor="setup")
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["reviewer"] = REVIEWER
    at.run()
    at = open_page(at, "review", dataset=DATASET, example="s00")
    no_errors(at)
    labels = [b.label for b in at.button]
    assert md("![t](http://example.invalid/t.png)") in labels


# ---------------------------------------------------------------------- files that are not projects
# The store's own bad files (tests/test_project_files.py), each with what the page says.
BAD_FILES = {
    "text": (text_file, "is not an SQLite file"),
    "random bytes": (random_bytes, "is not an SQLite file"),
    "another application": (other_application("delete"), "SQLite database of another application"),
    "truncated": (truncated_mid_page, "is truncated or damaged"),
    "folder": (a_folder, "is a folder, not a project file"),
    "newer version": (newer_version, "written by a newer version of erroranalysis"),
    "missing folder": (missing_folder, "does not exist"),
}


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every path under ``folder`` and the bytes of each file (None for a folder)."""
    return {
        str(p.relative_to(folder)): None if p.is_dir() else p.read_bytes()
        for p in sorted(folder.rglob("*"))
    }


@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_a_file_that_is_not_a_project_is_a_message_on_every_page(tmp_path, monkeypatch, kind):
    make, expected = BAD_FILES[kind]
    folder = tmp_path / "bad"
    folder.mkdir()
    path = make(folder)
    before = _snapshot(folder)
    monkeypatch.setenv("ERRORANALYSIS_DB", str(path))
    at = AppTest.from_file(APP, default_timeout=60).run()
    for page in ("datasets", "review", "tags", "priorities", "audit"):
        if page != "datasets":
            open_page(at, page)
        no_errors(at)
        (shown,) = [e.value for e in at.error]  # one message, nothing else of the page
        assert shown.startswith("**The app cannot use its project file.**")
        assert expected in shown.replace("\\", ""), shown
        assert "Nothing was written to the file" in " ".join(m.value for m in at.markdown)
        assert not at.title
    assert _snapshot(folder) == before  # byte for byte, and no -wal, -shm or -journal made
